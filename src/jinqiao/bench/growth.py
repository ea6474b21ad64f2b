"""``jinqiao bench growth``: the cost of a token transfer as the state grows (issue 17, item 3).

For each size N (10^4 … 10^7 accounts) the benchmark builds a fresh LMDB store holding N
registered, funded accounts, then applies the same number of transfers between random accounts
in blocks, exactly as ``bench execute`` does (``Chain.execute``, precommit signature,
``Chain.commit`` with fsync), and reports µs per transfer and the bytes the store grew per
transfer.

Building N accounts by transactions (a ``register_account`` and a ``mint`` each) would take
hours at 10^7, so the store is bulk-loaded instead (ADR 0049): the state writes those two
transactions make for each account — the ``registry/account/<address>`` record, the
``token/balance/CNY/<address>`` holding and the asset's supply — are computed directly, put
through the state tree in chunks over the store (as ``Chain`` does for a block), in the order
of their key hashes so that each chunk fills one subtree, and saved by ``Store.load_state``, one
write batch per chunk. The result is byte for byte the state the
transactions produce: a test compares the two roots (``tests/integration/test_bench_growth.py``).

Account ``i``'s key is derived from ``i`` (``account_signer``), so a transfer's payer can sign
without the benchmark keeping millions of keys.
"""

from __future__ import annotations

import contextlib
import math
import random
import shutil
import statistics
import tempfile
import time
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.progress import Progress
from rich.table import Table

from jinqiao.apps import default_contracts
from jinqiao.apps.registry import RegisterAccountArgs, published_name_commitment
from jinqiao.apps.token import TOKEN, Holding, MintArgs, balance_key, supply_key
from jinqiao.bench.execute import (
    ASSET,
    CHAIN_ID,
    VALID_FOR_BLOCKS,
    AppliedBlocks,
    apply_blocks,
    bench_token_config,
    setup_description,
    signed_transfer,
)
from jinqiao.core.codec import encode
from jinqiao.core.crypto import DEFAULT_SUITE, CryptoSuite, Signer, get_suite
from jinqiao.core.errors import InvalidInput, NodeFault
from jinqiao.core.genesis import Genesis, GenesisAccount, GenesisOrganization, GenesisValidator
from jinqiao.core.hashing import transaction_signing_bytes
from jinqiao.core.types import HASH_BYTES, SignedTransaction, TransactionBody
from jinqiao.execution.identity import REGISTRY, Account, account_key
from jinqiao.execution.runtime import Runtime
from jinqiao.execution.state import full_key
from jinqiao.ledger.smt import SparseMerkleTree, key_hash
from jinqiao.node.chain import Chain
from jinqiao.node.storage import Store
from jinqiao.terminal import console, progress_bar, save_result

ORGANIZATION = "bench"
BALANCE_MINOR = 10**9
"""Each account's balance: 10^7 accounts stay far below the supply bound (2^63 - 1)."""
MIN_ACCOUNTS = 100
MAX_ACCOUNTS = 10_000_000
MAX_SIZES = 6
LOAD_CHUNK_ENTRIES = 100_000
"""State entries per bulk-load write batch, about (two an account): bounds the memory of one
tree update."""
DISK_BYTES_PER_ACCOUNT = 2_500
"""Disk a bulk-loaded account takes, rounded up from the 10^6 store loaded in key-hash order
(1,868 bytes an account: two state values in their leaves, the final tree's inner nodes, LMDB
pages partly full); the free-space check before a build uses it."""
DISK_MARGIN_BYTES = 2 * 1024**3
_SEED_TAG = b"jinqiao-bench-growth/"


def account_signer(suite: CryptoSuite, index: int) -> Signer:
    """Account ``index``'s signer; its seed is derived from the index (a benchmark, not a key)."""
    return suite.signer(suite.hash(_SEED_TAG + index.to_bytes(8, "big")))


def account_name(index: int) -> str:
    return f"account-{index}"


