"""Snapshots for state sync (ADR 0054) over real LMDB stores and a real chain: a snapshot
restores exactly the state the chain holds; every wrong manifest or chunk is refused; a crash
during the install leaves the store as it was; a restored store says why it holds no block below
its base."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from msgspec.structs import replace
from rich.progress import Progress

from jinqiao.apps import default_contracts
from jinqiao.apps.token import balance_key
from jinqiao.bench.execute import ASSET, apply_blocks, signed_transfer, signed_transfers
from jinqiao.bench.statesync import WINDOW_BLOCKS, restore, statesync_genesis
from jinqiao.core.codec import decode_stored, encode
from jinqiao.core.crypto import DEFAULT_SUITE, Signer, get_suite
from jinqiao.core.errors import DecodeError
from jinqiao.core.genesis import Genesis
from jinqiao.core.hashing import header_hash
from jinqiao.execution.identity import GOVERNANCE, VALIDATORS_KEY
from jinqiao.execution.runtime import Runtime
from jinqiao.execution.state import full_key
from jinqiao.node.chain import Chain
from jinqiao.node.pruning import HeightPruned
from jinqiao.node.reads import BeforeSnapshotBase, Reader
from jinqiao.node.snapshots import (
    SnapshotChunk,
    SnapshotFiles,
    SnapshotManifest,
    SnapshotPart,
    SnapshotRefused,
    StateEntry,
    install,
    part_prefix,
    state_base,
    verify_chunk,
    verify_manifest,
)
from jinqiao.node.storage import Store
from jinqiao.node.wire import ChunkResponse, decode_message, encode_message
from jinqiao.verify import verify_state_proof
from tests.unit.test_pruning import reachable, table_keys

BLOCKS = WINDOW_BLOCKS + 30
EXTRA_BLOCKS = 20
RETENTION = 6
VALIDATORS = full_key(GOVERNANCE, VALIDATORS_KEY)


def runtime_of(genesis: Genesis) -> Runtime:
    return Runtime(genesis.suite, genesis.chain_id, default_contracts())


def actors() -> tuple[list[Signer], Signer]:
    """The source chain's holders and its validator."""
    rng = random.Random(7)
    suite = get_suite(DEFAULT_SUITE)
    holders = [suite.signer(rng.randbytes(32)) for _ in range(30)]
    return holders, suite.signer(rng.randbytes(32))


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Genesis, Store, Path]]:
    directory = tmp_path_factory.mktemp("snapshots")
    rng = random.Random(7)
    holders, validator = actors()
    genesis = statesync_genesis(holders, validator)
    store = Store(directory / "source")
    chain = Chain(store, genesis, runtime_of(genesis))
    transactions = signed_transfers(holders, BLOCKS * 2, rng, 2)
    with Progress(disable=True) as progress:
        apply_blocks(
            chain, validator, transactions, 2, verify_signatures=False, progress=progress, label=""
        )
    SnapshotFiles(directory / "files", keep=1, chunk_bytes=1024).take(genesis.suite, store)
    yield genesis, store, directory
    store.close()


def snapshot_of(directory: Path) -> tuple[SnapshotManifest, SnapshotFiles]:
    files = SnapshotFiles(directory / "files", keep=1)
    (height,) = files.heights()
    manifest = files.manifest(height)
    assert manifest is not None
    return manifest, files


def chunk_of(files: SnapshotFiles, manifest: SnapshotManifest, part: SnapshotPart) -> SnapshotChunk:
    raw = files.chunk(manifest.height, part.prefix)
    assert raw is not None
    return decode_stored(raw, SnapshotChunk)


def state_of(store: Store) -> dict[bytes, bytes]:
    values: dict[bytes, bytes] = {}
    with store.tables.read() as view:
        for key in view.keys_from(b"state_latest", b"", 1_000_000):
            value = view.get(b"state_latest", key)
            assert value is not None
            values[key] = value
    return values


