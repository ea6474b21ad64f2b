"""The demo's treasury transfer with a second factor (docs/keys.md "Second factor").

bank-a's treasury gets an amount rule: above CNY 1,000,000 a transfer needs the key of bank-a's
approval service, which runs here as a real ``jinqiao approval serve`` process over HTTPS. A
transfer of CNY 1,500,000 sent alone is refused ``approval_required``; proposed as a pending
approval, it is shown to the approver as the service decoded it, a wrong code and then a replayed
code are refused, and it executes once the approver's valid TOTP code let the service co-sign.
"""

from __future__ import annotations

import contextlib
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pyotp

from jinqiao.approval import load_config
from jinqiao.approval.factors import new_totp_secret
from jinqiao.approval.store import ApprovalStore
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
from jinqiao.demo import DemoFailed
from jinqiao.execution.identity import REGISTRY, AmountRule, PolicyKey
from jinqiao.keys import InsecurePlaintext, generate_key, save_key
from jinqiao.terminal import console, format_minor

RULE_MINOR = 100_000_000  # CNY 1,000,000
TRANSFER_MINOR = 150_000_000
START_TIMEOUT_S = 30.0
APPROVER = "bank-a-cfo"


@contextlib.contextmanager
def _service(
    directory: Path, chain_id: str, port: int, tls: Path, service_key: Signer
) -> Iterator[tuple[subprocess.Popen[bytes], pyotp.TOTP]]:
    """A ``jinqiao approval serve`` process starting (not yet up: the caller waits when it needs
    it) with ``service_key`` (plaintext: a throwaway network) and one approver enrolled, whose
    authenticator is returned. It borrows a node's TLS certificate, issued by the consortium for
    127.0.0.1."""
    directory.mkdir(parents=True, exist_ok=True)
    save_key(directory / "key.json", service_key, InsecurePlaintext())
    (directory / "approval.toml").write_text(
        f'key = "key.json"\nstate_dir = "state"\nchain_id = "{chain_id}"\nport = {port}\n'
        f'tls_certificate = "{tls / "node.crt"}"\ntls_key = "{tls / "node.key"}"\n'
    )
    authenticator = _enroll(directory)
    with (directory / "service.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "jinqiao", "approval", "serve", "-c", "approval.toml"],
            cwd=directory,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield process, authenticator
        finally:
            process.terminate()
            process.wait(timeout=30)


def _wait_until_up(process: subprocess.Popen[bytes], url: str, roots: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    with httpx.Client(verify=ssl.create_default_context(cafile=roots), timeout=1.0) as probe:
        while process.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if probe.get(f"{url}/healthz").status_code == 200:
                    return
            time.sleep(0.1)
    raise DemoFailed(f"the approval service at {url} did not start (exit {process.poll()})")


def _enroll(directory: Path) -> pyotp.TOTP:
    secret = new_totp_secret()
    store = ApprovalStore(load_config(directory / "approval.toml").state_dir)
    try:
        store.enroll_totp(APPROVER, secret)
    finally:
        store.close()
    return pyotp.TOTP(secret)


def run_second_factor_story(
    client: Client,
    key: Callable[[str], Signer],
    chain_id: str,
    directory: Path,
    *,
    port: int,
    tls: Path,
) -> None:
    console.rule("a treasury transfer with a second factor")
    treasury, payee = key("bank-a-treasury"), key("bank-b-treasury").address
    service_key = generate_key()
    with _service(directory, chain_id, port, tls, service_key) as (process, authenticator):
        if client.token.balance("CNY", treasury.address) < TRANSFER_MINOR:
            _check(
                client.token.mint(
                    key("clearing-treasury"), "CNY", treasury.address, TRANSFER_MINOR
                ).ok
            )
        rule = AmountRule("CNY", RULE_MINOR, service_key.public_key)
        _check(
            client.keys.set_policy(treasury, (PolicyKey(treasury.public_key, 1),), 1, (rule,)).ok
        )
        console.print(
            f"bank-a-treasury's policy: above CNY {format_minor(RULE_MINOR, 2)} its "
            f"approval service co-signs (key {service_key.public_key.hex()[:16]}…)"
        )
        try:
            client.token.transfer(treasury, "CNY", payee, TRANSFER_MINOR)
            raise DemoFailed("a transfer above the rule went through without the service")
        except TransactionRefused as refused:
            console.print(f"sent alone: [red]refused[/] {refused.code} (nothing changed)")
        url, roots = f"https://127.0.0.1:{port}", tls / "roots.pem"
        _wait_until_up(process, url, roots)
        with ApprovalServiceClient(url, roots_file=roots) as service:
            _approve_with_codes(client, service, treasury, payee, authenticator)


def _approve_with_codes(
    client: Client,
    service: ApprovalServiceClient,
    treasury: Signer,
    payee: bytes,
    authenticator: pyotp.TOTP,
) -> None:
    before = client.token.balance("CNY", payee)
    request = service.request(_propose(client, treasury, payee))
    summary = request.summary
    console.print(
        f"the approver's screen: {summary['contract']}.{summary['method']} "
        f"CNY {format_minor(summary['amount_minor'], 2)} from {summary['sender']} "
        f"to {summary['recipient']}"
    )
    approval_hash = bytes.fromhex(request.approval_hash)
    code = authenticator.now()
    _refused(client, service, treasury, approval_hash, f"{(int(code) + 1) % 1_000_000:06d}")
    approved = client.keys.approve(_signer(service, treasury, code), approval_hash)
    _check(approved.ok and client.token.balance("CNY", payee) == before + TRANSFER_MINOR)
    console.print(
        f"the right code: [green]approved[/], the transfer ran in block {approved.height}"
    )
    # the same code for a second transfer (refused before anything is sent)
    second = service.request(_propose(client, treasury, payee, submit=False))
    _refused(client, service, treasury, bytes.fromhex(second.approval_hash), code)
    _check(client.token.balance("CNY", payee) == before + TRANSFER_MINOR)


def _propose(
    client: Client, treasury: Signer, payee: bytes, *, submit: bool = True
) -> SignedTransaction:
    call = encode(TransferArgs("CNY", payee, TRANSFER_MINOR))
    expires = int(client.status()["height"]) + 100
    args = ProposeTransactionArgs(TOKEN, "transfer", call, expires)
    proposal = client.build(treasury, REGISTRY, "propose_transaction", args)
    if submit:
        _check(client.resend(proposal).ok)
    return proposal


def _signer(service: ApprovalServiceClient, treasury: Signer, code: str) -> ApprovalServiceSigner:
    answer = SecondFactorAnswer(APPROVER, code)
    return ApprovalServiceSigner(service, treasury.address, lambda _request: answer)


def _refused(
    client: Client,
    service: ApprovalServiceClient,
    treasury: Signer,
    approval_hash: bytes,
    code: str,
) -> None:
    try:
        client.keys.approve(_signer(service, treasury, code), approval_hash)
    except ClientError as refused:
        console.print(f"code {code}: [red]refused[/] {refused.code} (nothing changed)")
        return
    raise DemoFailed(f"the service accepted code {code}, which it must refuse")


def _check(condition: bool) -> None:
    if not condition:
        raise DemoFailed("the second-factor story went wrong")
