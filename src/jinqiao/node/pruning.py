"""Pruning of old state versions (ADR 0053, docs/operations.md "Storage retention").

The state tree's nodes are content-addressed and shared between versions, so a node cannot be
deleted because an old version is no longer wanted: the newer versions may reach it too. The
store keeps, in the same write batch as each block, a *stale-node journal* — the Jellyfish Merkle
tree's stale index: an entry ``(h, node key)`` says that the node stored at that node key
(``ledger.smt``: its bucket, then its hash; ADR 0057) was reachable from the state root after
block ``h - 1`` and is not from the root after block ``h`` (``update_with_stale`` computes it).
A block's entries are stored in chunks, ``stale_nodes/(h, n) -> node keys``, up to
``JOURNAL_CHUNK_ENTRIES`` node keys each: one put per chunk instead of one per node (ADR 0059).
A node that no root after ``h`` reaches is needed only by heights below ``h``, so once the
oldest height kept (the *prune floor*) reaches ``h`` it can go.

One thing completes the picture, because content addressing lets a node come back:
``revived_nodes/node key -> h``: block ``h`` created again a node the store already held (a key
set back to an earlier value). A journal entry older than the revival is void: the node is live
again, and the block that makes it stale again journals it again. A leaf carries its value
(ADR 0060), so a value goes with its leaf.

Heights whose block changed the validator set keep the path to ``governance/validators`` for
ever (``pinned_nodes``): a light client follows the set through those proofs
(``Reader.validator_changes``), whatever the retention.

The pruner deletes in bounded batches, each one LMDB write transaction that removes journal
entries together with what they free and moves ``meta/prune_floor``: a node killed at any
instant restarts with every retained height whole, and the next batch goes on where the last one
ended. Readers check the floor in the same read transaction they read the tree in, so a proof is
either refused (``height_pruned``) or complete.

The journal is written only by a store created with it (``meta/journal``, set at genesis), or
restored from a snapshot into one (``start_journal_at_snapshot``).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from jinqiao.core.codec import CanonicalStruct, decode_stored, encode
from jinqiao.core.crypto import CryptoSuite
from jinqiao.core.errors import InvalidInput, NodeFault, require
from jinqiao.core.proofs import SMT_INNER_KIND, SMT_LEAF_KIND, key_hash, smt_key_bit
from jinqiao.core.types import HASH_BYTES, BlockHeader, CommitCertificate, CommittedBlock
from jinqiao.ledger.smt import BUCKET_BYTES, child_keys, root_key

__all__ = [
    "DEFAULT_RETENTION_HEIGHTS",
    "MAX_RETENTION_HEIGHTS",
    "MIN_RETENTION_HEIGHTS",
    "PRUNE_BATCH_ENTRIES",
    "PRUNING_TABLES",
    "HeightPruned",
    "PruneStep",
    "PrunedBlock",
    "RetentionNeedsJournal",
    "prune_step",
    "record_block",
]

DEFAULT_RETENTION_HEIGHTS = 10_000
"""Heights whose state a node keeps by default (docs/operations.md "Storage retention")."""
MIN_RETENTION_HEIGHTS = 2
"""A pruning node keeps at least the head and the height before it."""
MAX_RETENTION_HEIGHTS = 1_000_000_000
PRUNE_BATCH_ENTRIES = 2_000
"""Journal entries one prune batch (one write transaction) handles at most, rounded up to the
chunk that holds the last."""
JOURNAL_CHUNK_ENTRIES = 48
"""Node keys in one ``stale_nodes`` value at most: 1,680 bytes, so that a chunk fits on an LMDB
page beside others instead of taking overflow pages of its own."""
PRUNE_BATCH_BLOCKS = 64
"""Block bodies one prune batch deletes at most."""
PRUNING_TABLES = (
    b"stale_nodes",
    b"revived_nodes",
    b"pinned_nodes",
    b"block_headers",
)

_HEIGHT = struct.Struct(">Q")
_CHUNK = struct.Struct(">QI")
"""A ``stale_nodes`` key: the height, then the chunk's number within the height."""
_NODE_KEY_BYTES = BUCKET_BYTES + HASH_BYTES
_JOURNAL = b"journal"
_FLOOR = b"prune_floor"
_BLOCKS_FLOOR = b"blocks_floor"
_MAX_PINNED_PER_STEP = 64
"""Validator-set changes one prune batch pins at most (the floor moves past no more)."""


