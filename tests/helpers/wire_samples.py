"""Well-formed p2p messages of every type, and the same messages with one field at or beyond its
bound: for the decode unit tests and the p2p fuzz test of a live network."""

from __future__ import annotations

from typing import Any

import msgspec

from jinqiao.consensus.messages import Proposal, SignedProposal, SignedVote
from jinqiao.core.codec import encode
from jinqiao.core.limits import (
    MAX_BLOCK_TRANSACTIONS,
    MAX_CONSENSUS_ROUND,
    MAX_HEIGHT,
    MAX_NAME_LENGTH,
    MAX_TRANSACTION_BYTES,
)
from jinqiao.core.types import (
    Block,
    BlockHeader,
    CommitCertificate,
    CommitSignature,
    CommittedBlock,
    Receipt,
    SignedTransaction,
    TransactionBody,
    Vote,
    VoteType,
)
from jinqiao.node.wire import (
    MAX_GOSSIP_TRANSACTIONS,
    BlockRequest,
    BlockResponse,
    Envelope,
    ProposalMessage,
    StatusMessage,
    TransactionsMessage,
    VoteMessage,
    WireMessage,
)

UINT64_MAX = 2**64 - 1
INT64_MIN = -(2**63)


def replace(value: Any, path: str, new: Any) -> Any:
    """``value`` with the field at the dotted ``path`` (``"vote.vote.height"``) set to ``new``;
    a number in the path picks an element of a tuple."""
    first, _, rest = path.partition(".")
    if isinstance(value, tuple):
        index = int(first)
        inner = replace(value[index], rest, new) if rest else new
        return (*value[:index], inner, *value[index + 1 :])
    inner = replace(getattr(value, first), rest, new) if rest else new
    return msgspec.structs.replace(value, **{first: inner})


def valid_messages(chain_id: str, height: int = 1) -> list[WireMessage]:
    """One well-formed (unsigned: the signatures are zeros) message of every type."""
    validator = b"\x07" * 20
    body = TransactionBody(chain_id, b"\x11" * 20, b"\x22" * 32, 7, height + 10, "token", "t", b"")
    transaction = SignedTransaction(body, b"\x33" * 64)
    header = BlockHeader(
        chain_id, height, 1_700_000_000_000, *(bytes([i]) * 32 for i in range(1, 7)), validator, 1
    )
    block = Block(header, (transaction,))
    vote = Vote(chain_id, height, 0, VoteType.PREVOTE, b"\x08" * 32, validator)
    proposal = Proposal(chain_id, height, 0, b"\x08" * 32, -1, validator)
    certificate = CommitCertificate(
        height, 0, b"\x08" * 32, (CommitSignature(validator, b"\x09" * 64),)
    )
    receipt = Receipt(b"\x44" * 32, 0, "ok", "", (), 1, b"")
    return [
        VoteMessage(SignedVote(vote, b"\x00" * 64)),
        ProposalMessage(SignedProposal(proposal, b"\x00" * 64), block),
        TransactionsMessage((encode(transaction),)),
        StatusMessage(height),
        BlockRequest(height),
        BlockResponse(CommittedBlock(block, certificate, (receipt,))),
    ]


