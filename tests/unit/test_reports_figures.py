"""Per-cycle figures (exact netting efficiency, integer-formatted percentages), the cycle's
timing from its blocks' times (settlement time: closing block to settling block), and the chart
of net positions and flows."""

from __future__ import annotations

import struct
from fractions import Fraction

import pytest

from jinqiao.apps.payments import PAYMENTS
from jinqiao.apps.payments.figures import (
    cycle_timing,
    describe_timing,
    format_duration_ms,
    timing_heights,
)
from jinqiao.apps.payments.model import Flow, FlowArgs, Position
from jinqiao.reports import (
    cycle_figures,
    format_percent,
    netting_efficiency,
    positions_chart_png_bytes,
)
from tests.helpers.reports import CNY_SCALE, read_positions, run_cycle, settled_network
from tests.unit.test_payments_network import make_network

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
GENESIS_MS = 1_700_000_000_000
BLOCK_MS = 250


def block_time(height: int) -> int:
    return GENESIS_MS + BLOCK_MS * height


def png_text(data: bytes) -> dict[str, str]:
    """The PNG's uncompressed ``tEXt`` chunks."""
    texts, offset = {}, len(PNG_MAGIC)
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind, body = data[offset + 4 : offset + 8], data[offset + 8 : offset + 8 + length]
        if kind == b"tEXt":
            key, _, value = body.partition(b"\0")
            texts[key.decode("latin-1")] = value.decode("latin-1")
        offset += 12 + length
    return texts


def test_figures_of_a_settled_cycle() -> None:
    chain, cycle = settled_network()
    record, positions = read_positions(chain, cycle)
    figures = cycle_figures(
        record, positions, scale=CNY_SCALE, closed_time_ms=1_000, settled_time_ms=4_500
    )
    gross = 200_256 + 150_049 + 0 + 11_348  # every participant's gross debit
    net = 149_356 + 139_524
    assert (figures.gross_minor, figures.net_minor) == (gross, net)
    assert (figures.gross, figures.net) == ("3616.53", "2888.80")
    efficiency = Fraction(gross - net, gross)
    assert (figures.efficiency_numerator, figures.efficiency_denominator) == (
        efficiency.numerator,
        efficiency.denominator,
    )
    assert figures.efficiency_percent == "20.12%"  # 72,773 / 361,653 = 20.1225..%
    assert (figures.largest_net_debtor, figures.largest_net_debit_minor) == ("bank-a", 149_356)
    assert figures.largest_net_debit == "1493.56"
    assert figures.participants == 4
    assert figures.settlement_blocks == record.settled_height - record.closed_height
    assert figures.open_blocks == record.closed_height - record.opened_height
    assert figures.settlement_time_ms == 3_500


def test_figures_of_an_open_cycle_have_no_settlement_yet() -> None:
    chain = make_network()
    cycle = run_cycle(chain, close=False)
    record, positions = read_positions(chain, cycle)
    figures = cycle_figures(record, positions, scale=CNY_SCALE)
    assert positions == ()
    assert (figures.gross_minor, figures.net_minor, figures.efficiency_percent) == (0, 0, "0.00%")
    assert (figures.open_blocks, figures.settlement_blocks, figures.settlement_time_ms) == (
        None,
        None,
        None,
    )
    assert figures.largest_net_debtor == ""


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Fraction(7, 8), "87.50%"),
        (Fraction(2, 3), "66.67%"),
        (Fraction(1, 3), "33.33%"),
        (Fraction(1, 20_000), "0.01%"),  # 0.005% rounds half up
        (Fraction(1, 20_001), "0.00%"),
        (Fraction(1), "100.00%"),
        (Fraction(0), "0.00%"),
        (Fraction(-1, 8), "-12.50%"),
    ],
)
def test_percentages_are_rounded_half_up_with_integers(value: Fraction, text: str) -> None:
    assert format_percent(value) == text


def test_netting_efficiency() -> None:
    assert netting_efficiency(1_000, 250) == Fraction(3, 4)
    assert netting_efficiency(0, 0) == 0
    assert netting_efficiency(10, 10) == 0


def test_the_chart_is_a_png() -> None:
    chain, cycle = settled_network()
    _, positions = read_positions(chain, cycle)
    flows: list[Flow] = [
        chain.query(PAYMENTS, "flow", FlowArgs(cycle, issuer, acquirer))
        for issuer, acquirer in (("bank-a", "ecfin"), ("bank-b", "ecfin"), ("bank-b", "bank-a"))
    ]
    data = positions_chart_png_bytes(
        positions, flows, currency="CNY", scale=CNY_SCALE, title="Cycle 1"
    )
    assert data.startswith(PNG_MAGIC) and len(data) > 5_000


