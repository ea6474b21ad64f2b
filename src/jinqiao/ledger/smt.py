"""The state tree: a compressed sparse Merkle tree over 256-bit key hashes (DESIGN.md §3
"Authenticated state"; byte formats in docs/proofs.md).

Shape. A full key is placed at ``key_hash(suite, full_key)``; bit ``d`` of that hash (most
significant bit of byte 0 first) chooses left (0) or right (1) at depth ``d``. A subtree with no
leaf is the placeholder ``SMT_EMPTY_ROOT`` (32 zero bytes); a subtree with exactly one leaf *is*
that leaf, whatever its depth; a subtree with two or more leaves is an inner node over its two
halves. So one set of (key hash, value hash) pairs has exactly one tree and one root.

Storage (ADR 0057). A node is stored under its *node key*: a 3-byte bucket that says where in the
tree it sits, then its hash. An inner node's bucket is its position — the first ``depth`` bits of
the key hashes below it, cut to ``BUCKET_BITS`` and padded with zeros — and a leaf's is the first
``BUCKET_BITS`` bits of its own key hash; the root, whatever its kind, is in ``ROOT_BUCKET``.
So the nodes of one part of the tree sit side by side in a store that sorts by key, and the
nodes a block writes under one changed key land on a few pages instead of one page each. Both
buckets follow from the node's content (an inner node's depth is fixed by the key hashes below
it), so one node has one key wherever it appears below the root: the store is still
content-addressed. The reader does not know a child's kind before reading it, so a stored inner
node carries its two children's buckets after the hashed bytes (``stored_inner``); the hash
covers the node bytes only, exactly as docs/proofs.md defines them.

A stored leaf carries its value after the hashed bytes (``stored_leaf``; ADR 0060): a read at
any height finds the value where it finds the leaf, and a leaf's value goes with the leaf when
the pruner deletes it. The hashes are unchanged: a leaf's hash covers its kind, key hash and
value hash, and the value is checked against its hash when the leaf is read.

The tree reads nodes through a ``NodeReader`` and never writes: ``update`` returns the nodes it
created, by node key, and the caller stores them. Every node read is checked against its hash,
so a corrupt store shows up as ``NodeFault`` and never as a wrong root.

Speed. ``update`` applies a whole block's changes in one descent: the change keys are sorted by
key hash, each subtree receives the contiguous run of changes under it, untouched subtrees are
kept by hash without being read. ``reference_root`` computes a root from scratch from the
definition; a differential property test holds ``update`` to it.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping
from typing import Protocol

from jinqiao.core.crypto import CryptoSuite
from jinqiao.core.errors import NodeFault, require
from jinqiao.core.limits import MAX_STATE_KEY_BYTES, MAX_STATE_VALUE_BYTES
from jinqiao.core.proofs import (
    SMT_EMPTY_ROOT,
    SMT_INNER_KIND,
    SMT_KEY_BITS,
    SMT_LEAF_KIND,
    SMT_NODE_TAG,
    SparseMerkleLeaf,
    SparseMerkleProof,
    key_hash,
    smt_inner_node,
    smt_key_bit,
    smt_leaf_node,
    smt_node_hash,
    value_hash,
)
from jinqiao.core.types import HASH_BYTES

__all__ = [
    "BUCKET_BYTES",
    "EMPTY_ROOT",
    "ROOT_BUCKET",
    "MemoryNodeReader",
    "NodeReader",
    "SparseMerkleTree",
    "child_keys",
    "inner_bucket",
    "key_hash",
    "leaf_value",
    "node_key",
    "reference_root",
    "root_key",
    "stored_inner",
    "stored_leaf",
    "value_hash",
]

EMPTY_ROOT = SMT_EMPTY_ROOT
NODE_BYTES = 1 + 2 * HASH_BYTES
BUCKET_BITS = 24
BUCKET_BYTES = BUCKET_BITS // 8
ROOT_BUCKET = bytes(BUCKET_BYTES)
STORED_INNER_BYTES = NODE_BYTES + 2 * BUCKET_BYTES
"""A stored inner node: its node bytes, then the buckets of its left and right child."""
MAX_STORED_LEAF_BYTES = NODE_BYTES + MAX_STATE_VALUE_BYTES
"""A stored leaf: its node bytes, then its value (``stored_leaf``)."""
_TWO_EMPTY_CHILDREN = SMT_EMPTY_ROOT + SMT_EMPTY_ROOT

# What a subtree turned out to be after an update. A subtree the update did not touch is
# _UNKNOWN until someone needs to know (only when its sibling became empty).
_LEAF = SMT_LEAF_KIND
_INNER = SMT_INNER_KIND
_EMPTY = 2
_UNKNOWN = 3


def inner_bucket(path: int, depth: int) -> bytes:
    """The bucket of an inner node at ``depth`` on ``path`` (a key hash as an integer, of which
    only the first ``depth`` bits count): its position, cut to ``BUCKET_BITS`` bits."""
    return _bucket(path >> _PREFIX_SHIFT, depth)


_PREFIX_SHIFT = SMT_KEY_BITS - BUCKET_BITS
_BUCKET_MASKS = tuple(
    ((1 << bits) - 1) << (BUCKET_BITS - bits) for bits in range(BUCKET_BITS + 1)
) + (((1 << BUCKET_BITS) - 1),) * (SMT_KEY_BITS - BUCKET_BITS)


def _bucket(prefix: int, depth: int) -> bytes:
    """``inner_bucket`` from the path's first ``BUCKET_BITS`` bits (``prefix``)."""
    return (prefix & _BUCKET_MASKS[depth]).to_bytes(BUCKET_BYTES, "big")


