"""Per-cycle figures (exact netting efficiency, integer-formatted percentages) and the chart of
net positions and flows."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from jinqiao.apps.payments import PAYMENTS
from jinqiao.apps.payments.model import Flow, FlowArgs, Position
from jinqiao.reports import (
    cycle_figures,
    format_percent,
    netting_efficiency,
    positions_chart_png,
    positions_chart_png_bytes,
)
from tests.helpers.reports import CNY_SCALE, read_positions, run_cycle, settled_network
from tests.unit.test_payments_network import make_network

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


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


def test_the_chart_is_a_png(tmp_path: Path) -> None:
    chain, cycle = settled_network()
    _, positions = read_positions(chain, cycle)
    flows: list[Flow] = [
        chain.query(PAYMENTS, "flow", FlowArgs(cycle, issuer, acquirer))
        for issuer, acquirer in (("bank-a", "ecfin"), ("bank-b", "ecfin"), ("bank-b", "bank-a"))
    ]
    path = tmp_path / "positions.png"
    positions_chart_png(positions, flows, path, currency="CNY", scale=CNY_SCALE, title="Cycle 1")
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 5_000


def test_an_empty_chart_still_renders() -> None:
    assert positions_chart_png_bytes((), ()).startswith(PNG_MAGIC)
    lone = Position("bank-a", 0, 0, 0, 0, 0, 0, False)
    assert positions_chart_png_bytes((lone,), ()).startswith(PNG_MAGIC)
