"""The authenticated API of a real node process over real TLS (docs/access.md): the public routes
without a certificate, 401 without one elsewhere, certificates from a foreign CA or expired
refused at the handshake, a revoked one 401, bank-a kept from bank-b's balance while the
regulator reads it, and each of these in the node's audit trail."""

from __future__ import annotations

import hashlib
import json
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from jinqiao.client import Client, ClientError, Credentials
from jinqiao.client.signing import sign_request
from jinqiao.keys import load_key
from jinqiao.provision.network import (
    load_layout,
    make_client_certificate,
    make_organization_ca,
)
from tests.helpers.cluster import wait_for
from tests.helpers.process import NodeProcess, configured_node

pytestmark = pytest.mark.e2e


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write_credentials(
    directory: Path, certificate: x509.Certificate, key: ec.EllipticCurvePrivateKey, roots: Path
) -> Credentials:
    directory.mkdir(parents=True)
    (directory / "client.crt").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (directory / "client.key").write_bytes(_pem(key))
    return Credentials(directory / "client.crt", directory / "client.key", roots)


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, NodeProcess]]:
    directory = tmp_path_factory.mktemp("network")
    node = configured_node(directory)
    # bank-b-credit's certificate is revoked in the node's configuration before it starts.
    revoked_pem = (directory / "clients" / "bank-b-credit" / "client.crt").read_bytes()
    der = x509.load_pem_x509_certificate(revoked_pem).public_bytes(serialization.Encoding.DER)
    config_path = node.home / "config.json"
    config = json.loads(config_path.read_text())
    config["revoked_certificates"] = [hashlib.sha256(der).hexdigest()]
    config_path.write_text(json.dumps(config))
    node.start()
    try:
        yield directory, node
    finally:
        assert node.stop() == 0, node.log()


def _as(directory: Path, account: str) -> httpx.Client:
    return Credentials.for_account(directory, account).http_client(timeout=10)


def _anonymous(directory: Path) -> httpx.Client:
    roots = directory / "clients" / "bank-a-treasury" / "roots.pem"
    return httpx.Client(verify=ssl.create_default_context(cafile=str(roots)), timeout=10)


def test_public_routes_answer_without_a_certificate_and_others_need_one(
    network: tuple[Path, NodeProcess],
) -> None:
    directory, node = network
    with _anonymous(directory) as http:
        assert http.get(f"{node.url}/healthz").status_code == 200
        assert http.get(f"{node.url}/v1/genesis").status_code == 200
        for path in ("/v1/status", "/metrics", "/v1/blocks/latest", "/openapi.json"):
            answer = http.get(f"{node.url}{path}")
            assert answer.status_code == 401, path
            assert answer.json() == {
                "code": "unauthenticated",
                "message": "this route needs a client certificate or a request signature",
                "details": {},
            }


def test_a_foreign_ca_and_an_expired_certificate_are_refused_at_the_handshake(
    network: tuple[Path, NodeProcess], tmp_path: Path
) -> None:
    directory, node = network
    roots = directory / "clients" / "bank-a-treasury" / "roots.pem"
    foreign_key, foreign_root = make_organization_ca("bank-a")  # the name, not the key
    key, certificate = make_client_certificate(
        "bank-a-treasury", "bank-a", (), foreign_key, foreign_root
    )
    foreign = _write_credentials(tmp_path / "foreign", certificate, key, roots)
    ca_key = serialization.load_pem_private_key(
        (directory / "orgs" / "bank-a" / "tls-ca.key").read_bytes(), None
    )
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    ca = x509.load_pem_x509_certificate((directory / "orgs" / "bank-a" / "tls-ca.crt").read_bytes())
    key, certificate = make_client_certificate(
        "bank-a-treasury", "bank-a", (), ca_key, ca, valid_days=-1
    )
    expired = _write_credentials(tmp_path / "expired", certificate, key, roots)
    for credentials in (foreign, expired):
        with credentials.http_client(timeout=10) as http, pytest.raises(httpx.HTTPError):
            # TLS 1.3: the server's refusal arrives with the first read, not in the handshake call.
            http.get(f"{node.url}/v1/status")


def test_a_revoked_certificate_gets_401(network: tuple[Path, NodeProcess]) -> None:
    directory, node = network
    with _as(directory, "bank-b-credit") as http:
        answer = http.get(f"{node.url}/v1/status")
    assert (answer.status_code, answer.json()["code"]) == (401, "certificate_refused")
    with _as(directory, "bank-b-treasury") as http:
        assert http.get(f"{node.url}/v1/status").status_code == 200


