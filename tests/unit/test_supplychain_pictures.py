"""The supply chain's pictures: a label's QR code reads back as the label (decoded by a real QR
reader, zxing-cpp), refuses what it cannot draw, and a journey's graph is a PNG with one lane
per organization."""

from __future__ import annotations

import io

import pytest
import zxingcpp
from PIL import Image

from jinqiao.apps.supplychain.model import EventRecord
from jinqiao.reports.supplychain import LabelError, label_qr, trace_png_bytes, trace_view

LABEL = "https://id.gs1.org/01/06901234000017/21/T1?sig=" + "ab" * 64 + "&signer=" + "cd" * 20


def test_a_label_reads_back_from_its_qr_code() -> None:
    with Image.open(io.BytesIO(label_qr(LABEL))) as picture:
        (decoded,) = zxingcpp.read_barcodes(picture)
    assert decoded.text == LABEL
    assert decoded.format == zxingcpp.BarcodeFormat.QRCode


def test_svg_is_drawn_too() -> None:
    svg = label_qr(LABEL, "svg")
    assert svg.startswith(b"<?xml") and b"<svg" in svg


@pytest.mark.parametrize(
    ("text", "fmt", "scale", "code"),
    [
        (LABEL, "gif", 8, "invalid_format"),
        ("", "png", 8, "invalid_label"),
        ("x" * 1_025, "png", 8, "invalid_label"),
        (LABEL, "png", 0, "invalid_scale"),
    ],
)
def test_what_cannot_be_drawn_is_refused(text: str, fmt: str, scale: int, code: str) -> None:
    with pytest.raises(LabelError) as refused:
        label_qr(text, fmt, scale=scale)
    assert refused.value.code == code


def _event(kind: str, organization: str, time_ms: int, receiver: str = "") -> EventRecord:
    digest = bytes([time_ms % 256]) * 32
    return EventRecord(digest, kind, organization, time_ms, 1, "", (), (), "", receiver, ())


def test_a_journey_is_a_png_with_a_lane_per_organization() -> None:
    steps = [
        (_event("commissioning", "brand", 1_000), ""),
        (_event("shipping", "brand", 2_000, "distributor"), "0/pallet"),
        (_event("receiving", "distributor", 3_000), "0/pallet"),
    ]
    data = trace_png_bytes("01/06901234000017/21/T1", 42, steps)
    with Image.open(io.BytesIO(data)) as picture:
        assert picture.format == "PNG"
        assert picture.text["Title"] == "Journey of 01/06901234000017/21/T1 (proven at height 42)"
    view = trace_view("01/06901234000017/21/T1", 42, steps)
    assert [e["via"] for e in view["events"]] == ["", "0/pallet", "0/pallet"]
    assert view["events"][0]["event_time"] == "1970-01-01 00:00Z"
    empty = trace_png_bytes("x", 1, [])
    assert empty.startswith(b"\x89PNG")
