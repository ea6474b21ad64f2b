"""Provenance rules on the real runtime: each broken rule gives its own code and changes nothing
(``Chain.rejected`` compares the whole state before and after)."""

from __future__ import annotations

import msgspec
import pytest

from jinqiao.apps.supplychain.model import (
    MAX_CHILDREN,
    MAX_EPCS_PER_EVENT,
    MAX_NESTING,
    SUPPLYCHAIN,
    AggregationArgs,
    BizTransaction,
    CommissionArgs,
    CompanyPrefix,
    EpcsArgs,
    EventArgs,
    EventFields,
    History,
    HistoryArgs,
    Item,
    ItemView,
    KeyArgs,
    PrefixArgs,
    RecallArgs,
    RegisterPrefixArgs,
    ShipArgs,
    TransactArgs,
    TransformArgs,
    history_key,
    item_key,
)
from jinqiao.core.codec import encode
from jinqiao.core.errors import Rejection
from jinqiao.execution.identity import REGISTRY, Organization, organization_key
from jinqiao.execution.state import full_key
from tests.helpers.chain import Chain
from tests.helpers.supplychain import GTIN, OPS, Events, make_chain, sgtin, sscc

SC = SUPPLYCHAIN


@pytest.fixture
def chain() -> Chain:
    return make_chain()


def view(chain: Chain, key: str) -> ItemView:
    result: ItemView = chain.query(SC, "item", KeyArgs(key))
    return result


def commission(chain: Chain, events: Events, *keys: str, lot: str = "") -> None:
    chain.ok("brand-ops", SC, "commission", CommissionArgs(events.next(), keys, lot))


def test_journey_brand_to_retailer_through_a_pallet(chain: Chain) -> None:
    events = Events(chain)
    items = [sgtin(i) for i in range(3)]
    pallet = sscc(1)
    commission(chain, events, *items, pallet)
    chain.ok("brand-ops", SC, "pack", AggregationArgs(events.next(), pallet, tuple(items)))
    chain.ok("brand-ops", SC, "ship", ShipArgs(events.next(), (pallet,), "distributor"))
    assert view(chain, items[0]).in_transit_to == "distributor"
    chain.ok("distributor-ops", SC, "receive", EpcsArgs(events.next(), (pallet,)))
    assert view(chain, items[1]).custodian == "distributor"
    chain.ok("distributor-ops", SC, "ship", ShipArgs(events.next(), (pallet,), "retailer"))
    chain.ok("retailer-ops", SC, "receive", EpcsArgs(events.next(), (pallet,)))
    chain.ok("retailer-ops", SC, "unpack", AggregationArgs(events.next(), pallet, ()))
    chain.ok("retailer-ops", SC, "sell", EpcsArgs(events.next(), (items[0],)))
    sold = view(chain, items[0])
    assert (sold.item.status, sold.custodian, sold.top) == ("sold", "retailer", sold.item.id)
    history: History = chain.query(SC, "history", HistoryArgs(items[0], 0, 10))
    assert [e.kind for e in history.events] == [
        "commissioning",
        "packing",
        "unpacking",
        "retail_selling",
    ]
    pallet_history: History = chain.query(SC, "history", HistoryArgs(pallet, 0, 2))
    assert pallet_history.next_start == 2
    # Any form of the key reads the same item.
    assert view(chain, "https://id.gs1.org/01/06901234000016/21/0") == sold


