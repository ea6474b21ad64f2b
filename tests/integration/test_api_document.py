"""The OpenAPI document states every answer (pen test, defect 7), and the answers keep to it:
the common error body per route, ``Allow`` on a 405, hex parameters refused in plain words, one
code for an oversize transaction, and each route's own body limit.

The app is the node's real one (``with_body_limit(create_app(node))``) on a real ``Node`` in a
temporary directory, called in process through ASGI (``httpx.ASGITransport``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import msgspec
import pytest

from jinqiao.api.app import create_app, with_body_limit
from jinqiao.api.reports import MAX_RECONCILIATION_BYTES
from jinqiao.core.limits import MAX_REQUEST_BODY_BYTES, MAX_TRANSACTION_BYTES
from jinqiao.node.service import Node
from tests.helpers.process import make_network

ERROR_BODY = {"$ref": "#/components/schemas/ErrorBody"}
PROVEN_ABSENCE_BODY = {"$ref": "#/components/schemas/ProvenAbsenceBody"}
"""The 404 of a proven record read: the common body, its ``details`` the absence proven."""
RECONCILIATION = "/v1/payments/cycles/1/reconciliation/bank-a"
EVERY_ROUTE = (400, 403, 413, 415, 500)
"""Any route: untrusted_host, cross_origin_refused, request_too_large, unsupported_media_type,
node_fault."""


class Client:
    """Synchronous requests to an ASGI app, each on its own event loop."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://node") as client:
                return await client.request(method, path, **kwargs)

        return asyncio.run(send())

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    directory = tmp_path_factory.mktemp("network")
    layout = make_network(directory)
    node = Node(directory / layout.nodes[0].home)
    try:
        yield Client(with_body_limit(create_app(node)))
    finally:
        node.close()


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            yield method.upper(), path, operation


def _refusal(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"code", "message", "details"} and body["code"] == code, body
    return body


# -- the document ------------------------------------------------------------------------------


def test_every_route_declares_the_common_error_body_for_every_answer(client: Client) -> None:
    document = client.get("/openapi.json").json()
    assert set(document["components"]["schemas"]["ErrorBody"]["required"]) == {
        "code",
        "message",
        "details",
    }
    schemas = document["components"]["schemas"]
    assert set(schemas["ProvenAbsenceBody"]["required"]) == {"code", "message", "details"}
    for method, path, operation in _operations(document):
        responses = operation["responses"]
        for status in EVERY_ROUTE:
            assert str(status) in responses, (method, path, status)
        for status, answer in responses.items():
            if int(status) >= 400:
                allowed = [ERROR_BODY, PROVEN_ABSENCE_BODY] if status == "404" else [ERROR_BODY]
                assert answer["content"]["application/json"]["schema"] in allowed, (
                    method,
                    path,
                    status,
                )


def test_no_route_declares_fastapis_422_validation_error(client: Client) -> None:
    """A request that does not match the API is 400 ``invalid_request``, never FastAPI's 422."""
    document = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for method, path, operation in _operations(document):
        if "parameters" in operation or "requestBody" in operation:
            assert "400" in operation["responses"], (method, path)
    _refusal(client.get("/v1/blocks/0"), 400, "invalid_request")


