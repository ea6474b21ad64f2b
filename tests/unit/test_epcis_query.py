"""The EPCIS query document rebuilt from the chain's records: valid against the standard's
JSON Schema for every kind the contract records, with the event's CBV hash as its ``eventID``
and its keys as GS1 Digital Link URIs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jinqiao.apps.supplychain.model import BizTransaction, EventRecord
from jinqiao.epcis import SchemaValidator
from jinqiao.epcis.query import epcis_event, iso_time, query_document

SCHEMA = Path(__file__).resolve().parents[2] / ".cache" / "epcis" / "EPCIS-JSON-Schema.json"
ITEM, OTHER = "01/06901234000017/21/T1", "01/06901234000017/21/T2"
PALLET = "00/069012340000000201"
GLN = "6901234000014"


def _record(kind: str, epcs: tuple[str, ...], **fields: object) -> EventRecord:
    values: dict[str, object] = {
        "event_hash": bytes([len(kind)]) * 32,
        "kind": kind,
        "organization": "brand",
        "event_time_ms": 1_765_000_000_123,
        "recorded_height": 7,
        "read_point": GLN,
        "epcs": epcs,
        "outputs": (),
        "parent": "",
        "receiver": "",
        "biz_transactions": (),
    }
    values.update(fields)
    return EventRecord(**values)  # type: ignore[arg-type]


RECORDS = [
    _record("commissioning", (ITEM,)),
    _record("observing", (ITEM,), read_point=""),
    _record("shipping", (ITEM,), receiver="distributor"),
    _record("receiving", (ITEM,)),
    _record("retail_selling", (ITEM,)),
    _record("decommissioning", (ITEM,)),
    _record("packing", (PALLET, ITEM), parent=PALLET),
    _record("unpacking", (PALLET, ITEM), parent=PALLET),
    _record("transforming", (ITEM,), outputs=(OTHER,)),
    _record("transacting", (ITEM,), biz_transactions=(BizTransaction("inv", "urn:x:inv:1"),)),
]


def test_the_document_is_valid_epcis_2_for_every_kind() -> None:
    document = query_document(RECORDS, 1_765_000_001_000)
    validator = SchemaValidator(SCHEMA)
    problems = validator.problems(json.loads(json.dumps(document)))
    assert problems == ()
    events = document["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert [e["type"] for e in events] == [
        *["ObjectEvent"] * 6,
        "AggregationEvent",
        "AggregationEvent",
        "TransformationEvent",
        "TransactionEvent",
    ]
    assert [e.get("action") for e in events] == [
        "ADD", "OBSERVE", "OBSERVE", "OBSERVE", "OBSERVE", "DELETE", "ADD", "DELETE", None, "ADD",
    ]  # fmt: skip
    assert "bizStep" not in events[1] and "bizStep" not in events[8]
    assert events[6]["parentID"] == f"https://id.gs1.org/{PALLET}"
    assert events[6]["childEPCs"] == [f"https://id.gs1.org/{ITEM}"]
    assert events[8]["outputEPCList"] == [f"https://id.gs1.org/{OTHER}"]
    assert events[9]["bizTransactionList"] == [{"type": "inv", "bizTransaction": "urn:x:inv:1"}]


def test_an_event_names_its_hash_time_place_and_recorder() -> None:
    event = epcis_event(RECORDS[0])
    assert event["eventID"] == "ni:///sha-256;" + "0d" * 32 + "?ver=CBV2.0"
    assert event["eventTime"] == "2025-12-06T05:46:40.123Z"
    assert event["eventTimeZoneOffset"] == "+00:00"
    assert event["readPoint"] == {"id": f"https://id.gs1.org/414/{GLN}"}
    assert (event["jinqiao:organization"], event["jinqiao:recordedHeight"]) == ("brand", 7)
    assert iso_time(0) == "1970-01-01T00:00:00.000Z"


def test_a_kind_the_contract_never_records_is_refused() -> None:
    with pytest.raises(ValueError, match="no EPCIS event type"):
        epcis_event(_record("teleporting", (ITEM,)))
