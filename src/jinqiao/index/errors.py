"""Why the index cannot answer: each a clear message with a stable code (docs/errors.md)."""

from __future__ import annotations

from jinqiao.core.errors import JinqiaoError


class IndexFailure(JinqiaoError):
    """Base class of the index's failures."""

    code = "index_error"


class IndexMissing(IndexFailure):
    """No index where one was named (no file, or a database without the index's tables)."""

    code = "index_missing"


class IndexLocked(IndexFailure):
    """Another process holds the index: a second writer, or a lock held past the busy timeout."""

    code = "index_locked"


class IndexUnavailable(IndexFailure):
    """The database cannot be opened or reached (not a SQLite file, PostgreSQL down, refused)."""

    code = "index_unavailable"


class IndexBehind(IndexFailure):
    """The index is further behind the chain than the caller accepts."""

    code = "index_behind"


class IndexMismatch(IndexFailure):
    """The index was built from another chain, or holds heights the chain does not have."""

    code = "index_mismatch"
