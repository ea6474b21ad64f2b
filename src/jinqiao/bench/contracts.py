"""``jinqiao bench contracts``: a member contract's calls per second against the same logic as a
built-in contract, in the same run, and what metering costs.

Three contracts with the same two methods run through ``Runtime.execute_block`` in blocks of
pre-signed transactions (signatures not verified: the contract's cost is what differs):

- ``builtin`` — a Python class on ``jinqiao.execution.api``, as the foundation contracts are;
- ``member`` — the same logic as a member's package, reviewed, compiled and metered;
- ``member-unmetered`` — the same package without the instrumentation (``metered=False``): the
  cost of metering is ``member`` against it (RestrictedPython's guards stay in both).

``count`` reads a counter of the sender, adds the amount, saves it and emits an event (a typical
simple method); ``loop`` does the same after summing a 100-item loop (metering's cost grows with
the work). Each variant runs ``rounds`` times interleaved; the best round is reported.
"""

from __future__ import annotations

import gc
import io
import json
import time
from pathlib import Path
from typing import Any

import msgspec
from rich.table import Table

from jinqiao.apps import Governance, Registry
from jinqiao.bench.execute import setup_description
from jinqiao.contractkit import CHAIN_ID, Kit, kit_genesis, signer_for
from jinqiao.contracts import member_contract
from jinqiao.core.codec import CanonicalStruct, encode
from jinqiao.core.hashing import transaction_signing_bytes
from jinqiao.core.types import ReceiptStatus, SignedTransaction, TransactionBody
from jinqiao.execution.api import Context, Contract, method
from jinqiao.execution.contract import BlockContext
from jinqiao.execution.runtime import Runtime
from jinqiao.execution.state import MappingState
from jinqiao.terminal import console, emit_json

SOURCE = """from jinqiao.contracts.api import Contract, method


class Counter(Contract):
    @method
    def count(self, ctx, args):
        key = b"count/" + ctx.sender
        total = (ctx.state.load(key) or 0) + args.amount_minor
        ctx.state.save(key, total)
        ctx.emit("Counted", total=total)

    @method
    def loop(self, ctx, args):
        extra = 0
        for i in range(100):
            extra += i
        key = b"count/" + ctx.sender
        total = (ctx.state.load(key) or 0) + args.amount_minor + extra
        ctx.state.save(key, total)
        ctx.emit("Counted", total=total)
"""
MANIFEST = """name = "counter"
version = "1"
[methods.count]
args = { amount_minor = "int" }
[methods.loop]
args = { amount_minor = "int" }
"""


class AmountArgs(CanonicalStruct, frozen=True):
    amount_minor: int


class BuiltinCounter(Contract):
    """The same logic as ``SOURCE``, as a built-in contract."""

    name = "counter"

    @method(AmountArgs)
    def count(self, ctx: Context, args: AmountArgs) -> None:
        key = b"count/" + ctx.sender
        stored = ctx.state.get(key)
        total = (0 if stored is None else msgspec.msgpack.decode(stored)) + args.amount_minor
        ctx.state.set(key, msgspec.msgpack.encode(total))
        ctx.emit("Counted", total=total)

    @method(AmountArgs)
    def loop(self, ctx: Context, args: AmountArgs) -> None:
        extra = 0
        for i in range(100):
            extra += i
        key = b"count/" + ctx.sender
        stored = ctx.state.get(key)
        total = (0 if stored is None else msgspec.msgpack.decode(stored)) + args.amount_minor
        total += extra
        ctx.state.set(key, msgspec.msgpack.encode(total))
        ctx.emit("Counted", total=total)


VARIANTS = ("builtin", "member", "member-unmetered")
METHODS = ("count", "loop")
SENDERS = ("alice", "bob")


def variant_contract(variant: str) -> Contract:
    if variant == "builtin":
        return BuiltinCounter()
    return member_contract(MANIFEST, SOURCE, metered=variant == "member")


def signed_calls(method_name: str, calls: int) -> list[SignedTransaction]:
    transactions = []
    for nonce in range(calls):
        signer = signer_for(SENDERS[nonce % len(SENDERS)])
        body = TransactionBody(
            chain_id=CHAIN_ID,
            sender=signer.address,
            public_key=signer.public_key,
            nonce=nonce,
            valid_until=10,
            contract="counter",
            method=method_name,
            args=encode(AmountArgs(1)),
        )
        transactions.append(SignedTransaction(body, signer.sign(transaction_signing_bytes(body))))
    return transactions


