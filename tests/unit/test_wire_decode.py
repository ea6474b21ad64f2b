"""Decoding what a peer sends (``node.wire.decode_message``) checks every field's range and
length: a value out of range is a ``DecodeError`` at decode, never an exception later in the code
that uses it (tracker issue 7: a ``BlockRequest`` of height -1 raised ``struct.error`` inside the
driver and cut a validator off)."""

from __future__ import annotations

import msgspec
import pytest

from jinqiao.consensus.messages import decode_signed_proposal, decode_signed_vote
from jinqiao.core.codec import encode
from jinqiao.core.errors import DecodeError
from jinqiao.node.wire import ProposalMessage, VoteMessage, decode_message, encode_message
from tests.helpers.wire_samples import at_bound_messages, out_of_range_messages, valid_messages

CHAIN_ID = "jinqiao-test"
OUT_OF_RANGE = out_of_range_messages(CHAIN_ID)


def test_every_message_type_has_out_of_range_cases() -> None:
    kinds = {type(message).__name__ for message in valid_messages(CHAIN_ID)}
    assert {description.split(".", 1)[0] for description, _ in OUT_OF_RANGE} == kinds


@pytest.mark.parametrize(
    "message", valid_messages(CHAIN_ID) + at_bound_messages(CHAIN_ID), ids=repr
)
def test_messages_within_their_bounds_decode(message: object) -> None:
    assert decode_message(encode_message(message)) == message  # type: ignore[arg-type]


@pytest.mark.parametrize(("description", "frame"), OUT_OF_RANGE, ids=[d for d, _ in OUT_OF_RANGE])
def test_a_field_out_of_range_is_refused_at_decode(description: str, frame: bytes) -> None:
    with pytest.raises(DecodeError) as refusal:
        decode_message(frame)
    assert type(refusal.value) is DecodeError


def test_the_consensus_message_decoders_check_the_same_rules() -> None:
    vote, proposal, *_ = valid_messages(CHAIN_ID)
    assert isinstance(vote, VoteMessage) and isinstance(proposal, ProposalMessage)
    assert decode_signed_vote(encode(vote.vote)) == vote.vote
    assert decode_signed_proposal(encode(proposal.proposal)) == proposal.proposal
    for description, frame in OUT_OF_RANGE:
        if description.startswith("VoteMessage.vote."):
            with pytest.raises(DecodeError):
                decode_signed_vote(_inner(frame))
        elif description.startswith("ProposalMessage.proposal."):
            with pytest.raises(DecodeError):
                decode_signed_proposal(_inner(frame))


def _inner(frame: bytes) -> bytes:
    """The first field of the one message in an encoded envelope, re-encoded on its own."""
    envelope = msgspec.msgpack.decode(frame)
    return msgspec.msgpack.encode(envelope[0][1])
