"""The answers of the payments routes (``api.payments``, ``api.reports``): each proven record
with its ``StateReadProof`` (``ProvenValue``'s fields, ``key`` the contract's key), the figures,
the statement, the break report and the report files with their proof bundles. The records are
``apps.payments.model``'s structs as JSON (bytes as hex, amounts in minor units)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from jinqiao.api.openapi import ProvenValue


class InstitutionRecord(BaseModel):
    """An institution registered for payments."""

    id: str = Field(description="Its organization id")
    roles: list[str] = Field(description="`card_issuer`, `acquirer`, ...")
    settlement_account: str = Field(description="The account it settles from and to, hex")
    net_debit_cap_minor: int | None = Field(description="Its net debit cap; null: none")
    active: bool = Field(description="Whether it may take part in new cycles")
    pending_cycles: int = Field(description="Cycles it takes part in that are not settled")


class PaymentAuthorization(BaseModel):
    """The authorization a payment starts with."""

    payment_id: str = Field(description="The payment's id")
    issuer: str = Field(description="The card issuer")
    acquirer: str = Field(description="The acquirer")
    merchant_id: str = Field(description="The merchant, at the acquirer")
    payer_hash: str = Field(description="The payer's keyed hash, hex")
    amount_minor: int = Field(description="The amount authorized")
    currency: str = Field(description="The currency")
    channel: str = Field(description="`pos`, `ecommerce`, ...")
    card_type: str = Field(description="`debit` or `credit`")
    authorization_code: str = Field(description="The issuer's code")
    time_ms: int = Field(description="When it was authorized (ms since the epoch)")


class Fees(BaseModel):
    """The interbank fees of a capture or entry, minor units."""

    issuer_fee_minor: int = Field(description="Interchange, to the issuer")
    issuer_network_fee_minor: int = Field(description="The issuer's network fee")
    acquirer_network_fee_minor: int = Field(description="The acquirer's network fee")
    acquirer_fee_minor: int = Field(description="The acquirer's fee")


class CaptureRecord(BaseModel):
    """A payment's capture into a cycle."""

    amount_minor: int = Field(description="The amount captured")
    cycle_id: int = Field(description="The cycle it clears in")
    fees: Fees = Field(description="Its fees")
    fee_schedule_version: int = Field(description="The fee schedule that priced it")
    height: int = Field(description="The block that recorded it")


class ChargebackRecord(BaseModel):
    """A chargeback of a payment."""

    amount_minor: int = Field(description="The amount charged back")
    reason_code: str = Field(description="The scheme's reason code")
    cycle_id: int = Field(description="The cycle it clears in")
    height: int = Field(description="The block that recorded it")


class RepresentmentRecord(BaseModel):
    """A representment after a chargeback."""

    amount_minor: int = Field(description="The amount represented")
    cycle_id: int = Field(description="The cycle it clears in")
    height: int = Field(description="The block that recorded it")


class PaymentRecord(BaseModel):
    """A payment as stored."""

    authorization: PaymentAuthorization = Field(description="Its authorization")
    mcc: str = Field(description="The merchant's category code")
    status: str = Field(description="`authorized`, `reversed`, `captured`, ...")
    authorized_height: int = Field(description="The block that authorized it")
    reversed_height: int = Field(description="The block that reversed it, 0 if none")
    capture: CaptureRecord | None = Field(description="Its capture, null before")
    refunded_minor: int = Field(description="Refunded so far")
    refund_count: int = Field(description="Refunds so far")
    chargeback: ChargebackRecord | None = Field(description="Its chargeback, null if none")
    representment: RepresentmentRecord | None = Field(description="Null if none")


class CycleReport(BaseModel):
    """What closing a cycle found."""

    participants: int = Field(description="Institutions with entries")
    obligations: int = Field(description="Gross obligations")
    debit_total_minor: int = Field(description="Sum of the net debits")
    largest_debtor: str = Field(description="The institution with the largest net debit")
    largest_debit_minor: int = Field(description="Its net debit")
    largest_debtor_collateral_minor: int = Field(description="Its collateral")
    lamfalussy_covered: bool = Field(description="Whether collateral covers the largest debit")
    over_cap: list[str] = Field(description="Institutions over their net debit cap")


