"""``jinqiao node rotate-tls``: a new TLS key and certificate for a node, from its organization's
root, written where the running node picks them up (``jinqiao.node.certificate``).

The new certificate names the same node, organization and host names as the one it replaces and
is issued by the organization's root *as genesis records it* (a peer refuses anything else at the
handshake, ``node.p2p``). The old pair is kept in ``<home>/tls/backup/`` under its serial number;
then the new key and the new certificate each replace the old by an atomic rename, key first, so
that the certificate file changing (what the node watches) means the pair is complete.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from jinqiao.core.errors import InvalidInput
from jinqiao.core.genesis import load_genesis
from jinqiao.fileio import PRIVATE_FILE_MODE, PUBLIC_FILE_MODE, save_atomically, save_new
from jinqiao.node.certificate import CertificateInfo, read_certificate_pair
from jinqiao.node.config import load_config
from jinqiao.node.p2p import organization_roots
from jinqiao.provision.network import (
    TLS_VALIDITY_DAYS,
    load_organization_ca,
    make_node_certificate,
    pem_key,
)

BACKUP_DIRECTORY = "backup"

_ALWAYS_NAMED = ("localhost", "127.0.0.1")


@dataclass(frozen=True)
class Rotation:
    node: str
    organization: str
    old: CertificateInfo
    new: CertificateInfo
    backup_certificate: Path
    backup_key: Path


def rotate_node_tls(
    home: Path, ca_dir: Path | None = None, *, valid_days: int = TLS_VALIDITY_DAYS
) -> Rotation:
    """Issue and install a new TLS pair for the node in ``home``; ``ca_dir`` holds the
    organization's ``tls-ca.{key,crt}`` (default ``<home>/../../orgs/<organization>``, the layout
    ``jinqiao init`` writes)."""
    if not 1 <= valid_days <= TLS_VALIDITY_DAYS:
        raise InvalidInput(f"--valid-days must be 1..{TLS_VALIDITY_DAYS}")
    config = load_config(home)
    tls = home / "tls"
    try:
        certificate_pem = (tls / "node.crt").read_bytes()
        key_pem = (tls / "node.key").read_bytes()
        genesis = load_genesis((home / "genesis.json").read_bytes())
    except OSError as exc:
        raise InvalidInput(
            f"cannot read the node's TLS files or genesis in {home}: {exc}"
        ) from None
    old = read_certificate_pair(certificate_pem, key_pem)
    if old.node != config.name:
        raise InvalidInput(f"{tls / 'node.crt'} names {old.node!r}, not this node {config.name!r}")
    if ca_dir is None:
        ca_dir = home.parent.parent / "orgs" / old.organization
    ca_key, ca_certificate = load_organization_ca(ca_dir, old.organization)
    genesis_root = organization_roots(genesis).get(old.organization)
    if genesis_root is None or genesis_root != ca_certificate:
        raise InvalidInput(
            f"{ca_dir / 'tls-ca.crt'} is not the TLS root genesis records for "
            f"{old.organization!r}: peers would refuse a certificate it issues"
        )
    current = x509.load_pem_x509_certificate(certificate_pem)
    key, certificate = make_node_certificate(
        config.name,
        old.organization,
        ca_key,
        ca_certificate,
        valid_days=valid_days,
        hosts=_host_names(current),
    )
    new_certificate_pem = certificate.public_bytes(serialization.Encoding.PEM)
    new_key_pem = pem_key(key)
    new = read_certificate_pair(new_certificate_pem, new_key_pem)
    backup = tls / BACKUP_DIRECTORY
    backup_certificate = backup / f"node-{old.serial:x}.crt"
    backup_key = backup / f"node-{old.serial:x}.key"
    save_new(backup_key, key_pem, mode=PRIVATE_FILE_MODE)
    save_new(backup_certificate, certificate_pem, mode=PUBLIC_FILE_MODE)
    save_atomically(tls / "node.key", new_key_pem, mode=PRIVATE_FILE_MODE)
    save_atomically(tls / "node.crt", new_certificate_pem, mode=PUBLIC_FILE_MODE)
    return Rotation(config.name, old.organization, old, new, backup_certificate, backup_key)


def _host_names(certificate: x509.Certificate) -> tuple[str, ...]:
    """The subject alternative names of ``certificate`` beyond those every node certificate has
    (``localhost``, 127.0.0.1, its node name), so the new one is reachable where the old was."""
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ()
    hosts = [str(name) for name in names.get_values_for_type(x509.DNSName)]
    hosts += [str(address) for address in names.get_values_for_type(x509.IPAddress)]
    common_names = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    skipped = {*_ALWAYS_NAMED, *(str(name.value) for name in common_names)}
    return tuple(host for host in hosts if host not in skipped)
