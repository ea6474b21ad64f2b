"""``jinqiao bench ratelimit``: does one member's flood slow another member's requests (issue 9,
item 7; ADR 0041)?

One node process on this machine with authentication on and ``api_rate_limit`` set to
``limit_per_s`` (``burst`` at once). A **victim** member (``bank-a-treasury``, its client
certificate) asks ``GET /v1/status`` at a fixed ``victim_rate_per_s`` on one kept-alive
connection, in two phases of ``phase_s`` seconds:

- **alone** — nothing else;
- **flood** — another member (``bank-b-treasury``) sends ``GET /v1/status`` as fast as it can from
  ``flooders`` processes (one kept-alive connection each), far more than its limit. The phase
  starts once every flooder process has started, connected and had its first answer: starting
  Python interpreters is not part of the measure.

The result gives the victim's p50/p99 latency in each phase and the ratio of the p99s, and the
flooder's requests by answer (200, 429, other). It asserts nothing: it measures.
"""

from __future__ import annotations

import multiprocessing
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import msgspec

from jinqiao.bench.execute import setup_description
from jinqiao.bench.local_network import init_quiet_network, percentile, save_figure
from jinqiao.client import Credentials
from jinqiao.demo.run import running_node
from jinqiao.fileio import PUBLIC_FILE_MODE, save_atomically
from jinqiao.node.config import ApiRateLimit, dump_config, load_config
from jinqiao.provision.presets import demo_spec
from jinqiao.terminal import console, progress_bar, save_result

PATH = "/v1/status"
PHASES = ("alone", "flood")
VICTIM = "bank-a-treasury"
FLOODER = "bank-b-treasury"
REQUEST_TIMEOUT_S = 10.0
STOP_CHECK_S = 0.25
FLOODERS_READY_TIMEOUT_S = 300.0


@dataclass
class Victim:
    latencies_ms: dict[str, list[float]] = field(default_factory=dict)
    statuses: dict[str, Counter[str]] = field(default_factory=dict)
    timeline: list[tuple[float, str, float]] = field(default_factory=list)
    """(seconds since the start, phase, latency ms)"""


def _flood(network: str, url: str, ready: Any, stop: Any) -> tuple[dict[str, int], float]:
    """One flooder process: ``GET PATH`` as fast as the node answers until ``stop`` is set,
    counted by answer, and the seconds it flooded. It says it is ``ready`` once its interpreter,
    its client and its connection are up, so that starting it is not part of the measure."""
    counts: Counter[str] = Counter()
    with Credentials.for_account(Path(network), FLOODER).http_client(
        timeout=REQUEST_TIMEOUT_S
    ) as http:
        counts[_get(http, url)] += 1
        ready.put(1)
        started = time.monotonic()
        checked = started
        while True:
            counts[_get(http, url)] += 1
            now = time.monotonic()
            if now - checked >= STOP_CHECK_S:  # asking the manager costs a round trip
                checked = now
                if stop.is_set():
                    break
    return dict(counts), now - started


def _get(http: httpx.Client, url: str) -> str:
    try:
        return str(http.get(f"{url}{PATH}").status_code)
    except httpx.HTTPError:
        return "error"


def _victim_phase(
    http: httpx.Client,
    url: str,
    rate_per_s: float,
    duration_s: float,
    phase: str,
    victim: Victim,
    started: float,
) -> None:
    latencies: list[float] = victim.latencies_ms.setdefault(phase, [])
    statuses = victim.statuses.setdefault(phase, Counter())
    interval_s = 1 / rate_per_s
    begin = time.monotonic()
    sent = 0
    while True:
        due = begin + sent * interval_s
        if due >= begin + duration_s:
            break
        time.sleep(max(0.0, due - time.monotonic()))
        sent += 1
        request_started = time.monotonic()
        try:
            statuses[str(http.get(f"{url}{PATH}").status_code)] += 1
        except httpx.HTTPError:
            statuses["error"] += 1
        latency_ms = (time.monotonic() - request_started) * 1000
        latencies.append(latency_ms)
        victim.timeline.append((request_started - started, phase, latency_ms))


