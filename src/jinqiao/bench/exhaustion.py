"""``jinqiao bench exhaustion``: does a node keep answering its probes while clients exhaust its
HTTP connections (issue 7, defect 3)?

One node process on this machine with its default ``api_limits``. A prober asks ``/v1/status``
and ``/healthz`` in turn, each on a new connection from 127.0.0.1, in three phases of equal length:

- **rest** — nothing else;
- **idle** — attackers hold ``idle_connections`` TCP connections that send nothing;
- **slowloris** — attackers hold ``slowloris_connections`` connections that trickle one header
  line a second and never finish their headers.

The attackers connect from ``attacker_addresses`` other loopback addresses (127.0.1.x), spread
evenly, and open a connection again as soon as the node closes one, so the pressure holds for the
whole phase. The result gives, per phase and path, p50/p99 latency and the share of probes
answered 200, and what happened to the attackers' connections (refused over a cap, closed by a
timeout).
"""

from __future__ import annotations

import asyncio
import itertools
import resource
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from jinqiao.bench.execute import setup_description
from jinqiao.bench.local_network import (
    bench_network_spec,
    init_quiet_network,
    percentile,
    save_figure,
)
from jinqiao.demo.run import running_node
from jinqiao.node.config import ApiLimits
from jinqiao.terminal import console, progress_bar, save_result

PATHS = ("/v1/status", "/healthz")
PHASES = ("rest", "idle", "slowloris")
PROBE_TIMEOUT_S = 5.0
PROBE_INTERVAL_S = 0.05
TRICKLE_INTERVAL_S = 1.0
RECONNECT_PAUSE_S = 1.0
"""An attacker's pause after the node closed one of its connections before opening another (a
flood of new connections is another attack, not this benchmark's)."""
CONNECT_TIMEOUT_S = 5.0


@dataclass
class Probes:
    latencies_ms: dict[str, list[float]] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    timeline: list[tuple[float, str, float, bool]] = field(default_factory=list)
    """(seconds since the start, path, latency ms, answered 200)"""
    phase_starts: list[float] = field(default_factory=list)


@dataclass
class Attack:
    """The attackers' connections of one phase, counted by how they ended."""

    opened: int = 0
    refused: int = 0
    """Answered 503 ``too_many_connections`` and closed at once."""
    closed: int = 0
    """Closed by the node after a while (a timeout)."""
    failed: int = 0
    """Could not connect at all."""
    held_peak: int = 0
    held: int = 0


def _probe(client_url: str, path: str) -> tuple[float, bool]:
    started = time.monotonic()
    try:
        answer = httpx.get(f"{client_url}{path}", timeout=PROBE_TIMEOUT_S)
        ok = answer.status_code == 200
    except httpx.HTTPError:
        ok = False
    return (time.monotonic() - started) * 1000, ok


async def _attacker(
    host: str, port: int, source: str, slowloris: bool, attack: Attack, stop: threading.Event
) -> None:
    while not stop.is_set():
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, local_addr=(source, 0)), CONNECT_TIMEOUT_S
            )
        except (OSError, TimeoutError):
            attack.failed += 1
            await asyncio.sleep(RECONNECT_PAUSE_S)
            continue
        attack.opened += 1
        attack.held += 1
        attack.held_peak = max(attack.held_peak, attack.held)
        first = b""
        try:
            if slowloris:
                writer.write(f"GET /healthz HTTP/1.1\r\nHost: {host}:{port}\r\n".encode())
            for line in itertools.count():
                if stop.is_set():
                    break
                try:
                    chunk = await asyncio.wait_for(reader.read(256), TRICKLE_INTERVAL_S)
                except TimeoutError:
                    if slowloris:
                        writer.write(b"X-Trickle-%d: 1\r\n" % line)
                    continue
                first = first or chunk
                if not chunk or b"too_many_connections" in first:
                    break
        except OSError:
            pass
        finally:
            attack.held -= 1
            writer.close()
        if stop.is_set():
            break
        if b"too_many_connections" in first:
            attack.refused += 1
        else:
            attack.closed += 1
        await asyncio.sleep(RECONNECT_PAUSE_S)


