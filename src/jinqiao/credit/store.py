"""A member's credit store: its behaviour records, encrypted under per-subject keys, in one
SQLite database file; erasing a subject destroys its key and its records.

Each subject gets a random 256-bit key the first time a record of it is stored. A record is kept
as ``ChaCha20-Poly1305(key, nonce, salt || canonical body, associated data = commitment)``: the
salt that opens the on-chain commitment is inside the ciphertext, so without the key neither the
body nor the link to the commitment can be recovered. The category and period are kept in clear
beside it (they are on chain anyway) so a disclosure can select by category.

Erasure deletes the subject's key and records in one transaction with ``PRAGMA secure_delete``
on, so SQLite overwrites the freed pages instead of leaving the bytes in the file, and remembers
the subject hash as erased so nothing of it is stored again. Tables::

    subject_keys(subject BLOB PRIMARY KEY, key BLOB)
    records(commitment BLOB PRIMARY KEY, subject BLOB, category TEXT, period INTEGER,
            nonce BLOB, sealed BLOB)
    erased(subject BLOB PRIMARY KEY)
    followed(chain TEXT PRIMARY KEY, height INTEGER)   -- the last block a node's follower handled
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from jinqiao.apps.credit.records import SALT_BYTES, Hash, RecordBody, commitment, record_problem
from jinqiao.apps.credit.scoring import Disclosure
from jinqiao.core.codec import decode, encode
from jinqiao.core.errors import InvalidInput, NodeFault

KEY_BYTES = 32
NONCE_BYTES = 12
MAX_RECORD_BYTES = 4096
BUSY_TIMEOUT_S = 10.0
"""How long a write waits for another process's transaction on the same file."""
SCHEMA = """
CREATE TABLE IF NOT EXISTS subject_keys (subject BLOB PRIMARY KEY, key BLOB NOT NULL)
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS records (
    commitment BLOB PRIMARY KEY,
    subject BLOB NOT NULL,
    category TEXT NOT NULL,
    period INTEGER NOT NULL,
    nonce BLOB NOT NULL,
    sealed BLOB NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS records_by_subject ON records (subject, period);
CREATE TABLE IF NOT EXISTS erased (subject BLOB PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS followed (chain TEXT PRIMARY KEY, height INTEGER NOT NULL)
    WITHOUT ROWID;
"""


@dataclass(frozen=True)
class StoredRecord:
    """What the submitter puts on chain for a stored record (``submit_record``)."""

    subject: bytes
    category: str
    period: int
    commitment: bytes


