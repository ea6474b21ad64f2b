"""The mempool: admitted transactions waiting for a block.

Bounded by count and by bytes; when full it refuses new transactions with ``MempoolFull`` (the API
answers 503 with a retry hint) rather than growing. Transactions leave when committed or when
their ``valid_until`` falls behind the next height. Order is arrival order; many transactions of
one sender may wait at once (replay protection is by hash, not by sequence).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from jinqiao.core.errors import JinqiaoError
from jinqiao.core.types import SignedTransaction


class MempoolFull(JinqiaoError):
    code = "mempool_full"


@dataclass(frozen=True)
class PendingTransaction:
    transaction_hash: bytes
    transaction: SignedTransaction
    size_bytes: int


class Mempool:
    def __init__(self, *, capacity: int, capacity_bytes: int) -> None:
        self.capacity = capacity
        self.capacity_bytes = capacity_bytes
        self._pending: OrderedDict[bytes, PendingTransaction] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._pending)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __contains__(self, transaction_hash: object) -> bool:
        return transaction_hash in self._pending

    def add(self, pending: PendingTransaction) -> bool:
        """Add a checked transaction. False if it was already waiting (idempotent resubmit)."""
        with self._lock:
            if pending.transaction_hash in self._pending:
                return False
            if (
                len(self._pending) >= self.capacity
                or self._bytes + pending.size_bytes > self.capacity_bytes
            ):
                raise MempoolFull(
                    "the mempool is full; retry shortly",
                    pending=len(self._pending),
                    capacity=self.capacity,
                )
            self._pending[pending.transaction_hash] = pending
            self._bytes += pending.size_bytes
            return True

    def room(self) -> int:
        return max(0, self.capacity - len(self._pending))

    def peek(self, max_count: int, max_bytes: int) -> list[PendingTransaction]:
        """The oldest waiting transactions that fit in a block (they stay until removed)."""
        chosen: list[PendingTransaction] = []
        total = 0
        with self._lock:
            for pending in self._pending.values():
                if len(chosen) >= max_count or total + pending.size_bytes > max_bytes:
                    break
                chosen.append(pending)
                total += pending.size_bytes
        return chosen

    def remove(self, transaction_hashes: list[bytes] | tuple[bytes, ...]) -> None:
        with self._lock:
            for transaction_hash in transaction_hashes:
                pending = self._pending.pop(transaction_hash, None)
                if pending is not None:
                    self._bytes -= pending.size_bytes

    def evict_expired(self, next_height: int) -> int:
        """Drop transactions that can no longer be included at ``next_height``."""
        with self._lock:
            expired = [
                key
                for key, pending in self._pending.items()
                if pending.transaction.body.valid_until < next_height
            ]
            for key in expired:
                self._bytes -= self._pending.pop(key).size_bytes
        return len(expired)
