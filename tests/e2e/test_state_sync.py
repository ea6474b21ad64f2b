"""State sync (tracker issue 17, item 5; ADR 0054): four validator processes commit transfers and
take a snapshot every 10 heights; one of them lies (its snapshot's chunks are altered on disk).
A fifth node, started with an empty store and ``state_sync`` on, restores the state at height 10
from the snapshots, refuses the liar's chunks and fetches them from the others, then follows the
chain: same head as the validators and the same proven balance."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from jinqiao.apps.token import TOKEN, balance_key
from jinqiao.client import Client
from jinqiao.core.codec import decode_stored, encode
from jinqiao.keys import load_key
from jinqiao.node.snapshots import SnapshotChunk, StateEntry
from tests.helpers.cluster import Load, height, jinqiao, wait_for
from tests.helpers.process import NodeProcess, free_port_base, make_network

pytestmark = pytest.mark.e2e

INTERVAL = 10


def status(node: NodeProcess) -> dict[str, object]:
    answer: dict[str, object] = node.http.get(f"{node.url}/v1/status", timeout=5).json()
    return answer


def head_of(node: NodeProcess) -> tuple[object, object, object]:
    answer = status(node)
    return answer["height"], answer["block_hash"], answer["state_root"]


def configure(home: Path, **fields: object) -> None:
    config = json.loads((home / "config.json").read_text())
    config.update(fields)
    (home / "config.json").write_text(json.dumps(config))


def make_a_liar(home: Path, at: int) -> int:
    """Alter one value in every chunk of the node's snapshot at height ``at`` (a peer that lies:
    its chunks still decode, their entries no longer make the state root)."""
    altered = 0
    for path in sorted((home / "snapshots" / str(at)).iterdir()):
        if path.name == "manifest":
            continue
        chunk = decode_stored(path.read_bytes(), SnapshotChunk)
        first = chunk.entries[0]
        entries = (StateEntry(first.key, first.value + b"\x00"), *chunk.entries[1:])
        path.write_bytes(encode(SnapshotChunk(chunk.height, chunk.prefix, entries)))
        altered += 1
    return altered


@pytest.fixture
def network_and_joiner(tmp_path: Path) -> Iterator[tuple[Path, list[NodeProcess], NodeProcess]]:
    layout = make_network(tmp_path, validators=4)
    base = free_port_base(1)
    entry = jinqiao(
        "node",
        "add",
        str(tmp_path),
        "--name",
        "late-joiner",
        "--organization",
        "regulator",
        "--api-port",
        str(base),
        "--p2p-port",
        str(base + 100),
        "--observer",
        "--state-sync",
    )
    validators = []
    for node in layout.nodes:
        home = tmp_path / node.home
        # Small chunks: the test's small state is cut into several, so every peer serves some.
        configure(home, snapshot_interval_blocks=INTERVAL, snapshot_chunk_bytes=1024)
        validators.append(NodeProcess(home, port=int(node.api_url.rsplit(":", 1)[1])))
    joiner_home = tmp_path / str(entry["home"])
    assert json.loads((joiner_home / "config.json").read_text())["state_sync"] is True
    configure(joiner_home, state_sync_timeout_s=120)
    joiner = NodeProcess(joiner_home, port=base)
    started: list[NodeProcess] = []
    try:
        for node in validators:
            started.append(node.start())
        yield tmp_path, validators, joiner
    finally:
        if joiner.process is not None:
            started.append(joiner)
        for node in started:
            if node.process is not None and node.process.poll() is None:
                node.process.send_signal(signal.SIGCONT)
                node.stop()


def test_a_node_joins_by_snapshot_refuses_a_liar_and_follows(
    network_and_joiner: tuple[Path, list[NodeProcess], NodeProcess],
) -> None:
    directory, validators, joiner = network_and_joiner
    genesis_file = directory / "genesis.json"
    payer_file = directory / "accounts" / "bank-a-treasury.json"
    payee = load_key(directory / "accounts" / "bank-b-treasury.json").address
    with Client(
        validators[0].url, credentials=validators[0].credentials, genesis_file=genesis_file
    ) as client:
        treasury = load_key(directory / "accounts" / "clearing-treasury.json")
        assert client.token.mint(treasury, "CNY", load_key(payer_file).address, 10**9).ok
    with Load(validators[0].url, genesis_file, payer_file, payee) as load:
        wait_for(lambda: height(validators[0]) >= INTERVAL + 1, 120, f"height {INTERVAL + 1}")
    assert load.committed
    # Every validator took the snapshot at height 10; the next is 10 heights (of empty blocks,
    # one per 10 s heartbeat) away.
    for node in validators:
        wait_for(
            lambda node=node: (node.home / "snapshots" / str(INTERVAL) / "manifest").exists(),
            60,
            f"{node.home.name}'s snapshot at height {INTERVAL}",
        )
    liar = validators[0]
    assert make_a_liar(liar.home, INTERVAL) >= 4

    joiner.start()
    wait_for(lambda: head_of(joiner) == head_of(validators[1]), 120, "the joiner at the head")
    log = joiner.log_path.read_text()
    assert f"snapshot at height {INTERVAL} offered by" in log
    assert f"installed the state at height {INTERVAL}" in log
    liar_name = liar.home.name
    assert f"refused an answer of {liar_name}" in log, log[-3000:]
    assert "caught up block" in log

    # The joiner follows new blocks and proves the same balance as a validator.
    with Load(validators[1].url, genesis_file, payer_file, payee) as load:
        wait_for(lambda: len(load.committed) >= 2, 60, "more transfers")
    wait_for(lambda: head_of(joiner) == head_of(validators[1]), 60, "the joiner follows")
    key = balance_key("CNY", payee)
    with (
        Client(joiner.url, credentials=joiner.credentials, genesis_file=genesis_file) as on_joiner,
        Client(
            validators[2].url, credentials=validators[2].credentials, genesis_file=genesis_file
        ) as on_validator,
    ):
        at = int(str(status(joiner)["height"]))
        from_joiner = on_joiner.read_state(TOKEN, key, height=at)
        from_validator = on_validator.read_state(TOKEN, key, height=at)
    assert from_joiner.verified and from_validator.verified
    assert from_joiner.value is not None
    assert (from_joiner.value, from_joiner.state_root) == (
        from_validator.value,
        from_validator.state_root,
    )

    assert "Traceback" not in joiner.log()
