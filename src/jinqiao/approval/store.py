"""The service's durable state, in one SQLite file (``<state_dir>/approvals.sqlite``, mode 0600):
enrolled approvers (TOTP secret, last TOTP step used, consecutive failures, lock-out), their
WebAuthn credentials (public key, sign count), open WebAuthn enrolments and challenges, recent
attempts (the rate limit) and requested approvals. Every change is one transaction, so a crash
never leaves a code half-consumed or a failure half-counted."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from jinqiao.approval.passkeys import RegisteredCredential
from jinqiao.core.errors import InvalidInput

__all__ = ["ApprovalStore", "Approver", "Challenge", "Enrolment", "PendingApproval"]

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
CREATE TABLE IF NOT EXISTS webauthn_credentials (
    credential_id BLOB PRIMARY KEY,
    approver TEXT NOT NULL,
    public_key BLOB NOT NULL,
    sign_count INTEGER NOT NULL,
    created_s REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS webauthn_enrolments (
    token_hash BLOB PRIMARY KEY,
    approver TEXT NOT NULL,
    created_s REAL NOT NULL,
    challenge BLOB
);
CREATE TABLE IF NOT EXISTS webauthn_challenges (
    challenge_id TEXT PRIMARY KEY,
    approval_hash BLOB NOT NULL,
    approver TEXT NOT NULL,
    approving BLOB NOT NULL,
    nonce BLOB NOT NULL,
    created_s REAL NOT NULL,
    signature BLOB
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
class Enrolment:
    token_hash: bytes
    approver: str
    created_s: float
    challenge: bytes | None


@dataclass(frozen=True)
class Challenge:
    challenge_id: str
    approval_hash: bytes
    approver: str
    approving: bytes
    """The canonical bytes of the approving transaction the service signs once approved."""
    nonce: bytes
    created_s: float
    signature: bytes | None
    """Set when the challenge was answered: it is used."""


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

    # -- WebAuthn (ADR 0052) ----------------------------------------------------------------
    def add_enrolment(self, name: str, token_hash: bytes, created_s: float) -> None:
        """An enrolment link for ``name`` (an approver row without TOTP when new)."""
        check_approver_name(name)
        with self.transaction() as db:
            db.execute(
                "INSERT INTO approvers (name, totp_secret) VALUES (?, '') "
                "ON CONFLICT (name) DO NOTHING",
                (name,),
            )
            db.execute(
                "INSERT INTO webauthn_enrolments (token_hash, approver, created_s) "
                "VALUES (?, ?, ?)",
                (token_hash, name, created_s),
            )

    @staticmethod
    def enrolment(db: sqlite3.Connection, token_hash: bytes) -> Enrolment | None:
        row = db.execute(
            "SELECT token_hash, approver, created_s, challenge FROM webauthn_enrolments "
            "WHERE token_hash = ?",
            (token_hash,),
        ).fetchone()
        return None if row is None else Enrolment(*row)

    @staticmethod
    def set_enrolment_challenge(
        db: sqlite3.Connection, token_hash: bytes, challenge: bytes
    ) -> None:
        db.execute(
            "UPDATE webauthn_enrolments SET challenge = ? WHERE token_hash = ?",
            (challenge, token_hash),
        )

    @staticmethod
    def add_credential(
        db: sqlite3.Connection,
        token_hash: bytes,
        name: str,
        credential: RegisteredCredential,
        now_s: float,
    ) -> None:
        """Enrol ``credential`` for ``name`` and spend the enrolment link, together."""
        db.execute("DELETE FROM webauthn_enrolments WHERE token_hash = ?", (token_hash,))
        db.execute(
            "INSERT INTO webauthn_credentials (credential_id, approver, public_key, sign_count, "
            "created_s) VALUES (?, ?, ?, ?, ?)",
            (credential.credential_id, name, credential.public_key, credential.sign_count, now_s),
        )

    def credentials(self, name: str) -> list[RegisteredCredential]:
        rows = self._db.execute(
            "SELECT credential_id, public_key, sign_count FROM webauthn_credentials "
            "WHERE approver = ? ORDER BY created_s",
            (name,),
        )
        return [RegisteredCredential(*row) for row in rows]

    def credential_owner(self, credential_id: bytes) -> str | None:
        row = self._db.execute(
            "SELECT approver FROM webauthn_credentials WHERE credential_id = ?", (credential_id,)
        ).fetchone()
        return None if row is None else str(row[0])

    def credential(self, name: str, credential_id: bytes) -> RegisteredCredential | None:
        row = self._db.execute(
            "SELECT credential_id, public_key, sign_count FROM webauthn_credentials "
            "WHERE approver = ? AND credential_id = ?",
            (name, credential_id),
        ).fetchone()
        return None if row is None else RegisteredCredential(*row)

    @staticmethod
    def add_challenge(
        db: sqlite3.Connection, challenge: Challenge, expired_before_s: float
    ) -> None:
        """Remember ``challenge``; forget unanswered ones created before ``expired_before_s``."""
        db.execute(
            "DELETE FROM webauthn_challenges WHERE signature IS NULL AND created_s < ?",
            (expired_before_s,),
        )
        db.execute(
            "INSERT INTO webauthn_challenges (challenge_id, approval_hash, approver, approving, "
            "nonce, created_s) VALUES (?, ?, ?, ?, ?, ?)",
            (
                challenge.challenge_id,
                challenge.approval_hash,
                challenge.approver,
                challenge.approving,
                challenge.nonce,
                challenge.created_s,
            ),
        )

    def challenge(self, challenge_id: str) -> Challenge | None:
        row = self._db.execute(
            "SELECT challenge_id, approval_hash, approver, approving, nonce, created_s, "
            "signature FROM webauthn_challenges WHERE challenge_id = ?",
            (challenge_id,),
        ).fetchone()
        return None if row is None else Challenge(*row)

    @staticmethod
    def record_assertion(
        db: sqlite3.Connection,
        challenge: Challenge,
        credential_id: bytes,
        sign_count: int,
        signature: bytes,
    ) -> None:
        """Use the challenge, raise the credential's counter, mark the approval approved and
        reset the approver's failures: all or nothing."""
        db.execute(
            "UPDATE webauthn_challenges SET signature = ? WHERE challenge_id = ?",
            (signature, challenge.challenge_id),
        )
        db.execute(
            "UPDATE webauthn_credentials SET sign_count = ? WHERE credential_id = ?",
            (sign_count, credential_id),
        )
        db.execute("UPDATE approvers SET failures = 0 WHERE name = ?", (challenge.approver,))
        ApprovalStore.mark_approved(db, challenge.approval_hash, challenge.approver)