def test_a_snapshot_restores_the_chains_state_and_window(
    source: tuple[Genesis, Store, Path], tmp_path: Path
) -> None:
    genesis, store, directory = source
    manifest, files = snapshot_of(directory)
    with store.snapshot() as snapshot:
        height = snapshot.head_height()
        top = snapshot.block(height)
        old = snapshot.block(height - WINDOW_BLOCKS)
    assert top is not None and old is not None and height == BLOCKS
    assert manifest.height == height and len(manifest.parts) > 4  # several chunks of 1 KiB

    _, _, root = restore(store, files, height, genesis, tmp_path / "restored")
    assert root == top.block.header.state_root

    restored = Store(tmp_path / "restored")
    try:
        assert state_of(restored) == state_of(store)
        chain = Chain(restored, genesis, runtime_of(genesis))
        assert (chain.head.height, chain.head.state_root) == (height, root)
        with restored.snapshot() as snapshot:
            base = state_base(snapshot)
            assert base == height - WINDOW_BLOCKS + 1
            # The replay window's transactions are known: a replay of one is a duplicate.
            window_block = snapshot.block(base)
            assert window_block is not None
            assert snapshot.has_transaction(window_block.receipts[0].transaction_hash)
            assert not snapshot.has_transaction(old.receipts[0].transaction_hash)
        reader = Reader(restored, genesis.suite)
        assert header_hash(genesis.suite, reader.block(base).block.header) == header_hash(
            genesis.suite, window_block.block.header
        )
        with pytest.raises(BeforeSnapshotBase) as refused:
            reader.block(base - 1)
        assert refused.value.code == "before_snapshot_base"
        assert refused.value.details == {"height": base - 1, "base": base}
    finally:
        restored.close()


def test_a_wrong_manifest_is_refused(source: tuple[Genesis, Store, Path]) -> None:
    genesis, _, directory = source
    suite = genesis.suite
    manifest, _ = snapshot_of(directory)
    root = manifest.state_root
    verify_manifest(suite, manifest, root)
    lies = [
        replace_part(manifest, 0, subtree_hash=bytes(32)),
        replace_part(
            manifest, len(manifest.parts) - 1, subtree_hash=manifest.parts[0].subtree_hash
        ),
        replace(manifest, parts=manifest.parts[1:]),
        replace(manifest, parts=(manifest.parts[1], manifest.parts[0], *manifest.parts[2:])),
        replace(manifest, split_depth=manifest.split_depth + 1),
    ]
    for lie in lies:
        with pytest.raises(SnapshotRefused):
            verify_manifest(suite, lie, root)
    with pytest.raises(SnapshotRefused, match="another state root"):
        verify_manifest(suite, manifest, bytes(32))


def replace_part(manifest: SnapshotManifest, index: int, **fields: Any) -> SnapshotManifest:
    parts = list(manifest.parts)
    parts[index] = replace(parts[index], **fields)
    return replace(manifest, parts=tuple(parts))


def test_a_wrong_chunk_is_refused(source: tuple[Genesis, Store, Path]) -> None:
    genesis, _, directory = source
    suite = genesis.suite
    manifest, files = snapshot_of(directory)
    part, other = manifest.parts[0], manifest.parts[1]
    chunk = chunk_of(files, manifest, part)
    verified = verify_chunk(suite, manifest, part, chunk)
    assert len(verified.writes) == part.entries
    entries = chunk.entries
    stranger = chunk_of(files, manifest, other).entries[0]
    assert part_prefix(suite, stranger.key, manifest.split_depth) != part.prefix
    lies = {
        "a value altered": (StateEntry(entries[0].key, entries[0].value + b"!"), *entries[1:]),
        "an entry left out": entries[1:],
        "a key twice": (entries[0], *entries[:-1]),
        "a key of another part": (stranger, *entries[1:]),
    }
    for what, lie in lies.items():
        with pytest.raises(SnapshotRefused):
            verify_chunk(suite, manifest, part, replace(chunk, entries=lie))
            pytest.fail(what)
    with pytest.raises(SnapshotRefused, match="another chunk"):
        verify_chunk(suite, manifest, other, chunk)


def test_peer_frames_past_the_limits_do_not_decode(source: tuple[Genesis, Store, Path]) -> None:
    _, _, directory = source
    manifest, files = snapshot_of(directory)
    chunk = chunk_of(files, manifest, manifest.parts[0])
    assert decode_message(encode_message(ChunkResponse(chunk))) == ChunkResponse(chunk)
    too_far = encode_message(ChunkResponse(replace(chunk, prefix=1 << 12)))
    with pytest.raises(DecodeError):
        decode_message(too_far)
    too_long = encode_message(ChunkResponse(replace(chunk, entries=(StateEntry(b"k" * 257, b""),))))
    with pytest.raises(DecodeError):
        decode_message(too_long)


class _Crash(Exception):
    pass


class CrashingTables:
    """The store's tables, with a write batch that dies after ``puts`` puts (a crash mid-write:
    LMDB never commits the transaction)."""

    def __init__(self, tables: Any, puts: int) -> None:
        self.tables = tables
        self.puts = puts

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tables, name)

    @contextmanager
    def write(self) -> Iterator[Any]:
        with self.tables.write() as batch:
            outer = self

            class Dying:
                def __getattr__(self, name: str) -> Any:
                    return getattr(batch, name)

                def put(self, *args: Any, **kwargs: Any) -> None:
                    outer.puts -= 1
                    if outer.puts < 0:
                        raise _Crash
                    batch.put(*args, **kwargs)

            yield Dying()


