"""Invariants of the supply chain contract (issue 12 item 10) over random operation sequences,
run on the real runtime with the default contracts and the real token:

* live parts sum to their root's face value until repayment, and all close at repayment;
* a pledged part is never transferred, split or sold while pledged;
* a trade document backs at most one root, ever;
* the token is conserved: finance and repayment move money between accounts, never create or
  destroy it, and the supply chain contract never holds any;
* custody is a single chain for every serial: replaying an item's recorded events gives its
  custodian, each shipment is by the custodian and each receipt by the shipment's receiver;
* a rejected operation changes nothing.

Operations are drawn with senders and targets from the whole consortium, so most sequences mix
accepted and rejected operations.
"""

from __future__ import annotations

import contextlib
import hashlib
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from jinqiao.apps.supplychain.model import (
    SUPPLYCHAIN,
    AggregationArgs,
    Backing,
    CommissionArgs,
    ConfirmArgs,
    DocumentUse,
    EpcsArgs,
    EventRecord,
    Item,
    KeyArgs,
    OfferArgs,
    RecallArgs,
    Receivable,
    ReceivableArgs,
    Root,
    RootArgs,
    ShipArgs,
    SplitArgs,
    TransferReceivableArgs,
)
from jinqiao.apps.token import TOKEN, AssetArgs, Holding, Supply
from jinqiao.core.codec import decode
from jinqiao.core.errors import Rejection
from jinqiao.core.limits import MAX_STATE_VALUE_BYTES
from jinqiao.core.types import ReceiptStatus
from jinqiao.execution.contract import contract_address
from jinqiao.execution.state import full_key
from tests.helpers.supplychain import GTIN, OPS, Events, make_chain, sgtin, sscc

SC = SUPPLYCHAIN
DAY_MS = 86_400_000
ORGS = ("brand", "distributor", "retailer", "tier1", "tier2", "tier3", "bank")
HOLDER_ACCOUNTS = {org: OPS[org] for org in ORGS}
PROPERTY_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

orgs = st.sampled_from(ORGS)
small = st.integers(0, 5)

honest = st.integers(0, 9).map(lambda n: n < 8)
"""Most operations are signed by the party entitled to them (so most are accepted); the rest by
whoever was drawn."""

confirm_op = st.tuples(st.just("confirm"), honest, st.integers(1, 10**7), st.integers(0, 6), orgs)
receivable_ops = st.one_of(
    confirm_op,
    st.tuples(
        st.just("split"), honest, small, st.lists(st.integers(1, 100), min_size=2, max_size=4), orgs
    ),
    st.tuples(st.just("transfer"), honest, small, orgs, orgs),
    st.tuples(
        st.just("offer"),
        honest,
        small,
        st.sampled_from(("factoring", "pledge")),
        st.integers(0, 400_000),
        orgs,
    ),
    st.tuples(st.just("accept"), honest, small, st.sampled_from(("bank", "tier2"))),
    st.tuples(st.just("accept"), honest, small, st.sampled_from(("bank", "tier2"))),
    st.tuples(st.just("release"), honest, small, st.sampled_from(("bank", "tier2"))),
    st.tuples(st.just("repay"), honest, small, orgs),
    st.tuples(st.just("past_due"), honest, small, orgs),
    st.tuples(st.just("wait_days"), honest, st.integers(1, 6)),
)

commission_op = st.tuples(
    st.just("commission"), honest, st.lists(st.integers(0, 6), min_size=1, max_size=3), orgs
)
custody_ops = st.one_of(
    commission_op,
    st.tuples(st.just("ship"), honest, small, orgs, orgs),
    st.tuples(st.just("receive"), honest, small, orgs),
    st.tuples(
        st.just("pack"), honest, st.integers(0, 2), st.lists(small, min_size=1, max_size=3), orgs
    ),
    st.tuples(st.just("unpack"), honest, st.integers(0, 2), orgs),
    st.tuples(st.just("sell"), honest, small, orgs),
    st.tuples(st.just("recall"), honest, st.sampled_from(("L1", "L2")), st.integers(0, 9)),
)


def doc(index: int) -> bytes:
    return hashlib.sha256(b"document %d" % index).digest()


