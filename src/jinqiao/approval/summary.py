"""What the approver sees: a pending approval's proposing transaction decoded into a human summary
(sender, contract, method, amount, asset, recipient), and the one transaction the service will
sign for it.

The service decodes the canonical bytes of the proposing transaction
(``registry.propose_transaction``, docs/keys.md "Signing policies") and nothing else: the
summary it shows and the approval hash it binds the second factor to (the transaction hash of
those bytes, which is the pending approval's identity on chain) come from the same ``bytes``.
What it signs is ``registry.approve_transaction(approval_hash)`` for that account and nothing
else, so what is approved is what is signed. A body that is not canonical, names another chain,
is no proposal or proposes a method the built-in contracts do not declare is refused (a summary
of arguments the service cannot read would be no summary at all).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from jinqiao.approval.errors import ApprovalRefused
from jinqiao.apps import default_contracts
from jinqiao.apps.registry import ApprovalArgs, ProposeTransactionArgs
from jinqiao.core.codec import decode, json_view
from jinqiao.core.crypto import CryptoSuite
from jinqiao.core.errors import DecodeError
from jinqiao.core.hashing import transaction_hash
from jinqiao.core.limits import MAX_ARGS_BYTES, MAX_TRANSACTION_BYTES
from jinqiao.core.types import TransactionBody
from jinqiao.execution.contract import MethodSpec
from jinqiao.execution.identity import REGISTRY

__all__ = ["DecodedProposal", "check_approving_transaction", "decode_proposal"]

T = TypeVar("T")

PROPOSE_METHOD = "propose_transaction"
APPROVE_METHOD = "approve_transaction"

_METHODS: dict[tuple[str, str], MethodSpec] = {
    (contract.name, name): spec
    for contract in default_contracts()
    for name, spec in contract.methods.items()
    if not spec.read_only
}


@dataclass(frozen=True)
class DecodedProposal:
    body: TransactionBody
    approval_hash: bytes
    """The transaction hash of the proposing transaction: the pending approval's identity."""
    summary: dict[str, Any]


def _arguments(raw: bytes, kind: type[T], what: str) -> T:
    try:
        return decode(raw, kind, max_bytes=MAX_ARGS_BYTES)
    except DecodeError as exc:
        raise ApprovalRefused(
            "malformed_transaction", f"{what} are not a canonical {kind.__name__}: {exc.message}"
        ) from None


def _body(raw: bytes, chain_id: str, what: str) -> TransactionBody:
    try:
        body = decode(raw, TransactionBody, max_bytes=MAX_TRANSACTION_BYTES)
    except DecodeError as exc:
        raise ApprovalRefused(
            "malformed_transaction",
            f"the {what} is not the canonical encoding of a transaction body: {exc.message}",
        ) from None
    if body.chain_id != chain_id:
        raise ApprovalRefused(
            "wrong_chain",
            f"the {what} is for chain {body.chain_id!r}; this service approves {chain_id!r}",
        )
    return body


def decode_proposal(raw: bytes, suite: CryptoSuite, chain_id: str) -> DecodedProposal:
    """The proposing transaction in ``raw`` with its summary; ``ApprovalRefused``
    ``malformed_transaction``, ``wrong_chain``, ``not_a_proposal`` or ``unknown_method``."""
    body = _body(raw, chain_id, "proposal")
    if (body.contract, body.method) != (REGISTRY, PROPOSE_METHOD):
        raise ApprovalRefused(
            "not_a_proposal",
            f"{body.contract}.{body.method} is no {REGISTRY}.{PROPOSE_METHOD}: the service "
            "co-signs pending approvals only",
        )
    proposal = _arguments(body.args, ProposeTransactionArgs, "the proposal's arguments")
    spec = _METHODS.get((proposal.contract, proposal.method))
    if spec is None:
        raise ApprovalRefused(
            "unknown_method",
            f"{proposal.contract}.{proposal.method} is no method of the built-in contracts; "
            "the service cannot show what it would approve",
        )
    arguments = _arguments(proposal.args, spec.args_type, "the proposed call's arguments")
    approval_hash = transaction_hash(suite, body)
    fields = {name: json_view(getattr(arguments, name)) for name in arguments.__struct_fields__}
    summary = {
        "approval_hash": approval_hash.hex(),
        "chain_id": body.chain_id,
        "sender": body.sender.hex(),
        "contract": proposal.contract,
        "method": proposal.method,
        "amount_minor": fields.get("amount_minor"),
        "asset": fields.get("asset"),
        "recipient": fields.get("recipient"),
        "arguments": fields,
        "expires_at_height": proposal.expires_at_height,
    }
    return DecodedProposal(body, approval_hash, summary)


def check_approving_transaction(
    raw: bytes, proposal: DecodedProposal, public_key: bytes
) -> TransactionBody:
    """The body in ``raw`` if it is exactly ``registry.approve_transaction(approval_hash)`` from
    the proposal's account, signed by ``public_key`` (the service's key), on its chain; else
    ``ApprovalRefused`` ``malformed_transaction``, ``wrong_chain`` or ``wrong_transaction``."""
    body = _body(raw, proposal.body.chain_id, "approving transaction")
    if (body.contract, body.method) != (REGISTRY, APPROVE_METHOD):
        raise ApprovalRefused(
            "wrong_transaction", f"the service signs {REGISTRY}.{APPROVE_METHOD} only"
        )
    if body.sender != proposal.body.sender or body.public_key != public_key:
        raise ApprovalRefused(
            "wrong_transaction",
            "the approving transaction must come from the proposal's account, with the "
            "service's public key",
        )
    approval = _arguments(body.args, ApprovalArgs, "the approval's arguments")
    if approval.approval_hash != proposal.approval_hash:
        raise ApprovalRefused(
            "wrong_transaction", "the approving transaction names another pending approval"
        )
    return body
