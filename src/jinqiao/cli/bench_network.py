"""``jinqiao bench network``: a validator network of separate processes on this machine under a
load of pre-signed token transfers.

Offered load is either a fixed rate (``--rate``) or as fast as the nodes accept (back-off on 429
and 503). Latency is from the client's submit to the moment the client sees the block that holds
the transaction (blocks are long-polled from the first node: ``wait_ms``). Rounds per height
come from each block's commit certificate; CPU is the nodes' user + system time from /proc.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import msgspec

from jinqiao.apps.token import TOKEN, TransferArgs
from jinqiao.cli.bench import setup_description
from jinqiao.cli.common import console, emit_json
from jinqiao.cli.demo import running_node
from jinqiao.core.codec import encode
from jinqiao.core.crypto import DEFAULT_SUITE, Signer, get_suite
from jinqiao.core.genesis import ChainParameters
from jinqiao.core.hashing import transaction_hash, transaction_signing_bytes
from jinqiao.core.types import SignedTransaction, TransactionBody
from jinqiao.keys import load_key
from jinqiao.node.config import dump_config, load_config
from jinqiao.node.setup import AccountSpec, NetworkSpec, OrganizationSpec, init_network

SENDERS = 200
BATCH = 200
FOUNDERS = ("clearing", "ecfin", "bank-a", "bank-b", "bank-c", "bank-d", "bank-e")


@dataclass
class Tracker:
    submitted_at: dict[bytes, float] = field(default_factory=dict)
    committed_at: dict[bytes, float] = field(default_factory=dict)
    refused: int = 0
    blocks: list[tuple[float, int, int, int]] = field(default_factory=list)  # t, height, txs, round
    lock: threading.Lock = field(default_factory=threading.Lock)


def _spec(validators: int, base_port: int) -> NetworkSpec:
    big = 10**15
    organizations = []
    for index in range(validators):
        org = FOUNDERS[index % len(FOUNDERS)] + ("" if index < len(FOUNDERS) else f"-{index}")
        organizations.append(
            OrganizationSpec(
                org,
                f"Validator org {org}",
                ("currency_issuer",),
                validators=1,
                accounts=(AccountSpec(f"{org}-admin", ("admin",)),),
            )
        )
    holders = tuple(
        AccountSpec(f"sender-{i}", (), ({"asset": "CNY", "tier": "open", "balance_minor": 10**12},))
        for i in range(SENDERS)
    )
    organizations.append(
        OrganizationSpec(
            "bench", "Benchmark Bank", (), 0, (AccountSpec("bench-admin", ("admin",)), *holders)
        )
    )
    return NetworkSpec(
        chain_id="jinqiao-bench-network",
        organizations=tuple(organizations),
        parameters=ChainParameters(valid_until_window_blocks=10_000),
        contracts={
            TOKEN: {
                "tiers": {
                    "open": {
                        "max_balance_minor": big,
                        "max_payment_minor": big,
                        "daily_limit_minor": big,
                    }
                },
                "assets": [
                    {
                        "symbol": "CNY",
                        "name": "Bench yuan",
                        "scale": 2,
                        "issuer": organizations[0].id,
                        "default_tier": "open",
                    }
                ],
            }
        },
        base_api_port=base_port,
        base_p2p_port=base_port + 100,
    )


def _presign(signers: list[Signer], chain_id: str, count: int) -> list[tuple[bytes, bytes]]:
    suite = get_suite(DEFAULT_SUITE)
    out = []
    for nonce in range(count):
        payer = signers[nonce % len(signers)]
        payee = signers[(nonce * 7 + 1) % len(signers)]
        body = TransactionBody(
            chain_id,
            payer.address,
            payer.public_key,
            nonce,
            9_000,
            TOKEN,
            "transfer",
            encode(TransferArgs("CNY", payee.address, 1)),
        )
        signed = SignedTransaction(body, payer.sign(transaction_signing_bytes(body)))
        out.append((transaction_hash(suite, body), encode(signed)))
    return out


def _submit(
    urls: list[str],
    transactions: list[tuple[bytes, bytes]],
    rate: int | None,
    duration_s: float,
    tracker: Tracker,
    stop: threading.Event,
) -> None:
    clients = [httpx.Client(base_url=url, timeout=30) for url in urls]
    started = time.monotonic()
    position = 0
    batch_number = 0
    try:
        while not stop.is_set() and position < len(transactions):
            elapsed = time.monotonic() - started
            if elapsed >= duration_s:
                break
            if rate is not None:
                due = int(rate * elapsed)
                if position >= due:
                    time.sleep(min(0.01, (position - due + 1) / rate))
                    continue
            batch = transactions[position : position + BATCH]
            body = msgspec.msgpack.encode([raw for _, raw in batch])
            client = clients[batch_number % len(clients)]
            batch_number += 1
            now = time.monotonic()
            try:
                answer = client.post(
                    "/v1/transactions/batch",
                    content=body,
                    headers={"Content-Type": "application/msgpack"},
                ).json()
            except httpx.HTTPError:
                time.sleep(0.1)
                continue
            accepted = 0
            with tracker.lock:
                for (identity, _), result in zip(batch, answer["results"], strict=True):
                    if "error" in result:
                        tracker.refused += 1
                    else:
                        tracker.submitted_at[identity] = now
                        accepted += 1
            position += len(batch)
            if accepted < len(batch) and rate is None:
                time.sleep(0.05)  # back-pressure: let the network drain
    finally:
        for client in clients:
            client.close()


def _watch(url: str, tracker: Tracker, stop: threading.Event) -> None:
    client = httpx.Client(base_url=url, timeout=30)
    next_height = int(client.get("/v1/status").json()["height"]) + 1
    try:
        while not stop.is_set():
            response = client.get(
                f"/v1/blocks/{next_height}", params={"hashes": "true", "wait_ms": 1_000}
            )
            if response.status_code == 404:
                continue  # not committed within the long-poll; ask again
            block = response.json()
            seen = time.monotonic()
            hashes = [bytes.fromhex(h) for h in block["transaction_hashes"]]
            with tracker.lock:
                for identity in hashes:
                    tracker.committed_at.setdefault(identity, seen)
                tracker.blocks.append(
                    (seen, next_height, len(hashes), block["certificate"]["round"])
                )
            next_height += 1
    finally:
        client.close()


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run_network_bench(
    *,
    validators: int,
    duration_s: float,
    rate: int | None,
    json_output: bool,
    output: Path | None,
    plot: Path | None,
    base_port: int,
    kill_one: bool = False,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="jinqiao-bench-net-") as directory:
        root = Path(directory)
        layout = init_network(root / "net", _spec(validators, base_port))
        for node in layout.nodes:
            home = root / "net" / node.home
            config = msgspec.structs.replace(load_config(home), log_level="WARNING")
            (home / "config.json").write_bytes(dump_config(config))
        senders = [
            load_key(root / "net" / a.key_file)
            for a in layout.accounts
            if a.name.startswith("sender-")
        ]
        offered = rate if rate is not None else 6_000
        count = int(offered * duration_s * 1.1) + BATCH
        if not json_output:
            console.print(f"signing {count} transfers…")
        transactions = _presign(senders, layout.chain_id, count)
        verify_rate = _verify_rate(senders[0])
        tracker = Tracker()
        stop = threading.Event()
        with contextlib.ExitStack() as stack:
            processes = [
                stack.enter_context(
                    running_node(root / "net" / n.home, root / f"{n.name}.log", n.api_url)
                )
                for n in layout.nodes
            ]
            cpu_before = sum(_cpu_seconds(p.pid) for p in processes)
            urls = [n.api_url for n in layout.nodes]
            watcher = threading.Thread(target=_watch, args=(urls[0], tracker, stop), daemon=True)
            watcher.start()
            if not json_output:
                console.print(
                    f"{validators} validators up; offering {_offered(rate)} for {duration_s:.0f} s"
                )
            started = time.monotonic()
            killed_at: list[float] = []
            if kill_one:
                # A third of the way in, the last validator dies (SIGKILL); the load goes to the
                # others from then on.
                def kill() -> None:
                    processes[-1].kill()
                    killed_at.append(time.monotonic())

                threading.Timer(duration_s / 3, kill).start()
                urls = urls[:-1]
            _submit(urls, transactions, rate, duration_s, tracker, stop)
            end_submit = time.monotonic()
            deadline = end_submit + 30
            while time.monotonic() < deadline:
                with tracker.lock:
                    if all(h in tracker.committed_at for h in tracker.submitted_at):
                        break
                time.sleep(0.1)
            stop.set()
            watcher.join(timeout=30)
            cpu_after = sum(_cpu_seconds(p.pid) for p in processes)
        with tracker.lock:
            window_end = started + duration_s
            in_window = [
                t
                for h, t in tracker.committed_at.items()
                if h in tracker.submitted_at and t <= window_end
            ]
            latencies = [
                tracker.committed_at[h] - t
                for h, t in tracker.submitted_at.items()
                if h in tracker.committed_at
            ]
            blocks = list(tracker.blocks)
            lost = sum(1 for h in tracker.submitted_at if h not in tracker.committed_at)
        committed_total = len(latencies)
        measured_blocks = [b for b in blocks if started <= b[0] <= window_end]
        cores = os.cpu_count() or 1
        verify_s = 1 / verify_rate
        bound = cores / (validators * verify_s)
        throughput = len(in_window) / duration_s
        result: dict[str, Any] = {
            "benchmark": "network",
            "setup": {
                **{
                    key: value
                    for key, value in setup_description(count, 0, SENDERS).items()
                    if key not in ("path", "block_size")
                },
                "path": "HTTP batch submit to the nodes in turn, gossip, Tendermint, "
                "re-execution by every validator, LMDB commit on every node",
                "validators": validators,
                "processes": f"{validators} node processes on this machine, mutual TLS",
                "offered": _offered(rate),
                "duration_s": duration_s,
                "batch": BATCH,
            },
            "committed_per_second": round(throughput, 1),
            "committed_in_window": len(in_window),
            "committed_total": committed_total,
            "refused": tracker.refused,
            "not_committed": lost,
            "latency_ms": {
                "p50": round(_percentile(latencies, 0.50) * 1000, 1),
                "p95": round(_percentile(latencies, 0.95) * 1000, 1),
                "p99": round(_percentile(latencies, 0.99) * 1000, 1),
            },
            "blocks_per_second": round(len(measured_blocks) / duration_s, 2),
            "rounds_per_height": round(statistics.mean([b[3] + 1 for b in blocks]), 3)
            if blocks
            else 0,
            "cpu_ms_per_transaction": round(
                (cpu_after - cpu_before) * 1000 / max(1, committed_total), 3
            ),
            "signature_verifications_per_second_one_core": round(verify_rate, 1),
            "signature_bound_tx_per_second": round(bound, 1),
            "fraction_of_signature_bound": round(throughput / bound, 3) if bound else 0,
        }
        if killed_at:
            with tracker.lock:
                committed_times = sorted(tracker.committed_at.values())
            kill_time = killed_at[0]
            before = sum(1 for t in committed_times if started <= t < kill_time)
            after = sum(1 for t in committed_times if kill_time <= t <= window_end)
            before_rate = before / max(kill_time - started, 1e-9)
            after_rate = after / max(window_end - kill_time, 1e-9)
            result["one_validator_killed"] = {
                "killed_after_s": round(kill_time - started, 1),
                "committed_per_second_before": round(before_rate, 1),
                "committed_per_second_after": round(after_rate, 1),
                "after_over_before": round(after_rate / before_rate, 3) if before_rate else 0,
            }
        if plot is not None:
            _plot(blocks, started, latencies, result, plot)
            result["plot"] = str(plot)
    if output is not None:
        output.write_text(json.dumps(result, indent=2) + "\n")
    if json_output:
        emit_json(result)
    else:
        _print(result)
        _print_kill(result)
    return result


def _offered(rate: int | None) -> str:
    return "as fast as accepted" if rate is None else f"{rate} tx/s"


def _verify_rate(signer: Signer, samples: int = 2_000) -> float:
    suite = get_suite(DEFAULT_SUITE)
    message = b"x" * 200
    signature = signer.sign(message)
    started = time.perf_counter()
    for _ in range(samples):
        suite.verify(signer.public_key, message, signature)
    return samples / (time.perf_counter() - started)


def _print(result: dict[str, Any]) -> None:
    latency = result["latency_ms"]
    console.print(
        f"[bold]{result['committed_per_second']:,} committed transfers/s[/] "
        f"({result['committed_in_window']} in {result['setup']['duration_s']} s); latency p50 "
        f"{latency['p50']} ms, p95 {latency['p95']} ms, p99 {latency['p99']} ms; "
        f"{result['blocks_per_second']} blocks/s, {result['rounds_per_height']} rounds/height; "
        f"{result['cpu_ms_per_transaction']} ms CPU per transaction (all nodes)\n"
        f"signature bound {result['signature_bound_tx_per_second']:,} tx/s "
        f"(cores / (validators x verify time)); "
        f"reached {result['fraction_of_signature_bound']:.1%}; "
        f"refused {result['refused']}, not committed {result['not_committed']}"
    )


def _print_kill(result: dict[str, Any]) -> None:
    killed = result.get("one_validator_killed")
    if killed:
        console.print(
            f"one validator killed after {killed['killed_after_s']} s: "
            f"{killed['committed_per_second_before']:,} → {killed['committed_per_second_after']:,}"
            f" committed/s ({killed['after_over_before']:.0%} of before)"
        )


def _plot(
    blocks: list[tuple[float, int, int, int]],
    started: float,
    latencies: list[float],
    result: dict[str, Any],
    path: Path,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (top, bottom) = plt.subplots(2, 1, figsize=(9, 7))
    per_second: dict[int, int] = {}
    for seen, _, count, _ in blocks:
        second = int(seen - started)
        per_second[second] = per_second.get(second, 0) + count
    seconds = sorted(per_second)
    top.bar(seconds, [per_second[s] for s in seconds], color="#2b6cb0")
    top.set_xlabel("seconds since the load started")
    top.set_ylabel("transfers committed")
    top.set_title(
        f"{result['setup']['validators']} validators: {result['committed_per_second']:,} tx/s, "
        f"p99 latency {result['latency_ms']['p99']} ms"
    )
    bottom.hist([latency * 1000 for latency in latencies], bins=50, color="#38a169")
    bottom.set_xlabel("commit latency (ms), submit → block seen by the client")
    bottom.set_ylabel("transfers")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
