"""``AsyncClient`` and ``Client`` run the same scenario against real node processes (two
validators, real TLS) and give equal answers: proven reads, committed transfers, a pending
outcome while the chain cannot commit, and failover to the second URL when the first node is
down (issue 15, item 1; docs/adr/0038)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from jinqiao.client import (
    AsyncClient,
    Client,
    PendingTransaction,
    TransactionPending,
    TransactionResult,
)
from jinqiao.core.crypto import Signer
from jinqiao.keys import load_key
from tests.helpers import process
from tests.helpers.process import NodeProcess, make_network

pytestmark = pytest.mark.e2e

MINTED_MINOR = 100_000
AMOUNT_MINOR = 2_500
PENDING_TIMEOUT_S = 3.0


def test_async_and_sync_clients_give_equal_answers(tmp_path: Path) -> None:
    layout = make_network(tmp_path, validators=2)
    nodes = [
        NodeProcess(tmp_path / node.home, port=int(node.api_url.rsplit(":", 1)[1]))
        for node in layout.nodes
    ]
    try:
        for node in nodes:
            node.start()
        asyncio.run(_scenario(tmp_path, nodes))
    finally:
        for node in nodes:
            node.stop()


async def _scenario(network: Path, nodes: list[NodeProcess]) -> None:
    def key(name: str) -> Signer:
        return load_key(network / "accounts" / f"{name}.json")

    issuer, payer = key("clearing-treasury"), key("bank-a-treasury")
    payee = key("bank-b-treasury").address
    # The first URL is the node that goes down; the second is the one that stays.
    genesis_file, credentials = network / "genesis.json", process.test_credentials(network)
    urls = (nodes[1].url, [nodes[0].url])
    with Client(
        urls[0], other_urls=urls[1], genesis_file=genesis_file, credentials=credentials
    ) as client:
        async with AsyncClient(
            urls[0], other_urls=urls[1], genesis_file=genesis_file, credentials=credentials
        ) as async_client:
            # All up: both commit, and read the same proven answers at one height.
            minted = client.token.mint(issuer, "CNY", payer.address, MINTED_MINOR)
            async_minted = await async_client.token.mint(issuer, "CNY", payer.address, MINTED_MINOR)
            assert minted.ok and async_minted.ok and minted.verified and async_minted.verified
            height = max(minted.height, async_minted.height)
            assert client.token.balance("CNY", payer.address, height=height) == 2 * MINTED_MINOR
            assert await async_client.token.balance(
                "CNY", payer.address, height=height
            ) == client.token.balance("CNY", payer.address, height=height)
            assert await async_client.account(payer.address, height=height) == client.account(
                payer.address, height=height
            )
            assert await async_client.block(height) == client.block(height)
            assert await async_client.lookup(minted.transaction_hash) == minted
            assert client.lookup(async_minted.transaction_hash) == async_minted
            await _the_first_node_down(client, async_client, nodes, payer, payee, height)


async def _the_first_node_down(
    client: Client,
    async_client: AsyncClient,
    nodes: list[NodeProcess],
    payer: Signer,
    payee: bytes,
    height: int,
) -> None:
    nodes[1].stop()
    # Failover: the second URL answers, with the same proven values.
    balance = client.token.balance("CNY", payer.address, height=height)
    assert await async_client.token.balance("CNY", payer.address, height=height) == balance
    # One of two validators cannot commit: a transfer is pending, never reported as failed.
    client.commit_timeout_s = async_client.commit_timeout_s = PENDING_TIMEOUT_S
    with pytest.raises(TransactionPending) as pending:
        client.token.transfer(payer, "CNY", payee, AMOUNT_MINOR)
    with pytest.raises(TransactionPending) as async_pending:
        await async_client.token.transfer(payer, "CNY", payee, AMOUNT_MINOR)
    assert pending.value.admitted and async_pending.value.admitted
    identities = (pending.value.transaction_hash, async_pending.value.transaction_hash)
    for identity in identities:
        assert client.lookup(identity) == PendingTransaction(identity)
        assert await async_client.lookup(identity) == PendingTransaction(identity)

    nodes[1].start()
    committed: list[TransactionResult] = []
    for identity in identities:
        result = await async_client.wait(identity, timeout_s=60)
        assert result == client.wait(identity, timeout_s=60)
        committed.append(result)
    assert all(result.ok for result in committed)
    after = max(result.height for result in committed)
    expected = balance - 2 * AMOUNT_MINOR
    assert client.token.balance("CNY", payer.address, height=after) == expected
    assert await async_client.token.balance("CNY", payer.address, height=after) == expected
