"""WebAuthn approvals in a real browser (ADR 0052, docs/keys.md "Second factor"): Debian's Chromium
with its DevTools virtual authenticator (CTAP2, internal, user verification) enrols through the
one-time link ``jinqiao approval enroll --webauthn`` prints, and approves, on the service's own
page over HTTPS, a treasury transfer above the account's amount rule on a real node; the transfer
executes. A second approval, for a different transaction, answered with the first challenge is
refused (``challenge_mismatch``) and uses nothing: the honest answer then approves it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, CDPSession, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from jinqiao.approval import ApprovalStore
from jinqiao.client.approval import ApprovalRequest, WebAuthnApprovalSigner, WebAuthnChallenge
from jinqiao.execution.identity import AmountRule, PolicyKey
from tests.integration.test_approval_second_factor import (
    THRESHOLD_MINOR,
    TREASURY_MINOR,
    Service,
    _balances,
    _propose,
)
from tests.integration.test_signing_policies import funded_treasury, invoke

pytestmark = pytest.mark.e2e

APPROVER = "carol"
WAIT_MS = 30_000
AUTHENTICATOR = {
    "protocol": "ctap2",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
    "automaticPresenceSimulation": True,
}
# What a page that lies would run: the authenticator asked to sign another challenge than the
# one the service gave for this transaction, and the answer posted for this transaction.
ANSWER_WITH_ANOTHER_CHALLENGE = """async ([challengeId, otherChallenge]) => {
  const path = `/v1/challenges/${challengeId}`;
  const view = await (await fetch(path)).json();
  const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(
    {...view.publicKey, challenge: otherChallenge});
  const credential = await navigator.credentials.get({publicKey});
  const response = await fetch(`${path}/assertion`, {method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({credential: credential.toJSON()})});
  return [response.status, (await response.json()).code];
}"""


@pytest.fixture
def approver_page(browser: Browser) -> Iterator[tuple[Page, CDPSession, str]]:
    """A browser profile with a virtual authenticator. The service's certificate is issued by
    the test network's root, which this throwaway profile does not hold."""
    context = browser.new_context(ignore_https_errors=True)
    page = context.new_page()
    devtools = context.new_cdp_session(page)
    devtools.send("WebAuthn.enable")
    added = devtools.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})
    yield page, devtools, str(added["authenticatorId"])
    context.close()


def _wait_for_status(page: Page, words: str) -> str:
    status = page.locator("#status")
    try:
        status.filter(has_text=words).wait_for(timeout=WAIT_MS)
    except PlaywrightTimeout:
        raise AssertionError(f"the page says {status.text_content()!r}, not {words!r}") from None
    return str(status.text_content())


def _transfer_from_the_cli(
    network: Path, url: str, service: Service, page: Page, amount_minor: int
) -> dict[str, Any]:
    """``jinqiao approval transfer --webauthn`` as a process: it prints the page to open on
    stderr and waits; the approver opens it and approves; the command submits and exits."""
    command = [
        *(sys.executable, "-m", "jinqiao", "approval", "transfer", "bank-b-treasury"),
        *(str(amount_minor), "--network", str(network), "--url", url, "--key", "bank-a-treasury"),
        *("--service", service.url, "--service-roots", str(service.roots)),
        *("--approver", APPROVER, "--webauthn", "--json"),
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8"
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        assert f"{APPROVER}: open " in line, line + process.stderr.read()
        page.goto(line.split(" open ", 1)[1].split(" ", 1)[0])
        _wait_for_status(page, "Check every line above")
        assert str(amount_minor) in page.locator("#summary").inner_text()
        page.click("#act")
        _wait_for_status(page, f"Approved by {APPROVER}")
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, out + err
    return dict(json.loads(out))


def test_an_approver_enrols_and_approves_a_transfer_in_chromium(
    tmp_path: Path, approver_page: tuple[Page, CDPSession, str]
) -> None:
    page, devtools, authenticator_id = approver_page
    network = tmp_path / "net"
    with funded_treasury(network, TREASURY_MINOR) as treasury:
        client, owner, payee = treasury.client, treasury.owner, treasury.payee
        service = Service(tmp_path / "approval", network)
        origin = f"https://localhost:{service.port}"
        service.config.write_text(
            service.config.read_text() + f'[webauthn]\nrp_id = "localhost"\norigin = "{origin}"\n'
        )
        rule = AmountRule("CNY", THRESHOLD_MINOR, service.key.public_key)
        assert client.keys.set_policy(owner, (PolicyKey(owner.public_key, 1),), 1, (rule,)).ok
        command = ["approval", "enroll", "--config", str(service.config), APPROVER, "--webauthn"]
        code, out, err = invoke(*command, "--json")
        assert code == 0, err
        link = json.loads(out)["enrolment_url"]
        assert link.startswith(f"{origin}/webauthn/enroll#")
        before = _balances(client, owner.address, payee)

        with service.running() as approvals:
            page.goto(link)
            _wait_for_status(page, "Press the button")
            assert page.locator("#approver").text_content() == APPROVER
            page.click("#act")
            _wait_for_status(page, f"Enrolled an authenticator for {APPROVER}")

            first_challenge: list[str] = []

            def approve_in_browser(request: ApprovalRequest, challenge: WebAuthnChallenge) -> None:
                page.goto(challenge.page_url)
                _wait_for_status(page, "Check every line above")
                shown = page.locator("#summary").inner_text()
                summary = request.summary
                for value in (summary["amount_minor"], summary["recipient"], request.approval_hash):
                    assert str(value) in shown, (value, shown)
                view = approvals.challenge(challenge.challenge_id)
                if first_challenge:  # the page of this transaction, answered with the first one
                    lied = page.evaluate(
                        ANSWER_WITH_ANOTHER_CHALLENGE, [challenge.challenge_id, first_challenge[0]]
                    )
                    assert lied == [401, "challenge_mismatch"], lied
                    assert approvals.challenge(challenge.challenge_id)["status"] == "waiting"
                first_challenge.append(view["publicKey"]["challenge"])
                page.click("#act")
                _wait_for_status(page, f"Approved by {APPROVER}")

            signer = WebAuthnApprovalSigner(
                approvals, owner.address, APPROVER, approve_in_browser, timeout_s=60
            )
            first = approvals.request(_propose(client, owner, payee, 150_000_000))
            approved = client.keys.approve(signer, bytes.fromhex(first.approval_hash))
            assert approved.ok, approved.code
            paid = [before[0] - 150_000_000, before[1] + 150_000_000]
            assert _balances(client, owner.address, payee) == paid

            second = approvals.request(_propose(client, owner, payee, 120_000_000))
            assert client.keys.approve(signer, bytes.fromhex(second.approval_hash)).ok
            paid = [paid[0] - 120_000_000, paid[1] + 120_000_000]
            assert _balances(client, owner.address, payee) == paid

            outcome = _transfer_from_the_cli(network, treasury.url, service, page, 110_000_000)
            assert outcome["status"] == "ok", outcome
            paid = [paid[0] - 110_000_000, paid[1] + 110_000_000]
            assert _balances(client, owner.address, payee) == paid
        audit = service.audit()
        assert audit.count(b'"APPROVE"') == 3 and audit.count(b'"REFUSE"') == 1
        # the service kept the authenticator's counter (it grew with every assertion, the
        # refused one included)
        held = devtools.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})
        [credential] = held["credentials"]
        store = ApprovalStore(service.directory / "state")
        try:
            [enrolled] = store.credentials(APPROVER)
        finally:
            store.close()
        assert enrolled.sign_count == credential["signCount"] >= 4
