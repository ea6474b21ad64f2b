"""``jinqiao bench crosschain``: messages per second delivered with proofs between two local
networks, and what one header and one message verification cost on chain (docs/crosschain.md,
docs/performance.md "Across chains").

Setup: the pair of ``jinqiao demo --cross-chain`` (``jinqiao.demo.crosschain.running_pair``):
two networks of separate node processes on this machine, each with its light client of the other
and one channel pair. ``messages`` transfers of 1 fen are committed on A first (one ``approve``,
then the ``send_transfer`` transactions posted in batches); then the clock starts and the SDK
relayer (``jinqiao.client.relay``, one process: up to 100 packets a round posted in one batch
request, then each waited for until committed) delivers every packet to B with its proof and
brings every acknowledgement back to A.
``delivered_per_second`` counts packets delivered on B; ``round_trips_per_second`` counts
packets acknowledged on A.

On-chain verification cost: the two checks the ``crosschain`` contract makes, timed in this
process on inputs taken from the running networks — ``verify_certificate`` of a real header
with its certificate (what ``update_client`` spends on signatures), and ``verify_state_proof``
of a real outbox key (what ``recv_packet`` on B spends on A's packet) and of a real inbox key
(what ``acknowledge_packet`` on A spends on B's acknowledgement), each in its network's suite.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from jinqiao.apps.crosschain import CROSSCHAIN, XTRANSFER
from jinqiao.apps.crosschain.model import (
    commitment_key,
    full_crosschain_key,
    next_recv_key,
    next_send_key,
    receipt_key,
)
from jinqiao.apps.crosschain.transfer import SendTransferArgs
from jinqiao.apps.token import TOKEN, ApproveArgs
from jinqiao.bench.execute import setup_description
from jinqiao.client.relay import MAX_PACKETS_PER_ROUND
from jinqiao.core.codec import decode
from jinqiao.demo import DemoFailed
from jinqiao.demo.crosschain import CHANNEL_A, CHANNEL_B, Pair, Side, connect_pair, running_pair
from jinqiao.execution.contract import contract_address
from jinqiao.terminal import console, emit_json
from jinqiao.verify import verify_certificate, verify_state_proof

BATCH = 200
AMOUNT_MINOR = 1


def run_crosschain_bench(
    *,
    messages: int,
    validators: tuple[int, int],
    suites: tuple[str, str],
    repeats: int,
    base_port: int,
    json_output: bool,
    output: Path | None,
    plot: Path | None,
) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="jinqiao-bench-crosschain-") as root,
        running_pair(Path(root), base_port=base_port, validators=validators, suites=suites) as pair,
    ):
        connect_pair(pair)
        _send(pair, messages)
        relay = _relay(pair, messages)
        costs = {side.name: _verification_costs(side, repeats) for side in (pair.a, pair.b)}
    described = setup_description(0, 0, 0)
    result = {
        "setup": {
            **{key: described[key] for key in ("cpu", "cores", "python", "platform")},
            "networks": {
                "jinqiao-a": {"validators": validators[0], "suite": suites[0]},
                "jinqiao-b": {"validators": validators[1], "suite": suites[1]},
            },
            "messages": messages,
            "relayer": "jinqiao.client.relay over HTTP, one process: up to "
            f"{MAX_PACKETS_PER_ROUND} packets a round posted in one batch, each then waited for",
            "verification_repeats": repeats,
        },
        **relay,
        "on_chain_verification": costs,
    }
    if output is not None:
        output.write_text(json.dumps(result, indent=2) + "\n")
    if plot is not None:
        plot.write_bytes(_plot(result))
    if json_output:
        emit_json(result)
    else:
        console.print(
            f"{messages} packets A → B: {relay['delivered_per_second']} delivered/s, "
            f"{relay['round_trips_per_second']} acknowledged/s "
            f"({relay['relay_seconds']} s, {relay['headers']} headers)"
        )
        for name, cost in costs.items():
            console.print(
                f"{name} ({cost['suite']}, {cost['validators']} validators): header "
                f"{cost['header_verification_ms']} ms, {cost['message']} proof "
                f"{cost['message_proof_verification_ms']} ms ({cost['proof_siblings']} siblings)"
            )
    return result


def _send(pair: Pair, messages: int) -> None:
    """``messages`` transfers of one fen from alice on A to bob on B, committed."""
    a, b = pair.a, pair.b
    escrow = contract_address(a.client.suite.hash, XTRANSFER)
    a.send("alice", TOKEN, "approve", ApproveArgs("CNY", escrow, messages * AMOUNT_MINOR))
    alice = a.key("alice")
    timeout = int(b.client.status()["height"]) + 100_000
    args = SendTransferArgs(CHANNEL_A, "CNY", AMOUNT_MINOR, b.address("bob"), timeout)
    transactions = [
        a.client.build(alice, XTRANSFER, "send_transfer", args) for _ in range(messages)
    ]
    for start in range(0, messages, BATCH):
        batch = a.client.submit_batch(transactions[start : start + BATCH])
        if batch.refused:
            raise DemoFailed(f"{batch.refused} transfers refused at admission")
    last = a.client.hash_of(transactions[-1])
    a.client.wait(last, timeout_s=120)
    sent = _proven_int(a, next_send_key(CHANNEL_A)) - 1
    if sent != messages:
        raise DemoFailed(f"{sent} of {messages} transfers committed")


def _relay(pair: Pair, messages: int) -> dict[str, Any]:
    relayer = pair.relayer()
    started = time.perf_counter()
    moments: dict[str, list[float]] = {"delivered": [], "acknowledged": [], "headers": []}

    def observe(kind: str) -> None:
        moments.setdefault(kind, []).append(time.perf_counter() - started)

    relayer.observe = observe
    while len(moments["acknowledged"]) < messages:
        report = relayer.relay_round()
        if report.moved() == 0 and report.headers == 0:
            done = len(moments["acknowledged"])
            raise DemoFailed(f"the relayer stopped after {done} of {messages}")
    elapsed = time.perf_counter() - started
    received = _proven_int(pair.b, next_recv_key(CHANNEL_B)) - 1
    if received != messages or len(moments["delivered"]) != messages:
        raise DemoFailed(f"B received {received} of {messages} packets")
    return {
        "relay_seconds": round(elapsed, 3),
        "headers": len(moments["headers"]),
        "delivered_per_second": round(messages / moments["delivered"][-1], 2),
        "round_trips_per_second": round(messages / elapsed, 2),
        "delivered_at_seconds": [round(at, 3) for at in moments["delivered"]],
        "acknowledged_at_seconds": [round(at, 3) for at in moments["acknowledged"]],
    }


def _proven_int(side: Side, key: bytes) -> int:
    value = side.client.read_state(CROSSCHAIN, key).value
    return 1 if value is None else decode(value, int, max_bytes=16)


def _verification_costs(side: Side, repeats: int) -> dict[str, Any]:
    """The contract's two checks on this network's own header and outbox, timed."""
    suite = side.client.suite
    header, certificate = side.client.certified_header()
    validators = side.client.validators_for(header)
    # What the other chain's client checks: A's outbox (the packet, by B's recv_packet), B's
    # inbox (the acknowledgement, by A's acknowledge_packet).
    if side.name == "jinqiao-a":
        message_key = commitment_key(CHANNEL_A, 1)
    else:
        message_key = receipt_key(CHANNEL_B, 1)
    proof = side.client.state_read_proof(CROSSCHAIN, message_key)
    key = full_crosschain_key(message_key)
    chain_id = side.client.genesis.chain_id
    started = time.perf_counter()
    for _ in range(repeats):
        verify_certificate(suite, chain_id, validators, header, certificate)
    header_s = (time.perf_counter() - started) / repeats
    started = time.perf_counter()
    for _ in range(repeats):
        verify_state_proof(suite, proof.header.state_root, key, proof.value, proof.proof)
    proof_s = (time.perf_counter() - started) / repeats
    return {
        "suite": suite.name,
        "validators": len(validators.validators),
        "signatures": len(certificate.signatures),
        "header_verification_ms": round(header_s * 1000, 3),
        "message_proof_verification_ms": round(proof_s * 1000, 3),
        "message": "packet (outbox)" if side.name == "jinqiao-a" else "acknowledgement (inbox)",
        "proof_siblings": len(proof.proof.siblings),
    }


def _plot(result: dict[str, Any]) -> bytes:
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 4.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    for name, label in (
        ("delivered_at_seconds", "delivered on B"),
        ("acknowledged_at_seconds", "acknowledged on A"),
    ):
        times = result[name]
        axes.step(times, range(1, len(times) + 1), where="post", label=label)
    axes.legend()
    axes.set(
        title=f"Across chains: {result['delivered_per_second']} packets/s delivered with proofs",
        xlabel="seconds since the relayer started",
        ylabel="packets",
    )
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


__all__ = ["run_crosschain_bench"]
