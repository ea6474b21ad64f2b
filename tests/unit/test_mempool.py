"""The mempool (node/mempool.py): bounded by count and bytes, idempotent, arrival-ordered, and a
full pool refuses without changing anything."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jinqiao.core.types import SignedTransaction, TransactionBody
from jinqiao.node.mempool import Mempool, MempoolFull, PendingTransaction, SenderQuotaExceeded


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
