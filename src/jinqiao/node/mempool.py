"""The mempool: admitted transactions waiting for a block.

Bounded by count and by bytes; when full it refuses new transactions with ``MempoolFull`` (the API
answers 503 with a retry hint) rather than growing. An addition may ask for a share to be left
free (a validator's client submissions leave a fifth for what its peers gossip). A node also
bounds its backlog by time: a client's submission is refused with ``BacklogFull`` while the
waiting transactions' expected execution time (the proposer's per-method measure) passes a few
blocks' budget, so that a network offered more than it commits answers "retry" at once instead
of queueing work it will not reach for many seconds — and spending the signature checks that the
blocks in progress need (docs/performance.md "A bounded backlog"). Transactions
leave when committed or when their ``valid_until`` falls behind the next height. Order is arrival
order; many transactions of one sender may wait at once (replay protection is by hash, not by
sequence).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from jinqiao.core.errors import JinqiaoError
from jinqiao.core.types import SignedTransaction
from jinqiao.node.block_cost import BlockBudget


class MempoolFull(JinqiaoError):
    code = "mempool_full"


class BacklogFull(MempoolFull):
    """The waiting transactions would take longer than the backlog bound to execute: a client
    retries shortly (a subclass of ``MempoolFull``: the same 503 and retry hint)."""

    code = "backlog_full"


class SenderQuotaExceeded(JinqiaoError):
    """One sender holds its whole share of the mempool; others can still get in."""

    code = "too_many_pending"


@dataclass(frozen=True)
class PendingTransaction:
    transaction_hash: bytes
    transaction: SignedTransaction
    size_bytes: int
    cost_s: float = 0.0
    """Its expected execution time when admitted (0 where the backlog is not bounded)."""


class Mempool:
    def __init__(
        self, *, capacity: int, capacity_bytes: int, per_sender: int | None = None
    ) -> None:
        self.capacity = capacity
        self.capacity_bytes = capacity_bytes
        self.per_sender = capacity if per_sender is None else per_sender
        self._by_sender: dict[bytes, int] = {}
        self._pending: OrderedDict[bytes, PendingTransaction] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._backlog: BlockBudget | None = None
        self._backlog_s = 0.0

    def bound_backlog(self, backlog: BlockBudget | None) -> None:
        """Refuse clients' transactions (``add``/``check_room`` with ``client``) while the
        waiting transactions' expected execution time is over ``backlog.budget_s``; ``None``:
        no bound by time. Set once, before the node admits anything."""
        self._backlog = backlog

    def expected_cost_s(self, transaction: SignedTransaction) -> float:
        """The transaction's expected execution time, by which the backlog is bounded (0 when
        it is not)."""
        return 0.0 if self._backlog is None else self._backlog.cost_s(transaction)

    @property
    def backlog_s(self) -> float:
        """The waiting transactions' expected execution time, in seconds."""
        return self._backlog_s

    def __len__(self) -> int:
        return len(self._pending)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __contains__(self, transaction_hash: object) -> bool:
        return transaction_hash in self._pending

    def add(
        self, pending: PendingTransaction, *, reserve: float = 0.0, client: bool = False
    ) -> bool:
        """Add a checked transaction. False if it was already waiting (idempotent resubmit).
        ``reserve`` is the share of the capacity (count and bytes) this addition must leave
        free: a validator keeps room for transactions its peers gossip, so that what one node
        accepted from a client has a place on the others. A ``client``'s transaction is also
        refused while the backlog is full (what peers gossip was accepted elsewhere and is
        not)."""
        sender = pending.transaction.body.sender
        with self._lock:
            if pending.transaction_hash in self._pending:
                return False
            self._check_room(sender, pending.size_bytes, reserve, client)
            self._pending[pending.transaction_hash] = pending
            self._by_sender[sender] = self._by_sender.get(sender, 0) + 1
            self._bytes += pending.size_bytes
            self._backlog_s += pending.cost_s
            return True

    def check_room(
        self, sender: bytes, size_bytes: int, *, reserve: float = 0.0, client: bool = False
    ) -> None:
        """Raise what ``add`` would raise now for a new transaction of ``sender`` and
        ``size_bytes``: admission asks before the signature check, so a transaction the mempool
        cannot take costs no signature verification (``add`` checks again)."""
        with self._lock:
            self._check_room(sender, size_bytes, reserve, client)

    def _check_room(self, sender: bytes, size_bytes: int, reserve: float, client: bool) -> None:
        backlog = self._backlog
        if client and backlog is not None and self._backlog_s >= backlog.budget_s:
            backlog_ms, bound_ms = round(self._backlog_s * 1000), round(backlog.budget_s * 1000)
            raise BacklogFull(
                f"the {len(self._pending)} waiting transactions are expected to take "
                f"{backlog_ms} ms to execute (the bound is {bound_ms} ms); retry shortly",
                pending=len(self._pending),
                backlog_ms=backlog_ms,
                bound_ms=bound_ms,
            )
        usable = 1.0 - reserve
        if len(self._pending) >= int(self.capacity * usable) or self._bytes + size_bytes > int(
            self.capacity_bytes * usable
        ):
            raise MempoolFull(
                "the mempool is full; retry shortly",
                pending=len(self._pending),
                capacity=self.capacity,
            )
        if self._by_sender.get(sender, 0) >= self.per_sender:
            raise SenderQuotaExceeded(
                f"this sender has {self.per_sender} transactions waiting; retry shortly",
                per_sender=self.per_sender,
            )

    def get(self, transaction_hash: bytes) -> SignedTransaction | None:
        """The waiting transaction with this hash (its signature was checked on admission)."""
        pending = self._pending.get(transaction_hash)
        return None if pending is None else pending.transaction

    def room(self) -> int:
        return max(0, self.capacity - len(self._pending))

    def peek(
        self, max_count: int, max_bytes: int, budget: BlockBudget | None = None
    ) -> list[PendingTransaction]:
        """The oldest waiting transactions that fit in a block (they stay until removed): at
        most ``max_count`` and ``max_bytes``, and with a ``budget`` only those whose expected
        execution times add up to at most its ``budget_s`` — except the first, which goes in
        alone if it is over the budget by itself (else it would never leave)."""
        chosen: list[PendingTransaction] = []
        total = 0
        cost_s = 0.0
        with self._lock:
            for pending in self._pending.values():
                if len(chosen) >= max_count or total + pending.size_bytes > max_bytes:
                    break
                if budget is not None:
                    cost_s += budget.cost_s(pending.transaction)
                    if chosen and cost_s > budget.budget_s:
                        break
                chosen.append(pending)
                total += pending.size_bytes
        return chosen

    def remove(self, transaction_hashes: list[bytes] | tuple[bytes, ...]) -> None:
        with self._lock:
            for transaction_hash in transaction_hashes:
                pending = self._pending.pop(transaction_hash, None)
                if pending is not None:
                    self._forget(pending)

    def evict_expired(self, next_height: int) -> int:
        """Drop transactions that can no longer be included at ``next_height``."""
        with self._lock:
            expired = [
                key
                for key, pending in self._pending.items()
                if pending.transaction.body.valid_until < next_height
            ]
            for key in expired:
                self._forget(self._pending.pop(key))
        return len(expired)

    def _forget(self, pending: PendingTransaction) -> None:
        """Account for a transaction that left (caller holds the lock)."""
        self._bytes -= pending.size_bytes
        # A running sum of floats drifts: it starts again from zero whenever the pool empties.
        self._backlog_s = self._backlog_s - pending.cost_s if self._pending else 0.0
        sender = pending.transaction.body.sender
        left = self._by_sender[sender] - 1
        if left:
            self._by_sender[sender] = left
        else:
            del self._by_sender[sender]
