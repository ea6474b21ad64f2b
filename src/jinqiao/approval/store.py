"""The service's durable state, in one SQLite file (``<state_dir>/approvals.sqlite``, mode 0600):
enrolled approvers (TOTP secret, last TOTP step used, consecutive failures, lock-out), recent
attempts (the rate limit) and requested approvals. Every change is one transaction, so a crash
never leaves a code half-consumed or a failure half-counted."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from jinqiao.core.errors import InvalidInput

__all__ = ["ApprovalStore", "Approver", "PendingApproval"]

DATABASE_FILE = "approvals.sqlite"
MAX_APPROVER_NAME = 64

_SCHEMA = """
CREATE TABLE IF NOT EXISTS approvers (
    name TEXT PRIMARY KEY,
    totp_secret TEXT NOT NULL,
    last_totp_step INTEGER NOT NULL DEFAULT -1,
    failures INTEGER NOT NULL DEFAULT 0,
    locked_until_s REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS attempts (approver TEXT NOT NULL, at_s REAL NOT NULL);
CREATE INDEX IF NOT EXISTS attempts_by_approver ON attempts (approver, at_s);
CREATE TABLE IF NOT EXISTS pending (
    transaction_hash BLOB PRIMARY KEY,
    body BLOB NOT NULL,
    created_s REAL NOT NULL,
    approved_by TEXT
);
"""


@dataclass(frozen=True)
class Approver:
    name: str
    totp_secret: str
    last_totp_step: int
    failures: int
    locked_until_s: float


@dataclass(frozen=True)
class PendingApproval:
    transaction_hash: bytes
    body: bytes
    created_s: float
    approved_by: str | None


def check_approver_name(name: str) -> None:
    if not name or len(name) > MAX_APPROVER_NAME or not name.isprintable() or " " in name:
        raise InvalidInput(
            f"an approver name is 1..{MAX_APPROVER_NAME} printable characters without spaces"
        )


class ApprovalStore:
    """One connection, used under the service's lock (``check_same_thread`` is off because
    FastAPI answers from worker threads; the service serializes them)."""

    def __init__(self, state_dir: Path) -> None:
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = state_dir / DATABASE_FILE
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All writes inside commit together, or none does."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- approvers ------------------------------------------------------------------------
    def approver(self, name: str) -> Approver | None:
        row = self._db.execute(
            "SELECT name, totp_secret, last_totp_step, failures, locked_until_s "
            "FROM approvers WHERE name = ?",
            (name,),
        ).fetchone()
        return None if row is None else Approver(*row)

    def approvers(self) -> list[Approver]:
        names = [row[0] for row in self._db.execute("SELECT name FROM approvers ORDER BY name")]
        return [approver for name in names if (approver := self.approver(name)) is not None]

    def enroll_totp(self, name: str, secret: str) -> None:
        """Enroll ``name`` with a new TOTP secret (replacing the old one: re-enrolment)."""
        check_approver_name(name)
        with self.transaction() as db:
            db.execute(
                "INSERT INTO approvers (name, totp_secret) VALUES (?, ?) ON CONFLICT (name) "
                "DO UPDATE SET totp_secret = excluded.totp_secret, last_totp_step = -1, "
                "failures = 0, locked_until_s = 0",
                (name, secret),
            )

    def remove(self, name: str) -> bool:
        with self.transaction() as db:
            return db.execute("DELETE FROM approvers WHERE name = ?", (name,)).rowcount == 1

    def unlock(self, name: str) -> bool:
        with self.transaction() as db:
            changed = db.execute(
                "UPDATE approvers SET failures = 0, locked_until_s = 0 WHERE name = ?", (name,)
            )
            return changed.rowcount == 1

    # -- attempts and failures (callers hold a transaction) --------------------------------
    @staticmethod
    def count_attempts(db: sqlite3.Connection, name: str, since_s: float) -> int:
        db.execute("DELETE FROM attempts WHERE at_s < ?", (since_s,))
        row = db.execute(
            "SELECT COUNT(*) FROM attempts WHERE approver = ? AND at_s >= ?", (name, since_s)
        ).fetchone()
        return int(row[0])

    @staticmethod
    def add_attempt(db: sqlite3.Connection, name: str, at_s: float) -> None:
        db.execute("INSERT INTO attempts (approver, at_s) VALUES (?, ?)", (name, at_s))

    @staticmethod
    def record_failure(
        db: sqlite3.Connection, name: str, max_failures: int, locked_until_s: float
    ) -> bool:
        """Count one failed second factor; at ``max_failures`` lock the approver out until
        ``locked_until_s`` (and start counting again). True when this failure locked."""
        row = db.execute("SELECT failures FROM approvers WHERE name = ?", (name,)).fetchone()
        failures = int(row[0]) + 1
        locked = failures >= max_failures
        db.execute(
            "UPDATE approvers SET failures = ?, locked_until_s = CASE WHEN ? THEN ? "
            "ELSE locked_until_s END WHERE name = ?",
            (0 if locked else failures, locked, locked_until_s, name),
        )
        return locked

    @staticmethod
    def record_totp_success(db: sqlite3.Connection, name: str, step: int) -> None:
        db.execute(
            "UPDATE approvers SET failures = 0, last_totp_step = ? WHERE name = ?", (step, name)
        )

    # -- requested approvals -------------------------------------------------------------
    @staticmethod
    def pending(db: sqlite3.Connection, transaction_hash: bytes) -> PendingApproval | None:
        row = db.execute(
            "SELECT transaction_hash, body, created_s, approved_by FROM pending "
            "WHERE transaction_hash = ?",
            (transaction_hash,),
        ).fetchone()
        return None if row is None else PendingApproval(*row)

    @staticmethod
    def add_pending(
        db: sqlite3.Connection, transaction_hash: bytes, body: bytes, created_s: float
    ) -> None:
        db.execute(
            "INSERT INTO pending (transaction_hash, body, created_s) VALUES (?, ?, ?)",
            (transaction_hash, body, created_s),
        )

    @staticmethod
    def remove_pending(db: sqlite3.Connection, transaction_hash: bytes) -> None:
        db.execute("DELETE FROM pending WHERE transaction_hash = ?", (transaction_hash,))

    @staticmethod
    def count_pending(db: sqlite3.Connection, expired_before_s: float) -> int:
        """Forget unapproved requests created before ``expired_before_s``; count the rest."""
        db.execute(
            "DELETE FROM pending WHERE approved_by IS NULL AND created_s < ?", (expired_before_s,)
        )
        row = db.execute("SELECT COUNT(*) FROM pending WHERE approved_by IS NULL").fetchone()
        return int(row[0])

    @staticmethod
    def mark_approved(db: sqlite3.Connection, transaction_hash: bytes, name: str) -> None:
        db.execute(
            "UPDATE pending SET approved_by = ? WHERE transaction_hash = ?",
            (name, transaction_hash),
        )
