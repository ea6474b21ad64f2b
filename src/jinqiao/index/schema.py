"""The index's tables, the same in SQLite and PostgreSQL (docs/index.md lists their columns).

Hashes and addresses are lowercase hex ``TEXT`` (what the API, the CLI and analysts' tools show),
amounts are ``BIGINT`` minor units, times are block times in milliseconds since the epoch (and a
``date`` in UTC where a report groups by day). Every row can be rebuilt from the chain: the index
holds nothing the blocks do not.
"""

from __future__ import annotations

from jinqiao.index.database import Database

SCHEMA_VERSION = "1"

TABLES = (
    """CREATE TABLE IF NOT EXISTS index_meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS blocks (
        height BIGINT PRIMARY KEY,
        hash TEXT NOT NULL UNIQUE,
        time_ms BIGINT NOT NULL,
        proposer TEXT NOT NULL,
        transaction_count BIGINT NOT NULL,
        state_root TEXT NOT NULL,
        previous_block_hash TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS transactions (
        hash TEXT PRIMARY KEY,
        height BIGINT NOT NULL,
        position BIGINT NOT NULL,
        time_ms BIGINT NOT NULL,
        sender TEXT NOT NULL,
        contract TEXT NOT NULL,
        method TEXT NOT NULL,
        status TEXT NOT NULL,
        code TEXT NOT NULL,
        event_count BIGINT NOT NULL,
        UNIQUE (height, position))""",
    # Who a transaction concerns: its sender, and every address named by its events' attributes
    # (a transfer's recipient, an approval's spender); ``role`` is "sender" or the attribute.
    """CREATE TABLE IF NOT EXISTS transaction_accounts (
        address TEXT NOT NULL,
        height BIGINT NOT NULL,
        position BIGINT NOT NULL,
        role TEXT NOT NULL,
        transaction_hash TEXT NOT NULL,
        PRIMARY KEY (address, height, position, role))""",
    """CREATE TABLE IF NOT EXISTS events (
        height BIGINT NOT NULL,
        position BIGINT NOT NULL,
        event_index BIGINT NOT NULL,
        transaction_hash TEXT NOT NULL,
        time_ms BIGINT NOT NULL,
        contract TEXT NOT NULL,
        name TEXT NOT NULL,
        attributes TEXT NOT NULL,
        PRIMARY KEY (height, position, event_index))""",
    """CREATE TABLE IF NOT EXISTS event_attributes (
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        height BIGINT NOT NULL,
        position BIGINT NOT NULL,
        event_index BIGINT NOT NULL,
        PRIMARY KEY (key, value, height, position, event_index))""",
    """CREATE TABLE IF NOT EXISTS payments (
        payment_id TEXT PRIMARY KEY,
        issuer TEXT NOT NULL,
        acquirer TEXT NOT NULL,
        merchant_id TEXT NOT NULL,
        currency TEXT NOT NULL,
        amount_minor BIGINT NOT NULL,
        status TEXT NOT NULL,
        cycle_id BIGINT,
        captured_minor BIGINT NOT NULL,
        refunded_minor BIGINT NOT NULL,
        authorized_height BIGINT NOT NULL,
        authorized_time_ms BIGINT NOT NULL,
        updated_height BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS cycles (
        cycle_id BIGINT PRIMARY KEY,
        currency TEXT NOT NULL,
        clearing_house TEXT NOT NULL,
        status TEXT NOT NULL,
        opened_date TEXT NOT NULL,
        opened_height BIGINT NOT NULL,
        opened_time_ms BIGINT NOT NULL,
        closed_height BIGINT,
        settled_height BIGINT,
        participants BIGINT,
        debit_total_minor BIGINT,
        updated_height BIGINT NOT NULL)""",
)

INDEXES = (
    "CREATE INDEX IF NOT EXISTS transactions_by_sender ON transactions (sender, height, position)",
    "CREATE INDEX IF NOT EXISTS transactions_by_method ON transactions (contract, method, height)",
    "CREATE INDEX IF NOT EXISTS events_by_name ON events (contract, name, height)",
    "CREATE INDEX IF NOT EXISTS payments_by_merchant "
    "ON payments (acquirer, merchant_id, authorized_height)",
    "CREATE INDEX IF NOT EXISTS cycles_by_date ON cycles (opened_date, cycle_id)",
)

DATA_TABLES = (
    "blocks",
    "transactions",
    "transaction_accounts",
    "events",
    "event_attributes",
    "payments",
    "cycles",
)
"""Every table that ``--rebuild`` empties (``index_meta`` is emptied too, last)."""


def create_schema(database: Database) -> None:
    with database.transaction():
        for statement in (*TABLES, *INDEXES):
            database.execute(statement)
