"""The safety module: it never signs two conflicting messages, never signs below what it signed,
never precommits a value without a polka, and saves its record before a signature leaves it — so
a crash and restart cannot make it double-sign or forget its lock."""

from __future__ import annotations

import hashlib

import msgspec
import pytest

from jinqiao.consensus.messages import (
    NIL,
    Proposal,
    SignedVote,
    proposal_signing_bytes,
    verify_signed_proposal,
    verify_signed_vote,
)
from jinqiao.consensus.safety import (
    ConflictingSignature,
    MemorySafetyStorage,
    SafetyError,
    SafetyModule,
    SafetyRecord,
    StaleSignRequest,
)
from jinqiao.consensus.tendermint import StartHeight
from jinqiao.core.codec import decode, encode
from jinqiao.core.crypto import Signer, get_suite
from jinqiao.core.errors import NodeFault
from jinqiao.core.hashing import vote_signing_bytes
from jinqiao.core.types import Validator, ValidatorSet, Vote, VoteType

SUITE = get_suite("ed25519-sha256")
CHAIN_ID = "jinqiao-test"
X = hashlib.sha256(b"block x").digest()
Y = hashlib.sha256(b"block y").digest()
SIGNERS = [SUITE.signer(hashlib.sha256(b"safety-test/%d" % i).digest()) for i in range(4)]
ME = SIGNERS[0]
VALIDATORS = ValidatorSet(
    tuple(
        sorted(
            (Validator(s.address, s.public_key, 1, "bank", f"v{i}") for i, s in enumerate(SIGNERS)),
            key=lambda validator: validator.address,
        )
    )
)
MEMBERS = VALIDATORS.by_address()


def prevote(height: int, round_: int, block_hash: bytes, signer: Signer = ME) -> Vote:
    return Vote(CHAIN_ID, height, round_, int(VoteType.PREVOTE), block_hash, signer.address)


def precommit(height: int, round_: int, block_hash: bytes) -> Vote:
    return Vote(CHAIN_ID, height, round_, int(VoteType.PRECOMMIT), block_hash, ME.address)


def polka(height: int, round_: int, block_hash: bytes, count: int = 3) -> tuple[SignedVote, ...]:
    votes = []
    for signer in SIGNERS[:count]:
        vote = prevote(height, round_, block_hash, signer)
        votes.append(SignedVote(vote, signer.sign(vote_signing_bytes(vote))))
    return tuple(votes)


def proposal(height: int, round_: int, block_hash: bytes, valid_round: int = -1) -> Proposal:
    return Proposal(CHAIN_ID, height, round_, block_hash, valid_round, ME.address)


def module(storage: MemorySafetyStorage | None = None, height: int = 1) -> SafetyModule:
    safety = SafetyModule(ME, CHAIN_ID, storage if storage is not None else MemorySafetyStorage())
    safety.start_height(height, VALIDATORS)
    return safety


# ------------------------------------------------------------------------ signing


def test_signs_votes_and_proposals_that_verify() -> None:
    safety = module()
    signed = safety.sign_vote(prevote(1, 0, X))
    assert verify_signed_vote(SUITE, MEMBERS, signed)
    lock = safety.sign_vote(precommit(1, 0, X), polka(1, 0, X))
    assert verify_signed_vote(SUITE, MEMBERS, lock)
    signed_proposal = safety.sign_proposal(proposal(1, 1, Y))
    assert verify_signed_proposal(SUITE, MEMBERS, signed_proposal)
    assert SUITE.verify(
        ME.public_key, proposal_signing_bytes(signed_proposal.proposal), signed_proposal.signature
    )


def test_refuses_a_second_different_prevote_in_the_same_round() -> None:
    safety = module()
    safety.sign_vote(prevote(1, 0, X))
    with pytest.raises(ConflictingSignature, match="prevote at height 1 round 0"):
        safety.sign_vote(prevote(1, 0, Y))
    with pytest.raises(ConflictingSignature):
        safety.sign_vote(prevote(1, 0, NIL))


def test_refuses_a_second_different_precommit_in_the_same_round() -> None:
    safety = module()
    safety.sign_vote(precommit(1, 2, NIL))
    with pytest.raises(ConflictingSignature, match="precommit"):
        safety.sign_vote(precommit(1, 2, X), polka(1, 2, X))


