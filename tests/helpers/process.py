"""Real node processes for integration and end-to-end tests.

``NodeProcess`` starts ``python -m jinqiao node start`` on a free loopback port, waits until it
answers ``/healthz`` and stops it with SIGTERM (or SIGKILL when a test asks for a crash). Its log is
kept next to the node's home so a failing test can show it.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx

from jinqiao.client import Credentials
from jinqiao.keys import InsecurePlaintext
from jinqiao.provision.network import NetworkLayout, init_network
from jinqiao.provision.presets import demo_spec

START_TIMEOUT_S = 60.0
TEST_IDENTITY = "regulator-admin"
"""Whom the tests' requests authenticate as (docs/access.md): the regulator reads everything, so
tests of other features are not tests of the access rules (``test_access_rules`` is)."""


# Ports are taken from below the kernel's ephemeral range (32768-60999 on Linux): a port the
# kernel handed out with bind(0) can be given again to any outgoing connection before the node
# binds it, and a network needs a block of ports (API base..base+n, p2p base+100..base+100+n).
_PORT_LOW = 20_000
_PORT_HIGH = 32_000
_P2P_OFFSET = 100  # demo_spec puts each node's p2p port 100 above its API port


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_base(count: int = 1) -> int:
    """A base port with base..base+count-1 and base+100..base+100+count-1 all free."""
    generator = random.Random(os.getpid() ^ time.monotonic_ns())
    for _ in range(1_000):
        base = generator.randrange(_PORT_LOW, _PORT_HIGH - _P2P_OFFSET - count)
        wanted = [base + i for i in range(count)] + [base + _P2P_OFFSET + i for i in range(count)]
        if all(_bindable(port) for port in wanted):
            return base
    raise RuntimeError(f"no block of {count} free ports between {_PORT_LOW} and {_PORT_HIGH}")


def free_port() -> int:
    return free_port_base(1)


def make_network(
    directory: Path, *, validators: int = 1, crypto_suite: str = "ed25519-sha256"
) -> NetworkLayout:
    base = free_port_base(validators)
    # Test networks are thrown away: plaintext keys, asked for explicitly (docs/keys.md).
    return init_network(
        directory,
        demo_spec(validators=validators, base_api_port=base, crypto_suite=crypto_suite),
        protection=InsecurePlaintext(),
    )


class NodeProcess:
    def __init__(
        self,
        home: Path,
        *,
        port: int | None = None,
        environment: dict[str, str] | None = None,
        arguments: tuple[str, ...] = (),
    ) -> None:
        self.home = home
        self.environment = environment or {}
        """Variables added to the node's environment (a passphrase, say)."""
        self.arguments = arguments
        """Options added to ``jinqiao node start`` (``--passphrase-file F``, say)."""
        self.port = port or free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.credentials = test_credentials(home.parent.parent)
        self._http: httpx.Client | None = None
        self.log_path = home / "node.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> NodeProcess:
        environment = {**os.environ, **self.environment, "PYTHONUNBUFFERED": "1"}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "jinqiao",
                    "node",
                    "start",
                    "--home",
                    str(self.home),
                    "--api-port",
                    str(self.port),
                    *self.arguments,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=environment,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        # A probe of its own: a replacement process started for a restart leaves nothing open.
        with self.credentials.http_client(timeout=1.0) as probe:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"node exited with {self.process.returncode}:\n{self.log()}")
                try:
                    if probe.get(f"{self.url}/healthz").status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"node did not start in {START_TIMEOUT_S} s:\n{self.log()}")
                time.sleep(0.1)

    @property
    def http(self) -> httpx.Client:
        """Requests to this node (absolute URLs), authenticated as ``TEST_IDENTITY``; closed
        when the node stops."""
        if self._http is None:
            self._http = self.credentials.http_client(timeout=10.0)
        return self._http

    def connect(self, source: str = "127.0.0.1") -> ssl.SSLSocket:
        """A TLS connection to the API from ``source`` (a loopback address), authenticated as
        ``TEST_IDENTITY``, for tests that write HTTP bytes themselves."""
        connection = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        connection.bind((source, 0))
        connection.connect(("127.0.0.1", self.port))
        return self.credentials.ssl_context().wrap_socket(connection, server_hostname="127.0.0.1")

    def close_http(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-5000:]
        except OSError:
            return "(no log)"

    def kill(self) -> None:
        """SIGKILL: the crash a power cut would be."""
        self.close_http()
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self, stop_signal: signal.Signals = signal.SIGTERM) -> int:
        """SIGTERM (or ``stop_signal``) and wait for a graceful exit; returns the exit code."""
        self.close_http()
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(stop_signal)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise RuntimeError(f"node ignored {stop_signal.name}:\n{self.log()}") from None
        return int(self.process.returncode)


def test_credentials(network: Path, account: str = TEST_IDENTITY) -> Credentials:
    """The client credentials ``jinqiao init`` wrote for ``account`` in ``network``."""
    return Credentials.for_account(network, account)


def configured_node(directory: Path, **config_fields: object) -> NodeProcess:
    """A one-validator network in ``directory`` whose node's ``config.json`` has
    ``config_fields`` (not started)."""
    layout = make_network(directory)
    home = directory / layout.nodes[0].home
    config = json.loads((home / "config.json").read_text())
    config.update(config_fields)
    (home / "config.json").write_text(json.dumps(config))
    return NodeProcess(home)


def nodes_pulling_from_each_other(directory: Path, layout: NetworkLayout) -> dict[str, NodeProcess]:
    """One (unstarted) node process per organization of ``layout``, each configured with the other
    nodes as its ``private_data_sources`` (docs/access.md "Private data")."""
    urls = {entry.organization: entry.api_url for entry in layout.nodes}
    nodes: dict[str, NodeProcess] = {}
    for entry in layout.nodes:
        home = directory / entry.home
        config = json.loads((home / "config.json").read_text())
        config["private_data_sources"] = [
            url for organization, url in sorted(urls.items()) if organization != entry.organization
        ]
        (home / "config.json").write_text(json.dumps(config))
        nodes[entry.organization] = NodeProcess(home, port=int(entry.api_url.rsplit(":", 1)[1]))
    return nodes


def metric(node: NodeProcess, name: str) -> float | None:
    """The value of the sample ``name`` (no labels) in the node's ``/metrics``, or None."""
    text = node.http.get(f"{node.url}/metrics", timeout=5).text
    found = re.search(rf"^{name} ([0-9.e+]+)$", text, re.MULTILINE)
    return None if found is None else float(found.group(1))
