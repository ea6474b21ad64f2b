"""The ``network`` fixture of the end-to-end tests: four validator processes on loopback."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from jinqiao.provision.network import NetworkLayout
from tests.helpers.process import NodeProcess, make_network


@pytest.fixture
def network(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[Path, NetworkLayout, list[NodeProcess]]]:
    """Four validators of the default suite, or of the suite a test names with
    ``@pytest.mark.parametrize("network", ["sm2-sm3"], indirect=True)``."""
    crypto_suite = getattr(request, "param", "ed25519-sha256")
    layout = make_network(tmp_path, validators=4, crypto_suite=crypto_suite)
    nodes = [
        NodeProcess(tmp_path / node.home, port=int(node.api_url.rsplit(":", 1)[1]))
        for node in layout.nodes
    ]
    for node in nodes:
        node.start()
    try:
        yield tmp_path, layout, nodes
    finally:
        for node in nodes:
            if node.process is not None and node.process.poll() is None:
                with_signal = node.process
                with_signal.send_signal(signal.SIGCONT)
                node.stop()
