"""The Tendermint state machine, rule by rule, named after Algorithm 1 of "The latest gossip on
BFT consensus" (Buchman, Kwon, Milosevic 2018). Line numbers are the paper's."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping
from typing import TypeVar

import pytest

from jinqiao.consensus.messages import (
    NIL,
    Proposal,
    SignedProposal,
    SignedVote,
    proposal_signing_bytes,
    verify_signed_vote,
)
from jinqiao.consensus.tendermint import (
    MAX_PROPOSALS_PER_ROUND,
    BlockValidity,
    BroadcastProposal,
    CastVote,
    Decide,
    Event,
    Output,
    ProposalEquivocation,
    ProposalReceived,
    ProposerRotation,
    ProposeValue,
    RequestValue,
    ScheduleTimeout,
    StartHeight,
    Step,
    Tendermint,
    TendermintConfig,
    TimeoutExpired,
    TimeoutKind,
    ValidateBlock,
    VoteEquivocation,
    VoteReceived,
    has_quorum,
    is_more_than_one_third,
)
from jinqiao.core.crypto import Signer, get_suite
from jinqiao.core.errors import NodeFault
from jinqiao.core.hashing import header_hash, validator_set_hash, vote_signing_bytes
from jinqiao.core.types import BlockHeader, Validator, ValidatorSet, Vote, VoteType
from jinqiao.verify import verify_certificate

SUITE = get_suite("ed25519-sha256")
CHAIN_ID = "jinqiao-test"
X = hashlib.sha256(b"block x").digest()
Y = hashlib.sha256(b"block y").digest()
Z = hashlib.sha256(b"block z").digest()
PREVOTE = VoteType.PREVOTE
PRECOMMIT = VoteType.PRECOMMIT
T = TypeVar("T")


def make_signers(count: int) -> list[Signer]:
    return [
        SUITE.signer(hashlib.sha256(b"tendermint-test/%d" % index).digest())
        for index in range(count)
    ]


def make_validators(signers: list[Signer], powers: list[int] | None = None) -> ValidatorSet:
    powers = powers or [1] * len(signers)
    members = [
        Validator(signer.address, signer.public_key, power, "bank", f"validator-{index}")
        for index, (signer, power) in enumerate(zip(signers, powers, strict=True))
    ]
    return ValidatorSet(tuple(sorted(members, key=lambda validator: validator.address)))


class Net:
    """One machine under test (``me``) and the keys of every validator, to forge its inputs."""

    def __init__(
        self,
        count: int = 4,
        *,
        powers: list[int] | None = None,
        me: bytes | None = None,
        config: Mapping[str, int] | None = None,
    ) -> None:
        self.signers = {s.address: s for s in make_signers(count)}
        ordered = list(self.signers.values())
        self.validators = make_validators(ordered, powers)
        self.addresses = [validator.address for validator in self.validators.validators]
        self.rotation = ProposerRotation.of(self.validators)
        self.me = me if me is not None else self.addresses[0]
        defaults = {
            "timeout_propose_ms": 3_000,
            "timeout_propose_delta_ms": 500,
            "timeout_prevote_ms": 1_000,
            "timeout_prevote_delta_ms": 500,
            "timeout_precommit_ms": 1_000,
            "timeout_precommit_delta_ms": 500,
        }
        defaults.update(config or {})
        self.machine = Tendermint(TendermintConfig(CHAIN_ID, self.me, **defaults))

    def proposer(self, round_: int, height: int = 1) -> bytes:
        return self.rotation.proposer(height, round_)

    def others(self, *excluded: bytes) -> list[bytes]:
        return [a for a in self.addresses if a != self.me and a not in excluded]

    def signed_vote(
        self, validator: bytes, kind: VoteType, round_: int, block_hash: bytes, height: int = 1
    ) -> SignedVote:
        vote = Vote(CHAIN_ID, height, round_, int(kind), block_hash, validator)
        return SignedVote(vote, self.signers[validator].sign(vote_signing_bytes(vote)))

    def vote(
        self, validator: bytes, kind: VoteType, round_: int, block_hash: bytes, height: int = 1
    ) -> list[Output]:
        return self.handle(
            VoteReceived(self.signed_vote(validator, kind, round_, block_hash, height))
        )

    def votes(
        self, validators: list[bytes], kind: VoteType, round_: int, block_hash: bytes
    ) -> list[Output]:
        outputs: list[Output] = []
        for validator in validators:
            outputs += self.vote(validator, kind, round_, block_hash)
        return outputs

    def signed_proposal(
        self,
        round_: int,
        block_hash: bytes,
        valid_round: int = -1,
        *,
        height: int = 1,
        proposer: bytes | None = None,
    ) -> SignedProposal:
        proposer = proposer if proposer is not None else self.proposer(round_, height)
        proposal = Proposal(CHAIN_ID, height, round_, block_hash, valid_round, proposer)
        return SignedProposal(
            proposal, self.signers[proposer].sign(proposal_signing_bytes(proposal))
        )

    def propose(
        self,
        round_: int,
        block_hash: bytes,
        valid_round: int = -1,
        *,
        proposer: bytes | None = None,
    ) -> list[Output]:
        signed = self.signed_proposal(round_, block_hash, valid_round, proposer=proposer)
        return self.handle(ProposalReceived(signed))

    def start(
        self,
        height: int = 1,
        *,
        round: int = 0,
        locked_round: int = -1,
        locked_block_hash: bytes = NIL,
    ) -> list[Output]:
        event = StartHeight(height, self.validators, round, locked_round, locked_block_hash)
        return self.handle(event)

    def valid(self, block_hash: bytes, verdict: bool = True, height: int = 1) -> list[Output]:
        return self.handle(BlockValidity(height, block_hash, verdict))

    def timeout(self, kind: TimeoutKind, round_: int, height: int = 1) -> list[Output]:
        return self.handle(TimeoutExpired(kind, height, round_))

    def handle(self, event: Event) -> list[Output]:
        return self.machine.handle(event)

    def cast(self, outputs: list[Output]) -> list[Vote]:
        """The votes ``me`` cast, fed back to the machine as the driver would."""
        votes = [output.vote for output in outputs if isinstance(output, CastVote)]
        for vote in votes:
            self.handle(
                VoteReceived(
                    self.signed_vote(
                        vote.validator,
                        VoteType(vote.type),
                        vote.round,
                        vote.block_hash,
                        vote.height,
                    )
                )
            )
        return votes


def net_where_me_is_not_proposer(round_: int = 0, **config: int) -> Net:
    probe = Net(config=config)
    me = next(a for a in probe.addresses if a != probe.proposer(round_))
    return Net(me=me, config=config)


def net_where_me_is_proposer(round_: int = 0, **config: int) -> Net:
    probe = Net(config=config)
    return Net(me=probe.proposer(round_), config=config)


def only(outputs: list[Output], kind: type[T]) -> list[T]:
    return [output for output in outputs if isinstance(output, kind)]


def prevotes_of(outputs: list[Output]) -> list[bytes]:
    return [
        o.vote.block_hash for o in outputs if isinstance(o, CastVote) and o.vote.type == PREVOTE
    ]


def precommits_of(outputs: list[Output]) -> list[bytes]:
    return [
        o.vote.block_hash for o in outputs if isinstance(o, CastVote) and o.vote.type == PRECOMMIT
    ]


# ------------------------------------------------------------------------ thresholds, rotation


def test_two_thirds_and_one_third_are_strict_and_by_power() -> None:
    assert has_quorum(3, 4) and not has_quorum(2, 3) and has_quorum(7, 10)
    assert not has_quorum(20, 30) and has_quorum(21, 30)
    assert is_more_than_one_third(2, 4) and not is_more_than_one_third(1, 3)
    assert not is_more_than_one_third(1, 4)


def test_proposer_rotation_gives_each_validator_its_power_share_every_period() -> None:
    validators = make_validators(make_signers(4), [4, 3, 2, 1])
    rotation = ProposerRotation.of(validators)
    assert rotation.period == 10
    power = {v.address: v.power for v in validators.validators}
    for height in (1, 7, 1_000_003):
        window = Counter(rotation.proposer(height, round_) for round_ in range(10))
        assert window == power


def test_proposer_rotation_spreads_a_heavy_validators_turns() -> None:
    validators = make_validators(make_signers(4), [10, 1, 1, 1])
    rotation = ProposerRotation.of(validators)
    heavy = next(v.address for v in validators.validators if v.power == 10)
    sequence = [rotation.proposer(1, round_) for round_ in range(2 * rotation.period)]
    longest = run = 0
    for address in sequence:
        run = run + 1 if address == heavy else 0
        longest = max(longest, run)
    assert longest <= 4  # a plain cumulative rotation would give it 10 rounds in a row


def test_equal_powers_rotate_through_every_validator_and_scale_does_not_matter() -> None:
    signers = make_signers(4)
    rotation = ProposerRotation.of(make_validators(signers))
    scaled = ProposerRotation.of(make_validators(signers, [5, 5, 5, 5]))
    for height in range(1, 20):
        turn = [rotation.proposer(height, round_) for round_ in range(4)]
        assert len(set(turn)) == 4
        assert turn == [scaled.proposer(height, round_) for round_ in range(4)]
    # (height, round) -> height + round: the next height starts with the next proposer
    assert rotation.proposer(2, 0) == rotation.proposer(1, 1)


# ------------------------------------------------------------------------ StartRound (11-21)


def test_lines_14_19_proposer_asks_for_a_value_and_proposes_it() -> None:
    net = net_where_me_is_proposer()
    outputs = net.start()
    assert only(outputs, RequestValue) == [RequestValue(1, 0)]
    outputs = net.handle(ProposeValue(1, 0, X))
    (broadcast,) = only(outputs, BroadcastProposal)
    assert broadcast == BroadcastProposal(Proposal(CHAIN_ID, 1, 0, X, -1, net.me))
    # The driver signs it and feeds it back (line 19 includes the sender): line 22 then prevotes
    # for its own value without asking for validity (it built the block).
    outputs = net.handle(ProposalReceived(net.signed_proposal(0, X)))
    assert prevotes_of(outputs) == [X]
    assert not only(outputs, ValidateBlock)


def test_line_21_non_proposer_schedules_timeout_propose() -> None:
    net = net_where_me_is_not_proposer()
    outputs = net.start()
    assert outputs == [ScheduleTimeout(TimeoutKind.PROPOSE, 1, 0, 3_000)]


def test_a_value_arriving_late_or_for_another_round_is_not_proposed() -> None:
    net = net_where_me_is_proposer()
    net.start()
    assert net.handle(ProposeValue(1, 5, X)) == []
    net.timeout(TimeoutKind.PROPOSE, 0)  # prevoted nil: too late to propose
    assert net.handle(ProposeValue(1, 0, X)) == []


def test_timeouts_grow_linearly_with_the_round() -> None:
    net = net_where_me_is_not_proposer(
        timeout_propose_ms=100,
        timeout_propose_delta_ms=10,
        timeout_prevote_ms=200,
        timeout_prevote_delta_ms=20,
        timeout_precommit_ms=300,
        timeout_precommit_delta_ms=30,
    )
    config = net.machine.config
    assert [config.timeout_ms(TimeoutKind.PROPOSE, r) for r in range(4)] == [100, 110, 120, 130]
    assert [config.timeout_ms(TimeoutKind.PREVOTE, r) for r in range(3)] == [200, 220, 240]
    assert [config.timeout_ms(TimeoutKind.PRECOMMIT, r) for r in range(3)] == [300, 330, 360]
    net.start()
    for round_ in range(3):
        outputs = net.timeout(TimeoutKind.PRECOMMIT, round_)
        proposes = [o for o in only(outputs, ScheduleTimeout) if o.kind == TimeoutKind.PROPOSE]
        assert [o.duration_ms for o in proposes] == [100 + 10 * (round_ + 1)]
    assert net.machine.round == 3


# ------------------------------------------------------------------------ prevote (22-33)


def test_line_22_prevote_for_a_valid_proposal() -> None:
    net = net_where_me_is_not_proposer()
    net.start()
    outputs = net.propose(0, X)
    assert only(outputs, ValidateBlock) == [ValidateBlock(1, 0, X)]
    outputs = net.valid(X)
    assert prevotes_of(outputs) == [X]
    assert net.machine.step == Step.PREVOTE
    vote = only(outputs, CastVote)[0].vote
    assert vote == Vote(CHAIN_ID, 1, 0, int(PREVOTE), X, net.me)


def test_no_prevote_before_validity_is_known() -> None:
    net = net_where_me_is_not_proposer()
    net.start()
    outputs = net.propose(0, X)
    assert prevotes_of(outputs) == []
    # Others' votes do not make the machine vote for an unexecuted block either.
    outputs = net.votes(net.others(), PREVOTE, 0, X)
    assert prevotes_of(outputs) == [] and precommits_of(outputs) == []
    assert net.machine.step == Step.PROPOSE
    assert prevotes_of(net.valid(X)) == [X]


def test_a_verdict_for_a_block_nobody_proposed_is_ignored() -> None:
    net = net_where_me_is_not_proposer()
    net.start()
    net.valid(X, verdict=False)
    net.propose(0, X)
    assert prevotes_of(net.valid(X)) == [X]


def test_line_26_prevote_nil_for_an_invalid_proposal() -> None:
    net = net_where_me_is_not_proposer()
    net.start()
    net.propose(0, X)
    assert prevotes_of(net.valid(X, verdict=False)) == [NIL]


def test_lines_57_60_timeout_propose_prevotes_nil() -> None:
    net = net_where_me_is_not_proposer()
    net.start()
    net.propose(0, X)  # validity never arrives
    assert prevotes_of(net.timeout(TimeoutKind.PROPOSE, 0)) == [NIL]
    assert prevotes_of(net.valid(X)) == []  # already prevoted in this round
    assert prevotes_of(net.timeout(TimeoutKind.PROPOSE, 0)) == []


def test_line_23_a_locked_validator_prevotes_nil_for_another_value() -> None:
    net = net_where_me_is_not_proposer(round_=1)
    net.start(round=1, locked_round=0, locked_block_hash=X)
    outputs = net.propose(1, Y)
    # Nil whatever the verdict, so it does not wait for one.
    assert prevotes_of(outputs) == [NIL]


def test_line_23_a_locked_validator_prevotes_its_locked_value() -> None:
    net = net_where_me_is_not_proposer(round_=1)
    net.start(round=1, locked_round=0, locked_block_hash=X)
    net.propose(1, X)
    assert prevotes_of(net.valid(X)) == [X]


def test_lines_28_30_a_later_polka_unlocks() -> None:
    net = net_where_me_is_not_proposer(round_=2)
    net.start(round=2, locked_round=0, locked_block_hash=X)
    net.votes(net.others(), PREVOTE, 1, Y)  # a polka for Y in round 1 > lockedRound 0
    net.propose(2, Y, valid_round=1)
    assert prevotes_of(net.valid(Y)) == [Y]


def test_line_28_waits_for_the_polka_of_the_valid_round() -> None:
    net = net_where_me_is_not_proposer(round_=2)
    net.start(round=2, locked_round=0, locked_block_hash=X)
    net.propose(2, Y, valid_round=1)
    assert prevotes_of(net.valid(Y)) == []  # no 2f + 1 prevotes for Y in round 1 yet
    first, second, *_ = net.others()
    net.votes([first, second], PREVOTE, 1, Y)
    assert prevotes_of(net.vote(net.me, PREVOTE, 1, Y)) == [Y]


def test_line_29_an_older_polka_does_not_unlock() -> None:
    net = net_where_me_is_not_proposer(round_=3)
    net.start(round=3, locked_round=2, locked_block_hash=X)
    net.votes(net.others(), PREVOTE, 1, Y)
    assert prevotes_of(net.propose(3, Y, valid_round=1)) == [NIL]


def test_proposals_with_an_impossible_valid_round_are_ignored() -> None:
    net = net_where_me_is_not_proposer()
    net.start()
    assert net.propose(0, X, valid_round=0) == []
    assert net.propose(0, X, valid_round=-2) == []


# ------------------------------------------------------------------------ precommit (34-48)


def test_lines_36_41_lock_and_precommit_on_a_polka() -> None:
    net = net_where_me_is_not_proposer()
    net.start()
    net.propose(0, X)
    net.cast(net.valid(X))
    first, second, _ = net.others()
    outputs = net.votes([first, second], PREVOTE, 0, X)
    (cast,) = only(outputs, CastVote)
    assert cast.vote.type == PRECOMMIT and cast.vote.block_hash == X
    # The precommit carries its polka for the safety module: 3 of 4 prevotes for X.
    polka = cast.polka
    assert len(polka) == 3 and all(p.vote.block_hash == X for p in polka)
    assert all(verify_signed_vote(SUITE, net.validators.by_address(), p) for p in polka)
    state = net.machine.state
    assert (state.locked_round, state.locked_block_hash) == (0, X)
    assert (state.valid_round, state.valid_block_hash) == (0, X)
    assert state.step == Step.PRECOMMIT


def test_line_36_needs_validity_before_locking() -> None:
    net = net_where_me_is_not_proposer()
    net.start()
    net.propose(0, X)
    net.timeout(TimeoutKind.PROPOSE, 0)  # prevote nil; X's verdict still pending
    outputs = net.votes(net.others(), PREVOTE, 0, X)
    assert precommits_of(outputs) == []
    assert precommits_of(net.valid(X)) == [X]


def test_lines_42_43_a_polka_seen_after_precommitting_sets_only_the_valid_value() -> None:
    net = net_where_me_is_not_proposer()
    net.start()
    net.propose(0, X)
    net.valid(X)
    net.votes(net.others()[:1], PREVOTE, 0, NIL)  # 2 prevotes with me: not a quorum
    net.vote(net.me, PREVOTE, 0, X)
    net.timeout(TimeoutKind.PREVOTE, 0)  # step precommit (nil)
    assert net.machine.step == Step.PRECOMMIT
    outputs = net.votes(net.others()[1:], PREVOTE, 0, X)  # now X has 3 of 4
    assert precommits_of(outputs) == []
    state = net.machine.state
    assert (state.valid_round, state.valid_block_hash) == (0, X)
    assert (state.locked_round, state.locked_block_hash) == (-1, NIL)


def test_lines_15_16_the_valid_value_is_proposed_again_in_a_later_round() -> None:
    probe = Net()
    round_ = next(r for r in range(1, 8) if probe.proposer(r) != probe.proposer(0))
    net = Net(me=probe.proposer(round_))
    net.start()
    net.propose(0, X)
    net.cast(net.valid(X))
    net.cast(net.votes([*net.others(net.proposer(0))[:1], net.proposer(0)], PREVOTE, 0, X))
    assert net.machine.state.valid_block_hash == X
    outputs: list[Output] = []
    for r in range(round_):
        outputs = net.timeout(TimeoutKind.PRECOMMIT, r)
    assert not only(outputs, RequestValue)
    assert only(outputs, BroadcastProposal) == [
        BroadcastProposal(Proposal(CHAIN_ID, 1, round_, X, 0, net.me))
    ]


def test_a_restored_lock_is_proposed_with_its_round() -> None:
    net = net_where_me_is_proposer(round_=3)
    outputs = net.start(round=3, locked_round=1, locked_block_hash=Y)
    assert only(outputs, BroadcastProposal) == [
        BroadcastProposal(Proposal(CHAIN_ID, 1, 3, Y, 1, net.me))
    ]


def test_line_44_a_polka_for_nil_precommits_nil() -> None:
    net = net_where_me_is_not_proposer()
    net.start()
    net.cast(net.timeout(TimeoutKind.PROPOSE, 0))
    outputs = net.votes(net.others()[:2], PREVOTE, 0, NIL)
    assert precommits_of(outputs) == [NIL]


def test_lines_34_35_any_two_thirds_of_prevotes_schedule_timeout_prevote_once() -> None:
    net = net_where_me_is_not_proposer()
    net.start()
    net.cast(net.timeout(TimeoutKind.PROPOSE, 0))  # me: nil
    first, second, third = net.others()
    assert net.vote(first, PREVOTE, 0, X) == []
    outputs = net.vote(second, PREVOTE, 0, Y)  # nil, X, Y: 3 of 4, no value has 2/3
    assert outputs == [ScheduleTimeout(TimeoutKind.PREVOTE, 1, 0, 1_000)]
    assert net.vote(third, PREVOTE, 0, Z) == []  # for the first time only


def test_lines_61_64_timeout_prevote_precommits_nil() -> None:
    net = net_where_me_is_not_proposer()
    net.start()
    net.cast(net.timeout(TimeoutKind.PROPOSE, 0))
    assert precommits_of(net.timeout(TimeoutKind.PREVOTE, 0)) == [NIL]
    assert precommits_of(net.timeout(TimeoutKind.PREVOTE, 0)) == []


def test_lines_47_48_and_65_67_precommit_timeout_starts_the_next_round() -> None:
    net = net_where_me_is_not_proposer()
    net.start()
    first, second, third = net.others()
    net.votes([first, second], PRECOMMIT, 0, NIL)
    outputs = net.vote(third, PRECOMMIT, 0, X)
    assert outputs == [ScheduleTimeout(TimeoutKind.PRECOMMIT, 1, 0, 1_000)]
    outputs = net.timeout(TimeoutKind.PRECOMMIT, 0)
    assert net.machine.round == 1 and net.machine.step == Step.PROPOSE
    assert ScheduleTimeout(TimeoutKind.PROPOSE, 1, 1, 3_500) in outputs


def test_timeouts_for_another_height_or_round_are_ignored() -> None:
    net = net_where_me_is_not_proposer()
    net.start()
    assert net.timeout(TimeoutKind.PROPOSE, 1) == []
    assert net.timeout(TimeoutKind.PROPOSE, 0, height=2) == []
    assert net.timeout(TimeoutKind.PRECOMMIT, 3) == []
    assert net.machine.round == 0 and net.machine.step == Step.PROPOSE


# ------------------------------------------------------------------------ round skip (55-56)


def test_line_55_round_skip_on_more_than_one_third_of_the_power() -> None:
    net = net_where_me_is_not_proposer()
    net.start()
    first, second, _ = net.others()
    net.vote(first, PRECOMMIT, 5, NIL)
    assert net.machine.round == 0  # one of four is not more than a third
    net.vote(second, PREVOTE, 5, X)  # any message type counts
    assert net.machine.round == 5


def test_line_55_counts_power_not_validators() -> None:
    signers = make_signers(4)
    validators = make_validators(signers, [1, 1, 1, 5])
    heavy = next(v.address for v in validators.validators if v.power == 5)
    net = Net(powers=[1, 1, 1, 5], me=next(a for a in validators.by_address() if a != heavy))
    net.start()
    net.vote(heavy, PREVOTE, 4, NIL)  # 5 of 8 power
    assert net.machine.round == 4


def test_rounds_beyond_the_window_are_not_kept_but_still_count_for_the_round_skip() -> None:
    """Line 55 after a long partition: the others may be many rounds ahead. Their messages
    beyond the window are not stored (bounded memory), but who was seen how far ahead is, so
    f + 1 of them still pull this node forward."""
    net = net_where_me_is_not_proposer(max_future_rounds=3)
    net.start()
    others = net.others()
    net.votes(others[:1], PREVOTE, 9, NIL)  # one of four: not more than a third
    assert net.machine.round == 0 and 9 not in net.machine.state.rounds
    net.votes(others[1:2], PREVOTE, 7, NIL)  # two of four, seen at rounds >= 7
    assert net.machine.round == 7
    net.votes(others, PREVOTE, 3, NIL)  # a round inside the window, behind us now: ignored
    assert net.machine.round == 7


# ------------------------------------------------------------------------ decide (49-54)


def make_header(net: Net, height: int = 1) -> BlockHeader:
    validators_hash = validator_set_hash(SUITE, net.validators)
    return BlockHeader(
        chain_id=CHAIN_ID,
        height=height,
        time_ms=1_700_000_000_000,
        previous_block_hash=b"\x11" * 32,
        transactions_root=b"\x00" * 32,
        receipts_root=b"\x00" * 32,
        state_root=b"\x22" * 32,
        validators_hash=validators_hash,
        next_validators_hash=validators_hash,
        proposer=net.proposer(0, height),
        transaction_count=0,
    )


def test_line_49_decide_on_two_thirds_of_precommits_with_a_verifiable_certificate() -> None:
    net = net_where_me_is_not_proposer()
    header = make_header(net)
    block = header_hash(SUITE, header)
    net.start()
    net.propose(0, block)
    net.valid(block)
    first, second, third = net.others()
    assert not only(net.votes([first, second], PRECOMMIT, 0, block), Decide)
    outputs = net.vote(third, PRECOMMIT, 0, block)
    (decision,) = only(outputs, Decide)
    assert decision.height == 1 and decision.round == 0 and decision.block_hash == block
    certificate = decision.certificate
    assert [s.validator for s in certificate.signatures] == sorted([first, second, third])
    verify_certificate(SUITE, CHAIN_ID, net.validators, header, certificate)
    assert net.machine.decision == decision
    # Decided: the height is over until the driver starts the next one.
    assert net.timeout(TimeoutKind.PROPOSE, 0) == []
    assert net.vote(net.me, PREVOTE, 0, block) == []


def test_line_49_decides_on_the_precommits_of_an_earlier_round() -> None:
    net = net_where_me_is_not_proposer()
    net.start()
    net.propose(0, X)
    net.timeout(TimeoutKind.PROPOSE, 0)
    net.timeout(TimeoutKind.PREVOTE, 0)
    net.timeout(TimeoutKind.PRECOMMIT, 0)
    assert net.machine.round == 1
    net.votes(net.others(), PRECOMMIT, 0, X)
    (decision,) = only(net.valid(X), Decide)
    assert decision.round == 0


def test_line_50_no_decision_for_an_invalid_or_unexecuted_block() -> None:
    net = net_where_me_is_not_proposer()
    net.start()
    net.propose(0, X)
    assert not only(net.votes(net.others(), PRECOMMIT, 0, X), Decide)  # verdict pending
    assert not only(net.valid(X, verdict=False), Decide)
    assert net.machine.decision is None


def test_line_49_no_decision_without_the_proposal() -> None:
    net = net_where_me_is_not_proposer()
    net.start()
    net.votes(net.others(), PRECOMMIT, 0, X)
    assert net.machine.decision is None
    net.propose(0, X)
    assert only(net.valid(X), Decide)


def test_the_next_height_starts_clean_and_replays_buffered_messages() -> None:
    net = net_where_me_is_not_proposer()
    net.start()
    net.propose(0, X)
    net.valid(X)
    net.votes(net.others(), PRECOMMIT, 0, X)
    assert net.machine.decision is not None
    early = net.others()[0]
    net.vote(early, PREVOTE, 0, Y, height=2)  # buffered
    net.vote(early, PREVOTE, 0, Y, height=3)  # too far ahead: dropped
    net.start(height=2)
    state = net.machine.state
    assert state.height == 2 and state.decision is None and state.locked_round == -1
    assert state.rounds[0].prevotes.power_for(Y) == 1
    with pytest.raises(NodeFault, match="higher height"):
        net.start(height=2)


def test_the_next_height_buffer_is_bounded() -> None:
    net = net_where_me_is_not_proposer(max_next_height_messages=2)
    net.start()
    for round_ in range(3):
        net.vote(net.others()[0], PREVOTE, round_, Y, height=2)
    assert len(net.machine.state.next_height_messages) == 2


# ------------------------------------------------------------------------ counting and evidence


def test_duplicate_votes_are_counted_once() -> None:
    net = net_where_me_is_not_proposer()
    net.start()
    first = net.others()[0]
    for _ in range(3):
        assert net.vote(first, PREVOTE, 0, X) == []
    prevotes = net.machine.state.rounds[0].prevotes
    assert prevotes.power == 1 and prevotes.power_for(X) == 1


def test_equivocation_is_evidence_reported_once_and_counts_once_toward_any_value() -> None:
    net = net_where_me_is_not_proposer()
    net.start()
    first, second, _ = net.others()
    net.vote(first, PREVOTE, 0, X)
    outputs = net.vote(first, PREVOTE, 0, Y)
    (evidence,) = only(outputs, VoteEquivocation)
    assert evidence.first.vote.block_hash == X and evidence.second.vote.block_hash == Y
    assert only(net.vote(first, PREVOTE, 0, NIL), VoteEquivocation) == []  # once
    prevotes = net.machine.state.rounds[0].prevotes
    assert prevotes.power == 1  # toward "any value" (lines 34, 47) it is one validator
    # …and the round-skip count is by validator too.
    net.vote(first, PRECOMMIT, 2, NIL)
    net.vote(first, PRECOMMIT, 2, X)
    assert net.machine.round == 0
    net.vote(second, PRECOMMIT, 2, NIL)
    assert net.machine.round == 2


def test_an_equivocators_vote_counts_toward_each_of_its_values() -> None:
    # The paper counts messages: a polka one correct node saw must be visible to all, even if
    # they first received the equivocator's other vote.
    net = net_where_me_is_not_proposer()
    net.start()
    byzantine, honest, _ = net.others()
    net.vote(byzantine, PREVOTE, 0, NIL)
    net.propose(0, X)
    net.cast(net.valid(X))
    net.vote(honest, PREVOTE, 0, X)
    outputs = net.vote(byzantine, PREVOTE, 0, X)
    assert precommits_of(outputs) == [X]


def test_votes_that_do_not_belong_are_ignored() -> None:
    net = net_where_me_is_not_proposer()
    net.start()
    first = net.others()[0]
    stranger = SUITE.signer(b"\x99" * 32)
    vote = Vote(CHAIN_ID, 1, 0, int(PREVOTE), X, stranger.address)
    net.handle(VoteReceived(SignedVote(vote, stranger.sign(vote_signing_bytes(vote)))))
    other_chain = Vote("another-chain", 1, 0, int(PREVOTE), X, first)
    net.handle(VoteReceived(SignedVote(other_chain, b"\x00" * 64)))
    bad_type = Vote(CHAIN_ID, 1, 0, 7, X, first)
    net.handle(VoteReceived(SignedVote(bad_type, b"\x00" * 64)))
    short_hash = Vote(CHAIN_ID, 1, 0, int(PREVOTE), b"\x01" * 5, first)
    net.handle(VoteReceived(SignedVote(short_hash, b"\x00" * 64)))
    net.vote(first, PREVOTE, 0, X, height=5)
    assert net.machine.state.rounds[0].prevotes.power == 0
    assert net.machine.state.next_height_messages == []


def test_a_proposal_from_anyone_but_the_rounds_proposer_is_ignored() -> None:
    net = net_where_me_is_not_proposer()
    net.start()
    impostor = next(a for a in net.others() if a != net.proposer(0))
    assert net.propose(0, X, proposer=impostor) == []
    assert net.machine.state.rounds[0].proposals == {}


def test_conflicting_proposals_are_evidence_and_bounded() -> None:
    net = net_where_me_is_not_proposer()
    net.start()
    net.propose(0, X)
    outputs = net.propose(0, Y)
    (evidence,) = only(outputs, ProposalEquivocation)
    assert evidence.first.proposal.block_hash == X
    for index in range(10):
        net.propose(0, hashlib.sha256(b"%d" % index).digest())
    assert len(net.machine.state.rounds[0].proposals) == MAX_PROPOSALS_PER_ROUND


def test_a_node_outside_the_validator_set_decides_but_never_votes_or_proposes() -> None:
    observer = SUITE.signer(b"\x42" * 32).address
    net = Net(me=observer)
    outputs = net.start()
    net.propose(0, X)
    outputs += net.valid(X)
    outputs += net.votes(net.addresses, PREVOTE, 0, X)
    outputs += net.votes(net.addresses, PRECOMMIT, 0, X)
    assert not only(outputs, CastVote) and not only(outputs, RequestValue)
    assert only(outputs, Decide)


def test_events_before_the_first_height_are_ignored() -> None:
    net = Net()
    assert net.vote(net.addresses[1], PREVOTE, 0, X) == []
    assert net.timeout(TimeoutKind.PROPOSE, 0) == []


def test_start_height_checks_its_arguments() -> None:
    net = Net()
    with pytest.raises(NodeFault):
        net.start(height=0)
    with pytest.raises(NodeFault):
        net.start(round=1, locked_round=2, locked_block_hash=X)
    with pytest.raises(NodeFault):
        net.start(locked_round=0)
    with pytest.raises(NodeFault):
        net.handle(StartHeight(1, ValidatorSet(())))


def test_status_names_the_missing_voters() -> None:
    net = net_where_me_is_not_proposer()
    net.start()
    first, second, third = net.others()
    net.vote(first, PREVOTE, 0, X)
    status = net.machine.status()
    assert (status.height, status.round, status.step) == (1, 0, Step.PROPOSE)
    assert status.prevote_power == 1 and status.total_power == 4
    assert set(status.missing_prevotes) == {net.me, second, third}
    assert len(status.missing_precommits) == 4


def test_the_same_inputs_give_the_same_outputs() -> None:
    def run() -> list[Output]:
        net = net_where_me_is_not_proposer()
        outputs = net.start()
        outputs += net.propose(0, X)
        outputs += net.valid(X)
        outputs += net.votes(net.others(), PREVOTE, 0, X)
        outputs += net.votes(net.others(), PRECOMMIT, 0, X)
        return outputs

    assert run() == run()
