"""Tendermint as a pure state machine: Algorithm 1 of Buchman, Kwon, Milosevic, "The latest
gossip on BFT consensus" (arXiv:1807.04938). Comments cite the paper's line numbers.

The machine does no I/O and owns no clock, key or randomness. A driver (``node.driver``, run by
the node and by the simulator in ``jinqiao.sim``) feeds it events and carries out the outputs::

    machine = Tendermint(TendermintConfig(chain_id, my_address, ...))
    outputs = machine.handle(StartHeight(height, validators))
    outputs = machine.handle(VoteReceived(signed_vote))   # signature already verified

Inputs (``Event``):

* ``StartHeight(height, validators, round, locked_round, locked_block_hash)`` — begin a height
  (after the previous one was committed, or at start-up). Build it with
  ``SafetyModule.start_height``: after a restart it carries the round and the lock the validator
  held before the crash (a lock lost in a crash would break safety), and the lock becomes the
  valid value again. The driver then feeds back ``SafetyModule.signed_messages(height)`` (its
  own earlier votes and the lock's polka) as ``VoteReceived`` and re-sends them, and must still
  hold the locked block (keep it durably before signing a precommit for it, as a WAL would).
* ``ProposalReceived`` / ``VoteReceived`` — a signed proposal or vote whose signature the driver
  has verified (``messages.verify_signed_proposal`` / ``verify_signed_vote``). The machine checks
  everything else: chain, height, round window, membership, proposer rotation, duplicates.
* ``BlockValidity(height, block_hash, valid)`` — the driver's verdict after executing a proposed
  block (DESIGN.md "execution before voting"). The machine asks for it with ``ValidateBlock`` and
  never prevotes or precommits for a value, nor decides one, before the verdict is in: the
  paper's ``valid(v)`` is only evaluated once known.
* ``TimeoutExpired(kind, height, round)`` — a timer the machine scheduled has run out.
* ``ProposeValue(height, round, block_hash)`` — the block the driver built after
  ``RequestValue`` (the paper's ``getValue()``). The driver must keep the block: it may be
  proposed again in a later round as the valid value.

Outputs (``Output``):

* ``BroadcastProposal(proposal)`` / ``CastVote(vote, polka)`` — unsigned. The driver has the
  safety module sign it (``SafetyModule.sign_proposal(proposal)`` /
  ``sign_vote(vote, polka)``), sends the signed message to every peer *and feeds it back to this
  machine* as ``ProposalReceived`` / ``VoteReceived`` (the paper's broadcast includes the
  sender). If the safety module refuses (``SafetyError``), nothing is sent. ``polka`` is the
  2f + 1 prevotes behind a precommit for a value.
* ``ScheduleTimeout(kind, height, round, duration_ms)`` — call back with ``TimeoutExpired``.
* ``RequestValue(height, round)`` — build a block and answer with ``ProposeValue``.
* ``ValidateBlock(height, round, block_hash)`` — execute the block, answer with ``BlockValidity``.
* ``Decide(height, round, block_hash, certificate)`` — the block is committed; ``certificate``
  holds the collected precommits (more than two thirds of the power) and passes
  ``jinqiao.verify.verify_certificate``. The machine then waits: the driver stores the block and
  calls ``StartHeight(height + 1, next_validators)`` (lines 52-54 with the validator set update
  between heights).
* ``VoteEquivocation`` / ``ProposalEquivocation`` — evidence: two conflicting signed messages by
  one validator for the same height, round and type.

Thresholds are by voting power: "2f + 1" is more than two thirds of the total power and "f + 1"
(the round skip, line 55) more than one third. As in the paper, which counts messages, a
validator's power counts once toward each value it voted for in a (round, vote type) and once
toward the "any value" totals (lines 34, 47) and the round skip; a second, different vote by one
validator is reported as evidence and also counted for its value (see ``VoteSet``).

Memory is bounded: messages for the current height are kept for rounds up to
``round + max_future_rounds``; messages for ``height + 1`` are buffered up to
``max_next_height_messages`` and replayed when that height starts; all others are dropped. At most
``MAX_PROPOSALS_PER_ROUND`` distinct proposals are kept for a round (only a faulty proposer sends
two).

Proposer rotation (``ProposerRotation``): weighted round robin over the validator set in its
canonical order. Powers are divided by their greatest common divisor to give integer weights
``w_i`` summing to the period ``P``. Slot ``k = height + round`` maps to position
``(k * s) mod P``, where the stride ``s`` is the integer nearest above ``0.618034 * P`` that is
coprime to ``P``; the validator whose cumulative weight range ``[w_0 + … + w_{i-1}, … + w_i)``
contains the position proposes. Because ``k ↦ k * s mod P`` is a bijection, every window of ``P``
consecutive slots gives validator ``i`` exactly ``w_i`` turns, and the golden-ratio stride spreads
those turns apart instead of handing a heavy validator a run of consecutive rounds. The rotation
is a function of the validator set, the height and the round only — nothing to persist, so a
restarted node computes the same proposers as everyone else.

Timeouts grow linearly with the round: ``timeout_<kind>(r) = timeout_<kind>_ms + r *
timeout_<kind>_delta_ms``, which after GST eventually exceeds the network delay (the paper's
liveness assumption).

One deviation: the proposer also schedules ``timeoutPropose`` (the paper does so only for other
processes, line 21), because here building a block is asynchronous; if the driver cannot produce a
value in time the proposer prevotes nil like everyone else instead of stalling in ``propose``.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from functools import reduce
from math import gcd

from jinqiao.consensus.messages import NIL, Proposal, SignedProposal, SignedVote, is_block_hash
from jinqiao.core.errors import NodeFault, require
from jinqiao.core.limits import MAX_VALIDATORS
from jinqiao.core.types import (
    CommitCertificate,
    CommitSignature,
    ValidatorSet,
    Vote,
    VoteType,
)

__all__ = [
    "DEFAULT_MAX_FUTURE_ROUNDS",
    "DEFAULT_MAX_NEXT_HEIGHT_MESSAGES",
    "MAX_PROPOSALS_PER_ROUND",
    "MAX_VALUES_PER_VALIDATOR",
    "NO_ROUND",
    "BlockValidity",
    "BroadcastProposal",
    "CastVote",
    "ConsensusStatus",
    "Decide",
    "Event",
    "Output",
    "ProposalEquivocation",
    "ProposalReceived",
    "ProposeValue",
    "ProposerRotation",
    "RequestValue",
    "ScheduleTimeout",
    "StartHeight",
    "Step",
    "Tendermint",
    "TendermintConfig",
    "TimeoutExpired",
    "TimeoutKind",
    "ValidateBlock",
    "VoteEquivocation",
    "VoteReceived",
    "has_quorum",
    "is_more_than_one_third",
]

NO_ROUND = -1
"""The paper's -1: no locked round, no valid round, no valid round in a proposal."""

