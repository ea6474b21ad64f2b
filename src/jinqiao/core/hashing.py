"""Domain-separated hashes. Each kind of object gets its own prefix, so bytes that are valid as
one kind can never be taken for another (a transaction for a vote, a leaf for an inner node)."""

from __future__ import annotations

from jinqiao.core.codec import encode
from jinqiao.core.crypto import CryptoSuite
from jinqiao.core.types import (
    BlockHeader,
    TransactionBody,
    ValidatorSet,
    Vote,
)

TAG_TRANSACTION = b"jinqiao/transaction/v1\x00"
TAG_BLOCK_HEADER = b"jinqiao/block-header/v1\x00"
TAG_VOTE = b"jinqiao/vote/v1\x00"
TAG_VALIDATOR_SET = b"jinqiao/validator-set/v1\x00"


def transaction_hash(suite: CryptoSuite, body: TransactionBody) -> bytes:
    return suite.hash(TAG_TRANSACTION + encode(body))


def transaction_signing_bytes(body: TransactionBody) -> bytes:
    return TAG_TRANSACTION + encode(body)


def header_hash(suite: CryptoSuite, header: BlockHeader) -> bytes:
    return suite.hash(TAG_BLOCK_HEADER + encode(header))


def vote_signing_bytes(vote: Vote) -> bytes:
    return TAG_VOTE + encode(vote)


def validator_set_hash(suite: CryptoSuite, validators: ValidatorSet) -> bytes:
    return suite.hash(TAG_VALIDATOR_SET + encode(validators))
