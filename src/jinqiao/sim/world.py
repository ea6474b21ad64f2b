"""The simulated world: validators running the node's own consensus driver, chain, mempool,
admission and store, on a simulated network and clock, with a client sending signed transfers.

Each simulated node is what ``node.bft`` runs in a process, with the I/O replaced:

* the driver (``node.driver.Driver``) and its safety module, as in production;
* block jobs (``node.jobs``: build, execute, commit) on the real ``Chain`` (runtime, contracts,
  sparse Merkle tree) and ``Mempool``, one at a time in order, each taking simulated time — as
  the worker thread does;
* admission (``node.admission``) of client and gossiped transactions: checked against a snapshot
  when it starts and put in the mempool when it ends, as an API thread does, so a block may
  commit in between;
* the store (``node.storage.Store``) over ``MemoryTables``, which — with the safety record and the
  locked block — survives a crash, as a disk does; everything else is lost.

Messages are the encoded frames the driver emits, decoded on arrival as ``node.bft`` decodes them.
The network drops, delays, reorders and duplicates them, and partitions instances, until GST.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import heapq
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec

from jinqiao.apps import default_contracts
from jinqiao.apps.payments.model import (
    PAYMENTS,
    CaptureArgs,
    CycleTotals,
    OpenCycleArgs,
    cycle_totals_key,
)
from jinqiao.apps.payments.samples import (
    CLEARING_ROLES,
    CURRENCY,
    INSTITUTION_ROLES,
    authorization,
    payments_contract_config,
)
from jinqiao.apps.token import TOKEN, Holding, TransferArgs, balance_key, supply_key
from jinqiao.consensus.safety import MemorySafetyStorage, SafetyModule, SigningKeys
from jinqiao.consensus.tendermint import TendermintConfig
from jinqiao.contracts.lifecycle import Lifecycle, MemberContracts
from jinqiao.core.codec import decode_stored, encode
from jinqiao.core.crypto import (
    DEFAULT_SUITE,
    CryptoSuite,
    Signer,
    Sm2Signer,
    Sm2Sm3,
    get_suite,
)
from jinqiao.core.errors import DecodeError, InvalidInput, NodeFault, Rejection
from jinqiao.core.genesis import (
    ChainParameters,
    Genesis,
    GenesisAccount,
    GenesisOrganization,
    GenesisValidator,
)
from jinqiao.core.hashing import header_hash, transaction_hash, transaction_signing_bytes
from jinqiao.core.types import (
    Block,
    CommittedBlock,
    SignedTransaction,
    TransactionBody,
    ValidatorSet,
)
from jinqiao.execution.api import contract_address
from jinqiao.execution.runtime import Runtime
from jinqiao.execution.state import CachedReader, full_key
from jinqiao.node import admission, jobs
from jinqiao.node.chain import Candidate, Chain
from jinqiao.node.driver import (
    Action,
    AdmitGossip,
    BlockBuilt,
    BlockCommitted,
    BlockExecuted,
    BuildBlock,
    CommitBlock,
    Driver,
    DriverEvent,
    ExecuteBlock,
    FrameReceived,
    Note,
    ReportEvidence,
    SaveLockedBlock,
    Send,
    ServeBlock,
    SetTimer,
    Started,
    Tick,
    TimerFired,
    TransactionsAdmitted,
)
from jinqiao.node.mempool import Mempool, MempoolFull, PendingTransaction, SenderQuotaExceeded
from jinqiao.node.storage import MemoryTables, Snapshot, Store, StoreTorn, WriteBatch
from jinqiao.node.wire import BlockResponse, decode_message, encode_message
from jinqiao.sim.members import CONTRACT as MEMBER_CONTRACT
from jinqiao.sim.members import MemberProgress, MemberStep, member_script
from jinqiao.sim.plan import (
    Behaviour,
    RandomSource,
    SimPlan,
    WriteCrash,
    chance,
    instance_names,
)
from jinqiao.sim.rotation import ROTATED_VALIDATOR, rotation_script
from jinqiao.verify import VerificationError, verify_certificate

CHAIN_ID = "jinqiao-sim"
ASSET = "CNY"
GENESIS_TIME_MS = 1_767_225_600_000  # 2026-01-01, the simulated clock's zero
TICK_MS = 20
PAYERS = 4
PAYMENT_NONCES = 1_000_000
"""Payments transactions take nonces from here on (transfers take their number)."""
OPENING_BALANCE_MINOR = 10**9
MAX_EVENTS = 3_000_000
MEMBER_SCRIPT_START_MS = 200
MEMBER_ATTEMPTS = 4
MEMBER_RETRY_MS = 600


class SimulationFailure(NodeFault):
    """An invariant broke: the message names it, the seed and the command that replays it."""


class _CrashPoint(Exception):
    """Raised by a durable write that the plan crashes the node after (never escapes a run)."""


class _Disk:
    """Counts a node's durable writes and crashes it after the one the plan names."""

    def __init__(self, crashes: list[WriteCrash]) -> None:
        self.crashes = crashes
        self.writes = 0
        self.pending: WriteCrash | None = None
        self.last_was_batch = False
        """Whether the newest durable write was a store batch (the only write that can tear)."""

    def wrote(self, *, batch: bool = False) -> None:
        self.writes += 1
        self.last_was_batch = batch
        for crash in self.crashes:
            if crash.write == self.writes:
                self.crashes.remove(crash)
                self.pending = crash
                raise _CrashPoint(crash.instance)


