"""The node-to-node transport on loopback: real TLS 1.3 with the certificates `jinqiao init`
writes; strangers refused at the handshake; oversize frames and slow peers disconnected;
reconnection after a peer restarts."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ssl
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from jinqiao.core.codec import encode
from jinqiao.core.genesis import genesis_hash, load_genesis
from jinqiao.node.p2p import (
    MAX_FRAME_BYTES,
    Hello,
    P2PConfig,
    P2PNetwork,
    PeerAddress,
    certificate_fingerprint,
    organization_roots,
)
from jinqiao.provision.network import NetworkLayout, make_node_certificate, make_organization_ca
from tests.helpers.process import free_port_base, make_network


def configs(directory: Path, layout: NetworkLayout) -> list[P2PConfig]:
    genesis = load_genesis((directory / "genesis.json").read_bytes())
    nodes = {validator.name: validator.organization for validator in genesis.validators}
    base = free_port_base(len(layout.nodes))
    ports = {node.name: base + index for index, node in enumerate(layout.nodes)}
    peers = tuple(PeerAddress(name, "127.0.0.1", port) for name, port in ports.items())
    result = []
    for node in layout.nodes:
        home = directory / node.home
        result.append(
            P2PConfig(
                node=node.name,
                host="127.0.0.1",
                port=ports[node.name],
                certificate_file=home / "tls" / "node.crt",
                key_file=home / "tls" / "node.key",
                roots_file=home / "tls" / "roots.pem",
                chain_id=genesis.chain_id,
                genesis_hash=genesis_hash(genesis),
                nodes=nodes,
                peers=peers,
                organization_roots=organization_roots(genesis),
            )
        )
    return result


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.arrived = asyncio.Event()

    async def __call__(self, peer: str, payload: bytes) -> None:
        self.messages.append((peer, payload))
        self.arrived.set()


async def eventually(condition: Callable[[], bool], timeout_s: float = 15.0) -> None:
    async def wait() -> None:
        while not condition():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(wait(), timeout_s)


def run(coroutine: Awaitable[None]) -> None:
    asyncio.run(asyncio.wait_for(coroutine, 60))  # type: ignore[arg-type]


@pytest.fixture
def three(tmp_path: Path) -> list[P2PConfig]:
    layout = make_network(tmp_path, validators=3)
    return configs(tmp_path, layout)


def test_mutual_tls_mesh_delivers_broadcasts(three: list[P2PConfig]) -> None:
    async def scenario() -> None:
        inboxes = [Inbox() for _ in three]
        networks = [P2PNetwork(config, inbox) for config, inbox in zip(three, inboxes, strict=True)]
        for network in networks:
            await network.start()
        try:
            await eventually(lambda: all(len(n.connected()) == 2 for n in networks))
            assert networks[0].broadcast(b"proposal") == 2
            await eventually(lambda: all(len(inbox.messages) == 1 for inbox in inboxes[1:]))
            assert inboxes[1].messages == [(three[0].node, b"proposal")]
            assert networks[2].send(three[1].node, b"vote")
            await eventually(lambda: (three[2].node, b"vote") in inboxes[1].messages)
        finally:
            for network in networks:
                await network.stop()

    run(scenario())


def test_a_stranger_is_refused_at_the_handshake(three: list[P2PConfig], tmp_path: Path) -> None:
    other_dir = tmp_path / "other"
    other_layout = make_network(other_dir, validators=1)
    stranger = configs(other_dir, other_layout)[0]

    async def scenario() -> None:
        inbox = Inbox()
        network = P2PNetwork(three[0], inbox)
        await network.start()
        try:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.minimum_version = ssl.TLSVersion.TLSv1_3
            context.load_cert_chain(stranger.certificate_file, stranger.key_file)
            context.load_verify_locations(three[0].roots_file)
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", three[0].port, ssl=context, server_hostname=three[0].node
            )
            # TLS 1.3 reports the client-certificate verdict after the handshake: the server
            # closes the connection instead of answering.
            with pytest.raises((ConnectionError, asyncio.IncompleteReadError, ssl.SSLError)):
                await asyncio.wait_for(reader.readexactly(4), 10)
            writer.close()
            assert network.connected() == []
            assert inbox.messages == []
        finally:
            await network.stop()

    run(scenario())


def test_oversize_frame_disconnects_and_the_dialer_reconnects(three: list[P2PConfig]) -> None:
    async def scenario() -> None:
        inboxes = [Inbox(), Inbox()]
        pair = three[:2]
        networks = [P2PNetwork(config, inbox) for config, inbox in zip(pair, inboxes, strict=True)]
        for network in networks:
            await network.start()
        try:
            await eventually(lambda: all(len(n.connected()) == 1 for n in networks))
            state = networks[1].peers[pair[0].node]
            assert state.writer is not None
            # Write a frame header announcing more than the limit, bypassing send()'s check.
            state.writer.write((MAX_FRAME_BYTES + 1).to_bytes(4, "big"))
            # The receiver hung up on the oversize frame; the dialer came back on its own.
            await eventually(lambda: networks[0].peers[pair[1].node].connects >= 2)
            await eventually(lambda: all(len(n.connected()) == 1 for n in networks))
        finally:
            for network in networks:
                await network.stop()

    run(scenario())


def test_peer_restart_is_followed_by_reconnection(three: list[P2PConfig]) -> None:
    async def scenario() -> None:
        first = P2PNetwork(three[0], Inbox())
        second = P2PNetwork(three[1], Inbox())
        await first.start()
        await second.start()
        await eventually(lambda: first.connected() == [three[1].node])
        await second.stop()
        await eventually(lambda: first.connected() == [])
        inbox = Inbox()
        second = P2PNetwork(three[1], inbox)
        await second.start()
        try:
            await eventually(lambda: first.connected() == [three[1].node])
            assert first.send(three[1].node, b"again")
            await eventually(lambda: inbox.messages == [(three[0].node, b"again")])
        finally:
            await first.stop()
            await second.stop()

    run(scenario())


def test_when_both_ends_dial_one_connection_remains(three: list[P2PConfig]) -> None:
    """A joining node dials everyone (``dial_all``); when the other end dials too and two
    connections meet, both keep the one dialled by the name that sorts first: the pair settles on
    one connection that both ends agree on, without flapping."""
    pair = [dataclasses.replace(config, dial_all=True) for config in three[:2]]

    async def scenario() -> None:
        inboxes = [Inbox(), Inbox()]
        networks = [P2PNetwork(config, inbox) for config, inbox in zip(pair, inboxes, strict=True)]
        for network in networks:
            await network.start()
        try:
            await eventually(lambda: all(len(n.connected()) == 1 for n in networks))
            await asyncio.sleep(2.5)  # dialers that lost the tie-break have retried by now
            first, second = (networks[0].peers[pair[1].node], networks[1].peers[pair[0].node])
            assert first.connected_since is not None and second.connected_since is not None
            assert first.dialled != second.dialled  # the same connection at both ends
            connects = (first.connects, second.connects)
            await asyncio.sleep(2.5)
            assert (first.connects, second.connects) == connects  # settled, no flapping
            assert networks[1].send(pair[0].node, b"vote")
            await eventually(lambda: (pair[1].node, b"vote") in inboxes[0].messages)
        finally:
            for network in networks:
                await network.stop()

    run(scenario())


def test_a_node_leaving_the_validator_set_is_dropped_and_refused(
    three: list[P2PConfig],
) -> None:
    pair = three[:2]

    async def scenario() -> None:
        networks = [P2PNetwork(config, Inbox()) for config in pair]
        for network in networks:
            await network.start()
        try:
            await eventually(lambda: all(len(n.connected()) == 1 for n in networks))
            remaining = {k: v for k, v in pair[1].nodes.items() if k != pair[0].node}
            networks[1].set_nodes(remaining)
            await eventually(lambda: networks[1].connected() == [])
            await asyncio.sleep(1.0)  # the dialer retries and is refused at the handshake
            assert networks[1].connected() == []
            networks[1].set_nodes(pair[1].nodes)  # back in the set: it may connect again
            await eventually(lambda: all(len(n.connected()) == 1 for n in networks))
        finally:
            for network in networks:
                await network.stop()

    run(scenario())


def test_a_revoked_certificate_is_refused_at_the_handshake(three: list[P2PConfig]) -> None:
    """An operator lists a peer's certificate fingerprint in ``revoked_certificates``: that peer
    is refused although its certificate chains to a consortium root and names a node."""
    revoked = bytes.fromhex(certificate_fingerprint(three[1].certificate_file))
    pair = [dataclasses.replace(three[0], revoked_fingerprints=frozenset({revoked})), three[1]]

    async def scenario() -> None:
        networks = [P2PNetwork(config, Inbox()) for config in pair]
        for network in networks:
            await network.start()
        try:
            await asyncio.sleep(2.0)  # the dialer has tried several times
            assert networks[0].connected() == [] and networks[1].connected() == []
            assert networks[0].peers[pair[1].node].connects == 0
        finally:
            for network in networks:
                await network.stop()

    run(scenario())


# -- who a peer is: the organization root that issued its certificate, and its name ------------


def issue(
    directory: Path,
    out: Path,
    node: str,
    organization: str,
    *,
    issuer: str | None = None,
    foreign: bool = False,
    **options: Any,
) -> tuple[Path, Path]:
    """A certificate (file, key file) naming ``node`` of ``organization``, issued by the root of
    ``issuer`` (default: ``organization``) in the network ``directory``, or by a new root outside
    the consortium (``foreign``)."""
    if foreign:
        ca_key, ca_certificate = make_organization_ca(organization)
    else:
        ca_dir = directory / "orgs" / (issuer or organization)
        loaded = serialization.load_pem_private_key((ca_dir / "tls-ca.key").read_bytes(), None)
        assert isinstance(loaded, ec.EllipticCurvePrivateKey)
        ca_key = loaded
        ca_certificate = x509.load_pem_x509_certificate((ca_dir / "tls-ca.crt").read_bytes())
    key, certificate = make_node_certificate(node, organization, ca_key, ca_certificate, **options)
    out.mkdir(parents=True, exist_ok=True)
    certificate_file, key_file = out / "node.crt", out / "node.key"
    certificate_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certificate_file, key_file


def tls_context(purpose: int, identity: tuple[Path, Path], roots_file: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(purpose)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_cert_chain(*identity)
    context.load_verify_locations(roots_file)
    return context


def hello_frame(target: P2PConfig, node: str) -> bytes:
    encoded = encode(Hello(target.chain_id, target.genesis_hash, node))
    return len(encoded).to_bytes(4, "big") + encoded


async def answered_hello(reader: asyncio.StreamReader) -> bool:
    """Whether the other end answered with a hello (it accepted the certificate)."""
    try:
        length = int.from_bytes(await asyncio.wait_for(reader.readexactly(4), 10), "big")
        await reader.readexactly(length)
    except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
        return False
    return True


# The node "ecfin" (organization "ecfin") connects to "clearing"; each case says who issued the
# certificate it presents and whether "clearing" takes it as its peer "ecfin".
IDENTITY_CASES = {
    "issued by its own organization's root": (dict(), True),
    "issued by another member's root": (dict(issuer="bank-a"), False),
    "issued by a root outside the consortium": (dict(foreign=True), False),
    "expired": (dict(valid_days=-1), False),
    "revoked": (dict(), False),
    "only for servers (no clientAuth)": (
        dict(extended_key_usages=(ExtendedKeyUsageOID.SERVER_AUTH,)),
        False,
    ),
}


@pytest.mark.parametrize("case", list(IDENTITY_CASES))
def test_a_peer_is_who_its_own_organization_root_says(
    three: list[P2PConfig], tmp_path: Path, case: str
) -> None:
    """ADR 0007 (tracker issue 7): a certificate that bank-a's root issued naming another
    organization's node chains to a consortium root, yet must not make its holder that node."""
    options, accepted = IDENTITY_CASES[case]
    target, pretended = three[0], three[1]
    assert (target.node, pretended.node) == ("clearing", "ecfin")
    identity = issue(tmp_path, tmp_path / "peer", "ecfin", "ecfin", **options)
    if case == "revoked":
        revoked = bytes.fromhex(certificate_fingerprint(identity[0]))
        target = dataclasses.replace(target, revoked_fingerprints=frozenset({revoked}))

    async def scenario() -> None:
        network = P2PNetwork(target, Inbox())
        await network.start()
        writer = None
        try:
            context = tls_context(ssl.PROTOCOL_TLS_CLIENT, identity, target.roots_file)
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                reader, writer = await asyncio.open_connection(
                    "127.0.0.1", target.port, ssl=context, server_hostname=target.node
                )
                writer.write(hello_frame(target, "ecfin"))
            assert writer is not None or not accepted
            answered = writer is not None and await answered_hello(reader)
            assert answered == accepted
            if accepted:
                await eventually(lambda: network.connected() == ["ecfin"])
            else:
                assert network.connected() == []
                assert network.peers["ecfin"].connects == 0
        finally:
            if writer is not None:
                writer.close()
            await network.stop()

    run(scenario())