def test_bank_a_cannot_read_bank_b_balance_or_statement_and_the_regulator_can(
    network: tuple[Path, NodeProcess],
) -> None:
    directory, node = network
    layout = load_layout(directory)
    bank_b = layout.account("bank-b-treasury").address
    balance = f"{node.url}/v1/token/CNY/balances/{bank_b}"
    statement = f"{node.url}/v1/payments/cycles/1/statements/bank-b"
    with _as(directory, "bank-a-treasury") as bank_a:
        for url in (balance, statement, f"{node.url}/v1/accounts/{bank_b}", f"{node.url}/metrics"):
            answer = bank_a.get(url)
            assert (answer.status_code, answer.json()["code"]) == (403, "forbidden"), url
    # The regulator and bank-b itself are let through to the route's own answer (on this fresh
    # network: no block yet to read the balance at, and no cycle 1).
    with _as(directory, "regulator-admin") as regulator, _as(directory, "bank-b-treasury") as own:
        for url in (balance, statement):
            answer = regulator.get(url)
            assert answer.json().get("code") != "forbidden", answer.text
            theirs = own.get(url)
            assert answer.status_code == theirs.status_code, (answer.text, theirs.text)


def test_the_sdk_authenticates_and_reports_a_refusal(network: tuple[Path, NodeProcess]) -> None:
    directory, node = network
    bank_b = bytes.fromhex(load_layout(directory).account("bank-b-treasury").address)
    with Client(
        node.url,
        genesis_file=directory / "genesis.json",
        credentials=Credentials.for_account(directory, "bank-a-treasury"),
    ) as client:
        assert client.status()["height"] >= 0
        with pytest.raises(ClientError) as refused:
            client.account(bank_b)
        assert (refused.value.code, refused.value.status) == ("forbidden", 403)


def test_the_attempts_are_in_the_audit_trail(network: tuple[Path, NodeProcess]) -> None:
    directory, node = network
    with _anonymous(directory) as http:
        http.get(f"{node.url}/v1/consensus")
    with _as(directory, "bank-a-treasury") as bank_a:
        bank_a.get(f"{node.url}/v1/payments/cycles/7/statements/bank-b")
    lines = b"".join(path.read_bytes() for path in sorted((node.home / "audit").glob("*.log")))
    bodies = [json.loads(line.split(b" ", 1)[1]) for line in lines.splitlines()]
    seen = {(b["identity"], b["organization"], b["route"], b["status"]) for b in bodies}
    assert ("", "", "/v1/consensus", 401) in seen
    statement = "/v1/payments/cycles/{cycle_id}/statements/{institution}"
    assert ("bank-a-treasury", "bank-a", statement, 403) in seen
    assert ("bank-b-credit", "bank-b", "/v1/status", 401) in seen


def test_the_cli_authenticates_as_the_account_named(network: tuple[Path, NodeProcess]) -> None:
    directory, node = network
    base = ["--network", str(directory), "--url", node.url]

    def run(*arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "jinqiao", *arguments, *base],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    other = run("payments", "statement", "7", "bank-b", "--as", "bank-a-treasury")
    assert other.returncode == 1 and "forbidden" in other.stderr, other.stderr
    own = run("payments", "statement", "7", "bank-b", "--as", "bank-b-treasury")
    assert own.returncode == 1 and "forbidden" not in own.stderr, own.stderr  # no cycle 7
    unknown = run("query", "status", "--as", "nobody")
    assert unknown.returncode == 1 and "no account named 'nobody'" in unknown.stderr


def test_the_sdk_signs_requests_with_an_account_key_instead(
    network: tuple[Path, NodeProcess],
) -> None:
    """RFC 9421 over the node's real TLS, without a client certificate: the SDK's signer."""
    directory, node = network
    roots = directory / "clients" / "bank-a-treasury" / "roots.pem"
    key = load_key(directory / "accounts" / "bank-a-treasury.json")
    bank_b = bytes.fromhex(load_layout(directory).account("bank-b-treasury").address)
    with Client(
        node.url, genesis_file=directory / "genesis.json", signer=key, roots_file=roots
    ) as client:
        assert client.status()["height"] >= 0
        with pytest.raises(ClientError) as refused:
            client.account(bank_b)
        assert (refused.value.code, refused.value.status) == ("forbidden", 403)
        # Its own account, proven: once the node has committed a block (empty ones come every 10 s).
        wait_for(lambda: int(client.status()["height"]) >= 1, 60, "a first block")
        assert client.account(key.address) is not None
    # The same signed request twice over TLS: the second is a replay.
    with _anonymous(directory) as http:
        request = http.build_request("GET", f"{node.url}/v1/status")
        sign_request(request, key, now_s=time.time())
        assert http.send(request).status_code == 200
        again = http.send(request)
    assert (again.status_code, again.json()["details"]["reason"]) == (401, "replayed")


def test_the_cli_signs_requests_with_sign_as(network: tuple[Path, NodeProcess]) -> None:
    directory, node = network
    base = ["--network", str(directory), "--url", node.url]

    def run(*arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "jinqiao", *arguments, *base],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    status = run("query", "status", "--sign-as", "bank-a-treasury", "--json")
    assert status.returncode == 0, status.stderr
    other = run("payments", "statement", "7", "bank-b", "--sign-as", "bank-a-treasury")
    assert other.returncode == 1 and "forbidden" in other.stderr, other.stderr
    both = run("query", "status", "--sign-as", "bank-a-treasury", "--as", "bank-a-treasury")
    assert both.returncode == 1 and "either with --as" in both.stderr, both.stderr