def growth_genesis(issuer: Signer, validator: Signer) -> Genesis:
    """One organization issuing CNY, its admin (also the issuer) and one validator; no holdings:
    every account arrives later, by bulk load or by transactions."""
    return Genesis(
        chain_id=CHAIN_ID,
        genesis_time_ms=0,
        organizations=(GenesisOrganization(ORGANIZATION, "Benchmark Bank", ("currency_issuer",)),),
        accounts=(
            GenesisAccount(
                "issuer", ORGANIZATION, issuer.public_key.hex(), ("admin", "currency_issuer")
            ),
        ),
        validators=(GenesisValidator("validator", ORGANIZATION, validator.public_key.hex(), 1),),
        contracts={TOKEN: bench_token_config(ASSET, ORGANIZATION, [])},
    )


def account_state(suite: CryptoSuite, index: int) -> dict[bytes, bytes]:
    """The state writes (full key -> value) that registering account ``index`` with no roles and
    minting ``BALANCE_MINOR`` to it make (the supply aside)."""
    public_key = account_signer(suite, index).public_key
    return dict(_account_entries(suite, index, public_key))


def _account_entries(
    suite: CryptoSuite, index: int, public_key: bytes
) -> tuple[tuple[bytes, bytes], tuple[bytes, bytes]]:
    """``account_state`` from the account's public key: its registry record, then its holding."""
    address = suite.address(public_key)
    registry_key, balance_key_ = _account_keys(address)
    account = Account(
        address,
        public_key,
        ORGANIZATION,
        published_name_commitment(suite, account_name(index)),
        (),
        True,
    )
    holding = Holding(BALANCE_MINOR, "open", False, 0, 0)
    return (registry_key, encode(account)), (balance_key_, encode(holding))


def _account_keys(address: bytes) -> tuple[bytes, bytes]:
    """The full keys of an account's registry record and of its holding."""
    return full_key(REGISTRY, account_key(address)), full_key(TOKEN, balance_key(ASSET, address))


def bulk_load(
    store: Store,
    genesis: Genesis,
    accounts: int,
    progress: Progress | None = None,
    *,
    chunk_entries: int = LOAD_CHUNK_ENTRIES,
) -> bytes:
    """Write genesis and ``accounts`` funded accounts into the empty ``store``; the new state
    root. Accounts ``0 .. accounts - 1``, as ``transaction_path`` would register and fund them.

    The entries go into the tree in the order of their key hashes (ADR 0049, amended): a first
    pass derives each account's key and sorts its two entries into ``2^bits`` parts by the first
    ``bits`` bits of their key hashes (about ``chunk_entries`` entries a part); then each part,
    one write batch, fills one subtree that was empty. So a chunk writes its own subtree and the
    few nodes above it, instead of rewriting the upper tree that every earlier chunk wrote (which
    left most of a store built in chunks of accounts as garbage: 6,000 bytes an account)."""
    suite = genesis.suite
    root = Chain(store, genesis, _runtime(genesis)).head.state_root
    bits = max(0, math.ceil(math.log2(max(1, 2 * accounts) / chunk_entries)))
    shift = 8 * HASH_BYTES - bits
    parts = [array("Q") for _ in range(1 << bits)]
    public_keys = bytearray(32 * accounts)
    keys_task = None if progress is None else progress.add_task("bulk load: keys", total=accounts)
    for index in range(accounts):
        public_key = account_signer(suite, index).public_key
        public_keys[32 * index : 32 * index + 32] = public_key
        # Only the keys here: the values are made in the second pass, part by part.
        for entry, key in enumerate(_account_keys(suite.address(public_key))):
            part = int.from_bytes(key_hash(suite, key), "big") >> shift
            parts[part].append(2 * index + entry)
        if progress is not None and keys_task is not None and (index + 1) % 1000 == 0:
            progress.advance(keys_task, 1000)
    if progress is not None and keys_task is not None:
        progress.advance(keys_task, accounts % 1000)
    supply = full_key(TOKEN, supply_key(ASSET))
    supply_part = int.from_bytes(key_hash(suite, supply), "big") >> shift
    tree_task = None if progress is None else progress.add_task("bulk load: tree", total=accounts)
    for part, codes in enumerate(parts):
        writes: dict[bytes, bytes | None] = {}
        if part == supply_part:
            writes[supply] = encode(accounts * BALANCE_MINOR)
        for code in codes:
            index, entry = divmod(code, 2)
            public_key = bytes(public_keys[32 * index : 32 * index + 32])
            key, value = _account_entries(suite, index, public_key)[entry]
            writes[key] = value
        if not writes:
            continue
        with store.snapshot() as snapshot:
            root, nodes = SparseMerkleTree(suite, snapshot).update(root, writes)
        store.load_state(root, writes, nodes)
        if progress is not None and tree_task is not None:
            progress.advance(tree_task, len(codes) / 2)
    return root


