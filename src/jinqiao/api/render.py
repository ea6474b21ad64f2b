"""JSON views of chain structures: bytes become lowercase hex, structs become objects."""

from __future__ import annotations

from typing import Any

import msgspec

from jinqiao.core.codec import encode
from jinqiao.core.types import Block, BlockHeader, CommitCertificate, CommittedBlock, Receipt


def to_json(value: Any) -> Any:
    """A JSON-ready view of ``value`` (structs, tuples, bytes, ints, strings)."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, msgspec.Struct):
        return {field: to_json(getattr(value, field)) for field in value.__struct_fields__}
    if isinstance(value, tuple | list):
        return [to_json(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_json(item) for key, item in value.items()}
    return value


def receipt_json(receipt: Receipt) -> dict[str, Any]:
    return {
        "transaction_hash": receipt.transaction_hash.hex(),
        "status": "ok" if receipt.status == 0 else "rejected",
        "code": receipt.code,
        "message": receipt.message,
        "events": [
            {"contract": e.contract, "name": e.name, "attributes": dict(e.attributes)}
            for e in receipt.events
        ],
        "steps_used": receipt.steps_used,
        "result": receipt.result.hex(),
    }


def header_json(header: BlockHeader, block_hash: bytes) -> dict[str, Any]:
    view: dict[str, Any] = to_json(header)
    view["hash"] = block_hash.hex()
    return view


def block_json(
    committed: CommittedBlock,
    block_hash: bytes,
    *,
    include_transactions: bool,
    include_hashes: bool = False,
    include_leaves: bool = False,
) -> dict[str, Any]:
    """A block's JSON view. ``include_leaves`` adds the canonical bytes (hex) of every
    transaction and receipt, in block order: the leaves of ``transactions_root`` and
    ``receipts_root`` (docs/proofs.md §9.3)."""
    block: Block = committed.block
    certificate: CommitCertificate = committed.certificate
    view: dict[str, Any] = {
        "header": header_json(block.header, block_hash),
        "certificate": to_json(certificate),
        "certificate_bytes": encode(certificate).hex(),
        "header_bytes": encode(block.header).hex(),
        "transaction_count": len(block.transactions),
        "rejected_count": sum(1 for r in committed.receipts if r.status != 0),
    }
    if include_hashes:
        view["transaction_hashes"] = [r.transaction_hash.hex() for r in committed.receipts]
    if include_leaves:
        view["transaction_leaves"] = [encode(tx).hex() for tx in block.transactions]
        view["receipt_leaves"] = [encode(receipt).hex() for receipt in committed.receipts]
    if include_transactions:
        view["transactions"] = [
            {
                "sender": tx.body.sender.hex(),
                "contract": tx.body.contract,
                "method": tx.body.method,
                "nonce": tx.body.nonce,
                "receipt": receipt_json(receipt),
            }
            for tx, receipt in zip(block.transactions, committed.receipts, strict=True)
        ]
    return view
