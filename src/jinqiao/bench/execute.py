"""``jinqiao bench execute``: how many token transfers per second one node applies.

The measured path is the node's own: ``Chain.execute`` (runtime checks, the token contract, the
sparse Merkle tree update and the block's Merkle roots), the validator's precommit signature and
``Chain.commit`` (one LMDB write transaction with fsync). Transfers are signed before the clock
starts. The run is done twice on fresh stores: signature checks excluded (as a solo node, which
verified them at admission) and included (as a validator re-checking a proposal).
"""

from __future__ import annotations

import json
import os
import platform
import random
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.progress import Progress
from rich.table import Table

from jinqiao.apps import default_contracts
from jinqiao.apps.token import TOKEN, TransferArgs
from jinqiao.core.codec import encode
from jinqiao.core.crypto import DEFAULT_SUITE, Signer, get_suite
from jinqiao.core.errors import NodeFault
from jinqiao.core.genesis import Genesis, GenesisAccount, GenesisOrganization, GenesisValidator
from jinqiao.core.hashing import transaction_signing_bytes
from jinqiao.core.types import SignedTransaction, TransactionBody
from jinqiao.execution.runtime import Runtime
from jinqiao.node.chain import Chain
from jinqiao.node.storage import Store
from jinqiao.node.validator import solo_certificate
from jinqiao.terminal import console, emit_json, progress_bar

ASSET = "CNY"
CHAIN_ID = "jinqiao-bench"
VALID_FOR_BLOCKS = 100  # well inside the default window of 1,000 blocks


def bench_token_config(asset: str, issuer: str, holdings: list[dict[str, Any]]) -> dict[str, Any]:
    """The token's genesis for benchmarks: one asset of scale 2 and one tier without limits, so
    that nothing but the path under test is measured."""
    unlimited = 10**15
    return {
        "tiers": {
            "open": {
                "max_balance_minor": unlimited,
                "max_payment_minor": unlimited,
                "daily_limit_minor": unlimited,
            }
        },
        "assets": [
            {
                "symbol": asset,
                "name": "Bench yuan",
                "scale": 2,
                "issuer": issuer,
                "default_tier": "open",
            }
        ],
        "holdings": holdings,
    }


def bench_genesis(holders: list[Signer], validator: Signer) -> Genesis:
    return Genesis(
        chain_id=CHAIN_ID,
        genesis_time_ms=0,
        organizations=(GenesisOrganization("bench", "Benchmark Bank", ("currency_issuer",)),),
        accounts=tuple(
            GenesisAccount(f"holder-{i}", "bench", s.public_key.hex(), ("admin",) if i == 0 else ())
            for i, s in enumerate(holders)
        ),
        validators=(GenesisValidator("validator", "bench", validator.public_key.hex(), 1),),
        contracts={
            TOKEN: bench_token_config(
                ASSET,
                "bench",
                [
                    {"asset": ASSET, "address": s.address.hex(), "balance_minor": 10**12}
                    for s in holders
                ],
            )
        },
    )


def signed_transfer(
    payer: Signer, payee: bytes, amount_minor: int, nonce: int, block_size: int
) -> SignedTransaction:
    """One CNY transfer of the benchmarks' load, valid ``VALID_FOR_BLOCKS`` past its block."""
    body = TransactionBody(
        CHAIN_ID,
        payer.address,
        payer.public_key,
        nonce,
        nonce // block_size + 1 + VALID_FOR_BLOCKS,
        TOKEN,
        "transfer",
        encode(TransferArgs(ASSET, payee, amount_minor)),
    )
    return SignedTransaction(body, payer.sign(transaction_signing_bytes(body)))


def signed_transfers(
    holders: list[Signer], count: int, rng: random.Random, block_size: int
) -> list[SignedTransaction]:
    """``count`` signed CNY transfers between random ``holders`` (the benchmark's load, also the
    input of the differential test of the verified-signature shortcut)."""
    transactions = []
    for nonce in range(count):
        payer, payee = rng.sample(holders, 2)
        amount = rng.randint(1, 10_000)
        transactions.append(signed_transfer(payer, payee.address, amount, nonce, block_size))
    return transactions


@dataclass(frozen=True)
class AppliedBlocks:
    """Wall-clock seconds of one ``apply_blocks`` run and how many transfers were rejected."""

    seconds: float
    execute_seconds: float
    commit_seconds: float
    rejected: int


