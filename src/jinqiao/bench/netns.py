"""Validators on separate "hosts" of this machine: Linux network namespaces (``ip netns``), and a
wide-area link between them that adds a one-way delay and a packet loss.

``Hosts`` is the namespace builder that ``tests/e2e/test_netns_network.py`` (the documented
ceremony across hosts) and ``jinqiao bench network --netem`` share: namespaces ``<prefix>-0..n``,
each with one end of a veth pair on a bridge in the root namespace, which the caller (the
"operator's laptop", the benchmark's clients) reaches them through.

``wan_link`` adds the wide-area link. This machine's kernel has no ``sch_netem``
(``CONFIG_NET_SCH_NETEM`` is not set: ``tc qdisc add … netem`` answers "Specified qdisc kind is
unknown"), so the link is netem's job done in user space (ADR 0050): each namespace gets a TUN
device with an address on a second subnet, and one process (``python -m jinqiao.bench.netns``)
reads every IPv4 packet a namespace sends there and writes it into the destination namespace's
TUN after the delay, or drops it with the loss probability — per packet, below TCP, as netem
does on a link's egress. The validators talk to each other over that subnet; the clients reach
their APIs over the bridge without delay (a member's client sits next to its own node).

Everything is torn down on exit, on error and on Ctrl-C (``finally``); a run killed with SIGKILL
leaves namespaces that the next run with the same prefix removes first.
"""

from __future__ import annotations

import argparse
import fcntl
import heapq
import ipaddress
import os
import random
import re
import selectors
import shutil
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import msgspec
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from jinqiao.core.errors import InvalidInput
from jinqiao.demo.run import stop_process
from jinqiao.fileio import PUBLIC_FILE_MODE, save_atomically
from jinqiao.node.config import DEFAULT_API_HOSTS, PeerConfig, dump_config, load_config
from jinqiao.provision.network import (
    NetworkLayout,
    make_node_certificate,
    write_node_tls,
)

IP_TIMEOUT_S = 30
TUN_MTU = 65_000
"""A large MTU: fewer, larger packets for the user-space link to carry (TCP segments up to it)."""
MAX_DELAY_MS = 10_000
READY = b"ready\n"
WIRE_START_TIMEOUT_S = 30.0
_TUNSETIFF = 0x400454CA
_IFF_TUN = 0x0001
_IFF_NO_PI = 0x1000


def require_root(what: str) -> None:
    """Raise ``InvalidInput`` saying what needs root unless this process has it and ``ip``."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        raise InvalidInput(
            f"{what} builds network namespaces: it needs root (CAP_NET_ADMIN for `ip netns` "
            "and `ip link`) and the iproute2 `ip` command; run it as root"
        )


def ip(*args: str) -> None:
    """``ip <args>``; a failure raises with ip's own message."""
    result = subprocess.run(
        ["ip", *args], capture_output=True, text=True, timeout=IP_TIMEOUT_S, check=False
    )
    if result.returncode != 0:
        raise InvalidInput(f"ip {' '.join(args)}: {result.stderr.strip()}")


def _ip_quietly(*args: str) -> None:
    subprocess.run(["ip", *args], capture_output=True, check=False, timeout=IP_TIMEOUT_S)