def node_key(bucket: bytes, node_hash: bytes) -> bytes:
    """Where a node is stored: its bucket, then its hash."""
    return bucket + node_hash


def root_key(root: bytes) -> bytes:
    """Where the root node ``root`` is stored."""
    return ROOT_BUCKET + root


def stored_inner(left: bytes, left_bucket: bytes, right: bytes, right_bucket: bytes) -> bytes:
    """The stored form of the inner node over ``left`` and ``right``: the node bytes (what its
    hash covers), then the children's buckets."""
    return smt_inner_node(left, right) + left_bucket + right_bucket


def stored_leaf(key_hash: bytes, value_hash: bytes, value: bytes) -> bytes:
    """The stored form of a leaf: the node bytes (what its hash covers), then the value whose
    hash they hold."""
    return smt_leaf_node(key_hash, value_hash) + value


def leaf_value(stored: bytes) -> bytes:
    """The value a stored leaf carries."""
    return stored[NODE_BYTES:]


def child_keys(stored: bytes) -> tuple[bytes, bytes]:
    """The node keys of a stored inner node's two children (an empty child's is
    ``ROOT_BUCKET + EMPTY_ROOT``; nothing is stored there)."""
    (left_bucket, left), (right_bucket, right) = _children(stored)
    return left_bucket + left, right_bucket + right


def _leaf_bucket(key_hash: bytes) -> bytes:
    return key_hash[:BUCKET_BYTES]


class NodeReader(Protocol):
    """Where the tree reads its nodes, by node key. ``None`` means the store has no such node."""

    def get_node(self, node_key: bytes) -> bytes | None: ...


class MemoryNodeReader:
    """Nodes in a dict by node key: for tests, benchmarks and building a tree in memory."""

    def __init__(self, nodes: dict[bytes, bytes] | None = None) -> None:
        self.nodes: dict[bytes, bytes] = {} if nodes is None else nodes

    def get_node(self, node_key: bytes) -> bytes | None:
        return self.nodes.get(node_key)


