"""``/v1/consensus`` (the driver's ``diagnosis``) judges a peer by what it heard, not by an open
socket, and shows a peer's last transport error only while that peer is silent (tracker issue 8,
fault b: a recovered peer showed stale errors); catch-up spreads its requests over the peers
ahead."""

from __future__ import annotations

import random

from jinqiao.node.driver import CATCH_UP_TIMEOUT_MS, PEER_SILENT_AFTER_MS, Send, Tick
from jinqiao.node.wire import BlockRequest, decode_message
from jinqiao.sim import SCENARIOS, Simulation


def _settled_network() -> Simulation:
    simulation = Simulation("happy", 0, SCENARIOS["happy"](random.Random(0)), random.Random(0))
    simulation.run()
    return simulation


def test_a_peer_heard_from_is_connected_and_its_old_error_is_not_shown() -> None:
    simulation = _settled_network()
    node = simulation.nodes["v0"]
    assert node.live is not None
    now_ms = simulation._clock(node)
    transport = [{"peer": "v1", "last_error": "dial: ConnectionRefusedError: refused"}]
    report = node.live.driver.diagnosis(now_ms, transport)
    v1 = next(v for v in report["validators"] if v["name"] == "v1")  # type: ignore[union-attr]
    assert v1["connected"] is True
    assert v1["last_error"] == ""


def test_a_silent_peer_is_not_connected_and_shows_its_error() -> None:
    simulation = _settled_network()
    node = simulation.nodes["v0"]
    assert node.live is not None
    later_ms = simulation._clock(node) + PEER_SILENT_AFTER_MS + 1_000
    transport = [{"peer": "v1", "last_error": "dial: ConnectionRefusedError: refused"}]
    report = node.live.driver.diagnosis(later_ms, transport)
    v1 = next(v for v in report["validators"] if v["name"] == "v1")  # type: ignore[union-attr]
    assert v1["connected"] is False
    assert v1["last_error"] == "dial: ConnectionRefusedError: refused"


def test_catch_up_asks_the_peers_ahead_in_turn_not_only_the_tallest_claim() -> None:
    """A peer that claims a height it does not have must not be the only one asked: requests
    for the next block go to every peer ahead in turn."""
    simulation = _settled_network()
    node = simulation.nodes["v0"]
    assert node.live is not None
    driver = node.live.driver
    head = driver.head.height
    driver.state.peer_heights.update({"v1": head + 1_000_000, "v2": head + 1, "v3": head})
    asked = []
    now_ms = simulation._clock(node)
    for _ in range(4):
        now_ms += CATCH_UP_TIMEOUT_MS + 1  # each request times out unanswered
        for action in driver.handle(Tick(0), now_ms):
            if isinstance(action, Send) and action.peer is not None:
                message = decode_message(action.payload)
                if isinstance(message, BlockRequest):
                    assert message.height == head + 1
                    asked.append(action.peer)
    assert asked == ["v1", "v2", "v1", "v2"]
