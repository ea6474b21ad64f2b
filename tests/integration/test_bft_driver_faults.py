"""The BFT driver keeps the tasks it starts, and a task that fails stops the node loudly
(tracker issue 7, defect 2): before, a failed task was dropped and the node went on without
it, silently."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import msgspec
import pytest

from jinqiao.consensus.tendermint import ProposerRotation
from jinqiao.core.errors import NodeFault
from jinqiao.core.genesis import load_genesis
from jinqiao.node.config import load_config
from jinqiao.node.service import Node
from tests.helpers.process import make_network


def test_a_consensus_task_that_fails_stops_the_node_loudly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    layout = make_network(tmp_path, validators=4)
    genesis = load_genesis((tmp_path / "genesis.json").read_bytes())
    proposer = ProposerRotation.of(genesis.validator_set()).proposer(1, 0)
    entry = next(node for node in layout.nodes if bytes.fromhex(node.address) == proposer)
    home = tmp_path / entry.home
    # The proposer of height 1 starts it at the first empty-block heartbeat and builds a block.
    config = msgspec.structs.replace(load_config(home), empty_block_interval_ms=100)
    node = Node(home, config=config)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug in block execution")

    monkeypatch.setattr(node.chain, "execute", broken)

    async def scenario() -> None:
        with pytest.raises(NodeFault, match="a consensus task failed"):
            await asyncio.wait_for(node.run(asyncio.Event()), 15)

    try:
        asyncio.run(scenario())
    finally:
        node.close()
    critical = [record for record in caplog.records if record.levelno == logging.CRITICAL]
    assert len(critical) == 1 and "failed; stopping" in critical[0].getMessage()
