"""The proposer's cut by expected execution time (node/block_cost.py, ADR 0046): a block stops
before its transactions' expected time passes the budget, a single transaction over the budget
still goes in alone, and the expectation per contract and method follows what the node measured
executing whole blocks."""

from __future__ import annotations

import pytest

from jinqiao.core.types import SignedTransaction
from jinqiao.node.block_cost import (
    COST_SMOOTHING,
    INITIAL_TRANSACTION_COST_S,
    MAX_KNOWN_METHODS,
    BlockBudget,
    ExecutionCosts,
)
from jinqiao.node.mempool import Mempool, PendingTransaction
from tests.unit.test_mempool import hashes, pending

TRANSFER = ("token", "transfer")
COMMISSION = ("supplychain", "commission")


def block_of(transactions: list[PendingTransaction]) -> list[SignedTransaction]:
    return [p.transaction for p in transactions]


def call(number: int, method: tuple[str, str]) -> PendingTransaction:
    return pending(number, contract=method[0], method=method[1])


def measured(**seconds_per_transaction: float) -> ExecutionCosts:
    """Costs that measured one block of 10 of each method ("token_transfer"...)."""
    costs = ExecutionCosts()
    for name, seconds in seconds_per_transaction.items():
        method = tuple(name.split("_", 1))
        block = block_of([call(n, (method[0], method[1])) for n in range(10)])
        costs.observe(block, 10 * seconds)
    return costs


def filled(transactions: list[PendingTransaction]) -> Mempool:
    mempool = Mempool(capacity=1_000, capacity_bytes=10**9)
    for transaction in transactions:
        mempool.add(transaction)
    return mempool


def test_a_block_stops_before_the_budget() -> None:
    costs = measured(token_transfer=0.001, supplychain_commission=0.004)
    mempool = filled(
        [call(1, TRANSFER), call(2, COMMISSION), call(3, COMMISSION), call(4, TRANSFER)]
    )
    # 1 + 4 + 4 = 9 ms fits in 9.5; the fourth (1 ms more) would pass it.
    assert costs.expected_s(call(2, COMMISSION).transaction) == pytest.approx(0.004)
    chosen = mempool.peek(100, 10**9, BlockBudget(0.0095, costs))
    assert hashes(chosen) == hashes([call(1, TRANSFER), call(2, COMMISSION), call(3, COMMISSION)])
    chosen = mempool.peek(100, 10**9, BlockBudget(0.0089, costs))
    assert hashes(chosen) == hashes([call(1, TRANSFER), call(2, COMMISSION)])
    # Arrival order is kept: a cheaper transaction behind the cut does not jump ahead.
    chosen = mempool.peek(100, 10**9, BlockBudget(0.0060, costs))
    assert hashes(chosen) == hashes([call(1, TRANSFER), call(2, COMMISSION)])


def test_the_count_and_byte_limits_still_hold_under_a_budget() -> None:
    costs = measured(token_transfer=0.001)
    mempool = filled([call(n, TRANSFER) for n in range(1, 11)])
    assert len(mempool.peek(3, 10**9, BlockBudget(1.0, costs))) == 3
    assert len(mempool.peek(100, 450, BlockBudget(1.0, costs))) == 4  # 100 bytes each
    assert len(mempool.peek(100, 10**9, BlockBudget(0.005, costs))) == 5


def test_a_single_transaction_over_the_budget_goes_in_alone() -> None:
    costs = measured(supplychain_commission=0.5)
    mempool = filled([call(1, COMMISSION), call(2, COMMISSION)])
    chosen = mempool.peek(100, 10**9, BlockBudget(0.1, costs))
    assert hashes(chosen) == hashes([call(1, COMMISSION)])
    mempool.remove(hashes(chosen))
    assert hashes(mempool.peek(100, 10**9, BlockBudget(0.1, costs))) == hashes(
        [call(2, COMMISSION)]
    )


def test_without_a_budget_the_cut_is_by_count_and_bytes() -> None:
    mempool = filled([call(n, COMMISSION) for n in range(1, 6)])
    assert len(mempool.peek(100, 10**9)) == 5


def test_a_method_never_executed_has_the_initial_cost() -> None:
    costs = measured(token_transfer=0.00005)
    assert costs.expected_s(call(1, COMMISSION).transaction) == INITIAL_TRANSACTION_COST_S
    assert costs.known() == {TRANSFER: pytest.approx(0.00005)}


def test_a_method_moves_toward_what_was_measured() -> None:
    costs = measured(token_transfer=0.0001)
    costs.observe(block_of([call(n, TRANSFER) for n in range(100)]), 100 * 0.0003)
    expected = 0.0001 + COST_SMOOTHING * (0.0003 - 0.0001)
    assert costs.known()[TRANSFER] == pytest.approx(expected)
    for _ in range(60):  # the machine stays slower: the average follows it
        costs.observe(block_of([call(n, TRANSFER) for n in range(100)]), 100 * 0.0003)
    assert costs.known()[TRANSFER] == pytest.approx(0.0003)


def test_a_mixed_block_is_shared_in_proportion_to_expectation() -> None:
    costs = measured(token_transfer=0.0001, supplychain_commission=0.0004)
    mixed = [call(n, TRANSFER) for n in range(10)] + [call(n, COMMISSION) for n in range(10, 20)]
    costs.observe(block_of(mixed), 2 * (10 * 0.0001 + 10 * 0.0004))  # twice as slow as expected
    grown = 1 + COST_SMOOTHING
    assert costs.known() == {
        TRANSFER: pytest.approx(0.0001 * grown),
        COMMISSION: pytest.approx(0.0004 * grown),
    }


def test_empty_blocks_teach_nothing_and_the_table_is_bounded() -> None:
    costs = ExecutionCosts()
    costs.observe(block_of([]), 0.01)
    assert costs.known() == {}
    for number in range(MAX_KNOWN_METHODS + 5):
        costs.observe(block_of([call(number, ("member", f"m{number}"))]), 0.001)
    known = costs.known()
    assert len(known) == MAX_KNOWN_METHODS
    assert ("member", "m0") not in known  # the least recently measured went first
    assert ("member", f"m{MAX_KNOWN_METHODS + 4}") in known
