"""A deterministic simulation of a Tendermint network in one process (DESIGN.md §5).

``n`` validators, each a real ``Tendermint`` machine with a real ``SafetyModule`` and real
Ed25519 keys, talk over a simulated network with a simulated clock (integer milliseconds). All
randomness comes from the ``RandomSource`` the caller passes in (a seeded ``random.Random``: this
package may not import ``random``), so one seed replays one run exactly — same messages, same
decisions, same ``SimResult.trace_digest``.

Faults, each active until GST (the global stabilisation time, after the last one heals):

* the network drops, delays (and so reorders) and duplicates messages, and partitions validators
  into groups that cannot reach each other until the partition heals;
* validators crash and restart: a restarted node keeps its committed chain and its safety record
  (``MemorySafetyStorage`` outlives the process, as a file would), loses everything else, resumes
  with the round and lock its safety module recorded, and catches up on heights it missed by
  asking peers for decisions (block header + commit certificate, checked with
  ``jinqiao.verify.verify_certificate`` before it is committed);
* Byzantine validators: a *twin* (Bano et al., "Twins") — two instances sharing one key, each
  with its own safety module, each talking to its own part of the network, so together they send
  conflicting proposals and votes, and, as proposers, always propose a fresh block instead of the
  value a polka backed; an *invalid proposer* whose blocks carry a wrong state root; and a
  *silent* validator.

The application is a toy with real headers: a block is a ``BlockHeader`` whose transactions root
is a payload hash and whose state root is ``hash(previous state root, payload)``; validating a
block means recomputing that root and checking the header's links, which is what an invalid
proposer gets wrong. Gossip: every node re-sends the messages of its current height (its own and
those it received) when it has committed nothing for a gossip interval, and asks a peer that is
at a higher height for the decision it lacks.

Invariants, checked as the run goes and raised as ``SimulationFailure`` (whose message names the
seed, the scenario and the command that replays it):

* agreement — no two correct nodes commit different blocks at a height;
* validity — every block a correct node commits is valid on the agreed chain;
* certificates — every commit certificate a correct node produces passes ``verify_certificate``;
* no correct validator is ever reported for equivocation;
* liveness — after GST every correct node commits ``heights_after_gst`` more heights (counted
  from the highest height any correct node held at GST) within ``liveness_bound_ms``.
"""

from __future__ import annotations

import hashlib
import heapq
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

import msgspec

from jinqiao.consensus.messages import (
    Proposal,
    SignedProposal,
    SignedVote,
    verify_signed_proposal,
    verify_signed_vote,
)
from jinqiao.consensus.safety import MemorySafetyStorage, SafetyError, SafetyModule
from jinqiao.consensus.tendermint import (
    NO_ROUND,
    BlockValidity,
    BroadcastProposal,
    CastVote,
    Decide,
    Event,
    Output,
    ProposalEquivocation,
    ProposalReceived,
    ProposeValue,
    RequestValue,
    ScheduleTimeout,
    Tendermint,
    TendermintConfig,
    TimeoutExpired,
    ValidateBlock,
    VoteEquivocation,
    VoteReceived,
)
from jinqiao.core.codec import encode
from jinqiao.core.crypto import Signer, get_suite
from jinqiao.core.errors import NodeFault, require
from jinqiao.core.hashing import header_hash, validator_set_hash
from jinqiao.core.types import EMPTY_HASH, BlockHeader, CommitCertificate, Validator, ValidatorSet
from jinqiao.verify import VerificationError, verify_certificate

__all__ = [
    "SCENARIOS",
    "Behaviour",
    "CrashPlan",
    "Partition",
    "RandomSource",
    "Scenario",
    "SimParameters",
    "SimPlan",
    "SimResult",
    "Simulation",
    "SimulationFailure",
    "replay_command",
    "run_scenario",
    "scenario_names",
]

CHAIN_ID = "jinqiao-sim"
SUITE = get_suite("ed25519-sha256")
GENESIS_BLOCK_HASH = hashlib.sha256(b"jinqiao-sim/genesis-block").digest()
GENESIS_STATE_ROOT = hashlib.sha256(b"jinqiao-sim/genesis-state").digest()
MAX_EVENTS = 2_000_000
MAX_FEED_STEPS = 10_000
MAX_GOSSIP_LOG_MESSAGES = 2_048


class RandomSource(Protocol):
    """What the simulator needs from a seeded generator (``random.Random`` fits)."""

    def randint(self, a: int, b: int) -> int: ...


def _chance(rng: RandomSource, per_mille: int) -> bool:
    return per_mille > 0 and rng.randint(0, 999) < per_mille


def _pick(rng: RandomSource, items: Sequence[int]) -> int:
    return items[rng.randint(0, len(items) - 1)]


def _shuffled(rng: RandomSource, items: Sequence[int]) -> list[int]:
    result = list(items)
    for index in range(len(result) - 1, 0, -1):
        other = rng.randint(0, index)
        result[index], result[other] = result[other], result[index]
    return result


class SimulationFailure(NodeFault):
    """An invariant broke. The message says which, with the seed and the replay command."""


def replay_command(scenario: str, seed: int) -> str:
    return f"jinqiao sim --seed {seed} --scenario {scenario}"


# ------------------------------------------------------------------------------------------------
# Plans and scenarios


class Behaviour(Enum):
    HONEST = "honest"
    TWIN = "twin"
    INVALID_PROPOSER = "invalid-proposer"
    SILENT = "silent"


@dataclass(frozen=True)
class Partition:
    """From ``start_ms`` until ``end_ms`` only validators in the same group reach each other."""

    start_ms: int
    end_ms: int
    groups: tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class CrashPlan:
    node: int
    crash_ms: int
    restart_ms: int


