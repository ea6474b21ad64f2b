"""The limits a verifier relies on hold on the chain's side too (docs/proofs.md §3.1, §7): every
receipt the chain commits fits a ``ReceiptProof`` of at most ``MAX_PROOF_BYTES``; decoding
refuses an event, receipt, validator or validator set outside its documented bounds; genesis
refuses a public key no signature can verify under."""

from __future__ import annotations

import json
from typing import Any

import pytest

from jinqiao.apps import default_contracts
from jinqiao.core.codec import CanonicalStruct, decode, encode
from jinqiao.core.errors import DecodeError, InvalidInput
from jinqiao.core.genesis import load_genesis
from jinqiao.core.limits import (
    MAX_CONSENSUS_ROUND,
    MAX_EVENT_ATTRIBUTES,
    MAX_HEIGHT,
    MAX_NAME_LENGTH,
    MAX_PROOF_BYTES,
    MAX_PUBLIC_KEY_BYTES,
    MAX_RECEIPT_BYTES,
    MAX_TIME_MS,
    MAX_VALIDATOR_POWER,
    MAX_VALIDATORS,
)
from jinqiao.core.proofs import (
    MAX_MERKLE_LEAVES,
    MAX_MERKLE_PROOF_SIBLINGS,
    MerkleProof,
    ReceiptProof,
)
from jinqiao.core.types import (
    BlockHeader,
    CommitCertificate,
    CommitSignature,
    Event,
    Receipt,
    Validator,
    ValidatorSet,
)
from jinqiao.execution.api import Context, Contract, method
from tests.helpers import doc_examples
from tests.helpers import ed25519_points as points
from tests.helpers.chain import Chain

# ------------------------------------------------------------------------------------------------
# A receipt's size limit and MAX_PROOF_BYTES


class ShoutArgs(CanonicalStruct, frozen=True):
    text: str
    times: int


class Shout(Contract):
    """Writes a key, then repeats ``text`` in ``times`` events: a receipt as large as asked."""

    name = "shout"

    @method(ShoutArgs)
    def shout(self, ctx: Context, args: ShoutArgs) -> None:
        ctx.state.save(b"shouted", b"yes")
        for _ in range(args.times):
            ctx.emit("Shouted", text=args.text)


def _shouting_chain() -> Chain:
    return Chain(contracts=[*default_contracts(), Shout()])


def test_a_receipt_over_the_limit_is_rejected_and_changes_nothing() -> None:
    chain = _shouting_chain()
    text = "x" * 30_000
    receipt = chain.rejected("receipt_too_large", "alice", "shout", "shout", ShoutArgs(text, 5))
    assert len(encode(receipt)) < 1_000  # the rejected receipt is small
    assert str(MAX_RECEIPT_BYTES) in receipt.message


def test_a_receipt_under_the_limit_commits() -> None:
    chain = _shouting_chain()
    receipt = chain.ok("alice", "shout", "shout", ShoutArgs("x" * 30_000, 4))
    assert 120_000 < len(encode(receipt)) <= MAX_RECEIPT_BYTES


def _largest_header() -> BlockHeader:
    return BlockHeader(
        "c" * MAX_NAME_LENGTH,
        MAX_HEIGHT,
        MAX_TIME_MS,
        *(b"\xff" * 32,) * 6,
        b"\xff" * 20,
        5_000,
    )


def test_the_largest_receipt_fits_a_receipt_proof_of_the_largest_certificate() -> None:
    header = _largest_header()
    certificate = CommitCertificate(
        MAX_HEIGHT,
        MAX_CONSENSUS_ROUND,
        b"\xff" * 32,
        tuple(CommitSignature(bytes([i]) * 20, b"\xff" * 64) for i in range(MAX_VALIDATORS)),
    )
    empty = Receipt(b"\x5a" * 32, 0, "ok", "", (), 2**63, b"")
    padding = MAX_RECEIPT_BYTES - len(encode(empty)) - 3  # bin32 (5 bytes) in place of bin8 (2)
    receipt = encode(Receipt(b"\x5a" * 32, 0, "ok", "", (), 2**63, b"\x00" * padding))
    assert len(receipt) == MAX_RECEIPT_BYTES
    proof = MerkleProof(
        MAX_MERKLE_LEAVES - 1, MAX_MERKLE_LEAVES, (b"\xff" * 32,) * MAX_MERKLE_PROOF_SIBLINGS
    )
    wire = encode(ReceiptProof(header, certificate, receipt, proof))
    assert len(wire) <= MAX_PROOF_BYTES
    assert decode(wire, ReceiptProof, max_bytes=MAX_PROOF_BYTES).receipt == receipt
    assert decode(receipt, Receipt, max_bytes=MAX_RECEIPT_BYTES).result == b"\x00" * padding


# ------------------------------------------------------------------------------------------------
# Event and receipt bounds on decode


def _event(attributes: int, name: str = "Transfer", contract: str = "token") -> Event:
    return Event(contract, name, tuple((f"k{i:03d}", i) for i in range(attributes)))


