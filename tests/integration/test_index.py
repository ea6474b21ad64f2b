"""The chain index against a real node process: a small payments day indexed through the SDK
(every block verified), the rows checked against the node; an indexer killed with SIGKILL
mid-way resumes with no gap and no duplicate and ends equal to a rebuild; the same code path into
a real PostgreSQL server; a node that lies about one block stops the run before that block;
the Parquet export read by DuckDB with docs/index.md's examples; and
every bad situation (missing, locked, behind, another chain, bad arguments) a clear message."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from jinqiao.apps.payments.model import AuthorizeArgs
from jinqiao.client import Client, Credentials, TransactionResult
from jinqiao.core.crypto import Signer
from jinqiao.core.errors import InvalidInput
from jinqiao.core.genesis import load_genesis
from jinqiao.index import ChainIndex, IndexBehind, IndexLocked, IndexMismatch, IndexMissing, queries
from jinqiao.keys import load_key
from jinqiao.provision.network import NetworkLayout
from jinqiao.verify import VerificationError
from tests.helpers.cluster import block_hash, wait_for
from tests.helpers.doc_examples import ROOT, block
from tests.helpers.postgres import postgres_server
from tests.helpers.process import NodeProcess, make_network

pytestmark = pytest.mark.e2e

INDEX_DOC = ROOT / "docs" / "index.md"
MERCHANTS = ("M0001", "M0002")
AMOUNTS = (100_000, 25_000, 7_500)  # fen


@dataclass
class Network:
    directory: Path
    layout: NetworkLayout
    node: NodeProcess
    client: Client
    cycle_id: int
    payment_ids: list[str]


def _ok(result: TransactionResult) -> TransactionResult:
    assert result.ok, f"{result.code}: {result.receipt.message}"
    return result


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    directory = tmp_path_factory.mktemp("index")
    layout = make_network(directory)
    home = directory / layout.nodes[0].home
    config = json.loads((home / "config.json").read_text())
    config["empty_block_interval_ms"] = 200  # enough blocks for the crash test to land mid-way
    (home / "config.json").write_text(json.dumps(config))
    node = NodeProcess(home, port=int(layout.nodes[0].api_url.rsplit(":", 1)[1])).start()
    client = Client(node.url, genesis_file=directory / "genesis.json", credentials=node.credentials)
    try:
        yield _payments_day(Network(directory, layout, node, client, 0, []))
    finally:
        client.close()
        assert node.stop() == 0, node.log()


def _payments_day(network: Network) -> Network:
    """Two merchants' payments captured into one cycle, which closes, is funded and settles."""
    payments = network.client.payments

    def key(name: str) -> Signer:
        return load_key(network.directory / network.layout.account(name).key_file)

    clearing, bank, acquirer = (
        key("clearing-treasury"),
        key("bank-a-treasury"),
        key("ecfin-settlement"),
    )
    _ok(payments.register_institution(clearing, "bank-a", ("card_issuer",), bank.address))
    _ok(payments.register_institution(clearing, "ecfin", ("acquirer",), acquirer.address))
    for merchant in MERCHANTS:
        _ok(payments.register_merchant(acquirer, merchant, f"Shop {merchant}", "5411"))
    _ok(network.client.token.mint(clearing, "CNY", bank.address, 10**8))
    cutoff = int(network.client.status()["height"]) + 12
    cycle_id = payments.opened_cycle_id(
        _ok(payments.open_cycle(clearing, "CNY", cutoff_height=cutoff))
    )
    for number, amount in enumerate(AMOUNTS):
        payment_id = f"P{number}"
        merchant = MERCHANTS[number % len(MERCHANTS)]
        _ok(payments.authorize(bank, _authorization(payment_id, merchant, amount)))
        _ok(payments.capture(acquirer, payment_id, amount, cycle_id))
        network.payment_ids.append(payment_id)
    wait_for(lambda: int(network.client.status()["height"]) >= cutoff, 30, "the cycle's cutoff")
    _ok(payments.close_cycle(clearing, cycle_id))
    _ok(payments.fund(bank, cycle_id))
    _ok(payments.settle(clearing, cycle_id))
    network.cycle_id = cycle_id
    return network


