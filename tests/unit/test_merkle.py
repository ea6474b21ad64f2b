"""The block Merkle tree (RFC 6962 §2.1 shape): known answers, the level-by-level fast path
against the recursive definition, and proofs for every leaf."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest

from jinqiao.core.codec import encode
from jinqiao.core.crypto import CryptoSuite, get_suite
from jinqiao.core.errors import InvalidInput
from jinqiao.core.proofs import MERKLE_EMPTY_ROOT, MerkleProof, merkle_path_directions
from jinqiao.core.types import SignedTransaction, TransactionBody
from jinqiao.ledger.merkle import (
    merkle_proof,
    merkle_root,
    reference_merkle_proof,
    reference_merkle_root,
)
from jinqiao.verify import VerificationError, verify_merkle_proof
from tests.helpers.suites import SUITE_NAMES, sha256_known_answer, use_suite

SUITE = get_suite("ed25519-sha256")


@pytest.fixture(autouse=True, scope="module", params=SUITE_NAMES)
def each_suite(request: pytest.FixtureRequest) -> Iterator[CryptoSuite]:
    """Every test of this module runs on each crypto suite."""
    yield from use_suite(request, globals())


# The test inputs and roots published with Certificate Transparency's Merkle tree tests
# (RFC 6962 hashing); our tree over n >= 1 leaves must give the same roots.
RFC6962_LEAVES = [
    bytes.fromhex(value)
    for value in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
RFC6962_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def leaves_of(count: int) -> list[bytes]:
    return [b"leaf-%d" % index for index in range(count)]


@pytest.mark.parametrize("count", range(1, 9))
@sha256_known_answer
def test_roots_match_the_rfc6962_test_vectors(count: int) -> None:
    assert merkle_root(SUITE, RFC6962_LEAVES[:count]).hex() == RFC6962_ROOTS[count - 1]


def test_empty_tree_root_is_32_zero_bytes() -> None:
    assert merkle_root(SUITE, []) == MERKLE_EMPTY_ROOT == b"\x00" * 32
    assert reference_merkle_root(SUITE, []) == MERKLE_EMPTY_ROOT


def test_one_leaf_root_is_its_leaf_hash() -> None:
    assert merkle_root(SUITE, [b"abc"]) == SUITE.hash(b"\x00abc")


def test_three_leaves_split_two_and_one() -> None:
    def leaf(data: bytes) -> bytes:
        return SUITE.hash(b"\x00" + data)

    def inner(left: bytes, right: bytes) -> bytes:
        return SUITE.hash(b"\x01" + left + right)

    expected = inner(inner(leaf(b"a"), leaf(b"b")), leaf(b"c"))
    assert merkle_root(SUITE, [b"a", b"b", b"c"]) == expected


@pytest.mark.parametrize("count", range(70))
def test_level_by_level_root_equals_the_recursive_definition(count: int) -> None:
    leaves = leaves_of(count)
    assert merkle_root(SUITE, leaves) == reference_merkle_root(SUITE, leaves)


@pytest.mark.parametrize("count", range(1, 34))
def test_every_proof_equals_the_reference_and_verifies(count: int) -> None:
    leaves = leaves_of(count)
    root = merkle_root(SUITE, leaves)
    for index in range(count):
        proof = merkle_proof(SUITE, leaves, index)
        assert proof == reference_merkle_proof(SUITE, leaves, index)
        assert len(proof.siblings) == len(merkle_path_directions(index, count))
        verify_merkle_proof(SUITE, root, leaves[index], proof)


def test_proof_for_a_power_of_two_tree_has_log2_siblings() -> None:
    proof = merkle_proof(SUITE, leaves_of(1024), 777)
    assert len(proof.siblings) == 10


def test_leaf_carried_up_has_a_short_proof() -> None:
    # In a tree of 5 leaves, leaf 4 is the whole right subtree: one sibling.
    proof = merkle_proof(SUITE, leaves_of(5), 4)
    assert len(proof.siblings) == 1


@pytest.mark.parametrize("index", [-1, 3, 100])
def test_proof_index_outside_the_leaves_is_refused(index: int) -> None:
    with pytest.raises(InvalidInput, match="outside"):
        merkle_proof(SUITE, leaves_of(3), index)


def test_a_leaf_cannot_pose_as_an_inner_node() -> None:
    # The 0x00 / 0x01 prefixes keep a leaf made of two child hashes from matching the parent.
    leaf_hashes = [hashlib.sha256(b"\x00" + leaf).digest() for leaf in (b"a", b"b")]
    forged_leaf = leaf_hashes[0] + leaf_hashes[1]
    assert merkle_root(SUITE, [forged_leaf]) != merkle_root(SUITE, [b"a", b"b"])


def test_block_transactions_root_over_signed_transaction_encodings() -> None:
    body = TransactionBody(
        chain_id="test",
        sender=b"\x01" * 20,
        public_key=b"\x02" * 32,
        nonce=1,
        valid_until=10,
        contract="token",
        method="transfer",
        args=b"",
    )
    transactions = [
        SignedTransaction(body=body, signature=bytes([index]) * 64) for index in range(3)
    ]
    leaves = [encode(transaction) for transaction in transactions]
    root = merkle_root(SUITE, leaves)
    proof = merkle_proof(SUITE, leaves, 2)
    verify_merkle_proof(SUITE, root, leaves[2], proof)
    with pytest.raises(VerificationError):
        verify_merkle_proof(SUITE, root, leaves[1], proof)


def test_wrong_index_in_a_proof_fails() -> None:
    leaves = leaves_of(6)
    root = merkle_root(SUITE, leaves)
    proof = merkle_proof(SUITE, leaves, 1)
    moved = MerkleProof(leaf_index=0, leaf_count=6, siblings=proof.siblings)
    with pytest.raises(VerificationError, match="does not lead to the root"):
        verify_merkle_proof(SUITE, root, leaves[1], moved)
