"""The chain's data structures. Every one is a ``CanonicalStruct``: its hash and signatures are
taken over ``codec.encode`` and nothing else.

Sizes: addresses are 20 bytes, hashes 32 bytes, Ed25519 public keys 32 and signatures 64 bytes.
Amounts never appear here as floats; contract arguments travel as the canonical bytes of the
method's own argument struct (``TransactionBody.args``).

Every field that arrives from outside (a client, a peer) carries its range or length as a msgspec
``Meta`` constraint, so ``codec.decode`` refuses an out-of-range value (a negative height, a
31-byte hash) with a ``DecodeError`` before any code uses it. Constructing a struct in code does
not check them.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING, Annotated, Any, TypeAlias

import msgspec
from msgspec import Meta

from jinqiao.core.codec import CanonicalStruct, decode, register_dispatch
from jinqiao.core.limits import (
    MAX_ARGS_BYTES,
    MAX_BLOCK_TRANSACTIONS,
    MAX_CONSENSUS_ROUND,
    MAX_COSIGNERS,
    MAX_EVENT_ATTRIBUTES,
    MAX_EVENTS_PER_TRANSACTION,
    MAX_HEIGHT,
    MAX_NAME_LENGTH,
    MAX_PUBLIC_KEY_BYTES,
    MAX_RECEIPT_BYTES,
    MAX_RECEIPT_MESSAGE_LENGTH,
    MAX_TIME_MS,
    MAX_VALIDATOR_POWER,
    MAX_VALIDATORS,
)

ADDRESS_BYTES = 20
HASH_BYTES = 32
SIGNATURE_BYTES = 64
EMPTY_HASH = b"\x00" * HASH_BYTES

Height = Annotated[int, Meta(ge=0, le=MAX_HEIGHT)]
Round = Annotated[int, Meta(ge=0, le=MAX_CONSENSUS_ROUND)]
TimeMs = Annotated[int, Meta(ge=0, le=MAX_TIME_MS)]
Hash = Annotated[bytes, Meta(min_length=HASH_BYTES, max_length=HASH_BYTES)]
Address = Annotated[bytes, Meta(min_length=ADDRESS_BYTES, max_length=ADDRESS_BYTES)]
Signature = Annotated[bytes, Meta(min_length=SIGNATURE_BYTES, max_length=SIGNATURE_BYTES)]
PublicKey = Annotated[bytes, Meta(min_length=1, max_length=MAX_PUBLIC_KEY_BYTES)]
Name = Annotated[str, Meta(max_length=MAX_NAME_LENGTH)]

EventValue = str | int | bool


class TransactionBody(CanonicalStruct, frozen=True):
    """What the sender signs. Its hash is the transaction's identity (the signature is not part
    of it, so re-signing cannot create a second identity for the same intent)."""

    chain_id: Name
    sender: Address
    public_key: PublicKey
    nonce: Annotated[int, Meta(ge=0)]
    """At most ``MAX_NONCE`` (2**64 - 1), which msgpack already bounds."""
    valid_until: Height
    contract: Name
    method: Name
    args: Annotated[bytes, Meta(max_length=MAX_ARGS_BYTES)]


class _EitherArity:
    """Runtime type of a block's transactions: ``SignedTransaction`` (2 items) or
    ``MultiSignedTransaction`` (3 items), told apart by arity when decoding (ADR 0051)."""

    __slots__ = ()


class SignedTransaction(CanonicalStruct, _EitherArity, frozen=True):
    """One signature by ``body.public_key`` over ``transaction_signing_bytes(body)``."""

    body: TransactionBody
    signature: Signature

    def signers(self) -> tuple[bytes, ...]:
        """The public keys that sign, ``body.public_key`` first."""
        return (self.body.public_key,)

    def signatures(self) -> tuple[bytes, ...]:
        """The signatures, in the order of ``signers()``."""
        return (self.signature,)


class MultiSignedBody(TransactionBody, frozen=True):
    """A ``TransactionBody`` with the co-signers' public keys (9 items): they are signed and
    hashed with the rest, so nobody can strip a co-signature and keep the transaction's hash."""

    cosigners: Annotated[tuple[PublicKey, ...], Meta(min_length=1, max_length=MAX_COSIGNERS)]


def _body_fields(body: TransactionBody) -> dict[str, Any]:
    return {name: getattr(body, name) for name in TransactionBody.__struct_fields__}


def with_cosigners(body: TransactionBody, cosigners: tuple[bytes, ...]) -> MultiSignedBody:
    """``body``'s fields (of either shape) with ``cosigners`` as the co-signers."""
    return MultiSignedBody(**_body_fields(body), cosigners=cosigners)


def without_cosigners(body: TransactionBody) -> TransactionBody:
    """The single-signature body of the same fields (another transaction, another hash)."""
    return TransactionBody(**_body_fields(body))


class MultiSignedTransaction(SignedTransaction, frozen=True):
    """Several signatures over the same signing bytes (3 items): ``signature`` by
    ``body.public_key``, ``cosignatures[i]`` by ``body.cosigners[i]``. Existing
    ``SignedTransaction`` bytes and hashes are untouched (ADR 0051)."""

    body: MultiSignedBody
    cosignatures: Annotated[tuple[Signature, ...], Meta(min_length=1, max_length=MAX_COSIGNERS)]

    def signers(self) -> tuple[bytes, ...]:
        return (self.body.public_key, *self.body.cosigners)

    def signatures(self) -> tuple[bytes, ...]:
        return (self.signature, *self.cosignatures)