def test_an_empty_chart_still_renders() -> None:
    assert positions_chart_png_bytes((), ()).startswith(PNG_MAGIC)
    lone = Position("bank-a", 0, 0, 0, 0, 0, 0, False)
    assert positions_chart_png_bytes((lone,), ()).startswith(PNG_MAGIC)


def test_timing_of_a_settled_cycle_comes_from_its_block_times() -> None:
    chain, cycle_id = settled_network()
    cycle, _ = read_positions(chain, cycle_id)
    heights = timing_heights(cycle)
    assert heights == (cycle.opened_height, cycle.closed_height, cycle.settled_height)
    timing = cycle_timing(cycle, {height: block_time(height) for height in heights})
    assert (timing.closed_time_ms, timing.settled_time_ms) == (
        block_time(cycle.closed_height),
        block_time(cycle.settled_height),
    )
    assert timing.settlement_blocks == cycle.settled_height - cycle.closed_height > 0
    assert timing.settlement_time_ms == BLOCK_MS * timing.settlement_blocks
    assert timing.open_blocks == cycle.closed_height - cycle.opened_height
    assert timing.open_time_ms == BLOCK_MS * timing.open_blocks
    # A later block time at settlement (a slow round) shows in the settlement time only.
    slow = {**{h: block_time(h) for h in heights}, cycle.settled_height: block_time(10_000)}
    assert cycle_timing(cycle, slow).settlement_time_ms == block_time(10_000) - block_time(
        cycle.closed_height
    )
    assert describe_timing(timing) == (
        f"opened at {cycle.opened_height}; closed at {cycle.closed_height} "
        f"({timing.open_blocks} blocks, {format_duration_ms(timing.open_time_ms)} open); "
        f"settled at {cycle.settled_height}: settlement time {timing.settlement_blocks} blocks, "
        f"{format_duration_ms(timing.settlement_time_ms)}"
    )
    # The figures' settlement time is the same computation.
    _, positions = read_positions(chain, cycle_id)
    figures = cycle_figures(
        cycle,
        positions,
        scale=CNY_SCALE,
        closed_time_ms=block_time(cycle.closed_height),
        settled_time_ms=block_time(cycle.settled_height),
    )
    assert figures.settlement_time_ms == timing.settlement_time_ms


def test_timing_of_an_open_or_unsettled_cycle() -> None:
    chain = make_network()
    cycle_id = run_cycle(chain, close=False)
    cycle, _ = read_positions(chain, cycle_id)
    assert timing_heights(cycle) == (cycle.opened_height,)
    timing = cycle_timing(cycle, {cycle.opened_height: block_time(cycle.opened_height)})
    assert timing.opened_time_ms == block_time(cycle.opened_height)
    assert (timing.open_blocks, timing.settlement_blocks, timing.settlement_time_ms) == (
        None,
        None,
        None,
    )
    assert describe_timing(timing) == f"opened at {cycle.opened_height}"
    closed_chain = make_network()
    closed = read_positions(closed_chain, run_cycle(closed_chain, settle=False))[0]
    without_times = cycle_timing(closed, {})
    assert without_times.open_blocks == closed.closed_height - closed.opened_height
    assert (without_times.open_time_ms, without_times.settlement_time_ms) == (None, None)
    assert "settled" not in describe_timing(without_times)


@pytest.mark.parametrize(
    ("duration_ms", "text"),
    [(0, "0.000 s"), (1_234, "1.234 s"), (61_005, "61.005 s"), (-250, "-0.250 s")],
)
def test_durations_are_formatted_with_integers(duration_ms: int, text: str) -> None:
    assert format_duration_ms(duration_ms) == text


def test_the_chart_carries_its_note() -> None:
    note = "Cycle 1 opened at 2; closed at 9 (7 blocks, 1.750 s open)"
    data = positions_chart_png_bytes((), (), title="Cycle 1", note=note)
    assert data.startswith(PNG_MAGIC)
    texts = png_text(data)
    assert (texts["Title"], texts["Description"]) == ("Cycle 1", note)
    assert "Description" not in png_text(positions_chart_png_bytes((), ()))
