"""The block jobs of the consensus driver's actions, shared by its two shells (``node.bft`` in a
node, the simulator in ``jinqiao.sim``): cut and execute a candidate from the mempool, re-execute
a block another validator proposed (or that a peer sent to catch up), store a decided block.

Each reads the chain's head when it runs, not when it was asked for: a job queued behind a commit
sees the new head, and answers ``None`` when what it was asked for no longer extends it.
"""

from __future__ import annotations

from jinqiao.core.limits import MAX_BLOCK_BYTES
from jinqiao.core.types import CommitCertificate, CommittedBlock
from jinqiao.execution.runtime import InvalidBlock
from jinqiao.node.block_cost import BlockBudget
from jinqiao.node.chain import Candidate, Chain
from jinqiao.node.driver import BuildBlock, ExecuteBlock
from jinqiao.node.mempool import Mempool


def build_block(
    chain: Chain, mempool: Mempool, action: BuildBlock, budget: BlockBudget | None = None
) -> Candidate | None:
    """Cut a block from the mempool and execute it, or ``None`` if the head moved past
    ``action.height``. Expired and already committed transactions are dropped from the mempool
    first. Signatures were verified when each transaction was admitted here. With a ``budget``
    the cut also stops before the expected execution time passes it (``node.block_cost``)."""
    if chain.head.height + 1 != action.height:
        return None
    mempool.evict_expired(action.height)
    with chain.store.snapshot() as snapshot:
        parameters = chain.runtime.parameters(snapshot)
        pending = mempool.peek(parameters.block_max_transactions, MAX_BLOCK_BYTES, budget)
        # A transaction can be admitted by a thread that checked the store just before the
        # block holding it was stored, so it waits here although it is committed: drop it
        # rather than propose it again (it would only be rejected as a duplicate).
        committed = [
            p.transaction_hash for p in pending if snapshot.has_transaction(p.transaction_hash)
        ]
    if committed:
        mempool.remove(committed)
        dropped = set(committed)
        pending = [p for p in pending if p.transaction_hash not in dropped]
    return chain.execute(
        [p.transaction for p in pending],
        action.time_ms,
        action.proposer,
        verify_signatures=False,
    )


def execute_block(
    chain: Chain, mempool: Mempool, action: ExecuteBlock
) -> tuple[Candidate | None, str]:
    """Re-execute a block with signature checks (skipped only for the exact signed transactions
    in this node's mempool) through ``Chain.validate``; ``(None, reason)`` if it does not extend
    the head or any root or header field differs (the reason names which)."""
    try:
        return chain.validate(action.block, verified=mempool), ""
    except InvalidBlock as refusal:
        return None, refusal.message


def commit_block(
    chain: Chain, mempool: Mempool, candidate: Candidate, certificate: CommitCertificate
) -> CommittedBlock:
    """Store a decided block with its certificate and drop its transactions from the mempool."""
    committed = chain.commit(candidate, certificate)
    mempool.remove(candidate.transaction_hashes)
    return committed
