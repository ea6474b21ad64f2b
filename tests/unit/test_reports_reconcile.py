"""Reconciliation of an institution's records against its statement: strict parsing of the
reconciliation file, each kind of break, and the break report's renderings."""

from __future__ import annotations

import csv
import io
import json

import pytest

import jinqiao.reports.reconcile as reconcile_module
from jinqiao.core.errors import InvalidInput
from jinqiao.reports import (
    Statement,
    break_report_to_csv,
    break_report_to_json,
    parse_reconciliation_csv,
    reconcile_csv,
    require_participant,
    statement_to_csv,
)
from jinqiao.reports.reconcile import BREAK_CSV_COLUMNS
from tests.helpers.reports import read_statement, settled_network

HEADER = "record_id,payment_id,kind,reference,side,currency,amount,fee_minor,status\r\n"
# bank-b's records of the cycle in tests.helpers.reports, in its own minimal format
AGREEING = (
    HEADER
    + "b-1,P1,capture,,issuer,CNY,1000.00,-317,settled\r\n"
    + "b-2,P3,capture,,issuer,CNY,500,-159,settled\r\n"
    + "b-3,P1,refund,R1,issuer,CNY,100.0,0,settled\r\n"
)


@pytest.fixture(scope="module")
def statement() -> Statement:
    chain, cycle = settled_network()
    return read_statement(chain, cycle, "bank-b")


def test_the_statement_csv_reconciles_with_no_breaks(statement: Statement) -> None:
    report = reconcile_csv(statement, statement_to_csv(statement))
    assert report.breaks == () and report.matched == 3
    assert set(report.break_counts.values()) == {0}


def test_agreeing_records_in_the_minimal_format_give_no_breaks(statement: Statement) -> None:
    report = reconcile_csv(statement, AGREEING.encode())
    assert (report.ledger_entries, report.institution_records, report.matched) == (3, 3, 3)
    assert report.breaks == ()


def test_every_kind_of_break(statement: Statement) -> None:
    data = (
        HEADER
        + "b-1,P1,capture,,issuer,CNY,1000.01,-317,settled\r\n"  # amount
        + "b-2,P3,capture,,issuer,CNY,500.00,-158,pending\r\n"  # fee and status
        + "b-9,P9,capture,,issuer,CNY,1.00,0,settled\r\n"  # not on the ledger
    )  # the refund R1 is missing at the institution
    report = reconcile_csv(statement, data.encode())
    found = [(item.kind, item.payment_id, item.row, item.sequence) for item in report.breaks]
    assert found == [
        ("amount_mismatch", "P1", 2, 0),
        ("fee_mismatch", "P3", 3, 1),
        ("status_mismatch", "P3", 3, 1),
        ("missing_at_institution", "P1", None, 2),
        ("missing_on_ledger", "P9", 4, None),
    ]
    assert report.matched == 0
    amount = report.breaks[0]
    assert (amount.ledger_value, amount.institution_value, amount.record_id) == (
        "1000.00",
        "1000.01",
        "b-1",
    )
    assert report.break_counts["fee_mismatch"] == 1

    document = json.loads(break_report_to_json(report))
    assert document["breaks"][4]["kind"] == "missing_on_ledger"
    assert document["breaks"][4]["sequence"] is None
    rows = list(csv.DictReader(io.StringIO(break_report_to_csv(report).decode())))
    assert tuple(rows[0]) == BREAK_CSV_COLUMNS
    assert rows[3]["row"] == "" and rows[3]["reference"] == "R1"


def test_a_currency_mismatch_is_a_break(statement: Statement) -> None:
    data = AGREEING.replace("P3,capture,,issuer,CNY", "P3,capture,,issuer,USD")
    report = reconcile_csv(statement, data.encode())
    assert [(item.kind, item.ledger_value, item.institution_value) for item in report.breaks] == [
        ("currency_mismatch", "CNY", "USD")
    ]


def test_fee_and_status_are_compared_only_when_given(statement: Statement) -> None:
    data = "payment_id,kind,reference,side,currency,amount_minor\n"
    data += "P1,capture,,issuer,CNY,100000\nP3,capture,,issuer,CNY,50000\n"
    data += "P1,refund,R1,issuer,CNY,10000\n"
    report = reconcile_csv(statement, data.encode())
    assert report.breaks == () and report.matched == 3


