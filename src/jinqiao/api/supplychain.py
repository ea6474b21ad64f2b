"""Read endpoints of the supply chain contract (docs/supplychain.md, "API"): items with their
custody, histories, events, recalls, company prefixes, receivables, roots and trade documents,
and the verification of a scanned item (``GET /v1/verify``).

Every state value comes with its ``StateReadProof`` (canonical, hex) in the envelope of
``GET /v1/state/{contract}/{key}`` — ``key``, ``value``, ``height``, ``state_root``, ``proof`` —
plus the decoded record. An answer made of several values reads them all at one height. An
absent item, event, receivable or root is ``404 not_found`` whose details prove the absence
(docs/proofs.md §9.2); a trade document, a recall and a verified item answer their absence with
its proof (a funder checks that an invoice backs nothing yet; a scan of an unknown serial is
proven ``unknown``). Writes go through
``POST /v1/transactions`` like every other contract call.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Response

from jinqiao.api.answers import answer
from jinqiao.api.answers.supplychain import (
    CompanyPrefixAnswer,
    DocumentAnswer,
    EpcisEventsAnswer,
    EventAnswer,
    HistoryAnswer,
    ItemAnswer,
    PastDueAnswer,
    RecallAnswer,
    ReceivableAnswer,
    RootAnswer,
    VerifyAnswer,
)
from jinqiao.api.openapi import LOOKUP, error_responses, hex_pattern, with_proven_absence
from jinqiao.api.proven import proven_absence
from jinqiao.api.render import to_json
from jinqiao.apps.supplychain.authenticity import (
    TRACE_EVENTS,
    ScanError,
    label_message,
    parse_scan,
    verify_item,
)
from jinqiao.apps.supplychain.identifiers import GTIN, IdentifierError, Key, parse_key
from jinqiao.apps.supplychain.model import (
    MAX_NESTING,
    MAX_PAST_DUE_PAGE,
    SUPPLYCHAIN,
    CompanyPrefix,
    DocumentUse,
    EventRecord,
    Item,
    Recall,
    Receivable,
    Root,
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
from jinqiao.core.codec import decode_stored, encode
from jinqiao.core.errors import InvalidInput, NodeFault
from jinqiao.core.proofs import StateReadProof
from jinqiao.epcis.query import query_document
from jinqiao.execution.identity import REGISTRY, Account, account_key
from jinqiao.execution.state import full_key
from jinqiao.node.port import NodePort
from jinqiao.node.reads import NotFound

MAX_ID = 2**63 - 1
MAX_KEY_TEXT = 2048
HISTORY_PAGE_DEFAULT = 100
MAX_API_HISTORY_PAGE = 100
"""A proven history page reads two values per event; 100 keeps one answer under ~1 MB."""

Height = Annotated[int | None, Query(ge=1, le=2**63, description="Default: the head")]
KeyText = Annotated[
    str,
    Query(
        min_length=1,
        max_length=MAX_KEY_TEXT,
        description="A GS1 key in any accepted form: EPC URN, Digital Link URI, canonical path",
    ),
]
HashPath = Annotated[str, Path(pattern=hex_pattern(32), description="32 bytes as 64 hex digits")]
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
READ = with_proven_absence(error_responses(LOOKUP))
PAST_DUE = error_responses(LOOKUP)
ORGANIZATION_ID = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
"""An organization id (``core.genesis.IDENTIFIER``)."""
OrganizationPath = Annotated[str, Path(pattern=ORGANIZATION_ID, max_length=64)]
IDENTIFIER_CODES = (
    "malformed_identifier",
    "invalid_check_digit",
    "malformed_uri",
    "not_serialized",
)
KEYED_READ = with_proven_absence(error_responses(LOOKUP, {400: IDENTIFIER_CODES}))
VERIFY = error_responses(LOOKUP, {400: (*IDENTIFIER_CODES, "malformed_scan")})


def checked_key(text: str, *, serialized: bool = True) -> Key:
    """A GS1 key from a request, or ``400`` with the identifier's rejection code."""
    try:
        key = parse_key(text)
    except IdentifierError as error:
        raise InvalidInput(error.message, code=error.code, identifier=text[:64]) from None
    if serialized and not key.serialized:
        raise InvalidInput(
            f"{key.canonical} names a class, not one item (an SGTIN, SSCC or GRAI is needed)",
            code="not_serialized",
        )
    return key


