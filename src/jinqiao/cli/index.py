"""``jinqiao index`` (build and query the chain index) and ``jinqiao export`` (Parquet files for
analytics): docs/index.md."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
from rich.table import Table

from jinqiao.cli.common import JsonOption, Target, fail, guarded, with_target
from jinqiao.core.errors import InvalidInput
from jinqiao.index import ChainIndex, queries
from jinqiao.terminal import console, emit_json, errors

index_app = typer.Typer(
    help="The chain index: verified blocks in SQLite or PostgreSQL, for searches and analytics.",
    no_args_is_help=True,
)
query_app = typer.Typer(help="Query the index (no node needed).", no_args_is_help=True)
index_app.add_typer(query_app, name="query")

DEFAULT_DATABASE = "index.sqlite"
DatabaseOption = Annotated[
    str,
    typer.Option(
        "--database",
        "-d",
        help="SQLite file (default index.sqlite) or postgresql://user@host:port/dbname URL.",
    ),
]
LimitOption = Annotated[
    int, typer.Option(min=1, max=queries.MAX_LIMIT, help="At most this many rows, newest first.")
]


@index_app.command("run")
@guarded
@with_target
def run(
    target: Target,
    database: DatabaseOption = DEFAULT_DATABASE,
    follow: Annotated[
        bool, typer.Option("--follow", help="Keep following new blocks until stopped.")
    ] = False,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Empty the index first and index from block 1.")
    ] = False,
    until: Annotated[int | None, typer.Option(min=1, help="Stop at this height.")] = None,
    max_blocks_per_second: Annotated[
        float | None,
        typer.Option(min=0.1, help="Index at most this many blocks a second (spares the node)."),
    ] = None,
    poll_interval: Annotated[
        float, typer.Option(min=0.05, max=60.0, help="Seconds between polls with --follow.")
    ] = 1.0,
    json_output: JsonOption = False,
) -> None:
    """Index committed blocks (each verified against genesis) from the last indexed one."""
    stopping: list[int] = []

    def stop(signal_number: int, frame: FrameType | None) -> None:
        stopping.append(signal_number)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with ChainIndex(database, writer=True) as index, target.client() as client:
        if rebuild:
            index.rebuild()
        start = index.height()
        if follow:
            height = index.follow(
                client,
                poll_interval_s=poll_interval,
                max_blocks_per_second=max_blocks_per_second,
                stop=lambda: bool(stopping),
                on_unreachable=lambda error: errors.print(
                    f"warning: {error.message}; trying again", highlight=False
                ),
            )
        else:
            height = index.catch_up(
                client, until_height=until, max_blocks_per_second=max_blocks_per_second
            )
        view = {"database": index.location, "from_height": start, "height": height}
    if json_output:
        emit_json(view)
    else:
        console.print(f"indexed blocks {start + 1}..{height} into {view['database']}")


@index_app.command("status")
@guarded
@with_target
def status(
    target: Target,
    database: DatabaseOption = DEFAULT_DATABASE,
    max_behind: Annotated[
        int | None,
        typer.Option(min=0, help="Fail (exit 1) when the index trails the chain by more blocks."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """The index's chain, height and rows, and how far it is behind the node's chain."""
    with ChainIndex(database) as index, target.client() as client:
        chain_height = int(client.status()["height"])
        view = {**queries.summary(index), "chain_height": chain_height}
        view["behind_blocks"] = chain_height - view["height"]
        if max_behind is not None:
            index.require_current(chain_height, max_behind)
    if json_output:
        emit_json(view)
    else:
        console.print(
            f"index {view['location']} ({view['dialect']}) of chain {view['chain_id']}: height "
            f"{view['height']}, chain {chain_height} ({view['behind_blocks']} behind)\n"
            + ", ".join(f"{count} {table}" for table, count in view["rows"].items())
        )


def _show(rows: list[dict[str, Any]], json_output: bool) -> None:
    if json_output:
        emit_json(rows)
        return
    if not rows:
        console.print("no rows")
        return
    table = Table(*rows[0])
    for row in rows:
        table.add_row(*("" if value is None else str(value) for value in row.values()))
    console.print(table)


def _answer(
    database: str, json_output: bool, ask: Callable[[ChainIndex], list[dict[str, Any]]]
) -> None:
    """Open the index for reading, ask it, show the rows."""
    with ChainIndex(database) as index:
        rows = ask(index)
    _show(rows, json_output)


def _show_one(row: dict[str, Any] | None, what: str, json_output: bool) -> None:
    if row is None:
        fail(f"not_found: the index has no {what}")
    _show([row], json_output)


@query_app.command("account")
@guarded
def query_account(
    address: Annotated[str, typer.Argument(help="Address, 40 hex digits.")],
    database: DatabaseOption = DEFAULT_DATABASE,
    limit: LimitOption = 100,
    json_output: JsonOption = False,
) -> None:
    """Transactions an account sent or was named in (role: sender, recipient, …)."""
    _answer(
        database,
        json_output,
        lambda index: queries.transactions_by_account(index, address, limit=limit),
    )


@query_app.command("sender")
@guarded
def query_sender(
    address: Annotated[str, typer.Argument(help="Sender address, 40 hex digits.")],
    database: DatabaseOption = DEFAULT_DATABASE,
    limit: LimitOption = 100,
    json_output: JsonOption = False,
) -> None:
    """Transactions an account sent, with their outcomes."""
    _answer(
        database,
        json_output,
        lambda index: queries.transactions_by_sender(index, address, limit=limit),
    )


@query_app.command("events")
@guarded
def query_events(
    contract: Annotated[str, typer.Argument(help="Contract, e.g. payments.")],
    name: Annotated[str, typer.Argument(help="Event name, e.g. PaymentCaptured.")],
    attribute: Annotated[
        str | None, typer.Option(help="Only events with this attribute: KEY=VALUE.")
    ] = None,
    database: DatabaseOption = DEFAULT_DATABASE,
    limit: LimitOption = 100,
    json_output: JsonOption = False,
) -> None:
    """Events of one type, optionally with one attribute's value."""
    pair = None
    if attribute is not None:
        key, separator, value = attribute.partition("=")
        if not separator:
            raise InvalidInput(f"--attribute must be KEY=VALUE, not {attribute[:80]!r}")
        pair = (key, value)
    _answer(
        database,
        json_output,
        lambda index: queries.events(
            index, contract=contract, name=name, attribute=pair, limit=limit
        ),
    )


