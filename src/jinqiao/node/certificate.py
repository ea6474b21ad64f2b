"""The node's own TLS certificate, reloaded while the node runs (docs/keys.md "Rotation").

``jinqiao node rotate-tls`` writes a new key and certificate into ``<home>/tls/`` (key first,
then certificate, each by an atomic rename). The running node notices the certificate file change
(a check every ``CHECK_INTERVAL_S``) or is told by SIGHUP, checks the new pair — it loads, the key
matches the certificate, the certificate names this node and the same organization as before —
and loads it into every live TLS context it serves or dials with: the API server's and the peer
transport's two. OpenSSL hands a context's certificate to each new connection at its handshake,
so new connections present the new certificate and connections already open keep theirs.

A pair that fails the check (a half-finished rotation, a certificate for another node) is logged
and left unused; the node keeps serving the certificate it has and tries again at the next change.
No node certificate is recorded on chain (peers trust the organization's root in genesis), so a
rotation is a log line, not a transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from jinqiao.core.errors import InvalidInput
from jinqiao.node.metrics import NodeMetrics

log = logging.getLogger(__name__)

CHECK_INTERVAL_S = 1.0
"""How often the node looks at its certificate file's size, time and inode."""


@dataclass(frozen=True)
class CertificateInfo:
    node: str
    organization: str
    serial: int
    fingerprint: str
    """SHA-256 of the DER form, hex (what ``revoked_certificates`` lists)."""
    not_after_s: int
    """The end of its validity, Unix time."""


def read_certificate_pair(certificate_pem: bytes, key_pem: bytes) -> CertificateInfo:
    """What a PEM certificate says, once checked that ``key_pem`` is its private key."""
    try:
        certificate = x509.load_pem_x509_certificate(certificate_pem)
        key = serialization.load_pem_private_key(key_pem, None)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"unreadable TLS certificate or key: {exc}") from None
    if key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        raise InvalidInput("the TLS key is not the key of the certificate")
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    organizations = certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    if len(names) != 1 or len(organizations) != 1:
        raise InvalidInput("a node certificate names one node and one organization")
    der = certificate.public_bytes(serialization.Encoding.DER)
    return CertificateInfo(
        node=str(names[0].value),
        organization=str(organizations[0].value),
        serial=certificate.serial_number,
        fingerprint=hashlib.sha256(der).hexdigest(),
        not_after_s=int(certificate.not_valid_after_utc.timestamp()),
    )


class NodeCertificate:
    """``<tls>/node.crt`` and ``node.key`` and the live contexts that present them."""

    def __init__(self, tls_directory: Path, node: str, metrics: NodeMetrics | None = None) -> None:
        self.certificate_file = tls_directory / "node.crt"
        self.key_file = tls_directory / "node.key"
        self.node = node
        self.metrics = metrics
        self._contexts: list[ssl.SSLContext] = []
        self._stamp = self._file_stamp()
        self.current: CertificateInfo | None = None
        # What the contexts load at start: read now, so a rotation before the first check is
        # seen as one (a home without TLS files, e.g. a test's, reads it at the first check).
        with contextlib.suppress(OSError):
            self._loaded_info()

    def follow(self, *contexts: ssl.SSLContext) -> None:
        """Load every later rotation into ``contexts`` (already loaded with the current pair)."""
        self._contexts.extend(contexts)

    def _file_stamp(self) -> tuple[int, int, int] | None:
        try:
            status = self.certificate_file.stat()
        except OSError:
            return None
        return status.st_ino, status.st_size, status.st_mtime_ns

    def reload_if_changed(self) -> bool:
        stamp = self._file_stamp()
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        return self.reload()

    def reload(self) -> bool:
        """Check the pair on disk and load it into every followed context; ``False`` (logged)
        if it is not a usable certificate of this node, the contexts unchanged."""
        try:
            certificate_pem = self.certificate_file.read_bytes()
            key_pem = self.key_file.read_bytes()
            info = read_certificate_pair(certificate_pem, key_pem)
            previous = self.current or self._loaded_info()
            if info.node != self.node or info.organization != previous.organization:
                raise InvalidInput(
                    f"the certificate names {info.node!r} of {info.organization!r}, not "
                    f"{self.node!r} of {previous.organization!r}"
                )
        except (OSError, InvalidInput) as exc:
            log.error("TLS certificate in %s not loaded: %s", self.certificate_file, exc)
            return False
        if info.fingerprint == previous.fingerprint:
            self.current = info
            return False
        self._load_into_contexts(certificate_pem + key_pem)
        self.current = info
        if self.metrics is not None:
            self.metrics.tls_certificate_expiry.set(info.not_after_s)
            self.metrics.tls_certificate_rotations.inc()
        log.info(
            "TLS certificate rotated: serial %x fingerprint %s replaces serial %x fingerprint %s; "
            "new connections present it",
            info.serial,
            info.fingerprint,
            previous.serial,
            previous.fingerprint,
        )
        return True

    def _loaded_info(self) -> CertificateInfo:
        """The pair the contexts were loaded with at start (read once, before any rotation)."""
        if self.current is None:
            self.current = read_certificate_pair(
                self.certificate_file.read_bytes(), self.key_file.read_bytes()
            )
            if self.metrics is not None:
                self.metrics.tls_certificate_expiry.set(self.current.not_after_s)
        return self.current

    def _load_into_contexts(self, pair_pem: bytes) -> None:
        # The checked bytes, not the paths again: a rotation between the check and the load
        # cannot hand a context an unchecked pair. The copy is owner-only and removed at once.
        descriptor, name = tempfile.mkstemp(
            prefix=".node-pair.", suffix=".pem", dir=self.certificate_file.parent
        )
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(pair_pem)
            for context in self._contexts:
                context.load_cert_chain(name)
        finally:
            Path(name).unlink(missing_ok=True)

    async def watch(self, stop: asyncio.Event) -> None:
        """Reload at each change of the certificate file until ``stop`` is set."""
        self._loaded_info()
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), CHECK_INTERVAL_S)
            if not stop.is_set():
                self.reload_if_changed()
