"""The asyncio shell of the consensus driver: carries out what ``node.driver.Driver`` decides.

The driver is sans I/O (events in, actions out); this shell owns the I/O: the peer network
(``node.p2p``, mutual TLS), the clock and timers, the worker thread that executes and stores
blocks, the locked-block file, and the node's mempool and metrics. All driver calls happen on the
event loop, one at a time; execution and disk writes run in a worker thread, one job at a time
and in order, and their results come back to the driver as events.

Every task the shell starts is kept; one that fails unexpectedly stops the node loudly (the
exception is logged as critical and ``run`` raises), never silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, Protocol

from jinqiao.apps.evidence import EVIDENCE, ReportArgs
from jinqiao.consensus.safety import SigningKeys
from jinqiao.consensus.tendermint import TendermintConfig
from jinqiao.core.codec import CanonicalStruct, decode_stored, encode
from jinqiao.core.crypto import CryptoSuite
from jinqiao.core.errors import DecodeError, JinqiaoError, NodeFault
from jinqiao.core.genesis import ChainParameters
from jinqiao.core.types import Block, CommitCertificate, CommittedBlock
from jinqiao.fileio import save_atomically
from jinqiao.node import jobs
from jinqiao.node.block_cost import BlockBudget, ExecutionCosts
from jinqiao.node.chain import Candidate, Chain
from jinqiao.node.driver import (
    Action,
    AdmitGossip,
    BlockBuilt,
    BlockCommitted,
    BlockExecuted,
    BuildBlock,
    CommitBlock,
    Decided,
    Driver,
    DriverEvent,
    Evidence,
    EvidenceRecorded,
    ExecuteBlock,
    FrameReceived,
    Note,
    ReportEvidence,
    SaveLockedBlock,
    Send,
    ServeBlock,
    ServeStateSync,
    SetTimer,
    Started,
    Tick,
    TimerFired,
    TransactionsAdmitted,
)
from jinqiao.node.mempool import Mempool
from jinqiao.node.metrics import NodeMetrics
from jinqiao.node.p2p import MessageHandler, P2PNetwork
from jinqiao.node.wire import (
    MAX_GOSSIP_TRANSACTIONS,
    BlockResponse,
    StateSyncRequest,
    WireMessage,
    decode_message,
    encode_message,
)

log = logging.getLogger(__name__)

TICK_INTERVAL_S = 0.02
MAX_STATE_SYNC_QUEUED_BYTES = 32 * 1024 * 1024
"""State-sync answers are held back while this much waits to be written to the asking peer."""
MAX_STATE_SYNC_ANSWERS = 4
"""State-sync answers read from disk at once (for every peer together)."""


class NodeServices(Protocol):
    """What the shell needs from the node; ``node.service.Node`` provides it."""

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

    def answer_state_sync(self, request: StateSyncRequest) -> WireMessage | None: ...

    def submit_as_validator(self, contract: str, method: str, args: CanonicalStruct) -> None: ...


def now_ms() -> int:
    return int(time.time() * 1000)


class ConsensusDriver:
    def __init__(
        self,
        node: NodeServices,
        p2p_factory: Callable[[MessageHandler], P2PNetwork],
        safety: SigningKeys | None,
        config: TendermintConfig,
        locked_block_path: Path,
        *,
        block_interval_ms: int,
        empty_block_interval_ms: int,
        block_execution_budget_ms: int | None = None,
    ) -> None:
        self.node = node
        self.locked_block_path = locked_block_path
        self.execution_costs = ExecutionCosts()
        """What this node measured executing blocks, per contract and method (for the cut)."""
        self.block_budget = (
            None
            if block_execution_budget_ms is None
            else BlockBudget(block_execution_budget_ms / 1000, self.execution_costs)
        )
        self.core = Driver(
            node.suite,
            safety,
            config,
            block_interval_ms=block_interval_ms,
            empty_block_interval_ms=empty_block_interval_ms,
            keep_locked_block=self._save_locked_block,
        )
        self.p2p = p2p_factory(self._on_frame)
        self._timers: set[asyncio.TimerHandle] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._jobs = asyncio.Lock()
        self._state_sync_answers = asyncio.Semaphore(MAX_STATE_SYNC_ANSWERS)
        self._gossip: list[bytes] = []
        self._gossip_lock = threading.Lock()
        self._stopping = False
        self._stop: asyncio.Event | None = None
        self._failure: BaseException | None = None

    @property
    def evidence(self) -> list[Evidence]:
        return self.core.state.evidence

    # -- life cycle ------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        self._stop = stop
        await self.p2p.start()
        try:
            self.p2p.set_nodes(self.node.network_nodes())
            self._feed(Started(self.node.chain.head, self._load_locked_block()))
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=TICK_INTERVAL_S)
                admitted = self._take_gossip()
                if admitted:
                    self._feed(TransactionsAdmitted(admitted))
                self._feed(Tick(len(self.node.mempool)))
                self.node.metrics.consensus_round.set(self.core.machine.round)
                self.node.metrics.peers_connected.set(len(self.p2p.connected()))
        finally:
            self._stopping = True
            for timer in self._timers:
                timer.cancel()
            for task in list(self._tasks):
                task.cancel()
            for task in list(self._tasks):
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self.p2p.stop()
        if self._failure is not None:
            raise NodeFault(f"a consensus task failed: {self._failure!r}") from self._failure

    def gossip(self, raw_transaction: bytes) -> None:
        """Called (from any thread) for every transaction this node admitted from a client."""
        with self._gossip_lock:
            if len(self._gossip) < MAX_GOSSIP_TRANSACTIONS:
                self._gossip.append(raw_transaction)

    def _take_gossip(self) -> tuple[bytes, ...]:
        with self._gossip_lock:
            batch, self._gossip = self._gossip, []
        return tuple(batch)

    def diagnosis(self) -> dict[str, object]:
        """Where consensus stands, and in words why it is not committing when it is not."""
        return self.core.diagnosis(now_ms(), self.p2p.status())

    # -- feeding the driver, carrying out its actions --------------------------------------
    def _feed(self, event: DriverEvent) -> None:
        if self._stopping:
            return
        for action in self.core.handle(event, now_ms()):
            self._perform(action)

    def _perform(self, action: Action) -> None:
        if isinstance(action, Send):
            if action.peer is None:
                self.p2p.broadcast(action.payload)
            else:
                self.p2p.send(action.peer, action.payload)
        elif isinstance(action, SetTimer):
            self._set_timer(action)
        elif isinstance(action, BuildBlock):
            self._start(self._build(action))
        elif isinstance(action, ExecuteBlock):
            self._start(self._execute(action))
        elif isinstance(action, SaveLockedBlock):
            self._save_locked_block(action.block)
        elif isinstance(action, CommitBlock):
            self._start(self._commit(action))
        elif isinstance(action, ServeBlock):
            self._start(self._serve(action))
        elif isinstance(action, ServeStateSync):
            self._start(self._serve_state_sync(action))
        elif isinstance(action, AdmitGossip):
            self._start(asyncio.to_thread(self.node.admit_gossip, action.raw_transactions))
        elif isinstance(action, ReportEvidence):
            args = ReportArgs(encode(action.first), encode(action.second))
            self.node.submit_as_validator(EVIDENCE, "report", args)
        elif isinstance(action, Decided):
            self._observe(action)
        elif isinstance(action, EvidenceRecorded):
            names = {v.address: v.name for v in self.node.chain.head.validators.validators}
            label = names.get(action.validator, action.validator.hex())
            self.node.metrics.evidence.labels(label).inc()
        elif isinstance(action, Note):
            log.log(logging.WARNING if action.level == "warning" else logging.INFO, action.message)

    def _set_timer(self, action: SetTimer) -> None:
        def fire() -> None:
            self._timers.discard(handle)
            self._feed(TimerFired(action.timeout))

        handle = asyncio.get_running_loop().call_later(action.delay_ms / 1000, fire)
        self._timers.add(handle)

    def _start(self, job: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(job)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if task.cancelled() or self._stopping:
            return
        failure = task.exception()
        if failure is None:
            return
        log.critical("a consensus task failed; stopping the node", exc_info=failure)
        self._failure = failure
        self._stopping = True
        if self._stop is not None:
            self._stop.set()

    def _observe(self, decided: Decided) -> None:
        metrics = self.node.metrics
        metrics.rounds_per_height.observe(decided.round + 1)
        metrics.commit_interval_seconds.observe(decided.interval_ms / 1000)
        for name in decided.missing_validators:
            metrics.missing_votes.labels(name).inc()

    # -- jobs in the worker thread (one at a time, in order) -------------------------------
    async def _build(self, action: BuildBlock) -> None:
        async with self._jobs:
            candidate = await asyncio.to_thread(
                jobs.build_block, self.node.chain, self.node.mempool, action, self.block_budget
            )
        self._measure(candidate)
        self._feed(BlockBuilt(action.height, action.round, candidate))

    async def _execute(self, action: ExecuteBlock) -> None:
        async with self._jobs:
            candidate, reason = await asyncio.to_thread(
                jobs.execute_block, self.node.chain, self.node.mempool, action
            )
        self._measure(candidate)
        self._feed(BlockExecuted(action.block_hash, candidate, reason))

    def _measure(self, candidate: Candidate | None) -> None:
        if candidate is not None:
            self.execution_costs.observe(candidate.block.transactions, candidate.execution_s)

    async def _commit(self, action: CommitBlock) -> None:
        async with self._jobs:
            committed = await asyncio.to_thread(
                self.node.commit_candidate, action.candidate, action.certificate
            )
        self.p2p.set_nodes(self.node.network_nodes())  # the validator set may have changed
        self._feed(BlockCommitted(committed, self.node.chain.head))
        await self.node.publish(committed)

    async def _serve(self, action: ServeBlock) -> None:
        committed = await asyncio.to_thread(self.node.committed_block, action.height)
        if committed is not None:
            self.p2p.send(action.peer, encode_message(BlockResponse(committed)))

    async def _serve_state_sync(self, action: ServeStateSync) -> None:
        """Answer a joining peer (ADR 0054) while at most ``MAX_STATE_SYNC_QUEUED_BYTES`` wait to
        be written to it: a peer that asks for chunks and does not read them gets no more (it
        asks again after its timeout), so it cannot make this node hold gigabytes."""
        if (
            self.p2p.queued_bytes(action.peer) > MAX_STATE_SYNC_QUEUED_BYTES
            or self._state_sync_answers.locked()  # busy: dropped, not queued (a flood stays small)
        ):
            return
        async with self._state_sync_answers:
            answer = await asyncio.to_thread(self.node.answer_state_sync, action.request)
        if answer is not None and self.p2p.queued_bytes(action.peer) <= MAX_STATE_SYNC_QUEUED_BYTES:
            self.p2p.send(action.peer, encode_message(answer))

    # -- the network -----------------------------------------------------------------------
    async def _on_frame(self, peer: str, payload: bytes) -> None:
        """One frame from ``peer``. A frame that does not decode (every field is checked for
        range and length there) is logged and ignored; any other exception reaches ``P2PNetwork``,
        which disconnects the peer."""
        try:
            message = decode_message(payload)
        except DecodeError as error:
            log.warning("undecodable frame from %s: %s", peer, error.message)
            return
        self._feed(FrameReceived(peer, message))

    # -- the locked block ------------------------------------------------------------------
    def _save_locked_block(self, block: Block) -> None:
        """Durably (temporary file, fsync, rename, directory fsync), called by the driver
        before the safety module records the precommit that locks on it, so that record never
        names a block this node lost; a failure is a node fault."""
        save_atomically(self.locked_block_path, encode(block), error=NodeFault)

    def _load_locked_block(self) -> Block | None:
        try:
            raw = self.locked_block_path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            return decode_stored(raw, Block)
        except JinqiaoError as error:
            raise NodeFault(f"{self.locked_block_path} is damaged: {error}") from error
