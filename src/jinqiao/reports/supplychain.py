"""Pictures of the supply chain: an item's label as a QR code, and its journey as a graph.

The label's text (``apps.supplychain.authenticity.label_uri``: the GS1 Digital Link with the
brand owner's signature) is what a phone reads; ``label_qr`` only draws it, with segno, at
error-correction level M (the level GS1's QR guideline recommends for Digital Link on packs).
``trace_png_bytes`` draws an item's proven journey (``client.supplychain.trace``): one lane per
organization, one mark per event, a line from each event to the next, and each shipment as an
arrow to the receiving organization's lane; events that reached the item through a container
(the pallet it was packed on) are drawn hollow and say which container.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from jinqiao.apps.supplychain.model import (
    COMMISSIONING,
    DECOMMISSIONING,
    PACKING,
    RECEIVING,
    RETAIL_SELLING,
    SHIPPING,
    TRANSFORMING,
    UNPACKING,
    EventRecord,
)

QR_FORMATS = ("png", "svg")
MAX_LABEL_CHARS = 1_024
"""A QR code at level M holds 2,331 bytes at most; a label is a URI of a few hundred."""

_COLOURS = {
    COMMISSIONING: "#1565c0",
    PACKING: "#6a1b9a",
    UNPACKING: "#6a1b9a",
    SHIPPING: "#ef6c00",
    RECEIVING: "#2e7d32",
    RETAIL_SELLING: "#00838f",
    DECOMMISSIONING: "#c62828",
    TRANSFORMING: "#5d4037",
}


class LabelError(ValueError):
    """A label that cannot be drawn (``code`` names why)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def label_qr(text: str, fmt: str = "png", *, scale: int = 8) -> bytes:
    """The QR code of a label's text, as PNG or SVG bytes (``scale`` pixels per module, with
    the standard four-module quiet zone)."""
    import segno

    if fmt not in QR_FORMATS:
        raise LabelError("invalid_format", f"a QR code is written as {' or '.join(QR_FORMATS)}")
    if not text or len(text) > MAX_LABEL_CHARS:
        raise LabelError("invalid_label", f"a label is 1..{MAX_LABEL_CHARS} characters")
    if not 1 <= scale <= 64:
        raise LabelError("invalid_scale", "the scale is 1..64 pixels per module")
    code = segno.make_qr(text, error="m", boost_error=False)
    out = io.BytesIO()
    code.save(out, kind=fmt, scale=scale, border=4)
    return out.getvalue()


def _time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def trace_view(item: str, height: int, steps: Sequence[tuple[EventRecord, str]]) -> dict[str, Any]:
    """The journey as JSON: every event (oldest first) with who recorded it, where, when, the
    receiver of a shipment and the container that carried the item, all proven at ``height``."""
    return {
        "item": item,
        "height": height,
        "events": [
            {
                "kind": event.kind,
                "organization": event.organization,
                "event_time_ms": event.event_time_ms,
                "event_time": _time(event.event_time_ms) + "Z",
                "read_point": event.read_point,
                "receiver": event.receiver,
                "via": via,
                "recorded_height": event.recorded_height,
                "event_hash": event.event_hash.hex(),
            }
            for event, via in steps
        ],
    }


def trace_png_bytes(item: str, height: int, steps: Sequence[tuple[EventRecord, str]]) -> bytes:
    """The journey as a PNG (see the module's docstring); the item and height are its title
    and its PNG ``Title`` text."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    lanes: list[str] = []
    for event, _ in steps:
        for organization in (event.organization, event.receiver):
            if organization and organization not in lanes:
                lanes.append(organization)
    width = max(8.0, 1.6 * len(steps) + 3)
    figure = Figure(figsize=(min(width, 40.0), 1.2 * max(len(lanes), 2) + 2.2), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    row = {organization: index for index, organization in enumerate(reversed(lanes))}
    xs = list(range(len(steps)))
    ys = [row[event.organization] for event, _ in steps]
    axes.plot(xs, ys, color="#9e9e9e", linewidth=1, zorder=1)
    for x, (event, via) in zip(xs, steps, strict=True):
        colour = _COLOURS.get(event.kind, "#424242")
        y = row[event.organization]
        face = "white" if via else colour
        axes.scatter([x], [y], s=140, color=face, edgecolors=colour, linewidths=2, zorder=3)
        label = event.kind.replace("_", " ") + (f" → {event.receiver}" if event.receiver else "")
        label += f"\nvia {via}" if via else ""
        if event.read_point:
            label += f"\n{event.read_point}"
        axes.annotate(
            label, (x, y), textcoords="offset points", xytext=(0, 12), ha="center", fontsize=7
        )
        axes.annotate(
            _time(event.event_time_ms),
            (x, y),
            textcoords="offset points",
            xytext=(0, -18),
            ha="center",
            fontsize=6,
            color="#616161",
        )
        if event.kind == SHIPPING and event.receiver in row:
            axes.annotate(
                "",
                xy=(x + 0.5, row[event.receiver]),
                xytext=(x, y),
                arrowprops={"arrowstyle": "->", "color": colour, "linestyle": "--"},
            )
    axes.set_yticks(list(row.values()), list(row))
    axes.set_ylim(-0.8, max(len(lanes), 1) - 0.2)
    axes.set_xlim(-0.8, max(len(steps), 1) - 0.2)
    axes.set_xticks([])
    for side in ("top", "right", "bottom"):
        axes.spines[side].set_visible(False)
    title = f"Journey of {item} (proven at height {height})"
    axes.set_title(title, fontsize=10)
    if not steps:
        axes.text(0.5, 0.5, "no events", transform=axes.transAxes, ha="center")
    figure.text(
        0.01,
        0.01,
        "filled: the item's own event; hollow: its container's; dashed arrow: a shipment",
        fontsize=7,
        color="#616161",
    )
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png", metadata={"Title": title})
    return out.getvalue()
