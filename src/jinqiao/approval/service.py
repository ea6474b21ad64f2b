"""The approval service's rules, without HTTP: request an approval (decode the proposing
transaction, summarize, remember), approve it with a TOTP code (rate limit, lock-out, single
use), sign the approving transaction, log. The WebAuthn factor's ceremonies live in
``jinqiao.approval.ceremonies`` (``service.webauthn``) and share this lock, store, key, limits and
log.

What the service signs is ``registry.approve_transaction(approval_hash)`` from the proposal's
account with the service's key — the key of the account's amount rule (docs/keys.md "Second
factor") — so the pending call runs on chain once the service has approved. Every request,
approval and refusal is appended to the hash-chained audit log (``jinqiao.node.audit``,
docs/audit.md) before the answer leaves; no code or secret is ever written to it.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from jinqiao.approval.ceremonies import WebAuthnCeremonies
from jinqiao.approval.config import ApprovalConfig
from jinqiao.approval.errors import ApprovalRefused
from jinqiao.approval.factors import check_totp
from jinqiao.approval.store import ApprovalStore, Approver, PendingApproval
from jinqiao.approval.summary import DecodedProposal, check_approving_transaction, decode_proposal
from jinqiao.core.crypto import Signer
from jinqiao.core.hashing import transaction_signing_bytes
from jinqiao.keys import load_key
from jinqiao.node.audit import AuditLog, open_audit_log

__all__ = ["ApprovalService", "open_service"]

RATE_WINDOW_S = 60.0


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
        self.webauthn = WebAuthnCeremonies(self)

    def info(self) -> dict[str, Any]:
        return {
            "chain_id": self.config.chain_id,
            "suite": self.signer.suite.name,
            "public_key": self.signer.public_key.hex(),
        }

    def _log(self, approver: str, method: str, approval_hash: str, status: int, note: str) -> None:
        self.audit.record(
            identity=approver,
            organization="",
            method=method,
            route=f"/v1/approvals/{approval_hash} {note}",
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
        """Decode and remember a proposing transaction awaiting approval; its summary."""
        decoded = decode_proposal(raw, self.signer.suite, self.config.chain_id)
        limits = self.config.limits
        with self._lock:
            now_s = self.clock_s()
            with self.store.transaction() as db:
                known = self.store.pending(db, decoded.approval_hash)
                if (
                    known is not None
                    and known.approved_by is None
                    and (known.created_s + limits.approval_ttl_s < now_s)
                ):  # an expired request is asked again: it starts afresh
                    self.store.remove_pending(db, decoded.approval_hash)
                    known = None
                if known is None:
                    waiting = self.store.count_pending(db, now_s - limits.approval_ttl_s)
                    if waiting >= limits.max_pending:
                        raise ApprovalRefused(
                            "too_many_pending",
                            f"{waiting} approvals are waiting; at most {limits.max_pending}",
                        )
                    self.store.add_pending(db, decoded.approval_hash, raw, now_s)
                    created_s = now_s
                else:
                    created_s = known.created_s
            self._log(
                "", "REQUEST", decoded.approval_hash.hex(), 201, self._describe(decoded.summary)
            )
        return {
            "approval_hash": decoded.approval_hash.hex(),
            "summary": decoded.summary,
            "expires_at_s": created_s + limits.approval_ttl_s,
        }

    def approve(
        self, approval_hash: bytes, name: str, code: str, approving_transaction: bytes
    ) -> dict[str, Any]:
        """The service's signature of ``approving_transaction`` (the canonical bytes of
        ``registry.approve_transaction(approval_hash)``), after ``code`` checks out for ``name``
        and this approval; else ``ApprovalRefused`` (logged, with a failure counted where the
        code was wrong)."""
        with self._lock:
            try:
                decoded, body_signing_bytes = self._approve(
                    approval_hash, name, code, approving_transaction
                )
            except ApprovalRefused as refused:
                self._log(name, "REFUSE", approval_hash.hex(), refused.status, refused.code)
                raise
            signature = self.signer.sign(body_signing_bytes)
            self._log(name, "APPROVE", approval_hash.hex(), 200, self._describe(decoded.summary))
        return {
            "approval_hash": approval_hash.hex(),
            "summary": decoded.summary,
            "approver": name,
            "public_key": self.signer.public_key.hex(),
            "signature": signature.hex(),
        }

    def _approve(
        self, approval_hash: bytes, name: str, code: str, approving_transaction: bytes
    ) -> tuple[DecodedProposal, bytes]:
        limits = self.config.limits
        now_s = self.clock_s()
        approver = self._usable_approver(name, now_s)
        with self.store.transaction() as db:
            pending = self._pending(db, approval_hash, now_s)
        decoded = decode_proposal(pending.body, self.signer.suite, self.config.chain_id)
        body = check_approving_transaction(approving_transaction, decoded, self.signer.public_key)
        if not approver.totp_secret:
            raise ApprovalRefused(
                "factor_not_enrolled", f"approver {name!r} has no TOTP secret (WebAuthn only)"
            )
        with self.counting_failure(name, now_s):
            step = check_totp(
                approver.totp_secret,
                code,
                now_s=now_s,
                window=limits.totp_window_steps,
                last_step=approver.last_totp_step,
                request_s=pending.created_s,
            )
        with self.store.transaction() as db:  # the code is consumed with the approval, or neither
            self.store.record_totp_success(db, name, step)
            self.store.mark_approved(db, approval_hash, name)
        return decoded, transaction_signing_bytes(body)

    @contextmanager
    def counting_failure(self, name: str, now_s: float) -> Iterator[None]:
        """A refusal inside is one failed second factor of ``name`` (lock-out at
        ``max_failures``)."""
        limits = self.config.limits
        try:
            yield
        except ApprovalRefused as refused:
            with self.store.transaction() as db:
                locked = self.store.record_failure(
                    db, name, limits.max_failures, now_s + limits.lockout_s
                )
            if locked:
                refused.details["locked_out"] = True
            raise

    def _usable_approver(self, name: str, now_s: float) -> Approver:
        """The enrolled, unlocked approver ``name``, with this attempt counted (rate limit)."""
        limits = self.config.limits
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
            attempts = self.store.count_attempts(db, name, now_s - RATE_WINDOW_S)
            if attempts >= limits.max_attempts_per_minute:
                raise ApprovalRefused(
                    "rate_limited",
                    f"at most {limits.max_attempts_per_minute} attempts a minute per approver",
                )
            self.store.add_attempt(db, name, now_s)
        return approver

    def _pending(
        self, db: sqlite3.Connection, approval_hash: bytes, now_s: float
    ) -> PendingApproval:
        pending = self.store.pending(db, approval_hash)
        if pending is None:
            raise ApprovalRefused(
                "approval_not_found",
                "no approval was requested for this hash (POST /v1/approvals first)",
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


def open_service(
    config: ApprovalConfig, *, clock_s: Callable[[], float] = time.time
) -> ApprovalService:
    """The service of ``config``: its key unlocked (a keystore's passphrase from
    ``JINQIAO_KEY_PASSPHRASE*`` or a prompt, docs/keys.md), its SQLite state and audit log in
    ``state_dir``."""
    signer = load_key(config.key)
    store = ApprovalStore(config.state_dir)
    return ApprovalService(config, signer, store, open_audit_log(config.state_dir), clock_s=clock_s)
