"""Pruning of old state versions (ADR 0053, ``node.pruning``): a pruning store and an archive
store fed the same blocks prove the same reads at every retained height; a pruned height is
refused with ``height_pruned``; and what is left is exactly what the retained roots reach —
nothing needed lost, nothing unneeded kept."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest

from jinqiao.apps import default_contracts
from jinqiao.apps.token import balance_key
from jinqiao.bench.execute import ASSET, VALID_FOR_BLOCKS, bench_genesis, signed_transfers
from jinqiao.core.crypto import Signer, get_suite
from jinqiao.core.errors import InvalidInput
from jinqiao.core.hashing import transaction_hash
from jinqiao.core.proofs import SMT_INNER_KIND
from jinqiao.core.types import CommitCertificate
from jinqiao.execution.identity import GOVERNANCE, VALIDATORS_KEY
from jinqiao.execution.runtime import Runtime
from jinqiao.execution.state import full_key
from jinqiao.ledger.smt import BUCKET_BYTES, SparseMerkleTree, child_keys, root_key, value_hash
from jinqiao.node.chain import Chain
from jinqiao.node.config import NodeConfig, load_config
from jinqiao.node.pruning import (
    DEFAULT_RETENTION_HEIGHTS,
    JOURNAL_CHUNK_ENTRIES,
    HeightPruned,
    RetentionNeedsJournal,
    prune_step,
)
from jinqiao.node.reads import Reader
from jinqiao.node.service import Node
from jinqiao.node.storage import BlockWrite, MemoryTables, Store, encode_height
from jinqiao.verify import verify_state_proof
from tests.helpers.process import make_network
from tests.unit.test_storage import block_write, committed_block

SUITE = get_suite("ed25519-sha256")
BLOCKS = 40
PER_BLOCK = 15
RETENTION = 6
VALIDATORS = full_key(GOVERNANCE, VALIDATORS_KEY)


def make_chain(store: Store) -> tuple[Chain, list[Signer], Signer]:
    rng = random.Random(5)
    holders = [SUITE.signer(rng.randbytes(32)) for _ in range(12)]
    validator = SUITE.signer(rng.randbytes(32))
    genesis = bench_genesis(holders, validator)
    runtime = Runtime(genesis.suite, genesis.chain_id, default_contracts())
    return Chain(store, genesis, runtime), holders, validator


def commit_blocks(
    chains: list[Chain],
    holders: list[Signer],
    proposer: bytes,
    after_block: Callable[[int], None] = lambda height: None,
    *,
    blocks: int = BLOCKS,
    per_block: int = PER_BLOCK,
) -> None:
    """The same ``blocks`` blocks of transfers on every chain, the pruner running on the first
    after each block as the node's would."""
    transfers = signed_transfers(holders, blocks * per_block, random.Random(9), per_block)
    for start in range(0, len(transfers), per_block):
        block = transfers[start : start + per_block]
        for chain in chains:
            candidate = chain.execute(block, 1_000 * (start + 1), proposer)
            certificate = CommitCertificate(
                candidate.block.header.height, 0, candidate.block_hash, ()
            )
            chain.commit(candidate, certificate)
        after_block(chains[0].head.height)
        while chains[0].store.prune(SUITE, RETENTION, VALIDATORS).more:
            pass


def table_keys(store: Store, table: bytes) -> set[bytes]:
    keys: set[bytes] = set()
    start = b""
    with store.tables.read() as view:
        while batch := view.keys_from(table, start, 1_000):
            keys.update(batch)
            start = batch[-1] + b"\x00"
    return keys


def reachable(store: Store, roots: list[bytes]) -> tuple[set[bytes], set[bytes]]:
    """The node keys ``roots`` reach, and the value hashes of their leaves (each leaf is
    checked to carry the value its hash names, ADR 0060)."""
    nodes: set[bytes] = set()
    values: set[bytes] = set()
    pending = [root_key(root) for root in roots]
    with store.snapshot() as snapshot:
        while pending:
            key = pending.pop()
            if key[BUCKET_BYTES:] == bytes(32) or key in nodes:
                continue
            nodes.add(key)
            node = snapshot.get_node(key)
            assert node is not None, f"node {key.hex()} of a retained root is gone"
            if node[0] == SMT_INNER_KIND:
                pending += child_keys(node)
            else:
                values.add(node[33:65])
                assert value_hash(SUITE, node[65:]) == node[33:65]
    return nodes, values


