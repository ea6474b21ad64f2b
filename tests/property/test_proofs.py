"""Properties of the authenticated structures (DESIGN.md §5): the incremental state-tree update
equals the from-scratch reference, every generated proof verifies, and every tampered proof
fails with ``VerificationError``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jinqiao.core.codec import decode, encode
from jinqiao.core.crypto import CryptoSuite, Ed25519Sha256, get_suite
from jinqiao.core.limits import MAX_PROOF_BYTES
from jinqiao.core.proofs import STATE_KEY_TAG, MerkleProof, SparseMerkleLeaf, SparseMerkleProof
from jinqiao.ledger.merkle import merkle_proof, merkle_root
from jinqiao.ledger.smt import (
    EMPTY_ROOT,
    MemoryNodeReader,
    SparseMerkleTree,
    key_hash,
    reference_root,
    value_hash,
)
from jinqiao.verify import VerificationError, verify_merkle_proof, verify_state_proof
from tests.helpers.suites import SUITE_NAMES, use_suite

SUITE = get_suite("ed25519-sha256")


@pytest.fixture(autouse=True, scope="module", params=SUITE_NAMES)
def each_suite(request: pytest.FixtureRequest) -> Iterator[CryptoSuite]:
    """Every test of this module runs on each crypto suite."""
    yield from use_suite(request, globals())


PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

# A small key space, so batches keep hitting keys that exist: updates, deletes, re-inserts.
keys = st.binary(min_size=0, max_size=2)
values = st.binary(min_size=0, max_size=4)
changes = st.dictionaries(keys, st.none() | values, max_size=40)
batches = st.lists(changes, min_size=1, max_size=8)


def apply_batches(
    batch_list: list[dict[bytes, bytes | None]], suite: CryptoSuite | None = None
) -> tuple[SparseMerkleTree, bytes, dict[bytes, bytes]]:
    """Apply the batches incrementally, checking each root against the reference; returns the
    tree, its final root and the model (full key -> value). ``suite``: this module's ``SUITE``."""
    suite = suite or SUITE
    reader = MemoryNodeReader()
    tree = SparseMerkleTree(suite, reader)
    root = EMPTY_ROOT
    model: dict[bytes, bytes] = {}
    for batch in batch_list:
        root, new_nodes = tree.update(root, batch)
        reader.nodes.update(new_nodes)
        for full_key, value in batch.items():
            if value is None:
                model.pop(full_key, None)
            else:
                model[full_key] = value
        expected = reference_root(
            suite, {key_hash(suite, k): value_hash(suite, v) for k, v in model.items()}
        )
        assert root == expected
    return tree, root, model


def flip(data: bytes, position: int) -> bytes:
    position %= len(data)
    return data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1 :]


# ------------------------------------------------------------------------------- state tree


@PROPERTY_SETTINGS
@given(batches)
def test_incremental_update_equals_the_reference_root(
    batch_list: list[dict[bytes, bytes | None]],
) -> None:
    tree, root, model = apply_batches(batch_list)
    for full_key, value in model.items():
        assert tree.get(root, full_key) == value_hash(SUITE, value)


@PROPERTY_SETTINGS
@given(batches, st.lists(keys, min_size=1, max_size=10))
def test_every_state_proof_verifies_and_round_trips(
    batch_list: list[dict[bytes, bytes | None]], queried: list[bytes]
) -> None:
    tree, root, model = apply_batches(batch_list)
    for full_key in [*model, *queried]:
        proof = tree.prove(root, full_key)
        verify_state_proof(SUITE, root, full_key, model.get(full_key), proof)
        assert decode(encode(proof), SparseMerkleProof, max_bytes=MAX_PROOF_BYTES) == proof


def expect_failure(root: bytes, full_key: bytes, value: bytes | None, proof: Any) -> None:
    with pytest.raises(VerificationError):
        verify_state_proof(SUITE, root, full_key, value, proof)


