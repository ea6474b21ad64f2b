"""``jinqiao approval``: run an institution's approval service, enroll its approvers, and send a
transfer that needs its second factor (docs/keys.md "Second factor", ADR 0043).

``serve`` and ``enroll`` act on the service's configuration file; ``transfer`` talks to a node
and to the service: it proposes the transfer as a pending approval, shows the summary the
service decoded, asks for the approver's TOTP code and lets the service co-sign on chain.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import pyotp
import typer
import uvicorn

from jinqiao.approval import create_app, load_config, new_totp_secret, open_service
from jinqiao.approval.ceremonies import open_enrolment
from jinqiao.approval.store import ApprovalStore, check_approver_name
from jinqiao.apps.registry import ProposeTransactionArgs
from jinqiao.apps.token import TOKEN, TransferArgs
from jinqiao.cli.common import (
    JsonOption,
    KeyOption,
    Target,
    guarded,
    report,
    report_outcome,
    with_submit_target,
)
from jinqiao.client import AccountKey
from jinqiao.client.approval import (
    ApprovalRequest,
    ApprovalServiceClient,
    ApprovalServiceSigner,
    SecondFactorAnswer,
    WebAuthnApprovalSigner,
    WebAuthnChallenge,
)
from jinqiao.core.codec import encode
from jinqiao.core.crypto import Signer
from jinqiao.core.errors import InvalidInput
from jinqiao.core.limits import MAX_APPROVAL_BLOCKS
from jinqiao.execution.identity import REGISTRY
from jinqiao.terminal import console, emit_json

approval_app = typer.Typer(
    help="The approval service: a second factor for what matters.", no_args_is_help=True
)

ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", help="The service's configuration file (TOML).")
]
ISSUER = "jinqiao"
SHUTDOWN_GRACE_S = 5
WEBAUTHN_WAIT_S = 660.0
"""How long ``transfer --webauthn`` waits for the browser: the longest ``challenge_ttl_s``, and
a minute."""


@approval_app.command("serve")
@guarded
def serve(config: ConfigOption) -> None:
    """Run the service (HTTPS when the configuration names a certificate) until stopped."""
    settings = load_config(config)
    service = open_service(settings)
    tls: dict[str, str] = {}
    if settings.tls_certificate is not None and settings.tls_key is not None:
        tls = {"ssl_certfile": str(settings.tls_certificate), "ssl_keyfile": str(settings.tls_key)}
    console.print(
        f"approval service for {settings.chain_id} on {settings.host}:{settings.port}, "
        f"key {service.signer.public_key.hex()}"
    )
    uvicorn.run(
        create_app(service),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        # an approver's browser keeps its connection open: stop waiting for it after a while
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
        **tls,  # type: ignore[arg-type]
    )


@approval_app.command("enroll")
@guarded
def enroll(
    config: ConfigOption,
    approver: Annotated[str, typer.Argument(help="The approver's name (no spaces).")],
    webauthn: Annotated[
        bool,
        typer.Option(
            "--webauthn", help="Print a one-time link enrolling a WebAuthn authenticator instead."
        ),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Give ``APPROVER`` a new TOTP secret and print its otpauth:// URI once, for the
    approver's authenticator app (re-enrolling replaces the old secret); with ``--webauthn``,
    print a one-time link the approver opens in a browser to enrol a security key or passkey
    (valid ``enrolment_ttl_s``; another link adds another authenticator)."""
    settings = load_config(config)
    check_approver_name(approver)  # before the state file is created
    if webauthn:
        if settings.webauthn is None:
            raise InvalidInput(f"{config} has no webauthn section (docs/keys.md)")
        store = ApprovalStore(settings.state_dir)
        try:
            link = open_enrolment(settings.webauthn, store, approver, time.time())
        finally:
            store.close()
        message = f"send {approver} this one-time link to enrol an authenticator:"
        _show(json_output, approver, "enrolment_url", link, message)
        return
    secret = new_totp_secret()
    store = ApprovalStore(settings.state_dir)
    try:
        store.enroll_totp(approver, secret)
    finally:
        store.close()
    uri = pyotp.TOTP(secret).provisioning_uri(name=approver, issuer_name=ISSUER)
    message = f"enrolled {approver}: add this to the approver's authenticator app"
    _show(json_output, approver, "otpauth_uri", uri, message)


