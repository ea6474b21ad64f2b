"""Provenance: company prefixes, the custody rules over captured EPCIS events, and recalls.

One transaction records one EPCIS event: the method is chosen by the event's type and CBV
business step (``docs/supplychain.md``, "Events"), the arguments carry its CBV 2.0 event hash and
key fields. The rules: only the brand owner (the organization a key's GS1 company prefix is
registered to) commissions; a serial is commissioned once; only the custodian ships, packs,
sells, decommissions or transforms; a receive needs an open shipment to the receiver; children
move with their container; a transformation consumes its inputs; recalled, sold, decommissioned
and consumed items do not move; an item's events are in time order.
"""

from __future__ import annotations

from msgspec.structs import replace

from jinqiao.apps.supplychain.common import (
    brand_owner,
    check_custody,
    check_event,
    check_movable,
    check_status,
    key_of,
    keys_of,
    known_organization,
    load_item,
    serialized_key,
    top_of,
)
from jinqiao.apps.supplychain.identifiers import GTIN, IdentifierError, Key, check_lot
from jinqiao.apps.supplychain.model import (
    ACTIVE,
    COMMISSIONING,
    COMPANY_PREFIX_LENGTHS,
    CONSUMED,
    DECOMMISSIONED,
    DECOMMISSIONING,
    GS1_REGISTRAR_ROLE,
    MAX_BIZ_TRANSACTIONS,
    MAX_CHILDREN,
    MAX_NESTING,
    MAX_REFERENCE_LENGTH,
    OBSERVING,
    PACKING,
    RECEIVING,
    RETAIL_SELLING,
    SHIPPING,
    SOLD,
    TRANSACTING,
    TRANSFORMING,
    UNPACKING,
    AggregationArgs,
    BizTransaction,
    CommissionArgs,
    CompanyPrefix,
    EpcsArgs,
    EventFields,
    EventRecord,
    Item,
    Recall,
    RecallArgs,
    RegisterPrefixArgs,
    ShipArgs,
    Shipment,
    TransactArgs,
    TransformArgs,
    company_prefix_key,
    event_key,
    history_key,
    item_key,
    prefix_claimed_key,
    recall_key,
)
from jinqiao.core.genesis import IDENTIFIER, REGULATOR_ROLE
from jinqiao.execution.api import Context, method


