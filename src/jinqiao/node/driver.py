"""The consensus driver, sans I/O: events in, actions out (etcd's ``RawNode``/``Ready`` style).

It wraps the pure Tendermint machine (``consensus.tendermint``) and the safety module
(``consensus.safety``) of one validator, and decides everything a validator does around them —
which block to ask for, which to execute, what to send to whom, when to commit, how to catch up —
without touching a socket, a clock, a thread or the disk itself. ``handle(event, now_ms)`` returns
the actions to carry out, in order; the shell carries them out and reports back as events:

==========================  ====================================================================
action                      the shell then reports
==========================  ====================================================================
``Send``                    (nothing) — a frame to one peer, or to every peer (``peer=None``)
``SetTimer``                ``TimerFired`` after ``delay_ms``
``BuildBlock``              ``BlockBuilt`` — a candidate cut from the mempool and executed
``ExecuteBlock``            ``BlockExecuted`` — a proposed or fetched block re-executed
``SaveLockedBlock``         (nothing) — written durably before the actions that follow it
``CommitBlock``             ``BlockCommitted`` — stored with its certificate, atomically
``ServeBlock``              (nothing) — read committed block h and ``Send`` it to the peer
``ServeStateSync``          (nothing) — answer a joining peer's state-sync request (ADR 0054)
``AdmitGossip``             (nothing) — admit another validator's transactions to the mempool
``ReportEvidence``          (nothing) — submit two conflicting votes as an evidence transaction
``Decided``                 (nothing) — for metrics: a decision and whose votes it lacked
``EvidenceRecorded``        (nothing) — for metrics: a validator equivocated
``Note``                    (nothing) — a line for the log
==========================  ====================================================================

Two shells run it: ``node.bft`` (asyncio, real TLS peers, LMDB, worker threads) and the
deterministic simulator (``jinqiao.sim``: simulated network, clock and storage faults), so the
simulator tests the code that runs in production.

The safety module is called synchronously: it persists its record through the storage it was
given before any signature leaves it (DESIGN.md: the safety module). The block a precommit locks
on is made durable before that: the node's shell passes ``keep_locked_block``, called before the
safety module records the lock (a crash between the two left, before, a record locked on a
block the node had lost, and a lone validator stalled for good); without it (the simulator)
``SaveLockedBlock`` comes before the precommit is sent, so a restarted validator still holds it.

Catch-up: every node announces its height once a second; a node that sees a peer ahead asks it
for the next committed block, checks the block's certificate against the validator set in force,
has it re-executed, compares the header and commits it.

A validator whose consensus key is being replaced holds the next key's safety module too
(``consensus.safety.SigningKeys``): at the first height whose validator set names the next key,
the driver signs, proposes and builds blocks as the next key's address (a ``Note`` says so).

An observer (a driver made without a safety module) follows the chain by catch-up alone: it
never starts a height, so the machine never asks it to propose or vote; it ignores proposals,
votes and gossiped transactions; it announces its height, serves blocks, and commits each block
only once its certificate checks and it re-executes to the same header.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from jinqiao.consensus.messages import (
    SignedProposal,
    SignedVote,
    verify_signed_proposal,
    verify_signed_vote,
)
from jinqiao.consensus.safety import SafetyError, SafetyModule, SigningKeys
from jinqiao.consensus.tendermint import (
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
from jinqiao.core.crypto import CryptoSuite
from jinqiao.core.errors import NodeFault
from jinqiao.core.hashing import header_hash
from jinqiao.core.types import Block, CommitCertificate, CommittedBlock, Validator
from jinqiao.node.chain import Candidate, Head
from jinqiao.node.wire import (
    MAX_GOSSIP_TRANSACTIONS,
    BlockRequest,
    BlockResponse,
    ProposalMessage,
    StateSyncRequest,
    StatusMessage,
    TransactionsMessage,
    VoteMessage,
    WireMessage,
    encode_message,
)
from jinqiao.verify import VerificationError, verify_certificate

MAX_CLOCK_DRIFT_MS = 10_000
STATUS_INTERVAL_MS = 1_000
CATCH_UP_TIMEOUT_MS = 5_000
PEER_SILENT_AFTER_MS = 3 * STATUS_INTERVAL_MS
"""A peer counts as connected while it was heard from this recently (every peer sends a status
once a second); an open socket to a stopped or cut-off peer does not count."""
MAX_KEPT_BLOCKS = 64
MAX_EVIDENCE = 1_000


# -- events ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Started:
    """The shell starts the driver with the chain's head and the block it was locked on."""

    head: Head
    locked_block: Block | None = None


