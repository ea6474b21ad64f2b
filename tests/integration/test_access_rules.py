"""The access rules (``api.access.RULES``, docs/access.md) over every route of the OpenAPI
document, with every role: walked in process through the real ``AccessControl`` on a real
``Node`` (its genesis, its committed state for account lookups, its audit trail), with the
client certificates ``jinqiao init`` wrote. Behind the access layer stands a stub that answers 204,
so that a route's own answer (a stream, a 404) does not hide whether the layer let it through.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from uvicorn.config import SSL_PROTOCOL_VERSION, create_ssl_context

from jinqiao.api.access import (
    ACCOUNT,
    DISCLOSURE,
    DOCUMENT,
    MEMBER,
    OPERATOR,
    PARTY,
    PAYMENT,
    PUBLIC,
    QUERY,
    QUERY_RULES,
    RECEIVABLE,
    ROLE,
    RULES,
    STATE,
    SUBJECT,
    AccessControl,
    Policy,
    Rule,
    leaf_routes,
)
from jinqiao.api.app import create_app, with_body_limit
from jinqiao.api.authentication import (
    CLIENT_CERTIFICATE_KEY,
    Authenticator,
    Identity,
    roots_from_genesis,
)
from jinqiao.api.ratelimit import RateLimiter
from jinqiao.api.render import to_json
from jinqiao.api.state import MAX_QUERY_BODY_BYTES
from jinqiao.apps.payments.model import PAYMENTS, AuthorizeArgs, Payment, payment_key
from jinqiao.apps.supplychain.model import (
    FACTORING,
    INVOICE,
    LIVE,
    SUPPLYCHAIN,
    Backing,
    DocumentUse,
    FinanceOffer,
    Receivable,
    Root,
    document_key,
    receivable_key,
    root_key,
)
from jinqiao.apps.token import balance_key, supply_key
from jinqiao.client import Credentials
from jinqiao.client.signing import sign_request
from jinqiao.core.codec import encode
from jinqiao.core.crypto import Signer
from jinqiao.execution.identity import account_key
from jinqiao.execution.state import full_key
from jinqiao.keys import load_key
from jinqiao.node.audit import AuditRecord, check_chain, parse_line, read_lines, segment_paths
from jinqiao.node.service import Node
from jinqiao.provision.network import (
    load_layout,
    make_client_certificate,
    make_organization_ca,
)
from tests.helpers.process import make_network

DOCS = Path(__file__).resolve().parents[2] / "docs" / "access.md"
REACHED = 204
STATEMENT_ROUTE = "/v1/payments/cycles/{cycle_id}/statements/{institution}"
NODE_ORGANIZATION = "clearing"  # make_network's one validator
IDENTITIES = (
    "bank-a-treasury",
    "bank-b-treasury",
    "clearing-treasury",
    "ecfin-credit",
    "regulator-admin",
)
SAMPLE_PARAMETERS = {
    "height": "1",
    "block_hash": "ab" * 32,
    "transaction_hash": "ab" * 32,
    "contract": "token",
    "key": "00",
    "asset": "CNY",
    "query_name": "balance",
    "payment_id": "1",
    "cycle_id": "1",
    "sequence": "1",
    "institution": "bank-b",
    "issuer": "bank-b",
    "acquirer": "ecfin",
    "organization": "bank-b",
    "event_hash": "ab" * 32,
    "prefix": "0614141",
    "capture_id": "1",
    "receivable_id": "1",
    "root_id": "1",
    "document_hash": "ab" * 32,
    "subject": "ab" * 32,
    "consent_id": "1",
    "model_id": "scorecard",
    "version": "1",
    "policy_id": "retail",
}


class Network:
    def __init__(self, directory: Path, node: Node) -> None:
        self.directory = directory
        self.node = node
        self.layout = load_layout(directory)
        api = create_app(node)
        self.document: dict[str, Any] = api.openapi()
        self.authenticator = Authenticator(roots_from_genesis(node.genesis), frozenset())
        self.policy = Policy(node, NODE_ORGANIZATION)
        self.access = AccessControl(_reached, leaf_routes(api), self.policy, self.authenticator)
        # the same layer in front of the node's real app, for the queries' own answers
        self.real_access = AccessControl(
            with_body_limit(api), leaf_routes(api), self.policy, self.authenticator
        )

    def certificate(self, account: str) -> bytes:
        pem = (self.directory / "clients" / account / "client.crt").read_bytes()
        return x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)

    def request(
        self,
        method: str,
        path: str,
        certificate: bytes | None,
        body: Any = None,
        access: AccessControl | None = None,
    ) -> httpx.Response:
        layer = access or self.access

        async def with_certificate(scope: Any, receive: Any, send: Any) -> None:
            if certificate is not None:
                scope[CLIENT_CERTIFICATE_KEY] = certificate
            await layer(scope, receive, send)

        if body is None and method == "POST":
            body = {}

        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=with_certificate)
            async with httpx.AsyncClient(transport=transport, base_url="https://node") as client:
                return await client.request(method, path, json=body)

        return asyncio.run(send())


async def _reached(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": REACHED, "headers": []})
    await send({"type": "http.response.body", "body": b""})


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    directory = tmp_path_factory.mktemp("network")
    layout = make_network(directory)
    node = Node(directory / layout.nodes[0].home)
    try:
        yield Network(directory, node)
    finally:
        node.close()


def _routes(document: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    ]


def _expected(network: Network, rule: Rule, account: str) -> bool:
    """What docs/access.md says, in the test's own words: may ``account`` call a route?"""
    entry = network.layout.account(account)
    organization = entry.organization
    genesis_roles = {o.id: set(o.roles) for o in network.node.genesis.organizations}
    if rule.kind == DISCLOSURE:
        return False  # the sample subject is not on chain: no reader, not even the regulator
    if rule.kind == SUBJECT:  # the sample subject is not on chain: any credit member's absence
        return bool(genesis_roles[organization] & {"credit_member", "regulator"})
    if rule.kind in (PUBLIC, MEMBER) or "regulator" in genesis_roles[organization]:
        return True
    if rule.kind == OPERATOR:
        return organization == NODE_ORGANIZATION
    if genesis_roles[organization] & set(rule.roles):
        return True
    if rule.kind == PARTY:
        return organization in {SAMPLE_PARAMETERS[name] for name in rule.parameters}
    if rule.kind == ACCOUNT:
        return organization == "bank-b"  # the address asked for is bank-b-treasury's
    if rule.kind == STATE:
        return True  # the sample key ("00") names no account
    if rule.kind == QUERY:
        return True  # the walk's empty arguments name nobody: the query route refuses them
    if rule.kind == DOCUMENT:
        return False  # the sample document hash backs no receivable: the regulator's only
    if rule.kind in (PAYMENT, RECEIVABLE):
        return True  # no such payment or receivable: a 404 that tells nothing (records below)
    assert rule.kind == ROLE, rule
    return False