def _authorization(payment_id: str, merchant_id: str, amount_minor: int) -> AuthorizeArgs:
    return AuthorizeArgs(
        payment_id=payment_id,
        issuer="bank-a",
        acquirer="ecfin",
        merchant_id=merchant_id,
        payer_hash=bytes(32),
        amount_minor=amount_minor,
        currency="CNY",
        channel="pos",
        card_type="debit",
        authorization_code="A1B2C3",
        time_ms=1_700_000_000_000,
    )


def _jinqiao(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jinqiao", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _index_run(network: Network, database: str, *extra: str) -> dict[str, object]:
    result = _jinqiao(
        "index",
        "run",
        "--network",
        str(network.directory),
        "--database",
        database,
        "--json",
        *extra,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    answer: dict[str, object] = json.loads(result.stdout)
    return answer


def _table_rows(index: ChainIndex, up_to_height: int) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table at or below ``up_to_height``, sorted: two indexes are equal
    exactly when these are."""
    heights = {
        "blocks": "height",
        "transactions": "height",
        "transaction_accounts": "height",
        "events": "height",
        "event_attributes": "height",
        "payments": "authorized_height",
        "cycles": "opened_height",
    }
    return {
        table: sorted(
            index.database.execute(
                f"SELECT * FROM {table} WHERE {column} <= ?",
                (up_to_height,),
            )
        )
        for table, column in heights.items()
    }


def _check_contiguous(index: ChainIndex) -> int:
    height = index.height()
    heights = [
        row[0] for row in index.database.execute("SELECT height FROM blocks ORDER BY height")
    ]
    assert heights == list(range(1, height + 1))  # no gap, no duplicate
    (total,) = index.database.execute("SELECT SUM(transaction_count) FROM blocks")[0]
    (rows,) = index.database.execute("SELECT COUNT(*) FROM transactions")[0]
    assert rows == total
    return height


def test_the_index_holds_the_verified_chain_and_answers_the_queries(
    network: Network, tmp_path: Path
) -> None:
    database = str(tmp_path / "index.sqlite")
    answer = _index_run(network, database)
    with ChainIndex(database) as index:
        height = _check_contiguous(index)
        assert answer["height"] == height
        for at in (1, height // 2, height):
            assert queries.block(index, at)["hash"] == block_hash(network.node, at)  # type: ignore[index]
        payments = queries.payments_by_merchant(index, "ecfin", "M0001")
        assert sorted(
            (row["payment_id"], row["amount_minor"], row["status"]) for row in payments
        ) == [
            ("P0", AMOUNTS[0], "captured"),
            ("P2", AMOUNTS[2], "captured"),
        ]
        assert {row["cycle_id"] for row in payments} == {network.cycle_id}
        today = datetime.fromtimestamp(queries.block(index, height)["time_ms"] / 1000, UTC)  # type: ignore[index]
        (cycle,) = queries.cycles_by_date(index, "2000-01-01", today.date().isoformat())
        assert (cycle["cycle_id"], cycle["status"]) == (network.cycle_id, "settled")
        assert cycle["debit_total_minor"] > 0
        captured = queries.events(
            index, contract="payments", name="PaymentCaptured", attribute=("payment_id", "P1")
        )
        assert [json.loads(row["attributes"])["amount_minor"] for row in captured] == [AMOUNTS[1]]
        bank = network.layout.account("bank-a-treasury").address
        roles = {row["role"] for row in queries.transactions_by_account(index, bank, limit=1000)}
        assert {"sender", "recipient"} <= roles  # it sent transactions and was minted to
        sent = queries.transactions_by_sender(index, bank)
        assert sent and all(row["sender"] == bank for row in sent)
        assert queries.transaction(index, sent[0]["hash"])["height"] == sent[0]["height"]  # type: ignore[index]
        assert queries.transaction(index, "00" * 32) is None
    shown = _jinqiao(
        "index", "query", "payments", "ecfin", "M0002", "--database", database, "--json"
    )
    assert shown.returncode == 0, shown.stderr
    assert [row["payment_id"] for row in json.loads(shown.stdout)] == ["P1"]


def test_an_indexer_killed_mid_way_resumes_without_gap_or_duplicate(
    network: Network, tmp_path: Path
) -> None:
    database = str(tmp_path / "crash.sqlite")
    command = [
        sys.executable,
        "-m",
        "jinqiao",
        "index",
        "run",
        "--network",
        str(network.directory),
        "--database",
        database,
        "--follow",
        "--max-blocks-per-second",
        "10",
    ]

    def indexed() -> int:
        try:
            with ChainIndex(database) as index:
                return index.height()
        except IndexMissing:
            return 0

    with (tmp_path / "indexer.log").open("wb") as log:
        indexer = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: indexed() >= 5, 60, "the indexer to index five blocks")
    finally:
        indexer.send_signal(signal.SIGKILL)
        indexer.wait(timeout=30)
    assert indexer.returncode == -signal.SIGKILL, (tmp_path / "indexer.log").read_text()
    killed_at = indexed()
    head = int(network.client.status()["height"])
    assert killed_at < head, "the indexer was not killed mid-way"
    with ChainIndex(database) as index:
        assert _check_contiguous(index) == killed_at
    resumed = _index_run(network, database)
    assert resumed["from_height"] == killed_at
    rebuilt = str(tmp_path / "rebuilt.sqlite")
    _index_run(network, rebuilt, "--until", str(resumed["height"]))
    with ChainIndex(database) as index, ChainIndex(rebuilt) as fresh:
        height = _check_contiguous(index)
        assert _check_contiguous(fresh) == height
        assert _table_rows(index, height) == _table_rows(fresh, height)
    # --rebuild empties and indexes from block 1 again, to the same rows.
    again = _index_run(network, database, "--rebuild", "--until", str(height))
    assert (again["from_height"], again["height"]) == (0, height)
    with ChainIndex(database) as index, ChainIndex(rebuilt) as fresh:
        assert _table_rows(index, height) == _table_rows(fresh, height)


def test_postgresql_holds_the_same_rows_as_sqlite(network: Network, tmp_path: Path) -> None:
    sqlite_path = str(tmp_path / "same.sqlite")
    with postgres_server() as url:
        first = _index_run(network, url)
        height = int(str(first["height"]))
        _index_run(network, sqlite_path, "--until", str(height))
        with ChainIndex(url) as postgres, ChainIndex(sqlite_path) as sqlite:
            assert postgres.database.dialect == "postgresql"
            assert _check_contiguous(postgres) == height
            assert _table_rows(postgres, height) == _table_rows(sqlite, height)
            assert queries.payments_by_merchant(postgres, "ecfin", "M0001") == (
                queries.payments_by_merchant(sqlite, "ecfin", "M0001")
            )
        with ChainIndex(url, writer=True), pytest.raises(IndexLocked, match="another `jinqiao"):
            ChainIndex(url, writer=True).close()
        with (
            pytest.raises(IndexMissing, match="not a jinqiao index"),
            ChainIndex(url.replace("/jinqiao", "/postgres")),
        ):
            pass


def test_the_parquet_export_reads_in_duckdb_with_the_documented_query(
    network: Network, tmp_path: Path
) -> None:
    database = str(tmp_path / "export.sqlite")
    _index_run(network, database)
    exported = _jinqiao(
        "export", "--database", database, "--output", str(tmp_path / "export"), "--json"
    )
    assert exported.returncode == 0, exported.stderr
    rows = json.loads(exported.stdout)["rows"]
    assert rows["payments.parquet"] == len(AMOUNTS)
    with ChainIndex(database) as index:
        assert rows["blocks.parquet"] == index.height()

    def documented(name: str) -> list[tuple[Any, ...]]:
        return _duck(block(name, INDEX_DOC).replace("export/", f"{tmp_path / 'export'}/"))

    answer = documented("duckdb-merchants")
    assert answer == [
        ("M0001", 2, AMOUNTS[0] + AMOUNTS[2]),
        ("M0002", 1, AMOUNTS[1]),
    ]
    events = _duck(
        f"SELECT name, count(*) FROM '{tmp_path}/export/events.parquet' "
        "WHERE contract = 'payments' GROUP BY name ORDER BY name"
    )
    assert ("PaymentCaptured", len(AMOUNTS)) in events
    per_minute = documented("duckdb-per-minute")
    with ChainIndex(database) as index:
        assert sum(row[1] for row in per_minute) == queries.summary(index)["rows"]["transactions"]
    captures = documented("duckdb-captures")
    assert [(row[1], row[2]) for row in captures] == [
        (f"P{number}", amount) for number, amount in enumerate(AMOUNTS)
    ]
    ((first_time,),) = _duck(f"SELECT min(time) FROM '{tmp_path}/export/blocks.parquet'")
    assert first_time.year >= 2026


def _duck(query: str) -> list[tuple[Any, ...]]:
    relation = duckdb.sql(query)
    assert relation is not None, query
    return relation.fetchall()


def test_bad_situations_are_clear_messages(network: Network, tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.sqlite")
    result = _jinqiao("index", "query", "block", "1", "--database", missing)
    assert result.returncode == 1
    assert "no index at" in result.stderr and "Traceback" not in result.stderr
    database = str(tmp_path / "locked.sqlite")
    _index_run(network, database, "--until", "3")
    with ChainIndex(database, writer=True):
        second = _jinqiao(
            "index", "run", "--network", str(network.directory), "--database", database
        )
        assert second.returncode == 1
        assert "being written by another `jinqiao index run`" in second.stderr
    wait_for(lambda: int(network.client.status()["height"]) > 5, 30, "more blocks")
    behind = _jinqiao(
        "index",
        "status",
        "--network",
        str(network.directory),
        "--database",
        database,
        "--max-behind",
        "1",
    )
    assert behind.returncode == 1 and "blocks behind the chain" in behind.stderr, behind.stderr
    with ChainIndex(database) as index:
        with pytest.raises(IndexBehind):
            index.require_current(10**6, 0)
        bad_calls: list[Callable[[], object]] = [
            lambda: queries.transactions_by_account(index, "zz" * 20),
            lambda: queries.transactions_by_account(index, "ab"),
            lambda: queries.cycles_by_date(index, "2026-13-01"),
            lambda: queries.cycles_by_date(index, "2026-02-02", "2026-02-01"),
            lambda: queries.events(index, contract="payments", name="x" * 1000),
            lambda: queries.payments_by_merchant(index, "ecfin", "M0001", limit=0),
        ]
        for bad in bad_calls:
            with pytest.raises(InvalidInput):
                bad()
    bad_attribute = _jinqiao(
        "index",
        "query",
        "events",
        "payments",
        "PaymentCaptured",
        "--attribute",
        "nokey",
        "--database",
        database,
    )
    assert bad_attribute.returncode == 1 and "KEY=VALUE" in bad_attribute.stderr
    other = make_network(tmp_path / "other")
    with (
        ChainIndex(database, writer=True) as index,
        pytest.raises(IndexMismatch, match="was built from chain"),
    ):
        index.bind(load_genesis((tmp_path / "other" / other.genesis_file).read_bytes()))
    (tmp_path / "garbage.sqlite").write_bytes(b"not a database" * 100)
    garbage = _jinqiao(
        "index", "query", "block", "1", "--database", str(tmp_path / "garbage.sqlite")
    )
    assert garbage.returncode == 1 and "Traceback" not in garbage.stderr, garbage.stderr


class _Tampering(httpx.BaseTransport):
    """Forwards to the real node, and changes one receipt of block ``height``'s leaves: a node
    that lies about one block."""

    def __init__(self, height: int, credentials: Credentials) -> None:
        self.height = height
        self.inner = httpx.HTTPTransport(verify=credentials.ssl_context())

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.url.path != f"/v1/blocks/{self.height}":
            return response
        body = json.loads(response.read())
        leaf = body["receipt_leaves"][0]
        body["receipt_leaves"][0] = leaf[:-2] + ("00" if leaf[-2:] != "00" else "01")
        return httpx.Response(response.status_code, json=body)

    def close(self) -> None:
        self.inner.close()


def test_a_lying_node_is_not_indexed(network: Network, tmp_path: Path) -> None:
    """Blocks are indexed only as the SDK verified them: a block whose receipt differs from the
    header's receipts root stops the run, and the index keeps everything before it, nothing of
    it."""
    lying_height = 4
    client = Client(
        network.node.url,
        genesis_file=network.directory / "genesis.json",
        transport=_Tampering(lying_height, network.node.credentials),
    )
    database = str(tmp_path / "lied.sqlite")
    with client, ChainIndex(database, writer=True) as index:
        with pytest.raises(VerificationError):
            index.catch_up(client)
        assert _check_contiguous(index) == lying_height - 1
    resumed = _index_run(network, database, "--until", str(lying_height + 2))
    assert (resumed["from_height"], resumed["height"]) == (lying_height - 1, lying_height + 2)
