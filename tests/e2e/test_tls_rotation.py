"""Rotating a node's TLS certificate without stopping the network (tracker issue 11, item 5):
four validator processes under a load of transfers; `jinqiao node rotate-tls` issues bank-a's
node a new certificate from bank-a's root. Without a restart, new TLS connections to its API and
to its peer port present the new certificate (serial and fingerprint), peers' checks accept it,
blocks keep committing with its precommits in their certificates, and the old pair is kept."""

from __future__ import annotations

import hashlib
import socket
import ssl
import time
from pathlib import Path

import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID

from jinqiao.client import Client
from jinqiao.keys import load_key
from jinqiao.node.config import load_config
from jinqiao.node.p2p import check_peer_certificate, client_context
from jinqiao.provision.network import NetworkLayout
from tests.helpers.cluster import (
    Load,
    certificate_signers,
    height,
    jinqiao,
    metric_values,
    p2p_config_of,
    wait_for,
)
from tests.helpers.process import NodeProcess

pytestmark = pytest.mark.e2e

ROTATED = "bank-a"


def served_fingerprint(port: int, context: ssl.SSLContext, server_hostname: str) -> str:
    """The SHA-256 fingerprint of the certificate a new TLS connection to ``port`` presents."""
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as connection,
        context.wrap_socket(connection, server_hostname=server_hostname) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return hashlib.sha256(der).hexdigest()


def test_a_node_certificate_rotates_while_the_network_commits(
    network: tuple[Path, object, list[NodeProcess]],
) -> None:
    directory, layout, nodes = network
    assert isinstance(layout, NetworkLayout)
    index = next(i for i, node in enumerate(layout.nodes) if node.name == ROTATED)
    rotated, other = nodes[index], nodes[(index + 1) % len(nodes)]
    home = directory / layout.nodes[index].home
    p2p_port = load_config(home).p2p_port
    address = layout.nodes[index].address
    # A peer's view: another node's certificate and the consortium's roots (OpenSSL's chain
    # check), then the transport's own check against genesis (node.p2p).
    peer = p2p_config_of(directory, layout.nodes[(index + 1) % len(nodes)].name)
    as_peer = client_context(peer)
    api_context = ssl.create_default_context(cafile=str(home / "tls" / "roots.pem"))
    old_fingerprint = jinqiao("node", "fingerprint", "--home", str(home))["fingerprint"]
    assert served_fingerprint(rotated.port, api_context, "127.0.0.1") == old_fingerprint
    assert served_fingerprint(p2p_port, as_peer, ROTATED) == old_fingerprint
    assert rotated.process is not None
    pid = rotated.process.pid

    genesis_file = directory / "genesis.json"
    payer_file = directory / "accounts" / "bank-a-treasury.json"
    payee = load_key(directory / "accounts" / "bank-b-treasury.json").address
    with Client(other.url, credentials=other.credentials, genesis_file=genesis_file) as client:
        treasury = load_key(directory / "accounts" / "clearing-treasury.json")
        assert client.token.mint(treasury, "CNY", load_key(payer_file).address, 10**9).ok

    with Load(rotated.url, genesis_file, payer_file, payee) as load:
        wait_for(lambda: len(load.committed) >= 5, 60, "transfers committed before the rotation")
        rotation = jinqiao("node", "rotate-tls", "--home", str(home))
        assert rotation["old_fingerprint"] == old_fingerprint
        new_fingerprint = str(rotation["new_fingerprint"])
        assert new_fingerprint != old_fingerprint
        rotated_at = height(other)
        wait_for(
            lambda: served_fingerprint(rotated.port, api_context, "127.0.0.1") == new_fingerprint,
            10,
            "the API presenting the new certificate",
        )
        assert served_fingerprint(p2p_port, as_peer, ROTATED) == new_fingerprint
        committed_at_rotation = len(load.committed)
        wait_for(lambda: height(other) >= rotated_at + 5, 60, "blocks after the rotation")
        wait_for(
            lambda: len(load.committed) > committed_at_rotation,
            60,
            "transfers through the rotated node's API after the rotation",
        )
    assert load.committed

    # The same process all along, and the rotation is in its log.
    assert rotated.process.poll() is None and rotated.process.pid == pid
    assert f"TLS certificate rotated: serial {rotation['new_serial']}" in rotated.log()
    assert "Traceback" not in rotated.log()
    metrics = metric_values(rotated)
    assert metrics["jinqiao_tls_certificate_rotations_total"] == 1
    assert metrics["jinqiao_tls_certificate_expiry_timestamp_seconds"] > time.time() + 800 * 86400
    # Its peers verify the new certificate as they verify any peer's.
    with (
        socket.create_connection(("127.0.0.1", p2p_port), timeout=5) as connection,
        as_peer.wrap_socket(connection, server_hostname=ROTATED) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert check_peer_certificate(peer, der, purpose=ExtendedKeyUsageOID.SERVER_AUTH) == ROTATED
    # The rotated validator still votes: its precommits are in the certificates after it.
    final = height(other)
    assert any(address in certificate_signers(other, at) for at in range(rotated_at + 2, final + 1))
    backup = home / "tls" / "backup"
    assert (backup / f"node-{rotation['old_serial']}.crt").exists()
    assert (backup / f"node-{rotation['old_serial']}.key").stat().st_mode & 0o777 == 0o600