@PROPERTY_SETTINGS
@given(batches, keys, st.integers(min_value=0), st.integers(min_value=0), values)
def test_every_tampered_state_proof_fails(
    batch_list: list[dict[bytes, bytes | None]],
    full_key: bytes,
    sibling_choice: int,
    byte_choice: int,
    other_value: bytes,
) -> None:
    tree, root, model = apply_batches(batch_list)
    value = model.get(full_key)
    proof = tree.prove(root, full_key)
    siblings = proof.siblings

    expect_failure(flip(root, byte_choice), full_key, value, proof)
    if siblings:
        index = sibling_choice % len(siblings)
        flipped = (*siblings[:index], flip(siblings[index], byte_choice), *siblings[index + 1 :])
        expect_failure(root, full_key, value, SparseMerkleProof(flipped, proof.leaf))
        expect_failure(root, full_key, value, SparseMerkleProof(siblings[:-1], proof.leaf))
        expect_failure(root, full_key, value, SparseMerkleProof(siblings[1:], proof.leaf))
    # Claim the other outcome: a value for an absent key, another value, or absence.
    if value is None:
        expect_failure(root, full_key, other_value, proof)
    else:
        expect_failure(root, full_key, None, proof)
        if other_value != value:
            expect_failure(root, full_key, other_value, proof)
    if proof.leaf is not None:
        leaf = proof.leaf
        wrong_value_hash = SparseMerkleLeaf(leaf.key_hash, flip(leaf.value_hash, byte_choice))
        expect_failure(root, full_key, value, SparseMerkleProof(siblings, wrong_value_hash))
        expect_failure(root, full_key, value, SparseMerkleProof(siblings, None))
    # The same proof presented for another key, with what that key really holds.
    for other_key in model:
        if other_key != full_key and tree.prove(root, other_key) != proof:
            expect_failure(root, other_key, model.get(other_key), proof)
            break


@PROPERTY_SETTINGS
@given(st.lists(st.binary(max_size=8), max_size=4))
def test_state_proof_for_a_key_with_a_real_leaf_of_another_key_fails(
    extra_keys: list[bytes],
) -> None:
    # The proof of one key's value never proves anything about another key.
    batch: dict[bytes, bytes | None] = {b"a": b"1", b"b": b"2", **dict.fromkeys(extra_keys, b"x")}
    tree, root, _ = apply_batches([batch])
    proof = tree.prove(root, b"a")
    expect_failure(root, b"b", b"1", proof)
    expect_failure(root, b"b", b"2", proof)


class PathSuite(Ed25519Sha256):
    """SHA-256, except that a 32-byte state key is its own key hash. Lets the tests choose
    paths, so trees with prefixes shared down to bit 255 (chains of one-sided inner nodes) and
    leaves at every depth get built."""

    name = "path-test"

    def hash(self, data: bytes) -> bytes:
        if data.startswith(STATE_KEY_TAG) and len(data) == len(STATE_KEY_TAG) + 32:
            return data[len(STATE_KEY_TAG) :]
        return super().hash(data)


PATH_SUITE = PathSuite()
chosen_paths = st.one_of(
    st.integers(0, 15),  # differ only in the last 4 bits: a 252-level shared prefix
    st.integers(0, 15).map(lambda high: high << 252),  # differ only in the first 4 bits
    st.integers(0, 2**256 - 1),
).map(lambda path: path.to_bytes(32, "big"))
path_batches = st.lists(
    st.dictionaries(chosen_paths, st.none() | values, max_size=12), min_size=1, max_size=6
)


@settings(PROPERTY_SETTINGS, max_examples=60)
@given(path_batches, st.lists(chosen_paths, max_size=4), st.integers(min_value=0))
def test_deep_trees_update_like_the_reference_and_prove(
    batch_list: list[dict[bytes, bytes | None]], queried: list[bytes], byte_choice: int
) -> None:
    tree, root, model = apply_batches(batch_list, PATH_SUITE)
    for full_key in [*model, *queried]:
        value = model.get(full_key)
        proof = tree.prove(root, full_key)
        verify_state_proof(PATH_SUITE, root, full_key, value, proof)
        if proof.siblings:
            tampered = (*proof.siblings[:-1], flip(proof.siblings[-1], byte_choice))
            with pytest.raises(VerificationError):
                verify_state_proof(
                    PATH_SUITE, root, full_key, value, SparseMerkleProof(tampered, proof.leaf)
                )


