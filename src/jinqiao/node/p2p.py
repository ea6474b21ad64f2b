"""Node-to-node transport: TCP with mutual TLS 1.3, length-prefixed frames, bounded queues.

Who may connect (ADR 0007): a peer's identity is the pair (organization whose root issued its
certificate, node name). OpenSSL first checks that the certificate chains to one of the
consortium's roots (``tls/roots.pem``, written from genesis by ``jinqiao init``); since that file
holds every organization's root, this alone would let one member's CA issue a certificate naming
another member's node. So ``check_peer_certificate`` then requires that the common name is a node
of this network, that the organization name is that node's organization, and that the certificate
is issued directly by *that* organization's root as genesis records it
(``GenesisOrganization.tls_ca_certificate``): issuer name equal to the root's subject, signature
verified with the root's key. It also checks the validity period, that the certificate is not a
CA, its key usage (digital signature, when stated) and extended key usage (``clientAuth`` for a
peer that dialled in, ``serverAuth`` for a peer this node dialled), and that its fingerprint is not
revoked. The nodes of the network are the validators in force and those a decided governance change
is about to add (``set_nodes`` follows the chain). Anything else is refused during the handshake
and never becomes a peer. After TLS, both sides exchange a ``Hello`` (chain id, genesis hash, node
name) and hang up on a mismatch.

A peer's frames cannot take the node down: an exception the message handler raises for a frame is
logged with the peer's name and the peer is disconnected; a dialler that fails for any reason
dials again with backoff (ADR 0008).

Frames are a 4-byte big-endian length and that many bytes; a frame over ``MAX_FRAME_BYTES`` ends
the connection. Each peer has a bounded send queue; a peer that does not keep up is disconnected,
never allowed to grow memory. To avoid two connections per pair, the node whose name sorts first
dials and the other accepts; the dialer reconnects with exponential backoff. A node that joins a
running network (``dial_all``) dials every peer it knows, since they do not know its address yet;
when two connections of a pair meet, both ends keep the one dialled by the name that sorts first.

Payloads are opaque here; the consensus driver encodes and decodes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import hashlib
import logging
import ssl
import struct
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from jinqiao.core.codec import CanonicalStruct, decode, encode
from jinqiao.core.errors import DecodeError, InvalidInput
from jinqiao.core.genesis import Genesis
from jinqiao.core.types import Hash, Name

log = logging.getLogger(__name__)

MAX_FRAME_BYTES = 16 * 1024 * 1024
MAX_HELLO_BYTES = 1024
SEND_QUEUE_FRAMES = 4_096
HANDSHAKE_TIMEOUT_S = 10.0
BACKOFF_START_S = 0.1
BACKOFF_MAX_S = 5.0
_LENGTH = struct.Struct(">I")

MessageHandler = Callable[[str, bytes], Awaitable[None]]


class Hello(CanonicalStruct, frozen=True):
    chain_id: Name
    genesis_hash: Hash
    node: Name


@dataclass(frozen=True)
class PeerAddress:
    name: str
    host: str
    port: int


@dataclass(frozen=True)
class P2PConfig:
    node: str
    host: str
    port: int
    certificate_file: Path
    key_file: Path
    roots_file: Path
    chain_id: str
    genesis_hash: bytes
    nodes: dict[str, str]
    """Every node of the network at start: name → organization (``set_nodes`` updates it)."""
    peers: tuple[PeerAddress, ...]
    organization_roots: Mapping[str, x509.Certificate]
    """Each organization's TLS root from genesis (id → certificate, see ``organization_roots``):
    a peer's certificate must be issued directly by the root of its node's organization."""
    revoked_fingerprints: frozenset[bytes] = frozenset()
    dial_all: bool = False
    """Dial every peer, not only those whose names sort after this node's (a joining node)."""


@dataclass
class PeerState:
    name: str
    connected_since: float | None = None
    frames_in: int = 0
    frames_out: int = 0
    connects: int = 0
    last_error: str = ""
    dialled: bool = False
    """Whether the current connection was dialled by this node."""
    queued_bytes: int = 0
    """Bytes of the frames queued for this peer and not yet written."""
    queue: asyncio.Queue[bytes] | None = None
    writer: asyncio.StreamWriter | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


