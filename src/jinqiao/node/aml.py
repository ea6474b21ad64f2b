"""AML reports from a node's committed blocks: what an API route (``GET /v1/aml/report``, not yet
written) or a command calls. Reads the range's blocks, the AML parameters and the accounts of the
parties in force at its last block, and the proofs of the listed transactions, all through the
node's ``Reader``; the rules themselves are ``jinqiao.reports.aml`` (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from jinqiao.apps.aml import AML_PARAMETERS_KEY, AmlParameters
from jinqiao.apps.token import TOKEN, Asset, asset_key
from jinqiao.core.codec import decode_stored
from jinqiao.core.crypto import Signer
from jinqiao.execution.identity import GOVERNANCE, REGISTRY, Account, account_key
from jinqiao.execution.state import full_key
from jinqiao.node.reads import NotFound, Reader
from jinqiao.reports.aml import (
    AmlReport,
    ReportRangeEmpty,
    build_aml_report,
    check_report_range,
    named_addresses,
    party_of,
)
from jinqiao.reports.aml_signed import TransactionEvidence, sign_aml_report

T = TypeVar("T")


@dataclass(frozen=True)
class AmlReportFiles:
    report: AmlReport
    signed: bytes
    """The signed file with the proofs (``jinqiao.reports.aml_signed``)."""


def generate_aml_report(
    reader: Reader,
    chain_id: str,
    from_height: int,
    to_height: int,
    *,
    institution: str | None,
    signer: Signer,
    asset: str = "CNY",
) -> AmlReportFiles:
    """The report of ``institution`` (``None``: the regulator's) over blocks
    ``from_height..to_height`` and its signed file. Refuses a reversed, empty or too large range
    (``report_range_reversed``, ``report_range_empty``, ``report_range_too_large``) before
    reading any block."""
    try:
        head_height = reader.block().block.header.height
    except NotFound:
        head_height = 0
    check_report_range(from_height, to_height, head_height)
    blocks = [reader.block(height) for height in range(from_height, to_height + 1)]
    parameters = _at(reader, GOVERNANCE, AML_PARAMETERS_KEY, to_height, AmlParameters)
    asset_record = _at(reader, TOKEN, asset_key(asset), to_height, Asset)
    if asset_record is None:
        raise ReportRangeEmpty(f"no asset {asset!r} at height {to_height}", asset=asset)
    directory = {
        address: party_of(_at(reader, REGISTRY, account_key(address), to_height, Account))
        for address in named_addresses(blocks, asset)
    }
    report = build_aml_report(
        blocks,
        directory,
        parameters or AmlParameters(),
        chain_id=chain_id,
        institution=institution,
        asset=asset,
        scale=asset_record.scale,
    )
    evidence: dict[bytes, TransactionEvidence] = {}
    for tx in report.transactions:
        record = reader.transaction(tx.transaction_hash)
        if record is None:
            raise NotFound(f"transaction {tx.transaction_hash.hex()} is not committed")
        evidence[tx.transaction_hash] = TransactionEvidence(
            tx.transaction_hash, record.transaction_proof, record.receipt_proof
        )
    return AmlReportFiles(report, sign_aml_report(report, evidence, signer))


def _at(reader: Reader, contract: str, key: bytes, height: int, kind: type[T]) -> T | None:
    raw = reader.state(full_key(contract, key), height).value
    return None if raw is None else decode_stored(raw, kind)
