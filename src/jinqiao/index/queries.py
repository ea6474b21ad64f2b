"""The analysts' queries over an index: each answers a list of rows as dicts, newest first, at
most ``limit`` (1..``MAX_LIMIT``) of them. Bad arguments raise ``InvalidInput`` before any SQL
runs. Every query is served by one of the indexes in ``schema.INDEXES`` (``jinqiao bench index``
measures them over a million transactions)."""

from __future__ import annotations

from datetime import date
from typing import Any

from jinqiao.core.errors import InvalidInput
from jinqiao.index.indexer import ChainIndex

MAX_LIMIT = 1_000
MAX_TEXT_LENGTH = 256

_TRANSACTION_COLUMNS = (
    "hash, height, position, time_ms, sender, contract, method, status, code, event_count"
)
_EVENT_COLUMNS = (
    "height, position, event_index, transaction_hash, time_ms, contract, name, attributes"
)


def _select(
    index: ChainIndex, columns: str, rest: str, parameters: tuple[Any, ...]
) -> list[dict[str, Any]]:
    """``SELECT columns rest`` as dicts keyed by column name (without a table alias)."""
    names = [column.strip().split(".")[-1] for column in columns.split(",")]
    rows = index.database.execute(f"SELECT {columns} {rest}", parameters)
    return [dict(zip(names, row, strict=True)) for row in rows]


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be 1..{MAX_LIMIT}, not {limit}")
    return limit


def _hex(value: str, length_bytes: int, what: str) -> str:
    lowered = value.lower()
    if len(lowered) != 2 * length_bytes:
        raise InvalidInput(f"{what} must be {2 * length_bytes} hex digits, not {len(value)}")
    try:
        bytes.fromhex(lowered)
    except ValueError:
        raise InvalidInput(f"{what} is not hex: {value[:80]!r}") from None
    return lowered


def _text(value: str, what: str) -> str:
    if not value or len(value) > MAX_TEXT_LENGTH:
        raise InvalidInput(f"{what} must be 1..{MAX_TEXT_LENGTH} characters")
    return value


def _date(value: str, what: str) -> str:
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise InvalidInput(f"{what} must be a date as YYYY-MM-DD, not {value[:40]!r}") from None


def block(index: ChainIndex, height: int) -> dict[str, Any] | None:
    rows = _select(
        index,
        "height, hash, time_ms, proposer, transaction_count, state_root, previous_block_hash",
        "FROM blocks WHERE height = ?",
        (height,),
    )
    return rows[0] if rows else None


def transaction(index: ChainIndex, transaction_hash: str) -> dict[str, Any] | None:
    identity = _hex(transaction_hash, 32, "a transaction hash")
    rows = _select(index, _TRANSACTION_COLUMNS, "FROM transactions WHERE hash = ?", (identity,))
    return rows[0] if rows else None


def transactions_by_account(
    index: ChainIndex, address: str, *, limit: int = 100
) -> list[dict[str, Any]]:
    """Transactions an account sent, or that named it in an event (``role``: how)."""
    return _select(
        index,
        "transaction_hash, height, position, role",
        "FROM transaction_accounts WHERE address = ? ORDER BY height DESC, position DESC LIMIT ?",
        (_hex(address, 20, "an address"), _limit(limit)),
    )


def transactions_by_sender(
    index: ChainIndex, sender: str, *, limit: int = 100
) -> list[dict[str, Any]]:
    return _select(
        index,
        _TRANSACTION_COLUMNS,
        "FROM transactions WHERE sender = ? ORDER BY height DESC, position DESC LIMIT ?",
        (_hex(sender, 20, "a sender address"), _limit(limit)),
    )


def events(
    index: ChainIndex,
    *,
    contract: str,
    name: str,
    attribute: tuple[str, str] | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Events of one type (contract and name), optionally with ``attribute`` = (key, value)."""
    parameters: tuple[Any, ...] = (_text(contract, "contract"), _text(name, "event name"))
    columns = _EVENT_COLUMNS
    if attribute is None:
        rest = (
            "FROM events WHERE contract = ? AND name = ? "
            "ORDER BY height DESC, position DESC, event_index DESC LIMIT ?"
        )
    else:
        key, value = _text(attribute[0], "attribute key"), _text(attribute[1], "attribute value")
        columns = ", ".join(f"e.{column.strip()}" for column in _EVENT_COLUMNS.split(","))
        rest = (
            "FROM event_attributes a JOIN events e "
            "ON e.height = a.height AND e.position = a.position "
            "AND e.event_index = a.event_index "
            "WHERE a.key = ? AND a.value = ? AND e.contract = ? AND e.name = ? "
            "ORDER BY a.height DESC, a.position DESC, a.event_index DESC LIMIT ?"
        )
        parameters = (key, value, *parameters)
    return _select(index, columns, rest, (*parameters, _limit(limit)))


_PAYMENT_COLUMNS = (
    "payment_id, issuer, acquirer, merchant_id, currency, amount_minor, status, cycle_id, "
    "captured_minor, refunded_minor, authorized_height, authorized_time_ms, updated_height"
)


def payments_by_merchant(
    index: ChainIndex, acquirer: str, merchant_id: str, *, limit: int = 100
) -> list[dict[str, Any]]:
    return _select(
        index,
        _PAYMENT_COLUMNS,
        "FROM payments WHERE acquirer = ? AND merchant_id = ? "
        "ORDER BY authorized_height DESC, payment_id DESC LIMIT ?",
        (_text(acquirer, "acquirer"), _text(merchant_id, "merchant id"), _limit(limit)),
    )


def cycles_by_date(
    index: ChainIndex, first_date: str, last_date: str | None = None, *, limit: int = 100
) -> list[dict[str, Any]]:
    """Clearing cycles opened from ``first_date`` to ``last_date`` (UTC, inclusive)."""
    first = _date(first_date, "the first date")
    last = _date(last_date, "the last date") if last_date is not None else first
    if last < first:
        raise InvalidInput(f"the last date {last} is before the first {first}")
    return _select(
        index,
        "cycle_id, currency, clearing_house, status, opened_date, opened_height, opened_time_ms, "
        "closed_height, settled_height, participants, debit_total_minor, updated_height",
        "FROM cycles WHERE opened_date >= ? AND opened_date <= ? "
        "ORDER BY opened_date DESC, cycle_id DESC LIMIT ?",
        (first, last, _limit(limit)),
    )


def summary(index: ChainIndex) -> dict[str, Any]:
    """What the index holds: its chain, height and row counts."""
    counts = {
        table: int(index.database.execute(f"SELECT COUNT(*) FROM {table}")[0][0])  # noqa: S608
        for table in ("blocks", "transactions", "events", "payments", "cycles")
    }
    return {
        "location": index.location,
        "dialect": index.database.dialect,
        "chain_id": index.meta("chain_id"),
        "genesis_hash": index.meta("genesis_hash"),
        "height": index.height(),
        "rows": counts,
    }
