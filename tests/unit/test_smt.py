"""The state tree: its exact shape and hashes, batch updates, reads, proofs, and how it reacts
to a corrupt node store."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator

import pytest

from jinqiao.core.crypto import CryptoSuite, get_suite
from jinqiao.core.errors import NodeFault
from jinqiao.core.limits import MAX_STATE_KEY_BYTES
from jinqiao.core.proofs import SMT_NODE_TAG, SparseMerkleLeaf, smt_inner_node
from jinqiao.ledger.smt import (
    BUCKET_BYTES,
    EMPTY_ROOT,
    MemoryNodeReader,
    SparseMerkleTree,
    child_keys,
    key_hash,
    reference_root,
    root_key,
    value_hash,
)
from jinqiao.verify import verify_state_proof
from tests.helpers.suites import SUITE_NAMES, sha256_known_answer, use_suite

SUITE = get_suite("ed25519-sha256")


@pytest.fixture(autouse=True, scope="module", params=SUITE_NAMES)
def each_suite(request: pytest.FixtureRequest) -> Iterator[CryptoSuite]:
    """Every test of this module runs on each crypto suite."""
    yield from use_suite(request, globals())


ZERO = b"\x00" * 32
RIGHT_KEY = b"frank"  # its key hash starts with bit 1


def sha256(data: bytes) -> bytes:
    """The suite's hash, by hand: SHA-256 for ed25519-sha256 (checked against hashlib), SM3 for
    sm2-sm3."""
    if SUITE.name == "ed25519-sha256":
        return hashlib.sha256(data).digest()
    return SUITE.hash(data)


def leaf(full_key: bytes, value: bytes) -> bytes:
    """A leaf hash computed by hand from docs/proofs.md."""
    key = sha256(b"jinqiao/state-key/v1\x00" + full_key)
    value_digest = sha256(b"jinqiao/state-value/v1\x00" + value)
    return sha256(b"jinqiao/smt-node/v1\x00" + b"\x00" + key + value_digest)


def inner(left: bytes, right: bytes) -> bytes:
    return sha256(b"jinqiao/smt-node/v1\x00" + b"\x01" + left + right)


class Store:
    """A tree plus the dict its nodes live in, updated the way the node will do it."""

    def __init__(self) -> None:
        self.reader = MemoryNodeReader()
        self.tree = SparseMerkleTree(SUITE, self.reader)
        self.root = EMPTY_ROOT

    def apply(self, changes: dict[bytes, bytes | None]) -> dict[bytes, bytes]:
        self.root, new_nodes = self.tree.update(self.root, changes)
        self.reader.nodes.update(new_nodes)
        return new_nodes


def reachable_nodes(reader: MemoryNodeReader, root: bytes) -> set[bytes]:
    """The node keys ``root`` reaches (the root in its bucket, children by their parents'
    buckets)."""
    seen: set[bytes] = set()
    pending = [root_key(root)]
    while pending:
        key = pending.pop()
        if key[BUCKET_BYTES:] == ZERO or key in seen:
            continue
        seen.add(key)
        node = reader.nodes[key]
        if node[0] == 1:
            pending += child_keys(node)
    return seen


def expected_bucket(node: bytes, depth: int, path: bytes) -> bytes:
    """ADR 0057, from the definition: a leaf's bucket is its key hash's first 24 bits, an inner
    node's its position's first min(depth, 24) bits padded with zeros, the root's zero."""
    if depth == 0:
        return bytes(3)
    if node[0] == 0:
        return node[1:4]
    bits = "".join(f"{byte:08b}" for byte in path)[: min(depth, 24)]
    return int(bits.ljust(24, "0"), 2).to_bytes(3, "big")


def test_key_and_value_hashes_are_domain_tagged() -> None:
    assert key_hash(SUITE, b"k") == sha256(b"jinqiao/state-key/v1\x00k")
    assert value_hash(SUITE, b"v") == sha256(b"jinqiao/state-value/v1\x00v")
    assert key_hash(SUITE, b"x") != value_hash(SUITE, b"x")