def _invalid(data: str | bytes) -> InvalidInput:
    raw = data.encode() if isinstance(data, str) else data
    with pytest.raises(InvalidInput) as raised:
        parse_reconciliation_csv(raw, scale=2)
    assert raised.value.code == "reconciliation_file_invalid"
    return raised.value


ROW = "P1,capture,,issuer,CNY,1000.00,-317,settled"


@pytest.mark.parametrize(
    ("data", "row", "column"),
    [
        ("", 1, None),
        ("payment_id,kind,side,amount\r\n", 1, "currency"),
        ("payment_id,kind,side,currency\r\n", 1, None),
        ("payment_id,payment_id,kind,side,currency,amount\r\n", 1, None),
        (HEADER + "b-1," + ROW.replace("P1", "P/1") + "\r\n", 2, "payment_id"),
        (HEADER + "b-1," + ROW.replace("capture", "purchase") + "\r\n", 2, "kind"),
        (HEADER + "b-1," + ROW.replace("issuer", "payer") + "\r\n", 2, "side"),
        (HEADER + "b-1," + ROW.replace("CNY", "cny") + "\r\n", 2, "currency"),
        (HEADER + "b-1," + ROW.replace("1000.00", "1000.001") + "\r\n", 2, "amount"),
        (HEADER + "b-1," + ROW.replace("1000.00", "1e3") + "\r\n", 2, "amount"),
        (HEADER + "b-1," + ROW.replace("1000.00", "-1.00") + "\r\n", 2, "amount"),
        (HEADER + "b-1," + ROW.replace("-317", "3.17") + "\r\n", 2, "fee_minor"),
        (HEADER + "b-1," + ROW.replace("-317", "99999999999999999999") + "\r\n", 2, "fee_minor"),
        (HEADER + "b-1," + ROW.replace("settled", "done") + "\r\n", 2, "status"),
        (HEADER + "b-1," + ROW.replace("capture,", "refund,") + "\r\n", 2, "reference"),
        (HEADER + "b-1," + ROW + ",extra\r\n", 2, None),
        (HEADER + "b-1," + ROW + "\r\nb-2," + ROW + "\r\n", 3, None),
        (HEADER + "b-1," + ROW.replace("P1", "P" * 300) + "\r\n", 2, "payment_id"),
        (HEADER + 'b-1,"P1\r\n', 2, None),
    ],
)
def test_malformed_files_name_the_row_and_column(data: str, row: int, column: str | None) -> None:
    error = _invalid(data)
    assert error.details["row"] == row
    assert f"row {row}" in error.message
    if column is not None:
        assert error.details["column"] == column
        assert repr(column) in error.message


def test_amount_minor_and_amount_must_agree() -> None:
    data = "payment_id,kind,side,currency,amount_minor,amount\r\nP1,capture,issuer,CNY,100,1.01\r\n"
    assert "disagree" in _invalid(data).message


def test_files_that_are_not_utf8_or_too_large_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    error = _invalid((HEADER + "b-1," + ROW + "\r\n").encode() + b"\xff\xfe\r\n")
    assert error.details["row"] == 3
    with pytest.raises(InvalidInput) as raised:
        parse_reconciliation_csv(b" " * (32 * 1024 * 1024 + 1), scale=2)
    assert raised.value.code == "reconciliation_file_invalid"
    monkeypatch.setattr(reconcile_module, "MAX_RECONCILIATION_ROWS", 2)
    rows = "".join(f"b-{n},{ROW.replace('P1', f'P{n}')}\r\n" for n in range(3))
    assert "more than 2 rows" in _invalid(HEADER + rows).message


def test_a_bom_blank_lines_and_unknown_columns_are_accepted() -> None:
    data = "\ufeff" + HEADER.replace("status", "status,note") + "\r\nb-1," + ROW + ",hello\r\n"
    (record,) = parse_reconciliation_csv(data.encode(), scale=2)
    assert (record.amount_minor, record.fee_minor, record.status) == (100_000, -317, "settled")
    assert record.row == 3


def test_reconciling_a_cycle_the_institution_was_not_in_is_refused() -> None:
    require_participant(("bank-a", "bank-b"), "bank-a", 7)
    with pytest.raises(InvalidInput) as raised:
        require_participant(("bank-a", "bank-b"), "bank-c", 7)
    assert raised.value.code == "not_in_cycle"
    assert raised.value.details == {"institution": "bank-c", "cycle_id": 7}