def _run_attack(
    host: str, port: int, count: int, sources: list[str], slowloris: bool, stop: threading.Event
) -> tuple[Attack, threading.Thread]:
    """``count`` attackers on a thread of their own until ``stop`` is set."""
    attack = Attack()

    async def main() -> None:
        await asyncio.gather(
            *(
                _attacker(host, port, sources[index % len(sources)], slowloris, attack, stop)
                for index in range(count)
            )
        )

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    return attack, thread


def _phase(
    url: str, duration_s: float, probes: Probes, started: float, progress: Any, task: Any
) -> dict[str, Any]:
    latencies: dict[str, list[float]] = {path: [] for path in PATHS}
    successes = dict.fromkeys(PATHS, 0)
    phase_end = time.monotonic() + duration_s
    for path in itertools.cycle(PATHS):
        now = time.monotonic()
        if now >= phase_end:
            break
        latency_ms, ok = _probe(url, path)
        latencies[path].append(latency_ms)
        successes[path] += ok
        probes.timeline.append((time.monotonic() - started, path, latency_ms, ok))
        progress.update(task, completed=min(duration_s, duration_s - (phase_end - now)))
        time.sleep(PROBE_INTERVAL_S)
    progress.update(task, completed=duration_s)
    return {
        path: {
            "probes": len(latencies[path]),
            "success_rate": round(successes[path] / max(1, len(latencies[path])), 4),
            "latency_ms": {
                "p50": round(percentile(latencies[path], 0.50), 1),
                "p99": round(percentile(latencies[path], 0.99), 1),
            },
        }
        for path in PATHS
    }


def run_exhaustion_bench(
    *,
    idle_connections: int,
    slowloris_connections: int,
    attacker_addresses: int,
    phase_s: float,
    json_output: bool,
    output: Path | None,
    plot: Path | None,
    base_port: int,
) -> dict[str, Any]:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    sources = [f"127.0.1.{1 + index % 250}" for index in range(attacker_addresses)]
    with tempfile.TemporaryDirectory(prefix="jinqiao-bench-exhaustion-") as directory:
        root = Path(directory)
        # Plain HTTP: the attack and its limits are those of the HTTP layer (ADR 0010); over
        # TLS a connection is only counted once its handshake is done (docs/access.md).
        layout = init_quiet_network(
            root / "net",
            bench_network_spec("bench-exhaustion", 1, base_port, (), {}),
            authentication=False,
        )
        node = layout.nodes[0]
        url = node.api_url.replace("https://", "http://", 1)
        host, port = "127.0.0.1", int(url.rsplit(":", 1)[1])
        probes = Probes()
        phases: dict[str, Any] = {}
        attacks: dict[str, Attack] = {}
        with (
            httpx.Client(timeout=PROBE_TIMEOUT_S) as http,
            running_node(root / "net" / node.home, root / "node.log", url, http),
        ):
            started = time.monotonic()
            with progress_bar(disable=json_output) as progress:
                for phase in PHASES:
                    task = progress.add_task(f"probes, {phase}", total=phase_s)
                    stop = threading.Event()
                    thread = None
                    if phase != "rest":
                        count = idle_connections if phase == "idle" else slowloris_connections
                        attacks[phase], thread = _run_attack(
                            host, port, count, sources, phase == "slowloris", stop
                        )
                    probes.phase_starts.append(time.monotonic() - started)
                    phases[phase] = _phase(url, phase_s, probes, started, progress, task)
                    stop.set()
                    if thread is not None:
                        thread.join(timeout=30)
    result = _result(
        phases, attacks, idle_connections, slowloris_connections, attacker_addresses, phase_s
    )
    if plot is not None:
        _plot(probes, phase_s, result, plot)
        result["plot"] = str(plot)
    if save_result(result, output=output, json_output=json_output):
        _print(result)
    return result


