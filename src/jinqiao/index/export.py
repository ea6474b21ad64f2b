"""Analytics export: the index's tables as Parquet files that DuckDB, Spark or pandas read directly.

One file per table (``blocks.parquet``, ``transactions.parquet``, ``events.parquet``,
``payments.parquet``, ``cycles.parquet``), each with an explicit Arrow schema — integers as
``int64``, amounts in minor units, block times as UTC timestamps in milliseconds beside the raw
``time_ms`` — written from one consistent read of the index (its height is in each file's
metadata, ``jinqiao.indexed_height``). Rows are streamed in batches of ``BATCH_ROWS``, so the
export's memory does not grow with the chain. Each file is written under a temporary name and
renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from jinqiao.index.database import Row
from jinqiao.index.indexer import ChainIndex

BATCH_ROWS = 50_000
_TIME = pa.timestamp("ms", tz="UTC")


@dataclass(frozen=True)
class ExportTable:
    name: str
    columns: tuple[tuple[str, pa.DataType], ...]
    order: str
    time_column: str | None = None
    """A ``*_time_ms`` column also exported as a timestamp named ``time`` (or ``*_time``)."""


TABLES = (
    ExportTable(
        "blocks",
        (
            ("height", pa.int64()),
            ("hash", pa.string()),
            ("time_ms", pa.int64()),
            ("proposer", pa.string()),
            ("transaction_count", pa.int64()),
            ("state_root", pa.string()),
            ("previous_block_hash", pa.string()),
        ),
        "height",
        "time_ms",
    ),
    ExportTable(
        "transactions",
        (
            ("hash", pa.string()),
            ("height", pa.int64()),
            ("position", pa.int64()),
            ("time_ms", pa.int64()),
            ("sender", pa.string()),
            ("contract", pa.string()),
            ("method", pa.string()),
            ("status", pa.string()),
            ("code", pa.string()),
            ("event_count", pa.int64()),
        ),
        "height, position",
        "time_ms",
    ),
    ExportTable(
        "events",
        (
            ("height", pa.int64()),
            ("position", pa.int64()),
            ("event_index", pa.int64()),
            ("transaction_hash", pa.string()),
            ("time_ms", pa.int64()),
            ("contract", pa.string()),
            ("name", pa.string()),
            ("attributes", pa.string()),
        ),
        "height, position, event_index",
        "time_ms",
    ),
    ExportTable(
        "payments",
        (
            ("payment_id", pa.string()),
            ("issuer", pa.string()),
            ("acquirer", pa.string()),
            ("merchant_id", pa.string()),
            ("currency", pa.string()),
            ("amount_minor", pa.int64()),
            ("status", pa.string()),
            ("cycle_id", pa.int64()),
            ("captured_minor", pa.int64()),
            ("refunded_minor", pa.int64()),
            ("authorized_height", pa.int64()),
            ("authorized_time_ms", pa.int64()),
            ("updated_height", pa.int64()),
        ),
        "authorized_height, payment_id",
        "authorized_time_ms",
    ),
    ExportTable(
        "cycles",
        (
            ("cycle_id", pa.int64()),
            ("currency", pa.string()),
            ("clearing_house", pa.string()),
            ("status", pa.string()),
            ("opened_date", pa.string()),
            ("opened_height", pa.int64()),
            ("opened_time_ms", pa.int64()),
            ("closed_height", pa.int64()),
            ("settled_height", pa.int64()),
            ("participants", pa.int64()),
            ("debit_total_minor", pa.int64()),
            ("updated_height", pa.int64()),
        ),
        "cycle_id",
        "opened_time_ms",
    ),
)


def _time_name(column: str) -> str:
    return column.removesuffix("_ms")


def arrow_schema(table: ExportTable, height: int) -> pa.Schema:
    fields = [pa.field(name, kind) for name, kind in table.columns]
    if table.time_column is not None:
        fields.append(pa.field(_time_name(table.time_column), _TIME))
    return pa.schema(fields, metadata={"jinqiao.indexed_height": str(height)})


def export_parquet(index: ChainIndex, directory: Path) -> dict[str, int]:
    """Write every table to ``directory``; returns the rows written per file name."""
    directory.mkdir(parents=True, exist_ok=True)
    written: dict[str, int] = {}
    with index.database.snapshot():  # one height for every file
        height = index.height()
        for table in TABLES:
            written[f"{table.name}.parquet"] = _export_table(index, table, directory, height)
    return written


def _export_table(index: ChainIndex, table: ExportTable, directory: Path, height: int) -> int:
    schema = arrow_schema(table, height)
    names = [name for name, _ in table.columns]
    final = directory / f"{table.name}.parquet"
    partial = directory / f".{table.name}.parquet.partial"
    rows_written = 0
    with pq.ParquetWriter(partial, schema) as writer:
        for rows in _batches(index, table, names):
            columns = [list(column) for column in zip(*rows, strict=True)]
            if table.time_column is not None:
                columns.append(columns[names.index(table.time_column)])
            arrays = [
                pa.array(values, type=field.type)
                for values, field in zip(columns, schema, strict=True)
            ]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
            rows_written += len(rows)
        if rows_written == 0:
            writer.write_table(schema.empty_table())
    os.replace(partial, final)
    return rows_written


def _batches(index: ChainIndex, table: ExportTable, names: list[str]) -> Iterator[list[Row]]:
    offset = 0
    while True:
        rows = index.database.execute(
            f"SELECT {', '.join(names)} FROM {table.name} "  # noqa: S608 (fixed names)
            f"ORDER BY {table.order} LIMIT ? OFFSET ?",
            (BATCH_ROWS, offset),
        )
        if not rows:
            return
        yield rows
        offset += len(rows)
