"""Per-cycle figures for operations and risk staff, and a chart of a cycle's net positions and
flows.

Money stays in integer minor units; the netting efficiency is an exact fraction with a
percentage formatted by integer arithmetic. Only the chart converts amounts to ``float``, to
draw them.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from fractions import Fraction

import msgspec

from jinqiao.apps.payments.figures import cycle_timing
from jinqiao.apps.payments.model import Cycle, Flow, Position
from jinqiao.reports.money import POWERS_OF_TEN, check_scale, format_minor

PERCENT_PLACES = 2


class CycleFigures(msgspec.Struct, frozen=True, kw_only=True):
    """A cycle's figures over its current positions (excluded institutions left out).

    ``gross_minor`` is the sum of every participant's gross debit (what would move without
    netting); ``net_minor`` the sum of the net debits (what moves after netting). The netting
    efficiency is ``1 - net / gross`` as the reduced fraction ``efficiency_numerator /
    efficiency_denominator`` (0 when nothing is owed) and ``efficiency_percent``, rounded half
    up to two places (``"87.50%"``). Heights come from the cycle record; the ``*_blocks``
    figures and ``settlement_time_ms`` are ``None`` until the cycle has closed or settled (the
    time also needs the block times of the closing and settling blocks, which the cycle record
    does not hold: ``apps.payments.figures.cycle_timing`` computes it from them)."""

    cycle_id: int
    currency: str
    scale: int
    status: str
    participants: int
    gross_minor: int
    gross: str
    net_minor: int
    net: str
    efficiency_numerator: int
    efficiency_denominator: int
    efficiency_percent: str
    largest_net_debtor: str
    largest_net_debit_minor: int
    largest_net_debit: str
    opened_height: int
    closed_height: int
    settled_height: int
    open_blocks: int | None
    settlement_blocks: int | None
    settlement_time_ms: int | None


def format_percent(value: Fraction, places: int = PERCENT_PLACES) -> str:
    """``value`` (a ratio: 1 is 100%) as a percentage rounded half up (away from zero) to
    ``places`` decimals, by integer arithmetic: ``Fraction(7, 8)`` is ``"87.50%"``."""
    scaled = abs(value) * 100 * 10**places
    rounded = (scaled.numerator * 2 + scaled.denominator) // (2 * scaled.denominator)
    return format_minor(-rounded if value < 0 else rounded, places) + "%"


def netting_efficiency(gross_minor: int, net_minor: int) -> Fraction:
    """``1 - net / gross``: the share of the gross obligations that netting removed."""
    if gross_minor == 0:
        return Fraction(0)
    return 1 - Fraction(net_minor, gross_minor)


def cycle_figures(
    cycle: Cycle,
    positions: Sequence[Position],
    *,
    scale: int,
    closed_time_ms: int | None = None,
    settled_time_ms: int | None = None,
) -> CycleFigures:
    """The figures of ``cycle`` from its ``positions`` (the ``positions`` query). Pass the block
    times of ``closed_height`` and ``settled_height`` (from the committed headers) to get the
    settlement time."""
    check_scale(scale)
    counted = [position for position in positions if not position.excluded]
    gross = sum(position.debit_minor for position in counted)
    net = sum(-position.net_minor for position in counted if position.net_minor < 0)
    debtors = sorted(
        (position for position in counted if position.net_minor < 0),
        key=lambda position: (position.net_minor, position.institution),
    )
    largest = debtors[0] if debtors else None
    efficiency = netting_efficiency(gross, net)
    block_times_ms = {
        height: time_ms
        for height, time_ms in (
            (cycle.closed_height, closed_time_ms),
            (cycle.settled_height, settled_time_ms),
        )
        if height > 0 and time_ms is not None
    }
    timing = cycle_timing(cycle, block_times_ms)
    largest_debit = 0 if largest is None else -largest.net_minor
    return CycleFigures(
        cycle_id=cycle.cycle_id,
        currency=cycle.currency,
        scale=scale,
        status=cycle.status,
        participants=len(counted),
        gross_minor=gross,
        gross=format_minor(gross, scale),
        net_minor=net,
        net=format_minor(net, scale),
        efficiency_numerator=efficiency.numerator,
        efficiency_denominator=efficiency.denominator,
        efficiency_percent=format_percent(efficiency),
        largest_net_debtor="" if largest is None else largest.institution,
        largest_net_debit_minor=largest_debit,
        largest_net_debit=format_minor(largest_debit, scale),
        opened_height=cycle.opened_height,
        closed_height=cycle.closed_height,
        settled_height=cycle.settled_height,
        open_blocks=timing.open_blocks,
        settlement_blocks=timing.settlement_blocks,
        settlement_time_ms=timing.settlement_time_ms,
    )


def _major(amount_minor: int, scale: int) -> float:
    # Plotting only: the chart needs floats; nothing computed from it is money.
    return amount_minor / POWERS_OF_TEN[scale]


def positions_chart_png_bytes(
    positions: Sequence[Position],
    flows: Sequence[Flow],
    *,
    currency: str = "",
    scale: int = 0,
    title: str = "",
    note: str = "",
) -> bytes:
    """A PNG: net positions per institution as bars (receivers up, payers down) and, beside
    them, each flow's amounts issuer → acquirer (captured + represented) and back (refunded +
    charged back), in major units of ``currency``. ``note`` (e.g. the cycle's timing) is
    written under the charts and kept as the PNG's ``Description`` text, with ``title`` as its
    ``Title``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    check_scale(scale)
    figure = Figure(figsize=(12, 5), dpi=100)
    FigureCanvasAgg(figure)
    net_axes, flow_axes = figure.subplots(1, 2)
    names = [position.institution for position in positions]
    nets = [_major(position.net_minor, scale) for position in positions]
    colors = ["#2e7d32" if value >= 0 else "#c62828" for value in nets]
    net_axes.bar(names, nets, color=colors)
    net_axes.axhline(0, color="black", linewidth=0.8)
    net_axes.set_title("Net positions")
    net_axes.set_ylabel(f"{currency} (receives > 0)".strip())
    net_axes.tick_params(axis="x", labelrotation=45)
    labels = [f"{flow.issuer} → {flow.acquirer}" for flow in flows]
    forward = [_major(flow.captured_minor + flow.represented_minor, scale) for flow in flows]
    backward = [_major(flow.refunded_minor + flow.charged_back_minor, scale) for flow in flows]
    rows = range(len(flows))
    flow_axes.barh([row - 0.2 for row in rows], forward, height=0.4, label="captured+represented")
    flow_axes.barh([row + 0.2 for row in rows], backward, height=0.4, label="refunded+charged back")
    flow_axes.set_yticks(list(rows), labels)
    flow_axes.set_title("Flows (issuer → acquirer)")
    flow_axes.set_xlabel(currency)
    if flows:
        flow_axes.legend(loc="lower right")
    if title:
        figure.suptitle(title)
    if note:
        figure.text(0.5, 0.01, note, ha="center", va="bottom", fontsize=9)
    figure.tight_layout(rect=(0, 0.04 if note else 0, 1, 1))
    buffer = io.BytesIO()
    metadata = {"Title": title, "Description": note}
    figure.savefig(buffer, format="png", metadata={k: v for k, v in metadata.items() if v})
    return buffer.getvalue()