def run_ratelimit_bench(
    *,
    victim_rate_per_s: float,
    limit_per_s: float,
    burst: int,
    tarpit_ms: int,
    flooders: int,
    phase_s: float,
    json_output: bool,
    output: Path | None,
    plot: Path | None,
    base_port: int,
) -> dict[str, Any]:
    victim = Victim()
    flood: Counter[str] = Counter()
    flood_seconds: list[float] = []
    with tempfile.TemporaryDirectory(prefix="jinqiao-bench-ratelimit-") as directory:
        root = Path(directory)
        network = root / "net"
        layout = init_quiet_network(
            network, demo_spec(validators=1, base_api_port=base_port, chain_id="bench-ratelimit")
        )
        node = layout.nodes[0]
        home = network / node.home
        config = msgspec.structs.replace(
            load_config(home), api_rate_limit=ApiRateLimit(limit_per_s, burst, tarpit_ms)
        )
        save_atomically(home / "config.json", dump_config(config), mode=PUBLIC_FILE_MODE)
        url = node.api_url
        credentials = Credentials.for_account(network, VICTIM)
        with (
            credentials.http_client(timeout=REQUEST_TIMEOUT_S) as http,
            running_node(home, root / "node.log", url, http),
            progress_bar(disable=json_output) as progress,
        ):
            http.get(f"{url}{PATH}")  # the connection and the identity, before the measure
            started = time.monotonic()
            task = progress.add_task("victim alone", total=None)
            _victim_phase(http, url, victim_rate_per_s, phase_s, "alone", victim, started)
            progress.update(task, description="flooders starting")
            context = multiprocessing.get_context("spawn")
            with context.Manager() as manager, context.Pool(flooders) as pool:
                ready, stop = manager.Queue(), manager.Event()
                pending = pool.starmap_async(
                    _flood, [(str(network), url, ready, stop)] * flooders, chunksize=1
                )
                for _ in range(flooders):  # their interpreters start before the measure
                    ready.get(timeout=FLOODERS_READY_TIMEOUT_S)
                progress.update(task, description="victim under flood")
                _victim_phase(http, url, victim_rate_per_s, phase_s, "flood", victim, started)
                stop.set()
                for counts, seconds in pending.get(timeout=FLOODERS_READY_TIMEOUT_S):
                    flood.update(counts)
                    flood_seconds.append(seconds)
    limits = {"requests_per_second": limit_per_s, "burst": burst, "tarpit_ms": tarpit_ms}
    seconds = max(flood_seconds, default=0.0)
    result = _result(victim, flood, seconds, victim_rate_per_s, limits, flooders, phase_s)
    if plot is not None:
        _plot(victim, result, plot)
        result["plot"] = str(plot)
    if save_result(result, output=output, json_output=json_output):
        _print(result)
    return result


def _result(
    victim: Victim,
    flood: Counter[str],
    flood_seconds: float,
    victim_rate_per_s: float,
    limits: dict[str, float],
    flooders: int,
    phase_s: float,
) -> dict[str, Any]:
    description = setup_description(0, 0, 0)
    phases: dict[str, dict[str, Any]] = {
        phase: {
            "requests": len(victim.latencies_ms[phase]),
            "answers": dict(victim.statuses[phase]),
            "latency_ms": {
                "p50": round(percentile(victim.latencies_ms[phase], 0.50), 2),
                "p99": round(percentile(victim.latencies_ms[phase], 0.99), 2),
            },
        }
        for phase in PHASES
    }
    alone, flooded = (phases[phase]["latency_ms"]["p99"] for phase in PHASES)
    flood_total = sum(flood.values())
    return {
        "benchmark": "ratelimit",
        "setup": {
            **{key: description[key] for key in ("cpu", "cores", "python", "platform")},
            "node": "1 node process on this machine, authentication on (TLS, client certificates)",
            "api_rate_limit": limits,
            "victim": f"{VICTIM}, GET {PATH} at {victim_rate_per_s:g}/s on one kept-alive "
            "connection",
            "flooder": f"{FLOODER}, GET {PATH} as fast as answered from {flooders} processes "
            "(one kept-alive connection each), started and connected before the flood phase",
            "phase_s": phase_s,
        },
        "victim": phases,
        "p99_ratio_flood_to_alone": round(flooded / alone, 2) if alone else None,
        "flood": {
            "requests": flood_total,
            "seconds": round(flood_seconds, 1),
            "per_second": round(flood_total / flood_seconds, 1) if flood_seconds else None,
            "answers": dict(flood),
            "rate_limited_share": round(flood.get("429", 0) / max(1, flood_total), 4),
        },
    }


def _print(result: dict[str, Any]) -> None:
    for phase, values in result["victim"].items():
        console.print(
            f"victim {phase:>5}: {values['requests']} requests {values['answers']}, "
            f"p50 {values['latency_ms']['p50']} ms, p99 {values['latency_ms']['p99']} ms"
        )
    flood = result["flood"]
    console.print(
        f"p99 under flood / alone: {result['p99_ratio_flood_to_alone']}; flooder: "
        f"{flood['requests']:,} requests ({flood['per_second']:,}/s) {flood['answers']}"
    )


def _plot(victim: Victim, result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(9, 5))
    for phase, color in zip(PHASES, ("#2b6cb0", "#c53030"), strict=True):
        points = [(t, ms) for t, p, ms in victim.timeline if p == phase]
        if points:
            times, latencies = zip(*points, strict=True)
            p99 = result["victim"][phase]["latency_ms"]["p99"]
            axes.scatter(times, latencies, s=4, color=color, label=f"{phase} (p99 {p99} ms)")
    axes.set_yscale("log")
    axes.set_xlabel("seconds since the victim's first request")
    axes.set_ylabel("victim's GET /v1/status latency (ms)")
    setup = result["setup"]
    flood = result["flood"]
    title = (
        f"One member's flood ({flood['per_second']:,}/s, {flood['rate_limited_share']:.0%} 429) "
        f"vs another's p99; limit {setup['api_rate_limit']['requests_per_second']:g}/s"
    )
    save_figure(figure, axes, title, "upper left", path)
