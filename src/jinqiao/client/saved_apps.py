"""Saved answers of the applications' routes — supply chain, credit, a cycle's figures —
checked offline (docs/proofs.md §11; ``jinqiao.client.saved`` holds the format and the rest).

Each check replays the saved answer to the SDK's own proven read of that route
(``client.supplychain.item``, ``history_page``, ``verify``, ``client.credit.records_page``,
``client.payments.proven_figures``, or ``Client.read_record`` for a route that answers one
value), so the offline check is the live one. Then the answer as shown must be exactly what the
proven values give: the expected answer is rebuilt from them — each proof envelope (``key``,
``value``, ``height``, ``time_ms``, ``state_root``) from the proof the SDK checked, each decoded
record and derived field (custody, verdict, figures, next page) from the proven values — and
every field the answer shows must equal it (a field left out shows nothing false).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from jinqiao.apps.credit.model import (
    CREDIT,
    Consent,
    ModelRecord,
    PolicyRecord,
    RecordCommitment,
    ScoreRecord,
    Subject,
    access_key,
    consent_key,
    model_key,
    policy_key,
    record_key,
    score_key,
    subject_key,
)
from jinqiao.apps.payments.figures import format_ppm_percent
from jinqiao.apps.supplychain.authenticity import ScanError, parse_scan
from jinqiao.apps.supplychain.identifiers import IdentifierError, parse_key
from jinqiao.apps.supplychain.model import (
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
    item_key,
    recall_key,
    receivable_key,
    root_key,
)
from jinqiao.client.saved import (
    Check,
    SavedAnswer,
    SavedAnswerInvalid,
    _check_proven_fields,
    _heights,
    _record,
    _require,
    _shown,
    record_route,
)
from jinqiao.client.supplychain import ItemCustody
from jinqiao.client.verified import Verified
from jinqiao.core.codec import decode, json_view
from jinqiao.execution.state import full_key
from jinqiao.verify import VerificationError

if TYPE_CHECKING:
    from jinqiao.client.client import Client

# ------------------------------------------------------------------------------------------------
# The answer as the proven values give it.


def _envelope(view: Any) -> dict[str, Any]:
    """The proof envelope a proven value is shown in, rebuilt from its proof (which the SDK has
    checked): the full key, the value, the header's height, time and state root."""
    if not isinstance(view, dict):
        raise VerificationError("a proven value of the answer is not an object")
    proof = _check_proven_fields(view, view.get("proof"))
    return {
        "key": proof.key.hex(),
        "value": None if proof.value is None else proof.value.hex(),
        "height": proof.header.height,
        "time_ms": proof.header.time_ms,
        "state_root": proof.header.state_root.hex(),
        "proof": view["proof"],
    }


def _same(shown: Any, expected: Any, where: str = "the answer") -> None:
    """Every field ``shown`` must be what ``expected`` (rebuilt from proven values) says; a
    field left out of an object shows nothing false, an item left out of a list changes it."""
    if isinstance(shown, dict) and isinstance(expected, dict):
        for name, value in shown.items():
            if name not in expected:
                raise VerificationError(f"{where} shows {name}, which no proof covers")
            _same(value, expected[name], f"{where}.{name}")
        return
    if isinstance(shown, list) and isinstance(expected, list):
        if len(shown) != len(expected):
            raise VerificationError(
                f"{where} lists {len(shown)} items; the proofs give {len(expected)}"
            )
        for index, (value, wanted) in enumerate(zip(shown, expected, strict=True)):
            _same(value, wanted, f"{where}[{index}]")
        return
    if shown != expected or type(shown) is not type(expected):
        raise VerificationError(
            f"{where} shows {str(shown)[:80]!r}; the proofs say {str(expected)[:80]!r}"
        )


def _absent(shown: dict[str, Any], what: str, height: int, **details: Any) -> Verified:
    """A 404 whose details prove the absence (the SDK checked the proof)."""
    _same(shown, {**_envelope(shown), **details})
    return Verified(f"{what}: absent (proven) at height {height}", height)


def _param(saved: SavedAnswer, name: str) -> str:
    value = saved.params.get(name)
    if value is None:
        raise SavedAnswerInvalid(f"the request has no {name} parameter")
    return value