def test_an_event_with_the_most_attributes_decodes() -> None:
    event = _event(MAX_EVENT_ATTRIBUTES)
    assert decode(encode(event), Event, max_bytes=MAX_RECEIPT_BYTES) == event


@pytest.mark.parametrize(
    "event",
    [
        _event(MAX_EVENT_ATTRIBUTES + 1),
        _event(1, name="n" * (MAX_NAME_LENGTH + 1)),
        _event(1, contract="c" * (MAX_NAME_LENGTH + 1)),
    ],
    ids=["attributes", "name", "contract"],
)
def test_an_event_over_a_limit_is_refused_on_decode(event: Event) -> None:
    with pytest.raises(DecodeError):
        decode(encode(event), Event, max_bytes=MAX_RECEIPT_BYTES)
    receipt = Receipt(b"\x5a" * 32, 0, "ok", "", (event,), 1, b"")
    with pytest.raises(DecodeError):
        decode(encode(receipt), Receipt, max_bytes=MAX_RECEIPT_BYTES)


@pytest.mark.parametrize(
    "receipt",
    [
        Receipt(b"\x5b" * 32, 1, "c" * (MAX_NAME_LENGTH + 1), "", (), 1, b""),
        Receipt(b"\x5b" * 32, 1, "insufficient_funds", "m" * 513, (), 1, b""),
    ],
    ids=["code", "message"],
)
def test_a_receipt_field_over_its_limit_is_refused_on_decode(receipt: Receipt) -> None:
    with pytest.raises(DecodeError):
        decode(encode(receipt), Receipt, max_bytes=MAX_RECEIPT_BYTES)


# ------------------------------------------------------------------------------------------------
# Validator and ValidatorSet bounds on decode

GOOD = Validator(b"\x11" * 20, b"\x22" * 32, 1, "bank-a", "v1")


def _validator(**changes: Any) -> Validator:
    fields = {name: getattr(GOOD, name) for name in GOOD.__struct_fields__}
    return Validator(**{**fields, **changes})


def test_a_good_validator_set_decodes() -> None:
    members = tuple(_validator(address=i.to_bytes(20, "big")) for i in range(MAX_VALIDATORS))
    wire = encode(ValidatorSet(members))
    assert decode(wire, ValidatorSet, max_bytes=MAX_PROOF_BYTES).validators == members
    top = _validator(power=MAX_VALIDATOR_POWER, public_key=b"\x04" * MAX_PUBLIC_KEY_BYTES)
    assert decode(encode(top), Validator, max_bytes=1_000) == top


@pytest.mark.parametrize(
    "validator",
    [
        _validator(power=0),
        _validator(power=MAX_VALIDATOR_POWER + 1),
        _validator(address=b"\x11" * 19),
        _validator(address=b"\x11" * 21),
        _validator(public_key=b""),
        _validator(public_key=b"\x22" * (MAX_PUBLIC_KEY_BYTES + 1)),
        _validator(organization="o" * (MAX_NAME_LENGTH + 1)),
        _validator(name="n" * (MAX_NAME_LENGTH + 1)),
    ],
    ids=[
        "power-0",
        "power-over",
        "short-address",
        "long-address",
        "empty-key",
        "long-key",
        "organization",
        "name",
    ],
)
def test_a_validator_outside_its_bounds_is_refused_on_decode(validator: Validator) -> None:
    with pytest.raises(DecodeError):
        decode(encode(validator), Validator, max_bytes=1_000)
    with pytest.raises(DecodeError):
        decode(encode(ValidatorSet((validator,))), ValidatorSet, max_bytes=1_000)


@pytest.mark.parametrize("count", [0, MAX_VALIDATORS + 1])
def test_a_validator_set_of_the_wrong_size_is_refused_on_decode(count: int) -> None:
    members = tuple(_validator(address=i.to_bytes(20, "big")) for i in range(count))
    with pytest.raises(DecodeError):
        decode(encode(ValidatorSet(members)), ValidatorSet, max_bytes=MAX_PROOF_BYTES)


# ------------------------------------------------------------------------------------------------
# Genesis refuses keys that can never verify


def _mixed_order_key() -> bytes:
    a = points.secret_scalar(b"\x07" * 32)
    return points.encode(points.add(points.multiply(a, points.BASE), points.order_8_point()))


BAD_KEYS = {
    "small-order": points.encode(points.IDENTITY),
    "order-8": points.encode(points.order_8_point()),
    "non-canonical": (points.P + 1).to_bytes(32, "little"),
    "off-curve": (2).to_bytes(32, "little"),
    "mixed-order": _mixed_order_key(),
}


@pytest.mark.parametrize("where", ["validators", "accounts"])
@pytest.mark.parametrize("name", sorted(BAD_KEYS))
def test_genesis_refuses_a_key_no_signature_verifies_under(where: str, name: str) -> None:
    document = json.loads(doc_examples.block("genesis"))
    load_genesis(json.dumps(document).encode())  # the document's example is sound
    document[where][0]["public_key"] = BAD_KEYS[name].hex()
    with pytest.raises(InvalidInput, match="not an ed25519 public key"):
        load_genesis(json.dumps(document).encode())
