"""The snapshot's parts (``node.snapshots``, ADR 0054) against the state tree's definition: for
any state and any split depth, the parts built from each prefix's entries fold to the root
``reference_root`` computes from scratch, and the split depth is the smallest that fits."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jinqiao.core.crypto import DEFAULT_SUITE, get_suite
from jinqiao.core.errors import NodeFault
from jinqiao.ledger.smt import (
    EMPTY_ROOT,
    MemoryNodeReader,
    SparseMerkleTree,
    key_hash,
    reference_root,
    root_key,
    value_hash,
)
from jinqiao.node.snapshots import (
    MAX_SNAPSHOT_CHUNK_BYTES,
    MAX_SPLIT_DEPTH,
    build_part,
    fold_parts,
    part_prefix,
    split_depth_for,
)

SUITE = get_suite(DEFAULT_SUITE)

states = st.dictionaries(
    st.binary(min_size=1, max_size=12), st.binary(max_size=8), min_size=0, max_size=40
)


@settings(max_examples=60, deadline=None)
@given(state=states, depth=st.integers(min_value=0, max_value=6))
def test_parts_fold_to_the_reference_root(state: dict[bytes, bytes], depth: int) -> None:
    by_prefix: dict[int, dict[bytes, bytes]] = {}
    for key, value in state.items():
        by_prefix.setdefault(part_prefix(SUITE, key, depth), {})[key] = value
    parts = []
    installed: dict[bytes, bytes] = {}
    for prefix, entries in sorted(by_prefix.items()):
        subtree_hash, leaf, bucket, nodes = build_part(SUITE, depth, prefix, entries)
        assert leaf == (len(entries) == 1)
        assert bucket + subtree_hash in nodes
        parts.append((prefix, subtree_hash, leaf, bucket))
        installed.update(nodes)
    root, top_nodes = fold_parts(SUITE, depth, parts)
    leaves = {key_hash(SUITE, key): value_hash(SUITE, value) for key, value in state.items()}
    assert root == (reference_root(SUITE, leaves) if leaves else EMPTY_ROOT)
    # What a joining node installs is exactly what the tree itself stores for the state, node
    # key for node key (ADR 0057): the buckets of the parts and of the nodes above them agree.
    installed.update(top_nodes)
    if len(parts) == 1 and parts[0][2]:  # one entry: a leaf root, kept in the root's bucket
        installed = {root_key(root): next(iter(installed.values()))}
    built_root, built = SparseMerkleTree(SUITE, MemoryNodeReader()).update(EMPTY_ROOT, state)
    assert built_root == root and installed == built


def test_the_split_depth_is_the_smallest_that_fits() -> None:
    shift = MAX_SPLIT_DEPTH
    assert split_depth_for({}) == 0
    assert split_depth_for({0: 10, 1 << (shift - 1): 10}, 15) == 1
    assert split_depth_for({0: 10, 1 << (shift - 1): 10}, 20) == 0
    assert split_depth_for({0: 10, 1: 10}, 15) == MAX_SPLIT_DEPTH
    with pytest.raises(NodeFault, match="too large"):
        split_depth_for({0: MAX_SNAPSHOT_CHUNK_BYTES + 1})