def _number(saved: SavedAnswer, name: str, default: int) -> int:
    value = saved.params.get(name)
    try:
        return default if value is None else int(value)
    except ValueError:
        raise SavedAnswerInvalid(f"parameter {name} is not an integer") from None


def _canonical(text: str) -> str:
    try:
        return parse_key(text).canonical
    except IdentifierError as error:
        raise SavedAnswerInvalid(f"the request's key is not a GS1 key: {error}") from None


# ------------------------------------------------------------------------------------------------
# Supply chain.


def _custody_view(custody: ItemCustody) -> dict[str, Any]:
    return {
        "top": custody.top,
        "custodian": custody.custodian,
        "in_transit_to": custody.in_transit_to,
        "recalled": custody.recalled,
    }


def _item_views(item: Item, shown: dict[str, Any]) -> dict[str, Any]:
    """The containers and the recall as shown, each rebuilt from its (checked) proof; a recall
    only for an item whose lot can be recalled."""
    containers = shown.get("containers", [])
    recallable = bool(item.lot) and item.id.startswith("01/")
    return {
        "containers": [_envelope(view) for view in containers]
        if isinstance(containers, list)
        else None,
        "recall": _envelope(shown.get("recall")) if recallable else None,
    }


def _item(client: Client, groups: dict[str, str], saved: SavedAnswer) -> Verified:
    canonical = _canonical(_param(saved, "id"))
    custody = client.supplychain.item(canonical, height=_heights(saved)["height"])
    shown = _shown(saved.answer)
    if custody is None:
        at = _height_of(shown)
        return _absent(shown, f"item {canonical}", at, identifier=canonical)
    expected = {
        "id": canonical,
        "item": json_view(custody.item),
        "custody": _custody_view(custody),
        **_envelope(shown),
        **_item_views(custody.item, shown),
    }
    _same(shown, expected)
    where = f", in transit to {custody.in_transit_to}" if custody.in_transit_to else ""
    recalled = ", its lot recalled" if custody.recalled else ""
    return Verified(
        f"item {canonical}: held by {custody.custodian} (top {custody.top}){where}{recalled} "
        f"at height {custody.height}",
        custody.height,
    )


def _height_of(shown: Mapping[str, Any]) -> int:
    """The height of the proof an answer shows (checked by the SDK before this is called)."""
    return _check_proven_fields(shown, shown.get("proof")).header.height


def _history(client: Client, groups: dict[str, str], saved: SavedAnswer) -> Verified:
    canonical = _canonical(_param(saved, "id"))
    start, limit = _number(saved, "start", 0), _number(saved, "limit", 100)
    page = client.supplychain.history_page(
        canonical, start=start, limit=limit, height=_heights(saved)["height"]
    )
    shown = _shown(saved.answer)
    if page.item is None:
        return _absent(shown, f"item {canonical}", page.height, identifier=canonical)
    expected = {
        "id": canonical,
        "event_count": page.item.event_count,
        "events": _history_views(page.events, start, shown.get("events")),
        "next_start": page.next_start,
        **_envelope(shown),
    }
    _same(shown, expected)
    return Verified(
        f"history of {canonical}: events {start} to {start + len(page.events)} of "
        f"{page.item.event_count} at height {page.height}",
        page.height,
    )


def _history_views(
    events: tuple[EventRecord, ...], start: int, entries: Any
) -> list[dict[str, Any]]:
    """History entries as shown (``sequence``, ``event``, ``pointer``, ``record``), rebuilt from
    the proven events and the entries' (checked) proofs."""
    views = entries if isinstance(entries, list) else []
    return [
        {
            "sequence": start + index,
            "event": json_view(event),
            "pointer": None if start + index == 0 else _envelope(view.get("pointer")),
            "record": _envelope(view.get("record")),
        }
        for index, (event, view) in enumerate(zip(events, views, strict=True))
    ]


