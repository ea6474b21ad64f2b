"""`rotate_node_tls` and `NodeCertificate` on a real network directory and real TLS sockets: a
rotation issues a certificate for the same node from the root genesis records and keeps the old
pair; a live context presents the new certificate to new connections while an open connection
keeps working; a pair that does not fit (half a rotation, another node's certificate, the wrong
root) is refused and changes nothing."""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from pathlib import Path

import pytest
from cryptography import x509

from jinqiao.core.errors import InvalidInput
from jinqiao.node.certificate import NodeCertificate, read_certificate_pair
from jinqiao.node.metrics import NodeMetrics
from jinqiao.node.p2p import certificate_fingerprint
from jinqiao.provision.tls_rotation import rotate_node_tls
from tests.helpers.process import make_network


@pytest.fixture
def home(tmp_path: Path) -> Path:
    layout = make_network(tmp_path, validators=2)
    return tmp_path / layout.nodes[0].home


def tls_files(home: Path) -> tuple[bytes, bytes]:
    return (home / "tls" / "node.crt").read_bytes(), (home / "tls" / "node.key").read_bytes()


def test_rotation_issues_a_certificate_for_the_same_node_and_keeps_the_old(home: Path) -> None:
    old_certificate_pem, old_key_pem = tls_files(home)
    old = x509.load_pem_x509_certificate(old_certificate_pem)
    rotation = rotate_node_tls(home)
    new_certificate_pem, new_key_pem = tls_files(home)
    new = x509.load_pem_x509_certificate(new_certificate_pem)
    assert rotation.new == read_certificate_pair(new_certificate_pem, new_key_pem)
    assert rotation.old.fingerprint == certificate_fingerprint(rotation.backup_certificate)
    assert rotation.old.fingerprint != rotation.new.fingerprint
    assert new.subject == old.subject and new.issuer == old.issuer
    assert new.serial_number != old.serial_number
    assert (
        new.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        == old.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    )
    assert rotation.backup_certificate.read_bytes() == old_certificate_pem
    assert rotation.backup_key.read_bytes() == old_key_pem
    assert rotation.backup_key.stat().st_mode & 0o777 == 0o600
    assert (home / "tls" / "node.key").stat().st_mode & 0o777 == 0o600
    assert certificate_fingerprint(home / "tls" / "node.crt") == rotation.new.fingerprint


def test_rotation_refuses_another_organizations_root(home: Path) -> None:
    before = tls_files(home)
    organization = read_certificate_pair(*before).organization
    others = [d for d in (home.parent.parent / "orgs").iterdir() if d.name != organization]
    with pytest.raises(InvalidInput, match="is not the TLS root genesis records"):
        rotate_node_tls(home, others[0])
    with pytest.raises(InvalidInput, match="valid-days"):
        rotate_node_tls(home, valid_days=0)
    assert tls_files(home) == before
    assert not (home / "tls" / "backup").exists()


async def served(port: int, context: ssl.SSLContext) -> str:
    _, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=context, server_hostname="127.0.0.1"
    )
    der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    writer.close()
    await writer.wait_closed()
    return hashlib.sha256(der).hexdigest()


def test_a_live_context_presents_the_new_certificate_to_new_connections(home: Path) -> None:
    async def scenario() -> None:
        server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_context.load_cert_chain(home / "tls" / "node.crt", home / "tls" / "node.key")
        client = ssl.create_default_context(cafile=str(home / "tls" / "roots.pem"))
        node = read_certificate_pair(*tls_files(home)).node
        metrics = NodeMetrics()
        certificate = NodeCertificate(home / "tls", node, metrics)
        assert metrics.tls_certificate_expiry._value.get() == certificate.current.not_after_s
        certificate.follow(server_context)

        async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while line := await reader.readline():
                writer.write(line)
                await writer.drain()
            writer.close()

        server = await asyncio.start_server(echo, "127.0.0.1", 0, ssl=server_context)
        port = server.sockets[0].getsockname()[1]
        old = await served(port, client)
        assert not certificate.reload_if_changed()  # nothing changed yet
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=client, server_hostname="127.0.0.1"
        )
        rotation = rotate_node_tls(home)
        assert rotation.old.fingerprint == old
        assert certificate.reload_if_changed()
        assert await served(port, client) == rotation.new.fingerprint
        # The connection opened before the rotation keeps working.
        writer.write(b"still here\n")
        assert await reader.readline() == b"still here\n"
        writer.close()
        await writer.wait_closed()

        # Half a rotation (a new certificate, the old key): refused, the context unchanged.
        (home / "tls" / "node.crt").write_bytes(rotation.backup_certificate.read_bytes())
        assert not certificate.reload_if_changed()
        assert await served(port, client) == rotation.new.fingerprint
        # Another node's certificate and key: refused.
        other = home.parent / next(p.name for p in home.parent.iterdir() if p != home)
        for name in ("node.crt", "node.key"):
            (home / "tls" / name).write_bytes((other / "tls" / name).read_bytes())
        assert not certificate.reload()
        assert await served(port, client) == rotation.new.fingerprint
        assert certificate.current == rotation.new
        assert metrics.tls_certificate_rotations._value.get() == 1
        assert metrics.tls_certificate_expiry._value.get() == rotation.new.not_after_s
        server.close()
        await server.wait_closed()

    asyncio.run(scenario())
