"""Proofs a client can check against a block header, and the hash rules they fold
(DESIGN.md §3 "Authenticated state"; byte-level description in docs/proofs.md).

Two authenticated structures, each with its own proof:

* a binary Merkle tree (RFC 6962 shape) over a block's transactions and over its receipts —
  ``MerkleProof`` shows that one leaf sits at one index among ``leaf_count`` leaves;
* a compressed sparse Merkle tree over the contract state — ``SparseMerkleProof`` shows that a
  key holds a value, or that it holds none.

The hash rules live here, in ``core``, because both the tree code (``jinqiao.ledger``) and the
standalone verifier (``jinqiao.verify``, which may import only ``core``) need exactly the same
bytes. The bundles at the end (``StateReadProof``, ``TransactionProof``, ``ReceiptProof``,
``StateReadsProof``) carry everything a verifier needs besides the trusted validator set.
"""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

from jinqiao.core.codec import CanonicalStruct
from jinqiao.core.crypto import CryptoSuite
from jinqiao.core.limits import MAX_QUERY_READS, MAX_REPORT_READS
from jinqiao.core.types import BlockHeader, CommitCertificate

# ------------------------------------------------------------------------------------------------
# Binary Merkle tree (RFC 6962 §2.1 hashing; the empty tree is 32 zero bytes instead of H("")).

MERKLE_LEAF_PREFIX = b"\x00"
MERKLE_INNER_PREFIX = b"\x01"
MERKLE_EMPTY_ROOT = b"\x00" * 32
# A proof for one leaf among at most 2**MAX_MERKLE_PROOF_SIBLINGS leaves never needs more siblings.
MAX_MERKLE_PROOF_SIBLINGS = 32
MAX_MERKLE_LEAVES = 2**MAX_MERKLE_PROOF_SIBLINGS


def merkle_leaf_hash(suite: CryptoSuite, leaf: bytes) -> bytes:
    return suite.hash(MERKLE_LEAF_PREFIX + leaf)


def merkle_inner_hash(suite: CryptoSuite, left: bytes, right: bytes) -> bytes:
    return suite.hash(MERKLE_INNER_PREFIX + left + right)


def merkle_split(leaf_count: int) -> int:
    """Leaves in the left subtree of a tree of ``leaf_count >= 2`` leaves: the largest power of
    two strictly less than ``leaf_count`` (RFC 6962 §2.1)."""
    return 1 << ((leaf_count - 1).bit_length() - 1)


def merkle_path_directions(leaf_index: int, leaf_count: int) -> list[bool]:
    """For the leaf at ``leaf_index``, whether it lies in the right subtree at each level,
    listed from the leaf up to the root. Its length is the number of siblings a proof carries.
    The caller checks ``0 <= leaf_index < leaf_count``."""
    directions_from_root: list[bool] = []
    while leaf_count > 1:
        split = merkle_split(leaf_count)
        if leaf_index < split:
            directions_from_root.append(False)
            leaf_count = split
        else:
            directions_from_root.append(True)
            leaf_index -= split
            leaf_count -= split
    directions_from_root.reverse()
    return directions_from_root


class MerkleProof(CanonicalStruct, frozen=True):
    """The leaf at ``leaf_index`` (0-based) of a tree of ``leaf_count`` leaves is under the root.

    ``siblings`` are the hashes of the subtrees next to the path, from the leaf up to the root.
    """

    leaf_index: int
    leaf_count: int
    siblings: tuple[bytes, ...]


# ------------------------------------------------------------------------------------------------
# Sparse Merkle tree (compressed: an empty subtree is 32 zero bytes, a subtree with one leaf is
# that leaf's hash, so a leaf sits at the shortest depth that separates it from its neighbours).

STATE_KEY_TAG = b"jinqiao/state-key/v1\x00"
STATE_VALUE_TAG = b"jinqiao/state-value/v1\x00"
SMT_NODE_TAG = b"jinqiao/smt-node/v1\x00"
SMT_LEAF_KIND = 0
SMT_INNER_KIND = 1
SMT_EMPTY_ROOT = b"\x00" * 32
SMT_KEY_BITS = 256
# One sibling per level at most: a leaf can sit no deeper than the key length in bits.
MAX_SMT_PROOF_SIBLINGS = SMT_KEY_BITS


def key_hash(suite: CryptoSuite, full_key: bytes) -> bytes:
    """The 256-bit path of ``full_key`` in the state tree."""
    return suite.hash(STATE_KEY_TAG + full_key)


