"""The second kind of second factor, a WebAuthn assertion (``webauthn``, py_webauthn; ADR 0052),
and what binds it to one approval.

The challenge the authenticator signs is not random alone: it is SHA-256 over a domain tag, the
approval hash, the digest of the summary the approver is shown, the digest of the approving
transaction the service will sign, and a fresh random nonce. The service keeps only the nonce and
recomputes the challenge from the pending approval when the assertion arrives, so an assertion
made for one transaction (or one summary, or one approving transaction) fails for any other:
``challenge_mismatch``. The assertion must also carry the service's origin and rpId, the user
verification flag, a valid signature of the enrolled credential's key, and a sign counter above
the last one seen (W3C WebAuthn Level 2 §7.2 step 21: a counter that does not grow means a
cloned authenticator, so an authenticator that keeps no counter cannot approve).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import webauthn
from webauthn.helpers import parse_authentication_credential_json, parse_client_data_json
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from jinqiao.approval.config import WebAuthnSettings
from jinqiao.approval.errors import ApprovalRefused

__all__ = [
    "CHALLENGE_TAG",
    "NONCE_BYTES",
    "RegisteredCredential",
    "assertion_credential_id",
    "authentication_options",
    "check_assertion",
    "check_registration",
    "derive_challenge",
    "registration_options",
]

CHALLENGE_TAG = b"jinqiao-approval-webauthn-v1"
NONCE_BYTES = 32
MAX_CREDENTIAL_JSON_BYTES = 16 * 1024
MALFORMED = (WebAuthnException, ValueError, TypeError, KeyError, AttributeError, IndexError)
"""What py_webauthn raises on a malformed credential: its own exceptions for what it checks, and
Python's for shapes it does not (client data that is a JSON string, a challenge that is a
number, bad base64, bad CBOR). Either is the sender's malformed input, never a fault."""


@dataclass(frozen=True)
class RegisteredCredential:
    credential_id: bytes
    public_key: bytes
    """The COSE public key the assertions are checked against."""
    sign_count: int


def summary_digest(summary: dict[str, Any]) -> bytes:
    """SHA-256 of the summary as canonical JSON (sorted keys, no spaces): the bytes the page
    shows are the bytes the challenge commits to."""
    text = json.dumps(summary, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).digest()


def derive_challenge(
    approval_hash: bytes, summary: dict[str, Any], approving_transaction: bytes, nonce: bytes
) -> bytes:
    """The WebAuthn challenge of one approval, one summary, one approving transaction."""
    if len(approval_hash) != 32 or len(nonce) != NONCE_BYTES:
        raise ValueError("an approval hash is 32 bytes and a challenge nonce 32 bytes")
    digest = hashlib.sha256(CHALLENGE_TAG)
    digest.update(approval_hash)
    digest.update(summary_digest(summary))
    digest.update(hashlib.sha256(approving_transaction).digest())
    digest.update(nonce)
    return digest.digest()


def registration_options(
    settings: WebAuthnSettings,
    approver: str,
    challenge: bytes,
    existing: list[bytes],
    timeout_ms: int,
) -> dict[str, Any]:
    """``PublicKeyCredentialCreationOptions`` (JSON form) enrolling a new authenticator of
    ``approver``: user verification required, the approver's other credentials excluded."""
    options = webauthn.generate_registration_options(
        rp_id=settings.rp_id,
        rp_name=settings.rp_name,
        user_name=approver,
        user_id=hashlib.sha256(b"jinqiao-approver:" + approver.encode()).digest()[:16],
        challenge=challenge,
        timeout=timeout_ms,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.DISCOURAGED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=item) for item in existing],
    )
    return json.loads(webauthn.options_to_json(options))  # type: ignore[no-any-return]


