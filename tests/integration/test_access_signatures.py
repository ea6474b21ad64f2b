"""RFC 9421 message signatures by account keys as the second way to authenticate
(docs/access.md "Authentication: an HTTP message signature"): walked in process through the real
``AccessControl`` on a real ``Node`` (accounts read from its committed genesis state, its audit
trail), requests signed by the SDK's ``sign_request`` with the keys ``jinqiao init`` wrote. Each
bad input has its own case: expired, from the future, replayed, signed by another key, an unknown
account, a changed body, URI or method, and malformed fields."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from jinqiao.api.access import AccessControl, Policy, leaf_routes
from jinqiao.api.app import create_app
from jinqiao.api.authentication import Authenticator, roots_from_genesis
from jinqiao.api.signatures import NonceCache, SignatureRefused
from jinqiao.client.signing import sign_request
from jinqiao.core.crypto import Signer, get_suite
from jinqiao.keys import load_key
from jinqiao.node.audit import parse_line, read_lines, segment_paths
from jinqiao.node.service import Node
from tests.helpers.process import make_network

REACHED = 204
BASE = "https://node"


async def _echo(scope: Any, receive: Any, send: Any) -> None:
    """Stands behind the access layer: answers 204 with the body it was handed."""
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": REACHED, "headers": []})
    await send({"type": "http.response.body", "body": body})


class Network:
    def __init__(self, directory: Path, node: Node) -> None:
        self.directory = directory
        self.node = node
        api = create_app(node)
        authenticator = Authenticator(roots_from_genesis(node.genesis), frozenset())
        self.access = AccessControl(
            _echo, leaf_routes(api), Policy(node, "clearing"), authenticator
        )

    def key(self, account: str) -> Signer:
        return load_key(self.directory / "accounts" / f"{account}.json")

    def signed(
        self,
        method: str,
        path: str,
        signer: Signer,
        body: bytes = b"",
        *,
        now_s: float | None = None,
        nonce: str | None = None,
        lifetime_s: int = 60,
    ) -> httpx.Request:
        request = httpx.Request(
            method, BASE + path, content=body, headers={"content-type": "application/json"}
        )
        clock = time.time() if now_s is None else now_s
        sign_request(request, signer, now_s=clock, nonce=nonce, lifetime_s=lifetime_s)
        return request

    def send(self, request: httpx.Request) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.access)
            async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
                return await client.send(request)

        return asyncio.run(send())


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    directory = tmp_path_factory.mktemp("network")
    layout = make_network(directory)
    node = Node(directory / layout.nodes[0].home)
    try:
        yield Network(directory, node)
    finally:
        node.close()


def _refusal(answer: httpx.Response) -> str:
    assert answer.status_code == 401, answer.text
    body = answer.json()
    assert body["code"] == "signature_refused", body
    return str(body["details"]["reason"])


def test_a_signed_request_is_authenticated_as_the_account(network: Network) -> None:
    bank_a = network.key("bank-a-treasury")
    answer = network.send(network.signed("GET", "/v1/status", bank_a))
    assert answer.status_code == REACHED, answer.text
    body = b'{"address": "00"}'
    posted = network.send(network.signed("POST", "/v1/query/token/supply", bank_a, body))
    assert (posted.status_code, posted.content) == (REACHED, body)  # the body reaches the app
    # The access rules apply to the account's organization.
    refused = network.send(network.signed("GET", "/v1/payments/cycles/1/statements/bank-b", bank_a))
    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
    assert bank_a.address.hex() in refused.json()["message"]
    own = network.send(network.signed("GET", "/v1/payments/cycles/1/statements/bank-a", bank_a))
    assert own.status_code == REACHED


def test_an_expired_signature_is_refused(network: Network) -> None:
    bank_a = network.key("bank-a-treasury")
    old = network.signed("GET", "/v1/status", bank_a, now_s=time.time() - 120, lifetime_s=60)
    assert _refusal(network.send(old)) == "expired"
    future = network.signed("GET", "/v1/status", bank_a, now_s=time.time() + 120)
    assert _refusal(network.send(future)) == "expired"


def test_a_replayed_signature_is_refused(network: Network) -> None:
    bank_a = network.key("bank-a-treasury")
    request = network.signed("GET", "/v1/status", bank_a)
    assert network.send(request).status_code == REACHED
    assert _refusal(network.send(request)) == "replayed"
    # Another account may use the same nonce: nonces are per account.
    nonce = secrets.token_urlsafe(24)
    for account in ("bank-a-treasury", "bank-b-treasury"):
        request = network.signed("GET", "/v1/status", network.key(account), nonce=nonce)
        assert network.send(request).status_code == REACHED


def test_a_signature_by_another_key_is_refused(network: Network) -> None:
    bank_a = network.key("bank-a-treasury")
    bank_b = network.key("bank-b-treasury")
    forged = network.signed("GET", "/v1/status", bank_b)
    # keyid claims bank-a's address, the signature is bank-b's.
    forged.headers["signature-input"] = forged.headers["signature-input"].replace(
        bank_b.address.hex(), bank_a.address.hex()
    )
    assert _refusal(network.send(forged)) == "invalid_signature"


def test_an_unknown_account_is_refused(network: Network) -> None:
    suite = get_suite("ed25519-sha256")
    stranger = suite.signer(suite.generate_secret_key())
    answer = network.send(network.signed("GET", "/v1/status", stranger))
    assert _refusal(answer) == "unknown_account"


def test_a_changed_body_uri_or_method_is_refused(network: Network) -> None:
    bank_a = network.key("bank-a-treasury")
    signed = network.signed("POST", "/v1/query/token/supply", bank_a, b'{"asset": "CNY"}')
    changed = httpx.Request(
        "POST", signed.url, content=b'{"asset": "USD"}', headers=dict(signed.headers)
    )
    assert _refusal(network.send(changed)) == "invalid_signature"
    signed = network.signed("GET", "/v1/status", bank_a)
    for method, path in (("GET", "/v1/consensus"), ("DELETE", "/v1/status")):
        moved = httpx.Request(method, BASE + path, headers=dict(signed.headers))
        assert _refusal(network.send(moved)) == "invalid_signature", (method, path)
    query = network.signed("GET", "/v1/blocks/latest?leaves=true", bank_a)
    dropped = httpx.Request("GET", BASE + "/v1/blocks/latest", headers=dict(query.headers))
    assert _refusal(network.send(dropped)) == "invalid_signature"


@pytest.mark.parametrize(
    ("field", "old", "new"),
    [
        ("signature-input", "nonce=", "noncx="),  # no nonce
        ("signature-input", ';tag="jinqiao"', ""),  # no tag
        ("signature-input", '"content-digest"', '"content-type"'),  # the body is not covered
        ("signature-input", 'alg="ed25519"', 'alg="rsa-pss-sha512"'),
        ("signature-input", "keyid=", "keyid=x"),  # keyid not an address
        ("signature-input", "(", "["),  # not a structured field
        ("signature", "account=:", "account=:!"),  # not base64
    ],
)
def test_malformed_signature_fields_are_refused(
    network: Network, field: str, old: str, new: str
) -> None:
    request = network.signed("GET", "/v1/status", network.key("bank-a-treasury"))
    assert old in request.headers[field], request.headers[field]
    request.headers[field] = request.headers[field].replace(old, new, 1)
    assert _refusal(network.send(request)) in ("malformed", "invalid_signature")


def test_malformed_cases_name_their_reason(network: Network) -> None:
    bank_a = network.key("bank-a-treasury")
    too_long = network.signed("GET", "/v1/status", bank_a, lifetime_s=3_600)
    assert _refusal(network.send(too_long)) == "malformed"
    unsigned = network.signed("GET", "/v1/status", bank_a)
    del unsigned.headers["signature"]
    assert _refusal(network.send(unsigned)) == "malformed"
    twice = network.signed("GET", "/v1/status", bank_a)
    twice.headers["signature-input"] += (
        ", other=" + twice.headers["signature-input"].split("=", 1)[1]
    )
    assert _refusal(network.send(twice)) == "malformed"


def test_refusals_and_signed_requests_are_in_the_audit_trail(network: Network) -> None:
    bank_a = network.key("bank-a-treasury")
    request = network.signed("GET", "/v1/consensus", bank_a)
    network.send(request)
    network.send(request)  # replayed
    lines: list[bytes] = []
    for path in segment_paths(network.node.home / "audit"):
        with path.open("rb") as file:
            lines.extend(read_lines(file))
    records = [parse_line(line.rstrip(b"\n")) for line in lines][-2:]
    assert [(r.identity, r.organization, r.route, r.status) for r in records] == [
        (bank_a.address.hex(), "bank-a", "/v1/consensus", REACHED),
        (bank_a.address.hex(), "bank-a", "/v1/consensus", 401),
    ]


def test_the_nonce_cache_forgets_expired_pairs_and_refuses_when_full() -> None:
    cache = NonceCache(capacity=2)
    cache.remember("a", "n1", expires_s=100, now_s=50)
    cache.remember("a", "n2", expires_s=100, now_s=50)
    with pytest.raises(SignatureRefused) as full:
        cache.remember("a", "n3", expires_s=100, now_s=50)
    assert full.value.details["reason"] == "replay_window_full"
    with pytest.raises(SignatureRefused) as replayed:
        cache.remember("a", "n1", expires_s=100, now_s=60)
    assert replayed.value.details["reason"] == "replayed"
    # Past their expiry (and the clock skew) the pairs are forgotten: room again.
    cache.remember("a", "n3", expires_s=200, now_s=106)
    assert list(cache.expiries) == [("a", "n3")]


def test_a_network_of_the_sm2_suite_refuses_signed_requests(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """RFC 9421 registers ed25519, not SM2: an sm2-sm3 network's accounts cannot sign requests,
    so every signed request is refused there, whatever it carries."""
    directory = tmp_path_factory.mktemp("sm2")
    layout = make_network(directory, crypto_suite="sm2-sm3")
    node = Node(directory / layout.nodes[0].home)
    try:
        sm2 = Network(directory, node)
        suite = get_suite("ed25519-sha256")
        request = sm2.signed("GET", "/v1/status", suite.signer(suite.generate_secret_key()))
        answer = sm2.send(request)
        assert _refusal(answer) == "malformed"
        assert "ed25519" in answer.json()["message"]
    finally:
        node.close()
