"""The member's side of the credit app, off chain: subjects' keyed hashes from their identity
numbers, and the store that keeps a member's behaviour records encrypted under per-subject keys
(SQLite) and erases them by destroying the key; and, on the same pattern, the store where an
organization keeps its accounts' names and the salts that open their commitments in the
registry (``jinqiao.credit.names``, docs/adr/0029-account-names-off-chain.md).

The contract, the record format, features, scorecard and score recomputation are pure and live
in ``jinqiao.apps.credit``; this package is where secrets and files are. ``docs/credit.md``
describes both.
"""

from __future__ import annotations

from jinqiao.credit.store import CreditStore, StoredRecord
from jinqiao.credit.subjects import (
    FIRM,
    PERSON,
    SUBJECT_KINDS,
    check_consortium_key,
    normalize_identity,
    subject_hash,
)

__all__ = [
    "FIRM",
    "PERSON",
    "SUBJECT_KINDS",
    "CreditStore",
    "StoredRecord",
    "check_consortium_key",
    "normalize_identity",
    "subject_hash",
]
