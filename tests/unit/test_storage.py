"""The store (node/storage.py) on a real LMDB environment in ``tmp_path`` and on the simulator's
in-memory tables: genesis and blocks are saved atomically and in order, read back through
snapshots, and survive reopening."""

from __future__ import annotations

import hashlib
import os
import random
from collections.abc import Callable, Iterator
from pathlib import Path

import lmdb
import pytest

from jinqiao.core.codec import encode
from jinqiao.core.crypto import CryptoSuite, get_suite
from jinqiao.core.errors import NodeFault
from jinqiao.core.hashing import header_hash, transaction_hash
from jinqiao.core.types import (
    EMPTY_HASH,
    Block,
    BlockHeader,
    CommitCertificate,
    CommitSignature,
    CommittedBlock,
    Event,
    Receipt,
    SignedTransaction,
    TransactionBody,
)
from jinqiao.node import storage
from jinqiao.node.storage import (
    MIN_FREE_DISK_BYTES,
    BlockWrite,
    DiskAlmostFull,
    LmdbTables,
    MemoryTables,
    Store,
    StoreLayout,
    StoreTorn,
    encode_height,
)
from tests.helpers.suites import SUITE_NAMES, use_suite

SUITE = get_suite("ed25519-sha256")


@pytest.fixture(autouse=True, scope="module", params=SUITE_NAMES)
def each_suite(request: pytest.FixtureRequest) -> Iterator[CryptoSuite]:
    """Every test of this module runs on each crypto suite."""
    yield from use_suite(request, globals())


MAP_SIZE_BYTES = 32 * 1024 * 1024
GENESIS_HASH = b"\x9a" * 32
GENESIS_ROOT = b"\x9b" * 32
PROPOSER = b"\x07" * 20


