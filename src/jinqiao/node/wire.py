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

from jinqiao.consensus.messages import SignedProposal, SignedVote
from jinqiao.core.codec import CanonicalStruct, decode, encode
from jinqiao.core.types import Block, CommittedBlock
from jinqiao.node.p2p import MAX_FRAME_BYTES

MAX_GOSSIP_TRANSACTIONS = 5_000


class ProposalMessage(CanonicalStruct, frozen=True, tag="proposal"):
    proposal: SignedProposal
    block: Block


class VoteMessage(CanonicalStruct, frozen=True, tag="vote"):
    vote: SignedVote


class TransactionsMessage(CanonicalStruct, frozen=True, tag="transactions"):
    transactions: tuple[bytes, ...]


class StatusMessage(CanonicalStruct, frozen=True, tag="status"):
    height: int


class BlockRequest(CanonicalStruct, frozen=True, tag="block_request"):
    height: int


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
    """Strictly decode a frame (raises ``DecodeError``)."""
    return decode(payload, Envelope, max_bytes=MAX_FRAME_BYTES).message