@dataclass(frozen=True)
class Tick:
    """Periodic: gossip, status, catch-up, starting a height once there is work."""

    mempool_transactions: int


@dataclass(frozen=True)
class FrameReceived:
    peer: str
    message: WireMessage


@dataclass(frozen=True)
class TimerFired:
    timeout: TimeoutExpired


@dataclass(frozen=True)
class TransactionsAdmitted:
    """Transactions this node admitted from clients: gossiped to the other validators."""

    raw_transactions: tuple[bytes, ...]


@dataclass(frozen=True)
class BlockBuilt:
    height: int
    round: int
    candidate: Candidate | None
    """``None`` when the head moved before the shell could build it."""


@dataclass(frozen=True)
class BlockExecuted:
    block_hash: bytes
    candidate: Candidate | None
    """``None`` when the block is invalid (or the head moved)."""
    reason: str = ""


@dataclass(frozen=True)
class BlockCommitted:
    committed: CommittedBlock
    head: Head


DriverEvent = (
    Started
    | Tick
    | FrameReceived
    | TimerFired
    | TransactionsAdmitted
    | BlockBuilt
    | BlockExecuted
    | BlockCommitted
)


# -- actions -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Send:
    payload: bytes
    peer: str | None = None
    """``None``: every connected peer."""


@dataclass(frozen=True)
class SetTimer:
    delay_ms: int
    timeout: TimeoutExpired


@dataclass(frozen=True)
class BuildBlock:
    height: int
    round: int
    time_ms: int
    proposer: bytes


class Purpose(Enum):
    VALIDATE = "validate"
    CATCH_UP = "catch_up"


@dataclass(frozen=True)
class ExecuteBlock:
    block: Block
    block_hash: bytes
    purpose: Purpose


@dataclass(frozen=True)
class SaveLockedBlock:
    block: Block


@dataclass(frozen=True)
class CommitBlock:
    candidate: Candidate
    certificate: CommitCertificate


@dataclass(frozen=True)
class ServeBlock:
    peer: str
    height: int


@dataclass(frozen=True)
class ServeStateSync:
    peer: str
    request: StateSyncRequest


@dataclass(frozen=True)
class AdmitGossip:
    raw_transactions: tuple[bytes, ...]


@dataclass(frozen=True)
class ReportEvidence:
    first: SignedVote
    second: SignedVote


@dataclass(frozen=True)
class Decided:
    height: int
    round: int
    interval_ms: int
    missing_validators: tuple[str, ...]


@dataclass(frozen=True)
class EvidenceRecorded:
    """For metrics: a validator was seen signing two conflicting messages."""

    validator: bytes


@dataclass(frozen=True)
class Note:
    """Something worth a log line (the shell logs it at ``level``)."""

    level: str
    message: str


Action = (
    Send
    | SetTimer
    | BuildBlock
    | ExecuteBlock
    | SaveLockedBlock
    | CommitBlock
    | ServeBlock
    | ServeStateSync
    | AdmitGossip
    | ReportEvidence
    | Decided
    | EvidenceRecorded
    | Note
)


@dataclass
class Evidence:
    """Two conflicting signed messages by one validator (kept until put on chain)."""

    validator: bytes
    height: int
    round: int
    kind: str
    first: bytes
    second: bytes


@dataclass
class _Commit:
    """The one commit in flight: from a decision, or from catching up."""

    height: int
    catch_up: bool
    started_ms: int


