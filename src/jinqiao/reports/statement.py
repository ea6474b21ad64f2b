"""An institution's statement for one clearing cycle, built from the payments contract's query
results, and its JSON and CSV renderings.

The statement is what ``docs/payments.md`` calls one: the ``cycle``, the institution's
``institution_cycle`` head (totals and entry count), all of its ``entries`` pages in recording
order and its ``position`` (absent while the cycle is open). Each line adds what the contract
derives but does not store per entry: the direction of the money for this institution, the
interbank fees it pays and receives for the line, and the line's settlement status
(``pending``, ``settled`` or ``unwound``, from the cycle as the ``payment`` query derives it).
Proofs are opaque bytes that the API fills in; JSON shows every ``bytes`` value as hex.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import msgspec

from jinqiao.apps.payments.model import (
    CAPTURE,
    CHARGEBACK,
    CYCLE_SETTLED,
    ISSUER_SIDE,
    PENDING,
    REFUND,
    REPRESENTMENT,
    SETTLED,
    UNWOUND,
    Cycle,
    Entries,
    Entry,
    InstitutionCycle,
    Position,
)
from jinqiao.core.errors import InvalidInput
from jinqiao.reports.money import check_scale, format_minor

STATEMENT_FORMAT_VERSION = 1
DEBIT = "debit"
CREDIT = "credit"
ENTRY_KINDS = (CAPTURE, REFUND, CHARGEBACK, REPRESENTMENT)
ENTRY_STATUSES = (PENDING, SETTLED, UNWOUND)


class StatementLine(msgspec.Struct, frozen=True, kw_only=True):
    """One clearing entry of the institution. ``direction`` is ``debit`` when the institution
    owes ``amount_minor`` (an issuer's capture or representment, an acquirer's refund or
    chargeback), ``credit`` when it is owed. ``fee_paid_minor`` / ``fee_received_minor`` are the
    interbank fees of the line for this institution (only captures carry fees; obligations to
    itself are left out, as in netting); ``fee_minor`` is paid minus received."""

    sequence: int
    payment_id: str
    kind: str
    reference: str
    side: str
    counterparty: str
    direction: str
    amount_minor: int
    issuer_fee_minor: int
    issuer_network_fee_minor: int
    acquirer_network_fee_minor: int
    acquirer_fee_minor: int
    fee_paid_minor: int
    fee_received_minor: int
    fee_minor: int
    height: int
    status: str


class StatementTotals(msgspec.Struct, frozen=True, kw_only=True):
    """The institution's totals: ``debit_minor`` .. ``merchant_fees_minor`` and
    ``entry_count`` as the contract keeps them (``institution_cycle``), the amounts by kind
    summed over the lines."""

    entry_count: int
    debit_minor: int
    credit_minor: int
    fees_paid_minor: int
    fees_received_minor: int
    merchant_fees_minor: int
    captured_minor: int
    refunded_minor: int
    charged_back_minor: int
    represented_minor: int


class StatementPosition(msgspec.Struct, frozen=True, kw_only=True):
    """The institution's net position (``net_minor`` > 0: it receives) and its funding."""

    net_minor: int
    debit_minor: int
    credit_minor: int
    funded_minor: int
    collateral_used_minor: int
    paid_out_minor: int
    excluded: bool


class StatementProof(msgspec.Struct, frozen=True, kw_only=True):
    """A proof of one state value, opaque here: ``name`` says which value (``cycle``,
    ``institution_cycle``, ``position``, ``entry/<sequence>`` …), ``key`` is its state key."""

    name: str
    key: bytes
    proof: bytes


class Statement(msgspec.Struct, frozen=True, kw_only=True):
    """An institution's statement for one cycle. Amounts are integer minor units of
    ``currency`` with ``scale`` decimal places."""

    format_version: int = STATEMENT_FORMAT_VERSION
    cycle_id: int
    currency: str
    scale: int
    institution: str
    clearing_house: str
    cycle_status: str
    cycle_round: int
    excluded: tuple[str, ...]
    opened_height: int
    closed_height: int
    settled_height: int
    lines: tuple[StatementLine, ...]
    totals: StatementTotals
    position: StatementPosition | None
    height: int | None = None
    """The height of the block the statement was read at (the API fills it)."""
    proofs: tuple[StatementProof, ...] = ()


