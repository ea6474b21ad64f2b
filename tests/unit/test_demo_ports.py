"""The demo's port check (issue 15, item 8): a port something listens on is refused with a clear
message; a port whose only sockets are connections of an earlier run in TIME_WAIT is free, as it
is for the node's own servers (``SO_REUSEADDR``)."""

from __future__ import annotations

import socket

import pytest

from jinqiao.demo import DemoFailed
from jinqiao.demo.run import _check_port_free
from tests.helpers.process import free_port


def _listener(port: int) -> socket.socket:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen()
    return server


def test_a_listening_port_is_refused_naming_the_option() -> None:
    port = free_port()
    with _listener(port), pytest.raises(DemoFailed, match="choose --base-port"):
        _check_port_free(port)


def test_a_port_left_in_time_wait_is_free() -> None:
    port = free_port()
    server = _listener(port)
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    accepted.close()  # the server side closes first: its end of the connection is in TIME_WAIT
    client.close()
    server.close()
    plain = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with plain, pytest.raises(OSError):  # without SO_REUSEADDR the port would look taken
        plain.bind(("127.0.0.1", port))
    _check_port_free(port)