def value_hash(suite: CryptoSuite, value: bytes) -> bytes:
    """What the state tree stores for ``value`` (the value itself rides in its leaf's record in
    the store, ADR 0060)."""
    return suite.hash(STATE_VALUE_TAG + value)


def smt_leaf_node(key_hash: bytes, value_hash: bytes) -> bytes:
    """The stored bytes of a leaf node: kind byte 0x00, key hash, value hash (65 bytes)."""
    return b"\x00" + key_hash + value_hash


def smt_inner_node(left: bytes, right: bytes) -> bytes:
    """The stored bytes of an inner node: kind byte 0x01, left hash, right hash (65 bytes)."""
    return b"\x01" + left + right


def smt_node_hash(suite: CryptoSuite, node: bytes) -> bytes:
    """The hash of a stored node, leaf or inner: H(SMT_NODE_TAG || node bytes)."""
    return suite.hash(SMT_NODE_TAG + node)


def smt_key_bit(key_hash: bytes, depth: int) -> int:
    """Bit ``depth`` of the path: 0 means left, 1 means right; bit 0 is the most significant bit
    of the first byte."""
    return (key_hash[depth >> 3] >> (7 - (depth & 7))) & 1


class SparseMerkleLeaf(CanonicalStruct, frozen=True):
    key_hash: bytes
    value_hash: bytes


class SparseMerkleProof(CanonicalStruct, frozen=True):
    """The path from the root towards a key's position, until it reaches a leaf or an empty
    subtree.

    ``siblings[i]`` is the hash of the subtree at depth ``i + 1`` beside the path (the child of
    the depth-``i`` node on the side the key's bit ``i`` does not take), listed from the root
    down. ``leaf`` is the leaf where the path ends, or ``None`` when it ends in an empty subtree.

    * inclusion: ``leaf.key_hash`` is the key's hash and ``leaf.value_hash`` its value's hash;
    * non-inclusion: ``leaf`` is ``None``, or a leaf for another key that shares the first
      ``len(siblings)`` bits of the path (it occupies the only place the key could be).
    """

    siblings: tuple[bytes, ...]
    leaf: SparseMerkleLeaf | None


# ------------------------------------------------------------------------------------------------
# Bundles: a proof plus the header and certificate that anchor it.


class StateReadProof(CanonicalStruct, frozen=True):
    """``key`` holds ``value`` (``None``: holds nothing) in the state after block ``header``."""

    header: BlockHeader
    certificate: CommitCertificate
    key: bytes
    value: bytes | None
    proof: SparseMerkleProof


class TransactionProof(CanonicalStruct, frozen=True):
    """``transaction`` (the canonical bytes of a ``SignedTransaction``) is in block ``header``."""

    header: BlockHeader
    certificate: CommitCertificate
    transaction: bytes
    proof: MerkleProof


class ReceiptProof(CanonicalStruct, frozen=True):
    """``receipt`` (the canonical bytes of a ``Receipt``) is in block ``header``; its index is
    the index of its transaction."""

    header: BlockHeader
    certificate: CommitCertificate
    receipt: bytes
    proof: MerkleProof


class StateRead(CanonicalStruct, frozen=True):
    """One key read at a header's state: ``value`` (``None``: nothing) and its proof."""

    key: bytes
    value: bytes | None
    proof: SparseMerkleProof


class StateReadsProof(CanonicalStruct, frozen=True):
    """Every key a read-only query read, with its value and proof, all against one header:
    enough to run the query again from proven state (docs/proofs.md §9.5)."""

    header: BlockHeader
    certificate: CommitCertificate
    reads: Annotated[tuple[StateRead, ...], Meta(max_length=MAX_QUERY_READS)]


class ReportReadsProof(CanonicalStruct, frozen=True):
    """A report's reads (docs/proofs.md §12): encoded exactly as a ``StateReadsProof``, with up
    to ``MAX_REPORT_READS`` reads instead of ``MAX_QUERY_READS`` (a statement reads one key per
    entry, so a busy cycle's statement reads thousands)."""

    header: BlockHeader
    certificate: CommitCertificate
    reads: Annotated[tuple[StateRead, ...], Meta(max_length=MAX_REPORT_READS)]

    def as_reads_proof(self) -> StateReadsProof:
        return StateReadsProof(self.header, self.certificate, self.reads)