@dataclass(frozen=True)
class SimPlan:
    """One concrete run: who is faulty how, and when the network misbehaves.

    ``twin_targets`` gives the validators each side (instance A, instance B) of every twin talks
    to; a twin's side only reaches the same side of another twin, so with several twins the
    network holds two worlds. ``beyond_fault_threshold`` admits faulty validators with a third of
    the power or more — only to show that the checker then catches the broken agreement."""

    powers: tuple[int, ...]
    behaviours: tuple[Behaviour, ...]
    twin_targets: tuple[tuple[int, ...], tuple[int, ...]] = ((), ())
    partitions: tuple[Partition, ...] = ()
    crashes: tuple[CrashPlan, ...] = ()
    drop_per_mille: int = 0
    duplicate_per_mille: int = 0
    max_delay_ms: int = 20
    faults_end_ms: int = 0
    heights_after_gst: int = 3
    beyond_fault_threshold: bool = False

    @property
    def gst_ms(self) -> int:
        ends = [self.faults_end_ms]
        ends += [partition.end_ms for partition in self.partitions]
        ends += [crash.restart_ms for crash in self.crashes]
        return max(ends)

    def check(self) -> None:
        count = len(self.powers)
        require(count == len(self.behaviours), "one behaviour per validator")
        require(all(power > 0 for power in self.powers), "powers must be positive")
        faulty = sum(
            power
            for power, behaviour in zip(self.powers, self.behaviours, strict=True)
            if behaviour != Behaviour.HONEST
        )
        require(
            self.beyond_fault_threshold or 3 * faulty < sum(self.powers),
            "faulty validators must hold under 1/3 of power",
        )
        for crash in self.crashes:
            require(self.behaviours[crash.node] == Behaviour.HONEST, "only honest nodes crash")
            require(0 <= crash.crash_ms < crash.restart_ms, "a crash restarts after it happens")


@dataclass(frozen=True)
class SimParameters:
    """Timing of the simulated nodes and network after GST (all in simulated ms)."""

    timeout_propose_ms: int = 300
    timeout_propose_delta_ms: int = 100
    timeout_prevote_ms: int = 200
    timeout_prevote_delta_ms: int = 100
    timeout_precommit_ms: int = 200
    timeout_precommit_delta_ms: int = 100
    post_gst_max_delay_ms: int = 30
    max_execution_ms: int = 10
    commit_wait_ms: int = 100
    gossip_interval_ms: int = 400
    liveness_bound_ms: int = 20_000


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    build: Callable[[RandomSource], SimPlan]


def _honest(count: int) -> list[Behaviour]:
    return [Behaviour.HONEST] * count


