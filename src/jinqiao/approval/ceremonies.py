"""The WebAuthn ceremonies of the approval service (ADR 0052, docs/keys.md "Second factor"):
enrolling an approver's authenticator through a one-time link, and approving a requested
approval with an assertion over a challenge bound to that approval.

Enrolment: the operator opens a link for an approver (``jinqiao approval enroll --webauthn``);
only the SHA-256 of its random token is stored, so the database alone cannot enrol anyone. The
approver opens the link in a browser on the service's origin, which asks for creation options
(a fresh random challenge, kept with the link) and posts the new credential back; it is verified
and stored with the link spent, in one transaction.

Approval: the caller names the approver and hands over the approving transaction, exactly as for
TOTP; the service checks it and answers with a challenge id and the page the approver opens. The
page shows the summary and asks the authenticator to sign the challenge derived from the
approval hash, that summary, the approving transaction and a stored nonce
(``jinqiao.approval.passkeys``). The assertion goes through the same rate limit, lock-out and
audit log as a TOTP code; the challenge is used once, expires after ``challenge_ttl_s``, and is
used up together with the counter raised and the approval marked approved. The signature is
kept with the challenge, so the caller collects it (``GET /v1/challenges/{id}``).
"""

from __future__ import annotations

import hashlib
import secrets
from typing import TYPE_CHECKING, Any

from jinqiao.approval.config import WebAuthnSettings
from jinqiao.approval.errors import ApprovalRefused
from jinqiao.approval.passkeys import (
    NONCE_BYTES,
    assertion_credential_id,
    authentication_options,
    check_assertion,
    check_registration,
    derive_challenge,
    registration_options,
)
from jinqiao.approval.store import ApprovalStore, Challenge, Enrolment
from jinqiao.approval.summary import DecodedProposal, check_approving_transaction, decode_proposal
from jinqiao.core.hashing import transaction_signing_bytes

if TYPE_CHECKING:
    from jinqiao.approval.service import ApprovalService

__all__ = ["WebAuthnCeremonies", "open_enrolment"]

ENROLMENT_CHALLENGE_BYTES = 32
MAX_CREDENTIALS_PER_APPROVER = 10
MS_PER_S = 1000


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def open_enrolment(
    settings: WebAuthnSettings, store: ApprovalStore, name: str, now_s: float
) -> str:
    """A one-time link enrolling an authenticator for ``name``: the page's address with the
    token in its fragment (only the token's SHA-256 is stored)."""
    token = secrets.token_urlsafe(32)
    store.add_enrolment(name, _token_hash(token), now_s)
    return f"{settings.origin}/webauthn/enroll#{token}"