class SparseMerkleTree:
    """Reads, proves and updates state trees whose nodes ``reader`` serves. Holds no root: every
    call names the root it works on, so one instance serves every version."""

    def __init__(
        self, suite: CryptoSuite, reader: NodeReader, *, check_node_hashes: bool = True
    ) -> None:
        """``check_node_hashes=False`` skips re-hashing every node read (about a quarter of the
        update time); only for a reader that already guarantees integrity, such as the dict of
        nodes this process just computed."""
        self.suite = suite
        self.reader = reader
        self.check_node_hashes = check_node_hashes

    def load_node(self, key: bytes) -> bytes:
        """The stored node at node key ``key``, checked: present, well-formed, matching the hash
        the key ends with. A leaf carries its value after its node bytes (``stored_leaf``), an
        inner node its children's buckets (``stored_inner``)."""
        node = self.reader.get_node(key)
        node_hash = key[BUCKET_BYTES:]
        if node is None:
            raise NodeFault("state tree node is missing from the store", node_hash=node_hash.hex())
        kind = node[0] if node else None
        if kind == SMT_INNER_KIND:
            well_formed = len(node) == STORED_INNER_BYTES
        else:
            well_formed = kind == SMT_LEAF_KIND and NODE_BYTES <= len(node) <= MAX_STORED_LEAF_BYTES
        if not well_formed:
            raise NodeFault(
                "state tree node is malformed",
                node_hash=node_hash.hex(),
                size=len(node),
                kind=kind,
            )
        if self.check_node_hashes:
            if self.suite.hash(SMT_NODE_TAG + node[:NODE_BYTES]) != node_hash:
                raise NodeFault(
                    "state tree node does not match its hash", node_hash=node_hash.hex()
                )
            if kind == SMT_LEAF_KIND and (
                value_hash(self.suite, node[NODE_BYTES:]) != node[1 + HASH_BYTES : NODE_BYTES]
            ):
                raise NodeFault(
                    "state tree leaf's value does not match its value hash",
                    node_hash=node_hash.hex(),
                )
        if node[0] == SMT_INNER_KIND and node[1:NODE_BYTES] == _TWO_EMPTY_CHILDREN:
            raise NodeFault(
                "state tree inner node has two empty children", node_hash=node_hash.hex()
            )
        return node

    def get(self, root: bytes, full_key: bytes) -> bytes | None:
        """The value hash stored at ``full_key`` under ``root``, or ``None`` if it holds none."""
        value, proof = self.read(root, full_key)
        return None if value is None or proof.leaf is None else proof.leaf.value_hash

    def prove(self, root: bytes, full_key: bytes) -> SparseMerkleProof:
        """The proof that ``full_key`` holds what ``get`` says it holds (a value or nothing)."""
        return self.read(root, full_key)[1]

    def read(self, root: bytes, full_key: bytes) -> tuple[bytes | None, SparseMerkleProof]:
        """The value ``full_key`` holds under ``root`` (``None``: none) and its proof, in one
        walk down the tree."""
        _check_root(root)
        path = key_hash(self.suite, full_key)
        siblings: list[bytes] = []
        key = root_key(root)
        for depth in range(SMT_KEY_BITS + 1):
            if key[BUCKET_BYTES:] == SMT_EMPTY_ROOT:
                return None, SparseMerkleProof(siblings=tuple(siblings), leaf=None)
            node = self.load_node(key)
            if node[0] == SMT_LEAF_KIND:
                leaf = SparseMerkleLeaf(
                    key_hash=node[1 : 1 + HASH_BYTES],
                    value_hash=node[1 + HASH_BYTES : NODE_BYTES],
                )
                value = leaf_value(node) if leaf.key_hash == path else None
                return value, SparseMerkleProof(siblings=tuple(siblings), leaf=leaf)
            bit = smt_key_bit(path, depth)
            siblings.append(_child_key(node, 1 - bit, depth)[BUCKET_BYTES:])
            key = _child_key(node, bit, depth)
        raise NodeFault("state tree is deeper than its key length", root=root.hex())

    def update(
        self, root: bytes, changes: Mapping[bytes, bytes | None]
    ) -> tuple[bytes, dict[bytes, bytes]]:
        """Apply ``changes`` (full key -> new value, or ``None`` to delete) to the tree at
        ``root``. Returns the new root and the nodes the caller must store for it, by node key:
        every node this call created (an existing leaf pushed down by a new neighbour is among
        them again; content addressing makes rewriting it harmless). Deleting an absent key is a
        no-op; so is setting a key to the value it has."""
        new_root, new_nodes, _ = self.update_with_stale(root, changes)
        return new_root, new_nodes

    def update_with_stale(
        self, root: bytes, changes: Mapping[bytes, bytes | None]
    ) -> tuple[bytes, dict[bytes, bytes], tuple[bytes, ...]]:
        """``update``, also returning the node keys gone stale: nodes reachable from ``root``
        that the new root no longer reaches (the Jellyfish Merkle tree's stale-node index; ADR
        0053). A node a subtree replaced is stale unless the update created it again (a leaf
        pushed down): each node key sits at one position of a tree, and every other node the
        new root reaches is either in an untouched subtree or among the new nodes."""
        _check_root(root)
        if not changes:
            return root, {}, ()
        batch = _Batch(self, _sorted_changes(self.suite, changes))
        new_root, kind, bucket = batch.update(root, ROOT_BUCKET, 0, 0, len(batch.paths))
        if kind == _LEAF:
            batch.move_to_root(node_key(bucket, new_root), moved=new_root != root)
        stale = tuple(key for key in batch.replaced if key not in batch.new_nodes)
        return new_root, batch.new_nodes, stale


