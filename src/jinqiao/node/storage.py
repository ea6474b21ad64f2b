"""On-disk storage: one LMDB environment, written in one transaction per block.

Tables (LMDB named databases):

=============== ============================== =============================================
table           key                            value
=============== ============================== =============================================
meta            b"head"                        height (8-byte big-endian)
                b"writing"                     height of the newest batch begun
                b"genesis_hash"                32 bytes
                b"genesis_state_root"          32 bytes
                b"tree_layout"                 ``TREE_LAYOUT``: how ``state_nodes`` and
                                               ``stale_nodes`` are keyed
blocks          height (8-byte big-endian)     canonical ``CommittedBlock``
block_hashes    block hash                     height
transactions    transaction hash               height + index in block (8 + 4 bytes)
state_latest    full state key                 current value (for execution)
state_nodes     node key (bucket + node hash)  sparse Merkle tree node (content-addressed;
                                               the bucket is its place, ADR 0057); a leaf
                                               carries its value (ADR 0060)
validator_c…    height h (8-byte big-endian)   empty: block h changed the validator set (its
                                               ``next_validators_hash`` differs)
stale_nodes     height h + chunk number (8+4)  node keys (up to 48) that block h made
                                               unreachable (ADR 0059)
revived_nodes   node key                       height of the block that created it again
pinned_nodes    node key                       empty: on a validator-set change's proof path
block_headers   height                         header and certificate of a pruned block
=============== ============================== =============================================

The last four tables, with ``meta/journal``, ``meta/prune_floor`` and ``meta/blocks_floor``,
belong to pruning (``node.pruning``, ADR 0053): a store created with ``journal=True`` records in
each block's batch the tree nodes the block made stale, and ``Store.prune`` deletes, in bounded
batches, what no retained height needs.

Everything a block changes — the block, its certificate and receipts, the indexes, the new tree
nodes (leaves with their values), the latest values and the head pointer — is written in one
LMDB write transaction with ``sync`` on, so a crash at any instant leaves the store at the
previous block or at this one, never between (DESIGN.md §3 "Storage").

Each batch also opens with a commit record: ``meta/writing`` is its first write and
``meta/head`` its last, so a store whose batch reached the disk only in part (a torn write) has
``writing != head``, and ``Store.check_intact`` refuses it on restart (ADR 0012). LMDB commits a
transaction whole, so on a sound disk the check never fires; it catches a disk that broke its
promise, and it is what the simulator's torn-write fault checks.

``Store.load_state`` is the one other state write: a bulk load, in chunks, into a store that
holds genesis and no block, used by ``bench growth`` to build stores of millions of accounts
(ADR 0049); a node never calls it.

The tables live behind a small key-value interface (``Tables``: read views, atomic write
batches): ``LmdbTables`` on disk for nodes, ``MemoryTables`` for the deterministic simulator, which
so runs the node's own storage logic (``Store``, ``Snapshot``) rather than a model of it.
"""

from __future__ import annotations

import contextlib
import os
import struct
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import lmdb

from jinqiao.core.codec import decode_stored, encode
from jinqiao.core.crypto import CryptoSuite
from jinqiao.core.errors import DecodeError, NodeFault, require
from jinqiao.core.types import BlockHeader, CommitCertificate, CommittedBlock
from jinqiao.node import pruning

MAP_SIZE_BYTES = 64 * 1024**3
MIN_FREE_DISK_BYTES = 512 * 1024**2
"""A write batch is refused (``DiskAlmostFull``) while less than this is free on the store's
disk: the map is written in place (ADR 0056), where a full disk would end the process with
SIGBUS in the middle of a write instead of an error. A block's write dirties tens of MB at most."""
TREE_LAYOUT = b"\x04"
"""``meta/tree_layout`` of a store whose tree nodes are keyed by bucket and hash (ADR 0057), whose
stale-node journal is kept in chunks (ADR 0059) and whose leaves carry their values (ADR 0060).
A store with another (``b"\x03"``: values in a table of their own; ``b"\x02"``: one journal
entry per node) or none (nodes keyed by hash alone) was written by an earlier version and is
refused (``StoreLayout``)."""
_HEIGHT = struct.Struct(">Q")
_LOCATION = struct.Struct(">QI")
_TABLES = (
    b"meta",
    b"blocks",
    b"block_hashes",
    b"transactions",
    b"state_latest",
    b"state_nodes",
    b"validator_changes",
    *pruning.PRUNING_TABLES,
)


