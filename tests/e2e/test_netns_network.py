"""A network across hosts, for real: four organizations, each on its own "host" — a Linux network
namespace with its own address on a bridge — made by the documented ceremony and started with
``jinqiao node start``, as docs/operations.md "A network across hosts" says step by step.

Needs root (``ip netns`` and ``ip link`` need CAP_NET_ADMIN; the CI runs as root): without it the
test fails and says so, it is never skipped. Everything it creates — namespaces, veth pairs, the
bridge, the node processes — is removed afterwards, whether the test passed or not. The
namespaces are built by ``jinqiao.bench.netns.Hosts``, the builder ``bench network --netem``
uses too.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from jinqiao.bench.netns import Hosts, hosts_up, require_root
from jinqiao.client import Credentials
from jinqiao.core.errors import InvalidInput

pytestmark = pytest.mark.e2e

ORGANIZATIONS = ("bank-a", "bank-b", "bank-c", "bank-d")
CHAIN_ID = "jinqiao-netns"
API_PORT = 9400
P2P_PORT = 9500
START_TIMEOUT_S = 90.0
COMMIT_TIMEOUT_S = 60.0
AMOUNT_MINOR = 12_345


def _require_root() -> None:
    try:
        require_root("this test")
    except InvalidInput as error:
        pytest.fail(f"{error}, as the CI does")


def jinqiao(*args: str, cwd: Path, environment: dict[str, str] | None = None) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-m", "jinqiao", *args, "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
        env={**os.environ, **(environment or {})},
    )
    assert result.returncode == 0, f"jinqiao {' '.join(args)}:\n{result.stdout}{result.stderr}"
    answer: dict[str, object] = json.loads(result.stdout)
    return answer


@contextmanager
def nodes_running(hosts: Hosts, work: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Step 5: each organization starts its node on its own host (``ip netns exec``)."""
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for index, organization in enumerate(ORGANIZATIONS):
            home = work / organization / "nodes" / organization
            with (home / "node.log").open("ab") as log:
                processes.append(
                    subprocess.Popen(
                        [
                            *hosts.exec_prefix(index),
                            sys.executable,
                            "-m",
                            "jinqiao",
                            "node",
                            "start",
                            "--home",
                            str(home),
                        ],
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        env={**os.environ, "PYTHONUNBUFFERED": "1"},
                    )
                )
        yield processes
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _logs(work: Path) -> str:
    parts = []
    for organization in ORGANIZATIONS:
        log = work / organization / "nodes" / organization / "node.log"
        text = log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"
        parts.append(f"--- {organization}\n{text}")
    return "\n".join(parts)


def _parameters(issuer: str, payer: str) -> dict[str, object]:
    """The consortium's decisions (step 2): a CNY token issued by ``issuer``, ``payer`` funded."""
    return {
        "chain_id": CHAIN_ID,
        "contracts": {
            "token": {
                "tiers": {
                    "institution": {
                        "max_balance_minor": 10**15,
                        "max_payment_minor": 10**13,
                        "daily_limit_minor": 10**14,
                    }
                },
                "assets": [
                    {
                        "symbol": "CNY",
                        "name": "Digital yuan (test)",
                        "scale": 2,
                        "issuer": issuer,
                        "default_tier": "institution",
                    }
                ],
            }
        },
        "holdings": [
            {"account": payer, "asset": "CNY", "tier": "institution", "balance_minor": 1_000_000}
        ],
    }


def _balance(work: Path, node_index: int, hosts: Hosts, address: str) -> int:
    """bank-b's balance as ``node_index``'s node answers it to bank-b, proof verified."""
    try:
        answer = jinqiao(
            "query",
            "balance",
            address,
            "--url",
            f"https://{hosts.addresses[node_index]}:{API_PORT}",
            "--genesis",
            "bank-b/nodes/bank-b/genesis.json",
            "--as",
            "bank-b/clients/bank-b-admin",
            cwd=work,
        )
    except AssertionError:
        return -1
    return int(str(answer["balance_minor"]))