def test_refuses_anything_below_the_last_signed_vote() -> None:
    safety = module(height=2)
    safety.sign_vote(prevote(2, 3, X))
    with pytest.raises(StaleSignRequest):
        safety.sign_vote(prevote(2, 2, X))
    with pytest.raises(StaleSignRequest):
        safety.sign_vote(prevote(1, 9, X))
    safety.sign_vote(precommit(2, 3, NIL))
    # Within a round the prevote comes first: a new prevote after the precommit is refused.
    with pytest.raises(StaleSignRequest):
        safety.sign_vote(prevote(2, 3, Y))


def test_asking_again_for_the_last_vote_returns_the_same_signature_without_saving() -> None:
    storage = MemorySafetyStorage()
    safety = module(storage)
    first = safety.sign_vote(prevote(1, 0, X))
    saves = storage.saves
    assert safety.sign_vote(prevote(1, 0, X)) == first
    assert storage.saves == saves


def test_proposals_conflicting_or_stale_are_refused() -> None:
    safety = module()
    first = safety.sign_proposal(proposal(1, 1, X))
    assert safety.sign_proposal(proposal(1, 1, X)) == first
    with pytest.raises(ConflictingSignature, match="proposal at height 1 round 1"):
        safety.sign_proposal(proposal(1, 1, Y))
    with pytest.raises(ConflictingSignature):
        safety.sign_proposal(proposal(1, 1, X, valid_round=0))
    with pytest.raises(StaleSignRequest):
        safety.sign_proposal(proposal(1, 0, X))
    safety.sign_proposal(proposal(1, 2, Y, valid_round=1))


def test_proposals_and_votes_are_ordered_separately() -> None:
    # A proposer proposes at the start of a round it may already have voted in after a restart.
    safety = module()
    safety.sign_vote(prevote(1, 4, NIL))
    safety.sign_proposal(proposal(1, 4, X))


def test_refuses_to_sign_for_another_chain_or_validator_or_malformed_messages() -> None:
    safety = module()
    other = SIGNERS[1]
    with pytest.raises(SafetyError, match="chain"):
        safety.sign_vote(Vote("other-chain", 1, 0, int(VoteType.PREVOTE), X, ME.address))
    with pytest.raises(SafetyError, match="another validator"):
        safety.sign_vote(prevote(1, 0, X, other))
    with pytest.raises(SafetyError, match="type"):
        safety.sign_vote(Vote(CHAIN_ID, 1, 0, 9, X, ME.address))
    with pytest.raises(SafetyError, match="block hash"):
        safety.sign_vote(prevote(1, 0, b"\x01" * 3))
    with pytest.raises(SafetyError):
        safety.sign_proposal(proposal(1, 0, X, valid_round=0))
    with pytest.raises(SafetyError):
        safety.sign_proposal(Proposal(CHAIN_ID, 1, 0, X, -1, other.address))


def test_errors_are_node_faults() -> None:
    assert issubclass(SafetyError, NodeFault)
    assert issubclass(ConflictingSignature, SafetyError)
    assert issubclass(StaleSignRequest, SafetyError)


# ------------------------------------------------------------------------ the polka rule


def test_a_precommit_for_a_value_needs_a_polka() -> None:
    safety = module()
    with pytest.raises(SafetyError, match="without a polka"):
        safety.sign_vote(precommit(1, 0, X))
    with pytest.raises(SafetyError, match="2 of 4"):
        safety.sign_vote(precommit(1, 0, X), polka(1, 0, X, count=2))
    with pytest.raises(SafetyError, match="foreign"):
        safety.sign_vote(precommit(1, 0, X), polka(1, 1, X))  # another round's prevotes
    with pytest.raises(SafetyError, match="foreign"):
        safety.sign_vote(precommit(1, 0, X), polka(1, 0, X)[:2] * 2)  # one voter twice
    forged = polka(1, 0, X)
    forged = (*forged[:2], SignedVote(forged[2].vote, b"\x00" * 64))
    with pytest.raises(SafetyError, match="signature"):
        safety.sign_vote(precommit(1, 0, X), forged)
    safety.sign_vote(precommit(1, 0, X), polka(1, 0, X))
    safety.sign_vote(precommit(1, 1, NIL))  # nil needs no polka