def test_routes_declare_their_own_answers(client: Client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    submit = paths["/v1/transactions"]["post"]["responses"]
    assert {"202", "400", "401", "403", "404", "409", "413", "422", "429", "503"} <= set(submit)
    assert submit["503"]["headers"]["Retry-After"]["required"] is True
    assert "404" in paths["/v1/accounts/{address}"]["get"]["responses"]
    assert "429" in paths["/v1/events"]["get"]["responses"]
    payouts = paths["/v1/payments/cycles/{cycle_id}/merchant-payouts/{institution}"]["get"]
    assert {"404", "409"} <= set(payouts["responses"])
    assert set(payouts["responses"]["200"]["content"]) == {"application/xml"}
    assert set(paths["/metrics"]["get"]["responses"]["200"]["content"]) == {"text/plain"}
    reconcile = paths["/v1/payments/cycles/{cycle_id}/reconciliation/{institution}"]["post"]
    assert reconcile["x-max-body-bytes"] == MAX_RECONCILIATION_BYTES


# -- answers -----------------------------------------------------------------------------------


def test_a_wrong_method_is_405_with_allow(client: Client) -> None:
    for method, path, allowed in (
        ("DELETE", "/v1/status", "GET"),
        ("GET", "/v1/transactions/batch", "POST"),
        ("PUT", f"/v1/transactions/{'ab' * 32}", "GET"),
        # one path, a route per method: all of them (schemathesis's Allow check)
        ("OPTIONS", f"/v1/private/documents/{'ab' * 32}", "DELETE, GET, PUT"),
    ):
        response = client.request(method, path)
        _refusal(response, 405, "method_not_allowed")
        assert response.headers["allow"] == allowed, (method, path)


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("/v1/state/token/abc", "3 hex digits is an odd number"),
        ("/v1/state/token/xy", "'xy' is not hex"),
        (f"/v1/transactions/{'a' * 63}", "63 hex digits is an odd number"),
        (f"/v1/transactions/{'ab' * 31}", "31 bytes; expected 32 bytes (64 hex digits)"),
        (f"/v1/transactions/{'ab' * 33}", "33 bytes; expected 32 bytes (64 hex digits)"),
        (f"/v1/blocks/by-hash/{'a' * 65}", "65 hex digits is an odd number"),
        (f"/v1/accounts/{'00' * 19}", "19 bytes; expected 20 bytes (40 hex digits)"),
        (f"/v1/token/CNY/balances/{'0' * 41}", "41 hex digits is an odd number"),
    ],
)
def test_hex_parameters_refuse_odd_and_wrong_lengths_in_words(
    client: Client, path: str, problem: str
) -> None:
    body = _refusal(client.get(path), 400, "invalid_request")
    assert problem in body["details"]["problems"][0]["problem"], body


def test_an_oversize_transaction_has_one_code_over_json_and_msgpack(client: Client) -> None:
    raw = b"\x92" + b"\x00" * MAX_TRANSACTION_BYTES
    over_json = client.post("/v1/transactions", json={"transaction": raw.hex()})
    over_msgpack = client.post(
        "/v1/transactions", content=raw, headers={"content-type": "application/msgpack"}
    )
    for response in (over_json, over_msgpack):
        _refusal(response, 413, "transaction_too_large")
    in_msgpack_batch = client.post(
        "/v1/transactions/batch",
        content=msgspec.msgpack.encode([raw]),
        headers={"content-type": "application/msgpack"},
    )
    in_json_batch = client.post("/v1/transactions/batch", json={"transactions": [raw.hex()]})
    for batch in (in_msgpack_batch, in_json_batch):
        assert batch.status_code == 200, batch.text
        result = batch.json()["results"][0]
        assert (result["error"]["code"], result["status"]) == ("transaction_too_large", 413)


def test_the_default_body_limit_on_both_sides(client: Client) -> None:
    def batch(size: int) -> Any:
        return client.post(
            "/v1/transactions/batch",
            content=b"\x00" * size,
            headers={"content-type": "application/msgpack"},
        )

    _refusal(batch(MAX_REQUEST_BODY_BYTES), 400, "decode_error")
    _refusal(batch(MAX_REQUEST_BODY_BYTES + 1), 413, "request_too_large")


def test_the_reconciliation_upload_has_its_own_larger_limit(client: Client) -> None:
    def upload(body: bytes | AsyncIterator[bytes]) -> Any:
        return client.post(RECONCILIATION, content=body, headers={"content-type": "text/csv"})

    # Over the default limit but within the route's: read, then refused for the missing cycle.
    _refusal(upload(b"x" * (MAX_REQUEST_BODY_BYTES + 1)), 404, "not_found")
    _refusal(upload(b"x" * MAX_RECONCILIATION_BYTES), 404, "not_found")
    _refusal(upload(b"x" * (MAX_RECONCILIATION_BYTES + 1)), 413, "request_too_large")

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(33):
            yield b"x" * (1024 * 1024)

    _refusal(upload(chunks()), 413, "request_too_large")


