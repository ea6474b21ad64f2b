"""The approval service's rules, without HTTP: request an approval (decode, summarize, remember),
approve it with a second factor (rate limit, lock-out, single use), co-sign, log.

The co-signature is the service key's plain signature over the transaction's signing bytes
(``core.hashing.transaction_signing_bytes``) — exactly what the sender signs — so it takes its
place in a multi-signature list beside the sender's own. Every approval and every refusal is
appended to the hash-chained audit log (``jinqiao.node.audit``, docs/audit.md) before the answer
leaves; no code, secret or assertion is ever written to it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from jinqiao.approval.config import ApprovalConfig
from jinqiao.approval.errors import ApprovalRefused
from jinqiao.approval.factors import check_totp, check_webauthn, webauthn_digest
from jinqiao.approval.store import ApprovalStore, Approver, PendingApproval
from jinqiao.approval.summary import DecodedTransaction, decode_transaction
from jinqiao.core.crypto import Signer
from jinqiao.core.errors import InvalidInput
from jinqiao.node.audit import AuditLog

__all__ = ["ApprovalService", "SecondFactor"]

RATE_WINDOW_S = 60.0


class SecondFactor:
    """Exactly one of a TOTP code and a WebAuthn assertion (a ``PublicKeyCredential``'s JSON)."""

    def __init__(self, *, totp: str | None = None, webauthn: dict[str, Any] | None = None) -> None:
        if (totp is None) == (webauthn is None):
            raise InvalidInput("give exactly one second factor: totp or webauthn")
        self.totp = totp
        self.webauthn = webauthn

    @property
    def kind(self) -> str:
        return "totp" if self.totp is not None else "webauthn"


class ApprovalService:
    def __init__(
        self,
        config: ApprovalConfig,
        signer: Signer,
        store: ApprovalStore,
        audit: AuditLog,
        *,
        clock_s: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.signer = signer
        self.store = store
        self.audit = audit
        self.clock_s = clock_s
        self._lock = threading.Lock()

    def info(self) -> dict[str, Any]:
        webauthn = self.config.webauthn
        return {
            "chain_id": self.config.chain_id,
            "suite": self.signer.suite.name,
            "public_key": self.signer.public_key.hex(),
            "address": self.signer.address.hex(),
            "webauthn_rp_id": None if webauthn is None else webauthn.rp_id,
        }

    def _log(
        self, approver: str, method: str, transaction_hash: str, status: int, note: str
    ) -> None:
        self.audit.record(
            identity=approver,
            organization="",
            method=method,
            route=f"/v1/approvals/{transaction_hash} {note}",
            status=status,
        )

    @staticmethod
    def _describe(summary: dict[str, Any]) -> str:
        return (
            f"{summary['contract']}.{summary['method']} sender={summary['sender']} "
            f"amount_minor={summary['amount_minor']} asset={summary['asset']} "
            f"recipient={summary['recipient']}"
        )

    def request(self, raw: bytes) -> dict[str, Any]:
        """Decode and remember a transaction awaiting approval; its summary and hash."""
        decoded = decode_transaction(raw, self.signer.suite, self.config.chain_id)
        limits = self.config.limits
        with self._lock:
            now_s = self.clock_s()
            with self.store.transaction() as db:
                known = self.store.pending(db, decoded.hash)
                if known is None:
                    waiting = self.store.count_pending(db, now_s - limits.approval_ttl_s)
                    if waiting >= limits.max_pending:
                        raise ApprovalRefused(
                            "too_many_pending",
                            f"{waiting} approvals are waiting; at most {limits.max_pending}",
                        )
                    self.store.add_pending(db, decoded.hash, raw, now_s)
                    created_s = now_s
                else:
                    created_s = known.created_s
            self._log("", "REQUEST", decoded.hash.hex(), 201, self._describe(decoded.summary))
        return {
            "transaction_hash": decoded.hash.hex(),
            "summary": decoded.summary,
            "expires_at_s": created_s + limits.approval_ttl_s,
            "webauthn_challenge": decoded.hash.hex(),
        }

    def approve(self, transaction_hash: bytes, name: str, factor: SecondFactor) -> dict[str, Any]:
        """The co-signature, after ``factor`` checks out for ``name`` and this transaction;
        else ``ApprovalRefused`` (logged, with a failure counted where the factor was wrong)."""
        with self._lock:
            try:
                decoded = self._approve(transaction_hash, name, factor)
            except ApprovalRefused as refused:
                self._log(name, "REFUSE", transaction_hash.hex(), refused.status, refused.code)
                raise
            signature = self.signer.sign(decoded.signing_bytes)
            self._log(name, "APPROVE", transaction_hash.hex(), 200, self._describe(decoded.summary))
        return {
            "transaction_hash": decoded.hash.hex(),
            "summary": decoded.summary,
            "approver": name,
            "factor": factor.kind,
            "public_key": self.signer.public_key.hex(),
            "address": self.signer.address.hex(),
            "signature": signature.hex(),
        }

    def _approve(
        self, transaction_hash: bytes, name: str, factor: SecondFactor
    ) -> DecodedTransaction:
        limits = self.config.limits
        now_s = self.clock_s()
        approver = self.store.approver(name)
        if approver is None:
            raise ApprovalRefused("unknown_approver", f"no approver {name!r} is enrolled")
        if approver.locked_until_s > now_s:
            raise ApprovalRefused(
                "approver_locked",
                f"approver {name!r} is locked out after repeated failures "
                f"for {int(approver.locked_until_s - now_s) + 1} s more",
                locked_until_s=approver.locked_until_s,
            )
        with self.store.transaction() as db:
            if self.store.count_attempts(db, name, now_s - RATE_WINDOW_S) >= (
                limits.max_attempts_per_minute
            ):
                raise ApprovalRefused(
                    "rate_limited",
                    f"at most {limits.max_attempts_per_minute} attempts a minute per approver",
                )
            self.store.add_attempt(db, name, now_s)
        with self.store.transaction() as db:
            pending = self._pending(db, transaction_hash, now_s)
        decoded = decode_transaction(pending.body, self.signer.suite, self.config.chain_id)
        try:
            self._check_factor(approver, factor, pending, now_s)
        except ApprovalRefused as refused:
            if refused.code in ("malformed_assertion", "factor_not_enrolled"):
                raise
            with self.store.transaction() as db:
                locked = self.store.record_failure(
                    db, name, limits.max_failures, now_s + limits.lockout_s
                )
            if locked:
                refused.details["locked_out"] = True
            raise
        return decoded

    def _pending(self, db: Any, transaction_hash: bytes, now_s: float) -> PendingApproval:
        pending = self.store.pending(db, transaction_hash)
        if pending is None:
            raise ApprovalRefused(
                "approval_not_found",
                "no approval was requested for this transaction (POST /v1/approvals first)",
            )
        if pending.approved_by is not None:
            raise ApprovalRefused(
                "already_approved", f"the transaction was already approved by {pending.approved_by}"
            )
        if pending.created_s + self.config.limits.approval_ttl_s < now_s:
            raise ApprovalRefused(
                "approval_expired", "the approval request expired; request it again"
            )
        return pending

    def _check_factor(
        self, approver: Approver, factor: SecondFactor, pending: PendingApproval, now_s: float
    ) -> None:
        """Check the factor and, in the same transaction, consume it and mark the approval."""
        if factor.totp is not None:
            if approver.totp_secret is None:
                raise ApprovalRefused(
                    "factor_not_enrolled", f"{approver.name} has no TOTP enrolled"
                )
            step = check_totp(
                approver.totp_secret,
                factor.totp,
                now_s=now_s,
                window=self.config.limits.totp_window_steps,
                last_step=approver.last_totp_step,
                request_s=pending.created_s,
            )
            with self.store.transaction() as db:
                self.store.record_totp_success(db, approver.name, step)
                self.store.mark_approved(db, pending.transaction_hash, approver.name)
            return
        assertion = factor.webauthn or {}
        settings = self.config.webauthn
        if (
            settings is None
            or approver.credential_id is None
            or approver.credential_public_key is None
        ):
            raise ApprovalRefused(
                "factor_not_enrolled", f"{approver.name} has no WebAuthn authenticator enrolled"
            )
        digest = webauthn_digest(assertion)
        with self.store.transaction() as db:
            used = self.store.assertion_used(db, digest)
        if used:
            raise ApprovalRefused("code_replayed", "this assertion was already used")
        sign_count = check_webauthn(
            assertion,
            transaction_hash=pending.transaction_hash,
            rp_id=settings.rp_id,
            origin=settings.origin,
            credential_id=approver.credential_id,
            public_key=approver.credential_public_key,
            sign_count=approver.sign_count,
        )
        with self.store.transaction() as db:
            self.store.record_assertion_success(db, approver.name, sign_count, digest)
            self.store.mark_approved(db, pending.transaction_hash, approver.name)