def calls_per_second(
    variant: str, transactions: list[SignedTransaction], block_size: int
) -> tuple[float, int]:
    """Execute ``transactions`` on a fresh chain; calls per second and the last receipt's
    steps."""
    genesis = kit_genesis(())
    runtime = Runtime(
        genesis.suite, CHAIN_ID, [Registry(), Governance(), variant_contract(variant)]
    )
    state: dict[bytes, bytes] = {}
    for key, value in runtime.apply_genesis(genesis).items():
        if value is not None:
            state[key] = value
    steps = 0
    gc.collect()  # the previous variant's garbage is not this one's cost
    started = time.perf_counter()
    for height, start in enumerate(range(0, len(transactions), block_size), start=1):
        block = BlockContext(CHAIN_ID, height, 1_700_000_000_000 + height, b"")
        result = runtime.execute_block(
            MappingState(state),
            block,
            transactions[start : start + block_size],
            is_committed=lambda _: False,
            verify_signatures=False,
        )
        if any(receipt.status != ReceiptStatus.OK for receipt in result.receipts):
            raise RuntimeError(f"{variant}: a call was rejected: {result.receipts[0].code}")
        for key, value in result.writes.items():
            if value is not None:
                state[key] = value
        steps = result.receipts[-1].steps_used
    return len(transactions) / (time.perf_counter() - started), steps


def run_contracts_bench(
    *, calls: int, block_size: int, rounds: int, json_output: bool, output: Path | None
) -> dict[str, Any]:
    Kit(MANIFEST, SOURCE)  # the package passes the review, as a deployed one must
    results: dict[str, dict[str, Any]] = {}
    for method_name in METHODS:
        transactions = signed_calls(method_name, calls)
        best = dict.fromkeys(VARIANTS, 0.0)
        steps = dict.fromkeys(VARIANTS, 0)
        for _ in range(rounds):
            for variant in VARIANTS:
                rate, steps[variant] = calls_per_second(variant, transactions, block_size)
                best[variant] = max(best[variant], rate)
        results[method_name] = {
            "calls_per_second": {variant: round(best[variant], 1) for variant in VARIANTS},
            "steps_used": steps,
            "member_slowdown_vs_builtin": round(best["builtin"] / best["member"], 3),
            "metering_overhead_ratio": round(best["member-unmetered"] / best["member"], 3),
        }
    setup = setup_description(calls, block_size, len(SENDERS))
    setup.pop("transfers")
    setup["calls"] = calls
    setup["rounds"] = rounds
    setup["storage"] = "in memory (state as a dict): execution only"
    setup["path"] = (
        "Runtime.execute_block, signatures not verified, one contract call per transaction; "
        "best of the rounds, variants interleaved"
    )
    result: dict[str, Any] = {"benchmark": "contracts", "setup": setup, "results": results}
    if output is not None:
        output.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
        output.with_suffix(".png").write_bytes(plot(result))
    if json_output:
        emit_json(result)
        return result
    table = Table(title="jinqiao bench contracts — calls per second (execution only)")
    for column in ("method", *VARIANTS, "member vs builtin", "metering overhead"):
        table.add_column(column, justify="right")
    for method_name, figures in results.items():
        rates = figures["calls_per_second"]
        table.add_row(
            method_name,
            *(str(rates[variant]) for variant in VARIANTS),
            f"{figures['member_slowdown_vs_builtin']}x",
            f"{figures['metering_overhead_ratio']}x",
        )
    console.print(table)
    console.print(json.dumps(setup))
    return result


def plot(result: dict[str, Any]) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 4.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    width = 0.25
    for index, variant in enumerate(VARIANTS):
        rates = [result["results"][name]["calls_per_second"][variant] for name in METHODS]
        positions = [position + (index - 1) * width for position in range(len(METHODS))]
        axes.bar(positions, rates, width, label=variant)
    axes.set_xticks(range(len(METHODS)), list(METHODS))
    axes.set(
        title="Member contract against the same logic built in",
        ylabel="calls per second (execution only)",
    )
    axes.legend()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


__all__ = ["run_contracts_bench"]
