"""``jinqiao bench index``: how fast the chain index fills, and how fast its queries answer.

Two parts, each stated in the result's ``setup``:

1. **Blocks indexed per second** — a one-validator network of a real node process; ``transfers``
   pre-signed token transfers posted and committed (in blocks of the size the node makes); then
   ``ChainIndex.catch_up`` from block 1 through the SDK over HTTP, every block verified
   (certificate, transaction and receipt roots) and saved in its own database transaction, into
   SQLite and, given ``--postgres URL``, into PostgreSQL. The clock runs over the indexing only.
2. **Query latency over a large index** — rows **generated directly into the index** (not
   indexed from a chain: committing a million transactions on a node first would take this
   machine far longer than the queries), in the index's own schema and with the shapes the
   indexer writes: ``transactions`` transfers between ``accounts`` accounts, one ``Transfer``
   event each (four attributes), a payment for every fifth transaction across 2,000 merchants,
   a clearing cycle a day. Then each of the main queries (``jinqiao.index.queries``) runs
   ``samples`` times with random arguments of rows that exist; p50, p95 and max in
   milliseconds.
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
from rich.table import Table

from jinqiao.bench.execute import setup_description
from jinqiao.bench.local_network import (
    BATCH,
    RunningNetwork,
    account_keys,
    init_quiet_network,
    percentile,
    post_batch,
    running_network,
)
from jinqiao.bench.network import presign_transfers, transfer_spec
from jinqiao.client import Client, Credentials
from jinqiao.index import ChainIndex, queries
from jinqiao.index.store import utc_date
from jinqiao.terminal import console, save_result

INSERT_BATCH_ROWS = 20_000
MERCHANTS = 2_000
ACQUIRERS = 10
TRANSACTIONS_PER_BLOCK = 200
BLOCK_INTERVAL_MS = 1_000
START_TIME_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
DAY_MS = 86_400_000
PAYMENT_EVERY = 5
CYCLES = 1_000
"""Clearing cycles of the large index, one a day from ``START_TIME_MS`` (blocks do not span
that long; the cycles table is sized as a few years of daily clearing would make it)."""
POST_ATTEMPTS = 100
QUERY_TARGET_MS = 100.0

Row = tuple[Any, ...]


def _hex(generator: random.Random, length_bytes: int) -> str:
    return generator.randbytes(length_bytes).hex()


def _indexing_rate(
    location: str, url: str, genesis_file: Path, credentials: Credentials | None
) -> dict[str, Any]:
    with (
        ChainIndex(location, writer=True) as index,
        Client(url, genesis_file=genesis_file, credentials=credentials) as client,
    ):
        index.rebuild()
        started = time.perf_counter()
        height = index.catch_up(client)
        elapsed_s = time.perf_counter() - started
        (transactions,) = index.database.execute("SELECT COUNT(*) FROM transactions")[0]
        dialect = index.database.dialect
    return {
        "database": dialect,
        "blocks": height,
        "transactions": int(transactions),
        "seconds": round(elapsed_s, 3),
        "blocks_per_second": round(height / elapsed_s, 1),
        "transactions_per_second": round(int(transactions) / elapsed_s, 1),
    }


def _index_chain(
    transfers: int,
    block_size: int,
    base_port: int,
    postgres: str | None,
    say: Callable[[str], None],
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    spec = transfer_spec(1, base_port, "ed25519-sha256")
    parameters = msgspec.structs.replace(spec.parameters, block_max_transactions=block_size)
    spec = msgspec.structs.replace(spec, parameters=parameters)
    with tempfile.TemporaryDirectory(prefix="jinqiao-bench-index-") as directory:
        root = Path(directory)
        layout = init_quiet_network(root / "net", spec)
        senders = list(account_keys(root / "net", layout, "sender-").values())
        transactions = presign_transfers(senders, layout.chain_id, transfers)
        with running_network(root / "net", layout, root) as network:
            say(f"posting {len(transactions)} transfers to one validator…")
            taken = _post_all(network, transactions)
            tracker = network.tracker
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                with tracker.lock:
                    if taken <= tracker.committed_at.keys():
                        break
                time.sleep(0.2)
            genesis_file = root / "net" / layout.genesis_file
            results = []
            for location in (str(root / "index.sqlite"), postgres):
                if location is not None:
                    say(f"indexing into {location.split('@')[-1]}…")
                    results.append(
                        _indexing_rate(location, network.urls[0], genesis_file, network.credentials)
                    )
    setup = {
        "network": "one validator node process on this machine, HTTPS with a client certificate"
        " on loopback",
        "load": f"{len(transactions)} token transfers posted in batches of {BATCH}",
        "block_max_transactions": block_size,
        "path": "Client.proven_block per height (certificate, transaction and receipt roots "
        "verified), one database transaction per block; SQLite WAL synchronous=NORMAL in a "
        "temporary directory",
    }
    return setup, results


def _post_all(network: RunningNetwork, transactions: list[tuple[bytes, bytes]]) -> set[bytes]:
    """Post every transaction, the refused ones again after a pause (a full mempool drains),
    up to ``POST_ATTEMPTS`` times; the hashes of those the node took."""
    taken: set[bytes] = set()
    with network.http(network.urls[0]) as client:
        for start in range(0, len(transactions), BATCH):
            batch = transactions[start : start + BATCH]
            for _ in range(POST_ATTEMPTS):
                results = post_batch(client, batch)
                if results is None:
                    time.sleep(0.1)
                    continue
                taken.update(
                    identity
                    for (identity, _), result in zip(batch, results, strict=True)
                    if "error" not in result
                )
                batch = [item for item in batch if item[0] not in taken]
                if not batch:
                    break
                time.sleep(0.1)
    return taken


def _synthetic_rows(
    count: int, accounts: int, seed: int
) -> Iterator[tuple[str, list[tuple[Any, ...]]]]:
    """(table, rows) in batches: ``count`` transfers and what the indexer derives from them."""
    generator = random.Random(seed)
    addresses = [_hex(generator, 20) for _ in range(accounts)]
    tables: dict[str, list[tuple[Any, ...]]] = {
        name: []
        for name in (
            "blocks",
            "transactions",
            "transaction_accounts",
            "events",
            "event_attributes",
            "payments",
        )
    }
    for number in range(count):
        height, position = divmod(number, TRANSACTIONS_PER_BLOCK)
        height += 1
        time_ms = START_TIME_MS + height * BLOCK_INTERVAL_MS
        if position == 0:
            tables["blocks"].append(
                (
                    height,
                    _hex(generator, 32),
                    time_ms,
                    addresses[0],
                    TRANSACTIONS_PER_BLOCK,
                    _hex(generator, 32),
                    _hex(generator, 32),
                )
            )
        sender, recipient = generator.sample(addresses, 2)
        identity = _hex(generator, 32)
        amount = generator.randint(1, 1_000_000)
        key = (height, position, 0)
        tables["transactions"].append(
            (identity, height, position, time_ms, sender, "token", "transfer", "ok", "ok", 1)
        )
        tables["transaction_accounts"] += [
            (sender, height, position, "sender", identity),
            (recipient, height, position, "recipient", identity),
        ]
        attributes = {"amount_minor": amount, "asset": "CNY", "recipient": recipient}
        attributes["sender"] = sender
        tables["events"].append(
            (*key, identity, time_ms, "token", "Transfer", json.dumps(attributes))
        )
        tables["event_attributes"] += [
            (name, str(value), *key) for name, value in attributes.items()
        ]
        if number % PAYMENT_EVERY == 0:
            merchant = generator.randrange(MERCHANTS)
            tables["payments"].append(
                (
                    f"P{number}",
                    "bank-a",
                    f"acquirer-{merchant % ACQUIRERS}",
                    f"M{merchant:05d}",
                    "CNY",
                    amount,
                    "captured",
                    1 + (time_ms - START_TIME_MS) // DAY_MS,
                    amount,
                    0,
                    height,
                    time_ms,
                    height,
                )
            )
        if len(tables["event_attributes"]) >= INSERT_BATCH_ROWS or number == count - 1:
            for table, rows in tables.items():
                if rows:
                    yield table, rows
                tables[table] = []


def _fill_synthetic(index: ChainIndex, count: int, accounts: int, seed: int) -> dict[str, Any]:
    index.rebuild()
    started = time.perf_counter()
    database = index.database
    last_height = 0
    for table, rows in _synthetic_rows(count, accounts, seed):
        marks = ", ".join("?" * len(rows[0]))
        with database.transaction():
            database.execute_many(f"INSERT INTO {table} VALUES ({marks})", rows)  # noqa: S608
        if table == "blocks":
            last_height = rows[-1][0]
    with database.transaction():
        database.execute_many(
            "INSERT INTO cycles VALUES (?, 'CNY', 'clearing', 'settled', ?, ?, ?, ?, ?, 12, ?, ?)",
            [
                (
                    day + 1,
                    utc_date(START_TIME_MS + day * DAY_MS),
                    1,
                    START_TIME_MS + day * DAY_MS,
                    2,
                    3,
                    10**9,
                    3,
                )
                for day in range(CYCLES)
            ],
        )
        database.execute(
            "INSERT INTO index_meta VALUES ('height', ?) ON CONFLICT (key) DO UPDATE SET value = ?",
            (str(last_height), str(last_height)),
        )
    database.execute("ANALYZE")
    return {"rows_seconds": round(time.perf_counter() - started, 1), "height": last_height}


def _samples(index: ChainIndex, table: str, columns: str, count: int, seed: int) -> list[Row]:
    (total,) = index.database.execute(f"SELECT COUNT(*) FROM {table}")[0]  # noqa: S608
    generator = random.Random(seed)
    picked = []
    for _ in range(count):
        offset = generator.randrange(int(total))
        picked += index.database.execute(
            f"SELECT {columns} FROM {table} LIMIT 1 OFFSET ?",  # noqa: S608
            (offset,),
        )
    return picked


def _query_latency(index: ChainIndex, samples: int, seed: int) -> dict[str, dict[str, float]]:
    transactions = _samples(index, "transactions", "hash, sender, height", samples, seed)
    payments = _samples(index, "payments", "acquirer, merchant_id", samples, seed + 1)
    cycles = _samples(index, "cycles", "opened_date", samples, seed + 2)
    asks: dict[str, Callable[[int], object]] = {
        "transaction by hash": lambda i: queries.transaction(index, transactions[i][0]),
        "block by height": lambda i: queries.block(index, transactions[i][2]),
        "transactions by account (100)": lambda i: queries.transactions_by_account(
            index, transactions[i][1]
        ),
        "transactions by sender (100)": lambda i: queries.transactions_by_sender(
            index, transactions[i][1]
        ),
        "events by attribute (Transfer recipient, 100)": lambda i: queries.events(
            index, contract="token", name="Transfer", attribute=("recipient", transactions[i][1])
        ),
        "events by type (100 newest)": lambda i: queries.events(
            index, contract="token", name="Transfer"
        ),
        "payments by merchant (100)": lambda i: queries.payments_by_merchant(
            index, payments[i][0], payments[i][1]
        ),
        "cycles by date (30 days)": lambda i: queries.cycles_by_date(
            index, cycles[i][0], _plus_days(cycles[i][0], 29)
        ),
    }
    results = {}
    for name, ask in asks.items():
        latencies_s = []
        for sample in range(samples):
            started = time.perf_counter()
            ask(sample)
            latencies_s.append(time.perf_counter() - started)
        results[name] = {
            "p50_ms": round(percentile(latencies_s, 0.50) * 1000, 3),
            "p95_ms": round(percentile(latencies_s, 0.95) * 1000, 3),
            "max_ms": round(max(latencies_s) * 1000, 3),
        }
    return results


def _plus_days(day: str, days: int) -> str:
    moment = datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp() * 1000
    return utc_date(int(moment) + days * DAY_MS)


def _large_index(
    location: str, transactions: int, accounts: int, samples: int, say: Callable[[str], None]
) -> dict[str, Any]:
    with ChainIndex(location, writer=True) as index:
        say(f"generating {transactions} transactions into {location.split('@')[-1]}…")
        filled = _fill_synthetic(index, transactions, accounts, seed=7)
        say("querying…")
        latency = _query_latency(index, samples, seed=11)
        counts = queries.summary(index)["rows"]
        dialect = index.database.dialect
    return {"database": dialect, **filled, "rows": counts, "queries": latency}


def run_index_bench(
    *,
    transfers: int,
    block_size: int,
    transactions: int,
    accounts: int,
    samples: int,
    postgres: str | None,
    base_port: int,
    json_output: bool,
    output: Path | None,
    plot: Path | None = None,
) -> dict[str, Any]:
    def say(message: str) -> None:
        if not json_output:
            console.print(message)

    machine = setup_description(0, 0, 0)
    for unused in ("transfers", "block_size", "accounts", "storage", "path"):
        machine.pop(unused)
    indexing_setup, indexing = _index_chain(transfers, block_size, base_port, postgres, say)
    large = []
    with tempfile.TemporaryDirectory(prefix="jinqiao-bench-index-large-") as directory:
        for location in (str(Path(directory) / "large.sqlite"), postgres):
            if location is not None:
                large.append(_large_index(location, transactions, accounts, samples, say))
    result: dict[str, Any] = {
        "benchmark": "index",
        "setup": {
            **machine,
            "indexing": indexing_setup,
            "queries": {
                "rows": "generated directly into the index's tables (not indexed from a chain)",
                "transactions": transactions,
                "accounts": accounts,
                "transactions_per_block": TRANSACTIONS_PER_BLOCK,
                "payments": f"one per {PAYMENT_EVERY} transactions, {MERCHANTS} merchants",
                "cycles": f"{CYCLES}, one a day",
                "samples_per_query": samples,
                "path": "jinqiao.index.queries in this process, random existing arguments",
            },
            "postgresql": _postgres_setup(postgres) if postgres else "not measured (no --postgres)",
        },
        "indexing": indexing,
        "queries": large,
    }
    if plot is not None:
        plot_index_bench(result, plot)
        result["plot"] = str(plot)
    if save_result(result, output=output, json_output=json_output):
        _print(result)
    return result


def plot_index_bench(result: dict[str, Any], path: Path) -> None:
    """Blocks indexed per second by database, and each query's p95 against the 100 ms target."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(
        1, 2, figsize=(13, 5), gridspec_kw={"width_ratios": [1, 3]}
    )
    runs = result["indexing"]
    left.bar([run["database"] for run in runs], [run["blocks_per_second"] for run in runs])
    for position, run in enumerate(runs):
        left.annotate(
            f"{run['blocks_per_second']} blocks/s\n{run['transactions_per_second']:,} tx/s",
            (position, run["blocks_per_second"]),
            ha="center",
            va="bottom",
        )
    left.set_ylim(0, 1.3 * max([run["blocks_per_second"] for run in runs] or [1]))
    left.set_ylabel("blocks indexed per second (verified, via HTTP)")
    left.set_title(f"{result['setup']['indexing']['block_max_transactions']} transactions a block")
    names = list(result["queries"][0]["queries"]) if result["queries"] else []
    width = 0.8 / max(1, len(result["queries"]))
    for offset, run in enumerate(result["queries"]):
        right.barh(
            [position + offset * width for position in range(len(names))],
            [run["queries"][name]["p95_ms"] for name in names],
            height=width,
            label=f"{run['database']}, {run['rows']['transactions']:,} transactions",
        )
    right.set_yticks([position + width / 2 for position in range(len(names))], names)
    right.set_xscale("log")
    right.axvline(QUERY_TARGET_MS, color="#e53e3e", linestyle="--", label="100 ms target")
    right.set_xlabel("p95 (ms, log scale)")
    right.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _postgres_setup(url: str) -> str:
    import psycopg

    with psycopg.connect(url) as connection:
        version = connection.execute("SHOW server_version").fetchone()
        fsync = connection.execute("SHOW fsync").fetchone()
        commit = connection.execute("SHOW synchronous_commit").fetchone()
    return (
        f"PostgreSQL {version[0] if version else '?'} at {url.split('@')[-1]}, fsync "
        f"{fsync[0] if fsync else '?'}, synchronous_commit {commit[0] if commit else '?'}, "
        "psycopg 3 over TCP"
    )


def _print(result: dict[str, Any]) -> None:
    for run in result["indexing"]:
        console.print(
            f"{run['database']}: {run['blocks']} blocks ({run['transactions']} transactions) "
            f"indexed in {run['seconds']} s: {run['blocks_per_second']} blocks/s, "
            f"{run['transactions_per_second']} transactions/s"
        )
    for run in result["queries"]:
        table = Table(f"{run['database']}, {run['rows']['transactions']:,} transactions", "p50 ms")
        table.add_column("p95 ms")
        table.add_column("max ms")
        for name, figures in run["queries"].items():
            table.add_row(
                name, str(figures["p50_ms"]), str(figures["p95_ms"]), str(figures["max_ms"])
            )
        console.print(table)
