"""The two second factors and what makes each one bound to a transaction and single-use.

* **TOTP** (RFC 6238, ``pyotp``; SHA-1, 6 digits, 30 s steps: what authenticator apps use). A
  code is accepted for the steps ``window`` either side of now, only if its step is later than
  the last step this approver used (RFC 6238 §5.2: a code is used once, even within its window)
  and not earlier than the request of the approval (minus the same window): a code that existed
  before the approver saw the summary cannot approve it.
* **WebAuthn** (``webauthn``, py_webauthn). The challenge is the transaction's hash, so the
  authenticator signs over the hash of exactly the bytes that will be co-signed; an assertion for
  another transaction has another challenge. Each assertion is used once (its signature's SHA-256
  is kept), and the authenticator's signature counter must grow where it counts.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

import pyotp
from webauthn import verify_authentication_response
from webauthn.helpers.exceptions import (
    InvalidAuthenticationResponse,
    InvalidAuthenticatorDataStructure,
    InvalidCBORData,
    InvalidJSONStructure,
)

from jinqiao.approval.errors import ApprovalRefused

__all__ = ["TOTP_STEP_S", "check_totp", "check_webauthn", "webauthn_digest"]

TOTP_STEP_S = 30
TOTP_DIGITS = 6
EXPIRED_LOOKBACK_STEPS = 20
"""How far back a wrong code is recognized as an old one (``code_expired``): ten minutes."""
MAX_ASSERTION_BYTES = 16 * 1024


def check_totp(
    secret: str, code: str, *, now_s: float, window: int, last_step: int, request_s: float
) -> int:
    """The TOTP step that ``code`` is, if it may approve now; else ``ApprovalRefused``:
    ``code_invalid``, ``code_expired`` or ``code_replayed``."""
    if len(code) != TOTP_DIGITS or not code.isascii() or not code.isdigit():
        raise ApprovalRefused("code_invalid", f"a TOTP code is {TOTP_DIGITS} digits")
    totp = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_STEP_S)
    now_step = int(now_s // TOTP_STEP_S)
    matched = [
        step
        for step in range(now_step - EXPIRED_LOOKBACK_STEPS, now_step + window + 1)
        if hmac.compare_digest(totp.generate_otp(step), code)
    ]
    if not matched:
        raise ApprovalRefused("code_invalid", "the TOTP code is wrong")
    step = matched[-1]
    if step <= last_step:
        raise ApprovalRefused(
            "code_replayed", "this TOTP code was already used; wait for a new one"
        )
    if step < now_step - window:
        raise ApprovalRefused("code_expired", "the TOTP code has expired; use the current one")
    if step < int(request_s // TOTP_STEP_S) - window:
        raise ApprovalRefused(
            "code_expired", "the TOTP code is older than the approval request; use a new one"
        )
    return step


def _base64url(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise ApprovalRefused("malformed_assertion", f"{what} must be a base64url string")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ApprovalRefused("malformed_assertion", f"{what} is not base64url") from None


def _response(assertion: dict[str, Any]) -> dict[str, Any]:
    response = assertion.get("response")
    if not isinstance(response, dict):
        raise ApprovalRefused("malformed_assertion", "the assertion has no response object")
    return response


def webauthn_digest(assertion: dict[str, Any]) -> bytes:
    """What marks an assertion as used: the SHA-256 of its signature."""
    return hashlib.sha256(_base64url(_response(assertion).get("signature"), "signature")).digest()


def _challenge(assertion: dict[str, Any]) -> bytes:
    client_data = _base64url(_response(assertion).get("clientDataJSON"), "clientDataJSON")
    try:
        parsed = json.loads(client_data)
    except (ValueError, UnicodeDecodeError):
        raise ApprovalRefused("malformed_assertion", "clientDataJSON is not JSON") from None
    if not isinstance(parsed, dict):
        raise ApprovalRefused("malformed_assertion", "clientDataJSON is not a JSON object")
    return _base64url(parsed.get("challenge"), "the challenge")


def check_webauthn(
    assertion: dict[str, Any],
    *,
    transaction_hash: bytes,
    rp_id: str,
    origin: str,
    credential_id: bytes,
    public_key: bytes,
    sign_count: int,
) -> int:
    """The authenticator's new signature counter if ``assertion`` (a ``PublicKeyCredential``'s
    JSON) is a valid, user-verified assertion by the enrolled credential over the challenge
    ``transaction_hash``; else ``ApprovalRefused`` ``wrong_transaction`` or ``code_invalid``."""
    if len(json.dumps(assertion)) > MAX_ASSERTION_BYTES:
        raise ApprovalRefused(
            "malformed_assertion", f"an assertion is at most {MAX_ASSERTION_BYTES} bytes"
        )
    if not hmac.compare_digest(_challenge(assertion), transaction_hash):
        raise ApprovalRefused(
            "wrong_transaction", "the assertion was made for another transaction (its challenge)"
        )
    if _base64url(assertion.get("rawId"), "rawId") != credential_id:
        raise ApprovalRefused("code_invalid", "the assertion is not by the enrolled authenticator")
    try:
        verified = verify_authentication_response(
            credential=assertion,
            expected_challenge=transaction_hash,
            expected_rp_id=rp_id,
            expected_origin=origin,
            credential_public_key=public_key,
            credential_current_sign_count=sign_count,
            require_user_verification=True,
        )
    except (InvalidJSONStructure, InvalidCBORData, InvalidAuthenticatorDataStructure) as exc:
        raise ApprovalRefused("malformed_assertion", f"the assertion is malformed: {exc}") from None
    except InvalidAuthenticationResponse as exc:
        raise ApprovalRefused("code_invalid", f"the assertion does not verify: {exc}") from None
    return int(verified.new_sign_count)