class World:
    """The chain plus what the operations need to name things."""

    def __init__(self) -> None:
        self.chain = make_chain()
        self.events = Events(self.chain)
        self.supply = self.total_supply()
        self.accepted: list[str] = []

    def submit(self, sender: str, method: str, args: Any, contract: str = SC) -> bool:
        before = dict(self.chain.state)
        receipt = self.chain.submit(sender, contract, method, args)
        if receipt.status != ReceiptStatus.OK:
            assert self.chain.state == before, f"rejected {method} changed state"
            return False
        self.accepted.append(method)
        return True

    # -- reading the whole namespace --------------------------------------------------------

    def records(self, prefix: bytes, kind: type[Any]) -> list[Any]:
        full = full_key(SC, prefix)
        return [
            decode(value, kind, max_bytes=MAX_STATE_VALUE_BYTES)
            for key, value in sorted(self.chain.state.items())
            if key.startswith(full)
        ]

    def total_supply(self) -> int:
        supply: Supply = self.chain.query(TOKEN, "supply", AssetArgs("CNY"))
        return supply.supply_minor

    def balances(self) -> dict[bytes, int]:
        prefix = full_key(TOKEN, b"balance/CNY/")
        return {
            key[len(prefix) :]: decode(
                value, Holding, max_bytes=MAX_STATE_VALUE_BYTES
            ).balance_minor
            for key, value in self.chain.state.items()
            if key.startswith(prefix)
        }