def test_an_items_first_event_is_kept_in_the_item_and_later_ones_as_pointers(
    chain: Chain,
) -> None:
    """ADR 0058: creating an item writes no history pointer; event 0 is ``first_event``, for a
    commissioning and for a transformation's outputs alike."""
    events = Events(chain)
    commissioned = events.next()
    chain.ok("brand-ops", SC, "commission", CommissionArgs(commissioned, (sgtin(1),), ""))
    item = chain.read(SC, item_key(sgtin_canonical(chain, sgtin(1))), Item)
    assert item is not None and (item.first_event, item.event_count) == (commissioned.event_hash, 1)
    assert chain.read(SC, history_key(item.id, 0), bytes) is None
    observed = events.next()
    chain.ok("retailer-ops", SC, "observe", EpcsArgs(observed, (sgtin(1),)))
    assert chain.read(SC, history_key(item.id, 1), bytes) == observed.event_hash
    assert chain.read(SC, history_key(item.id, 0), bytes) is None
    transformed = events.next()
    chain.ok("brand-ops", SC, "transform", TransformArgs(transformed, (sgtin(1),), (sgtin(2),), ""))
    output = chain.read(SC, item_key(sgtin_canonical(chain, sgtin(2))), Item)
    assert output is not None and output.first_event == transformed.event_hash
    history: History = chain.query(SC, "history", HistoryArgs(sgtin(1), 0, 10))
    assert [e.event_hash for e in history.events] == [
        commissioned.event_hash,
        observed.event_hash,
        transformed.event_hash,
    ]


def sgtin_canonical(chain: Chain, key: str) -> str:
    return view(chain, key).item.id


def test_company_prefixes(chain: Chain) -> None:
    chain.ok("registrar", SC, "register_company_prefix", RegisterPrefixArgs("6909999", "tier1"))
    record: CompanyPrefix = chain.query(SC, "company_prefix", PrefixArgs("6909999"))
    assert record.organization == "tier1"
    for prefix in ("6909999", "690999", "69099991", "6901"):  # same, or overlapping
        chain.rejected(
            "company_prefix_taken",
            "registrar",
            SC,
            "register_company_prefix",
            RegisterPrefixArgs(prefix, "tier2"),
        )
    chain.rejected(
        "invalid_company_prefix",
        "registrar",
        SC,
        "register_company_prefix",
        RegisterPrefixArgs("69a", "tier2"),
    )
    chain.rejected(
        "unknown_organization",
        "registrar",
        SC,
        "register_company_prefix",
        RegisterPrefixArgs("7000000", "nobody"),
    )
    chain.rejected(
        "unauthorized",
        "brand-ops",
        SC,
        "register_company_prefix",
        RegisterPrefixArgs("7000000", "brand"),
    )


def test_commissioning_rules(chain: Chain) -> None:
    events = Events(chain)
    commission(chain, events, sgtin(1))

    def rejected(code: str, sender: str, *keys: str, event: EventFields | None = None) -> None:
        args = CommissionArgs(event or events.next(), keys)
        chain.rejected(code, sender, SC, "commission", args)

    rejected("already_commissioned", "brand-ops", sgtin(1))
    rejected("not_brand_owner", "distributor-ops", sgtin(2))
    rejected("unknown_company_prefix", "brand-ops", "urn:epc:id:sgtin:0614141.812345.1")
    rejected("invalid_check_digit", "brand-ops", "https://id.gs1.org/01/06901234000017/21/1")
    rejected("malformed_uri", "brand-ops", "https://id.gs1.org/01/06901234000016/21/1/17/1")
    rejected("malformed_identifier", "brand-ops", "urn:epc:id:sgtin:6901234.00001.1")
    rejected("not_serialized", "brand-ops", GTIN)
    rejected("duplicate_epc", "brand-ops", sgtin(3), "01/06901234000016/21/3")
    rejected("invalid_epc_count", "brand-ops")
    rejected(
        "event_in_future", "brand-ops", sgtin(4), event=events.next(time_ms=chain.time_ms + 10**7)
    )
    rejected("invalid_event_hash", "brand-ops", sgtin(4), event=EventFields(b"short", 0))
    used = EventFields((1).to_bytes(32, "big"), chain.time_ms)
    rejected("duplicate_event", "brand-ops", sgtin(4), event=used)
    bad_read_point = EventFields(b"\x77" * 32, chain.time_ms, "0614141123453")
    rejected("invalid_check_digit", "brand-ops", sgtin(4), event=bad_read_point)