def entry_direction(kind: str, side: str) -> str:
    """Whether an entry is a debit or a credit of the institution on ``side``."""
    issuer_pays = kind in (CAPTURE, REPRESENTMENT)
    return DEBIT if issuer_pays == (side == ISSUER_SIDE) else CREDIT


def entry_fees(entry: Entry, institution: str, clearing_house: str) -> tuple[int, int]:
    """The interbank fees (paid, received) of ``entry`` for ``institution``, as netting counts
    them: the issuer fee from acquirer to issuer, each network fee to the clearing house, and
    nothing an institution would owe itself."""
    fees = entry.fees
    if entry.side == ISSUER_SIDE:
        paid = 0 if institution == clearing_house else fees.issuer_network_fee_minor
        received = 0 if entry.counterparty == institution else fees.issuer_fee_minor
    else:
        paid = 0 if entry.counterparty == institution else fees.issuer_fee_minor
        if institution != clearing_house:
            paid += fees.acquirer_network_fee_minor
        received = 0
    return paid, received


def entry_status(cycle: Cycle, entry: Entry, institution: str) -> str:
    """``unwound`` if either party was excluded from the cycle, else ``settled`` or
    ``pending`` with the cycle."""
    if institution in cycle.excluded or entry.counterparty in cycle.excluded:
        return UNWOUND
    return SETTLED if cycle.status == CYCLE_SETTLED else PENDING


def statement_line(cycle: Cycle, institution: str, sequence: int, entry: Entry) -> StatementLine:
    paid, received = entry_fees(entry, institution, cycle.clearing_house)
    return StatementLine(
        sequence=sequence,
        payment_id=entry.payment_id,
        kind=entry.kind,
        reference=entry.reference,
        side=entry.side,
        counterparty=entry.counterparty,
        direction=entry_direction(entry.kind, entry.side),
        amount_minor=entry.amount_minor,
        issuer_fee_minor=entry.fees.issuer_fee_minor,
        issuer_network_fee_minor=entry.fees.issuer_network_fee_minor,
        acquirer_network_fee_minor=entry.fees.acquirer_network_fee_minor,
        acquirer_fee_minor=entry.fees.acquirer_fee_minor,
        fee_paid_minor=paid,
        fee_received_minor=received,
        fee_minor=paid - received,
        height=entry.height,
        status=entry_status(cycle, entry, institution),
    )


def _kind_sum(lines: Iterable[StatementLine], kind: str) -> int:
    return sum(line.amount_minor for line in lines if line.kind == kind)


def build_statement(
    cycle: Cycle,
    head: InstitutionCycle,
    pages: Sequence[Entries],
    position: Position | None,
    *,
    scale: int,
    height: int | None = None,
    proofs: Sequence[StatementProof] = (),
) -> Statement:
    """A statement from the ``cycle``, ``institution_cycle`` and ``position`` query results and
    every ``entries`` page (in order, from start 0). ``scale`` is the currency's (the token
    asset's ``scale``). Raises ``InvalidInput`` if the pieces are not one consistent reading."""
    check_scale(scale)
    institution = head.institution
    entries: list[Entry] = []
    for page in pages:
        if page.cycle_id != cycle.cycle_id or page.institution != institution:
            raise InvalidInput("an entries page is of another cycle or institution")
        entries.extend(page.entries)
    if len(entries) != head.entry_count:
        raise InvalidInput(
            f"{len(entries)} entries read but the institution has {head.entry_count}",
            entries=len(entries),
            entry_count=head.entry_count,
        )
    if pages and pages[-1].next_start is not None:
        raise InvalidInput("the last entries page is not the last")
    if position is not None and position.institution != institution:
        raise InvalidInput("the position is of another institution")
    lines = tuple(
        statement_line(cycle, institution, sequence, entry)
        for sequence, entry in enumerate(entries)
    )
    # The clearing house also receives the network fees of payments it is no party to.
    paid = sum(line.fee_paid_minor for line in lines)
    received = sum(line.fee_received_minor for line in lines)
    is_network = institution == cycle.clearing_house
    if paid != head.fees_paid_minor or (not is_network and received != head.fees_received_minor):
        raise InvalidInput(
            "the entries' fees do not add up to the institution's totals",
            fees_paid_minor=paid,
            fees_received_minor=received,
        )
    totals = StatementTotals(
        entry_count=head.entry_count,
        debit_minor=head.debit_minor,
        credit_minor=head.credit_minor,
        fees_paid_minor=head.fees_paid_minor,
        fees_received_minor=head.fees_received_minor,
        merchant_fees_minor=head.merchant_fees_minor,
        captured_minor=_kind_sum(lines, CAPTURE),
        refunded_minor=_kind_sum(lines, REFUND),
        charged_back_minor=_kind_sum(lines, CHARGEBACK),
        represented_minor=_kind_sum(lines, REPRESENTMENT),
    )
    return Statement(
        cycle_id=cycle.cycle_id,
        currency=cycle.currency,
        scale=scale,
        institution=institution,
        clearing_house=cycle.clearing_house,
        cycle_status=cycle.status,
        cycle_round=cycle.round,
        excluded=cycle.excluded,
        opened_height=cycle.opened_height,
        closed_height=cycle.closed_height,
        settled_height=cycle.settled_height,
        lines=lines,
        totals=totals,
        position=None if position is None else _statement_position(position),
        height=height,
        proofs=tuple(proofs),
    )