class CycleRecord(BaseModel):
    """A clearing cycle."""

    cycle_id: int = Field(description="Its id")
    currency: str = Field(description="Its currency")
    clearing_house: str = Field(description="The clearing house that runs it")
    status: str = Field(description="`open`, `closed`, `settled`, ...")
    opened_height: int = Field(description="The block that opened it")
    cutoff_height: int | None = Field(description="Its cut-off height, null if by time")
    cutoff_time_ms: int | None = Field(description="Its cut-off time, null if by height")
    funding_window_blocks: int = Field(description="Blocks the net debtors have to fund")
    closed_height: int = Field(description="The block that closed it, 0 while open")
    funding_deadline_height: int = Field(description="The funding deadline, 0 while open")
    round: int = Field(description="The netting round (a cycle re-nets after exclusions)")
    excluded: list[str] = Field(description="Institutions excluded for not funding")
    unfunded_debtors: int = Field(description="Net debtors that have not funded yet")
    debit_total_minor: int = Field(description="Sum of the net debits")
    funded_minor: int = Field(description="Funded so far")
    settled_height: int = Field(description="The block that settled it, 0 before")
    report: CycleReport | None = Field(description="What closing found, null while open")


class CycleTotalsRecord(BaseModel):
    """A cycle's running totals."""

    captures: int = Field(description="Captures")
    captured_minor: int = Field(description="Captured")
    refunds: int = Field(description="Refunds")
    refunded_minor: int = Field(description="Refunded")
    chargebacks: int = Field(description="Chargebacks")
    charged_back_minor: int = Field(description="Charged back")
    representments: int = Field(description="Representments")
    represented_minor: int = Field(description="Represented")
    fees_minor: int = Field(description="Interbank fees")
    merchant_fees_minor: int = Field(description="Merchant fees")
    obligations_minor: int = Field(description="Gross obligations")


class PositionRecord(BaseModel):
    """An institution's net position in a closed cycle (``net_minor`` > 0: it receives)."""

    institution: str = Field(description="The institution")
    net_minor: int = Field(description="Its net position")
    debit_minor: int = Field(description="What it owes, gross")
    credit_minor: int = Field(description="What it is owed, gross")
    funded_minor: int = Field(description="What it has funded")
    collateral_used_minor: int = Field(description="Collateral used to fund")
    paid_out_minor: int = Field(description="What it has been paid")
    excluded: bool = Field(description="Whether it was excluded for not funding")


class InstitutionCycleRecord(BaseModel):
    """An institution's running totals in a cycle (its statement head)."""

    institution: str = Field(description="The institution")
    entry_count: int = Field(description="Its statement entries")
    debit_minor: int = Field(description="Debits")
    credit_minor: int = Field(description="Credits")
    fees_paid_minor: int = Field(description="Fees paid")
    fees_received_minor: int = Field(description="Fees received")
    merchant_fees_minor: int = Field(description="Merchant fees")


class FlowRecord(BaseModel):
    """Everything cleared in a cycle from one issuer to one acquirer."""

    issuer: str = Field(description="The issuer")
    acquirer: str = Field(description="The acquirer")
    events: int = Field(description="Clearing events")
    captured_minor: int = Field(description="Captured")
    refunded_minor: int = Field(description="Refunded")
    charged_back_minor: int = Field(description="Charged back")
    represented_minor: int = Field(description="Represented")
    issuer_fee_minor: int = Field(description="Interchange")
    issuer_network_fee_minor: int = Field(description="Issuer network fees")
    acquirer_network_fee_minor: int = Field(description="Acquirer network fees")
    acquirer_fee_minor: int = Field(description="Acquirer fees")