class _Batch:
    """One ``update`` call: the sorted changes and the nodes created so far.

    ``paths[i]`` is change ``i``'s key hash as an integer (sorting and splitting by bit are integer
    operations), ``key_hashes[i]`` the same as bytes, ``value_hashes[i]`` its new value hash and
    ``values[i]`` the value (both ``None`` for a delete). Ranges ``[low, high)`` always cover the
    changes under one subtree, which all share the subtree's path prefix. A subtree is returned as
    its hash, its kind and its bucket (``ROOT_BUCKET`` for an empty one; the bucket it had for one
    the update did not visit).
    """

    def __init__(
        self,
        tree: SparseMerkleTree,
        changes: tuple[list[int], list[bytes], list[bytes | None], list[bytes | None]],
    ) -> None:
        self.load_node = tree.load_node
        self.hash = tree.suite.hash
        self.paths, self.key_hashes, self.value_hashes, self.values = changes
        self.prefixes = [path >> _PREFIX_SHIFT for path in self.paths]
        self.new_nodes: dict[bytes, bytes] = {}
        self.replaced: list[bytes] = []
        """Node keys of stored nodes this update read and replaced by a subtree with another
        hash (or moved: a leaf lifted to the root)."""

    def update(
        self, node_hash: bytes, bucket: bytes, depth: int, low: int, high: int
    ) -> tuple[bytes, int, bytes]:
        """The new hash, kind and bucket of the subtree ``node_hash`` (stored in ``bucket``) at
        ``depth`` after changes ``[low, high)``."""
        if low == high:
            return node_hash, _EMPTY if node_hash == SMT_EMPTY_ROOT else _UNKNOWN, bucket
        if node_hash == SMT_EMPTY_ROOT:
            return self.build_from_changes(depth, low, high, None)
        key = node_key(bucket, node_hash)
        new_hash, kind, new_bucket = self.update_stored(key, depth, low, high)
        if new_hash != node_hash:
            self.replaced.append(key)
        return new_hash, kind, new_bucket

    def update_stored(
        self, key: bytes, depth: int, low: int, high: int
    ) -> tuple[bytes, int, bytes]:
        """``update`` of a subtree whose root is the stored node at ``key``."""
        node = self.load_node(key)
        if node[0] == SMT_LEAF_KIND:
            return self.build_from_changes(depth, low, high, node)
        require(depth < SMT_KEY_BITS, "state tree inner node below the last key bit")
        middle = _split(self.paths, low, high, depth)
        (left_bucket, left), (right_bucket, right) = _children(node)
        left_kind = right_kind = _UNKNOWN
        # A side without changes keeps its hash unread; join reads its kind only if it must.
        if low < middle:
            left, left_kind, left_bucket = self.update(left, left_bucket, depth + 1, low, middle)
        if middle < high:
            right, right_kind, right_bucket = self.update(
                right, right_bucket, depth + 1, middle, high
            )
        return self.join(
            (left, left_kind, left_bucket), (right, right_kind, right_bucket), depth, low
        )

    def join(
        self,
        left: tuple[bytes, int, bytes],
        right: tuple[bytes, int, bytes],
        depth: int,
        low: int,
    ) -> tuple[bytes, int, bytes]:
        """The subtree at ``depth`` (on change ``low``'s path) over two new halves: empty, the
        one leaf lifted up, or an inner node."""
        if left[0] == SMT_EMPTY_ROOT:
            if right[0] == SMT_EMPTY_ROOT:
                return SMT_EMPTY_ROOT, _EMPTY, ROOT_BUCKET
            if self.kind(right) == _LEAF:
                return right[0], _LEAF, right[2]
        elif right[0] == SMT_EMPTY_ROOT and self.kind(left) == _LEAF:
            return left[0], _LEAF, left[2]
        bucket = _bucket(self.prefixes[low], depth)
        stored = stored_inner(left[0], left[2], right[0], right[2])
        return self.store(bucket, stored), _INNER, bucket

    def kind(self, subtree: tuple[bytes, int, bytes]) -> int:
        """The kind of a non-empty subtree, reading its node only if the update did not visit it."""
        node_hash, kind, bucket = subtree
        return self.load_node(node_key(bucket, node_hash))[0] if kind == _UNKNOWN else kind

    def move_to_root(self, key: bytes, *, moved: bool) -> None:
        """The new root is a leaf, in its own bucket at ``key``: keep it in ``ROOT_BUCKET``
        instead, where readers look for a root. ``moved``: it was not the root before (else it
        is stored there already, and the copy the update may have built is dropped)."""
        if key[:BUCKET_BYTES] == ROOT_BUCKET:
            return
        node = self.new_nodes.pop(key, None)
        if not moved:
            return
        if node is None:  # a stored leaf lifted up: its old place is no longer reached
            node = self.load_node(key)
            self.replaced.append(key)
        self.new_nodes[root_key(key[BUCKET_BYTES:])] = node

    def build_from_changes(
        self, depth: int, low: int, high: int, leaf: bytes | None
    ) -> tuple[bytes, int, bytes]:
        """The subtree at ``depth`` holding the writes among changes ``[low, high)`` plus the one
        existing ``leaf`` node (unless a change replaces or deletes its key)."""
        paths: list[int] = []
        key_hashes: list[bytes] = []
        value_hashes: list[bytes] = []
        values: list[bytes] = []
        if leaf is not None:
            leaf_key = leaf[1 : 1 + HASH_BYTES]
            leaf_path = int.from_bytes(leaf_key, "big")
            shift = SMT_KEY_BITS - depth
            require(
                leaf_path >> shift == self.paths[low] >> shift,
                "state tree leaf is off its key's path",
                key_hash=leaf_key.hex(),
                depth=depth,
            )
            position = bisect_left(self.paths, leaf_path, low, high)
            if position == high or self.paths[position] != leaf_path:
                # Keep the existing leaf, in key order among the changes.
                self.collect_writes(low, position, paths, key_hashes, value_hashes, values)
                paths.append(leaf_path)
                key_hashes.append(leaf_key)
                value_hashes.append(leaf[1 + HASH_BYTES : NODE_BYTES])
                values.append(leaf_value(leaf))
                low = position
        self.collect_writes(low, high, paths, key_hashes, value_hashes, values)
        builder = _Builder(self, paths, key_hashes, value_hashes, values)
        return builder.build(depth, 0, len(paths))

    def collect_writes(
        self,
        low: int,
        high: int,
        paths: list[int],
        key_hashes: list[bytes],
        value_hashes: list[bytes],
        values: list[bytes],
    ) -> None:
        for index in range(low, high):
            value, hashed = self.values[index], self.value_hashes[index]
            if value is not None and hashed is not None:
                paths.append(self.paths[index])
                key_hashes.append(self.key_hashes[index])
                value_hashes.append(hashed)
                values.append(value)

    def store(self, bucket: bytes, stored: bytes) -> bytes:
        """Keep a new node (in its stored form) in ``bucket``; returns its hash."""
        node_hash = self.hash(SMT_NODE_TAG + stored[:NODE_BYTES])
        self.new_nodes[node_key(bucket, node_hash)] = stored
        return node_hash