def encode_height(height: int) -> bytes:
    return _HEIGHT.pack(height)


@dataclass(frozen=True)
class BlockWrite:
    """Everything one committed block adds to the store."""

    committed: CommittedBlock
    block_hash: bytes
    transaction_hashes: tuple[bytes, ...]
    state_writes: Mapping[bytes, bytes | None]
    new_nodes: Mapping[bytes, bytes]
    stale_nodes: tuple[bytes, ...] = ()
    """Nodes the block's root no longer reaches (``SparseMerkleTree.update_with_stale``): the
    stale-node journal of a store that prunes (``node.pruning``)."""


class ReadView(Protocol):
    """A consistent read view of the tables."""

    def get(self, table: bytes, key: bytes) -> bytes | None: ...

    def keys_from(self, table: bytes, start: bytes, limit: int) -> list[bytes]:
        """Up to ``limit`` keys of ``table`` that sort at or after ``start``, in order."""
        ...


class WriteBatch(ReadView, Protocol):
    """Writes that become visible (and durable) together when the batch ends without error."""

    def put(self, table: bytes, key: bytes, value: bytes, *, overwrite: bool = True) -> bool:
        """Write ``value`` under ``key``; with ``overwrite`` False a key already present keeps
        its value. True if this wrote (always, with ``overwrite``)."""
        ...

    def delete(self, table: bytes, key: bytes) -> None: ...


class Tables(Protocol):
    def read(self) -> contextlib.AbstractContextManager[ReadView]: ...

    def write(self) -> contextlib.AbstractContextManager[WriteBatch]: ...

    def close(self) -> None: ...

    def size_bytes(self) -> int: ...

    def live_bytes(self) -> int:
        """Bytes the tables' data takes now, without space the store keeps free for reuse."""
        ...


class _LmdbView:
    def __init__(self, databases: dict[bytes, Any], transaction: Any) -> None:
        self._db = databases
        self._txn = transaction

    def get(self, table: bytes, key: bytes) -> bytes | None:
        value = self._txn.get(key, db=self._db[table])
        return None if value is None else bytes(value)

    def keys_from(self, table: bytes, start: bytes, limit: int) -> list[bytes]:
        keys: list[bytes] = []
        cursor = self._txn.cursor(db=self._db[table])
        if cursor.set_range(start):
            for key in cursor.iternext(keys=True, values=False):
                keys.append(bytes(key))
                if len(keys) >= limit:
                    break
        return keys

    def put(self, table: bytes, key: bytes, value: bytes, *, overwrite: bool = True) -> bool:
        return bool(self._txn.put(key, value, db=self._db[table], overwrite=overwrite))

    def delete(self, table: bytes, key: bytes) -> None:
        self._txn.delete(key, db=self._db[table])


class DiskAlmostFull(NodeFault):
    """Less than ``MIN_FREE_DISK_BYTES`` is free on the disk of a store about to be written."""