def test_other_routes_keep_the_default_limit(client: Client) -> None:
    response = client.post(
        "/v1/query/token/balance",
        content=b"x" * (MAX_REQUEST_BODY_BYTES + 1),
        headers={"content-type": "application/json"},
    )
    _refusal(response, 413, "request_too_large")


def test_every_answer_has_a_schema_and_every_operation_a_unique_id(client: Client) -> None:
    """What a generator needs (ADR 0040): a schema for every answer of every operation, and one
    ``operationId`` per operation, its route function's name."""
    document = client.get("/openapi.json").json()
    seen: dict[str, tuple[str, str]] = {}
    for method, path, operation in _operations(document):
        identifier = operation["operationId"]
        assert identifier.isidentifier() and "_v1_" not in identifier, (method, path, identifier)
        assert identifier not in seen, (identifier, seen.get(identifier), (method, path))
        seen[identifier] = (method, path)
        for status, answer in operation["responses"].items():
            content = answer.get("content")
            assert content, (method, path, status, "no content declared")
            for media_type, declared in content.items():
                assert declared.get("schema"), (method, path, status, media_type)
    assert seen["token_balance"] == ("GET", "/v1/token/{asset}/balances/{address}")


NAMED_ANSWERS = {
    "healthz": ("200", "Health"),
    "status": ("200", "Status"),
    "validator_changes": ("200", "ValidatorChanges"),
    "submit": ("202", "Admitted"),
    "submit_batch": ("200", "BatchAnswer"),
    "transaction": ("200", "TransactionAnswer"),
    "state": ("200", "ProvenValue"),
    "token_balance": ("200", "TokenBalance"),
    "account": ("200", "AccountAnswer"),
    "token_asset": ("200", "TokenAsset"),
    "run_query": ("200", "QueryAnswer"),
    "consensus": ("200", "Consensus"),
    "genesis": ("200", "GenesisFile"),
    "block_at": ("200", "BlockAnswer"),
    "figures": ("200", "FiguresAnswer"),
    "get_statement": ("200", "StatementAnswer"),
    "reconcile": ("200", "BreakReport"),
    "proven_settlement": ("200", "ProvenReport"),
    "item": ("200", "ItemAnswer"),
    "epcis_events": ("200", "EpcisEventsAnswer"),
    "capture": ("202", "CaptureJob"),
    "subject": ("200", "SubjectAnswer"),
    "disclosures": ("200", "DisclosuresAnswer"),
    "put_document": ("200", "DocumentKept"),
}
"""The success answers declared as models of ``jinqiao.api.answers`` (docs/api.md)."""


def test_the_named_answers_are_declared_as_their_models(client: Client) -> None:
    document = client.get("/openapi.json").json()
    by_id = {operation["operationId"]: operation for _, _, operation in _operations(document)}
    for identifier, (status, model) in NAMED_ANSWERS.items():
        declared = by_id[identifier]["responses"][status]["content"]["application/json"]
        assert declared["schema"] == {"$ref": f"#/components/schemas/{model}"}, identifier
        assert document["components"]["schemas"][model]["required"], model


def test_no_success_answer_is_a_bare_object(client: Client) -> None:
    """Every JSON success answer of every operation is a named model with its fields (ADR
    0040); every other media type is text or bytes, never an object without fields."""
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    for method, path, operation in _operations(document):
        for status, answer in operation["responses"].items():
            if int(status) >= 400:
                continue
            for media_type, declared in answer["content"].items():
                schema = declared["schema"]
                if media_type != "application/json":
                    assert schema == {"type": "string"}, (method, path, status, media_type)
                    continue
                reference = schema.get("$ref", "")
                assert reference.startswith("#/components/schemas/"), (method, path, status)
                named = schemas[reference.removeprefix("#/components/schemas/")]
                assert named["type"] == "object" and named["properties"], (method, path, status)
