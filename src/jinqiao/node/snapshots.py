"""State snapshots for state sync (ADR 0054): taken by serving nodes, checked and installed by a
joining node.

A snapshot holds the state after one committed block ``H``: every state key and its value. It is
cut into chunks along the state tree (ADR 0002): the key space is split by the first
``split_depth`` bits of each key's hash into at most ``2**split_depth`` parts, and a chunk holds
the entries of one non-empty part. The manifest lists, for every non-empty part, the hash of the
subtree its entries build at that depth (the one leaf itself when the part holds one entry).
So everything is checked against the state root of header ``H``, which its commit certificate
vouches for:

1. the manifest: folding its parts up the tree (the same joins as ``SparseMerkleTree.update``:
   an empty side and a leaf lift the leaf, anything else is an inner node) must give the header's
   state root; a manifest that lies about any part gives another root;
2. each chunk, as soon as it arrives: its keys' hashes all start with the part's prefix, no key
   twice, and the subtree its entries build is the part's hash. A wrong chunk is refused at once
   (and fetched from another peer) without waiting for the whole state;
3. the whole: the tree folded again from the subtrees the chunks actually built is the state
   root, before anything is written.

The split depth is the smallest that keeps every chunk under ``MAX_SNAPSHOT_CHUNK_BYTES``, at most
``MAX_SPLIT_DEPTH``. Installing (``install``) writes the state, the tree's nodes (leaves with their
values, ADR 0060) and the blocks of the replay window in one write batch into a store that holds
genesis only, so a crash at any point leaves the store as it was.

Snapshot files live in ``<home>/snapshots/<height>/``: ``manifest`` and one file per part, named
by its prefix; a snapshot appears by one directory rename, whole or not at all.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from msgspec import Meta

from jinqiao.core.codec import CanonicalStruct, decode, encode
from jinqiao.core.crypto import CryptoSuite
from jinqiao.core.errors import DecodeError, InvalidInput, NodeFault, require
from jinqiao.core.hashing import header_hash
from jinqiao.core.limits import MAX_STATE_KEY_BYTES, MAX_STATE_VALUE_BYTES
from jinqiao.core.proofs import (
    SMT_EMPTY_ROOT,
    SMT_KEY_BITS,
    SMT_LEAF_KIND,
    key_hash,
    smt_inner_node,
    smt_node_hash,
)
from jinqiao.core.types import CommittedBlock, Hash, Height
from jinqiao.fileio import save_atomically
from jinqiao.ledger.merkle import merkle_root
from jinqiao.ledger.smt import (
    BUCKET_BYTES,
    ROOT_BUCKET,
    MemoryNodeReader,
    SparseMerkleTree,
    child_keys,
    inner_bucket,
    node_key,
    root_key,
    stored_inner,
)
from jinqiao.node import pruning
from jinqiao.node.storage import ReadView, Snapshot, Store, encode_height

log = logging.getLogger(__name__)

SNAPSHOT_FORMAT = 1
MAX_SPLIT_DEPTH = 12
MAX_SNAPSHOT_CHUNKS = 1 << MAX_SPLIT_DEPTH
"""At most 4,096 chunks in a snapshot."""
MAX_SNAPSHOT_CHUNK_BYTES = 8 * 1024 * 1024
"""The keys and values of one chunk, at most (a frame carries 16 MiB)."""
ENTRY_OVERHEAD_BYTES = 16
"""What one entry adds to a chunk's encoding beyond its key and value, at most."""
MAX_CHUNK_ENTRIES = MAX_SNAPSHOT_CHUNK_BYTES // ENTRY_OVERHEAD_BYTES
STATE_BASE_KEY = b"state_sync_base"
"""``meta`` key of a store installed from a snapshot: the lowest height whose block it holds."""
_PAGE_KEYS = 10_000


class SnapshotPart(CanonicalStruct, frozen=True):
    prefix: Annotated[int, Meta(ge=0, lt=MAX_SNAPSHOT_CHUNKS)]
    leaf: bool
    """The part holds one entry: its subtree is that leaf."""
    subtree_hash: Hash
    entries: Annotated[int, Meta(ge=1, le=MAX_CHUNK_ENTRIES)]
    size_bytes: Annotated[int, Meta(ge=0, le=MAX_SNAPSHOT_CHUNK_BYTES)]


