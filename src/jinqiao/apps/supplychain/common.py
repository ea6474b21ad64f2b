"""Checks and record access shared by the supply chain contract's methods: each either returns
what was asked for or rejects with the code that names what is wrong."""

from __future__ import annotations

from jinqiao.apps.registry import load_organization
from jinqiao.apps.supplychain.identifiers import IdentifierError, Key, parse_gln, parse_key
from jinqiao.apps.supplychain.model import (
    ACTIVE,
    COMPANY_PREFIX_LENGTHS,
    CONSUMED,
    DECOMMISSIONED,
    HASH_BYTES,
    MAX_EPCS_PER_EVENT,
    MAX_FUTURE_SKEW_MS,
    MAX_NESTING,
    SOLD,
    CompanyPrefix,
    EventFields,
    EventRecord,
    Item,
    Recall,
    company_prefix_key,
    event_key,
    item_key,
    recall_key,
)
from jinqiao.core.errors import NodeFault
from jinqiao.core.limits import MAX_TIME_MS
from jinqiao.execution.api import Context


def key_of(ctx: Context, text: str) -> Key:
    """The checked GS1 key written as ``text`` (any accepted form), or its rejection."""
    try:
        return parse_key(text)
    except IdentifierError as error:
        ctx.reject(error.code, error.message, identifier=text[:64])


def serialized_key(ctx: Context, text: str) -> Key:
    key = key_of(ctx, text)
    if not key.serialized:
        ctx.reject(
            "not_serialized",
            f"{key.canonical} names a class, not one item (an SGTIN, SSCC or GRAI is needed)",
        )
    return key


def keys_of(ctx: Context, texts: tuple[str, ...], *, allow_empty: bool = False) -> list[Key]:
    """Distinct serialized keys, 1..MAX_EPCS_PER_EVENT of them (or none, if allowed)."""
    lowest = 0 if allow_empty else 1
    if not lowest <= len(texts) <= MAX_EPCS_PER_EVENT:
        ctx.reject("invalid_epc_count", f"an event names {lowest}..{MAX_EPCS_PER_EVENT} keys")
    keys = [serialized_key(ctx, text) for text in texts]
    if len({key.canonical for key in keys}) != len(keys):
        ctx.reject("duplicate_epc", "an event names the same key twice")
    return keys


def brand_owner(ctx: Context, key: Key) -> str:
    """The organization the key's GS1 company prefix is registered to.

    Registered prefixes never overlap, so at most one length matches: the length the key's
    URN names is tried first (one read when the registration agrees with it), then the other
    lengths from the shortest, as for a key written without its partition. A hit at the URN's
    length records the steps of the shorter reads it skipped, so the receipt's ``steps_used``
    is the plain lookup's from the shortest length (one more only when the registered prefix
    is shorter than the URN's partition says)."""
    digits = key.prefix_digits
    hint = key.prefix_length if key.prefix_length in COMPANY_PREFIX_LENGTHS else 0
    if hint:
        hinted = ctx.state.load(company_prefix_key(digits[:hint]), CompanyPrefix)
        if hinted is not None:
            ctx.record_steps(hint - COMPANY_PREFIX_LENGTHS.start)
            return hinted.organization
    for length in COMPANY_PREFIX_LENGTHS:
        if length == hint:
            continue
        record = ctx.state.load(company_prefix_key(digits[:length]), CompanyPrefix)
        if record is not None:
            return record.organization
    ctx.reject(
        "unknown_company_prefix",
        f"no registered GS1 company prefix begins {key.canonical}",
        identifier=key.canonical,
    )