def test_a_crash_during_the_install_leaves_the_store_as_it_was(
    source: tuple[Genesis, Store, Path], tmp_path: Path
) -> None:
    genesis, store, directory = source
    suite = genesis.suite
    manifest, files = snapshot_of(directory)
    chunks = [
        verify_chunk(suite, manifest, p, chunk_of(files, manifest, p)) for p in manifest.parts
    ]
    with store.snapshot() as snapshot:
        top = snapshot.block(snapshot.head_height())
    assert top is not None
    target = Store(tmp_path / "target")
    try:
        chain = Chain(target, genesis, runtime_of(genesis))
        before = state_of(target)
        real_tables = target.tables
        target.tables = CrashingTables(real_tables, puts=50)  # type: ignore[assignment]
        with pytest.raises(_Crash):
            install(
                target,
                chunks,
                {},
                [top],
                [[r.transaction_hash for r in top.receipts]],
                [header_hash(suite, top.block.header)],
            )
        target.tables = real_tables
        assert state_of(target) == before
        chain.reopen()
        assert chain.head.height == 0
        with target.snapshot() as snapshot:
            assert snapshot.block(top.block.header.height) is None
            assert state_base(snapshot) == 1
    finally:
        target.close()


def test_a_snapshot_is_taken_once_per_height(source: tuple[Genesis, Store, Path]) -> None:
    genesis, store, directory = source
    files = SnapshotFiles(directory / "files", keep=1)
    assert files.take(genesis.suite, store) is None  # that height's snapshot exists
    (height,) = files.heights()
    manifest = files.manifest(height)
    assert manifest is not None
    assert encode(manifest) == (directory / "files" / str(height) / "manifest").read_bytes()


def test_a_restored_pruning_store_prunes_like_any_other(
    source: tuple[Genesis, Store, Path], tmp_path: Path
) -> None:
    """A pruning store restored from a snapshot starts its journal and its floors at the
    snapshot (ADR 0053, 0054): blocks after it, then pruning, leave every
    retained height proving what an archive restored from the same snapshot proves, and the
    store holding exactly what the retained roots reach."""
    genesis, store, directory = source
    suite = genesis.suite
    manifest, files = snapshot_of(directory)
    height, base = manifest.height, manifest.height - WINDOW_BLOCKS + 1
    restore(store, files, height, genesis, tmp_path / "pruned", journal=True)
    restore(store, files, height, genesis, tmp_path / "archive")
    pruned, archive = Store(tmp_path / "pruned"), Store(tmp_path / "archive")
    try:
        assert pruned.journals() and not archive.journals()
        with pruned.snapshot() as snapshot:
            assert (snapshot.prune_floor(), snapshot.blocks_floor()) == (height, base)
        holders, validator = actors()
        rng = random.Random(11)
        transfers = []
        for index in range(EXTRA_BLOCKS * 2):
            payer, payee = rng.sample(holders, 2)
            nonce = BLOCKS * 2 + index  # valid past the restored head
            transfers.append(signed_transfer(payer, payee.address, rng.randint(1, 99), nonce, 2))
        for target in (pruned, archive):
            chain = Chain(target, genesis, runtime_of(genesis))
            with Progress(disable=True) as progress:
                applied = apply_blocks(
                    chain,
                    validator,
                    transfers,
                    2,
                    verify_signatures=False,
                    progress=progress,
                    label="",
                )
            assert applied.rejected == 0
        while pruned.prune(suite, RETENTION, VALIDATORS).more:
            pass
        head = height + EXTRA_BLOCKS
        floor = head - RETENTION + 1
        keys = [full_key("token", balance_key(ASSET, h.address)) for h in holders] + [VALIDATORS]
        reader, archive_reader = Reader(pruned, suite), Reader(archive, suite)
        for at in range(floor, head + 1):
            proofs = reader.state_many(keys, at)
            assert proofs == archive_reader.state_many(keys, at)
            for proof in proofs:
                verify_state_proof(
                    suite, proof.header.state_root, proof.key, proof.value, proof.proof
                )
        with pytest.raises(HeightPruned):
            reader.state(keys[0], floor - 1)
        with pytest.raises(BeforeSnapshotBase):
            reader.block(base - 1)
        with pruned.snapshot() as snapshot:
            assert snapshot.prune_floor() == floor
            roots = [snapshot.header(at)[0].state_root for at in range(floor, head + 1)]  # type: ignore[index]
        nodes, _ = reachable(pruned, roots)
        assert table_keys(pruned, b"state_nodes") == nodes
    finally:
        pruned.close()
        archive.close()