def test_empty_tree_has_the_zero_root_and_proves_absence() -> None:
    store = Store()
    assert store.root == ZERO
    assert store.tree.get(ZERO, b"anything") is None
    proof = store.tree.prove(ZERO, b"anything")
    assert proof.siblings == () and proof.leaf is None
    verify_state_proof(SUITE, ZERO, b"anything", None, proof)


def test_one_key_tree_root_is_its_leaf() -> None:
    store = Store()
    new_nodes = store.apply({b"alice": b"100"})
    assert store.root == leaf(b"alice", b"100")
    assert list(new_nodes) == [root_key(store.root)]
    assert store.tree.get(store.root, b"alice") == value_hash(SUITE, b"100")
    if SUITE.name == "ed25519-sha256":
        assert store.root.hex() == (
            "5589b90704c241cc31337f8db6f487db5adc3e39ea72eb78698594daa0defe49"
        )


@sha256_known_answer
def test_three_key_tree_matches_the_hand_computed_shape() -> None:
    # key hashes start alice 0011..., bob 0100 0000..., carol 0100 0010...: alice splits off at
    # bit 1, bob and carol share bits 0-5 and split at bit 6 (the example in docs/proofs.md).
    store = Store()
    store.apply({b"alice": b"100", b"bob": b"7", b"carol": b""})
    bob_and_carol = inner(leaf(b"bob", b"7"), leaf(b"carol", b""))
    for _ in range(4):  # depths 5, 4, 3, 2: both keys go left
        bob_and_carol = inner(bob_and_carol, ZERO)
    expected = inner(inner(leaf(b"alice", b"100"), bob_and_carol), ZERO)
    assert store.root == expected
    assert store.root.hex() == "078ad72e5ae75e1292059217566b5bf8b363fe3f6c47b2e6d39ed6d96b38269a"
    bob_proof = store.tree.prove(store.root, b"bob")
    assert len(bob_proof.siblings) == 7
    assert bob_proof.siblings[0] == ZERO and bob_proof.siblings[1] == leaf(b"alice", b"100")
    assert bob_proof.siblings[6] == leaf(b"carol", b"")


def test_deleting_a_neighbour_lifts_the_remaining_leaf_to_the_top() -> None:
    store = Store()
    store.apply({b"alice": b"100", b"bob": b"7", b"carol": b""})
    store.apply({b"alice": None, b"carol": None})
    assert store.root == leaf(b"bob", b"7")
    store.apply({b"bob": None})
    assert store.root == ZERO


def test_deleting_every_key_gives_the_empty_root_and_writes_nothing() -> None:
    store = Store()
    keys = [b"key-%d" % index for index in range(50)]
    store.apply(dict.fromkeys(keys, b"v"))
    new_nodes = store.apply(dict.fromkeys(keys))
    assert store.root == ZERO
    assert new_nodes == {}


def test_no_op_changes_keep_the_root() -> None:
    store = Store()
    store.apply({b"a": b"1", b"b": b"2", b"c": b"3"})
    root = store.root
    assert store.tree.update(root, {}) == (root, {})
    assert store.tree.update(root, {b"absent": None})[0] == root
    assert store.tree.update(root, {b"b": b"2"})[0] == root
    assert store.tree.update(ZERO, {b"absent": None}) == (ZERO, {})


def test_update_returns_every_node_the_new_root_needs() -> None:
    store = Store()
    rng = random.Random(7)
    for _ in range(20):
        changes: dict[bytes, bytes | None] = {}
        for _ in range(rng.randrange(1, 60)):
            changes[b"k%d" % rng.randrange(300)] = (
                None if rng.random() < 0.25 else b"v%d" % rng.randrange(5)
            )
        store.apply(changes)
        # A reader holding only what previous updates returned can serve the whole new tree.
        assert reachable_nodes(store.reader, store.root) <= set(store.reader.nodes)