def _twin_targets(
    rng: RandomSource, count: int, twin: int
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Each other validator hears twin A, twin B or both; each twin reaches someone."""
    others = [index for index in range(count) if index != twin]
    while True:
        choices = [rng.randint(0, 2) for _ in others]
        first = tuple(o for o, c in zip(others, choices, strict=True) if c in (0, 2))
        second = tuple(o for o, c in zip(others, choices, strict=True) if c in (1, 2))
        if first and second:
            return first, second


def _random_crashes(
    rng: RandomSource, candidates: Sequence[int], count: int, *, latest_ms: int
) -> tuple[CrashPlan, ...]:
    crashes = []
    for _ in range(count):
        start = rng.randint(100, latest_ms)
        crashes.append(CrashPlan(_pick(rng, candidates), start, start + rng.randint(50, 1_500)))
    # One node cannot crash twice at overlapping times; keep the first of any overlap.
    kept: list[CrashPlan] = []
    for crash in sorted(crashes, key=lambda c: (c.crash_ms, c.node)):
        if all(other.node != crash.node or other.restart_ms < crash.crash_ms for other in kept):
            kept.append(crash)
    return tuple(kept)


def _happy(rng: RandomSource) -> SimPlan:
    return SimPlan((1, 1, 1, 1), tuple(_honest(4)), max_delay_ms=20, heights_after_gst=6)


def _lossy(rng: RandomSource) -> SimPlan:
    return SimPlan(
        (1, 1, 1, 1),
        tuple(_honest(4)),
        drop_per_mille=rng.randint(50, 300),
        duplicate_per_mille=rng.randint(0, 200),
        max_delay_ms=rng.randint(50, 500),
        faults_end_ms=rng.randint(1_000, 3_000),
    )


def _partition(rng: RandomSource, isolated: int) -> SimPlan:
    order = _shuffled(rng, range(4))
    start = rng.randint(0, 800)
    groups = (tuple(sorted(order[:isolated])), tuple(sorted(order[isolated:])))
    return SimPlan(
        (1, 1, 1, 1),
        tuple(_honest(4)),
        partitions=(Partition(start, start + rng.randint(500, 3_000), groups),),
        drop_per_mille=rng.randint(0, 50),
        duplicate_per_mille=rng.randint(0, 100),
        max_delay_ms=rng.randint(10, 150),
    )


def _crash_restart(rng: RandomSource) -> SimPlan:
    return SimPlan(
        (1, 1, 1, 1),
        tuple(_honest(4)),
        crashes=_random_crashes(rng, range(4), rng.randint(1, 3), latest_ms=2_500),
        drop_per_mille=rng.randint(0, 50),
        max_delay_ms=rng.randint(10, 100),
    )


def _twin(rng: RandomSource) -> SimPlan:
    twin = rng.randint(0, 3)
    behaviours = _honest(4)
    behaviours[twin] = Behaviour.TWIN
    return SimPlan(
        (1, 1, 1, 1),
        tuple(behaviours),
        twin_targets=_twin_targets(rng, 4, twin),
        drop_per_mille=rng.randint(0, 100),
        duplicate_per_mille=rng.randint(0, 100),
        max_delay_ms=rng.randint(10, 200),
        faults_end_ms=rng.randint(500, 2_000),
    )


def _partition_schedule(
    rng: RandomSource, count: int, *, start_ms: int, end_ms: int
) -> tuple[Partition, ...]:
    """Twins-style: a new random split of the validators every few hundred ms."""
    partitions = []
    time_ms = start_ms
    while time_ms < end_ms:
        length_ms = rng.randint(100, 400)
        sides = [rng.randint(0, 1) for _ in range(count)]
        groups = (
            tuple(i for i in range(count) if sides[i] == 0),
            tuple(i for i in range(count) if sides[i] == 1),
        )
        partitions.append(Partition(time_ms, min(time_ms + length_ms, end_ms), groups))
        time_ms += length_ms
    return tuple(partitions)


def _twin_partitions(rng: RandomSource) -> SimPlan:
    twin = rng.randint(0, 3)
    behaviours = _honest(4)
    behaviours[twin] = Behaviour.TWIN
    return SimPlan(
        (1, 1, 1, 1),
        tuple(behaviours),
        twin_targets=_twin_targets(rng, 4, twin),
        partitions=_partition_schedule(rng, 4, start_ms=0, end_ms=rng.randint(1_500, 4_000)),
        drop_per_mille=rng.randint(0, 100),
        max_delay_ms=rng.randint(10, 250),
    )


def _one_faulty(rng: RandomSource, behaviour: Behaviour) -> SimPlan:
    behaviours = _honest(4)
    behaviours[rng.randint(0, 3)] = behaviour
    return SimPlan(
        (1, 1, 1, 1),
        tuple(behaviours),
        drop_per_mille=rng.randint(0, 50),
        max_delay_ms=rng.randint(10, 100),
        faults_end_ms=rng.randint(0, 1_000),
        heights_after_gst=5,
    )


def _unequal_power(rng: RandomSource) -> SimPlan:
    presets = ((4, 3, 2, 1), (5, 3, 2, 1), (7, 5, 3, 3, 1), (10, 1, 1, 1))
    powers = presets[rng.randint(0, len(presets) - 1)]
    count = len(powers)
    behaviours = _honest(count)
    twin_targets: tuple[tuple[int, ...], tuple[int, ...]] = ((), ())
    small = [i for i in range(count) if 3 * powers[i] < sum(powers)]
    if small and _chance(rng, 500):
        twin = _pick(rng, small)
        behaviours[twin] = Behaviour.TWIN
        twin_targets = _twin_targets(rng, count, twin)
    honest = [i for i in range(count) if behaviours[i] == Behaviour.HONEST]
    return SimPlan(
        powers,
        tuple(behaviours),
        twin_targets=twin_targets,
        crashes=_random_crashes(rng, honest, rng.randint(0, 2), latest_ms=2_000),
        drop_per_mille=rng.randint(0, 150),
        duplicate_per_mille=rng.randint(0, 100),
        max_delay_ms=rng.randint(10, 300),
        faults_end_ms=rng.randint(500, 2_000),
    )


def _seven_f2(rng: RandomSource) -> SimPlan:
    kinds = (Behaviour.TWIN, Behaviour.INVALID_PROPOSER, Behaviour.SILENT)
    faulty = _shuffled(rng, range(7))[:2]
    behaviours = _honest(7)
    twin_targets: tuple[tuple[int, ...], tuple[int, ...]] = ((), ())
    for index in faulty:
        behaviour = kinds[rng.randint(0, 2)]
        if behaviour == Behaviour.TWIN and Behaviour.TWIN in behaviours:
            behaviour = Behaviour.SILENT  # one twin pair keeps the bookkeeping simple
        behaviours[index] = behaviour
        if behaviour == Behaviour.TWIN:
            twin_targets = _twin_targets(rng, 7, index)
    return SimPlan(
        (1,) * 7,
        tuple(behaviours),
        twin_targets=twin_targets,
        drop_per_mille=rng.randint(0, 100),
        duplicate_per_mille=rng.randint(0, 100),
        max_delay_ms=rng.randint(10, 150),
        faults_end_ms=rng.randint(300, 1_500),
        heights_after_gst=3,
    )


def _mixed(rng: RandomSource) -> SimPlan:
    twin = rng.randint(0, 3)
    behaviours = _honest(4)
    behaviours[twin] = Behaviour.TWIN
    honest = [i for i in range(4) if i != twin]
    order = _shuffled(rng, range(4))
    start = rng.randint(0, 1_500)
    partition = Partition(
        start,
        start + rng.randint(300, 2_000),
        (tuple(sorted(order[:2])), tuple(sorted(order[2:]))),
    )
    return SimPlan(
        (1, 1, 1, 1),
        tuple(behaviours),
        twin_targets=_twin_targets(rng, 4, twin),
        partitions=(partition,),
        crashes=_random_crashes(rng, honest, rng.randint(1, 2), latest_ms=2_500),
        drop_per_mille=rng.randint(0, 200),
        duplicate_per_mille=rng.randint(0, 150),
        max_delay_ms=rng.randint(10, 300),
        faults_end_ms=rng.randint(500, 2_500),
    )


SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario
    for scenario in (
        Scenario("happy", "4 equal validators, a fast reliable network", _happy),
        Scenario("lossy", "drops, long delays (reordering) and duplicates until GST", _lossy),
        Scenario(
            "partition-2-2",
            "two halves cut off from each other, then healed",
            lambda r: _partition(r, 2),
        ),
        Scenario("partition-1-3", "one validator cut off, then healed", lambda r: _partition(r, 1)),
        Scenario("crash-restart", "validators crash and restart, catching up", _crash_restart),
        Scenario("twin-equivocation", "f=1 of 4 is a twin sharing one key", _twin),
        Scenario(
            "twin-partitions",
            "a twin while the network splits differently every few hundred ms (Twins-style)",
            _twin_partitions,
        ),
        Scenario(
            "invalid-proposer",
            "one validator proposes blocks with a wrong state root",
            lambda r: _one_faulty(r, Behaviour.INVALID_PROPOSER),
        ),
        Scenario(
            "silent-validator",
            "one validator never sends",
            lambda r: _one_faulty(r, Behaviour.SILENT),
        ),
        Scenario(
            "unequal-power",
            "unequal voting powers, losses, crashes and sometimes a low-power twin",
            _unequal_power,
        ),
        Scenario("seven-f2", "7 validators, 2 Byzantine (twin, invalid, silent)", _seven_f2),
        Scenario(
            "mixed",
            "a twin, a partition, crashes and a lossy network together",
            _mixed,
        ),
    )
}


def scenario_names() -> tuple[str, ...]:
    return tuple(SCENARIOS)


# ------------------------------------------------------------------------------------------------
# The toy application


def _sha256(*parts: bytes) -> bytes:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(4, "big"))
        digest.update(part)
    return digest.digest()


def _int_bytes(value: int) -> bytes:
    return value.to_bytes(8, "big", signed=True)


def toy_state_root(previous_state_root: bytes, transactions_root: bytes) -> bytes:
    """The toy application's execution: the state after a block."""
    return _sha256(b"jinqiao-sim/state", previous_state_root, transactions_root)


def block_is_valid(
    header: BlockHeader, parent: BlockHeader | None, validators: ValidatorSet
) -> bool:
    """Re-execute the toy block on top of ``parent`` (``None``: genesis) and check its links."""
    validators_hash = validator_set_hash(SUITE, validators)
    previous_hash = GENESIS_BLOCK_HASH if parent is None else header_hash(SUITE, parent)
    previous_state = GENESIS_STATE_ROOT if parent is None else parent.state_root
    return (
        header.chain_id == CHAIN_ID
        and header.height == (1 if parent is None else parent.height + 1)
        and header.previous_block_hash == previous_hash
        and header.receipts_root == EMPTY_HASH
        and header.transaction_count == 0
        and header.validators_hash == validators_hash
        and header.next_validators_hash == validators_hash
        and header.proposer in validators.by_address()
        and header.state_root == toy_state_root(previous_state, header.transactions_root)
    )


# ------------------------------------------------------------------------------------------------
# Messages on the simulated wire


@dataclass(frozen=True)
class ProposalMessage:
    signed: SignedProposal
    block: BlockHeader


@dataclass(frozen=True)
class VoteMessage:
    signed: SignedVote


@dataclass(frozen=True)
class DecisionMessage:
    header: BlockHeader
    certificate: CommitCertificate


@dataclass(frozen=True)
class SyncRequest:
    height: int


Message = ProposalMessage | VoteMessage | DecisionMessage | SyncRequest


# ------------------------------------------------------------------------------------------------
# Scheduled events


@dataclass(frozen=True)
class _Deliver:
    instance: int
    sender: int
    message: Message


@dataclass(frozen=True)
class _Input:
    """An input for one incarnation of an instance's machine (timer, verdict, value)."""

    instance: int
    incarnation: int
    event: Event


@dataclass(frozen=True)
class _Start:
    instance: int
    incarnation: int
    height: int


@dataclass(frozen=True)
class _Gossip:
    instance: int
    incarnation: int


@dataclass(frozen=True)
class _Crash:
    instance: int


@dataclass(frozen=True)
class _Restart:
    instance: int


@dataclass(frozen=True)
class _Gst:
    pass


_Scheduled = _Deliver | _Input | _Start | _Gossip | _Crash | _Restart | _Gst


# ------------------------------------------------------------------------------------------------
# Results and counters


@dataclass
class SimCounters:
    messages_sent: int = 0
    messages_dropped: int = 0
    messages_duplicated: int = 0
    messages_delivered: int = 0
    signatures_verified: int = 0
    certificates_verified: int = 0
    invalid_verdicts: int = 0
    evidence: int = 0
    safety_refusals: int = 0
    catch_up_commits: int = 0
    sync_requests: int = 0
    max_round: int = 0
    events: int = 0


@dataclass(frozen=True)
class SimResult:
    scenario: str
    seed: int
    gst_ms: int
    end_ms: int
    heights: tuple[int, ...]
    """Committed height of every correct instance at the end."""
    agreed_height: int
    counters: SimCounters
    trace_digest: str
    replay_command: str


# ------------------------------------------------------------------------------------------------
# One simulated node: a driver around the machine and the safety module


@dataclass
class SimNode:
    instance: int
    validator: int
    signer: Signer
    behaviour: Behaviour
    targets: tuple[int, ...]
    side: int = -1
    """0 or 1 for the two instances of a twin, -1 otherwise."""
    storage: MemorySafetyStorage = field(default_factory=MemorySafetyStorage)
    chain: list[tuple[BlockHeader, CommitCertificate]] = field(default_factory=list)
    locked_blocks: dict[bytes, BlockHeader] = field(default_factory=dict)
    """Blocks this node precommitted, kept durably (a node's write-ahead log) so that after a
    restart it can propose its locked value again."""
    # What a crash loses:
    up: bool = False
    incarnation: int = 0
    machine: Tendermint | None = None
    safety: SafetyModule | None = None
    blocks: dict[bytes, BlockHeader] = field(default_factory=dict)
    seen: dict[bytes, int] = field(default_factory=dict)
    log: dict[bytes, Message] = field(default_factory=dict)
    peer_heights: dict[int, int] = field(default_factory=dict)
    gossip_height: int = 0
    """The committed height at the last gossip tick: unchanged means the node is not committing."""

    @property
    def correct(self) -> bool:
        return self.behaviour == Behaviour.HONEST

    @property
    def address(self) -> bytes:
        return self.signer.address

    def head(self) -> BlockHeader | None:
        return self.chain[-1][0] if self.chain else None


class Simulation:
    def __init__(
        self,
        scenario: str,
        seed: int,
        plan: SimPlan,
        rng: RandomSource,
        parameters: SimParameters | None = None,
    ) -> None:
        plan.check()
        self.scenario = scenario
        self.seed = seed
        self.plan = plan
        self.rng = rng
        self.parameters = parameters or SimParameters()
        self.gst_ms = plan.gst_ms
        self.now_ms = 0
        self._queue: list[tuple[int, int, _Scheduled]] = []
        self._sequence = 0
        self.counters = SimCounters()
        self._trace = hashlib.sha256()
        signers = [
            SUITE.signer(hashlib.sha256(b"jinqiao-sim/validator/%d" % index).digest())
            for index in range(len(plan.powers))
        ]
        self.validators = ValidatorSet(
            tuple(
                sorted(
                    (
                        Validator(s.address, s.public_key, power, "sim", f"validator-{index}")
                        for index, (s, power) in enumerate(zip(signers, plan.powers, strict=True))
                    ),
                    key=lambda validator: validator.address,
                )
            )
        )
        self.members = self.validators.by_address()
        self.validator_index = {signer.address: index for index, signer in enumerate(signers)}
        self.nodes = self._make_nodes(signers)
        self.decided: dict[int, BlockHeader] = {}
        self._baseline_height: int | None = None
        self._live = False

    def _make_nodes(self, signers: list[Signer]) -> list[SimNode]:
        nodes: list[SimNode] = []
        count = len(signers)
        everyone = tuple(range(count))
        for index, signer in enumerate(signers):
            behaviour = self.plan.behaviours[index]
            if behaviour == Behaviour.TWIN:
                for side, targets in enumerate(self.plan.twin_targets):
                    own = tuple(target for target in targets if target != index)
                    nodes.append(SimNode(len(nodes), index, signer, behaviour, own, side))
            else:
                targets = tuple(other for other in everyone if other != index)
                nodes.append(SimNode(len(nodes), index, signer, behaviour, targets))
        return nodes

    # -- running ---------------------------------------------------------------------------
    def fail(self, reason: str) -> SimulationFailure:
        heights = ", ".join(
            f"{node.instance}(v{node.validator},{node.behaviour.value}):h{len(node.chain)}"
            + (
                f"/r{node.machine.round}/{node.machine.step.name.lower()}"
                if node.machine is not None
                else "/down"
            )
            for node in self.nodes
        )
        return SimulationFailure(
            f"simulation failed: scenario {self.scenario!r} seed {self.seed} at "
            f"{self.now_ms} ms (GST {self.gst_ms} ms): {reason}\n"
            f"  nodes: {heights}\n"
            f"  replay: {replay_command(self.scenario, self.seed)}"
        )

    def schedule(self, delay_ms: int, item: _Scheduled) -> None:
        self._sequence += 1
        heapq.heappush(self._queue, (self.now_ms + delay_ms, self._sequence, item))

    def run(self) -> SimResult:
        for node in self.nodes:
            if node.behaviour != Behaviour.SILENT:
                self.schedule(self.rng.randint(0, 50), _Restart(node.instance))
        for crash in self.plan.crashes:
            for node in self.nodes:
                if node.validator == crash.node:
                    self.schedule(crash.crash_ms, _Crash(node.instance))
                    self.schedule(crash.restart_ms, _Restart(node.instance))
        self.schedule(self.gst_ms, _Gst())
        deadline_ms = self.gst_ms + self.parameters.liveness_bound_ms
        while self._queue and not self._live:
            time_ms, _, item = heapq.heappop(self._queue)
            if time_ms > deadline_ms:
                break
            self.now_ms = time_ms
            self.counters.events += 1
            if self.counters.events > MAX_EVENTS:
                raise self.fail(f"more than {MAX_EVENTS} events")
            self._dispatch(item)
        if not self._live:
            raise self.fail(
                f"liveness: correct nodes did not all reach height {self._target_height()} "
                f"within {self.parameters.liveness_bound_ms} ms after GST"
            )
        return self._result()

    def _dispatch(self, item: _Scheduled) -> None:
        if isinstance(item, _Deliver):
            node = self.nodes[item.instance]
            if node.up:
                self.counters.messages_delivered += 1
                self._receive(node, item.sender, item.message)
        elif isinstance(item, _Input | _Start | _Gossip):
            node = self.nodes[item.instance]
            if not node.up or node.incarnation != item.incarnation:
                return  # a timer of a crashed incarnation
            if isinstance(item, _Input):
                self._feed(node, item.event)
            elif isinstance(item, _Start):
                self._on_start(node, item.height)
            else:
                self._on_gossip(node)
        elif isinstance(item, _Crash):
            self._crash(self.nodes[item.instance])
        elif isinstance(item, _Restart):
            self._restart(self.nodes[item.instance])
        else:
            self._baseline_height = max(
                (len(node.chain) for node in self.nodes if node.correct), default=0
            )
            self._check_liveness()

    def _target_height(self) -> int:
        baseline = self._baseline_height or 0
        return baseline + self.plan.heights_after_gst

    def _check_liveness(self) -> None:
        if self._baseline_height is None:
            return
        target = self._target_height()
        self._live = all(len(node.chain) >= target for node in self.nodes if node.correct)

    def _result(self) -> SimResult:
        correct = [node for node in self.nodes if node.correct]
        self._trace.update(encode([self.now_ms, [len(node.chain) for node in self.nodes]]))
        return SimResult(
            scenario=self.scenario,
            seed=self.seed,
            gst_ms=self.gst_ms,
            end_ms=self.now_ms,
            heights=tuple(len(node.chain) for node in correct),
            agreed_height=len(self.decided),
            counters=self.counters,
            trace_digest=self._trace.hexdigest(),
            replay_command=replay_command(self.scenario, self.seed),
        )

    # -- crash and restart -----------------------------------------------------------------
    def _crash(self, node: SimNode) -> None:
        node.up = False
        node.incarnation += 1
        node.machine = None
        node.safety = None
        node.blocks = {}
        node.seen = {}
        node.log = {}
        node.peer_heights = {}

    def _restart(self, node: SimNode) -> None:
        """Start (or restart) a node from what survives a crash: its chain and safety record."""
        node.up = True
        node.incarnation += 1
        node.safety = SafetyModule(node.signer, CHAIN_ID, node.storage)
        node.machine = Tendermint(
            TendermintConfig(
                chain_id=CHAIN_ID,
                address=node.address,
                timeout_propose_ms=self.parameters.timeout_propose_ms,
                timeout_propose_delta_ms=self.parameters.timeout_propose_delta_ms,
                timeout_prevote_ms=self.parameters.timeout_prevote_ms,
                timeout_prevote_delta_ms=self.parameters.timeout_prevote_delta_ms,
                timeout_precommit_ms=self.parameters.timeout_precommit_ms,
                timeout_precommit_delta_ms=self.parameters.timeout_precommit_delta_ms,
            )
        )
        node.gossip_height = -1
        self._start_height(node, len(node.chain) + 1)
        self.schedule(self.parameters.gossip_interval_ms, _Gossip(node.instance, node.incarnation))

    def _on_start(self, node: SimNode, height: int) -> None:
        machine = node.machine
        if machine is not None and len(node.chain) + 1 == height and machine.height < height:
            self._start_height(node, height)

    def _start_height(self, node: SimNode, height: int) -> None:
        require(node.safety is not None, "a running node has a safety module")
        safety = node.safety
        if safety is None:
            return
        node.blocks = {h: b for h, b in node.blocks.items() if b.height >= height}
        for block_hash, block in node.locked_blocks.items():
            if block.height >= height:
                node.blocks.setdefault(block_hash, block)
        node.seen = {key: h for key, h in node.seen.items() if h >= height}
        node.log = {key: m for key, m in node.log.items() if _message_height(m) == height}
        self._feed(node, safety.start_height(height, self.validators))
        # After a restart: what the safety record knows of this height (own votes, the lock and
        # its polka) counts again and is re-sent.
        for signed in safety.signed_messages(height):
            if isinstance(signed, SignedVote):
                node.log[encode(signed)] = VoteMessage(signed)
                self._feed(node, VoteReceived(signed))
            elif signed.proposal.block_hash in node.blocks:
                block = node.blocks[signed.proposal.block_hash]
                node.log[encode(signed)] = ProposalMessage(signed, block)
                self._feed(node, ProposalReceived(signed))

    # -- the driver ------------------------------------------------------------------------
    def _feed(self, node: SimNode, first: Event) -> None:
        """Hand ``first`` to the machine and carry out the outputs, feeding back what they
        produce (own messages, values) until nothing is left."""
        pending: deque[Event] = deque([first])
        steps = 0
        while pending:
            machine = node.machine
            if machine is None:
                return
            steps += 1
            if steps > MAX_FEED_STEPS:
                raise self.fail("a node's driver loop did not settle")
            for output in machine.handle(pending.popleft()):
                self._carry_out(node, output, pending)
            self.counters.max_round = max(self.counters.max_round, machine.round)

    def _carry_out(self, node: SimNode, output: Output, pending: deque[Event]) -> None:
        if isinstance(output, ScheduleTimeout):
            event = TimeoutExpired(output.kind, output.height, output.round)
            self.schedule(output.duration_ms, _Input(node.instance, node.incarnation, event))
        elif isinstance(output, CastVote | BroadcastProposal):
            self._sign_and_send(node, output, pending)
        elif isinstance(output, RequestValue):
            block = self._build_block(node, output.height, output.round)
            block_hash = header_hash(SUITE, block)
            node.blocks[block_hash] = block
            pending.append(ProposeValue(output.height, output.round, block_hash))
        elif isinstance(output, ValidateBlock):
            self._validate(node, output)
        elif isinstance(output, Decide):
            self._on_decide(node, output)
        else:
            self._on_evidence(node, output)

    def _validate(self, node: SimNode, request: ValidateBlock) -> None:
        """Execute the block (the toy way) and answer after a simulated execution time."""
        block = node.blocks.get(request.block_hash)
        if block is None:
            raise self.fail("the machine asked to validate a block the node never received")
        valid = block_is_valid(block, node.head(), self.validators)
        if not valid:
            self.counters.invalid_verdicts += 1
        verdict = BlockValidity(request.height, request.block_hash, valid)
        delay_ms = self.rng.randint(0, self.parameters.max_execution_ms)
        self.schedule(delay_ms, _Input(node.instance, node.incarnation, verdict))

    def _sign_and_send(
        self, node: SimNode, output: CastVote | BroadcastProposal, pending: deque[Event]
    ) -> None:
        safety = node.safety
        if safety is None:
            return
        message: Message
        try:
            if isinstance(output, CastVote):
                locked = node.blocks.get(output.vote.block_hash)
                if output.polka and locked is not None:
                    node.locked_blocks[output.vote.block_hash] = locked  # durable first
                signed_vote = safety.sign_vote(output.vote, output.polka)
                message = VoteMessage(signed_vote)
                pending.append(VoteReceived(signed_vote))
            else:
                proposal = output.proposal
                if node.behaviour == Behaviour.TWIN and proposal.valid_round != NO_ROUND:
                    proposal = self._fresh_proposal(node, proposal)
                block = node.blocks.get(proposal.block_hash)
                if block is None:
                    return  # lost in a crash: cannot re-propose a block it no longer has
                signed_proposal = safety.sign_proposal(proposal)
                message = ProposalMessage(signed_proposal, block)
                pending.append(ProposalReceived(signed_proposal))
        except SafetyError:
            self.counters.safety_refusals += 1
            return
        self._remember(node, message)
        self._broadcast(node, message)

    def _fresh_proposal(self, node: SimNode, proposal: Proposal) -> Proposal:
        """A Byzantine proposer ignores its valid value and proposes a new block: an honest one
        would re-propose the value a polka backed, which hides lock bugs."""
        block = self._build_block(node, proposal.height, proposal.round)
        block_hash = header_hash(SUITE, block)
        node.blocks[block_hash] = block
        return msgspec.structs.replace(proposal, block_hash=block_hash, valid_round=NO_ROUND)

    def _build_block(self, node: SimNode, height: int, round_: int) -> BlockHeader:
        parent = node.head()
        previous_hash = GENESIS_BLOCK_HASH if parent is None else header_hash(SUITE, parent)
        previous_state = GENESIS_STATE_ROOT if parent is None else parent.state_root
        payload = _sha256(
            b"jinqiao-sim/payload",
            _int_bytes(node.instance),
            _int_bytes(height),
            _int_bytes(round_),
            _int_bytes(self.now_ms),
        )
        state_root = toy_state_root(previous_state, payload)
        if node.behaviour == Behaviour.INVALID_PROPOSER:
            state_root = _sha256(b"jinqiao-sim/not-the-state", payload)
        validators_hash = validator_set_hash(SUITE, self.validators)
        return BlockHeader(
            chain_id=CHAIN_ID,
            height=height,
            time_ms=self.now_ms,
            previous_block_hash=previous_hash,
            transactions_root=payload,
            receipts_root=EMPTY_HASH,
            state_root=state_root,
            validators_hash=validators_hash,
            next_validators_hash=validators_hash,
            proposer=node.address,
            transaction_count=0,
        )

    # -- decisions, evidence and invariants ------------------------------------------------
    def _on_decide(self, node: SimNode, decision: Decide) -> None:
        block = node.blocks.get(decision.block_hash)
        if block is None:
            raise self.fail(f"node {node.instance} decided a block it does not have")
        if node.correct:
            try:
                verify_certificate(SUITE, CHAIN_ID, self.validators, block, decision.certificate)
            except VerificationError as exc:
                raise self.fail(
                    f"certificate of height {decision.height} rejected: {exc}"
                ) from None
            self.counters.certificates_verified += 1
        self._commit(node, block, decision.certificate)
        self.schedule(
            self.parameters.commit_wait_ms,
            _Start(node.instance, node.incarnation, decision.height + 1),
        )

    def _commit(self, node: SimNode, block: BlockHeader, certificate: CommitCertificate) -> None:
        require(block.height == len(node.chain) + 1, "commits are in height order")
        node.chain.append((block, certificate))
        node.locked_blocks = {
            h: b for h, b in node.locked_blocks.items() if b.height > block.height
        }
        if not node.correct:
            return
        block_hash = header_hash(SUITE, block)
        agreed = self.decided.get(block.height)
        if agreed is None:
            parent = self.decided.get(block.height - 1)
            if block.height > 1 and parent is None:
                raise self.fail(f"height {block.height} committed before {block.height - 1}")
            if not block_is_valid(block, parent, self.validators):
                raise self.fail(f"validity: node {node.instance} committed an invalid block")
            self.decided[block.height] = block
        elif header_hash(SUITE, agreed) != block_hash:
            raise self.fail(
                f"agreement: node {node.instance} committed {block_hash.hex()[:16]} at height "
                f"{block.height}, another correct node {header_hash(SUITE, agreed).hex()[:16]}"
            )
        self._trace.update(
            encode([self.now_ms, node.instance, block.height, block_hash, certificate.round])
        )
        self._check_liveness()

    def _on_evidence(
        self, node: SimNode, evidence: VoteEquivocation | ProposalEquivocation
    ) -> None:
        self.counters.evidence += 1
        if isinstance(evidence, VoteEquivocation):
            culprit = evidence.first.vote.validator
        else:
            culprit = evidence.first.proposal.proposer
        if node.correct and self.plan.behaviours[self.validator_index[culprit]] == Behaviour.HONEST:
            raise self.fail(
                f"node {node.instance} has evidence that a correct validator equivocated"
            )

    # -- network ---------------------------------------------------------------------------
    def _broadcast(self, node: SimNode, message: Message) -> None:
        for target in node.targets:
            self._send(node, target, message)

    def _send(self, node: SimNode, target: int, message: Message) -> None:
        self.counters.messages_sent += 1
        before_gst = self.now_ms < self.gst_ms
        if before_gst and (
            self._partitioned(node.validator, target) or _chance(self.rng, self.plan.drop_per_mille)
        ):
            self.counters.messages_dropped += 1
            return
        copies = 1
        if _chance(self.rng, self.plan.duplicate_per_mille):
            copies = 2
            self.counters.messages_duplicated += 1
        max_delay_ms = (
            self.plan.max_delay_ms if before_gst else self.parameters.post_gst_max_delay_ms
        )
        for _ in range(copies):
            delay_ms = self.rng.randint(1, max(1, max_delay_ms))
            for receiver in self.nodes:
                if receiver.validator != target:
                    continue
                if node.side >= 0 and receiver.side >= 0 and node.side != receiver.side:
                    continue  # the two worlds of the twins do not meet
                self.schedule(delay_ms, _Deliver(receiver.instance, node.validator, message))

    def _partitioned(self, sender: int, receiver: int) -> bool:
        for partition in self.plan.partitions:
            if partition.start_ms <= self.now_ms < partition.end_ms:
                side = [sender in group for group in partition.groups]
                if side != [receiver in group for group in partition.groups]:
                    return True
        return False

    def _remember(self, node: SimNode, message: Message) -> None:
        """Keep a message of the current height for re-sending (gossip)."""
        machine = node.machine
        if machine is None or _message_height(message) not in (machine.height, machine.height + 1):
            return
        if len(node.log) < MAX_GOSSIP_LOG_MESSAGES:
            node.log[encode(_message_key(message))] = message

    def _receive(self, node: SimNode, sender: int, message: Message) -> None:
        machine = node.machine
        if machine is None:
            return
        if isinstance(message, SyncRequest):
            self._on_sync_request(node, sender, message)
            return
        if isinstance(message, DecisionMessage):
            self._on_decision_message(node, sender, message)
            return
        height = _message_height(message)
        if height > node.peer_heights.get(sender, 0):
            node.peer_heights[sender] = height
        if height not in (machine.height, machine.height + 1):
            return
        key = encode(_message_key(message))
        if key in node.seen:
            return
        node.seen[key] = height
        if isinstance(message, VoteMessage):
            self.counters.signatures_verified += 1
            if not verify_signed_vote(SUITE, self.members, message.signed):
                raise self.fail("a vote with a bad signature was sent")
            self._remember(node, message)
            self._feed(node, VoteReceived(message.signed))
        else:
            self.counters.signatures_verified += 1
            if header_hash(SUITE, message.block) != message.signed.proposal.block_hash:
                return
            if not verify_signed_proposal(SUITE, self.members, message.signed):
                raise self.fail("a proposal with a bad signature was sent")
            node.blocks[message.signed.proposal.block_hash] = message.block
            self._remember(node, message)
            self._feed(node, ProposalReceived(message.signed))

    # -- gossip and catch-up ---------------------------------------------------------------
    def _on_gossip(self, node: SimNode) -> None:
        machine = node.machine
        if machine is None:
            return
        # Re-send everything of the current height while no height commits: timeouts keep
        # rounds moving, so "my round changed" is no sign that peers have what they need.
        if len(node.chain) == node.gossip_height:
            for message in list(node.log.values()):
                self._broadcast(node, message)
        node.gossip_height = len(node.chain)
        if machine.decision is None:
            for peer, height in sorted(node.peer_heights.items()):
                if height > machine.height:
                    self.counters.sync_requests += 1
                    self._send(node, peer, SyncRequest(len(node.chain) + 1))
        self.schedule(self.parameters.gossip_interval_ms, _Gossip(node.instance, node.incarnation))

    def _on_sync_request(self, node: SimNode, sender: int, request: SyncRequest) -> None:
        if 1 <= request.height <= len(node.chain):
            header, certificate = node.chain[request.height - 1]
            self._send(node, sender, DecisionMessage(header, certificate))

    def _on_decision_message(self, node: SimNode, sender: int, message: DecisionMessage) -> None:
        header = message.header
        if header.height > node.peer_heights.get(sender, 0):
            node.peer_heights[sender] = header.height
        if header.height != len(node.chain) + 1:
            return
        try:
            verify_certificate(SUITE, CHAIN_ID, self.validators, header, message.certificate)
        except VerificationError:
            return
        self.counters.certificates_verified += 1
        if not block_is_valid(header, node.head(), self.validators):
            if node.correct:
                raise self.fail(f"a certificate commits an invalid block at {header.height}")
            return
        self.counters.catch_up_commits += 1
        self._commit(node, header, message.certificate)
        self._start_height(node, header.height + 1)
        if node.peer_heights.get(sender, 0) > header.height:
            self.counters.sync_requests += 1
            self._send(node, sender, SyncRequest(header.height + 1))


def _message_height(message: Message) -> int:
    if isinstance(message, VoteMessage):
        return message.signed.vote.height
    if isinstance(message, ProposalMessage):
        return message.signed.proposal.height
    if isinstance(message, DecisionMessage):
        return message.header.height
    return message.height


def _message_key(message: Message) -> SignedVote | SignedProposal:
    if isinstance(message, VoteMessage | ProposalMessage):
        return message.signed
    raise NodeFault("only votes and proposals are gossiped")


def run_scenario(name: str, seed: int, rng: RandomSource) -> SimResult:
    """Run scenario ``name`` with ``rng`` (seeded with ``seed`` by the caller, e.g.
    ``random.Random(seed)``). Raises ``SimulationFailure`` if an invariant breaks."""
    scenario = SCENARIOS.get(name)
    if scenario is None:
        raise NodeFault(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
    return Simulation(name, seed, scenario.build(rng), rng).run()
