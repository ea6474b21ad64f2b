"""The approval service's refusals: each a stable code and an HTTP status (docs/errors.md
"Approval service"), raised before anything is signed or changed."""

from __future__ import annotations

from typing import Any

from jinqiao.core.errors import InvalidInput

__all__ = ["REFUSAL_STATUS", "ApprovalRefused"]

REFUSAL_STATUS: dict[str, int] = {
    "malformed_transaction": 400,
    "wrong_chain": 400,
    "not_a_proposal": 400,
    "unknown_method": 400,
    "wrong_transaction": 400,
    "unknown_approver": 400,
    "approval_not_found": 404,
    "already_approved": 409,
    "approval_expired": 410,
    "code_invalid": 401,
    "code_expired": 401,
    "code_replayed": 401,
    "approver_locked": 423,
    "rate_limited": 429,
    "too_many_pending": 429,
    # WebAuthn (ADR 0052)
    "webauthn_not_configured": 404,
    "factor_not_enrolled": 400,
    "enrolment_not_found": 404,
    "enrolment_expired": 410,
    "registration_invalid": 400,
    "challenge_not_found": 404,
    "challenge_expired": 410,
    "challenge_used": 409,
    "challenge_mismatch": 401,
    "unknown_credential": 401,
    "assertion_invalid": 401,
    "counter_not_increasing": 401,
}
"""Every code the service answers with, and its HTTP status."""


class ApprovalRefused(InvalidInput):
    """The service will not co-sign (or will not take the request); ``code`` is one of
    ``REFUSAL_STATUS``. The message never holds a code or a secret."""

    def __init__(self, code: str, message: str, **details: Any) -> None:
        if code not in REFUSAL_STATUS:
            raise ValueError(f"undocumented approval refusal code {code!r}")
        super().__init__(message, code=code, **details)

    @property
    def status(self) -> int:
        return REFUSAL_STATUS[self.code]
