"""``bench growth``: the bulk-loaded store holds exactly the state that the register and mint
transactions make (ADR 0049), the load refuses a store with blocks, the options are checked,
and the benchmark runs end to end on real LMDB stores."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jinqiao.apps import default_contracts
from jinqiao.bench.execute import apply_blocks
from jinqiao.bench.growth import (
    MAX_ACCOUNTS,
    bulk_load,
    check_disk,
    growth_genesis,
    parse_sizes,
    random_transfers,
    run_growth_bench,
    transaction_path,
)
from jinqiao.cli.main import app
from jinqiao.core.crypto import DEFAULT_SUITE, get_suite
from jinqiao.core.errors import InvalidInput, NodeFault
from jinqiao.execution.runtime import Runtime
from jinqiao.node.chain import Chain
from jinqiao.node.storage import Store
from jinqiao.terminal import progress_bar

ACCOUNTS = 60


def _signers(seed: int):  # type: ignore[no-untyped-def]
    suite = get_suite(DEFAULT_SUITE)
    rng = random.Random(seed)
    return suite.signer(rng.randbytes(32)), suite.signer(rng.randbytes(32))


def _chain(path: Path, issuer, validator) -> Chain:  # type: ignore[no-untyped-def]
    genesis = growth_genesis(issuer, validator)
    runtime = Runtime(genesis.suite, genesis.chain_id, default_contracts())
    return Chain(Store(path), genesis, runtime)


def _by_transactions(path: Path, accounts: int) -> Chain:
    issuer, validator = _signers(1)
    chain = _chain(path, issuer, validator)
    with progress_bar(disable=True) as progress:
        applied = apply_blocks(
            chain,
            validator,
            transaction_path(issuer, accounts),
            50,
            verify_signatures=True,
            progress=progress,
            label="transactions",
        )
    assert applied.rejected == 0
    return chain


def test_bulk_load_gives_the_state_root_of_the_transactions(tmp_path: Path) -> None:
    by_transactions = _by_transactions(tmp_path / "transactions", ACCOUNTS)
    issuer, validator = _signers(1)
    genesis = growth_genesis(issuer, validator)
    bulk_store = Store(tmp_path / "bulk")
    root = bulk_load(bulk_store, genesis, ACCOUNTS, chunk_entries=16)  # up to 8 write batches
    assert root == by_transactions.head.state_root
    bulk = Chain(bulk_store, genesis, Runtime(genesis.suite, genesis.chain_id, default_contracts()))
    assert bulk.head.height == 0
    assert bulk.head.state_root == root
    # Every state entry is equal too, not just the root.
    with by_transactions.store.snapshot() as left, bulk_store.snapshot() as right:
        for key in _state_keys(by_transactions.store):
            assert left.get(key) == right.get(key)
    by_transactions.store.close()
    bulk_store.close()


def test_bulk_load_root_differs_with_one_account_fewer(tmp_path: Path) -> None:
    issuer, validator = _signers(1)
    by_transactions = _by_transactions(tmp_path / "transactions", 5)
    store = Store(tmp_path / "bulk")
    assert bulk_load(store, growth_genesis(issuer, validator), 4) != by_transactions.head.state_root
    store.close()
    by_transactions.store.close()


def test_transfers_apply_on_a_bulk_loaded_store(tmp_path: Path) -> None:
    issuer, validator = _signers(2)
    genesis = growth_genesis(issuer, validator)
    store = Store(tmp_path / "bulk")
    bulk_load(store, genesis, 300)
    chain = Chain(store, genesis, Runtime(genesis.suite, genesis.chain_id, default_contracts()))
    transfers = random_transfers(genesis.suite, 300, 200, 100, random.Random(3))
    with progress_bar(disable=True) as progress:
        applied = apply_blocks(
            chain,
            validator,
            transfers,
            100,
            verify_signatures=True,
            progress=progress,
            label="transfers",
        )
    assert applied.rejected == 0
    assert chain.head.height == 2
    store.close()


def test_load_state_refuses_a_store_with_blocks(tmp_path: Path) -> None:
    chain = _by_transactions(tmp_path / "transactions", 2)
    with pytest.raises(NodeFault, match="holds blocks"):
        chain.store.load_state(chain.head.state_root, {}, {})
    chain.store.close()


def test_load_state_refuses_a_store_without_genesis(tmp_path: Path) -> None:
    store = Store(tmp_path / "empty")
    with pytest.raises(NodeFault, match="before genesis"):
        store.load_state(bytes(32), {}, {})
    store.close()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ten", "not a comma-separated list"),
        ("10", "outside"),
        (f"{MAX_ACCOUNTS + 1}", "outside"),
        ("100000,10000", "increasing"),
        ("10000,10000", "increasing"),
        ("1000,2000,3000,4000,5000,6000,7000", "1 to 6 sizes"),
    ],
)
def test_sizes_are_checked(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_sizes(text)


def test_sizes_parse() -> None:
    assert parse_sizes("10_000, 100000") == [10_000, 100_000]


def test_disk_check_names_what_a_size_needs(tmp_path: Path) -> None:
    assert check_disk(tmp_path, 1_000) > 0
    with pytest.raises(InvalidInput, match="GB free"):
        check_disk(tmp_path, 10**15)


def test_growth_bench_end_to_end(tmp_path: Path) -> None:
    output = tmp_path / "growth.json"
    plot = tmp_path / "growth.png"
    result = run_growth_bench(
        sizes=[200, 2_000],
        transfers=300,
        block_size=100,
        rounds=3,
        directory=tmp_path,
        json_output=True,
        output=output,
        plot=plot,
    )
    saved = json.loads(output.read_text())
    assert saved == result
    assert [row["accounts"] for row in saved["results"]] == [200, 2_000]
    for row in saved["results"]:
        assert row["microseconds_per_transfer"] > 0
        assert row["live_bytes_after_transfers"] > row["live_bytes_after_build"]
        assert row["bytes_per_transfer"] > 0
    assert saved["results"][0]["cost_ratio_to_smallest"] == 1.0
    assert all(len(row["microseconds_per_transfer_by_round"]) == 3 for row in saved["results"])
    assert plot.stat().st_size > 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("jinqiao-bench-growth-")]


def _state_keys(store: Store) -> list[bytes]:
    with store.tables.read() as view:
        return view.keys_from(b"state_latest", b"", 10_000)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("--sizes", "5"), "outside 100..10,000,000"),
        (("--sizes", "1000,x"), "not a comma-separated list"),
        (("--directory", "{dir}/missing"), "is not a directory"),
        (("--sizes", "1000", "--transfers", "1000", "--rounds", "2"), "--rounds: 1..1"),
    ],
)
def test_cli_refuses_bad_options_in_one_line(
    tmp_path: Path, arguments: tuple[str, ...], message: str
) -> None:
    result = CliRunner().invoke(
        app, ["bench", "growth", *(part.format(dir=tmp_path) for part in arguments)]
    )
    assert result.exit_code == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
