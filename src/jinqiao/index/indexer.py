"""``ChainIndex``: an index database bound to one chain, filled from committed blocks.

Blocks come from ``Client.proven_block``: each one's header is checked against its commit
certificate and the genesis validators, and its transactions and receipts against the header's
roots, before a row is written — the index holds only what the validators signed.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from jinqiao.client import Client, NodesUnreachable
from jinqiao.core.genesis import Genesis, genesis_hash
from jinqiao.index.database import Database, open_database
from jinqiao.index.errors import IndexBehind, IndexMismatch, IndexMissing
from jinqiao.index.schema import DATA_TABLES, SCHEMA_VERSION, create_schema
from jinqiao.index.store import indexed_height, save_block

MAX_POLL_INTERVAL_S = 60.0
MAX_UNREACHABLE_POLLS = 300
"""``follow`` rides out a node restart: it stops after this many polls in a row that reached
no node (five minutes at the default interval)."""


class ChainIndex:
    """An index at ``location`` (a SQLite path or a ``postgresql://`` URL). ``writer`` true:
    create the tables if needed and take the one-writer lock; false: open an existing index for
    queries (``IndexMissing`` when there is none)."""

    def __init__(self, location: str, *, writer: bool = False) -> None:
        self.database: Database = open_database(location, create=writer)
        try:
            if writer:
                self.database.lock_writer()
                create_schema(self.database)
            self._check_schema(writer)
        except BaseException:
            self.database.close()
            raise

    def close(self) -> None:
        self.database.close()

    def __enter__(self) -> ChainIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def location(self) -> str:
        return self.database.location

    def meta(self, key: str) -> str | None:
        rows = self.database.execute("SELECT value FROM index_meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def _check_schema(self, writer: bool) -> None:
        version = self.meta("schema_version")
        if version is None and writer:
            with self.database.transaction():
                self.database.execute(
                    "INSERT INTO index_meta VALUES ('schema_version', ?) ON CONFLICT DO NOTHING",
                    (SCHEMA_VERSION,),
                )
        elif version is not None and version != SCHEMA_VERSION:
            raise IndexMismatch(
                f"the index {self.location} has schema {version}, this jinqiao writes "
                f"{SCHEMA_VERSION}: rebuild it (`jinqiao index run --rebuild`)"
            )

    def height(self) -> int:
        """The last indexed height (0: nothing indexed yet)."""
        return indexed_height(self.database)

    def bind(self, genesis: Genesis) -> None:
        """Tie the index to ``genesis``'s chain on first use; later, refuse another chain."""
        wanted = genesis_hash(genesis).hex()
        found = self.meta("genesis_hash")
        if found is None:
            with self.database.transaction():
                self.database.execute(
                    "INSERT INTO index_meta VALUES ('genesis_hash', ?), ('chain_id', ?)",
                    (wanted, genesis.chain_id),
                )
        elif found != wanted:
            raise IndexMismatch(
                f"the index {self.location} was built from chain {self.meta('chain_id')!r} "
                f"(genesis {found[:16]}…), not this one (genesis {wanted[:16]}…): name another "
                "database, or rebuild it with --rebuild"
            )

    def rebuild(self) -> None:
        """Empty the index (every table, in one transaction); the next run indexes from 1."""
        with self.database.transaction():
            for table in (*DATA_TABLES, "index_meta"):
                self.database.execute(f"DELETE FROM {table}")  # noqa: S608 (fixed table names)
            self.database.execute(
                "INSERT INTO index_meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,)
            )

    def catch_up(
        self,
        client: Client,
        *,
        until_height: int | None = None,
        max_blocks_per_second: float | None = None,
        on_block: Callable[[int], None] | None = None,
    ) -> int:
        """Index every committed block after the last indexed one, up to the chain's head (or
        ``until_height``); returns the new indexed height."""
        self.bind(client.genesis)
        head = int(client.status()["height"])
        current = self.height()
        if current > head:
            raise IndexMismatch(
                f"the index {self.location} is at height {current}, the chain only at {head}: "
                "it was built from another network (rebuild it with --rebuild)"
            )
        target = head if until_height is None else min(head, until_height)
        interval_s = 0.0 if not max_blocks_per_second else 1.0 / max_blocks_per_second
        for height in range(current + 1, target + 1):
            started = time.monotonic()
            save_block(self.database, client.suite, client.proven_block(height))
            if on_block is not None:
                on_block(height)
            pause_s = interval_s - (time.monotonic() - started)
            if pause_s > 0:
                time.sleep(pause_s)
        return max(current, target)

    def follow(
        self,
        client: Client,
        *,
        poll_interval_s: float = 1.0,
        max_blocks_per_second: float | None = None,
        stop: Callable[[], bool] = lambda: False,
        on_block: Callable[[int], None] | None = None,
        on_unreachable: Callable[[NodesUnreachable], None] | None = None,
    ) -> int:
        """``catch_up`` again and again, ``poll_interval_s`` apart, until ``stop()`` is true.
        Polls that reach no node are reported to ``on_unreachable`` and tried again, up to
        ``MAX_UNREACHABLE_POLLS`` in a row; every other error ends the run."""
        if not 0 < poll_interval_s <= MAX_POLL_INTERVAL_S:
            raise ValueError(f"poll_interval_s must be in (0, {MAX_POLL_INTERVAL_S:g}]")
        height = self.height()
        unreachable = 0
        while not stop():
            try:
                height = self.catch_up(
                    client, max_blocks_per_second=max_blocks_per_second, on_block=on_block
                )
                unreachable = 0
            except NodesUnreachable as error:
                unreachable += 1
                if unreachable >= MAX_UNREACHABLE_POLLS:
                    raise
                if on_unreachable is not None:
                    on_unreachable(error)
            time.sleep(poll_interval_s)
        return height

    def require_current(self, chain_height: int, max_behind_blocks: int) -> int:
        """The indexed height, or ``IndexBehind`` when it trails ``chain_height`` by more than
        ``max_behind_blocks``."""
        height = self.height()
        if height == 0 and self.meta("genesis_hash") is None:
            raise IndexMissing(f"the index {self.location} is empty: run `jinqiao index run`")
        if chain_height - height > max_behind_blocks:
            raise IndexBehind(
                f"the index {self.location} is at height {height}, {chain_height - height} "
                f"blocks behind the chain ({chain_height}; at most {max_behind_blocks} accepted): "
                "is `jinqiao index run --follow` running?"
            )
        return height
