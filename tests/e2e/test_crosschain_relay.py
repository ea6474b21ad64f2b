"""Two real networks (ed25519-sha256 and sm2-sm3, separate node processes, TLS, HTTP) and
``jinqiao relay`` between them (docs/crosschain.md §6): CNY goes across and back with every
step proven on chain, and a transfer nobody relays in time is refunded on its timeout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from jinqiao.apps.crosschain.transfer import XTRANSFER, escrow_key, voucher_key
from jinqiao.demo.crosschain import (
    ALICE_CNY_MINOR,
    CHANNEL_A,
    CHANNEL_B,
    Pair,
    connect_pair,
    running_pair,
    send_transfer,
    wait_for_height,
)
from tests.helpers.process import free_port_base

pytestmark = pytest.mark.e2e

VOUCHER = f"{XTRANSFER}/{CHANNEL_B}/CNY"


def run_relay(pair: Pair, rounds: int) -> list[dict[str, object]]:
    """``jinqiao relay`` as a separate process; its JSON reports, one per round."""
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "jinqiao",
            "relay",
            str(pair.a.directory),
            str(pair.b.directory),
            "--rounds",
            str(rounds),
            "--interval-s",
            "0.2",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    decoder = json.JSONDecoder()
    reports, text = [], completed.stdout.strip()
    while text:
        report, end = decoder.raw_decode(text)
        reports.append(report)
        text = text[end:].strip()
    return reports


def test_cny_crosses_and_returns_and_a_late_transfer_is_refunded(tmp_path: Path) -> None:
    with running_pair(tmp_path, base_port=free_port_base(40)) as pair:
        connect_pair(pair)
        send_transfer(pair.a, pair.b, "alice", "bob", "CNY", 300_000)
        reports = run_relay(pair, 3)
        assert sum(int(report["delivered"]) for report in reports) == 1  # type: ignore[call-overload]
        assert sum(int(report["acknowledged"]) for report in reports) == 1  # type: ignore[call-overload]
        bob_vouchers = voucher_key(VOUCHER, pair.b.address("bob"))
        assert pair.b.proven_int(XTRANSFER, bob_vouchers) == 300_000
        assert pair.a.proven_int(XTRANSFER, escrow_key(CHANNEL_A, "CNY")) == 300_000

        send_transfer(pair.b, pair.a, "bob", "alice", VOUCHER, 100_000)
        run_relay(pair, 3)
        assert pair.a.cny("alice") == ALICE_CNY_MINOR - 200_000
        assert pair.b.proven_int(XTRANSFER, bob_vouchers) == 200_000

        # Nobody relays this one before B passes its timeout: the relayer proves it absent.
        send_transfer(pair.a, pair.b, "alice", "bob", "CNY", 50_000, timeout_blocks=3)
        assert pair.a.cny("alice") == ALICE_CNY_MINOR - 250_000
        wait_for_height(pair.b, int(pair.b.client.status()["height"]) + 4)
        reports = run_relay(pair, 3)
        assert sum(int(report["timed_out"]) for report in reports) == 1  # type: ignore[call-overload]
        assert pair.a.cny("alice") == ALICE_CNY_MINOR - 200_000
        assert pair.b.proven_int(XTRANSFER, bob_vouchers) == 200_000
