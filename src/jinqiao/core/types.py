"""The chain's data structures. Every one is a ``CanonicalStruct``: its hash and signatures are
taken over ``codec.encode`` and nothing else.

Sizes: addresses are 20 bytes, hashes 32 bytes, Ed25519 public keys 32 and signatures 64 bytes.
Amounts never appear here as floats; contract arguments travel as the canonical bytes of the
method's own argument struct (``TransactionBody.args``).
"""

from __future__ import annotations

from enum import IntEnum

from jinqiao.core.codec import CanonicalStruct

ADDRESS_BYTES = 20
HASH_BYTES = 32
EMPTY_HASH = b"\x00" * HASH_BYTES

EventValue = str | int | bool


class TransactionBody(CanonicalStruct, frozen=True):
    """What the sender signs. Its hash is the transaction's identity (the signature is not part
    of it, so re-signing cannot create a second identity for the same intent)."""

    chain_id: str
    sender: bytes
    public_key: bytes
    nonce: int
    valid_until: int
    contract: str
    method: str
    args: bytes


class SignedTransaction(CanonicalStruct, frozen=True):
    body: TransactionBody
    signature: bytes


class Event(CanonicalStruct, frozen=True):
    """Something a contract announced. ``attributes`` are (key, value) pairs sorted by key."""

    contract: str
    name: str
    attributes: tuple[tuple[str, EventValue], ...]

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

    transaction_hash: bytes
    status: int
    code: str
    message: str
    events: tuple[Event, ...]
    steps_used: int
    result: bytes


class BlockHeader(CanonicalStruct, frozen=True):
    """A block's summary. ``state_root`` is the root *after* this block's transactions."""

    chain_id: str
    height: int
    time_ms: int
    previous_block_hash: bytes
    transactions_root: bytes
    receipts_root: bytes
    state_root: bytes
    validators_hash: bytes
    next_validators_hash: bytes
    proposer: bytes
    transaction_count: int


class Block(CanonicalStruct, frozen=True):
    header: BlockHeader
    transactions: tuple[SignedTransaction, ...]


class VoteType(IntEnum):
    PREVOTE = 1
    PRECOMMIT = 2


class Vote(CanonicalStruct, frozen=True):
    """A validator's vote. ``block_hash`` is empty for a vote for nothing (nil)."""

    chain_id: str
    height: int
    round: int
    type: int
    block_hash: bytes
    validator: bytes


class CommitSignature(CanonicalStruct, frozen=True):
    validator: bytes
    signature: bytes


class CommitCertificate(CanonicalStruct, frozen=True):
    """Precommit signatures of more than two thirds of the voting power for one block."""

    height: int
    round: int
    block_hash: bytes
    signatures: tuple[CommitSignature, ...]


class Validator(CanonicalStruct, frozen=True):
    address: bytes
    public_key: bytes
    power: int
    organization: str
    name: str


class ValidatorSet(CanonicalStruct, frozen=True):
    validators: tuple[Validator, ...]

    def total_power(self) -> int:
        return sum(validator.power for validator in self.validators)

    def by_address(self) -> dict[bytes, Validator]:
        return {validator.address: validator for validator in self.validators}


class CommittedBlock(CanonicalStruct, frozen=True):
    """A block as stored and served: the block, the certificate that committed it and the
    receipts of its transactions, in order."""

    block: Block
    certificate: CommitCertificate
    receipts: tuple[Receipt, ...]
