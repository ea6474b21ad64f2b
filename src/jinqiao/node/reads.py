"""Reads that prove themselves: every answer comes with the header it is read against, that
header's commit certificate, and a Merkle proof (docs/proofs.md). A client checks them with
``jinqiao.verify`` and the genesis file alone."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from jinqiao.core.codec import encode
from jinqiao.core.crypto import CryptoSuite
from jinqiao.core.errors import InvalidInput
from jinqiao.core.proofs import ReceiptProof, StateReadProof, TransactionProof
from jinqiao.core.types import BlockHeader, CommitCertificate, CommittedBlock, Receipt
from jinqiao.execution.identity import GOVERNANCE, VALIDATORS_KEY
from jinqiao.execution.state import full_key
from jinqiao.ledger.merkle import MerkleTree
from jinqiao.ledger.smt import SparseMerkleTree
from jinqiao.node.pruning import HeightPruned
from jinqiao.node.snapshots import state_base
from jinqiao.node.storage import Snapshot, Store

PROVEN_BLOCKS_KEPT = 4
"""Committed blocks whose Merkle trees the reader keeps for transaction proofs."""
HEADERS_KEPT = 64
"""Committed headers (with their certificates) ``state_many`` keeps, by height."""
MAX_KEYS_PER_READ = 256
"""Keys proven by one ``state_many``."""


class NotFound(InvalidInput):
    code = "not_found"


class BeforeSnapshotBase(NotFound):
    """A block (or a proof against it) below the height this node's store begins at: it was
    started from a snapshot (ADR 0054) and holds no earlier block."""

    code = "before_snapshot_base"


def check_readable(snapshot: Snapshot, height: int) -> None:
    """Raise ``HeightPruned`` if the state after block ``height`` is no longer whole here."""
    floor = snapshot.prune_floor()
    if height < floor:
        raise HeightPruned(
            f"the state at height {height} is pruned: this node keeps the state of heights "
            f"{floor} to its head (an archive node, retention_heights 0, keeps every height)",
            height=height,
            oldest_height=floor,
        )


@dataclass(frozen=True)
class TransactionRecord:
    height: int
    index: int
    receipt: Receipt
    transaction_proof: TransactionProof
    receipt_proof: ReceiptProof


class Reader:
    def __init__(
        self,
        store: Store,
        suite: CryptoSuite,
        *,
        recent: Callable[[int], CommittedBlock | None] | None = None,
    ) -> None:
        """``recent``: the node's committed blocks kept decoded (``node.service.RecentBlocks``),
        asked before the store: a client following the chain reads the newest blocks, and
        decoding a block of 2,000 transfers from the store for each was 4.6% of the validator
        that a benchmark's watcher long-polled."""
        self.store = store
        self.suite = suite
        self._recent = recent
        self._proven: OrderedDict[int, _ProvenBlock] = OrderedDict()
        self._headers: OrderedDict[int, tuple[BlockHeader, CommitCertificate]] = OrderedDict()
        self._lock = threading.Lock()

    def _block(self, snapshot: Snapshot, height: int) -> CommittedBlock:
        committed = (self._recent and self._recent(height)) or snapshot.block(height)
        if committed is None:
            base = state_base(snapshot)
            if height < base:
                raise BeforeSnapshotBase(
                    f"no block at height {height} here: this node was started from a snapshot "
                    f"and holds blocks from height {base} on; ask a node that holds the whole "
                    "chain",
                    height=height,
                    base=base,
                )
            floor = snapshot.blocks_floor()
            if height < floor:
                raise HeightPruned(
                    f"block {height} is pruned: this node keeps the blocks of heights {floor} "
                    "to its head, and of older ones only the header and certificate (an "
                    "archive node, retention_heights 0, keeps every block)",
                    height=height,
                    oldest_height=floor,
                )
            raise NotFound(f"no block at height {height}", height=height)
        return committed

    def block(self, height: int | None = None) -> CommittedBlock:
        with self.store.snapshot() as snapshot:
            head = snapshot.head_height()
            if head == 0:
                raise NotFound("no block has been committed yet")
            wanted = head if height is None else height
            if not 1 <= wanted <= head:
                raise NotFound(f"no block at height {wanted}; the head is {head}", height=wanted)
            return self._block(snapshot, wanted)

    def block_by_hash(self, block_hash: bytes) -> CommittedBlock:
        with self.store.snapshot() as snapshot:
            height = snapshot.height_of_block(block_hash)
            if height is None:
                raise NotFound(f"no block with hash {block_hash.hex()}")
            return self._block(snapshot, height)

    def state(self, full_key: bytes, height: int | None = None) -> StateReadProof:
        """The value at ``full_key`` (or its absence) after block ``height`` (default: the head),
        with the proof against that block's header."""
        return self.state_many([full_key], height)[0]

    def state_many(
        self, full_keys: Sequence[bytes], height: int | None = None, *, pinned: bool = False
    ) -> list[StateReadProof]:
        """``state`` for each of ``full_keys`` at one height (default: the head), from one
        snapshot. The block's header and certificate are decoded once per height and kept for
        the most recent heights asked about (a committed header never changes), so an answer
        made of many values — an item's trace — costs one tree walk per key, not a block
        decode per key. A height below the prune floor is ``HeightPruned`` unless ``pinned``
        (a path the pruner keeps: the validator set at the heights that changed it)."""
        if len(full_keys) > MAX_KEYS_PER_READ:
            raise InvalidInput(f"at most {MAX_KEYS_PER_READ} keys are proven in one read")
        with self.store.snapshot() as snapshot:
            head = snapshot.head_height()
            if head == 0:
                raise NotFound("no block has been committed yet; nothing can be proven")
            wanted = head if height is None else height
            if not 1 <= wanted <= head:
                raise NotFound(f"no block at height {wanted}; the head is {head}", height=wanted)
            if not pinned:
                check_readable(snapshot, wanted)
            header, certificate = self._header(snapshot, wanted)
            tree = SparseMerkleTree(self.suite, snapshot)
            proofs = []
            for full_key in full_keys:
                value, proof = tree.read(header.state_root, full_key)
                proofs.append(StateReadProof(header, certificate, full_key, value, proof))
            return proofs

    def _header(self, snapshot: Snapshot, height: int) -> tuple[BlockHeader, CommitCertificate]:
        with self._lock:
            cached = self._headers.get(height)
            if cached is not None:
                self._headers.move_to_end(height)
                return cached
        found = snapshot.header(height)
        if found is None:
            raise NotFound(f"no block at height {height}", height=height)
        with self._lock:
            self._headers[height] = found
            while len(self._headers) > HEADERS_KEPT:
                self._headers.popitem(last=False)
        return found

    def validator_changes(self, from_height: int, limit: int) -> list[StateReadProof]:
        """For each block from ``from_height`` on that changed the validator set: the new set
        (``governance/validators`` after that block) proven against that block's header, whose
        certificate the previous set signed. A client walks these to follow the set."""
        with self.store.snapshot() as snapshot:
            heights = snapshot.validator_change_heights(from_height, limit)
        key = full_key(GOVERNANCE, VALIDATORS_KEY)
        return [self.state_many([key], height, pinned=True)[0] for height in heights]

    def transaction(self, transaction_hash: bytes) -> TransactionRecord | None:
        with self.store.snapshot() as snapshot:
            location = snapshot.transaction_location(transaction_hash)
            if location is None:
                return None
            height, index = location
            proven = self._proven_block(snapshot, height)
        committed = proven.committed
        header = committed.block.header
        return TransactionRecord(
            height=height,
            index=index,
            receipt=committed.receipts[index],
            transaction_proof=TransactionProof(
                header,
                committed.certificate,
                proven.transactions[index],
                proven.transactions_tree.proof(index),
            ),
            receipt_proof=ReceiptProof(
                header,
                committed.certificate,
                proven.receipts[index],
                proven.receipts_tree.proof(index),
            ),
        )

    def _proven_block(self, snapshot: Snapshot, height: int) -> _ProvenBlock:
        """A committed block with its two Merkle trees, built once and kept for the most recent
        blocks asked about: clients ask for the transactions of one block in bursts."""
        with self._lock:
            cached = self._proven.get(height)
            if cached is not None:
                self._proven.move_to_end(height)
                return cached
        committed = self._block(snapshot, height)
        transactions = [encode(tx) for tx in committed.block.transactions]
        receipts = [encode(receipt) for receipt in committed.receipts]
        proven = _ProvenBlock(
            committed,
            transactions,
            MerkleTree(self.suite, transactions),
            receipts,
            MerkleTree(self.suite, receipts),
        )
        with self._lock:
            self._proven[height] = proven
            while len(self._proven) > PROVEN_BLOCKS_KEPT:
                self._proven.popitem(last=False)
        return proven


@dataclass(frozen=True)
class _ProvenBlock:
    committed: CommittedBlock
    transactions: list[bytes]
    transactions_tree: MerkleTree
    receipts: list[bytes]
    receipts_tree: MerkleTree