def _epcis_events(client: Client, groups: dict[str, str], saved: SavedAnswer) -> Verified:
    canonical = _canonical(_param(saved, "MATCH_anyEPC"))
    if saved.status == 404:  # never commissioned: the item's absence, proven
        key = full_key(SUPPLYCHAIN, item_key(canonical))
        verified = _record(client, saved, key, None, f"item {canonical}")
        _require(_shown(saved.answer), "identifier", canonical)
        return verified
    start = _number(saved, "nextPageToken", 0)
    page = client.supplychain.epcis_events(
        canonical,
        start=start,
        per_page=_number(saved, "perPage", 100),
        height=_heights(saved)["height"],
    )
    shown = _shown(saved.answer)
    proofs: dict[str, Any] = shown["jinqiao:proofs"]  # an object: the SDK checked it
    proven = _envelope(proofs)
    item = decode(bytes.fromhex(proven["value"]), Item, max_bytes=1 << 20)
    expected = {
        **page.document,
        "jinqiao:nextPageToken": None if page.next_start is None else str(page.next_start),
        "jinqiao:proofs": {
            "id": canonical,
            "event_count": item.event_count,
            "start": start,
            "events": _history_views(page.events, start, proofs["events"]),
            **proven,
        },
    }
    _same(shown, expected)
    return Verified(
        f"EPCIS events of {canonical}: {start} to {start + len(page.events)} of "
        f"{item.event_count}, the document rebuilt from proven records at height {page.height}",
        page.height,
    )


def _verify(client: Client, groups: dict[str, str], saved: SavedAnswer) -> Verified:
    scan = _param(saved, "scan")
    try:
        scanned = parse_scan(scan)
    except ScanError as error:
        raise SavedAnswerInvalid(f"the request's scan is not a label: {error}") from None
    checked = client.supplychain.verify(scan, height=_heights(saved)["height"])
    shown = _shown(saved.answer)
    verification = checked.verification
    expected: dict[str, Any] = {
        "id": checked.id,
        "item_proof": _envelope(shown.get("item_proof")),
        "verdict": verification.verdict,
        "reasons": list(verification.reasons),
        "signature": verification.signature,
        "clone_sightings": [list(pair) for pair in verification.clone_sightings],
        "height": checked.height,
    }
    if checked.custody is not None:
        item = checked.custody.item
        first = item.event_count - len(checked.trace)
        expected |= {
            "state_root": expected["item_proof"]["state_root"],
            "item": json_view(item),
            "custody": _custody_view(checked.custody),
            **_item_views(item, shown),
            "event_count": checked.event_count,
            "trace": _history_views(checked.trace, first, shown.get("trace")),
            "signer": _envelope(shown.get("signer")) if scanned.signer else None,
        }
    _same(shown, expected)
    reasons = f" ({', '.join(verification.reasons)})" if verification.reasons else ""
    return Verified(
        f"verification of {checked.id}: {verification.verdict}{reasons}, recomputed from proven "
        f"state at height {checked.height}",
        checked.height,
    )


def _supplychain_record(
    key: Callable[[dict[str, str]], bytes], field: str, kind: type[Any], what: str
) -> Check:
    return record_route(SUPPLYCHAIN, key, field, kind, what, shows_contract_key=False)


def _recall(client: Client, groups: dict[str, str], saved: SavedAnswer) -> Verified:
    try:
        gtin = parse_key(_param(saved, "gtin"))
    except IdentifierError as error:
        raise SavedAnswerInvalid(f"the request's GTIN is not one: {error}") from None
    lot = _param(saved, "lot")
    key = full_key(SUPPLYCHAIN, recall_key(gtin.number, lot))
    verified = _record(client, saved, key, ("recall", Recall), f"recall of {gtin.canonical} {lot}")
    shown = _shown(saved.answer)
    _require(shown, "recalled", shown.get("value") is not None)
    return verified


def _document(client: Client, groups: dict[str, str], saved: SavedAnswer) -> Verified:
    document_hash = groups["document_hash"]
    key = full_key(SUPPLYCHAIN, document_key(bytes.fromhex(document_hash)))
    verified = _record(client, saved, key, None, f"document {document_hash}")
    shown = _shown(saved.answer)
    value = shown.get("value")
    use = None if value is None else decode(bytes.fromhex(value), DocumentUse, max_bytes=4096)
    _require(shown, "document_hash", document_hash)
    _require(shown, "root_id", None if use is None else use.root_id)
    return verified


