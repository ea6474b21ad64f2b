"""Reconciliation of an institution's own records against its ledger statement for a cycle.

The institution uploads a CSV of its records (the format is in docs/payments.md,
"Reconciliation"); ``parse_reconciliation_csv`` reads it strictly and ``reconcile_statement``
matches it with the statement's lines by (payment id, kind, reference, side) and reports every
break:

* ``missing_on_ledger`` — a record with no ledger entry;
* ``missing_at_institution`` — a ledger entry with no record;
* ``amount_mismatch``, ``fee_mismatch``, ``status_mismatch``, ``currency_mismatch`` — both
  exist and that field differs (fee and status only when the file has those columns).

Records that agree with the ledger give no break at all. A file whose rows are the statement's
own CSV (``statement_to_csv``) reconciles with zero breaks.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence

import msgspec

from jinqiao.apps.payments.model import ACQUIRER_SIDE, ISSUER_SIDE, REFERENCE, REFUND
from jinqiao.core.errors import InvalidInput, NodeFault
from jinqiao.core.limits import MAX_AMOUNT_MINOR
from jinqiao.reports.money import format_minor, parse_decimal
from jinqiao.reports.statement import (
    ENTRY_KINDS,
    ENTRY_STATUSES,
    Statement,
    StatementLine,
    to_json,
)

MAX_RECONCILIATION_FILE_BYTES = 32 * 1024 * 1024
"""The largest reconciliation file accepted (32 MiB)."""
MAX_RECONCILIATION_ROWS = 500_000
"""Data rows in a reconciliation file (the header not counted)."""
MAX_FIELD_CHARACTERS = 256
"""Characters in one field of a reconciliation file."""

REQUIRED_COLUMNS = ("payment_id", "kind", "side", "currency")
"""Plus one of ``amount_minor`` and ``amount`` (both: they must agree)."""
OPTIONAL_COLUMNS = ("record_id", "reference", "fee_minor", "fee", "status")

MISSING_ON_LEDGER = "missing_on_ledger"
MISSING_AT_INSTITUTION = "missing_at_institution"
AMOUNT_MISMATCH = "amount_mismatch"
FEE_MISMATCH = "fee_mismatch"
STATUS_MISMATCH = "status_mismatch"
CURRENCY_MISMATCH = "currency_mismatch"
BREAK_KINDS = (
    MISSING_ON_LEDGER,
    MISSING_AT_INSTITUTION,
    AMOUNT_MISMATCH,
    FEE_MISMATCH,
    STATUS_MISMATCH,
    CURRENCY_MISMATCH,
)

_INTEGER = re.compile(r"-?[0-9]{1,19}")
_CURRENCY = re.compile(r"[A-Z][A-Z0-9]{0,15}")
_SIDES = (ISSUER_SIDE, ACQUIRER_SIDE)

Key = tuple[str, str, str, str]
"""(payment id, kind, reference, side): one entry of one institution in one cycle. The
reference is the refund id for refunds and empty for other kinds."""


class InstitutionRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One row of an institution's reconciliation file. ``fee_minor`` and ``status`` are
    ``None`` when the file has no such column (then they are not compared). ``row`` is the
    row's line number in the file (the header is line 1)."""

    row: int
    record_id: str
    payment_id: str
    kind: str
    reference: str
    side: str
    currency: str
    amount_minor: int
    fee_minor: int | None
    status: str | None


class Break(msgspec.Struct, frozen=True, kw_only=True):
    """A difference between the ledger and the institution's records. ``row`` is the file's
    line (``None`` for ``missing_at_institution``), ``sequence`` the statement line (``None``
    for ``missing_on_ledger``); the values are as the two sides state them (decimal strings
    for money, empty when that side has no record)."""

    kind: str
    payment_id: str
    entry_kind: str
    reference: str
    side: str
    row: int | None
    record_id: str
    sequence: int | None
    ledger_value: str
    institution_value: str


