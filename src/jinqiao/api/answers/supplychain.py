"""The answers of the supply-chain and EPCIS routes (``api.supplychain``, ``api.capture``).
Every proven value is a ``ProvenEntry`` — the full key, the value and the proof, as ``GET
/v1/state`` answers it but without the block time — and the records are
``apps.supplychain.model``'s structs as JSON (bytes as hex)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ProvenEntry(BaseModel):
    """One proven state value (the value, or its proven absence)."""

    key: str = Field(description="The full state key read, hex")
    value: str | None = Field(description="The stored bytes, hex; null: proven absent")
    height: int = Field(description="Height of the header the proof is against")
    state_root: str = Field(description="That header's state root, hex")
    proof: str = Field(description="Canonical StateReadProof, hex")


class Shipment(BaseModel):
    """An open shipment."""

    receiver: str = Field(description="The organization it is shipped to")
    event_hash: str = Field(description="The shipping event's hash, hex")


class ItemRecord(BaseModel):
    """A serialized item (SGTIN, SSCC or GRAI); inside a container, the top container's
    custodian and shipment apply."""

    id: str = Field(description="Its GS1 key, canonical")
    brand_owner: str = Field(description="The organization that commissioned it")
    lot: str = Field(description="Its lot, or empty")
    status: str = Field(description="`active`, `decommissioned`, ...")
    custodian: str = Field(description="The organization holding it while not contained")
    shipment: Shipment | None = Field(description="Its open shipment, null if none")
    parent: str = Field(description="The container it is in, or empty")
    children: list[str] = Field(description="What it contains")
    levels: int = Field(description="The containment depth below it")
    event_count: int = Field(description="Events in its history")
    last_event_time_ms: int = Field(description="Its latest event's time")
    commissioned_height: int = Field(description="The block that commissioned it")
    first_event: str = Field(
        description="The hash of its first event (its history's entry 0: the commissioning or "
        "the transformation that output it), hex"
    )


class Custody(BaseModel):
    """An item's effective custody: its top container's."""

    top: str = Field(description="The top container (the item itself if not contained)")
    custodian: str = Field(description="The organization holding it")
    in_transit_to: str = Field(description="The receiver of an open shipment, or empty")
    recalled: bool = Field(description="Whether its lot is recalled")


class ItemAnswer(ProvenEntry):
    """``GET /v1/supplychain/items``: the item with its custody, every value proven at one
    height (the item's proof is this object's own fields)."""

    id: str = Field(description="The item's GS1 key, canonical")
    item: ItemRecord = Field(description="The record")
    custody: Custody = Field(description="Its effective custody")
    containers: list[ProvenEntry] = Field(description="The containers above it, proven")
    recall: ProvenEntry | None = Field(description="Its lot's recall, proven; null if no lot")


class BizTransaction(BaseModel):
    """A CBV business transaction reference."""

    type: str = Field(description="`po`, `inv`, ...")
    id: str = Field(description="Its URI")


class EventRecord(BaseModel):
    """What the chain keeps of an EPCIS event."""

    event_hash: str = Field(description="Its CBV 2.0 event hash, hex")
    kind: str = Field(description="Its business step")
    organization: str = Field(description="The organization that recorded it")
    event_time_ms: int = Field(description="Its time")
    recorded_height: int = Field(description="The block that recorded it")
    read_point: str = Field(description="Where, or empty")
    epcs: list[str] = Field(description="The keys it names, canonical")
    outputs: list[str] = Field(description="The keys it makes (a transformation)")
    parent: str = Field(description="The container (aggregation), or empty")
    receiver: str = Field(description="The receiving organization (shipping), or empty")
    biz_transactions: list[BizTransaction] = Field(description="Its business transactions")


class HistoryEntry(BaseModel):
    """One event of an item's history: the history pointer and the event, both proven."""

    sequence: int = Field(description="Its place in the item's history, from 0")
    event: EventRecord = Field(description="The event")
    pointer: ProvenEntry | None = Field(
        description="The history entry (the event's hash), proven; null for entry 0, whose "
        "hash is the item's first_event"
    )
    record: ProvenEntry = Field(description="The event record, proven")


