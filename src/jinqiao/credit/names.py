"""An organization's account names, off chain: the names of the accounts it registered and the
salts that open their commitments in the registry, each encrypted under its own key in one
SQLite file; erasing an account's name destroys the key.

The registry keeps only ``Account.name_commitment`` (``jinqiao.core.names.name_commitment``).
The organization that registered a customer keeps the name here and hands name and salt to
whom it chooses, who checks them against the chain (``opens``). One key per account — the
account is the data subject — so erasing one customer's name leaves the others readable, as
in ``jinqiao.credit.store``: ``ChaCha20-Poly1305(key, nonce, salt || UTF-8 name, associated data
= address || commitment)``, erasure with ``PRAGMA secure_delete`` on. The chain stays valid: the
commitment without its salt tells nothing. Tables::

    names(address BLOB PRIMARY KEY, commitment BLOB, key BLOB, nonce BLOB, sealed BLOB)
    erased(address BLOB PRIMARY KEY)
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from jinqiao.core.errors import InvalidInput, NodeFault
from jinqiao.core.names import NAME_SALT_BYTES, name_commitment
from jinqiao.credit.store import NONCE_BYTES, SqliteTransaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS names (
    address BLOB PRIMARY KEY,
    commitment BLOB NOT NULL,
    key BLOB NOT NULL,
    nonce BLOB NOT NULL,
    sealed BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS erased (address BLOB PRIMARY KEY) WITHOUT ROWID;
"""
STORE_FILE = "account-names.sqlite"


def store_path(network_dir: Path, organization: str) -> Path:
    """Where an organization's names live in a network directory (created on first use)."""
    return network_dir / "organizations" / organization / STORE_FILE


def new_salt() -> bytes:
    return secrets.token_bytes(NAME_SALT_BYTES)


@dataclass(frozen=True)
class NameOpening:
    """An account's name and the salt that opens its commitment."""

    name: str
    salt: bytes

    def opens(self, hash_function: Callable[[bytes], bytes], commitment: bytes) -> bool:
        """Whether this name and salt are what the chain's ``name_commitment`` commits to."""
        return name_commitment(hash_function, self.salt, self.name) == commitment


class AccountNameStore:
    """One organization's account names in the SQLite file at ``path`` (created if absent)."""

    def __init__(self, path: Path, hash_function: Callable[[bytes], bytes]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._hash = hash_function
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA secure_delete = ON")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> AccountNameStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def save(self, address: bytes, opening: NameOpening) -> bytes:
        """Keep an account's name and salt; the commitment they make comes back. Saving an
        account again replaces its entry (a registration the chain refused, then retried)."""
        commitment = name_commitment(self._hash, opening.salt, opening.name)
        key = ChaCha20Poly1305.generate_key()
        nonce = secrets.token_bytes(NONCE_BYTES)
        plain = opening.salt + opening.name.encode()
        sealed = ChaCha20Poly1305(key).encrypt(nonce, plain, address + commitment)
        with SqliteTransaction(self._db):
            if self.is_erased(address):
                raise InvalidInput("the account's name was erased", code="subject_erased")
            self._db.execute(
                "INSERT OR REPLACE INTO names VALUES (?, ?, ?, ?, ?)",
                (address, commitment, key, nonce, sealed),
            )
        return commitment

    def load(self, address: bytes) -> NameOpening | None:
        """The account's name and salt, or ``None`` when this store has none (not registered
        here, or erased)."""
        row = self._db.execute(
            "SELECT commitment, key, nonce, sealed FROM names WHERE address = ?", (address,)
        ).fetchone()
        if row is None:
            return None
        commitment, key, nonce, sealed = (bytes(value) for value in row)
        try:
            plain = ChaCha20Poly1305(key).decrypt(nonce, sealed, address + commitment)
        except InvalidTag:
            raise NodeFault(
                "a stored account name does not decrypt", address=address.hex()
            ) from None
        opening = NameOpening(plain[NAME_SALT_BYTES:].decode(), plain[:NAME_SALT_BYTES])
        if not opening.opens(self._hash, commitment):
            raise NodeFault("a stored account name does not open its commitment")
        return opening

    def erase(self, address: bytes) -> bool:
        """Destroy the account's name, salt and key; whether there was one."""
        with SqliteTransaction(self._db):
            cursor = self._db.execute("DELETE FROM names WHERE address = ?", (address,))
            self._db.execute("INSERT OR IGNORE INTO erased VALUES (?)", (address,))
        return cursor.rowcount > 0

    def is_erased(self, address: bytes) -> bool:
        row = self._db.execute("SELECT 1 FROM erased WHERE address = ?", (address,)).fetchone()
        return row is not None
