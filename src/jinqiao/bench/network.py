"""``jinqiao bench network``: a validator network of separate processes on this machine under a
load of pre-signed token transfers.

Offered load is either a fixed rate (``--rate``) or as fast as the nodes accept (back-off on 429
and 503). Latency is from the client's submit to the moment the client sees the block that holds
the transaction (blocks are long-polled from the first node: ``wait_ms``). Rounds per height
come from each block's commit certificate; CPU is the nodes' user + system time from /proc.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from jinqiao.apps.token import TOKEN, TransferArgs
from jinqiao.bench.execute import setup_description, verify_rate
from jinqiao.bench.local_network import (
    BATCH,
    RunningNetwork,
    Tracker,
    account_keys,
    bench_network_spec,
    cpu_seconds,
    init_quiet_network,
    latency_ms,
    nodes_cpu_seconds,
    post_batch,
    running_network,
    sign_transaction,
)
from jinqiao.bench.netns import Impairment, hosts_up, place_on_hosts, require_root, wan_link
from jinqiao.core.crypto import DEFAULT_SUITE, Signer, get_suite
from jinqiao.provision.network import AccountSpec, NetworkSpec, OrganizationSpec
from jinqiao.terminal import console, emit_json

SENDERS = 200


def transfer_spec(validators: int, base_port: int, crypto_suite: str) -> NetworkSpec:
    """The transfer benchmarks' network: ``SENDERS`` funded accounts (also used by the
    supply-chain and index benchmarks)."""
    holders = tuple(
        AccountSpec(f"sender-{i}", (), ({"asset": "CNY", "tier": "open", "balance_minor": 10**12},))
        for i in range(SENDERS)
    )
    bench = OrganizationSpec(
        "bench", "Benchmark Bank", (), 0, (AccountSpec("bench-admin", ("admin",)), *holders)
    )
    return bench_network_spec(
        "jinqiao-bench-network", validators, base_port, (bench,), {}, crypto_suite=crypto_suite
    )


def presign_transfers(
    signers: list[Signer], chain_id: str, count: int
) -> list[tuple[bytes, bytes]]:
    """``count`` signed transfers of one minor unit among ``signers``, as ``sign_transaction``
    returns them."""
    out = []
    for nonce in range(count):
        payer = signers[nonce % len(signers)]
        payee = signers[(nonce * 7 + 1) % len(signers)]
        args = TransferArgs("CNY", payee.address, 1)
        out.append(sign_transaction(payer, chain_id, nonce, TOKEN, "transfer", args))
    return out


def submit_transfers(
    network: RunningNetwork,
    urls: list[str],
    transactions: Sequence[tuple[bytes, bytes]],
    rate: int | None,
    duration_s: float,
    tracker: Tracker,
    stop: threading.Event,
) -> None:
    clients = [network.http(url) for url in urls]
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
            batch = list(transactions[position : position + BATCH])
            client = clients[batch_number % len(clients)]
            batch_number += 1
            now = time.monotonic()
            results = post_batch(client, batch)
            if results is None:
                time.sleep(0.1)
                continue
            accepted = 0
            with tracker.lock:
                for (identity, _), result in zip(batch, results, strict=True):
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
    crypto_suite: str = DEFAULT_SUITE,
    authentication: bool = True,
    quiet: bool = False,
    impairment: Impairment | None = None,
) -> dict[str, Any]:
    """One run; ``authentication`` off serves the API over plain HTTP without access rules or
    audit (to measure their cost); ``quiet`` prints and writes nothing (the caller reports);
    ``impairment``: each validator on its own network namespace, the validators linked with
    that delay and loss (``jinqiao.bench.netns``), torn down on exit."""
    get_suite(crypto_suite)  # an unknown suite is refused before any work
    if impairment is not None:
        require_root("bench network --netem")
    json_output = json_output or quiet
    with (
        tempfile.TemporaryDirectory(prefix="jinqiao-bench-net-") as directory,
        ExitStack() as stack,
    ):
        root = Path(directory)
        layout = init_quiet_network(
            root / "net",
            transfer_spec(validators, base_port, crypto_suite),
            authentication=authentication,
        )
        prefixes: list[tuple[str, ...]] | None = None
        link_pid: int | None = None
        if impairment is not None:
            hosts = stack.enter_context(hosts_up(validators))
            link_pid = stack.enter_context(wan_link(hosts, impairment)).process.pid
            layout = place_on_hosts(root / "net", layout, hosts)
            prefixes = [hosts.exec_prefix(index) for index in range(validators)]
        senders = list(account_keys(root / "net", layout, "sender-").values())
        offered = rate if rate is not None else 6_000
        count = int(offered * duration_s * 1.1) + BATCH
        if not json_output:
            console.print(f"signing {count} transfers…")
        transactions = presign_transfers(senders, layout.chain_id, count)
        verify_per_second = verify_rate(senders[0])
        with running_network(root / "net", layout, root, prefixes=prefixes) as network:
            processes, urls = network.processes, network.urls
            tracker, stop = network.tracker, network.stop
            cpu_before = nodes_cpu_seconds(processes)
            link_cpu_before = cpu_seconds(link_pid) if link_pid else 0.0
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
            submit_transfers(network, urls, transactions, rate, duration_s, tracker, stop)
            end_submit = time.monotonic()
            deadline = end_submit + 30
            while time.monotonic() < deadline:
                with tracker.lock:
                    if all(h in tracker.committed_at for h in tracker.submitted_at):
                        break
                time.sleep(0.1)
            stop.set()
            cpu_after = nodes_cpu_seconds(processes)
            link_cpu_s = cpu_seconds(link_pid) - link_cpu_before if link_pid else 0.0
            status_reads = _status_reads(network, urls[0])
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
        verify_s = 1 / verify_per_second
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
                "crypto_suite": crypto_suite,
                "processes": f"{validators} node processes on this machine, mutual TLS",
                "api_authentication": "HTTPS with a client certificate, access rules, every "
                "request audited (fsync)"
                if authentication
                else "off: plain HTTP, no access rules, no audit",
                "offered": _offered(rate),
                "duration_s": duration_s,
                "batch": BATCH,
                "link": "loopback"
                if impairment is None
                else f"network namespaces, validator to validator {impairment.describe()} "
                "one way (user-space link, ADR 0050); clients to nodes undelayed",
            },
            "committed_per_second": round(throughput, 1),
            "committed_in_window": len(in_window),
            "committed_total": committed_total,
            "refused": tracker.refused,
            "not_committed": lost,
            "latency_ms": latency_ms(latencies),
            "blocks_per_second": round(len(measured_blocks) / duration_s, 2),
            "rounds_per_height": round(statistics.mean([b[3] + 1 for b in blocks]), 3)
            if blocks
            else 0,
            "cpu_ms_per_transaction": round(
                (cpu_after - cpu_before) * 1000 / max(1, committed_total), 3
            ),
            "signature_verifications_per_second_one_core": round(verify_per_second, 1),
            "signature_bound_tx_per_second": round(bound, 1),
            "fraction_of_signature_bound": round(throughput / bound, 3) if bound else 0,
            "status_reads": status_reads,
            "link_cpu_ms_per_transaction": round(link_cpu_s * 1000 / max(1, committed_total), 3),
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
    if quiet:
        return result
    if output is not None:
        output.write_text(json.dumps(result, indent=2) + "\n")
    if json_output:
        emit_json(result)
    else:
        _print(result)
        _print_kill(result)
    return result


COMPARISON_ORDER = (False, True, True, False)
"""Off, on, on, off (ABBA): a machine whose speed drifts during the runs favours neither mode."""


def run_authentication_comparison(
    *,
    validators: int,
    duration_s: float,
    rate: int | None,
    json_output: bool,
    output: Path | None,
    base_port: int,
    crypto_suite: str = DEFAULT_SUITE,
) -> dict[str, Any]:
    """``run_network_bench`` with authentication off and on in the order ``COMPARISON_ORDER`` on
    the same setup; every run, each mode's mean side by side, and the throughput of "on" as a
    fraction of "off" (issue 9: at least 0.9)."""
    order = tuple("on" if authentication else "off" for authentication in COMPARISON_ORDER)
    common = {
        "validators": validators,
        "duration_s": duration_s,
        "rate": rate,
        "json_output": json_output,
        "base_port": base_port,
        "crypto_suite": crypto_suite,
    }
    runs = run_in_order(
        "authentication", order, common, lambda label: {"authentication": label == "on"}
    )
    figures = {
        name: {label: mean_of(runs, "authentication", label, path) for label in ("off", "on")}
        for name, path in (
            ("committed_per_second", ("committed_per_second",)),
            ("p99_latency_ms", ("latency_ms", "p99")),
            ("status_reads_per_second", ("status_reads", "per_second")),
            ("verifications_per_second_one_core", ("signature_verifications_per_second_one_core",)),
        )
    }
    off, on = figures["committed_per_second"]["off"], figures["committed_per_second"]["on"]
    result: dict[str, Any] = {
        "benchmark": "network-authentication",
        "order": [run["authentication"] for run in runs],
        "runs": runs,
        **figures,
        "on_over_off": round(on / off, 3) if off else 0,
    }
    if output is not None:
        output.write_text(json.dumps(result, indent=2) + "\n")
    if json_output:
        emit_json(result)
    else:
        reads = result["status_reads_per_second"]
        console.print(
            f"[bold]means of {len(runs) // 2} runs each: authentication on: {on:,} committed/s, "
            f"off: {off:,} committed/s (on/off {result['on_over_off']:.1%}); one client's "
            f"sequential GET /v1/status: {reads['on']:,}/s on, {reads['off']:,}/s off[/]"
        )
    return result


def run_in_order(
    key: str,
    order: tuple[str, ...],
    common: dict[str, Any],
    variant: Callable[[str], dict[str, Any]],
) -> list[dict[str, Any]]:
    """``run_network_bench`` with the arguments ``common`` and ``variant(label)`` for each label
    of ``order`` (e.g. ABBA), quietly; each run's result with ``{key: label}`` first, printed as
    it ends unless ``common["json_output"]``."""
    json_output = bool(common.get("json_output"))
    runs: list[dict[str, Any]] = []
    for label in order:
        if not json_output:
            console.print(f"{key} {label}:")
        run = run_network_bench(**common, **variant(label), output=None, plot=None, quiet=True)
        runs.append({key: label, **run})
        if not json_output:
            _print(run)
    return runs


def mean_of(runs: list[dict[str, Any]], key: str, label: str, path: tuple[str, ...]) -> float:
    """The mean over the runs whose ``key`` is ``label`` of the figure at ``path``, to 0.1."""
    values = []
    for run in runs:
        if run[key] == label:
            value: Any = run
            for name in path:
                value = value[name]
            values.append(float(value))
    return round(statistics.mean(values), 1) if values else 0.0


STATUS_READS = 300


def _status_reads(network: RunningNetwork, url: str) -> dict[str, Any]:
    """``STATUS_READS`` sequential ``GET /v1/status`` on one kept-alive connection once the load
    is over: what one request costs, where the load above pays authentication once per batch of
    ``BATCH`` transfers (with authentication, each read is also an fsynced audit record)."""
    latencies: list[float] = []
    with network.http(url) as client:
        client.get("/v1/status").raise_for_status()  # the connection (and handshake) first
        for _ in range(STATUS_READS):
            started = time.perf_counter()
            client.get("/v1/status").raise_for_status()
            latencies.append(time.perf_counter() - started)
    return {
        "requests": STATUS_READS,
        "per_second": round(len(latencies) / sum(latencies), 1),
        "latency_ms": latency_ms(latencies),
    }


def _offered(rate: int | None) -> str:
    return "as fast as accepted" if rate is None else f"{rate} tx/s"


def _print(result: dict[str, Any]) -> None:
    latency = result["latency_ms"]
    console.print(
        f"[bold]{result['committed_per_second']:,} committed transfers/s[/] "
        f"({result['committed_in_window']} in {result['setup']['duration_s']} s); latency p50 "
        f"{latency['p50']} ms, p95 {latency['p95']} ms, p99 {latency['p99']} ms; "
        f"{result['blocks_per_second']} blocks/s, {result['rounds_per_height']} rounds/height; "
        f"{result['cpu_ms_per_transaction']} ms CPU per transaction (all nodes)\n"
        f"signature bound {result['signature_bound_tx_per_second']:,} tx/s "
        f"(cores / (validators x {result['setup']['crypto_suite']} verify time: "
        f"{result['signature_verifications_per_second_one_core']:,.0f} verifications/s); "
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