class PrunedBlock(CanonicalStruct, frozen=True):
    """What the store keeps of a block whose body it pruned: the header and the certificate
    that committed it, the chain of signed headers an auditor and a light client walk."""

    header: BlockHeader
    certificate: CommitCertificate


class RetentionNeedsJournal(InvalidInput):
    """A node configured to prune, on a store created as an archive (no journal)."""

    code = "retention_needs_journal"


class HeightPruned(InvalidInput):
    """A read at a height whose state this node no longer keeps."""

    code = "height_pruned"


class _View(Protocol):
    """What the pruning functions need of a store's read view (``storage.ReadView``)."""

    def get(self, table: bytes, key: bytes) -> bytes | None: ...

    def keys_from(self, table: bytes, start: bytes, limit: int) -> list[bytes]: ...


class _Batch(_View, Protocol):
    """What they need of a write batch (``storage.WriteBatch``)."""

    def put(self, table: bytes, key: bytes, value: bytes, *, overwrite: bool = True) -> bool: ...

    def delete(self, table: bytes, key: bytes) -> None: ...


@dataclass(frozen=True)
class PruneStep:
    """What one prune batch did."""

    floor: int
    """The oldest height whose state the store now keeps."""
    blocks_floor: int
    """The oldest height whose block body (transactions, receipts, index) it keeps."""
    entries: int
    """Journal entries and block bodies handled."""
    nodes_deleted: int
    values_deleted: int
    """Of the nodes deleted, the leaves (each with its value)."""
    bytes_deleted: int
    """Keys and values removed from the tables, journal entries included."""
    more: bool
    """Entries at or below the floor remain: run another batch."""


def start_journal(batch: _Batch) -> None:
    """Mark a new store (in its genesis batch) as one that journals."""
    batch.put(b"meta", _JOURNAL, b"\x01")
    batch.put(b"meta", _FLOOR, _HEIGHT.pack(0))
    batch.put(b"meta", _BLOCKS_FLOOR, _HEIGHT.pack(1))


def start_journal_at_snapshot(
    batch: _Batch, height: int, first_block: int, nodes: Mapping[bytes, bytes]
) -> None:
    """Make a journaling store that holds genesis only ready to prune from a state sync's
    install (ADR 0054) of the tree ``nodes`` at ``height`` with the blocks from
    ``first_block``, in the install's write batch and before it writes the nodes: genesis's
    nodes and journal go (no root the store keeps reaches them), and the floors start at the
    snapshot: the state of ``height`` and the bodies from ``first_block``. Later blocks
    journal as on any store."""
    for table in (b"state_nodes", *PRUNING_TABLES[:-1]):
        for key in _all_keys(batch, table):
            batch.delete(table, key)
    record_block(batch, height, nodes, ())
    batch.put(b"meta", _FLOOR, _HEIGHT.pack(height))
    batch.put(b"meta", _BLOCKS_FLOOR, _HEIGHT.pack(first_block))


def _all_keys(view: _View, table: bytes) -> list[bytes]:
    found: list[bytes] = []
    start = b""
    while True:
        keys = view.keys_from(table, start, PRUNE_BATCH_ENTRIES)
        found.extend(keys)
        if len(keys) < PRUNE_BATCH_ENTRIES:
            return found
        start = keys[-1] + b"\x00"


def journals(view: _View) -> bool:
    return view.get(b"meta", _JOURNAL) is not None


def prune_floor(view: _View) -> int:
    """The oldest height whose state the store keeps whole (0: nothing pruned yet)."""
    raw = view.get(b"meta", _FLOOR)
    return 0 if raw is None else _HEIGHT.unpack(raw)[0]


def blocks_floor(view: _View) -> int:
    """The oldest height whose block body the store keeps (1: none pruned)."""
    raw = view.get(b"meta", _BLOCKS_FLOOR)
    return 1 if raw is None else _HEIGHT.unpack(raw)[0]