def apply_blocks(
    chain: Chain,
    validator: Signer,
    transactions: list[SignedTransaction],
    block_size: int,
    *,
    verify_signatures: bool,
    progress: Progress,
    label: str,
) -> AppliedBlocks:
    """Execute and commit ``transactions`` in blocks of ``block_size`` on ``chain``, as the
    node does: ``Chain.execute``, the precommit signature and ``Chain.commit``."""
    execute_s = commit_s = 0.0
    rejected = 0
    task = progress.add_task(label, total=len(transactions))
    started = time.perf_counter()
    for start in range(0, len(transactions), block_size):
        block = transactions[start : start + block_size]
        t0 = time.perf_counter()
        candidate = chain.execute(
            block, 1_000 + start, validator.address, verify_signatures=verify_signatures
        )
        t1 = time.perf_counter()
        chain.commit(
            candidate, solo_certificate(validator, candidate.block.header, candidate.block_hash)
        )
        t2 = time.perf_counter()
        execute_s += t1 - t0
        commit_s += t2 - t1
        rejected += sum(1 for r in candidate.result.receipts if r.status != 0)
        progress.advance(task, len(block))
    return AppliedBlocks(time.perf_counter() - started, execute_s, commit_s, rejected)


def _run(
    genesis: Genesis,
    validator: Signer,
    transactions: list[SignedTransaction],
    block_size: int,
    verify_signatures: bool,
    progress: Progress,
    label: str,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="jinqiao-bench-") as directory:
        store = Store(Path(directory))
        chain = Chain(store, genesis, Runtime(genesis.suite, genesis.chain_id, default_contracts()))
        applied = apply_blocks(
            chain,
            validator,
            transactions,
            block_size,
            verify_signatures=verify_signatures,
            progress=progress,
            label=label,
        )
        height = chain.head.height
        store.close()
    if applied.rejected:
        raise NodeFault(
            f"{applied.rejected} benchmark transfers were rejected; the figures would be wrong"
        )
    count = len(transactions)
    total_s = applied.seconds
    return {
        "signature_checks": "included" if verify_signatures else "excluded",
        "transfers": count,
        "rejected": applied.rejected,
        "blocks": height,
        "seconds": round(total_s, 3),
        "transfers_per_second": round(count / total_s, 1),
        "execute_seconds": round(applied.execute_seconds, 3),
        "commit_seconds": round(applied.commit_seconds, 3),
        "microseconds_per_transfer": round(total_s / count * 1e6, 1),
    }


def verify_rate(signer: Signer, samples: int = 2_000) -> float:
    """Signature verifications of the signer's suite per second on one core (this process),
    now."""
    suite = signer.suite
    message = b"x" * 200
    signature = signer.sign(message)
    started = time.perf_counter()
    for _ in range(samples):
        suite.verify(signer.public_key, message, signature)
    return samples / (time.perf_counter() - started)


def setup_description(transfers: int, block_size: int, accounts: int) -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "transfers": transfers,
        "block_size": block_size,
        "accounts": accounts,
        "storage": "LMDB on local disk, fsync per block",
        "path": "Chain.execute (runtime, token, sparse Merkle tree, roots), precommit "
        "signature, Chain.commit; transfers pre-signed",
    }


def run_execute_bench(
    *, transfers: int, block_size: int, accounts: int, json_output: bool, output: Path | None
) -> None:
    rng = random.Random(1)
    suite = get_suite(DEFAULT_SUITE)
    holders = [suite.signer(rng.randbytes(32)) for _ in range(accounts)]
    validator = suite.signer(rng.randbytes(32))
    genesis = bench_genesis(holders, validator)
    with progress_bar(disable=json_output) as progress:
        signing = progress.add_task("sign transfers", total=1)
        transactions = signed_transfers(holders, transfers, rng, block_size)
        progress.advance(signing)
        excluded = _run(
            genesis,
            validator,
            transactions,
            block_size,
            False,
            progress,
            "apply, signatures excluded",
        )
        included = _run(
            genesis,
            validator,
            transactions,
            block_size,
            True,
            progress,
            "apply, signatures included",
        )
    result: dict[str, Any] = {
        "benchmark": "execute",
        "setup": setup_description(transfers, block_size, accounts),
        "signature_verifications_per_second_one_core": round(verify_rate(holders[0]), 1),
        "results": [excluded, included],
    }
    if output is not None:
        output.write_text(json.dumps(result, indent=2) + "\n")
    if json_output:
        emit_json(result)
        return
    table = Table(title="jinqiao bench execute — token transfers applied by one node")
    for column in (
        "signatures",
        "transfers/s",
        "µs/transfer",
        "execute s",
        "commit s",
        "blocks",
        "rejected",
    ):
        table.add_column(column, justify="right")
    for row in (excluded, included):
        table.add_row(
            row["signature_checks"],
            f"{row['transfers_per_second']:,.1f}",
            f"{row['microseconds_per_transfer']}",
            f"{row['execute_seconds']}",
            f"{row['commit_seconds']}",
            str(row["blocks"]),
            str(row["rejected"]),
        )
    console.print(table)
    setup = result["setup"]
    console.print(
        f"setup: {setup['cpu']}, {setup['cores']} cores, Python {setup['python']}; "
        f"{transfers} transfers among {accounts} accounts in blocks of {block_size}; "
        f"{setup['storage']}. Ed25519 verify on one core: "
        f"{result['signature_verifications_per_second_one_core']:,.0f}/s"
    )