MAX_PROPOSALS_PER_ROUND = 4
MAX_VALUES_PER_VALIDATOR = 4
DEFAULT_MAX_FUTURE_ROUNDS = 10
DEFAULT_MAX_NEXT_HEIGHT_MESSAGES = 4 * MAX_VALIDATORS
_GOLDEN_RATIO_PER_MILLION = 618_034


class Step(IntEnum):
    PROPOSE = 0
    PREVOTE = 1
    PRECOMMIT = 2


class TimeoutKind(IntEnum):
    PROPOSE = 0
    PREVOTE = 1
    PRECOMMIT = 2


def has_quorum(power: int, total_power: int) -> bool:
    """The paper's 2f + 1: strictly more than two thirds of the total voting power."""
    return 3 * power > 2 * total_power


def is_more_than_one_third(power: int, total_power: int) -> bool:
    """The paper's f + 1: strictly more than one third of the total voting power."""
    return 3 * power > total_power


# ------------------------------------------------------------------------------------------------
# Configuration, inputs and outputs


@dataclass(frozen=True)
class TendermintConfig:
    """``address`` is this node's validator address; a node outside the validator set follows
    and decides but never proposes or votes."""

    chain_id: str
    address: bytes
    timeout_propose_ms: int = 3_000
    timeout_propose_delta_ms: int = 500
    timeout_prevote_ms: int = 1_000
    timeout_prevote_delta_ms: int = 500
    timeout_precommit_ms: int = 1_000
    timeout_precommit_delta_ms: int = 500
    max_future_rounds: int = DEFAULT_MAX_FUTURE_ROUNDS
    max_next_height_messages: int = DEFAULT_MAX_NEXT_HEIGHT_MESSAGES

    def check(self) -> None:
        require(bool(self.chain_id), "consensus config needs a chain id")
        for name in (
            "timeout_propose_ms",
            "timeout_prevote_ms",
            "timeout_precommit_ms",
        ):
            require(getattr(self, name) > 0, f"{name} must be positive")
        for name in (
            "timeout_propose_delta_ms",
            "timeout_prevote_delta_ms",
            "timeout_precommit_delta_ms",
        ):
            require(getattr(self, name) >= 0, f"{name} must not be negative")
        require(self.max_future_rounds >= 1, "max_future_rounds must be at least 1")
        require(self.max_next_height_messages >= 0, "max_next_height_messages is negative")

    def timeout_ms(self, kind: TimeoutKind, round_: int) -> int:
        """``timeoutPropose(r)``, ``timeoutPrevote(r)``, ``timeoutPrecommit(r)``: linear in r."""
        if kind == TimeoutKind.PROPOSE:
            return self.timeout_propose_ms + round_ * self.timeout_propose_delta_ms
        if kind == TimeoutKind.PREVOTE:
            return self.timeout_prevote_ms + round_ * self.timeout_prevote_delta_ms
        return self.timeout_precommit_ms + round_ * self.timeout_precommit_delta_ms


@dataclass(frozen=True)
class StartHeight:
    height: int
    validators: ValidatorSet
    round: int = 0
    locked_round: int = NO_ROUND
    locked_block_hash: bytes = NIL