class _SimSafetyStorage(MemorySafetyStorage):
    def __init__(self, disk: _Disk) -> None:
        super().__init__()
        self.disk = disk

    def save(self, data: bytes) -> None:
        super().save(data)
        self.disk.wrote()


class _SimTables(MemoryTables):
    def __init__(self, disk: _Disk) -> None:
        super().__init__()
        self.disk = disk

    @contextlib.contextmanager
    def write(self) -> Iterator[WriteBatch]:
        with super().write() as batch:
            yield batch
        self.disk.wrote(batch=True)

    def lose_last_batch(self) -> None:
        """Forget the newest batch, as a disk that acknowledged a sync it never made."""
        newest = self.batches
        for table in self.versions.values():
            for key in list(table):
                table[key] = [(v, value) for v, value in table[key] if v != newest]
                if not table[key]:
                    del table[key]
        self.batches -= 1

    def tear_last_batch(self, keep: int) -> None:
        """Keep only the first ``keep`` writes of the newest batch, as a disk that wrote part of
        a transaction's pages before the power went."""
        newest = self.batches
        for table_name, key in self.last_batch[keep:]:
            table = self.versions[table_name]
            table[key] = [(v, value) for v, value in table[key] if v != newest]
            if not table[key]:
                del table[key]


@dataclass
class Durable:
    """What survives a crash, as a disk does: the store, the safety records, the locked block."""

    disk: _Disk
    tables: _SimTables
    safety: _SimSafetyStorage
    next_safety: _SimSafetyStorage
    """The next key's record (scenario ``key_rotation``; unused by a node without one)."""
    locked_block: Block | None = None
    torn: bool = False
    """The store's newest batch was torn and the node has not restarted since."""

    @classmethod
    def new(cls, crashes: list[WriteCrash]) -> Durable:
        disk = _Disk(crashes)
        return cls(disk, _SimTables(disk), _SimSafetyStorage(disk), _SimSafetyStorage(disk))


@dataclass
class Volatile:
    """What a crash loses: the process's memory."""

    store: Store
    chain: Chain
    mempool: Mempool
    driver: Driver
    jobs: list[Callable[[], DriverEvent | None]] = field(default_factory=list)
    job_running: bool = False


@dataclass
class SimNode:
    instance: str
    validator: int
    name: str
    signer: Signer
    behaviour: Behaviour
    skew_ms: int
    durable: Durable
    live: Volatile | None = None
    incarnation: int = 0
    next_signer: Signer | None = None
    """The validator's next consensus key (scenario ``key_rotation``)."""

    @property
    def correct(self) -> bool:
        return self.behaviour is Behaviour.HONEST


@dataclass(order=True)
class _Scheduled:
    at_ms: int
    sequence: int
    kind: str = field(compare=False)
    instance: str = field(compare=False)
    incarnation: int = field(compare=False)
    payload: Any = field(compare=False)


@dataclass
class SimCounters:
    events: int = 0
    messages_sent: int = 0
    messages_dropped: int = 0
    messages_duplicated: int = 0
    max_round: int = 0
    invalid_verdicts: int = 0
    catch_up_commits: int = 0
    block_requests: int = 0
    blocks_committed: int = 0
    transactions_committed: int = 0
    crashes: int = 0
    payments_captured: int = 0
    torn_writes: int = 0
    torn_detected: int = 0
    evidence_reports: int = 0
    refused_submissions: int = 0
    member_packages_committed: int = 0
    member_migrations: int = 0
    member_calls_ok: int = 0
    member_paused_rejections: int = 0
    next_key_certificates: int = 0
    """Committed blocks whose certificate holds the next key's precommit (``key_rotation``)."""
    next_key_signatures: int = 0
    """Votes and proposals the next key signed (its safety record's saves)."""
    next_key_in_use: int = 0
    """Running nodes whose driver signs as the next key at the end of the run."""


@dataclass(frozen=True)
class SimResult:
    scenario: str
    seed: int
    height: int
    simulated_ms: int
    counters: SimCounters
    digest: str
    """Hash of every correct node's committed block hashes: equal seeds give equal digests."""


def replay_command(scenario: str, seed: int, suite: str = DEFAULT_SUITE) -> str:
    suite_option = "" if suite == DEFAULT_SUITE else f" --suite {suite}"
    return f"jinqiao sim --scenario {scenario} --seed {seed}{suite_option}"


def _signer(suite: CryptoSuite, rng: RandomSource) -> Signer:
    """A key drawn from the seeded generator. 32 random bytes are an Ed25519 secret; for SM2 they
    miss the range [1, n-2] about once in 2**32 draws, and the next draw is taken. SM2 signs with
    a random nonce: here the nonces come from a generator seeded from ``rng`` too, or the same
    seed would sign (and so hash) its transactions differently on every run."""
    for _attempt in range(8):
        secret = bytes(rng.randint(0, 255) for _ in range(suite.secret_key_bytes))
        try:
            if isinstance(suite, Sm2Sm3):
                nonces = random.Random(rng.randint(0, 2**63))
                return Sm2Signer(suite, secret, nonce_source=nonces.randbytes)
            return suite.signer(secret)
        except InvalidInput:
            continue
    raise NodeFault(f"eight random draws were not {suite.name} secret keys")