def test_oversize_state_proof_is_refused_before_folding() -> None:
    proof = SparseMerkleProof(siblings=(b"\x01" * 32,) * 257, leaf=None)
    with pytest.raises(VerificationError, match="over 256 siblings"):
        verify_state_proof(SUITE, EMPTY_ROOT, b"k", None, proof)


def test_state_proof_with_a_short_sibling_is_refused() -> None:
    proof = SparseMerkleProof(siblings=(b"\x01" * 31,), leaf=None)
    with pytest.raises(VerificationError, match="32 bytes"):
        verify_state_proof(SUITE, EMPTY_ROOT, b"k", None, proof)


# ------------------------------------------------------------------------------- Merkle tree

leaf_lists = st.lists(st.binary(max_size=6), min_size=1, max_size=40, unique=True)


@PROPERTY_SETTINGS
@given(leaf_lists)
def test_every_merkle_proof_verifies_and_round_trips(leaves: list[bytes]) -> None:
    root = merkle_root(SUITE, leaves)
    for index, leaf in enumerate(leaves):
        proof = merkle_proof(SUITE, leaves, index)
        verify_merkle_proof(SUITE, root, leaf, proof)
        assert decode(encode(proof), MerkleProof, max_bytes=MAX_PROOF_BYTES) == proof


def expect_merkle_failure(root: bytes, leaf: bytes, proof: MerkleProof) -> None:
    with pytest.raises(VerificationError):
        verify_merkle_proof(SUITE, root, leaf, proof)


@PROPERTY_SETTINGS
@given(leaf_lists, st.integers(min_value=0), st.integers(min_value=0), st.integers(min_value=0))
def test_every_tampered_merkle_proof_fails(
    leaves: list[bytes], index_choice: int, sibling_choice: int, byte_choice: int
) -> None:
    root = merkle_root(SUITE, leaves)
    count = len(leaves)
    index = index_choice % count
    leaf = leaves[index]
    proof = merkle_proof(SUITE, leaves, index)
    siblings = proof.siblings

    expect_merkle_failure(flip(root, byte_choice), leaf, proof)
    expect_merkle_failure(root, leaf + b"!", proof)
    if count > 1:
        other = (index + 1 + sibling_choice % (count - 1)) % count
        expect_merkle_failure(root, leaves[other], proof)
        expect_merkle_failure(root, leaf, MerkleProof(other, count, siblings))
        position = sibling_choice % len(siblings)
        flipped = (
            *siblings[:position],
            flip(siblings[position], byte_choice),
            *siblings[position + 1 :],
        )
        expect_merkle_failure(root, leaf, MerkleProof(index, count, flipped))
        expect_merkle_failure(root, leaf, MerkleProof(index, count, siblings[:-1]))
    expect_merkle_failure(root, leaf, MerkleProof(index, count, (*siblings, root)))
    expect_merkle_failure(root, leaf, MerkleProof(index, index, siblings))
    # A different leaf_count with the same path shape can verify (RFC 6962 roots do not commit
    # to the count); verify_transaction_inclusion binds it to header.transaction_count instead.


@pytest.mark.parametrize(
    ("index", "count", "message"),
    [(0, 0, "leaf_count"), (0, 2**40, "leaf_count"), (5, 5, "leaf_index"), (-1, 5, "leaf_index")],
)
def test_merkle_proof_bounds_are_checked(index: int, count: int, message: str) -> None:
    with pytest.raises(VerificationError, match=message):
        verify_merkle_proof(SUITE, b"\x00" * 32, b"leaf", MerkleProof(index, count, ()))


def test_merkle_proof_with_too_many_siblings_is_refused() -> None:
    proof = MerkleProof(0, 2, (b"\x00" * 32,) * 33)
    with pytest.raises(VerificationError, match="over 32 siblings"):
        verify_merkle_proof(SUITE, b"\x00" * 32, b"leaf", proof)
