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
the work). Each variant runs ``rounds`` times interleaved, timed by this process's CPU time (a
shared machine's other work does not count); each round gives its own ratios, reported with their
median and the ratio of the best rounds.
"""

from __future__ import annotations

import gc
import io
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import msgspec
from rich.table import Table

from jinqiao.apps import Governance, Registry
from jinqiao.apps.token import Token
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


class Timing(msgspec.Struct, frozen=True):
    """One variant's run: calls per second by CPU time of this process and by the wall clock,
    and the last receipt's steps."""

    cpu_rate: float
    wall_rate: float
    steps: int


def calls_per_second(
    variant: str, transactions: list[SignedTransaction], block_size: int
) -> Timing:
    """Execute ``transactions`` on a fresh chain and time it. The CPU time of this process is
    the figure the ratios use: on a machine shared with other work, the wall clock also counts
    the time other processes held the core, which differs from one variant's run to the next."""
    genesis = kit_genesis(())
    runtime = Runtime(
        genesis.suite, CHAIN_ID, [Registry(), Governance(), Token(), variant_contract(variant)]
    )
    state: dict[bytes, bytes] = {}
    for key, value in runtime.apply_genesis(genesis).items():
        if value is not None:
            state[key] = value
    steps = 0
    gc.collect()  # the previous variant's garbage is not this one's cost
    started_cpu, started_wall = time.process_time(), time.perf_counter()
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
    cpu_seconds = max(time.process_time() - started_cpu, 1e-9)
    wall_seconds = max(time.perf_counter() - started_wall, 1e-9)
    return Timing(len(transactions) / cpu_seconds, len(transactions) / wall_seconds, steps)


def measure_method(method_name: str, calls: int, block_size: int, rounds: int) -> dict[str, Any]:
    """``rounds`` rounds of every variant, interleaved (the order rotates each round, so no
    variant always runs first or last); each round's ratios come from runs made within
    seconds of each other, so a burst of load elsewhere skews one round, not the result."""
    transactions = signed_calls(method_name, calls)
    per_round: list[dict[str, Timing]] = []
    for round_index in range(rounds):
        order = VARIANTS[round_index % len(VARIANTS) :] + VARIANTS[: round_index % len(VARIANTS)]
        per_round.append(
            {variant: calls_per_second(variant, transactions, block_size) for variant in order}
        )
    slowdowns = [timing["builtin"].cpu_rate / timing["member"].cpu_rate for timing in per_round]
    overheads = [
        timing["member-unmetered"].cpu_rate / timing["member"].cpu_rate for timing in per_round
    ]
    best = {variant: max(timing[variant].cpu_rate for timing in per_round) for variant in VARIANTS}
    return {
        "calls_per_second": {variant: round(best[variant], 1) for variant in VARIANTS},
        "steps_used": {variant: per_round[-1][variant].steps for variant in VARIANTS},
        "member_slowdown_vs_builtin": {
            "median_of_rounds": round(statistics.median(slowdowns), 3),
            "of_best_rounds": round(best["builtin"] / best["member"], 3),
            "per_round": [round(ratio, 3) for ratio in slowdowns],
        },
        "metering_overhead_ratio": {
            "median_of_rounds": round(statistics.median(overheads), 3),
            "of_best_rounds": round(best["member-unmetered"] / best["member"], 3),
            "per_round": [round(ratio, 3) for ratio in overheads],
        },
        "rounds": [
            {
                variant: {
                    "cpu_calls_per_second": round(timing[variant].cpu_rate, 1),
                    "wall_calls_per_second": round(timing[variant].wall_rate, 1),
                }
                for variant in VARIANTS
            }
            for timing in per_round
        ],
    }


def run_contracts_bench(
    *, calls: int, block_size: int, rounds: int, json_output: bool, output: Path | None
) -> dict[str, Any]:
    Kit(MANIFEST, SOURCE)  # the package passes the review, as a deployed one must
    load_before = os.getloadavg()
    results = {
        method_name: measure_method(method_name, calls, block_size, rounds)
        for method_name in METHODS
    }
    setup = setup_description(calls, block_size, len(SENDERS))
    setup.pop("transfers")
    setup["calls"] = calls
    setup["rounds"] = rounds
    setup["storage"] = "in memory (state as a dict): execution only"
    setup["timing"] = (
        "CPU time of the bench process (time.process_time); the wall clock's rates are in "
        "each round's figures"
    )
    setup["load_average_before_after"] = [
        round(load_before[0], 2),
        round(os.getloadavg()[0], 2),
    ]
    setup["path"] = (
        "Runtime.execute_block, signatures not verified, one contract call per transaction; "
        "rounds of every variant interleaved, the order rotating; calls_per_second is the best "
        "round, the ratios are given per round, as their median and as the best rounds' ratio"
    )
    result: dict[str, Any] = {"benchmark": "contracts", "setup": setup, "results": results}
    if output is not None:
        output.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
        output.with_suffix(".png").write_bytes(plot(result))
    if json_output:
        emit_json(result)
        return result
    table = Table(title="jinqiao bench contracts — calls per second (execution only, CPU time)")
    for column in ("method", *VARIANTS, "member vs builtin", "metering overhead"):
        table.add_column(column, justify="right")
    for method_name, figures in results.items():
        rates = figures["calls_per_second"]
        slowdown = figures["member_slowdown_vs_builtin"]
        overhead = figures["metering_overhead_ratio"]
        table.add_row(
            method_name,
            *(str(rates[variant]) for variant in VARIANTS),
            f"{slowdown['median_of_rounds']}x (median), {slowdown['of_best_rounds']}x (best)",
            f"{overhead['median_of_rounds']}x (median), {overhead['of_best_rounds']}x (best)",
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