class EntryRecord(BaseModel):
    """One statement entry of an institution in a cycle."""

    payment_id: str = Field(description="The payment")
    kind: str = Field(description="`capture`, `refund`, `chargeback` or `representment`")
    reference: str = Field(description="The refund id, or empty")
    side: str = Field(description="`issuer` or `acquirer`")
    counterparty: str = Field(description="The other institution")
    amount_minor: int = Field(description="The amount")
    fees: Fees = Field(description="Its fees")
    height: int = Field(description="The block that recorded it")


class InstitutionAnswer(ProvenValue):
    """``GET /v1/payments/institutions/{institution}``, proven."""

    institution: InstitutionRecord = Field(description="The record")


class PaymentAnswer(ProvenValue):
    """``GET /v1/payments/payments/{payment_id}``, proven."""

    payment: PaymentRecord = Field(description="The record")


class CycleAnswer(ProvenValue):
    """``GET /v1/payments/cycles/{cycle_id}``, proven."""

    cycle: CycleRecord = Field(description="The record")


class CycleTotalsAnswer(ProvenValue):
    """``GET /v1/payments/cycles/{cycle_id}/totals``, proven."""

    totals: CycleTotalsRecord = Field(description="The record")


class PositionAnswer(ProvenValue):
    """``GET /v1/payments/cycles/{cycle_id}/positions/{institution}``, proven."""

    position: PositionRecord = Field(description="The record")


class InstitutionCycleAnswer(ProvenValue):
    """``GET /v1/payments/cycles/{cycle_id}/institutions/{institution}``, proven."""

    totals: InstitutionCycleRecord = Field(description="The record")


class FlowAnswer(ProvenValue):
    """``GET /v1/payments/cycles/{cycle_id}/flows/{issuer}/{acquirer}``, proven."""

    flow: FlowRecord = Field(description="The record")


class EntryAnswer(ProvenValue):
    """``GET /v1/payments/cycles/{cycle_id}/entries/{institution}/{sequence}``, proven."""

    entry: EntryRecord = Field(description="The record")


class CycleFigures(BaseModel):
    """A cycle's figures, computed from its positions."""

    cycle_id: int = Field(description="The cycle")
    participants: int = Field(description="Institutions with positions")
    net_debtors: int = Field(description="Institutions that owe")
    net_creditors: int = Field(description="Institutions owed")
    gross_minor: int = Field(description="Gross obligations")
    net_minor: int = Field(description="Sum of the net debits")
    netting_efficiency_ppm: int = Field(description="1 - net / gross, parts per million")
    largest_net_debtor: str = Field(description="The largest net debtor, or empty")
    largest_net_debit_minor: int = Field(description="Its net debit")


class CycleTiming(BaseModel):
    """When a cycle opened, closed and settled (null: not yet), from committed headers."""

    cycle_id: int = Field(description="The cycle")
    opened_height: int = Field(description="The block that opened it")
    closed_height: int = Field(description="The block that closed it, 0 before")
    settled_height: int = Field(description="The block that settled it, 0 before")
    opened_time_ms: int | None = Field(description="That block's time")
    closed_time_ms: int | None = Field(description="That block's time")
    settled_time_ms: int | None = Field(description="That block's time")
    open_blocks: int | None = Field(description="Blocks it was open")
    open_time_ms: int | None = Field(description="Time it was open")
    settlement_blocks: int | None = Field(description="Blocks from closing to settling")
    settlement_time_ms: int | None = Field(description="Time from closing to settling")


class CommittedHeader(BaseModel):
    """A committed header and its commit certificate, canonical, with its block time."""

    height: int = Field(description="The block's height")
    time_ms: int = Field(description="Its time (ms since the epoch)")
    header_bytes: str = Field(description="Canonical BlockHeader, hex")
    certificate_bytes: str = Field(description="Canonical CommitCertificate, hex")


class FiguresProofs(BaseModel):
    """The proofs of every value the figures were computed from, at one height."""

    cycle: str = Field(description="StateReadProof of the cycle, hex")
    participants: str = Field(description="StateReadProof of its participants, hex")
    positions: dict[str, str] = Field(
        description="Each participant's StateReadProof of its position (present or absent), hex"
    )


