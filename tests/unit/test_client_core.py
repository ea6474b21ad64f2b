"""The SDK's sans-I/O protocol (``jinqiao.client.core``) against answers recorded from a real
node (tests/unit/data/client_core_answers.json, written by tools/record_client_answers.py): the
flows check the recorded proofs, tell the four outcomes apart, and give equal results whether the
synchronous or the asynchronous driver runs them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from jinqiao.apps.token import TOKEN, Holding, balance_key
from jinqiao.client import core
from jinqiao.client.outcome import (
    ClientError,
    NodesUnreachable,
    PendingTransaction,
    TransactionPending,
    TransactionRefused,
    retrying_async,
)
from jinqiao.core.codec import decode
from jinqiao.core.genesis import load_genesis
from jinqiao.core.limits import MAX_PROOF_BYTES
from jinqiao.verify import VerificationError
from tests.helpers.chain import make_genesis

RECORDED = json.loads((Path(__file__).parent / "data" / "client_core_answers.json").read_text())
GENESIS = load_genesis(RECORDED["genesis"].encode())
RECORDS = {(record["method"], record["path"]): record for record in RECORDED["records"]}
TRANSACTION_PATH = next(path for method, path in RECORDS if path.startswith("/v1/transactions/"))
IDENTITY = TRANSACTION_PATH.rsplit("/", 1)[1]
STATE_PATH = next(path for method, path in RECORDS if path.startswith("/v1/state/"))
ACCOUNT_PATH = next(path for method, path in RECORDS if path.startswith("/v1/accounts/"))
PAYEE = bytes.fromhex(ACCOUNT_PATH.rsplit("/", 1)[1])
MINTED_MINOR = 100_000

Replies = Mapping[tuple[str, str], tuple[int, str]]


def recorded(**changes: tuple[int, Any]) -> dict[tuple[str, str], tuple[int, str]]:
    """The recorded answers by (method, path); ``changes`` replace some (by path, JSON body)."""
    replies = {key: (record["status"], record["body"]) for key, record in RECORDS.items()}
    # The genesis validators never changed: what the node answers then.
    replies[("GET", "/v1/validators/changes")] = (200, json.dumps({"changes": []}))
    for path, (status, body) in changes.items():
        method = "POST" if path == "/v1/transactions" else "GET"
        replies[(method, path)] = (status, json.dumps(body))
    return replies


def replaying(replies: Replies) -> Callable[[core.Request], Any]:
    def send(request: core.Request) -> Any:
        if (request.method, request.path) not in replies:
            raise NodesUnreachable([("http://node", "nothing recorded")], maybe_sent=False)
        status, body = replies[(request.method, request.path)]
        return core.answer_of(request, httpx.Response(status, content=body.encode()))

    return send


def both_drivers(flow: Callable[[], core.Flow[Any]], replies: Replies | None = None) -> Any:
    """The flow's result under ``run``, checked equal to its result under ``run_async``."""
    send = replaying(recorded() if replies is None else replies)

    async def send_async(request: core.Request) -> Any:
        return send(request)

    synchronous = core.run(flow(), send)
    asynchronous = asyncio.run(core.run_async(flow(), send_async))
    assert synchronous == asynchronous
    return synchronous


def session() -> core.Session:
    return core.Session(GENESIS)


def test_a_recorded_commit_is_proven_under_both_drivers() -> None:
    result = both_drivers(lambda: core.wait(session(), IDENTITY, 30.0))
    assert (result.ok, result.height, result.index, result.verified) == (True, 1, 0, True)


def test_a_recorded_state_read_is_proven_and_decodes_the_minted_holding() -> None:
    key = balance_key("CNY", PAYEE)
    proven = both_drivers(lambda: core.read_state(session(), TOKEN, key, 1, None))
    holding = decode(proven.value, Holding, max_bytes=MAX_PROOF_BYTES)
    assert (proven.height, proven.verified, holding.balance_minor) == (1, True, MINTED_MINOR)


def test_recorded_account_and_block_are_proven() -> None:
    account = both_drivers(lambda: core.account(session(), PAYEE, 1, None))
    assert account is not None and account.address == PAYEE
    block = both_drivers(lambda: core.block(session(), 1, False, None))
    assert block["verified"] is True