def _result(
    phases: dict[str, Any],
    attacks: dict[str, Attack],
    idle_connections: int,
    slowloris_connections: int,
    attacker_addresses: int,
    phase_s: float,
) -> dict[str, Any]:
    description = setup_description(0, 0, 0)
    limits = ApiLimits()
    return {
        "benchmark": "exhaustion",
        "setup": {
            **{key: description[key] for key in ("cpu", "cores", "python", "platform")},
            "node": "1 node process on this machine, default api_limits",
            "api_limits": {name: getattr(limits, name) for name in limits.__struct_fields__},
            "probes": "GET /v1/status and /healthz in turn, a new connection each, "
            f"{PROBE_INTERVAL_S * 1000:.0f} ms apart, from 127.0.0.1, timeout {PROBE_TIMEOUT_S} s",
            "phase_s": phase_s,
            "idle_connections": idle_connections,
            "slowloris_connections": slowloris_connections,
            "slowloris": f"one header line every {TRICKLE_INTERVAL_S} s, headers never finished",
            "attacker_addresses": attacker_addresses,
            "attackers": "reconnect as soon as the node closes a connection "
            f"(after {RECONNECT_PAUSE_S} s)",
        },
        "phases": phases,
        "attack": {
            phase: {
                "connections_opened": attack.opened,
                "refused_over_cap": attack.refused,
                "closed_by_timeout": attack.closed,
                "connect_failed": attack.failed,
                "held_peak": attack.held_peak,
            }
            for phase, attack in attacks.items()
        },
    }


def _print(result: dict[str, Any]) -> None:
    for phase, paths in result["phases"].items():
        line = "; ".join(
            f"{path} {values['success_rate']:.1%} ok, p50 {values['latency_ms']['p50']} ms, "
            f"p99 {values['latency_ms']['p99']} ms"
            for path, values in paths.items()
        )
        console.print(f"{phase:>9}: {line}")
    for phase, attack in result["attack"].items():
        console.print(
            f"{phase:>9} attack: {attack['connections_opened']:,} connections opened, "
            f"{attack['refused_over_cap']:,} refused over a cap, "
            f"{attack['closed_by_timeout']:,} closed by a timeout"
        )


def _plot(probes: Probes, phase_s: float, result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(9, 5))
    for probe_path, color in zip(PATHS, ("#2b6cb0", "#38a169"), strict=True):
        for ok, marker, size in ((True, "o", 4), (False, "x", 14)):
            points = [
                (t, ms) for t, p, ms, good in probes.timeline if p == probe_path and good == ok
            ]
            if points:
                times, latencies = zip(*points, strict=True)
                label = f"{probe_path} {'200' if ok else 'failed'}"
                axes.scatter(times, latencies, s=size, marker=marker, color=color, label=label)
    for index, phase in enumerate(PHASES):
        start = probes.phase_starts[index]
        axes.axvspan(start, start + phase_s, alpha=0.06 * (index + 1), color="grey")
        rates = ", ".join(
            f"{values['success_rate']:.0%}" for values in result["phases"][phase].values()
        )
        axes.text(
            start + 0.5,
            0.97,
            f"{phase}\nok {rates}",
            transform=axes.get_xaxis_transform(),
            va="top",
        )
    axes.set_yscale("log")
    axes.set_xlabel("seconds since the first probe")
    axes.set_ylabel("probe latency (ms)")
    setup = result["setup"]
    title = (
        f"Probes under connection exhaustion: {setup['idle_connections']:,} idle, "
        f"{setup['slowloris_connections']:,} slowloris, "
        f"from {setup['attacker_addresses']} addresses"
    )
    save_figure(figure, axes, title, "lower right", path)
