"""The pieces of ``bench network --netem`` that need no root: the impairment's words, the refusal
without root, and the user-space link (``Wire``) carrying datagrams between real sockets that
stand in for the namespaces' TUN devices (each datagram one packet, as a TUN read is)."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator

import pytest

from jinqiao.bench.netns import Impairment, Wire, parse_impairment, require_root
from jinqiao.cli.main import app
from jinqiao.core.errors import InvalidInput
from tests.helpers.cli import runner

HOST_A = ipaddress.IPv4Address("10.78.1.11").packed
HOST_B = ipaddress.IPv4Address("10.78.1.12").packed


def test_impairment_in_netem_words() -> None:
    assert parse_impairment("delay 30ms loss 0.1%") == Impairment(30.0, 0.001)
    assert parse_impairment(" delay 0ms ") == Impairment(0.0, 0.0)
    assert parse_impairment("delay 30ms loss 0.1%").describe() == "delay 30ms loss 0.1%"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("30ms", "expected 'delay <milliseconds>ms"),
        ("delay 30 loss 0.1%", "expected 'delay <milliseconds>ms"),
        ("delay 30ms loss 0.1", "expected 'delay <milliseconds>ms"),
        ("delay -5ms", "expected 'delay <milliseconds>ms"),
        ("delay 30ms jitter 5ms", "expected 'delay <milliseconds>ms"),
        ("delay 20000ms", "delay at most 10000 ms"),
        ("delay 30ms loss 101%", "loss at most 100 %"),
    ],
)
def test_impairment_refused_with_what_is_expected(text: str, says: str) -> None:
    with pytest.raises(InvalidInput, match=says):
        parse_impairment(text)


def test_without_root_it_says_what_it_needs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(InvalidInput, match=r"needs root \(CAP_NET_ADMIN"):
        require_root("bench network --netem")
    result = runner.invoke(app, ["bench", "network", "--wan", "--duration", "5"])
    assert result.exit_code == 1
    assert "bench network --netem builds network namespaces: it needs root" in result.stderr


def test_a_bad_netem_option_is_one_line_and_no_run() -> None:
    result = runner.invoke(app, ["bench", "network", "--netem", "delay thirty"])
    assert result.exit_code == 1
    assert "expected 'delay <milliseconds>ms', optionally followed by 'loss" in result.stderr
    assert "Traceback" not in result.stderr
    both = runner.invoke(app, ["bench", "network", "--wan", "--netem", "delay 1ms"])
    assert both.exit_code == 1 and "the other of the two" in both.stderr


def _packet(destination: bytes, payload: bytes = b"x") -> bytes:
    """A minimal IPv4 header (version 4, destination at bytes 16..20) and a payload."""
    return bytes([0x45]) + bytes(11) + HOST_A + destination + payload


@pytest.fixture
def hosts() -> Iterator[tuple[socket.socket, socket.socket, socket.socket, socket.socket]]:
    """(host A's end, the wire's end for A, host B's end, the wire's end for B)."""
    a_host, a_wire = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    b_host, b_wire = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    for end in (a_host, a_wire, b_host, b_wire):
        end.setblocking(False)
    yield a_host, a_wire, b_host, b_wire
    for end in (a_host, a_wire, b_host, b_wire):
        end.close()


def test_a_packet_arrives_at_its_destination_after_the_delay(
    hosts: tuple[socket.socket, socket.socket, socket.socket, socket.socket],
) -> None:
    a_host, a_wire, b_host, b_wire = hosts
    wire = Wire({HOST_A: a_wire.fileno(), HOST_B: b_wire.fileno()}, 0.030, 0.0)
    a_host.send(_packet(HOST_B, b"first"))
    a_host.send(_packet(HOST_B, b"second"))
    wire.receive(a_wire.fileno(), now=100.0)
    assert wire.deliver(now=100.029) == pytest.approx(0.001)
    with pytest.raises(BlockingIOError):
        b_host.recv(100)  # not yet: 29 ms of 30
    wire.deliver(now=100.030)
    assert b_host.recv(100).endswith(b"first")
    assert b_host.recv(100).endswith(b"second")  # in the order sent
    with pytest.raises(BlockingIOError):
        a_host.recv(100)  # nothing went back to the sender


def test_loss_drops_and_foreign_packets_are_ignored(
    hosts: tuple[socket.socket, socket.socket, socket.socket, socket.socket],
) -> None:
    a_host, a_wire, _, b_wire = hosts
    wire = Wire({HOST_A: a_wire.fileno(), HOST_B: b_wire.fileno()}, 0.0, 1.0)
    a_host.send(_packet(HOST_B))
    wire.receive(a_wire.fileno(), now=0.0)
    assert wire.dropped == 1 and not wire.pending
    lossless = Wire({HOST_A: a_wire.fileno(), HOST_B: b_wire.fileno()}, 0.0, 0.0)
    a_host.send(bytes([0x60]) + bytes(39))  # IPv6
    a_host.send(_packet(ipaddress.IPv4Address("10.78.1.99").packed))  # no such host
    a_host.send(b"\x45short")
    lossless.receive(a_wire.fileno(), now=0.0)
    assert not lossless.pending and lossless.dropped == 0


def test_a_loss_fraction_drops_about_that_fraction(
    hosts: tuple[socket.socket, socket.socket, socket.socket, socket.socket],
) -> None:
    a_host, a_wire, _, b_wire = hosts
    wire = Wire({HOST_A: a_wire.fileno(), HOST_B: b_wire.fileno()}, 1.0, 0.1)
    for _ in range(20):
        for _ in range(100):
            a_host.send(_packet(HOST_B))
        wire.receive(a_wire.fileno(), now=0.0)
    assert 120 <= wire.dropped <= 280  # 10 % of 2,000, seeded: the same every run
    assert wire.dropped + len(wire.pending) == 2_000