# ------------------------------------------------------------------------------------------------
# Credit.


def _credit_record(
    key: Callable[[dict[str, str]], bytes], field: str, kind: type[Any], what: str
) -> Check:
    return record_route(CREDIT, key, field, kind, what)


def _credit_list(route: str) -> Check:
    def check(client: Client, groups: dict[str, str], saved: SavedAnswer) -> Verified:
        subject = bytes.fromhex(groups["subject"])
        start, limit = _number(saved, "start", 0), _number(saved, "limit", 100)
        read = client.credit.records_page if route == "records" else client.credit.access_log_page
        page = read(subject, start=start, limit=limit, height=_heights(saved)["height"])
        shown = _shown(saved.answer)
        key_of = record_key if route == "records" else access_key
        entries = shown.get("entries")
        views = entries if isinstance(entries, list) else []

        def envelope(view: Any, key: bytes) -> dict[str, Any]:
            full = _envelope(view)
            return {"key": key.hex(), **{k: full[k] for k in ("height", "state_root", "proof")}}

        expected = {
            "subject": None if page.subject is None else json_view(page.subject),
            **envelope(shown, subject_key(subject)),
            "entries": [
                {"entry": json_view(value), **envelope(view, key_of(subject, start + index))}
                for index, (value, view) in enumerate(zip(page.entries, views, strict=True))
            ],
            "next_start": page.next_start,
        }
        _same(shown, expected)
        name = "record commitments" if route == "records" else "access log"
        return Verified(
            f"credit subject {groups['subject']}: {name} {start} to "
            f"{start + len(page.entries)} at height {page.height}",
            page.height,
        )

    return check


# ------------------------------------------------------------------------------------------------
# A cycle's figures.


def _figures(client: Client, groups: dict[str, str], saved: SavedAnswer) -> Verified:
    cycle_id = int(groups["cycle_id"])
    heights = _heights(saved)
    proven = client.payments.proven_figures(
        cycle_id, height=heights["height"], min_height=heights["min_height"]
    )
    shown = _shown(saved.answer)
    if proven is None:
        return _absent(shown, f"cycle {cycle_id}", _height_of(shown))
    proofs = shown.get("proofs")
    given = proofs if isinstance(proofs, dict) else {}
    headers = shown.get("headers")
    header_views = headers if isinstance(headers, list) else []
    expected = {
        "figures": json_view(proven.figures),
        "netting_efficiency": format_ppm_percent(proven.figures.netting_efficiency_ppm),
        "status": proven.cycle.status,
        "currency": proven.cycle.currency,
        "timing": json_view(proven.timing),
        "headers": [
            {
                "height": height,
                "time_ms": time_ms,
                "header_bytes": view.get("header_bytes"),
                "certificate_bytes": view.get("certificate_bytes"),
            }
            for (height, time_ms), view in zip(
                proven.block_times_ms.items(), header_views, strict=True
            )
        ],
        "positions": [json_view(position) for position in proven.positions],
        "height": proven.height,
        "time_ms": proven.time_ms,
        "state_root": proven.state_root.hex(),
        "proofs": {
            "cycle": given.get("cycle"),
            "participants": given.get("participants"),
            "positions": given.get("positions"),
        },
    }
    _same(shown, expected)
    figures = proven.figures
    return Verified(
        f"figures of cycle {cycle_id}: gross {figures.gross_minor}, net {figures.net_minor} "
        f"minor units, {len(proven.positions)} positions, recomputed from proven state at "
        f"height {proven.height}",
        proven.height,
    )