def authentication_options(
    settings: WebAuthnSettings, challenge: bytes, credentials: list[bytes], timeout_ms: int
) -> dict[str, Any]:
    """``PublicKeyCredentialRequestOptions`` (JSON form) for one approval challenge."""
    options = webauthn.generate_authentication_options(
        rp_id=settings.rp_id,
        challenge=challenge,
        timeout=timeout_ms,
        allow_credentials=[PublicKeyCredentialDescriptor(id=item) for item in credentials],
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return json.loads(webauthn.options_to_json(options))  # type: ignore[no-any-return]


def _encoded(credential: dict[str, Any], code: str) -> str:
    text = json.dumps(credential)
    if len(text) > MAX_CREDENTIAL_JSON_BYTES:
        raise ApprovalRefused(code, f"a credential is at most {MAX_CREDENTIAL_JSON_BYTES} bytes")
    return text


def check_registration(
    settings: WebAuthnSettings, credential: dict[str, Any], challenge: bytes
) -> RegisteredCredential:
    """The credential ``navigator.credentials.create`` returned (its ``toJSON()``), verified
    for ``challenge``, the service's origin and rpId, user presence and verification; else
    ``ApprovalRefused`` ``registration_invalid``."""
    try:
        verified = webauthn.verify_registration_response(
            credential=_encoded(credential, "registration_invalid"),
            expected_challenge=challenge,
            expected_rp_id=settings.rp_id,
            expected_origin=settings.origin,
            require_user_verification=True,
        )
    except MALFORMED as exc:
        raise ApprovalRefused(
            "registration_invalid", f"the authenticator's registration does not verify: {exc}"
        ) from None
    return RegisteredCredential(
        verified.credential_id, verified.credential_public_key, verified.sign_count
    )


def assertion_credential_id(credential: dict[str, Any]) -> bytes:
    """The credential id an assertion names (to find its enrolled key); ``assertion_invalid``
    when the assertion is not one."""
    try:
        parsed = parse_authentication_credential_json(_encoded(credential, "assertion_invalid"))
    except MALFORMED as exc:
        raise ApprovalRefused("assertion_invalid", f"the assertion is malformed: {exc}") from None
    return bytes(parsed.raw_id)


def _asserted_challenge(credential: dict[str, Any]) -> bytes:
    try:
        encoded = credential["response"]["clientDataJSON"]
        client_data = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        return bytes(parse_client_data_json(client_data).challenge)
    except MALFORMED as exc:
        raise ApprovalRefused(
            "assertion_invalid", f"the assertion's client data is malformed: {exc}"
        ) from None


def check_assertion(
    settings: WebAuthnSettings,
    credential: dict[str, Any],
    challenge: bytes,
    enrolled: RegisteredCredential,
) -> int:
    """The new sign count of ``enrolled`` if ``credential`` (``navigator.credentials.get``'s
    ``toJSON()``) asserts ``challenge``; else ``ApprovalRefused`` ``challenge_mismatch``,
    ``counter_not_increasing`` or ``assertion_invalid`` (signature, origin, rpId, flags)."""
    if _asserted_challenge(credential) != challenge:
        raise ApprovalRefused(
            "challenge_mismatch",
            "the assertion was made for another challenge: it does not approve this transaction",
        )
    try:
        verified = webauthn.verify_authentication_response(
            credential=_encoded(credential, "assertion_invalid"),
            expected_challenge=challenge,
            expected_rp_id=settings.rp_id,
            expected_origin=settings.origin,
            credential_public_key=enrolled.public_key,
            credential_current_sign_count=enrolled.sign_count,
            require_user_verification=True,
        )
    except MALFORMED as exc:
        if "sign count" in str(exc):
            raise ApprovalRefused(
                "counter_not_increasing",
                "the authenticator's sign counter did not grow: it may be cloned",
                last_sign_count=enrolled.sign_count,
            ) from None
        raise ApprovalRefused(
            "assertion_invalid", f"the assertion does not verify: {exc}"
        ) from None
    if verified.new_sign_count <= enrolled.sign_count:  # py_webauthn lets 0 after 0 through
        raise ApprovalRefused(
            "counter_not_increasing",
            "the authenticator's sign counter did not grow: it may be cloned",
            last_sign_count=enrolled.sign_count,
        )
    return verified.new_sign_count