class SnapshotManifest(CanonicalStruct, frozen=True):
    format: int
    height: Height
    state_root: Hash
    split_depth: Annotated[int, Meta(ge=0, le=MAX_SPLIT_DEPTH)]
    parts: Annotated[tuple[SnapshotPart, ...], Meta(max_length=MAX_SNAPSHOT_CHUNKS)]


class StateEntry(CanonicalStruct, frozen=True):
    key: Annotated[bytes, Meta(max_length=MAX_STATE_KEY_BYTES)]
    value: Annotated[bytes, Meta(max_length=MAX_STATE_VALUE_BYTES)]


class SnapshotChunk(CanonicalStruct, frozen=True):
    height: Height
    prefix: Annotated[int, Meta(ge=0, lt=MAX_SNAPSHOT_CHUNKS)]
    entries: Annotated[tuple[StateEntry, ...], Meta(max_length=MAX_CHUNK_ENTRIES)]


class SnapshotRefused(InvalidInput):
    """A manifest, chunk or block from a peer that does not check out."""


@dataclass(frozen=True)
class VerifiedChunk:
    prefix: int
    subtree_hash: bytes
    leaf: bool
    bucket: bytes
    """Where the part's subtree root is stored (``ledger.smt`` node keys, ADR 0057)."""
    writes: dict[bytes, bytes]
    nodes: dict[bytes, bytes]
    """The part's tree nodes by node key (its leaves carry their values)."""


# -- the tree: parts and their fold ------------------------------------------------------------
def part_prefix(suite: CryptoSuite, key: bytes, depth: int) -> int:
    return int.from_bytes(key_hash(suite, key), "big") >> (SMT_KEY_BITS - depth)


def build_part(
    suite: CryptoSuite, depth: int, prefix: int, entries: Mapping[bytes, bytes]
) -> tuple[bytes, bool, bytes, dict[bytes, bytes]]:
    """The subtree that ``entries`` (all under ``prefix``) build at ``depth``: its hash, whether it
    is a single leaf, the bucket it is stored in, and its nodes by node key. Built by the state
    tree's own update from an empty tree, then the ``depth`` inner nodes above the part (each
    with one empty side) are dropped."""
    require(len(entries) > 0, "a snapshot part holds at least one entry")
    tree = SparseMerkleTree(suite, MemoryNodeReader(), check_node_hashes=False)
    root, nodes = tree.update(SMT_EMPTY_ROOT, entries)
    key = root_key(root)
    for level in range(depth):
        node = nodes[key]
        if node[0] == SMT_LEAF_KIND:
            break
        bit = (prefix >> (depth - 1 - level)) & 1
        children = child_keys(node)
        if children[1 - bit][BUCKET_BYTES:] != SMT_EMPTY_ROOT:
            raise SnapshotRefused("a snapshot chunk holds keys of another part")
        del nodes[key]
        key = children[bit]
    node = nodes[key]
    if node[0] == SMT_LEAF_KIND:  # one entry, which the tree kept as its root: in its own bucket
        bucket = node[1 : 1 + BUCKET_BYTES]
        return root, True, bucket, {bucket + root: node}
    return key[BUCKET_BYTES:], False, key[:BUCKET_BYTES], nodes


def fold_parts(
    suite: CryptoSuite, depth: int, parts: Iterable[tuple[int, bytes, bool, bytes]]
) -> tuple[bytes, dict[bytes, bytes]]:
    """The root over the parts ``(prefix, subtree hash, is a leaf, bucket)`` at ``depth`` and the
    inner nodes above them by node key, joined as ``SparseMerkleTree.update`` joins two halves.
    (``verify_manifest`` keeps only the root and passes ``ROOT_BUCKET`` as every bucket.)"""
    level: dict[int, tuple[bytes, bool, bytes]] = {
        prefix: (hash_, leaf, bucket) for prefix, hash_, leaf, bucket in parts
    }
    empty = (SMT_EMPTY_ROOT, False, ROOT_BUCKET)
    nodes: dict[bytes, bytes] = {}
    for above_depth in range(depth - 1, -1, -1):
        above: dict[int, tuple[bytes, bool, bytes]] = {}
        for parent in sorted({prefix >> 1 for prefix in level}):
            left = level.get(2 * parent, empty)
            right = level.get(2 * parent + 1, empty)
            if left[0] == SMT_EMPTY_ROOT and right[1]:
                above[parent] = right
            elif right[0] == SMT_EMPTY_ROOT and left[1]:
                above[parent] = left
            else:
                node = stored_inner(left[0], left[2], right[0], right[2])
                node_hash = smt_node_hash(suite, smt_inner_node(left[0], right[0]))
                bucket = inner_bucket(parent << (SMT_KEY_BITS - above_depth), above_depth)
                nodes[node_key(bucket, node_hash)] = node
                above[parent] = (node_hash, False, bucket)
        level = above
    return level.get(0, empty)[0], nodes


