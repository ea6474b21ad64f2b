"""The signed AML report file: an ``AmlReport`` with, for every transaction it lists, the proof
that the transaction and its receipt are in a block whose header a commit certificate vouches for,
all signed by the generating node's report key.

The file is msgpack (``SignedAmlFile``): ``body`` is the msgpack encoding of an ``AmlEvidence``
(the report and the proofs), and ``signature`` is the signature of the node's key over
``AML_SIGNING_DOMAIN + body`` in the network's crypto suite. ``verify_aml_file`` checks it with
the genesis file alone (docs/aml.md, "Verifying the signed file"): the signature, then per listed
transaction both Merkle proofs and the certificate, and that the receipt says what the report
says (the ``Transfer`` event's parties and amount, or the rejection code of an attempt).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar, cast

import msgspec

from jinqiao.core.codec import decode
from jinqiao.core.crypto import Signer
from jinqiao.core.errors import DecodeError
from jinqiao.core.genesis import Genesis
from jinqiao.core.hashing import transaction_hash
from jinqiao.core.limits import MAX_TRANSACTION_BYTES
from jinqiao.core.proofs import ReceiptProof, TransactionProof
from jinqiao.core.types import (
    BlockHeader,
    Receipt,
    SignedTransaction,
    ValidatorSet,
    decode_transaction,
)
from jinqiao.reports.aml import ATTEMPT, AmlReport, ListedTransaction
from jinqiao.verify import (
    VerificationError,
    verify_receipt_inclusion,
    verify_transaction_inclusion,
)

AML_SIGNING_DOMAIN = b"jinqiao/aml-report/v1\x00"
MAX_AML_FILE_BYTES = 256 * 1024 * 1024
MAX_RECEIPT_BYTES = 1024 * 1024

T = TypeVar("T")


class TransactionEvidence(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The proofs of one listed transaction (``Reader.transaction`` gives them)."""

    transaction_hash: bytes
    transaction_proof: TransactionProof
    receipt_proof: ReceiptProof