class HistoryAnswer(ProvenEntry):
    """``GET /v1/supplychain/history``: a page of the item's events, oldest first (the item's
    proof is this object's own fields)."""

    id: str = Field(description="The item's GS1 key, canonical")
    event_count: int = Field(description="Events in its history")
    events: list[HistoryEntry] = Field(description="The page")
    next_start: int | None = Field(description="Where the next page starts; null after the last")


class HistoryProofs(ProvenEntry):
    """The proofs of an EPCIS query's events, as ``GET /v1/supplychain/history`` gives them."""

    id: str = Field(description="The item's GS1 key, canonical")
    event_count: int = Field(description="Events in its history")
    start: int = Field(description="The page's first event")
    events: list[HistoryEntry] = Field(description="The page")


class EpcisResultsBody(BaseModel):
    """The query's events."""

    eventList: list[dict[str, Any]] = Field(  # noqa: N815 - the EPCIS 2.0 name
        description="EPCIS 2.0 events (JSON-LD), rebuilt from the chain's records"
    )


class EpcisQueryResults(BaseModel):
    """The results of the query."""

    queryName: str = Field(description="The query's name")  # noqa: N815 - EPCIS 2.0
    resultsBody: EpcisResultsBody = Field(description="The events")  # noqa: N815 - EPCIS 2.0


class EpcisBody(BaseModel):
    """An EPCIS query document's body."""

    queryResults: EpcisQueryResults = Field(description="The results")  # noqa: N815 - EPCIS


class EpcisEventsAnswer(BaseModel):
    """``GET /v1/epcis/events``: an EPCIS 2.0 ``EPCISQueryDocument`` with the proofs of every
    record under ``jinqiao:proofs``."""

    context: list[str | dict[str, str]] = Field(alias="@context", description="JSON-LD context")
    type: str = Field(description="`EPCISQueryDocument`")
    schemaVersion: str = Field(description="`2.0`")  # noqa: N815 - the EPCIS 2.0 name
    creationDate: str = Field(description="ISO 8601: the time of the block read")  # noqa: N815
    epcisBody: EpcisBody = Field(description="The events")  # noqa: N815 - the EPCIS 2.0 name
    next_page_token: str | None = Field(
        alias="jinqiao:nextPageToken", description="The next page's token; null after the last"
    )
    proofs: HistoryProofs = Field(alias="jinqiao:proofs", description="The proofs")


class EventAnswer(ProvenEntry):
    """``GET /v1/supplychain/events/{event_hash}``, proven."""

    event: EventRecord = Field(description="The record")


class RecallRecord(BaseModel):
    """A recalled lot."""

    gtin: str = Field(description="The GTIN")
    lot: str = Field(description="The lot")
    organization: str = Field(description="Who recalled it")
    height: int = Field(description="The block that recorded it")


class RecallAnswer(ProvenEntry):
    """``GET /v1/supplychain/recalls``: the recall, or its proven absence."""

    recalled: bool = Field(description="Whether the lot is recalled")
    recall: RecallRecord | None = Field(description="The record; null: proven absent")


class CompanyPrefixRecord(BaseModel):
    """A registered GS1 company prefix."""

    prefix: str = Field(description="The prefix")
    organization: str = Field(description="The organization it belongs to")
    registered_height: int = Field(description="The block that registered it (0: genesis)")


class CompanyPrefixAnswer(ProvenEntry):
    """``GET /v1/supplychain/company-prefixes/{prefix}``, proven."""

    company_prefix: CompanyPrefixRecord = Field(description="The record")


class FinanceOffer(BaseModel):
    """An open finance offer on a receivable part."""

    kind: str = Field(description="`factoring` or `pledge`")
    funder: str = Field(description="The funding organization")
    rate_ppm: int = Field(description="Its discount rate, parts per million")
    advance_minor: int = Field(description="What the funder pays")
    payee: str = Field(description="The account paid, hex")
    expires_height: int = Field(description="The last block it may be accepted in")


