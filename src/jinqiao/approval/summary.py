"""What the approver sees: a transaction body decoded into a human summary (sender, contract,
method, amount, asset, recipient) and the hash of exactly those bytes.

The service decodes the canonical bytes it was sent and nothing else: the summary it shows, the
hash it binds the second factor to and the bytes it signs all come from the same ``bytes``, so
what is approved is what is signed. A body that is not canonical, names another chain or a method
the built-in contracts do not declare is refused (a summary of arguments the service cannot read
would be no summary at all).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from jinqiao.approval.errors import ApprovalRefused
from jinqiao.apps import default_contracts
from jinqiao.core.codec import decode
from jinqiao.core.crypto import CryptoSuite
from jinqiao.core.errors import DecodeError
from jinqiao.core.hashing import transaction_hash, transaction_signing_bytes
from jinqiao.core.limits import MAX_ARGS_BYTES, MAX_TRANSACTION_BYTES
from jinqiao.core.types import TransactionBody
from jinqiao.execution.contract import MethodSpec

__all__ = ["DecodedTransaction", "decode_transaction"]

_METHODS: dict[tuple[str, str], MethodSpec] = {
    (contract.name, name): spec
    for contract in default_contracts()
    for name, spec in contract.methods.items()
    if not spec.read_only
}


@dataclass(frozen=True)
class DecodedTransaction:
    body: TransactionBody
    hash: bytes
    """The suite hash of the transaction (``core.hashing.transaction_hash``): its identity."""
    signing_bytes: bytes
    """What the sender signs and the service co-signs (``transaction_signing_bytes``)."""
    summary: dict[str, Any]


def _plain(value: Any) -> Any:
    """An argument as a JSON value: bytes as hex, structs as maps, sequences as lists."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, msgspec.Struct):
        return {name: _plain(getattr(value, name)) for name in value.__struct_fields__}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def decode_transaction(raw: bytes, suite: CryptoSuite, chain_id: str) -> DecodedTransaction:
    """The body in ``raw`` (the canonical encoding of a ``TransactionBody``) with its summary;
    ``ApprovalRefused`` ``malformed_transaction``, ``wrong_chain`` or ``unknown_method``."""
    try:
        body = decode(raw, TransactionBody, max_bytes=MAX_TRANSACTION_BYTES)
    except DecodeError as exc:
        raise ApprovalRefused(
            "malformed_transaction",
            f"not the canonical encoding of a transaction body: {exc.message}",
        ) from None
    if body.chain_id != chain_id:
        raise ApprovalRefused(
            "wrong_chain",
            f"the transaction is for chain {body.chain_id!r}; this service approves {chain_id!r}",
        )
    spec = _METHODS.get((body.contract, body.method))
    if spec is None:
        raise ApprovalRefused(
            "unknown_method",
            f"{body.contract}.{body.method} is no method of the built-in contracts; "
            "the service cannot show what it would approve",
        )
    try:
        arguments = decode(body.args, spec.args_type, max_bytes=MAX_ARGS_BYTES)
    except DecodeError as exc:
        raise ApprovalRefused(
            "malformed_transaction",
            f"the arguments are not a canonical {spec.args_type.__name__}: {exc.message}",
        ) from None
    identity = transaction_hash(suite, body)
    fields = {name: _plain(getattr(arguments, name)) for name in arguments.__struct_fields__}
    summary = {
        "transaction_hash": identity.hex(),
        "chain_id": body.chain_id,
        "sender": body.sender.hex(),
        "contract": body.contract,
        "method": body.method,
        "amount_minor": fields.get("amount_minor"),
        "asset": fields.get("asset"),
        "recipient": fields.get("recipient"),
        "arguments": fields,
        "valid_until": body.valid_until,
    }
    return DecodedTransaction(body, identity, transaction_signing_bytes(body), summary)
