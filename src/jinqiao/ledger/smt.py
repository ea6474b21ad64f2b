"""The state tree: a compressed sparse Merkle tree over 256-bit key hashes (DESIGN.md §3
"Authenticated state"; byte formats in docs/proofs.md).

Shape. A full key is placed at ``key_hash(suite, full_key)``; bit ``d`` of that hash (most
significant bit of byte 0 first) chooses left (0) or right (1) at depth ``d``. A subtree with no
leaf is the placeholder ``SMT_EMPTY_ROOT`` (32 zero bytes); a subtree with exactly one leaf *is*
that leaf, whatever its depth; a subtree with two or more leaves is an inner node over its two
halves. So one set of (key hash, value hash) pairs has exactly one tree and one root.

Storage. Nodes are content-addressed, ``node_hash -> node bytes``. The tree reads them through a
``NodeReader`` and never writes: ``update`` returns the nodes it created and the caller stores
them. Values themselves are stored by the caller under their value hash; the tree holds hashes.
Every node read is checked against its hash, so a corrupt store shows up as ``NodeFault`` and
never as a wrong root.

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
    "EMPTY_ROOT",
    "MemoryNodeReader",
    "NodeReader",
    "SparseMerkleTree",
    "key_hash",
    "reference_root",
    "value_hash",
]

EMPTY_ROOT = SMT_EMPTY_ROOT
NODE_BYTES = 1 + 2 * HASH_BYTES
_TWO_EMPTY_CHILDREN = SMT_EMPTY_ROOT + SMT_EMPTY_ROOT

# What a subtree turned out to be after an update. A subtree the update did not touch is
# _UNKNOWN until someone needs to know (only when its sibling became empty).
_LEAF = SMT_LEAF_KIND
_INNER = SMT_INNER_KIND
_EMPTY = 2
_UNKNOWN = 3


class NodeReader(Protocol):
    """Where the tree reads its nodes. ``None`` means the store has no such node."""

    def get_node(self, node_hash: bytes) -> bytes | None: ...


class MemoryNodeReader:
    """Nodes in a dict: for tests, benchmarks and building a tree in memory."""

    def __init__(self, nodes: dict[bytes, bytes] | None = None) -> None:
        self.nodes: dict[bytes, bytes] = {} if nodes is None else nodes

    def get_node(self, node_hash: bytes) -> bytes | None:
        return self.nodes.get(node_hash)


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

    def load_node(self, node_hash: bytes) -> bytes:
        """The bytes of node ``node_hash``, checked: present, well-formed, matching its hash."""
        node = self.reader.get_node(node_hash)
        if node is None:
            raise NodeFault("state tree node is missing from the store", node_hash=node_hash.hex())
        if len(node) != NODE_BYTES or node[0] > SMT_INNER_KIND:
            raise NodeFault(
                "state tree node is malformed",
                node_hash=node_hash.hex(),
                size=len(node),
                kind=node[0] if node else None,
            )
        if self.check_node_hashes and self.suite.hash(SMT_NODE_TAG + node) != node_hash:
            raise NodeFault("state tree node does not match its hash", node_hash=node_hash.hex())
        if node[0] == SMT_INNER_KIND and node[1:] == _TWO_EMPTY_CHILDREN:
            raise NodeFault(
                "state tree inner node has two empty children", node_hash=node_hash.hex()
            )
        return node

    def get(self, root: bytes, full_key: bytes) -> bytes | None:
        """The value hash stored at ``full_key`` under ``root``, or ``None`` if it holds none."""
        _check_root(root)
        path = key_hash(self.suite, full_key)
        node_hash = root
        for depth in range(SMT_KEY_BITS + 1):
            if node_hash == SMT_EMPTY_ROOT:
                return None
            node = self.load_node(node_hash)
            if node[0] == SMT_LEAF_KIND:
                return node[1 + HASH_BYTES :] if node[1 : 1 + HASH_BYTES] == path else None
            node_hash = _child(node, smt_key_bit(path, depth), depth)
        raise NodeFault("state tree is deeper than its key length", root=root.hex())

    def prove(self, root: bytes, full_key: bytes) -> SparseMerkleProof:
        """The proof that ``full_key`` holds what ``get`` says it holds (a value or nothing)."""
        _check_root(root)
        path = key_hash(self.suite, full_key)
        siblings: list[bytes] = []
        node_hash = root
        for depth in range(SMT_KEY_BITS + 1):
            if node_hash == SMT_EMPTY_ROOT:
                return SparseMerkleProof(siblings=tuple(siblings), leaf=None)
            node = self.load_node(node_hash)
            if node[0] == SMT_LEAF_KIND:
                leaf = SparseMerkleLeaf(
                    key_hash=node[1 : 1 + HASH_BYTES], value_hash=node[1 + HASH_BYTES :]
                )
                return SparseMerkleProof(siblings=tuple(siblings), leaf=leaf)
            bit = smt_key_bit(path, depth)
            siblings.append(_child(node, 1 - bit, depth))
            node_hash = _child(node, bit, depth)
        raise NodeFault("state tree is deeper than its key length", root=root.hex())

    def update(
        self, root: bytes, changes: Mapping[bytes, bytes | None]
    ) -> tuple[bytes, dict[bytes, bytes]]:
        """Apply ``changes`` (full key -> new value, or ``None`` to delete) to the tree at
        ``root``. Returns the new root and the nodes the caller must store for it: every node
        this call created (an existing leaf pushed down by a new neighbour is among them again;
        content addressing makes rewriting it harmless). Deleting an absent key is a no-op; so
        is setting a key to the value it has."""
        new_root, new_nodes, _ = self.update_with_stale(root, changes)
        return new_root, new_nodes

    def update_with_stale(
        self, root: bytes, changes: Mapping[bytes, bytes | None]
    ) -> tuple[bytes, dict[bytes, bytes], tuple[bytes, ...]]:
        """``update``, also returning the stale nodes: nodes reachable from ``root`` that the
        new root no longer reaches (the Jellyfish Merkle tree's stale-node index; ADR 0053).
        A node a subtree replaced is stale unless the update created it again (a leaf pushed
        down): each node hash sits at one position of a tree, and every other node the new
        root reaches is either in an untouched subtree or among the new nodes."""
        _check_root(root)
        if not changes:
            return root, {}, ()
        batch = _Batch(self, _sorted_changes(self.suite, changes))
        new_root, _ = batch.update(root, 0, 0, len(batch.paths))
        stale = tuple(node_hash for node_hash in batch.replaced if node_hash not in batch.new_nodes)
        return new_root, batch.new_nodes, stale


class _Batch:
    """One ``update`` call: the sorted changes and the nodes created so far.

    ``paths[i]`` is change ``i``'s key hash as an integer (sorting and splitting by bit are
    integer operations), ``key_hashes[i]`` the same as bytes, ``value_hashes[i]`` its new value
    hash or ``None`` for a delete. Ranges ``[low, high)`` always cover the changes under one
    subtree, which all share the subtree's path prefix.
    """

    def __init__(
        self,
        tree: SparseMerkleTree,
        changes: tuple[list[int], list[bytes], list[bytes | None]],
    ) -> None:
        self.load_node = tree.load_node
        self.hash = tree.suite.hash
        self.paths, self.key_hashes, self.value_hashes = changes
        self.new_nodes: dict[bytes, bytes] = {}
        self.replaced: list[bytes] = []
        """Stored nodes this update read and replaced by a subtree with another hash."""

    def update(self, node_hash: bytes, depth: int, low: int, high: int) -> tuple[bytes, int]:
        """The new hash and kind of the subtree ``node_hash`` at ``depth`` after changes
        ``[low, high)``."""
        if low == high:
            return node_hash, _EMPTY if node_hash == SMT_EMPTY_ROOT else _UNKNOWN
        if node_hash == SMT_EMPTY_ROOT:
            return self.build_from_changes(depth, low, high, None)
        new_hash, kind = self.update_stored(node_hash, depth, low, high)
        if new_hash != node_hash:
            self.replaced.append(node_hash)
        return new_hash, kind

    def update_stored(self, node_hash: bytes, depth: int, low: int, high: int) -> tuple[bytes, int]:
        """``update`` of a subtree whose root is a stored node."""
        node = self.load_node(node_hash)
        if node[0] == SMT_LEAF_KIND:
            return self.build_from_changes(depth, low, high, node)
        require(depth < SMT_KEY_BITS, "state tree inner node below the last key bit")
        middle = _split(self.paths, low, high, depth)
        left, left_kind = node[1 : 1 + HASH_BYTES], _UNKNOWN
        right, right_kind = node[1 + HASH_BYTES :], _UNKNOWN
        # A side without changes keeps its hash unread; join reads its kind only if it must.
        if low < middle:
            left, left_kind = self.update(left, depth + 1, low, middle)
        if middle < high:
            right, right_kind = self.update(right, depth + 1, middle, high)
        return self.join(left, left_kind, right, right_kind)

    def join(self, left: bytes, left_kind: int, right: bytes, right_kind: int) -> tuple[bytes, int]:
        """The subtree over two new halves: empty, the one leaf lifted up, or an inner node."""
        if left == SMT_EMPTY_ROOT:
            if right == SMT_EMPTY_ROOT:
                return SMT_EMPTY_ROOT, _EMPTY
            if self.kind(right, right_kind) == _LEAF:
                return right, _LEAF
        elif right == SMT_EMPTY_ROOT and self.kind(left, left_kind) == _LEAF:
            return left, _LEAF
        return self.store(smt_inner_node(left, right)), _INNER

    def kind(self, node_hash: bytes, kind: int) -> int:
        """The kind of a non-empty subtree, reading its node only if the update did not visit it."""
        return self.load_node(node_hash)[0] if kind == _UNKNOWN else kind

    def build_from_changes(
        self, depth: int, low: int, high: int, leaf: bytes | None
    ) -> tuple[bytes, int]:
        """The subtree at ``depth`` holding the writes among changes ``[low, high)`` plus the one
        existing ``leaf`` node (unless a change replaces or deletes its key)."""
        paths: list[int] = []
        key_hashes: list[bytes] = []
        value_hashes: list[bytes] = []
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
                self.collect_writes(low, position, paths, key_hashes, value_hashes)
                paths.append(leaf_path)
                key_hashes.append(leaf_key)
                value_hashes.append(leaf[1 + HASH_BYTES :])
                low = position
        self.collect_writes(low, high, paths, key_hashes, value_hashes)
        builder = _Builder(self, paths, key_hashes, value_hashes)
        return builder.build(depth, 0, len(paths))

    def collect_writes(
        self,
        low: int,
        high: int,
        paths: list[int],
        key_hashes: list[bytes],
        value_hashes: list[bytes],
    ) -> None:
        for index in range(low, high):
            value = self.value_hashes[index]
            if value is not None:
                paths.append(self.paths[index])
                key_hashes.append(self.key_hashes[index])
                value_hashes.append(value)

    def store(self, node: bytes) -> bytes:
        node_hash = self.hash(SMT_NODE_TAG + node)
        self.new_nodes[node_hash] = node
        return node_hash


class _Builder:
    """Builds a fresh subtree over sorted, distinct (path, key hash, value hash) leaves."""

    def __init__(
        self, batch: _Batch, paths: list[int], key_hashes: list[bytes], value_hashes: list[bytes]
    ) -> None:
        self.batch = batch
        self.paths = paths
        self.key_hashes = key_hashes
        self.value_hashes = value_hashes

    def build(self, depth: int, low: int, high: int) -> tuple[bytes, int]:
        count = high - low
        if count == 0:
            return SMT_EMPTY_ROOT, _EMPTY
        if count == 1:
            return self.batch.store(
                smt_leaf_node(self.key_hashes[low], self.value_hashes[low])
            ), _LEAF
        # Two distinct 256-bit paths always differ at some depth below 256.
        require(depth < SMT_KEY_BITS, "two state keys with one key hash")
        middle = _split(self.paths, low, high, depth)
        left, _ = self.build(depth + 1, low, middle)
        right, _ = self.build(depth + 1, middle, high)
        return self.batch.store(smt_inner_node(left, right)), _INNER


def _split(paths: list[int], low: int, high: int, depth: int) -> int:
    """The first index in ``[low, high)`` whose path has bit ``depth`` set. All paths in the
    range share bits ``0..depth-1``, so it is where the range crosses prefix + 1 + zeros."""
    shift = SMT_KEY_BITS - 1 - depth
    threshold = ((paths[low] >> shift) | 1) << shift
    return bisect_left(paths, threshold, low, high)


def _child(node: bytes, bit: int, depth: int) -> bytes:
    require(depth < SMT_KEY_BITS, "state tree inner node below the last key bit")
    return node[1 : 1 + HASH_BYTES] if bit == 0 else node[1 + HASH_BYTES :]


def _check_root(root: bytes) -> None:
    require(
        isinstance(root, bytes) and len(root) == HASH_BYTES,
        f"a state root is {HASH_BYTES} bytes",
        root=repr(root)[:80],
    )


def _sorted_changes(
    suite: CryptoSuite, changes: Mapping[bytes, bytes | None]
) -> tuple[list[int], list[bytes], list[bytes | None]]:
    entries: list[tuple[bytes, bytes | None]] = []
    for full_key, value in changes.items():
        require(
            len(full_key) <= MAX_STATE_KEY_BYTES,
            "state key over the size limit",
            size=len(full_key),
            limit=MAX_STATE_KEY_BYTES,
        )
        if value is None:
            entries.append((key_hash(suite, full_key), None))
        else:
            require(
                len(value) <= MAX_STATE_VALUE_BYTES,
                "state value over the size limit",
                size=len(value),
                limit=MAX_STATE_VALUE_BYTES,
            )
            entries.append((key_hash(suite, full_key), value_hash(suite, value)))
    entries.sort(key=lambda entry: entry[0])
    key_hashes = [entry[0] for entry in entries]
    paths = [int.from_bytes(path, "big") for path in key_hashes]
    for index in range(1, len(paths)):
        require(paths[index - 1] != paths[index], "two state keys with one key hash")
    return paths, key_hashes, [entry[1] for entry in entries]


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
