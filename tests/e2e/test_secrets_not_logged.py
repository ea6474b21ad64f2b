"""No secret key and no passphrase ever reaches a log or an output: a network made with encrypted
keys, a node at DEBUG level unlocking its validator key from the environment, CLI commands signing
with encrypted account keys — including the refusals of a wrong passphrase — and then every log,
stdout and stderr is searched for every secret key (hex) and for the passphrase."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from jinqiao.keys import load_key, read_key_info
from jinqiao.keys.passphrase import ENV_PASSPHRASE
from tests.helpers.process import NodeProcess, free_port_base

pytestmark = pytest.mark.e2e


def jinqiao(*args: str, passphrase: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, ENV_PASSPHRASE: passphrase}
    return subprocess.run(
        [sys.executable, "-m", "jinqiao", *args],
        capture_output=True,
        text=True,
        env=environment,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )


def test_no_secret_or_passphrase_reaches_a_log_or_an_output(tmp_path: Path) -> None:
    passphrase = "pass-" + secrets.token_urlsafe(24)
    directory = tmp_path / "net"
    base = free_port_base(1)
    outputs: list[str] = []

    def run(*args: str, key_passphrase: str = passphrase) -> subprocess.CompletedProcess[str]:
        result = jinqiao(*args, passphrase=key_passphrase)
        outputs.extend([result.stdout, result.stderr])
        return result

    created = run("init", str(directory), "--base-port", str(base), "--scrypt-log2-n", "14")
    assert created.returncode == 0, created.stderr
    key_files = [*directory.glob("accounts/*.json"), *directory.glob("nodes/*/validator_key.json")]
    assert key_files and all(read_key_info(path).kind == "encrypted" for path in key_files)
    home = directory / "nodes" / "clearing"
    config = json.loads((home / "config.json").read_text())
    config["log_level"] = "DEBUG"
    (home / "config.json").write_text(json.dumps(config))

    refused = run("node", "start", "--home", str(home), key_passphrase="not-the-passphrase")
    assert refused.returncode == 1
    assert "wrong passphrase, or the file was altered" in refused.stderr
    assert "Traceback" not in refused.stderr

    node = NodeProcess(home, port=base, environment={ENV_PASSPHRASE: passphrase}).start()
    try:
        network = ("--network", str(directory))
        minted = run(
            "tx", "token", "mint", "bank-a-treasury", "5000", "-k", "clearing-treasury", *network
        )
        assert minted.returncode == 0, minted.stderr
        sent = run(
            "tx", "token", "transfer", "bank-b-treasury", "1200", "-k", "bank-a-treasury", *network
        )
        assert sent.returncode == 0, sent.stderr
        wrong = run(
            "tx",
            "token",
            "transfer",
            "bank-b-treasury",
            "1",
            "-k",
            "bank-a-treasury",
            *network,
            key_passphrase="a wrong passphrase",
        )
        assert wrong.returncode == 1 and "wrong passphrase" in wrong.stderr
        for path in key_files:
            assert run("keys", "export-public", str(path)).returncode == 0
    finally:
        assert node.stop() == 0, node.log()

    # Every file the node wrote is searched: its log and its audit segments alike.
    written = [p for p in directory.rglob("*") if p.is_file() and p not in key_files]
    logs = [path.read_text(errors="replace") for path in written if path.suffix == ".log"]
    assert any("DEBUG jinqiao.keys: opened key" in log for log in logs)
    searched = "\n".join([*outputs, *logs])
    assert passphrase not in searched
    for path in key_files:
        secret = load_key(path, passphrase.encode()).secret_key().hex()
        assert secret not in searched, f"the secret of {path} was printed or logged"
        assert secret not in path.read_text()


def test_a_node_unlocks_its_key_from_a_passphrase_file_over_the_environment(
    tmp_path: Path,
) -> None:
    passphrase = "pass-" + secrets.token_urlsafe(16)
    directory = tmp_path / "net"
    base = free_port_base(1)
    created = jinqiao(
        "init",
        str(directory),
        "--base-port",
        str(base),
        "--scrypt-log2-n",
        "14",
        passphrase=passphrase,
    )
    assert created.returncode == 0, created.stderr
    passphrase_file = tmp_path / "passphrase"
    passphrase_file.write_text(passphrase + "\n")
    passphrase_file.chmod(0o600)
    node = NodeProcess(
        directory / "nodes" / "clearing",
        port=base,
        environment={ENV_PASSPHRASE: "a wrong passphrase in the environment"},
        arguments=("--passphrase-file", str(passphrase_file)),
    ).start()
    assert node.stop() == 0, node.log()
    assert passphrase not in node.log()
