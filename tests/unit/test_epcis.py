"""EPCIS 2.0 documents: JSON-LD validated against the standard's JSON Schema, XML checked
structurally, each event hashed by the reference implementation (the same event in both
representations has the same hash, and the hash is the CBV 2.0 algorithm's on a pre-hash string
written out here by hand), mapped to the supply chain call that records it, and recorded on chain.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from jinqiao.apps.supplychain.model import SUPPLYCHAIN, EventArgs, EventRecord, ItemView, KeyArgs
from jinqiao.epcis import (
    MAX_DOCUMENT_BYTES,
    EpcisError,
    SchemaValidator,
    contract_call,
    event_hash_bytes,
    parse_document,
)
from jinqiao.epcis import document as document_module
from tests.helpers.supplychain import make_chain

SCHEMA = Path(__file__).resolve().parents[2] / ".cache" / "epcis" / "EPCIS-JSON-Schema.json"
"""Filled by ``tools/fetch_epcis_schemas.py`` (``make test`` runs it)."""
CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
ITEM = "urn:epc:id:sgtin:6901234.000001.1"
ITEM_LINK = "https://id.gs1.org/01/06901234000016/21/1"
PALLET = "urn:epc:id:sscc:6901234.0000000001"
SITE = "urn:epc:id:sgln:6901234.00000.0"


@pytest.fixture(scope="module")
def validator() -> SchemaValidator:
    return SchemaValidator(SCHEMA)


def json_document(*events: dict[str, Any]) -> dict[str, Any]:
    return {
        "@context": [CONTEXT],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-12-01T08:00:00.000+08:00",
        "epcisBody": {"eventList": list(events)},
    }


COMMISSION = {
    "type": "ObjectEvent",
    "eventTime": "2026-12-01T08:00:00.000+08:00",
    "eventTimeZoneOffset": "+08:00",
    "epcList": [ITEM],
    "action": "ADD",
    "bizStep": "commissioning",
    "readPoint": {"id": SITE},
}
SHIP = {
    "type": "ObjectEvent",
    "eventTime": "2026-12-01T09:00:00.000+08:00",
    "eventTimeZoneOffset": "+08:00",
    "epcList": [ITEM],
    "action": "OBSERVE",
    "bizStep": "shipping",
    "readPoint": {"id": SITE},
    "bizTransactionList": [
        {"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:6901234000009:PO1"}
    ],
    "destinationList": [{"type": "owning_party", "destination": "urn:epc:id:pgln:6901234.00001"}],
}
PACK = {
    "type": "AggregationEvent",
    "eventTime": "2026-12-01T08:30:00.000+08:00",
    "eventTimeZoneOffset": "+08:00",
    "parentID": PALLET,
    "childEPCs": [ITEM],
    "action": "ADD",
    "bizStep": "packing",
}

XML = f"""<?xml version="1.0" encoding="UTF-8"?>
<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" schemaVersion="2.0"
    creationDate="2026-12-01T08:00:00.000+08:00">
  <EPCISBody>
    <EventList>
      <ObjectEvent>
        <eventTime>2026-12-01T08:00:00.000+08:00</eventTime>
        <eventTimeZoneOffset>+08:00</eventTimeZoneOffset>
        <epcList><epc>{ITEM}</epc></epcList>
        <action>ADD</action>
        <bizStep>urn:epcglobal:cbv:bizstep:commissioning</bizStep>
        <readPoint><id>{SITE}</id></readPoint>
      </ObjectEvent>
      <ObjectEvent>
        <eventTime>2026-12-01T01:00:00.000Z</eventTime>
        <eventTimeZoneOffset>+08:00</eventTimeZoneOffset>
        <epcList><epc>{ITEM}</epc></epcList>
        <action>OBSERVE</action>
        <bizStep>https://ref.gs1.org/cbv/BizStep-shipping</bizStep>
        <readPoint><id>{SITE}</id></readPoint>
        <bizTransactionList>
          <bizTransaction type="urn:epcglobal:cbv:btt:po"
            >urn:epcglobal:cbv:bt:6901234000009:PO1</bizTransaction>
        </bizTransactionList>
        <destinationList>
          <destination type="urn:epcglobal:cbv:sdt:owning_party"
            >urn:epc:id:pgln:6901234.00001</destination>
        </destinationList>
      </ObjectEvent>
    </EventList>
  </EPCISBody>
