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
``snapshots_req…``  state sync (ADR 0054): "which snapshots do you serve?"
``snapshots_offer`` the heights of the snapshots the sender serves (newest last)
``manifest_req…``   "send me the manifest of your snapshot at height h"
``manifest_resp…``  that manifest (``node.snapshots``)
``chunk_request``   "send me chunk p of your snapshot at height h"
``chunk_response``  that chunk
``validator_cha…``  "send me the validator-set changes from height h" / the proven changes
==================  ================================================================

Answers to state-sync requests are hostile input like every frame: the joining node checks each
one (``node.state_sync``) before it uses it.
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
from jinqiao.core.proofs import StateReadProof
from jinqiao.core.types import Block, CommittedBlock, Height
from jinqiao.node.p2p import MAX_FRAME_BYTES
from jinqiao.node.snapshots import MAX_SNAPSHOT_CHUNKS, SnapshotChunk, SnapshotManifest

MAX_GOSSIP_TRANSACTIONS = 5_000
MAX_OFFERED_SNAPSHOTS = 16
MAX_VALIDATOR_CHANGES_PER_MESSAGE = 100


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


class SnapshotsRequest(CanonicalStruct, frozen=True, tag="snapshots_request"):
    pass


class SnapshotsOffer(CanonicalStruct, frozen=True, tag="snapshots_offer"):
    heights: Annotated[tuple[Height, ...], Meta(max_length=MAX_OFFERED_SNAPSHOTS)]


class ManifestRequest(CanonicalStruct, frozen=True, tag="manifest_request"):
    height: Height


class ManifestResponse(CanonicalStruct, frozen=True, tag="manifest_response"):
    manifest: SnapshotManifest


class ChunkRequest(CanonicalStruct, frozen=True, tag="chunk_request"):
    height: Height
    prefix: Annotated[int, Meta(ge=0, lt=MAX_SNAPSHOT_CHUNKS)]


class ChunkResponse(CanonicalStruct, frozen=True, tag="chunk_response"):
    chunk: SnapshotChunk


class ValidatorChangesRequest(CanonicalStruct, frozen=True, tag="validator_changes_request"):
    from_height: Height


class ValidatorChangesResponse(CanonicalStruct, frozen=True, tag="validator_changes_response"):
    from_height: Height
    changes: Annotated[
        tuple[StateReadProof, ...], Meta(max_length=MAX_VALIDATOR_CHANGES_PER_MESSAGE)
    ]


StateSyncRequest = SnapshotsRequest | ManifestRequest | ChunkRequest | ValidatorChangesRequest

WireMessage = (
    ProposalMessage
    | VoteMessage
    | TransactionsMessage
    | StatusMessage
    | BlockRequest
    | BlockResponse
    | SnapshotsRequest
    | SnapshotsOffer
    | ManifestRequest
    | ManifestResponse
    | ChunkRequest
    | ChunkResponse
    | ValidatorChangesRequest
    | ValidatorChangesResponse
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
