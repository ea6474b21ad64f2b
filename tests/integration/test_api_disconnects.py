"""Clients that go away are normal, not node errors (issue 7, defect 4): mid-body disconnects log
no error and no traceback, a long-poll ends as soon as its client goes, and a node stopped with
long-polls pending logs no error."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

import pytest

from tests.helpers.process import NodeProcess, configured_node, metric

pytestmark = pytest.mark.e2e

DISCONNECTS = 200
LONG_POLL_MS = 30_000


@pytest.fixture
def node(tmp_path: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    # No empty blocks: a long-poll for the next block waits for as long as it is let.
    quiet = {"block_interval_ms": 50, "empty_block_interval_ms": 3_600_000}
    process = configured_node(tmp_path, **quiet).start()  # type: ignore[arg-type]
    try:
        yield process
    finally:
        process.stop()


def errors_in(log: str) -> list[str]:
    return [line for line in log.splitlines() if " ERROR " in line or "Traceback" in line]


def wait_for_metric(node: NodeProcess, name: str, value: float, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if metric(node, name) == value:
            return True
        time.sleep(0.05)
    return False


def long_poll_request(node: NodeProcess, kind: str) -> bytes:
    if kind == "transaction":
        path = f"/v1/transactions/{os.urandom(32).hex()}"
    else:
        path = f"/v1/blocks/{node.http.get(f'{node.url}/healthz').json()['height'] + 1}"
    return (
        f"GET {path}?wait_ms={LONG_POLL_MS} HTTP/1.1\r\nHost: 127.0.0.1:{node.port}\r\n\r\n"
    ).encode()


def test_mid_body_disconnects_log_no_error(node: NodeProcess) -> None:
    head = (
        f"POST /v1/transactions HTTP/1.1\r\nHost: 127.0.0.1:{node.port}\r\n"
        "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
    ).encode()
    for _ in range(DISCONNECTS):
        # From an address of its own: until the node has seen them close, these connections
        # count against their address's cap, and the health probe below must not wait for that.
        with node.connect("127.0.0.3") as connection:
            connection.sendall(head + b'{"transaction": "' + b"00" * 500)
    assert node.http.get(f"{node.url}/healthz", timeout=5).status_code == 200
    time.sleep(0.5)  # let the node finish with the last disconnects before reading its log
    assert errors_in(node.log_path.read_text()) == []


@pytest.mark.parametrize("kind", ["transaction", "block"])
def test_a_long_poll_ends_when_its_client_goes(node: NodeProcess, kind: str) -> None:
    with node.connect() as connection:
        connection.sendall(long_poll_request(node, kind))
        assert wait_for_metric(node, "jinqiao_api_long_polls_waiting", 1.0, within_s=5)
    # Far sooner than the 30 s the client asked to wait.
    assert wait_for_metric(node, "jinqiao_api_long_polls_waiting", 0.0, within_s=2)
    assert metric(node, "jinqiao_api_long_polls_abandoned_total") == 1.0


def test_stopping_with_pending_long_polls_logs_no_error(node: NodeProcess) -> None:
    answers: list[int] = []

    def long_poll() -> None:
        unknown = os.urandom(32).hex()
        url = f"{node.url}/v1/transactions/{unknown}?wait_ms={LONG_POLL_MS}"
        # A client of its own: stopping the node closes ``node.http``.
        with node.credentials.http_client(timeout=LONG_POLL_MS / 1000 + 10) as http:
            answers.append(http.get(url).status_code)

    pollers = [threading.Thread(target=long_poll) for _ in range(3)]
    for poller in pollers:
        poller.start()
    time.sleep(1.0)  # the long-polls are waiting
    started = time.monotonic()
    assert node.stop() == 0
    stopped_s = time.monotonic() - started
    for poller in pollers:
        poller.join(timeout=LONG_POLL_MS / 1000)
    assert errors_in(node.log_path.read_text()) == []
    assert answers == [404, 404, 404]  # answered "not found", not cut off
    assert stopped_s < 5
