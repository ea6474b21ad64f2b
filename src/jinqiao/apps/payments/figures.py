"""The headline figures of a closed cycle, computed from its positions with integers only.

* ``gross_minor``: the sum of every participant's gross debit — every interbank obligation of the
  cycle (payment value and fees) counted once, what would move without netting;
* ``net_minor``: the sum of the net debits — what actually moves at settlement;
* ``netting_efficiency_ppm``: ``(gross - net) * 10⁶ // gross`` (rounded down; 0 for an empty
  cycle), the share of the gross obligations that netting removed, in parts per million;
* the largest net debtor and its debit (ties go to the smaller id, as in ``CycleReport``).

Excluded (unwound) institutions have position 0 and count for nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from jinqiao.apps.payments.model import PPM, Position
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


__all__ = ["CycleFigures", "cycle_figures", "format_ppm_percent"]
