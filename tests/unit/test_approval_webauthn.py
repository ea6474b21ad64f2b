"""The approval service's WebAuthn factor (ADR 0052, docs/keys.md "Second factor") with real
py_webauthn verification, real P-256 assertions (``tests.helpers.authenticator``), real SQLite
state and audit log: the challenge is bound to one approval, its summary and its approving
transaction; a challenge is used once and expires; wrong origin, rpId, user verification,
counter or credential are refused with their codes, sign nothing, use nothing and count towards
the lock-out."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from jinqiao.approval import (
    ApprovalRefused,
    ApprovalStore,
    Limits,
    WebAuthnSettings,
    create_app,
    load_config,
)
from jinqiao.approval.passkeys import derive_challenge
from jinqiao.cli.main import app
from jinqiao.client import (
    ApprovalRequest,
    ApprovalServiceClient,
    ClientError,
    WebAuthnApprovalSigner,
    WebAuthnChallenge,
)
from jinqiao.core.codec import encode
from jinqiao.core.errors import InvalidInput
from jinqiao.core.hashing import transaction_signing_bytes
from jinqiao.core.types import TransactionBody
from tests.helpers.authenticator import SoftAuthenticator, base64url
from tests.unit.test_approval_client import service_transport
from tests.unit.test_approval_service import SENDER, Harness

ORIGIN = "https://approvals.bank-a.example:8600"
RP_ID = "approvals.bank-a.example"
SETTINGS = WebAuthnSettings(rp_id=RP_ID, origin=ORIGIN)


class WebAuthnHarness(Harness):
    def __init__(self, directory: Path, limits: Limits) -> None:
        super().__init__(directory, limits)
        self.service.config = dataclasses.replace(self.service.config, webauthn=SETTINGS)
        self.ceremonies = self.service.webauthn
        self.authenticator = SoftAuthenticator(ORIGIN, RP_ID)
        self.enrol("bob", self.authenticator)

    def enrol(self, name: str, authenticator: SoftAuthenticator) -> None:
        token = self.ceremonies.open_enrolment(name).split("#", 1)[1]
        options = self.ceremonies.enrolment_options(token)
        assert options["approver"] == name
        self.ceremonies.register(token, authenticator.create(options["publicKey"]))

    def challenge(self, approval_hash: bytes, approving: TransactionBody) -> str:
        opened = self.ceremonies.open_challenge(approval_hash, "bob", encode(approving))
        return str(opened["challenge_id"])

    def options(self, challenge_id: str) -> dict[str, Any]:
        view = self.ceremonies.view(challenge_id)
        assert view["status"] == "waiting", view
        return dict(view["publicKey"])

    def answer_refused(self, challenge_id: str, credential: dict[str, Any]) -> ApprovalRefused:
        with pytest.raises(ApprovalRefused) as refused:
            self.ceremonies.answer(challenge_id, credential)
        return refused.value


@pytest.fixture
def webauthn(tmp_path: Path) -> Iterator[WebAuthnHarness]:
    made = WebAuthnHarness(tmp_path, Limits(max_failures=3, lockout_s=60))
    yield made
    made.store.close()


def test_the_challenge_is_bound_to_hash_summary_and_approving_transaction() -> None:
    summary = {"approval_hash": "ab" * 32, "amount_minor": 150_000_000, "asset": "CNY"}
    nonce = bytes(range(32))
    base = derive_challenge(bytes(32), summary, b"approving", nonce)
    assert base == derive_challenge(bytes(32), dict(summary), b"approving", nonce)
    assert len(base) == 32
    others = [
        derive_challenge(bytes(31) + b"\x01", summary, b"approving", nonce),
        derive_challenge(bytes(32), summary | {"amount_minor": 150_000_001}, b"approving", nonce),
        derive_challenge(bytes(32), summary, b"approving!", nonce),
        derive_challenge(bytes(32), summary, b"approving", bytes(32)),
    ]
    assert base not in others and len(set(others)) == len(others)


def test_an_assertion_approves_its_transaction_and_is_logged(webauthn: WebAuthnHarness) -> None:
    approval_hash, approving = webauthn.requested()
    challenge_id = webauthn.challenge(approval_hash, approving)
    view = webauthn.ceremonies.view(challenge_id)
    assert view["summary"]["amount_minor"] == 150_000_000 and view["approver"] == "bob"
    options = view["publicKey"]
    assert (options["rpId"], options["userVerification"]) == (RP_ID, "required")
    assertion = webauthn.authenticator.get(options)
    answer = webauthn.ceremonies.answer(challenge_id, assertion)
    signature = bytes.fromhex(str(answer["signature"]))
    assert webauthn.key.suite.verify(
        webauthn.key.public_key, transaction_signing_bytes(approving), signature
    )
    collected = webauthn.ceremonies.view(challenge_id)
    assert (collected["status"], collected["signature"]) == ("approved", signature.hex())
    assert "publicKey" not in collected
    methods = [method for method, _route, _status in webauthn.audit()]
    assert methods == ["ENROL", "ENROL", "REQUEST", "CHALLENGE", "APPROVE"]
    # the challenge was used: the same assertion (a replay) and a fresh one are refused
    assert webauthn.answer_refused(challenge_id, assertion).code == "challenge_used"
    fresh = webauthn.authenticator.get(options)
    assert webauthn.answer_refused(challenge_id, fresh).code == "challenge_used"


def test_an_assertion_for_another_transaction_is_refused(webauthn: WebAuthnHarness) -> None:
    first_hash, first = webauthn.requested()
    second_hash, second = webauthn.requested(amount_minor=990_000_000)
    first_challenge = webauthn.challenge(first_hash, first)
    second_challenge = webauthn.challenge(second_hash, second)
    made_for_first = webauthn.authenticator.get(webauthn.options(first_challenge))
    refused = webauthn.answer_refused(second_challenge, made_for_first)
    assert (refused.code, refused.status) == ("challenge_mismatch", 401)
    # the page of the second transaction asking the authenticator for the first one's challenge
    second_options = webauthn.options(second_challenge)
    first_options = webauthn.options(first_challenge)
    lying_page = webauthn.authenticator.get(second_options, challenge=first_options["challenge"])
    assert webauthn.answer_refused(second_challenge, lying_page).code == "challenge_mismatch"
    assert webauthn.ceremonies.view(second_challenge)["status"] == "waiting"
    # nothing was used up: the first assertion still approves the first transaction only
    webauthn.ceremonies.answer(first_challenge, made_for_first)
    assert webauthn.store.approver("bob").failures == 0  # type: ignore[union-attr]
    approving_for_other = webauthn.approving(webauthn.proposal())
    wrong = webauthn.ceremonies.open_challenge
    with pytest.raises(ApprovalRefused) as mismatched:
        wrong(second_hash, "bob", encode(approving_for_other))
    assert mismatched.value.code == "wrong_transaction"


def test_a_challenge_expires(webauthn: WebAuthnHarness) -> None:
    approval_hash, approving = webauthn.requested()
    challenge_id = webauthn.challenge(approval_hash, approving)
    assertion = webauthn.authenticator.get(webauthn.options(challenge_id))
    webauthn.clock.now_s += Limits().challenge_ttl_s + 1
    assert webauthn.ceremonies.view(challenge_id)["status"] == "expired"
    refused = webauthn.answer_refused(challenge_id, assertion)
    assert (refused.code, refused.status) == ("challenge_expired", 410)
    assert webauthn.answer_refused("x" * 32, assertion).code == "challenge_not_found"
    fresh = webauthn.challenge(approval_hash, approving)  # a new one works
    webauthn.ceremonies.answer(fresh, webauthn.authenticator.get(webauthn.options(fresh)))


def test_a_counter_that_does_not_grow_is_refused(webauthn: WebAuthnHarness) -> None:
    clone = webauthn.authenticator.clone()
    approval_hash, approving = webauthn.requested()
    challenge_id = webauthn.challenge(approval_hash, approving)
    webauthn.ceremonies.answer(
        challenge_id, webauthn.authenticator.get(webauthn.options(challenge_id))
    )
    next_hash, next_approving = webauthn.requested()
    next_challenge = webauthn.challenge(next_hash, next_approving)
    refused = webauthn.answer_refused(next_challenge, clone.get(webauthn.options(next_challenge)))
    assert (refused.code, refused.details["last_sign_count"]) == ("counter_not_increasing", 1)
    stuck = webauthn.authenticator.get(webauthn.options(next_challenge), counter_step=0)
    assert webauthn.answer_refused(next_challenge, stuck).code == "counter_not_increasing"
    assert webauthn.ceremonies.view(next_challenge)["status"] == "waiting"


def test_an_authenticator_without_a_counter_cannot_approve(webauthn: WebAuthnHarness) -> None:
    # py_webauthn lets 0 after 0 through (authenticators that keep no counter); the service not
    approval_hash, approving = webauthn.requested()
    challenge_id = webauthn.challenge(approval_hash, approving)
    no_counter = webauthn.authenticator.get(webauthn.options(challenge_id), counter_step=0)
    refused = webauthn.answer_refused(challenge_id, no_counter)
    assert (refused.code, refused.details["last_sign_count"]) == ("counter_not_increasing", 0)


@pytest.mark.parametrize(
    ("lie", "reason"),
    [
        ({"origin": "https://evil.example:8600"}, "origin"),
        ({"rp_id": "evil.example"}, "RP ID"),
        ({"user_verified": False}, "verif"),
    ],
)
def test_wrong_origin_rp_id_or_no_user_verification_is_refused(
    webauthn: WebAuthnHarness, lie: dict[str, Any], reason: str
) -> None:
    approval_hash, approving = webauthn.requested()
    challenge_id = webauthn.challenge(approval_hash, approving)
    refused = webauthn.answer_refused(
        challenge_id, webauthn.authenticator.get(webauthn.options(challenge_id), **lie)
    )
    assert (refused.code, refused.status) == ("assertion_invalid", 401)
    assert reason in refused.message
    assert webauthn.store.approver("bob").failures == 1  # type: ignore[union-attr]


def test_other_authenticators_and_bad_signatures_count_towards_the_lock_out(
    webauthn: WebAuthnHarness,
) -> None:
    approval_hash, approving = webauthn.requested()
    challenge_id = webauthn.challenge(approval_hash, approving)
    options = webauthn.options(challenge_id)
    stranger = SoftAuthenticator(ORIGIN, RP_ID)
    assert webauthn.answer_refused(challenge_id, stranger.get(options)).code == (
        "unknown_credential"
    )
    forged = webauthn.authenticator.get(options)
    forged["response"]["signature"] = stranger.get(options)["response"]["signature"]
    assert webauthn.answer_refused(challenge_id, forged).code == "assertion_invalid"
    locking = webauthn.answer_refused(challenge_id, {"id": "x"})
    assert (locking.code, locking.details.get("locked_out")) == ("assertion_invalid", True)
    good = webauthn.authenticator.get(options)
    assert webauthn.answer_refused(challenge_id, good).code == "approver_locked"
    webauthn.clock.now_s += 61
    fresh = webauthn.challenge(approval_hash, approving)
    webauthn.ceremonies.answer(fresh, webauthn.authenticator.get(webauthn.options(fresh)))


def test_enrolment_links_are_single_use_and_expire(webauthn: WebAuthnHarness) -> None:
    ceremonies = webauthn.ceremonies
    token = ceremonies.open_enrolment("carol").split("#", 1)[1]
    authenticator = SoftAuthenticator(ORIGIN, RP_ID)
    with pytest.raises(ApprovalRefused) as early:
        ceremonies.register(token, authenticator.create({"challenge": "AA", "rp": {"id": RP_ID}}))
    assert early.value.code == "registration_invalid"
    options = ceremonies.enrolment_options(token)["publicKey"]
    wrong_origin = SoftAuthenticator("https://evil.example", RP_ID).create(options)
    with pytest.raises(ApprovalRefused) as refused:
        ceremonies.register(token, wrong_origin)
    assert refused.value.code == "registration_invalid"
    ceremonies.register(token, authenticator.create(options))
    with pytest.raises(ApprovalRefused) as reused:
        ceremonies.enrolment_options(token)
    assert reused.value.code == "enrolment_not_found"
    late = ceremonies.open_enrolment("dave").split("#", 1)[1]
    webauthn.clock.now_s += Limits().enrolment_ttl_s + 1
    with pytest.raises(ApprovalRefused) as expired:
        ceremonies.enrolment_options(late)
    assert expired.value.code == "enrolment_expired"
    assert [item.credential_id for item in webauthn.store.credentials("carol")] == [
        authenticator.credential_id
    ]
    # the same authenticator again (a client that ignores excludeCredentials), for anyone
    for name in ("carol", "erin"):
        again = ceremonies.open_enrolment(name).split("#", 1)[1]
        options = ceremonies.enrolment_options(again)["publicKey"]
        with pytest.raises(ApprovalRefused) as duplicate:
            ceremonies.register(again, authenticator.create(options))
        assert duplicate.value.code == "registration_invalid"


def test_each_factor_needs_its_own_enrolment(webauthn: WebAuthnHarness) -> None:
    approval_hash, approving = webauthn.requested()
    with pytest.raises(ApprovalRefused) as no_authenticator:
        webauthn.ceremonies.open_challenge(approval_hash, "alice", encode(approving))
    assert no_authenticator.value.code == "factor_not_enrolled"
    with pytest.raises(ApprovalRefused) as no_secret:
        webauthn.service.approve(approval_hash, "bob", webauthn.code(), encode(approving))
    assert no_secret.value.code == "factor_not_enrolled"


def test_without_a_webauthn_section_the_service_says_so(tmp_path: Path) -> None:
    harness = Harness(tmp_path, Limits())
    with pytest.raises(ApprovalRefused) as refused:
        harness.service.webauthn.open_enrolment("bob")
    assert (refused.value.code, refused.value.status) == ("webauthn_not_configured", 404)
    harness.store.close()


def test_the_http_api_runs_both_ceremonies(webauthn: WebAuthnHarness) -> None:
    transport = httpx.ASGITransport(app=create_app(webauthn.service))
    carol = SoftAuthenticator(ORIGIN, RP_ID)
    token = webauthn.ceremonies.open_enrolment("carol").split("#", 1)[1]
    proposal = webauthn.proposal()
    approving = encode(webauthn.approving(proposal)).hex()

    async def exchanges() -> dict[str, httpx.Response]:
        answers: dict[str, httpx.Response] = {}
        async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as http:
            answers["page"] = await http.get("/webauthn/approve")
            answers["script"] = await http.get("/webauthn/pages.js")
            answers["other_page"] = await http.get("/webauthn/other")
            options = await http.post("/v1/webauthn/enrolments/options", json={"token": token})
            credential = carol.create(options.json()["publicKey"])
            enrol = {"token": token, "credential": credential}
            answers["enrol"] = await http.post("/v1/webauthn/enrolments", json=enrol)
            answers["enrol_again"] = await http.post("/v1/webauthn/enrolments", json=enrol)
            request = await http.post("/v1/approvals", json={"transaction": encode(proposal).hex()})
            approval_hash = request.json()["approval_hash"]
            body = {"approver": "carol", "transaction": approving}
            opened = await http.post(f"/v1/approvals/{approval_hash}/challenges", json=body)
            answers["challenge"] = opened
            path = f"/v1/challenges/{opened.json()['challenge_id']}"
            view = await http.get(path)
            assertion = {"credential": carol.get(view.json()["publicKey"])}
            answers["approve"] = await http.post(f"{path}/assertion", json=assertion)
            answers["again"] = await http.post(f"{path}/assertion", json=assertion)
            answers["collected"] = await http.get(path)
            answers["missing"] = await http.get("/v1/challenges/" + "y" * 32)
            answers["not_json"] = await http.post(f"{path}/assertion", json={"credential": 5})
        return answers

    answers = asyncio.run(exchanges())
    page = answers["page"]
    assert (
        page.status_code == 200 and "script-src 'self'" in page.headers["content-security-policy"]
    )
    assert "navigator.credentials.get" in answers["script"].text
    assert answers["other_page"].json()["code"] == "invalid_request"
    assert answers["enrol"].status_code == 201 and answers["enrol"].json()["approver"] == "carol"
    assert answers["enrol_again"].json()["code"] == "enrolment_not_found"
    assert answers["challenge"].status_code == 201
    assert answers["challenge"].json()["page_url"].startswith(f"{ORIGIN}/webauthn/approve#")
    signature = answers["approve"].json()["signature"]
    assert (answers["again"].status_code, answers["again"].json()["code"]) == (
        409,
        "challenge_used",
    )
    assert answers["collected"].json()["signature"] == signature
    assert (answers["missing"].status_code, answers["missing"].json()["code"]) == (
        404,
        "challenge_not_found",
    )
    assert answers["not_json"].json()["code"] == "invalid_request"


def test_enroll_webauthn_prints_a_one_time_link(tmp_path: Path) -> None:
    config = tmp_path / "approval.toml"
    config.write_text('key = "key.json"\nstate_dir = "state"\nchain_id = "c"\n')
    command = ["approval", "enroll", "carol", "--config", str(config), "--webauthn", "--json"]
    refused = CliRunner().invoke(app, command)
    assert refused.exit_code == 1 and "has no webauthn section" in refused.stderr
    assert not (tmp_path / "state").exists()
    config.write_text(config.read_text() + f'[webauthn]\nrp_id = "{RP_ID}"\norigin = "{ORIGIN}"\n')
    printed = CliRunner().invoke(app, command)
    assert printed.exit_code == 0, printed.stderr
    link = json.loads(printed.stdout)["enrolment_url"]
    assert link.startswith(f"{ORIGIN}/webauthn/enroll#")
    store = ApprovalStore(tmp_path / "state")
    try:
        token_hash = hashlib.sha256(link.split("#", 1)[1].encode()).digest()
        with store.transaction() as db:
            enrolment = store.enrolment(db, token_hash)
        assert enrolment is not None and enrolment.approver == "carol"
        assert store.approver("carol").totp_secret == ""  # type: ignore[union-attr]
    finally:
        store.close()


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ('rp_id = "127.0.0.1"\norigin = "https://127.0.0.1:8600"', "not an IP address"),
        ('rp_id = "bank.example"\norigin = "http://bank.example"', "localhost only"),
        ('rp_id = "bank.example"\norigin = "https://other.example"', "scheme://rp_id"),
    ],
)
def test_a_webauthn_section_must_name_a_usable_origin(
    tmp_path: Path, section: str, problem: str
) -> None:
    config = tmp_path / "approval.toml"
    config.write_text(f'key = "k"\nstate_dir = "s"\nchain_id = "c"\n[webauthn]\n{section}\n')
    with pytest.raises(InvalidInput, match=problem):
        load_config(config)
    config.write_text(
        'key = "k"\nstate_dir = "s"\nchain_id = "c"\n'
        '[webauthn]\nrp_id = "localhost"\norigin = "http://localhost:8600"\n'
    )
    assert load_config(config).webauthn == WebAuthnSettings("localhost", "http://localhost:8600")


MALFORMED_CLIENT_DATA = [b'"type challenge origin"', b"5", b'{"type":1,"challenge":2,"origin":3}']


@pytest.mark.parametrize("client_data", MALFORMED_CLIENT_DATA)
def test_malformed_credentials_are_refused_not_faults(
    webauthn: WebAuthnHarness, client_data: bytes
) -> None:
    token = webauthn.ceremonies.open_enrolment("carol").split("#", 1)[1]
    options = webauthn.ceremonies.enrolment_options(token)["publicKey"]
    created = SoftAuthenticator(ORIGIN, RP_ID).create(options)
    created["response"]["clientDataJSON"] = base64url(client_data)
    with pytest.raises(ApprovalRefused) as registration:
        webauthn.ceremonies.register(token, created)
    assert registration.value.code == "registration_invalid"
    approval_hash, approving = webauthn.requested()
    challenge_id = webauthn.challenge(approval_hash, approving)
    asserted = webauthn.authenticator.get(webauthn.options(challenge_id))
    asserted["response"]["clientDataJSON"] = base64url(client_data)
    assert webauthn.answer_refused(challenge_id, asserted).code == "assertion_invalid"


def _service_transport(webauthn: WebAuthnHarness) -> httpx.MockTransport:
    """The routes the SDK's WebAuthn signer uses, answered by the real service object."""

    def route(request: httpx.Request, body: dict[str, Any]) -> httpx.Response:
        parts = request.url.path.split("/")
        if parts[2] == "approvals":  # /v1/approvals/{hash}/challenges
            opened = webauthn.ceremonies.open_challenge(
                bytes.fromhex(parts[3]), body["approver"], bytes.fromhex(body["transaction"])
            )
            return httpx.Response(201, json=opened)
        return httpx.Response(200, json=webauthn.ceremonies.view(parts[3]))

    return service_transport(webauthn, route)