def test_stale_nodes_are_exactly_those_the_new_root_no_longer_reaches() -> None:
    # ADR 0053: the pruner deletes what the journal names, so a node named stale that the new
    # root still reaches would lose state, and one missed would leak disk.
    store = Store()
    rng = random.Random(5)
    for _ in range(40):
        changes: dict[bytes, bytes | None] = {}
        for _ in range(rng.randrange(1, 40)):
            # Few values and keys: values come back (a leaf revived), leaves get pushed down
            # and lifted up again.
            changes[b"k%d" % rng.randrange(120)] = (
                None if rng.random() < 0.3 else b"v%d" % rng.randrange(3)
            )
        before = reachable_nodes(store.reader, store.root)
        new_root, new_nodes, stale = store.tree.update_with_stale(store.root, changes)
        store.reader.nodes.update(new_nodes)
        after = reachable_nodes(store.reader, new_root)
        assert len(stale) == len(set(stale))
        assert set(stale) == before - after
        assert (new_root, new_nodes) == store.tree.update(store.root, changes)
        store.root = new_root


def nodes_in_wrong_buckets(reader: MemoryNodeReader, root: bytes) -> list[str]:
    """Every node ``root`` reaches whose key's bucket is not the one its place gives."""
    wrong: list[str] = []
    pending = [(root_key(root), 0, "")]
    while pending:
        key, depth, position = pending.pop()
        if key[BUCKET_BYTES:] == ZERO:
            continue
        node = reader.nodes[key]
        path = int(position.ljust(256, "0"), 2).to_bytes(32, "big")
        if key[:BUCKET_BYTES] != expected_bucket(node, depth, path):
            wrong.append(f"{key.hex()} at depth {depth}")
        if node[0] == 1:
            left, right = child_keys(node)
            pending += [(left, depth + 1, position + "0"), (right, depth + 1, position + "1")]
    return wrong


def test_every_node_is_stored_in_the_bucket_its_place_gives() -> None:
    # ADR 0057: leaves pushed down and lifted up (to the root too), inner nodes created and
    # dropped, the tree emptied and refilled; each node key is where the definition puts it, and
    # one key always holds the same bytes (the store stays content-addressed).
    store = Store()
    rng = random.Random(3)
    for round_number in range(60):
        changes: dict[bytes, bytes | None] = {}
        size = 1 if round_number % 7 == 0 else rng.randrange(1, 30)
        for _ in range(size):
            changes[b"k%d" % rng.randrange(40)] = (
                None if rng.random() < 0.45 else b"v%d" % rng.randrange(3)
            )
        new_root, new_nodes = store.tree.update(store.root, changes)
        for key, node in new_nodes.items():
            assert store.reader.nodes.get(key, node) == node
        store.reader.nodes.update(new_nodes)
        store.root = new_root
        assert nodes_in_wrong_buckets(store.reader, store.root) == []


def test_a_leaf_lifted_to_the_root_moves_to_the_root_bucket() -> None:
    store = Store()
    store.apply({b"alice": b"1", b"bob": b"2"})
    bob_leaf = leaf(b"bob", b"2")
    own = key_hash(SUITE, b"bob")[:BUCKET_BYTES] + bob_leaf
    assert own in store.reader.nodes
    old_root = store.root
    new_root, new_nodes, stale = store.tree.update_with_stale(store.root, {b"alice": None})
    assert new_root == bob_leaf
    assert list(new_nodes) == [root_key(bob_leaf)]
    assert own in stale and root_key(old_root) in stale
    store.reader.nodes.update(new_nodes)
    assert store.tree.get(new_root, b"bob") == value_hash(SUITE, b"2")