# -- checking what peers send ------------------------------------------------------------------
def verify_manifest(suite: CryptoSuite, manifest: SnapshotManifest, state_root: bytes) -> None:
    """Refuse a manifest whose parts do not fold to ``state_root`` (the certified header's)."""
    if manifest.format != SNAPSHOT_FORMAT:
        raise SnapshotRefused(f"snapshot format {manifest.format}, not {SNAPSHOT_FORMAT}")
    if manifest.state_root != state_root:
        raise SnapshotRefused("the snapshot is of another state root than its header's")
    prefixes = [part.prefix for part in manifest.parts]
    if prefixes != sorted(set(prefixes)) or any(
        prefix >= 1 << manifest.split_depth for prefix in prefixes
    ):
        raise SnapshotRefused("the snapshot's parts are not distinct prefixes in order")
    for part in manifest.parts:
        if part.leaf != (part.entries == 1):
            raise SnapshotRefused(f"snapshot part {part.prefix}: a leaf holds exactly one entry")
    root, _ = fold_parts(
        suite,
        manifest.split_depth,
        ((part.prefix, part.subtree_hash, part.leaf, ROOT_BUCKET) for part in manifest.parts),
    )
    if root != state_root:
        raise SnapshotRefused("the snapshot's parts do not make the header's state root")


def verify_chunk(
    suite: CryptoSuite, manifest: SnapshotManifest, part: SnapshotPart, chunk: SnapshotChunk
) -> VerifiedChunk:
    """Refuse a chunk that is not exactly the entries of ``part``; else its state and nodes,
    ready to install."""
    where = f"snapshot chunk {part.prefix} of height {manifest.height}"
    if chunk.height != manifest.height or chunk.prefix != part.prefix:
        raise SnapshotRefused(f"{where}: the peer sent another chunk")
    writes: dict[bytes, bytes] = {}
    for entry in chunk.entries:
        if part_prefix(suite, entry.key, manifest.split_depth) != part.prefix:
            raise SnapshotRefused(f"{where}: a key of another part")
        writes[entry.key] = entry.value
    if len(writes) != len(chunk.entries):
        raise SnapshotRefused(f"{where}: a key twice")
    subtree_hash, leaf, bucket, nodes = build_part(suite, manifest.split_depth, part.prefix, writes)
    if subtree_hash != part.subtree_hash or leaf != part.leaf:
        raise SnapshotRefused(f"{where}: its entries do not build the part's subtree")
    return VerifiedChunk(part.prefix, subtree_hash, leaf, bucket, writes, nodes)


def verify_window_blocks(
    suite: CryptoSuite, top: CommittedBlock, blocks: Sequence[CommittedBlock]
) -> None:
    """``blocks`` (oldest first) are the blocks just below ``top``, each linked to the next by its
    hash, with the transactions and receipts their headers' roots commit to."""
    expected_previous = top.block.header.previous_block_hash
    height = top.block.header.height
    for committed in reversed(blocks):
        header = committed.block.header
        height -= 1
        if header.height != height or header_hash(suite, header) != expected_previous:
            raise SnapshotRefused(
                f"block {height} is not the one the chain links to", height=height
            )
        check_block_contents(suite, committed)
        expected_previous = header.previous_block_hash


def check_block_contents(suite: CryptoSuite, committed: CommittedBlock) -> None:
    header = committed.block.header
    transactions = [encode(transaction) for transaction in committed.block.transactions]
    receipts = [encode(receipt) for receipt in committed.receipts]
    if (
        merkle_root(suite, transactions) != header.transactions_root
        or merkle_root(suite, receipts) != header.receipts_root
        or len(receipts) != len(transactions)
    ):
        raise SnapshotRefused(
            f"block {header.height}: its transactions or receipts do not match",
            height=header.height,
        )


# -- taking a snapshot -------------------------------------------------------------------------
def _state_keys(view: ReadView) -> Iterable[bytes]:
    start = b""
    while True:
        keys = view.keys_from(b"state_latest", start, _PAGE_KEYS)
        yield from keys
        if len(keys) < _PAGE_KEYS:
            return
        start = keys[-1] + b"\x00"