def test_the_sdk_signer_opens_presents_and_collects(webauthn: WebAuthnHarness) -> None:
    def approve_at_once(request: ApprovalRequest, challenge: WebAuthnChallenge) -> None:
        assert request.summary["amount_minor"] == 150_000_000
        options = webauthn.options(challenge.challenge_id)
        webauthn.ceremonies.answer(challenge.challenge_id, webauthn.authenticator.get(options))

    def walk_away(_request: ApprovalRequest, _challenge: WebAuthnChallenge) -> None:
        webauthn.clock.now_s += Limits().challenge_ttl_s + 1

    transport = _service_transport(webauthn)
    with ApprovalServiceClient("http://service", transport=transport) as service:
        proposal = webauthn.proposal()
        service.request(proposal)
        approving = transaction_signing_bytes(webauthn.approving(proposal))
        signer = WebAuthnApprovalSigner(service, SENDER, "bob", approve_at_once, timeout_s=5)
        signature = signer.sign(approving)
        assert webauthn.key.suite.verify(webauthn.key.public_key, approving, signature)

        late = webauthn.proposal()
        service.request(late)
        signer = WebAuthnApprovalSigner(service, SENDER, "bob", walk_away, timeout_s=5)
        with pytest.raises(ClientError) as expired:
            signer.sign(transaction_signing_bytes(webauthn.approving(late)))
        assert expired.value.code == "challenge_expired"