def envelope(proof: StateReadProof) -> dict[str, Any]:
    """One proven value as ``GET /v1/state`` answers it (the full key, hex)."""
    return {
        "key": proof.key.hex(),
        "value": None if proof.value is None else proof.value.hex(),
        "height": proof.header.height,
        "state_root": proof.header.state_root.hex(),
        "proof": encode(proof).hex(),
    }


def router(node: NodePort) -> APIRouter:
    routes = APIRouter(tags=["supplychain"])
    reader = node.reader

    def read(key: bytes, height: int | None) -> StateReadProof:
        return reader.state(full_key(SUPPLYCHAIN, key), height)

    def record(
        name: str, key: bytes, kind: type[Any], height: int | None, missing: str
    ) -> dict[str, Any]:
        proof = read(key, height)
        if proof.value is None:
            raise proven_absence(missing, proof)
        return {name: to_json(decode_stored(proof.value, kind)), **envelope(proof)}

    def custody(item: Item, height: int) -> tuple[list[StateReadProof], Item]:
        """The proofs of the containers above ``item`` at ``height``, and the top one."""
        chain = [item]
        proofs = []
        for _ in range(MAX_NESTING):
            if not chain[-1].parent:
                break
            proof = read(item_key(chain[-1].parent), height)
            if proof.value is None:
                raise NotFound(f"container {chain[-1].parent} of {item.id} is missing")
            proofs.append(proof)
            chain.append(decode_stored(proof.value, Item))
        return proofs, chain[-1]

    def recall_of(item: Item, height: int) -> StateReadProof | None:
        if not item.lot or not item.id.startswith("01/"):
            return None
        return read(recall_key(item.id.split("/")[1], item.lot), height)

    def item_view(item: Item, item_proof: StateReadProof) -> dict[str, Any]:
        height = item_proof.header.height
        container_proofs, top = custody(item, height)
        recall = recall_of(item, height)
        return {
            "item": to_json(item),
            "custody": {
                "top": top.id,
                "custodian": top.custodian,
                "in_transit_to": "" if top.shipment is None else top.shipment.receiver,
                "recalled": recall is not None and recall.value is not None,
            },
            **envelope(item_proof),
            "containers": [envelope(proof) for proof in container_proofs],
            "recall": None if recall is None else envelope(recall),
        }

    @routes.get(
        "/v1/supplychain/items", response_model=None, responses={**answer(ItemAnswer), **KEYED_READ}
    )
    def item(id: KeyText, height: Height = None) -> dict[str, Any]:
        """An item (SGTIN, SSCC or GRAI in any form) with its effective custody — its top
        container, custodian, open shipment, recall — every value proven at one height."""
        key = checked_key(id)
        proof, record = commissioned(key, height)
        return {"id": key.canonical, **item_view(record, proof)}

    def commissioned(key: Key, height: int | None) -> tuple[StateReadProof, Item]:
        """The item's proof and record, or ``404`` if it was never commissioned."""
        proof = read(item_key(key.canonical), height)
        if proof.value is None:
            raise proven_absence(
                f"{key.canonical} was never commissioned", proof, identifier=key.canonical
            )
        return proof, decode_stored(proof.value, Item)

    def read_many(keys: list[bytes], height: int) -> list[StateReadProof]:
        return reader.state_many([full_key(SUPPLYCHAIN, key) for key in keys], height)

    def history_page(
        item: Item, start: int, limit: int, height: int
    ) -> tuple[list[dict[str, Any]], list[EventRecord]]:
        """Entries ``start``.. of the item's history, each pointer and event proven: two reads
        of the store, one for the pointers and one for the events they name. Entry 0 has no
        pointer (``None``): its hash is the item's ``first_event``, proven with the item."""
        sequences = range(start, min(item.event_count, start + limit))
        read = iter(read_many([history_key(item.id, seq) for seq in sequences if seq], height))
        pointers = [next(read) if sequence else None for sequence in sequences]
        hashes = []
        for sequence, pointer in zip(sequences, pointers, strict=True):
            if pointer is None:
                hashes.append(item.first_event)
                continue
            if pointer.value is None:
                raise NodeFault(f"history entry {sequence} of {item.id} is missing")
            hashes.append(decode_stored(pointer.value, bytes))
        records = read_many([event_key(event_hash) for event_hash in hashes], height)
        entries, events = [], []
        for sequence, pointer, proof in zip(sequences, pointers, records, strict=True):
            if proof.value is None:
                raise NodeFault(f"event {sequence} of {item.id} is missing")
            event = decode_stored(proof.value, EventRecord)
            events.append(event)
            entries.append(
                {
                    "sequence": sequence,
                    "event": to_json(event),
                    "pointer": None if pointer is None else envelope(pointer),
                    "record": envelope(proof),
                }
            )
        return entries, events

    @routes.get(
        "/v1/supplychain/history",
        response_model=None,
        responses={**answer(HistoryAnswer), **KEYED_READ},
    )
    def history(
        id: KeyText,
        start: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
        limit: Annotated[int, Query(ge=1, le=MAX_API_HISTORY_PAGE)] = HISTORY_PAGE_DEFAULT,
        height: Height = None,
    ) -> dict[str, Any]:
        """A page of the item's events, oldest first: each history entry (``history/<key>/<seq>``:
        the event's hash) and the event record, both proven, at the item's height."""
        key = checked_key(id)
        item_proof, item_record = commissioned(key, height)
        entries, _ = history_page(item_record, start, limit, item_proof.header.height)
        end = start + len(entries)
        return {
            "id": key.canonical,
            "event_count": item_record.event_count,
            "events": entries,
            "next_start": end if end < item_record.event_count else None,
            **envelope(item_proof),
        }

    @routes.get(
        "/v1/epcis/events",
        response_model=None,
        responses={**answer(EpcisEventsAnswer), **KEYED_READ},
    )
    def epcis_events(
        response: Response,
        match_any_epc: Annotated[
            str,
            Query(
                alias="MATCH_anyEPC",
                min_length=1,
                max_length=MAX_KEY_TEXT,
                description="The item (SGTIN, SSCC or GRAI in any accepted form)",
            ),
        ],
        per_page: Annotated[
            int, Query(alias="perPage", ge=1, le=MAX_API_HISTORY_PAGE)
        ] = HISTORY_PAGE_DEFAULT,
        next_page_token: Annotated[
            str | None,
            Query(alias="nextPageToken", pattern=r"^[0-9]{1,19}$", description="From a Link"),
        ] = None,
        height: Height = None,
    ) -> dict[str, Any]:
        """EPCIS 2.0 query: the item's events, oldest first, as an ``EPCISQueryDocument``
        rebuilt from the chain's records (``jinqiao.epcis.query``), with the proofs of every
        record under ``jinqiao:proofs`` (as ``/v1/supplychain/history``); the next page is the
        ``Link`` header's (``rel="next"``) and ``jinqiao:nextPageToken``."""
        key = checked_key(match_any_epc)
        start = 0 if next_page_token is None else int(next_page_token)
        if start > MAX_ID:
            raise InvalidInput("nextPageToken is out of range", code="invalid_request")
        item_proof, item_record = commissioned(key, height)
        entries, events = history_page(item_record, start, per_page, item_proof.header.height)
        end = start + len(entries)
        following = str(end) if end < item_record.event_count else None
        if following is not None:
            response.headers["Link"] = (
                f"</v1/epcis/events?MATCH_anyEPC={quote(key.canonical, safe='')}"
                f'&perPage={per_page}&nextPageToken={following}>; rel="next"'
            )
        return {
            **query_document(events, item_proof.header.time_ms),
            "jinqiao:nextPageToken": following,
            "jinqiao:proofs": {
                "id": key.canonical,
                "event_count": item_record.event_count,
                "start": start,
                "events": entries,
                **envelope(item_proof),
            },
        }

    @routes.get(
        "/v1/supplychain/events/{event_hash}",
        response_model=None,
        responses={**answer(EventAnswer), **READ},
    )
    def event(event_hash: HashPath, height: Height = None) -> dict[str, Any]:
        """A recorded EPCIS event by its CBV 2.0 event hash (the 32 bytes of ``ni:///sha-256;…``)."""
        return record(
            "event",
            event_key(bytes.fromhex(event_hash)),
            EventRecord,
            height,
            f"no event {event_hash} is recorded",
        )

    @routes.get(
        "/v1/supplychain/recalls",
        response_model=None,
        responses={**answer(RecallAnswer), **KEYED_READ},
    )
    def recall(
        gtin: KeyText,
        lot: Annotated[str, Query(min_length=1, max_length=20)],
        height: Height = None,
    ) -> dict[str, Any]:
        """Whether a lot is recalled: the ``Recall`` record, or its proven absence
        (``recalled: false``)."""
        key = checked_key(gtin, serialized=False)
        if key.kind != GTIN:
            raise InvalidInput(f"{key.canonical} is not a GTIN", code="malformed_identifier")
        proof = read(recall_key(key.number, lot), height)
        value = None if proof.value is None else to_json(decode_stored(proof.value, Recall))
        return {"recalled": value is not None, "recall": value, **envelope(proof)}

    @routes.get(
        "/v1/supplychain/company-prefixes/{prefix}",
        response_model=None,
        responses={**answer(CompanyPrefixAnswer), **READ},
    )
    def company_prefix(
        prefix: Annotated[str, Path(pattern=r"^[0-9]{4,12}$")], height: Height = None
    ) -> dict[str, Any]:
        """A registered GS1 company prefix and the organization it belongs to."""
        return record(
            "company_prefix",
            company_prefix_key(prefix),
            CompanyPrefix,
            height,
            f"company prefix {prefix} is not registered",
        )

    @routes.get(
        "/v1/supplychain/receivables/{receivable_id}",
        response_model=None,
        responses={**answer(ReceivableAnswer), **READ},
    )
    def receivable(receivable_id: IdPath, height: Height = None) -> dict[str, Any]:
        """A receivable part: holder, face value, status, pledge, open offer."""
        return record(
            "receivable",
            receivable_key(receivable_id),
            Receivable,
            height,
            f"no receivable {receivable_id}",
        )

    @routes.get(
        "/v1/supplychain/roots/{root_id}",
        response_model=None,
        responses={**answer(RootAnswer), **READ},
    )
    def root(root_id: IdPath, height: Height = None) -> dict[str, Any]:
        """A root receivable: obligor, face value, due time, backing, live parts, repaid, past
        due."""
        return record("root", root_key(root_id), Root, height, f"no root receivable {root_id}")

    @routes.get(
        "/v1/supplychain/past-due/{organization}",
        response_model=None,
        responses={**answer(PastDueAnswer), **PAST_DUE},
    )
    def past_due(
        organization: OrganizationPath,
        start: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
        limit: Annotated[int, Query(ge=1, le=MAX_PAST_DUE_PAGE)] = MAX_PAST_DUE_PAGE,
        height: Height = None,
    ) -> dict[str, Any]:
        """The receivables marked past due that name ``organization`` as a party (obligor,
        holder, pledgee), from its past-due list: each list entry, root and live part proven at
        one height, with the days past due at that block's time and what repayment owes it."""
        count_proof = read(past_due_count_key(organization), height)
        at = count_proof.header.height
        count = 0 if count_proof.value is None else decode_stored(count_proof.value, int)
        sequences = range(start, min(count, start + limit))
        pointers = read_many([past_due_key(organization, n) for n in sequences], at)
        root_ids = []
        for sequence, pointer in zip(sequences, pointers, strict=True):
            if pointer.value is None:
                raise NodeFault(f"past-due entry {sequence} of {organization} is missing")
            root_ids.append(decode_stored(pointer.value, int))
        roots = read_many([root_key(root_id) for root_id in root_ids], at)
        rows = []
        for sequence, pointer, root_proof in zip(sequences, pointers, roots, strict=True):
            if root_proof.value is None:
                raise NodeFault(f"past-due entry {sequence} of {organization} names no root")
            root = decode_stored(root_proof.value, Root)
            part_proofs = read_many([receivable_key(part_id) for part_id in root.live_parts], at)
            parts = []
            for proof in part_proofs:
                if proof.value is None:
                    raise NodeFault(f"a live part of receivable {root.id} is missing")
                parts.append(decode_stored(proof.value, Receivable))
            row = past_due_row(root, parts, organization, count_proof.header.time_ms)
            rows.append(
                {
                    "sequence": sequence,
                    "row": to_json(row),
                    "pointer": envelope(pointer),
                    "root": envelope(root_proof),
                    "parts": [envelope(proof) for proof in part_proofs],
                }
            )
        end = start + len(rows)
        return {
            "organization": organization,
            "time_ms": count_proof.header.time_ms,
            "past_due_count": count,
            "rows": rows,
            "next_start": end if end < count else None,
            **envelope(count_proof),
        }

    @routes.get(
        "/v1/supplychain/documents/{document_hash}",
        response_model=None,
        responses={**answer(DocumentAnswer), **READ},
    )
    def document(document_hash: HashPath, height: Height = None) -> dict[str, Any]:
        """Which root receivable a trade document backs, or its proven absence (``root_id:
        null``): a funder's check that an invoice is not financed yet."""
        proof = read(document_key(bytes.fromhex(document_hash)), height)
        use = None if proof.value is None else decode_stored(proof.value, DocumentUse)
        return {
            "document_hash": document_hash,
            "root_id": None if use is None else use.root_id,
            **envelope(proof),
        }

    @routes.get("/v1/verify", response_model=None, responses={**answer(VerifyAnswer), **VERIFY})
    def verify(
        scan: Annotated[
            str,
            Query(
                min_length=1,
                max_length=MAX_KEY_TEXT,
                description="The label's text (Digital Link with sig and signer) or a bare key",
            ),
        ],
        height: Height = None,
    ) -> dict[str, Any]:
        """Is this item genuine, where has it been, who holds it, is it recalled: a verdict
        (``genuine``, ``unknown``, ``suspicious``) with every reason that applies, from the
        item, its containers, its recall, its latest events and the label's signer, every value
        proven at one height."""
        try:
            scanned = parse_scan(scan)
        except ScanError as error:
            raise InvalidInput(str(error), code=error.code) from None
        key = checked_key(scanned.key_text)
        item_proof = read(item_key(key.canonical), height)
        at = item_proof.header.height
        answer: dict[str, Any] = {"id": key.canonical, "item_proof": envelope(item_proof)}
        if item_proof.value is None:
            verdict = verify_item(None, False, (), "absent")
            return {**answer, **_verdict_json(verdict), "height": at}
        item_record = decode_stored(item_proof.value, Item)
        view = item_view(item_record, item_proof)
        first = max(0, item_record.event_count - TRACE_EVENTS)
        entries, records = history_page(item_record, first, TRACE_EVENTS, at)
        signature, signer_view = "absent", None
        if scanned.signer:
            account_proof = reader.state(full_key(REGISTRY, account_key(scanned.signer)), at)
            signer_view = envelope(account_proof)
            account = (
                None if account_proof.value is None else decode_stored(account_proof.value, Account)
            )
            signature = (
                "valid"
                if account is not None
                and account.active
                and account.organization == item_record.brand_owner
                and node.suite.verify(
                    account.public_key, label_message(key.canonical), scanned.signature
                )
                else "invalid"
            )
        verdict = verify_item(item_record, view["custody"]["recalled"], records, signature)
        return {
            **answer,
            **_verdict_json(verdict),
            "height": at,
            "state_root": item_proof.header.state_root.hex(),
            "item": view["item"],
            "custody": view["custody"],
            "containers": view["containers"],
            "recall": view["recall"],
            "event_count": item_record.event_count,
            "trace": entries,
            "signer": signer_view,
        }

    return routes


def _verdict_json(verdict: Any) -> dict[str, Any]:
    return {
        "verdict": verdict.verdict,
        "reasons": list(verdict.reasons),
        "signature": verdict.signature,
        "clone_sightings": [list(pair) for pair in verdict.clone_sightings],
    }


__all__ = ["checked_key", "envelope", "router"]