def _state_value(view: ReadView, key: bytes) -> bytes:
    value = view.get(b"state_latest", key)
    if value is None:
        raise NodeFault("a state key vanished inside one read transaction", key=key.hex())
    return value


def split_depth_for(
    sizes_by_prefix: Mapping[int, int], chunk_bytes: int = MAX_SNAPSHOT_CHUNK_BYTES
) -> int:
    """The smallest depth at which no part (sizes given per ``MAX_SPLIT_DEPTH`` prefix) is over
    ``chunk_bytes``."""
    for depth in range(MAX_SPLIT_DEPTH + 1):
        merged: dict[int, int] = {}
        for prefix, size in sizes_by_prefix.items():
            merged[prefix >> (MAX_SPLIT_DEPTH - depth)] = (
                merged.get(prefix >> (MAX_SPLIT_DEPTH - depth), 0) + size
            )
        if not merged or max(merged.values()) <= chunk_bytes:
            return depth
    if max(sizes_by_prefix.values()) <= MAX_SNAPSHOT_CHUNK_BYTES:
        return MAX_SPLIT_DEPTH  # smaller chunks than asked for cannot be had; these are allowed
    raise NodeFault(
        "the state is too large for a snapshot: a part is over the chunk limit at the deepest "
        f"split ({MAX_SNAPSHOT_CHUNKS} chunks of {MAX_SNAPSHOT_CHUNK_BYTES} bytes)"
    )


def take_snapshot(
    suite: CryptoSuite,
    store: Store,
    directory: Path,
    chunk_bytes: int = MAX_SNAPSHOT_CHUNK_BYTES,
) -> SnapshotManifest | None:
    """Write a snapshot of the state at the store's head into ``directory/<height>/`` (one read
    transaction: the head and its state do not move under it). ``None`` at height 0 or when that
    snapshot exists."""
    with store.tables.read() as view:
        height = Snapshot(view).head_height()
        final = directory / str(height)
        if height == 0 or final.exists():
            return None
        committed = Snapshot(view).block(height)
        if committed is None:
            raise NodeFault(f"head block {height} is missing from the store")
        state_root = committed.block.header.state_root
        keyed: list[tuple[int, bytes, int]] = []
        sizes: dict[int, int] = {}
        for key in _state_keys(view):
            value = _state_value(view, key)
            path = int.from_bytes(key_hash(suite, key), "big")
            size = len(key) + len(value) + ENTRY_OVERHEAD_BYTES
            keyed.append((path, key, size))
            fine = path >> (SMT_KEY_BITS - MAX_SPLIT_DEPTH)
            sizes[fine] = sizes.get(fine, 0) + size
        depth = split_depth_for(sizes, chunk_bytes)
        keyed.sort()
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        for partial in directory.glob(".*.partial"):  # left by a crash during an earlier one
            shutil.rmtree(partial, ignore_errors=True)
        staging = directory / f".{height}.partial"
        staging.mkdir(mode=0o700)
        parts: list[SnapshotPart] = []
        start = 0
        while start < len(keyed):
            prefix = keyed[start][0] >> (SMT_KEY_BITS - depth)
            end = start
            while end < len(keyed) and keyed[end][0] >> (SMT_KEY_BITS - depth) == prefix:
                end += 1
            entries: dict[bytes, bytes] = {}
            for _, key, _ in keyed[start:end]:
                entries[key] = _state_value(view, key)
            subtree_hash, leaf, _, _ = build_part(suite, depth, prefix, entries)
            chunk = SnapshotChunk(
                height, prefix, tuple(StateEntry(k, v) for k, v in entries.items())
            )
            save_atomically(staging / str(prefix), encode(chunk), error=NodeFault)
            size = sum(size for _, _, size in keyed[start:end])
            parts.append(SnapshotPart(prefix, leaf, subtree_hash, end - start, size))
            start = end
    manifest = SnapshotManifest(SNAPSHOT_FORMAT, height, state_root, depth, tuple(parts))
    verify_manifest(suite, manifest, state_root)  # this node's own tree: a failure is a bug
    save_atomically(staging / "manifest", encode(manifest), error=NodeFault)
    os.rename(staging, final)
    return manifest


