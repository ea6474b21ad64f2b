"""``jinqiao node start`` reads the ``JINQIAO_*`` address variables over its ``config.json``
(docs/operations.md "Addresses"): a real node process binds the port the environment names and
answers to the advertised host; a bad value stops it before it starts, naming the variable."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.helpers.cluster import wait_for
from tests.helpers.process import NodeProcess, configured_node, free_port

pytestmark = pytest.mark.e2e


def test_the_environment_decides_port_and_advertised_host(tmp_path: Path) -> None:
    port = free_port()
    # The configuration says another port; only the variable names this one. ``NodeProcess``
    # would pass ``--api-port``, so the process is started here without it.
    node = NodeProcess(configured_node(tmp_path).home, port=port)
    environment = {
        **os.environ,
        "JINQIAO_API_PORT": str(port),
        "JINQIAO_ADVERTISED_HOST": "bank-a.example",
        "PYTHONUNBUFFERED": "1",
    }
    with node.log_path.open("ab") as log:
        node.process = subprocess.Popen(
            [sys.executable, "-m", "jinqiao", "node", "start", "--home", str(node.home)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environment,
        )
    try:

        def answers() -> bool:
            try:
                return node.http.get(f"{node.url}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(answers, 60, f"the node on port {port}")
        advertised = node.http.get(
            f"{node.url}/v1/status", headers={"Host": f"bank-a.example:{port}"}
        )
        assert advertised.status_code == 200, advertised.text
        other = node.http.get(f"{node.url}/v1/status", headers={"Host": "other.example"})
        assert other.status_code == 400 and other.json()["code"] == "untrusted_host"
        # The container image's health check, run as written against this node's home.
        check = subprocess.run(
            shlex.split(_health_check().replace("/var/lib/jinqiao/node", str(node.home))),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            env=environment,
        )
        assert check.returncode == 0, check.stderr
    finally:
        assert node.stop() == 0, node.log()


def _health_check() -> str:
    """The command of the Containerfile's ``HEALTHCHECK … CMD``, with the image's ``python``."""
    text = (Path(__file__).resolve().parents[2] / "deploy" / "Containerfile").read_text()
    (command,) = re.findall(r"HEALTHCHECK .*?CMD (.*)", text.replace("\\\n", " "))
    assert command.startswith("python ")
    return f"{shlex.quote(sys.executable)} {command.removeprefix('python ')}"


def test_a_bad_variable_stops_the_node_naming_it(tmp_path: Path) -> None:
    home = configured_node(tmp_path).home
    result = subprocess.run(
        [sys.executable, "-m", "jinqiao", "node", "start", "--home", str(home)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "JINQIAO_P2P_PORT": "99999"},
    )
    assert result.returncode == 1
    assert "p2p_port must be 0..65535 (set from the environment: JINQIAO_P2P_PORT)" in (
        result.stderr
    )