def check_event(ctx: Context, fields: EventFields) -> str:
    """The event's hash is new and well formed and its time not in the future; returns the
    read point's GLN (or ``""``)."""
    if len(fields.event_hash) != HASH_BYTES:
        ctx.reject("invalid_event_hash", f"an event hash is {HASH_BYTES} bytes (SHA-256)")
    if ctx.state.load(event_key(fields.event_hash), EventRecord) is not None:
        ctx.reject("duplicate_event", "an event with this hash is recorded")
    if not 0 <= fields.event_time_ms <= MAX_TIME_MS:
        ctx.reject("invalid_time", "event_time_ms is milliseconds since 1970 (>= 0)")
    if fields.event_time_ms > ctx.time_ms + MAX_FUTURE_SKEW_MS:
        ctx.reject(
            "event_in_future",
            f"the event time is more than {MAX_FUTURE_SKEW_MS} ms after the block time",
            event_time_ms=fields.event_time_ms,
            block_time_ms=ctx.time_ms,
        )
    if not fields.read_point:
        return ""
    try:
        return parse_gln(fields.read_point)
    except IdentifierError as error:
        ctx.reject(error.code, f"read_point: {error.message}")


def load_item(ctx: Context, canonical: str) -> Item:
    item = ctx.state.load(item_key(canonical), Item)
    if item is None:
        ctx.reject("not_commissioned", f"{canonical} was never commissioned", identifier=canonical)
    return item


def top_of(ctx: Context, item: Item) -> Item:
    """The outermost container holding ``item`` (the item itself when it is in none)."""
    current = item
    for _ in range(MAX_NESTING + 1):
        if not current.parent:
            return current
        current = load_item(ctx, current.parent)
    raise NodeFault("containment deeper than MAX_NESTING", item=item.id)


def is_recalled(ctx: Context, item: Item) -> bool:
    if not item.lot or not item.id.startswith("01/"):
        return False
    gtin = item.id.split("/")[1]
    return ctx.state.load(recall_key(gtin, item.lot), Recall) is not None


def check_status(ctx: Context, item: Item, *, recall_blocks: bool = True) -> None:
    """Sold, decommissioned, consumed and (unless ``recall_blocks`` is off) recalled items
    cannot move."""
    codes = {SOLD: "item_sold", DECOMMISSIONED: "item_decommissioned", CONSUMED: "item_consumed"}
    if item.status != ACTIVE:
        ctx.reject(codes[item.status], f"{item.id} is {item.status}", identifier=item.id)
    if recall_blocks and is_recalled(ctx, item):
        ctx.reject("item_recalled", f"the lot of {item.id} is recalled", identifier=item.id)


def check_custody(ctx: Context, item: Item) -> None:
    """The sender's organization holds ``item`` directly: not inside a container, not in
    transit, and it is the custodian."""
    if item.parent:
        ctx.reject(
            "item_in_container",
            f"{item.id} is packed in {item.parent}; it moves with its container",
            identifier=item.id,
        )
    if item.custodian != ctx.organization:
        ctx.reject(
            "not_custodian",
            f"{ctx.organization} is not the custodian of {item.id}",
            identifier=item.id,
            custodian=item.custodian,
        )
    if item.shipment is not None:
        ctx.reject(
            "in_transit",
            f"{item.id} is shipped to {item.shipment.receiver} and not yet received",
            identifier=item.id,
        )


def descendants(ctx: Context, item: Item) -> list[Item]:
    """Everything packed in ``item``, at any depth (bounded by MAX_NESTING)."""
    found: list[Item] = []
    level = [item]
    for _ in range(MAX_NESTING):
        level = [load_item(ctx, child) for parent in level for child in parent.children]
        found.extend(level)
        if not level:
            break
    return found


def check_movable(ctx: Context, item: Item) -> None:
    """``item`` and everything packed in it may move (status and recall)."""
    check_status(ctx, item)
    for inner in descendants(ctx, item):
        check_status(ctx, inner)


def known_organization(ctx: Context, organization_id: str) -> str:
    organization = load_organization(ctx, organization_id)
    if not organization.active:
        ctx.reject(
            "organization_inactive",
            f"organization {organization.id} is suspended",
            organization=organization.id,
        )
    return organization.id