def _path(network: Network, template: str) -> str:
    values = dict(SAMPLE_PARAMETERS, address=network.layout.account("bank-b-treasury").address)
    return template.format(**values)


def test_every_route_of_the_document_has_a_rule(network: Network) -> None:
    routes = _routes(network.document)
    assert len(routes) >= 40
    assert [route for route in routes if route not in RULES] == []


def test_every_route_with_every_role(network: Network) -> None:
    refused_before = 0
    for method, template in _routes(network.document):
        rule = RULES[(method, template)]
        path = _path(network, template)
        anonymous = network.request(method, path, None)
        if rule.kind == PUBLIC:
            assert anonymous.status_code == REACHED, (method, template)
        else:
            assert anonymous.status_code == 401, (method, template)
            assert anonymous.json()["code"] == "unauthenticated"
            refused_before += 1
        for account in IDENTITIES:
            answer = network.request(method, path, network.certificate(account))
            if _expected(network, rule, account):
                assert answer.status_code == REACHED, (method, template, account, answer.text)
            else:
                assert answer.status_code == 403, (method, template, account, answer.text)
                assert answer.json()["code"] == "forbidden"
                assert account in answer.json()["message"]
                refused_before += 1
    assert refused_before > 40


def test_bank_a_cannot_read_bank_b_statement_or_balance_and_the_regulator_can(
    network: Network,
) -> None:
    bank_b = network.layout.account("bank-b-treasury").address
    bank_a = network.layout.account("bank-a-treasury").address
    statement = "/v1/payments/cycles/1/statements/{}"
    balance = "/v1/token/CNY/balances/{}"
    for path, allowed in (
        (statement.format("bank-b"), False),
        (balance.format(bank_b), False),
        (f"/v1/accounts/{bank_b}", False),
        (statement.format("bank-a"), True),
        (balance.format(bank_a), True),
    ):
        answer = network.request("GET", path, network.certificate("bank-a-treasury"))
        assert answer.status_code == (REACHED if allowed else 403), path
        regulator = network.request("GET", path, network.certificate("regulator-admin"))
        assert regulator.status_code == REACHED, path


