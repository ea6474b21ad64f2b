"""Saving one committed block into the index, all of it or none of it.

``save_block`` writes the block's rows and the new last indexed height in one database
transaction, after checking inside that transaction that the block is the next one. A crash at
any instant therefore leaves the index at a block boundary: the next run starts at the stored
height plus one, and no height can be written twice or skipped (tests/integration/test_index.py
kills an indexer with SIGKILL and checks).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from jinqiao.client import ProvenBlock
from jinqiao.core.crypto import CryptoSuite
from jinqiao.core.hashing import header_hash
from jinqiao.core.types import Event, ReceiptStatus
from jinqiao.index.database import Database
from jinqiao.index.errors import IndexMismatch

PAYMENTS_CONTRACT = "payments"
ADDRESS_HEX_LENGTH = 40
"""Event attributes whose value is 40 hex digits are addresses (the runtime shows bytes as hex)."""

HEIGHT_KEY = "height"


def indexed_height(database: Database) -> int:
    """The last height saved (0: none)."""
    rows = database.execute("SELECT value FROM index_meta WHERE key = ?", (HEIGHT_KEY,))
    return int(rows[0][0]) if rows else 0


def save_block(database: Database, suite: CryptoSuite, block: ProvenBlock) -> None:
    """Index ``block``, which must be the block after the last indexed one."""
    header = block.header
    with database.transaction():
        expected = indexed_height(database) + 1
        if header.height != expected:
            raise IndexMismatch(
                f"block {header.height} is not the next block of the index (expected {expected})"
            )
        database.execute(
            "INSERT INTO blocks VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                header.height,
                header_hash(suite, header).hex(),
                header.time_ms,
                header.proposer.hex(),
                header.transaction_count,
                header.state_root.hex(),
                header.previous_block_hash.hex(),
            ),
        )
        _save_transactions(database, block)
        for event_row in _events(block):
            _apply_payments_event(database, event_row)
        database.execute(
            "INSERT INTO index_meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = ?",
            (HEIGHT_KEY, str(header.height), str(header.height)),
        )


def _save_transactions(database: Database, block: ProvenBlock) -> None:
    header = block.header
    transactions: list[tuple[Any, ...]] = []
    accounts: list[tuple[Any, ...]] = []
    events: list[tuple[Any, ...]] = []
    attributes: list[tuple[Any, ...]] = []
    for position, (transaction, receipt, identity) in enumerate(
        zip(block.transactions, block.receipts, block.transaction_hashes, strict=True)
    ):
        body, hash_hex = transaction.body, identity.hex()
        ok = receipt.status == int(ReceiptStatus.OK)
        transactions.append(
            (
                hash_hex,
                header.height,
                position,
                header.time_ms,
                body.sender.hex(),
                body.contract,
                body.method,
                "ok" if ok else "rejected",
                receipt.code,
                len(receipt.events),
            )
        )
        involved = {(body.sender.hex(), "sender")}
        for event_index, event in enumerate(receipt.events):
            key = (header.height, position, event_index)
            events.append(
                (*key, hash_hex, header.time_ms, event.contract, event.name, _attributes(event))
            )
            for name, value in event.attributes:
                attributes.append((name, _text(value), *key))
                if _is_address(value):
                    involved.add((str(value).lower(), name))
        accounts.extend(
            (address, header.height, position, role, hash_hex) for address, role in involved
        )
    database.execute_many(
        "INSERT INTO transactions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", transactions
    )
    database.execute_many("INSERT INTO transaction_accounts VALUES (?, ?, ?, ?, ?)", accounts)
    database.execute_many("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)", events)
    database.execute_many("INSERT INTO event_attributes VALUES (?, ?, ?, ?, ?)", attributes)


def _events(block: ProvenBlock) -> Iterator[tuple[int, int, Event]]:
    """(height, block time, event) of every event of the block, in order (a rejected
    transaction has none: its receipt records no events)."""
    for receipt in block.receipts:
        for event in receipt.events:
            yield block.header.height, block.header.time_ms, event


def _apply_payments_event(database: Database, row: tuple[int, int, Event]) -> None:
    """Keep ``payments`` and ``cycles`` current from the payments contract's events."""
    height, time_ms, event = row
    if event.contract != PAYMENTS_CONTRACT:
        return
    values: dict[str, Any] = dict(event.attributes)
    name = event.name
    if name == "PaymentAuthorized":
        database.execute(
            "INSERT INTO payments VALUES (?, ?, ?, ?, ?, ?, 'authorized', NULL, 0, 0, ?, ?, ?)",
            (
                values["payment_id"],
                values["issuer"],
                values["acquirer"],
                values["merchant_id"],
                values["currency"],
                values["amount_minor"],
                height,
                time_ms,
                height,
            ),
        )
    elif name in PAYMENT_UPDATES:
        parameters = (*_payment_parameters(name, values), height, values["payment_id"])
        database.execute(PAYMENT_UPDATES[name], parameters)
    elif name == "CycleOpened":
        database.execute(
            "INSERT INTO cycles VALUES (?, ?, ?, 'open', ?, ?, ?, NULL, NULL, NULL, NULL, ?)",
            (
                values["cycle_id"],
                values["currency"],
                values["clearing_house"],
                utc_date(time_ms),
                height,
                time_ms,
                height,
            ),
        )
    elif name == "CycleClosed":
        database.execute(
            "UPDATE cycles SET status = 'closed', closed_height = ?, participants = ?, "
            "debit_total_minor = ?, updated_height = ? WHERE cycle_id = ?",
            (
                height,
                values["participants"],
                values["debit_total_minor"],
                height,
                values["cycle_id"],
            ),
        )
    elif name in ("CycleSettled", "CycleUnwound"):
        status = "settled" if name == "CycleSettled" else "unwound"
        settled = height if status == "settled" else None
        database.execute(
            "UPDATE cycles SET status = ?, settled_height = ?, updated_height = ? "
            "WHERE cycle_id = ?",
            (status, settled, height, values["cycle_id"]),
        )