def _healthy(probe: httpx.Client, address: str) -> bool:
    try:
        return probe.get(f"https://{address}:{API_PORT}/healthz").status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.timeout(600)  # under a loaded shared machine the dozen CLI processes take minutes
def test_four_organizations_in_four_namespaces(tmp_path: Path) -> None:
    _require_root()
    work = tmp_path
    with hosts_up(len(ORGANIZATIONS)) as hosts:
        # Step 1: each organization, on its own host, makes its material (no private key leaves).
        for organization, address in zip(ORGANIZATIONS, hosts.addresses, strict=True):
            jinqiao(
                "ceremony",
                "member",
                "--org",
                organization,
                "--chain-id",
                CHAIN_ID,
                "--host",
                address,
                "--api-port",
                str(API_PORT),
                "--p2p-port",
                str(P2P_PORT),
                "--out",
                organization,
                "--insecure-plaintext",
                cwd=work,
            )
        # Step 2: the coordinator assembles the genesis from the four membership files.
        (work / "params.json").write_text(json.dumps(_parameters("bank-a", "bank-a-admin")))
        assembled = jinqiao(
            "ceremony",
            "assemble",
            *(f"{organization}/membership.json" for organization in ORGANIZATIONS),
            "--params",
            "params.json",
            "--out",
            "genesis.json",
            cwd=work,
        )
        # Step 3: each organization checks the genesis against what it submitted and installs it.
        for organization in ORGANIZATIONS:
            checked = jinqiao(
                "ceremony",
                "check",
                "--genesis",
                "genesis.json",
                "--peers",
                "peers.json",
                "--dir",
                organization,
                cwd=work,
            )
            assert checked["genesis_hash"] == assembled["genesis_hash"]
        # Step 4: what left each organization holds no private material.
        for public in (
            "genesis.json",
            "peers.json",
            *(f"{o}/membership.json" for o in ORGANIZATIONS),
        ):
            assert "PRIVATE KEY" not in (work / public).read_text()
        with nodes_running(hosts, work) as processes:
            recipient = str(
                jinqiao("keys", "export-public", "bank-b/accounts/bank-b-admin.json", cwd=work)[
                    "address"
                ]
            )
            # Every node answers on its own address, with a certificate for that address.
            credentials = Credentials.load(work / "bank-b" / "clients" / "bank-b-admin")
            deadline = time.monotonic() + START_TIMEOUT_S
            with credentials.http_client(timeout=2.0) as probe:
                while not all(_healthy(probe, address) for address in hosts.addresses):
                    for process in processes:
                        assert process.poll() is None, f"a node exited:\n{_logs(work)}"
                    assert time.monotonic() < deadline, f"nodes did not answer:\n{_logs(work)}"
                    time.sleep(0.5)
            # Step 6: bank-a pays bank-b through bank-a's own node.
            sent = jinqiao(
                "tx",
                "token",
                "transfer",
                recipient,
                str(AMOUNT_MINOR),
                "--key",
                "bank-a/accounts/bank-a-admin.json",
                "--url",
                f"https://{hosts.addresses[0]}:{API_PORT}",
                "--genesis",
                "bank-a/nodes/bank-a/genesis.json",
                "--as",
                "bank-a/clients/bank-a-admin",
                cwd=work,
                environment={"JINQIAO_JOURNAL": str(work / "journal")},
            )
            assert sent["status"] == "ok", sent
            # Committed on all four: each node, on its own address, proves the new balance.
            deadline = time.monotonic() + COMMIT_TIMEOUT_S
            while True:
                balances = [_balance(work, index, hosts, recipient) for index in range(4)]
                if balances == [AMOUNT_MINOR] * 4:
                    break
                assert time.monotonic() < deadline, f"balances {balances}:\n{_logs(work)}"
                time.sleep(1.0)


def test_without_root_it_fails_saying_what_it_needs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never a skip: a user without CAP_NET_ADMIN is told what the test needs."""
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(pytest.fail.Exception, match=r"needs root \(CAP_NET_ADMIN"):
        _require_root()
