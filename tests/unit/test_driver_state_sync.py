"""The driver hands a joining peer's state-sync requests to the shell (``ServeStateSync``,
ADR 0054) and takes nothing else from them; answers meant for a joining node change nothing in
a running one."""

from __future__ import annotations

import random

from jinqiao.node.driver import FrameReceived, ServeStateSync
from jinqiao.node.snapshots import SnapshotChunk
from jinqiao.node.wire import (
    ChunkRequest,
    ChunkResponse,
    ManifestRequest,
    SnapshotsOffer,
    SnapshotsRequest,
    ValidatorChangesRequest,
)
from jinqiao.sim import SCENARIOS, Simulation


def test_state_sync_requests_are_served_and_answers_ignored() -> None:
    simulation = Simulation("happy", 0, SCENARIOS["happy"](random.Random(0)), random.Random(0))
    simulation.run()
    node = simulation.nodes["v0"].live
    assert node is not None
    driver = node.driver
    now_ms = 10**9
    for request in (
        SnapshotsRequest(),
        ManifestRequest(10),
        ChunkRequest(10, 3),
        ValidatorChangesRequest(1),
    ):
        actions = driver.handle(FrameReceived("joiner", request), now_ms)
        assert actions == [ServeStateSync("joiner", request)]
    head = driver.head
    for answer in (SnapshotsOffer((10,)), ChunkResponse(SnapshotChunk(10, 3, ()))):
        assert driver.handle(FrameReceived("joiner", answer), now_ms) == []
    assert driver.head == head
