"""The SDK's submission path (issue 15, item 1): admission refusals, unknown outcomes, retries
that honour ``Retry-After``, and failover across a network's node URLs. The node is an
``httpx.MockTransport`` answering per host (the neighbour); the client and its retry policy are
the real ones, with the retry waits recorded instead of slept."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

import jinqiao.client.outcome as outcome
from jinqiao.apps.token import TOKEN, TransferArgs
from jinqiao.client import (
    Client,
    ClientError,
    NodesUnreachable,
    PendingTransaction,
    TransactionPending,
    TransactionRefused,
)
from jinqiao.core.codec import decode
from jinqiao.core.genesis import genesis_hash
from jinqiao.core.hashing import transaction_hash
from jinqiao.core.types import SignedTransaction
from tests.helpers.chain import address_of, make_genesis, signer_for

Handler = Callable[[httpx.Request], httpx.Response]
NODE_A = "http://node-a:8600"
NODE_B = "http://node-b:8601"
GENESIS = make_genesis()


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    recorded: list[float] = []
    monkeypatch.setattr(outcome.time, "sleep", recorded.append)
    yield recorded


def _client(handlers: dict[str, Handler]) -> Client:
    def route(request: httpx.Request) -> httpx.Response:
        return handlers[request.url.host](request)

    return Client(
        NODE_A,
        genesis=GENESIS,
        other_urls=[NODE_B],
        transport=httpx.MockTransport(route),
    )


def _down(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def _transaction(client: Client) -> SignedTransaction:
    args = TransferArgs("CNY", address_of("bank-b-treasury"), 100)
    return client.build(signer_for("bank-a-treasury"), TOKEN, "transfer", args, height=1)


def _admits(request: httpx.Request) -> httpx.Response:
    if request.method == "POST":
        raw = bytes.fromhex(json.loads(request.content)["transaction"])
        return httpx.Response(202, json={"hash": _hash_of_raw(raw), "status": "pending"})
    if request.url.path == "/v1/status":
        return httpx.Response(200, json={"genesis_hash": genesis_hash(GENESIS).hex(), "height": 1})
    identity = request.url.path.rsplit("/", 1)[1]
    return httpx.Response(200, json={"hash": identity, "status": "pending"})


def _hash_of_raw(raw: bytes) -> str:
    body = decode(raw, SignedTransaction, max_bytes=len(raw)).body
    return transaction_hash(GENESIS.suite, body).hex()


def test_a_node_that_does_not_answer_is_failed_over(waits: list[float]) -> None:
    client = _client({"node-a": _down, "node-b": _admits})
    transaction = _transaction(client)
    assert client.submit(transaction) == client.hash_of(transaction)
    assert waits == []  # the second node answered on the first attempt
    # The node that answered is asked first from now on.
    assert client.lookup(client.hash_of(transaction)) == PendingTransaction(
        client.hash_of(transaction)
    )


def test_every_node_down_names_each_and_nothing_was_sent(waits: list[float]) -> None:
    client = _client({"node-a": _down, "node-b": _down})
    with pytest.raises(NodesUnreachable) as raised:
        client.submit(_transaction(client))
    assert NODE_A in raised.value.message and NODE_B in raised.value.message
    assert raised.value.maybe_sent is False
    assert len(waits) == outcome.MAX_REQUEST_ATTEMPTS - 1
    assert waits == sorted(waits) and waits[0] < waits[-1]  # a wait that grows


def test_a_connection_broken_after_sending_is_pending_not_failed(waits: list[float]) -> None:
    def breaks(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError("connection reset", request=request)

    client = _client({"node-a": breaks, "node-b": _down})
    transaction = _transaction(client)
    with pytest.raises(TransactionPending) as raised:
        client.submit(transaction)
    assert raised.value.transaction_hash == client.hash_of(transaction)
    assert raised.value.admitted is False


def test_retry_after_is_honoured_then_the_refusal_is_reported(waits: list[float]) -> None:
    def saturated(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            503,
            headers={"Retry-After": "3"},
            json={"code": "mempool_full", "message": "the mempool is full"},
        )

    client = _client({"node-a": saturated, "node-b": saturated})
    with pytest.raises(TransactionRefused) as raised:
        client.submit(_transaction(client))
    assert raised.value.code == "mempool_full" and raised.value.status == 503
    assert waits == [3.0] * (outcome.MAX_REQUEST_ATTEMPTS - 1)


def test_a_saturated_node_that_recovers_admits(waits: list[float]) -> None:
    answers = iter([429, 202])

    def recovering(request: httpx.Request) -> httpx.Response:
        status = next(answers)
        if status == 429:
            later = format_datetime(datetime.now(UTC) + timedelta(seconds=2), usegmt=True)
            return httpx.Response(429, headers={"Retry-After": later}, json={"code": "x"})
        return _admits(request)

    client = _client({"node-a": recovering, "node-b": _down})
    transaction = _transaction(client)
    assert client.submit(transaction) == client.hash_of(transaction)
    assert len(waits) == 1 and 0 < waits[0] <= 2.0


def test_an_admission_refusal_is_not_retried(waits: list[float]) -> None:
    calls: list[str] = []

    def refuses(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        return httpx.Response(400, json={"code": "bad_signature", "message": "no"})

    client = _client({"node-a": refuses, "node-b": refuses})
    with pytest.raises(TransactionRefused) as raised:
        client.submit(_transaction(client))
    assert raised.value.code == "bad_signature" and calls == ["POST"] and waits == []


def test_waiting_past_the_timeout_is_pending(waits: list[float]) -> None:
    client = _client({"node-a": _admits, "node-b": _down})
    with pytest.raises(TransactionPending) as raised:
        client.send(
            signer_for("bank-a-treasury"),
            TOKEN,
            "transfer",
            TransferArgs("CNY", address_of("bank-b-treasury"), 1),
            timeout_s=0,
        )
    assert raised.value.admitted is True
    assert isinstance(raised.value, ClientError) and raised.value.code == "pending"


def test_retry_after_is_bounded_and_defaults_when_malformed() -> None:
    def after(value: str) -> float:
        return outcome.retry_after_s(httpx.Response(503, headers={"Retry-After": value}))

    assert after("86400") == outcome.MAX_RETRY_AFTER_S
    assert after("soon") == 1.0
    assert after("0") == 0.0


def test_resend_of_a_transaction_committed_elsewhere_waits_for_its_result(
    waits: list[float],
) -> None:
    """The node asked first does not know it, a node that did commit it refuses the copy as a
    duplicate: ``resend`` does not report that as a refusal but goes on to its result."""
    asked: list[str] = []

    def forgetful(request: httpx.Request) -> httpx.Response:
        asked.append(f"{request.method} {request.url.path}")
        if request.method == "POST":
            return httpx.Response(409, json={"code": "duplicate_transaction", "message": "done"})
        return httpx.Response(404, json={"code": "not_found", "message": "no such transaction"})

    client = _client({"node-a": forgetful, "node-b": _down})
    transaction = _transaction(client)
    with pytest.raises(TransactionPending):  # the mock never shows the commit: still pending
        client.resend(transaction, timeout_s=1)
    identity = client.hash_of(transaction)
    assert asked[:3] == [
        f"GET /v1/transactions/{identity}",
        "POST /v1/transactions",
        f"GET /v1/transactions/{identity}",
    ]