class CreditStore:
    """One member's records in the SQLite file at ``path`` (created if absent). Safe to use from
    several threads (one connection, one lock: a node's API serves disclosures from worker
    threads) and beside other processes that open the same file (the member's back office adds
    records to its node's store)."""

    def __init__(self, path: Path, hash_function: Hash) -> None:
        self._hash = hash_function
        self._lock = threading.RLock()
        self._db = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_S
        )
        self._db.execute("PRAGMA secure_delete = ON")
        self._db.execute("PRAGMA foreign_keys = ON")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> CreditStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing --------------------------------------------------------------------------

    def add(self, body: RecordBody) -> StoredRecord:
        """Store a record under its subject's key; what to commit on chain comes back."""
        problem = record_problem(body)
        if problem is not None:
            raise InvalidInput(f"the record is malformed: {problem}", code="invalid_record")
        salt = secrets.token_bytes(SALT_BYTES)
        digest = commitment(self._hash, salt, body)
        nonce = secrets.token_bytes(NONCE_BYTES)
        with self._lock, self._transaction():
            self._refuse_erased(body.subject)
            key = self._key(body.subject, create=True)
            sealed = ChaCha20Poly1305(key).encrypt(nonce, salt + encode(body), digest)
            self._db.execute(
                "INSERT INTO records VALUES (?, ?, ?, ?, ?, ?)",
                (digest, body.subject, body.category, body.period, nonce, sealed),
            )
        return StoredRecord(body.subject, body.category, body.period, digest)

    def erase(self, subject: bytes) -> int:
        """Destroy the subject's key and records; the number of records destroyed. Erasing an
        erased subject destroys nothing and returns 0."""
        with self._lock, self._transaction():
            return self._erase(subject)

    def erase_committed(self, chain: str, height: int, subjects: Iterable[bytes]) -> int:
        """Erase the subjects a committed block of ``chain`` erased and note ``height`` as handled,
        in one transaction (a crash leaves both undone, and the block is handled again); the
        number of records destroyed. ``NodeFault`` if ``height`` does not follow the last one."""
        with self._lock, self._transaction():
            last = self._followed(chain)
            if height != last + 1:
                raise NodeFault("credit erasures followed out of order", last=last, height=height)
            destroyed = sum(self._erase(subject) for subject in subjects)
            self._db.execute("INSERT OR REPLACE INTO followed VALUES (?, ?)", (chain, height))
        return destroyed

    def follow_from(self, chain: str, height: int) -> None:
        """Note the blocks of ``chain`` below ``height`` as handled, in a store that has handled
        none: a node started from a snapshot (ADR 0054) holds no block below its base, and its
        new store no record those blocks could erase."""
        with self._lock, self._transaction():
            if self._followed(chain) == 0 and height > 1:
                self._db.execute(
                    "INSERT OR REPLACE INTO followed VALUES (?, ?)", (chain, height - 1)
                )

    def followed_height(self, chain: str) -> int:
        """The last block of ``chain`` whose erasures were handled (0: none yet)."""
        with self._lock:
            return self._followed(chain)

    # -- reading --------------------------------------------------------------------------

    def is_erased(self, subject: bytes) -> bool:
        with self._lock:
            row = self._db.execute("SELECT 1 FROM erased WHERE subject = ?", (subject,)).fetchone()
        return row is not None

    def disclose(self, subject: bytes, categories: Iterable[str]) -> list[Disclosure]:
        """The subject's records in ``categories``, decrypted, with the salts that open their
        commitments (for a reader whose access entry on chain covers these categories)."""
        wanted = sorted(set(categories))
        marks = ",".join("?" for _ in wanted)
        with self._lock:
            self._refuse_erased(subject)
            rows = self._db.execute(
                f"SELECT commitment, nonce, sealed FROM records WHERE subject = ? "  # noqa: S608
                f"AND category IN ({marks}) ORDER BY period, commitment",
                (subject, *wanted),
            ).fetchall()
            if not rows:
                return []
            key = self._key(subject, create=False)
        return [self._open(key, bytes(d), bytes(n), bytes(s)) for d, n, s in rows]

    # -- helpers --------------------------------------------------------------------------

    def _erase(self, subject: bytes) -> int:
        count = self._db.execute(
            "SELECT count(*) FROM records WHERE subject = ?", (subject,)
        ).fetchone()[0]
        self._db.execute("DELETE FROM records WHERE subject = ?", (subject,))
        self._db.execute("DELETE FROM subject_keys WHERE subject = ?", (subject,))
        self._db.execute("INSERT OR IGNORE INTO erased VALUES (?)", (subject,))
        return int(count)

    def _followed(self, chain: str) -> int:
        row = self._db.execute("SELECT height FROM followed WHERE chain = ?", (chain,)).fetchone()
        return 0 if row is None else int(row[0])

    def _open(self, key: bytes, digest: bytes, nonce: bytes, sealed: bytes) -> Disclosure:
        try:
            plain = ChaCha20Poly1305(key).decrypt(nonce, sealed, digest)
        except InvalidTag:
            raise NodeFault(
                "a stored credit record does not decrypt", commitment=digest.hex()
            ) from None
        body = decode(plain[SALT_BYTES:], RecordBody, max_bytes=MAX_RECORD_BYTES)
        salt = plain[:SALT_BYTES]
        if commitment(self._hash, salt, body) != digest:
            raise NodeFault("a stored credit record does not open its commitment")
        return Disclosure(salt, body)

    def _key(self, subject: bytes, *, create: bool) -> bytes:
        row = self._db.execute(
            "SELECT key FROM subject_keys WHERE subject = ?", (subject,)
        ).fetchone()
        if row is not None:
            return bytes(row[0])
        if not create:
            raise NodeFault("records of a subject without a key")
        key = ChaCha20Poly1305.generate_key()
        self._db.execute("INSERT INTO subject_keys VALUES (?, ?)", (subject, key))
        return key

    def _refuse_erased(self, subject: bytes) -> None:
        if self.is_erased(subject):
            raise InvalidInput("the subject was erased", code="subject_erased")

    def _transaction(self) -> SqliteTransaction:
        return SqliteTransaction(self._db)


class SqliteTransaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, or ``ROLLBACK`` on any exception."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, *rest: object) -> None:
        self._db.execute("ROLLBACK" if kind is not None else "COMMIT")