class ReceivableRecord(BaseModel):
    """A part of a root receivable (the root itself is part ``root_id``)."""

    id: int = Field(description="Its id")
    root_id: int = Field(description="Its root")
    parent_id: int = Field(description="The part it was split from, 0 if none")
    obligor: str = Field(description="Who pays it")
    holder: str = Field(description="Who is entitled to payment")
    holder_account: str = Field(description="Where the holder is paid, hex")
    face_value_minor: int = Field(description="Its face value")
    due_time_ms: int = Field(description="When it is due")
    status: str = Field(description="`live`, `split`, `repaid`, ...")
    pledgee: str = Field(description="The pledgee, or empty")
    pledgee_account: str = Field(description="Where the pledgee is paid, hex, or empty")
    offer: FinanceOffer | None = Field(description="Its open offer, null if none")


class ReceivableAnswer(ProvenEntry):
    """``GET /v1/supplychain/receivables/{receivable_id}``, proven."""

    receivable: ReceivableRecord = Field(description="The record")


class Backing(BaseModel):
    """A trade document behind a receivable."""

    kind: str = Field(description="`invoice`, or an event kind")
    document_hash: str = Field(description="Its SHA-256 (or CBV event hash), hex")
    amount_minor: int = Field(description="An invoice's amount")


class RootRecord(BaseModel):
    """A confirmed payable."""

    id: int = Field(description="Its id")
    asset: str = Field(description="The asset it is paid in")
    obligor: str = Field(description="Who pays it")
    face_value_minor: int = Field(description="Its face value")
    due_time_ms: int = Field(description="When it is due")
    backing: list[Backing] = Field(description="Its trade documents")
    live_parts: list[int] = Field(description="Its live parts, in creation order")
    repaid: bool = Field(description="Whether it is repaid")
    past_due: bool = Field(description="Whether it is marked past due")


class RootAnswer(ProvenEntry):
    """``GET /v1/supplychain/roots/{root_id}``, proven."""

    root: RootRecord = Field(description="The record")


class PastDueRecord(BaseModel):
    """One receivable of a past-due report, as of a block."""

    root_id: int = Field(description="The root receivable")
    asset: str = Field(description="Its asset")
    obligor: str = Field(description="Who pays it")
    face_value_minor: int = Field(description="Its face value")
    due_time_ms: int = Field(description="When it was due")
    days_past_due: int = Field(description="Whole days past due at the block's time")
    repaid: bool = Field(description="Whether it is repaid")
    roles: list[str] = Field(description="The organization's roles in it")
    owed_minor: int = Field(description="What repayment pays the organization")


class PastDueRow(BaseModel):
    """One row of the report, with the list entry, root and live parts proven."""

    sequence: int = Field(description="Its place in the organization's past-due list")
    row: PastDueRecord = Field(description="The row")
    pointer: ProvenEntry = Field(description="The list entry, proven")
    root: ProvenEntry = Field(description="The root, proven")
    parts: list[ProvenEntry] = Field(description="Its live parts, proven")


class PastDueAnswer(ProvenEntry):
    """``GET /v1/supplychain/past-due/{organization}``: a page of its past-due receivables
    (the list's count proven by this object's own fields)."""

    organization: str = Field(description="The organization")
    time_ms: int = Field(description="The block time the days are counted to")
    past_due_count: int = Field(description="Entries in its past-due list")
    rows: list[PastDueRow] = Field(description="The page")
    next_start: int | None = Field(description="Where the next page starts; null after the last")


class DocumentAnswer(ProvenEntry):
    """``GET /v1/supplychain/documents/{document_hash}``: the root receivable a document
    backs, or its proven absence."""

    document_hash: str = Field(description="The document's hash, hex")
    root_id: int | None = Field(description="The root it backs; null: not used (proven)")


