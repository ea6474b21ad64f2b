"""The supply chain contract: genesis, queries, and the provenance and receivable methods
mixed in. ``docs/supplychain.md`` is the full description."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from jinqiao.apps.supplychain.common import is_recalled, key_of, load_item, top_of
from jinqiao.apps.supplychain.identifiers import GTIN, MAX_LOT_LENGTH
from jinqiao.apps.supplychain.model import (
    COMPANY_PREFIX_LENGTHS,
    HASH_BYTES,
    MAX_HISTORY_PAGE,
    SUPPLYCHAIN,
    CompanyPrefix,
    DocumentArgs,
    DocumentUse,
    EventArgs,
    EventRecord,
    History,
    HistoryArgs,
    ItemView,
    KeyArgs,
    PrefixArgs,
    Recall,
    RecallArgs,
    Receivable,
    ReceivableArgs,
    Root,
    RootArgs,
    company_prefix_key,
    document_key,
    event_key,
    history_key,
    prefix_claimed_key,
    recall_key,
)
from jinqiao.apps.supplychain.provenance import Provenance
from jinqiao.apps.supplychain.receivables import Receivables, load_part, load_root
from jinqiao.core.errors import InvalidInput, NodeFault
from jinqiao.execution.api import Context, Contract, GenesisContext, query


class _ConfigStruct(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    pass


class PrefixConfig(_ConfigStruct, frozen=True):
    prefix: str
    organization: str


class SupplyChainConfig(_ConfigStruct, frozen=True):
    """``genesis.contracts["supplychain"]``, e.g.
    ``{"company_prefixes": [{"prefix": "6901234", "organization": "brand"}]}``."""

    company_prefixes: tuple[PrefixConfig, ...] = ()


def load_supplychain_config(config: Mapping[str, Any]) -> SupplyChainConfig:
    try:
        return msgspec.convert(config, SupplyChainConfig, strict=True)
    except msgspec.ValidationError as error:
        raise InvalidInput(f"supplychain genesis configuration: {error}") from None


class SupplyChain(Provenance, Receivables, Contract):
    """Provenance of goods and receivables finance (see the package docstring)."""

    name = SUPPLYCHAIN

    def genesis(self, ctx: GenesisContext, config: Mapping[str, Any]) -> None:
        organizations = {organization.id for organization in ctx.genesis.organizations}
        seen: list[str] = []
        for entry in load_supplychain_config(config).company_prefixes:
            if entry.organization not in organizations:
                raise InvalidInput(
                    f"company prefix {entry.prefix}: no organization {entry.organization}"
                )
            valid = (
                entry.prefix.isascii() and entry.prefix.isdigit() and 4 <= len(entry.prefix) <= 12
            )
            overlapping = any(
                p.startswith(entry.prefix) or entry.prefix.startswith(p) for p in seen
            )
            if not valid or overlapping:
                raise InvalidInput(
                    f"company prefix {entry.prefix!r} is not 4..12 digits or overlaps"
                )
            seen.append(entry.prefix)
            ctx.state.save(
                company_prefix_key(entry.prefix), CompanyPrefix(entry.prefix, entry.organization, 0)
            )
            for length in range(COMPANY_PREFIX_LENGTHS.start, len(entry.prefix)):
                claimed = prefix_claimed_key(entry.prefix[:length])
                ctx.state.save(claimed, (ctx.state.load(claimed, int) or 0) + 1)

    # -- provenance queries ---------------------------------------------------------------------

    @query(PrefixArgs)
    def company_prefix(self, ctx: Context, args: PrefixArgs) -> CompanyPrefix:
        record = None
        if args.prefix.isascii() and args.prefix.isdigit() and len(args.prefix) <= 12:
            record = ctx.state.load(company_prefix_key(args.prefix), CompanyPrefix)
        if record is None:
            ctx.reject("unknown_company_prefix", f"{args.prefix[:16]!r} is not registered")
        return record

    @query(KeyArgs)
    def item(self, ctx: Context, args: KeyArgs) -> ItemView:
        """An item in any key form, with its effective custody."""
        item = load_item(ctx, key_of(ctx, args.id).canonical)
        top = top_of(ctx, item)
        in_transit_to = top.shipment.receiver if top.shipment is not None else ""
        return ItemView(item, top.id, top.custodian, in_transit_to, is_recalled(ctx, item))

    @query(HistoryArgs)
    def history(self, ctx: Context, args: HistoryArgs) -> History:
        """A page of the events naming an item, oldest first."""
        if args.start < 0 or not 1 <= args.limit <= MAX_HISTORY_PAGE:
            ctx.reject("invalid_page", f"start >= 0 and limit 1..{MAX_HISTORY_PAGE}")
        item = load_item(ctx, key_of(ctx, args.id).canonical)
        end = min(item.event_count, args.start + args.limit)
        events = []
        for sequence in range(args.start, end):
            event_hash = (
                item.first_event
                if sequence == 0
                else ctx.state.load(history_key(item.id, sequence), bytes)
            )
            record = (
                None if event_hash is None else ctx.state.load(event_key(event_hash), EventRecord)
            )
            if record is None:
                raise NodeFault("an event within the item's count is missing", sequence=sequence)
            events.append(record)
        return History(item.id, tuple(events), end if end < item.event_count else None)

    @query(EventArgs)
    def event(self, ctx: Context, args: EventArgs) -> EventRecord:
        record = None
        if len(args.event_hash) == HASH_BYTES:
            record = ctx.state.load(event_key(args.event_hash), EventRecord)
        if record is None:
            ctx.reject("unknown_event", "no event with this hash is recorded")
        return record

    @query(RecallArgs)
    def recall_record(self, ctx: Context, args: RecallArgs) -> Recall:
        key = key_of(ctx, args.gtin)
        recall = None
        if key.kind == GTIN and 1 <= len(args.lot) <= MAX_LOT_LENGTH:
            recall = ctx.state.load(recall_key(key.number, args.lot), Recall)
        if recall is None:
            ctx.reject("not_recalled", "this lot is not recalled")
        return recall

    # -- receivable queries ---------------------------------------------------------------------

    @query(ReceivableArgs)
    def receivable(self, ctx: Context, args: ReceivableArgs) -> Receivable:
        return load_part(ctx, args.receivable_id)

    @query(RootArgs)
    def root(self, ctx: Context, args: RootArgs) -> Root:
        return load_root(ctx, args.root_id)

    @query(DocumentArgs)
    def document(self, ctx: Context, args: DocumentArgs) -> DocumentUse:
        """Which receivable a trade document backs (``document_unused`` if none)."""
        use = None
        if len(args.document_hash) == HASH_BYTES:
            use = ctx.state.load(document_key(args.document_hash), DocumentUse)
        if use is None:
            ctx.reject("document_unused", "the document backs no receivable")
        return use


__all__ = ["SupplyChain", "SupplyChainConfig", "load_supplychain_config"]
