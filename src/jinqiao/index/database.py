"""The index's database: SQLite (a file, the default) or PostgreSQL, behind one small DB-API shim.

The two dialects share every statement: SQL is written with ``?`` placeholders and portable types
(``BIGINT``, ``TEXT``, ``INSERT … ON CONFLICT``); the PostgreSQL connection rewrites ``?`` to
psycopg's ``%s``. Why a shim rather than SQLAlchemy: the index runs a dozen fixed statements, and
the only differences are the placeholder, how a writer is made exclusive and how errors read
(docs/adr/0027-chain-index.md).

One writer at a time: ``jinqiao index run`` takes an exclusive lock for as long as it runs — an
``flock`` on ``<file>.lock`` for SQLite, a session advisory lock for PostgreSQL — so a second one
stops at once with a message instead of racing the first.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from jinqiao.index.errors import IndexLocked, IndexMissing, IndexUnavailable

BUSY_TIMEOUT_S = 5.0
"""How long a reader waits for SQLite's write lock before reporting the index locked."""
POSTGRES_CONNECT_TIMEOUT_S = 10
WRITER_LOCK_KEY = 0x6A696E7169616F  # "jinqiao": the advisory lock id of PostgreSQL's one writer

Row = tuple[Any, ...]


class Database(Protocol):
    """What the index needs of a database connection."""

    dialect: str
    location: str
    """Where it is, for messages: the SQLite path, or the PostgreSQL URL without its password."""

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> list[Row]: ...

    def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    def transaction(self) -> Any:
        """A context manager: everything inside commits together, or nothing does."""
        ...

    def snapshot(self) -> Any:
        """A context manager: every read inside sees the same committed state, without taking
        the write lock (the export's several files agree on one height)."""
        ...

    def lock_writer(self) -> None:
        """Become the one writer, or raise ``IndexLocked``."""
        ...

    def close(self) -> None: ...


def open_database(location: str, *, create: bool) -> Database:
    """``location`` is a ``postgresql://`` URL or a SQLite file path. ``create`` false: the
    database must exist already (the queries), else ``IndexMissing``."""
    if location.startswith(("postgresql://", "postgres://")):
        return PostgresDatabase(location)
    return SqliteDatabase(Path(location), create=create)


class SqliteDatabase:
    dialect = "sqlite"

    def __init__(self, path: Path, *, create: bool) -> None:
        self.location = str(path)
        self.path = path
        if not create and not path.is_file():
            raise IndexMissing(
                f"no index at {path}: build one with `jinqiao index run --database {path}`"
            )
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # isolation_level=None: transactions are begun and ended explicitly below.
            self._connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            self._connection.execute("PRAGMA journal_mode=WAL")
            # NORMAL under WAL: a crash of the process loses nothing committed; a power cut may
            # lose the last blocks, which are indexed again (the height is in the same commit).
            self._connection.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error as error:
            raise _sqlite_error(error, self.location) from None
        self._lock_file: int | None = None

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> list[Row]:
        try:
            return self._connection.execute(sql, tuple(parameters)).fetchall()
        except sqlite3.Error as error:
            raise _sqlite_error(error, self.location) from None

    def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:

        try:
            self._connection.executemany(sql, rows)
        except sqlite3.Error as error:
            raise _sqlite_error(error, self.location) from None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        # IMMEDIATE: take the write lock at BEGIN, so a reader's snapshot never blocks a commit.
        self.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._connection.rollback()
            raise
        self.execute("COMMIT")

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        # A deferred transaction whose first read pins a WAL snapshot; the writer goes on.
        self.execute("BEGIN DEFERRED")
        try:
            yield
        finally:
            self._connection.rollback()

    def lock_writer(self) -> None:
        lock_path = Path(f"{self.path}.lock")
        descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            raise IndexLocked(
                f"the index {self.path} is being written by another `jinqiao index run` "
                f"(it holds {lock_path}); stop that one first"
            ) from None
        self._lock_file = descriptor

    def close(self) -> None:
        self._connection.close()
        if self._lock_file is not None:
            os.close(self._lock_file)  # closing the descriptor releases the flock
            self._lock_file = None


def _sqlite_error(error: sqlite3.Error, location: str) -> Exception:
    text = str(error)
    if "locked" in text or "busy" in text:
        return IndexLocked(
            f"the index {location} stayed locked for {BUSY_TIMEOUT_S:g} s by another process"
        )
    if "no such table" in text:
        return IndexMissing(f"{location} is not a jinqiao index ({text})")
    if "file is not a database" in text or "malformed" in text:
        return IndexUnavailable(f"{location} is not a SQLite database: {text}")
    return IndexUnavailable(f"the index {location}: {text}")


class PostgresDatabase:
    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        import psycopg  # the [postgres] extra: a validator does not need it

        info = psycopg.conninfo.conninfo_to_dict(url)
        info.pop("password", None)
        self.location = (
            f"postgresql://{info.get('host', '')}:{info.get('port', 5432)}/{info.get('dbname', '')}"
        )
        try:
            self._connection = psycopg.connect(
                url, autocommit=True, connect_timeout=POSTGRES_CONNECT_TIMEOUT_S
            )
        except psycopg.Error as error:
            raise IndexUnavailable(
                f"cannot reach the index database {self.location}: {_first_line(error)}"
            ) from None

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> list[Row]:
        import psycopg

        try:
            cursor = self._connection.execute(_placeholders(sql), tuple(parameters))
            return cursor.fetchall() if cursor.description is not None else []
        except psycopg.errors.UndefinedTable as error:
            raise IndexMissing(
                f"{self.location} is not a jinqiao index ({_first_line(error)})"
            ) from None
        except psycopg.errors.LockNotAvailable:
            raise IndexLocked(f"the index {self.location} is locked by another session") from None
        except psycopg.Error as error:
            raise IndexUnavailable(f"the index {self.location}: {_first_line(error)}") from None

    def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        import psycopg

        try:
            with self._connection.cursor() as cursor:
                cursor.executemany(_placeholders(sql), rows)
        except psycopg.Error as error:
            raise IndexUnavailable(f"the index {self.location}: {_first_line(error)}") from None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._connection.transaction():
            yield

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        with self._connection.transaction():
            self.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield

    def lock_writer(self) -> None:
        (row,) = self.execute("SELECT pg_try_advisory_lock(?)", (WRITER_LOCK_KEY,))
        if not row[0]:
            raise IndexLocked(
                f"the index {self.location} is being written by another `jinqiao index run`; "
                "stop that one first"
            )

    def close(self) -> None:
        self._connection.close()  # ends the session, and with it the advisory lock


def _placeholders(sql: str) -> str:
    # The index's statements hold no literal question marks or percent signs.
    return sql.replace("?", "%s")


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
