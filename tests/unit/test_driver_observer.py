"""An observer's driver (``node.driver.Driver`` made without a safety module, docs/guide.md "An
observer node"): it never starts a height, so it never builds, proposes or votes, whatever it
hears; it announces its height and follows by catch-up, re-executing each certified block."""

from __future__ import annotations

import dataclasses
import random

import msgspec
import pytest

from jinqiao.core.errors import NodeFault
from jinqiao.node.chain import Head
from jinqiao.node.driver import (
    BuildBlock,
    CommitBlock,
    Driver,
    ExecuteBlock,
    FrameReceived,
    Purpose,
    Send,
    Started,
    Tick,
)
from jinqiao.node.wire import (
    BlockRequest,
    BlockResponse,
    ProposalMessage,
    StatusMessage,
    VoteMessage,
    decode_message,
)
from jinqiao.sim import SCENARIOS, Simulation


def test_an_observer_never_builds_proposes_or_votes_and_follows_by_catch_up() -> None:
    simulation = Simulation("happy", 0, SCENARIOS["happy"](random.Random(0)), random.Random(0))
    simulation.run()
    validator = simulation.nodes["v0"].live
    assert validator is not None
    source = validator.driver
    observer = Driver(
        source.suite,
        None,
        dataclasses.replace(source.config, address=b""),
        block_interval_ms=20,
        empty_block_interval_ms=2_000,
    )
    with pytest.raises(NodeFault, match="never signs"):
        _ = observer.safety
    with validator.store.snapshot() as snapshot:
        first = snapshot.block(1)
    assert first is not None
    genesis_head = Head(0, first.block.header.previous_block_hash, b"", 0, source.head.validators)
    now_ms = 10_000_000
    actions = observer.handle(Started(genesis_head, None), now_ms)
    # Hours of ticks with transactions waiting: never a height, a block or a signed message.
    sent = []
    for step in range(1, 200):
        actions += observer.handle(Tick(5), now_ms + step * 1_000)
    for action in actions:
        assert not isinstance(action, BuildBlock | CommitBlock)
        if isinstance(action, Send):
            message = decode_message(action.payload)
            assert not isinstance(message, VoteMessage | ProposalMessage)
            sent.append(message)
    assert any(isinstance(message, StatusMessage) for message in sent)
    report = observer.diagnosis(now_ms, [])
    assert (report["role"], report["validator"]) == ("observer", False)
    assert "never proposes or votes" in str(report["summary"])
    # A peer ahead: the observer asks for block 1 and re-executes it for catch-up once its
    # certificate checks; a block with a certificate that does not check is refused.
    now_ms += 300_000
    observer.handle(FrameReceived("v1", StatusMessage(source.head.height)), now_ms)
    asked = [
        decode_message(a.payload)
        for a in observer.handle(Tick(0), now_ms + 1)
        if isinstance(a, Send) and a.peer == "v1"
    ]
    assert asked == [BlockRequest(1)]
    forged = msgspec.structs.replace(
        first, certificate=msgspec.structs.replace(first.certificate, signatures=())
    )
    refused = observer.handle(FrameReceived("v1", BlockResponse(forged)), now_ms + 2)
    assert not any(isinstance(a, ExecuteBlock) for a in refused)
    executed = observer.handle(FrameReceived("v1", BlockResponse(first)), now_ms + 3)
    assert [a.purpose for a in executed if isinstance(a, ExecuteBlock)] == [Purpose.CATCH_UP]