def test_brand_owner_found_whatever_the_urn_partition(chain: Chain) -> None:
    # The lookup tries the URN's company prefix length first (ADR 0046); a registered prefix
    # shorter or longer than the URN's partition is still found, an unknown one still refused.
    events = Events(chain)
    chain.ok("registrar", SC, "register_company_prefix", RegisterPrefixArgs("69099", "tier1"))
    chain.ok("registrar", SC, "register_company_prefix", RegisterPrefixArgs("6908888", "tier2"))
    longer_partition = "urn:epc:id:sgtin:6909912.000001.X"  # registered 69099: 5 digits
    shorter_partition = "urn:epc:id:sgtin:690888.0800001.X"  # registered 6908888: 7 digits
    chain.rejected(
        "not_brand_owner",
        "brand-ops",
        SC,
        "commission",
        CommissionArgs(events.next(), (longer_partition,)),
    )
    chain.ok("tier1-ops", SC, "commission", CommissionArgs(events.next(), (longer_partition,)))
    chain.ok("tier2-ops", SC, "commission", CommissionArgs(events.next(), (shorter_partition,)))
    chain.rejected(
        "unknown_company_prefix",
        "brand-ops",
        SC,
        "commission",
        CommissionArgs(events.next(), ("urn:epc:id:sgtin:690777.7000001.X",)),
    )


def test_urn_hint_records_the_steps_of_the_plain_lookup(chain: Chain) -> None:
    # A hit at the URN's length costs one read but the receipt's steps_used is the plain
    # lookup's, so the receipts (and their root) are those of a lookup from the shortest length.
    events = Events(chain)
    by_urn = chain.ok("brand-ops", SC, "commission", CommissionArgs(events.next(), (sgtin(7),)))
    by_link = chain.ok(
        "brand-ops",
        SC,
        "commission",
        CommissionArgs(events.next(), ("https://id.gs1.org/01/06901234000016/21/8",)),
    )
    assert sgtin(8) != "https://id.gs1.org/01/06901234000016/21/8"
    assert view(chain, sgtin(8)).item.id == "01/06901234000016/21/8"
    assert by_urn.steps_used == by_link.steps_used


def test_custody_rules(chain: Chain) -> None:
    events = Events(chain)
    commission(chain, events, sgtin(1), sgtin(2), sscc(1))
    chain.rejected(
        "not_custodian",
        "distributor-ops",
        SC,
        "ship",
        ShipArgs(events.next(), (sgtin(1),), "retailer"),
    )
    chain.rejected(
        "unknown_organization",
        "brand-ops",
        SC,
        "ship",
        ShipArgs(events.next(), (sgtin(1),), "nobody"),
    )
    chain.rejected(
        "invalid_receiver", "brand-ops", SC, "ship", ShipArgs(events.next(), (sgtin(1),), "brand")
    )
    chain.rejected(
        "no_open_shipment", "retailer-ops", SC, "receive", EpcsArgs(events.next(), (sgtin(1),))
    )
    chain.rejected(
        "not_commissioned",
        "brand-ops",
        SC,
        "ship",
        ShipArgs(events.next(), (sgtin(9),), "retailer"),
    )
    chain.ok("brand-ops", SC, "ship", ShipArgs(events.next(), (sgtin(1),), "distributor"))
    chain.rejected(
        "in_transit", "brand-ops", SC, "ship", ShipArgs(events.next(), (sgtin(1),), "retailer")
    )
    chain.rejected(
        "no_open_shipment", "retailer-ops", SC, "receive", EpcsArgs(events.next(), (sgtin(1),))
    )
    # Children move with their container, never on their own.
    chain.ok("brand-ops", SC, "pack", AggregationArgs(events.next(), sscc(1), (sgtin(2),)))
    chain.rejected(
        "item_in_container",
        "brand-ops",
        SC,
        "ship",
        ShipArgs(events.next(), (sgtin(2),), "retailer"),
    )
    chain.rejected(
        "invalid_aggregation",
        "brand-ops",
        SC,
        "pack",
        AggregationArgs(events.next(), sscc(1), (sscc(1),)),
    )
    chain.rejected(
        "not_a_child",
        "brand-ops",
        SC,
        "unpack",
        AggregationArgs(events.next(), sscc(1), (sgtin(1),)),
    )
    chain.rejected(
        "item_is_container", "brand-ops", SC, "sell", EpcsArgs(events.next(), (sscc(1),))
    )
    # Events of an item are in time order.
    late = events.next(time_ms=chain.time_ms - 10_000)
    chain.rejected("event_out_of_order", "brand-ops", SC, "observe", EpcsArgs(late, (sgtin(2),)))


