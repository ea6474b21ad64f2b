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
from jinqiao.keys import load_key
from tests.helpers.process import NodeProcess, make_network

pytestmark = pytest.mark.e2e

CAPACITY = 5


def test_full_mempool_answers_503_with_retry_after(tmp_path: Path) -> None:
    layout = make_network(tmp_path)
    home = tmp_path / layout.nodes[0].home
    config = json.loads((home / "config.json").read_text())
    # No block is cut for a minute, so the mempool can only fill up.
    config.update(
        mempool_capacity=CAPACITY, block_interval_ms=60_000, empty_block_interval_ms=60_000
    )
    (home / "config.json").write_text(json.dumps(config))
    node = NodeProcess(home).start()
    try:
        client = Client(
            node.url, credentials=node.credentials, genesis_file=tmp_path / "genesis.json"
        )
        payer = load_key(tmp_path / layout.account("bank-a-treasury").key_file)
        payee = bytes.fromhex(layout.account("bank-b-treasury").address)
        transactions = [
            client.build(payer, TOKEN, "transfer", TransferArgs("CNY", payee, 0))
            for _ in range(CAPACITY + 1)
        ]
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