def test_raw_state_keys_of_an_account_follow_the_account_rule(network: Network) -> None:
    bank_b = bytes.fromhex(network.layout.account("bank-b-treasury").address)
    holding = "/v1/state/token/" + balance_key("CNY", bank_b).hex()
    record = "/v1/state/registry/" + account_key(bank_b).hex()
    supply = "/v1/state/token/" + supply_key("CNY").hex()
    for path, readers in (
        # the currency issuer (clearing) sees every holding of its currency
        (holding, {"bank-b-treasury", "regulator-admin", "clearing-treasury"}),
        (record, {"bank-b-treasury", "regulator-admin", "clearing-treasury"}),
        (supply, set(IDENTITIES)),
    ):
        for account in IDENTITIES:
            answer = network.request("GET", path, network.certificate(account))
            assert answer.status_code == (REACHED if account in readers else 403), (path, account)


def test_an_address_that_is_no_account_is_for_the_regulator_only(network: Network) -> None:
    path = f"/v1/token/CNY/balances/{'00' * 20}"
    assert network.request("GET", path, network.certificate("bank-a-treasury")).status_code == 403
    assert network.request("GET", path, network.certificate("regulator-admin")).status_code == 204


def test_a_certificate_from_a_foreign_root_naming_a_member_is_refused(network: Network) -> None:
    # OpenSSL refuses it at the handshake (it chains to no consortium root); a root with the
    # member's very name but another key is refused here too.
    ca_key, ca_certificate = make_organization_ca("bank-a")
    _, forged = make_client_certificate("bank-a-treasury", "bank-a", (), ca_key, ca_certificate)
    answer = network.request("GET", "/v1/status", forged.public_bytes(serialization.Encoding.DER))
    assert (answer.status_code, answer.json()["code"]) == (401, "certificate_refused")


def test_a_revoked_certificate_is_refused(network: Network) -> None:
    certificate = network.certificate("bank-a-treasury")
    revoked = Authenticator(
        roots_from_genesis(network.node.genesis), frozenset({hashlib.sha256(certificate).digest()})
    )
    access = network.access
    network.access = AccessControl(_reached, access.routes, network.policy, revoked)
    try:
        answer = network.request("GET", "/v1/status", certificate)
        assert (answer.status_code, answer.json()["code"]) == (401, "certificate_refused")
        assert "revoked" in answer.json()["message"]
        other = network.request("GET", "/v1/status", network.certificate("bank-b-treasury"))
        assert other.status_code == REACHED
    finally:
        network.access = access