def server_context(config: P2PConfig) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _common(context, config)
    return context


def client_context(config: P2PConfig) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    _common(context, config)
    context.check_hostname = True
    return context


def _common(context: ssl.SSLContext, config: P2PConfig) -> None:
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_cert_chain(config.certificate_file, config.key_file)
    context.load_verify_locations(config.roots_file)


def certificate_fingerprint(certificate_file: Path) -> str:
    """The SHA-256 fingerprint (hex) of a PEM certificate's DER form, as ``revoked_certificates``
    in a node's configuration lists it."""
    try:
        certificate = x509.load_pem_x509_certificate(certificate_file.read_bytes())
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"cannot read a certificate from {certificate_file}: {exc}") from None
    der = certificate.public_bytes(serialization.Encoding.DER)
    return hashlib.sha256(der).hexdigest()


def organization_roots(genesis: Genesis) -> dict[str, x509.Certificate]:
    """Each organization's TLS root as genesis records it (id → certificate); an organization
    without one has no node that can connect."""
    roots = {}
    for organization in genesis.organizations:
        if not organization.tls_ca_certificate:
            continue
        try:
            roots[organization.id] = x509.load_pem_x509_certificate(
                organization.tls_ca_certificate.encode()
            )
        except ValueError as exc:
            raise InvalidInput(
                f"genesis: the TLS root of {organization.id!r} is not a PEM certificate: {exc}"
            ) from None
    return roots


class PeerRefused(InvalidInput):
    code = "peer_refused"


def check_peer_certificate(
    config: P2PConfig,
    der: bytes | None,
    nodes: Mapping[str, str] | None = None,
    *,
    purpose: ObjectIdentifier = ExtendedKeyUsageOID.CLIENT_AUTH,
    now: datetime.datetime | None = None,
) -> str:
    """The node name a peer's (already chain-verified) certificate belongs to, or
    ``PeerRefused``. ``nodes`` (name → organization) defaults to the configured ones;
    ``purpose`` is the extended key usage the peer's role in the TLS handshake needs."""
    if der is None:
        raise PeerRefused("the peer presented no certificate")
    fingerprint = hashlib.sha256(der).digest()
    if fingerprint in config.revoked_fingerprints:
        raise PeerRefused(f"certificate {fingerprint.hex()} is revoked")
    try:
        # cryptography parses lazily and more strictly than OpenSSL: read what is checked here.
        certificate = x509.load_der_x509_certificate(der)
        names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        organizations = certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        extensions = certificate.extensions
    except (ValueError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType) as exc:
        raise PeerRefused(f"unreadable peer certificate: {exc}") from None
    if len(names) != 1 or len(organizations) != 1:
        raise PeerRefused("the peer certificate must name one node and one organization")
    node, organization = str(names[0].value), str(organizations[0].value)
    if (config.nodes if nodes is None else nodes).get(node) != organization:
        raise PeerRefused(f"{node!r} of {organization!r} is not a node of this network")
    root = config.organization_roots.get(organization)
    if root is None:
        raise PeerRefused(f"organization {organization!r} has no TLS root in genesis")
    _check_issued_by(certificate, root, node, organization)
    now = datetime.datetime.now(datetime.UTC) if now is None else now
    for which, checked in (("certificate", certificate), (f"TLS root of {organization!r}", root)):
        if not checked.not_valid_before_utc <= now <= checked.not_valid_after_utc:
            raise PeerRefused(f"the {which} of {node!r} is outside its validity period")
    _check_usage(extensions, node, purpose)
    return node


def _check_issued_by(
    certificate: x509.Certificate, root: x509.Certificate, node: str, organization: str
) -> None:
    """The certificate is issued directly by ``root`` (ADR 0007): a certificate from another
    member's CA naming this organization is refused."""
    refusal = PeerRefused(
        f"the certificate of {node!r} is not issued by the root of {organization!r}"
    )
    if certificate.issuer != root.subject:
        raise refusal
    try:
        certificate.verify_directly_issued_by(root)
    except (ValueError, TypeError, InvalidSignature):
        raise refusal from None


