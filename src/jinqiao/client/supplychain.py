"""SDK helpers for the supply chain contract (``docs/supplychain.md``): one helper per method,
EPCIS capture, labels, proven reads and the verification of a scanned item.

Writes return the ``TransactionResult`` (its inclusion and receipt proofs verified); a rejected
call is a committed receipt with its code (``result.code``), not an exception. ``capture`` parses
an EPCIS 2.0 document here, in the client, and sends one signed transaction per event.

Reads are **proven** (each value checked against a block header signed by the validators; off
with ``Client(verify=False)``): ``None`` is a proven absence. ``verify`` asks the node's
``GET /v1/verify``, checks every proof in the answer, and recomputes the verdict from the proven
values: a node cannot call a clone genuine.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar

from jinqiao.apps.supplychain.authenticity import (
    TRACE_EVENTS,
    Verification,
    label_message,
    label_uri,
    parse_scan,
    verify_item,
)
from jinqiao.apps.supplychain.identifiers import parse_key
from jinqiao.apps.supplychain.model import (
    MAX_NESTING,
    MAX_PAST_DUE_PAGE,
    PACKING,
    SUPPLYCHAIN,
    UNPACKING,
    AggregationArgs,
    Backing,
    BizTransaction,
    CommissionArgs,
    CompanyPrefix,
    ConfirmArgs,
    DocumentUse,
    EpcsArgs,
    EventFields,
    EventRecord,
    Item,
    OfferArgs,
    PastDueRow,
    Recall,
    RecallArgs,
    Receivable,
    ReceivableArgs,
    RegisterPrefixArgs,
    Root,
    RootArgs,
    ShipArgs,
    SplitArgs,
    TransactArgs,
    TransferReceivableArgs,
    TransformArgs,
    company_prefix_key,
    document_key,
    event_key,
    history_key,
    item_key,
    past_due_count_key,
    past_due_key,
    recall_key,
    receivable_key,
    root_key,
)
from jinqiao.apps.supplychain.receivables import past_due_row
from jinqiao.client.outcome import ClientError
from jinqiao.core.codec import CanonicalStruct, decode, json_view
from jinqiao.core.crypto import Signer
from jinqiao.core.limits import MAX_PROOF_BYTES
from jinqiao.core.proofs import StateReadProof
from jinqiao.epcis import SchemaValidator, contract_call, parse_document
from jinqiao.epcis.document import xml_event_hashes
from jinqiao.epcis.query import query_document
from jinqiao.execution.contract import contract_address
from jinqiao.execution.identity import REGISTRY, Account, account_key
from jinqiao.execution.state import full_key
from jinqiao.verify import VerificationError, verify_state_read

if TYPE_CHECKING:
    from jinqiao.client.client import Client, TransactionResult

T = TypeVar("T")
MAX_ANSWER_PROOF_HEX = 2 * 64 * MAX_PROOF_BYTES


@dataclass(frozen=True)
class ItemCustody:
    """An item and who holds it, proven at ``height``: its top container (itself if none), the
    effective custodian, the receiver of an open shipment (``""``), whether its lot is
    recalled."""

    item: Item
    top: str
    custodian: str
    in_transit_to: str
    recalled: bool
    height: int


@dataclass(frozen=True)
class ItemVerification:
    """What ``verify`` found, every value proven at ``height``: the verdict and its reasons
    (``apps.supplychain.authenticity``), the custody (``None`` for an unknown item), the item's
    event count and its latest events (oldest first)."""

    id: str
    verification: Verification
    custody: ItemCustody | None
    event_count: int
    trace: tuple[EventRecord, ...]
    height: int
    verified: bool

    @property
    def verdict(self) -> str:
        return self.verification.verdict

    @property
    def reasons(self) -> tuple[str, ...]:
        return self.verification.reasons


@dataclass(frozen=True)
class EpcisPage:
    """A page of ``epcis_events``: the ``EPCISQueryDocument`` (without the ``jinqiao:``
    fields), the proven records it was made of, the next page's start (``None`` after the last)
    and the height every record was proven at."""

    document: dict[str, Any]
    events: tuple[EventRecord, ...]
    next_start: int | None
    height: int
    verified: bool


@dataclass(frozen=True)
class PastDueReport:
    """An organization's past-due receivables (``SupplyChainClient.past_due``), oldest marking
    first, every row recomputed from values proven at ``height`` (block time ``time_ms``);
    ``count`` is the length of its whole list, ``next_start`` ``None`` after its last row."""

    organization: str
    rows: tuple[PastDueRow, ...]
    count: int
    next_start: int | None
    height: int
    time_ms: int
    verified: bool


MAX_TRACE_EVENTS = 1_000
"""Events read per item or container by ``trace`` (each is two proven reads)."""


@dataclass(frozen=True)
class TraceStep:
    """One event of a trace; ``via`` names the container that carried the item ("" for the
    item's own events)."""

    event: EventRecord
    via: str


@dataclass(frozen=True)
class Trace:
    """An item's journey (``SupplyChainClient.trace``), every event proven at the custody's
    height, oldest first."""

    custody: ItemCustody
    steps: tuple[TraceStep, ...]

    @property
    def item(self) -> str:
        return self.custody.item.id

    @property
    def height(self) -> int:
        return self.custody.height


MAX_HISTORY_PAGE = 100
"""Entries per ``GET /v1/supplychain/history`` page (the route's own limit)."""


@dataclass(frozen=True)
class HistoryPage:
    """A page of an item's events from ``start`` (``SupplyChainClient.history_page``), every
    value proven at ``height``; ``item`` ``None`` is the item's proven absence, ``next_start``
    ``None`` after its last event."""

    id: str
    item: Item | None
    start: int
    events: tuple[EventRecord, ...]
    next_start: int | None
    height: int


class SupplyChainClient:
    def __init__(self, client: Client) -> None:
        self._client = client

    @property
    def contract_address(self) -> bytes:
        """The contract's token address: funders and obligors ``approve`` it (delivery versus
        payment pulls the payment in the same transaction)."""
        return contract_address(self._client.suite.hash, SUPPLYCHAIN)

    def _send(self, signer: Signer, method: str, args: CanonicalStruct) -> TransactionResult:
        return self._client.send(signer, SUPPLYCHAIN, method, args)

    # -- provenance ------------------------------------------------------------------------
    def register_company_prefix(
        self, registrar: Signer, prefix: str, organization: str
    ) -> TransactionResult:
        return self._send(
            registrar, "register_company_prefix", RegisterPrefixArgs(prefix, organization)
        )

    def commission(
        self, signer: Signer, event: EventFields, epcs: Sequence[str], lot: str = ""
    ) -> TransactionResult:
        return self._send(signer, "commission", CommissionArgs(event, tuple(epcs), lot))

    def observe(self, signer: Signer, event: EventFields, epcs: Sequence[str]) -> TransactionResult:
        return self._send(signer, "observe", EpcsArgs(event, tuple(epcs)))

    def ship(
        self, signer: Signer, event: EventFields, epcs: Sequence[str], receiver: str
    ) -> TransactionResult:
        return self._send(signer, "ship", ShipArgs(event, tuple(epcs), receiver))

    def receive(self, signer: Signer, event: EventFields, epcs: Sequence[str]) -> TransactionResult:
        return self._send(signer, "receive", EpcsArgs(event, tuple(epcs)))

    def sell(self, signer: Signer, event: EventFields, epcs: Sequence[str]) -> TransactionResult:
        return self._send(signer, "sell", EpcsArgs(event, tuple(epcs)))

    def decommission(
        self, signer: Signer, event: EventFields, epcs: Sequence[str]
    ) -> TransactionResult:
        return self._send(signer, "decommission", EpcsArgs(event, tuple(epcs)))

    def pack(
        self, signer: Signer, event: EventFields, parent: str, children: Sequence[str]
    ) -> TransactionResult:
        return self._send(signer, "pack", AggregationArgs(event, parent, tuple(children)))

    def unpack(
        self, signer: Signer, event: EventFields, parent: str, children: Sequence[str] = ()
    ) -> TransactionResult:
        return self._send(signer, "unpack", AggregationArgs(event, parent, tuple(children)))

    def transform(
        self,
        signer: Signer,
        event: EventFields,
        inputs: Sequence[str],
        outputs: Sequence[str],
        lot: str = "",
    ) -> TransactionResult:
        args = TransformArgs(event, tuple(inputs), tuple(outputs), lot)
        return self._send(signer, "transform", args)

    def transact(
        self,
        signer: Signer,
        event: EventFields,
        epcs: Sequence[str],
        biz_transactions: Sequence[BizTransaction],
    ) -> TransactionResult:
        args = TransactArgs(event, tuple(epcs), tuple(biz_transactions))
        return self._send(signer, "transact", args)

    def recall(self, signer: Signer, gtin: str, lot: str) -> TransactionResult:
        return self._send(signer, "recall", RecallArgs(gtin, lot))

    def capture(
        self,
        signer: Signer,
        document: bytes,
        *,
        validator: SchemaValidator | None = None,
        receivers: Mapping[str, str] | None = None,
        lot: str = "",
    ) -> list[TransactionResult]:
        """Record every event of an EPCIS 2.0 document (JSON-LD or XML), one signed transaction
        each, in document order, stopping at the first rejected one (its result is the last).
        ``receivers`` maps a shipment's destination (e.g. an ``owning_party`` PGLN or GLN URN) to
        the organization it names; ``lot`` is the lot of commissioned items. ``validator`` (the
        EPCIS 2.0 JSON Schema) is needed for JSON-LD, not for XML. Refusals of the document raise
        ``EpcisError`` before anything is sent."""
        parsed = parse_document(document, validator)
        known = receivers or {}
        calls = []
        for event in parsed.events:
            receiver = next((known[value] for _, value in event.destinations if value in known), "")
            calls.append(contract_call(event, receiver=receiver, lot=lot))
        results = []
        for method, args in calls:
            result = self._send(signer, method, args)
            results.append(result)
            if not result.ok:
                break
        return results

    def label(self, brand_owner: Signer, key: str, *, host: str = "https://id.gs1.org") -> str:
        """The text of an item's label (its QR code): the Digital Link URI with the brand
        owner's signature over its canonical key and the signing account's address."""
        canonical = parse_key(key).canonical
        signature = brand_owner.sign(label_message(canonical))
        return label_uri(f"{host.rstrip('/')}/{canonical}", signature, brand_owner.address)

    # -- receivables -----------------------------------------------------------------------
    def confirm(
        self,
        obligor: Signer,
        asset: str,
        holder: str,
        holder_account: bytes,
        face_value_minor: int,
        due_time_ms: int,
        backing: Sequence[Backing],
    ) -> TransactionResult:
        """Confirm a payable as a root receivable; ``receivable_id(result)`` is its id."""
        args = ConfirmArgs(
            asset, holder, holder_account, face_value_minor, due_time_ms, tuple(backing)
        )
        return self._send(obligor, "confirm", args)

    @staticmethod
    def receivable_id(result: TransactionResult) -> int:
        """The id of the receivable an accepted ``confirm`` (or ``transfer``) returned."""
        if not result.ok:
            raise ValueError(f"the call was rejected: {result.code}")
        return decode(result.receipt.result, Receivable, max_bytes=MAX_PROOF_BYTES).id

    @staticmethod
    def split_parts(result: TransactionResult) -> tuple[int, ...]:
        """The root's live parts after an accepted ``split`` (the new parts are the last ones)."""
        if not result.ok:
            raise ValueError(f"split was rejected: {result.code}")
        root = decode(result.receipt.result, Root, max_bytes=MAX_PROOF_BYTES)
        return root.live_parts

    def split(
        self, holder: Signer, receivable_id: int, values_minor: Sequence[int]
    ) -> TransactionResult:
        return self._send(holder, "split", SplitArgs(receivable_id, tuple(values_minor)))

    def transfer(
        self, holder: Signer, receivable_id: int, recipient: str, recipient_account: bytes
    ) -> TransactionResult:
        args = TransferReceivableArgs(receivable_id, recipient, recipient_account)
        return self._send(holder, "transfer", args)

    def offer_finance(
        self,
        holder: Signer,
        receivable_id: int,
        kind: str,
        funder: str,
        rate_ppm: int,
        payee: bytes,
        expires_height: int,
    ) -> TransactionResult:
        args = OfferArgs(receivable_id, kind, funder, rate_ppm, payee, expires_height)
        return self._send(holder, "offer_finance", args)

    def withdraw_offer(self, holder: Signer, receivable_id: int) -> TransactionResult:
        return self._send(holder, "withdraw_offer", ReceivableArgs(receivable_id))

    def accept_offer(self, funder: Signer, receivable_id: int) -> TransactionResult:
        return self._send(funder, "accept_offer", ReceivableArgs(receivable_id))

    def release_pledge(self, pledgee: Signer, receivable_id: int) -> TransactionResult:
        return self._send(pledgee, "release_pledge", ReceivableArgs(receivable_id))

    def repay(self, obligor: Signer, root_id: int) -> TransactionResult:
        return self._send(obligor, "repay", RootArgs(root_id))

    def mark_past_due(self, signer: Signer, root_id: int) -> TransactionResult:
        return self._send(signer, "mark_past_due", RootArgs(root_id))

    # -- proven reads (None: proven absent) ------------------------------------------------
    # Each reads its own route of the API and checks every proof in the answer, so that a
    # saved answer of that route is checked offline by this very code (``client.saved``).
    def _read(
        self, path: str, key: bytes, kind: type[T], height: int | None, **params: Any
    ) -> T | None:
        proven = self._client.read_record(
            path, full_key(SUPPLYCHAIN, key), height=height, params=params
        )
        if proven.value is None:
            return None
        return decode(proven.value, kind, max_bytes=MAX_PROOF_BYTES)

    def _answer(
        self, path: str, canonical: str, height: int | None, **params: Any
    ) -> tuple[dict[str, Any], _ProofChecker, StateReadProof]:
        """The answer of an item route (``id`` = ``canonical``) and its item proof, checked."""
        query = {"id": canonical, **params, **({} if height is None else {"height": height})}
        answer, absent = self._client.answer_or_absence(path, query)
        checker = _ProofChecker(self._client)
        proof = checker.proof(answer, SUPPLYCHAIN, item_key(canonical), height)
        if absent != (proof.value is None):
            raise VerificationError("the answer's status and its item proof disagree")
        if not absent and answer.get("id") != canonical:
            raise VerificationError("the node answered about another item")
        return answer, checker, proof

    def item(self, key: str, *, height: int | None = None) -> ItemCustody | None:
        """An item in any key form with its custody (``GET /v1/supplychain/items``): the item,
        each container above it and its lot's recall, every value proven at one height."""
        canonical = parse_key(key).canonical
        answer, checker, proof = self._answer("/v1/supplychain/items", canonical, height)
        if proof.value is None:
            return None
        item = decode(proof.value, Item, max_bytes=MAX_PROOF_BYTES)
        return self._custody(checker, item, answer, proof.header.height)

    def _custody(
        self, checker: _ProofChecker, item: Item, answer: dict[str, Any], height: int
    ) -> ItemCustody:
        """The custody an answer proves: exactly the containers above ``item`` (each proven at
        ``height``), its top one, and the recall of its lot."""
        containers = answer.get("containers")
        if not isinstance(containers, list) or len(containers) > MAX_NESTING:
            raise VerificationError("the answer has no list of containers")
        top = item
        for view in containers:
            if not top.parent:
                raise VerificationError("the answer lists a container above the top one")
            proven = checker.proof(view, SUPPLYCHAIN, item_key(top.parent), height)
            if proven.value is None:
                raise VerificationError(f"the container {top.parent} is proven absent")
            top = decode(proven.value, Item, max_bytes=MAX_PROOF_BYTES)
        if top.parent:
            raise VerificationError("the answer stops below the top container")
        recalled = self._recalled(checker, item, answer.get("recall"), height)
        receiver = "" if top.shipment is None else top.shipment.receiver
        return ItemCustody(item, top.id, top.custodian, receiver, recalled, height)

    def history_page(
        self, key: str, *, start: int = 0, limit: int = MAX_HISTORY_PAGE, height: int | None = None
    ) -> HistoryPage:
        """One page of the item's events from ``start`` (``GET /v1/supplychain/history``, at
        most ``MAX_HISTORY_PAGE``): the item, each history entry and the event it names, every
        value proven at one height; exactly the entries the item's event count says exist."""
        if not 1 <= limit <= MAX_HISTORY_PAGE or start < 0:
            raise ValueError(f"limit must be 1..{MAX_HISTORY_PAGE} and start at least 0")
        canonical = parse_key(key).canonical
        answer, checker, proof = self._answer(
            "/v1/supplychain/history", canonical, height, start=start, limit=limit
        )
        at = proof.header.height
        if proof.value is None:
            return HistoryPage(canonical, None, start, (), None, at)
        item = decode(proof.value, Item, max_bytes=MAX_PROOF_BYTES)
        entries = answer.get("events")
        sequences = range(start, min(item.event_count, start + limit))
        if not isinstance(entries, list) or len(entries) != len(sequences):
            raise VerificationError("the page does not hold the item's events from its start")
        events = self._events(checker, item, list(zip(sequences, entries, strict=True)), at)
        end = start + len(events)
        next_start = end if end < item.event_count else None
        return HistoryPage(canonical, item, start, tuple(events), next_start, at)

    def history(
        self, key: str, *, start: int = 0, limit: int = 100, height: int | None = None
    ) -> list[EventRecord]:
        """The item's events from ``start`` (oldest first), at most ``limit``, each history
        entry and event proven at one height (``history_page`` by page)."""
        events: list[EventRecord] = []
        at = height
        while len(events) < limit:
            page = self.history_page(
                key,
                start=start + len(events),
                limit=min(MAX_HISTORY_PAGE, limit - len(events)),
                height=at,
            )
            at = page.height
            events.extend(page.events)
            if page.next_start is None or not page.events:
                break
        return events

    def trace(self, key: str, *, limit: int = MAX_TRACE_EVENTS) -> Trace | None:
        """The item's journey, proven at one height: its own events and, while it was packed,
        its containers' (a pallet's shipping and receiving), oldest first. Containers are
        followed to ``MAX_NESTING`` levels; at most ``limit`` events are read per item or
        container (the latest ones). ``None`` is a proven absence."""
        if not 1 <= limit <= MAX_TRACE_EVENTS:
            raise ValueError(f"limit must be 1..{MAX_TRACE_EVENTS}")
        custody = self.item(key)
        if custody is None:
            return None
        steps: list[TraceStep] = []
        self._trace_of(custody.item.id, "", None, custody.height, limit, steps, depth=0)
        steps.sort(key=lambda step: (step.event.event_time_ms, step.event.recorded_height))
        return Trace(custody, tuple(steps))

    def _trace_of(
        self,
        item_id: str,
        via: str,
        window: tuple[int, int] | None,
        height: int,
        limit: int,
        steps: list[TraceStep],
        *,
        depth: int,
    ) -> None:
        """Append ``item_id``'s events (within ``window`` of event times, if given) and, for
        every packing that put it in a container, the container's events until its unpacking."""
        custody = self.item(item_id, height=height)
        if custody is None:
            raise VerificationError(f"{item_id} is named by an event but proven absent")
        count = custody.item.event_count
        events = self.history(item_id, start=max(0, count - limit), limit=limit, height=height)
        packed_in: dict[str, int] = {}
        for event in events:
            inside = window is None or window[0] <= event.event_time_ms <= window[1]
            if inside and not (via and event.kind in (PACKING, UNPACKING)):
                steps.append(TraceStep(event, via))
            if depth >= MAX_NESTING or not event.parent or event.parent == item_id:
                continue
            if event.kind == PACKING:
                packed_in[event.parent] = event.event_time_ms
            elif event.kind == UNPACKING and event.parent in packed_in:
                start = packed_in.pop(event.parent)
                self._trace_of(
                    event.parent, event.parent, (start, event.event_time_ms), height, limit,
                    steps, depth=depth + 1,
                )  # fmt: skip
        for container, start in packed_in.items():
            self._trace_of(
                container, container, (start, 2**63 - 1), height, limit, steps, depth=depth + 1
            )

    def event(self, event_hash: bytes, *, height: int | None = None) -> EventRecord | None:
        path = f"/v1/supplychain/events/{event_hash.hex()}"
        return self._read(path, event_key(event_hash), EventRecord, height)

    def recall_record(self, gtin: str, lot: str, *, height: int | None = None) -> Recall | None:
        key = parse_key(gtin)
        path = "/v1/supplychain/recalls"
        return self._read(
            path, recall_key(key.number, lot), Recall, height, gtin=key.canonical, lot=lot
        )

    def company_prefix(self, prefix: str, *, height: int | None = None) -> CompanyPrefix | None:
        path = f"/v1/supplychain/company-prefixes/{prefix}"
        return self._read(path, company_prefix_key(prefix), CompanyPrefix, height)

    def receivable(self, receivable_id: int, *, height: int | None = None) -> Receivable | None:
        path = f"/v1/supplychain/receivables/{receivable_id}"
        return self._read(path, receivable_key(receivable_id), Receivable, height)

    def root(self, root_id: int, *, height: int | None = None) -> Root | None:
        return self._read(f"/v1/supplychain/roots/{root_id}", root_key(root_id), Root, height)

    def past_due_page(
        self,
        organization: str,
        *,
        start: int = 0,
        limit: int = MAX_PAST_DUE_PAGE,
        height: int | None = None,
    ) -> PastDueReport:
        """One page of ``organization``'s past-due report (``GET
        /v1/supplychain/past-due/{organization}``): its list's count, each entry, root and live
        part proven at one height, each row recomputed here from them
        (``apps.supplychain.receivables.past_due_row``)."""
        if not 1 <= limit <= MAX_PAST_DUE_PAGE or start < 0:
            raise ValueError(f"limit must be 1..{MAX_PAST_DUE_PAGE} and start at least 0")
        query = {"start": start, "limit": limit, **({} if height is None else {"height": height})}
        answer, _ = self._client.answer_or_absence(
            f"/v1/supplychain/past-due/{organization}", query
        )
        checker = _ProofChecker(self._client)
        count_proof = checker.proof(answer, SUPPLYCHAIN, past_due_count_key(organization), height)
        at, time_ms = count_proof.header.height, count_proof.header.time_ms
        count = 0 if count_proof.value is None else decode(count_proof.value, int, max_bytes=16)
        entries = answer.get("rows")
        sequences = range(start, min(count, start + limit))
        if not isinstance(entries, list) or len(entries) != len(sequences):
            raise VerificationError("the report does not hold the list's entries from its start")
        rows = []
        for sequence, entry in zip(sequences, entries, strict=True):
            if not isinstance(entry, dict) or not isinstance(entry.get("parts"), list):
                raise VerificationError(f"past-due entry {sequence} is not an object")
            pointer = checker.proof(
                entry.get("pointer"), SUPPLYCHAIN, past_due_key(organization, sequence), at
            )
            if pointer.value is None:
                raise VerificationError(f"past-due entry {sequence} is proven absent")
            root_id = decode(pointer.value, int, max_bytes=16)
            root_proof = checker.proof(entry.get("root"), SUPPLYCHAIN, root_key(root_id), at)
            if root_proof.value is None:
                raise VerificationError(f"receivable {root_id} is proven absent")
            root = decode(root_proof.value, Root, max_bytes=MAX_PROOF_BYTES)
            if len(entry["parts"]) != len(root.live_parts):
                raise VerificationError(f"the report lacks live parts of receivable {root_id}")
            parts = []
            for part_id, view in zip(root.live_parts, entry["parts"], strict=True):
                proven = checker.proof(view, SUPPLYCHAIN, receivable_key(part_id), at)
                if proven.value is None:
                    raise VerificationError(f"live part {part_id} is proven absent")
                parts.append(decode(proven.value, Receivable, max_bytes=MAX_PROOF_BYTES))
            row = past_due_row(root, parts, organization, time_ms)
            if entry.get("row") != json_view(row):
                raise VerificationError(f"the node's row for receivable {root_id} is not proven")
            rows.append(row)
        end = start + len(rows)
        following = end if end < count else None
        return PastDueReport(
            organization, tuple(rows), count, following, at, time_ms, checker.verified
        )

    def past_due(self, organization: str, *, height: int | None = None) -> PastDueReport:
        """``organization``'s whole past-due report, page by page at one height."""
        page = self.past_due_page(organization, height=height)
        rows = list(page.rows)
        while page.next_start is not None:
            page = self.past_due_page(organization, start=page.next_start, height=page.height)
            rows.extend(page.rows)
        return replace(page, rows=tuple(rows), next_start=None)

    def document(self, document_hash: bytes, *, height: int | None = None) -> DocumentUse | None:
        """Which root a trade document backs; ``None`` is the proven fact that it backs none."""
        path = f"/v1/supplychain/documents/{document_hash.hex()}"
        return self._read(path, document_key(document_hash), DocumentUse, height)

    # -- private documents (docs/access.md "Private data") -------------------------------------
    def put_private_document(self, body: bytes, document_hash: bytes | None = None) -> bytes:
        """Keep a trade document's body on this node for the parties of the receivable it backs
        (the chain must hold its hash already); returns the hash: the body's SHA-256, or
        ``document_hash`` (an event's CBV 2.0 hash, for an EPCIS XML document)."""
        digest = hashlib.sha256(body).digest() if document_hash is None else document_hash
        self._client.raw_put(
            f"/v1/private/documents/{digest.hex()}",
            content=body,
            headers={"content-type": "application/octet-stream"},
        )
        return digest

    def private_document(self, document_hash: bytes) -> bytes:
        """A trade document's body from this node (which pulls it from the other parties' nodes
        when it lacks it), checked here too: ``ClientError`` ``private_data_mismatch`` when the
        body is not the document of ``document_hash``."""
        body = self._client.raw_get(f"/v1/private/documents/{document_hash.hex()}")
        if hashlib.sha256(body).digest() != document_hash and document_hash not in (
            xml_event_hashes(body)
        ):
            raise ClientError(
                "private_data_mismatch", f"the node served another body for {document_hash.hex()}"
            )
        return body

    def epcis_events(
        self, key: str, *, start: int = 0, per_page: int = 100, height: int | None = None
    ) -> EpcisPage:
        """The EPCIS 2.0 query ``GET /v1/epcis/events?MATCH_anyEPC=…``: a page of the item's
        events as an ``EPCISQueryDocument``. Every record's proof is checked and the document
        must be exactly the one ``jinqiao.epcis.query`` makes of the proven records. An item
        never commissioned raises ``ClientError`` ``not_found``."""
        canonical = parse_key(key).canonical
        if not 1 <= per_page <= 100 or not 0 <= start <= 2**63 - 1:
            raise ValueError("per_page is 1..100 and start 0..2**63-1")
        params: dict[str, Any] = {"MATCH_anyEPC": key, "perPage": per_page}
        if start:
            params["nextPageToken"] = str(start)
        if height is not None:
            params["height"] = height
        answer, absent = self._client.answer_or_absence("/v1/epcis/events", params)
        if absent:
            raise ClientError("not_found", f"{canonical} was never commissioned", 404, **answer)
        proofs = answer.get("jinqiao:proofs")
        if not isinstance(proofs, dict) or not isinstance(proofs.get("events"), list):
            raise VerificationError("the EPCIS answer has no proofs")
        checker = _ProofChecker(self._client)
        item_proof = checker.proof(proofs, SUPPLYCHAIN, item_key(canonical), height)
        if item_proof.value is None:
            raise VerificationError(f"{canonical} is proven absent")
        item = decode(item_proof.value, Item, max_bytes=MAX_PROOF_BYTES)
        height = item_proof.header.height
        end = min(item.event_count, start + per_page)
        if len(proofs["events"]) != max(0, end - start):
            raise VerificationError("the EPCIS answer is not the page asked for")
        entries = list(zip(range(start, end), proofs["events"], strict=True))
        events = self._events(checker, item, entries, height)
        document = {
            name: value for name, value in answer.items() if not name.startswith("jinqiao:")
        }
        if document != query_document(events, item_proof.header.time_ms):
            raise VerificationError("the EPCIS document is not the one its proven records give")
        following = end if end < item.event_count else None
        token = None if following is None else str(following)
        if answer.get("jinqiao:nextPageToken") != token:
            raise VerificationError("the EPCIS answer's next page is wrong")
        return EpcisPage(document, tuple(events), following, height, checker.verified)

    # -- verification ----------------------------------------------------------------------
    def verify(self, scan: str, *, height: int | None = None) -> ItemVerification:
        """Verify a scanned label (or a bare key) through ``GET /v1/verify``: every proof in the
        answer is checked (unless the client was made with ``verify=False``) and the verdict is
        recomputed here from the proven values; a disagreement raises ``VerificationError``."""
        scanned = parse_scan(scan)
        canonical = parse_key(scanned.key_text).canonical
        query = {"scan": scan, **({} if height is None else {"height": height})}
        answer, _ = self._client.answer_or_absence("/v1/verify", query)
        if answer.get("id") != canonical:
            raise VerificationError("the node verified another item")
        checker = _ProofChecker(self._client)
        item_proof = checker.proof(answer.get("item_proof"), SUPPLYCHAIN, item_key(canonical))
        at = item_proof.header.height
        if height is not None and at != height:
            raise VerificationError(f"asked for height {height}, the proofs are at {at}")
        if item_proof.value is None:
            verification = verify_item(None, False, (), "absent")
            _same_verdict(verification, answer)
            return ItemVerification(canonical, verification, None, 0, (), at, checker.verified)
        item = decode(item_proof.value, Item, max_bytes=MAX_PROOF_BYTES)
        custody = self._custody(checker, item, answer, at)
        entries = answer.get("trace")
        first = max(0, item.event_count - TRACE_EVENTS)
        if not isinstance(entries, list) or len(entries) != item.event_count - first:
            raise VerificationError("the trace is not the item's latest events")
        sequences = range(first, item.event_count)
        trace = self._events(checker, item, list(zip(sequences, entries, strict=True)), at)
        signature = self._signature(checker, scanned, canonical, item, answer.get("signer"), at)
        verification = verify_item(item, custody.recalled, trace, signature)
        _same_verdict(verification, answer)
        return ItemVerification(
            canonical,
            verification,
            custody,
            item.event_count,
            tuple(trace),
            at,
            checker.verified,
        )

    @staticmethod
    def _recalled(checker: _ProofChecker, item: Item, view: Any, height: int) -> bool:
        if not item.lot or not item.id.startswith("01/"):
            return False
        if view is None:
            raise VerificationError("the answer has no recall proof for a lot")
        key = recall_key(item.id.split("/")[1], item.lot)
        return checker.proof(view, SUPPLYCHAIN, key, height).value is not None

    @staticmethod
    def _events(
        checker: _ProofChecker, item: Item, entries: list[tuple[int, Any]], height: int
    ) -> list[EventRecord]:
        """The events of history entries ``(sequence, {"pointer", "record"})``: each pointer
        proven at ``history/<item>/<sequence>`` and each record at the event it names. Entry 0
        has no pointer: it names the (proven) item's ``first_event``."""
        events = []
        for sequence, entry in entries:
            if not isinstance(entry, dict):
                raise VerificationError(f"history entry {sequence} is not an object")
            if sequence == 0:
                if entry.get("pointer") is not None:
                    raise VerificationError("history entry 0 has a pointer (it is first_event)")
                event_hash = item.first_event
            else:
                pointer = checker.proof(
                    entry.get("pointer"), SUPPLYCHAIN, history_key(item.id, sequence), height
                )
                if pointer.value is None:
                    raise VerificationError(f"history entry {sequence} is proven absent")
                event_hash = decode(pointer.value, bytes, max_bytes=64)
            record = checker.proof(entry.get("record"), SUPPLYCHAIN, event_key(event_hash), height)
            if record.value is None:
                raise VerificationError(f"event {event_hash.hex()} is proven absent")
            events.append(decode(record.value, EventRecord, max_bytes=MAX_PROOF_BYTES))
        return events

    def _signature(
        self,
        checker: _ProofChecker,
        scanned: Any,
        canonical: str,
        item: Item,
        view: dict[str, Any] | None,
        height: int,
    ) -> str:
        if not scanned.signer:
            return "absent"
        if view is None:
            raise VerificationError("the answer has no proof of the label's signer")
        proven = checker.proof(view, REGISTRY, account_key(scanned.signer), height)
        account = (
            None
            if proven.value is None
            else decode(proven.value, Account, max_bytes=MAX_PROOF_BYTES)
        )
        valid = (
            account is not None
            and account.active
            and account.organization == item.brand_owner
            and self._client.suite.verify(
                account.public_key, label_message(canonical), scanned.signature
            )
        )
        return "valid" if valid else "invalid"


class _ProofChecker:
    """Checks the proof envelopes of one answer: each is for the expected key, at the expected
    height, and (with verification on) verifies against the client's validator set."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self.verified = client.verify

    def proof(
        self, view: Any, contract: str, key: bytes, height: int | None = None
    ) -> StateReadProof:
        text = view.get("proof", "") if isinstance(view, dict) else None
        if (
            not isinstance(text, str)
            or len(text) > MAX_ANSWER_PROOF_HEX
            or not _HEX.fullmatch(text)
        ):
            raise VerificationError("a proof in the answer is not hex")
        proof = decode(bytes.fromhex(text), StateReadProof, max_bytes=MAX_ANSWER_PROOF_HEX // 2)
        if proof.key != contract.encode() + b"/" + key:
            raise VerificationError("a proof in the answer is for another key")
        if height is not None and proof.header.height != height:
            raise VerificationError("the answer's proofs are not at one height")
        if self.verified:
            verify_state_read(
                self._client.genesis,
                proof.header,
                proof.certificate,
                proof.key,
                proof.value,
                proof.proof,
                validators=self._client.validators_for(proof.header),
            )
        return proof


_HEX = re.compile(r"(?:[0-9a-f]{2})*")


def _same_verdict(verification: Verification, answer: dict[str, Any]) -> None:
    if answer.get("verdict") != verification.verdict or list(verification.reasons) != answer.get(
        "reasons"
    ):
        raise VerificationError(
            f"the node says {answer.get('verdict')} {answer.get('reasons')}, the proven values "
            f"say {verification.verdict} {list(verification.reasons)}"
        )


__all__ = [
    "HistoryPage",
    "ItemCustody",
    "ItemVerification",
    "PastDueReport",
    "SupplyChainClient",
]