def transaction_path(
    issuer: Signer, accounts: int, first_nonce: int = 0
) -> list[SignedTransaction]:
    """The transactions that make the state ``bulk_load`` writes: the issuer registers each
    account, then mints ``BALANCE_MINOR`` to it (the yardstick of the bulk load's test)."""
    suite = issuer.suite
    transactions: list[SignedTransaction] = []
    for index in range(accounts):
        public_key = account_signer(suite, index).public_key
        registration = RegisterAccountArgs(
            public_key, published_name_commitment(suite, account_name(index)), ()
        )
        mint = MintArgs(ASSET, suite.address(public_key), BALANCE_MINOR)
        for contract, method, arguments in (
            (REGISTRY, "register_account", encode(registration)),
            (TOKEN, "mint", encode(mint)),
        ):
            nonce = first_nonce + len(transactions)
            body = TransactionBody(
                CHAIN_ID,
                issuer.address,
                issuer.public_key,
                nonce,
                VALID_FOR_BLOCKS,
                contract,
                method,
                arguments,
            )
            transactions.append(
                SignedTransaction(body, issuer.sign(transaction_signing_bytes(body)))
            )
    return transactions


def random_transfers(
    suite: CryptoSuite, accounts: int, count: int, block_size: int, rng: random.Random
) -> list[SignedTransaction]:
    """``count`` signed CNY transfers between random distinct accounts among ``accounts``."""
    signers: dict[int, Signer] = {}
    transactions = []
    for nonce in range(count):
        payer_index, payee_index = rng.sample(range(accounts), 2)
        payer = signers.get(payer_index)
        if payer is None:
            payer = signers[payer_index] = account_signer(suite, payer_index)
        payee = suite.address(account_signer(suite, payee_index).public_key)
        amount = rng.randint(1, 10_000)
        transactions.append(signed_transfer(payer, payee, amount, nonce, block_size))
    return transactions


def parse_sizes(text: str) -> list[int]:
    """``"10000,100000"`` -> ``[10000, 100000]``: at most ``MAX_SIZES`` distinct sizes in
    ``MIN_ACCOUNTS .. MAX_ACCOUNTS``, in increasing order."""
    try:
        sizes = [int(part.strip().replace("_", "")) for part in text.split(",")]
    except ValueError:
        raise InvalidInput(f"--sizes: {text!r} is not a comma-separated list of integers") from None
    if not 1 <= len(sizes) <= MAX_SIZES:
        raise InvalidInput(f"--sizes: 1 to {MAX_SIZES} sizes, not {len(sizes)}")
    for size in sizes:
        if not MIN_ACCOUNTS <= size <= MAX_ACCOUNTS:
            raise InvalidInput(
                f"--sizes: {size:,} accounts is outside {MIN_ACCOUNTS:,}..{MAX_ACCOUNTS:,}"
            )
    if sizes != sorted(set(sizes)):
        raise InvalidInput("--sizes: sizes must be distinct and in increasing order")
    return sizes


def check_disk(directory: Path, accounts: int) -> int:
    """The bytes a store of ``accounts`` needs; ``InvalidInput`` if ``directory`` has less free."""
    needed = accounts * DISK_BYTES_PER_ACCOUNT + DISK_MARGIN_BYTES
    free = shutil.disk_usage(directory).free
    if free < needed:
        raise InvalidInput(
            f"{accounts:,} accounts need about {needed / 1e9:.1f} GB free in {directory} "
            f"({DISK_BYTES_PER_ACCOUNT} bytes an account plus {DISK_MARGIN_BYTES / 1e9:.1f} GB); "
            f"{free / 1e9:.1f} GB are free: choose another --directory or smaller --sizes"
        )
    return needed


def _runtime(genesis: Genesis) -> Runtime:
    return Runtime(genesis.suite, genesis.chain_id, default_contracts())