def _check_usage(extensions: x509.Extensions, node: str, purpose: ObjectIdentifier) -> None:
    """A node certificate: not a CA, usable for signatures, for ``purpose`` (as ``jinqiao init``
    issues them: no key usage extension, extended key usage serverAuth and clientAuth)."""
    with contextlib.suppress(x509.ExtensionNotFound):
        if extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            raise PeerRefused(f"the certificate of {node!r} is a CA certificate")
    with contextlib.suppress(x509.ExtensionNotFound):
        if not extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature:
            raise PeerRefused(f"the certificate of {node!r} is not for digital signatures")
    try:
        usages = extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        raise PeerRefused(f"the certificate of {node!r} states no extended key usage") from None
    if purpose not in usages:
        raise PeerRefused(f"the certificate of {node!r} is not for {purpose.dotted_string}")


class P2PNetwork:
    def __init__(self, config: P2PConfig, on_message: MessageHandler) -> None:
        self.config = config
        self.on_message = on_message
        self.peers: dict[str, PeerState] = {
            peer.name: PeerState(peer.name) for peer in config.peers if peer.name != config.node
        }
        self.nodes: dict[str, str] = dict(config.nodes)
        self._server: asyncio.Server | None = None
        self._dialers: list[asyncio.Task[None]] = []
        self._stopping = False
        self._writers: set[asyncio.StreamWriter] = set()
        self._server_context = server_context(config)
        self._client_context = client_context(config)

    @property
    def tls_contexts(self) -> tuple[ssl.SSLContext, ssl.SSLContext]:
        """The contexts it accepts and dials with: a rotated certificate is loaded into both
        (``node.certificate``)."""
        return self._server_context, self._client_context

    # -- life cycle ------------------------------------------------------------------------
    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._accept,
            self.config.host,
            self.config.port,
            ssl=self._server_context,
            ssl_handshake_timeout=HANDSHAKE_TIMEOUT_S,
            limit=64 * 1024,
        )
        for peer in self.config.peers:
            if peer.name != self.config.node and (
                self.config.dial_all or self.config.node < peer.name
            ):
                self._dialers.append(asyncio.create_task(self._dial_forever(peer)))

    def set_nodes(self, nodes: Mapping[str, str]) -> None:
        """Follow the validator set: ``nodes`` (name → organization) may connect from now on;
        a connected peer no longer among them (or now of another organization) is dropped."""
        if nodes == self.nodes:
            return
        log.info("network nodes now: %s", ", ".join(sorted(nodes)))
        self.nodes = dict(nodes)
        for name, state in self.peers.items():
            if state.writer is not None and name not in self.nodes:
                self._drop(state, "no longer a node of this network")

    async def stop(self) -> None:
        self._stopping = True
        # Every connection, including those still in their handshake: closed, then waited for,
        # so no transport is left half-open when the event loop ends. Taken before the tasks
        # that own them are cancelled (their clean-up forgets them).
        writers = list(self._writers)
        for task in self._dialers:
            task.cancel()
        if self._server is not None:
            self._server.close()
        for state in self.peers.values():
            self._drop(state, "stopping")
        for task in self._dialers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        writers.extend(writer for writer in self._writers if writer not in writers)
        for writer in writers:
            writer.close()
        if writers:
            await asyncio.wait(
                [asyncio.ensure_future(_closed(writer)) for writer in writers], timeout=5
            )
        if self._server is not None:
            await self._server.wait_closed()
        await asyncio.sleep(0)

    # -- sending -----------------------------------------------------------------------------
    def connected(self) -> list[str]:
        return sorted(name for name, state in self.peers.items() if state.connected_since)

    def send(self, peer: str, payload: bytes) -> bool:
        """Queue ``payload`` for ``peer``; False if not connected. A full queue drops the peer."""
        state = self.peers.get(peer)
        if state is None or state.queue is None:
            return False
        if len(payload) > MAX_FRAME_BYTES:
            raise InvalidInput(f"a frame is at most {MAX_FRAME_BYTES} bytes")
        try:
            state.queue.put_nowait(payload)
        except asyncio.QueueFull:
            self._drop(state, "send queue full (slow peer)")
            return False
        state.queued_bytes += len(payload)
        return True

    def queued_bytes(self, peer: str) -> int:
        """Bytes queued for ``peer`` and not yet written (0 if not connected): a sender of bulk
        answers (state sync) holds back while a peer does not read."""
        state = self.peers.get(peer)
        return 0 if state is None or state.queue is None else state.queued_bytes

    def broadcast(self, payload: bytes) -> int:
        return sum(1 for name in self.connected() if self.send(name, payload))

    def status(self) -> list[dict[str, object]]:
        now = time.monotonic()
        return [
            {
                "peer": state.name,
                "connected": state.connected_since is not None,
                "connected_for_s": None
                if state.connected_since is None
                else round(now - state.connected_since, 1),
                "frames_in": state.frames_in,
                "frames_out": state.frames_out,
                "connects": state.connects,
                "last_error": state.last_error,
            }
            for state in sorted(self.peers.values(), key=lambda s: s.name)
        ]

    # -- connections -----------------------------------------------------------------------
    async def _dial_forever(self, peer: PeerAddress) -> None:
        """Dial ``peer`` until the network stops. Whatever ends an attempt — a refused
        connection, a peer that hung up, a fault in this node's handling of its frames — the
        dialler backs off and dials again; it never ends on its own."""
        backoff = BACKOFF_START_S
        while not self._stopping:
            state = self.peers[peer.name]
            if state.connected_since is not None or peer.name not in self.nodes:
                await asyncio.sleep(BACKOFF_MAX_S if peer.name not in self.nodes else 1.0)
                continue
            connects, started = state.connects, time.monotonic()
            try:
                await self._dial(peer)
            except Exception as exc:  # any fault: logged, then dial again
                log.exception("dialling %s failed", peer.name)
                state.last_error = f"dial: {exc.__class__.__name__}: {exc}"
            if state.connects > connects and time.monotonic() - started >= BACKOFF_MAX_S:
                # It was a peer for a while: dial again soon. A peer that gets itself dropped
                # at once (a refused hello, a frame that fails) meets a growing backoff instead.
                backoff = BACKOFF_START_S
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX_S)

    async def _dial(self, peer: PeerAddress) -> None:
        try:
            # asyncio.timeout, not wait_for: wait_for can lose a connection that completes
            # just as the task is cancelled (a transport left open).
            async with asyncio.timeout(HANDSHAKE_TIMEOUT_S):
                reader, writer = await asyncio.open_connection(
                    peer.host,
                    peer.port,
                    ssl=self._client_context,
                    server_hostname=peer.name,
                    limit=64 * 1024,
                )
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            self.peers[peer.name].last_error = f"connect: {exc}"
            return
        await self._serve(reader, writer, expected=peer.name)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Closing the server cancels these handlers; that is the normal way they end.
        with contextlib.suppress(asyncio.CancelledError):
            try:
                await self._serve(reader, writer, expected=None)
            except Exception:  # a connection's fault never reaches the server
                log.exception("an accepted peer connection failed")

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, expected: str | None
    ) -> None:
        self._writers.add(writer)
        try:
            await self._serve_connection(reader, writer, expected)
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, expected: str | None
    ) -> None:
        try:
            name = await asyncio.wait_for(
                self._handshake(reader, writer, dialled=expected is not None), HANDSHAKE_TIMEOUT_S
            )
            if expected is not None and name != expected:
                raise PeerRefused(f"dialled {expected!r} but reached {name!r}")
        except (
            PeerRefused,
            DecodeError,
            OSError,
            TimeoutError,
            asyncio.IncompleteReadError,
            ssl.SSLError,
        ) as exc:
            log.warning("refused a peer connection: %s", exc)
            writer.close()
            return
        state = self.peers.get(name)
        if state is None:
            # A node the configuration did not list (one that joined the network later).
            state = self.peers[name] = PeerState(name)
        dialled = expected is not None
        if state.writer is not None:
            if dialled != state.dialled and _dialler(self.config.node, name, state.dialled) < (
                _dialler(self.config.node, name, dialled)
            ):
                writer.close()  # both ends keep the other connection, dialled by the first name
                return
            self._drop(state, "replaced by a new connection")
        state.dialled = dialled
        state.queue = asyncio.Queue(SEND_QUEUE_FRAMES)
        state.queued_bytes = 0
        state.writer = writer
        state.connected_since = time.monotonic()
        state.connects += 1
        log.info("peer %s connected", name)
        writer_task = asyncio.create_task(self._write_loop(state, writer, state.queue))
        state.tasks = [writer_task]
        try:
            await self._read_loop(state, reader)
        finally:
            if state.writer is writer:
                self._drop(state, state.last_error or "disconnected")
            writer_task.cancel()

    async def _handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, dialled: bool
    ) -> str:
        tls = writer.get_extra_info("ssl_object")
        name = check_peer_certificate(
            self.config,
            tls.getpeercert(binary_form=True) if tls else None,
            self.nodes,
            # The peer this node dialled is the TLS server; one that dialled in, the client.
            purpose=ExtendedKeyUsageOID.SERVER_AUTH if dialled else ExtendedKeyUsageOID.CLIENT_AUTH,
        )
        hello = Hello(self.config.chain_id, self.config.genesis_hash, self.config.node)
        writer.write(_frame(encode(hello)))
        await writer.drain()
        length = _LENGTH.unpack(await reader.readexactly(4))[0]
        if length > MAX_HELLO_BYTES:
            raise PeerRefused("oversize hello")
        theirs = decode(await reader.readexactly(length), Hello, max_bytes=MAX_HELLO_BYTES)
        if (
            theirs.chain_id != self.config.chain_id
            or theirs.genesis_hash != self.config.genesis_hash
        ):
            raise PeerRefused(f"{name} runs another chain or genesis")
        if theirs.node != name:
            raise PeerRefused(f"certificate of {name!r} but hello from {theirs.node!r}")
        return name

    async def _read_loop(self, state: PeerState, reader: asyncio.StreamReader) -> None:
        while True:
            try:
                length = _LENGTH.unpack(await reader.readexactly(4))[0]
                if length > MAX_FRAME_BYTES:
                    state.last_error = f"frame of {length} bytes over the limit"
                    return
                payload = await reader.readexactly(length)
            except (asyncio.IncompleteReadError, OSError, ssl.SSLError) as exc:
                state.last_error = f"read: {exc.__class__.__name__}"
                return
            state.frames_in += 1
            try:
                await self.on_message(state.name, payload)
            except Exception as exc:  # the peer goes, the node stays
                log.exception(
                    "a frame from peer %s could not be handled; disconnecting it", state.name
                )
                state.last_error = f"frame not handled: {exc.__class__.__name__}"
                return

    async def _write_loop(
        self, state: PeerState, writer: asyncio.StreamWriter, queue: asyncio.Queue[bytes]
    ) -> None:
        try:
            while True:
                payload = await queue.get()
                writer.write(_frame(payload))
                await writer.drain()
                state.queued_bytes -= len(payload)
                state.frames_out += 1
        except (OSError, ssl.SSLError) as exc:
            state.last_error = f"write: {exc.__class__.__name__}"
            writer.close()

    def _drop(self, state: PeerState, reason: str) -> None:
        if state.writer is not None:
            log.info("peer %s disconnected: %s", state.name, reason)
            state.writer.close()
        state.last_error = reason
        state.writer = None
        state.queue = None
        state.connected_since = None
        for task in state.tasks:
            task.cancel()
        state.tasks = []


async def _closed(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, ssl.SSLError, asyncio.CancelledError):
        await writer.wait_closed()


def _dialler(own: str, peer: str, dialled_by_own: bool) -> str:
    return own if dialled_by_own else peer


def _frame(payload: bytes) -> bytes:
    return _LENGTH.pack(len(payload)) + payload
