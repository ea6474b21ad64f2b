"""The two kinds of failure (DESIGN.md §4 rule 5), plus input errors at the edge.

* ``Rejection`` — deterministic: every correct node reaches the same verdict, it is recorded in a
  receipt with a stable ``code`` and the chain moves on.
* ``NodeFault`` — a bug or a broken environment; logged with context, never turned into a
  transaction outcome.
* ``InvalidInput`` — the caller sent something malformed; the API answers it with a 4xx and the
  same stable code.
"""

from __future__ import annotations

from typing import Any


class JinqiaoError(Exception):
    """Base class. ``code`` is stable and documented in docs/errors.md."""

    code: str = "error"

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class InvalidInput(JinqiaoError):
    """Malformed, oversize or otherwise unacceptable input. Nothing was changed."""

    code = "invalid_input"


class DecodeError(InvalidInput):
    """Bytes that are not the canonical encoding of the expected type."""

    code = "decode_error"


class TransactionTooLarge(InvalidInput):
    """A signed transaction over ``MAX_TRANSACTION_BYTES``, however it was sent (JSON hex, msgpack
    body, batch item or gossip)."""

    code = "transaction_too_large"

    def __init__(self, size_bytes: int, limit_bytes: int) -> None:
        super().__init__(
            f"a transaction is at most {limit_bytes} bytes; this one is {size_bytes}",
            size_bytes=size_bytes,
            limit_bytes=limit_bytes,
        )


class Rejection(JinqiaoError):
    """A deterministic refusal of a transaction, recorded in its receipt."""

    code = "rejected"

    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(message, code=code, **details)


class NodeFault(JinqiaoError):
    """An invariant broke inside the node. Never a transaction outcome."""

    code = "node_fault"


def require(condition: bool, message: str, **details: Any) -> None:
    """An invariant that stays on under ``python -O`` (STYLE.md principle 4)."""
    if not condition:
        raise NodeFault(message, **details)
