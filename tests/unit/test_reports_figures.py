"""Per-cycle figures (netting efficiency in parts per million, integer-formatted percentages),
the cycle's timing from its blocks' times (settlement time: closing block to settling block), and
the chart of net positions and flows."""

from __future__ import annotations

import struct

import pytest

from jinqiao.apps.payments import PAYMENTS
from jinqiao.apps.payments.figures import (
    cycle_figures,
    cycle_timing,
    describe_timing,
    format_duration_ms,
    format_ppm_percent,
    timing_heights,
)
from jinqiao.apps.payments.model import Flow, FlowArgs, Position
from jinqiao.reports import positions_chart_png_bytes
from tests.helpers.payments_network import make_network
from tests.helpers.reports import CNY_SCALE, read_positions, run_cycle, settled_network

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
    _, positions = read_positions(chain, cycle)
    figures = cycle_figures(cycle, positions)
    gross = 200_256 + 150_049 + 0 + 11_348  # every participant's gross debit
    net = 149_356 + 139_524
    assert (figures.gross_minor, figures.net_minor) == (gross, net)
    assert figures.netting_efficiency_ppm == (gross - net) * 1_000_000 // gross == 201_223
    assert format_ppm_percent(figures.netting_efficiency_ppm) == "20.1223%"
    assert (figures.largest_net_debtor, figures.largest_net_debit_minor) == ("bank-a", 149_356)
    assert (figures.participants, figures.net_debtors, figures.net_creditors) == (4, 2, 2)


def test_figures_of_an_open_cycle_are_empty() -> None:
    chain = make_network()
    cycle = run_cycle(chain, close=False)
    _, positions = read_positions(chain, cycle)
    figures = cycle_figures(cycle, positions)
    assert positions == ()
    assert (figures.gross_minor, figures.net_minor, figures.netting_efficiency_ppm) == (0, 0, 0)
    assert (figures.participants, figures.largest_net_debtor) == (0, "")


@pytest.mark.parametrize(
    ("ppm", "text"),
    [
        (875_000, "87.5000%"),
        (871_234, "87.1234%"),
        (1, "0.0001%"),
        (0, "0.0000%"),
        (1_000_000, "100.0000%"),
    ],
)
def test_percentages_are_formatted_with_integers(ppm: int, text: str) -> None:
    assert format_ppm_percent(ppm) == text


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