</epcis:EPCISDocument>
"""


def encode(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()


def test_json_document_events_and_key_fields(validator: SchemaValidator) -> None:
    parsed = parse_document(encode(json_document(COMMISSION, PACK, SHIP)), validator)
    assert parsed.format == "json"
    commission, pack, ship = parsed.events
    assert (commission.type, commission.action, commission.biz_step) == (
        "ObjectEvent",
        "ADD",
        "commissioning",
    )
    assert commission.event_time_ms == 1_796_083_200_000  # 2026-12-01T00:00:00Z
    assert (pack.parent_id, pack.child_epcs) == (PALLET, (ITEM,))
    assert ship.destinations == (("owning_party", "urn:epc:id:pgln:6901234.00001"),)
    assert len({event.event_hash for event in parsed.events}) == 3
    assert all(len(event.hash_bytes) == 32 for event in parsed.events)


def test_same_event_same_hash_in_json_and_xml(validator: SchemaValidator) -> None:
    from_json = parse_document(encode(json_document(COMMISSION, SHIP)), validator)
    from_xml = parse_document(XML.encode(), validator)
    assert from_xml.format == "xml"
    assert [e.event_hash for e in from_json.events] == [e.event_hash for e in from_xml.events]
    assert from_xml.events[1].biz_step == "shipping"
    assert from_xml.events[1].destinations == (
        ("urn:epcglobal:cbv:sdt:owning_party", "urn:epc:id:pgln:6901234.00001"),
    )
    assert from_xml.events[1].biz_transactions == (
        ("urn:epcglobal:cbv:btt:po", "urn:epcglobal:cbv:bt:6901234000009:PO1"),
    )


def test_hash_is_the_cbv_algorithm_on_the_canonical_pre_hash(validator: SchemaValidator) -> None:
    # CBV 2.0 §8.9: fields in the fixed order, EPCs as canonical Digital Link URIs, times in UTC
    # to the millisecond, CBV values as their web URIs, concatenated without separators.
    event = {key: SHIP[key] for key in SHIP if key not in ("bizTransactionList", "destinationList")}
    prehash = (
        "eventType=ObjectEvent"
        "eventTime=2026-12-01T01:00:00.000Z"
        "eventTimeZoneOffset=+08:00"
        f"epcListepc={ITEM_LINK}"
        "action=OBSERVE"
        "bizStep=https://ref.gs1.org/cbv/BizStep-shipping"
        "readPointid=https://id.gs1.org/414/6901234000009"
    )
    expected = f"ni:///sha-256;{hashlib.sha256(prehash.encode()).hexdigest()}?ver=CBV2.0"
    assert parse_document(encode(json_document(event)), validator).events[0].event_hash == expected


def test_schema_invalid_document_names_the_problem(validator: SchemaValidator) -> None:
    bad = copy.deepcopy(COMMISSION)
    bad["action"] = "MOVE"
    with pytest.raises(EpcisError) as raised:
        parse_document(encode(json_document(bad)), validator)
    assert raised.value.code == "epcis_schema_invalid"
    assert any("epcisBody/eventList/0/action" in problem for problem in raised.value.problems)
    missing_time = {key: value for key, value in COMMISSION.items() if key != "eventTime"}
    with pytest.raises(EpcisError, match="schema"):
        parse_document(encode(json_document(missing_time)), validator)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"{not json", "epcis_malformed"),
        (b"<not xml", "epcis_malformed"),
        (b'<!DOCTYPE x [<!ENTITY a "b">]><x/>', "epcis_malformed"),
        (b"<x/>", "epcis_schema_invalid"),
        (b" " * (MAX_DOCUMENT_BYTES + 1), "epcis_too_large"),
        (
            XML.replace("<action>ADD</action>", "<action>MOVE</action>").encode(),
            "epcis_schema_invalid",
        ),
        (
            XML.replace('schemaVersion="2.0"', 'schemaVersion="1.2"').encode(),
            "epcis_schema_invalid",
        ),
        (
            XML.replace("<ObjectEvent>", "<Event>", 1)
            .replace("</ObjectEvent>", "</Event>", 1)
            .encode(),
            "epcis_schema_invalid",
        ),
    ],
)
def test_refusals(validator: SchemaValidator, data: bytes, code: str) -> None:
    with pytest.raises(EpcisError) as raised:
        parse_document(data, validator)
    assert raised.value.code == code


def test_only_standard_contexts_are_expanded(validator: SchemaValidator) -> None:
    # Any other context would make the JSON-LD expansion fetch it from the network.
    document = json_document(COMMISSION)
    document["@context"] = [CONTEXT, "https://attacker.example/context.jsonld"]
    with pytest.raises(EpcisError) as raised:
        parse_document(encode(document), validator)
    assert raised.value.code == "epcis_context_refused"
    document["@context"] = [CONTEXT, {"ext": "https://example.com/epcis/"}]
    assert len(parse_document(encode(document), validator).events) == 1


def test_event_hash_bytes() -> None:
    assert event_hash_bytes("ni:///sha-256;" + "ab" * 32 + "?ver=CBV2.0") == bytes([0xAB] * 32)
    with pytest.raises(EpcisError) as raised:
        event_hash_bytes("ni:///sha-1;abc")
    assert raised.value.code == "epcis_invalid_hash"


def test_captured_document_is_recorded_on_chain(validator: SchemaValidator) -> None:
    chain = make_chain()
    pallet_commission = {
        **COMMISSION,
        "epcList": [PALLET],
        "eventTime": "2026-12-01T08:10:00.000+08:00",
    }
    ship_pallet = {**SHIP, "epcList": [PALLET]}
    document = json_document(COMMISSION, pallet_commission, PACK, ship_pallet)
    parsed = parse_document(encode(document), validator)
    chain.time_ms = max(chain.time_ms, max(e.event_time_ms for e in parsed.events))
    for event in parsed.events:
        method, args = contract_call(event, receiver="distributor", lot="L1")
        chain.ok("brand-ops", SUPPLYCHAIN, method, args)
    recorded: EventRecord = chain.query(
        SUPPLYCHAIN, "event", EventArgs(parsed.events[-1].hash_bytes)
    )
    assert recorded.kind == "shipping" and recorded.receiver == "distributor"
    view: ItemView = chain.query(SUPPLYCHAIN, "item", KeyArgs(ITEM_LINK))
    assert (view.in_transit_to, view.item.event_count, view.item.lot) == ("distributor", 2, "L1")


def test_unsupported_events_are_named(validator: SchemaValidator) -> None:
    odd = {**COMMISSION, "action": "OBSERVE", "bizStep": "inspecting"}
    event = parse_document(encode(json_document(odd)), validator).events[0]
    with pytest.raises(EpcisError) as raised:
        contract_call(event)
    assert raised.value.code == "epcis_unsupported_event"
    ship = parse_document(encode(json_document(SHIP)), validator).events[0]
    with pytest.raises(EpcisError) as raised:
        contract_call(ship)
    assert raised.value.code == "epcis_unknown_receiver"


ONE_XML_EVENT = XML[
    XML.index("<ObjectEvent>") : XML.index("</ObjectEvent>") + len("</ObjectEvent>")
]


@pytest.mark.parametrize(
    "data",
    [
        encode(json_document()),
        encode(json_document(*[COMMISSION] * 1_001)),
        re.sub(r"<EventList>.*</EventList>", "<EventList></EventList>", XML, flags=re.S).encode(),
        XML.replace("<EventList>", "<EventList>" + ONE_XML_EVENT * 999, 1).encode(),
    ],
    ids=["json-none", "json-1001", "xml-none", "xml-1001"],
)
def test_a_document_holds_one_to_a_thousand_events(validator: SchemaValidator, data: bytes) -> None:
    with pytest.raises(EpcisError) as raised:
        parse_document(data, validator)
    assert raised.value.code == "epcis_event_count"


@pytest.mark.parametrize(
    "time", ["2026-12-01T08:00:00.000", "2026-02-30T08:00:00.000+08:00", "", "yesterday"]
)
def test_an_event_time_without_a_zone_or_not_a_date_is_refused(
    validator: SchemaValidator, time: str
) -> None:
    data = XML.replace("2026-12-01T08:00:00.000+08:00</eventTime>", f"{time}</eventTime>", 1)
    with pytest.raises(EpcisError) as raised:
        parse_document(data.encode(), validator)
    assert raised.value.code == "epcis_invalid_time"


def test_a_document_the_reference_implementation_cannot_hash_is_refused(
    validator: SchemaValidator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No input found makes the reference implementation (a neighbour here) fail or skip an
    # event, so its two ways of failing are played by it: raising, and hashing fewer events.
    real = document_module.hash_generator.calculate_hashes_from_pre_hashes

    def raising(prehashes: Any) -> Any:
        raise ValueError("unparsable event")

    monkeypatch.setattr(document_module.hash_generator, "calculate_hashes_from_pre_hashes", raising)
    with pytest.raises(EpcisError) as raised:
        parse_document(XML.encode(), validator)
    assert raised.value.code == "epcis_hash_failed"
    assert "unparsable event" in raised.value.message

    def skipping(prehashes: Any) -> Any:
        return real(prehashes)[1:]

    monkeypatch.setattr(
        document_module.hash_generator, "calculate_hashes_from_pre_hashes", skipping
    )
    with pytest.raises(EpcisError) as raised:
        parse_document(encode(json_document(COMMISSION, SHIP)), validator)
    assert raised.value.code == "epcis_hash_failed"
    assert "hashed 1 of 2" in raised.value.message
