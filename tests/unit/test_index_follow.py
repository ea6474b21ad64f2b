"""``ChainIndex.follow`` rides out a node that stops answering — a restart — for a bounded number
of polls, and stops with the error past the bound. The node's side is stood in for by replacing
``catch_up`` (what one poll does, tested against a real node in tests/integration/test_index.py);
the loop under test is the real one, over a real SQLite index."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jinqiao.client import NodesUnreachable
from jinqiao.index import ChainIndex, indexer

UNREACHABLE = NodesUnreachable([("http://127.0.0.1:9", "connection refused")], maybe_sent=False)


def _polls(index: ChainIndex, outcomes: list[int | Exception]) -> list[int | Exception]:
    """Make each poll of ``index`` return (or raise) the next of ``outcomes``."""
    done: list[int | Exception] = []

    def poll(client: Any, **options: Any) -> int:
        outcome = outcomes[len(done)]
        done.append(outcome)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    index.catch_up = poll  # type: ignore[method-assign]
    return done


def test_follow_goes_on_after_polls_that_reach_no_node(tmp_path: Path) -> None:
    with ChainIndex(str(tmp_path / "index.sqlite"), writer=True) as index:
        done = _polls(index, [3, UNREACHABLE, UNREACHABLE, 7])
        warned: list[NodesUnreachable] = []
        height = index.follow(
            object(),  # type: ignore[arg-type]
            poll_interval_s=0.01,
            stop=lambda: len(done) == 4,
            on_unreachable=warned.append,
        )
    assert height == 7
    assert warned == [UNREACHABLE, UNREACHABLE]


def test_follow_stops_after_too_many_unreachable_polls_in_a_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(indexer, "MAX_UNREACHABLE_POLLS", 3)
    with ChainIndex(str(tmp_path / "index.sqlite"), writer=True) as index:
        # Two failures, a success (the count starts again), then three in a row.
        done = _polls(index, [UNREACHABLE, UNREACHABLE, 1, *[UNREACHABLE] * 3, 2])
        with pytest.raises(NodesUnreachable):
            index.follow(object(), poll_interval_s=0.01)  # type: ignore[arg-type]
    assert len(done) == 6


def test_other_errors_end_the_run_at_once(tmp_path: Path) -> None:
    with ChainIndex(str(tmp_path / "index.sqlite"), writer=True) as index:
        done = _polls(index, [ValueError("a block that does not verify"), 1])
        with pytest.raises(ValueError, match="does not verify"):
            index.follow(object(), poll_interval_s=0.01)  # type: ignore[arg-type]
    assert len(done) == 1