@dataclass(frozen=True)
class ProposalReceived:
    proposal: SignedProposal


@dataclass(frozen=True)
class VoteReceived:
    vote: SignedVote


@dataclass(frozen=True)
class BlockValidity:
    height: int
    block_hash: bytes
    valid: bool


@dataclass(frozen=True)
class TimeoutExpired:
    kind: TimeoutKind
    height: int
    round: int


@dataclass(frozen=True)
class ProposeValue:
    height: int
    round: int
    block_hash: bytes


Event = (
    StartHeight | ProposalReceived | VoteReceived | BlockValidity | TimeoutExpired | ProposeValue
)


@dataclass(frozen=True)
class BroadcastProposal:
    proposal: Proposal


@dataclass(frozen=True)
class CastVote:
    """``polka`` is set for a precommit for a value (line 40): the 2f + 1 prevotes for it in
    this round, which the safety module checks and keeps with the lock."""

    vote: Vote
    polka: tuple[SignedVote, ...] = ()


@dataclass(frozen=True)
class ScheduleTimeout:
    kind: TimeoutKind
    height: int
    round: int
    duration_ms: int


@dataclass(frozen=True)
class RequestValue:
    height: int
    round: int


@dataclass(frozen=True)
class ValidateBlock:
    height: int
    round: int
    block_hash: bytes


@dataclass(frozen=True)
class Decide:
    height: int
    round: int
    block_hash: bytes
    certificate: CommitCertificate


@dataclass(frozen=True)
class VoteEquivocation:
    first: SignedVote
    second: SignedVote


@dataclass(frozen=True)
class ProposalEquivocation:
    first: SignedProposal
    second: SignedProposal


Output = (
    BroadcastProposal
    | CastVote
    | ScheduleTimeout
    | RequestValue
    | ValidateBlock
    | Decide
    | VoteEquivocation
    | ProposalEquivocation
)


# ------------------------------------------------------------------------------------------------
# Proposer rotation


@dataclass(frozen=True)
class ProposerRotation:
    """Weighted round robin by voting power; see the module docstring for the algorithm."""

    addresses: tuple[bytes, ...]
    weight_ends: tuple[int, ...]
    period: int
    stride: int

    @classmethod
    def of(cls, validators: ValidatorSet) -> ProposerRotation:
        members = validators.validators
        require(len(members) >= 1, "a validator set needs at least one validator")
        powers = [validator.power for validator in members]
        require(all(power > 0 for power in powers), "validator power must be positive")
        divisor = reduce(gcd, powers)
        ends: list[int] = []
        cumulative = 0
        for power in powers:
            cumulative += power // divisor
            ends.append(cumulative)
        period = cumulative
        stride = period * _GOLDEN_RATIO_PER_MILLION // 1_000_000
        for _ in range(period + 1):  # gcd(period + 1, period) = 1 bounds the search
            if gcd(stride, period) == 1:
                break
            stride += 1
        require(gcd(stride, period) == 1, "no stride coprime to the rotation period")
        return cls(tuple(v.address for v in members), tuple(ends), period, stride)

    def proposer(self, height: int, round_: int) -> bytes:
        """The paper's ``proposer(h, r)``."""
        position = ((height + round_) % self.period) * self.stride % self.period
        return self.addresses[bisect_right(self.weight_ends, position)]


# ------------------------------------------------------------------------------------------------
# State: plain data


@dataclass
class VoteSet:
    """The votes of one type in one round, counted the way the paper counts messages: a
    validator's power counts once toward each value it voted for, and once toward ``power``,
    the "any value" total (lines 34, 47). An equivocator's conflicting votes therefore count for
    each of their values — without that, a polka that one correct node saw (counting the
    equivocator's vote for v) could stay invisible to the others (who counted its other vote
    first), and a locked correct node could never be joined. Two polkas for different values in
    one round still need a correct validator to vote twice, so safety is unchanged.

    At most ``MAX_VALUES_PER_VALIDATOR`` values are kept per validator; when full, a conflicting
    value that no proposal at this height names is evicted first (it can never complete a rule,
    every value rule needs a proposal for the value)."""

    votes: dict[bytes, dict[bytes, SignedVote]] = field(default_factory=dict)
    power_by_hash: dict[bytes, int] = field(default_factory=dict)
    power: int = 0

    def add(
        self, signed: SignedVote, power: int, is_relevant: Callable[[bytes], bool]
    ) -> SignedVote | None:
        """Count ``signed``. Returns the validator's first vote when ``signed`` conflicts with it
        (the two are evidence of equivocation), else ``None``."""
        vote = signed.vote
        values = self.votes.get(vote.validator)
        if values is None:
            self.votes[vote.validator] = {vote.block_hash: signed}
            self.power += power
            self._credit(vote.block_hash, power)
            return None
        if vote.block_hash in values:
            return None  # a duplicate: counted once
        first = next(iter(values.values()))
        if len(values) >= MAX_VALUES_PER_VALIDATOR:
            evictable = [h for h in list(values)[1:] if not is_relevant(h)]
            if not evictable:
                return first
            del values[evictable[0]]
            self._credit(evictable[0], -power)
        values[vote.block_hash] = signed
        self._credit(vote.block_hash, power)
        return first

    def _credit(self, block_hash: bytes, power: int) -> None:
        self.power_by_hash[block_hash] = self.power_by_hash.get(block_hash, 0) + power

    def power_for(self, block_hash: bytes) -> int:
        return self.power_by_hash.get(block_hash, 0)

    def quorum_block_hashes(self, total_power: int) -> list[bytes]:
        """The non-nil block hashes with more than two thirds of the power (more than one only
        if more than a third of the power equivocated)."""
        return [
            block_hash
            for block_hash, power in self.power_by_hash.items()
            if block_hash != NIL and has_quorum(power, total_power)
        ]

    def votes_for(self, block_hash: bytes) -> tuple[SignedVote, ...]:
        """The votes for ``block_hash``, ordered by validator address."""
        found = (self.votes[validator].get(block_hash) for validator in sorted(self.votes))
        return tuple(signed for signed in found if signed is not None)

    def signatures_for(self, block_hash: bytes) -> tuple[CommitSignature, ...]:
        """The signatures of the votes for ``block_hash``, ordered by validator address."""
        return tuple(
            CommitSignature(signed.vote.validator, signed.signature)
            for signed in self.votes_for(block_hash)
        )