class _Builder:
    """Builds a fresh subtree over sorted, distinct (path, key hash, value hash) leaves."""

    def __init__(
        self,
        batch: _Batch,
        paths: list[int],
        key_hashes: list[bytes],
        value_hashes: list[bytes],
        values: list[bytes],
    ) -> None:
        self.batch = batch
        self.paths = paths
        self.key_hashes = key_hashes
        self.value_hashes = value_hashes
        self.values = values

    def build(self, depth: int, low: int, high: int) -> tuple[bytes, int, bytes]:
        count = high - low
        if count == 0:
            return SMT_EMPTY_ROOT, _EMPTY, ROOT_BUCKET
        if count == 1:
            leaf_key = self.key_hashes[low]
            bucket = _leaf_bucket(leaf_key)
            leaf = stored_leaf(leaf_key, self.value_hashes[low], self.values[low])
            return self.batch.store(bucket, leaf), _LEAF, bucket
        # Two distinct 256-bit paths always differ at some depth below 256.
        require(depth < SMT_KEY_BITS, "two state keys with one key hash")
        middle = _split(self.paths, low, high, depth)
        left_hash, _, left_bucket = self.build(depth + 1, low, middle)
        right_hash, _, right_bucket = self.build(depth + 1, middle, high)
        bucket = _bucket(self.paths[low] >> _PREFIX_SHIFT, depth)
        stored = stored_inner(left_hash, left_bucket, right_hash, right_bucket)
        return self.batch.store(bucket, stored), _INNER, bucket


