"""The mempool (node/mempool.py): bounded by count and bytes, idempotent, arrival-ordered, and a
full pool refuses without changing anything."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jinqiao.core.types import SignedTransaction, TransactionBody
from jinqiao.node.block_cost import BlockBudget, ExecutionCosts
from jinqiao.node.mempool import (
    BacklogFull,
    Mempool,
    MempoolFull,
    PendingTransaction,
    SenderQuotaExceeded,
)


def pending(
    number: int,
    *,
    size_bytes: int = 100,
    valid_until: int = 1_000,
    contract: str = "token",
    method: str = "transfer",
    sender: bytes = b"\x01" * 20,
) -> PendingTransaction:
    body = TransactionBody(
        chain_id="jinqiao-test",
        sender=sender,
        public_key=b"\x02" * 32,
        nonce=number,
        valid_until=valid_until,
        contract=contract,
        method=method,
        args=b"",
    )
    return PendingTransaction(
        transaction_hash=number.to_bytes(32, "big"),
        transaction=SignedTransaction(body, b"\x03" * 64),
        size_bytes=size_bytes,
    )


def hashes(transactions: list[PendingTransaction]) -> list[bytes]:
    return [transaction.transaction_hash for transaction in transactions]


def contents(mempool: Mempool) -> list[bytes]:
    return hashes(mempool.peek(max_count=10**9, max_bytes=10**18))


def test_add_then_peek_in_arrival_order() -> None:
    mempool = Mempool(capacity=10, capacity_bytes=10_000)
    for number in (5, 1, 3):
        assert mempool.add(pending(number, size_bytes=10 * number)) is True
    assert len(mempool) == 3
    assert mempool.size_bytes == 90
    assert pending(1).transaction_hash in mempool
    assert pending(2).transaction_hash not in mempool
    assert contents(mempool) == hashes([pending(5), pending(1), pending(3)])
    assert mempool.room() == 7


def test_full_by_count_refuses_and_changes_nothing() -> None:
    mempool = Mempool(capacity=2, capacity_bytes=10_000)
    mempool.add(pending(1))
    mempool.add(pending(2))
    with pytest.raises(MempoolFull) as info:
        mempool.add(pending(3, size_bytes=1))
    assert info.value.code == "mempool_full"
    assert info.value.details == {"pending": 2, "capacity": 2}
    assert len(mempool) == 2
    assert mempool.size_bytes == 200
    assert pending(3).transaction_hash not in mempool
    assert contents(mempool) == hashes([pending(1), pending(2)])
    assert mempool.room() == 0


def test_full_by_bytes_refuses_and_changes_nothing() -> None:
    mempool = Mempool(capacity=10, capacity_bytes=100)
    mempool.add(pending(1, size_bytes=60))
    with pytest.raises(MempoolFull):
        mempool.add(pending(2, size_bytes=41))
    assert len(mempool) == 1
    assert mempool.size_bytes == 60
    assert pending(2).transaction_hash not in mempool
    # Exactly filling the byte budget is allowed.
    assert mempool.add(pending(3, size_bytes=40)) is True
    assert mempool.size_bytes == 100
    with pytest.raises(MempoolFull):
        mempool.add(pending(4, size_bytes=1))
    assert contents(mempool) == hashes([pending(1), pending(3)])


def test_transaction_larger_than_the_whole_pool_is_refused() -> None:
    mempool = Mempool(capacity=10, capacity_bytes=100)
    with pytest.raises(MempoolFull):
        mempool.add(pending(1, size_bytes=101))
    assert len(mempool) == 0
    assert mempool.size_bytes == 0


def test_adding_the_same_transaction_again_returns_false() -> None:
    mempool = Mempool(capacity=10, capacity_bytes=1_000)
    assert mempool.add(pending(1)) is True
    assert mempool.add(pending(1)) is False
    assert len(mempool) == 1
    assert mempool.size_bytes == 100


def test_resubmitting_into_a_full_pool_is_still_idempotent() -> None:
    mempool = Mempool(capacity=1, capacity_bytes=100)
    assert mempool.add(pending(1)) is True
    assert mempool.add(pending(1)) is False
    assert len(mempool) == 1


def test_peek_respects_max_count() -> None:
    mempool = Mempool(capacity=10, capacity_bytes=10_000)
    for number in range(1, 6):
        mempool.add(pending(number))
    assert hashes(mempool.peek(max_count=3, max_bytes=10_000)) == hashes(
        [pending(1), pending(2), pending(3)]
    )
    assert mempool.peek(max_count=0, max_bytes=10_000) == []
    assert len(mempool) == 5  # peek leaves them in place


def test_peek_respects_max_bytes_and_keeps_arrival_order() -> None:
    mempool = Mempool(capacity=10, capacity_bytes=10_000)
    mempool.add(pending(1, size_bytes=40))
    mempool.add(pending(2, size_bytes=40))
    mempool.add(pending(3, size_bytes=50))
    mempool.add(pending(4, size_bytes=10))
    assert hashes(mempool.peek(max_count=10, max_bytes=80)) == hashes([pending(1), pending(2)])
    # It stops at the first transaction that does not fit rather than skipping ahead, so a block
    # never overtakes an older transaction.
    assert hashes(mempool.peek(max_count=10, max_bytes=129)) == hashes([pending(1), pending(2)])
    assert hashes(mempool.peek(max_count=10, max_bytes=130)) == hashes(
        [pending(1), pending(2), pending(3)]
    )
    assert mempool.peek(max_count=10, max_bytes=39) == []
    chosen = mempool.peek(max_count=10, max_bytes=10_000)
    assert chosen[0] == pending(1, size_bytes=40)
    assert sum(transaction.size_bytes for transaction in chosen) == 140


def test_remove_drops_the_named_transactions() -> None:
    mempool = Mempool(capacity=10, capacity_bytes=10_000)
    for number in range(1, 5):
        mempool.add(pending(number, size_bytes=number))
    mempool.remove([pending(2).transaction_hash, pending(9).transaction_hash])
    assert contents(mempool) == hashes([pending(1), pending(3), pending(4)])
    assert mempool.size_bytes == 8
    mempool.remove((pending(1).transaction_hash, pending(1).transaction_hash))
    assert contents(mempool) == hashes([pending(3), pending(4)])
    assert mempool.size_bytes == 7
    mempool.remove([])
    assert len(mempool) == 2
    # Room freed by removal can be used again.
    assert mempool.add(pending(2, size_bytes=2)) is True
    assert contents(mempool) == hashes([pending(3), pending(4), pending(2)])


def test_evict_expired_drops_transactions_behind_the_next_height() -> None:
    mempool = Mempool(capacity=10, capacity_bytes=10_000)
    mempool.add(pending(1, size_bytes=10, valid_until=5))
    mempool.add(pending(2, size_bytes=20, valid_until=9))
    mempool.add(pending(3, size_bytes=30, valid_until=10))
    mempool.add(pending(4, size_bytes=40, valid_until=11))
    assert mempool.evict_expired(next_height=5) == 0
    assert mempool.evict_expired(next_height=10) == 2
    # valid_until == next_height can still be included, so it stays.
    assert contents(mempool) == hashes([pending(3), pending(4)])
    assert mempool.size_bytes == 70
    assert mempool.evict_expired(next_height=10) == 0
    assert mempool.evict_expired(next_height=100) == 2
    assert len(mempool) == 0
    assert mempool.size_bytes == 0


operations = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(0, 15), st.integers(1, 60), st.integers(0, 20)),
        st.tuples(st.just("remove"), st.lists(st.integers(0, 15), max_size=3)),
        st.tuples(st.just("evict"), st.integers(0, 25)),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(operations=operations)
def test_mempool_matches_a_simple_model(operations: list[tuple[object, ...]]) -> None:
    capacity, capacity_bytes = 6, 200
    mempool = Mempool(capacity=capacity, capacity_bytes=capacity_bytes)
    model: dict[bytes, PendingTransaction] = {}  # insertion ordered
    for operation in operations:
        if operation[0] == "add":
            _, number, size_bytes, valid_until = operation
            assert isinstance(number, int) and isinstance(size_bytes, int)
            assert isinstance(valid_until, int)
            transaction = pending(number, size_bytes=size_bytes, valid_until=valid_until)
            key = transaction.transaction_hash
            used = sum(item.size_bytes for item in model.values())
            if key in model:
                assert mempool.add(transaction) is False
            elif len(model) >= capacity or used + size_bytes > capacity_bytes:
                with pytest.raises(MempoolFull):
                    mempool.add(transaction)
            else:
                assert mempool.add(transaction) is True
                model[key] = transaction
        elif operation[0] == "remove":
            numbers = operation[1]
            assert isinstance(numbers, list)
            keys = [pending(number).transaction_hash for number in numbers]
            mempool.remove(keys)
            for key in keys:
                model.pop(key, None)
        else:
            next_height = operation[1]
            assert isinstance(next_height, int)
            expired = [
                key
                for key, item in model.items()
                if item.transaction.body.valid_until < next_height
            ]
            assert mempool.evict_expired(next_height) == len(expired)
            for key in expired:
                del model[key]
        assert contents(mempool) == list(model)
        assert len(mempool) == len(model)
        assert mempool.size_bytes == sum(item.size_bytes for item in model.values())
        assert mempool.size_bytes <= capacity_bytes
        assert mempool.room() == capacity - len(model)


def test_a_reserve_keeps_a_share_free_for_other_additions() -> None:
    mempool = Mempool(capacity=10, capacity_bytes=10_000)
    for number in range(8):
        assert mempool.add(pending(number), reserve=0.2)
    with pytest.raises(MempoolFull):
        mempool.add(pending(8), reserve=0.2)  # 8 of 10 used: the last 20% stay free
    assert len(mempool) == 8
    assert mempool.add(pending(8)) and mempool.add(pending(9))  # additions without a reserve
    with pytest.raises(MempoolFull):
        mempool.add(pending(10))


def test_a_reserve_applies_to_bytes_too() -> None:
    mempool = Mempool(capacity=100, capacity_bytes=1_000)
    assert mempool.add(pending(1, size_bytes=800), reserve=0.2)
    with pytest.raises(MempoolFull):
        mempool.add(pending(2, size_bytes=1), reserve=0.2)
    assert mempool.add(pending(2, size_bytes=200))


def test_check_room_says_what_add_would_say_and_changes_nothing() -> None:
    mempool = Mempool(capacity=2, capacity_bytes=10_000, per_sender=1)
    first = pending(1, sender=b"a" * 20)
    mempool.check_room(first.transaction.body.sender, first.size_bytes)
    mempool.add(first)
    same_sender = pending(2, sender=b"a" * 20)
    with pytest.raises(SenderQuotaExceeded):
        mempool.check_room(same_sender.transaction.body.sender, same_sender.size_bytes)
    other = pending(3, sender=b"b" * 20)
    mempool.check_room(other.transaction.body.sender, other.size_bytes)
    with pytest.raises(MempoolFull):
        mempool.check_room(other.transaction.body.sender, other.size_bytes, reserve=0.5)
    mempool.add(other)
    with pytest.raises(MempoolFull):
        mempool.check_room(b"c" * 20, 10)
    assert contents(mempool) == hashes([first, other])


def bounded(budget_s: float, cost_s: float = 0.010) -> Mempool:
    """A mempool whose backlog is bounded at ``budget_s``, every transaction expected to take
    ``cost_s`` (an ``ExecutionCosts`` that measured one block of token transfers)."""
    costs = ExecutionCosts()
    costs.observe([pending(0).transaction], cost_s)
    mempool = Mempool(capacity=1_000, capacity_bytes=10**6)
    mempool.bound_backlog(BlockBudget(budget_s, costs))
    return mempool


def admitted(mempool: Mempool, number: int, **kwargs: Any) -> PendingTransaction:
    """``pending(number)`` with its expected cost, as admission makes it."""
    transaction = pending(number, **kwargs)
    return replace(transaction, cost_s=mempool.expected_cost_s(transaction.transaction))


def test_a_full_backlog_refuses_clients_and_takes_what_peers_gossip() -> None:
    mempool = bounded(0.030)
    for number in range(3):
        assert mempool.add(admitted(mempool, number), client=True)
    assert mempool.backlog_s == pytest.approx(0.030)
    with pytest.raises(BacklogFull) as refused:
        mempool.add(admitted(mempool, 3), client=True)
    assert refused.value.code == "backlog_full"
    assert isinstance(refused.value, MempoolFull)  # the same 503 and retry hint
    assert refused.value.details == {"pending": 3, "backlog_ms": 30, "bound_ms": 30}
    with pytest.raises(BacklogFull):
        mempool.check_room(b"\x01" * 20, 100, client=True)  # asked before the signature
    assert contents(mempool) == [number.to_bytes(32, "big") for number in range(3)]
    assert mempool.backlog_s == pytest.approx(0.030)  # the refusals changed nothing
    # A transaction a peer gossiped was accepted by a node already: it is never refused for it.
    assert mempool.add(admitted(mempool, 4))
    assert mempool.backlog_s == pytest.approx(0.040)
    # A committed block frees the backlog it held: clients are taken again.
    mempool.remove([number.to_bytes(32, "big") for number in (0, 1)])
    assert mempool.backlog_s == pytest.approx(0.020)
    mempool.check_room(b"\x01" * 20, 100, client=True)
    assert mempool.add(admitted(mempool, 5), client=True)


def test_without_a_bound_the_backlog_is_not_counted() -> None:
    mempool = Mempool(capacity=10, capacity_bytes=10_000)
    transaction = pending(1)
    assert mempool.expected_cost_s(transaction.transaction) == 0.0
    for number in range(10):
        assert mempool.add(pending(number), client=True)
    assert mempool.backlog_s == 0.0


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("add"), st.integers(0, 30), st.sampled_from(["transfer", "issue"])),
            st.tuples(st.just("remove"), st.lists(st.integers(0, 30), max_size=5)),
            st.tuples(st.just("expire"), st.integers(0, 40)),
        ),
        max_size=60,
    )
)
def test_the_backlog_is_the_sum_of_the_waiting_costs(operations: list[tuple[Any, ...]]) -> None:
    costs = ExecutionCosts()
    costs.observe([pending(0, method="transfer").transaction], 0.002)
    costs.observe([pending(0, method="issue").transaction], 0.007)
    mempool = Mempool(capacity=1_000, capacity_bytes=10**6)
    mempool.bound_backlog(BlockBudget(10.0, costs))
    waiting: dict[int, float] = {}
    for operation in operations:
        if operation[0] == "add":
            number, method = operation[1], operation[2]
            transaction = admitted(mempool, number, method=method, valid_until=number + 5)
            if number not in waiting:
                waiting[number] = transaction.cost_s
            mempool.add(transaction, client=True)
        elif operation[0] == "remove":
            mempool.remove([number.to_bytes(32, "big") for number in operation[1]])
            for number in operation[1]:
                waiting.pop(number, None)
        else:
            mempool.evict_expired(operation[1])
            waiting = {n: c for n, c in waiting.items() if n + 5 >= operation[1]}
        assert len(mempool) == len(waiting)
        assert mempool.backlog_s == pytest.approx(sum(waiting.values()), abs=1e-9)
    if not waiting:
        assert mempool.backlog_s == 0.0
