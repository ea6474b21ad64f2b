"""Statements built from the payments contract's query results (a cycle run through the
in-memory network), and their JSON and CSV renderings."""

from __future__ import annotations

import csv
import io
import json

import pytest

from jinqiao.apps.payments.model import Entries, InstitutionCycle
from jinqiao.core.errors import InvalidInput
from jinqiao.reports import build_statement, format_minor, parse_decimal
from jinqiao.reports.statement import STATEMENT_CSV_COLUMNS, statement_to_csv, statement_to_json
from tests.helpers.payments_network import make_network
from tests.helpers.reports import CNY_SCALE, read_pages, read_statement, run_cycle, settled_network


@pytest.fixture(scope="module")
def network() -> tuple[object, int]:
    return settled_network()


def test_issuer_statement_lines_fees_and_position(network: tuple[object, int]) -> None:
    chain, cycle = network
    statement = read_statement(chain, cycle, "bank-b")  # type: ignore[arg-type]
    assert (statement.cycle_id, statement.currency, statement.institution) == (
        cycle,
        "CNY",
        "bank-b",
    )
    assert statement.cycle_status == "settled"
    kinds = [
        (line.payment_id, line.kind, line.reference, line.direction) for line in statement.lines
    ]
    assert kinds == [
        ("P1", "capture", "", "debit"),
        ("P3", "capture", "", "debit"),
        ("P1", "refund", "R1", "credit"),
    ]
    capture = statement.lines[0]
    # a RMB 1,000.00 debit payment: interchange 350 received, network fee 33 paid
    assert (capture.fee_paid_minor, capture.fee_received_minor, capture.fee_minor) == (
        33,
        350,
        -317,
    )
    assert {line.status for line in statement.lines} == {"settled"}
    assert statement.totals.captured_minor == 150_000
    assert statement.totals.refunded_minor == 10_000
    assert statement.totals.fees_paid_minor == 49
    position = statement.position
    assert position is not None
    # 150,000 + 49 owed, 10,000 + 525 owed to it
    assert position.net_minor == -(150_000 + 49 - 10_000 - 525)
    assert position.funded_minor == -position.net_minor


def test_acquirer_and_clearing_house_statements(network: tuple[object, int]) -> None:
    chain, cycle = network
    ecfin = read_statement(chain, cycle, "ecfin")  # type: ignore[arg-type]
    assert [line.direction for line in ecfin.lines] == ["credit", "credit", "debit"]
    assert ecfin.lines[0].fee_minor == 350 + 33
    assert ecfin.position is not None and ecfin.position.paid_out_minor == ecfin.position.net_minor
    clearing = read_statement(chain, cycle, "clearing")  # type: ignore[arg-type]
    assert clearing.lines == ()
    assert clearing.totals.fees_received_minor == 33 + 65 + 16 + 33 + 65 + 16
    assert clearing.position is not None and clearing.position.net_minor == 228


def test_open_cycle_statement_is_pending_without_a_position() -> None:
    chain = make_network()
    cycle = run_cycle(chain, close=False)
    statement = read_statement(chain, cycle, "bank-a")
    assert statement.cycle_status == "open" and statement.position is None
    assert {line.status for line in statement.lines} == {"pending"}


def test_statement_json_names_fields_and_shows_bytes_as_hex(network: tuple[object, int]) -> None:
    chain, cycle = network
    statement = read_statement(chain, cycle, "bank-b")  # type: ignore[arg-type]
    document = json.loads(statement_to_json(statement))
    assert document["format_version"] == 1
    assert document["institution"] == "bank-b"
    assert document["proofs"] == [{"name": "cycle", "key": "6379636c652f01", "proof": "00ff"}]
    assert document["lines"][0]["amount_minor"] == 100_000
    assert document["position"]["net_minor"] == statement.position.net_minor  # type: ignore[union-attr]


def test_statement_csv_has_documented_columns_and_exact_decimals(
    network: tuple[object, int],
) -> None:
    chain, cycle = network
    statement = read_statement(chain, cycle, "bank-b")  # type: ignore[arg-type]
    data = statement_to_csv(statement)
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    assert tuple(rows[0]) == STATEMENT_CSV_COLUMNS
    assert len(rows) == 3
    assert (rows[0]["amount_minor"], rows[0]["amount"]) == ("100000", "1000.00")
    assert (rows[0]["fee_minor"], rows[0]["fee"]) == ("-317", "-3.17")
    assert rows[2]["reference"] == "R1" and rows[2]["status"] == "settled"
    assert data.endswith(b"\r\n")


def test_build_statement_refuses_an_incomplete_or_mixed_reading(
    network: tuple[object, int],
) -> None:
    chain, cycle = network
    from tests.helpers.reports import read_positions

    record, positions = read_positions(chain, cycle)  # type: ignore[arg-type]
    pages = read_pages(chain, cycle, "bank-b")  # type: ignore[arg-type]
    head = InstitutionCycle("bank-b", 3, 150_049, 10_525, 49, 525, 0)
    by_name = {position.institution: position for position in positions}
    statement = build_statement(record, head, pages, by_name["bank-b"], scale=CNY_SCALE)
    assert len(statement.lines) == 3
    with pytest.raises(InvalidInput, match="2 entries read"):
        build_statement(record, head, pages[:1], None, scale=CNY_SCALE)
    with pytest.raises(InvalidInput, match="another cycle or institution"):
        other = Entries(cycle, "ecfin", pages[0].entries, pages[0].next_start)
        build_statement(record, head, [other, *pages[1:]], None, scale=CNY_SCALE)
    with pytest.raises(InvalidInput, match="position is of another"):
        build_statement(record, head, pages, by_name["ecfin"], scale=CNY_SCALE)
    with pytest.raises(InvalidInput, match="fees do not add up"):
        wrong = InstitutionCycle("bank-b", 3, 150_049, 10_525, 50, 525, 0)
        build_statement(record, wrong, pages, None, scale=CNY_SCALE)


@pytest.mark.parametrize(
    ("amount_minor", "scale", "text"),
    [
        (0, 2, "0.00"),
        (1, 2, "0.01"),
        (-1, 2, "-0.01"),
        (12345, 2, "123.45"),
        (2**63 - 1, 2, "92233720368547758.07"),
        (7, 0, "7"),
        (-120, 3, "-0.120"),
    ],
)
def test_money_formats_and_parses_exactly(amount_minor: int, scale: int, text: str) -> None:
    assert format_minor(amount_minor, scale) == text
    assert parse_decimal(text, scale) == amount_minor


@pytest.mark.parametrize("text", ["", "1.", ".5", "1e3", "+1", "1,000.00", "0.001", " 1", "--1"])
def test_parse_decimal_refuses_anything_but_plain_decimals(text: str) -> None:
    assert parse_decimal(text, 2) is None


def test_parse_decimal_accepts_trailing_zeros_beyond_the_scale() -> None:
    assert parse_decimal("1.2300", 2) == 123
    assert parse_decimal("5", 2) == 500
