"""``jinqiao ceremony`` from the command line: the refusals reach the operator as one line with
their code and exit code 1, and write nothing (the successful path runs in
tests/e2e/test_netns_network.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CHAIN = "cli-ceremony"


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jinqiao", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
    )


def _member(cwd: Path, organization: str) -> None:
    result = run(
        "ceremony", "member", "--org", organization, "--chain-id", CHAIN,
        "--host", f"{organization}.example", "--out", organization, "--insecure-plaintext",
        cwd=cwd,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "CA fingerprint" in result.stdout


def test_refusals_from_the_command_line(tmp_path: Path) -> None:
    for organization in ("bank-a", "bank-b"):
        _member(tmp_path, organization)
    (tmp_path / "params.json").write_text(json.dumps({"chain_id": CHAIN}))
    altered = json.loads((tmp_path / "bank-b" / "membership.json").read_text())
    altered["membership"]["organization"]["roles"] = ["regulator"]
    (tmp_path / "altered.json").write_text(json.dumps(altered))
    result = run(
        "ceremony", "assemble", "bank-a/membership.json", "altered.json",
        "--params", "params.json", "--out", "genesis.json",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.startswith(
        "error: membership_refused: altered.json: the signature does not"
    )
    assert not (tmp_path / "genesis.json").exists() and not (tmp_path / "peers.json").exists()
    result = run(
        "ceremony", "assemble", "bank-a/membership.json", "bank-b/membership.json",
        "--params", "params.json", "--out", "genesis.json", "--fingerprint", "bank-b=" + "0" * 64,
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1 and "not from the CA it confirmed" in result.stderr
    result = run(
        "ceremony", "assemble", "bank-a/membership.json", "bank-b/membership.json",
        "--params", "params.json", "--out", "genesis.json", "--json",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    # The coordinator drops bank-b's admin and puts in an admin of its own making.
    genesis = json.loads((tmp_path / "genesis.json").read_text())
    _member(tmp_path, "impostor")
    impostor = json.loads((tmp_path / "impostor" / "membership.json").read_text())
    for account in genesis["accounts"]:
        if account["organization"] == "bank-b":
            account["public_key"] = impostor["membership"]["accounts"][0]["public_key"]
    (tmp_path / "tampered.json").write_text(json.dumps(genesis))
    config = (tmp_path / "bank-b" / "nodes" / "bank-b" / "config.json").read_bytes()
    result = run(
        "ceremony", "check", "--genesis", "tampered.json", "--peers", "peers.json",
        "--dir", "bank-b",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.startswith(
        "error: genesis_mismatch: the genesis's accounts of 'bank-b' differ"
    )
    assert (tmp_path / "bank-b" / "nodes" / "bank-b" / "config.json").read_bytes() == config
    assert not (tmp_path / "bank-b" / "nodes" / "bank-b" / "genesis.json").exists()
    # Checking alone (what an organization's reviewer does before anyone installs anything).
    result = run(
        "ceremony", "check", "--genesis", "tampered.json", "--membership", "bank-b/membership.json",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1 and "genesis_mismatch" in result.stderr
    result = run(
        "ceremony", "check", "--genesis", "genesis.json", "--membership", "bank-b/membership.json",
        "--json",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["installed"] is False
    assert not (tmp_path / "bank-b" / "nodes" / "bank-b" / "genesis.json").exists()
    result = run(
        "ceremony", "check", "--genesis", "genesis.json", "--peers", "peers.json",
        "--dir", "bank-b", "--json",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["installed"] is True