class AmlEvidence(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What is signed: the report and the evidence of each transaction it lists, in order."""

    report: AmlReport
    evidence: tuple[TransactionEvidence, ...]


class SignedAmlFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    suite: str
    public_key: bytes
    body: bytes
    signature: bytes


def sign_aml_report(
    report: AmlReport, evidence: Mapping[bytes, TransactionEvidence], signer: Signer
) -> bytes:
    """The signed file's bytes. ``evidence`` maps each listed transaction's hash to its proofs;
    a listed transaction without them is a bug of the caller (``VerificationError``)."""
    missing = [
        tx.transaction_hash.hex()
        for tx in report.transactions
        if tx.transaction_hash not in evidence
    ]
    if missing:
        raise VerificationError("listed transactions without proofs", missing=missing[:8])
    ordered = tuple(
        evidence[hash_]
        for hash_ in dict.fromkeys(tx.transaction_hash for tx in report.transactions)
    )
    body = msgspec.msgpack.encode(AmlEvidence(report, ordered))
    signature = signer.sign(AML_SIGNING_DOMAIN + body)
    return msgspec.msgpack.encode(
        SignedAmlFile(signer.suite.name, signer.public_key, body, signature)
    )


def verify_aml_file(
    raw: bytes,
    genesis: Genesis,
    *,
    signer_public_key: bytes | None = None,
    validators_for: Callable[[BlockHeader], ValidatorSet] | None = None,
) -> AmlReport:
    """The report in a signed file, after checking everything in it; ``VerificationError``
    names the first thing that does not check. ``signer_public_key``: the key the file must be
    signed by (else any key, which the caller should then compare with the node it trusts).
    ``validators_for``: the validator set that certifies a header, when governance changed it
    since genesis (the SDK's ``Client.validators_for``)."""
    signed = _decode(raw, SignedAmlFile, "the file", MAX_AML_FILE_BYTES)
    suite = genesis.suite
    if signed.suite != suite.name:
        raise VerificationError(
            f"signed with suite {signed.suite!r}, the network's is {suite.name}"
        )
    if signer_public_key is not None and signed.public_key != signer_public_key:
        raise VerificationError("signed by another key than the one expected")
    if not suite.verify(signed.public_key, AML_SIGNING_DOMAIN + signed.body, signed.signature):
        raise VerificationError("the signature does not verify over the report")
    contents = _decode(signed.body, AmlEvidence, "the signed body", MAX_AML_FILE_BYTES)
    report = contents.report
    if report.chain_id != genesis.chain_id:
        raise VerificationError(f"a report of chain {report.chain_id!r}")
    by_hash = {item.transaction_hash: item for item in contents.evidence}
    for tx in report.transactions:
        item = by_hash.get(tx.transaction_hash)
        if item is None:
            raise VerificationError(f"no proof of transaction {tx.transaction_hash.hex()}")
        header = item.transaction_proof.header
        validators = None if validators_for is None else validators_for(header)
        _verify_listed(genesis, tx, item, validators)
    return report


def _verify_listed(
    genesis: Genesis,
    tx: ListedTransaction,
    item: TransactionEvidence,
    validators: ValidatorSet | None,
) -> None:
    where = f"transaction {tx.transaction_hash.hex()}"
    proven_tx, proven_receipt = item.transaction_proof, item.receipt_proof
    header = proven_tx.header
    if proven_receipt.header != header or header.height != tx.height:
        raise VerificationError(f"{where}: the proofs are not of block {tx.height}")
    if header.time_ms != tx.time_ms:
        raise VerificationError(f"{where}: the block time is not the one listed")
    if not proven_tx.proof.leaf_index == proven_receipt.proof.leaf_index == tx.index:
        raise VerificationError(f"{where}: the proofs are not of index {tx.index}")
    verify_transaction_inclusion(
        genesis,
        header,
        proven_tx.certificate,
        proven_tx.transaction,
        proven_tx.proof,
        validators=validators,
    )
    verify_receipt_inclusion(
        genesis,
        header,
        proven_receipt.certificate,
        proven_receipt.receipt,
        proven_receipt.proof,
        validators=validators,
    )
    signed = _decode(proven_tx.transaction, SignedTransaction, where, MAX_TRANSACTION_BYTES)
    receipt = _decode(proven_receipt.receipt, Receipt, where, MAX_RECEIPT_BYTES)
    identity = transaction_hash(genesis.suite, signed.body)
    if identity != tx.transaction_hash or receipt.transaction_hash != tx.transaction_hash:
        raise VerificationError(f"{where}: the proven transaction has another hash")
    if tx.kind == ATTEMPT:
        if receipt.code != tx.code:
            raise VerificationError(f"{where}: the receipt's code is {receipt.code!r}")
        return
    if not 0 <= tx.event_index < len(receipt.events):
        raise VerificationError(f"{where}: the receipt has no event {tx.event_index}")
    event = receipt.events[tx.event_index]
    claimed = {
        "sender": tx.sender.hex(),
        "recipient": tx.recipient.hex(),
        "amount_minor": tx.amount_minor,
    }
    proven = {key: event.attribute(key) for key in claimed}
    if event.name != "Transfer" or proven != claimed:
        raise VerificationError(f"{where}: the receipt's event is not the listed movement")


def _decode(raw: bytes, kind: type[T], what: str, max_bytes: int) -> T:
    if len(raw) > max_bytes:
        raise VerificationError(f"{what} is over {max_bytes} bytes")
    try:
        if kind is SignedTransaction:
            return cast(T, decode_transaction(raw, max_bytes=max_bytes))  # either arity
        if kind is Receipt:
            return decode(raw, kind, max_bytes=max_bytes)  # the chain's canonical codec
        return msgspec.msgpack.decode(raw, type=kind, strict=True)
    except (DecodeError, msgspec.DecodeError, msgspec.ValidationError) as error:
        raise VerificationError(f"{what} does not decode: {error}") from None