MULTI_SIGNED_ARRAY_HEADER = 0x93
"""The first byte of every ``MultiSignedTransaction`` (a fixarray of 3); a
``SignedTransaction``'s is ``0x92``."""


def decode_transaction(data: bytes, *, max_bytes: int) -> SignedTransaction:
    """Decode either shape of a signed transaction, strictly, by its arity."""
    multi = len(data) > 0 and data[0] == MULTI_SIGNED_ARRAY_HEADER
    return decode(data, MultiSignedTransaction if multi else SignedTransaction, max_bytes=max_bytes)


def _transaction_of_arity(item: Any) -> SignedTransaction:
    multi = isinstance(item, list) and len(item) == 3
    kind = MultiSignedTransaction if multi else SignedTransaction
    # ``codec.decode`` re-encodes the whole value afterwards, so a non-canonical item is refused.
    transaction: SignedTransaction = msgspec.convert(item, kind, strict=True)
    return transaction


register_dispatch(_EitherArity, _transaction_of_arity)

if TYPE_CHECKING:
    AnyTransaction: TypeAlias = SignedTransaction
else:
    AnyTransaction = _EitherArity


class Event(CanonicalStruct, frozen=True):
    """Something a contract announced. ``attributes`` are (key, value) pairs sorted by key."""

    contract: Name
    name: Name
    attributes: Annotated[tuple[tuple[str, EventValue], ...], Meta(max_length=MAX_EVENT_ATTRIBUTES)]

    def attribute(self, key: str) -> EventValue | None:
        for name, value in self.attributes:
            if name == key:
                return value
        return None


class ReceiptStatus(IntEnum):
    OK = 0
    REJECTED = 1


class Receipt(CanonicalStruct, frozen=True):
    """The outcome of one transaction. ``code`` is ``"ok"`` or a stable rejection code."""

    transaction_hash: Hash
    status: Annotated[int, Meta(ge=int(ReceiptStatus.OK), le=int(ReceiptStatus.REJECTED))]
    code: Name
    message: Annotated[str, Meta(max_length=MAX_RECEIPT_MESSAGE_LENGTH)]
    events: Annotated[tuple[Event, ...], Meta(max_length=MAX_EVENTS_PER_TRANSACTION)]
    steps_used: Annotated[int, Meta(ge=0)]
    result: Annotated[bytes, Meta(max_length=MAX_RECEIPT_BYTES)]
    """The whole encoded receipt is at most ``MAX_RECEIPT_BYTES`` (decode with that limit)."""


class BlockHeader(CanonicalStruct, frozen=True):
    """A block's summary. ``state_root`` is the root *after* this block's transactions."""

    chain_id: Name
    height: Height
    time_ms: TimeMs
    previous_block_hash: Hash
    transactions_root: Hash
    receipts_root: Hash
    state_root: Hash
    validators_hash: Hash
    next_validators_hash: Hash
    proposer: Address
    transaction_count: Annotated[int, Meta(ge=0, le=MAX_BLOCK_TRANSACTIONS)]


class Block(CanonicalStruct, frozen=True):
    header: BlockHeader
    transactions: Annotated[tuple[AnyTransaction, ...], Meta(max_length=MAX_BLOCK_TRANSACTIONS)]
    """Each a ``SignedTransaction`` or a ``MultiSignedTransaction`` (decoded by arity)."""


class VoteType(IntEnum):
    PREVOTE = 1
    PRECOMMIT = 2


class Vote(CanonicalStruct, frozen=True):
    """A validator's vote. ``block_hash`` is empty for a vote for nothing (nil)."""

    chain_id: Name
    height: Height
    round: Round
    type: Annotated[int, Meta(ge=int(VoteType.PREVOTE), le=int(VoteType.PRECOMMIT))]
    block_hash: Annotated[bytes, Meta(max_length=HASH_BYTES)]
    """Empty (nil) or a hash: ``consensus.messages.check_vote`` refuses any other length."""
    validator: Address


class CommitSignature(CanonicalStruct, frozen=True):
    validator: Address
    signature: Signature


class CommitCertificate(CanonicalStruct, frozen=True):
    """Precommit signatures of more than two thirds of the voting power for one block."""

    height: Height
    round: Round
    block_hash: Hash
    signatures: Annotated[tuple[CommitSignature, ...], Meta(max_length=MAX_VALIDATORS)]


class Validator(CanonicalStruct, frozen=True):
    address: Address
    public_key: PublicKey
    """The suite's length (32 for Ed25519); decoding bounds it by ``MAX_PUBLIC_KEY_BYTES``."""
    power: Annotated[int, Meta(ge=1, le=MAX_VALIDATOR_POWER)]
    organization: Name
    name: Name


class ValidatorSet(CanonicalStruct, frozen=True):
    """Sorted by address; 1..``MAX_VALIDATORS`` members with distinct addresses (the verifier
    checks distinctness; decoding checks the count and each member's bounds)."""

    validators: Annotated[tuple[Validator, ...], Meta(min_length=1, max_length=MAX_VALIDATORS)]

    def total_power(self) -> int:
        return sum(validator.power for validator in self.validators)

    def by_address(self) -> dict[bytes, Validator]:
        return {validator.address: validator for validator in self.validators}


class CommittedBlock(CanonicalStruct, frozen=True):
    """A block as stored and served: the block, the certificate that committed it and the
    receipts of its transactions, in order."""

    block: Block
    certificate: CommitCertificate
    receipts: Annotated[tuple[Receipt, ...], Meta(max_length=MAX_BLOCK_TRANSACTIONS)]