# Per message type: (dotted field path, values beyond the field's bound).
OUT_OF_RANGE: dict[type[Any], list[tuple[str, list[Any]]]] = {
    VoteMessage: [
        ("vote.vote.chain_id", ["x" * (MAX_NAME_LENGTH + 1)]),
        ("vote.vote.height", [-1, INT64_MIN, MAX_HEIGHT + 1, UINT64_MAX]),
        ("vote.vote.round", [-1, MAX_CONSENSUS_ROUND + 1, UINT64_MAX]),
        ("vote.vote.type", [0, 3, -1]),
        ("vote.vote.block_hash", [b"\x08" * 31, b"\x08" * 33, b"\x08"]),
        ("vote.vote.validator", [b"", b"\x07" * 19, b"\x07" * 21]),
        ("vote.signature", [b"", b"\x00" * 63, b"\x00" * 65]),
    ],
    ProposalMessage: [
        ("proposal.proposal.height", [-1, MAX_HEIGHT + 1]),
        ("proposal.proposal.round", [-1, MAX_CONSENSUS_ROUND + 1]),
        ("proposal.proposal.valid_round", [-2, 0, MAX_CONSENSUS_ROUND + 1]),
        ("proposal.proposal.block_hash", [b"", b"\x08" * 31]),
        ("proposal.proposal.proposer", [b"\x07" * 21]),
        ("proposal.signature", [b"\x00" * 63]),
        ("block.header.height", [-1, UINT64_MAX]),
        ("block.header.time_ms", [-1]),
        ("block.header.previous_block_hash", [b"", b"\x01" * 33]),
        ("block.header.state_root", [b"\x04" * 31]),
        ("block.header.proposer", [b"\x07" * 19]),
        ("block.header.transaction_count", [-1, MAX_BLOCK_TRANSACTIONS + 1]),
        ("block.transactions.0.signature", [b"\x33" * 63]),
        ("block.transactions.0.body.sender", [b"\x11" * 21]),
        ("block.transactions.0.body.public_key", [b"", b"\x22" * 66]),
        ("block.transactions.0.body.nonce", [-1]),
        ("block.transactions.0.body.valid_until", [-1]),
        ("block.transactions.0.body.contract", ["c" * (MAX_NAME_LENGTH + 1)]),
    ],
    TransactionsMessage: [
        ("transactions", [(b"\x00" * (MAX_TRANSACTION_BYTES + 1),)]),
        ("transactions", [(b"",) * (MAX_GOSSIP_TRANSACTIONS + 1)]),
    ],
    StatusMessage: [("height", [-1, INT64_MIN, MAX_HEIGHT + 1, UINT64_MAX])],
    BlockRequest: [("height", [-1, INT64_MIN, MAX_HEIGHT + 1, UINT64_MAX])],
    BlockResponse: [
        ("committed.certificate.height", [-1]),
        ("committed.certificate.round", [-1, MAX_CONSENSUS_ROUND + 1]),
        ("committed.certificate.block_hash", [b"\x08" * 31]),
        ("committed.certificate.signatures.0.validator", [b"\x07" * 21]),
        ("committed.certificate.signatures.0.signature", [b"\x09" * 65]),
        ("committed.receipts.0.status", [-1, 2]),
        ("committed.receipts.0.transaction_hash", [b"\x44" * 31]),
        ("committed.block.header.height", [-1]),
    ],
}


def out_of_range_messages(chain_id: str) -> list[tuple[str, bytes]]:
    """(description, encoded frame) of every message type with one field out of range."""
    frames = []
    for message in valid_messages(chain_id):
        for path, values in OUT_OF_RANGE[type(message)]:
            for value in values:
                bad = replace(message, path, value)
                frames.append(
                    (f"{type(message).__name__}.{path}={value!r:.40}", encode(Envelope(bad)))
                )
    return frames


def at_bound_messages(chain_id: str) -> list[WireMessage]:
    """Well-formed messages whose fields sit exactly at their bounds."""
    vote, proposal, *_ = valid_messages(chain_id)
    return [
        StatusMessage(0),
        StatusMessage(MAX_HEIGHT),
        BlockRequest(0),
        BlockRequest(MAX_HEIGHT),
        replace(vote, "vote.vote.round", MAX_CONSENSUS_ROUND),
        replace(vote, "vote.vote.height", MAX_HEIGHT),
        replace(vote, "vote.vote.block_hash", b""),
        replace(proposal, "proposal.proposal.round", MAX_CONSENSUS_ROUND),
        replace(proposal, "block.header.height", MAX_HEIGHT),
        TransactionsMessage(()),
        TransactionsMessage((b"",)),
    ]
