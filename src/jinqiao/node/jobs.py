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
from jinqiao.node.chain import Candidate, Chain
from jinqiao.node.driver import BuildBlock, ExecuteBlock
from jinqiao.node.mempool import Mempool


def build_block(chain: Chain, mempool: Mempool, action: BuildBlock) -> Candidate | None:
    """Cut a block from the mempool and execute it, or ``None`` if the head moved past
    ``action.height``. Signatures were verified when each transaction was admitted here."""
    if chain.head.height + 1 != action.height:
        return None
    with chain.store.snapshot() as snapshot:
        parameters = chain.runtime.parameters(snapshot)
    pending = mempool.peek(parameters.block_max_transactions, MAX_BLOCK_BYTES)
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
    in this node's mempool); ``(None, reason)`` if it does not extend the head or is invalid."""
    header = action.block.header
    head = chain.head
    if header.height != head.height + 1 or header.previous_block_hash != head.block_hash:
        return None, f"block {header.height} does not extend the head {head.height}"
    try:
        candidate = chain.execute(
            list(action.block.transactions),
            header.time_ms,
            header.proposer,
            verify_signatures=True,
            verified=mempool,  # looked up per transaction, not copied
        )
    except InvalidBlock as refusal:
        return None, f"block {header.height}: {refusal}"
    return candidate, ""


def commit_block(
    chain: Chain, mempool: Mempool, candidate: Candidate, certificate: CommitCertificate
) -> CommittedBlock:
    """Store a decided block with its certificate and drop its transactions from the mempool."""
    committed = chain.commit(candidate, certificate)
    mempool.remove(candidate.transaction_hashes)
    return committed
