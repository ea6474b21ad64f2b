"""The signed consensus messages: proposals and votes, their signing bytes and their checks.

A vote is signed over ``core.hashing.vote_signing_bytes`` — the same bytes a commit certificate's
precommit signatures cover, so the precommits the state machine collects become a certificate
that ``jinqiao.verify.verify_certificate`` accepts without change. A proposal is signed over its
own domain-separated bytes (``TAG_PROPOSAL``), so a proposal signature can never be taken for a
vote or a transaction.

Signature checks belong to the driver, before a message reaches the state machine
(``verify_signed_vote``, ``verify_signed_proposal``): the machine trusts that what it is fed was
signed by the validator it names, and stays cheap and pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from msgspec import Meta

from jinqiao.core.codec import CanonicalStruct, decode, encode
from jinqiao.core.crypto import CryptoSuite
from jinqiao.core.errors import DecodeError
from jinqiao.core.hashing import vote_signing_bytes
from jinqiao.core.limits import MAX_CONSENSUS_ROUND
from jinqiao.core.types import (
    HASH_BYTES,
    Address,
    Hash,
    Height,
    Name,
    Round,
    Signature,
    Validator,
    Vote,
    VoteType,
)

__all__ = [
    "MAX_PROPOSAL_MESSAGE_BYTES",
    "MAX_VOTE_MESSAGE_BYTES",
    "NIL",
    "TAG_PROPOSAL",
    "Proposal",
    "SignedProposal",
    "SignedVote",
    "check_signed_proposal",
    "check_signed_vote",
    "decode_signed_proposal",
    "decode_signed_vote",
    "is_block_hash",
    "proposal_signing_bytes",
    "verify_signed_proposal",
    "verify_signed_vote",
]

TAG_PROPOSAL = b"jinqiao/proposal/v1\x00"

NIL = b""
"""The block hash of a vote for nothing (the paper's ``nil``)."""

MAX_VOTE_MESSAGE_BYTES = 1_024
MAX_PROPOSAL_MESSAGE_BYTES = 1_024


class Proposal(CanonicalStruct, frozen=True):
    """``⟨PROPOSAL, height, round, v, valid_round⟩`` of Algorithm 1; ``v`` travels as its hash
    (the block itself is gossiped beside it and checked against ``block_hash`` by the driver).
    ``valid_round`` is -1 when the proposer has no valid value from an earlier round."""

    chain_id: Name
    height: Height
    round: Round
    block_hash: Hash
    valid_round: Annotated[int, Meta(ge=-1, le=MAX_CONSENSUS_ROUND)]
    proposer: Address


class SignedProposal(CanonicalStruct, frozen=True):
    proposal: Proposal
    signature: Signature


class SignedVote(CanonicalStruct, frozen=True):
    """A prevote or precommit with its signature over ``vote_signing_bytes(vote)``."""

    vote: Vote
    signature: Signature


def proposal_signing_bytes(proposal: Proposal) -> bytes:
    return TAG_PROPOSAL + encode(proposal)


def is_block_hash(value: bytes) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_BYTES


def verify_signed_vote(
    suite: CryptoSuite, members: Mapping[bytes, Validator], signed: SignedVote
) -> bool:
    """True when ``signed`` is a well-formed vote by a member of ``members`` (address →
    validator) and its signature verifies under that member's key."""
    vote = signed.vote
    validator = members.get(vote.validator)
    if validator is None:
        return False
    if vote.type not in (VoteType.PREVOTE, VoteType.PRECOMMIT):
        return False
    if vote.block_hash != NIL and not is_block_hash(vote.block_hash):
        return False
    return suite.verify(validator.public_key, vote_signing_bytes(vote), signed.signature)


def verify_signed_proposal(
    suite: CryptoSuite, members: Mapping[bytes, Validator], signed: SignedProposal
) -> bool:
    """True when ``signed`` is a well-formed proposal by a member of ``members`` and its
    signature verifies. Whether that member is the proposer of the round is the state
    machine's check (it knows the proposer rotation)."""
    proposal = signed.proposal
    validator = members.get(proposal.proposer)
    if validator is None or not is_block_hash(proposal.block_hash):
        return False
    return suite.verify(validator.public_key, proposal_signing_bytes(proposal), signed.signature)


def check_signed_vote(signed: SignedVote) -> SignedVote:
    """The rules of a decoded vote that its field types cannot state (raises ``DecodeError``):
    the block hash is nil or a hash."""
    if signed.vote.block_hash != NIL and not is_block_hash(signed.vote.block_hash):
        raise DecodeError(f"a vote's block hash is empty (nil) or {HASH_BYTES} bytes")
    return signed


def check_signed_proposal(signed: SignedProposal) -> SignedProposal:
    """The rules of a decoded proposal that its field types cannot state (raises
    ``DecodeError``): its valid round is -1 or an earlier round (Algorithm 1, line 28)."""
    if signed.proposal.valid_round >= signed.proposal.round:
        raise DecodeError("a proposal's valid round must be -1 or before its round")
    return signed


def decode_signed_vote(data: bytes) -> SignedVote:
    """Strictly decode a vote from the network (raises ``DecodeError``)."""
    return check_signed_vote(decode(data, SignedVote, max_bytes=MAX_VOTE_MESSAGE_BYTES))


def decode_signed_proposal(data: bytes) -> SignedProposal:
    """Strictly decode a proposal from the network (raises ``DecodeError``)."""
    return check_signed_proposal(decode(data, SignedProposal, max_bytes=MAX_PROPOSAL_MESSAGE_BYTES))
