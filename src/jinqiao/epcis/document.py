"""Parse, validate and hash EPCIS 2.0 documents.

A JSON-LD document is validated against the EPCIS 2.0 JSON Schema (GS1's, fetched by
``tools/fetch_epcis_schemas.py``). Its ``@context`` may name only the standard EPCIS 2.0 context
URLs (``STANDARD_CONTEXTS``) and inline prefix mappings (``{"prefix": "https://…"}``): the hash
implementation expands JSON-LD, and any other context would be fetched from the network.

An XML document is parsed without DTDs or entities (a ``<!DOCTYPE`` is refused) and checked
structurally: the root is ``EPCISDocument`` in the namespace ``urn:epcglobal:epcis:xsd:2`` with
``schemaVersion="2.0"`` and a ``creationDate``, the events are under ``EPCISBody/EventList`` and
each has an ``eventTime`` and ``eventTimeZoneOffset`` (and a valid ``action`` where the event
type has one). No registry ships the EPCIS 2.0 XSD under a licence that allows it, so the XML is
not validated against the XSD (ADR 0015).

Each event's hash is the CBV 2.0 event hash (``ni:///sha-256;<hex>?ver=CBV2.0``) computed by the
reference implementation, ``epcis-event-hash-generator``: the same event in JSON-LD and in XML
has the same hash.
"""

from __future__ import annotations

import copy
import json
import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema_rs
from epcis_event_hash_generator import hash_generator, json_to_py, xml_to_py