@dataclass
class RoundState:
    proposals: dict[bytes, SignedProposal] = field(default_factory=dict)
    prevotes: VoteSet = field(default_factory=VoteSet)
    precommits: VoteSet = field(default_factory=VoteSet)
    senders: dict[bytes, None] = field(default_factory=dict)
    sender_power: int = 0
    proposal_evidence_reported: bool = False
    prevote_timeout_scheduled: bool = False  # line 34 "for the first time"
    polka_value_handled: bool = False  # line 36 "for the first time"
    precommit_timeout_scheduled: bool = False  # line 47 "for the first time"


@dataclass
class ConsensusState:
    """Everything the machine knows. ``height`` 0 means no height has started yet."""

    height: int = 0
    round: int = 0
    step: Step = Step.PROPOSE
    locked_round: int = NO_ROUND
    locked_block_hash: bytes = NIL
    valid_round: int = NO_ROUND
    valid_block_hash: bytes = NIL
    decision: Decide | None = None
    validators: ValidatorSet = field(default_factory=lambda: ValidatorSet(()))
    powers: dict[bytes, int] = field(default_factory=dict)
    total_power: int = 0
    rotation: ProposerRotation | None = None
    rounds: dict[int, RoundState] = field(default_factory=dict)
    proposal_hashes: dict[bytes, None] = field(default_factory=dict)
    validity: dict[bytes, bool] = field(default_factory=dict)
    validity_requested: dict[bytes, None] = field(default_factory=dict)
    proposed_rounds: dict[int, None] = field(default_factory=dict)
    vote_evidence_reported: dict[tuple[bytes, int, int], None] = field(default_factory=dict)
    next_height_messages: list[ProposalReceived | VoteReceived] = field(default_factory=list)
    far_rounds: dict[bytes, int] = field(default_factory=dict)
    """Per validator, the highest round beyond the message window it was seen in at this
    height (one entry per validator, so bounded): enough for the round skip of line 55 after a
    long partition, when the others are many rounds ahead."""


@dataclass(frozen=True)
class ConsensusStatus:
    """What the node's status endpoint shows: where this machine is and whose votes it lacks
    in the current round."""

    height: int
    round: int
    step: Step
    locked_round: int
    valid_round: int
    decided: bool
    proposal_received: bool
    prevote_power: int
    precommit_power: int
    total_power: int
    missing_prevotes: tuple[bytes, ...]
    missing_precommits: tuple[bytes, ...]


# ------------------------------------------------------------------------------------------------
# The machine


