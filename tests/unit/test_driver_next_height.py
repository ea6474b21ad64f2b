"""A proposal for the height after the current one arrives before this node has committed the
current one (across a wide-area link the next proposer commits first): the machine buffers the
proposal and the driver keeps its block, so once the node commits it validates that block and
prevotes for it — instead of judging a block it no longer holds invalid and prevoting nil,
which failed the round and cost the height its timeouts (ADR 0050)."""

from __future__ import annotations

import random

import msgspec

from jinqiao.consensus.messages import Proposal, SignedProposal, proposal_signing_bytes
from jinqiao.core.hashing import header_hash
from jinqiao.node.driver import MAX_KEPT_BLOCKS, FrameReceived
from jinqiao.node.wire import ProposalMessage
from jinqiao.sim import SCENARIOS, Simulation


def _settled_network() -> Simulation:
    simulation = Simulation("happy", 0, SCENARIOS["happy"](random.Random(0)), random.Random(0))
    simulation.run()
    return simulation


def _early_proposal(simulation: Simulation, height_ahead: int) -> tuple[ProposalMessage, bytes]:
    """A proposal signed by v1 for ``head + height_ahead`` of v0, with a block of that height
    (the last committed block relabelled: the driver only keeps it until it is validated)."""
    node = simulation.nodes["v0"]
    assert node.live is not None
    driver = node.live.driver
    head = driver.head.height
    committed = simulation._stored_block(node, head)
    assert committed is not None
    header = msgspec.structs.replace(committed.block.header, height=head + height_ahead)
    block = msgspec.structs.replace(committed.block, header=header)
    block_hash = header_hash(driver.suite, header)
    signer = simulation.nodes["v1"].signer
    proposal = Proposal(
        committed.block.header.chain_id, head + height_ahead, 0, block_hash, -1, signer.address
    )
    signed = SignedProposal(proposal, signer.sign(proposal_signing_bytes(proposal)))
    return ProposalMessage(signed, block), block_hash


def test_the_block_of_the_next_height_is_kept_until_this_one_commits() -> None:
    simulation = _settled_network()
    node = simulation.nodes["v0"]
    assert node.live is not None
    driver = node.live.driver
    now_ms = simulation._clock(node)
    message, block_hash = _early_proposal(simulation, 2)  # head + 1 is this node's height
    driver.handle(FrameReceived("v1", message), now_ms)
    assert block_hash in driver.state.blocks


def test_a_block_two_heights_ahead_is_not_kept() -> None:
    simulation = _settled_network()
    node = simulation.nodes["v0"]
    assert node.live is not None
    driver = node.live.driver
    message, block_hash = _early_proposal(simulation, 3)
    driver.handle(FrameReceived("v1", message), simulation._clock(node))
    assert block_hash not in driver.state.blocks
    assert len(driver.state.blocks) <= MAX_KEPT_BLOCKS