def _audit_records(node: Node) -> list[AuditRecord]:
    lines: list[bytes] = []
    for path in segment_paths(node.home / "audit"):
        with path.open("rb") as file:
            lines.extend(read_lines(file))
    check_chain(lines)
    return [parse_line(line.rstrip(b"\n")) for line in lines]


def test_each_request_and_each_refusal_is_in_the_audit_trail(network: Network) -> None:
    before = len(_audit_records(network.node))
    network.request("GET", "/healthz", None)  # public: not recorded
    network.request("GET", "/v1/status", None)
    network.request(
        "GET", "/v1/payments/cycles/1/statements/bank-b", network.certificate("bank-a-treasury")
    )
    network.request("GET", "/v1/status", network.certificate("bank-b-treasury"))
    records = _audit_records(network.node)
    assert len(records) - before == 3
    last = [(r.identity, r.organization, r.route, r.status) for r in records[-3:]]
    assert last == [
        ("", "", "/v1/status", 401),
        (
            "bank-a-treasury",
            "bank-a",
            "/v1/payments/cycles/{cycle_id}/statements/{institution}",
            403,
        ),
        ("bank-b-treasury", "bank-b", "/v1/status", 204),
    ]


def test_docs_show_the_table(network: Network) -> None:
    text = DOCS.read_text()
    for (method, path), rule in RULES.items():
        assert f"| `{method}` | `{path}` | {rule.describe()} |" in text, (method, path)


def test_init_writes_each_account_its_client_credentials(network: Network) -> None:
    roots = roots_from_genesis(network.node.genesis)
    for entry in network.layout.accounts:
        home = network.directory / "clients" / entry.name
        assert (home / "client.key").stat().st_mode & 0o777 == 0o600
        credentials = Credentials.for_account(network.directory, entry.name)
        assert (credentials.account, credentials.organization) == (entry.name, entry.organization)
        identity = network.authenticator.identify(network.certificate(entry.name))
        assert identity == Identity(entry.name, entry.organization, frozenset(entry.roles))
        certificate = x509.load_der_x509_certificate(network.certificate(entry.name))
        assert certificate.issuer == roots[entry.organization].subject
        usages = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert list(usages) == [ExtendedKeyUsageOID.CLIENT_AUTH]  # not a server, not a node
    assert all(node.api_url.startswith("https://") for node in network.layout.nodes)


# -- contract queries: the arguments are under the rules -------------------------------------


def _query_arguments(network: Network, contract: str, query: str) -> dict[str, Any]:
    """Arguments for ``contract.query`` naming bank-b: every bytes field bank-b-treasury's
    address, every other field a sample value."""
    spec = network.node.query_spec(contract, query)
    assert spec is not None, (contract, query)
    bank_b = network.layout.account("bank-b-treasury").address
    arguments: dict[str, Any] = {}
    for field in msgspec.structs.fields(spec.args_type):
        if field.type is bytes:
            arguments[field.name] = bank_b
        elif field.type is int:
            arguments[field.name] = 1
        else:
            arguments[field.name] = SAMPLE_PARAMETERS.get(field.name, "CNY")
    return arguments


def test_every_query_under_the_rules_with_every_role(network: Network) -> None:
    refused = 0
    for (contract, query), rule in QUERY_RULES.items():
        path = f"/v1/query/{contract}/{query}"
        arguments = _query_arguments(network, contract, query)
        for account in IDENTITIES:
            answer = network.request("POST", path, network.certificate(account), arguments)
            if _expected(network, rule, account):
                assert answer.status_code == REACHED, (contract, query, account, answer.text)
            else:
                assert answer.status_code == 403, (contract, query, account, answer.text)
                assert answer.json()["code"] == "forbidden"
                refused += 1
    assert refused > 20