def _payment_roles(organization: int) -> tuple[str, ...]:
    """``org-0`` clears and settles card payments; the others issue and acquire them."""
    return CLEARING_ROLES if organization == 0 else INSTITUTION_ROLES


def sim_genesis(
    validators: list[Signer],
    payers: list[Signer],
    powers: list[int],
    suite: CryptoSuite,
) -> Genesis:
    """``validators`` organizations, each with one validator; payer accounts holding CNY, the
    first of ``org-0`` its clearing house, each first of another organization a card issuer and
    acquirer (``apps.payments.samples``); every key of ``suite``."""
    organizations = tuple(
        GenesisOrganization(
            f"org-{i}", f"Simulated Bank {i}", ("bank", "currency_issuer", *_payment_roles(i))
        )
        for i in range(len(validators))
    )
    accounts = tuple(
        GenesisAccount(
            f"payer-{i}",
            f"org-{i % len(validators)}",
            s.public_key.hex(),
            ("admin", *_payment_roles(i % len(validators))),
        )
        for i, s in enumerate(payers)
    )
    institutions: list[dict[str, Any]] = [
        {
            "id": f"org-{i}",
            "roles": list(_payment_roles(i)),
            "settlement_account": payers[i].address.hex(),
        }
        for i in range(min(len(validators), len(payers)))
    ]
    return Genesis(
        chain_id=CHAIN_ID,
        genesis_time_ms=GENESIS_TIME_MS,
        crypto_suite=suite.name,
        organizations=organizations,
        accounts=accounts,
        validators=tuple(
            GenesisValidator(f"v{i}", f"org-{i}", s.public_key.hex(), powers[i])
            for i, s in enumerate(validators)
        ),
        parameters=ChainParameters(),
        contracts={
            TOKEN: {
                "tiers": {
                    "open": {
                        "max_balance_minor": 10**15,
                        "max_payment_minor": 10**15,
                        "daily_limit_minor": 10**15,
                    }
                },
                "assets": [
                    {
                        "symbol": ASSET,
                        "name": "Simulated yuan",
                        "scale": 2,
                        "issuer": "org-0",
                        "default_tier": "open",
                    }
                ],
                "holdings": [
                    {
                        "asset": ASSET,
                        "address": s.address.hex(),
                        "balance_minor": OPENING_BALANCE_MINOR,
                    }
                    for s in payers
                ],
            },
            PAYMENTS: {
                "institutions": institutions,
                **payments_contract_config([entry["id"] for entry in institutions[1:]]),
            },
        },
    )


