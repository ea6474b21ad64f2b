"""Reading a report's data: the payments queries behind a statement, a settlement (pacs.009) and
an acquirer's merchant payouts (pacs.008), over anything that reads state like one snapshot.

The API runs these over a node snapshot; the offline verifier of a report (``jinqiao verify``,
``jinqiao.client.reports``) runs the very same functions over the proven values of the report's
bundle, so a figure it recomputes is computed by the code that wrote the file (docs/proofs.md
§12). Nothing here talks to a node.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from jinqiao.apps.payments.model import (
    ACQUIRER_SIDE,
    PAYMENTS,
    Cycle,
    CycleArgs,
    CycleInstitutionArgs,
    Entries,
    EntriesArgs,
    InstitutionArgs,
    InstitutionCycle,
    Merchant,
    MerchantArgs,
    Participants,
    PaymentArgs,
    PaymentView,
    Position,
    Positions,
    cycle_key,
    institution_cycle_key,
    position_key,
)
from jinqiao.apps.token import TOKEN, Asset, asset_key
from jinqiao.core.codec import decode_stored
from jinqiao.core.errors import InvalidInput, Rejection
from jinqiao.execution.state import full_key
from jinqiao.reports.iso20022 import (
    merchant_payouts_to_pacs008,
    settlement_to_pacs009,
    statement_to_camt053,
)
from jinqiao.reports.payouts import MerchantPayout, merchant_payouts, not_acquirer, require_settled
from jinqiao.reports.reconcile import require_participant
from jinqiao.reports.statement import (
    Statement,
    StatementProof,
    build_statement,
    statement_to_csv,
    statement_to_json,
)

ENTRIES_PAGE = 500
REPORT_PROOFS_FORMAT = "jinqiao-report-proofs/1"
"""The ``format`` of a report's proof bundle (docs/proofs.md §12)."""
MAX_ENTRY_PAGES = 2_000


class Reads(Protocol):
    """State as of one block: ``height`` and ``time_ms`` are that block's."""

    @property
    def height(self) -> int: ...

    @property
    def time_ms(self) -> int: ...

    def get(self, full_key: bytes) -> bytes | None: ...

    def query(self, contract: str, name: str, arguments: Any) -> Any: ...


Prove = Callable[[bytes, int], bytes]
"""The canonical ``StateReadProof`` of a full key at a height (the proofs a JSON statement
embeds)."""


def not_found(message: str, **details: Any) -> InvalidInput:
    return InvalidInput(message, code="not_found", **details)


def read_cycle(reading: Reads, cycle_id: int) -> Cycle:
    try:
        cycle: Cycle = reading.query(PAYMENTS, "cycle", CycleArgs(cycle_id))
    except Rejection as refusal:
        raise not_found(f"no cycle {cycle_id}", cycle=cycle_id) from refusal
    return cycle


def read_participants(reading: Reads, cycle_id: int) -> tuple[str, ...]:
    participants: Participants = reading.query(PAYMENTS, "participants", CycleArgs(cycle_id))
    return participants.institutions


def read_scale(reading: Reads, currency: str) -> int:
    raw = reading.get(full_key(TOKEN, asset_key(currency)))
    if raw is None:
        raise not_found(f"no token asset {currency}")
    asset: Asset = decode_stored(raw, Asset)
    return asset.scale


def read_statement(reading: Reads, cycle: Cycle, institution: str, prove: Prove) -> Statement:
    """The statement of a participant of ``cycle``, with the proofs of its summary records
    (cycle, the institution's totals, its position) at the reading's height."""
    cycle_id = cycle.cycle_id
    head: InstitutionCycle = reading.query(
        PAYMENTS, "institution_cycle", CycleInstitutionArgs(cycle_id, institution)
    )
    try:
        position: Position | None = reading.query(
            PAYMENTS, "position", CycleInstitutionArgs(cycle_id, institution)
        )
    except Rejection:
        position = None
    pages: list[Entries] = []
    start: int | None = 0
    while start is not None and len(pages) < MAX_ENTRY_PAGES:
        page: Entries = reading.query(
            PAYMENTS, "entries", EntriesArgs(cycle_id, institution, start, ENTRIES_PAGE)
        )
        pages.append(page)
        start = page.next_start
    scale = read_scale(reading, cycle.currency)
    proofs = (
        [
            StatementProof(name=name, key=key, proof=prove(full_key(PAYMENTS, key), reading.height))
            for name, key in (
                ("cycle", cycle_key(cycle_id)),
                ("institution_cycle", institution_cycle_key(cycle_id, institution)),
                ("position", position_key(cycle_id, institution)),
            )
        ]
        if reading.height > 0
        else []
    )
    return build_statement(
        cycle, head, pages, position, scale=scale, height=reading.height, proofs=proofs
    )


def participant_statement(
    reading: Reads, cycle_id: int, institution: str, prove: Prove
) -> Statement:
    """A statement as ``GET …/statements/{institution}`` answers it: the cycle must exist and
    the institution take part in it."""
    cycle = read_cycle(reading, cycle_id)
    require_participant(read_participants(reading, cycle_id), institution, cycle_id)
    return read_statement(reading, cycle, institution, prove)