class WebAuthnCeremonies:
    """The WebAuthn half of ``ApprovalService`` (its lock, store, key, limits and log)."""

    def __init__(self, service: ApprovalService) -> None:
        self.service = service

    @property
    def settings(self) -> WebAuthnSettings:
        settings = self.service.config.webauthn
        if settings is None:
            raise ApprovalRefused(
                "webauthn_not_configured",
                "this approval service has no [webauthn] section: it takes TOTP codes only",
            )
        return settings

    # -- enrolment ------------------------------------------------------------------------
    def open_enrolment(self, name: str) -> str:
        """A one-time link enrolling an authenticator for ``name`` (valid ``enrolment_ttl_s``)."""
        with self.service._lock:
            link = open_enrolment(self.settings, self.service.store, name, self.service.clock_s())
            self.service._log(name, "ENROL", "-", 201, "webauthn enrolment link opened")
        return link

    def _enrolment(self, token: str, now_s: float) -> Enrolment:
        with self.service.store.transaction() as db:
            enrolment = self.service.store.enrolment(db, _token_hash(token))
        if enrolment is None:
            raise ApprovalRefused(
                "enrolment_not_found", "this enrolment link is unknown or was already used"
            )
        if enrolment.created_s + self.service.config.limits.enrolment_ttl_s < now_s:
            raise ApprovalRefused(
                "enrolment_expired", "this enrolment link expired; ask for a new one"
            )
        return enrolment

    def enrolment_options(self, token: str) -> dict[str, Any]:
        """The creation options of the link's enrolment (a fresh challenge each time)."""
        settings = self.settings
        with self.service._lock:
            enrolment = self._enrolment(token, self.service.clock_s())
            existing = self.service.store.credentials(enrolment.approver)
            if len(existing) >= MAX_CREDENTIALS_PER_APPROVER:
                raise ApprovalRefused(
                    "registration_invalid",
                    f"an approver has at most {MAX_CREDENTIALS_PER_APPROVER} authenticators",
                )
            challenge = secrets.token_bytes(ENROLMENT_CHALLENGE_BYTES)
            with self.service.store.transaction() as db:
                self.service.store.set_enrolment_challenge(db, enrolment.token_hash, challenge)
        options = registration_options(
            settings,
            enrolment.approver,
            challenge,
            [item.credential_id for item in existing],
            self.service.config.limits.challenge_ttl_s * MS_PER_S,
        )
        return {"approver": enrolment.approver, "publicKey": options}

    def register(self, token: str, credential: dict[str, Any]) -> dict[str, Any]:
        """Verify and store the authenticator the link's approver created; spend the link."""
        settings = self.settings
        with self.service._lock:
            now_s = self.service.clock_s()
            enrolment = self._enrolment(token, now_s)
            if enrolment.challenge is None:
                raise ApprovalRefused(
                    "registration_invalid", "ask for the creation options of this link first"
                )
            try:
                registered = check_registration(settings, credential, enrolment.challenge)
                if self.service.store.credential_owner(registered.credential_id) is not None:
                    raise ApprovalRefused(
                        "registration_invalid", "this authenticator's credential is enrolled"
                    )
            except ApprovalRefused as refused:
                self.service._log(enrolment.approver, "REFUSE", "-", refused.status, refused.code)
                raise
            with self.service.store.transaction() as db:
                self.service.store.add_credential(
                    db, enrolment.token_hash, enrolment.approver, registered, now_s
                )
            self.service._log(enrolment.approver, "ENROL", "-", 201, "webauthn credential")
        return {
            "approver": enrolment.approver,
            "credential_id": registered.credential_id.hex(),
        }

    # -- approval -------------------------------------------------------------------------
    def open_challenge(
        self, approval_hash: bytes, name: str, approving_transaction: bytes
    ) -> dict[str, Any]:
        """A challenge for ``name`` to approve ``approval_hash`` by signing
        ``approving_transaction``; the page to open. Counts as an attempt (rate limit)."""
        settings = self.settings
        service = self.service
        limits = service.config.limits
        with service._lock:
            try:
                now_s = service.clock_s()
                service._usable_approver(name, now_s)
                if not service.store.credentials(name):
                    raise ApprovalRefused(
                        "factor_not_enrolled", f"approver {name!r} has no WebAuthn authenticator"
                    )
                decoded = self._decoded(approval_hash, now_s)
                check_approving_transaction(
                    approving_transaction, decoded, service.signer.public_key
                )
                challenge = Challenge(
                    secrets.token_urlsafe(24),
                    approval_hash,
                    name,
                    approving_transaction,
                    secrets.token_bytes(NONCE_BYTES),
                    now_s,
                    None,
                )
                with service.store.transaction() as db:
                    service.store.add_challenge(db, challenge, now_s - limits.challenge_ttl_s)
            except ApprovalRefused as refused:
                service._log(name, "REFUSE", approval_hash.hex(), refused.status, refused.code)
                raise
            service._log(name, "CHALLENGE", approval_hash.hex(), 201, "webauthn")
        return {
            "challenge_id": challenge.challenge_id,
            "approval_hash": approval_hash.hex(),
            "approver": name,
            "page_url": f"{settings.origin}/webauthn/approve#{challenge.challenge_id}",
            "expires_at_s": now_s + limits.challenge_ttl_s,
        }

    def _decoded(self, approval_hash: bytes, now_s: float) -> DecodedProposal:
        service = self.service
        with service.store.transaction() as db:
            pending = service._pending(db, approval_hash, now_s)
        return decode_proposal(pending.body, service.signer.suite, service.config.chain_id)

    def _challenge(self, challenge_id: str) -> Challenge:
        challenge = self.service.store.challenge(challenge_id)
        if challenge is None:
            raise ApprovalRefused("challenge_not_found", "no such challenge (or it expired)")
        return challenge

    def view(self, challenge_id: str) -> dict[str, Any]:
        """What the approver's page shows and asks: the summary, and the request options while
        the challenge is open; the service's signature once it was answered."""
        settings = self.settings
        service = self.service
        with service._lock:
            now_s = service.clock_s()
            challenge = self._challenge(challenge_id)
            expires_at_s = challenge.created_s + service.config.limits.challenge_ttl_s
            with service.store.transaction() as db:
                pending = service.store.pending(db, challenge.approval_hash)
            if pending is None:
                raise ApprovalRefused("approval_not_found", "the approval request is gone")
            decoded = decode_proposal(pending.body, service.signer.suite, service.config.chain_id)
            credentials = [
                item.credential_id for item in service.store.credentials(challenge.approver)
            ]
        view: dict[str, Any] = {
            "challenge_id": challenge_id,
            "approval_hash": challenge.approval_hash.hex(),
            "approver": challenge.approver,
            "summary": decoded.summary,
            "expires_at_s": expires_at_s,
            "public_key": service.signer.public_key.hex(),
        }
        if challenge.signature is not None:
            return view | {"status": "approved", "signature": challenge.signature.hex()}
        if expires_at_s < now_s:
            return view | {"status": "expired"}
        expected = derive_challenge(
            challenge.approval_hash, decoded.summary, challenge.approving, challenge.nonce
        )
        timeout_ms = max(1, int(expires_at_s - now_s)) * MS_PER_S
        options = authentication_options(settings, expected, credentials, timeout_ms)
        return view | {"status": "waiting", "publicKey": options}

    def answer(self, challenge_id: str, credential: dict[str, Any]) -> dict[str, Any]:
        """The service's signature of the challenge's approving transaction, once
        ``credential`` (the authenticator's assertion) checks out; else ``ApprovalRefused``,
        logged, with a failure counted when the assertion itself was wrong."""
        service = self.service
        with service._lock:
            challenge = self._challenge(challenge_id)
            hash_hex = challenge.approval_hash.hex()
            try:
                decoded, signature = self._answer(challenge, credential)
            except ApprovalRefused as refused:
                service._log(challenge.approver, "REFUSE", hash_hex, refused.status, refused.code)
                raise
            service._log(
                challenge.approver, "APPROVE", hash_hex, 200, service._describe(decoded.summary)
            )
        return {
            "approval_hash": hash_hex,
            "summary": decoded.summary,
            "approver": challenge.approver,
            "public_key": service.signer.public_key.hex(),
            "signature": signature.hex(),
        }

    def _answer(
        self, challenge: Challenge, credential: dict[str, Any]
    ) -> tuple[DecodedProposal, bytes]:
        settings = self.settings
        service = self.service
        now_s = service.clock_s()
        if challenge.signature is not None:
            raise ApprovalRefused("challenge_used", "this challenge was already answered")
        if challenge.created_s + service.config.limits.challenge_ttl_s < now_s:
            raise ApprovalRefused("challenge_expired", "the challenge expired; ask for a new one")
        service._usable_approver(challenge.approver, now_s)
        decoded = self._decoded(challenge.approval_hash, now_s)
        body = check_approving_transaction(challenge.approving, decoded, service.signer.public_key)
        expected = derive_challenge(
            challenge.approval_hash, decoded.summary, challenge.approving, challenge.nonce
        )
        with service.counting_failure(challenge.approver, now_s):
            credential_id = assertion_credential_id(credential)
            enrolled = service.store.credential(challenge.approver, credential_id)
            if enrolled is None:
                raise ApprovalRefused(
                    "unknown_credential",
                    f"this authenticator is not enrolled for approver {challenge.approver!r}",
                )
            sign_count = check_assertion(settings, credential, expected, enrolled)
        signature = service.signer.sign(transaction_signing_bytes(body))
        with service.store.transaction() as db:
            service.store.record_assertion(db, challenge, credential_id, sign_count, signature)
        return decoded, signature