@pytest.fixture(params=["lmdb", "memory"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Store, Store]:
    if request.param == "lmdb":
        return Store(tmp_path / "pruned", journal=True), Store(tmp_path / "archive")
    return Store(tables=MemoryTables(), journal=True), Store(tables=MemoryTables())


def test_retained_heights_prove_what_an_archive_proves(stores: tuple[Store, Store]) -> None:
    pruned, archive = stores
    (chain, holders, validator), (archive_chain, _, _) = make_chain(pruned), make_chain(archive)
    commit_blocks([chain, archive_chain], holders, validator.address)
    keys = [full_key("token", balance_key(ASSET, h.address)) for h in holders] + [VALIDATORS]
    floor = BLOCKS - RETENTION + 1
    with pruned.snapshot() as snapshot:
        assert snapshot.prune_floor() == floor
    reader, archive_reader = Reader(pruned, SUITE), Reader(archive, SUITE)
    for height in range(floor, BLOCKS + 1):
        proofs = reader.state_many(keys, height)
        assert proofs == archive_reader.state_many(keys, height)
        for proof in proofs:
            verify_state_proof(SUITE, proof.header.state_root, proof.key, proof.value, proof.proof)
    with pytest.raises(HeightPruned) as refused:
        reader.state(keys[0], floor - 1)
    assert refused.value.code == "height_pruned"
    assert refused.value.details["oldest_height"] == floor
    archive_reader.state(keys[0], 1)  # the archive keeps every height


def test_what_is_left_is_exactly_what_the_retained_roots_reach(
    stores: tuple[Store, Store],
) -> None:
    pruned, _ = stores
    chain, holders, validator = make_chain(pruned)
    commit_blocks([chain], holders, validator.address)
    with pruned.snapshot() as snapshot:
        roots = [snapshot.block(h).block.header.state_root for h in range(1, BLOCKS + 1)]  # type: ignore[union-attr]
    nodes, _ = reachable(pruned, roots[BLOCKS - RETENTION :])
    assert table_keys(pruned, b"state_nodes") == nodes
    with pruned.snapshot() as snapshot:
        assert snapshot.prune_floor() == BLOCKS - RETENTION + 1


def test_the_journal_is_kept_in_chunks_and_pruned_chunk_by_chunk(tmp_path: Path) -> None:
    # ADR 0059: a block's stale node keys are stored JOURNAL_CHUNK_ENTRIES to a value; a prune
    # batch handles whole chunks up to its limit, says whether more are due, and ends where a
    # batch of unbounded size would.
    store = Store(tmp_path / "pruned", journal=True)
    rng = random.Random(4)
    holders = [SUITE.signer(rng.randbytes(32)) for _ in range(200)]
    validator = SUITE.signer(rng.randbytes(32))
    genesis = bench_genesis(holders, validator)
    chain = Chain(store, genesis, Runtime(genesis.suite, genesis.chain_id, default_contracts()))
    transfers = signed_transfers(holders, 8 * 60, random.Random(3), 60)
    for start in range(0, len(transfers), 60):
        candidate = chain.execute(transfers[start : start + 60], 1_000 + start, validator.address)
        chain.commit(
            candidate, CommitCertificate(candidate.block.header.height, 0, candidate.block_hash, ())
        )
        stale = len(candidate.stale_nodes)
        assert stale > JOURNAL_CHUNK_ENTRIES
        height = candidate.block.header.height
        with store.tables.read() as view:
            chunks = view.keys_from(b"stale_nodes", encode_height(height), 1_000)
            chunks = [key for key in chunks if key[:8] == encode_height(height)]
            assert len(chunks) == -(-stale // JOURNAL_CHUNK_ENTRIES)
            assert [len(view.get(b"stale_nodes", key) or b"") for key in chunks[:-1]] == [
                JOURNAL_CHUNK_ENTRIES * (BUCKET_BYTES + 32)
            ] * (len(chunks) - 1)
    steps = []
    while True:
        with store.tables.write() as batch:
            step = prune_step(batch, SUITE, 2, VALIDATORS, limit=50)
        steps.append(step)
        assert step.entries < 50 + JOURNAL_CHUNK_ENTRIES
        if not step.more:
            break
    assert len(steps) > 3
    with store.snapshot() as snapshot:
        roots = [snapshot.block(h).block.header.state_root for h in (7, 8)]  # type: ignore[union-attr]
    nodes, _ = reachable(store, roots)
    assert table_keys(store, b"state_nodes") == nodes
    assert all(key[:8] > encode_height(7) for key in table_keys(store, b"stale_nodes"))


def test_the_validator_set_stays_proven_where_it_changed(tmp_path: Path) -> None:
    store = Store(tmp_path / "pruned", journal=True)
    chain, holders, validator = make_chain(store)

    def change_the_set_at_two(height: int) -> None:
        # Say block 2 changed the set (no transfer does), as ``save_block`` records a change.
        if height == 2:
            with store.tables.write() as batch:
                batch.put(b"validator_changes", encode_height(2), b"")

    commit_blocks([chain], holders, validator.address, change_the_set_at_two)
    reader = Reader(store, SUITE)
    with pytest.raises(HeightPruned):
        reader.state(VALIDATORS, 2)
    [proof] = reader.validator_changes(1, 10)
    assert proof.header.height == 2
    verify_state_proof(SUITE, proof.header.state_root, proof.key, proof.value, proof.proof)


def test_block_bodies_go_once_their_transactions_cannot_be_replayed(tmp_path: Path) -> None:
    store = Store(tmp_path / "pruned", journal=True)
    chain, holders, validator = make_chain(store)
    blocks = VALID_FOR_BLOCKS + 20
    commit_blocks([chain], holders, validator.address, blocks=blocks, per_block=2)
    reader = Reader(store, SUITE)
    with store.snapshot() as snapshot:
        floor = snapshot.blocks_floor()
        # A transfer is valid VALID_FOR_BLOCKS past its block: the index refuses its replay.
        assert floor == blocks - VALID_FOR_BLOCKS + 1
        assert snapshot.block(floor - 1) is None and snapshot.block(floor) is not None
        header = snapshot.header(floor - 1)
        assert header is not None and header[0].height == floor - 1
    with pytest.raises(HeightPruned, match=f"block {floor - 1} is pruned"):
        reader.block(floor - 1)
    first = reader.block(floor)
    assert reader.transaction(transaction_hash(SUITE, first.block.transactions[0].body))
    assert chain.is_committed(transaction_hash(SUITE, first.block.transactions[0].body))


def test_an_archive_store_cannot_be_pruned_and_the_config_says_so() -> None:
    store = Store(tables=MemoryTables())
    make_chain(store)
    assert not store.journals()
    with pytest.raises(Exception, match="no stale-node journal"):
        store.prune(SUITE, RETENTION, VALIDATORS)
    for wrong in (-1, 1):
        with pytest.raises(InvalidInput, match="retention_heights must be 0"):
            NodeConfig(name="n", retention_heights=wrong).check()
    NodeConfig(name="n", retention_heights=0).check()


@pytest.mark.parametrize("kind", ["memory", "lmdb"])
def test_revived_nodes_and_shared_values_survive_their_old_stale_entries(
    kind: str, tmp_path: Path
) -> None:
    # Keys flip between two values and come and go, so the same leaves and inner nodes are
    # created again after going stale, and several keys hold one value: the journal entries
    # older than a revival must not delete the node, a value must outlive all but its last leaf.
    # On LMDB too: a revival is what the node's write reports as already stored.
    tables = MemoryTables() if kind == "memory" else None
    store = Store(
        tmp_path / "store" if tables is None else None,
        tables=tables,
        journal=True,
        map_size_bytes=64 * 1024**2,
    )
    store.save_genesis(b"\x01" * 32, bytes(32), {}, {})
    tree = SparseMerkleTree(SUITE, _StoreNodes(store))
    rng = random.Random(3)
    roots = [bytes(32)]
    previous = bytes(32)
    for height in range(1, 80):
        changes: dict[bytes, bytes | None] = {
            b"k%d" % rng.randrange(10): rng.choice([b"a", b"b", None]) for _ in range(4)
        }
        root, new_nodes, stale = tree.update_with_stale(roots[-1], changes)
        committed = committed_block(height, previous, 0)
        write = block_write(committed, changes)
        store.save_block(
            BlockWrite(committed, write.block_hash, (), changes, new_nodes, stale_nodes=stale)
        )
        previous = write.block_hash
        roots.append(root)
        while store.prune(SUITE, 3, VALIDATORS).more:
            pass
        nodes, _ = reachable(store, roots[-3:])
        assert table_keys(store, b"state_nodes") == nodes, f"after block {height}"
    store.close()


class _StoreNodes:
    """The store's current nodes, read in a fresh view each time (the tree under test)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def get_node(self, node_key: bytes) -> bytes | None:
        with self.store.snapshot() as snapshot:
            return snapshot.get_node(node_key)


def test_a_pruning_node_refuses_an_archive_store_and_says_what_to_do(tmp_path: Path) -> None:
    layout = make_network(tmp_path)
    home = tmp_path / layout.nodes[0].home
    archive = msgspec.structs.replace(load_config(home), retention_heights=0)
    Node(home, config=archive).close()
    pruning = msgspec.structs.replace(load_config(home), retention_heights=RETENTION)
    with pytest.raises(RetentionNeedsJournal, match="set retention_heights to 0") as refused:
        Node(home, config=pruning)  # a retention set explicitly is not silently dropped
    assert refused.value.code == "retention_needs_journal"
    Node(home, config=archive).close()  # as an archive it still starts


def test_a_store_from_before_pruning_runs_as_an_archive_after_the_upgrade(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A home made before pruning existed: its config.json has no retention_heights, its store
    # no journal. The default retention must not stop it from starting after the upgrade.
    layout = make_network(tmp_path)
    home = tmp_path / layout.nodes[0].home
    config = msgspec.json.decode((home / "config.json").read_bytes())
    del config["retention_heights"]
    (home / "config.json").write_bytes(msgspec.json.encode(config))
    assert load_config(home).retention_heights is None
    Node(home, config=msgspec.structs.replace(load_config(home), retention_heights=0)).close()
    with caplog.at_level("WARNING", logger="jinqiao.node.service"):
        node = Node(home)
    try:
        assert not node.store.journals()
        assert node.retention_heights == 0
        assert "runs as an archive node" in caplog.text
        assert "start it on an empty data directory" in caplog.text
    finally:
        node.close()
    # A new store under the same config journals and prunes to the default.
    (home / "data").rename(home / "old-data")
    node = Node(home)
    try:
        assert node.store.journals()
        assert node.retention_heights == DEFAULT_RETENTION_HEIGHTS
    finally:
        node.close()
