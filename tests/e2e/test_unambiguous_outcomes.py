"""Issue 15, item 1, "Done when": the only reachable node is killed while a transfer is in flight;
the CLI reports the transfer as pending (exit 4), not failed; after the restart ``jinqiao tx
resend`` completes it with the same bytes, once; the payer is debited once. Real node processes,
the real ``jinqiao`` command in its own process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.helpers.cluster import wait_for
from tests.helpers.process import NodeProcess, make_network

pytestmark = pytest.mark.e2e

AMOUNT_MINOR = 2_500
MINTED_MINOR = 100_000


def _jinqiao(
    environment: dict[str, str], *args: str, timeout_s: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jinqiao", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env=environment,
        check=False,
    )


def _mempool_size(node: NodeProcess) -> int:
    try:
        return int(node.http.get(f"{node.url}/v1/status", timeout=2).json()["mempool_transactions"])
    except (httpx.HTTPError, ValueError, KeyError):
        return -1


def test_killed_node_leaves_the_transfer_pending_and_resend_completes_it_once(
    tmp_path: Path,
) -> None:
    # Two validators, each needed for a commit: with one stopped, the other admits transactions
    # but cannot commit them, so the transfer is reliably in flight when its node dies.
    layout = make_network(tmp_path, validators=2)
    nodes = [
        NodeProcess(tmp_path / node.home, port=int(node.api_url.rsplit(":", 1)[1]))
        for node in layout.nodes
    ]
    journal = tmp_path / "journal"
    environment = {**os.environ, "JINQIAO_JOURNAL": str(journal), "PYTHONUNBUFFERED": "1"}
    net = ("--network", str(tmp_path))
    in_flight: subprocess.Popen[str] | None = None
    try:
        for node in nodes:
            node.start()
        minted = _jinqiao(
            environment,
            *("tx", "token", "mint", "bank-a-treasury", str(MINTED_MINOR)),
            *("--key", "clearing-treasury", *net),
        )
        assert minted.returncode == 0, minted.stderr
        nodes[1].stop()
        before = set(journal.glob("*.tx"))

        in_flight = subprocess.Popen(
            [
                sys.executable,
                *("-m", "jinqiao", "tx", "token", "transfer", "bank-b-treasury"),
                *(str(AMOUNT_MINOR), "--key", "bank-a-treasury", *net),
                *("--timeout", "120", "--json"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment,
        )
        wait_for(lambda: _mempool_size(nodes[0]) == 1, 60, "the transfer in the mempool")
        (entry,) = set(journal.glob("*.tx")) - before
        transaction_hash = entry.stem
        queried = _jinqiao(environment, "query", "tx", transaction_hash, *net)
        assert queried.returncode == 4 and "pending" in queried.stdout, queried.stderr

        nodes[0].kill()
        stdout, stderr = in_flight.communicate(timeout=60)
        assert in_flight.returncode == 4, stdout + stderr
        assert json.loads(stdout) == {
            "hash": transaction_hash,
            "status": "pending",
            "message": json.loads(stdout)["message"],
        }

        for node in nodes:
            node.start()
        resent = _jinqiao(environment, "tx", "resend", transaction_hash, *net, "--json")
        assert resent.returncode == 0, resent.stdout + resent.stderr
        assert json.loads(resent.stdout)["status"] == "ok"
        assert json.loads(resent.stdout)["hash"] == transaction_hash
        # Again: it is committed, so nothing is sent and the same result comes back.
        again = _jinqiao(environment, "tx", "resend", transaction_hash, *net, "--json")
        assert again.returncode == 0 and json.loads(again.stdout)["hash"] == transaction_hash

        payer = _jinqiao(environment, "query", "balance", "bank-a-treasury", *net, "--json")
        payee = _jinqiao(environment, "query", "balance", "bank-b-treasury", *net, "--json")
        assert json.loads(payer.stdout)["balance_minor"] == MINTED_MINOR - AMOUNT_MINOR
        assert json.loads(payee.stdout)["balance_minor"] == AMOUNT_MINOR
        assert len(list(journal.glob("*.tx"))) == 2  # the mint and the transfer

        # Bad input: an entry this CLI never wrote, and one that is damaged; each one line.
        missing = _jinqiao(environment, "tx", "resend", "ab" * 32, *net)
        assert missing.returncode == 1 and "no journal entry" in missing.stderr
        entry.write_bytes(entry.read_bytes()[:-3])
        corrupt = _jinqiao(environment, "tx", "resend", transaction_hash, *net)
        assert corrupt.returncode == 1 and "is corrupt" in corrupt.stderr
        assert "Traceback" not in missing.stderr + corrupt.stderr
    finally:
        if in_flight is not None and in_flight.poll() is None:
            in_flight.kill()
            in_flight.communicate()
        for node in nodes:
            node.stop()