def test_sold_decommissioned_and_consumed_items_do_not_move(chain: Chain) -> None:
    events = Events(chain)
    commission(chain, events, sgtin(1), sgtin(2), sgtin(3))
    chain.ok("brand-ops", SC, "sell", EpcsArgs(events.next(), (sgtin(1),)))
    chain.ok("brand-ops", SC, "decommission", EpcsArgs(events.next(), (sgtin(2),)))
    chain.ok(
        "brand-ops", SC, "transform", TransformArgs(events.next(), (sgtin(3),), (sgtin(4),), "L2")
    )
    for key, code in (
        (sgtin(1), "item_sold"),
        (sgtin(2), "item_decommissioned"),
        (sgtin(3), "item_consumed"),
    ):
        chain.rejected(code, "brand-ops", SC, "ship", ShipArgs(events.next(), (key,), "retailer"))
    assert view(chain, sgtin(4)).item.lot == "L2"
    chain.ok("brand-ops", SC, "ship", ShipArgs(events.next(), (sgtin(4),), "distributor"))
    chain.ok("distributor-ops", SC, "receive", EpcsArgs(events.next(), (sgtin(4),)))
    chain.rejected(
        "not_brand_owner",
        "distributor-ops",
        SC,
        "transform",
        TransformArgs(events.next(), (sgtin(4),), (sgtin(5),)),
    )
    # A sighting is recorded for any item, by any member.
    chain.ok("retailer-ops", SC, "observe", EpcsArgs(events.next(), (sgtin(1),)))


def test_recall_stops_a_lot_and_the_pallet_carrying_it(chain: Chain) -> None:
    events = Events(chain)
    commission(chain, events, sgtin(1), lot="L1")
    commission(chain, events, sscc(1))
    chain.ok("brand-ops", SC, "pack", AggregationArgs(events.next(), sscc(1), (sgtin(1),)))
    chain.rejected("not_brand_owner", "distributor-ops", SC, "recall", RecallArgs(GTIN, "L1"))
    chain.rejected("malformed_identifier", "brand-ops", SC, "recall", RecallArgs(sgtin(1), "L1"))
    chain.ok("inspector", SC, "recall", RecallArgs(GTIN, "L1"))
    chain.rejected("already_recalled", "brand-ops", SC, "recall", RecallArgs(GTIN, "L1"))
    assert view(chain, sgtin(1)).recalled
    chain.rejected(
        "item_recalled", "brand-ops", SC, "ship", ShipArgs(events.next(), (sscc(1),), "retailer")
    )
    chain.ok("brand-ops", SC, "unpack", AggregationArgs(events.next(), sscc(1), ()))
    chain.ok("brand-ops", SC, "decommission", EpcsArgs(events.next(), (sgtin(1),)))
    chain.ok("brand-ops", SC, "ship", ShipArgs(events.next(), (sscc(1),), "retailer"))


