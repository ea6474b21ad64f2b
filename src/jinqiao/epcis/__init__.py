"""EPCIS 2.0 documents, off chain: parse and validate a captured document (JSON-LD or XML),
compute each event's CBV 2.0 event hash, and say which supply chain contract call records it.

What this package owns:

* ``document`` — ``parse_document`` (JSON-LD validated against the standard's JSON Schema, XML
  checked structurally), the events' key fields, their hashes by the reference implementation
  (``epcis-event-hash-generator``) and the ``EpcisError`` codes;
* ``calls`` — ``contract_call``: the supply chain method and arguments for one event;
* ``query`` — ``query_document``: recorded events as an EPCIS 2.0 ``EPCISQueryDocument``, made
  by the node's ``GET /v1/epcis/events`` and again by the SDK from the proven records.

The SDK's and the CLI's capture and the node's (``api.capture``) build on this package. The
schema is fetched by
``tools/fetch_epcis_schemas.py`` and passed in as a path; nothing here reaches the network.
"""

from __future__ import annotations

from jinqiao.epcis.calls import contract_call
from jinqiao.epcis.document import (
    MAX_DOCUMENT_BYTES,
    MAX_EVENTS,
    CapturedEvent,
    Document,
    EpcisError,
    SchemaValidator,
    event_hash_bytes,
    parse_document,
)

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "MAX_EVENTS",
    "CapturedEvent",
    "Document",
    "EpcisError",
    "SchemaValidator",
    "contract_call",
    "event_hash_bytes",
    "parse_document",
]