class Tendermint:
    """Algorithm 1 for one validator. ``state`` is plain data; ``handle`` is the only mutator."""

    def __init__(self, config: TendermintConfig) -> None:
        config.check()
        self.config = config
        self.state = ConsensusState()

    # -- read-only views -------------------------------------------------------------------
    @property
    def height(self) -> int:
        return self.state.height

    @property
    def round(self) -> int:
        return self.state.round

    @property
    def step(self) -> Step:
        return self.state.step

    @property
    def decision(self) -> Decide | None:
        return self.state.decision

    def proposer(self, height: int, round_: int) -> bytes:
        rotation = self.state.rotation
        if rotation is None:
            raise NodeFault("no height has started, so there is no proposer rotation")
        return rotation.proposer(height, round_)

    def status(self) -> ConsensusStatus:
        state = self.state
        current = state.rounds.get(state.round, RoundState())
        members = tuple(validator.address for validator in state.validators.validators)
        return ConsensusStatus(
            height=state.height,
            round=state.round,
            step=state.step,
            locked_round=state.locked_round,
            valid_round=state.valid_round,
            decided=state.decision is not None,
            proposal_received=bool(current.proposals),
            prevote_power=current.prevotes.power,
            precommit_power=current.precommits.power,
            total_power=state.total_power,
            missing_prevotes=tuple(a for a in members if a not in current.prevotes.votes),
            missing_precommits=tuple(a for a in members if a not in current.precommits.votes),
        )

    # -- the one entry point ---------------------------------------------------------------
    def handle(self, event: Event) -> list[Output]:
        outputs: list[Output] = []
        if isinstance(event, StartHeight):
            self._start_height(event, outputs)
        elif self.state.height == 0:
            return outputs  # nothing to do before the first height starts
        elif isinstance(event, ProposalReceived):
            self._on_proposal(event, outputs)
        elif isinstance(event, VoteReceived):
            self._on_vote(event, outputs)
        elif isinstance(event, BlockValidity):
            self._on_validity(event)
        elif isinstance(event, TimeoutExpired):
            self._on_timeout(event, outputs)
        elif isinstance(event, ProposeValue):
            self._on_propose_value(event, outputs)
        else:
            require(False, f"unknown consensus event {type(event).__name__}")
        self._apply_rules(outputs)
        return outputs

    # -- heights and rounds ----------------------------------------------------------------
    def _start_height(self, event: StartHeight, outputs: list[Output]) -> None:
        """Line 10 (start) and lines 52-54 (next height: reset and StartRound(0)); a restarted
        validator resumes at its recorded round with its recorded lock."""
        previous = self.state
        require(event.height >= 1, "heights start at 1", height=event.height)
        require(
            event.height > previous.height,
            "StartHeight must move to a higher height",
            height=event.height,
            current=previous.height,
        )
        require(event.round >= 0, "start round must not be negative")
        require(
            (event.locked_round == NO_ROUND) == (event.locked_block_hash == NIL),
            "a lock has both a round and a block hash, or neither",
        )
        require(event.locked_round <= event.round, "a lock cannot be from a round not yet reached")
        powers = _powers(event.validators)
        buffered = previous.next_height_messages if event.height == previous.height + 1 else []
        self.state = ConsensusState(
            height=event.height,
            locked_round=event.locked_round,
            locked_block_hash=event.locked_block_hash,
            # A restored lock is also the valid value: its polka (kept by the safety module and
            # re-sent by the driver) justifies proposing it again with validRound = lockedRound.
            # Without this, restarted nodes locked on a value nobody else holds as valid can
            # stall a height forever.
            valid_round=event.locked_round,
            valid_block_hash=event.locked_block_hash,
            validators=event.validators,
            powers=powers,
            total_power=sum(powers.values()),
            rotation=ProposerRotation.of(event.validators),
        )
        self._start_round(event.round, outputs)
        for message in buffered:
            if isinstance(message, ProposalReceived):
                if message.proposal.proposal.height == event.height:
                    self._on_proposal(message, outputs)
            elif message.vote.vote.height == event.height:
                self._on_vote(message, outputs)

    def _start_round(self, round_: int, outputs: list[Output]) -> None:
        """Lines 11-21: StartRound(round)."""
        state = self.state
        state.round = round_  # line 12
        state.step = Step.PROPOSE  # line 13
        self._round_state(round_)
        if self._proposer(round_) == self.config.address:  # line 14
            if state.valid_block_hash != NIL:  # lines 15-16
                self._broadcast_proposal(state.valid_block_hash, state.valid_round, outputs)
            else:  # line 18: getValue(), answered by ProposeValue
                outputs.append(RequestValue(state.height, round_))
        # Line 21 (and, see the module docstring, for the proposer too).
        self._schedule(TimeoutKind.PROPOSE, outputs)

    def _broadcast_proposal(self, block_hash: bytes, valid_round: int, out: list[Output]) -> None:
        """Line 19. The driver signs, sends, and feeds the proposal back to this machine."""
        state = self.state
        state.proposed_rounds[state.round] = None
        proposal = Proposal(
            chain_id=self.config.chain_id,
            height=state.height,
            round=state.round,
            block_hash=block_hash,
            valid_round=valid_round,
            proposer=self.config.address,
        )
        out.append(BroadcastProposal(proposal))

    def _schedule(self, kind: TimeoutKind, outputs: list[Output]) -> None:
        state = self.state
        duration_ms = self.config.timeout_ms(kind, state.round)
        outputs.append(ScheduleTimeout(kind, state.height, state.round, duration_ms))

    def _cast(
        self,
        vote_type: VoteType,
        block_hash: bytes,
        outputs: list[Output],
        polka: tuple[SignedVote, ...] = (),
    ) -> None:
        """A ``broadcast ⟨PREVOTE|PRECOMMIT, hp, roundp, …⟩``; silent for a non-validator."""
        state = self.state
        if self.config.address not in state.powers:
            return
        vote = Vote(
            chain_id=self.config.chain_id,
            height=state.height,
            round=state.round,
            type=int(vote_type),
            block_hash=block_hash,
            validator=self.config.address,
        )
        outputs.append(CastVote(vote, polka))

    # -- inputs ----------------------------------------------------------------------------
    def _accepts(self, chain_id: str, height: int, round_: int) -> bool:
        state = self.state
        return (
            chain_id == self.config.chain_id
            and height == state.height
            and state.decision is None
            and 0 <= round_ <= state.round + self.config.max_future_rounds
        )

    def _note_far_round(self, chain_id: str, height: int, round_: int, validator: bytes) -> None:
        state = self.state
        if (
            chain_id == self.config.chain_id
            and height == state.height
            and state.decision is None
            and round_ > state.round + self.config.max_future_rounds
            and validator in state.powers
            and round_ > state.far_rounds.get(validator, -1)
        ):
            state.far_rounds[validator] = round_

    def _buffer_next_height(self, message: ProposalReceived | VoteReceived) -> None:
        buffer = self.state.next_height_messages
        if len(buffer) < self.config.max_next_height_messages:
            buffer.append(message)

    def _on_proposal(self, event: ProposalReceived, outputs: list[Output]) -> None:
        signed = event.proposal
        proposal = signed.proposal
        state = self.state
        if proposal.height == state.height + 1 and proposal.chain_id == self.config.chain_id:
            self._buffer_next_height(event)
            return
        self._note_far_round(proposal.chain_id, proposal.height, proposal.round, proposal.proposer)
        if not self._accepts(proposal.chain_id, proposal.height, proposal.round):
            return
        if not is_block_hash(proposal.block_hash):
            return
        if not NO_ROUND <= proposal.valid_round < proposal.round:
            return  # lines 22/28 only ever read vr = -1 or 0 <= vr < round
        if proposal.proposer != self._proposer(proposal.round):
            return  # "from proposer(hp, roundp)"
        round_state = self._round_state(proposal.round)
        self._note_sender(round_state, proposal.proposer)
        existing = round_state.proposals.get(proposal.block_hash)
        if existing is not None:
            if existing != signed:
                self._report_proposal_equivocation(round_state, existing, signed, outputs)
            return
        if round_state.proposals:
            first = next(iter(round_state.proposals.values()))
            self._report_proposal_equivocation(round_state, first, signed, outputs)
        if len(round_state.proposals) >= MAX_PROPOSALS_PER_ROUND:
            return
        round_state.proposals[proposal.block_hash] = signed
        state.proposal_hashes[proposal.block_hash] = None
        if proposal.block_hash not in state.validity and (
            proposal.block_hash not in state.validity_requested
        ):
            state.validity_requested[proposal.block_hash] = None
            outputs.append(ValidateBlock(state.height, proposal.round, proposal.block_hash))

    def _report_proposal_equivocation(
        self,
        round_state: RoundState,
        first: SignedProposal,
        second: SignedProposal,
        outputs: list[Output],
    ) -> None:
        if not round_state.proposal_evidence_reported:
            round_state.proposal_evidence_reported = True
            outputs.append(ProposalEquivocation(first, second))

    def _on_vote(self, event: VoteReceived, outputs: list[Output]) -> None:
        signed = event.vote
        vote = signed.vote
        state = self.state
        if vote.height == state.height + 1 and vote.chain_id == self.config.chain_id:
            self._buffer_next_height(event)
            return
        self._note_far_round(vote.chain_id, vote.height, vote.round, vote.validator)
        if not self._accepts(vote.chain_id, vote.height, vote.round):
            return
        power = state.powers.get(vote.validator)
        if power is None:
            return  # not a validator at this height
        if vote.type not in (VoteType.PREVOTE, VoteType.PRECOMMIT):
            return
        if vote.block_hash != NIL and not is_block_hash(vote.block_hash):
            return
        round_state = self._round_state(vote.round)
        self._note_sender(round_state, vote.validator)
        votes = round_state.prevotes if vote.type == VoteType.PREVOTE else round_state.precommits
        first = votes.add(signed, power, self._is_relevant)
        if first is None:
            return
        key = (vote.validator, vote.round, vote.type)
        if key not in state.vote_evidence_reported:
            state.vote_evidence_reported[key] = None
            outputs.append(VoteEquivocation(first, signed))

    def _is_relevant(self, block_hash: bytes) -> bool:
        return block_hash == NIL or block_hash in self.state.proposal_hashes

    def _on_validity(self, event: BlockValidity) -> None:
        state = self.state
        if event.height != state.height or event.block_hash not in state.validity_requested:
            return
        state.validity.setdefault(event.block_hash, bool(event.valid))

    def _on_propose_value(self, event: ProposeValue, outputs: list[Output]) -> None:
        """Line 18 returns: ``proposal ← getValue()``, then line 19."""
        state = self.state
        if (
            event.height != state.height
            or event.round != state.round
            or state.step != Step.PROPOSE
            or state.decision is not None
            or state.round in state.proposed_rounds
            or state.valid_block_hash != NIL
            or self._proposer(state.round) != self.config.address
        ):
            return
        require(is_block_hash(event.block_hash), "a proposed value needs a 32-byte block hash")
        state.validity[event.block_hash] = True  # this node built (and executed) it
        self._broadcast_proposal(event.block_hash, NO_ROUND, outputs)

    def _on_timeout(self, event: TimeoutExpired, outputs: list[Output]) -> None:
        state = self.state
        if event.height != state.height or event.round != state.round:
            return
        if state.decision is not None:
            return
        if event.kind == TimeoutKind.PROPOSE:
            if state.step == Step.PROPOSE:  # lines 57-60: OnTimeoutPropose
                self._cast(VoteType.PREVOTE, NIL, outputs)
                state.step = Step.PREVOTE
        elif event.kind == TimeoutKind.PREVOTE:
            if state.step == Step.PREVOTE:  # lines 61-64: OnTimeoutPrevote
                self._cast(VoteType.PRECOMMIT, NIL, outputs)
                state.step = Step.PRECOMMIT
        else:  # lines 65-67: OnTimeoutPrecommit
            self._start_round(state.round + 1, outputs)

    # -- the upon rules --------------------------------------------------------------------
    def _apply_rules(self, outputs: list[Output]) -> None:
        """Fire every enabled ``upon`` rule until none is. Each firing decides, raises the round
        or moves the step or a once-per-round flag forward, so the loop is short; the bound
        turns a bug into a node fault instead of a hang."""
        limit = 8 * (self.config.max_future_rounds + 2)
        for _ in range(limit):
            if self.state.height == 0 or self.state.decision is not None:
                return
            if self._upon_decision(outputs):  # lines 49-54
                return
            fired = (
                self._upon_round_skip(outputs)  # lines 55-56
                or self._upon_proposal_in_propose_step(outputs)  # lines 22-33
                or self._upon_polka_for_value(outputs)  # lines 36-43
                or self._upon_polka_for_nil(outputs)  # lines 44-46
                or self._upon_any_prevote_quorum(outputs)  # lines 34-35
                or self._upon_any_precommit_quorum(outputs)  # lines 47-48
            )
            if not fired:
                return
        require(False, "consensus rules did not settle", limit=limit)

    def _upon_decision(self, outputs: list[Output]) -> bool:
        """Lines 49-54: upon ⟨PROPOSAL, hp, r, v, *⟩ from proposer(hp, r) AND 2f + 1
        ⟨PRECOMMIT, hp, r, id(v)⟩ while decision[hp] = nil: if valid(v), decide v. Any round r,
        not only the current one."""
        state = self.state
        for round_, round_state in state.rounds.items():
            for block_hash in round_state.precommits.quorum_block_hashes(state.total_power):
                if block_hash not in round_state.proposals:
                    continue
                if state.validity.get(block_hash) is not True:  # line 50: valid(v), once known
                    continue
                self._decide(round_, block_hash, round_state.precommits, outputs)
                return True
        return False

    def _decide(
        self, round_: int, block_hash: bytes, precommits: VoteSet, outputs: list[Output]
    ) -> None:
        """Line 51: decision[hp] = v, with the precommits as the commit certificate."""
        state = self.state
        signatures = precommits.signatures_for(block_hash)
        signed_power = sum(state.powers[signature.validator] for signature in signatures)
        require(has_quorum(signed_power, state.total_power), "certificate below quorum")
        certificate = CommitCertificate(state.height, round_, block_hash, signatures)
        state.decision = Decide(state.height, round_, block_hash, certificate)
        outputs.append(state.decision)

    def _upon_round_skip(self, outputs: list[Output]) -> bool:
        """Lines 55-56: upon f + 1 ⟨*, hp, round, *, *⟩ with round > roundp: StartRound(round).
        Jumps to the highest such round."""
        state = self.state
        target = None
        for round_, round_state in state.rounds.items():
            if round_ > state.round and is_more_than_one_third(
                round_state.sender_power, state.total_power
            ):
                target = round_ if target is None else max(target, round_)
        far = self._far_round_target()
        if far is not None and far > state.round and (target is None or far > target):
            target = far
        if target is None:
            return False
        self._start_round(target, outputs)
        return True

    def _far_round_target(self) -> int | None:
        """The highest round R such that validators seen at rounds >= R beyond the window hold
        more than a third of the power: at least one correct validator has reached R, which is
        what line 55 needs to know (messages of those rounds were not kept, see ``_accepts``)."""
        state = self.state
        power = 0
        for validator, round_ in sorted(state.far_rounds.items(), key=lambda item: -item[1]):
            power += state.powers.get(validator, 0)
            if is_more_than_one_third(power, state.total_power):
                return round_
        return None

    def _upon_proposal_in_propose_step(self, outputs: list[Output]) -> bool:
        """Lines 22-27 (vr = -1) and 28-33 (0 <= vr < roundp, with 2f + 1 prevotes for id(v)
        in round vr), while step = propose."""
        state = self.state
        if state.step != Step.PROPOSE:
            return False
        round_state = state.rounds[state.round]
        for block_hash, signed in round_state.proposals.items():
            valid_round = signed.proposal.valid_round
            if valid_round == NO_ROUND:
                # line 23: lockedRound = -1 or lockedValue = v
                lock_allows = (
                    state.locked_round == NO_ROUND or state.locked_block_hash == block_hash
                )
            else:
                earlier = state.rounds.get(valid_round)
                if earlier is None or not has_quorum(
                    earlier.prevotes.power_for(block_hash), state.total_power
                ):
                    continue  # line 28's 2f + 1 ⟨PREVOTE, hp, vr, id(v)⟩ not (yet) seen
                # line 29: lockedRound <= vr or lockedValue = v
                lock_allows = (
                    state.locked_round <= valid_round or state.locked_block_hash == block_hash
                )
            if lock_allows:
                valid = state.validity.get(block_hash)
                if valid is None:
                    continue  # execution before voting: wait for the verdict (or the timeout)
            else:
                valid = False  # the vote is nil whatever the verdict
            # lines 24/30 or 26/32, then 27/33
            self._cast(VoteType.PREVOTE, block_hash if valid else NIL, outputs)
            state.step = Step.PREVOTE
            return True
        return False

    def _upon_polka_for_value(self, outputs: list[Output]) -> bool:
        """Lines 36-43: upon ⟨PROPOSAL, hp, roundp, v, *⟩ from proposer(hp, roundp) AND 2f + 1
        ⟨PREVOTE, hp, roundp, id(v)⟩ while valid(v) and step >= prevote for the first time."""
        state = self.state
        round_state = state.rounds[state.round]
        if state.step < Step.PREVOTE or round_state.polka_value_handled:
            return False
        for block_hash in round_state.proposals:
            if not has_quorum(round_state.prevotes.power_for(block_hash), state.total_power):
                continue
            if state.validity.get(block_hash) is not True:
                continue
            round_state.polka_value_handled = True
            if state.step == Step.PREVOTE:  # lines 37-41
                state.locked_block_hash = block_hash
                state.locked_round = state.round
                polka = round_state.prevotes.votes_for(block_hash)
                self._cast(VoteType.PRECOMMIT, block_hash, outputs, polka)
                state.step = Step.PRECOMMIT
            state.valid_block_hash = block_hash  # lines 42-43
            state.valid_round = state.round
            return True
        return False

    def _upon_polka_for_nil(self, outputs: list[Output]) -> bool:
        """Lines 44-46: upon 2f + 1 ⟨PREVOTE, hp, roundp, nil⟩ while step = prevote."""
        state = self.state
        if state.step != Step.PREVOTE:
            return False
        prevotes = state.rounds[state.round].prevotes
        if not has_quorum(prevotes.power_for(NIL), state.total_power):
            return False
        self._cast(VoteType.PRECOMMIT, NIL, outputs)
        state.step = Step.PRECOMMIT
        return True

    def _upon_any_prevote_quorum(self, outputs: list[Output]) -> bool:
        """Lines 34-35: upon 2f + 1 ⟨PREVOTE, hp, roundp, *⟩ while step = prevote for the first
        time: schedule OnTimeoutPrevote."""
        state = self.state
        round_state = state.rounds[state.round]
        if state.step != Step.PREVOTE or round_state.prevote_timeout_scheduled:
            return False
        if not has_quorum(round_state.prevotes.power, state.total_power):
            return False
        round_state.prevote_timeout_scheduled = True
        self._schedule(TimeoutKind.PREVOTE, outputs)
        return True

    def _upon_any_precommit_quorum(self, outputs: list[Output]) -> bool:
        """Lines 47-48: upon 2f + 1 ⟨PRECOMMIT, hp, roundp, *⟩ for the first time: schedule
        OnTimeoutPrecommit."""
        state = self.state
        round_state = state.rounds[state.round]
        if round_state.precommit_timeout_scheduled:
            return False
        if not has_quorum(round_state.precommits.power, state.total_power):
            return False
        round_state.precommit_timeout_scheduled = True
        self._schedule(TimeoutKind.PRECOMMIT, outputs)
        return True

    # -- helpers ---------------------------------------------------------------------------
    def _proposer(self, round_: int) -> bytes:
        return self.proposer(self.state.height, round_)

    def _round_state(self, round_: int) -> RoundState:
        rounds = self.state.rounds
        round_state = rounds.get(round_)
        if round_state is None:
            round_state = RoundState()
            rounds[round_] = round_state
        return round_state

    def _note_sender(self, round_state: RoundState, validator: bytes) -> None:
        """Remember who sent anything in a round, for the f + 1 round skip (line 55)."""
        if validator not in round_state.senders:
            round_state.senders[validator] = None
            round_state.sender_power += self.state.powers.get(validator, 0)


def _powers(validators: ValidatorSet) -> dict[bytes, int]:
    members = validators.validators
    require(1 <= len(members) <= MAX_VALIDATORS, f"a validator set has 1..{MAX_VALIDATORS}")
    powers: dict[bytes, int] = {}
    for validator in members:
        require(validator.address not in powers, "validator set names an address twice")
        require(
            isinstance(validator.power, int) and validator.power > 0,
            "validator power must be positive",
        )
        powers[validator.address] = validator.power
    return powers