def test_a_block_s_nodes_under_one_key_share_a_few_buckets() -> None:
    # The point of the layout: below the levels a block's changes share, the nodes written for
    # one changed key sit in one bucket range, not each in a random place of the store.
    store = Store()
    store.apply({b"account-%d" % index: b"1" for index in range(20_000)})
    new_nodes = store.apply({b"account-77": b"2"})
    first_byte = key_hash(SUITE, b"account-77")[:1]
    assert len(new_nodes) >= 14
    # Depths 0-7 (the root and the padded buckets of the top levels) may sit anywhere; every
    # node below them is in the range of the key's first byte.
    assert sum(key[:1] == first_byte for key in new_nodes) >= len(new_nodes) - 8


def test_batch_equals_one_key_at_a_time_and_the_reference() -> None:
    rng = random.Random(11)
    changes: dict[bytes, bytes | None] = {
        b"key-%d" % rng.randrange(2_000): b"value-%d" % rng.randrange(100) for _ in range(800)
    }
    batch, single = Store(), Store()
    batch.apply(changes)
    for full_key, value in changes.items():
        single.apply({full_key: value})
    model = {key_hash(SUITE, k): value_hash(SUITE, v) for k, v in changes.items() if v is not None}
    assert batch.root == single.root == reference_root(SUITE, model)


def test_get_returns_value_hashes_and_none_for_absent_keys() -> None:
    store = Store()
    store.apply({b"k%d" % index: b"v%d" % index for index in range(200)})
    for index in range(200):
        assert store.tree.get(store.root, b"k%d" % index) == value_hash(SUITE, b"v%d" % index)
    assert store.tree.get(store.root, b"k200") is None


def test_proofs_for_present_and_absent_keys_verify() -> None:
    store = Store()
    store.apply({b"k%d" % index: b"v%d" % index for index in range(300)})
    for index in range(400):
        full_key = b"k%d" % index
        proof = store.tree.prove(store.root, full_key)
        value = b"v%d" % index if index < 300 else None
        verify_state_proof(SUITE, store.root, full_key, value, proof)
        if value is None and proof.leaf is not None:
            assert proof.leaf.key_hash != key_hash(SUITE, full_key)


def test_a_read_gives_the_value_and_its_proof_from_the_leaf() -> None:
    # ADR 0060: a stored leaf carries its value after its hashed bytes, so one walk gives both.
    store = Store()
    store.apply({b"k%d" % index: b"value %d" % index for index in range(150)})
    for index in range(200):
        full_key = b"k%d" % index
        value, proof = store.tree.read(store.root, full_key)
        assert value == (b"value %d" % index if index < 150 else None)
        assert proof == store.tree.prove(store.root, full_key)
        verify_state_proof(SUITE, store.root, full_key, value, proof)
    leaves = [node for node in store.reader.nodes.values() if node[0] == 0]
    assert sorted(node[65:] for node in leaves) == sorted(b"value %d" % i for i in range(150))


def test_a_leaf_whose_value_does_not_match_its_hash_is_a_node_fault() -> None:
    store = Store()
    store.apply({b"only": b"the value"})
    node = store.reader.nodes[root_key(store.root)]
    assert node[65:] == b"the value"
    store.reader.nodes[root_key(store.root)] = node[:65] + b"another value"
    with pytest.raises(NodeFault, match="value does not match its value hash"):
        store.tree.read(store.root, b"only")


def test_old_roots_stay_readable() -> None:
    store = Store()
    store.apply({b"a": b"1"})
    first = store.root
    store.apply({b"a": b"2", b"b": b"3"})
    assert store.tree.get(first, b"a") == value_hash(SUITE, b"1")
    assert store.tree.get(first, b"b") is None
    assert store.tree.get(store.root, b"a") == value_hash(SUITE, b"2")


