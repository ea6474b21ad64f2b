"""The headline figures of a closed cycle, computed from its positions with integers only.

* ``gross_minor``: the sum of every participant's gross debit — every interbank obligation of the
  cycle (payment value and fees) counted once, what would move without netting;
* ``net_minor``: the sum of the net debits — what actually moves at settlement;
* ``netting_efficiency_ppm``: ``(gross - net) * 10⁶ // gross`` (rounded down; 0 for an empty
  cycle), the share of the gross obligations that netting removed, in parts per million;
* the largest net debtor and its debit (ties go to the smaller id, as in ``CycleReport``).

Excluded (unwound) institutions have position 0 and count for nothing.

``cycle_timing`` adds how long the cycle took, from the times of the committed block headers at
the heights the cycle records (opened, closed, settled): the blocks and milliseconds it was open
and its **settlement time**, from the block that closed it to the block that settled it. The
caller reads those headers (the API from its store, the SDK verified against their commit
certificates); nothing here reads a clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from jinqiao.apps.payments.model import PPM, Cycle, Position
from jinqiao.core.codec import CanonicalStruct
from jinqiao.core.errors import require


class CycleFigures(CanonicalStruct, frozen=True):
    cycle_id: int
    participants: int
    net_debtors: int
    net_creditors: int
    gross_minor: int
    net_minor: int
    netting_efficiency_ppm: int
    largest_net_debtor: str
    largest_net_debit_minor: int


def cycle_figures(cycle_id: int, positions: Iterable[Position]) -> CycleFigures:
    """The figures of ``positions`` (a closed cycle's positions; empty while it is open)."""
    counted = [position for position in positions if not position.excluded]
    gross = sum(position.debit_minor for position in counted)
    net = sum(-position.net_minor for position in counted if position.net_minor < 0)
    require(sum(p.net_minor for p in counted) == 0, "positions do not sum to zero")
    require(0 <= net <= gross or gross == 0 == net, "net debits exceed the gross obligations")
    largest_debtor, largest_debit = "", 0
    for position in sorted(counted, key=lambda p: p.institution):
        if -position.net_minor > largest_debit:
            largest_debtor, largest_debit = position.institution, -position.net_minor
    return CycleFigures(
        cycle_id=cycle_id,
        participants=len(counted),
        net_debtors=sum(1 for position in counted if position.net_minor < 0),
        net_creditors=sum(1 for position in counted if position.net_minor > 0),
        gross_minor=gross,
        net_minor=net,
        netting_efficiency_ppm=(gross - net) * PPM // gross if gross else 0,
        largest_net_debtor=largest_debtor,
        largest_net_debit_minor=largest_debit,
    )


def format_ppm_percent(ppm: int) -> str:
    """``871_234`` → ``"87.1234%"`` (exact: integers only)."""
    whole, fraction = divmod(ppm, PPM // 100)
    return f"{whole}.{fraction:04d}%"


class CycleTiming(CanonicalStruct, frozen=True):
    """When a cycle opened, closed and settled (heights from the cycle record, 0 when not yet;
    times from the committed headers at those heights, ``None`` when not yet or not given), how
    long it was open and its settlement time: from the block that closed it to the block that
    settled it, in blocks and in block-time milliseconds."""

    cycle_id: int
    opened_height: int
    closed_height: int
    settled_height: int
    opened_time_ms: int | None
    closed_time_ms: int | None
    settled_time_ms: int | None
    open_blocks: int | None
    open_time_ms: int | None
    settlement_blocks: int | None
    settlement_time_ms: int | None


def timing_heights(cycle: Cycle) -> tuple[int, ...]:
    """The heights whose block times ``cycle_timing`` needs: opened, closed and settled, those
    the cycle has reached."""
    return tuple(
        height
        for height in (cycle.opened_height, cycle.closed_height, cycle.settled_height)
        if height > 0
    )


def _span(start: int | None, end: int | None) -> int | None:
    return None if start is None or end is None else end - start


def cycle_timing(cycle: Cycle, block_times_ms: Mapping[int, int]) -> CycleTiming:
    """The timing of ``cycle`` from ``block_times_ms``, the committed block time of each height
    in ``timing_heights(cycle)`` (a missing height leaves its times ``None``)."""

    def time_at(height: int) -> int | None:
        return block_times_ms.get(height) if height > 0 else None

    opened, closed, settled = (
        time_at(cycle.opened_height),
        time_at(cycle.closed_height),
        time_at(cycle.settled_height),
    )
    is_closed, is_settled = cycle.closed_height > 0, cycle.settled_height > 0
    return CycleTiming(
        cycle_id=cycle.cycle_id,
        opened_height=cycle.opened_height,
        closed_height=cycle.closed_height,
        settled_height=cycle.settled_height,
        opened_time_ms=opened,
        closed_time_ms=closed,
        settled_time_ms=settled,
        open_blocks=cycle.closed_height - cycle.opened_height if is_closed else None,
        open_time_ms=_span(opened, closed),
        settlement_blocks=cycle.settled_height - cycle.closed_height if is_settled else None,
        settlement_time_ms=_span(closed, settled),
    )


def format_duration_ms(duration_ms: int) -> str:
    """``1234`` → ``"1.234 s"`` (integers only)."""
    sign = "-" if duration_ms < 0 else ""
    seconds, milliseconds = divmod(abs(duration_ms), 1000)
    return f"{sign}{seconds:,}.{milliseconds:03d} s"


def describe_timing(timing: CycleTiming) -> str:
    """One line for people: ``"opened at 5; closed at 13 (8 blocks, 2.000 s open); settled at 16:
    settlement time 3 blocks, 0.750 s"``."""
    parts = [f"opened at {timing.opened_height}"]
    if timing.open_blocks is not None:
        open_time = (
            "" if timing.open_time_ms is None else f", {format_duration_ms(timing.open_time_ms)}"
        )
        parts.append(
            f"closed at {timing.closed_height} ({timing.open_blocks} blocks{open_time} open)"
        )
    if timing.settlement_blocks is not None:
        settlement_time = (
            ""
            if timing.settlement_time_ms is None
            else f", {format_duration_ms(timing.settlement_time_ms)}"
        )
        parts.append(
            f"settled at {timing.settled_height}: settlement time "
            f"{timing.settlement_blocks} blocks{settlement_time}"
        )
    return "; ".join(parts)


__all__ = [
    "CycleFigures",
    "CycleTiming",
    "cycle_figures",
    "cycle_timing",
    "describe_timing",
    "format_duration_ms",
    "format_ppm_percent",
    "timing_heights",
]
