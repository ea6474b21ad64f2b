"""The approval service: an institution's second factor for what matters (issue 11 item 4,
ADR 0043, docs/keys.md "Second factor").

It holds a signing key (a keystore or an HSM key, ``jinqiao.keys``) and co-signs a transaction's
signing bytes only after an enrolled approver confirms that transaction with a TOTP code or a
WebAuthn assertion whose challenge is the transaction's hash. It decodes the transaction and
shows its summary, so what the approver sees is what is signed; codes are single-use, attempts
rate-limited, approvers locked out after repeated failures, and every approval and refusal is
appended to a hash-chained audit log.
"""

from jinqiao.approval.app import create_app
from jinqiao.approval.config import ApprovalConfig, Limits, WebAuthnSettings, load_config
from jinqiao.approval.errors import REFUSAL_STATUS, ApprovalRefused
from jinqiao.approval.service import ApprovalService, SecondFactor
from jinqiao.approval.store import ApprovalStore
from jinqiao.approval.summary import DecodedTransaction, decode_transaction

__all__ = [
    "REFUSAL_STATUS",
    "ApprovalConfig",
    "ApprovalRefused",
    "ApprovalService",
    "ApprovalStore",
    "DecodedTransaction",
    "Limits",
    "SecondFactor",
    "WebAuthnSettings",
    "create_app",
    "decode_transaction",
    "load_config",
]
