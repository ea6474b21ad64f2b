"""Invariants of the payments contract (DESIGN.md §4 rule 2), on random cycles of valid payments:

* conservation — net positions sum to zero and equal an independent computation from the raw
  payments; settlement moves exactly each position in the token, pays out exactly what was paid
  in and leaves the escrow holding only collateral; fees are computed once, at capture;
* idempotency — resubmitting any of the same submissions changes nothing at all;
* order independence — any interleaving of the same payments gives the same flows, totals and
  positions;
* the default procedure — whoever funds or not, with whatever collateral, declaring defaults
  until the cycle is funded and then settling conserves value, and the positions are those of
  the payments of the institutions that were not unwound;
* netting — the fast netting over per-pair totals equals the plain per-obligation reference, and
  fees round half up on the exact rational.
"""

from __future__ import annotations

from fractions import Fraction

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from jinqiao.apps.payments import PAYMENTS
from jinqiao.apps.payments.fees import rate_fee
from jinqiao.apps.payments.model import (
    Cycle,
    CycleArgs,
    CycleTotals,
    FeeRate,
    Flow,
    InstitutionCycle,
    PaymentArgs,
    Positions,
    collateral_key,
    cycle_totals_key,
    flow_key,
    institution_cycle_key,
    position_key,
)
from jinqiao.apps.payments.netting import (
    flow_obligations,
    gross_obligations,
    multilateral_net,
    multilateral_net_reference,
)
from jinqiao.core.limits import MAX_AMOUNT_MINOR
from jinqiao.core.types import ReceiptStatus
from tests.helpers.chain import Chain, result_of
from tests.helpers.payments_network import (
    CLEARING,
    CLEARING_OPS,
    Call,
    Driver,
    NetworkSpec,
    Plan,
    escrow_of,
    make_network,
    oracle_fees,
    oracle_positions,
    plan_calls,
    token_balance,
    treasury,
)

SPEC = NetworkSpec(issuers=("bank-a", "bank-b", "bank-c"), acquirers=("bank-a", "ecfin", "acq"))
INSTITUTIONS = SPEC.institutions
FAR_MS = 10**9
FUNDING_WINDOW = 5
PROPERTY_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

amounts = st.one_of(
    st.integers(1, 3_000),
    st.integers(1, 2_000_000),
    st.sampled_from([1, 2, 100, 15_385, 100_000, 371_429, 10**9]),
)


@st.composite
def plans(draw: st.DrawFn, payment_id: str) -> Plan:
    """A payment's valid life: each amount is drawn within what the previous steps leave."""
    amount = draw(amounts)
    captured = draw(st.integers(1, amount) | st.just(amount))
    left = captured
    refunds = []
    for _ in range(draw(st.integers(0, 2))):
        if left == 0:
            break
        refunds.append(draw(st.integers(1, left)))
        left -= refunds[-1]
    chargeback = represented = 0
    late = []
    if left and draw(st.booleans()):
        chargeback = draw(st.integers(1, left))
        left -= chargeback
        if draw(st.booleans()):
            represented = draw(st.integers(1, chargeback))
            left += represented
            if left and draw(st.booleans()):
                late.append(draw(st.integers(1, left)))
    return Plan(
        payment_id=payment_id,
        issuer=draw(st.sampled_from(SPEC.issuers)),
        acquirer=draw(st.sampled_from(SPEC.acquirers)),
        merchant=draw(st.integers(0, 2)),
        card_type=draw(st.sampled_from(("credit", "debit"))),
        amount_minor=amount,
        captured_minor=captured,
        refunds=tuple(refunds),
        chargeback_minor=chargeback,
        represented_minor=represented,
        late_refunds=tuple(late),
    )


@st.composite
def cycles(draw: st.DrawFn) -> list[Plan]:
    count = draw(st.integers(1, 12))
    return [draw(plans(f"P{number}")) for number in range(count)]


@st.composite
def interleavings(draw: st.DrawFn, per_plan: list[list[Call]]) -> list[Call]:
    """Any merge of the plans' call lists that keeps each plan's own order."""
    slots = [index for index, calls in enumerate(per_plan) for _ in calls]
    order = draw(st.permutations(slots))
    queues = [list(calls) for calls in per_plan]
    return [queues[index].pop(0) for index in order]


def record(plans_: list[Plan], order: list[int] | None = None) -> tuple[Chain, Driver, int]:
    """A network with a cycle holding ``plans_`` (submitted payment by payment)."""
    chain = make_network(SPEC)
    driver = Driver(chain)
    cycle = driver.open_cycle(blocks=None, time_ms=FAR_MS, funding_window_blocks=FUNDING_WINDOW)
    driver.run(call for plan in plans_ for call in plan_calls(plan, cycle))
    return chain, driver, cycle


def close(chain: Chain, cycle: int) -> Cycle:
    chain.advance_time(FAR_MS)
    receipt = chain.ok(CLEARING_OPS, PAYMENTS, "close_cycle", CycleArgs(cycle))
    return result_of(receipt, Cycle)


