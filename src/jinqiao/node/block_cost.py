"""The proposer's cut of a block by expected execution time (ADR 0046, amended).

A block is cut from the mempool by count and bytes (the chain parameters), and on a node also by
what it is expected to cost to execute: the proposer stops adding transactions before their
expected execution time passes a budget (by default a third of the round-0 propose timeout), so
that building the block and every validator's re-execution of it fit inside the round. The
expectation is a moving average, per contract and method, of the execution time this node
measured itself on the blocks it executed (built, re-executed or caught up): a machine that is
loaded or a method that is expensive gets smaller blocks, without a declared weight to maintain.

The cut is the proposer's alone and is not deterministic across nodes: validators do not
reproduce it, and any cut is a valid block (the chain's count and byte limits still hold). The
simulator, which must replay a seed exactly, cuts by count and bytes only.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from jinqiao.core.types import SignedTransaction

INITIAL_TRANSACTION_COST_S = 0.005
"""The expected execution time of a method this node never executed: 25 supply-chain events or
90 transfers on an idle machine, and still several on a loaded one, so the first block of an
unknown method (a couple of hundred transactions) fits in the round whatever it costs, and the
next is cut by what that block measured."""
COST_SMOOTHING = 0.25
"""The weight of the latest block in the moving average (a half-life of about 2.4 blocks)."""
MAX_KNOWN_METHODS = 1_024
"""Methods remembered; past this the least recently measured is forgotten (member contracts
could otherwise grow the table without bound)."""
BUDGET_SHARE_OF_PROPOSE_TIMEOUT = 3
"""The default budget is the propose timeout divided by this: the proposer's build and each
validator's re-execution take about as long, and a third is left for sending, decoding and the
validators' start a little after the proposer's."""
DEFAULT_BACKLOG_BLOCKS = 3
"""A node's clients are answered "retry" while the mempool holds more than this many blocks'
budget of expected execution: enough for the block being committed, the one being proposed and
the next, so that bounding the backlog never leaves a proposer short (the node's
``mempool_backlog_blocks``)."""

Method = tuple[str, str]


@dataclass(frozen=True)
class BlockBudget:
    """How the proposer cuts: ``cost_s`` gives a transaction's expected execution time and the
    block stops before the sum passes ``budget_s`` (its first transaction always goes in)."""

    budget_s: float
    costs: ExecutionCosts

    def cost_s(self, transaction: SignedTransaction) -> float:
        return self.costs.expected_s(transaction)


class ExecutionCosts:
    """Moving averages of execution time per transaction, by (contract, method), measured from
    whole blocks: a block's time (runtime, sparse Merkle tree, roots) is shared among its
    methods in proportion to what each was expected to cost, and each method's average moves
    toward its share (a method measured for the first time takes it whole). A block of one
    method gives that method's time per transaction exactly.
    Blocks are measured on the node's event loop while the next block may be cut on its worker
    thread: writers take the lock, a reader sees each method's old or new value."""

    def __init__(self) -> None:
        self._seconds: OrderedDict[Method, float] = OrderedDict()
        self._lock = threading.Lock()

    def expected_s(self, transaction: SignedTransaction) -> float:
        body = transaction.body
        return self._seconds.get((body.contract, body.method), INITIAL_TRANSACTION_COST_S)

    def known(self) -> dict[Method, float]:
        with self._lock:
            return dict(self._seconds)

    def observe(self, transactions: Sequence[SignedTransaction], execution_s: float) -> None:
        """Learn from one executed block's transactions and the time its execution (runtime,
        tree and roots) took on this node."""
        counts = Counter((t.body.contract, t.body.method) for t in transactions)
        if not counts or execution_s <= 0:
            return
        with self._lock:
            before = {m: self._seconds.get(m, INITIAL_TRANSACTION_COST_S) for m in counts}
            predicted_s = sum(count * before[method] for method, count in counts.items())
            scale = execution_s / predicted_s
            for method, seconds in before.items():
                # A method measured for the first time takes its share whole.
                weight = COST_SMOOTHING if method in self._seconds else 1.0
                # Replaced in place, never absent: ``expected_s`` reads without the lock.
                self._seconds[method] = seconds + weight * (seconds * scale - seconds)
                self._seconds.move_to_end(method)  # the most recently measured last
            while len(self._seconds) > MAX_KNOWN_METHODS:
                self._seconds.popitem(last=False)


def default_budget_ms(propose_timeout_ms: int) -> int:
    return max(1, propose_timeout_ms // BUDGET_SHARE_OF_PROPOSE_TIMEOUT)