@dataclass
class _Sized:
    """One size's store, open, with its load and the runs applied to it so far."""

    accounts: int
    store: Store
    chain: Chain
    validator: Signer
    transactions: list[SignedTransaction]
    build_s: float
    file_before: int
    live_before: int
    rounds: list[AppliedBlocks] = field(default_factory=list)


def _build(
    accounts: int, *, transfers: int, block_size: int, directory: Path, progress: Progress
) -> _Sized:
    """A bulk-loaded store of ``accounts`` accounts in ``directory`` and its signed transfers."""
    suite = get_suite(DEFAULT_SUITE)
    rng = random.Random(accounts)
    issuer, validator = suite.signer(rng.randbytes(32)), suite.signer(rng.randbytes(32))
    genesis = growth_genesis(issuer, validator)
    store = Store(directory)
    started = time.perf_counter()
    bulk_load(store, genesis, accounts, progress)
    build_s = time.perf_counter() - started
    transactions = random_transfers(
        suite, accounts, transfers, block_size, random.Random(rng.randbytes(8))
    )
    chain = Chain(store, genesis, _runtime(genesis))
    return _Sized(
        accounts,
        store,
        chain,
        validator,
        transactions,
        build_s,
        store.disk_usage_bytes(),
        store.live_bytes(),
    )


