"""Crash safety: a node killed with SIGKILL under load, again and again, restarts at its last
committed block with the same state root, loses no transaction it reported committed, and its
store replays from genesis to exactly the same headers."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from jinqiao.apps import default_contracts
from jinqiao.client import Client
from jinqiao.core.genesis import load_genesis
from jinqiao.core.hashing import header_hash
from jinqiao.execution.runtime import Runtime
from jinqiao.node.chain import Chain
from jinqiao.node.storage import Store
from tests.helpers.cluster import load_to_kill_under, start_funded_node
from tests.helpers.process import NodeProcess

pytestmark = pytest.mark.e2e

KILLS = 5


def _replay_store(home: Path) -> int:
    """Re-execute every stored block on a fresh store; every header must come out identical."""
    genesis = load_genesis((home / "genesis.json").read_bytes())
    stored = Store(home / "data")
    replay_store = Store(home.parent / f"{home.name}-replay")
    try:
        replay = Chain(
            replay_store, genesis, Runtime(genesis.suite, genesis.chain_id, default_contracts())
        )
        with stored.snapshot() as snapshot:
            head = snapshot.head_height()
            previous = replay.head.block_hash
            for height in range(1, head + 1):
                committed = snapshot.block(height)
                assert committed is not None, f"block {height} missing"
                header = committed.block.header
                assert header.previous_block_hash == previous, f"block {height} does not link"
                candidate = replay.validate(committed.block)  # raises, naming what differs
                assert candidate.block.header == header, f"block {height} replays differently"
                assert candidate.result.receipts == committed.receipts
                replay.commit(candidate, committed.certificate)
                previous = header_hash(genesis.suite, header)
        return head
    finally:
        stored.close()
        replay_store.close()


def test_sigkill_under_load_repeatedly(tmp_path: Path) -> None:
    funded = start_funded_node(tmp_path)
    node, home, genesis_file = funded.node, funded.home, funded.genesis_file
    payer_file, payee = funded.payer_file, funded.payee
    rng = random.Random(2024)
    seen: dict[str, tuple[int, int]] = {}
    last_height = 0
    for round_number in range(KILLS):
        with load_to_kill_under(node.url, genesis_file, payer_file, payee) as load:
            # Kill at a random moment after the load has seen its first commit: a fixed sleep
            # alone left nothing committed when the machine was busy.
            deadline = time.monotonic() + 60
            while not load.committed and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(rng.uniform(0.2, 1.2))
            node.kill()
        seen.update(load.committed)
        assert load.committed, f"round {round_number}: nothing committed before the kill"
        node = NodeProcess(home, port=node.port).start()
        with Client(node.url, credentials=node.credentials, genesis_file=genesis_file) as client:
            status = client.status()
            assert status["height"] >= max(h for h, _ in seen.values()) >= last_height
            last_height = status["height"]
            for identity, (height, index) in seen.items():
                result = client.wait(identity, timeout_s=5)  # proofs verified by the client
                assert (result.height, result.index) == (height, index), identity
            assert client.token.balance("CNY", payee) >= len(seen)
    assert node.stop() == 0, node.log()
    assert _replay_store(home) >= last_height
