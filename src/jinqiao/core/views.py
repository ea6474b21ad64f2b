"""JSON views of chain structures that both the API (which shows them) and the SDK (which checks
a saved answer's view against the proven structure, ``jinqiao.client.saved``) render."""

from __future__ import annotations

from typing import Any

from jinqiao.core.codec import encode, json_view
from jinqiao.core.types import Block, BlockHeader, CommitCertificate, CommittedBlock, Receipt


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
    view: dict[str, Any] = json_view(header)
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
        "certificate": json_view(certificate),
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


__all__ = ["block_json", "header_json", "receipt_json"]