class BreakReport(msgspec.Struct, frozen=True, kw_only=True):
    cycle_id: int
    institution: str
    currency: str
    ledger_entries: int
    institution_records: int
    matched: int
    """Entries present on both sides with no break."""
    break_counts: dict[str, int]
    breaks: tuple[Break, ...]


# -- parsing ----------------------------------------------------------------------------------


def _invalid(message: str, *, row: int, column: str | None = None) -> InvalidInput:
    where = f"row {row}" if column is None else f"row {row}, column {column!r}"
    return InvalidInput(
        f"reconciliation file {where}: {message}",
        code="reconciliation_file_invalid",
        row=row,
        column=column,
    )


def _header(reader: Iterable[list[str]]) -> list[str]:
    header = next(iter(reader), None)
    if header is None:
        raise _invalid("the file is empty; the first row must name the columns", row=1)
    columns = [name.strip() for name in header]
    if len(set(columns)) != len(columns):
        raise _invalid("a column is named twice", row=1)
    for name in REQUIRED_COLUMNS:
        if name not in columns:
            raise _invalid(f"the required column {name!r} is missing", row=1, column=name)
    if "amount_minor" not in columns and "amount" not in columns:
        raise _invalid("one of the columns 'amount_minor' and 'amount' is required", row=1)
    return columns


def _integer(text: str, row: int, column: str, *, signed: bool) -> int:
    if not _INTEGER.fullmatch(text) or (text.startswith("-") and not signed):
        raise _invalid(f"{text[:40]!r} is not an integer", row=row, column=column)
    value = int(text)
    if abs(value) > MAX_AMOUNT_MINOR:
        raise _invalid(f"out of range (at most {MAX_AMOUNT_MINOR})", row=row, column=column)
    return value


def _money(
    fields: dict[str, str], row: int, minor: str, decimal: str, scale: int, *, signed: bool
) -> int | None:
    """The value of a money column given in minor units, as a decimal, or both (agreeing)."""
    values: list[int] = []
    if minor in fields:
        values.append(_integer(fields[minor], row, minor, signed=signed))
    if decimal in fields:
        parsed = parse_decimal(fields[decimal], scale)
        if parsed is None or (parsed < 0 and not signed) or abs(parsed) > MAX_AMOUNT_MINOR:
            raise _invalid(
                f"{fields[decimal][:40]!r} is not a decimal amount with at most {scale} places",
                row=row,
                column=decimal,
            )
        values.append(parsed)
    if len(values) == 2 and values[0] != values[1]:
        raise _invalid(f"{minor!r} and {decimal!r} disagree", row=row, column=decimal)
    return values[0] if values else None


def _choice(fields: dict[str, str], column: str, allowed: Sequence[str], row: int) -> str:
    value = fields[column]
    if value not in allowed:
        raise _invalid(f"{value[:40]!r} is not one of {list(allowed)}", row=row, column=column)
    return value


def _record(fields: dict[str, str], row: int, scale: int) -> InstitutionRecord:
    payment_id = fields["payment_id"]
    if not REFERENCE.fullmatch(payment_id):
        raise _invalid("not a payment id (1..64 of A-Z a-z 0-9 _.:-)", row=row, column="payment_id")
    kind = _choice(fields, "kind", ENTRY_KINDS, row)
    side = _choice(fields, "side", _SIDES, row)
    currency = fields["currency"]
    if not _CURRENCY.fullmatch(currency):
        raise _invalid(f"{currency[:40]!r} is not a currency code", row=row, column="currency")
    reference = fields.get("reference", "")
    if kind == REFUND and not REFERENCE.fullmatch(reference):
        raise _invalid("a refund needs its refund id", row=row, column="reference")
    amount = _money(fields, row, "amount_minor", "amount", scale, signed=False)
    if amount is None:  # _header guarantees one of the columns
        raise _invalid("no amount", row=row, column="amount_minor")
    status = _choice(fields, "status", ENTRY_STATUSES, row) if "status" in fields else None
    return InstitutionRecord(
        row=row,
        record_id=fields.get("record_id", ""),
        payment_id=payment_id,
        kind=kind,
        reference=reference if kind == REFUND else "",
        side=side,
        currency=currency,
        amount_minor=amount,
        fee_minor=_money(fields, row, "fee_minor", "fee", scale, signed=True),
        status=status,
    )