class Provenance:
    """The provenance methods of the supply chain contract (mixed into ``SupplyChain``)."""

    @method(RegisterPrefixArgs, roles=(GS1_REGISTRAR_ROLE,))
    def register_company_prefix(self, ctx: Context, args: RegisterPrefixArgs) -> CompanyPrefix:
        """Register a GS1 company prefix to an organization (its brand owner). Prefixes never
        overlap: none is the beginning of another."""
        organization = known_organization(ctx, args.organization)
        register_prefix(ctx, args.prefix, organization)
        ctx.emit("CompanyPrefixRegistered", prefix=args.prefix, organization=organization)
        return CompanyPrefix(args.prefix, organization, ctx.height)

    @method(CommissionArgs)
    def commission(self, ctx: Context, args: CommissionArgs) -> None:
        """ObjectEvent ADD, bizStep commissioning: new items, held by their brand owner."""
        read_point = check_event(ctx, args.event)
        lot = _lot(ctx, args.lot)
        created = [_new_item(ctx, key, lot) for key in keys_of(ctx, args.epcs)]
        _record(ctx, COMMISSIONING, args.event, read_point, created)

    @method(EpcsArgs)
    def observe(self, ctx: Context, args: EpcsArgs) -> None:
        """ObjectEvent OBSERVE: a sighting by any member; custody does not change."""
        read_point = check_event(ctx, args.event)
        items = [load_item(ctx, key.canonical) for key in keys_of(ctx, args.epcs)]
        _record(ctx, OBSERVING, args.event, read_point, items)

    @method(ShipArgs)
    def ship(self, ctx: Context, args: ShipArgs) -> None:
        """ObjectEvent OBSERVE, bizStep shipping, to ``receiver`` (an organization)."""
        read_point = check_event(ctx, args.event)
        receiver = known_organization(ctx, args.receiver)
        if receiver == ctx.organization:
            ctx.reject("invalid_receiver", "goods are shipped to another organization")
        items = []
        for key in keys_of(ctx, args.epcs):
            item = load_item(ctx, key.canonical)
            check_custody(ctx, item)
            check_movable(ctx, item)
            items.append(item)
        shipment = Shipment(receiver, args.event.event_hash)
        moved = [replace(item, shipment=shipment) for item in items]
        _record(ctx, SHIPPING, args.event, read_point, moved, receiver=receiver)

    @method(EpcsArgs)
    def receive(self, ctx: Context, args: EpcsArgs) -> None:
        """ObjectEvent OBSERVE, bizStep receiving: closes each item's shipment to the sender."""
        read_point = check_event(ctx, args.event)
        received = []
        for key in keys_of(ctx, args.epcs):
            item = load_item(ctx, key.canonical)
            if item.parent:
                ctx.reject("item_in_container", f"{item.id} is received with its container")
            if item.shipment is None or item.shipment.receiver != ctx.organization:
                ctx.reject(
                    "no_open_shipment",
                    f"{item.id} is not shipped to {ctx.organization}",
                    identifier=item.id,
                )
            received.append(replace(item, custodian=ctx.organization, shipment=None))
        _record(ctx, RECEIVING, args.event, read_point, received)

    @method(EpcsArgs)
    def sell(self, ctx: Context, args: EpcsArgs) -> None:
        """ObjectEvent OBSERVE, bizStep retail_selling: sold to a consumer, never moves again."""
        self._end(ctx, args, RETAIL_SELLING, SOLD)

    @method(EpcsArgs)
    def decommission(self, ctx: Context, args: EpcsArgs) -> None:
        """ObjectEvent DELETE, bizStep decommissioning (a recalled item may be decommissioned)."""
        self._end(ctx, args, DECOMMISSIONING, DECOMMISSIONED)

    def _end(self, ctx: Context, args: EpcsArgs, kind: str, status: str) -> None:
        read_point = check_event(ctx, args.event)
        ended = []
        for key in keys_of(ctx, args.epcs):
            item = load_item(ctx, key.canonical)
            check_custody(ctx, item)
            check_status(ctx, item, recall_blocks=kind != DECOMMISSIONING)
            _require_empty(ctx, item)
            ended.append(replace(item, status=status))
        _record(ctx, kind, args.event, read_point, ended)

    @method(AggregationArgs)
    def pack(self, ctx: Context, args: AggregationArgs) -> None:
        """AggregationEvent ADD, bizStep packing: children into a container (both held by the
        sender, neither inside another container)."""
        read_point = check_event(ctx, args.event)
        parent = load_item(ctx, serialized_key(ctx, args.parent).canonical)
        check_custody(ctx, parent)
        check_movable(ctx, parent)
        children = []
        for key in keys_of(ctx, args.children):
            if key.canonical == parent.id:
                ctx.reject("invalid_aggregation", "a container cannot contain itself")
            child = load_item(ctx, key.canonical)
            check_custody(ctx, child)
            check_movable(ctx, child)
            children.append(child)
        if len(parent.children) + len(children) > MAX_CHILDREN:
            ctx.reject("too_many_children", f"a container holds at most {MAX_CHILDREN} children")
        levels = max(parent.levels, 1 + max(child.levels for child in children))
        if levels > MAX_NESTING:
            ctx.reject("nesting_too_deep", f"containers nest at most {MAX_NESTING} deep")
        packed = [replace(child, parent=parent.id) for child in children]
        ids = tuple(child.id for child in children)
        grown = replace(parent, children=parent.children + ids, levels=levels)
        _record(ctx, PACKING, args.event, read_point, [grown, *packed], parent=parent.id)

    @method(AggregationArgs)
    def unpack(self, ctx: Context, args: AggregationArgs) -> None:
        """AggregationEvent DELETE, bizStep unpacking: the named children (all, if none are
        named) leave the container, held by the container's custodian."""
        read_point = check_event(ctx, args.event)
        parent = load_item(ctx, serialized_key(ctx, args.parent).canonical)
        check_custody(ctx, parent)
        check_status(ctx, parent, recall_blocks=False)
        keys = keys_of(ctx, args.children, allow_empty=True)
        names = [key.canonical for key in keys] or list(parent.children)
        if not names:
            ctx.reject("not_a_child", f"{parent.id} contains nothing")
        freed = []
        for name in names:
            if name not in parent.children:
                ctx.reject("not_a_child", f"{name} is not packed in {parent.id}", identifier=name)
            child = load_item(ctx, name)
            freed.append(replace(child, parent="", custodian=parent.custodian, shipment=None))
        left = tuple(child for child in parent.children if child not in names)
        shrunk = replace(parent, children=left, levels=parent.levels if left else 0)
        _record(ctx, UNPACKING, args.event, read_point, [shrunk, *freed], parent=parent.id)

    @method(TransformArgs)
    def transform(self, ctx: Context, args: TransformArgs) -> None:
        """TransformationEvent: the inputs (held by the sender) are consumed, the outputs (the
        sender's own keys) commissioned."""
        read_point = check_event(ctx, args.event)
        consumed = []
        for key in keys_of(ctx, args.inputs):
            item = load_item(ctx, key.canonical)
            check_custody(ctx, item)
            check_movable(ctx, item)
            _require_empty(ctx, item)
            consumed.append(replace(item, status=CONSUMED))
        lot = _lot(ctx, args.lot)
        outputs = keys_of(ctx, args.outputs)
        if {key.canonical for key in outputs} & {item.id for item in consumed}:
            ctx.reject("duplicate_epc", "an output is also an input")
        created = [_new_item(ctx, key, lot) for key in outputs]
        _record(
            ctx,
            TRANSFORMING,
            args.event,
            read_point,
            consumed + created,
            outputs=tuple(item.id for item in created),
        )

    @method(TransactArgs)
    def transact(self, ctx: Context, args: TransactArgs) -> None:
        """TransactionEvent: links items to purchase orders or invoices. The sender holds the
        items (as custodian of their top container) or is receiving them."""
        read_point = check_event(ctx, args.event)
        if not 1 <= len(args.biz_transactions) <= MAX_BIZ_TRANSACTIONS:
            ctx.reject("invalid_biz_transaction", f"1..{MAX_BIZ_TRANSACTIONS} transactions")
        for reference in args.biz_transactions:
            if not IDENTIFIER.fullmatch(reference.type) or not (
                1 <= len(reference.id) <= MAX_REFERENCE_LENGTH and reference.id.isascii()
            ):
                ctx.reject(
                    "invalid_biz_transaction",
                    f"a transaction is a type (identifier) and a 1..{MAX_REFERENCE_LENGTH} "
                    "character ASCII id",
                )
        items = []
        for key in keys_of(ctx, args.epcs):
            item = load_item(ctx, key.canonical)
            top = top_of(ctx, item)
            receiving = top.shipment is not None and top.shipment.receiver == ctx.organization
            if top.custodian != ctx.organization and not receiving:
                ctx.reject(
                    "not_custodian",
                    f"{ctx.organization} neither holds nor receives {item.id}",
                    identifier=item.id,
                )
            items.append(item)
        _record(
            ctx,
            TRANSACTING,
            args.event,
            read_point,
            items,
            biz_transactions=args.biz_transactions,
        )

    @method(RecallArgs)
    def recall(self, ctx: Context, args: RecallArgs) -> Recall:
        """Recall a lot of a GTIN: by the GTIN's brand owner or a regulator."""
        key = key_of(ctx, args.gtin)
        if key.kind != GTIN:
            ctx.reject("malformed_identifier", "a recall names a GTIN (and a lot)")
        lot = _lot(ctx, args.lot)
        if not lot:
            ctx.reject("malformed_identifier", "a recall names a lot")
        owner = brand_owner(ctx, key)
        if owner != ctx.organization and REGULATOR_ROLE not in ctx.roles:
            ctx.reject(
                "not_brand_owner",
                f"only {owner} (the brand owner) or a regulator recalls {key.canonical}",
            )
        stored_key = recall_key(key.number, lot)
        if ctx.state.load(stored_key, Recall) is not None:
            ctx.reject("already_recalled", f"lot {lot} of {key.number} is recalled")
        recall = Recall(key.number, lot, ctx.organization, ctx.height)
        ctx.state.save(stored_key, recall)
        ctx.emit("LotRecalled", gtin=key.number, lot=lot, organization=ctx.organization)
        return recall


