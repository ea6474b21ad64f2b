"""``jinqiao bench index`` at a small size, end to end: a node process, the transfers committed
and indexed into SQLite, a generated index queried; the result has every figure docs/performance.md
reports, and the rows the setup says."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.process import free_port_base

pytestmark = pytest.mark.e2e


def test_the_index_benchmark_reports_its_figures(tmp_path: Path) -> None:
    output, plot = tmp_path / "index.json", tmp_path / "index.png"
    result = subprocess.run(
        [
            sys.executable, "-m", "jinqiao", "bench", "index",
            "--transfers", "300", "--block-size", "50", "--transactions", "2000",
            "--samples", "10", "--base-port", str(free_port_base(1)),
            "--output", str(output), "--plot", str(plot), "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    figures = json.loads(output.read_text())
    (indexing,) = figures["indexing"]
    assert indexing["database"] == "sqlite"
    assert indexing["transactions"] == 300  # every transfer committed, then indexed
    assert indexing["blocks"] >= 300 // 50 and indexing["blocks_per_second"] > 0
    (large,) = figures["queries"]
    assert large["rows"]["transactions"] == 2000
    assert large["rows"]["payments"] == 2000 // 5
    assert len(large["queries"]) == 8
    for name, latency in large["queries"].items():
        assert 0 < latency["p50_ms"] <= latency["p95_ms"] <= latency["max_ms"], name
    assert figures["setup"]["postgresql"].startswith("not measured")
    assert plot.stat().st_size > 10_000