def read_merchants(reading: Reads, statement: Statement) -> tuple[dict[str, str], dict[str, str]]:
    """The merchant id of each payment the statement's institution acquired, and each of those
    merchants' registered names."""
    merchant_of: dict[str, str] = {}
    for line in statement.lines:
        if line.side == ACQUIRER_SIDE and line.payment_id not in merchant_of:
            view: PaymentView = reading.query(PAYMENTS, "payment", PaymentArgs(line.payment_id))
            merchant_of[line.payment_id] = view.payment.authorization.merchant_id
    names: dict[str, str] = {}
    for merchant_id in sorted(set(merchant_of.values())):
        merchant: Merchant = reading.query(
            PAYMENTS, "merchant", MerchantArgs(statement.institution, merchant_id)
        )
        names[merchant_id] = merchant.name
    return merchant_of, names


@dataclass(frozen=True)
class Settled:
    """A cycle with its positions and its currency's scale (a pacs.009's data)."""

    cycle: Cycle
    positions: tuple[Position, ...]
    scale: int


def read_settled(reading: Reads, cycle_id: int) -> Settled:
    cycle = read_cycle(reading, cycle_id)
    positions: Positions = reading.query(PAYMENTS, "positions", CycleArgs(cycle_id))
    return Settled(cycle, positions.positions, read_scale(reading, cycle.currency))


@dataclass(frozen=True)
class Payouts:
    """An acquirer's statement and what it owes each merchant (a pacs.008's data)."""

    statement: Statement
    payouts: tuple[MerchantPayout, ...]


def read_payouts(reading: Reads, cycle_id: int, institution: str, prove: Prove) -> Payouts:
    """The checks of ``GET …/merchant-payouts/{institution}``, in its order, then the data."""
    cycle = read_cycle(reading, cycle_id)
    reading.query(PAYMENTS, "institution", InstitutionArgs(institution))
    require_settled(cycle_id, cycle.status)
    if institution not in read_participants(reading, cycle_id):
        raise not_acquirer(institution, cycle_id)
    built = read_statement(reading, cycle, institution, prove)
    merchant_of, names = read_merchants(reading, built)
    return Payouts(built, merchant_payouts(built, merchant_of, names))


REPORT_FORMATS = {
    "statement": ("json", "csv", "camt053"),
    "settlement": ("pacs009",),
    "merchant-payouts": ("pacs008",),
}
"""Each report and the file formats it is written in."""


@dataclass(frozen=True)
class ReportRequest:
    """Which report: ``institution`` is ``None`` for a settlement (the whole cycle)."""

    report: str
    cycle_id: int
    institution: str | None
    file_format: str

    def __post_init__(self) -> None:
        formats = REPORT_FORMATS.get(self.report)
        if formats is None or self.file_format not in formats:
            raise InvalidInput(f"no {self.report} report in format {self.file_format!r}")
        if (self.institution is None) != (self.report == "settlement"):
            raise InvalidInput(f"a {self.report} report names an institution iff not a settlement")


def render_report(
    reading: Reads, request: ReportRequest, prove: Prove, block_time_ms: Callable[[int], int]
) -> bytes:
    """The report file exactly as the API serves it, from ``reading``: dated with the reading's
    block time and, for pacs.009 and pacs.008, the settling block's time (``block_time_ms``)."""
    cycle_id = request.cycle_id
    if request.report == "settlement":
        settled = read_settled(reading, cycle_id)
        settled_height = settled.cycle.settled_height
        return settlement_to_pacs009(
            settled.cycle,
            settled.positions,
            scale=settled.scale,
            created_time_ms=reading.time_ms,
            settled_time_ms=block_time_ms(settled_height) if settled_height else reading.time_ms,
        )
    assert request.institution is not None  # checked by ReportRequest
    if request.report == "merchant-payouts":
        owed = read_payouts(reading, cycle_id, request.institution, prove)
        return merchant_payouts_to_pacs008(
            owed.statement,
            owed.payouts,
            created_time_ms=reading.time_ms,
            settled_time_ms=block_time_ms(owed.statement.settled_height),
        )
    built = participant_statement(reading, cycle_id, request.institution, prove)
    if request.file_format == "csv":
        return statement_to_csv(built)
    if request.file_format == "camt053":
        return statement_to_camt053(built, created_time_ms=reading.time_ms)
    return statement_to_json(built)


def report_heights(reading: Reads, request: ReportRequest) -> tuple[int, ...]:
    """The blocks whose time a report's file states besides the reading's: the settling block
    of a settlement or payouts (none while the cycle has not settled)."""
    if request.report == "statement":
        return ()
    settled_height = read_cycle(reading, request.cycle_id).settled_height
    return (settled_height,) if settled_height else ()


__all__ = [
    "ENTRIES_PAGE",
    "REPORT_FORMATS",
    "REPORT_PROOFS_FORMAT",
    "Payouts",
    "Prove",
    "Reads",
    "ReportRequest",
    "Settled",
    "participant_statement",
    "read_cycle",
    "read_merchants",
    "read_participants",
    "read_payouts",
    "read_scale",
    "read_settled",
    "read_statement",
    "render_report",
    "report_heights",
]
