"""EPCIS 2.0 XML documents written from a few fields: what the demo, the benchmark and the CLI's
event commands capture when no business system hands them a document. The text is the standard's
XML shape, and ``parse_document`` (with the reference hash implementation) reads it back like any
captured document."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.sax.saxutils import escape

from jinqiao.epcis.document import XML_NAMESPACE

CBV_BIZ_STEP = "https://ref.gs1.org/cbv/BizStep-"
OWNING_PARTY = "urn:epcglobal:cbv:sdt:owning_party"


@dataclass(frozen=True)
class ObjectEventSpec:
    """An ObjectEvent (``action`` ADD, OBSERVE or DELETE) or, with ``parent``, an
    AggregationEvent whose children are ``epcs``. ``destination`` (shipping) names the receiving
    party, e.g. a PGLN URN."""

    biz_step: str
    epcs: Sequence[str]
    event_time_ms: int
    action: str = "OBSERVE"
    read_point: str = ""
    parent: str = ""
    destination: str = ""


def iso_time(time_ms: int) -> str:
    moment = datetime.fromtimestamp(time_ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{time_ms % 1000:03d}Z"


def _event_xml(spec: ObjectEventSpec) -> str:
    kind = "AggregationEvent" if spec.parent else "ObjectEvent"
    epcs = "".join(f"<epc>{escape(epc)}</epc>" for epc in spec.epcs)
    parts = [
        f"<{kind}>",
        f"<eventTime>{iso_time(spec.event_time_ms)}</eventTime>",
        "<eventTimeZoneOffset>+00:00</eventTimeZoneOffset>",
    ]
    if spec.parent:
        parts.append(f"<parentID>{escape(spec.parent)}</parentID><childEPCs>{epcs}</childEPCs>")
    else:
        parts.append(f"<epcList>{epcs}</epcList>")
    parts.append(f"<action>{spec.action}</action>")
    parts.append(f"<bizStep>{CBV_BIZ_STEP}{escape(spec.biz_step)}</bizStep>")
    if spec.read_point:
        parts.append(f"<readPoint><id>{escape(spec.read_point)}</id></readPoint>")
    if spec.destination:
        parts.append(
            f'<destinationList><destination type="{OWNING_PARTY}">'
            f"{escape(spec.destination)}</destination></destinationList>"
        )
    parts.append(f"</{kind}>")
    return "".join(parts)


def xml_document(events: Sequence[ObjectEventSpec], *, created_ms: int) -> bytes:
    """An ``EPCISDocument`` holding ``events`` in order."""
    body = "".join(_event_xml(spec) for spec in events)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<epcis:EPCISDocument xmlns:epcis="{XML_NAMESPACE}" schemaVersion="2.0" '
        f'creationDate="{iso_time(created_ms)}"><EPCISBody><EventList>{body}</EventList>'
        "</EPCISBody></epcis:EPCISDocument>"
    ).encode()


__all__ = ["ObjectEventSpec", "iso_time", "xml_document"]
