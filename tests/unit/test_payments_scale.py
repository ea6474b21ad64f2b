"""Clearing at scale: on-chain netting checked against an independent computation from the raw
payments on a random cycle of 20,000 payments; closing costs the same however many payments a
cycle holds; the largest cycle (50 institutions, every pair trading) closes and settles within
the step and event limits. ``JINQIAO_SCALE_TEST=1`` also closes a cycle of 100,000 payments and
prints the measurement."""

from __future__ import annotations

import random
import time
from collections.abc import Iterable

from jinqiao.apps.payments import PAYMENTS
from jinqiao.apps.payments.model import (
    MAX_CYCLE_INSTITUTIONS,
    Cycle,
    CycleArgs,
    Flow,
    FlowArgs,
    Positions,
)
from jinqiao.core.limits import MAX_EVENTS_PER_TRANSACTION, MAX_STATE_OPERATIONS_PER_TRANSACTION
from jinqiao.core.types import Receipt
from tests.helpers.chain import Chain, events, result_of
from tests.helpers.payments_network import (
    CLEARING,
    CLEARING_OPS,
    Call,
    Driver,
    NetworkSpec,
    Plan,
    authorize_call,
    capture_call,
    escrow_of,
    make_network,
    oracle_positions,
    plan_calls,
    token_balance,
    treasury,
)

SPEC = NetworkSpec(
    issuers=tuple(f"bank-{n}" for n in range(8)),
    acquirers=("acq-0", "acq-1", "acq-2", "bank-0", "bank-1"),
)
FAR_MS = 10**9


def random_plans(rng: random.Random, count: int, spec: NetworkSpec) -> list[Plan]:
    plans = []
    for number in range(count):
        amount = rng.choice((rng.randint(1, 9_999), rng.randint(1, 2_000_000), 10**8))
        captured = amount if rng.random() < 0.8 else rng.randint(1, amount)
        left = captured
        refunds: list[int] = []
        chargeback = represented = 0
        late: list[int] = []
        if rng.random() < 0.1:
            refunds.append(rng.randint(1, left))
            left -= refunds[-1]
        if left and rng.random() < 0.05:
            chargeback = rng.randint(1, left)
            left -= chargeback
            if rng.random() < 0.5:
                represented = rng.randint(1, chargeback)
                left += represented
                if left and rng.random() < 0.5:
                    late.append(rng.randint(1, left))
        plans.append(
            Plan(
                payment_id=f"P{number}",
                issuer=rng.choice(spec.issuers),
                acquirer=rng.choice(spec.acquirers),
                merchant=rng.randrange(3),
                card_type=rng.choice(("credit", "debit")),
                amount_minor=amount,
                captured_minor=captured,
                refunds=tuple(refunds),
                chargeback_minor=chargeback,
                represented_minor=represented,
                late_refunds=tuple(late),
            )
        )
    return plans


def run_in_phases(driver: Driver, plans: Iterable[Plan], cycle_id: int) -> None:
    """Every plan's first call, then every plan's second call, and so on: each payment's own
    order is kept, and blocks are full."""
    per_plan = [plan_calls(plan, cycle_id) for plan in plans]
    longest = max((len(calls) for calls in per_plan), default=0)
    driver.run(calls[step] for step in range(longest) for calls in per_plan if step < len(calls))


def close(chain: Chain, cycle_id: int) -> tuple[Receipt, float]:
    chain.advance_time(FAR_MS)
    started = time.perf_counter()
    receipt = chain.ok(CLEARING_OPS, PAYMENTS, "close_cycle", CycleArgs(cycle_id))
    return receipt, time.perf_counter() - started


def on_chain_positions(chain: Chain, cycle_id: int) -> dict[str, int]:
    result: Positions = chain.query(PAYMENTS, "positions", CycleArgs(cycle_id))
    return {position.institution: position.net_minor for position in result.positions}


def expected_flow(plans: Iterable[Plan], issuer: str, acquirer: str) -> tuple[int, ...]:
    chosen = [plan for plan in plans if (plan.issuer, plan.acquirer) == (issuer, acquirer)]
    return (
        sum(plan.captured_minor for plan in chosen),
        sum(sum(plan.refunds) + sum(plan.late_refunds) for plan in chosen),
        sum(plan.chargeback_minor for plan in chosen),
        sum(plan.represented_minor for plan in chosen),
    )


