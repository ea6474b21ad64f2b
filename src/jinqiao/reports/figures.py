"""A chart of a cycle's net positions and flows, for operations and risk staff.

The cycle's figures (gross, net, netting efficiency) and timing are
``jinqiao.apps.payments.figures``: integers only, shared by the API, the SDK and the CLI. Only
this chart converts amounts to ``float``, to draw them.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from jinqiao.apps.payments.model import Flow, Position
from jinqiao.reports.money import POWERS_OF_TEN, check_scale


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