def test_an_allowance_is_read_by_the_organization_of_either_side(network: Network) -> None:
    layout = network.layout
    path = "/v1/query/token/allowance"
    arguments = {
        "asset": "CNY",
        "owner": layout.account("bank-a-treasury").address,
        "spender": layout.account("bank-b-treasury").address,
    }
    for account, allowed in (
        ("bank-a-treasury", True),
        ("bank-b-treasury", True),
        ("ecfin-credit", False),
        ("regulator-admin", True),
    ):
        answer = network.request("POST", path, network.certificate(account), arguments)
        assert answer.status_code == (REACHED if allowed else 403), account


def test_bank_a_cannot_query_bank_b_balance_and_the_regulator_can(network: Network) -> None:
    bank_a = network.layout.account("bank-a-treasury").address
    bank_b = network.layout.account("bank-b-treasury").address
    balance = "/v1/query/token/balance"
    for path, arguments, caller, status in (
        (balance, {"asset": "CNY", "address": bank_b}, "bank-a-treasury", 403),
        ("/v1/query/registry/account", {"address": bank_b}, "bank-a-treasury", 403),
        (balance, {"asset": "CNY", "address": bank_a}, "bank-a-treasury", 200),
        (balance, {"asset": "CNY", "address": bank_b}, "regulator-admin", 200),
        ("/v1/query/registry/account", {"address": bank_b}, "regulator-admin", 200),
    ):
        certificate = network.certificate(caller)
        answer = network.request("POST", path, certificate, arguments, network.real_access)
        assert answer.status_code == status, (path, caller, answer.text)
        if status == 403:
            assert answer.json()["code"] == "forbidden" and caller in answer.json()["message"]
    # the regulator's query ran on the body the access layer read and handed on: bank-b's own
    # balance, as the node answers it directly
    arguments = {"asset": "CNY", "address": bank_b}
    answer = network.request(
        "POST", balance, network.certificate("regulator-admin"), arguments, network.real_access
    )
    spec = network.node.query_spec("token", "balance")
    assert spec is not None
    _, expected = network.node.run_query(
        "token", "balance", spec.args_type("CNY", bytes.fromhex(bank_b))
    )
    assert answer.json()["result"] == to_json(expected)


