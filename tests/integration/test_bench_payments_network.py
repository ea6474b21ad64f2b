"""``jinqiao bench payments`` with its network phase: four validator processes record a few
hundred payments, every authorization and capture is committed with an ok receipt, the cycle
that holds them closes, and the JSON states the setup with the figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jinqiao.cli.main import app
from tests.helpers.process import free_port_base

pytestmark = pytest.mark.e2e

VALIDATORS = 4
PAYMENTS = 200
RATE = 400  # offered tx/s in each phase: batches of 20, so a phase takes at least 0.45 s


def test_network_phase_records_every_payment(tmp_path: Path) -> None:
    output = tmp_path / "bench-payments.json"
    result = CliRunner().invoke(
        app,
        [
            "bench",
            "payments",
            "--payments",
            "100",
            "--close-sizes",
            "",
            "--institutions",
            "3",
            "--network-validators",
            str(VALIDATORS),
            "--network-payments",
            str(PAYMENTS),
            "--base-port",
            str(free_port_base(VALIDATORS)),
            "--rate",
            str(RATE),
            "--json",
            "--output",
            str(output),
        ],
    )
    assert result.exit_code == 0, result.stderr
    report = json.loads(output.read_text())
    assert json.loads(result.stdout) == report
    network = report["network"]
    setup = network["setup"]
    assert setup["validators"] == VALIDATORS
    assert setup["payments"] == PAYMENTS
    assert setup["institutions"] == 3
    assert setup["rate"] == RATE
    assert setup["batch"] == RATE // 20
    assert f"{RATE} tx/s" in setup["offered"]
    assert "mutual TLS" in setup["processes"]
    # Every authorization and capture, the opening and the closing: committed, receipts ok.
    assert network["receipts_ok"] == 2 * PAYMENTS + 2
    for phase in ("authorize", "capture"):
        figures = network[phase]
        assert figures["committed_per_second"] > 0
        assert 0 < figures["latency_ms"]["p50"] <= figures["latency_ms"]["p99"]
        assert figures["refused"] >= 0
        # Paced: the last batch leaves no sooner than (P - batch) / rate after the first.
        assert figures["seconds"] >= (PAYMENTS - setup["batch"]) / RATE
    assert 0 < network["payments_per_second"] <= PAYMENTS / network["authorize"]["seconds"]
    assert network["blocks"] >= 2
    assert network["rounds_per_height"] >= 1
    assert network["cpu_ms_per_payment"] > 0
    close = network["close"]
    assert close["payments"] == PAYMENTS
    assert close["commit_latency_ms"] > 0
    assert close["state_operations"] > 0
    # The in-process parts are still there, unchanged in shape.
    assert report["record"]["payments"] == 100
    assert report["close"] == []
