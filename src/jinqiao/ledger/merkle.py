"""The binary Merkle tree over a list of byte strings (RFC 6962 §2.1), used for a block's
``transactions_root`` (leaves: the canonical encoding of each ``SignedTransaction``) and
``receipts_root`` (leaves: the canonical encoding of each ``Receipt``), in block order.

leaf hash = H(0x00 || leaf), inner hash = H(0x01 || left || right); a tree of n >= 2 leaves splits
into a left subtree of the largest power of two below n and a right subtree of the rest; the
empty tree's root is 32 zero bytes.

The fast functions work level by level: pairing neighbours and carrying an unpaired last node up
unchanged builds exactly the RFC 6962 tree (at every split the left subtree is a full power of
two). ``reference_merkle_root`` and ``reference_merkle_proof`` follow the recursive definition
literally; tests hold the two equal.
"""

from __future__ import annotations

from collections.abc import Sequence

from jinqiao.core.crypto import CryptoSuite
from jinqiao.core.errors import InvalidInput
from jinqiao.core.proofs import (
    MAX_MERKLE_LEAVES,
    MERKLE_EMPTY_ROOT,
    MerkleProof,
    merkle_inner_hash,
    merkle_leaf_hash,
    merkle_split,
)

__all__ = [
    "MerkleTree",
    "merkle_proof",
    "merkle_root",
    "reference_merkle_proof",
    "reference_merkle_root",
]


def merkle_root(suite: CryptoSuite, leaves: Sequence[bytes]) -> bytes:
    """The root of the tree over ``leaves``."""
    _check_leaf_count(len(leaves))
    if not leaves:
        return MERKLE_EMPTY_ROOT
    level = [merkle_leaf_hash(suite, leaf) for leaf in leaves]
    while len(level) > 1:
        level = _next_level(suite, level)
    return level[0]


def merkle_proof(suite: CryptoSuite, leaves: Sequence[bytes], index: int) -> MerkleProof:
    """The proof that ``leaves[index]`` is the leaf at ``index`` of the tree over ``leaves``."""
    return MerkleTree(suite, leaves).proof(index)


class MerkleTree:
    """Every level of the tree over ``leaves``, kept so that many proofs of one block cost one
    build (a block is immutable once committed)."""

    def __init__(self, suite: CryptoSuite, leaves: Sequence[bytes]) -> None:
        _check_leaf_count(len(leaves))
        self.count = len(leaves)
        level = [merkle_leaf_hash(suite, leaf) for leaf in leaves]
        self.levels = [level]
        while len(level) > 1:
            level = _next_level(suite, level)
            self.levels.append(level)

    def proof(self, index: int) -> MerkleProof:
        if not 0 <= index < self.count:
            raise InvalidInput(f"leaf index {index} is outside 0..{self.count - 1}", index=index)
        position = index
        siblings: list[bytes] = []
        for level in self.levels[:-1]:
            sibling_position = position ^ 1
            # An unpaired last node has no sibling at this level: it is carried up unchanged.
            if sibling_position < len(level):
                siblings.append(level[sibling_position])
            position //= 2
        return MerkleProof(leaf_index=index, leaf_count=self.count, siblings=tuple(siblings))


def _next_level(suite: CryptoSuite, level: list[bytes]) -> list[bytes]:
    paired = [
        merkle_inner_hash(suite, level[position], level[position + 1])
        for position in range(0, len(level) - 1, 2)
    ]
    if len(level) % 2 == 1:
        paired.append(level[-1])
    return paired


def _check_leaf_count(count: int) -> None:
    if count > MAX_MERKLE_LEAVES:
        raise InvalidInput(f"{count} leaves is over the limit of {MAX_MERKLE_LEAVES}")


def reference_merkle_root(suite: CryptoSuite, leaves: Sequence[bytes]) -> bytes:
    """The root straight from the recursive definition; slow and obviously right."""
    if not leaves:
        return MERKLE_EMPTY_ROOT
    return _subtree_root(suite, leaves, 0, len(leaves))


def reference_merkle_proof(suite: CryptoSuite, leaves: Sequence[bytes], index: int) -> MerkleProof:
    """The proof straight from the recursive definition: descend from the root, taking the root
    of the subtree on the other side at each split."""
    count = len(leaves)
    if not 0 <= index < count:
        raise InvalidInput(f"leaf index {index} is outside 0..{count - 1}", index=index)
    siblings_from_root: list[bytes] = []
    start, end = 0, count
    while end - start > 1:
        split = start + merkle_split(end - start)
        if index < split:
            siblings_from_root.append(_subtree_root(suite, leaves, split, end))
            end = split
        else:
            siblings_from_root.append(_subtree_root(suite, leaves, start, split))
            start = split
    siblings_from_root.reverse()
    return MerkleProof(leaf_index=index, leaf_count=count, siblings=tuple(siblings_from_root))


def _subtree_root(suite: CryptoSuite, leaves: Sequence[bytes], start: int, end: int) -> bytes:
    count = end - start
    if count == 1:
        return merkle_leaf_hash(suite, leaves[start])
    split = start + merkle_split(count)
    return merkle_inner_hash(
        suite, _subtree_root(suite, leaves, start, split), _subtree_root(suite, leaves, split, end)
    )