def _past_due(client: Client, groups: dict[str, str], saved: SavedAnswer) -> Verified:
    organization = groups["organization"]
    start, limit = _number(saved, "start", 0), _number(saved, "limit", MAX_PAST_DUE_PAGE)
    report = client.supplychain.past_due_page(
        organization, start=start, limit=limit, height=_heights(saved)["height"]
    )
    shown = _shown(saved.answer)
    entries = shown.get("rows")
    views = entries if isinstance(entries, list) else []
    expected = {
        "organization": organization,
        "time_ms": report.time_ms,
        "past_due_count": report.count,
        "rows": [
            {
                "sequence": start + index,
                "row": json_view(row),
                "pointer": _envelope(view.get("pointer")),
                "root": _envelope(view.get("root")),
                "parts": [_envelope(part) for part in view.get("parts", [])],
            }
            for index, (row, view) in enumerate(zip(report.rows, views, strict=True))
        ],
        "next_start": report.next_start,
        **_envelope(shown),
    }
    _same(shown, expected)
    return Verified(
        f"past-due receivables of {organization}: rows {start} to {start + len(report.rows)} "
        f"of {report.count} at height {report.height}",
        report.height,
    )


APP_ROUTES: list[tuple[str, Check]] = [
    ("GET /v1/supplychain/items", _item),
    ("GET /v1/supplychain/history", _history),
    ("GET /v1/verify", _verify),
    ("GET /v1/epcis/events", _epcis_events),
    (
        "GET /v1/supplychain/events/{event_hash}",
        _supplychain_record(
            lambda g: event_key(bytes.fromhex(g["event_hash"])), "event", EventRecord, "event"
        ),
    ),
    ("GET /v1/supplychain/recalls", _recall),
    (
        "GET /v1/supplychain/company-prefixes/{prefix}",
        _supplychain_record(
            lambda g: company_prefix_key(g["prefix"]),
            "company_prefix",
            CompanyPrefix,
            "company prefix",
        ),
    ),
    (
        "GET /v1/supplychain/receivables/{receivable_id}",
        _supplychain_record(
            lambda g: receivable_key(int(g["receivable_id"])),
            "receivable",
            Receivable,
            "receivable",
        ),
    ),
    (
        "GET /v1/supplychain/roots/{root_id}",
        _supplychain_record(lambda g: root_key(int(g["root_id"])), "root", Root, "root receivable"),
    ),
    ("GET /v1/supplychain/documents/{document_hash}", _document),
    ("GET /v1/supplychain/past-due/{organization}", _past_due),
    (
        "GET /v1/credit/subjects/{subject}",
        _credit_record(
            lambda g: subject_key(bytes.fromhex(g["subject"])),
            "subject",
            Subject,
            "credit subject {subject}",
        ),
    ),
    (
        "GET /v1/credit/subjects/{subject}/consents/{consent_id}",
        _credit_record(
            lambda g: consent_key(bytes.fromhex(g["subject"]), int(g["consent_id"])),
            "consent",
            Consent,
            "consent {consent_id} of credit subject {subject}",
        ),
    ),
    ("GET /v1/credit/subjects/{subject}/records", _credit_list("records")),
    (
        "GET /v1/credit/subjects/{subject}/records/{sequence}",
        _credit_record(
            lambda g: record_key(bytes.fromhex(g["subject"]), int(g["sequence"])),
            "record",
            RecordCommitment,
            "record {sequence} of credit subject {subject}",
        ),
    ),
    ("GET /v1/credit/subjects/{subject}/access-log", _credit_list("access-log")),
    (
        "GET /v1/credit/subjects/{subject}/scores/{sequence}",
        _credit_record(
            lambda g: score_key(bytes.fromhex(g["subject"]), int(g["sequence"])),
            "score",
            ScoreRecord,
            "score {sequence} of credit subject {subject}",
        ),
    ),
    (
        "GET /v1/credit/models/{model_id}/{version}",
        _credit_record(
            lambda g: model_key(g["model_id"], int(g["version"])),
            "model",
            ModelRecord,
            "credit model {model_id} version {version}",
        ),
    ),
    (
        "GET /v1/credit/policies/{organization}/{policy_id}",
        _credit_record(
            lambda g: policy_key(g["organization"], g["policy_id"]),
            "policy",
            PolicyRecord,
            "policy {policy_id} of {organization}",
        ),
    ),
    ("GET /v1/payments/cycles/{cycle_id}/figures", _figures),
]
"""The applications' routes (OpenAPI templates) a saved answer may come from, and their
checks."""


__all__ = ["APP_ROUTES"]
