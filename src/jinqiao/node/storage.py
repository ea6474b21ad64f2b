"""On-disk storage: one LMDB environment, written in one transaction per block.

Tables (LMDB named databases):

=============== ============================== =============================================
table           key                            value
=============== ============================== =============================================
meta            b"head"                        height (8-byte big-endian)
                b"genesis_hash"                32 bytes
                b"genesis_state_root"          32 bytes
blocks          height (8-byte big-endian)     canonical ``CommittedBlock``
block_hashes    block hash                     height
transactions    transaction hash               height + index in block (8 + 4 bytes)
state_latest    full state key                 current value (for execution)
state_nodes     node hash                      sparse Merkle tree node (content-addressed)
state_values    value hash                     value (content-addressed, for reads at a height)
validator_c…    height h (8-byte big-endian)   empty: block h changed the validator set (its
                                               ``next_validators_hash`` differs)
=============== ============================== =============================================

Everything a block changes — the block, its certificate and receipts, the indexes, the new tree
nodes and values, the latest values and the head pointer — is written in one LMDB write
transaction with ``sync`` on, so a crash at any instant leaves the store at the previous block or
at this one, never between (DESIGN.md §3 "Storage").
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lmdb

from jinqiao.core.codec import decode_stored, encode
from jinqiao.core.errors import DecodeError, NodeFault, require
from jinqiao.core.types import CommittedBlock

MAP_SIZE_BYTES = 64 * 1024**3
_HEIGHT = struct.Struct(">Q")
_LOCATION = struct.Struct(">QI")
_TABLES = (
    b"meta",
    b"blocks",
    b"block_hashes",
    b"transactions",
    b"state_latest",
    b"state_nodes",
    b"state_values",
    b"validator_changes",
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
    new_values: Mapping[bytes, bytes]


class Snapshot:
    """A consistent read view of the store (one LMDB read transaction)."""

    def __init__(self, store: Store, transaction: Any) -> None:
        self._store = store
        self._txn = transaction

    def _get(self, table: bytes, key: bytes) -> bytes | None:
        value = self._txn.get(key, db=self._store._db[table])
        return None if value is None else bytes(value)

    # StateReader
    def get(self, key: bytes) -> bytes | None:
        return self._get(b"state_latest", key)

    # NodeReader
    def get_node(self, node_hash: bytes) -> bytes | None:
        return self._get(b"state_nodes", node_hash)

    def get_value(self, value_hash: bytes) -> bytes | None:
        return self._get(b"state_values", value_hash)

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
        heights: list[int] = []
        cursor = self._txn.cursor(db=self._store._db[b"validator_changes"])
        if cursor.set_range(encode_height(from_height)):
            for key in cursor.iternext(keys=True, values=False):
                heights.append(_HEIGHT.unpack(bytes(key))[0])
                if len(heights) >= limit:
                    break
        return heights

    def has_transaction(self, transaction_hash: bytes) -> bool:
        return self._get(b"transactions", transaction_hash) is not None


class Store:
    """The node's LMDB store. Thread-safe for many readers and one writer."""

    def __init__(self, path: Path, *, map_size_bytes: int = MAP_SIZE_BYTES) -> None:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = path
        self._env = lmdb.open(
            str(path),
            map_size=map_size_bytes,
            max_dbs=len(_TABLES),
            sync=True,
            metasync=True,
            writemap=False,
            max_readers=256,
            subdir=True,
            lock=True,
        )
        self._db = {name: self._env.open_db(name) for name in _TABLES}

    def close(self) -> None:
        self._env.close()

    @contextmanager
    def snapshot(self) -> Iterator[Snapshot]:
        with self._env.begin(buffers=False) as transaction:
            yield Snapshot(self, transaction)

    def is_initialized(self) -> bool:
        with self.snapshot() as snapshot:
            return snapshot.meta(b"genesis_hash") is not None

    def save_genesis(
        self,
        genesis_hash: bytes,
        state_root: bytes,
        state_writes: Mapping[bytes, bytes | None],
        new_nodes: Mapping[bytes, bytes],
        new_values: Mapping[bytes, bytes],
    ) -> None:
        with self._env.begin(write=True) as txn:
            require(txn.get(b"genesis_hash", db=self._db[b"meta"]) is None, "store has genesis")
            self._write_state(txn, state_writes, new_nodes, new_values)
            txn.put(b"genesis_hash", genesis_hash, db=self._db[b"meta"])
            txn.put(b"genesis_state_root", state_root, db=self._db[b"meta"])
            txn.put(b"head", encode_height(0), db=self._db[b"meta"])

    def save_block(self, write: BlockWrite) -> None:
        """Append one committed block, atomically."""
        header = write.committed.block.header
        height = header.height
        with self._env.begin(write=True) as txn:
            head_raw = txn.get(b"head", db=self._db[b"meta"])
            head = 0 if head_raw is None else _HEIGHT.unpack(head_raw)[0]
            require(height == head + 1, "blocks must be saved in order", height=height, head=head)
            key = encode_height(height)
            txn.put(key, encode(write.committed), db=self._db[b"blocks"])
            txn.put(write.block_hash, key, db=self._db[b"block_hashes"])
            transactions = self._db[b"transactions"]
            # A hash that appears again (a replay that a proposer included and the runtime
            # rejected as ``duplicate_transaction``) keeps its first location.
            for index, transaction_hash in enumerate(write.transaction_hashes):
                txn.put(
                    transaction_hash,
                    _LOCATION.pack(height, index),
                    db=transactions,
                    overwrite=False,
                )
            self._write_state(txn, write.state_writes, write.new_nodes, write.new_values)
            if header.next_validators_hash != header.validators_hash:
                txn.put(key, b"", db=self._db[b"validator_changes"])
            txn.put(b"head", key, db=self._db[b"meta"])

    def _write_state(
        self,
        txn: Any,
        state_writes: Mapping[bytes, bytes | None],
        new_nodes: Mapping[bytes, bytes],
        new_values: Mapping[bytes, bytes],
    ) -> None:
        latest = self._db[b"state_latest"]
        for key, value in state_writes.items():
            if value is None:
                txn.delete(key, db=latest)
            else:
                txn.put(key, value, db=latest)
        nodes = self._db[b"state_nodes"]
        for node_hash, node in new_nodes.items():
            txn.put(node_hash, node, db=nodes, overwrite=False)
        values = self._db[b"state_values"]
        for value_hash, value in new_values.items():
            txn.put(value_hash, value, db=values, overwrite=False)

    def disk_usage_bytes(self) -> int:
        return sum(
            os.path.getsize(self.path / name)
            for name in ("data.mdb",)
            if (self.path / name).exists()
        )
