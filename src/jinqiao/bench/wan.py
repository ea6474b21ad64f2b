"""``jinqiao bench network --netem "delay 30ms loss 0.1%"``: the same load on the same network
on loopback and with the validators on network namespaces linked with that delay and loss
(``jinqiao.bench.netns``), in the order loopback, netem, netem, loopback (a machine whose speed
drifts during the runs favours neither); each run, each link's mean side by side, and netem's
throughput as a fraction of loopback's (issue 17 item 6: at least 0.8).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jinqiao.bench.local_network import save_figure
from jinqiao.bench.netns import Impairment, require_root
from jinqiao.bench.network import mean_of, run_in_order
from jinqiao.terminal import console, emit_json

ORDER = ("loopback", "netem", "netem", "loopback")
FIGURES = (
    ("committed_per_second", ("committed_per_second",)),
    ("p50_latency_ms", ("latency_ms", "p50")),
    ("p99_latency_ms", ("latency_ms", "p99")),
    ("blocks_per_second", ("blocks_per_second",)),
    ("rounds_per_height", ("rounds_per_height",)),
    ("cpu_ms_per_transaction", ("cpu_ms_per_transaction",)),
)


def run_netem_comparison(
    impairment: Impairment,
    network: dict[str, Any],
    *,
    output: Path | None,
    plot: Path | None,
    order: tuple[str, ...] = ORDER,
) -> dict[str, Any]:
    """``run_network_bench`` with the arguments ``network`` (validators, duration_s, rate,
    json_output, base_port, crypto_suite) on loopback and with ``impairment``, in ``order``."""
    require_root("bench network --netem")
    json_output = bool(network.get("json_output"))
    runs = run_in_order(
        "link",
        order,
        network,
        lambda link: {"impairment": impairment if link == "netem" else None},
    )
    figures = {
        name: {link: mean_of(runs, "link", link, path) for link in dict.fromkeys(order)}
        for name, path in FIGURES
    }
    throughput = figures["committed_per_second"]
    loopback, netem = throughput.get("loopback", 0.0), throughput.get("netem", 0.0)
    result: dict[str, Any] = {
        "benchmark": "network-netem",
        "impairment": impairment.describe(),
        "order": list(order),
        "runs": runs,
        **figures,
        "netem_over_loopback": round(netem / loopback, 3) if loopback else 0,
    }
    if plot is not None:
        _plot(result, plot)
        result["plot"] = str(plot)
    if output is not None:
        output.write_text(json.dumps(result, indent=2) + "\n")
    if json_output:
        emit_json(result)
    else:
        latency = result["p99_latency_ms"]
        console.print(
            f"[bold]means: loopback {loopback:,} committed/s (p99 {latency.get('loopback')} ms), "
            f"{impairment.describe()}: {netem:,} committed/s (p99 {latency.get('netem')} ms); "
            f"netem/loopback {result['netem_over_loopback']:.1%}[/]"
        )
    return result


def _plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    links = list(dict.fromkeys(result["order"]))
    colors = {"loopback": "#2b6cb0", "netem": "#dd6b20"}
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4.5))
    left.bar(
        links,
        [result["committed_per_second"][link] for link in links],
        color=[colors[link] for link in links],
    )
    left.set_ylabel("committed transfers/s")
    width = 0.35
    for offset, link in enumerate(links):
        values = [result[f"{p}_latency_ms"][link] for p in ("p50", "p99")]
        right.bar(
            [position + offset * width for position in range(2)],
            values,
            width,
            color=colors[link],
            label=link,
        )
    right.set_xticks([position + width / 2 for position in range(2)], ["p50", "p99"])
    right.set_ylabel("commit latency (ms)")
    left.set_title("committed transfers/s (mean)")
    save_figure(
        figure,
        right,
        f"{result['impairment']}: netem/loopback {result['netem_over_loopback']:.0%}",
        "upper left",
        path,
    )