def load_pruned_block(view: _View, height: int) -> PrunedBlock | None:
    raw = view.get(b"block_headers", _HEIGHT.pack(height))
    return None if raw is None else decode_stored(raw, PrunedBlock)


def record_block(
    batch: _Batch, height: int, new_nodes: Mapping[bytes, bytes], stale_nodes: tuple[bytes, ...]
) -> None:
    """Write block ``height``'s new tree nodes and journal what the block does to the tree: a
    node the write finds already stored is a revival (one lookup per node, the write's own: a
    separate read before it was 4 % of a validator in the supply-chain event phase). The caller
    writes the rest of the block's state without the nodes."""
    key = _HEIGHT.pack(height)
    for node_key, node in new_nodes.items():
        if not batch.put(b"state_nodes", node_key, node, overwrite=False):
            batch.put(b"revived_nodes", node_key, key)
    for number, start in enumerate(range(0, len(stale_nodes), JOURNAL_CHUNK_ENTRIES)):
        chunk = stale_nodes[start : start + JOURNAL_CHUNK_ENTRIES]
        batch.put(b"stale_nodes", _CHUNK.pack(height, number), b"".join(chunk))


def prune_step(
    batch: _Batch,
    suite: CryptoSuite,
    retention_heights: int,
    pinned_key: bytes,
    *,
    limit: int = PRUNE_BATCH_ENTRIES,
) -> PruneStep:
    """One bounded prune batch inside the write ``batch``: move the floor to keep the last
    ``retention_heights`` heights, pin ``pinned_key``'s path at the validator-set changes the
    floor passes, and handle up to ``limit`` journal entries at or below the floor (whole
    chunks: the last may take it past ``limit``)."""
    require(retention_heights >= 1, "prune with a retention of at least one height")
    if not journals(batch):
        raise NodeFault("the store has no stale-node journal to prune from")
    head_raw = batch.get(b"meta", b"head")
    head = 0 if head_raw is None else _HEIGHT.unpack(head_raw)[0]
    old_floor = prune_floor(batch)
    target = max(old_floor, head - retention_heights + 1)
    floor = old_floor
    if target > old_floor:
        floor = _pin_validator_changes(batch, suite, pinned_key, old_floor, target)
        batch.put(b"meta", _FLOOR, _HEIGHT.pack(floor))
    wanted = limit // JOURNAL_CHUNK_ENTRIES + 2
    chunks = batch.keys_from(b"stale_nodes", _CHUNK.pack(0, 0), wanted)
    entries = nodes = values = removed = 0
    more = len(chunks) == wanted  # unless the loop stops first: chunks past those read
    for chunk_key in chunks:
        stale_at = _CHUNK.unpack(chunk_key)[0]
        if stale_at > floor:
            more = False
            break
        if entries >= limit:
            more = True
            break
        chunk = batch.get(b"stale_nodes", chunk_key)
        if chunk is None or len(chunk) % _NODE_KEY_BYTES:
            raise NodeFault("a stale-node journal chunk is malformed", key=chunk_key.hex())
        batch.delete(b"stale_nodes", chunk_key)
        removed += len(chunk_key) + len(chunk)
        for start in range(0, len(chunk), _NODE_KEY_BYTES):
            entries += 1
            node = _delete_stale(batch, stale_at, chunk[start : start + _NODE_KEY_BYTES])
            if node is not None:
                nodes += 1
                values += node[0] == SMT_LEAF_KIND
                removed += _NODE_KEY_BYTES + len(node)
    blocks, block_bytes, blocks_left = _prune_block_bodies(batch, floor, head)
    return PruneStep(
        floor=floor,
        blocks_floor=blocks_floor(batch),
        entries=entries + blocks,
        nodes_deleted=nodes,
        values_deleted=values,
        bytes_deleted=removed + block_bytes,
        more=more or blocks_left or floor < target,
    )