def nets(chain: Chain, cycle: int) -> dict[str, int]:
    result: Positions = chain.query(PAYMENTS, "positions", CycleArgs(cycle))
    return {position.institution: position.net_minor for position in result.positions}


def balances(chain: Chain) -> dict[str, int]:
    return {name: token_balance(chain, chain.address(treasury(name))) for name in INSTITUTIONS}


def with_zeros(positions: dict[str, int]) -> dict[str, int]:
    return {name: positions.get(name, 0) for name in INSTITUTIONS}


# -- conservation -------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(cycles())
def test_settlement_conserves_value_and_matches_the_payments(plans_: list[Plan]) -> None:
    chain, driver, cycle = record(plans_)
    close(chain, cycle)
    positions = nets(chain, cycle)
    assert sum(positions.values()) == 0
    assert with_zeros(positions) == oracle_positions(plans_, INSTITUTIONS)
    # fees were computed once, at capture: the cycle's fee total is the payments' fees
    stored_fees = 0
    for plan in plans_:
        capture = chain.query(PAYMENTS, "payment", PaymentArgs(plan.payment_id)).payment.capture
        fees = capture.fees
        assert (
            fees.issuer_fee_minor,
            fees.issuer_network_fee_minor,
            fees.acquirer_network_fee_minor,
        ) == oracle_fees(plan.card_type, plan.mcc, plan.captured_minor)
        stored_fees += fees.issuer_network_fee_minor + fees.acquirer_network_fee_minor
        if plan.issuer != plan.acquirer:
            stored_fees += fees.issuer_fee_minor
    totals = chain.read(PAYMENTS, cycle_totals_key(cycle), CycleTotals)
    assert totals is not None and totals.fees_minor == stored_fees
    before = balances(chain)
    debtors = [name for name, net in positions.items() if net < 0]
    driver.approve_escrow(debtors)
    funded = driver.run(Call(treasury(name), "fund", CycleArgs(cycle)) for name in debtors)
    paid_in = sum(-positions[name] for name in debtors)
    assert token_balance(chain, escrow_of(chain)) == paid_in
    settled = chain.ok(CLEARING_OPS, PAYMENTS, "settle", CycleArgs(cycle))
    paid_out = sum(
        int(event.attribute("amount_minor") or 0)
        for event in settled.events
        if event.name == "Transfer"
    )
    assert paid_out == paid_in and len(funded) == len(debtors)
    after = balances(chain)
    assert {name: after[name] - before[name] for name in INSTITUTIONS} == with_zeros(positions)
    assert token_balance(chain, escrow_of(chain)) == 0


# -- idempotency --------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(cycles(), st.data())
def test_resubmitting_the_same_submissions_changes_nothing(
    plans_: list[Plan], data: st.DataObject
) -> None:
    chain, driver, cycle = record(plans_)
    calls = [call for plan in plans_ for call in plan_calls(plan, cycle)]
    again = data.draw(st.lists(st.sampled_from(calls), min_size=1, max_size=20))
    before = dict(chain.state)
    receipts = driver.run(again)
    assert all(receipt.status == ReceiptStatus.OK for receipt in receipts)
    assert all(not receipt.events for receipt in receipts)
    assert chain.state == before
    close(chain, cycle)
    assert with_zeros(nets(chain, cycle)) == oracle_positions(plans_, INSTITUTIONS)


# -- order independence -------------------------------------------------------------------------


def aggregates(chain: Chain, cycle: int) -> dict[bytes, object]:
    """Everything the netting depends on, and its result."""
    values: dict[bytes, object] = {
        b"totals": chain.read(PAYMENTS, cycle_totals_key(cycle), CycleTotals)
    }
    for issuer in INSTITUTIONS:
        for acquirer in INSTITUTIONS:
            values[flow_key(cycle, issuer, acquirer)] = chain.read(
                PAYMENTS, flow_key(cycle, issuer, acquirer), Flow
            )
        totals = chain.read(PAYMENTS, institution_cycle_key(cycle, issuer), InstitutionCycle)
        values[institution_cycle_key(cycle, issuer)] = totals
        values[position_key(cycle, issuer)] = nets(chain, cycle).get(issuer)
    return values


@PROPERTY_SETTINGS
@given(cycles(), st.data())
def test_any_order_of_the_same_payments_gives_the_same_positions(
    plans_: list[Plan], data: st.DataObject
) -> None:
    first, _, cycle = record(plans_)
    close(first, cycle)
    second = make_network(SPEC)
    driver = Driver(second)
    other_cycle = driver.open_cycle(blocks=None, time_ms=FAR_MS)
    assert other_cycle == cycle
    order = data.draw(interleavings([plan_calls(plan, cycle) for plan in plans_]))
    driver.run(order)
    close(second, cycle)
    assert aggregates(second, cycle) == aggregates(first, cycle)


