"""A node converts members' contracts between source, AST and code on more than one thread (the
consensus thread executing a block, API threads answering queries). CPython 3.11 counts the depth
of its AST conversions in state all threads share, and each thread starts the count from its own
stack depth: two conversions interleaved by a thread switch (a finalizer run by the garbage
collector is enough) fail with ``SystemError: AST constructor recursion depth mismatch`` — a demo
validator stopped on it. ``AST_LOCK`` makes the conversions take turns. Without the lock this
test failed in 2 of 3 threads when it was written.
"""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from jinqiao.contracts.rules import parse
from jinqiao.contracts.sandbox import compile_contract

ESCROW = Path(__file__).resolve().parents[2] / "examples" / "contracts" / "escrow" / "contract.py"
DEPTHS = (0, 9, 23)
"""Each converting thread's stack depth: the count each starts from differs."""
ROUNDS = 100
GARBAGE = 100_000


class _Cycle:
    """Garbage only the collector frees, with a finalizer that runs Python code (a place for a
    thread switch)."""

    def __init__(self) -> None:
        self.me = self

    def __del__(self) -> None:
        sum(range(20))


def _at_depth(depth: int, work: Callable[[], object]) -> object:
    return _at_depth(depth - 1, work) if depth else work()


@pytest.fixture
def frequent_switches() -> Iterator[None]:
    interval, thresholds = sys.getswitchinterval(), gc.get_threshold()
    sys.setswitchinterval(1e-6)
    gc.set_threshold(20, 2, 2)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)
        gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("frequent_switches")
def test_contracts_convert_on_several_threads_at_once() -> None:
    source = ESCROW.read_text()
    failures: list[BaseException] = []

    def convert(depth: int) -> None:
        try:
            for round_number in range(ROUNDS):
                if round_number % 10 == 0:
                    _at_depth(depth, lambda: compile_contract(source, "escrow.py"))
                else:
                    _at_depth(depth, lambda: parse(source, "escrow.py"))
        except BaseException as exc:
            failures.append(exc)

    def litter() -> None:
        for _ in range(GARBAGE):
            _Cycle()

    threads = [threading.Thread(target=convert, args=(depth,)) for depth in DEPTHS]
    threads.append(threading.Thread(target=litter))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