class VerifyAnswer(BaseModel):
    """``GET /v1/verify``: a verdict on a scanned item, every value proven at one height; an
    item that was never commissioned has only the fields up to ``height``."""

    id: str = Field(description="The item's GS1 key, canonical")
    item_proof: ProvenEntry = Field(description="The item, proven (or its absence)")
    verdict: str = Field(description="`genuine`, `unknown` or `suspicious`")
    reasons: list[str] = Field(description="Every reason that applies")
    signature: str = Field(description="The label's signature: `valid`, `invalid` or `absent`")
    clone_sightings: list[list[str]] = Field(
        description="Pairs of event hashes (hex) seen too far apart too soon"
    )
    height: int = Field(description="The height every proof is against")
    state_root: str | None = Field(default=None, description="That header's state root, hex")
    item: ItemRecord | None = Field(default=None, description="The record")
    custody: Custody | None = Field(default=None, description="Its effective custody")
    containers: list[ProvenEntry] | None = Field(default=None, description="Its containers")
    recall: ProvenEntry | None = Field(default=None, description="Its lot's recall, proven")
    event_count: int | None = Field(default=None, description="Events in its history")
    trace: list[HistoryEntry] | None = Field(default=None, description="Its latest events")
    signer: ProvenEntry | None = Field(
        default=None, description="The label's signer account, proven; null without a signer"
    )


class CaptureTransaction(BaseModel):
    """One transaction a capture sent."""

    transaction: str = Field(description="Its hash, hex")
    method: str = Field(description="The supply-chain method it calls")
    status: str | None = Field(
        default=None, description="`ok`, `rejected`, `refused` or `pending`; absent while sent"
    )
    code: str | None = Field(default=None, description="Its code, once known")
    height: int | None = Field(default=None, description="The block it committed in")


class CaptureError(BaseModel):
    """Why a capture failed (an EPCIS capture job error)."""

    type: str = Field(description="A code: `interrupted`, `pending`, a rejection code ...")
    title: str = Field(description="In words")


class CaptureJob(BaseModel):
    """``POST /v1/epcis/capture`` (202) and ``GET /v1/epcis/capture/{capture_id}``: an EPCIS
    2.0 capture job, with the chain's side of each event."""

    captureID: str = Field(description="The job's id")  # noqa: N815 - the EPCIS 2.0 name
    createdAt: str = Field(description="ISO 8601")  # noqa: N815 - the EPCIS 2.0 name
    finishedAt: str | None = Field(description="ISO 8601; null while running")  # noqa: N815
    running: bool = Field(description="Whether it is running")
    success: bool = Field(description="Whether it succeeded")
    captureErrorBehaviour: str = Field(description="`proceed`")  # noqa: N815 - EPCIS 2.0
    errors: list[CaptureError] = Field(description="The first error, if any")
    state: str = Field(description="`running`, `succeeded`, `failed` or `interrupted`")
    organization: str = Field(description="The capturing organization")
    submitted_by: str = Field(description="Who submitted the document")
    document_sha256: str = Field(description="SHA-256 of the document, hex")
    document_format: str = Field(description="`json` (JSON-LD) or `xml`")
    event_count: int = Field(description="Events in the document")
    transactions: list[CaptureTransaction] = Field(description="The transactions sent")


__all__ = [
    "Backing",
    "BizTransaction",
    "CaptureError",
    "CaptureJob",
    "CaptureTransaction",
    "CompanyPrefixAnswer",
    "CompanyPrefixRecord",
    "Custody",
    "DocumentAnswer",
    "EpcisBody",
    "EpcisEventsAnswer",
    "EpcisQueryResults",
    "EpcisResultsBody",
    "EventAnswer",
    "EventRecord",
    "FinanceOffer",
    "HistoryAnswer",
    "HistoryEntry",
    "HistoryProofs",
    "ItemAnswer",
    "ItemRecord",
    "PastDueAnswer",
    "PastDueRecord",
    "PastDueRow",
    "ProvenEntry",
    "RecallAnswer",
    "RecallRecord",
    "ReceivableAnswer",
    "ReceivableRecord",
    "RootAnswer",
    "RootRecord",
    "Shipment",
    "VerifyAnswer",
]