def test_another_networks_genesis_fails_the_recorded_proofs() -> None:
    stranger = core.Session(make_genesis())
    with pytest.raises(VerificationError):
        core.run(core.wait(stranger, IDENTITY, 30.0), replaying(recorded()))
    with pytest.raises(ClientError) as refused:
        core.run(core.status(stranger), replaying(recorded()))
    assert refused.value.code == "wrong_network"


def test_a_proof_for_another_key_is_refused() -> None:
    other_key = balance_key("CNY", bytes(20))
    replies = {
        **recorded(),
        ("GET", f"/v1/state/{TOKEN}/{other_key.hex()}"): recorded()[("GET", STATE_PATH)],
    }
    with pytest.raises(ClientError) as refused:
        core.run(core.read_state(session(), TOKEN, other_key, 1, None), replaying(replies))
    assert refused.value.code == "bad_response"


def test_a_transaction_in_a_mempool_is_pending_not_failed() -> None:
    replies = recorded(**{TRANSACTION_PATH: (200, {"hash": IDENTITY, "status": "pending"})})
    found = both_drivers(lambda: core.lookup(session(), IDENTITY), replies)
    assert found == PendingTransaction(IDENTITY)
    with pytest.raises(TransactionPending) as pending:
        core.run(core.wait(session(), IDENTITY, 0.0), replaying(replies))
    assert pending.value.admitted is True


def test_a_forgotten_transaction_is_pending_and_not_admitted() -> None:
    missing = {"code": "not_found", "message": "no such transaction"}
    replies = recorded(**{TRANSACTION_PATH: (404, missing)})
    assert both_drivers(lambda: core.lookup(session(), IDENTITY), replies) is None
    with pytest.raises(TransactionPending) as pending:
        core.run(core.wait(session(), IDENTITY, 5.0), replaying(replies))
    assert pending.value.admitted is False


def test_submission_outcomes_refused_pending_and_unreachable() -> None:
    refusal = {"code": "bad_signature", "message": "the signature does not verify"}
    with pytest.raises(TransactionRefused) as refused:
        core.run(
            core.submit_bytes(IDENTITY, b"\x01"),
            replaying(recorded(**{"/v1/transactions": (400, refusal)})),
        )
    assert (refused.value.code, refused.value.transaction_hash) == ("bad_signature", IDENTITY)

    def broke_after_sending(request: core.Request) -> Any:
        raise NodesUnreachable([("http://node-a", "read timeout")], maybe_sent=True)

    with pytest.raises(TransactionPending):
        core.run(core.submit_bytes(IDENTITY, b"\x01"), broke_after_sending)

    def never_connected(request: core.Request) -> Any:
        raise NodesUnreachable([("http://node-a", "refused")], maybe_sent=False)

    with pytest.raises(NodesUnreachable):
        core.run(core.submit_bytes(IDENTITY, b"\x01"), never_connected)


def test_resend_of_a_committed_transaction_returns_its_result() -> None:
    from jinqiao.core.proofs import TransactionProof
    from jinqiao.core.types import SignedTransaction

    answer = json.loads(RECORDS[("GET", TRANSACTION_PATH)]["body"])
    proof = core.decode_hex(answer["transaction_proof"], TransactionProof)
    transaction = decode(proof.transaction, SignedTransaction, max_bytes=MAX_PROOF_BYTES)
    result = both_drivers(lambda: core.resend(session(), transaction, 30.0))
    assert (result.transaction_hash, result.ok) == (IDENTITY, True)


def test_failover_moves_the_node_that_answered_to_the_front() -> None:
    failover = core.Failover(["a", "b", "c"], lambda node: f"http://{node}")
    assert failover.round() == ["a", "b", "c"]
    request = httpx.Request("GET", "http://a/v1/status")
    failover.failed("a", httpx.ConnectError("refused", request=request))
    failover.answered("b")
    assert failover.nodes == ["b", "a", "c"]
    failover.round()
    failover.failed("b", httpx.ConnectError("refused", request=request))
    failover.failed("a", httpx.ReadTimeout("timed out", request=request))
    unreachable = failover.unreachable()
    assert unreachable.maybe_sent is True
    assert (
        "http://b: refused" in unreachable.message and "http://a: timed out" in unreachable.message
    )


def test_the_async_retry_honours_retry_after() -> None:
    waits: list[float] = []
    answers = [httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(200)]

    async def attempt() -> httpx.Response:
        return answers.pop(0)

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    response = asyncio.run(retrying_async(attempt, sleep=sleep))
    assert (response.status_code, waits) == (200, [3.0])
