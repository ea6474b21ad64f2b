"""Pruning is crash safe (ADR 0053): a pruning node killed with SIGKILL under load, while its
pruner deletes old state, restarts with every retained height whole — each proven read at each
retained height verifies — refuses the pruned heights with ``height_pruned``, and its store holds
every node and value the retained roots reach."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from jinqiao.client import Client, ClientError
from jinqiao.core.genesis import load_genesis
from jinqiao.execution.identity import GOVERNANCE, VALIDATORS_KEY
from jinqiao.execution.state import full_key
from jinqiao.node.storage import Store
from tests.helpers.cluster import load_to_kill_under, start_funded_node
from tests.helpers.process import NodeProcess, metric
from tests.unit.test_pruning import reachable, table_keys

pytestmark = pytest.mark.e2e

KILLS = 3
RETENTION = 4


def _wait_for_pruning(node: NodeProcess, above: float, timeout_s: float = 90) -> float:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        pruned = metric(node, "jinqiao_pruned_state_nodes_total") or 0.0
        if pruned > above:
            return pruned
        time.sleep(0.2)
    raise AssertionError(f"the pruner deleted nothing in {timeout_s} s:\n{node.log()}")


def _check_retained_heights(client: Client, payee: bytes) -> tuple[int, int]:
    """Every height the node keeps proves the payee's balance (the client verifies each
    proof); the one below is refused. Returns (floor, head)."""
    head = client.status()["height"]
    floor = None
    for height in range(head, 0, -1):
        try:
            client.token.balance("CNY", payee, height=height)
        except ClientError as refused:
            assert refused.code == "height_pruned", refused
            assert refused.status == 410
            floor = height + 1
            break
    assert floor is not None and head - floor + 1 >= RETENTION, (floor, head)
    return floor, head


def test_sigkill_while_pruning_keeps_every_retained_height(tmp_path: Path) -> None:
    funded = start_funded_node(tmp_path, retention_heights=RETENTION)
    node, home, genesis_file = funded.node, funded.home, funded.genesis_file
    payer_file, payee = funded.payer_file, funded.payee
    rng = random.Random(53)
    pruned = 0.0
    last_floor = 0
    for round_number in range(KILLS):
        with load_to_kill_under(node.url, genesis_file, payer_file, payee):
            # Under load the pruner runs every few heights, interleaved with the commits; the
            # kill lands at a random moment once it has deleted something this round.
            pruned = _wait_for_pruning(node, pruned)
            time.sleep(rng.uniform(0.1, 1.0))
            node.kill()
        node = NodeProcess(home, port=node.port).start()
        with Client(node.url, credentials=node.credentials, genesis_file=genesis_file) as client:
            floor, _ = _check_retained_heights(client, payee)
            assert floor >= last_floor, f"round {round_number}: the floor went back"
            last_floor = floor
    assert node.stop() == 0, node.log()
    _check_store(home)


def _check_store(home: Path) -> None:
    """Offline: the retained roots reach only stored nodes (leaves with their values), and once
    the pruner has caught up the store holds exactly those (nothing leaked by the kills)."""
    suite = load_genesis((home / "genesis.json").read_bytes()).suite
    store = Store(home / "data", journal=True)
    try:
        while store.prune(suite, RETENTION, full_key(GOVERNANCE, VALIDATORS_KEY)).more:
            pass
        with store.snapshot() as snapshot:
            head, floor = snapshot.head_height(), snapshot.prune_floor()
            headers = [snapshot.header(height) for height in range(floor, head + 1)]
        roots = [found[0].state_root for found in headers if found is not None]
        assert len(roots) == head - floor + 1 == RETENTION
        nodes, _ = reachable(store, roots)
        assert table_keys(store, b"state_nodes") == nodes | table_keys(store, b"pinned_nodes")
    finally:
        store.close()