def _prune_block_bodies(batch: _Batch, floor: int, head: int) -> tuple[int, int, bool]:
    """Replace the bodies of blocks below ``floor`` by their header and certificate, and drop
    their transactions from the index, up to ``PRUNE_BATCH_BLOCKS`` blocks. A block waits while
    one of its transactions could still be replayed (``valid_until`` past the head): the index
    is what refuses the replay. Returns the blocks pruned, the bytes freed, and whether more
    blocks are due."""
    height = blocks_floor(batch)
    pruned = freed = 0
    while height < floor:
        if pruned == PRUNE_BATCH_BLOCKS:
            return pruned, freed, True
        key = _HEIGHT.pack(height)
        raw = batch.get(b"blocks", key)
        if raw is None:
            raise NodeFault(f"block {height} is missing from the store")
        committed = decode_stored(raw, CommittedBlock)
        transactions = committed.block.transactions
        if any(item.body.valid_until > head for item in transactions):
            break
        record = encode(PrunedBlock(committed.block.header, committed.certificate))
        batch.put(b"block_headers", key, record)
        batch.delete(b"blocks", key)
        freed += len(raw) - len(record)
        for receipt in committed.receipts:
            location = batch.get(b"transactions", receipt.transaction_hash)
            # A hash seen again later keeps its first location, this block's, or another's.
            if location is not None and location[:8] == key:
                batch.delete(b"transactions", receipt.transaction_hash)
                freed += HASH_BYTES + len(location)
        pruned += 1
        height += 1
        batch.put(b"meta", _BLOCKS_FLOOR, _HEIGHT.pack(height))
    return pruned, freed, False


def _delete_stale(batch: _Batch, stale_at: int, key: bytes) -> bytes | None:
    """Delete the node at node key ``key`` (a leaf with its value) if nothing revived or pinned
    it since it went stale at ``stale_at``. Returns the node deleted (``None``: kept)."""
    revived = batch.get(b"revived_nodes", key)
    if revived is not None and _HEIGHT.unpack(revived)[0] > stale_at:
        return None
    if batch.get(b"pinned_nodes", key) is not None:
        return None
    node = batch.get(b"state_nodes", key)
    if node is None:
        raise NodeFault("a journaled stale node is missing", node_key=key.hex())
    batch.delete(b"state_nodes", key)
    if revived is not None:
        batch.delete(b"revived_nodes", key)
    return node


def _pin_validator_changes(
    batch: _Batch, suite: CryptoSuite, pinned_key: bytes, old_floor: int, floor: int
) -> int:
    """Pin ``pinned_key``'s path at each validator-set change in ``[old_floor, floor)``; returns
    the floor, lowered to the first change not pinned when there are too many for one batch."""
    start = _HEIGHT.pack(old_floor)
    changes = batch.keys_from(b"validator_changes", start, _MAX_PINNED_PER_STEP + 1)
    for pinned, key in enumerate(changes):
        height: int = _HEIGHT.unpack(key)[0]
        if height >= floor:
            break
        if pinned == _MAX_PINNED_PER_STEP:
            return height
        _pin_path(batch, suite, _state_root_at(batch, height), pinned_key)
    return floor


def _state_root_at(batch: _Batch, height: int) -> bytes:
    raw = batch.get(b"blocks", _HEIGHT.pack(height))
    if raw is not None:
        return decode_stored(raw, CommittedBlock).block.header.state_root
    pruned = load_pruned_block(batch, height)
    if pruned is None:
        raise NodeFault(f"block {height} is missing from the store")
    return pruned.header.state_root


def _pin_path(batch: _Batch, suite: CryptoSuite, root: bytes, full_key: bytes) -> None:
    """Pin every node on ``full_key``'s path under ``root`` (the nodes its proof reads)."""
    path = key_hash(suite, full_key)
    key = root_key(root)
    for depth in range(8 * HASH_BYTES + 1):
        if key[BUCKET_BYTES:] == bytes(HASH_BYTES):
            return
        node = batch.get(b"state_nodes", key)
        if node is None:
            raise NodeFault("a node on a pinned path is missing", node_key=key.hex())
        batch.put(b"pinned_nodes", key, b"")
        if node[0] != SMT_INNER_KIND:
            return
        key = child_keys(node)[smt_key_bit(path, depth)]
    raise NodeFault("a pinned path is deeper than its key length", root=root.hex())