def test_unreadable_query_arguments_get_the_query_route_answer(network: Network) -> None:
    access = network.real_access
    bank_a = network.certificate("bank-a-treasury")
    balance = "/v1/query/token/balance"
    for body in ({"asset": "CNY", "address": "zz"}, {"asset": "CNY"}, [1, 2], {"address": 5}):
        answer = network.request("POST", balance, bank_a, body, access)
        assert (answer.status_code, answer.json()["code"]) == (400, "invalid_arguments"), body
    # an address that is hex but no account: the regulator only (as GET /v1/accounts/...)
    nobody = {"asset": "CNY", "address": "00" * 20}
    assert network.request("POST", balance, bank_a, nobody, access).status_code == 403
    too_large = {"asset": "CNY", "address": "ab" * (MAX_QUERY_BODY_BYTES // 2)}
    answer = network.request("POST", balance, bank_a, too_large, access)
    assert (answer.status_code, answer.json()["code"]) == (413, "request_too_large")
    # a query that names nobody stays member
    supply = network.request("POST", "/v1/query/token/supply", bank_a, {"asset": "CNY"}, access)
    assert supply.status_code == 200, supply.text


def test_docs_show_the_query_table(network: Network) -> None:
    text = DOCS.read_text()
    for (contract, query), rule in QUERY_RULES.items():
        assert f"| `{contract}` | `{query}` | {rule.describe()} |" in text, (contract, query)


class _RecordedState:
    """The neighbour of ``Policy`` that these tests replace: a node's committed state holding one
    payment (bank-b issuer, ecfin acquirer) and one receivable (obligor ecfin, held by bank-b,
    offered to bank-a) with its invoice. The policy under test is the real one."""

    def __init__(self, node: Node) -> None:
        self.genesis = node.genesis
        self.suite = node.suite
        self.record_audit = node.record_audit
        authorization = AuthorizeArgs(
            "pay-1", "bank-b", "ecfin", "m-1", b"\x01" * 32, 100, "CNY", "card", "debit", "A1", 1
        )
        payment = Payment(authorization, "5411", "authorized", 1, 0, None, 0, 0, None, None)
        offer = FinanceOffer(FACTORING, "bank-a", 50_000, 90, b"\x01" * 20, 100)
        part = Receivable(
            7, 7, 0, "ecfin", "bank-b", b"\x01" * 20, 100, 10**13, LIVE, "", b"", offer
        )
        root = Root(
            7,
            "CNY",
            "ecfin",
            100,
            10**13,
            (Backing(INVOICE, INVOICE_HASH, 100),),
            (7,),
            False,
            False,
        )
        values: dict[bytes, bytes] = {
            full_key(PAYMENTS, payment_key("pay-1")): encode(payment),
            full_key(SUPPLYCHAIN, receivable_key(7)): encode(part),
            full_key(SUPPLYCHAIN, root_key(7)): encode(root),
            full_key(SUPPLYCHAIN, document_key(INVOICE_HASH)): encode(DocumentUse(INVOICE_HASH, 7)),
        }
        self.values = values

    @contextlib.contextmanager
    def reading(self) -> Iterator[Any]:
        yield self

    def get(self, key: bytes) -> bytes | None:
        return self.values.get(key)


INVOICE_HASH = hashlib.sha256(b"invoice").digest()


def test_payment_and_receivable_records_are_for_their_parties(network: Network) -> None:
    policy = Policy(_RecordedState(network.node), NODE_ORGANIZATION)  # type: ignore[arg-type]
    access = AccessControl(_reached, network.access.routes, policy, network.authenticator)
    state = "/v1/state/{}/{}"
    invoice = INVOICE_HASH.hex()
    receivable_readers = {"bank-b-treasury", "bank-a-treasury", "ecfin-credit", "regulator-admin"}
    payment_readers = {"bank-b-treasury", "ecfin-credit", "clearing-treasury", "regulator-admin"}
    cases: list[tuple[str, str, dict[str, Any] | None, set[str]]] = [
        ("GET", "/v1/payments/payments/pay-1", None, payment_readers),
        ("GET", state.format("payments", payment_key("pay-1").hex()), None, payment_readers),
        ("POST", "/v1/query/payments/payment", {"payment_id": "pay-1"}, payment_readers),
        (
            "POST",
            "/v1/query/payments/refund_record",
            {"payment_id": "pay-1", "refund_id": "r"},
            payment_readers,
        ),
        (
            "POST",
            "/v1/query/payments/positions",
            {"cycle_id": 1},
            {"clearing-treasury", "regulator-admin"},
        ),
        ("GET", "/v1/supplychain/receivables/7", None, receivable_readers),
        ("GET", "/v1/supplychain/roots/7", None, receivable_readers),
        ("GET", f"/v1/supplychain/documents/{invoice}", None, receivable_readers),
        ("GET", f"/v1/private/documents/{invoice}", None, receivable_readers),
        ("GET", state.format("supplychain", receivable_key(7).hex()), None, receivable_readers),
        ("GET", state.format("supplychain", root_key(7).hex()), None, receivable_readers),
        (
            "GET",
            state.format("supplychain", document_key(INVOICE_HASH).hex()),
            None,
            receivable_readers,
        ),
        ("POST", "/v1/query/supplychain/receivable", {"receivable_id": 7}, receivable_readers),
        ("POST", "/v1/query/supplychain/root", {"root_id": 7}, receivable_readers),
        ("POST", "/v1/query/supplychain/document", {"document_hash": invoice}, receivable_readers),
        # absent records: a 404 for any member
        ("GET", "/v1/payments/payments/pay-2", None, set(IDENTITIES)),
        ("GET", "/v1/supplychain/receivables/8", None, set(IDENTITIES)),
    ]
    for method, path, body, readers in cases:
        for account in IDENTITIES:
            answer = network.request(method, path, network.certificate(account), body, access)
            expected = REACHED if account in readers else 403
            assert answer.status_code == expected, (path, account, answer.text)


# -- every route with bad credentials -------------------------------------------------------


def _signed(method: str, path: str, signer: Signer, *, now_s: float | None = None) -> httpx.Request:
    body = b"{}" if method == "POST" else b""
    request = httpx.Request(
        method, "https://node" + path, content=body, headers={"content-type": "application/json"}
    )
    sign_request(request, signer, now_s=time.time() if now_s is None else now_s)
    return request


def _send(access: AccessControl, request: httpx.Request) -> httpx.Response:
    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=access)
        async with httpx.AsyncClient(transport=transport, base_url="https://node") as client:
            return await client.send(request)

    return asyncio.run(send())


def _refused(answer: httpx.Response, code: str, reason: str | None = None) -> bool:
    """A 401 with the common error body (code, message, details) and, for a signature, its
    reason."""
    if answer.status_code != 401:
        return False
    body = answer.json()
    if set(body) != {"code", "message", "details"} or body["code"] != code or not body["message"]:
        return False
    return reason is None or body["details"].get("reason") == reason


def test_every_route_with_revoked_expired_replayed_and_wrong_key_credentials(
    network: Network,
) -> None:
    """Each route of the node's OpenAPI document, one request per case, in front of the node's
    real app: a revoked client certificate, and RFC 9421 signatures replayed, expired and made by
    another account's key are all refused with 401 and the common error body, and nothing
    reaches the app: a counting wrapper around the app sees no request, the mempool stays
    empty and the state root does not move."""
    reached: list[str] = []

    async def counting(scope: Any, receive: Any, send: Any) -> None:
        reached.append(f"{scope.get('method')} {scope.get('path')}")
        await network.real_access.app(scope, receive, send)

    revoked_account = "bank-a-treasury"
    revoked_der = network.certificate(revoked_account)
    revoked = AccessControl(
        counting,
        network.access.routes,
        network.policy,
        Authenticator(
            roots_from_genesis(network.node.genesis),
            frozenset({hashlib.sha256(revoked_der).digest()}),
        ),
    )
    signatures = AccessControl(
        counting, network.access.routes, network.policy, network.authenticator
    )
    signatures.signatures = network.access.signatures  # the same replay window
    bank_a = load_key(network.directory / "accounts" / "bank-a-treasury.json")
    bank_b = load_key(network.directory / "accounts" / "bank-b-treasury.json")
    root_before = network.node.chain.head.state_root
    pending_before = len(network.node.mempool)
    walked = 0
    for method, template in _routes(network.document):
        if RULES[(method, template)].kind == PUBLIC:
            continue  # served to anyone, with or without credentials (walked above)
        path = _path(network, template)
        case = (method, template)
        answer = network.request(method, path, revoked_der, access=revoked)
        assert _refused(answer, "certificate_refused"), (case, answer.text)
        assert "revoked" in answer.json()["message"], case
        # replayed: the request was accepted once (or refused by the rules) in the
        # stub-backed layer, then the same signed bytes come again
        request = _signed(method, path, bank_a)
        assert _send(network.access, request).status_code in (REACHED, 403), case
        answer = _send(signatures, request)
        assert _refused(answer, "signature_refused", "replayed"), (case, answer.text)
        expired = _signed(method, path, bank_a, now_s=time.time() - 600)
        answer = _send(signatures, expired)
        assert _refused(answer, "signature_refused", "expired"), (case, answer.text)
        forged = _signed(method, path, bank_b)  # keyid claims bank-a, bank-b's key signs
        forged.headers["signature-input"] = forged.headers["signature-input"].replace(
            bank_b.address.hex(), bank_a.address.hex()
        )
        answer = _send(signatures, forged)
        assert _refused(answer, "signature_refused", "invalid_signature"), (case, answer.text)
        walked += 1
    assert walked >= 40
    assert reached == []
    assert len(network.node.mempool) == pending_before
    assert network.node.chain.head.state_root == root_before


def test_an_expired_certificate_is_refused_at_the_handshake(network: Network) -> None:
    """An expired client certificate never reaches a route: OpenSSL refuses it in the TLS
    handshake of the node's own server context (api.server: the node's certificate, the
    consortium roots, CERT_OPTIONAL), so one handshake stands for every route of the walk."""
    home = network.node.home
    server_context = create_ssl_context(
        home / "tls" / "node.crt",
        home / "tls" / "node.key",
        None,
        SSL_PROTOCOL_VERSION,
        ssl.CERT_OPTIONAL,
        home / "tls" / "roots.pem",
        "TLSv1",
    )
    organization = network.directory / "orgs" / "bank-a"
    ca_key = serialization.load_pem_private_key((organization / "tls-ca.key").read_bytes(), None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    ca = x509.load_pem_x509_certificate((organization / "tls-ca.crt").read_bytes())
    key, certificate = make_client_certificate(
        "bank-a-treasury", "bank-a", (), ca_key, ca, valid_days=-1
    )
    client_context = ssl.create_default_context(
        cafile=str(network.directory / "clients" / "bank-a-treasury" / "roots.pem")
    )
    client_context.check_hostname = False
    with tempfile.TemporaryDirectory() as scratch:
        certificate_file, key_file = Path(scratch, "client.crt"), Path(scratch, "client.key")
        certificate_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        client_context.load_cert_chain(certificate_file, key_file)
    server_socket, client_socket = socket.socketpair()
    refusals: list[BaseException] = []

    def serve() -> None:
        with server_context.wrap_socket(
            server_socket, server_side=True, do_handshake_on_connect=False
        ) as server:
            try:
                server.do_handshake()
            except ssl.SSLError as exc:
                refusals.append(exc)

    server = threading.Thread(target=serve)
    server.start()
    with (
        client_socket,
        client_context.wrap_socket(client_socket, do_handshake_on_connect=False) as client,
    ):
        client.settimeout(10)
        with contextlib.suppress(ssl.SSLError, OSError):
            client.do_handshake()
            # TLS 1.3: the server's refusal reaches the client with its first read
            client.sendall(b"GET /v1/status HTTP/1.1\r\nhost: node\r\n\r\n")
            assert client.recv(1) == b""
    server.join(timeout=10)
    assert len(refusals) == 1 and "certificate has expired" in str(refusals[0]), refusals


def test_an_identity_over_its_limit_is_refused_before_the_request_is_routed(
    network: Network, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client certificate's identity is metered first (ADR 0041): its refusal costs no route
    matching (the audit record of the first refusal in a second names the route, the others
    need none), and another identity is served."""
    limiter = RateLimiter(0.1, 1)  # one request, then one per 10 s
    access = AccessControl(
        _reached, network.access.routes, network.policy, network.authenticator, limiter
    )
    flooder = network.certificate("bank-b-treasury")
    assert network.request("GET", "/v1/status", flooder, access=access).status_code == REACHED
    audited = network.request("GET", "/v1/status", flooder, access=access)
    assert audited.status_code == 429
    routed: list[str] = []
    match = access.match
    monkeypatch.setattr(access, "match", lambda scope: routed.append(scope["path"]) or match(scope))
    refused = network.request(
        "POST", "/v1/query/token/balance", flooder, body={"address": "00" * 20}, access=access
    )
    assert (refused.status_code, refused.json()["code"]) == (429, "rate_limited"), refused.text
    assert int(refused.headers["retry-after"]) >= 9
    assert routed == []
    served = network.request(
        "GET", "/v1/status", network.certificate("bank-a-treasury"), access=access
    )
    assert served.status_code == REACHED
    assert routed == ["/v1/status"]
