"""The supply chain contract's vocabulary: roles, limits, records, arguments and state keys.

Every state key is built here (the full key is ``b"supplychain/" + key``) so a read can be proven
against a header; ``docs/supplychain.md`` has the table. Identifiers inside keys are canonical GS1
keys (``identifiers.Key.canonical``: ASCII, ``/`` only between their parts), organization ids are
ASCII identifiers, hashes are raw 32 bytes and numbers 8 bytes big-endian. A variable-length part
is always last, or followed only by a fixed-length number, so every key parses one way.
"""

from __future__ import annotations

from jinqiao.core.codec import CanonicalStruct

SUPPLYCHAIN = "supplychain"

# -- roles ------------------------------------------------------------------------------------

GS1_REGISTRAR_ROLE = "gs1_registrar"
"""Registers GS1 company prefixes to organizations (the national GS1 member organization)."""
CORE_ENTERPRISE_ROLE = "core_enterprise"
"""Confirms receivables as obligor and repays them."""
FUNDER_ROLE = "funder"
"""Accepts finance offers (factoring, pledge) and pays for them."""

# -- vocabularies -----------------------------------------------------------------------------

ACTIVE = "active"
SOLD = "sold"
DECOMMISSIONED = "decommissioned"
CONSUMED = "consumed"

COMMISSIONING = "commissioning"
OBSERVING = "observing"
SHIPPING = "shipping"
RECEIVING = "receiving"
RETAIL_SELLING = "retail_selling"
DECOMMISSIONING = "decommissioning"
PACKING = "packing"
UNPACKING = "unpacking"
TRANSFORMING = "transforming"
TRANSACTING = "transacting"
"""The event kinds recorded, by CBV 2.0 business step (``transacting``: a TransactionEvent)."""

LIVE = "live"
SPLIT = "split"
CLOSED = "closed"

FACTORING = "factoring"
PLEDGE = "pledge"
FINANCE_KINDS = (FACTORING, PLEDGE)

INVOICE = "invoice"
PURCHASE_ORDER = "purchase_order"
SHIPPING_EVENT = "shipping_event"
RECEIVING_EVENT = "receiving_event"
BACKING_KINDS = (INVOICE, PURCHASE_ORDER, SHIPPING_EVENT, RECEIVING_EVENT)

# -- limits -----------------------------------------------------------------------------------

HASH_BYTES = 32
MAX_EPCS_PER_EVENT = 32
MAX_CHILDREN = 48
MAX_NESTING = 2
"""Containment depth: a pallet of cases of items is 2. Moving a container checks every
descendant (at most 48 + 48 * 48 records)."""
MAX_BIZ_TRANSACTIONS = 8
MAX_FUTURE_SKEW_MS = 300_000
"""An event may be timed at most five minutes after the block that records it."""
MAX_BACKING = 16
MAX_SPLIT_PARTS = 16
MAX_LIVE_PARTS = 31
"""Live parts of one root receivable: repayment pays each with a token ``transfer_from`` (two
events: Transfer and Approval), plus its own event: 31 * 2 + 1 = 63 of the 64 events a
transaction may emit."""
MAX_HISTORY_PAGE = 500
MAX_REFERENCE_LENGTH = 128
MAX_DUE_MS = 2**62
PPM = 1_000_000
YEAR_MS = 365 * 86_400_000
MAX_RATE_PPM = 10 * PPM
MS_PER_DAY = 86_400_000
MAX_PAST_DUE_PAGE = 100
"""Rows per past-due report page: each row proves its index entry, its root and up to 31
live parts."""
COMPANY_PREFIX_LENGTHS = range(4, 13)

# -- state keys -------------------------------------------------------------------------------


def _n8(number: int) -> bytes:
    return number.to_bytes(8, "big")


def company_prefix_key(prefix: str) -> bytes:
    return b"company_prefix/" + prefix.encode()


def prefix_claimed_key(prefix: str) -> bytes:
    """Present (``int`` count) when a longer registered prefix begins with ``prefix``."""
    return b"prefix_claimed/" + prefix.encode()


def item_key(canonical: str) -> bytes:
    return b"item/" + canonical.encode()