class FiguresAnswer(BaseModel):
    """``GET /v1/payments/cycles/{cycle_id}/figures``: the figures, their inputs and proofs."""

    figures: CycleFigures = Field(description="The figures")
    netting_efficiency: str = Field(description="The netting efficiency as a percentage")
    status: str = Field(description="The cycle's status")
    currency: str = Field(description="Its currency")
    timing: CycleTiming = Field(description="Its timing")
    headers: list[CommittedHeader] = Field(description="The headers the timing is read from")
    positions: list[PositionRecord] = Field(description="The positions the figures count")
    height: int = Field(description="Height of the header the proofs are against")
    time_ms: int = Field(description="That block's time")
    state_root: str = Field(description="That header's state root, hex")
    proofs: FiguresProofs = Field(description="The proofs")


class StatementLine(BaseModel):
    """One clearing entry of the institution (docs/payments.md, "Statements")."""

    sequence: int = Field(description="The entry's sequence in the cycle")
    payment_id: str = Field(description="The payment")
    kind: str = Field(description="`capture`, `refund`, `chargeback` or `representment`")
    reference: str = Field(description="The refund id, or empty")
    side: str = Field(description="`issuer` or `acquirer`")
    counterparty: str = Field(description="The other institution")
    direction: str = Field(description="`debit` (the institution owes) or `credit`")
    amount_minor: int = Field(description="The amount")
    issuer_fee_minor: int = Field(description="Interchange")
    issuer_network_fee_minor: int = Field(description="Issuer network fee")
    acquirer_network_fee_minor: int = Field(description="Acquirer network fee")
    acquirer_fee_minor: int = Field(description="Acquirer fee")
    fee_paid_minor: int = Field(description="Fees this institution pays on the line")
    fee_received_minor: int = Field(description="Fees it receives")
    fee_minor: int = Field(description="Paid minus received")
    height: int = Field(description="The block that recorded it")
    status: str = Field(description="`pending`, `settled`, or `unwound` (a party was excluded)")


class StatementTotals(BaseModel):
    """The institution's totals in the cycle."""

    entry_count: int = Field(description="Entries")
    debit_minor: int = Field(description="Debits")
    credit_minor: int = Field(description="Credits")
    fees_paid_minor: int = Field(description="Fees paid")
    fees_received_minor: int = Field(description="Fees received")
    merchant_fees_minor: int = Field(description="Merchant fees")
    captured_minor: int = Field(description="Captured")
    refunded_minor: int = Field(description="Refunded")
    charged_back_minor: int = Field(description="Charged back")
    represented_minor: int = Field(description="Represented")


class StatementPosition(BaseModel):
    """The institution's net position (``net_minor`` > 0: it receives) and its funding."""

    net_minor: int = Field(description="Its net position")
    debit_minor: int = Field(description="What it owes, gross")
    credit_minor: int = Field(description="What it is owed, gross")
    funded_minor: int = Field(description="What it has funded")
    collateral_used_minor: int = Field(description="Collateral used")
    paid_out_minor: int = Field(description="What it has been paid")
    excluded: bool = Field(description="Whether it was excluded")


class StatementProof(BaseModel):
    """A proof of one state value the statement was built from."""

    name: str = Field(description="Which value: `cycle`, `institution_cycle`, `position`, ...")
    key: str = Field(description="Its state key, hex")
    proof: str = Field(description="Canonical StateReadProof, hex")


class StatementAnswer(BaseModel):
    """``GET /v1/payments/cycles/{cycle_id}/statements/{institution}?format=json``: the
    institution's statement; amounts in minor units of ``currency`` with ``scale`` places."""

    format_version: int = Field(description="The statement format's version")
    cycle_id: int = Field(description="The cycle")
    currency: str = Field(description="Its currency")
    scale: int = Field(description="Decimal places of the minor unit")
    institution: str = Field(description="The institution")
    clearing_house: str = Field(description="The clearing house")
    cycle_status: str = Field(description="The cycle's status")
    cycle_round: int = Field(description="Its netting round")
    excluded: list[str] = Field(description="Institutions excluded")
    opened_height: int = Field(description="The block that opened the cycle")
    closed_height: int = Field(description="The block that closed it, 0 while open")
    settled_height: int = Field(description="The block that settled it, 0 before")
    lines: list[StatementLine] = Field(description="Every entry")
    totals: StatementTotals = Field(description="The totals")
    position: StatementPosition | None = Field(description="Its position, null while open")
    height: int | None = Field(description="The block the statement was read at")
    proofs: list[StatementProof] = Field(description="Proofs of the summary records")