def drop_cached_pages(file: Path) -> None:
    """Ask the kernel to drop ``file``'s clean pages from the page cache (``POSIX_FADV_DONTNEED``;
    dirty pages stay until written back). Nothing happens when the file does not exist."""
    try:
        descriptor = os.open(file, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(descriptor)


def open_read_only(path: Path, *, max_dbs: int) -> lmdb.Environment:
    """A read-only handle on the LMDB store in ``path`` that another process may hold open too,
    mapped without readahead as ``LmdbTables`` maps it: pages read ahead would sit in the page
    cache in large folios, which a running node's writes then dirty whole (ADR 0062). Raises
    ``lmdb.Error`` when there is no store to open."""
    return lmdb.open(
        str(path), readonly=True, lock=True, max_dbs=max_dbs, subdir=True, readahead=False
    )


class LmdbTables:
    """The tables in one LMDB environment; each write batch is one durable write transaction.
    The map is writable (``writemap``): a write batch changes its pages in place in the page
    cache and the commit syncs them, instead of copying every page it dirties into a buffer of
    its own and writing those out (ADR 0056). ``data.mdb`` is then a sparse file of the map's
    size; ``size_bytes`` is the part LMDB has used.

    The map is read without readahead (``readahead=False``, LMDB's ``MDB_NORDAHEAD``: the map is
    advised random), and the file's clean cached pages are dropped before it is mapped: the page
    cache holds a file read ahead, or written in large runs (a restore, a copy), in large folios,
    and a write to one 4 KiB page dirties, writes back and syncs its whole folio — nine times the
    bytes a block changes at 10^6 accounts (ADR 0062)."""

    def __init__(self, path: Path, *, map_size_bytes: int = MAP_SIZE_BYTES) -> None:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = path
        drop_cached_pages(path / "data.mdb")
        self._env = lmdb.open(
            str(path),
            map_size=map_size_bytes,
            max_dbs=len(_TABLES),
            sync=True,
            metasync=True,
            writemap=True,
            readahead=False,
            max_readers=256,
            subdir=True,
            lock=True,
        )
        self._db = {name: self._env.open_db(name) for name in _TABLES}

    @contextmanager
    def read(self) -> Iterator[ReadView]:
        with self._env.begin(buffers=False) as transaction:
            yield _LmdbView(self._db, transaction)

    @contextmanager
    def write(self) -> Iterator[WriteBatch]:
        """One durable write transaction; raises ``DiskAlmostFull`` before it begins when the
        disk has less than ``MIN_FREE_DISK_BYTES`` free."""
        disk = os.statvfs(self.path)
        free = disk.f_bavail * disk.f_frsize
        if free < MIN_FREE_DISK_BYTES:
            raise DiskAlmostFull(
                f"only {free // 1024**2} MiB free on the disk of {self.path}; the store writes "
                f"only with at least {MIN_FREE_DISK_BYTES // 1024**2} MiB free: free disk "
                "space (or move the node's home to a larger disk) and start the node again"
            )
        with self._env.begin(write=True) as transaction:
            yield _LmdbView(self._db, transaction)

    def close(self) -> None:
        self._env.close()

    def size_bytes(self) -> int:
        """The bytes of ``data.mdb`` LMDB has used (its pages up to the highest one written),
        which is what the file takes on disk; the file's length is the map's size."""
        info = self._env.info()
        return int((info["last_pgno"] + 1) * self._env.stat()["psize"])

    def live_bytes(self) -> int:
        """The pages of every table's B-tree (branch, leaf, overflow) times the page size: LMDB
        never shrinks ``data.mdb`` and reuses freed pages, so the file's size alone can hide
        growth (pages freed by an earlier write batch) or overstate it."""
        pages = 0
        with self._env.begin() as transaction:
            for database in self._db.values():
                stat = transaction.stat(database)
                pages += stat["branch_pages"] + stat["leaf_pages"] + stat["overflow_pages"]
        return int(pages * self._env.stat()["psize"])


class MemoryTables:
    """The tables in memory, for the simulator. As in LMDB, a write batch is applied whole when it
    ends without error, or not at all, and a read view sees the tables as they were when it began
    (every value is kept with the number of the batch that wrote it)."""

    def __init__(self) -> None:
        self.versions: dict[bytes, dict[bytes, list[tuple[int, bytes | None]]]] = {
            name: {} for name in _TABLES
        }
        self.batches = 0
        self.last_batch: list[tuple[bytes, bytes]] = []
        """The (table, key) pairs the newest batch wrote, in the order it wrote them."""

    @contextmanager
    def read(self) -> Iterator[ReadView]:
        yield _MemoryView(self, self.batches, None)

    @contextmanager
    def write(self) -> Iterator[WriteBatch]:
        batch = _MemoryView(self, self.batches, {})
        yield batch
        self.batches += 1
        self.last_batch = batch.apply(self.batches)

    def close(self) -> None:
        pass

    def size_bytes(self) -> int:
        return sum(
            len(key) + len(value or b"")
            for table in self.versions.values()
            for key, history in table.items()
            for _, value in history
        )

    def live_bytes(self) -> int:
        return self.size_bytes()


class _MemoryView:
    def __init__(
        self,
        tables: MemoryTables,
        version: int,
        pending: dict[tuple[bytes, bytes], bytes | None] | None,
    ) -> None:
        self._tables = tables
        self._version = version
        self._pending = pending

    def get(self, table: bytes, key: bytes) -> bytes | None:
        if self._pending is not None and (table, key) in self._pending:
            return self._pending[(table, key)]
        for version, value in reversed(self._tables.versions[table].get(key, ())):
            if version <= self._version:
                return value
        return None

    def keys_from(self, table: bytes, start: bytes, limit: int) -> list[bytes]:
        keys = sorted(key for key in self._tables.versions[table] if key >= start)
        return [key for key in keys if self.get(table, key) is not None][:limit]

    def put(self, table: bytes, key: bytes, value: bytes, *, overwrite: bool = True) -> bool:
        pending = self._writable()
        if overwrite or self.get(table, key) is None:
            pending[(table, key)] = value
            return True
        return False

    def delete(self, table: bytes, key: bytes) -> None:
        self._writable()[(table, key)] = None

    def _writable(self) -> dict[tuple[bytes, bytes], bytes | None]:
        if self._pending is None:
            raise NodeFault("a write outside a write batch")
        return self._pending

    def apply(self, version: int) -> list[tuple[bytes, bytes]]:
        pending = self._writable()
        for (table, key), value in pending.items():
            self._tables.versions[table].setdefault(key, []).append((version, value))
        return list(pending)


class StoreTorn(NodeFault):
    """The store's newest write batch reached the disk only in part."""


class StoreLayout(NodeFault):
    """The store keys its tree nodes another way than this version of jinqiao reads them."""


class Snapshot:
    """A consistent read view of the store (one LMDB read transaction)."""

    def __init__(self, view: ReadView) -> None:
        self._view = view

    def _get(self, table: bytes, key: bytes) -> bytes | None:
        return self._view.get(table, key)

    # StateReader
    def get(self, key: bytes) -> bytes | None:
        return self._get(b"state_latest", key)

    # NodeReader
    def get_node(self, node_key: bytes) -> bytes | None:
        return self._get(b"state_nodes", node_key)

    def head_height(self) -> int:
        raw = self._get(b"meta", b"head")
        return 0 if raw is None else _HEIGHT.unpack(raw)[0]

    def meta(self, name: bytes) -> bytes | None:
        return self._get(b"meta", name)

    def block(self, height: int) -> CommittedBlock | None:
        raw = self._get(b"blocks", encode_height(height))
        if raw is None:
            return None
        try:
            return decode_stored(raw, CommittedBlock)
        except DecodeError as exc:
            raise NodeFault(f"stored block {height} does not decode: {exc}") from exc

    def height_of_block(self, block_hash: bytes) -> int | None:
        raw = self._get(b"block_hashes", block_hash)
        return None if raw is None else _HEIGHT.unpack(raw)[0]

    def transaction_location(self, transaction_hash: bytes) -> tuple[int, int] | None:
        raw = self._get(b"transactions", transaction_hash)
        if raw is None:
            return None
        height, index = _LOCATION.unpack(raw)
        return height, index

    def validator_change_heights(self, from_height: int, limit: int) -> list[int]:
        """Heights >= ``from_height`` whose block changed the validator set, oldest first."""
        keys = self._view.keys_from(b"validator_changes", encode_height(from_height), limit)
        return [_HEIGHT.unpack(key)[0] for key in keys]

    def has_transaction(self, transaction_hash: bytes) -> bool:
        return self._get(b"transactions", transaction_hash) is not None

    def prune_floor(self) -> int:
        """The oldest height whose state is whole here (0: nothing pruned; ADR 0053)."""
        return pruning.prune_floor(self._view)

    def blocks_floor(self) -> int:
        """The oldest height whose block body is here (1: none pruned; ADR 0053)."""
        return pruning.blocks_floor(self._view)

    def header(self, height: int) -> tuple[BlockHeader, CommitCertificate] | None:
        """Block ``height``'s header and certificate, kept after its body is pruned."""
        committed = self.block(height)
        if committed is not None:
            return committed.block.header, committed.certificate
        try:
            pruned = pruning.load_pruned_block(self._view, height)
        except DecodeError as exc:
            raise NodeFault(f"stored header {height} does not decode: {exc}") from exc
        return None if pruned is None else (pruned.header, pruned.certificate)


class Store:
    """The node's store over its tables (LMDB on disk unless given others). Thread-safe for many
    readers and one writer."""

    def __init__(
        self,
        path: Path | None = None,
        *,
        map_size_bytes: int = MAP_SIZE_BYTES,
        tables: Tables | None = None,
        journal: bool = False,
    ) -> None:
        """``journal``: a store created now keeps the stale-node journal that pruning needs
        (``node.pruning``); it has no effect on a store that exists."""
        if tables is None:
            if path is None:
                raise NodeFault("a store needs a path or tables")
            tables = LmdbTables(path, map_size_bytes=map_size_bytes)
        self.path = path
        self.tables = tables
        self.journal = journal

    def close(self) -> None:
        self.tables.close()

    @contextmanager
    def snapshot(self) -> Iterator[Snapshot]:
        with self.tables.read() as view:
            yield Snapshot(view)

    def check_intact(self) -> None:
        """Refuse a store whose newest write batch did not reach the disk whole, or whose tree
        nodes are keyed another way than this version reads them."""
        with self.snapshot() as snapshot:
            writing = snapshot.meta(b"writing")
            head = snapshot.meta(b"head")
            created = snapshot.meta(b"genesis_hash") is not None
            layout = snapshot.meta(b"tree_layout")
        where = f" in {self.path}" if self.path is not None else ""
        if created and layout != TREE_LAYOUT:
            raise StoreLayout(
                f"the store{where} was written by an earlier version of jinqiao, which laid "
                "out the state tree's nodes or its stale-node journal otherwise (this one keys "
                "nodes by place and hash, ADR 0057, journals in chunks, ADR 0059, and keeps "
                "values in their leaves, ADR 0060): move the store aside and start the node "
                "again to fetch the state from its peers (state sync), or start it from a "
                "backup taken by this version"
            )
        if writing is not None and writing != head:
            raise StoreTorn(
                f"the store{where} is torn: block {_HEIGHT.unpack(writing)[0]} was being written "
                "when the node stopped and only part of it reached the disk; move the store "
                "aside and start the node again to fetch the chain from its peers"
            )

    def is_initialized(self) -> bool:
        with self.snapshot() as snapshot:
            return snapshot.meta(b"genesis_hash") is not None

    def save_genesis(
        self,
        genesis_hash: bytes,
        state_root: bytes,
        state_writes: Mapping[bytes, bytes | None],
        new_nodes: Mapping[bytes, bytes],
    ) -> None:
        with self.tables.write() as batch:
            require(batch.get(b"meta", b"genesis_hash") is None, "store has genesis")
            batch.put(b"meta", b"writing", encode_height(0))
            batch.put(b"meta", b"tree_layout", TREE_LAYOUT)
            if self.journal:
                pruning.start_journal(batch)
            _write_tree_state(batch, 0 if self.journal else None, state_writes, new_nodes)
            batch.put(b"meta", b"genesis_hash", genesis_hash)
            batch.put(b"meta", b"genesis_state_root", state_root)
            batch.put(b"meta", b"head", encode_height(0))

    def load_state(
        self,
        state_root: bytes,
        state_writes: Mapping[bytes, bytes | None],
        new_nodes: Mapping[bytes, bytes],
    ) -> None:
        """Bulk-load one chunk of state into a store that holds genesis and no block yet, in one
        write batch, and make ``state_root`` (the tree's root after this chunk) the state the
        first block executes on. For ``bench growth`` (ADR 0049): a store with millions of
        funded accounts in minutes instead of hours of mint transactions. The caller computes
        the root and nodes with the tree over this store, as ``Chain`` does for a block."""
        with self.tables.write() as batch:
            require(batch.get(b"meta", b"genesis_hash") is not None, "bulk load before genesis")
            head_raw = batch.get(b"meta", b"head")
            head = 0 if head_raw is None else _HEIGHT.unpack(head_raw)[0]
            require(head == 0, "bulk load into a store that holds blocks", head=head)
            batch.put(b"meta", b"writing", encode_height(0))
            # The nodes a chunk replaces are not journaled, and stay: a bulk load happens once,
            # before the first block (ADR 0049).
            journal_height = 0 if pruning.journals(batch) else None
            _write_tree_state(batch, journal_height, state_writes, new_nodes)
            batch.put(b"meta", b"genesis_state_root", state_root)
            batch.put(b"meta", b"head", encode_height(0))

    def save_block(self, write: BlockWrite) -> None:
        """Append one committed block, atomically."""
        header = write.committed.block.header
        height = header.height
        with self.tables.write() as batch:
            head_raw = batch.get(b"meta", b"head")
            head = 0 if head_raw is None else _HEIGHT.unpack(head_raw)[0]
            require(height == head + 1, "blocks must be saved in order", height=height, head=head)
            key = encode_height(height)
            batch.put(b"meta", b"writing", key)  # the commit record opens the batch ...
            batch.put(b"blocks", key, encode(write.committed))
            batch.put(b"block_hashes", write.block_hash, key)
            # A hash that appears again (a replay that a proposer included and the runtime
            # rejected as ``duplicate_transaction``) keeps its first location.
            for index, transaction_hash in enumerate(write.transaction_hashes):
                batch.put(
                    b"transactions",
                    transaction_hash,
                    _LOCATION.pack(height, index),
                    overwrite=False,
                )
            _write_tree_state(
                batch,
                height if pruning.journals(batch) else None,
                write.state_writes,
                write.new_nodes,
                write.stale_nodes,
            )
            if header.next_validators_hash != header.validators_hash:
                batch.put(b"validator_changes", key, b"")
            batch.put(b"meta", b"head", key)  # ... and the head pointer closes it

    def journals(self) -> bool:
        """Whether this store keeps the stale-node journal, so that it can be pruned."""
        with self.tables.read() as view:
            return pruning.journals(view)

    def prune(
        self, suite: CryptoSuite, retention_heights: int, pinned_key: bytes
    ) -> pruning.PruneStep:
        """One bounded prune batch, in one write transaction (``node.pruning.prune_step``)."""
        with self.tables.write() as batch:
            return pruning.prune_step(batch, suite, retention_heights, pinned_key)

    def disk_usage_bytes(self) -> int:
        return self.tables.size_bytes()

    def live_bytes(self) -> int:
        return self.tables.live_bytes()


def _write_tree_state(
    batch: WriteBatch,
    journal_height: int | None,
    state_writes: Mapping[bytes, bytes | None],
    new_nodes: Mapping[bytes, bytes],
    stale_nodes: tuple[bytes, ...] = (),
) -> None:
    """The state a block (or genesis, or a bulk-load chunk) writes. In a store that journals
    (``journal_height`` given), ``pruning.record_block`` writes the tree nodes and journals them
    as it goes; otherwise ``_write_state`` writes them."""
    if journal_height is not None:
        pruning.record_block(batch, journal_height, new_nodes, stale_nodes)
        new_nodes = {}
    _write_state(batch, state_writes, new_nodes)


def _write_state(
    batch: WriteBatch,
    state_writes: Mapping[bytes, bytes | None],
    new_nodes: Mapping[bytes, bytes],
) -> None:
    for key, value in state_writes.items():
        if value is None:
            batch.delete(b"state_latest", key)
        else:
            batch.put(b"state_latest", key, value)
    for node_key, node in new_nodes.items():
        batch.put(b"state_nodes", node_key, node, overwrite=False)
