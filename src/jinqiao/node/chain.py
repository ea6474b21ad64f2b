"""The chain as this node holds it: genesis, the head, executing candidate blocks and committing
them to the store.

``execute`` turns ordered transactions into a candidate block (header with all roots), exactly as
every validator must reproduce it; ``commit`` stores a candidate together with the certificate
that commits it. The consensus driver's shell (``node.bft``) goes through these two calls.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from jinqiao.core.codec import encode
from jinqiao.core.errors import NodeFault, require
from jinqiao.core.genesis import Genesis, genesis_hash
from jinqiao.core.hashing import header_hash, validator_set_hash
from jinqiao.core.types import (
    EMPTY_HASH,
    Block,
    BlockHeader,
    CommitCertificate,
    CommittedBlock,
    SignedTransaction,
    ValidatorSet,
)
from jinqiao.execution.contract import BlockContext
from jinqiao.execution.identity import VALIDATORS_KEY, read_governance
from jinqiao.execution.runtime import BlockResult, InvalidBlock, Runtime
from jinqiao.execution.state import Overlay, StateReader
from jinqiao.ledger.merkle import merkle_root
from jinqiao.ledger.smt import SparseMerkleTree
from jinqiao.node.storage import BlockWrite, Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Head:
    height: int
    block_hash: bytes
    state_root: bytes
    time_ms: int
    validators: ValidatorSet


@dataclass(frozen=True)
class Candidate:
    """An executed, not yet committed block."""

    block: Block
    block_hash: bytes
    result: BlockResult
    transaction_hashes: tuple[bytes, ...]
    new_nodes: dict[bytes, bytes]
    stale_nodes: tuple[bytes, ...] = ()
    """Nodes of the head's tree that this block's tree no longer reaches (ADR 0053)."""
    execution_s: float = 0.0
    """How long this node took to execute the block (for metrics and logs)."""


def read_validators(state: StateReader) -> ValidatorSet:
    return read_governance(state, VALIDATORS_KEY, ValidatorSet, "validator set")


class Chain:
    def __init__(self, store: Store, genesis: Genesis, runtime: Runtime) -> None:
        self.store = store
        self.genesis = genesis
        self.suite = genesis.suite
        self.runtime = runtime
        self.genesis_hash = genesis_hash(genesis)
        self.head = self._open()

    def _open(self) -> Head:
        self.store.check_intact()
        if not self.store.is_initialized():
            self._write_genesis()
        with self.store.snapshot() as snapshot:
            stored = snapshot.meta(b"genesis_hash")
            if stored != self.genesis_hash:
                raise NodeFault(
                    "the store was created from another genesis",
                    stored=(stored or b"").hex(),
                    expected=self.genesis_hash.hex(),
                )
            height = snapshot.head_height()
            validators = read_validators(snapshot)
            if height == 0:
                root = snapshot.meta(b"genesis_state_root")
                if root is None:
                    raise NodeFault("genesis state root missing from the store")
                return Head(0, self.genesis_hash, root, self.genesis.genesis_time_ms, validators)
            committed = snapshot.block(height)
            if committed is None:
                raise NodeFault(f"head block {height} is missing from the store")
            header = committed.block.header
            return Head(
                height,
                header_hash(self.suite, header),
                header.state_root,
                header.time_ms,
                validators,
            )

    def reopen(self) -> None:
        """Read the head again from the store (after a state sync installed a snapshot)."""
        self.head = self._open()

    def _write_genesis(self) -> None:
        writes = self.runtime.apply_genesis(self.genesis)
        with self.store.snapshot() as snapshot:
            tree = SparseMerkleTree(self.suite, snapshot)
            root, nodes = tree.update(EMPTY_HASH, writes)
        self.store.save_genesis(self.genesis_hash, root, writes, nodes)
        log.info("wrote genesis %s, state root %s", self.genesis_hash.hex(), root.hex())

    def is_committed(self, transaction_hash_: bytes) -> bool:
        with self.store.snapshot() as snapshot:
            return snapshot.has_transaction(transaction_hash_)

    def execute(
        self,
        transactions: Sequence[SignedTransaction],
        time_ms: int,
        proposer: bytes,
        *,
        verify_signatures: bool = True,
        verified: VerifiedLookup | None = None,
    ) -> Candidate:
        """Execute ``transactions`` on top of the head and build the candidate block.

        ``verified`` maps transaction hashes to signed transactions whose signatures this node
        already checked (its mempool): those are not verified a second time."""
        started = time.perf_counter()
        head = self.head
        height = head.height + 1
        time_ms = max(time_ms, head.time_ms + 1)
        context = BlockContext(self.genesis.chain_id, height, time_ms, proposer)
        with self.store.snapshot() as snapshot:
            require(snapshot.head_height() == head.height, "head moved during execution")
            result = self.runtime.execute_block(
                snapshot,
                context,
                transactions,
                snapshot.has_transaction,
                verify_signatures=verify_signatures,
                already_verified=None if verified is None else _same_signed(verified),
            )
            tree = SparseMerkleTree(self.suite, snapshot)
            state_root, new_nodes, stale_nodes = tree.update_with_stale(
                head.state_root, result.writes
            )
            after = Overlay(snapshot)
            after.writes.update(result.writes)
            next_validators = read_validators(after)
        header = BlockHeader(
            chain_id=self.genesis.chain_id,
            height=height,
            time_ms=time_ms,
            previous_block_hash=head.block_hash,
            transactions_root=merkle_root(self.suite, [encode(tx) for tx in transactions]),
            receipts_root=merkle_root(self.suite, [encode(r) for r in result.receipts]),
            state_root=state_root,
            validators_hash=validator_set_hash(self.suite, head.validators),
            next_validators_hash=validator_set_hash(self.suite, next_validators),
            proposer=proposer,
            transaction_count=len(transactions),
        )
        block = Block(header, tuple(transactions))
        return Candidate(
            block=block,
            block_hash=header_hash(self.suite, header),
            result=result,
            transaction_hashes=tuple(receipt.transaction_hash for receipt in result.receipts),
            new_nodes=new_nodes,
            stale_nodes=stale_nodes,
            execution_s=time.perf_counter() - started,
        )

    def validate(self, block: Block, *, verified: VerifiedLookup | None = None) -> Candidate:
        """Re-execute a block another validator made (proposed, or fetched to catch up) on top of
        the head, recompute every root and return it as a candidate; raise ``InvalidBlock``
        naming every header field that does not match (execution-specs' state transition is
        the model). The one path by which a node accepts a block it did not build."""
        header = block.header
        head = self.head
        if header.chain_id != self.genesis.chain_id:
            raise InvalidBlock(f"block of chain {header.chain_id!r}, not {self.genesis.chain_id!r}")
        if header.height != head.height + 1 or header.previous_block_hash != head.block_hash:
            raise InvalidBlock(f"block {header.height} does not extend the head {head.height}")
        if header.transaction_count != len(block.transactions):
            raise InvalidBlock(
                f"block {header.height} says {header.transaction_count} transactions and carries "
                f"{len(block.transactions)}"
            )
        candidate = self.execute(
            list(block.transactions),
            header.time_ms,
            header.proposer,
            verify_signatures=True,
            verified=verified,
        )
        mismatched = header_mismatches(header, candidate.block.header)
        if mismatched:
            raise InvalidBlock(
                f"block {header.height}: {', '.join(mismatched)} do not match its re-execution",
                fields=",".join(mismatched),
            )
        return candidate

    def commit(self, candidate: Candidate, certificate: CommitCertificate) -> CommittedBlock:
        """Store ``candidate`` as committed by ``certificate`` and advance the head."""
        header = candidate.block.header
        require(header.height == self.head.height + 1, "commit out of order")
        require(certificate.block_hash == candidate.block_hash, "certificate is for another block")
        committed = CommittedBlock(candidate.block, certificate, candidate.result.receipts)
        self.store.save_block(
            BlockWrite(
                committed=committed,
                block_hash=candidate.block_hash,
                transaction_hashes=candidate.transaction_hashes,
                state_writes=candidate.result.writes,
                new_nodes=candidate.new_nodes,
                stale_nodes=candidate.stale_nodes,
            )
        )
        with self.store.snapshot() as snapshot:
            validators = read_validators(snapshot)
        self.head = Head(
            header.height, candidate.block_hash, header.state_root, header.time_ms, validators
        )
        return committed


HEADER_FIELDS = (
    "transactions_root",
    "receipts_root",
    "state_root",
    "validators_hash",
    "next_validators_hash",
    "time_ms",
    "proposer",
    "transaction_count",
)


def header_mismatches(claimed: BlockHeader, computed: BlockHeader) -> list[str]:
    """The header fields (roots first) in which ``claimed`` differs from ``computed``."""
    return [name for name in HEADER_FIELDS if getattr(claimed, name) != getattr(computed, name)]


class VerifiedLookup(Protocol):
    """Signed transactions this node verified, by hash: a dict or the mempool."""

    def get(self, transaction_hash: bytes, /) -> SignedTransaction | None: ...


def _same_signed(
    verified: VerifiedLookup,
) -> Callable[[bytes, SignedTransaction], bool]:
    """True for a transaction whose exact signed form (body and signature) is in ``verified``;
    a copy of a known body with another signature is verified again."""

    def check(identity: bytes, transaction: SignedTransaction) -> bool:
        return verified.get(identity) == transaction

    return check