# -- the default procedure ----------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(cycles(), st.data())
def test_defaults_are_resolved_with_value_conserved(
    plans_: list[Plan], data: st.DataObject
) -> None:
    chain, driver, cycle = record(plans_)
    members = list(SPEC.members)
    collateral = {
        name: data.draw(st.sampled_from([0, 1, 500, 50_000, 5_000_000]), label=f"collateral {name}")
        for name in members
    }
    for name, amount in collateral.items():
        if amount:
            driver.post_collateral(name, amount)
    driver.approve_escrow(members)
    start = balances(chain)
    escrow_start = token_balance(chain, escrow_of(chain))
    state = close(chain, cycle)
    rounds = 0
    while state.unfunded_debtors:
        rounds += 1
        assert rounds <= len(INSTITUTIONS)
        positions = chain.query(PAYMENTS, "positions", CycleArgs(cycle)).positions
        for position in positions:
            owes = -position.net_minor - position.funded_minor
            if owes > 0 and data.draw(st.booleans(), label=f"{position.institution} funds"):
                chain.ok(treasury(position.institution), PAYMENTS, "fund", CycleArgs(cycle))
        state = chain.query(PAYMENTS, "cycle", CycleArgs(cycle))
        if state.unfunded_debtors:
            chain.advance(FUNDING_WINDOW + 1)
            chain.ok(CLEARING_OPS, PAYMENTS, "declare_default", CycleArgs(cycle))
            state = chain.query(PAYMENTS, "cycle", CycleArgs(cycle))
    event(f"default rounds: {rounds}, unwound: {len(state.excluded)}")
    chain.ok(CLEARING_OPS, PAYMENTS, "settle", CycleArgs(cycle))
    positions = nets(chain, cycle)
    assert sum(positions.values()) == 0
    assert with_zeros(positions) == oracle_positions(plans_, INSTITUTIONS, state.excluded)
    end = balances(chain)
    collateral_end = {
        name: chain.read(PAYMENTS, collateral_key("CNY", name), int) or 0 for name in members
    }
    # every institution's balance moved by its position, less the part its collateral paid
    for name in INSTITUTIONS:
        used = collateral.get(name, 0) - collateral_end.get(name, 0)
        assert end[name] - start[name] == positions.get(name, 0) + used
    # the escrow keeps exactly the collateral left
    assert token_balance(chain, escrow_of(chain)) == escrow_start - sum(
        collateral[name] - collateral_end[name] for name in members
    )
    assert token_balance(chain, escrow_of(chain)) == sum(collateral_end.values())


# -- pure netting and fees ----------------------------------------------------------------------

names = st.sampled_from(("a", "b", "c", "d", CLEARING))
flows = st.builds(
    Flow,
    issuer=names,
    acquirer=names,
    events=st.integers(0, 5),
    captured_minor=st.integers(0, 10**9),
    refunded_minor=st.integers(0, 10**9),
    charged_back_minor=st.integers(0, 10**9),
    represented_minor=st.integers(0, 10**9),
    issuer_fee_minor=st.integers(0, 10**6),
    issuer_network_fee_minor=st.integers(0, 10**6),
    acquirer_network_fee_minor=st.integers(0, 10**6),
    acquirer_fee_minor=st.integers(0, 10**6),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(flows, max_size=30), st.lists(names, max_size=2))
def test_fast_netting_equals_the_plain_reference(
    flow_list: list[Flow], excluded: list[str]
) -> None:
    everyone = {"a", "b", "c", "d", CLEARING}
    out = set(excluded)
    gross = gross_obligations(flow_list, CLEARING, excluded)
    fast = multilateral_net(gross, everyone)
    individual = [
        (delta.debtor, delta.creditor, delta.value_minor)
        for flow in flow_list
        if flow.issuer not in out and flow.acquirer not in out
        for delta in flow_obligations(flow, CLEARING)
        if delta.debtor not in out and delta.creditor not in out
    ]
    assert fast == multilateral_net_reference(individual, everyone)
    assert sum(fast.values()) == 0
    assert all(fast[name] == 0 for name in out)


@settings(max_examples=500, deadline=None)
@given(
    st.integers(0, MAX_AMOUNT_MINOR),
    st.integers(0, 1_000_000),
    st.integers(0, 10**6),
    st.none() | st.integers(0, 10**7),
)
def test_fees_round_half_up_then_floor_cap_and_amount(
    amount: int, rate_ppm: int, minimum: int, cap: int | None
) -> None:
    if cap is not None and cap < minimum:
        cap = minimum
    fee = rate_fee(amount, FeeRate(rate_ppm, minimum, cap))
    exact = Fraction(amount * rate_ppm, 1_000_000)
    rounded = int(exact + Fraction(1, 2))
    assert abs(Fraction(rounded) - exact) <= Fraction(1, 2)
    expected = max(rounded, minimum)
    if cap is not None:
        expected = min(expected, cap)
    assert fee == min(expected, amount)
    assert 0 <= fee <= amount
