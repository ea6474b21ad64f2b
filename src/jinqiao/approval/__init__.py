"""The approval service: an institution's second factor for what matters (issue 11 item 4,
ADR 0043, docs/keys.md "Second factor").

It holds a signing key (a keystore or an HSM key, ``jinqiao.keys``): the key of an account's amount
rule. It co-signs a pending approval on chain (it signs ``registry.approve_transaction`` of the
approval's hash) only after an enrolled approver confirms that approval with a TOTP code or a
WebAuthn assertion over a challenge derived from that approval (ADR 0052). It decodes the
proposing transaction and shows its summary, so what the approver sees is what is signed; codes
and challenges are single-use, attempts rate-limited, approvers locked out after repeated
failures, and every request, approval and refusal is appended to a hash-chained audit log.
"""

from jinqiao.approval.app import create_app
from jinqiao.approval.config import ApprovalConfig, Limits, WebAuthnSettings, load_config
from jinqiao.approval.errors import REFUSAL_STATUS, ApprovalRefused
from jinqiao.approval.factors import new_totp_secret
from jinqiao.approval.service import ApprovalService, open_service
from jinqiao.approval.store import ApprovalStore
from jinqiao.approval.summary import DecodedProposal, decode_proposal

__all__ = [
    "REFUSAL_STATUS",
    "ApprovalConfig",
    "ApprovalRefused",
    "ApprovalService",
    "ApprovalStore",
    "DecodedProposal",
    "Limits",
    "WebAuthnSettings",
    "create_app",
    "decode_proposal",
    "load_config",
    "new_totp_secret",
    "open_service",
]
