"""Who may talk to a node's API from where (issue 7, defect 8): the ``Host`` header must name one
of the node's API hosts (DNS rebinding), a foreign ``Origin`` is refused unless configured for
CORS, and a body is read only under a content type its route parses."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.helpers.process import NodeProcess, configured_node

pytestmark = pytest.mark.e2e

EXPLORER = "https://explorer.example"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    process = configured_node(
        tmp_path_factory.mktemp("network"), api_cors_origins=[EXPLORER]
    ).start()
    try:
        yield process
    finally:
        assert process.stop() == 0, process.log()


def refused(answer: httpx.Response, status: int, code: str) -> bool:
    body = answer.json()
    return (
        answer.status_code == status
        and body["code"] == code
        and set(body)
        == {
            "code",
            "message",
            "details",
        }
    )


@pytest.mark.parametrize("host", ["rebound.example", "rebound.example:{port}", "127.0.0.1:1"])
def test_an_untrusted_host_is_refused(node: NodeProcess, host: str) -> None:
    answer = node.http.get(f"{node.url}/v1/status", headers={"Host": host.format(port=node.port)})
    assert refused(answer, 400, "untrusted_host"), answer.text


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost:{port}", "[::1]:{port}"])
def test_the_configured_hosts_are_served(node: NodeProcess, host: str) -> None:
    answer = node.http.get(f"{node.url}/healthz", headers={"Host": host.format(port=node.port)})
    assert answer.status_code == 200, answer.text


def test_a_foreign_origin_is_refused(node: NodeProcess) -> None:
    answer = node.http.get(f"{node.url}/v1/status", headers={"Origin": "https://attacker.example"})
    assert refused(answer, 403, "cross_origin_refused"), answer.text
    assert "access-control-allow-origin" not in answer.headers
    preflight = node.http.options(
        f"{node.url}/v1/transactions",
        headers={"Origin": "null", "Access-Control-Request-Method": "POST"},
    )
    assert refused(preflight, 403, "cross_origin_refused"), preflight.text


def test_same_origin_and_configured_origins_are_served(node: NodeProcess) -> None:
    same = node.http.get(f"{node.url}/healthz", headers={"Origin": node.url})
    assert same.status_code == 200, same.text
    explorer = node.http.get(f"{node.url}/healthz", headers={"Origin": EXPLORER})
    assert explorer.status_code == 200
    assert explorer.headers["access-control-allow-origin"] == EXPLORER
    preflight = node.http.options(
        f"{node.url}/v1/transactions",
        headers={
            "Origin": EXPLORER,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == EXPLORER


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/v1/query/token/balance", None),
        ("/v1/query/token/balance", "text/plain"),
        ("/v1/query/token/balance", "application/msgpack"),
        ("/v1/transactions", "text/plain"),
        ("/v1/transactions/batch", "application/x-www-form-urlencoded"),
    ],
)
def test_a_body_of_another_content_type_is_refused(
    node: NodeProcess, path: str, content_type: str | None
) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    answer = node.http.post(f"{node.url}{path}", content=b'{"asset": "CNY"}', headers=headers)
    assert refused(answer, 415, "unsupported_media_type"), answer.text


def test_json_and_msgpack_bodies_are_parsed(node: NodeProcess) -> None:
    query = node.http.post(
        f"{node.url}/v1/query/token/balance",
        json={"asset": "CNY", "address": "00" * 20},
    )
    assert query.status_code == 200, query.text
    batch = node.http.post(
        f"{node.url}/v1/transactions/batch",
        content=b"\x91\xc4\x01\x00",  # a msgpack array of one (undecodable) transaction
        headers={"Content-Type": "application/msgpack"},
    )
    assert batch.status_code == 200 and batch.json()["refused"] == 1, batch.text