def test_unchecked_reads_give_the_same_roots() -> None:
    checked, unchecked = Store(), Store()
    unchecked.tree = SparseMerkleTree(SUITE, unchecked.reader, check_node_hashes=False)
    for round_number in range(5):
        changes: dict[bytes, bytes | None] = {
            b"k%d" % index: b"r%d" % round_number for index in range(round_number, 200, 3)
        }
        checked.apply(changes)
        unchecked.apply(changes)
        assert checked.root == unchecked.root


# ---------------------------------------------------------------------------- a corrupt store


def corrupt_store() -> tuple[Store, bytes]:
    store = Store()
    store.apply({b"k%d" % index: b"v" for index in range(20)})
    node = store.reader.nodes[root_key(store.root)]
    return store, node


def test_missing_node_is_a_node_fault_naming_it() -> None:
    store, _ = corrupt_store()
    del store.reader.nodes[root_key(store.root)]
    with pytest.raises(NodeFault, match="missing") as caught:
        store.tree.get(store.root, b"k1")
    assert caught.value.details["node_hash"] == store.root.hex()


@pytest.mark.parametrize(
    "damage",
    [
        lambda node: node[:-1],
        lambda node: node + b"\x00",
        lambda node: b"",
        lambda node: b"\x02" + node[1:],
    ],
)
def test_malformed_node_is_a_node_fault(damage: object) -> None:
    store, node = corrupt_store()
    store.reader.nodes[root_key(store.root)] = damage(node)  # type: ignore[operator]
    with pytest.raises(NodeFault, match="malformed"):
        store.tree.update(store.root, {b"k1": b"new"})


def test_node_that_does_not_match_its_hash_is_a_node_fault() -> None:
    store, node = corrupt_store()
    store.reader.nodes[root_key(store.root)] = node[:40] + bytes([node[40] ^ 1]) + node[41:]
    with pytest.raises(NodeFault, match="does not match its hash"):
        store.tree.prove(store.root, b"k1")


def test_inner_node_with_two_empty_children_is_a_node_fault() -> None:
    store = Store()
    bad = smt_inner_node(ZERO, ZERO)
    bad_hash = sha256(SMT_NODE_TAG + bad)
    store.reader.nodes[root_key(bad_hash)] = bad + bytes(6)
    with pytest.raises(NodeFault, match="two empty children"):
        store.tree.get(bad_hash, b"k")


@sha256_known_answer
def test_leaf_off_its_path_is_a_node_fault() -> None:
    # An inner node whose right child is alice's leaf, though alice's key hash starts with bit 0;
    # an update to a key starting with bit 1 reaches it.
    store = Store()
    store.apply({b"alice": b"1"})
    assert key_hash(SUITE, b"alice")[0] >> 7 == 0
    assert key_hash(SUITE, RIGHT_KEY)[0] >> 7 == 1
    misplaced = smt_inner_node(ZERO, store.root)
    misplaced_hash = sha256(SMT_NODE_TAG + misplaced)
    alice_bucket = key_hash(SUITE, b"alice")[:3]
    store.reader.nodes[root_key(misplaced_hash)] = misplaced + bytes(3) + alice_bucket
    store.reader.nodes[alice_bucket + store.root] = store.reader.nodes[root_key(store.root)]
    with pytest.raises(NodeFault, match="off its key's path"):
        store.tree.update(misplaced_hash, {RIGHT_KEY: b"2"})


def test_oversize_key_is_refused() -> None:
    store = Store()
    with pytest.raises(NodeFault, match="size limit"):
        store.tree.update(ZERO, {b"x" * (MAX_STATE_KEY_BYTES + 1): b"v"})


def test_root_must_be_32_bytes() -> None:
    store = Store()
    with pytest.raises(NodeFault):
        store.tree.get(b"\x00" * 31, b"k")


def test_proof_leaf_struct_round_trips() -> None:
    store = Store()
    store.apply({b"a": b"1", b"b": b"2"})
    proof = store.tree.prove(store.root, b"a")
    assert proof.leaf == SparseMerkleLeaf(key_hash(SUITE, b"a"), value_hash(SUITE, b"1"))
