"""A read reports the height of the snapshot it read, never a head that moved meanwhile.

A block can commit between any two reads a route makes. The test commits one in exactly that
window — when the query opens its store snapshot — so the interleaving is certain without
threads or sleeps. Before the query read its height from that snapshot, it reported the head it
had looked up just before (one behind the state it read)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from jinqiao.api.app import create_app, with_body_limit
from jinqiao.core.types import CommitCertificate
from jinqiao.node.service import Node
from jinqiao.node.storage import Snapshot
from tests.helpers.process import make_network


def _commit_empty_block(node: Node) -> None:
    head = node.chain.head
    candidate = node.chain.execute([], head.time_ms + 1_000, node.signer.address)
    height = candidate.block.header.height
    node.chain.commit(candidate, CommitCertificate(height, 0, candidate.block_hash, ()))


def _post(app: object, path: str, body: bytes) -> httpx.Response:
    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://node") as client:
            return await client.post(path, content=body)

    return asyncio.run(send())


def test_query_reports_the_height_of_the_snapshot_it_read(tmp_path: Path) -> None:
    layout = make_network(tmp_path)
    node = Node(tmp_path / layout.nodes[0].home)
    try:
        _commit_empty_block(node)
        opened = node.store.snapshot
        read_at: list[int] = []

        armed = [True]

        @contextmanager
        def snapshot_after_a_commit() -> Iterator[Snapshot]:
            if armed.pop() if armed else False:
                _commit_empty_block(node)  # a block commits just as the read begins
            with opened() as snapshot:
                read_at.append(snapshot.head_height())
                yield snapshot

        node.store.snapshot = snapshot_after_a_commit  # type: ignore[method-assign]
        address = layout.account("bank-a-treasury").address
        body = f'{{"asset": "CNY", "address": "{address}"}}'.encode()
        response = _post(with_body_limit(create_app(node)), "/v1/query/token/balance", body)
        node.store.snapshot = opened  # type: ignore[method-assign]

        assert response.status_code == 200, response.text
        assert read_at[-1] == 2  # the query's snapshot, after the commit
        assert response.json()["height"] == 2
    finally:
        node.close()
