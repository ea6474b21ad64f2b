"""EPCIS 2.0 query results from what the chain keeps: an item's recorded events as an
``EPCISQueryDocument`` (JSON-LD) in the standard's shape.

The chain keeps each event's key fields (``EventRecord``: its CBV 2.0 hash, kind, organization,
time, read point, keys, parent, outputs and business transactions), not the captured document,
which stays with its submitter. This module writes those fields back as EPCIS 2.0 events:

* the event type, ``action`` and ``bizStep`` from the kind (the inverse of ``calls``; see
  ``CBV_BIZ_STEPS``);
* ``eventID`` — the CBV 2.0 event hash of the captured event (``ni:///sha-256;…?ver=CBV2.0``),
  so a holder of the full document can match each result to its event;
* identifiers as GS1 Digital Link URIs (``https://id.gs1.org/01/…/21/…``, a GLN read point as
  ``https://id.gs1.org/414/…``), which EPCIS 2.0 accepts wherever an EPC URI goes and which need
  no company prefix length;
* ``eventTime`` in UTC with ``eventTimeZoneOffset`` ``+00:00`` (the chain keeps milliseconds);
* ``jinqiao:organization`` and ``jinqiao:recordedHeight`` — who recorded it and in which block —
  as extension fields in the ``jinqiao`` namespace that the document's ``@context`` declares.

The result is the same function of the proven records on the node and in the SDK: the SDK checks
every record's proof and rebuilds the document from them (docs/supplychain.md, "EPCIS query").
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from jinqiao.apps.supplychain.model import (
    COMMISSIONING,
    DECOMMISSIONING,
    OBSERVING,
    PACKING,
    RECEIVING,
    RETAIL_SELLING,
    SHIPPING,
    TRANSACTING,
    TRANSFORMING,
    UNPACKING,
    EventRecord,
)

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
JINQIAO_NAMESPACE = "urn:jinqiao:epcis:"
DIGITAL_LINK_HOST = "https://id.gs1.org/"
QUERY_NAME = "SimpleEventQuery"

_OBJECT_EVENTS = {
    COMMISSIONING: "ADD",
    OBSERVING: "OBSERVE",
    SHIPPING: "OBSERVE",
    RECEIVING: "OBSERVE",
    RETAIL_SELLING: "OBSERVE",
    DECOMMISSIONING: "DELETE",
}
_AGGREGATION_EVENTS = {PACKING: "ADD", UNPACKING: "DELETE"}
CBV_BIZ_STEPS = frozenset(
    (COMMISSIONING, DECOMMISSIONING, PACKING, UNPACKING, SHIPPING, RECEIVING, RETAIL_SELLING)
)
"""The kinds that are CBV 2.0 business steps by name; ``observing``, ``transforming`` and
``transacting`` are the contract's kinds for events whose captured business step, if any, the
chain does not keep, so their results carry none."""


def digital_link(canonical: str) -> str:
    """A canonical key (``01/…/21/…``, ``00/…``, ``8003/…``) as a GS1 Digital Link URI."""
    return DIGITAL_LINK_HOST + canonical


def iso_time(ms: int) -> str:
    """Milliseconds since 1970 as an ISO 8601 UTC time with milliseconds."""
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def epcis_event(record: EventRecord) -> dict[str, Any]:
    """One recorded event in the EPCIS 2.0 JSON-LD shape (see the module's docstring)."""
    event: dict[str, Any] = {}
    keys = [digital_link(key) for key in record.epcs]
    if record.kind in _OBJECT_EVENTS:
        event.update(type="ObjectEvent", action=_OBJECT_EVENTS[record.kind], epcList=keys)
    elif record.kind in _AGGREGATION_EVENTS:
        children = [digital_link(key) for key in record.epcs if key != record.parent]
        event.update(
            type="AggregationEvent",
            action=_AGGREGATION_EVENTS[record.kind],
            parentID=digital_link(record.parent),
            childEPCs=children,
        )
    elif record.kind == TRANSFORMING:
        event.update(
            type="TransformationEvent",
            inputEPCList=keys,
            outputEPCList=[digital_link(key) for key in record.outputs],
        )
    elif record.kind == TRANSACTING:
        event.update(type="TransactionEvent", action="ADD", epcList=keys)
    else:
        raise ValueError(f"no EPCIS event type for the kind {record.kind!r}")
    event.update(
        eventTime=iso_time(record.event_time_ms),
        eventTimeZoneOffset="+00:00",
        eventID=f"ni:///sha-256;{record.event_hash.hex()}?ver=CBV2.0",
    )
    if record.kind in CBV_BIZ_STEPS:
        event["bizStep"] = record.kind
    if record.read_point:
        event["readPoint"] = {"id": f"{DIGITAL_LINK_HOST}414/{record.read_point}"}
    if record.biz_transactions:
        event["bizTransactionList"] = [
            {"type": link.type, "bizTransaction": link.id} for link in record.biz_transactions
        ]
    event["jinqiao:organization"] = record.organization
    event["jinqiao:recordedHeight"] = record.recorded_height
    return event


def query_document(records: Sequence[EventRecord], created_ms: int) -> dict[str, Any]:
    """An ``EPCISQueryDocument`` of ``records`` (oldest first), created at ``created_ms`` (the
    block time of the height the records were read at, so that it is a function of proven
    values only)."""
    return {
        "@context": [EPCIS_CONTEXT, {"jinqiao": JINQIAO_NAMESPACE}],
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": iso_time(created_ms),
        "epcisBody": {
            "queryResults": {
                "queryName": QUERY_NAME,
                "resultsBody": {"eventList": [epcis_event(record) for record in records]},
            }
        },
    }


__all__ = ["EPCIS_CONTEXT", "digital_link", "epcis_event", "iso_time", "query_document"]