class Hosts:
    """``count`` namespaces ``<prefix>-0..`` on a bridge in the root namespace: subnet
    10.77.<n>.0/24, the bridge .1, host i .11+i; the wide-area subnet (``wan_link``) is
    10.78.<n>.0/24. ``prefix`` and ``n`` come from the process id unless given, so two runs at
    once do not collide."""

    def __init__(self, count: int, *, tag: int | None = None) -> None:
        tag = os.getpid() % 10_000 if tag is None else tag
        self.subnet = 10 + tag % 240
        self.prefix = f"jq{tag}"
        self.bridge = f"jqbr{tag}"
        self.namespaces = [f"{self.prefix}-{index}" for index in range(count)]
        self.addresses = [f"10.77.{self.subnet}.{11 + index}" for index in range(count)]
        self.wan_addresses = [f"10.78.{self.subnet}.{11 + index}" for index in range(count)]
        self.wan_devices = [f"{self.prefix}w{index}" for index in range(count)]

    def create(self) -> None:
        ip("link", "add", self.bridge, "type", "bridge")
        ip("addr", "add", f"10.77.{self.subnet}.1/24", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")
        for index, (namespace, address) in enumerate(
            zip(self.namespaces, self.addresses, strict=True)
        ):
            outside, inside = f"{self.prefix}v{index}", f"{self.prefix}n{index}"
            ip("netns", "add", namespace)
            ip("link", "add", outside, "type", "veth", "peer", "name", inside)
            ip("link", "set", inside, "netns", namespace)
            ip("link", "set", outside, "master", self.bridge)
            ip("link", "set", outside, "up")
            ip("-n", namespace, "addr", "add", f"{address}/24", "dev", inside)
            ip("-n", namespace, "link", "set", inside, "up")
            ip("-n", namespace, "link", "set", "lo", "up")

    def destroy(self) -> None:
        """Remove whatever exists of them (a namespace's veth end and TUN go with it)."""
        for index, namespace in enumerate(self.namespaces):
            _ip_quietly("netns", "del", namespace)
            _ip_quietly("link", "del", f"{self.prefix}v{index}")
        _ip_quietly("link", "del", self.bridge)

    def exec_prefix(self, index: int) -> tuple[str, ...]:
        """The command prefix that runs a program on host ``index``."""
        return ("ip", "netns", "exec", self.namespaces[index])


@contextmanager
def hosts_up(count: int, *, tag: int | None = None) -> Iterator[Hosts]:
    """``count`` hosts, removed on exit whatever happened (leftovers of a killed run first)."""
    hosts = Hosts(count, tag=tag)
    hosts.destroy()
    try:
        hosts.create()
        yield hosts
    finally:
        hosts.destroy()


def place_on_hosts(directory: Path, layout: NetworkLayout, hosts: Hosts) -> NetworkLayout:
    """Move the nodes of a network made by ``init_network`` in ``directory`` onto ``hosts``
    (node i on host i): the API on the host's bridge address (a new TLS certificate from the
    organization's root names it), the peer port on its wide-area address, every peer dialled
    there. The layout with the new API URLs."""
    wan_address = {
        node.name: address for node, address in zip(layout.nodes, hosts.wan_addresses, strict=False)
    }
    nodes = []
    for node, address in zip(layout.nodes, hosts.addresses, strict=True):
        home = directory / node.home
        config = load_config(home)
        config = msgspec.structs.replace(
            config,
            api_host=address,
            api_hosts=(*DEFAULT_API_HOSTS, address),
            p2p_host=wan_address[node.name],
            peers=tuple(
                PeerConfig(peer.name, wan_address[peer.name], peer.port) for peer in config.peers
            ),
        )
        save_atomically(home / "config.json", dump_config(config), mode=PUBLIC_FILE_MODE)
        authority = directory / "orgs" / node.organization
        ca_key = serialization.load_pem_private_key((authority / "tls-ca.key").read_bytes(), None)
        if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
            raise InvalidInput(f"{authority / 'tls-ca.key'} is not an EC private key")
        ca_certificate = x509.load_pem_x509_certificate((authority / "tls-ca.crt").read_bytes())
        key, certificate = make_node_certificate(
            node.name, node.organization, ca_key, ca_certificate, hosts=(address,)
        )
        roots = (home / "tls" / "roots.pem").read_bytes()
        (home / "tls" / "node.key").unlink()  # a throwaway network's key, replaced
        write_node_tls(home, key, certificate, roots)
        nodes.append(msgspec.structs.replace(node, api_url=f"https://{address}:{config.api_port}"))
    return msgspec.structs.replace(layout, nodes=tuple(nodes))


@dataclass(frozen=True)
class Impairment:
    """What the wide-area link does to each packet: a one-way delay and a loss probability."""

    delay_ms: float
    loss_fraction: float

    def describe(self) -> str:
        return f"delay {self.delay_ms:g}ms loss {self.loss_fraction * 100:g}%"


_IMPAIRMENT = re.compile(
    r"\s*delay\s+(?P<delay>\d+(?:\.\d+)?)ms(?:\s+loss\s+(?P<loss>\d+(?:\.\d+)?)%)?\s*"
)


def parse_impairment(text: str) -> Impairment:
    """``delay <D>ms [loss <P>%]``, netem's words: D ≤ ``MAX_DELAY_MS``, P ≤ 100."""
    match = _IMPAIRMENT.fullmatch(text)
    if match is None:
        raise InvalidInput(
            f"--netem {text!r}: expected 'delay <milliseconds>ms', optionally followed by "
            "'loss <percent>%', for example 'delay 30ms loss 0.1%'"
        )
    delay_ms = float(match["delay"])
    loss_percent = float(match["loss"] or 0)
    if delay_ms > MAX_DELAY_MS or loss_percent > 100:
        raise InvalidInput(f"--netem: delay at most {MAX_DELAY_MS} ms, loss at most 100 %")
    return Impairment(delay_ms, loss_percent / 100)


@dataclass
class WanLink:
    process: subprocess.Popen[bytes]
    hosts: Hosts
    impairment: Impairment


@contextmanager
def wan_link(hosts: Hosts, impairment: Impairment) -> Iterator[WanLink]:
    """The wide-area link between ``hosts`` (``hosts.wan_addresses``) with ``impairment``,
    carried by a child process; stopped (its TUN devices vanish with it) on exit."""
    arguments = [
        "--delay-ms",
        str(impairment.delay_ms),
        "--loss",
        str(impairment.loss_fraction),
    ]
    for namespace, device, address in zip(
        hosts.namespaces, hosts.wan_devices, hosts.wan_addresses, strict=True
    ):
        arguments += ["--host", f"{namespace},{device},{address}"]
    process = subprocess.Popen(
        [sys.executable, "-m", "jinqiao.bench.netns", *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        if process.stdout is None or process.stdout.readline() != READY:
            process.wait(timeout=WIRE_START_TIMEOUT_S)
            error = process.stderr.read().decode(errors="replace") if process.stderr else ""
            raise InvalidInput(f"the wide-area link did not start: {error.strip()}")
        yield WanLink(process, hosts, impairment)
    finally:
        stop_process(process)
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()


def _open_tun(device: str) -> int:
    descriptor = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(descriptor, _TUNSETIFF, struct.pack("16sH", device.encode(), _IFF_TUN | _IFF_NO_PI))
    return descriptor


class Wire:
    """The user-space link: IPv4 packets read from one TUN are written into the TUN of their
    destination after ``delay_s``, unless dropped with probability ``loss_fraction``."""

    MAX_READS_PER_WAKEUP = 256

    def __init__(self, by_address: dict[bytes, int], delay_s: float, loss_fraction: float) -> None:
        self.by_address = by_address
        self.delay_s = delay_s
        self.loss_fraction = loss_fraction
        self.random = random.Random(0)  # the loss pattern of a run is reproducible
        self.pending: list[tuple[float, int, int, bytes]] = []
        self.sequence = 0
        self.dropped = 0

    def receive(self, descriptor: int, now: float) -> None:
        for _ in range(self.MAX_READS_PER_WAKEUP):
            try:
                packet = os.read(descriptor, TUN_MTU + 100)
            except BlockingIOError:
                return
            if len(packet) < 20 or packet[0] >> 4 != 4:
                continue  # IPv6 router solicitations and the like: not part of the network
            target = self.by_address.get(packet[16:20])
            if target is None:
                continue
            if self.random.random() < self.loss_fraction:
                self.dropped += 1
                continue
            self.sequence += 1
            heapq.heappush(self.pending, (now + self.delay_s, self.sequence, target, packet))

    def deliver(self, now: float) -> float:
        """Write every packet that is due; the seconds until the next one (or 0.1)."""
        while self.pending and self.pending[0][0] <= now:
            _, _, target, packet = heapq.heappop(self.pending)
            try:
                os.write(target, packet)
            except BlockingIOError:
                self.dropped += 1  # the receiving stack is full: a queue overflow drops
        return min(0.1, self.pending[0][0] - now) if self.pending else 0.1


def _serve(arguments: argparse.Namespace) -> None:
    by_address: dict[bytes, int] = {}
    for host in arguments.host:
        namespace, device, address = host.split(",")
        descriptor = _open_tun(device)
        ip("link", "set", device, "netns", namespace)
        ip("-n", namespace, "addr", "add", f"{address}/24", "dev", device)
        ip("-n", namespace, "link", "set", device, "mtu", str(TUN_MTU), "up")
        by_address[ipaddress.IPv4Address(address).packed] = descriptor
    wire = Wire(by_address, arguments.delay_ms / 1000, arguments.loss)
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda number, _: stopping.append(number))
    selector = selectors.DefaultSelector()
    for descriptor in by_address.values():
        selector.register(descriptor, selectors.EVENT_READ)
    sys.stdout.buffer.write(READY)
    sys.stdout.buffer.flush()
    timeout_s = 0.1
    while not stopping:
        for key, _ in selector.select(max(0.0, timeout_s)):
            wire.receive(int(key.fd), time.monotonic())
        timeout_s = wire.deliver(time.monotonic())


def main() -> None:
    parser = argparse.ArgumentParser(description="The user-space wide-area link (ADR 0050).")
    parser.add_argument("--delay-ms", type=float, required=True)
    parser.add_argument("--loss", type=float, required=True)
    parser.add_argument("--host", action="append", required=True, help="namespace,tun,address")
    try:
        _serve(parser.parse_args())
    except (InvalidInput, OSError) as error:
        sys.stderr.write(f"{error}\n")
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
