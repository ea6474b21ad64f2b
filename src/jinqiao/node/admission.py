"""Admission: the checks a signed transaction passes before it waits in a mempool.

One function for every path that admits — client submissions over the API, transactions gossiped
by other validators, and the simulator's clients — so the simulator exercises the node's own
rules. ``check`` reads one snapshot of committed state and changes nothing; ``add`` puts what
passed into the mempool. A node calls them back to back; the simulator may let a block commit in
between, as a worker thread can in a node, which is what lets it find races between admission and
commit.
"""

from __future__ import annotations

from dataclasses import dataclass

from jinqiao.core.errors import InvalidInput, Rejection, TransactionTooLarge
from jinqiao.core.genesis import ChainParameters
from jinqiao.core.hashing import transaction_hash
from jinqiao.core.limits import MAX_TRANSACTION_BYTES
from jinqiao.core.types import decode_transaction
from jinqiao.execution.runtime import Runtime
from jinqiao.execution.state import StateReader
from jinqiao.node.mempool import Mempool, MempoolFull, PendingTransaction, SenderQuotaExceeded
from jinqiao.node.storage import Snapshot

AdmissionRefused = InvalidInput | Rejection | MempoolFull | SenderQuotaExceeded


@dataclass(frozen=True)
class Admission:
    transaction_hash: bytes
    status: str  # "pending" (newly admitted) or "already_pending"


def check(
    raw: bytes,
    *,
    runtime: Runtime,
    mempool: Mempool,
    snapshot: Snapshot,
    state: StateReader,
    height: int,
    parameters: ChainParameters,
    reserve: float | None = None,
    client: bool = False,
) -> Admission | PendingTransaction:
    """Every check but adding to the mempool. Returns the transaction to add, or the answer
    for one that already waits; raises ``TransactionTooLarge``, ``DecodeError`` or
    ``Rejection``. Given the ``reserve`` its addition must leave free, it first asks the
    mempool for room and raises ``MempoolFull`` or ``SenderQuotaExceeded`` before the signature
    is checked: a client flooding a full node does not make it verify what it refuses. A
    ``client``'s transaction (not one a peer gossiped) is also refused with ``BacklogFull``
    while the mempool's backlog is over its bound."""
    if len(raw) > MAX_TRANSACTION_BYTES:
        raise TransactionTooLarge(len(raw), MAX_TRANSACTION_BYTES)
    transaction = decode_transaction(raw, max_bytes=MAX_TRANSACTION_BYTES)
    identity = transaction_hash(runtime.suite, transaction.body)
    waiting = mempool.get(identity)
    if waiting is not None:
        # The hash covers the body only: a copy with other signatures is checked before it is
        # answered as the waiting transaction, so forged bytes never look accepted.
        if waiting != transaction:
            runtime.verify_signature(transaction)
        return Admission(identity, "already_pending")
    if snapshot.has_transaction(identity):
        raise Rejection(
            "duplicate_transaction",
            "this transaction was already committed",
            transaction_hash=identity.hex(),
        )
    if reserve is not None:
        mempool.check_room(transaction.body.sender, len(raw), reserve=reserve, client=client)
    runtime.verify_signature(transaction)
    runtime.check_transaction(state, transaction, height, parameters)
    return PendingTransaction(identity, transaction, len(raw), mempool.expected_cost_s(transaction))


def add(
    mempool: Mempool, pending: PendingTransaction, *, reserve: float, client: bool = False
) -> Admission:
    """Put a checked transaction into the mempool; raises ``MempoolFull`` (or its
    ``BacklogFull``) or ``SenderQuotaExceeded`` when its limits say no."""
    added = mempool.add(pending, reserve=reserve, client=client)
    return Admission(pending.transaction_hash, "pending" if added else "already_pending")
