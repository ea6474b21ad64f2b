"""A full mempool pushes back with 503 and a retry hint instead of growing, and admits again once
blocks drain it."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from jinqiao.apps.token import TOKEN, TransferArgs
from jinqiao.client import Client
from jinqiao.core.codec import encode
from jinqiao.core.types import SignedTransaction
from jinqiao.keys import load_key
from jinqiao.provision.network import NetworkLayout
from tests.helpers.process import NodeProcess, make_network

pytestmark = pytest.mark.e2e

CAPACITY = 5


def _start_one_node(tmp_path: Path, **settings: object) -> tuple[NodeProcess, NetworkLayout]:
    """The first node of a fresh network, started with ``settings`` in its config and no block
    cut for a minute, so that its mempool can only fill up."""
    layout = make_network(tmp_path)
    home = tmp_path / layout.nodes[0].home
    config = json.loads((home / "config.json").read_text())
    config.update(settings, block_interval_ms=60_000, empty_block_interval_ms=60_000)
    (home / "config.json").write_text(json.dumps(config))
    return NodeProcess(home).start(), layout


def _transfers(
    tmp_path: Path, layout: NetworkLayout, node: NodeProcess, count: int
) -> tuple[Client, list[SignedTransaction]]:
    """A client of ``node`` and ``count`` signed zero transfers between two treasuries."""
    client = Client(node.url, credentials=node.credentials, genesis_file=tmp_path / "genesis.json")
    payer = load_key(tmp_path / layout.account("bank-a-treasury").key_file)
    payee = bytes.fromhex(layout.account("bank-b-treasury").address)
    transfer = TransferArgs("CNY", payee, 0)
    return client, [client.build(payer, TOKEN, "transfer", transfer) for _ in range(count)]


def test_full_mempool_answers_503_with_retry_after(tmp_path: Path) -> None:
    node, layout = _start_one_node(tmp_path, mempool_capacity=CAPACITY)
    try:
        client, transactions = _transfers(tmp_path, layout, node, CAPACITY + 1)
        for transaction in transactions[:CAPACITY]:
            client.submit(transaction)
        refused = node.http.post(
            f"{node.url}/v1/transactions", json={"transaction": encode(transactions[-1]).hex()}
        )
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "1"
        assert refused.json()["code"] == "mempool_full"
        # Room is asked for before the signature is checked: a full node spends no signature
        # verification on what it refuses (a new transaction with a wrong signature is refused
        # for room; once there is room, it is refused for its signature).
        wrongly_signed = msgspec.structs.replace(transactions[-1], signature=bytes(63) + b"\x01")
        refused_for_room = node.http.post(
            f"{node.url}/v1/transactions", json={"transaction": encode(wrongly_signed).hex()}
        )
        assert refused_for_room.status_code == 503, refused_for_room.text
        assert refused_for_room.json()["code"] == "mempool_full"
        assert client.status()["mempool_transactions"] == CAPACITY
        # Resubmitting a transaction that is already waiting is not an error.
        again = node.http.post(
            f"{node.url}/v1/transactions", json={"transaction": encode(transactions[0]).hex()}
        )
        assert again.status_code == 202 and again.json()["status"] == "already_pending"
        # A forged copy (same body, another signature) of a waiting transaction is not answered
        # as if it were the waiting one: its signature is checked first.
        forged = msgspec.structs.replace(transactions[0], signature=bytes(64 - 1) + b"\x01")
        refused_forgery = node.http.post(
            f"{node.url}/v1/transactions", json={"transaction": encode(forged).hex()}
        )
        assert refused_forgery.status_code == 401, refused_forgery.text
        assert refused_forgery.json()["code"] == "invalid_signature"
        client.close()
    finally:
        assert node.stop() == 0, node.log()


def test_a_full_backlog_answers_503_backlog_full_before_the_signature(tmp_path: Path) -> None:
    """The mempool holds at most ``mempool_backlog_blocks`` blocks' budget of expected
    execution: with a budget of 10 ms and one block, two transfers of a method the node never
    executed (5 ms expected each) fill it, and the third is refused for the backlog — a wrongly
    signed one too, before its signature is checked (a block taking them frees the backlog:
    tests/unit/test_mempool.py)."""
    node, layout = _start_one_node(tmp_path, block_execution_budget_ms=10, mempool_backlog_blocks=1)
    try:
        client, transactions = _transfers(tmp_path, layout, node, 3)
        for transaction in transactions[:2]:
            client.submit(transaction)
        for refused_one in (
            transactions[2],
            msgspec.structs.replace(transactions[2], signature=bytes(63) + b"\x01"),
        ):
            refused = node.http.post(
                f"{node.url}/v1/transactions", json={"transaction": encode(refused_one).hex()}
            )
            assert refused.status_code == 503, refused.text
            assert refused.headers["retry-after"] == "1"
            body = refused.json()
            assert body["code"] == "backlog_full"
            assert body["details"] == {"pending": 2, "backlog_ms": 10, "bound_ms": 10}
        assert client.status()["mempool_transactions"] == 2
        client.close()
    finally:
        assert node.stop() == 0, node.log()