def receivable_step(world: World, op: tuple[Any, ...]) -> None:
    chain = world.chain
    kind, entitled = op[0], op[1]
    parts = world.records(b"receivable/", Receivable)
    live = [part for part in parts if part.status == "live"] or parts
    part = live[op[2] % len(live)] if live and kind not in ("confirm", "wait_days") else None
    part_id = part.id if part is not None else 1
    holder = part.holder if part is not None and entitled else op[-1]
    if kind == "confirm":
        _, _, face, document, holder = op
        backing = (Backing("invoice", doc(document), face),)
        due = chain.time_ms + 10 * DAY_MS
        args = ConfirmArgs("CNY", holder, chain.address(OPS[holder]), face, due, backing)
        world.submit("brand-treasury" if entitled else "distributor-treasury", "confirm", args)
    elif kind == "split":
        weights = op[3]
        face = part.face_value_minor if part is not None else sum(weights)
        values = [max(1, face * w // sum(weights)) for w in weights[:-1]]
        values.append(face - sum(values) if entitled else weights[-1])
        world.submit(OPS[holder], "split", SplitArgs(part_id, tuple(values)))
    elif kind == "transfer":
        recipient = op[3]
        args = TransferReceivableArgs(part_id, recipient, chain.address(OPS[recipient]))
        world.submit(OPS[holder], "transfer", args)
    elif kind == "offer":
        _, _, _, finance, rate, _ = op
        funder = "bank" if rate % 2 else "tier2"
        payee = chain.address(OPS[holder])
        args = OfferArgs(part_id, finance, funder, rate, payee, chain.height + 4)
        world.submit(OPS[holder], "offer_finance", args)
    elif kind in ("accept", "release"):
        funder = op[3]
        if entitled and part is not None:
            funder = (part.offer.funder if part.offer else part.pledgee) or funder
        method = "accept_offer" if kind == "accept" else "release_pledge"
        world.submit(OPS[funder], method, ReceivableArgs(part_id))
    elif kind == "repay":
        root_id = part.root_id if part is not None else 1
        world.submit(
            "brand-treasury" if entitled else "distributor-treasury", "repay", RootArgs(root_id)
        )
    elif kind == "past_due":
        world.submit(OPS[op[3]], "mark_past_due", RootArgs(part.root_id if part else 1))
    else:
        chain.advance_time(op[2] * DAY_MS)


def check_receivables(world: World, pledged_before: dict[int, Receivable]) -> None:
    parts = {part.id: part for part in world.records(b"receivable/", Receivable)}
    roots = world.records(b"root/", Root)
    for root in roots:
        live = [parts[i] for i in root.live_parts]
        assert all(part.status == "live" and part.root_id == root.id for part in live)
        if root.repaid:
            assert root.live_parts == ()
            assert all(
                p.status == "closed"
                for p in parts.values()
                if p.root_id == root.id and p.status != "split"
            )
        else:
            assert sum(part.face_value_minor for part in live) == root.face_value_minor
        assert {p.id for p in parts.values() if p.root_id == root.id and p.status == "live"} == set(
            root.live_parts
        )
    # A pledged part stays with its holder, whole, until released or repaid.
    for part_id, before in pledged_before.items():
        now = parts[part_id]
        assert now.holder == before.holder and now.holder_account == before.holder_account
        assert now.status in ("live", "closed")
    # A document backs one root, ever.
    uses = world.records(b"document/", DocumentUse)
    backed = [backing.document_hash for root in roots for backing in root.backing]
    assert len(backed) == len(set(backed))
    assert sorted((use.document_hash, use.root_id) for use in uses) == sorted(
        (backing.document_hash, root.id) for root in roots for backing in root.backing
    )
    # The token is conserved and the contract never holds any.
    balances = world.balances()
    assert sum(balances.values()) == world.supply == world.total_supply()
    assert balances.get(contract_address(world.chain.suite.hash, SC), 0) == 0


@PROPERTY_SETTINGS
@given(
    st.lists(confirm_op, min_size=1, max_size=3), st.lists(receivable_ops, min_size=8, max_size=40)
)
def test_receivable_invariants(confirms: list[tuple[Any, ...]], ops: list[tuple[Any, ...]]) -> None:
    world = World()
    for op in confirms + ops:
        pledged = {p.id: p for p in world.records(b"receivable/", Receivable) if p.pledgee}
        treasury = world.balances().get(world.chain.address("brand-treasury"), 0)
        roots_before = {root.id: root for root in world.records(b"root/", Root)}
        receivable_step(world, op)
        check_receivables(world, pledged)
        newly_repaid = [
            root
            for root in world.records(b"root/", Root)
            if root.repaid and not roots_before[root.id].repaid
        ]
        paid = treasury - world.balances().get(world.chain.address("brand-treasury"), 0)
        assert paid == sum(root.face_value_minor for root in newly_repaid)
    event(f"accepted: {sorted(set(world.accepted))}"[:80])
    event(f"accepted {min(len(world.accepted), 10)}+ operations")
    event(f"kinds accepted: {len(set(world.accepted))}")


def custody_step(world: World, op: tuple[Any, ...]) -> None:
    keys = [sgtin(i) for i in range(7)]
    containers = [sscc(i) for i in range(3)]
    kind, entitled = op[0], op[1]
    views = {}
    for key in keys + containers:
        with contextlib.suppress(Rejection):
            views[key] = world.chain.query(SC, "item", KeyArgs(key))

    def pick(index: int, among: list[str]) -> str:
        """Honest: one of the commissioned ``among``; else whatever was drawn."""
        present = [key for key in among if key in views]
        return present[index % len(present)] if entitled and present else among[index % len(among)]

    def sender(key: str, drawn: str, *, receiving: bool = False) -> str:
        view = views.get(key)
        if not entitled or view is None:
            return OPS[drawn]
        return OPS[(view.in_transit_to if receiving else view.custodian) or drawn]

    if kind == "commission":
        _, _, serials, drawn = op
        lot = "L1" if serials[0] % 2 else "L2"
        fresh = [key for key in keys if key not in views] if entitled else keys
        epcs = tuple(dict.fromkeys(fresh[i % len(fresh)] for i in serials)) if fresh else ()
        free = [key for key in containers if key not in views] if entitled else containers
        if serials[0] < 3 and free:
            epcs += (free[serials[0] % len(free)],)
        signer = "brand-ops" if entitled else OPS[drawn]
        world.submit(signer, "commission", CommissionArgs(world.events.next(), epcs, lot))
    elif kind == "ship":
        _, _, index, drawn, receiver = op
        target = pick(index, containers + keys)
        view = views.get(target)
        if entitled and view is not None and receiver == view.custodian:
            receiver = "retailer" if view.custodian != "retailer" else "distributor"
        args = ShipArgs(world.events.next(), (target,), receiver)
        world.submit(sender(target, drawn), "ship", args)
    elif kind == "receive":
        _, _, index, drawn = op
        target = (containers + keys)[index]
        moving = [key for key, view in views.items() if view.in_transit_to and view.top == key]
        if moving:  # honest or not: a receipt of goods in transit, by whoever was drawn
            target = moving[index % len(moving)]
        args = EpcsArgs(world.events.next(), (target,))
        world.submit(sender(target, drawn, receiving=True), "receive", args)
    elif kind == "pack":
        _, _, parent, children, drawn = op
        epcs = tuple(dict.fromkeys(keys[i] for i in children))
        parent = containers.index(pick(parent, containers))
        holder = views.get(containers[parent])
        if entitled and holder is not None:
            epcs = (
                tuple(
                    key
                    for key in epcs
                    if key in views
                    and views[key].top == views[key].item.id
                    and views[key].custodian == holder.custodian
                    and not views[key].in_transit_to
                )
                or epcs
            )
        args = AggregationArgs(world.events.next(), containers[parent], epcs)
        world.submit(sender(containers[parent], drawn), "pack", args)
    elif kind == "unpack":
        _, _, parent, drawn = op
        full = [key for key in containers if key in views and views[key].item.children]
        if entitled and full:
            parent = containers.index(full[parent % len(full)])
        args = AggregationArgs(world.events.next(), containers[parent], ())
        world.submit(sender(containers[parent], drawn), "unpack", args)
    elif kind == "sell":
        _, _, index, drawn = op
        world.submit(
            sender(keys[index], drawn), "sell", EpcsArgs(world.events.next(), (keys[index],))
        )
    else:
        if op[3] == 0:  # rare: a recall stops half of everything
            signer = "brand-ops" if entitled else "retailer-ops"
            world.submit(signer, "recall", RecallArgs(GTIN, op[2]))


def check_custody(world: World) -> None:
    """Replaying each item's events gives its stored custody; every shipment was made by the
    custodian and every receipt by the receiver the shipment named."""
    events = {record.event_hash: record for record in world.records(b"event/", EventRecord)}
    for item in world.records(b"item/", Item):
        custodian, in_transit_to, parent = "", "", ""
        pointers = [
            full_key(SC, b"history/" + item.id.encode() + b"/" + sequence.to_bytes(8, "big"))
            for sequence in range(item.event_count)
        ]
        assert pointers[0] not in world.chain.state  # event 0 is the item's own (ADR 0058)
        for sequence in range(item.event_count):
            if sequence == 0:
                event = events[item.first_event]
            else:
                event = events[decode(world.chain.state[pointers[sequence]], bytes, max_bytes=64)]
            if event.kind == "commissioning":
                assert sequence == 0 and event.organization == item.brand_owner
                custodian = event.organization
            elif event.kind == "shipping":
                assert not parent and not in_transit_to and event.organization == custodian
                in_transit_to = event.receiver
            elif event.kind == "receiving":
                assert in_transit_to == event.organization
                custodian, in_transit_to = event.organization, ""
            elif event.kind == "packing" and event.parent != item.id:
                assert event.organization == custodian and not in_transit_to
                parent = event.parent
            elif event.kind == "unpacking" and event.parent != item.id:
                custodian, parent = event.organization, ""
            elif event.kind == "retail_selling":
                assert event.organization == custodian and not parent
        assert item.parent == parent
        if not parent:
            assert item.custodian == custodian
            assert (item.shipment.receiver if item.shipment else "") == in_transit_to
        if item.status == "sold":
            assert item.shipment is None and not item.parent


@PROPERTY_SETTINGS
@given(
    st.lists(commission_op, min_size=1, max_size=3), st.lists(custody_ops, min_size=8, max_size=40)
)
def test_custody_is_a_single_chain(
    commissions: list[tuple[Any, ...]], ops: list[tuple[Any, ...]]
) -> None:
    world = World()
    for op in commissions + ops:
        sold_before = {item.id for item in world.records(b"item/", Item) if item.status == "sold"}
        custody_step(world, op)
        check_custody(world)
        now = {item.id: item for item in world.records(b"item/", Item)}
        assert all(
            now[item].status == "sold" and now[item].event_count >= 1 for item in sold_before
        )
    event(f"kinds accepted: {len(set(world.accepted))}")
    for method in ("pack", "receive", "unpack", "sell", "recall"):
        event(f"{method} accepted: {method in world.accepted}")


def test_the_properties_see_accepted_operations() -> None:
    # A sequence that must be accepted end to end, so the properties above cannot pass on a
    # contract that rejects everything.
    world = World()
    receivable_step(world, ("confirm", True, 1000, 1, "tier1"))
    receivable_step(world, ("offer", True, 0, "pledge", 1, "tier1"))
    receivable_step(world, ("accept", True, 0, "bank"))
    assert world.records(b"receivable/", Receivable)[0].pledgee == "bank"
    custody_step(world, ("commission", True, [4], "brand"))
    custody_step(world, ("ship", True, 7, "bank", "retailer"))
    custody_step(world, ("receive", True, 7, "bank"))
    assert world.chain.query(SC, "item", KeyArgs(sgtin(4))).custodian == "retailer"
    check_custody(world)