def _show(json_output: bool, approver: str, name: str, value: str, message: str) -> None:
    if json_output:
        emit_json({"approver": approver, name: value})
    else:
        console.print(message)
        console.print(value, highlight=False)


@approval_app.command("transfer")
@guarded
@with_submit_target
def transfer(
    target: Target,
    recipient: Annotated[str, typer.Argument(help="Account name or address.")],
    amount_minor: Annotated[int, typer.Argument(min=1, help="Minor units (fen for CNY).")],
    key: KeyOption,
    service: Annotated[str, typer.Option("--service", help="The approval service's URL.")],
    approver: Annotated[str, typer.Option("--approver", help="The approver's name.")],
    asset: Annotated[str, typer.Option("--asset")] = "CNY",
    account: Annotated[
        str | None,
        typer.Option("--account", help="The account paying (default: the key's own address)."),
    ] = None,
    service_roots: Annotated[
        Path | None,
        typer.Option("--service-roots", help="CA certificate(s) of the service's TLS."),
    ] = None,
    code: Annotated[
        str | None,
        typer.Option("--code", help="The TOTP code (default: asked after the summary is shown)."),
    ] = None,
    expires_in_blocks: Annotated[
        int, typer.Option("--expires-in", min=1, max=MAX_APPROVAL_BLOCKS)
    ] = 100,
    webauthn: Annotated[
        bool,
        typer.Option(
            "--webauthn",
            help="Approve with the approver's WebAuthn authenticator: print the page to open "
            "and wait for the browser's answer (ADR 0052).",
        ),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Pay above an amount rule: propose the transfer as a pending approval, show what the
    service decoded, and let the service co-sign it once the approver's TOTP code checks out
    (or, with ``--webauthn``, once the approver has approved on the page printed)."""
    signer = target.key(key)
    if account is not None:
        signer = AccountKey(signer, target.address(account))
    call = encode(TransferArgs(asset, target.address(recipient), amount_minor))

    def show(request: ApprovalRequest) -> None:
        summary = request.summary
        if not json_output:
            console.print(
                f"approve {summary['contract']}.{summary['method']} of {summary['amount_minor']} "
                f"{summary['asset']} from {summary['sender']} to {summary['recipient']} "
                f"(approval {request.approval_hash})",
                highlight=False,
            )

    def second_factor(request: ApprovalRequest) -> SecondFactorAnswer:
        show(request)
        given = code if code is not None else typer.prompt(f"TOTP code of {approver}")
        return SecondFactorAnswer(approver, given.strip())

    def present(request: ApprovalRequest, challenge: WebAuthnChallenge) -> None:
        show(request)
        typer.echo(f"{approver}: open {challenge.page_url} to approve", err=True)

    with (
        target.client() as client,
        ApprovalServiceClient(service, roots_file=service_roots) as approvals,
    ):
        height = int(client.status()["height"])
        proposal_args = ProposeTransactionArgs(TOKEN, "transfer", call, height + expires_in_blocks)
        proposal = client.build(signer, REGISTRY, "propose_transaction", proposal_args)
        proposed = client.resend(proposal)
        if not proposed.ok:
            report(proposed, json_output)
            return
        request = approvals.request(proposal)
        cosigner: Signer = ApprovalServiceSigner(approvals, signer.address, second_factor)
        if webauthn:
            cosigner = WebAuthnApprovalSigner(
                approvals, signer.address, approver, present, timeout_s=WEBAUTHN_WAIT_S
            )
        report_outcome(
            lambda: client.keys.approve(cosigner, bytes.fromhex(request.approval_hash)),
            json_output,
            waited=target.wait,
        )