PAYMENT_UPDATES = {
    "PaymentCaptured": "UPDATE payments SET status = 'captured', cycle_id = ?, captured_minor = ?, "
    "updated_height = ? WHERE payment_id = ?",
    "PaymentReversed": "UPDATE payments SET status = 'reversed', updated_height = ? "
    "WHERE payment_id = ?",
    "PaymentRefunded": "UPDATE payments SET status = 'refunded', "
    "refunded_minor = refunded_minor + ?, updated_height = ? WHERE payment_id = ?",
    "PaymentChargedBack": "UPDATE payments SET status = 'charged_back', updated_height = ? "
    "WHERE payment_id = ?",
    "PaymentRepresented": "UPDATE payments SET status = 'represented', updated_height = ? "
    "WHERE payment_id = ?",
}


def _payment_parameters(name: str, values: dict[str, Any]) -> tuple[Any, ...]:
    """The parameters of ``PAYMENT_UPDATES[name]`` before ``updated_height`` and the id."""
    if name == "PaymentCaptured":
        return (values["cycle_id"], values["amount_minor"])
    if name == "PaymentRefunded":
        return (values["amount_minor"],)
    return ()


def utc_date(time_ms: int) -> str:
    return datetime.fromtimestamp(time_ms / 1000, UTC).date().isoformat()


def _attributes(event: Event) -> str:
    """An event's attributes as a JSON object (in key order, as on chain)."""
    return json.dumps(dict(event.attributes), separators=(",", ":"))


def _text(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _is_address(value: str | int | bool) -> bool:
    if not isinstance(value, str) or len(value) != ADDRESS_HEX_LENGTH:
        return False
    try:
        bytes.fromhex(value)
    except ValueError:
        return False
    return True