MAX_DOCUMENT_BYTES = 4 * 1024 * 1024
MAX_EVENTS = 1_000
MAX_PROBLEMS = 20
STANDARD_CONTEXTS = frozenset(
    {
        "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
        "https://gs1.github.io/EPCIS/epcis-context.jsonld",
    }
)
XML_NAMESPACE = "urn:epcglobal:epcis:xsd:2"
EVENT_TYPES = (
    "ObjectEvent",
    "AggregationEvent",
    "TransactionEvent",
    "TransformationEvent",
    "AssociationEvent",
)
ACTIONS = ("ADD", "OBSERVE", "DELETE")
EVENT_HASH = re.compile(r"ni:///sha-256;([0-9a-f]{64})\?ver=CBV2\.0")
CBV_PREFIXES = ("https://ref.gs1.org/cbv/BizStep-", "urn:epcglobal:cbv:bizstep:")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class EpcisError(Exception):
    """A document that is refused; ``code`` is stable (``docs/errors.md``), ``problems`` lists
    where and what for a schema failure."""

    def __init__(self, code: str, message: str, problems: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.problems = problems


@dataclass(frozen=True)
class CapturedEvent:
    """The key fields of one event, as written in the document (identifiers not yet checked:
    the contract checks and normalizes them). ``biz_step`` is the bare CBV name."""

    type: str
    action: str
    biz_step: str
    event_time_ms: int
    epcs: tuple[str, ...]
    parent_id: str
    child_epcs: tuple[str, ...]
    input_epcs: tuple[str, ...]
    output_epcs: tuple[str, ...]
    read_point: str
    biz_transactions: tuple[tuple[str, str], ...]
    destinations: tuple[tuple[str, str], ...]
    event_hash: str

    @property
    def hash_bytes(self) -> bytes:
        return event_hash_bytes(self.event_hash)


@dataclass(frozen=True)
class Document:
    format: str
    events: tuple[CapturedEvent, ...]


class SchemaValidator:
    """The EPCIS 2.0 JSON Schema, compiled once."""

    def __init__(self, schema_path: Path) -> None:
        self._validator = jsonschema_rs.validator_for(json.loads(schema_path.read_text()))

    def problems(self, document: object) -> tuple[str, ...]:
        found = []
        for error in self._validator.iter_errors(document):
            where = "/".join(str(part) for part in error.instance_path) or "(document)"
            found.append(f"{where}: {error.message[:200]}")
            if len(found) == MAX_PROBLEMS:
                break
        return tuple(found)


def xml_event_hashes(data: bytes) -> frozenset[bytes]:
    """The CBV 2.0 hashes (32 bytes each) of the events of an EPCIS 2.0 XML document; none for
    anything else (JSON-LD, which is read only against the schema, not every node's to hold, or
    bytes that are not a valid document). What a private document's body is checked with when
    the chain names it by an event's hash (docs/access.md "Private data")."""
    if data.lstrip()[:1] != b"<":
        return frozenset()
    try:
        document = parse_document(data, None)
    except EpcisError:
        return frozenset()
    return frozenset(event.hash_bytes for event in document.events)


def event_hash_bytes(event_hash: str) -> bytes:
    """The 32 bytes of a ``ni:///sha-256;…?ver=CBV2.0`` event hash."""
    match = EVENT_HASH.fullmatch(event_hash)
    if match is None:
        raise EpcisError("epcis_invalid_hash", f"{event_hash[:100]!r} is not a CBV 2.0 event hash")
    return bytes.fromhex(match.group(1))


def parse_document(data: bytes, validator: SchemaValidator | None) -> Document:
    """The events of an EPCIS 2.0 document (JSON-LD if it starts with ``{``, else XML). XML needs
    no ``validator``; JSON-LD without one is refused (``epcis_schema_invalid``)."""
    if len(data) > MAX_DOCUMENT_BYTES:
        raise EpcisError("epcis_too_large", f"a document is at most {MAX_DOCUMENT_BYTES} bytes")
    if data.lstrip()[:1] == b"{":
        if validator is None:
            raise EpcisError(
                "epcis_schema_invalid",
                "a JSON-LD document is validated against the EPCIS 2.0 JSON Schema; none is "
                "available here (tools/fetch_epcis_schemas.py)",
            )
        return _parse_json(data, validator)
    return _parse_xml(data)


# -- JSON-LD ----------------------------------------------------------------------------------


def _parse_json(data: bytes, validator: SchemaValidator) -> Document:
    try:
        document = json.loads(data)
    except (ValueError, RecursionError) as error:
        raise EpcisError("epcis_malformed", f"not JSON: {str(error)[:200]}") from None
    problems = validator.problems(document)
    if problems:
        raise EpcisError(
            "epcis_schema_invalid", "the document does not match the EPCIS 2.0 schema", problems
        )
    if document.get("type") != "EPCISDocument":
        raise EpcisError("epcis_schema_invalid", "only an EPCISDocument is captured")
    _check_context(document.get("@context"))
    body = document["epcisBody"]
    raw_events = body["eventList"] if "eventList" in body else [body["event"]]
    _check_count(len(raw_events))
    # The reference code rewrites the document it is given (bare CBV values to URIs): a copy.
    hashes = _hashes(
        lambda: json_to_py.event_list_from_epcis_document_json(copy.deepcopy(document))
    )
    _check_count(len(hashes), expected=len(raw_events))
    events = tuple(
        _json_event(raw, event_hash) for raw, event_hash in zip(raw_events, hashes, strict=True)
    )
    return Document("json", events)


def _check_context(context: object) -> None:
    items = context if isinstance(context, list) else [context]
    for item in items:
        if isinstance(item, str) and item in STANDARD_CONTEXTS:
            continue
        if isinstance(item, dict) and all(
            isinstance(key, str)
            and not key.startswith("@")
            and isinstance(value, str)
            and value.startswith(("http://", "https://", "urn:"))
            for key, value in item.items()
        ):
            continue
        raise EpcisError(
            "epcis_context_refused",
            "@context may name only the standard EPCIS 2.0 context and inline prefix mappings",
        )


def _json_event(raw: dict[str, Any], event_hash: str) -> CapturedEvent:
    def strings(name: str) -> tuple[str, ...]:
        return tuple(str(value) for value in raw.get(name, ()))

    return CapturedEvent(
        type=str(raw["type"]),
        action=str(raw.get("action", "")),
        biz_step=_short_biz_step(str(raw.get("bizStep", ""))),
        event_time_ms=_time_ms(str(raw["eventTime"])),
        epcs=strings("epcList"),
        parent_id=str(raw.get("parentID", "")),
        child_epcs=strings("childEPCs"),
        input_epcs=strings("inputEPCList"),
        output_epcs=strings("outputEPCList"),
        read_point=str(raw.get("readPoint", {}).get("id", "")),
        biz_transactions=tuple(
            (str(item.get("type", "")), str(item["bizTransaction"]))
            for item in raw.get("bizTransactionList", ())
        ),
        destinations=tuple(
            (str(item["type"]), str(item["destination"])) for item in raw.get("destinationList", ())
        ),
        event_hash=event_hash,
    )


# -- XML --------------------------------------------------------------------------------------


def _parse_xml(data: bytes) -> Document:
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise EpcisError("epcis_malformed", "a document may not declare a DTD or entities")
    try:
        root = ElementTree.fromstring(data)  # noqa: S314 (no DTD or entity is left to expand)
    except ElementTree.ParseError as error:
        raise EpcisError("epcis_malformed", f"not XML: {str(error)[:200]}") from None
    if root.tag != f"{{{XML_NAMESPACE}}}EPCISDocument" or root.get("schemaVersion") != "2.0":
        raise EpcisError(
            "epcis_schema_invalid",
            f"the root is not an EPCIS 2.0 EPCISDocument ({XML_NAMESPACE}, schemaVersion 2.0)",
        )
    event_list = root.find("EPCISBody/EventList")
    if root.get("creationDate") is None or event_list is None:
        raise EpcisError("epcis_schema_invalid", "no creationDate or EPCISBody/EventList")
    raw_events = list(event_list)
    _check_count(len(raw_events))
    problems = tuple(problem for raw in raw_events for problem in _xml_problems(raw))
    if problems:
        raise EpcisError("epcis_schema_invalid", "the events are not EPCIS 2.0 events", problems)
    text = data.decode("utf-8", errors="strict")
    hashes = _hashes(lambda: xml_to_py.event_list_from_epcis_document_str(text))
    _check_count(len(hashes), expected=len(raw_events))
    events = tuple(
        _xml_event(raw, event_hash) for raw, event_hash in zip(raw_events, hashes, strict=True)
    )
    return Document("xml", events)


def _xml_problems(raw: ElementTree.Element) -> list[str]:
    if raw.tag not in EVENT_TYPES:
        return [f"{raw.tag[:64]}: not an EPCIS event type"]
    problems = [
        f"{raw.tag}: {name} is missing"
        for name in ("eventTime", "eventTimeZoneOffset")
        if raw.findtext(name) is None
    ]
    if raw.tag != "TransformationEvent" and raw.findtext("action") not in ACTIONS:
        problems.append(f"{raw.tag}: action is not one of {list(ACTIONS)}")
    return problems


def _xml_event(raw: ElementTree.Element, event_hash: str) -> CapturedEvent:
    def epcs(path: str) -> tuple[str, ...]:
        return tuple((element.text or "").strip() for element in raw.findall(path))

    return CapturedEvent(
        type=raw.tag,
        action=(raw.findtext("action") or "").strip(),
        biz_step=_short_biz_step((raw.findtext("bizStep") or "").strip()),
        event_time_ms=_time_ms((raw.findtext("eventTime") or "").strip()),
        epcs=epcs("epcList/epc"),
        parent_id=(raw.findtext("parentID") or "").strip(),
        child_epcs=epcs("childEPCs/epc"),
        input_epcs=epcs("inputEPCList/epc"),
        output_epcs=epcs("outputEPCList/epc"),
        read_point=(raw.findtext("readPoint/id") or "").strip(),
        biz_transactions=tuple(
            (element.get("type", ""), (element.text or "").strip())
            for element in raw.findall("bizTransactionList/bizTransaction")
        ),
        destinations=tuple(
            (element.get("type", ""), (element.text or "").strip())
            for element in raw.findall("destinationList/destination")
        ),
        event_hash=event_hash,
    )


# -- shared -----------------------------------------------------------------------------------


def _hashes(events: Any) -> list[str]:
    """The reference implementation's hashes of the events ``events()`` reads. It logs and skips
    an event it cannot hash, so the caller compares the count with the document's."""
    try:
        parsed = events()
        prehashes = hash_generator.derive_prehashes_from_events(parsed)
        hashes: list[str] = hash_generator.calculate_hashes_from_pre_hashes(prehashes)
    except Exception as error:  # the reference code raises whatever its parsers raise
        raise EpcisError(
            "epcis_hash_failed", f"the event hash failed: {str(error)[:200]}"
        ) from None
    return hashes


def _check_count(count: int, *, expected: int | None = None) -> None:
    if expected is not None and count != expected:
        raise EpcisError(
            "epcis_hash_failed", f"the reference implementation hashed {count} of {expected} events"
        )
    if not 1 <= count <= MAX_EVENTS:
        raise EpcisError("epcis_event_count", f"a document holds 1..{MAX_EVENTS} events")


def _short_biz_step(biz_step: str) -> str:
    for prefix in CBV_PREFIXES:
        if biz_step.startswith(prefix):
            return biz_step[len(prefix) :]
    return biz_step


def _time_ms(text: str) -> int:
    """Milliseconds since 1970 of an ISO 8601 time with a zone (``Z`` or ``±hh:mm``)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise EpcisError("epcis_invalid_time", f"{text[:64]!r} is not a time with a zone")
    return (moment - EPOCH) // timedelta(milliseconds=1)