# -- helpers ----------------------------------------------------------------------------------


def register_prefix(ctx: Context, prefix: str, organization: str) -> None:
    """Save ``prefix`` for ``organization``; ``invalid_company_prefix`` unless 4..12 digits,
    ``company_prefix_taken`` if it, a shorter one it begins with, or a longer one beginning with
    it is registered."""
    lengths = COMPANY_PREFIX_LENGTHS
    if not (prefix.isascii() and prefix.isdigit() and lengths.start <= len(prefix) < lengths.stop):
        ctx.reject("invalid_company_prefix", "a GS1 company prefix is 4..12 digits")
    shorter = [prefix[:length] for length in range(lengths.start, len(prefix) + 1)]
    taken = any(ctx.state.load(company_prefix_key(p), CompanyPrefix) for p in shorter)
    if taken or ctx.state.load_int(prefix_claimed_key(prefix)):
        ctx.reject(
            "company_prefix_taken",
            f"{prefix} is or overlaps a registered company prefix",
            prefix=prefix,
        )
    ctx.state.save(company_prefix_key(prefix), CompanyPrefix(prefix, organization, ctx.height))
    for beginning in shorter[:-1]:
        claimed = prefix_claimed_key(beginning)
        ctx.state.save_int(claimed, ctx.state.load_int(claimed) + 1)


