"""Who is asking: the identity in a client certificate that the API's TLS handshake verified
(docs/access.md, ADR 0023).

The TLS layer (``api.server``) asks every client for a certificate (``CERT_OPTIONAL``) and lets
OpenSSL check that it chains to one of the consortium's organization roots and is within its
validity period; a certificate that fails either is refused at the handshake. What OpenSSL cannot
know is checked here, once per connection (``connections`` puts the certificate's DER into the
request scope under ``CLIENT_CERTIFICATE_KEY``):

- the certificate names exactly one organization (``O``) and one identity (``CN``), and it was
  issued directly by *that* organization's root in genesis: bank-a's CA cannot speak for bank-b;
- it is for client authentication (extended key usage ``clientAuth``) and is not a CA;
- its SHA-256 fingerprint is not in the node's ``revoked_certificates`` (the same list that
  refuses peers, docs/guide.md).

The roles of the identity are the certificate's ``OU`` values (``jinqiao init`` writes an
account's roles there); whether an organization is the regulator comes from genesis, never from
the certificate.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from jinqiao.core.errors import InvalidInput
from jinqiao.core.genesis import Genesis

CLIENT_CERTIFICATE_KEY = "jinqiao.client_certificate"
"""The request scope key under which the connection's verified client certificate (DER) stands;
absent when the client sent none."""
IDENTITY_KEY = "jinqiao.identity"
"""The request scope key under which ``api.access`` leaves the caller's ``Identity`` for the routes
that act on whose behalf they are called (``api.private``)."""
MAX_ROLES = 32


class CertificateRefused(InvalidInput):
    """A client certificate that chains to a consortium root but may not be used (401)."""

    code = "certificate_refused"


@dataclass(frozen=True)
class Identity:
    """An authenticated caller: ``name`` (the certificate's common name, e.g. an account name),
    its ``organization`` (whose root issued the certificate) and the ``roles`` it states."""

    name: str
    organization: str
    roles: frozenset[str]


class Authenticator:
    """Turns a verified client certificate into an ``Identity``, or refuses it."""

    def __init__(
        self, roots: Mapping[str, x509.Certificate], revoked_fingerprints: frozenset[bytes]
    ) -> None:
        self.roots = dict(roots)
        self.revoked_fingerprints = revoked_fingerprints

    def identify(self, der: bytes) -> Identity:
        """The identity of a chain-verified certificate, or ``CertificateRefused`` whose details
        name the ``identity`` and ``organization`` it claims when they could be read (for the
        audit trail: a refused claim is still worth recording)."""
        try:
            # cryptography parses lazily and more strictly than OpenSSL: read what is used here.
            certificate = x509.load_der_x509_certificate(der)
            subject = certificate.subject
            names = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
            organizations = subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
            units = subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
            extensions = certificate.extensions
        except (ValueError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType) as exc:
            raise CertificateRefused(f"unreadable client certificate: {exc}") from None
        if len(names) != 1 or len(organizations) != 1 or len(units) > MAX_ROLES:
            raise CertificateRefused(
                f"a client certificate names one identity, one organization and at most "
                f"{MAX_ROLES} roles"
            )
        name, organization = str(names[0].value), str(organizations[0].value)
        claimed = {"identity": name, "organization": organization}
        fingerprint = hashlib.sha256(der).digest()
        if fingerprint in self.revoked_fingerprints:
            raise CertificateRefused(
                f"client certificate {fingerprint.hex()} is revoked", **claimed
            )
        root = self.roots.get(organization)
        if root is None or not _issued_by(certificate, root):
            raise CertificateRefused(
                f"the certificate of {name!r} is not issued by the root of {organization!r}",
                **claimed,
            )
        _check_client_usage(extensions, name, claimed)
        return Identity(name, organization, frozenset(str(unit.value) for unit in units))


def roots_from_genesis(genesis: Genesis) -> dict[str, x509.Certificate]:
    """Each organization's TLS root as genesis records it (the node checked them at its start,
    for its peers); an organization without one has no identity here."""
    return {
        organization.id: x509.load_pem_x509_certificate(organization.tls_ca_certificate.encode())
        for organization in genesis.organizations
        if organization.tls_ca_certificate
    }


def _issued_by(certificate: x509.Certificate, root: x509.Certificate) -> bool:
    if certificate.issuer != root.subject:
        return False
    try:
        certificate.verify_directly_issued_by(root)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _check_client_usage(extensions: x509.Extensions, name: str, claimed: dict[str, str]) -> None:
    with contextlib.suppress(x509.ExtensionNotFound):
        if extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            raise CertificateRefused(f"the certificate of {name!r} is a CA certificate", **claimed)
    try:
        usages = extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        raise CertificateRefused(
            f"the certificate of {name!r} states no key usage", **claimed
        ) from None
    if ExtendedKeyUsageOID.CLIENT_AUTH not in usages:
        raise CertificateRefused(
            f"the certificate of {name!r} is not for client authentication", **claimed
        )
