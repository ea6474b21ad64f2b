"""``jinqiao aml``: anti-money-laundering reports (docs/aml.md), built on this machine from blocks,
receipts and state read through the SDK with every proof verified against the genesis.

It uses the routes that exist (blocks with transaction hashes, transactions with their proofs,
proven state reads): one request per block and one per transaction, so it suits ranges of
hundreds of blocks. The signed file is signed by the key given with ``--key`` (whoever generates
the report signs it); the node-side generator is ``jinqiao.node.aml``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from jinqiao.apps.aml import AML_PARAMETERS_KEY, AmlParameters
from jinqiao.apps.token import TOKEN, Asset, asset_key
from jinqiao.cli.common import Target, guarded, with_target
from jinqiao.client import Client, ClientError
from jinqiao.core.codec import decode
from jinqiao.core.errors import InvalidInput
from jinqiao.core.limits import MAX_PROOF_BYTES
from jinqiao.core.proofs import ReceiptProof, TransactionProof
from jinqiao.core.types import (
    Block,
    BlockHeader,
    CommitCertificate,
    CommittedBlock,
    Receipt,
    SignedTransaction,
)
from jinqiao.core.types import decode_transaction as decode_signed_transaction
from jinqiao.execution.identity import GOVERNANCE, REGISTRY, Account, account_key
from jinqiao.reports.aml import (
    AmlReport,
    aml_report_to_csv,
    aml_report_to_json,
    build_aml_report,
    check_report_range,
    named_addresses,
    party_of,
)
from jinqiao.reports.aml_signed import TransactionEvidence, sign_aml_report
from jinqiao.verify import verify_header, verify_receipt_inclusion, verify_transaction_inclusion

FORMATS = ("json", "csv", "signed")
T = TypeVar("T")

aml_app = typer.Typer(help="Anti-money-laundering reports (docs/aml.md).", no_args_is_help=True)


@aml_app.command("report")
@guarded
@with_target
def aml_report(
    target: Target,
    from_height: Annotated[int, typer.Option("--from-height", help="First block (from 1).")],
    to_height: Annotated[int, typer.Option("--to-height", help="Last block (inclusive).")],
    institution: Annotated[
        str | None,
        typer.Option(help="Organization id: its customers only (default: every account)."),
    ] = None,
    output_format: Annotated[
        str, typer.Option("--format", help="json, csv or signed (proofs, signed by --key).")
    ] = "json",
    key: Annotated[
        str | None, typer.Option("--key", "-k", help="Signer of a signed report: name or file.")
    ] = None,
    output: Annotated[
        Path | None, typer.Option(help="Write the report here (default: standard output).")
    ] = None,
    asset: Annotated[str, typer.Option(help="The asset reported on.")] = "CNY",
) -> None:
    """Large-value and suspicious-transaction cases in blocks FROM..TO."""
    if output_format not in FORMATS:
        raise InvalidInput(f"--format is one of {', '.join(FORMATS)}, not {output_format!r}")
    if output_format == "signed" and (key is None or output is None):
        raise InvalidInput("a signed report needs --key (who signs it) and --output (a file)")
    signer = target.key(key) if key is not None else None
    with target.client() as client:
        check_report_range(from_height, to_height, int(client.status()["height"]))
        blocks, evidence = _read_blocks(client, from_height, to_height)
        report = _build(client, blocks, from_height, to_height, institution, asset)
    if signer is not None and output_format == "signed":
        content = sign_aml_report(report, evidence, signer)
    else:
        content = aml_report_to_csv(report) if output_format == "csv" else _json(report)
    if output is None:
        sys.stdout.buffer.write(content)
        sys.stdout.flush()
    else:
        output.write_bytes(content)


def _json(report: AmlReport) -> bytes:
    return aml_report_to_json(report) + b"\n"


def _build(
    client: Client,
    blocks: list[CommittedBlock],
    from_height: int,
    to_height: int,
    institution: str | None,
    asset: str,
) -> AmlReport:
    asset_record = client.read_struct(TOKEN, asset_key(asset), Asset, height=to_height)
    if asset_record is None:
        raise InvalidInput(f"no asset {asset!r} at height {to_height}", code="report_range_empty")
    parameters = client.read_struct(GOVERNANCE, AML_PARAMETERS_KEY, AmlParameters, height=to_height)
    directory = {
        address: party_of(
            client.read_struct(REGISTRY, account_key(address), Account, height=to_height)
        )
        for address in named_addresses(blocks, asset)
    }
    return build_aml_report(
        blocks,
        directory,
        parameters or AmlParameters(),
        chain_id=client.genesis.chain_id,
        institution=institution,
        asset=asset,
        scale=asset_record.scale,
    )


def _read_blocks(
    client: Client, from_height: int, to_height: int
) -> tuple[list[CommittedBlock], dict[bytes, TransactionEvidence]]:
    """Each block of the range rebuilt from its verified header and its transactions' verified
    proofs, and those proofs (for a signed file)."""
    blocks: list[CommittedBlock] = []
    evidence: dict[bytes, TransactionEvidence] = {}
    for height in range(from_height, to_height + 1):
        view = _get(client, f"/v1/blocks/{height}", hashes="true")
        header = _decode(view["header_bytes"], BlockHeader)
        certificate = _decode(view["certificate_bytes"], CommitCertificate)
        verify_header(client.genesis, header, certificate, validators=client.validators_for(header))
        transactions: list[SignedTransaction] = []
        receipts: list[Receipt] = []
        for index, identity in enumerate(view.get("transaction_hashes", [])):
            item = _proven_transaction(client, header, index, identity)
            evidence[item.transaction_hash] = item
            transactions.append(decode_transaction(item.transaction_proof.transaction))
            receipts.append(decode_receipt(item.receipt_proof.receipt))
        block = Block(header, tuple(transactions))
        blocks.append(CommittedBlock(block, certificate, tuple(receipts)))
    return blocks, evidence


def _proven_transaction(
    client: Client, header: BlockHeader, index: int, identity: str
) -> TransactionEvidence:
    answer = _get(client, f"/v1/transactions/{identity}")
    transaction_proof = _decode(answer["transaction_proof"], TransactionProof)
    receipt_proof = _decode(answer["receipt_proof"], ReceiptProof)
    if transaction_proof.header != header or receipt_proof.header != header:
        raise ClientError("bad_response", f"transaction {identity} is proven in another block")
    if not transaction_proof.proof.leaf_index == receipt_proof.proof.leaf_index == index:
        raise ClientError("bad_response", f"transaction {identity} is proven at another index")
    validators = client.validators_for(header)
    verify_transaction_inclusion(
        client.genesis,
        header,
        transaction_proof.certificate,
        transaction_proof.transaction,
        transaction_proof.proof,
        validators=validators,
    )
    verify_receipt_inclusion(
        client.genesis,
        header,
        receipt_proof.certificate,
        receipt_proof.receipt,
        receipt_proof.proof,
        validators=validators,
    )
    receipt = decode_receipt(receipt_proof.receipt)
    if receipt.transaction_hash.hex() != identity:
        raise ClientError("bad_response", f"the receipt proven for {identity} is another's")
    return TransactionEvidence(receipt.transaction_hash, transaction_proof, receipt_proof)


def _get(client: Client, path: str, **params: str) -> dict[str, Any]:
    try:
        answer: dict[str, Any] = json.loads(client.raw_get(path, params=params))
    except ValueError:
        raise ClientError("bad_response", f"{path} did not answer JSON") from None
    return answer


def _decode(value: str, kind: type[T]) -> T:
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise ClientError("bad_response", f"a {kind.__name__} that is not hex") from None
    return decode(raw, kind, max_bytes=MAX_PROOF_BYTES)


def decode_transaction(raw: bytes) -> SignedTransaction:
    return decode_signed_transaction(raw, max_bytes=MAX_PROOF_BYTES)


def decode_receipt(raw: bytes) -> Receipt:
    return decode(raw, Receipt, max_bytes=MAX_PROOF_BYTES)
