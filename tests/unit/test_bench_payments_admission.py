"""The network phase of ``bench payments`` refuses to count what the chain did not accept: a
transaction refused at admission for any reason but saturation, or rejected in a block, fails the
run; a saturation refusal is posted again."""

from __future__ import annotations

import pytest
from rich.progress import Progress

from jinqiao.bench.local_network import Tracker
from jinqiao.bench.payments_network import _note_admissions, wait_committed
from jinqiao.core.errors import NodeFault

BATCH = [(bytes([n]) * 32, b"raw") for n in range(3)]


def test_saturation_refusals_are_returned_to_post_again() -> None:
    tracker = Tracker()
    results = [
        {"hash": "00", "status": "pending"},
        {"error": {"code": "mempool_full", "message": "full"}, "status": 503},
        {"error": {"code": "too_many_pending", "message": "slow down"}, "status": 429},
    ]
    again = _note_admissions(BATCH, results, 1.0, tracker)
    assert again == BATCH[1:]
    assert tracker.submitted_at == {BATCH[0][0]: 1.0}
    assert tracker.refused == 2


def test_any_other_refusal_fails_the_run() -> None:
    results = [
        {"hash": "00", "status": "pending"},
        {"error": {"code": "unauthorized", "message": "no role"}, "status": 403},
        {"hash": "02", "status": "pending"},
    ]
    with pytest.raises(NodeFault, match="unauthorized"):
        _note_admissions(BATCH, results, 1.0, Tracker())


def test_a_rejected_transaction_fails_the_wait() -> None:
    tracker = Tracker()
    for identity, _ in BATCH:
        tracker.committed_at[identity] = 2.0
    tracker.rejected[BATCH[1][0]] = "unknown_payment: no payment NET-0000001"
    with Progress(disable=True) as progress, pytest.raises(NodeFault, match="unknown_payment"):
        wait_committed(tracker, BATCH, progress, "capture")


def test_the_wait_returns_when_the_last_is_seen() -> None:
    tracker = Tracker()
    for number, (identity, _) in enumerate(BATCH):
        tracker.committed_at[identity] = 2.0 + number
    tracker.rejected[b"\xff" * 32] = "not ours: ignored"
    with Progress(disable=True) as progress:
        assert wait_committed(tracker, BATCH, progress, "authorize") == 4.0