class Simulation:
    def __init__(
        self,
        scenario: str,
        seed: int,
        plan: SimPlan,
        rng: RandomSource,
        *,
        suite: str = DEFAULT_SUITE,
    ) -> None:
        plan.check()
        self.suite = get_suite(suite)
        self.scenario = scenario
        self.seed = seed
        self.plan = plan
        self.rng = rng
        self.now_ms = 0
        self.queue: list[_Scheduled] = []
        self.sequence = 0
        self.counters = SimCounters()
        validator_keys = [_signer(self.suite, rng) for _ in range(plan.validators)]
        self.payers = [_signer(self.suite, rng) for _ in range(PAYERS)]
        # Drawn only when used, so the other scenarios' seeds replay as before.
        self.next_key = _signer(self.suite, rng) if plan.key_rotation else None
        powers = [plan.power(i) for i in range(plan.validators)]
        self.genesis = sim_genesis(validator_keys, self.payers, powers, self.suite)
        self.gst_ms = plan.gst_ms()
        self.nodes: dict[str, SimNode] = {}
        for instance, validator in instance_names(plan):
            self.nodes[instance] = SimNode(
                instance=instance,
                validator=validator,
                name=f"v{validator}",
                signer=validator_keys[validator],
                behaviour=plan.behaviour(validator),
                skew_ms=rng.randint(-plan.skew_ms, plan.skew_ms),
                durable=Durable.new([c for c in plan.write_crashes if c.instance == instance]),
                next_signer=self.next_key if validator == ROTATED_VALIDATOR else None,
            )
        self.committed: dict[int, tuple[bytes, bytes]] = {}
        """height → (block hash, state root) first committed by a correct node."""
        self.acknowledged: dict[bytes, tuple[int, int]] = {}
        """transaction hash → (height, index): a client saw it committed."""
        self.sent: dict[bytes, int] = {}
        self.height_at_gst: int | None = None

    # -- running ------------------------------------------------------------------------------
    def run(self) -> SimResult:
        for node in self.nodes.values():
            self._schedule(0, "restart", node.instance, None)  # the first start
        for crash in self.plan.crashes:
            self._schedule(crash.at_ms, "crash", crash.instance, None)
            self._schedule(crash.restart_ms, "restart", crash.instance, None)
        for number in range(self.plan.transfers):
            self._schedule(self.rng.randint(0, self.plan.load_until_ms), "submit", "", number)
        self._schedule_payments()
        if self.plan.member_contracts:
            for step in member_script(self.suite, self.plan.validators, MEMBER_SCRIPT_START_MS):
                self._schedule(step.at_ms, "member", "", (step, 1))
        if self.next_key is not None:
            rotated = self.nodes[f"v{ROTATED_VALIDATOR}"].signer.address
            script = rotation_script(
                self.plan.validators, rotated, self.next_key.public_key, MEMBER_SCRIPT_START_MS
            )
            for step in script:
                self._schedule(step.at_ms, "member", "", (step, 1))
        self._schedule(self.gst_ms, "gst", "", None)
        deadline_ms = max(self.gst_ms, self.plan.load_until_ms) + self.plan.liveness_bound_ms
        while self.queue:
            item = heapq.heappop(self.queue)
            if item.at_ms > deadline_ms:
                break
            self.now_ms = item.at_ms
            self.counters.events += 1
            if self.counters.events > MAX_EVENTS:
                raise self.fail(f"over {MAX_EVENTS} events: the run does not settle")
            try:
                self._dispatch(item)
            except _CrashPoint as point:
                self._crash_after_write(self.nodes[str(point.args[0])])
            except SimulationFailure:
                raise
            except Exception as fault:
                raise self.fail(
                    f"node fault on {item.instance or 'the client'}: {fault!r}"
                ) from fault
            if self._done():
                break
        if not self._done():
            raise self.fail(self._liveness_report(deadline_ms))
        self._check_final_state()
        self._count_key_rotation()
        return self._result()

    def fail(self, reason: str) -> SimulationFailure:
        return SimulationFailure(
            f"{self.scenario} seed {self.seed} at {self.now_ms} ms: {reason} "
            f"(replay: {replay_command(self.scenario, self.seed, self.suite.name)})"
        )

    def _schedule(self, at_ms: int, kind: str, instance: str, payload: Any) -> None:
        node = self.nodes.get(instance)
        incarnation = node.incarnation if node is not None else 0
        self.sequence += 1
        heapq.heappush(
            self.queue, _Scheduled(at_ms, self.sequence, kind, instance, incarnation, payload)
        )

    def _dispatch(self, item: _Scheduled) -> None:
        if item.kind == "submit":
            self._submit(int(item.payload))
            return
        if item.kind == "pay":
            self._client_send(*item.payload)
            return
        if item.kind == "member":
            self._member_step(*item.payload)
            return
        if item.kind == "gst":
            self.height_at_gst = max(self._height(node) for node in self._correct())
            return
        node = self.nodes[item.instance]
        if item.kind == "crash":
            self._crash(node)
            return
        if item.kind == "restart":
            if node.live is None:
                self._start(node)
            return
        if node.live is None or item.incarnation != node.incarnation:
            return  # addressed to a process that has since crashed
        if item.kind == "tick":
            self._feed(node, Tick(len(node.live.mempool)))
            self._schedule(self.now_ms + TICK_MS, "tick", node.instance, None)
        elif item.kind == "deliver":
            sender, payload = item.payload
            self._deliver(node, sender, payload)
        elif item.kind == "timer":
            self._feed(node, TimerFired(item.payload))
        elif item.kind == "job_done":
            node.live.job_running = False
            if item.payload is not None:
                self._feed(node, item.payload)
            self._next_job(node)
        elif item.kind == "admitted":
            self._add_admitted(node, item.payload)
        else:  # pragma: no cover - every kind is scheduled above
            raise self.fail(f"unknown simulated event {item.kind}")

    # -- a node's life ------------------------------------------------------------------------
    def _start(self, node: SimNode) -> None:
        node.incarnation += 1
        # As the node wires it (``node.service``): the lifecycle, and members' committed
        # contracts found in the state being executed, compiled once per process.
        members = MemberContracts()
        runtime = Runtime(
            self.suite,
            CHAIN_ID,
            [*default_contracts(), Lifecycle()],
            resolver=members.resolve,
            member_address=members.is_member_address,
        )
        store = Store(tables=node.durable.tables)
        try:
            chain = Chain(store, self.genesis, runtime)
        except StoreTorn:
            if not node.durable.torn:
                raise
            # Detected, as it must be. The operator's remedy: a fresh store, fetched from peers;
            # the safety record and the locked block are kept (they are not in the store).
            self.counters.torn_detected += 1
            node.durable.torn = False
            node.durable.tables = _SimTables(node.durable.disk)
            store = Store(tables=node.durable.tables)
            chain = Chain(store, self.genesis, runtime)
        if node.durable.torn:
            raise self.fail(f"{node.instance} restarted on a torn store without noticing")
        mempool = Mempool(capacity=20_000, capacity_bytes=64 * 1024 * 1024, per_sender=20_000)
        safety = SigningKeys(
            SafetyModule(node.signer, CHAIN_ID, node.durable.safety),
            None
            if node.next_signer is None
            else SafetyModule(node.next_signer, CHAIN_ID, node.durable.next_safety),
        )
        config = TendermintConfig(
            chain_id=CHAIN_ID,
            address=node.signer.address,
            timeout_propose_ms=400,
            timeout_propose_delta_ms=100,
            timeout_prevote_ms=200,
            timeout_prevote_delta_ms=100,
            timeout_precommit_ms=200,
            timeout_precommit_delta_ms=100,
        )
        driver = Driver(
            self.suite, safety, config, block_interval_ms=20, empty_block_interval_ms=2_000
        )
        node.live = Volatile(store, chain, mempool, driver)
        self._feed(node, Started(chain.head, node.durable.locked_block))
        self._schedule(self.now_ms + self.rng.randint(1, TICK_MS), "tick", node.instance, None)

    def _crash_after_write(self, node: SimNode) -> None:
        crash = node.durable.disk.pending
        node.durable.disk.pending = None
        if crash is None:
            raise self.fail(f"{node.instance} crashed at a write the plan did not name")
        self._crash(node)
        tables = node.durable.tables
        if crash.lose_last_batch and tables.batches > 1:
            tables.lose_last_batch()
        elif crash.torn and node.durable.disk.last_was_batch and len(tables.last_batch) > 1:
            tables.tear_last_batch(self.rng.randint(1, len(tables.last_batch) - 1))
            node.durable.torn = True
            self.counters.torn_writes += 1
        self._schedule(self.now_ms + crash.restart_after_ms, "restart", node.instance, None)

    def _crash(self, node: SimNode) -> None:
        if node.live is None:
            return
        self.counters.crashes += 1
        node.live = None
        node.incarnation += 1  # everything scheduled for the old process is void

    def _clock(self, node: SimNode) -> int:
        return GENESIS_TIME_MS + self.now_ms + node.skew_ms

    def _feed(self, node: SimNode, event: DriverEvent) -> None:
        live = node.live
        if live is None:
            return
        for action in live.driver.handle(event, self._clock(node)):
            self._perform(node, action)

    def _perform(self, node: SimNode, action: Action) -> None:
        live = node.live
        if live is None:
            return
        if isinstance(action, Send):
            self._send(node, action)
        elif isinstance(action, SetTimer):
            self._schedule(self.now_ms + action.delay_ms, "timer", node.instance, action.timeout)
        elif isinstance(action, BuildBlock):
            self._queue_job(node, lambda: self._build(node, action))
        elif isinstance(action, ExecuteBlock):
            self._queue_job(node, lambda: self._execute(node, action))
        elif isinstance(action, CommitBlock):
            self._queue_job(node, lambda: self._commit(node, action))
        elif isinstance(action, SaveLockedBlock):
            node.durable.locked_block = action.block
            node.durable.disk.wrote()
        elif isinstance(action, ServeBlock):
            self.counters.block_requests += 1
            committed = self._stored_block(node, action.height)
            if committed is not None:
                self._send(node, Send(encode_message(BlockResponse(committed)), action.peer))
        elif isinstance(action, AdmitGossip):
            for raw in action.raw_transactions:
                self._admit(node, raw, gossip=False)
        elif isinstance(action, ReportEvidence):
            self._on_evidence(action.first.vote.validator)
        elif isinstance(action, Note):
            if "invalid block" in action.message or "re-execute" in action.message:
                self.counters.invalid_verdicts += 1
            elif action.message.startswith("caught up"):
                self.counters.catch_up_commits += 1
        self.counters.max_round = max(self.counters.max_round, live.driver.machine.round)

    # -- block jobs: one at a time, in order, each taking simulated time ----------------------
    def _queue_job(self, node: SimNode, job: Callable[[], DriverEvent | None]) -> None:
        if node.live is None:
            return
        node.live.jobs.append(job)
        self._next_job(node)

    def _next_job(self, node: SimNode) -> None:
        live = node.live
        if live is None or live.job_running or not live.jobs:
            return
        job = live.jobs.pop(0)
        live.job_running = True
        result = job()
        low, high = self.plan.job_ms
        self._schedule(self.now_ms + self.rng.randint(low, high), "job_done", node.instance, result)

    def _build(self, node: SimNode, action: BuildBlock) -> DriverEvent:
        live = self._live(node)
        candidate = jobs.build_block(live.chain, live.mempool, action)
        if candidate is not None and node.behaviour is Behaviour.INVALID_PROPOSER:
            candidate = _with_wrong_state_root(self.suite, candidate)
        return BlockBuilt(action.height, action.round, candidate)

    def _execute(self, node: SimNode, action: ExecuteBlock) -> DriverEvent:
        live = self._live(node)
        candidate, reason = jobs.execute_block(live.chain, live.mempool, action)
        return BlockExecuted(action.block_hash, candidate, reason)

    def _commit(self, node: SimNode, action: CommitBlock) -> DriverEvent:
        live = self._live(node)
        in_force = live.chain.head.validators
        committed = jobs.commit_block(
            live.chain, live.mempool, action.candidate, action.certificate
        )
        if node.correct:
            self._check_commit(node, committed, action.candidate, in_force)
        return BlockCommitted(committed, live.chain.head)

    def _live(self, node: SimNode) -> Volatile:
        if node.live is None:
            raise self.fail(f"{node.instance} ran a job while down")
        return node.live

    def _stored_block(self, node: SimNode, height: int) -> CommittedBlock | None:
        with self._live(node).store.snapshot() as snapshot:
            return snapshot.block(height)

    # -- the network -------------------------------------------------------------------------
    def _send(self, node: SimNode, action: Send) -> None:
        if node.behaviour is Behaviour.SILENT:
            return
        for target in self.nodes.values():
            if target.name == node.name:
                continue  # itself, or its own twin
            if action.peer is not None and target.name != action.peer:
                continue
            self._transmit(node, target, action.payload)

    def _transmit(self, sender: SimNode, target: SimNode, payload: bytes) -> None:
        self.counters.messages_sent += 1
        if self._partitioned(sender.instance, target.instance):
            self.counters.messages_dropped += 1
            return
        faulty_period = self.now_ms < self.gst_ms
        if faulty_period and chance(self.rng, self.plan.drop_per_mille):
            self.counters.messages_dropped += 1
            return
        copies = 2 if faulty_period and chance(self.rng, self.plan.duplicate_per_mille) else 1
        self.counters.messages_duplicated += copies - 1
        low, high = self.plan.delay_ms if faulty_period else (1, 10)
        for _ in range(copies):
            delay_ms = self.rng.randint(low, high)
            self._schedule(
                self.now_ms + delay_ms, "deliver", target.instance, (sender.name, payload)
            )

    def _partitioned(self, first: str, second: str) -> bool:
        for partition in self.plan.partitions:
            if not partition.start_ms <= self.now_ms < partition.end_ms:
                continue
            group_of = {member: i for i, group in enumerate(partition.groups) for member in group}
            if group_of.get(first, -1) != group_of.get(second, -2):
                return True
        return False

    def _deliver(self, node: SimNode, sender: str, payload: bytes) -> None:
        try:
            message = decode_message(payload)
        except DecodeError as error:
            raise self.fail(f"{node.instance} could not decode a frame: {error.message}") from None
        self._feed(node, FrameReceived(sender, message))

    # -- clients and admission ----------------------------------------------------------------
    def _submit(self, number: int) -> None:
        payer = self.rng.randint(0, len(self.payers) - 1)
        payee = self.payers[self.rng.randint(0, len(self.payers) - 1)]
        amount = self.rng.randint(1, 10_000)
        transfer = TransferArgs(ASSET, payee.address, amount)
        self._client_send(payer, TOKEN, "transfer", transfer, number)

    def _schedule_payments(self) -> None:
        """The clearing house opens cycle 1; card payments are authorized by their issuer and,
        a little later, captured into the cycle by their acquirer (a capture that arrives before
        its authorization or the cycle is committed is rejected, as on a real network)."""
        institutions = list(range(1, min(self.plan.validators, len(self.payers))))
        if not self.plan.payments or len(institutions) < 1:
            return
        nonce = PAYMENT_NONCES
        opening = OpenCycleArgs(CURRENCY, None, GENESIS_TIME_MS + 10**9, 1_000)
        self._schedule(
            self.rng.randint(1, 200), "pay", "", (0, PAYMENTS, "open_cycle", opening, nonce)
        )
        for number in range(self.plan.payments):
            issuer = institutions[self.rng.randint(0, len(institutions) - 1)]
            acquirer = institutions[self.rng.randint(0, len(institutions) - 1)]
            amount = self.rng.randint(100, 200_000)
            payment_id = f"P{number}"
            authorize = authorization(
                payment_id, f"org-{issuer}", f"org-{acquirer}", amount, "debit"
            )
            at_ms = self.rng.randint(200, self.plan.load_until_ms)
            capture_ms = at_ms + self.rng.randint(200, 1_500)
            nonce += 2
            self._schedule(at_ms, "pay", "", (issuer, PAYMENTS, "authorize", authorize, nonce))
            capture = CaptureArgs(payment_id, amount, 1)
            self._schedule(
                capture_ms, "pay", "", (acquirer, PAYMENTS, "capture", capture, nonce + 1)
            )

    def _member_step(self, step: MemberStep, attempt: int) -> None:
        """A step of the member contract's script; refused at admission (the contract not yet
        committed on the node asked, say, while the network is faulty), the client sends the
        same transaction again a little later, as a client that reads the refusal would."""
        sent = self._client_send(step.payer, step.contract, step.method, step.args, step.nonce)
        if not sent and attempt < MEMBER_ATTEMPTS:
            self._schedule(self.now_ms + MEMBER_RETRY_MS, "member", "", (step, attempt + 1))

    def _client_send(self, payer: int, contract: str, method: str, args: Any, nonce: int) -> bool:
        """A client signs a transaction of payer ``payer`` and submits it to a node that is up;
        whether that node's admission check passed it."""
        up = [node for node in self.nodes.values() if node.live is not None and node.correct]
        if not up:
            return False
        node = up[self.rng.randint(0, len(up) - 1)]
        signer = self.payers[payer]
        body = TransactionBody(
            chain_id=CHAIN_ID,
            sender=signer.address,
            public_key=signer.public_key,
            nonce=nonce,
            valid_until=self._height(node) + 500,
            contract=contract,
            method=method,
            args=encode(args),
        )
        signed = SignedTransaction(body, signer.sign(transaction_signing_bytes(body)))
        self.sent[transaction_hash(self.suite, body)] = nonce
        return self._admit(node, encode(signed), gossip=True)

    def _admit(self, node: SimNode, raw: bytes, *, gossip: bool) -> bool:
        """Check now against committed state; put into the mempool a little later (as an API
        or gossip thread does, while block jobs go on). Whether the check passed it."""
        live = node.live
        if live is None:
            return False
        head = live.chain.head
        try:
            with live.store.snapshot() as snapshot:
                state = CachedReader(snapshot)
                checked = admission.check(
                    raw,
                    runtime=live.chain.runtime,
                    mempool=live.mempool,
                    snapshot=snapshot,
                    state=state,
                    height=head.height + 1,
                    parameters=live.chain.runtime.parameters(state),
                )
        except (InvalidInput, Rejection):
            if gossip:
                self.counters.refused_submissions += 1
            return False
        if isinstance(checked, admission.Admission):
            return True
        low, high = self.plan.admission_ms
        delay_ms = self.rng.randint(low, high)
        self._schedule(self.now_ms + delay_ms, "admitted", node.instance, (checked, raw, gossip))
        return True

    def _add_admitted(
        self, node: SimNode, admitted: tuple[PendingTransaction, bytes, bool]
    ) -> None:
        live = self._live(node)
        pending, raw, gossip = admitted
        try:
            outcome = admission.add(live.mempool, pending, reserve=0.0)
        except (MempoolFull, SenderQuotaExceeded):
            return
        if gossip and outcome.status == "pending":
            self._feed(node, TransactionsAdmitted((raw,)))

    # -- invariants ---------------------------------------------------------------------------
    def _correct(self) -> list[SimNode]:
        return [node for node in self.nodes.values() if node.correct]

    def _height(self, node: SimNode) -> int:
        """The node's committed height: its chain's head while it runs (moved in the same step
        as the store's), its store's when it is down."""
        if node.live is not None:
            return node.live.chain.head.height
        with Store(tables=node.durable.tables).snapshot() as snapshot:
            return snapshot.head_height()

    def _check_commit(
        self,
        node: SimNode,
        committed: CommittedBlock,
        candidate: Candidate,
        in_force: ValidatorSet,
    ) -> None:
        header = committed.block.header
        self.counters.blocks_committed += 1
        first = self.committed.setdefault(header.height, (candidate.block_hash, header.state_root))
        if first != (candidate.block_hash, header.state_root):
            raise self.fail(
                f"agreement: {node.instance} committed block {candidate.block_hash.hex()[:12]} "
                f"(state root {header.state_root.hex()[:12]}) at height {header.height}, another "
                f"correct node {first[0].hex()[:12]} (state root {first[1].hex()[:12]})"
            )
        try:
            verify_certificate(self.suite, CHAIN_ID, in_force, header, committed.certificate)
        except VerificationError as failure:
            raise self.fail(
                f"certificate: block {header.height} committed by {node.instance}: {failure}"
            ) from None
        signers = {signature.validator for signature in committed.certificate.signatures}
        if self.next_key is not None and self.next_key.address in signers:
            self.counters.next_key_certificates += 1
        for index, receipt in enumerate(committed.receipts):
            if receipt.code == "duplicate_transaction":
                raise self.fail(
                    f"a transaction committed twice: {receipt.transaction_hash.hex()[:12]} is in "
                    f"block {header.height} again (rejected duplicate_transaction), proposed by "
                    f"{header.proposer.hex()[:12]}"
                )
            location = (header.height, index)
            known = self.acknowledged.setdefault(receipt.transaction_hash, location)
            if known != location:
                raise self.fail(
                    f"transaction {receipt.transaction_hash.hex()[:12]} at {location} on "
                    f"{node.instance} but at {known} elsewhere"
                )
        self.counters.transactions_committed += len(committed.receipts)

    def _on_evidence(self, validator: bytes) -> None:
        self.counters.evidence_reports += 1
        for node in self._correct():
            if validator in (node.signer.address, node.next_signer and node.next_signer.address):
                raise self.fail(f"correct validator {node.instance} reported for equivocation")

    def _done(self) -> bool:
        """Liveness: after GST and the load, every correct node commits ``heights_after_gst``
        more heights than the highest any held at GST, and holds every acknowledged
        transaction."""
        if self.height_at_gst is None or self.now_ms < self.plan.load_until_ms:
            return False
        target = self.height_at_gst + self.plan.heights_after_gst
        if not all(self._height(node) >= target for node in self._correct()):
            return False
        return all(self._holds_everything(node) for node in self._correct())

    def _holds_everything(self, node: SimNode) -> bool:
        """Every acknowledged transaction is in the node's store."""
        with Store(tables=node.durable.tables).snapshot() as snapshot:
            return all(snapshot.has_transaction(h) for h in self.acknowledged)

    def _liveness_report(self, deadline_ms: int) -> str:
        heights = {node.instance: self._height(node) for node in self._correct()}
        return (
            f"liveness: by {deadline_ms} ms (GST {self.gst_ms} ms) the correct nodes are at "
            f"heights {heights}; height at GST {self.height_at_gst}, "
            f"{self.plan.heights_after_gst} more expected"
        )

    def _check_final_state(self) -> None:
        """Every correct node holds the same chain and every acknowledged transaction, and the
        token conserves value: the supply equals the sum of the balances."""
        for node in self._correct():
            with Store(tables=node.durable.tables).snapshot() as snapshot:
                height = snapshot.head_height()
                hashes = [self.committed[h][0] for h in range(1, height + 1)]
                for h in range(1, height + 1):
                    block = snapshot.block(h)
                    if (
                        block is None
                        or header_hash(self.suite, block.block.header) != hashes[h - 1]
                    ):
                        raise self.fail(f"{node.instance}'s block {h} differs from the others'")
                for identity, (at_height, index) in self.acknowledged.items():
                    if snapshot.transaction_location(identity) != (at_height, index):
                        raise self.fail(
                            f"acknowledged transaction {identity.hex()[:12]} lost on "
                            f"{node.instance}"
                        )
                supply_raw = snapshot.get(b"token/" + supply_key(ASSET))
                supply = 0 if supply_raw is None else decode_stored(supply_raw, int)
                balances = 0
                # The payers, and the member contract of ``member_contracts``, which holds CNY.
                holders = [payer.address for payer in self.payers]
                holders.append(contract_address(self.suite.hash, MEMBER_CONTRACT))
                for holder in holders:
                    raw = snapshot.get(b"token/" + balance_key(ASSET, holder))
                    if raw is not None:
                        balances += decode_stored(raw, Holding).balance_minor
                if supply != balances or supply != PAYERS * OPENING_BALANCE_MINOR:
                    raise self.fail(
                        f"conservation on {node.instance}: supply {supply}, balances {balances}"
                    )
                self._check_payments(node, snapshot, height)
                self._count_member_steps(snapshot, height)

    def _count_key_rotation(self) -> None:
        """Whether the nodes holding the next key switched to it, and how much it signed."""
        if self.next_key is None:
            return
        for node in self._correct():
            if node.next_signer is None:
                continue
            self.counters.next_key_signatures += node.durable.next_safety.saves
            if node.live is not None and node.live.driver.address == self.next_key.address:
                self.counters.next_key_in_use += 1

    def _count_member_steps(self, snapshot: Snapshot, height: int) -> None:
        """What the committed receipts say of the member contract's script (the counters keep
        the most any correct node shows; they all hold the same blocks, checked above)."""
        progress = MemberProgress()
        for h in range(1, height + 1):
            block = snapshot.block(h)
            assert block is not None  # checked by the caller
            for signed, receipt in zip(block.block.transactions, block.receipts, strict=True):
                names = [event.name for event in receipt.events]
                progress.count(signed.body.contract, signed.body.method, receipt.code, names)
        counters = self.counters
        counters.member_packages_committed = max(
            counters.member_packages_committed, progress.packages_committed
        )
        counters.member_migrations = max(counters.member_migrations, progress.migrations)
        counters.member_calls_ok = max(counters.member_calls_ok, progress.calls_ok)
        counters.member_paused_rejections = max(
            counters.member_paused_rejections, progress.paused_rejections
        )

    def _check_payments(self, node: SimNode, snapshot: Snapshot, height: int) -> None:
        """The cycle's totals in state are exactly the captures its committed receipts accept:
        their number and their sum."""
        captures = captured_minor = 0
        for h in range(1, height + 1):
            block = snapshot.block(h)
            assert block is not None  # checked above
            for signed, receipt in zip(block.block.transactions, block.receipts, strict=True):
                body = signed.body
                if body.contract == PAYMENTS and body.method == "capture" and receipt.code == "ok":
                    captures += 1
                    captured_minor += decode_stored(body.args, CaptureArgs).amount_minor
        self.counters.payments_captured = max(self.counters.payments_captured, captures)
        raw = snapshot.get(full_key(PAYMENTS, cycle_totals_key(1)))
        totals = CycleTotals() if raw is None else decode_stored(raw, CycleTotals)
        if (totals.captures, totals.captured_minor) != (captures, captured_minor):
            raise self.fail(
                f"payments on {node.instance}: cycle 1 totals {totals.captures} captures of "
                f"{totals.captured_minor}, its committed receipts accept {captures} of "
                f"{captured_minor}"
            )

    def _result(self) -> SimResult:
        digest = hashlib.sha256()
        for height in sorted(self.committed):
            digest.update(self.committed[height][0])
        return SimResult(
            scenario=self.scenario,
            seed=self.seed,
            height=max(self.committed, default=0),
            simulated_ms=self.now_ms,
            counters=self.counters,
            digest=digest.hexdigest(),
        )


def _with_wrong_state_root(suite: CryptoSuite, candidate: Candidate) -> Candidate:
    header = candidate.block.header
    wrong = msgspec.structs.replace(
        header, state_root=hashlib.sha256(b"wrong" + header.state_root).digest()
    )
    block = Block(wrong, candidate.block.transactions)
    return dataclasses.replace(candidate, block=block, block_hash=header_hash(suite, wrong))
