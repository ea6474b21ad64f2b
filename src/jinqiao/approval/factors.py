"""The second factor, a TOTP code (RFC 6238, ``pyotp``; SHA-1, 6 digits, 30 s steps: what
authenticator apps use), and what makes it bound to one approval and single-use.

A code is accepted for the steps ``window`` either side of now, only if its step is later than
the last step this approver used (RFC 6238 §5.2: a code is used once, even within its window) and
not earlier than the request of the approval (minus the same window): a code that existed before
the approver saw the summary cannot approve it. The code is sent for one approval hash and
consumed by it, so it approves that transaction and no other.
"""

from __future__ import annotations

import hmac

import pyotp

from jinqiao.approval.errors import ApprovalRefused

__all__ = ["TOTP_DIGITS", "TOTP_STEP_S", "check_totp", "new_totp_secret"]

TOTP_STEP_S = 30
TOTP_DIGITS = 6
EXPIRED_LOOKBACK_STEPS = 20
"""How far back a wrong code is recognized as an old one (``code_expired``): ten minutes."""


def new_totp_secret() -> str:
    """A fresh secret for an authenticator app: 32 base32 characters (160 bits, RFC 4226 §4)."""
    return str(pyotp.random_base32(32))


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