def history_key(canonical: str, sequence: int) -> bytes:
    """The ``sequence``-th (from 1) event hash naming the item; the first (sequence 0) is the
    item's own ``first_event``, so an item's creation writes no pointer (ADR 0058)."""
    return b"history/" + canonical.encode() + b"/" + _n8(sequence)


def event_key(event_hash: bytes) -> bytes:
    return b"event/" + event_hash


def recall_key(gtin: str, lot: str) -> bytes:
    return b"recall/" + gtin.encode() + b"/" + lot.encode()


NEXT_RECEIVABLE_KEY = b"next_receivable"


def receivable_key(receivable_id: int) -> bytes:
    return b"receivable/" + _n8(receivable_id)


def root_key(root_id: int) -> bytes:
    return b"root/" + _n8(root_id)


def document_key(document_hash: bytes) -> bytes:
    return b"document/" + document_hash


def past_due_count_key(organization: str) -> bytes:
    """How many receivables marked past due name ``organization`` as a party (absent: none)."""
    return b"past_due_count/" + organization.encode()


def past_due_key(organization: str, sequence: int) -> bytes:
    """The id of the ``sequence``-th (from 0) root marked past due that names ``organization``
    as a party when it was marked."""
    return b"past_due/" + organization.encode() + b"/" + _n8(sequence)


# -- provenance records -----------------------------------------------------------------------


class CompanyPrefix(CanonicalStruct, frozen=True):
    prefix: str
    organization: str
    registered_height: int


class Shipment(CanonicalStruct, frozen=True):
    receiver: str
    event_hash: bytes


class Item(CanonicalStruct, frozen=True):
    """A serialized thing (SGTIN, SSCC or GRAI). ``custodian`` is the organization holding it
    while it is not in a container; inside one, the top container's custodian and shipment
    apply (``parent`` names the container). ``levels`` bounds the containment depth below it.
    ``first_event`` is the hash of the event that created it (its history's entry 0: a
    commissioning, or the transformation that output it)."""

    id: str
    brand_owner: str
    lot: str
    status: str
    custodian: str
    shipment: Shipment | None
    parent: str
    children: tuple[str, ...]
    levels: int
    event_count: int
    last_event_time_ms: int
    commissioned_height: int
    first_event: bytes


class BizTransaction(CanonicalStruct, frozen=True):
    """A CBV business transaction reference (``type`` e.g. ``po``, ``inv``; ``id`` its URI)."""

    type: str
    id: str


class EventRecord(CanonicalStruct, frozen=True):
    """What the chain keeps of an EPCIS event: its CBV 2.0 hash, kind, who recorded it, when,
    where, the keys it names (canonical) and its business transactions."""

    event_hash: bytes
    kind: str
    organization: str
    event_time_ms: int
    recorded_height: int
    read_point: str
    epcs: tuple[str, ...]
    outputs: tuple[str, ...]
    parent: str
    receiver: str
    biz_transactions: tuple[BizTransaction, ...]


class Recall(CanonicalStruct, frozen=True):
    gtin: str
    lot: str
    organization: str
    height: int


# -- receivable records -----------------------------------------------------------------------


class Backing(CanonicalStruct, frozen=True):
    """A trade document behind a receivable: its SHA-256 (for the two event kinds, the CBV
    event hash's 32 bytes, which must be recorded on chain) and, for an invoice, its amount."""

    kind: str
    document_hash: bytes
    amount_minor: int


class FinanceOffer(CanonicalStruct, frozen=True):
    kind: str
    funder: str
    rate_ppm: int
    advance_minor: int
    payee: bytes
    expires_height: int


class Receivable(CanonicalStruct, frozen=True):
    """One part of a root receivable (the root itself is part ``root_id``). ``holder`` is the
    organization entitled to payment, paid at ``holder_account``; a pledged part is paid to its
    ``pledgee`` at ``pledgee_account``."""

    id: int
    root_id: int
    parent_id: int
    obligor: str
    holder: str
    holder_account: bytes
    face_value_minor: int
    due_time_ms: int
    status: str
    pledgee: str
    pledgee_account: bytes
    offer: FinanceOffer | None


