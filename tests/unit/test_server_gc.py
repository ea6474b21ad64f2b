"""The node tunes the garbage collector once it is built (ADR 0061): what it made at start is
left out of later collections and the young generation is collected less often."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from jinqiao.api.server import GC_YOUNG_THRESHOLD, tune_garbage_collector


@pytest.fixture
def restored_collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_collector")
def test_the_node_freezes_what_it_built_and_collects_the_young_less_often() -> None:
    built_at_start = [[index] for index in range(1_000)]  # containers the collector tracks
    _, middle, oldest = gc.get_threshold()
    tune_garbage_collector()
    assert gc.get_freeze_count() >= len(built_at_start)
    assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, middle, oldest)
    assert GC_YOUNG_THRESHOLD > 700  # Python's default
    # Cycles made later are still collected.
    cycle: list[object] = []
    cycle.append(cycle)
    del cycle
    assert gc.collect() >= 1
