"""The CLI's journal of the signed transactions it sent, so that ``jinqiao tx resend HASH`` can
re-submit **the same bytes** after an unknown outcome: replay protection then lets the transaction
commit at most once, where signing a new one could pay twice.

One file per transaction, ``<hash>.tx``, holding its canonical bytes, written with
``jinqiao.fileio.save_atomically`` (fsynced, renamed into place) **before** the transaction is
sent, so a crash at any instant leaves either no entry (nothing was sent) or a whole one. The
directory is ``$JINQIAO_JOURNAL`` if set, else ``journal/`` in the network directory, else
``~/.local/state/jinqiao/journal``. Limits: ``MAX_JOURNAL_ENTRIES`` files (the oldest are not
removed silently: the CLI refuses to send and says so), each at most ``MAX_TRANSACTION_BYTES``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from jinqiao.core.crypto import CryptoSuite
from jinqiao.core.errors import InvalidInput
from jinqiao.core.hashing import transaction_hash
from jinqiao.core.limits import MAX_TRANSACTION_BYTES
from jinqiao.core.types import SignedTransaction, decode_transaction
from jinqiao.fileio import save_atomically

__all__ = ["JOURNAL_ENVIRONMENT", "MAX_JOURNAL_ENTRIES", "TransactionJournal", "journal_directory"]

JOURNAL_ENVIRONMENT = "JINQIAO_JOURNAL"
MAX_JOURNAL_ENTRIES = 100_000
_SUFFIX = ".tx"
_HASH = re.compile(r"[0-9a-f]{64}")


def journal_directory(network_dir: Path | None) -> Path:
    """Where the journal lives (see the module docstring)."""
    configured = os.environ.get(JOURNAL_ENVIRONMENT)
    if configured:
        return Path(configured)
    if network_dir is not None:
        return network_dir / "journal"
    return Path.home() / ".local" / "state" / "jinqiao" / "journal"


class TransactionJournal:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path_of(self, transaction_hash_: str) -> Path:
        if not _HASH.fullmatch(transaction_hash_):
            raise InvalidInput(
                f"{transaction_hash_!r} is not a transaction hash (64 lowercase hex characters)"
            )
        return self.directory / f"{transaction_hash_}{_SUFFIX}"

    def save(self, transaction_hash_: str, raw: bytes) -> None:
        """Keep ``raw`` under its hash, durably; refuses when the journal is full."""
        path = self.path_of(transaction_hash_)
        if len(raw) > MAX_TRANSACTION_BYTES:
            raise InvalidInput(f"transaction is {len(raw)} bytes, over {MAX_TRANSACTION_BYTES}")
        if not path.exists() and self.count() >= MAX_JOURNAL_ENTRIES:
            raise InvalidInput(
                f"the transaction journal {self.directory} holds {MAX_JOURNAL_ENTRIES} entries, "
                "its limit: move old entries away before sending more"
            )
        save_atomically(path, raw)

    def count(self) -> int:
        try:
            with os.scandir(self.directory) as entries:
                return sum(1 for entry in entries if entry.name.endswith(_SUFFIX))
        except FileNotFoundError:
            return 0

    def load(self, transaction_hash_: str, suite: CryptoSuite) -> SignedTransaction:
        """The transaction kept under ``transaction_hash_``, checked to hash to it."""
        path = self.path_of(transaction_hash_)
        try:
            with path.open("rb") as file:
                raw = file.read(MAX_TRANSACTION_BYTES + 1)
        except FileNotFoundError:
            raise InvalidInput(
                f"no journal entry for {transaction_hash_} in {self.directory}: this CLI did not "
                "send it (or the journal was moved; set JINQIAO_JOURNAL)"
            ) from None
        except OSError as exc:
            raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}") from None
        try:
            transaction = decode_transaction(raw, max_bytes=MAX_TRANSACTION_BYTES)
        except InvalidInput as exc:
            raise InvalidInput(f"journal entry {path} is corrupt: {exc.message}") from None
        if transaction_hash(suite, transaction.body).hex() != transaction_hash_:
            raise InvalidInput(
                f"journal entry {path} is corrupt: it holds another transaction (or one for "
                "another network)"
            )
        return transaction