class Root(CanonicalStruct, frozen=True):
    """A confirmed payable: its backing, the ids of its live parts (in creation order), and
    whether it is repaid or marked past due."""

    id: int
    asset: str
    obligor: str
    face_value_minor: int
    due_time_ms: int
    backing: tuple[Backing, ...]
    live_parts: tuple[int, ...]
    repaid: bool
    past_due: bool


class PastDueRow(CanonicalStruct, frozen=True):
    """One receivable of an organization's past-due report, as of a block: ``days_past_due``
    whole days from the due time to the block time (0 once repaid), the organization's
    ``roles`` in it now (``obligor``, ``holder``, ``pledgee``; none for a pledgee that has
    released its pledge) and ``owed_minor``, what repayment pays it."""

    root_id: int
    asset: str
    obligor: str
    face_value_minor: int
    due_time_ms: int
    days_past_due: int
    repaid: bool
    roles: tuple[str, ...]
    owed_minor: int


# -- arguments: provenance --------------------------------------------------------------------


class RegisterPrefixArgs(CanonicalStruct, frozen=True):
    prefix: str
    organization: str


class EventFields(CanonicalStruct, frozen=True):
    """Every captured event: its CBV 2.0 event hash (32 bytes of ``ni:///sha-256;…``), its
    ``eventTime`` in ms since the epoch, and its read point (a GLN in any key form, or ``""``)."""

    event_hash: bytes
    event_time_ms: int
    read_point: str = ""


class CommissionArgs(CanonicalStruct, frozen=True):
    event: EventFields
    epcs: tuple[str, ...]
    lot: str = ""


class EpcsArgs(CanonicalStruct, frozen=True):
    """observe, receive, sell, decommission."""

    event: EventFields
    epcs: tuple[str, ...]


class ShipArgs(CanonicalStruct, frozen=True):
    event: EventFields
    epcs: tuple[str, ...]
    receiver: str


class AggregationArgs(CanonicalStruct, frozen=True):
    """pack (children into parent), unpack (``children`` empty: all of them)."""

    event: EventFields
    parent: str
    children: tuple[str, ...]


class TransformArgs(CanonicalStruct, frozen=True):
    event: EventFields
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    lot: str = ""


class TransactArgs(CanonicalStruct, frozen=True):
    event: EventFields
    epcs: tuple[str, ...]
    biz_transactions: tuple[BizTransaction, ...]


class RecallArgs(CanonicalStruct, frozen=True):
    gtin: str
    lot: str


# -- arguments: receivables -------------------------------------------------------------------


class ConfirmArgs(CanonicalStruct, frozen=True):
    asset: str
    holder: str
    holder_account: bytes
    face_value_minor: int
    due_time_ms: int
    backing: tuple[Backing, ...]


class SplitArgs(CanonicalStruct, frozen=True):
    receivable_id: int
    values_minor: tuple[int, ...]


class TransferReceivableArgs(CanonicalStruct, frozen=True):
    receivable_id: int
    recipient: str
    recipient_account: bytes


class OfferArgs(CanonicalStruct, frozen=True):
    receivable_id: int
    kind: str
    funder: str
    rate_ppm: int
    payee: bytes
    expires_height: int


class ReceivableArgs(CanonicalStruct, frozen=True):
    """withdraw_offer, accept_offer, release_pledge, and the ``receivable`` query."""

    receivable_id: int


class RootArgs(CanonicalStruct, frozen=True):
    root_id: int


# -- query arguments and results --------------------------------------------------------------


class KeyArgs(CanonicalStruct, frozen=True):
    id: str


class PrefixArgs(CanonicalStruct, frozen=True):
    prefix: str


class EventArgs(CanonicalStruct, frozen=True):
    event_hash: bytes


class DocumentArgs(CanonicalStruct, frozen=True):
    document_hash: bytes


class HistoryArgs(CanonicalStruct, frozen=True):
    id: str
    start: int
    limit: int


class ItemView(CanonicalStruct, frozen=True):
    """An item with its effective custody: its top container's custodian and shipment, and
    whether its lot is recalled."""

    item: Item
    top: str
    custodian: str
    in_transit_to: str
    recalled: bool


class History(CanonicalStruct, frozen=True):
    id: str
    events: tuple[EventRecord, ...]
    next_start: int | None


class DocumentUse(CanonicalStruct, frozen=True):
    document_hash: bytes
    root_id: int
