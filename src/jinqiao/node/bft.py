"""The BFT driver: runs the pure Tendermint machine (``consensus.tendermint``) of a validator
against the real world — the peer network, the clock, the mempool, execution and the store.

All machine calls happen on the event loop, one at a time; execution and disk writes run in a
worker thread and their results come back as events. The loop per height:

* ``RequestValue`` → cut a block from the mempool, execute it (the candidate), ``ProposeValue``.
* ``BroadcastProposal`` / ``CastVote`` → the safety module signs (and durably records) → send to
  every peer and feed back to the machine. Before a precommit for a value is signed, that block is
  written to disk, so a restarted validator still holds the block it is locked on.
* ``ValidateBlock`` → re-execute the proposed block with signature checks and compare every field
  of the header (state root included) → ``BlockValidity``.
* ``Decide`` → store the candidate with the certificate in one LMDB transaction, drop its
  transactions from the mempool, start the next height with the validator set now in state.

Catch-up: every node announces its height once a second; a node that sees a peer ahead asks it for
the next committed block, checks the block's certificate against the validator set in force,
re-executes it, compares the header and commits it, until it has caught up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from jinqiao.apps.evidence import EVIDENCE, ReportArgs
from jinqiao.consensus.messages import (
    SignedProposal,
    SignedVote,
    verify_signed_proposal,
    verify_signed_vote,
)
from jinqiao.consensus.safety import SafetyError, SafetyModule
from jinqiao.consensus.tendermint import (
    BlockValidity,
    BroadcastProposal,
    CastVote,
    Decide,
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
from jinqiao.core.codec import CanonicalStruct, decode_stored, encode
from jinqiao.core.crypto import CryptoSuite
from jinqiao.core.errors import DecodeError, JinqiaoError, NodeFault
from jinqiao.core.genesis import ChainParameters
from jinqiao.core.hashing import header_hash
from jinqiao.core.limits import MAX_BLOCK_BYTES
from jinqiao.core.types import Block, CommitCertificate, CommittedBlock
from jinqiao.execution.runtime import InvalidBlock
from jinqiao.node.chain import Candidate, Chain
from jinqiao.node.mempool import Mempool
from jinqiao.node.metrics import NodeMetrics
from jinqiao.node.p2p import MessageHandler, P2PNetwork
from jinqiao.node.wire import (
    MAX_GOSSIP_TRANSACTIONS,
    BlockRequest,
    BlockResponse,
    ProposalMessage,
    StatusMessage,
    TransactionsMessage,
    VoteMessage,
    WireMessage,
    decode_message,
    encode_message,
)
from jinqiao.verify import VerificationError, verify_certificate

log = logging.getLogger(__name__)

MAX_CLOCK_DRIFT_MS = 10_000
STATUS_INTERVAL_S = 1.0
GOSSIP_INTERVAL_S = 0.02
CATCH_UP_TIMEOUT_S = 5.0
MAX_KEPT_BLOCKS = 64
MAX_EVIDENCE = 1_000


class NodeServices(Protocol):
    """What the driver needs from the node; ``node.service.Node`` provides it."""

    chain: Chain
    suite: CryptoSuite
    mempool: Mempool
    metrics: NodeMetrics

    def parameters(self) -> ChainParameters: ...

    def network_nodes(self) -> dict[str, str]: ...

    def commit_candidate(
        self, candidate: Candidate, certificate: CommitCertificate
    ) -> CommittedBlock: ...

    async def publish(self, committed: CommittedBlock) -> None: ...

    def admit_gossip(self, transactions: tuple[bytes, ...]) -> None: ...

    def committed_block(self, height: int) -> CommittedBlock | None: ...

    def submit_as_validator(self, contract: str, method: str, args: CanonicalStruct) -> None: ...


@dataclass
class Evidence:
    """Two conflicting signed messages by one validator (kept until put on chain)."""

    validator: bytes
    height: int
    round: int
    kind: str
    first: bytes
    second: bytes


class ConsensusDriver:
    def __init__(
        self,
        node: NodeServices,
        p2p_factory: Callable[[MessageHandler], P2PNetwork],
        safety: SafetyModule,
        config: TendermintConfig,
        locked_block_path: Path,
        empty_block_interval_s: float,
    ) -> None:
        self.node = node
        self.safety = safety
        self.config = config
        self.machine = Tendermint(config)
        self.p2p = p2p_factory(self._on_frame)
        self.locked_block_path = locked_block_path
        self.candidates: dict[bytes, Candidate] = {}
        self.blocks: dict[bytes, Block] = {}
        self.peer_heights: dict[str, int] = {}
        self.evidence: list[Evidence] = []
        self.last_commit_monotonic = time.monotonic()
        self.rounds_at_height: dict[int, int] = {}
        self._timers: set[asyncio.TimerHandle] = set()
        self._gossip: list[bytes] = []
        self._busy = asyncio.Lock()
        self._catch_up_asked: tuple[int, float] | None = None
        self._stopping = False
        self._last_status = 0.0
        self._waiting_to_start = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._fault: BaseException | None = None
        self._stop: asyncio.Event | None = None
        self.empty_block_interval_s = empty_block_interval_s
        self._load_locked_block()

    # -- life cycle ------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Take part in consensus until ``stop`` is set. A task of the driver that fails stops
        the driver, and ``run`` raises ``NodeFault`` (the node stops, loudly)."""
        self._stop = stop
        await self.p2p.start()
        try:
            self._start_height()
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=GOSSIP_INTERVAL_S)
                self._flush_gossip()
                self._tick()
                self._maybe_start_height()
                self.node.metrics.consensus_round.set(self.machine.round)
                self.node.metrics.peers_connected.set(len(self.p2p.connected()))
        finally:
            self._stopping = True
            for timer in self._timers:
                timer.cancel()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self.p2p.stop()
        if self._fault is not None:
            raise NodeFault(f"a consensus task failed: {self._fault!r}") from self._fault

    def _spawn(self, work: Coroutine[object, object, None]) -> None:
        """Run ``work`` as a task the driver keeps until it ends; a task that fails is a node
        fault (DESIGN.md §4 rule 5): logged as critical, and the driver stops."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if task.cancelled() or task.exception() is None or self._stopping:
            return
        log.critical(
            "consensus task %s failed; stopping", task.get_name(), exc_info=task.exception()
        )
        if self._fault is None:
            self._fault = task.exception()
        if self._stop is not None:
            self._stop.set()

    def _start_height(self) -> None:
        """Start the next height now if there is work, else once transactions arrive, another
        validator starts it, or the empty-block heartbeat is due (no stream of empty blocks)."""
        self._waiting_to_start = True
        self.p2p.set_nodes(self.node.network_nodes())  # the validator set may have changed
        self._maybe_start_height()

    def _maybe_start_height(self, *, prompted: bool = False) -> None:
        if not self._waiting_to_start:
            return
        heartbeat_due = time.monotonic() - self.last_commit_monotonic >= self.empty_block_interval_s
        if not (prompted or heartbeat_due or len(self.node.mempool) > 0):
            return
        self._waiting_to_start = False
        head = self.node.chain.head
        height = head.height + 1
        self.candidates = {
            h: c for h, c in self.candidates.items() if c.block.header.height == height
        }
        self.blocks = {h: b for h, b in self.blocks.items() if b.header.height == height}
        event = self.safety.start_height(height, head.validators)
        self._handle(event)
        for message in self.safety.signed_messages(height):
            if isinstance(message, SignedProposal):
                self._send_proposal(message)
            else:
                self._send_vote(message)

    # -- the machine -------------------------------------------------------------------------
    def _handle(self, event: object) -> None:
        outputs = self.machine.handle(event)  # type: ignore[arg-type]
        for output in outputs:
            self._carry_out(output)

    def _carry_out(self, output: Output) -> None:
        if isinstance(output, ScheduleTimeout):
            self._schedule(output)
        elif isinstance(output, RequestValue):
            self._spawn(self._build(output))
        elif isinstance(output, BroadcastProposal):
            try:
                signed = self.safety.sign_proposal(output.proposal)
            except SafetyError as refusal:
                log.warning("safety module refused a proposal: %s", refusal)
                return
            self._send_proposal(signed)
        elif isinstance(output, CastVote):
            self._cast(output)
        elif isinstance(output, ValidateBlock):
            self._spawn(self._validate(output))
        elif isinstance(output, Decide):
            self._spawn(self._decide(output))
        elif isinstance(output, VoteEquivocation):
            self.node.submit_as_validator(
                EVIDENCE,
                "report",
                ReportArgs(encode(output.first), encode(output.second)),
            )
            self._record_evidence(
                output.first.vote.validator,
                output.first.vote.height,
                output.first.vote.round,
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
        if output.polka and vote.block_hash in self.blocks:
            self._save_locked_block(self.blocks[vote.block_hash])
        try:
            signed = self.safety.sign_vote(vote, output.polka)
        except SafetyError as refusal:
            log.warning("safety module refused a vote: %s", refusal)
            return
        self._send_vote(signed)

    def _send_proposal(self, signed: SignedProposal) -> None:
        block = self.blocks.get(signed.proposal.block_hash)
        if block is None:
            log.warning("no block %s to propose", signed.proposal.block_hash.hex()[:12])
            return
        self.p2p.broadcast(encode_message(ProposalMessage(signed, block)))
        self._handle(ProposalReceived(signed))

    def _send_vote(self, signed: SignedVote) -> None:
        self.p2p.broadcast(encode_message(VoteMessage(signed)))
        self._handle(VoteReceived(signed))

    def _schedule(self, output: ScheduleTimeout) -> None:
        loop = asyncio.get_running_loop()
        event = TimeoutExpired(output.kind, output.height, output.round)

        def fire() -> None:
            self._timers.discard(handle)
            if not self._stopping:
                self._handle(event)

        handle = loop.call_later(output.duration_ms / 1000, fire)
        self._timers.add(handle)

    # -- proposing, validating, deciding -----------------------------------------------------
    async def _build(self, request: RequestValue) -> None:
        async with self._busy:
            if self.node.chain.head.height + 1 != request.height:
                return
            parameters = self.node.parameters()
            pending = self.node.mempool.peek(parameters.block_max_transactions, MAX_BLOCK_BYTES)
            candidate = await asyncio.to_thread(
                self.node.chain.execute,
                [p.transaction for p in pending],
                int(time.time() * 1000),
                self.safety.address,
                verify_signatures=False,  # each was verified at admission on this node
            )
        self.candidates[candidate.block_hash] = candidate
        self.blocks[candidate.block_hash] = candidate.block
        self._handle(ProposeValue(request.height, request.round, candidate.block_hash))

    async def _validate(self, request: ValidateBlock) -> None:
        valid = False
        if request.block_hash in self.candidates:
            valid = True
        else:
            block = self.blocks.get(request.block_hash)
            if block is not None:
                valid = await self._execute_proposed(block, request.block_hash)
        if self.node.chain.head.height + 1 == request.height:
            self._handle(BlockValidity(request.height, request.block_hash, valid))

    async def _execute_proposed(self, block: Block, block_hash: bytes) -> bool:
        header = block.header
        head = self.node.chain.head
        if header.height != head.height + 1 or header.previous_block_hash != head.block_hash:
            return False
        if header.time_ms > int(time.time() * 1000) + MAX_CLOCK_DRIFT_MS:
            log.warning("block %d from the future (%d ms)", header.height, header.time_ms)
            return False
        async with self._busy:
            if self.node.chain.head.height != head.height:
                return False
            try:
                candidate = await asyncio.to_thread(
                    self.node.chain.execute,
                    list(block.transactions),
                    header.time_ms,
                    header.proposer,
                    verify_signatures=True,
                    verified=self.node.mempool,  # looked up per transaction, not copied
                )
            except InvalidBlock as refusal:
                log.warning("invalid block %d: %s", header.height, refusal)
                return False
        if candidate.block.header != header or candidate.block_hash != block_hash:
            log.warning("block %d does not re-execute to its header", header.height)
            return False
        self.candidates[block_hash] = candidate
        return True

    async def _decide(self, decision: Decide) -> None:
        candidate = self.candidates.get(decision.block_hash)
        if candidate is None:
            raise NodeFault("decided a block that was never executed here", height=decision.height)
        async with self._busy:
            if self.node.chain.head.height + 1 != decision.height:
                return
            committed = await asyncio.to_thread(
                self.node.commit_candidate, candidate, decision.certificate
            )
        self.rounds_at_height[decision.height] = decision.round + 1
        self._observe_decision(decision)
        while len(self.rounds_at_height) > 1_000:
            del self.rounds_at_height[min(self.rounds_at_height)]
        self.last_commit_monotonic = time.monotonic()
        await self.node.publish(committed)
        self._start_height()

    def _observe_decision(self, decision: Decide) -> None:
        metrics = self.node.metrics
        metrics.rounds_per_height.observe(decision.round + 1)
        metrics.commit_interval_seconds.observe(time.monotonic() - self.last_commit_monotonic)
        signed = {signature.validator for signature in decision.certificate.signatures}
        for validator in self.node.chain.head.validators.validators:
            if validator.address not in signed:
                metrics.missing_votes.labels(validator.name).inc()

    # -- the network -------------------------------------------------------------------------
    async def _on_frame(self, peer: str, payload: bytes) -> None:
        """One frame from ``peer``. A frame that does not decode (every field is checked for
        range and length there) is logged and ignored; any other exception reaches ``P2PNetwork``,
        which disconnects the peer."""
        try:
            message = decode_message(payload)
        except DecodeError as error:
            log.warning("undecodable frame from %s: %s", peer, error.message)
            return
        await self._dispatch(peer, message)

    async def _dispatch(self, peer: str, message: WireMessage) -> None:
        members = self.node.chain.head.validators.by_address()
        next_height = self.node.chain.head.height + 1
        if isinstance(message, VoteMessage):
            if verify_signed_vote(self.node.suite, members, message.vote):
                if message.vote.vote.height == next_height:
                    self._maybe_start_height(prompted=True)
                self._handle(VoteReceived(message.vote))
        elif isinstance(message, ProposalMessage):
            signed = message.proposal
            block_hash = header_hash(self.node.suite, message.block.header)
            if block_hash != signed.proposal.block_hash:
                return
            if not verify_signed_proposal(self.node.suite, members, signed):
                return
            if message.block.header.height == next_height and len(self.blocks) < MAX_KEPT_BLOCKS:
                self.blocks[block_hash] = message.block
            if signed.proposal.height == next_height:
                self._maybe_start_height(prompted=True)
            self._handle(ProposalReceived(signed))
        elif isinstance(message, TransactionsMessage):
            await asyncio.to_thread(self.node.admit_gossip, message.transactions)
        elif isinstance(message, StatusMessage):
            self.peer_heights[peer] = message.height
        elif isinstance(message, BlockRequest):
            committed = await asyncio.to_thread(self.node.committed_block, message.height)
            if committed is not None:
                self.p2p.send(peer, encode_message(BlockResponse(committed)))
        elif isinstance(message, BlockResponse):
            await self._catch_up_with(message.committed)

    def gossip(self, raw_transaction: bytes) -> None:
        """Called for every transaction this node admitted from a client."""
        if len(self._gossip) < MAX_GOSSIP_TRANSACTIONS:
            self._gossip.append(raw_transaction)

    def _flush_gossip(self) -> None:
        if self._gossip:
            batch, self._gossip = self._gossip, []
            self.p2p.broadcast(encode_message(TransactionsMessage(tuple(batch))))

    # -- catch-up ----------------------------------------------------------------------------
    def _tick(self) -> None:
        now = time.monotonic()
        if now - self._last_status >= STATUS_INTERVAL_S:
            self._last_status = now
            self.p2p.broadcast(encode_message(StatusMessage(self.node.chain.head.height)))
            self._resend_own_messages(now)
        head = self.node.chain.head.height
        ahead = [peer for peer, height in self.peer_heights.items() if height > head]
        if not ahead:
            return
        if self._catch_up_asked is not None:
            asked_height, asked_at = self._catch_up_asked
            if asked_height == head + 1 and now - asked_at < CATCH_UP_TIMEOUT_S:
                return
        peer = max(ahead, key=lambda name: (self.peer_heights[name], name))
        self._catch_up_asked = (head + 1, now)
        self.p2p.send(peer, encode_message(BlockRequest(head + 1)))

    def _resend_own_messages(self, now: float) -> None:
        """Votes are sent once; a peer that was down or partitioned when they went out would
        never see them. While a height is not decided, re-send this validator's latest signed
        proposal and votes of the height once a second (receivers ignore duplicates)."""
        if self._waiting_to_start or now - self.last_commit_monotonic < STATUS_INTERVAL_S:
            return
        height = self.node.chain.head.height + 1
        for message in self.safety.signed_messages(height):
            if isinstance(message, SignedProposal):
                block = self.blocks.get(message.proposal.block_hash)
                if block is not None:
                    self.p2p.broadcast(encode_message(ProposalMessage(message, block)))
            else:
                self.p2p.broadcast(encode_message(VoteMessage(message)))

    async def _catch_up_with(self, committed: CommittedBlock) -> None:
        header = committed.block.header
        head = self.node.chain.head
        if header.height != head.height + 1 or header.previous_block_hash != head.block_hash:
            return
        try:
            verify_certificate(
                self.node.suite, header.chain_id, head.validators, header, committed.certificate
            )
        except VerificationError as failure:
            log.warning("catch-up block %d refused: %s", header.height, failure.message)
            return
        block_hash = header_hash(self.node.suite, header)
        if not await self._execute_proposed(committed.block, block_hash):
            return
        candidate = self.candidates[block_hash]
        async with self._busy:
            if self.node.chain.head.height != head.height:
                return
            stored = await asyncio.to_thread(
                self.node.commit_candidate, candidate, committed.certificate
            )
        log.info("caught up block %d", header.height)
        self._catch_up_asked = None
        self.last_commit_monotonic = time.monotonic()
        await self.node.publish(stored)
        self.machine = Tendermint(self.config)  # a fresh machine for the new height
        self._start_height()

    # -- diagnosis ---------------------------------------------------------------------------
    def diagnosis(self) -> dict[str, object]:
        """Where consensus stands, and in words why it is not committing when it is not."""
        head = self.node.chain.head
        names = {v.address: v.name for v in head.validators.validators}
        peers = {entry["peer"]: entry for entry in self.p2p.status()}
        status = self.machine.status()
        since_commit_s = round(time.monotonic() - self.last_commit_monotonic, 1)
        idle = self._waiting_to_start or status.height != head.height + 1
        validators = []
        for validator in head.validators.validators:
            peer = peers.get(validator.name)
            validators.append(
                {
                    "name": validator.name,
                    "address": validator.address.hex(),
                    "power": validator.power,
                    "self": validator.address == self.safety.address,
                    "connected": True
                    if validator.address == self.safety.address
                    else bool(peer and peer["connected"]),
                    "prevote": None if idle else validator.address not in status.missing_prevotes,
                    "precommit": None
                    if idle
                    else validator.address not in status.missing_precommits,
                    "last_error": "" if peer is None else peer["last_error"],
                }
            )
        if self._waiting_to_start:
            summary = (
                f"idle at height {head.height}: no transactions waiting; the next block starts "
                "when one arrives or at the empty-block heartbeat"
            )
        elif status.height != head.height + 1:
            summary = f"starting height {head.height + 1}"
        else:
            step = status.step.name.lower()
            missing_votes = (
                status.missing_prevotes if step != "precommit" else (status.missing_precommits)
            )
            kind = "precommits" if step == "precommit" else "prevotes"
            have = status.precommit_power if step == "precommit" else status.prevote_power
            missing = ", ".join(names.get(a, a.hex()[:12]) for a in missing_votes) or "none"
            unreachable = [str(v["name"]) for v in validators if not v["connected"]]
            summary = (
                f"waiting at height {status.height} round {status.round}, step {step}: "
                f"{kind} from validators with power {have} of {status.total_power} "
                f"(at least {2 * status.total_power // 3 + 1} needed); missing {kind} from "
                f"{missing}"
                + (f"; not connected: {', '.join(unreachable)}" if unreachable else "")
                + (
                    f"; no proposal received for round {status.round}"
                    if not status.proposal_received and step == "propose"
                    else ""
                )
                + f"; last commit {since_commit_s} s ago"
            )
        member = self.safety.address in names
        if not member:
            summary = (
                f"this node is not a validator at height {head.height + 1} (its key is not in "
                "the validator set): it follows the chain and does not vote; " + summary
            )
        return {
            "mode": "bft",
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
            "peers": list(peers.values()),
            "evidence": len(self.evidence),
            "summary": summary,
        }

    # -- evidence and the locked block -------------------------------------------------------
    def _record_evidence(
        self, validator: bytes, height: int, round_: int, kind: str, first: bytes, second: bytes
    ) -> None:
        log.warning(
            "equivocation by %s at height %d round %d (%s)", validator.hex(), height, round_, kind
        )
        names = {v.address: v.name for v in self.node.chain.head.validators.validators}
        self.node.metrics.evidence.labels(names.get(validator, validator.hex())).inc()
        if len(self.evidence) < MAX_EVIDENCE:
            self.evidence.append(Evidence(validator, height, round_, kind, first, second))

    def _save_locked_block(self, block: Block) -> None:
        temporary = self.locked_block_path.with_name(self.locked_block_path.name + ".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(encode(block))
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, self.locked_block_path)

    def _load_locked_block(self) -> None:
        try:
            raw = self.locked_block_path.read_bytes()
        except FileNotFoundError:
            return
        try:
            block = decode_stored(raw, Block)
        except JinqiaoError as error:
            raise NodeFault(f"{self.locked_block_path} is damaged: {error}") from error
        if block.header.height == self.node.chain.head.height + 1:
            self.blocks[header_hash(self.node.suite, block.header)] = block