def digest(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def transaction(height: int, index: int, tag: bytes = b"") -> SignedTransaction:
    body = TransactionBody(
        chain_id="jinqiao-test",
        sender=b"\x01" * 20,
        public_key=b"\x02" * 32,
        nonce=height * 100 + index,
        valid_until=height + 10,
        contract="token",
        method="transfer",
        args=bytes([height, index]) + tag,
    )
    return SignedTransaction(body, bytes([index]) * 64)


def committed_block(
    height: int, previous_block_hash: bytes, transaction_count: int, tag: bytes = b""
) -> CommittedBlock:
    """A small block; ``tag`` makes its transactions differ from another block's at the same
    height."""
    transactions = tuple(transaction(height, index, tag) for index in range(transaction_count))
    header = BlockHeader(
        chain_id="jinqiao-test",
        height=height,
        time_ms=1_700_000_000_000 + height * 1_000,
        previous_block_hash=previous_block_hash,
        transactions_root=digest(b"transactions" + bytes([height])),
        receipts_root=digest(b"receipts" + bytes([height])),
        state_root=digest(b"state" + bytes([height])),
        validators_hash=b"\x05" * 32,
        next_validators_hash=b"\x05" * 32,
        proposer=PROPOSER,
        transaction_count=transaction_count,
    )
    block = Block(header, transactions)
    receipts = tuple(
        Receipt(
            transaction_hash=transaction_hash(SUITE, item.body),
            status=0,
            code="ok",
            message="",
            events=(Event("token", "transferred", (("amount", height * 10 + index),)),),
            steps_used=3,
            result=b"",
        )
        for index, item in enumerate(transactions)
    )
    certificate = CommitCertificate(
        height=height,
        round=0,
        block_hash=header_hash(SUITE, header),
        signatures=(CommitSignature(PROPOSER, b"\x08" * 64),),
    )
    return CommittedBlock(block, certificate, receipts)


def block_write(
    committed: CommittedBlock, state_writes: dict[bytes, bytes | None] | None = None
) -> BlockWrite:
    return BlockWrite(
        committed=committed,
        block_hash=header_hash(SUITE, committed.block.header),
        transaction_hashes=tuple(
            transaction_hash(SUITE, item.body) for item in committed.block.transactions
        ),
        state_writes=state_writes or {},
        new_nodes={digest(b"node" + encode(committed)): b"node of " + encode(committed)},
    )


@pytest.fixture(params=["lmdb", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """Every store test runs on LMDB and on the simulator's in-memory tables: the two must
    behave alike (atomic batches, consistent snapshots, first transaction location kept)."""
    if request.param == "lmdb":
        opened = Store(tmp_path / "db", map_size_bytes=MAP_SIZE_BYTES)
    else:
        opened = Store(tables=MemoryTables())
    yield opened
    opened.close()


def save_genesis(store: Store) -> None:
    store.save_genesis(
        GENESIS_HASH,
        GENESIS_ROOT,
        {b"token/alice": b"100", b"token/bob": b"50", b"registry/acme": b"org"},
        {digest(b"genesis node"): b"genesis node"},
    )


def save_three_blocks(store: Store, count: int = 3) -> list[BlockWrite]:
    """Heights 1..3 (or 1..count) with 2, 0 and 3 transactions; block 2 deletes bob, block 3
    writes carol."""
    writes: list[BlockWrite] = []
    previous = EMPTY_HASH
    state_changes: list[dict[bytes, bytes | None]] = [
        {b"token/alice": b"90", b"token/bob": b"60"},
        {b"token/bob": None},
        {b"token/carol": b"5", b"token/alice": b"85"},
    ]
    for height, (transaction_count, changes) in enumerate(
        zip((2, 0, 3)[:count], state_changes[:count], strict=True), 1
    ):
        write = block_write(committed_block(height, previous, transaction_count), changes)
        store.save_block(write)
        writes.append(write)
        previous = write.block_hash
    return writes


def assert_three_blocks_readable(store: Store, writes: list[BlockWrite]) -> None:
    with store.snapshot() as snapshot:
        assert snapshot.head_height() == 3
        assert snapshot.meta(b"genesis_hash") == GENESIS_HASH
        assert snapshot.meta(b"genesis_state_root") == GENESIS_ROOT
        for height, write in enumerate(writes, 1):
            assert snapshot.block(height) == write.committed
            assert snapshot.height_of_block(write.block_hash) == height
            for index, transaction_hash in enumerate(write.transaction_hashes):
                assert snapshot.transaction_location(transaction_hash) == (height, index)
                assert snapshot.has_transaction(transaction_hash) is True
            (node_hash, node), *_ = write.new_nodes.items()
            assert snapshot.get_node(node_hash) == node
        assert snapshot.block(0) is None
        assert snapshot.block(4) is None
        assert snapshot.height_of_block(b"\x00" * 32) is None
        assert snapshot.transaction_location(b"\x00" * 32) is None
        assert snapshot.has_transaction(b"\x00" * 32) is False
        assert snapshot.get(b"token/alice") == b"85"
        assert snapshot.get(b"token/bob") is None
        assert snapshot.get(b"token/carol") == b"5"
        assert snapshot.get(b"registry/acme") == b"org"
        assert snapshot.get(b"token/dave") is None
        assert snapshot.get_node(digest(b"genesis node")) == b"genesis node"
        assert snapshot.get_node(digest(b"no such node")) is None


def test_new_store_is_empty(store: Store) -> None:
    assert store.is_initialized() is False
    with store.snapshot() as snapshot:
        assert snapshot.head_height() == 0
        assert snapshot.meta(b"genesis_hash") is None
        assert snapshot.block(1) is None
        assert snapshot.get(b"token/alice") is None


def test_save_genesis_writes_state_and_head_zero(store: Store) -> None:
    save_genesis(store)
    assert store.is_initialized() is True
    with store.snapshot() as snapshot:
        assert snapshot.head_height() == 0
        assert snapshot.meta(b"head") == encode_height(0)
        assert snapshot.meta(b"genesis_hash") == GENESIS_HASH
        assert snapshot.meta(b"genesis_state_root") == GENESIS_ROOT
        assert snapshot.get(b"token/alice") == b"100"
        assert snapshot.get(b"registry/acme") == b"org"


def test_save_genesis_twice_is_a_node_fault(store: Store) -> None:
    save_genesis(store)
    with pytest.raises(NodeFault, match="store has genesis"):
        store.save_genesis(b"\x01" * 32, b"\x02" * 32, {b"token/alice": b"0"}, {})
    with store.snapshot() as snapshot:
        assert snapshot.meta(b"genesis_hash") == GENESIS_HASH
        assert snapshot.get(b"token/alice") == b"100"


def test_blocks_read_back_through_a_snapshot(store: Store) -> None:
    save_genesis(store)
    writes = save_three_blocks(store)
    assert [write.committed.block.header.transaction_count for write in writes] == [2, 0, 3]
    assert_three_blocks_readable(store, writes)


def test_encode_height_is_eight_bytes_big_endian() -> None:
    assert encode_height(0) == b"\x00" * 8
    assert encode_height(258) == b"\x00" * 6 + b"\x01\x02"
    assert encode_height(2**64 - 1) == b"\xff" * 8


@pytest.mark.parametrize("bad_height", [1, 2, 4, 5])
def test_out_of_order_save_is_a_node_fault_and_changes_nothing(
    store: Store, bad_height: int
) -> None:
    save_genesis(store)
    writes = save_three_blocks(store, count=2)
    stray = block_write(
        committed_block(bad_height, b"\xee" * 32, 2, tag=b"stray"),
        {b"token/alice": b"0", b"token/x": b"1"},
    )
    with pytest.raises(NodeFault, match="blocks must be saved in order") as info:
        store.save_block(stray)
    assert info.value.details == {"height": bad_height, "head": 2}
    with store.snapshot() as snapshot:
        assert snapshot.head_height() == 2
        assert snapshot.block(1) == writes[0].committed
        assert snapshot.block(2) == writes[1].committed
        assert snapshot.block(3) is None
        if bad_height <= 2:
            assert snapshot.block(bad_height) == writes[bad_height - 1].committed
        else:
            assert snapshot.block(bad_height) is None
        assert snapshot.height_of_block(stray.block_hash) is None
        for transaction_hash in stray.transaction_hashes:
            assert snapshot.has_transaction(transaction_hash) is False
        assert snapshot.get(b"token/alice") == b"90"
        assert snapshot.get(b"token/x") is None
        (node_hash, _), *_ = stray.new_nodes.items()
        assert snapshot.get_node(node_hash) is None
    # The store still accepts the right next block.
    store.save_block(block_write(committed_block(3, writes[1].block_hash, 0)))
    with store.snapshot() as snapshot:
        assert snapshot.head_height() == 3


def test_first_block_must_be_height_one(store: Store) -> None:
    save_genesis(store)
    with pytest.raises(NodeFault, match="in order"):
        store.save_block(block_write(committed_block(2, EMPTY_HASH, 0)))
    with store.snapshot() as snapshot:
        assert snapshot.head_height() == 0
        assert snapshot.block(2) is None


def test_state_deletions_remove_keys(store: Store) -> None:
    save_genesis(store)
    write = block_write(
        committed_block(1, EMPTY_HASH, 1),
        {b"token/alice": None, b"registry/acme": None, b"token/never": None},
    )
    store.save_block(write)
    with store.snapshot() as snapshot:
        assert snapshot.get(b"token/alice") is None
        assert snapshot.get(b"registry/acme") is None
        assert snapshot.get(b"token/never") is None
        assert snapshot.get(b"token/bob") == b"50"
        assert snapshot.head_height() == 1


def test_snapshot_is_a_consistent_view(store: Store) -> None:
    save_genesis(store)
    with store.snapshot() as before:
        store.save_block(block_write(committed_block(1, EMPTY_HASH, 1), {b"token/alice": b"1"}))
        assert before.head_height() == 0
        assert before.block(1) is None
        assert before.get(b"token/alice") == b"100"
    with store.snapshot() as after:
        assert after.head_height() == 1
        assert after.get(b"token/alice") == b"1"


def test_reopened_store_sees_the_same_data(tmp_path: Path) -> None:
    path = tmp_path / "db"
    first = Store(path, map_size_bytes=MAP_SIZE_BYTES)
    save_genesis(first)
    writes = save_three_blocks(first)
    first.close()
    second = Store(path, map_size_bytes=MAP_SIZE_BYTES)
    try:
        assert second.is_initialized() is True
        assert_three_blocks_readable(second, writes)
        # And it carries on from the stored head.
        fourth = block_write(committed_block(4, writes[-1].block_hash, 1), {b"token/dave": b"1"})
        second.save_block(fourth)
        with second.snapshot() as snapshot:
            assert snapshot.head_height() == 4
            assert snapshot.block(4) == fourth.committed
            assert snapshot.get(b"token/dave") == b"1"
    finally:
        second.close()


def test_store_directory_is_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "private"
    opened = Store(path, map_size_bytes=MAP_SIZE_BYTES)
    try:
        assert path.stat().st_mode & 0o077 == 0
        assert opened.disk_usage_bytes() > 0
    finally:
        opened.close()


def test_a_whole_batch_leaves_the_store_intact(store: Store) -> None:
    save_genesis(store)
    save_three_blocks(store)
    store.check_intact()


def test_a_batch_that_reached_the_disk_in_part_is_refused_by_name(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    save_genesis(store)
    save_three_blocks(store)
    # What a torn fourth block leaves: its commit record landed, its head pointer did not.
    with store.tables.write() as batch:
        batch.put(b"meta", b"writing", encode_height(4))
    with pytest.raises(StoreTorn, match=r"is torn: block 4 was being written.*move the store"):
        store.check_intact()
    store.close()


def test_a_store_with_tree_nodes_keyed_by_hash_alone_is_refused_by_name(tmp_path: Path) -> None:
    # ADR 0057: a store written before tree nodes were keyed by place and hash would answer
    # "node missing" at its first proof; it is refused when the node opens it instead.
    store = Store(tmp_path / "store")
    store.save_genesis(b"\x01" * 32, bytes(32), {}, {})
    store.check_intact()
    with store.tables.write() as batch:
        assert batch.get(b"meta", b"tree_layout") == storage.TREE_LAYOUT
        batch.delete(b"meta", b"tree_layout")  # what an earlier version's genesis left
    with pytest.raises(StoreLayout, match=r"earlier version of jinqiao.*state sync"):
        store.check_intact()
    for earlier in (b"\x02", b"\x03"):  # one journal entry per node; values on their own
        with store.tables.write() as batch:
            batch.put(b"meta", b"tree_layout", earlier)
        with pytest.raises(StoreLayout, match=r"stale-node journal otherwise.*ADR 0060"):
            store.check_intact()
    store.close()


def test_put_without_overwrite_says_whether_it_wrote(store: Store) -> None:
    # The pruning journal takes a node the write finds already stored for a revival
    # (node.pruning.record_block): both kinds of tables must report it alike.
    with store.tables.write() as batch:
        assert batch.put(b"state_nodes", b"n", b"first", overwrite=False) is True
        assert batch.put(b"state_nodes", b"n", b"second", overwrite=False) is False
        assert batch.get(b"state_nodes", b"n") == b"first"
        assert batch.put(b"state_nodes", b"n", b"third") is True
    with store.tables.write() as batch:
        assert batch.put(b"state_nodes", b"n", b"fourth", overwrite=False) is False
    with store.tables.read() as view:
        assert view.get(b"state_nodes", b"n") == b"third"


def test_the_disk_usage_is_the_used_part_of_the_sparse_map(tmp_path: Path) -> None:
    """The map is written in place (ADR 0056): ``data.mdb``'s length is the map's size, while
    the disk usage reported is the pages LMDB has used, which the file's allocated blocks match
    and which grows with what is written."""
    opened = Store(tmp_path / "db", map_size_bytes=MAP_SIZE_BYTES)
    try:
        data = tmp_path / "db" / "data.mdb"
        assert data.stat().st_size == MAP_SIZE_BYTES
        save_genesis(opened)
        before = opened.disk_usage_bytes()
        save_three_blocks(opened)
        after = opened.disk_usage_bytes()
        assert 0 < before < after < MAP_SIZE_BYTES
        assert data.stat().st_blocks * 512 <= 2 * after + 64 * 1024
    finally:
        opened.close()


def _fill_and_overwrite(put_batch: Callable[[list[tuple[bytes, bytes]]], None]) -> list[bytes]:
    """40,000 records of 800 bytes in four batches, then eight batches each overwriting 5,000 of
    them: LMDB's free pages, which a write reuses, end up spread over the file."""
    rng = random.Random(7)
    keys = [rng.randbytes(32) for _ in range(40_000)]
    for start in range(0, len(keys), 10_000):
        put_batch([(key, rng.randbytes(800)) for key in keys[start : start + 10_000]])
    for _ in range(8):
        put_batch([(key, rng.randbytes(800)) for key in rng.sample(keys, 5_000)])
    return keys


def _bytes_written_back_for_256_records(tables: LmdbTables, keys: list[bytes]) -> int:
    rng = random.Random(8)
    before = _bytes_written_by_this_process()
    with tables.write() as batch:
        for key in rng.sample(keys, 256):
            batch.put(b"state_latest", key, rng.randbytes(800))
    return _bytes_written_by_this_process() - before


def _bytes_written_by_this_process() -> int:
    """What the kernel counts as written by this process (charged when a page is dirtied)."""
    with open("/proc/self/io") as counters:
        return next(int(line.split()[1]) for line in counters if line.startswith("write_bytes:"))


def _put_batch(tables: LmdbTables) -> Callable[[list[tuple[bytes, bytes]]], None]:
    def put(records: list[tuple[bytes, bytes]]) -> None:
        with tables.write() as batch:
            for key, value in records:
                batch.put(b"state_latest", key, value)

    return put


# A page fault with readahead brings a file's pages into the page cache in large folios, and a
# write to one 4 KiB page of a folio dirties and writes back all of it (ADR 0062). 256 changed
# records make a few hundred dirty pages, under 2 MB; in the folios they fall in, 10 MB. (On a
# kernel without large folios in the page cache both tests hold either way.)
FEW_MB = 4 * 1024 * 1024


def test_a_store_filled_through_its_own_map_writes_back_only_the_pages_a_batch_changes(
    tmp_path: Path,
) -> None:
    """The map is advised random (no readahead), so the store's own faults bring in 4 KiB
    pages."""
    tables = LmdbTables(tmp_path / "db")
    try:
        keys = _fill_and_overwrite(_put_batch(tables))
        written = _bytes_written_back_for_256_records(tables, keys)
    finally:
        tables.close()
    assert written < FEW_MB, f"{written} bytes written back for 256 changed records"


def test_a_store_read_ahead_before_it_opened_writes_back_only_the_pages_a_batch_changes(
    tmp_path: Path,
) -> None:
    """Pages another mapping read ahead (this store before ADR 0062, LMDB's own tools) are
    dropped from the cache when the store opens."""
    environment = lmdb.open(  # as LmdbTables opened it before ADR 0062
        str(tmp_path / "db"),
        map_size=storage.MAP_SIZE_BYTES,
        max_dbs=16,
        writemap=True,
        readahead=True,
    )
    table = environment.open_db(b"state_latest")

    def put(records: list[tuple[bytes, bytes]]) -> None:
        with environment.begin(write=True) as transaction:
            for key, value in records:
                transaction.put(key, value, db=table)

    keys = _fill_and_overwrite(put)
    environment.close()
    tables = LmdbTables(tmp_path / "db")
    try:
        written = _bytes_written_back_for_256_records(tables, keys)
    finally:
        tables.close()
    assert written < FEW_MB, f"{written} bytes written back for 256 changed records"


def test_a_write_is_refused_before_it_begins_when_the_disk_is_almost_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk under a writable map would end the process with SIGBUS mid-write: below
    ``MIN_FREE_DISK_BYTES`` free, a write batch is refused with ``DiskAlmostFull`` and the store
    is unchanged (the file system is the neighbour stood in for: ``os.statvfs``)."""
    store = Store(tmp_path / "db", map_size_bytes=MAP_SIZE_BYTES)
    save_genesis(store)
    real_statvfs = os.statvfs

    def nearly_full(path: os.PathLike[str] | str) -> os.statvfs_result:
        real = real_statvfs(path)
        fields = list(real)
        fields[4] = (MIN_FREE_DISK_BYTES - 1) // real.f_frsize  # f_bavail
        return os.statvfs_result(fields)

    monkeypatch.setattr(storage.os, "statvfs", nearly_full)
    with pytest.raises(DiskAlmostFull, match="MiB free on the disk of"):
        save_three_blocks(store)
    monkeypatch.undo()
    with store.snapshot() as snapshot:
        assert snapshot.head_height() == 0
    save_three_blocks(store)
    with store.snapshot() as snapshot:
        assert snapshot.head_height() == 3
    store.close()
