"""The API's connection limits on a real node process (issue 7, defect 3): connections over the
per-address cap are refused with 503 ``too_many_connections``; idle connections, connections
that never finish their headers and bodies that never finish are closed after their timeouts;
``/healthz`` answers while one address holds its whole cap. Small limits keep this to seconds."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from tests.helpers.process import NodeProcess, configured_node

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 1_000
PER_ADDRESS = 8
ATTACKER = "127.0.0.2"
"""Another loopback address (all of 127/8 is loopback on Linux): the attacker's connections
count against its own cap, not against the probes' from 127.0.0.1."""
GRACE_S = 2.0
"""How long after a timeout a closed connection may take to be seen closed."""


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    limits = {
        "header_timeout_ms": TIMEOUT_MS,
        "idle_timeout_ms": TIMEOUT_MS,
        "body_timeout_ms": TIMEOUT_MS,
        "max_connections": 1_000,
        "max_connections_per_address": PER_ADDRESS,
    }
    process = configured_node(tmp_path_factory.mktemp("network"), api_limits=limits).start()
    try:
        yield process
    finally:
        assert process.stop() == 0, process.log()


def connect(node: NodeProcess, source: str = "127.0.0.1") -> socket.socket:
    return node.connect(source)


def read_until_closed(connection: socket.socket, within_s: float) -> tuple[bytes, bool]:
    """Everything the server sends within ``within_s``, and whether it closed the connection."""
    received = b""
    deadline = time.monotonic() + within_s
    while (remaining := deadline - time.monotonic()) > 0:
        connection.settimeout(remaining)
        try:
            chunk = connection.recv(65536)
        except TimeoutError:
            return received, False
        except (ConnectionResetError, ssl.SSLError):
            return received, True
        if not chunk:
            return received, True
        received += chunk
    return received, False


def request_bytes(node: NodeProcess, path: str = "/healthz") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{node.port}\r\n\r\n".encode()


def test_connections_over_the_per_address_cap_are_refused(node: NodeProcess) -> None:
    with ExitStack() as stack:
        held = [stack.enter_context(connect(node, ATTACKER)) for _ in range(PER_ADDRESS)]
        one_more = stack.enter_context(connect(node, ATTACKER))
        answer, closed = read_until_closed(one_more, GRACE_S)
        assert closed and answer.startswith(b"HTTP/1.1 503"), answer
        assert b'"code": "too_many_connections"' in answer
        # The connections within the cap still work.
        held[0].sendall(request_bytes(node))
        assert held[0].recv(65536).startswith(b"HTTP/1.1 200")


def test_healthz_answers_while_one_address_floods(node: NodeProcess) -> None:
    with ExitStack() as stack:
        for _ in range(2_100):  # over the 2,000 concurrent connections uvicorn was limited to
            stack.enter_context(connect(node, ATTACKER))
        for path in ("/healthz", "/v1/status"):
            answer = node.http.get(f"{node.url}{path}", timeout=5)
            assert answer.status_code == 200, answer.text


def test_an_idle_connection_is_closed_after_the_idle_timeout(node: NodeProcess) -> None:
    with connect(node) as connection:
        connection.sendall(request_bytes(node))
        connection.settimeout(5)
        assert connection.recv(65536).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        _, closed = read_until_closed(connection, TIMEOUT_MS / 1000 + GRACE_S)
        assert closed
        assert time.monotonic() - started >= TIMEOUT_MS / 1000 - 0.2


def test_a_connection_that_never_completes_its_headers_is_closed(node: NodeProcess) -> None:
    with connect(node) as slow, connect(node) as silent:
        started = time.monotonic()
        slow.sendall(b"GET /healthz HTTP/1.1\r\n")
        closed = False
        for index in range(4 * (TIMEOUT_MS // 1000 + 3)):  # one header byte every 0.25 s
            try:
                slow.sendall(b"X-Slow-%d: 1\r\n" % index)
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                closed = True
                break
            _, closed = read_until_closed(slow, 0.25)
            if closed:
                break
        assert closed
        assert time.monotonic() - started < TIMEOUT_MS / 1000 + GRACE_S
        _, silent_closed = read_until_closed(silent, GRACE_S)
        assert silent_closed


def test_a_body_that_never_completes_is_closed(node: NodeProcess) -> None:
    with connect(node) as connection:
        connection.sendall(
            f"POST /v1/transactions HTTP/1.1\r\nHost: 127.0.0.1:{node.port}\r\n"
            "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{".encode()
        )
        _, closed = read_until_closed(connection, TIMEOUT_MS / 1000 + GRACE_S)
        assert closed
