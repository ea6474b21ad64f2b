"""What validators say to each other over ``node.p2p``: one canonical ``Envelope`` per frame.

==================  ================================================================
message             meaning
==================  ================================================================
``proposal``        a signed proposal with the proposed block itself
``vote``            a signed prevote or precommit
``transactions``    transactions a node admitted, gossiped so any proposer can include them
``status``          the sender's committed height (for catch-up)
``block_request``   "send me committed block h"
``block_response``  a committed block with its certificate and receipts
==================  ================================================================
"""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

from jinqiao.consensus.messages import (
    SignedProposal,
    SignedVote,
    check_signed_proposal,
    check_signed_vote,
)
from jinqiao.core.codec import CanonicalStruct, decode, encode
from jinqiao.core.limits import MAX_TRANSACTION_BYTES
from jinqiao.core.types import Block, CommittedBlock, Height
from jinqiao.node.p2p import MAX_FRAME_BYTES

MAX_GOSSIP_TRANSACTIONS = 5_000


class ProposalMessage(CanonicalStruct, frozen=True, tag="proposal"):
    proposal: SignedProposal
    block: Block


class VoteMessage(CanonicalStruct, frozen=True, tag="vote"):
    vote: SignedVote


class TransactionsMessage(CanonicalStruct, frozen=True, tag="transactions"):
    transactions: Annotated[
        tuple[Annotated[bytes, Meta(max_length=MAX_TRANSACTION_BYTES)], ...],
        Meta(max_length=MAX_GOSSIP_TRANSACTIONS),
    ]


class StatusMessage(CanonicalStruct, frozen=True, tag="status"):
    height: Height


class BlockRequest(CanonicalStruct, frozen=True, tag="block_request"):
    height: Height


class BlockResponse(CanonicalStruct, frozen=True, tag="block_response"):
    committed: CommittedBlock


WireMessage = (
    ProposalMessage
    | VoteMessage
    | TransactionsMessage
    | StatusMessage
    | BlockRequest
    | BlockResponse
)


class Envelope(CanonicalStruct, frozen=True):
    message: WireMessage


def encode_message(message: WireMessage) -> bytes:
    return encode(Envelope(message))


def decode_message(payload: bytes) -> WireMessage:
    """Strictly decode a frame (raises ``DecodeError``): every field in its range and of its
    length (the ``Meta`` constraints of the structs), plus the rules a type cannot state."""
    message = decode(payload, Envelope, max_bytes=MAX_FRAME_BYTES).message
    if isinstance(message, VoteMessage):
        check_signed_vote(message.vote)
    elif isinstance(message, ProposalMessage):
        check_signed_proposal(message.proposal)
    return message
