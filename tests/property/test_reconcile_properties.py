"""Reconciliation has no false breaks and finds exactly what differs.

Generated statements (any mix of kinds, sides, amounts, fees, statuses) rendered as the
institution's own CSV — in the statement's format or a minimal one with decimal amounts, rows in
any order — reconcile with zero breaks; changing one field of one record, dropping a record or
adding one gives exactly the one matching break."""

from __future__ import annotations

import csv
import io
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from jinqiao.reports import (
    Statement,
    StatementLine,
    StatementTotals,
    format_minor,
    reconcile_csv,
    statement_to_csv,
)
from jinqiao.reports.statement import ENTRY_KINDS, ENTRY_STATUSES, entry_direction

MAX_TEST_AMOUNT = 10**15


@st.composite
def statements(draw: Any) -> Statement:
    scale = draw(st.sampled_from((0, 2, 3)))
    count = draw(st.integers(0, 12))
    keys = draw(
        st.lists(
            st.tuples(
                st.sampled_from(("P1", "P2", "P3", "pay-4", "x.5")),
                st.sampled_from(ENTRY_KINDS),
                st.sampled_from(("R1", "R2")),
                st.sampled_from(("issuer", "acquirer")),
            ).map(lambda key: key if key[1] == "refund" else (key[0], key[1], "", key[3])),
            min_size=count,
            max_size=count,
            unique=True,
        )
    )
    status = draw(st.sampled_from(ENTRY_STATUSES))
    lines = []
    for sequence, (payment_id, kind, reference, side) in enumerate(keys):
        fee_paid = draw(st.integers(0, 10**6)) if kind == "capture" else 0
        fee_received = draw(st.integers(0, 10**6)) if kind == "capture" else 0
        lines.append(
            StatementLine(
                sequence=sequence,
                payment_id=payment_id,
                kind=kind,
                reference=reference,
                side=side,
                counterparty="bank-z",
                direction=entry_direction(kind, side),
                amount_minor=draw(st.integers(1, MAX_TEST_AMOUNT)),
                issuer_fee_minor=0,
                issuer_network_fee_minor=0,
                acquirer_network_fee_minor=0,
                acquirer_fee_minor=0,
                fee_paid_minor=fee_paid,
                fee_received_minor=fee_received,
                fee_minor=fee_paid - fee_received,
                height=1 + sequence,
                status=status,
            )
        )
    return Statement(
        cycle_id=1,
        currency="CNY",
        scale=scale,
        institution="bank-y",
        clearing_house="clearing",
        cycle_status="settled",
        cycle_round=1,
        excluded=(),
        opened_height=1,
        closed_height=20,
        settled_height=22,
        lines=tuple(lines),
        totals=StatementTotals(
            entry_count=len(lines),
            debit_minor=0,
            credit_minor=0,
            fees_paid_minor=0,
            fees_received_minor=0,
            merchant_fees_minor=0,
            captured_minor=0,
            refunded_minor=0,
            charged_back_minor=0,
            represented_minor=0,
        ),
        position=None,
    )


MINIMAL_COLUMNS = ("record_id", "payment_id", "kind", "reference", "side", "currency")


def records_of(statement: Statement) -> list[dict[str, str]]:
    """The institution's own records of the statement, in a minimal format."""
    return [
        {
            "record_id": f"own-{line.sequence}",
            "payment_id": line.payment_id,
            "kind": line.kind,
            "reference": line.reference,
            "side": line.side,
            "currency": statement.currency,
            "amount": format_minor(line.amount_minor, statement.scale),
            "fee_minor": str(line.fee_minor),
            "status": line.status,
        }
        for line in statement.lines
    ]


def render(records: list[dict[str, str]]) -> bytes:
    buffer = io.StringIO()
    columns = (*MINIMAL_COLUMNS, "amount", "fee_minor", "status")
    writer = csv.DictWriter(buffer, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return buffer.getvalue().encode()


@settings(max_examples=100, deadline=None)
@given(statements())
def test_the_statements_own_csv_has_no_breaks(statement: Statement) -> None:
    report = reconcile_csv(statement, statement_to_csv(statement))
    assert report.breaks == ()
    assert report.matched == len(statement.lines)


@settings(max_examples=100, deadline=None)
@given(statements(), st.randoms(use_true_random=False))
def test_agreeing_records_in_any_order_have_no_breaks(statement: Statement, random: Any) -> None:
    records = records_of(statement)
    random.shuffle(records)
    report = reconcile_csv(statement, render(records))
    assert report.breaks == () and report.matched == len(statement.lines)


PERTURBATIONS = ("amount", "fee", "status", "currency", "drop", "add")


@settings(max_examples=200, deadline=None)
@given(statements(), st.sampled_from(PERTURBATIONS), st.data())
def test_one_perturbed_record_gives_exactly_that_break(
    statement: Statement, perturbation: str, data: Any
) -> None:
    records = records_of(statement)
    if perturbation != "add" and not records:
        perturbation = "add"
    index = data.draw(st.integers(0, max(0, len(records) - 1)))
    line = statement.lines[index] if statement.lines else None
    expected = {
        "amount": "amount_mismatch",
        "fee": "fee_mismatch",
        "status": "status_mismatch",
        "currency": "currency_mismatch",
        "drop": "missing_at_institution",
        "add": "missing_on_ledger",
    }[perturbation]
    if perturbation == "amount" and line is not None:
        delta = data.draw(st.sampled_from((-1, 1, 10**statement.scale)))
        amount = max(0, line.amount_minor + delta) if line.amount_minor > 1 else 2
        records[index]["amount"] = format_minor(amount, statement.scale)
    elif perturbation == "fee" and line is not None:
        records[index]["fee_minor"] = str(line.fee_minor + data.draw(st.sampled_from((-1, 1))))
    elif perturbation == "status" and line is not None:
        others = [status for status in ENTRY_STATUSES if status != line.status]
        records[index]["status"] = data.draw(st.sampled_from(others))
    elif perturbation == "currency":
        records[index]["currency"] = "USD"
    elif perturbation == "drop":
        del records[index]
    else:
        records.append(
            {
                "record_id": "own-extra",
                "payment_id": "only-mine",
                "kind": "capture",
                "reference": "",
                "side": "issuer",
                "currency": statement.currency,
                "amount": "1",
                "fee_minor": "0",
                "status": "settled",
            }
        )
    report = reconcile_csv(statement, render(records))
    assert [item.kind for item in report.breaks] == [expected]
    assert report.break_counts[expected] == 1
    assert sum(report.break_counts.values()) == 1
    matched = len(statement.lines) - (0 if perturbation == "add" else 1)
    assert report.matched == matched