def _decode_text(data: bytes) -> str:
    if len(data) > MAX_RECONCILIATION_FILE_BYTES:
        raise InvalidInput(
            f"reconciliation file is over {MAX_RECONCILIATION_FILE_BYTES} bytes",
            code="reconciliation_file_invalid",
            size=len(data),
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise _invalid("the file is not UTF-8", row=line) from None
    return text.removeprefix("\ufeff")


def parse_reconciliation_csv(data: bytes, *, scale: int) -> tuple[InstitutionRecord, ...]:
    """An institution's records from its reconciliation CSV (UTF-8, optional BOM, comma
    separated, RFC 4180 quoting, a header row). Unknown columns are ignored, so a statement's
    own CSV is a valid file. Raises ``InvalidInput`` with code ``reconciliation_file_invalid``
    naming the row (and column) of the first problem; duplicate entries are a problem."""
    reader = csv.reader(io.StringIO(_decode_text(data), newline=""), strict=True)
    try:
        columns = _header(reader)
        records: list[InstitutionRecord] = []
        seen: dict[Key, int] = {}
        for values in reader:
            row = reader.line_num
            if not values:
                continue  # a blank line
            if len(records) >= MAX_RECONCILIATION_ROWS:
                raise _invalid(f"more than {MAX_RECONCILIATION_ROWS} rows", row=row)
            if len(values) != len(columns):
                raise _invalid(f"{len(values)} fields, the header has {len(columns)}", row=row)
            for column, value in zip(columns, values, strict=True):
                if len(value) > MAX_FIELD_CHARACTERS:
                    raise _invalid(
                        f"over {MAX_FIELD_CHARACTERS} characters", row=row, column=column
                    )
            fields = {
                column: value.strip()
                for column, value in zip(columns, values, strict=True)
                if column in REQUIRED_COLUMNS
                or column in OPTIONAL_COLUMNS
                or column == "amount_minor"
                or column == "amount"
            }
            record = _record(fields, row, scale)
            key = record_key(record)
            if key in seen:
                raise _invalid(f"the same entry as row {seen[key]}", row=row)
            seen[key] = row
            records.append(record)
    except csv.Error as error:
        raise _invalid(f"not valid CSV ({error})", row=reader.line_num) from None
    return tuple(records)


# -- matching ---------------------------------------------------------------------------------


def record_key(record: InstitutionRecord | StatementLine) -> Key:
    reference = record.reference if record.kind == REFUND else ""
    return (record.payment_id, record.kind, reference, record.side)


def require_participant(participants: Iterable[str], institution: str, cycle_id: int) -> None:
    """Raise ``InvalidInput`` (``not_in_cycle``) unless ``institution`` is among the cycle's
    ``participants`` (the ``participants`` query): reconciling a cycle it was not in is an
    error, not a report of breaks."""
    if institution not in set(participants):
        raise InvalidInput(
            f"{institution} has no entries or obligations in cycle {cycle_id}",
            code="not_in_cycle",
            institution=institution,
            cycle_id=cycle_id,
        )


def _field_breaks(
    statement: Statement, line: StatementLine, record: InstitutionRecord
) -> list[Break]:
    scale = statement.scale
    compared: list[tuple[str, str, str]] = []
    if record.currency != statement.currency:
        compared.append((CURRENCY_MISMATCH, statement.currency, record.currency))
    if record.amount_minor != line.amount_minor:
        compared.append(
            (
                AMOUNT_MISMATCH,
                format_minor(line.amount_minor, scale),
                format_minor(record.amount_minor, scale),
            )
        )
    if record.fee_minor is not None and record.fee_minor != line.fee_minor:
        compared.append(
            (
                FEE_MISMATCH,
                format_minor(line.fee_minor, scale),
                format_minor(record.fee_minor, scale),
            )
        )
    if record.status is not None and record.status != line.status:
        compared.append((STATUS_MISMATCH, line.status, record.status))
    return [
        _break(kind, line, record, ledger_value, institution_value)
        for kind, ledger_value, institution_value in compared
    ]


def _break(
    kind: str,
    line: StatementLine | None,
    record: InstitutionRecord | None,
    ledger_value: str,
    institution_value: str,
) -> Break:
    source = line if line is not None else record
    if source is None:
        raise NodeFault("a break needs a ledger line or a record")
    payment_id, entry_kind, reference, side = record_key(source)
    return Break(
        kind=kind,
        payment_id=payment_id,
        entry_kind=entry_kind,
        reference=reference,
        side=side,
        row=None if record is None else record.row,
        record_id="" if record is None else record.record_id,
        sequence=None if line is None else line.sequence,
        ledger_value=ledger_value,
        institution_value=institution_value,
    )


def reconcile_statement(statement: Statement, records: Sequence[InstitutionRecord]) -> BreakReport:
    """Every break between ``statement`` and the institution's ``records``; none when they
    agree. Breaks come in ledger order, then the records missing on the ledger in file order."""
    scale = statement.scale
    by_key: dict[Key, InstitutionRecord] = {}
    for record in records:
        if record_key(record) in by_key:
            raise _invalid("the same entry twice", row=record.row)
        by_key[record_key(record)] = record
    breaks: list[Break] = []
    matched = 0
    ledger_keys: set[Key] = set()
    for line in statement.lines:
        key = record_key(line)
        if key in ledger_keys:
            raise InvalidInput("the statement has an entry twice", sequence=line.sequence)
        ledger_keys.add(key)
        found = by_key.get(key)
        if found is None:
            amount = format_minor(line.amount_minor, scale)
            breaks.append(_break(MISSING_AT_INSTITUTION, line, None, amount, ""))
            continue
        line_breaks = _field_breaks(statement, line, found)
        matched += not line_breaks
        breaks.extend(line_breaks)
    for record in records:
        if record_key(record) not in ledger_keys:
            amount = format_minor(record.amount_minor, scale)
            breaks.append(_break(MISSING_ON_LEDGER, None, record, "", amount))
    counts = {kind: 0 for kind in BREAK_KINDS}
    for item in breaks:
        counts[item.kind] += 1
    return BreakReport(
        cycle_id=statement.cycle_id,
        institution=statement.institution,
        currency=statement.currency,
        ledger_entries=len(statement.lines),
        institution_records=len(records),
        matched=matched,
        break_counts=counts,
        breaks=tuple(breaks),
    )


def reconcile_csv(statement: Statement, data: bytes) -> BreakReport:
    """``reconcile_statement`` over a reconciliation CSV file's bytes."""
    return reconcile_statement(statement, parse_reconciliation_csv(data, scale=statement.scale))


# -- renderings -------------------------------------------------------------------------------


def break_report_to_json(report: BreakReport) -> bytes:
    return to_json(report)


BREAK_CSV_COLUMNS = (
    "break",
    "payment_id",
    "kind",
    "reference",
    "side",
    "row",
    "record_id",
    "sequence",
    "ledger_value",
    "institution_value",
)


def break_report_to_csv(report: BreakReport) -> bytes:
    """One row per break under a header of ``BREAK_CSV_COLUMNS`` (empty ``row``/``sequence``
    when that side has no record). UTF-8, CRLF."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(BREAK_CSV_COLUMNS)
    for item in report.breaks:
        writer.writerow(
            (
                item.kind,
                item.payment_id,
                item.entry_kind,
                item.reference,
                item.side,
                "" if item.row is None else item.row,
                item.record_id,
                "" if item.sequence is None else item.sequence,
                item.ledger_value,
                item.institution_value,
            )
        )
    return buffer.getvalue().encode()