def test_on_chain_netting_matches_the_payments_on_a_cycle_of_20_000() -> None:
    rng = random.Random(20_000)
    plans = random_plans(rng, 20_000, SPEC)
    chain = make_network(SPEC)
    driver = Driver(chain)
    cycle = driver.open_cycle(blocks=None, time_ms=FAR_MS)
    run_in_phases(driver, plans, cycle)
    receipt, _ = close(chain, cycle)
    positions = on_chain_positions(chain, cycle)
    assert positions == oracle_positions(plans, SPEC.institutions)
    assert sum(positions.values()) == 0
    for issuer in SPEC.issuers:
        for acquirer in SPEC.acquirers:
            flow: Flow = chain.query(PAYMENTS, "flow", FlowArgs(cycle, issuer, acquirer))
            on_chain = (
                flow.captured_minor,
                flow.refunded_minor,
                flow.charged_back_minor,
                flow.represented_minor,
            )
            assert on_chain == expected_flow(plans, issuer, acquirer)
    assert receipt.steps_used < 500  # 14 institutions, 40 flows
    # settle it: the token moves exactly the positions
    before = {name: token_balance(chain, chain.address(treasury(name))) for name in positions}
    driver.approve_escrow(positions)
    driver.run(
        Call(treasury(name), "fund", CycleArgs(cycle)) for name in positions if positions[name] < 0
    )
    chain.ok(CLEARING_OPS, PAYMENTS, "settle", CycleArgs(cycle))
    after = {name: token_balance(chain, chain.address(treasury(name))) for name in positions}
    assert {name: after[name] - before[name] for name in positions} == positions
    assert token_balance(chain, escrow_of(chain)) == 0


def payments_between(spec: NetworkSpec, count: int, cycle_id: int) -> list[list[Call]]:
    """``count`` payments spread round-robin over every issuer and acquirer of ``spec``."""
    pairs = [(issuer, acquirer) for issuer in spec.issuers for acquirer in spec.acquirers]
    authorizations, captures = [], []
    for number in range(count):
        issuer, acquirer = pairs[number % len(pairs)]
        authorizations.append(authorize_call(f"P{number}", issuer, acquirer, 10_000 + number))
        captures.append(capture_call(acquirer, f"P{number}", 10_000 + number, cycle_id))
    return [authorizations, captures]


def close_after(spec: NetworkSpec, count: int) -> tuple[Receipt, float]:
    chain = make_network(spec)
    driver = Driver(chain)
    cycle = driver.open_cycle(blocks=None, time_ms=FAR_MS)
    for phase in payments_between(spec, count, cycle):
        driver.run(phase)
    return close(chain, cycle)


def test_closing_costs_the_same_however_many_payments_the_cycle_holds() -> None:
    small, _ = close_after(SPEC, len(SPEC.issuers) * len(SPEC.acquirers))
    large, _ = close_after(SPEC, 5_000)
    assert small.steps_used == large.steps_used


def test_the_largest_cycle_closes_and_settles_within_the_limits() -> None:
    """50 institutions — the clearing house and 49 banks that each issue and acquire — with a
    flow between every ordered pair of banks (2,401 flows): the most a close has to read."""
    banks = tuple(f"b{n:02d}" for n in range(MAX_CYCLE_INSTITUTIONS))  # one more, for later
    spec = NetworkSpec(issuers=banks, acquirers=banks)
    chain = make_network(spec)
    driver = Driver(chain)
    cycle = driver.open_cycle(blocks=None, time_ms=FAR_MS)
    trading = banks[:-1]
    calls = []
    for number, (issuer, acquirer) in enumerate(
        (issuer, acquirer) for issuer in trading for acquirer in trading
    ):
        amount = 1_000_000 + 7_919 * number
        calls.append((authorize_call(f"P{number}", issuer, acquirer, amount), acquirer, amount))
    driver.run(call for call, _, _ in calls)
    driver.run(
        capture_call(acquirer, call.args.payment_id, amount, cycle)  # type: ignore[attr-defined]
        for call, acquirer, amount in calls
    )
    # a 51st institution cannot join the cycle
    driver.run([authorize_call("P-late", banks[-1], banks[0], 1_000)])
    late = capture_call(banks[0], "P-late", 1_000, cycle)
    chain.rejected("too_many_institutions", late.sender, PAYMENTS, "capture", late.args)
    receipt, _ = close(chain, cycle)
    closed = result_of(receipt, Cycle)
    assert closed.report is not None and closed.report.participants == MAX_CYCLE_INSTITUTIONS
    assert receipt.steps_used < MAX_STATE_OPERATIONS_PER_TRANSACTION // 3
    positions = on_chain_positions(chain, cycle)
    debtors = [name for name, net in positions.items() if net < 0]
    driver.approve_escrow(debtors)
    driver.run(Call(treasury(name), "fund", CycleArgs(cycle)) for name in debtors)
    settled = chain.ok(CLEARING_OPS, PAYMENTS, "settle", CycleArgs(cycle))
    assert len(settled.events) <= MAX_EVENTS_PER_TRANSACTION
    assert len(events(settled, "Transfer")) == sum(1 for net in positions.values() if net > 0)
    assert settled.steps_used < MAX_STATE_OPERATIONS_PER_TRANSACTION // 5
    assert positions[CLEARING] > 0
