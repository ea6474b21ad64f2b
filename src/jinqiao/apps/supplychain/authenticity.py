"""Is a scanned item genuine? The verdict from an item's proven records (docs/supplychain.md,
"Verifying an item").

Pure functions over records already read (and proven) by the caller — the API answers with them
and the SDK recomputes the verdict from the proven values, so a client never has to trust the
node's words. A label is the item's GS1 Digital Link URI with the brand owner's signature over
``LABEL_DOMAIN + canonical key`` in its query (``sig``, and ``signer``: the signing account's
address).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from jinqiao.apps.supplychain.model import (
    ACTIVE,
    OBSERVING,
    RECEIVING,
    RETAIL_SELLING,
    SHIPPING,
    SOLD,
    EventRecord,
    Item,
)

LABEL_DOMAIN = b"jinqiao/supplychain/label/"
"""Prefix of the bytes a brand owner signs for a label (no other signature can be taken for one)."""
TRACE_EVENTS = 32
"""How many of the item's latest events a verification reads and checks (its cost does not grow
with the item's history; older events are in ``history`` pages)."""
CLONE_WINDOW_MS = 3_600_000
"""Two sightings of one serial at different read points less than this apart, with no shipment
or receipt between them, mean two physical items carry one serial."""
MAX_SCAN_LENGTH = 2048

GENUINE = "genuine"
UNKNOWN = "unknown"
SUSPICIOUS = "suspicious"

NEVER_COMMISSIONED = "never_commissioned"
SIGNATURE_INVALID = "signature_invalid"
ALREADY_SOLD = "already_sold"
NOT_ACTIVE = "not_active"
CLONE_SUSPECTED = "clone_suspected"
BROKEN_CUSTODY = "broken_custody"
RECALLED = "recalled"
REASONS = (
    NEVER_COMMISSIONED,
    SIGNATURE_INVALID,
    ALREADY_SOLD,
    NOT_ACTIVE,
    CLONE_SUSPECTED,
    BROKEN_CUSTODY,
    RECALLED,
)


class ScanError(ValueError):
    """A scan that is not a label: ``code`` is ``malformed_scan``."""

    code = "malformed_scan"


@dataclass(frozen=True)
class Scan:
    """What a label says: the key as written (any accepted form), and its signature and signer
    (both empty when the label carries none)."""

    key_text: str
    signature: bytes = b""
    signer: bytes = b""


@dataclass(frozen=True)
class Verification:
    verdict: str
    reasons: tuple[str, ...]
    signature: str
    """``valid``, ``invalid`` or ``absent``."""
    clone_sightings: tuple[tuple[str, str], ...] = field(default=())
    """Pairs of event hashes (hex) of the sightings that gave ``clone_suspected``."""


def label_message(canonical: str) -> bytes:
    return LABEL_DOMAIN + canonical.encode()


def label_uri(digital_link: str, signature: bytes, signer: bytes) -> str:
    """The text a label's QR code holds: the Digital Link with the signature and signer."""
    return f"{digital_link}?sig={signature.hex()}&signer={signer.hex()}"


def parse_scan(text: str) -> Scan:
    """A scanned label or a bare key. Raises ``ScanError`` for a signature or signer that is not
    hex of the right form; the key itself is checked by ``identifiers.parse_key``."""
    if not text or len(text) > MAX_SCAN_LENGTH:
        raise ScanError(f"a scan is 1..{MAX_SCAN_LENGTH} characters")
    if "?" not in text:
        return Scan(text)
    query = parse_qs(urlsplit(text).query, keep_blank_values=True)
    signatures, signers = query.get("sig", []), query.get("signer", [])
    if not signatures and not signers:
        return Scan(text)
    if len(signatures) != 1 or len(signers) != 1:
        raise ScanError("a label has one sig and one signer")
    try:
        signature, signer = bytes.fromhex(signatures[0]), bytes.fromhex(signers[0])
    except ValueError:
        raise ScanError("sig and signer are hex") from None
    if not signature or len(signer) != 20:
        raise ScanError("signer is a 20-byte account address and sig is not empty")
    return Scan(text, signature, signer)


def clone_sightings(events: Sequence[EventRecord]) -> list[tuple[EventRecord, EventRecord]]:
    """Pairs of sightings at different read points closer in time than ``CLONE_WINDOW_MS`` with
    no shipment or receipt of the item between them (``events`` oldest first)."""
    found = []
    last_seen: EventRecord | None = None
    for event in events:
        if event.kind in (SHIPPING, RECEIVING):
            last_seen = None
            continue
        if event.kind != OBSERVING or not event.read_point:
            continue
        if (
            last_seen is not None
            and last_seen.read_point != event.read_point
            and abs(event.event_time_ms - last_seen.event_time_ms) < CLONE_WINDOW_MS
        ):
            found.append((last_seen, event))
        last_seen = event
    return found


def custody_breaks(item_id: str, events: Sequence[EventRecord]) -> bool:
    """Whether the item's own recorded moves disagree: a receipt by another organization than
    the one its latest shipment named (the contract refuses one; a verifier checks anyway)."""
    shipped_to = ""
    for event in events:
        if item_id not in event.epcs:
            continue
        if event.kind == SHIPPING:
            shipped_to = event.receiver
        elif event.kind == RECEIVING:
            if shipped_to and event.organization != shipped_to:
                return True
            shipped_to = ""
    return False


def verify_item(
    item: Item | None,
    recalled: bool,
    events: Sequence[EventRecord],
    signature: str,
) -> Verification:
    """The verdict on an item: ``unknown`` when it was never commissioned; ``suspicious`` with
    every reason that applies; else ``genuine``. ``events`` are its latest events, oldest first;
    ``signature`` is ``valid``, ``invalid`` or ``absent`` (checked by the caller against the
    brand owner's proven account)."""
    if item is None:
        return Verification(UNKNOWN, (NEVER_COMMISSIONED,), signature)
    reasons = []
    if signature == "invalid":
        reasons.append(SIGNATURE_INVALID)
    if item.status == SOLD or any(e.kind == RETAIL_SELLING for e in events):
        reasons.append(ALREADY_SOLD)
    elif item.status != ACTIVE:
        reasons.append(NOT_ACTIVE)
    pairs = clone_sightings(events)
    if pairs:
        reasons.append(CLONE_SUSPECTED)
    if custody_breaks(item.id, events):
        reasons.append(BROKEN_CUSTODY)
    if recalled:
        reasons.append(RECALLED)
    sightings = tuple((a.event_hash.hex(), b.event_hash.hex()) for a, b in pairs)
    return Verification(SUSPICIOUS if reasons else GENUINE, tuple(reasons), signature, sightings)


__all__ = [
    "CLONE_WINDOW_MS",
    "GENUINE",
    "LABEL_DOMAIN",
    "REASONS",
    "SUSPICIOUS",
    "TRACE_EVENTS",
    "UNKNOWN",
    "Scan",
    "ScanError",
    "Verification",
    "clone_sightings",
    "custody_breaks",
    "label_message",
    "label_uri",
    "parse_scan",
    "verify_item",
]