def test_a_precommit_needs_the_validator_set_of_its_height() -> None:
    safety = SafetyModule(ME, CHAIN_ID, MemorySafetyStorage())
    with pytest.raises(SafetyError, match="start_height"):
        safety.sign_vote(precommit(1, 0, X), polka(1, 0, X))


# ------------------------------------------------------------------------ persistence


class RecordingStorage(MemorySafetyStorage):
    """Checks, at the moment of every save, that the record already holds what is being signed:
    nothing can be returned before it is durable."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[SafetyRecord] = []

    def save(self, data: bytes) -> None:
        super().save(data)
        self.records.append(decode(data, SafetyRecord, max_bytes=1 << 20))


def test_the_record_is_saved_before_the_signature_is_returned() -> None:
    storage = RecordingStorage()
    safety = module(storage)
    signed = safety.sign_vote(prevote(1, 0, X))
    assert storage.records[-1].prevote == signed
    lock = safety.sign_vote(precommit(1, 0, X), polka(1, 0, X))
    assert storage.records[-1].precommit == lock and storage.records[-1].lock == lock
    signed_proposal = safety.sign_proposal(proposal(1, 1, Y))
    assert storage.records[-1].proposal == signed_proposal


class FailingStorage(MemorySafetyStorage):
    def save(self, data: bytes) -> None:
        raise OSError("disk full")


def test_a_failed_save_releases_nothing_and_still_blocks_conflicts() -> None:
    safety = module(FailingStorage())
    with pytest.raises(OSError, match="disk full"):
        safety.sign_vote(prevote(1, 0, X))
    # The signature never left, but the module will not sign a conflicting vote either.
    with pytest.raises(ConflictingSignature):
        safety.sign_vote(prevote(1, 0, Y))


def test_after_a_crash_the_reloaded_record_refuses_conflicts() -> None:
    storage = MemorySafetyStorage()
    before = module(storage)
    signed = before.sign_vote(prevote(1, 0, X))
    before.sign_proposal(proposal(1, 0, X))
    del before  # the process dies; the storage (a file) survives
    after = module(storage)
    with pytest.raises(ConflictingSignature):
        after.sign_vote(prevote(1, 0, Y))
    with pytest.raises(ConflictingSignature):
        after.sign_proposal(proposal(1, 0, Y))
    assert after.sign_vote(prevote(1, 0, X)) == signed


def test_after_a_crash_the_lock_and_round_are_given_back() -> None:
    storage = MemorySafetyStorage()
    before = module(storage, height=3)
    before.sign_vote(prevote(3, 1, X))
    lock = before.sign_vote(precommit(3, 1, X), polka(3, 1, X))
    before.sign_vote(prevote(3, 4, NIL))
    last = before.sign_vote(precommit(3, 4, NIL))  # a nil precommit does not unlock
    after = SafetyModule(ME, CHAIN_ID, storage)
    event = after.start_height(3, VALIDATORS)
    assert event == StartHeight(3, VALIDATORS, 4, 1, X)
    messages = after.signed_messages(3)
    assert lock in messages and last in messages
    assert set(polka(3, 1, X)) <= set(messages)
    # A fresh height: round 0, no lock, nothing to re-send.
    assert after.start_height(4, VALIDATORS) == StartHeight(4, VALIDATORS)
    assert after.signed_messages(4) == ()


def test_a_damaged_or_foreign_record_stops_the_node() -> None:
    with pytest.raises(NodeFault, match="does not decode"):
        SafetyModule(ME, CHAIN_ID, MemorySafetyStorage(b"\x93garbage"))
    storage = MemorySafetyStorage()
    module(storage).sign_vote(prevote(1, 0, X))
    with pytest.raises(NodeFault, match="another chain or validator"):
        SafetyModule(SIGNERS[1], CHAIN_ID, storage)
    with pytest.raises(NodeFault, match="another chain or validator"):
        SafetyModule(ME, "other-chain", storage)
    record = decode(storage.data or b"", SafetyRecord, max_bytes=1 << 20)
    future = msgspec.structs.replace(record, version=2)
    with pytest.raises(NodeFault, match="version"):
        SafetyModule(ME, CHAIN_ID, MemorySafetyStorage(encode(future)))
