"""The chain index: committed blocks, verified through the SDK, kept in SQLite (default) or
PostgreSQL for the lists and searches that a key-value block store cannot answer fast —
transactions by account, events by type and attribute, payments by merchant, cycles by date —
and for the Parquet analytics export (``jinqiao.index.export``).

    from jinqiao.client import Client
    from jinqiao.index import ChainIndex, queries

    with ChainIndex("index.sqlite", writer=True) as index:
        index.catch_up(Client(url, genesis_file=genesis))          # verified blocks, resumable
    with ChainIndex("index.sqlite") as index:
        queries.payments_by_merchant(index, "ecfin", "M0001")

The index sits above the SDK and beside the CLI's helpers (pyproject.toml's layers); it never
imports the node or the API server, so it reads any node it can reach, over whatever transport
the SDK speaks. docs/index.md is the user's guide; docs/adr/0027-chain-index.md says why.
"""

from jinqiao.index.errors import (
    IndexBehind,
    IndexFailure,
    IndexLocked,
    IndexMismatch,
    IndexMissing,
    IndexUnavailable,
)
from jinqiao.index.indexer import ChainIndex

__all__ = [
    "ChainIndex",
    "IndexBehind",
    "IndexFailure",
    "IndexLocked",
    "IndexMismatch",
    "IndexMissing",
    "IndexUnavailable",
]