class SnapshotFiles:
    """The snapshots this node keeps in ``directory`` and serves to joining peers."""

    def __init__(
        self, directory: Path, keep: int, chunk_bytes: int = MAX_SNAPSHOT_CHUNK_BYTES
    ) -> None:
        self.directory = directory
        self.keep = keep
        self.chunk_bytes = chunk_bytes
        self._manifests: dict[int, SnapshotManifest] = {}

    def heights(self) -> list[int]:
        if not self.directory.is_dir():
            return []
        return sorted(int(name.name) for name in self.directory.iterdir() if name.name.isdigit())

    def manifest(self, height: int) -> SnapshotManifest | None:
        cached = self._manifests.get(height)
        if cached is not None:
            return cached
        try:
            raw = (self.directory / str(height) / "manifest").read_bytes()
            manifest = decode(raw, SnapshotManifest, max_bytes=MAX_SNAPSHOT_CHUNK_BYTES)
        except (OSError, DecodeError):
            return None
        self._manifests[height] = manifest
        return manifest

    def chunk(self, height: int, prefix: int) -> bytes | None:
        """The encoded chunk, as stored (this node wrote and checked it)."""
        try:
            return (self.directory / str(height) / str(prefix)).read_bytes()
        except OSError:
            return None

    def take(self, suite: CryptoSuite, store: Store) -> SnapshotManifest | None:
        manifest = take_snapshot(suite, store, self.directory, self.chunk_bytes)
        for old in self.heights()[: -self.keep]:
            self._manifests.pop(old, None)
            shutil.rmtree(self.directory / str(old), ignore_errors=True)
        return manifest


# -- installing --------------------------------------------------------------------------------
def install(
    store: Store,
    chunks: Sequence[VerifiedChunk],
    top_nodes: Mapping[bytes, bytes],
    blocks: Sequence[CommittedBlock],
    transaction_hashes: Sequence[Sequence[bytes]],
    block_hashes: Sequence[bytes],
) -> None:
    """Make the store hold the snapshot's state at the last of ``blocks`` (oldest first, checked)
    and those blocks, in one write batch: a crash leaves the store as it was (genesis only)."""
    require(len(blocks) > 0, "a snapshot installs at least the block of its height")
    head = blocks[-1].block.header.height
    with store.tables.write() as batch:
        require(batch.get(b"meta", b"genesis_hash") is not None, "state sync before genesis")
        require(batch.get(b"meta", b"head") == encode_height(0), "state sync into a used store")
        batch.put(b"meta", b"writing", encode_height(head))
        for key in list(_state_keys(batch)):  # genesis's state gives way to the snapshot's
            batch.delete(b"state_latest", key)
        nodes = _tree_nodes(chunks, top_nodes)
        if pruning.journals(batch):  # a pruning store prunes from the snapshot on (ADR 0053)
            first_block = blocks[0].block.header.height
            pruning.start_journal_at_snapshot(batch, head, first_block, nodes)
        for chunk in chunks:
            for key, value in chunk.writes.items():
                batch.put(b"state_latest", key, value)
        for key, node in nodes.items():
            batch.put(b"state_nodes", key, node, overwrite=False)
        for committed, block_hash, hashes in zip(
            blocks, block_hashes, transaction_hashes, strict=True
        ):
            header = committed.block.header
            key = encode_height(header.height)
            batch.put(b"blocks", key, encode(committed))
            batch.put(b"block_hashes", block_hash, key)
            for index, transaction_hash in enumerate(hashes):
                location = key + index.to_bytes(4, "big")
                batch.put(b"transactions", transaction_hash, location, overwrite=False)
            if header.next_validators_hash != header.validators_hash:
                batch.put(b"validator_changes", key, b"")
        batch.put(b"meta", STATE_BASE_KEY, encode_height(blocks[0].block.header.height))
        batch.put(b"meta", b"head", encode_height(head))


def _tree_nodes(
    chunks: Sequence[VerifiedChunk], top_nodes: Mapping[bytes, bytes]
) -> dict[bytes, bytes]:
    """The installed tree's nodes by node key: the chunks' and those above them. A state of one
    entry is a leaf root, kept in the root's bucket like every root."""
    nodes = dict(top_nodes)
    for chunk in chunks:
        nodes.update(chunk.nodes)
    if len(chunks) == 1 and chunks[0].leaf:
        ((_, node),) = nodes.items()
        nodes = {root_key(chunks[0].subtree_hash): node}
    return nodes


def state_base(snapshot: Snapshot) -> int:
    """The lowest height whose block the store holds: 1, or where a state sync began."""
    raw = snapshot.meta(STATE_BASE_KEY)
    return 1 if raw is None else int.from_bytes(raw, "big")