def _statement_position(position: Position) -> StatementPosition:
    return StatementPosition(
        net_minor=position.net_minor,
        debit_minor=position.debit_minor,
        credit_minor=position.credit_minor,
        funded_minor=position.funded_minor,
        collateral_used_minor=position.collateral_used_minor,
        paid_out_minor=position.paid_out_minor,
        excluded=position.excluded,
    )


# -- renderings -------------------------------------------------------------------------------


def hex_bytes(value: Any) -> Any:
    """``value`` (builtins from ``msgspec.to_builtins``) with every ``bytes`` as hex."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Mapping):
        return {key: hex_bytes(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [hex_bytes(item) for item in value]
    return value


def to_json(value: msgspec.Struct) -> bytes:
    """A struct as JSON with named fields, ``bytes`` as hex, keys in field order."""
    return msgspec.json.encode(hex_bytes(msgspec.to_builtins(value, builtin_types=(bytes,))))


def statement_to_json(statement: Statement) -> bytes:
    """The statement as UTF-8 JSON: the ``Statement`` fields by name, amounts as integer minor
    units, ``bytes`` (proofs, keys) as lowercase hex."""
    return to_json(statement)


STATEMENT_CSV_COLUMNS = (
    "sequence",
    "payment_id",
    "kind",
    "reference",
    "side",
    "counterparty",
    "direction",
    "currency",
    "amount_minor",
    "amount",
    "fee_minor",
    "fee",
    "fee_paid_minor",
    "fee_received_minor",
    "issuer_fee_minor",
    "issuer_network_fee_minor",
    "acquirer_network_fee_minor",
    "acquirer_fee_minor",
    "height",
    "status",
)
"""The columns of ``statement_to_csv``, in order (documented in docs/payments.md)."""


def statement_to_csv(statement: Statement) -> bytes:
    """One row per line under a header row of ``STATEMENT_CSV_COLUMNS``: integer minor units,
    and ``amount``/``fee`` as decimal strings with the currency's scale. UTF-8, CRLF (RFC 4180)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(STATEMENT_CSV_COLUMNS)
    for line in statement.lines:
        writer.writerow(
            (
                line.sequence,
                line.payment_id,
                line.kind,
                line.reference,
                line.side,
                line.counterparty,
                line.direction,
                statement.currency,
                line.amount_minor,
                format_minor(line.amount_minor, statement.scale),
                line.fee_minor,
                format_minor(line.fee_minor, statement.scale),
                line.fee_paid_minor,
                line.fee_received_minor,
                line.issuer_fee_minor,
                line.issuer_network_fee_minor,
                line.acquirer_network_fee_minor,
                line.acquirer_fee_minor,
                line.height,
                line.status,
            )
        )
    return buffer.getvalue().encode()