@pytest.mark.parametrize(
    ("case", "options"),
    [
        ("issued by another member's root", dict(issuer="bank-a")),
        (
            "only for clients (no serverAuth)",
            dict(extended_key_usages=(ExtendedKeyUsageOID.CLIENT_AUTH,)),
        ),
    ],
)
def test_a_dialled_peer_is_checked_as_well(
    three: list[P2PConfig], tmp_path: Path, case: str, options: dict[str, Any]
) -> None:
    """The node that dials checks the certificate of the node it reached the same way."""
    dialler, dialled = three[0], three[1]
    assert dialler.node < dialled.node  # "clearing" dials "ecfin"
    identity = issue(tmp_path, tmp_path / "peer", "ecfin", "ecfin", **options)
    context = tls_context(ssl.PROTOCOL_TLS_SERVER, identity, dialled.roots_file)
    hellos: list[bool] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(hello_frame(dialled, "ecfin"))
        hellos.append(await answered_hello(reader))
        writer.close()

    async def scenario() -> None:
        server = await asyncio.start_server(serve, "127.0.0.1", dialled.port, ssl=context)
        network = P2PNetwork(dialler, Inbox())
        await network.start()
        try:
            # The dialler tries several times; OpenSSL may refuse a certificate without
            # serverAuth itself, before any hello.
            await asyncio.sleep(2.0)
            assert network.peers["ecfin"].last_error or hellos
            assert not any(hellos)
            assert network.connected() == []
            assert network.peers["ecfin"].connects == 0
        finally:
            await network.stop()
            server.close()
            await server.wait_closed()

    run(scenario())