@dataclass
class DriverState:
    """Everything the driver remembers between events (inspectable by tests and the status)."""

    head: Head | None = None
    candidates: dict[bytes, Candidate] = field(default_factory=dict)
    blocks: dict[bytes, Block] = field(default_factory=dict)
    peer_heights: dict[str, int] = field(default_factory=dict)
    peer_heard_ms: dict[str, int] = field(default_factory=dict)
    evidence: list[Evidence] = field(default_factory=list)
    gossip: list[bytes] = field(default_factory=list)
    last_commit_ms: int = 0
    last_status_ms: int = -STATUS_INTERVAL_MS
    catch_up_asked: tuple[int, int] | None = None
    catch_up_requests: int = 0
    """Block requests sent so far: successive requests go to the ahead peers in turn."""
    waiting_to_start: bool = False
    mempool_transactions: int = 0
    committing: _Commit | None = None
    building: tuple[int, int] | None = None
    executing: set[bytes] = field(default_factory=set)
    catching_up: dict[bytes, CommitCertificate] = field(default_factory=dict)
    """Fetched committed blocks being re-executed, with the certificate that commits them."""


class Driver:
    """One validator's consensus, as a deterministic function of the events it is fed."""

    def __init__(
        self,
        suite: CryptoSuite,
        safety: SafetyModule | SigningKeys | None,
        config: TendermintConfig,
        *,
        block_interval_ms: int,
        empty_block_interval_ms: int,
        keep_locked_block: Callable[[Block], None] | None = None,
    ) -> None:
        self.suite = suite
        self._safety = SigningKeys(safety) if isinstance(safety, SafetyModule) else safety
        self.keep_locked_block = keep_locked_block
        """Makes a block durable at once (the node's shell), called before the safety module
        persists the precommit that locks on it: a crash between the two must never leave a
        lock on a block the node no longer has (a lone validator could never propose it again
        and would stall for good). ``None``: ``SaveLockedBlock`` is emitted instead (the
        simulator carries it out as an action)."""
        self.observer = safety is None
        """Follows by catch-up only; holds no key, so it cannot sign (see the module docstring)."""
        self.address = b"" if safety is None else safety.address
        self.config = config
        self.machine = Tendermint(config)
        self.block_interval_ms = block_interval_ms
        self.empty_block_interval_ms = empty_block_interval_ms
        self.state = DriverState()
        self._actions: list[Action] = []
        self._resuming = False
        self._now_ms = 0

    # -- the one entry point ---------------------------------------------------------------
    def handle(self, event: DriverEvent, now_ms: int) -> list[Action]:
        """Feed one event; return the actions to carry out, in order."""
        self._now_ms = now_ms
        self._actions = []
        if isinstance(event, Started):
            self._on_started(event)
        elif isinstance(event, Tick):
            self._on_tick(event)
        elif isinstance(event, FrameReceived):
            self._on_frame(event.peer, event.message)
        elif isinstance(event, TimerFired):
            self._feed(event.timeout)
        elif isinstance(event, TransactionsAdmitted):
            self._on_admitted(event)
        elif isinstance(event, BlockBuilt):
            self._on_built(event)
        elif isinstance(event, BlockExecuted):
            self._on_executed(event)
        elif isinstance(event, BlockCommitted):
            self._on_committed(event)
        else:  # pragma: no cover - the union above is exhaustive
            raise NodeFault(f"unknown driver event {event!r}")
        actions, self._actions = self._actions, []
        return actions

    @property
    def safety(self) -> SigningKeys:
        """The safety module; an observer has none, and asking for it is a node fault."""
        if self._safety is None:
            raise NodeFault("an observer has no safety module: it never signs")
        return self._safety

    @property
    def head(self) -> Head:
        if self.state.head is None:
            raise NodeFault("the driver was not started")
        return self.state.head

    # -- life cycle ------------------------------------------------------------------------
    def _on_started(self, event: Started) -> None:
        self.state.head = event.head
        self.state.last_commit_ms = self._now_ms
        self._resuming = True
        block = event.locked_block
        if block is not None and block.header.height == event.head.height + 1:
            self.state.blocks[header_hash(self.suite, block.header)] = block
        self._start_height()

    def _start_height(self) -> None:
        """Start the next height now if there is work, else once transactions arrive, another
        validator starts it, or the empty-block heartbeat is due (no stream of empty blocks)."""
        self.state.waiting_to_start = True
        self._maybe_start_height()

    def _maybe_start_height(self, *, prompted: bool = False) -> None:
        state = self.state
        if self.observer or not state.waiting_to_start or state.committing is not None:
            return
        since_commit_ms = self._now_ms - state.last_commit_ms
        heartbeat_due = since_commit_ms >= self.empty_block_interval_ms
        work_due = state.mempool_transactions > 0 and since_commit_ms >= self.block_interval_ms
        if not (prompted or heartbeat_due or work_due):
            return
        state.waiting_to_start = False
        head = self.head
        height = head.height + 1
        state.candidates = {
            h: c for h, c in state.candidates.items() if c.block.header.height == height
        }
        state.blocks = {h: b for h, b in state.blocks.items() if b.header.height == height}
        start = self.safety.start_height(height, head.validators)
        self._follow_key(height)
        signed_before = self.safety.signed_messages(height)
        if self._resuming and signed_before:
            # Restarted in the middle of this height: whatever this validator had in memory for
            # its last round (the block it proposed, the votes it counted) is gone, and waiting
            # out that round's timeouts would stall a lone validator for seconds. Rounds only go
            # up, so resuming one round later is safe; the lock and the signed messages of the
            # earlier round are kept and re-sent, and still count (line 49 holds for any round).
            start = dataclasses.replace(start, round=start.round + 1)
        self._resuming = False
        self._feed(start)
        for message in signed_before:
            if isinstance(message, SignedProposal):
                self._send_proposal(message)
            else:
                self._send_vote(message)

    def _follow_key(self, height: int) -> None:
        """After a key switch (``SigningKeys.start_height``), act as the next key's address:
        the machine votes and proposes as it from this height on."""
        address = self.safety.address
        if address == self.address:
            return
        self.address = address
        self.machine.config = dataclasses.replace(self.machine.config, address=address)
        self._note(
            "info", f"validator key switched at height {height}: now signing as {address.hex()}"
        )

    # -- the machine -----------------------------------------------------------------------
    def _feed(self, first: Event) -> None:
        for output in self.machine.handle(first):
            self._carry_out(output)

    def _carry_out(self, output: Output) -> None:
        if isinstance(output, ScheduleTimeout):
            timeout = TimeoutExpired(output.kind, output.height, output.round)
            self._emit(SetTimer(output.duration_ms, timeout))
        elif isinstance(output, RequestValue):
            self.state.building = (output.height, output.round)
            self._emit(BuildBlock(output.height, output.round, self._now_ms, self.address))
        elif isinstance(output, BroadcastProposal):
            if self.observer:
                self._note("warning", "an observer does not propose")
                return
            try:
                signed = self.safety.sign_proposal(output.proposal)
            except SafetyError as refusal:
                self._note("warning", f"safety module refused a proposal: {refusal}")
                return
            self._send_proposal(signed)
        elif isinstance(output, CastVote):
            self._cast(output)
        elif isinstance(output, ValidateBlock):
            self._validate(output)
        elif isinstance(output, Decide):
            self._decide(output)
        elif isinstance(output, VoteEquivocation):
            self._emit(ReportEvidence(output.first, output.second))
            vote = output.first.vote
            self._record_evidence(
                vote.validator,
                vote.height,
                vote.round,
                "vote",
                encode(output.first),
                encode(output.second),
            )
        elif isinstance(output, ProposalEquivocation):
            first = output.first.proposal
            self._record_evidence(
                first.proposer,
                first.height,
                first.round,
                "proposal",
                encode(output.first),
                encode(output.second),
            )

    def _cast(self, output: CastVote) -> None:
        vote = output.vote
        if self.observer:
            self._note("warning", "an observer does not vote")
            return
        if output.polka and vote.block_hash in self.state.blocks:
            block = self.state.blocks[vote.block_hash]
            if self.keep_locked_block is None:
                self._emit(SaveLockedBlock(block))
            else:
                self.keep_locked_block(block)
        try:
            signed = self.safety.sign_vote(vote, output.polka)
        except SafetyError as refusal:
            self._note("warning", f"safety module refused a vote: {refusal}")
            return
        self._send_vote(signed)

    def _send_proposal(self, signed: SignedProposal) -> None:
        block = self.state.blocks.get(signed.proposal.block_hash)
        if block is None:
            self._note("warning", f"no block {signed.proposal.block_hash.hex()[:12]} to propose")
            return
        self._emit(Send(encode_message(ProposalMessage(signed, block))))
        self._feed(ProposalReceived(signed))

    def _send_vote(self, signed: SignedVote) -> None:
        self._emit(Send(encode_message(VoteMessage(signed))))
        self._feed(VoteReceived(signed))

    # -- proposing, validating, deciding ---------------------------------------------------
    def _on_built(self, event: BlockBuilt) -> None:
        if self.state.building == (event.height, event.round):
            self.state.building = None
        candidate = event.candidate
        if candidate is None or candidate.block.header.height != self.head.height + 1:
            return
        self.state.candidates[candidate.block_hash] = candidate
        self.state.blocks[candidate.block_hash] = candidate.block
        self._feed(ProposeValue(event.height, event.round, candidate.block_hash))

    def _validate(self, request: ValidateBlock) -> None:
        if request.block_hash in self.state.candidates:
            self._feed(BlockValidity(request.height, request.block_hash, True))
            return
        block = self.state.blocks.get(request.block_hash)
        if block is None:
            self._feed(BlockValidity(request.height, request.block_hash, False))
            return
        problem = self._link_problem(block)
        if problem:
            self._note("warning", f"invalid block {block.header.height}: {problem}")
            self._feed(BlockValidity(request.height, request.block_hash, False))
            return
        self._execute(block, request.block_hash, Purpose.VALIDATE)

    def _link_problem(self, block: Block) -> str:
        header = block.header
        head = self.head
        if header.height != head.height + 1 or header.previous_block_hash != head.block_hash:
            return "it does not extend this node's head"
        if header.time_ms > self._now_ms + MAX_CLOCK_DRIFT_MS:
            return f"its time {header.time_ms} ms is in the future"
        return ""

    def _execute(self, block: Block, block_hash: bytes, purpose: Purpose) -> None:
        if block_hash in self.state.executing:
            return
        self.state.executing.add(block_hash)
        self._emit(ExecuteBlock(block, block_hash, purpose))

    def _on_executed(self, event: BlockExecuted) -> None:
        self.state.executing.discard(event.block_hash)
        block = self.state.blocks.get(event.block_hash)
        candidate = event.candidate
        valid = candidate is not None and candidate.block_hash == event.block_hash
        if candidate is not None and not valid:
            self._note(
                "warning",
                f"block {candidate.block.header.height} does not re-execute to its header",
            )
        elif candidate is None and event.reason:
            self._note("warning", f"invalid block: {event.reason}")
        if valid and candidate is not None:
            self.state.candidates[event.block_hash] = candidate
        certificate = self.state.catching_up.pop(event.block_hash, None)
        if certificate is not None:
            if valid and candidate is not None and self.state.committing is None:
                self._commit(candidate, certificate, catch_up=True)
            return
        height = self.head.height + 1
        if block is not None and block.header.height == height:
            self._feed(BlockValidity(height, event.block_hash, valid))

    def _decide(self, decision: Decide) -> None:
        candidate = self.state.candidates.get(decision.block_hash)
        if candidate is None:
            raise NodeFault("decided a block that was never executed here", height=decision.height)
        if decision.height != self.head.height + 1 or self.state.committing is not None:
            return
        names = {v.address: v.name for v in self.head.validators.validators}
        signed = {signature.validator for signature in decision.certificate.signatures}
        self._emit(
            Decided(
                decision.height,
                decision.round,
                self._now_ms - self.state.last_commit_ms,
                tuple(names[a] for a in sorted(names) if a not in signed),
            )
        )
        self._commit(candidate, decision.certificate, catch_up=False)

    def _commit(
        self, candidate: Candidate, certificate: CommitCertificate, *, catch_up: bool
    ) -> None:
        height = candidate.block.header.height
        self.state.committing = _Commit(height, catch_up, self._now_ms)
        self._emit(CommitBlock(candidate, certificate))

    def _on_committed(self, event: BlockCommitted) -> None:
        committing = self.state.committing
        self.state.committing = None
        self.state.head = event.head
        self.state.last_commit_ms = self._now_ms
        if committing is not None and committing.catch_up:
            self._note("info", f"caught up block {event.head.height}")
            self.state.catch_up_asked = None
            self.machine = Tendermint(self.config)  # a fresh machine for the new height
        self._start_height()

    # -- the network -----------------------------------------------------------------------
    def _on_frame(self, peer: str, message: WireMessage) -> None:
        self.state.peer_heard_ms[peer] = self._now_ms
        head = self.head
        members = head.validators.by_address()
        next_height = head.height + 1
        if self.observer and isinstance(
            message, VoteMessage | ProposalMessage | TransactionsMessage
        ):
            return  # an observer takes part in no round and keeps no other node's transactions
        if isinstance(message, VoteMessage):
            if verify_signed_vote(self.suite, members, message.vote):
                if message.vote.vote.height == next_height:
                    self._maybe_start_height(prompted=True)
                self._feed(VoteReceived(message.vote))
        elif isinstance(message, ProposalMessage):
            self._on_proposal(message, members, next_height)
        elif isinstance(message, TransactionsMessage):
            self._emit(AdmitGossip(message.transactions))
        elif isinstance(message, StatusMessage):
            self.state.peer_heights[peer] = message.height
        elif isinstance(message, BlockRequest):
            if 1 <= message.height <= head.height:
                self._emit(ServeBlock(peer, message.height))
        elif isinstance(message, BlockResponse):
            self._catch_up_with(message.committed)
        elif isinstance(message, StateSyncRequest):
            self._emit(ServeStateSync(peer, message))

    def _on_proposal(
        self, message: ProposalMessage, members: dict[bytes, Validator], next_height: int
    ) -> None:
        signed = message.proposal
        block_hash = header_hash(self.suite, message.block.header)
        if block_hash != signed.proposal.block_hash:
            return
        if not verify_signed_proposal(self.suite, members, signed):
            return
        blocks = self.state.blocks
        # The block of the height after this one is kept too: the machine buffers its proposal
        # (``next_height_messages``) and validates it once this height commits. Across a
        # wide-area link the next proposer commits first and its proposal often arrives before
        # this node has committed; without its block the proposal was judged invalid, the round
        # failed and the height waited out its timeouts (measured: ADR 0050).
        if (
            next_height <= message.block.header.height <= next_height + 1
            and len(blocks) < MAX_KEPT_BLOCKS
        ):
            blocks[block_hash] = message.block
        if signed.proposal.height == next_height:
            self._maybe_start_height(prompted=True)
        self._feed(ProposalReceived(signed))

    def _on_admitted(self, event: TransactionsAdmitted) -> None:
        room = MAX_GOSSIP_TRANSACTIONS - len(self.state.gossip)
        self.state.gossip.extend(event.raw_transactions[: max(0, room)])
        self.state.mempool_transactions += len(event.raw_transactions)
        self._maybe_start_height()

    # -- ticks: gossip, status, catch-up ----------------------------------------------------
    def _on_tick(self, event: Tick) -> None:
        state = self.state
        state.mempool_transactions = event.mempool_transactions
        if state.gossip:
            batch, state.gossip = state.gossip, []
            self._emit(Send(encode_message(TransactionsMessage(tuple(batch)))))
        if self._now_ms - state.last_status_ms >= STATUS_INTERVAL_MS:
            state.last_status_ms = self._now_ms
            self._emit(Send(encode_message(StatusMessage(self.head.height))))
            self._resend_own_messages()
        self._ask_for_missing_block()
        self._maybe_start_height()

    def _ask_for_missing_block(self) -> None:
        state = self.state
        head = self.head.height
        ahead = [peer for peer, height in state.peer_heights.items() if height > head]
        if not ahead or state.committing is not None:
            return
        if state.catch_up_asked is not None:
            asked_height, asked_at_ms = state.catch_up_asked
            if asked_height == head + 1 and self._now_ms - asked_at_ms < CATCH_UP_TIMEOUT_MS:
                return
        # In turn among every peer ahead, not always the one claiming the greatest height: a
        # peer that claims a height it does not have (or never answers) only delays every
        # len(ahead)-th request by a timeout instead of stalling the catch-up.
        peer = sorted(ahead)[state.catch_up_requests % len(ahead)]
        state.catch_up_requests += 1
        state.catch_up_asked = (head + 1, self._now_ms)
        self._emit(Send(encode_message(BlockRequest(head + 1)), peer))

    def _resend_own_messages(self) -> None:
        """Votes are sent once; a peer that was down or partitioned when they went out would
        never see them. While a height is not decided, re-send this validator's latest signed
        proposal and votes of the height once a second (receivers ignore duplicates)."""
        state = self.state
        if self.observer:
            return
        if state.waiting_to_start or self._now_ms - state.last_commit_ms < STATUS_INTERVAL_MS:
            return
        height = self.head.height + 1
        for message in self.safety.signed_messages(height):
            if isinstance(message, SignedProposal):
                block = state.blocks.get(message.proposal.block_hash)
                if block is not None:
                    self._emit(Send(encode_message(ProposalMessage(message, block))))
            else:
                self._emit(Send(encode_message(VoteMessage(message))))

    def _catch_up_with(self, committed: CommittedBlock) -> None:
        header = committed.block.header
        head = self.head
        if header.height != head.height + 1 or header.previous_block_hash != head.block_hash:
            return
        if self.state.committing is not None:
            return
        try:
            verify_certificate(
                self.suite, header.chain_id, head.validators, header, committed.certificate
            )
        except VerificationError as failure:
            self._note("warning", f"catch-up block {header.height} refused: {failure.message}")
            return
        block_hash = header_hash(self.suite, header)
        candidate = self.state.candidates.get(block_hash)
        if candidate is not None:
            self._commit(candidate, committed.certificate, catch_up=True)
            return
        self.state.catching_up[block_hash] = committed.certificate
        self._execute(committed.block, block_hash, Purpose.CATCH_UP)

    # -- evidence, notes, diagnosis --------------------------------------------------------
    def _record_evidence(
        self, validator: bytes, height: int, round_: int, kind: str, first: bytes, second: bytes
    ) -> None:
        self._note(
            "warning",
            f"equivocation by {validator.hex()} at height {height} round {round_} ({kind})",
        )
        self._emit(EvidenceRecorded(validator))
        if len(self.state.evidence) < MAX_EVIDENCE:
            self.state.evidence.append(Evidence(validator, height, round_, kind, first, second))

    def _emit(self, action: Action) -> None:
        self._actions.append(action)

    def _note(self, level: str, message: str) -> None:
        self._emit(Note(level, message))

    def peer_connected(self, peer: str, now_ms: int) -> bool:
        """Heard from within ``PEER_SILENT_AFTER_MS`` (not merely an open socket)."""
        heard = self.state.peer_heard_ms.get(peer)
        return heard is not None and now_ms - heard <= PEER_SILENT_AFTER_MS

    def diagnosis(self, now_ms: int, peers: list[dict[str, object]]) -> dict[str, object]:
        """Where consensus stands, and in words why it is not committing when it is not.
        ``peers`` is the transport's view of each connection (errors, counters)."""
        head = self.head
        state = self.state
        names = {v.address: v.name for v in head.validators.validators}
        by_name = {str(entry["peer"]): entry for entry in peers}
        status = self.machine.status()
        since_commit_s = round((now_ms - state.last_commit_ms) / 1000, 1)
        idle = state.waiting_to_start or status.height != head.height + 1
        # A switch to the next key happens when its height starts; until then both are ours.
        mine = set() if self.observer else {self.address, self.safety.next_address}
        validators = []
        for validator in head.validators.validators:
            peer = by_name.get(validator.name)
            own = validator.address in mine
            connected = own or self.peer_connected(validator.name, now_ms)
            validators.append(
                {
                    "name": validator.name,
                    "address": validator.address.hex(),
                    "power": validator.power,
                    "self": own,
                    "connected": connected,
                    "prevote": None if idle else validator.address not in status.missing_prevotes,
                    "precommit": None
                    if idle
                    else validator.address not in status.missing_precommits,
                    # An error is news only while the peer is silent: one heard from since
                    # has recovered, and its old error would mislead the operator.
                    "last_error": "" if peer is None or connected else peer["last_error"],
                }
            )
        if state.waiting_to_start:
            summary = (
                f"idle at height {head.height}: no transactions waiting; the next block starts "
                "when one arrives or at the empty-block heartbeat"
            )
        elif status.height != head.height + 1:
            summary = f"starting height {head.height + 1}"
        else:
            step = status.step.name.lower()
            precommit = step == "precommit"
            missing_votes = status.missing_precommits if precommit else status.missing_prevotes
            kind = "precommits" if precommit else "prevotes"
            have = status.precommit_power if precommit else status.prevote_power
            missing = ", ".join(names.get(a, a.hex()[:12]) for a in missing_votes) or "none"
            unreachable = [str(v["name"]) for v in validators if not v["connected"]]
            summary = (
                f"waiting at height {status.height} round {status.round}, step {step}: "
                f"{kind} from validators with power {have} of {status.total_power} "
                f"(at least {2 * status.total_power // 3 + 1} needed); missing {kind} from "
                f"{missing}"
                + (f"; not heard from: {', '.join(unreachable)}" if unreachable else "")
                + (
                    f"; no proposal received for round {status.round}"
                    if not status.proposal_received and step == "propose"
                    else ""
                )
                + f"; last commit {since_commit_s} s ago"
            )
        member = any(address in names for address in mine)
        if self.observer:
            ahead = max(state.peer_heights.values(), default=head.height)
            summary = (
                f"observer at height {head.height}: follows the chain by fetching each block with "
                "its commit certificate and checking both; never proposes or votes"
                + (f"; catching up to height {ahead}" if ahead > head.height else "")
                + f"; last commit {since_commit_s} s ago"
            )
        elif not member:
            summary = (
                f"this node is not a validator at height {head.height + 1} (its key is not in "
                "the validator set): it follows the chain and does not vote; " + summary
            )
        return {
            "mode": "bft",
            "role": "observer" if self.observer else "validator",
            "validator": member,
            "height": head.height,
            "consensus_height": status.height,
            "round": status.round,
            "step": status.step.name.lower(),
            "locked_round": status.locked_round,
            "valid_round": status.valid_round,
            "proposal_received": status.proposal_received,
            "prevote_power": status.prevote_power,
            "precommit_power": status.precommit_power,
            "total_power": status.total_power,
            "seconds_since_commit": since_commit_s,
            "validators": validators,
            "peers": [
                {**entry, "heard_from": self.peer_connected(str(entry["peer"]), now_ms)}
                for entry in peers
            ],
            "evidence": len(state.evidence),
            "summary": summary,
        }