def _figures(sized: _Sized, transfers: int, block_size: int) -> dict[str, Any]:
    rejected = sum(run.rejected for run in sized.rounds)
    if rejected:
        raise NodeFault(f"{rejected} benchmark transfers were rejected at {sized.accounts:,}")
    per_round = [
        run.seconds / (len(sized.transactions) / len(sized.rounds)) * 1e6 for run in sized.rounds
    ]
    after, live_after = sized.store.disk_usage_bytes(), sized.store.live_bytes()
    return {
        "accounts": sized.accounts,
        "build_seconds": round(sized.build_s, 1),
        "store_bytes_after_build": sized.file_before,
        "store_bytes_after_transfers": after,
        "live_bytes_after_build": sized.live_before,
        "live_bytes_after_transfers": live_after,
        "transfers": transfers,
        "blocks": -(-transfers // block_size),
        "seconds": round(sum(run.seconds for run in sized.rounds), 3),
        "execute_seconds": round(sum(run.execute_seconds for run in sized.rounds), 3),
        "commit_seconds": round(sum(run.commit_seconds for run in sized.rounds), 3),
        "microseconds_per_transfer_by_round": [round(value, 1) for value in per_round],
        "microseconds_per_transfer": round(statistics.median(per_round), 1),
        "bytes_per_transfer": round((live_after - sized.live_before) / transfers, 1),
        "file_bytes_per_transfer": round((after - sized.file_before) / transfers, 1),
    }


def run_growth_bench(
    *,
    sizes: Sequence[int],
    transfers: int,
    block_size: int,
    rounds: int,
    directory: Path | None,
    json_output: bool,
    output: Path | None,
    plot: Path | None,
) -> dict[str, Any]:
    where = Path(directory or tempfile.gettempdir())
    if not where.is_dir():
        raise InvalidInput(f"--directory {where} is not a directory")
    blocks = -(-transfers // block_size)
    if not 1 <= rounds <= blocks:
        raise InvalidInput(f"--rounds: 1..{blocks} (the blocks of the load), not {rounds}")
    needed = check_disk(where, sum(sizes))  # every size's store is open at once
    with contextlib.ExitStack() as stack, progress_bar(disable=json_output) as progress:
        built = []
        for accounts in sizes:
            path = stack.enter_context(
                tempfile.TemporaryDirectory(prefix="jinqiao-bench-growth-", dir=where)
            )
            sized = _build(
                accounts,
                transfers=transfers,
                block_size=block_size,
                directory=Path(path),
                progress=progress,
            )
            stack.callback(sized.store.close)
            built.append(sized)
        # The sizes take turns, a few blocks each, so that a change in the machine's load
        # falls on every size alike.
        for index in range(rounds):
            first, last = blocks * index // rounds, blocks * (index + 1) // rounds
            for sized in built:
                sized.rounds.append(
                    apply_blocks(
                        sized.chain,
                        sized.validator,
                        sized.transactions[first * block_size : last * block_size],
                        block_size,
                        verify_signatures=False,
                        progress=progress,
                        label=f"round {index + 1}/{rounds} at {sized.accounts:,} accounts",
                    )
                )
        rows = [_figures(sized, transfers, block_size) for sized in built]
    base = rows[0]
    for row in rows:
        row["cost_ratio_to_smallest"] = round(
            row["microseconds_per_transfer"] / base["microseconds_per_transfer"], 2
        )
    setup = setup_description(transfers, block_size, 0)
    setup["accounts"] = list(sizes)
    setup["rounds"] = rounds
    setup["disk_needed_estimate_bytes"] = needed
    setup["path"] = (
        "bulk-loaded store (ADR 0049), then Chain.execute (runtime, token, sparse Merkle tree, "
        "roots), precommit signature, Chain.commit; transfers pre-signed, signatures excluded; "
        "payer and payee drawn at random among all accounts"
    )
    setup["storage"] = (
        "LMDB on local disk, fsync per block; bytes per transfer are the growth of the tables' "
        "live pages (B-tree branch, leaf and overflow pages x page size); file_bytes_per_transfer "
        "is data.mdb's growth, which hides pages LMDB reuses from its free list (LMDB syncs each "
        "commit: no later flush or compaction)"
    )
    result: dict[str, Any] = {"benchmark": "growth", "setup": setup, "results": rows}
    if plot is not None:
        plot_growth_bench(result, plot)
        result["plot"] = str(plot)
    if save_result(result, output=output, json_output=json_output):
        _print(result)
    return result


def _print(result: dict[str, Any]) -> None:
    table = Table(title="jinqiao bench growth — cost of a transfer as the state grows")
    for column in (
        "accounts",
        "build s",
        "µs/transfer",
        "x smallest",
        "execute s",
        "commit s",
        "bytes/transfer",
        "store MB",
    ):
        table.add_column(column, justify="right")
    for row in result["results"]:
        table.add_row(
            f"{row['accounts']:,}",
            f"{row['build_seconds']}",
            f"{row['microseconds_per_transfer']}",
            f"{row['cost_ratio_to_smallest']}",
            f"{row['execute_seconds']}",
            f"{row['commit_seconds']}",
            f"{row['bytes_per_transfer']:,}",
            f"{row['store_bytes_after_transfers'] / 1e6:,.1f}",
        )
    console.print(table)
    setup = result["setup"]
    console.print(
        f"setup: {setup['cpu']}, {setup['cores']} cores, Python {setup['python']}; "
        f"{setup['transfers']} transfers in blocks of {setup['block_size']} at each size; "
        f"{setup['storage']}."
    )


def plot_growth_bench(result: dict[str, Any], path: Path) -> None:
    """µs per transfer and bytes per transfer against the number of accounts (log axis)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["results"]
    sizes = [row["accounts"] for row in rows]
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    left.plot(sizes, [row["microseconds_per_transfer"] for row in rows], marker="o")
    left.axhline(
        2 * rows[0]["microseconds_per_transfer"],
        color="#e53e3e",
        linestyle="--",
        label="2 x the smallest size (target)",
    )
    left.set_ylabel("µs per transfer (execute + roots + commit)")
    left.set_ylim(bottom=0)
    left.legend()
    right.plot(
        sizes,
        [row["bytes_per_transfer"] for row in rows],
        marker="o",
        color="#dd6b20",
        label="live pages of the tables",
    )
    right.plot(
        sizes,
        [row["file_bytes_per_transfer"] for row in rows],
        marker="x",
        linestyle=":",
        color="#718096",
        label="data.mdb file (free pages reused)",
    )
    right.set_ylabel("bytes the store grew per transfer")
    right.legend()
    right.set_ylim(bottom=0)
    for axis in (left, right):
        axis.set_xscale("log")
        axis.set_xlabel("accounts (log scale)")
        axis.grid(True, which="both", alpha=0.3)
    figure.suptitle(
        f"{result['setup']['transfers']:,} transfers in blocks of "
        f"{result['setup']['block_size']:,}, signatures excluded, LMDB fsync per block"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=100)