class Break(BaseModel):
    """A difference between the ledger and the institution's records."""

    kind: str = Field(description="`missing_on_ledger`, `amount_mismatch`, ...")
    payment_id: str = Field(description="The payment")
    entry_kind: str = Field(description="The entry's kind")
    reference: str = Field(description="The refund id, or empty")
    side: str = Field(description="`issuer` or `acquirer`")
    row: int | None = Field(description="The file's line, null for `missing_at_institution`")
    record_id: str = Field(description="The institution's record id, or empty")
    sequence: int | None = Field(description="The statement line, null for `missing_on_ledger`")
    ledger_value: str = Field(description="The ledger's value, empty if none")
    institution_value: str = Field(description="The institution's value, empty if none")


class BreakReport(BaseModel):
    """``POST /v1/payments/cycles/{cycle_id}/reconciliation/{institution}?format=json``."""

    cycle_id: int = Field(description="The cycle")
    institution: str = Field(description="The institution")
    currency: str = Field(description="The cycle's currency")
    ledger_entries: int = Field(description="Entries on the ledger")
    institution_records: int = Field(description="Rows in the institution's file")
    matched: int = Field(description="Entries on both sides with no break")
    break_counts: dict[str, int] = Field(description="Breaks by kind")
    breaks: list[Break] = Field(description="Every break")


class ReportHeader(BaseModel):
    """A certified header a report's bundle carries (the settling block's)."""

    height: int = Field(description="The block's height")
    header_bytes: str = Field(description="Canonical BlockHeader, hex")
    certificate_bytes: str = Field(description="Canonical CommitCertificate, hex")


class ProvenReport(BaseModel):
    """A report file with its proof bundle (docs/proofs.md §12): the statement, the
    settlement's pacs.009 or the merchant payouts' pacs.008."""

    format: str = Field(description="`jinqiao-report-proofs/1`")
    report: str = Field(description="`statement`, `settlement` or `merchant-payouts`")
    cycle_id: int = Field(description="The cycle")
    institution: str | None = Field(description="The institution, null for a settlement")
    file_format: str = Field(description="`json`, `csv`, `camt053`, `pacs009` or `pacs008`")
    file_sha256: str = Field(description="SHA-256 of `file`, hex")
    height: int = Field(description="Height of the header the reads are proven against")
    time_ms: int = Field(description="That block's time")
    reads_proof: str = Field(description="Canonical StateReadsProof of every key read, hex")
    headers: list[ReportHeader] = Field(description="Certified headers the file is dated by")
    file: str = Field(description="The report file's text")


__all__ = [
    "Break",
    "BreakReport",
    "CaptureRecord",
    "ChargebackRecord",
    "CommittedHeader",
    "CycleAnswer",
    "CycleFigures",
    "CycleRecord",
    "CycleReport",
    "CycleTiming",
    "CycleTotalsAnswer",
    "CycleTotalsRecord",
    "EntryAnswer",
    "EntryRecord",
    "Fees",
    "FiguresAnswer",
    "FiguresProofs",
    "FlowAnswer",
    "FlowRecord",
    "InstitutionAnswer",
    "InstitutionCycleAnswer",
    "InstitutionCycleRecord",
    "InstitutionRecord",
    "PaymentAnswer",
    "PaymentAuthorization",
    "PaymentRecord",
    "PositionAnswer",
    "PositionRecord",
    "ProvenReport",
    "ReportHeader",
    "RepresentmentRecord",
    "StatementAnswer",
    "StatementLine",
    "StatementPosition",
    "StatementProof",
    "StatementTotals",
]