def _split(paths: list[int], low: int, high: int, depth: int) -> int:
    """The first index in ``[low, high)`` whose path has bit ``depth`` set. All paths in the
    range share bits ``0..depth-1``, so it is where the range crosses prefix + 1 + zeros."""
    shift = SMT_KEY_BITS - 1 - depth
    threshold = ((paths[low] >> shift) | 1) << shift
    return bisect_left(paths, threshold, low, high)


def _children(stored: bytes) -> tuple[tuple[bytes, bytes], tuple[bytes, bytes]]:
    """(bucket, hash) of a stored inner node's left and right child."""
    return (
        (stored[NODE_BYTES : NODE_BYTES + BUCKET_BYTES], stored[1 : 1 + HASH_BYTES]),
        (stored[NODE_BYTES + BUCKET_BYTES :], stored[1 + HASH_BYTES : NODE_BYTES]),
    )


def _child_key(stored: bytes, bit: int, depth: int) -> bytes:
    require(depth < SMT_KEY_BITS, "state tree inner node below the last key bit")
    return child_keys(stored)[bit]


def _check_root(root: bytes) -> None:
    require(
        isinstance(root, bytes) and len(root) == HASH_BYTES,
        f"a state root is {HASH_BYTES} bytes",
        root=repr(root)[:80],
    )


def _sorted_changes(
    suite: CryptoSuite, changes: Mapping[bytes, bytes | None]
) -> tuple[list[int], list[bytes], list[bytes | None], list[bytes | None]]:
    entries: list[tuple[bytes, bytes | None, bytes | None]] = []
    for full_key, value in changes.items():
        require(
            len(full_key) <= MAX_STATE_KEY_BYTES,
            "state key over the size limit",
            size=len(full_key),
            limit=MAX_STATE_KEY_BYTES,
        )
        if value is None:
            entries.append((key_hash(suite, full_key), None, None))
        else:
            require(
                len(value) <= MAX_STATE_VALUE_BYTES,
                "state value over the size limit",
                size=len(value),
                limit=MAX_STATE_VALUE_BYTES,
            )
            entries.append((key_hash(suite, full_key), value_hash(suite, value), value))
    entries.sort(key=lambda entry: entry[0])
    key_hashes = [entry[0] for entry in entries]
    paths = [int.from_bytes(path, "big") for path in key_hashes]
    for index in range(1, len(paths)):
        require(paths[index - 1] != paths[index], "two state keys with one key hash")
    return paths, key_hashes, [entry[1] for entry in entries], [entry[2] for entry in entries]


def reference_root(suite: CryptoSuite, leaves: Mapping[bytes, bytes]) -> bytes:
    """The root of the tree holding ``leaves`` (key hash -> value hash), computed from scratch
    from the definition. Slow and plain: the yardstick for ``SparseMerkleTree.update``."""
    return _reference_subtree(suite, sorted(leaves.items()), 0)


def _reference_subtree(suite: CryptoSuite, leaves: list[tuple[bytes, bytes]], depth: int) -> bytes:
    if not leaves:
        return SMT_EMPTY_ROOT
    if len(leaves) == 1:
        ((path, value),) = leaves
        return smt_node_hash(suite, smt_leaf_node(path, value))
    require(depth < SMT_KEY_BITS, "two leaves with one key hash")
    left = [leaf for leaf in leaves if smt_key_bit(leaf[0], depth) == 0]
    right = [leaf for leaf in leaves if smt_key_bit(leaf[0], depth) == 1]
    return smt_node_hash(
        suite,
        smt_inner_node(
            _reference_subtree(suite, left, depth + 1), _reference_subtree(suite, right, depth + 1)
        ),
    )