def _lot(ctx: Context, lot: str) -> str:
    if not lot:
        return ""
    try:
        return check_lot(lot)
    except IdentifierError as error:
        ctx.reject(error.code, f"lot: {error.message}")


def _new_item(ctx: Context, key: Key, lot: str) -> Item:
    owner = brand_owner(ctx, key)
    if owner != ctx.organization:
        ctx.reject(
            "not_brand_owner",
            f"only {owner} commissions {key.canonical}",
            identifier=key.canonical,
            brand_owner=owner,
        )
    if ctx.state.load(item_key(key.canonical), Item) is not None:
        ctx.reject(
            "already_commissioned",
            f"{key.canonical} is commissioned",
            identifier=key.canonical,
        )
    return Item(
        key.canonical, owner, lot or key.lot, ACTIVE, owner, None, "", (), 0, 0, 0, ctx.height, b""
    )


def _require_empty(ctx: Context, item: Item) -> None:
    if item.children:
        ctx.reject("item_is_container", f"{item.id} still contains {len(item.children)} items")


def _record(
    ctx: Context,
    kind: str,
    fields: EventFields,
    read_point: str,
    items: list[Item],
    *,
    outputs: tuple[str, ...] = (),
    parent: str = "",
    receiver: str = "",
    biz_transactions: tuple[BizTransaction, ...] = (),
) -> None:
    """Save the event, append it to each item's history (in time order) and save the items. A
    new item's first event is kept in the item itself (``first_event``), later ones under
    ``history_key``: one value fewer for every item created."""
    if len({item.id for item in items}) != len(items):
        ctx.reject("duplicate_epc", "an event names the same item twice")
    for item in items:
        if fields.event_time_ms < item.last_event_time_ms:
            ctx.reject(
                "event_out_of_order",
                f"{item.id} has a later event already (at {item.last_event_time_ms} ms)",
                identifier=item.id,
            )
    epcs = tuple(item.id for item in items if item.id not in outputs)
    record = EventRecord(
        fields.event_hash,
        kind,
        ctx.organization,
        fields.event_time_ms,
        ctx.height,
        read_point,
        epcs,
        outputs,
        parent,
        receiver,
        biz_transactions,
    )
    ctx.state.save(event_key(fields.event_hash), record)
    for item in items:
        first = item.first_event
        if item.event_count:
            ctx.state.save(history_key(item.id, item.event_count), fields.event_hash)
        else:
            first = fields.event_hash
        updated = replace(
            item,
            event_count=item.event_count + 1,
            last_event_time_ms=fields.event_time_ms,
            first_event=first,
        )
        ctx.state.save(item_key(item.id), updated)
    ctx.emit(
        "EventRecorded",
        event_hash=fields.event_hash,
        kind=kind,
        organization=ctx.organization,
        items=len(items),
    )
