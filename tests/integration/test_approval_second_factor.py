"""A second factor on a real node (docs/keys.md "Second factor", ADR 0043): a treasury whose
policy names the approval service's key above CNY 1,000,000 cannot pay that much alone; the
transfer, proposed as a pending approval, executes once the service — a real ``jinqiao approval
serve`` process over TLS — has approved it after a valid TOTP code. A wrong code and a replayed
code are refused with their stable codes and change nothing; the CLI does the same in one
command."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pyotp
import pytest

from jinqiao.apps.registry import ProposeTransactionArgs
from jinqiao.apps.token import TOKEN, TransferArgs
from jinqiao.client import Client, ClientError, TransactionRefused
from jinqiao.client.approval import (
    ApprovalServiceClient,
    ApprovalServiceSigner,
    SecondFactorAnswer,
)
from jinqiao.core.codec import encode
from jinqiao.core.crypto import Signer
from jinqiao.core.types import SignedTransaction
from jinqiao.execution.identity import REGISTRY, AmountRule, PolicyKey
from jinqiao.keys import InsecurePlaintext, generate_key, save_key
from jinqiao.provision.network import load_layout
from tests.helpers.process import free_port
from tests.integration.test_signing_policies import funded_treasury, invoke

pytestmark = pytest.mark.e2e

THRESHOLD_MINOR = 100_000_000  # CNY 1,000,000 in fen
TREASURY_MINOR = 1_000_000_000
START_TIMEOUT_S = 60.0


class Service:
    def __init__(self, directory: Path, network: Path) -> None:
        layout = load_layout(network)
        tls = network / layout.nodes[0].home / "tls"
        self.directory = directory
        directory.mkdir()
        self.key = generate_key()
        save_key(directory / "key.json", self.key, InsecurePlaintext())
        self.port = free_port()
        self.config = directory / "approval.toml"
        self.config.write_text(
            f'key = "key.json"\nstate_dir = "state"\nchain_id = "{layout.chain_id}"\n'
            f"port = {self.port}\n"
            f'tls_certificate = "{tls / "node.crt"}"\ntls_key = "{tls / "node.key"}"\n'
        )
        self.roots = tls / "roots.pem"
        self.url = f"https://127.0.0.1:{self.port}"

    def enroll(self, approver: str) -> pyotp.TOTP:
        code, out, err = invoke(
            "approval", "enroll", "--config", str(self.config), approver, "--json"
        )
        assert code == 0, err
        return pyotp.parse_uri(json.loads(out)["otpauth_uri"])  # type: ignore[no-any-return]

    @contextmanager
    def running(self) -> Iterator[ApprovalServiceClient]:
        log = (self.directory / "service.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "jinqiao", "approval", "serve", "--config", str(self.config)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait_until_up(process)
            with ApprovalServiceClient(self.url, roots_file=self.roots) as client:
                yield client
        finally:
            process.terminate()
            process.wait(timeout=30)
            log.close()

    def audit(self) -> bytes:
        """The service's audit log, every segment."""
        return b"".join(
            path.read_bytes() for path in (self.directory / "state" / "audit").iterdir()
        )

    def _wait_until_up(self, process: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        roots = ssl.create_default_context(cafile=self.roots)
        with httpx.Client(verify=roots, timeout=1.0) as probe:
            while True:
                assert process.poll() is None, (self.directory / "service.log").read_text()
                try:
                    if probe.get(f"{self.url}/healthz").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "the approval service did not start"
                time.sleep(0.1)


def _propose(client: Client, owner: Signer, payee: bytes, amount_minor: int) -> SignedTransaction:
    """The committed proposing transaction of a pending approval of a transfer."""
    call = encode(TransferArgs("CNY", payee, amount_minor))
    args = ProposeTransactionArgs(TOKEN, "transfer", call, client.status()["height"] + 100)
    proposal = client.build(owner, REGISTRY, "propose_transaction", args)
    assert client.resend(proposal).ok
    return proposal


def _balances(client: Client, *addresses: bytes) -> list[int]:
    return [client.token.balance("CNY", address) for address in addresses]


def test_a_treasury_transfer_needs_the_service_and_a_valid_code(tmp_path: Path) -> None:
    network = tmp_path / "net"
    with funded_treasury(network, TREASURY_MINOR) as treasury:
        client, owner, payee = treasury.client, treasury.owner, treasury.payee
        service = Service(tmp_path / "approval", network)
        alice = service.enroll("alice")
        rule = AmountRule("CNY", THRESHOLD_MINOR, service.key.public_key)
        assert client.keys.set_policy(owner, (PolicyKey(owner.public_key, 1),), 1, (rule,)).ok
        before = _balances(client, owner.address, payee)

        with pytest.raises(TransactionRefused) as refused:
            client.token.transfer(owner, "CNY", payee, 150_000_000)
        assert refused.value.code == "approval_required"
        assert _balances(client, owner.address, payee) == before

        with service.running() as approvals:
            request = approvals.request(_propose(client, owner, payee, 150_000_000))
            summary = request.summary
            assert (summary["amount_minor"], summary["asset"]) == (150_000_000, "CNY")
            assert (summary["sender"], summary["recipient"]) == (owner.address.hex(), payee.hex())
            approval_hash = bytes.fromhex(request.approval_hash)
            good = alice.now()
            wrong = f"{(int(good) + 1) % 1_000_000:06d}"

            def signer(code: str) -> ApprovalServiceSigner:
                answer = SecondFactorAnswer("alice", code)
                return ApprovalServiceSigner(approvals, owner.address, lambda _request: answer)

            with pytest.raises(ClientError) as wrong_code:
                client.keys.approve(signer(wrong), approval_hash)
            assert (wrong_code.value.code, wrong_code.value.status) == ("code_invalid", 401)
            assert _balances(client, owner.address, payee) == before

            approved = client.keys.approve(signer(good), approval_hash)
            assert approved.ok, approved.code
            paid = [before[0] - 150_000_000, before[1] + 150_000_000]
            assert _balances(client, owner.address, payee) == paid
            events = [event.name for event in approved.receipt.events]
            assert "ApprovalExecuted" in events

            second = _propose(client, owner, payee, 120_000_000)
            second_hash = bytes.fromhex(approvals.request(second).approval_hash)
            with pytest.raises(ClientError) as replayed:
                client.keys.approve(signer(good), second_hash)
            assert replayed.value.code == "code_replayed"
            assert _balances(client, owner.address, payee) == paid

            # the CLI in one command, for another approver (a code of their own)
            bob = service.enroll("bob")
            net = ["--network", str(network), "--url", treasury.url, "--key", "bank-a-treasury"]
            serve = ["--service", service.url, "--service-roots", str(service.roots)]
            command = ["approval", "transfer", "bank-b-treasury", "110000000", *net, *serve]
            code, out, err = invoke(*command, "--approver", "bob", "--code", good, "--json")
            assert code == 1 and "code_invalid" in err, out + err
            code, out, err = invoke(*command, "--approver", "bob", "--code", bob.now(), "--json")
            assert code == 0, out + err
            assert json.loads(out)["status"] == "ok", out
            assert _balances(client, owner.address, payee) == [
                paid[0] - 110_000_000,
                paid[1] + 110_000_000,
            ]
        audit = service.audit()
        assert audit.count(b'"REFUSE"') == 3 and audit.count(b'"APPROVE"') == 2