@query_app.command("payments")
@guarded
def query_payments(
    acquirer: Annotated[str, typer.Argument(help="Acquiring institution.")],
    merchant_id: Annotated[str, typer.Argument(help="Merchant id at that acquirer.")],
    database: DatabaseOption = DEFAULT_DATABASE,
    limit: LimitOption = 100,
    json_output: JsonOption = False,
) -> None:
    """A merchant's payments and where each one is in its lifecycle."""
    _answer(
        database,
        json_output,
        lambda index: queries.payments_by_merchant(index, acquirer, merchant_id, limit=limit),
    )


@query_app.command("cycles")
@guarded
def query_cycles(
    first_date: Annotated[str, typer.Argument(help="First day, YYYY-MM-DD (UTC).")],
    last_date: Annotated[
        str | None, typer.Argument(help="Last day, YYYY-MM-DD (default: the first).")
    ] = None,
    database: DatabaseOption = DEFAULT_DATABASE,
    limit: LimitOption = 100,
    json_output: JsonOption = False,
) -> None:
    """Clearing cycles opened on those days, with their status and totals."""
    _answer(
        database,
        json_output,
        lambda index: queries.cycles_by_date(index, first_date, last_date, limit=limit),
    )


@query_app.command("tx")
@guarded
def query_transaction(
    transaction_hash: Annotated[str, typer.Argument(help="Transaction hash, 64 hex digits.")],
    database: DatabaseOption = DEFAULT_DATABASE,
    json_output: JsonOption = False,
) -> None:
    """One transaction as indexed."""
    with ChainIndex(database) as index:
        row = queries.transaction(index, transaction_hash)
    _show_one(row, f"transaction {transaction_hash}", json_output)


@query_app.command("block")
@guarded
def query_block(
    height: Annotated[int, typer.Argument(min=1, help="Height.")],
    database: DatabaseOption = DEFAULT_DATABASE,
    json_output: JsonOption = False,
) -> None:
    """One block as indexed."""
    with ChainIndex(database) as index:
        row = queries.block(index, height)
    _show_one(row, f"block {height}", json_output)


@guarded
def export(
    output: Annotated[Path, typer.Option("--output", "-o", help="Directory for the files.")],
    database: DatabaseOption = DEFAULT_DATABASE,
    json_output: JsonOption = False,
) -> None:
    """Blocks, transactions, events, payments and cycles from the index as Parquet files."""
    from jinqiao.index.export import export_parquet  # the [export] extra: pyarrow

    with ChainIndex(database) as index:
        height = index.height()
        written = export_parquet(index, output)
    if json_output:
        emit_json({"directory": str(output), "height": height, "rows": written})
    else:
        for name, rows in written.items():
            console.print(f"{output / name}: {rows} rows")
        console.print(f"(the index at height {height})")