# -- a peer's frames never take the node down (tracker issue 7, defect 2) -----------------------


class Poisoned(Inbox):
    """A handler with a bug a peer can reach: this frame makes it raise (as ``struct.error``
    once escaped the driver for a block request of height -1)."""

    async def __call__(self, peer: str, payload: bytes) -> None:
        if payload == b"poison":
            raise struct.error("argument out of range")
        await super().__call__(peer, payload)


@pytest.mark.parametrize("poisoned", ["dialler", "acceptor"])
def test_a_frame_the_handler_fails_on_drops_only_that_connection(
    three: list[P2PConfig], poisoned: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The handler's exception is logged with the peer's name and that peer is disconnected;
    the dialler dials again (before the fix it died, and the pair stayed apart for good)."""
    pair = three[:2]  # the first dials the second
    inboxes: list[Inbox] = [Poisoned(), Inbox()] if poisoned == "dialler" else [Inbox(), Poisoned()]
    victim, sender = (0, 1) if poisoned == "dialler" else (1, 0)

    async def scenario() -> None:
        networks = [P2PNetwork(config, inbox) for config, inbox in zip(pair, inboxes, strict=True)]
        for network in networks:
            await network.start()
        try:
            await eventually(lambda: all(len(n.connected()) == 1 for n in networks))
            assert networks[sender].send(pair[victim].node, b"poison")
            await eventually(lambda: networks[victim].peers[pair[sender].node].connects >= 2)
            await eventually(lambda: all(len(n.connected()) == 1 for n in networks))
            assert networks[sender].send(pair[victim].node, b"after")
            await eventually(lambda: (pair[sender].node, b"after") in inboxes[victim].messages)
        finally:
            for network in networks:
                await network.stop()

    run(scenario())
    failures = [r for r in caplog.records if "could not be handled" in r.getMessage()]
    assert len(failures) == 1 and pair[sender].node in failures[0].getMessage()


def test_a_node_waiting_to_join_is_redialled_with_a_growing_backoff(
    three: list[P2PConfig], caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 15, item 8: a node that is not (yet) in the others' validator set keeps dialling
    them; each attempt is refused and logged, so the dialler must back off ever longer rather
    than make its peers log a refusal ten times a second."""
    joining, member = three[0], three[1]
    # The joining node knows the member; the member does not know the joining node yet.
    waiting = dataclasses.replace(joining, peers=(_peer(member),))
    member_alone = dataclasses.replace(
        member, nodes={k: v for k, v in member.nodes.items() if k != joining.node}, peers=()
    )
    window_s = 4.0

    async def scenario() -> None:
        networks = [P2PNetwork(waiting, Inbox()), P2PNetwork(member_alone, Inbox())]
        for network in networks:
            await network.start()
        try:
            await asyncio.sleep(window_s)
        finally:
            for network in networks:
                await network.stop()

    with caplog.at_level("WARNING", logger="jinqiao.node.p2p"):
        run(scenario())
    refusals = [r for r in caplog.records if "refused a peer connection" in r.getMessage()]
    # Backoff 0.1, 0.2, 0.4, 0.8, 1.6 s …: five or six attempts in four seconds, each logged by
    # both ends — not the forty a second a fixed 0.1 s retry would log.
    assert 2 <= len(refusals) <= 2 * 6, len(refusals)


def _peer(config: P2PConfig) -> PeerAddress:
    return PeerAddress(config.node, config.host, config.port)


def test_queued_bytes_count_what_waits_to_be_written(three: list[P2PConfig]) -> None:
    """What state-sync serving holds back on (ADR 0054): bytes queued for a peer and not yet
    written; back to zero once written, zero for a peer not connected."""

    async def scenario() -> None:
        inboxes = [Inbox() for _ in three[:2]]
        networks = [
            P2PNetwork(config, inbox) for config, inbox in zip(three, inboxes, strict=False)
        ]
        for network in networks:
            await network.start()
        try:
            await eventually(lambda: all(len(n.connected()) == 1 for n in networks))
            other = three[1].node
            assert networks[0].queued_bytes(other) == 0
            assert networks[0].queued_bytes(three[2].node) == 0
            payload = b"x" * 1_000_000
            for _ in range(3):
                assert networks[0].send(other, payload)
            assert networks[0].queued_bytes(other) == 3 * len(payload)
            await eventually(lambda: len(inboxes[1].messages) == 3)
            await eventually(lambda: networks[0].queued_bytes(other) == 0)
        finally:
            for network in networks:
                await network.stop()

    run(scenario())