def test_transaction_event_links_documents(chain: Chain) -> None:
    events = Events(chain)
    commission(chain, events, sgtin(1))
    link = (BizTransaction("po", "urn:epcglobal:cbv:bt:6901234000004:PO-1"),)
    chain.rejected(
        "not_custodian",
        "retailer-ops",
        SC,
        "transact",
        TransactArgs(events.next(), (sgtin(1),), link),
    )
    chain.rejected(
        "invalid_biz_transaction",
        "brand-ops",
        SC,
        "transact",
        TransactArgs(events.next(), (sgtin(1),), (BizTransaction("p o", "x"),)),
    )
    event = events.next()
    chain.ok("brand-ops", SC, "transact", TransactArgs(event, (sgtin(1),), link))
    recorded = chain.query(SC, "event", EventArgs(event.event_hash))
    assert recorded.biz_transactions == link and recorded.epcs == ("01/06901234000016/21/1",)


def test_queries_reject_unknown_things(chain: Chain) -> None:
    for name, args, code in (
        ("item", KeyArgs(sgtin(7)), "not_commissioned"),
        ("item", KeyArgs("nonsense"), "malformed_identifier"),
        ("company_prefix", PrefixArgs("1234"), "unknown_company_prefix"),
        ("event", EventArgs(b"\x00" * 32), "unknown_event"),
        ("recall_record", RecallArgs(GTIN, "L9"), "not_recalled"),
        ("recall_record", RecallArgs(GTIN, "L" * 300), "not_recalled"),
        ("history", HistoryArgs(sgtin(1), 0, 0), "invalid_page"),
    ):
        with pytest.raises(Rejection) as raised:
            chain.query(SC, name, args)
        assert raised.value.code == code, name


def test_every_member_has_an_ops_account() -> None:
    assert set(OPS) >= {"brand", "distributor", "retailer", "bank"}


def test_a_suspended_receiver_is_refused(chain: Chain) -> None:
    events = Events(chain)
    commission(chain, events, sgtin(1))
    organization = chain.read(REGISTRY, organization_key("distributor"), Organization)
    assert organization is not None
    # The record as the registry leaves it once governance suspends the organization.
    chain.apply_writes(
        {
            full_key(REGISTRY, organization_key("distributor")): encode(
                msgspec.structs.replace(organization, active=False)
            )
        }
    )
    chain.rejected(
        "organization_inactive",
        "brand-ops",
        SC,
        "ship",
        ShipArgs(events.next(), (sgtin(1),), "distributor"),
    )


def test_a_container_holds_at_most_max_children(chain: Chain) -> None:
    events = Events(chain)
    items = [sgtin(i) for i in range(MAX_CHILDREN + 1)]
    for start in range(0, len(items), MAX_EPCS_PER_EVENT):
        commission(chain, events, *items[start : start + MAX_EPCS_PER_EVENT])
    commission(chain, events, sscc(1))
    first = tuple(items[:MAX_EPCS_PER_EVENT])
    chain.ok("brand-ops", SC, "pack", AggregationArgs(events.next(), sscc(1), first))
    rest = tuple(items[MAX_EPCS_PER_EVENT:])
    assert len(first) + len(rest) == MAX_CHILDREN + 1
    chain.rejected(
        "too_many_children", "brand-ops", SC, "pack", AggregationArgs(events.next(), sscc(1), rest)
    )
    chain.ok("brand-ops", SC, "pack", AggregationArgs(events.next(), sscc(1), rest[:-1]))


def test_containers_nest_at_most_max_nesting_deep(chain: Chain) -> None:
    events = Events(chain)
    containers = [sscc(level) for level in range(1, MAX_NESTING + 3)]
    commission(chain, events, sgtin(1), *containers)
    inner = sgtin(1)
    for container in containers[:MAX_NESTING]:
        chain.ok("brand-ops", SC, "pack", AggregationArgs(events.next(), container, (inner,)))
        inner = container
    chain.rejected(
        "nesting_too_deep",
        "brand-ops",
        SC,
        "pack",
        AggregationArgs(events.next(), containers[MAX_NESTING], (inner,)),
    )
