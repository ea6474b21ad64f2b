"""The node: one process holding the store, the chain, the mempool and the consensus driver.
The API layer calls ``admit`` and the read methods; ``run`` takes part in consensus until asked to
stop.

Every network, one validator or many, produces blocks the same way: Tendermint rounds driven by
``node.driver`` through its asyncio shell ``node.bft``. A height starts when transactions wait and
``block_interval_ms`` has passed since the last commit (or another validator's proposal or vote
for it arrives), and an empty block only every ``empty_block_interval_ms`` as a heartbeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import threading
import time
import unicodedata
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from jinqiao.apps import default_contracts
from jinqiao.consensus.safety import SafetyModule, SigningKeys
from jinqiao.consensus.tendermint import TendermintConfig
from jinqiao.contracts.lifecycle import Lifecycle, MemberContracts
from jinqiao.core.codec import CanonicalStruct, encode
from jinqiao.core.crypto import Signer
from jinqiao.core.errors import InvalidInput, JinqiaoError, NodeFault, Rejection
from jinqiao.core.genesis import ChainParameters, Genesis, genesis_hash, load_genesis
from jinqiao.core.hashing import transaction_signing_bytes
from jinqiao.core.types import (
    CommitCertificate,
    CommittedBlock,
    SignedTransaction,
    TransactionBody,
)
from jinqiao.execution.contract import BlockContext, MethodSpec
from jinqiao.execution.identity import GOVERNANCE, VALIDATORS_KEY, read_pending_validators
from jinqiao.execution.runtime import Runtime
from jinqiao.execution.state import CachedReader, full_key
from jinqiao.keys import load_key
from jinqiao.node import admission, jobs
from jinqiao.node.admission import Admission, AdmissionRefused
from jinqiao.node.audit import AuditLog, AuditRecord, open_audit_log
from jinqiao.node.bft import ConsensusDriver
from jinqiao.node.block_cost import BlockBudget
from jinqiao.node.certificate import NodeCertificate
from jinqiao.node.chain import Candidate, Chain
from jinqiao.node.config import NodeConfig, load_config
from jinqiao.node.credit_disclosure import FOLLOW_WAIT_S, follow_erasures
from jinqiao.node.mempool import Mempool, MempoolFull, SenderQuotaExceeded
from jinqiao.node.metrics import NodeMetrics
from jinqiao.node.p2p import (
    MessageHandler,
    P2PConfig,
    P2PNetwork,
    PeerAddress,
    organization_roots,
)
from jinqiao.node.port import HeadView
from jinqiao.node.private_data import PrivateData, organization_of_certificate
from jinqiao.node.pruning import DEFAULT_RETENTION_HEIGHTS, RetentionNeedsJournal
from jinqiao.node.query_proofs import ProvenQuery, RecordedReading, prove_query
from jinqiao.node.reads import Reader
from jinqiao.node.safety_store import FileSafetyStorage
from jinqiao.node.snapshots import SnapshotFiles, state_base
from jinqiao.node.state_sync import SnapshotServer, StateSync, SyncReport
from jinqiao.node.storage import Snapshot, Store
from jinqiao.node.wire import StateSyncRequest, WireMessage

log = logging.getLogger(__name__)

SUBSCRIBER_QUEUE_BLOCKS = 256
RECENT_BLOCKS = 8
"""Committed blocks kept decoded in memory (``RecentBlocks``)."""
VALIDATOR_TRANSACTION_WINDOW_BLOCKS = 100
PRUNE_EVERY_HEIGHTS = 16
"""The pruner runs again after this many new heights (a batch costs a disk sync)."""
MAX_SUBSCRIBERS = 1_000
GOSSIP_RESERVE = 0.2
"""Share of a validator's mempool that client submissions leave free for gossiped ones."""


class RecentBlocks:
    """The last ``RECENT_BLOCKS`` blocks this node committed, as committed: the follower of
    credit erasures reads every new block and a query's context reads the head's, and decoding a
    block of 2,000 transactions from the store for that was 2.1% of a validator's CPU under
    load (a committed block never changes, so the copy in memory is the stored one)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._blocks: OrderedDict[int, CommittedBlock] = OrderedDict()

    def add(self, committed: CommittedBlock) -> None:
        with self._lock:
            self._blocks[committed.block.header.height] = committed
            while len(self._blocks) > RECENT_BLOCKS:
                self._blocks.popitem(last=False)

    def get(self, height: int) -> CommittedBlock | None:
        with self._lock:
            return self._blocks.get(height)


class Node:
    def __init__(self, home: Path, *, config: NodeConfig | None = None) -> None:
        self.home = home
        self.config = config or load_config(home)
        genesis_path = home / "genesis.json"
        try:
            genesis_bytes = genesis_path.read_bytes()
        except OSError as exc:
            raise InvalidInput(f"cannot read {genesis_path}: {exc.strerror}") from None
        self.genesis: Genesis = load_genesis(genesis_bytes)
        self.genesis_bytes = genesis_bytes
        self.suite = self.genesis.suite
        key_file = home / self.config.validator_key_file
        observer_key_file = key_file if self.config.observer and key_file.exists() else None
        self.signer: Signer | None = None if self.config.observer else load_key(key_file)
        self.next_signer: Signer | None = None
        """The validator's next key (``next_validator_key_file``) while governance replaces
        its key; it signs from the first height whose validator set names it."""
        if self.config.next_validator_key_file:
            self.next_signer = load_key(home / self.config.next_validator_key_file)
        self.store = Store(
            home / self.config.data_dir, journal=self.config.new_store_retention() > 0
        )
        # Members' contracts: proposed, approved and committed through ``contracts``
        # (jinqiao.contracts.lifecycle), then found by name in the state being executed.
        members = MemberContracts()
        self.runtime = Runtime(
            self.suite,
            self.genesis.chain_id,
            [*default_contracts(), Lifecycle()],
            resolver=members.resolve,
            member_address=members.is_member_address,
        )
        self.chain = Chain(self.store, self.genesis, self.runtime)
        self.retention_heights = self._retention(home)
        """The retention this node prunes to (0: an archive node)."""
        if observer_key_file is not None:
            self._refuse_a_validator_key(observer_key_file)
        self.mempool = Mempool(
            capacity=self.config.mempool_capacity,
            capacity_bytes=self.config.mempool_capacity_bytes,
            per_sender=min(self.config.mempool_per_sender, self.config.mempool_capacity),
        )
        self.metrics = NodeMetrics()
        self.metrics.height.set(self.chain.head.height)
        self._subscribers: set[asyncio.Queue[CommittedBlock | None]] = set()
        self._recent_blocks = RecentBlocks()
        self._lagged: weakref.WeakSet[asyncio.Queue[CommittedBlock | None]] = weakref.WeakSet()
        self._committed = asyncio.Event()
        """Set (and replaced by a fresh one) at each commit: waiters wake without a lock, so a
        waiter cancelled at any point leaves nothing half-held."""
        self._stopping = False
        self.last_commit_time_ms = self.chain.head.time_ms
        self.certificate = NodeCertificate(home / "tls", self.config.name, self.metrics)
        self.driver = self._make_driver()
        self.mempool.bound_backlog(self._backlog_bound())
        self.reader = Reader(self.store, self.suite, recent=self._recent_blocks.get)
        self.snapshots = SnapshotServer(
            self.suite,
            self.store,
            SnapshotFiles(
                home / "snapshots", self.config.snapshots_kept, self.config.snapshot_chunk_bytes
            ),
            self.config.snapshot_interval_blocks,
        )
        self._snapshot_task: asyncio.Task[None] | None = None
        self._private_data: PrivateData | None = None
        try:
            self.audit: AuditLog = open_audit_log(home)
        except JinqiaoError:
            self.store.close()
            raise
        if self.signer is None:
            log.info(
                "observer node: follows the chain, checks every block's commit certificate, "
                "never proposes or votes"
            )
        elif self.next_signer is not None:
            log.info(
                "validator key rotation: %s holds the next key %s; it signs from the first "
                "height whose validator set names it",
                self.config.next_validator_key_file,
                self.next_signer.address.hex(),
            )
        elif self.signer.address not in self.chain.head.validators.by_address():
            log.warning(
                "the key in %s is not a validator at height %d: this node follows the chain "
                "and votes once governance adds it to the validator set",
                self.config.validator_key_file,
                self.chain.head.height + 1,
            )
        log.info(
            "node %s opened at height %d, state root %s (names checked with Unicode %s)",
            self.config.name,
            self.chain.head.height,
            self.chain.head.state_root.hex(),
            unicodedata.unidata_version,
        )

    def _refuse_a_validator_key(self, key_file: Path) -> None:
        """An observer never signs. With a validator's key in its home it would be a validator
        that never votes, counted in the quorum all the same, so it refuses to start; any other
        key is left unused."""
        address = load_key(key_file).address
        names = {v.address: v.name for v in self.chain.head.validators.validators}
        if address in names:
            self.store.close()
            raise InvalidInput(
                f"config: this node is an observer, but {key_file} is the key of validator "
                f"{names[address]!r} at height {self.chain.head.height}: an observer never signs, "
                "so that validator would never vote. Remove the key from this home, or run the "
                'validator without "observer": true',
                code="observer_holds_validator_key",
            )
        log.warning("observer node: the key in %s is not used (an observer never signs)", key_file)

    def _safety_module(
        self, consensus_dir: Path, signer: Signer, *, next_key: bool
    ) -> SafetyModule:
        """A key's safety module over its own record: ``consensus/safety-<address>.record``,
        except the record of a key that never rotated, which stays ``consensus/safety.record``.
        A next key's record is written at once (empty), so the key finds it again when the
        operator later names it ``validator_key_file``."""
        storage = FileSafetyStorage(consensus_dir / f"safety-{signer.address.hex()}.record")
        if not next_key and not storage.path.exists():
            storage = FileSafetyStorage(consensus_dir / "safety.record")
        module = SafetyModule(signer, self.genesis.chain_id, storage)
        if next_key and storage.load() is None:
            storage.save(encode(module.record))
        return module

    def _backlog_bound(self) -> BlockBudget | None:
        """Clients' transactions wait while the mempool holds at most this much expected
        execution (``NodeConfig.backlog_bound_ms``), by the proposer's own measure."""
        bound_ms = self.config.backlog_bound_ms()
        if bound_ms is None:
            return None
        return BlockBudget(bound_ms / 1000, self.driver.execution_costs)

    def _make_driver(self) -> ConsensusDriver:
        """The BFT driver: Tendermint with this node's safety module, over mutual TLS. An
        observer gets no safety module, so no code path can sign for it."""
        consensus_dir = self.home / "consensus"
        consensus_dir.mkdir(mode=0o700, exist_ok=True)
        safety = (
            None
            if self.signer is None
            else SigningKeys(
                self._safety_module(consensus_dir, self.signer, next_key=False),
                None
                if self.next_signer is None
                else self._safety_module(consensus_dir, self.next_signer, next_key=True),
            )
        )
        timeouts = self.config.consensus_timeouts
        tendermint = TendermintConfig(
            chain_id=self.genesis.chain_id,
            address=b"" if self.signer is None else self.signer.address,
            timeout_propose_ms=timeouts.propose_ms,
            timeout_propose_delta_ms=timeouts.propose_delta_ms,
            timeout_prevote_ms=timeouts.prevote_ms,
            timeout_prevote_delta_ms=timeouts.prevote_delta_ms,
            timeout_precommit_ms=timeouts.precommit_ms,
            timeout_precommit_delta_ms=timeouts.precommit_delta_ms,
        )
        return ConsensusDriver(
            self,
            lambda handler: self._peer_network(self.p2p_config(), handler),
            safety,
            tendermint,
            consensus_dir / "locked_block.bin",
            block_interval_ms=self.config.block_interval_ms,
            empty_block_interval_ms=self.config.empty_block_interval_ms,
            block_execution_budget_ms=self.config.block_budget_ms(),
        )

    def p2p_config(self, *, dial_all: bool = False) -> P2PConfig:
        tls = self.home / "tls"
        return P2PConfig(
            node=self.config.name,
            host=self.config.p2p_host,
            port=self.config.p2p_port,
            certificate_file=tls / "node.crt",
            key_file=tls / "node.key",
            roots_file=tls / "roots.pem",
            chain_id=self.genesis.chain_id,
            genesis_hash=genesis_hash(self.genesis),
            nodes=self.network_nodes(),
            peers=tuple(PeerAddress(p.name, p.host, p.port) for p in self.config.peers),
            organization_roots=organization_roots(self.genesis),
            dial_all=dial_all or self.config.dial_all_peers,
            revoked_fingerprints=frozenset(
                bytes.fromhex(fingerprint) for fingerprint in self.config.revoked_certificates
            ),
        )

    def _peer_network(self, config: P2PConfig, handler: MessageHandler) -> P2PNetwork:
        network = P2PNetwork(config, handler)
        self.certificate.follow(*network.tls_contexts)
        return network

    # -- services for the consensus driver -------------------------------------------------
    def network_nodes(self) -> dict[str, str]:
        """The nodes allowed to connect (name → organization): the configured observers, the
        validators in force and those a decided change adds at a later height (so they can catch
        up first). A validator's name wins over an observer's of the same name."""
        nodes = {observer.name: observer.organization for observer in self.config.observers}
        nodes.update({v.name: v.organization for v in self.chain.head.validators.validators})
        with self.store.snapshot() as snapshot:
            pending = read_pending_validators(snapshot)
        if pending is not None:
            nodes.update({v.name: v.organization for v in pending.validators.validators})
        return nodes

    def parameters(self) -> ChainParameters:
        with self.store.snapshot() as snapshot:
            return self.runtime.parameters(snapshot)

    def commit_candidate(
        self, candidate: Candidate, certificate: CommitCertificate
    ) -> CommittedBlock:
        """Store a decided block and account for it (synchronous; runs in a worker thread)."""
        started = time.perf_counter()
        committed = jobs.commit_block(self.chain, self.mempool, candidate, certificate)
        self._recent_blocks.add(committed)
        self._record(committed, candidate.execution_s, time.perf_counter() - started)
        return committed

    async def publish(self, committed: CommittedBlock) -> None:
        await self._publish(committed)
        if self.snapshots.due(committed.block.header.height) and (
            self._snapshot_task is None or self._snapshot_task.done()
        ):
            self._snapshot_task = asyncio.create_task(self._take_snapshot())

    async def _take_snapshot(self) -> None:
        """A snapshot that fails is logged and tried again at the next interval: serving
        snapshots is a service to joining nodes, never a reason to stop validating."""
        try:
            await asyncio.to_thread(self.snapshots.take)
        except (NodeFault, OSError) as failure:
            log.error("snapshot not taken: %r", failure)

    def answer_state_sync(self, request: StateSyncRequest) -> WireMessage | None:
        return self.snapshots.answer(request)

    async def sync_state(self) -> SyncReport | None:
        """Restore the state at a recent height from the peers' snapshots (ADR 0054) when the
        store holds nothing but genesis and ``state_sync`` is on; ``None`` otherwise."""
        if not self.config.state_sync or self.chain.head.height != 0:
            return None
        sync = StateSync(
            self.genesis,
            self.store,
            self.runtime,
            self.chain.head.validators,
            self.p2p_config(dial_all=True),
        )
        report = await sync.run(self.config.state_sync_timeout_s)
        self.chain.reopen()
        self.metrics.height.set(self.chain.head.height)
        self.last_commit_time_ms = self.chain.head.time_ms
        return report

    def admit_gossip(self, transactions: tuple[bytes, ...]) -> None:
        """Transactions another validator admitted: admit them here too, quietly."""
        self.admit_many(transactions, gossip=False, client=False)

    def submit_as_validator(self, contract: str, method: str, args: CanonicalStruct) -> None:
        """Send a transaction signed with this node's validator key (its genesis account, role
        ``validator``) — used to put equivocation evidence on chain. Refusals are logged; an
        observer has no key and sends nothing."""
        signer = self.signer
        if signer is None:
            log.warning(
                "observer node: not submitting %s.%s (an observer never signs)", contract, method
            )
            return
        if self.next_signer is not None and self.validator_address == self.next_signer.address:
            signer = self.next_signer
        body = TransactionBody(
            chain_id=self.genesis.chain_id,
            sender=signer.address,
            public_key=signer.public_key,
            nonce=secrets.randbits(63),
            valid_until=self.chain.head.height + VALIDATOR_TRANSACTION_WINDOW_BLOCKS,
            contract=contract,
            method=method,
            args=encode(args),
        )
        signed = SignedTransaction(body, signer.sign(transaction_signing_bytes(body)))
        try:
            self.admit(encode(signed), client=False)
        except (InvalidInput, Rejection, MempoolFull, SenderQuotaExceeded) as refusal:
            log.warning("could not submit %s.%s: %s", contract, method, refusal)

    def committed_block(self, height: int) -> CommittedBlock | None:
        recent = self._recent_blocks.get(height)
        if recent is not None:
            return recent
        with self.store.snapshot() as snapshot:
            return snapshot.block(height)

    def query_context(self, snapshot: Snapshot) -> BlockContext:
        """The block context of a read-only query against ``snapshot``: its own head height and
        time, never ``chain.head``, which a commit may move between the two reads."""
        height = snapshot.head_height()
        if height == 0:
            return BlockContext(self.genesis.chain_id, 0, self.genesis.genesis_time_ms, b"")
        committed = self._recent_blocks.get(height) or snapshot.block(height)
        if committed is None:
            raise NodeFault(f"head block {height} is missing from the store")
        return BlockContext(self.genesis.chain_id, height, committed.block.header.time_ms, b"")

    def run_query(self, contract: str, query_name: str, arguments: Any) -> tuple[int, Any]:
        """Run a read-only contract query on one snapshot; return the height it was read at
        with the result (synchronous; run it in a worker thread)."""
        with self.reading() as reading:
            return reading.height, reading.query(contract, query_name, arguments)

    def prove_query(self, contract: str, query_name: str, arguments: Any) -> ProvenQuery:
        """``run_query`` with the proof of every key it read (``node.query_proofs``)."""
        return prove_query(
            self.runtime,
            self.reader,
            self.reading,
            self.genesis.chain_id,
            (contract, query_name, arguments),
        )

    @contextlib.contextmanager
    def recorded_reading(self) -> Iterator[RecordedReading]:
        """``reading`` that records every key it reads, to prove them afterwards
        (``RecordedReading.proof``)."""
        with self.store.snapshot() as snapshot:
            yield RecordedReading(self.runtime, snapshot, self.query_context(snapshot))

    @contextlib.contextmanager
    def reading(self) -> Iterator[SnapshotReading]:
        """Reads from one snapshot, with that snapshot's own head height and time."""
        with self.store.snapshot() as snapshot:
            yield SnapshotReading(self.runtime, snapshot, self.query_context(snapshot))

    # -- what the API sees (node.port.NodePort) ---------------------------------------------
    @property
    def node_name(self) -> str:
        return self.config.name

    @property
    def validator_address(self) -> bytes:
        """This node's validator address (the next key's once it signs); empty for an observer
        (it has none)."""
        return self.driver.core.address

    @property
    def role(self) -> str:
        """``observer`` or ``validator`` (a node whose key is not, or not yet, in the validator
        set is still a ``validator`` node: it votes once governance adds its key)."""
        return "observer" if self.config.observer else "validator"

    @property
    def metrics_registry(self) -> CollectorRegistry:
        return self.metrics.registry

    def head(self) -> HeadView:
        head = self.chain.head
        return HeadView(
            head.height, head.block_hash, head.state_root, head.time_ms, head.validators
        )

    def mempool_size(self) -> int:
        return len(self.mempool)

    def record_audit(
        self, *, identity: str, organization: str, method: str, route: str, status: int
    ) -> AuditRecord:
        """Append one record to this node's audit trail, durably (``node.audit``; blocking:
        call it from a worker thread)."""
        return self.audit.record(
            identity=identity, organization=organization, method=method, route=route, status=status
        )

    def is_pending(self, transaction_hash: bytes) -> bool:
        return transaction_hash in self.mempool

    def consensus_diagnosis(self) -> dict[str, Any]:
        return self.driver.diagnosis()

    def query_spec(self, contract: str, name: str) -> MethodSpec | None:
        spec = self.runtime.method_spec(contract, name)
        if spec is None and self.runtime.contracts.get(contract) is None:
            # A member's contract, committed on chain: its queries as of the head.
            with self.reading() as reading:
                member = self.runtime.find_contract(reading, contract)
            spec = None if member is None else member.methods.get(name)
        return spec if spec is not None and spec.read_only else None

    # -- admission -------------------------------------------------------------------------
    def admit(self, raw: bytes, *, gossip: bool = True, client: bool = True) -> Admission:
        """Check a signed transaction and add it to the mempool. Raises ``DecodeError``,
        ``Rejection`` or ``MempoolFull``; changes nothing on failure."""
        outcome = self.admit_many((raw,), gossip=gossip, client=client)[0]
        if isinstance(outcome, Admission):
            return outcome
        raise outcome

    def admit_many(
        self, raws: Sequence[bytes], *, gossip: bool = True, client: bool = True
    ) -> list[Admission | AdmissionRefused]:
        """``admit`` for a batch (an HTTP batch or a gossip message): each transaction is
        checked and added on its own — one refusal does not affect the others — against one
        snapshot of committed state and one read of the chain parameters. A ``client``'s
        transactions are refused while the mempool's backlog is full (``BacklogFull``); what
        peers gossip and what the node itself sends (evidence) are not."""
        outcomes: list[Admission | AdmissionRefused] = []
        added_raws: list[bytes] = []
        # A validator admits from clients only while a share of its mempool is free for what
        # its peers gossip (admission control: under load, what one node accepted still finds
        # room on the others, so it survives that node's crash); a lone validator keeps none.
        several = len(self.chain.head.validators.validators) > 1
        reserve = GOSSIP_RESERVE if gossip and several else 0.0
        head = self.chain.head
        with self.store.snapshot() as snapshot:
            state = CachedReader(snapshot)
            parameters = self.runtime.parameters(state)
            for raw in raws:
                try:
                    outcome = self._admit_one(
                        raw, snapshot, state, head.height + 1, parameters, reserve, client
                    )
                except (InvalidInput, Rejection, MempoolFull, SenderQuotaExceeded) as refusal:
                    self.metrics.refused.labels(refusal.code).inc()
                    outcomes.append(refusal)
                    continue
                if outcome.status == "pending":
                    added_raws.append(raw)
                outcomes.append(outcome)
        if added_raws:
            self.metrics.admitted.inc(len(added_raws))
            if gossip:
                for raw in added_raws:
                    self.driver.gossip(raw)
        self.metrics.mempool_size.set(len(self.mempool))
        self.metrics.mempool_backlog.set(self.mempool.backlog_s)
        return outcomes

    def _admit_one(
        self,
        raw: bytes,
        snapshot: Snapshot,
        state: CachedReader,
        height: int,
        parameters: ChainParameters,
        reserve: float,
        client: bool,
    ) -> Admission:
        checked = admission.check(
            raw,
            runtime=self.runtime,
            mempool=self.mempool,
            snapshot=snapshot,
            state=state,
            height=height,
            parameters=parameters,
            reserve=reserve,
            client=client,
        )
        if isinstance(checked, Admission):
            return checked
        return admission.add(self.mempool, checked, reserve=reserve, client=client)

    def _record(self, committed: CommittedBlock, execution_s: float, commit_s: float) -> None:
        header = committed.block.header
        self.last_commit_time_ms = header.time_ms
        self.metrics.height.set(header.height)
        self.metrics.blocks.inc()
        self.metrics.execution_seconds.observe(execution_s)
        self.metrics.commit_seconds.observe(commit_s)
        self.metrics.block_transactions.observe(len(committed.receipts))
        self.metrics.mempool_size.set(len(self.mempool))
        self.metrics.mempool_bytes.set(self.mempool.size_bytes)
        self.metrics.mempool_backlog.set(self.mempool.backlog_s)
        for receipt in committed.receipts:
            self.metrics.committed.labels(receipt.code).inc()
        if committed.receipts:
            log.info(
                "committed block %d: %d transactions, execute %.1f ms, store %.1f ms",
                header.height,
                len(committed.receipts),
                execution_s * 1000,
                commit_s * 1000,
            )

    async def run(self, stop: asyncio.Event) -> None:
        """Take part in consensus until ``stop`` is set (a network of one validator runs the
        same Tendermint rounds, with itself as the only voter)."""
        await self.sync_state()
        try:
            await self.driver.run(stop)
        finally:
            if self._snapshot_task is not None:
                await asyncio.wait([self._snapshot_task])

    async def follow_credit_erasures(self, stop: asyncio.Event) -> None:
        """Erase from the node's credit store each subject a committed block erases
        (``node.credit_disclosure.follow_erasures``), from the last block handled, until
        ``stop`` is set. A node without its certificate (``<home>/tls/node.crt``: an API
        without TLS) has no private data, and nothing to erase."""
        try:
            store = self.private_data.credit
        except InvalidInput as exc:
            log.warning("no credit store to follow erasures into: %s", exc.message)
            return
        chain_id = self.genesis.chain_id
        while not stop.is_set():
            head = self.chain.head.height
            with self.store.snapshot() as snapshot:  # a state sync may have just installed
                base = state_base(snapshot)
            if base > 1:
                store.follow_from(chain_id, base)
            handled = await asyncio.to_thread(
                follow_erasures, store, chain_id, head, self.committed_block
            )
            await self.wait_for_height(handled + 1, FOLLOW_WAIT_S)

    def _retention(self, home: Path) -> int:
        """The configured retention, checked against the store: a store without the stale-node
        journal (created before pruning existed, or as an archive) runs as an archive when
        ``retention_heights`` is not set, and is refused when it is set above 0."""
        configured = self.config.retention_heights
        if self.store.journals():
            return self.config.new_store_retention()
        data_dir = home / self.config.data_dir
        if configured is None:
            log.warning(
                "the store in %s has no stale-node journal (created before pruning, or as an "
                "archive): this node runs as an archive node and keeps every height; to prune, "
                "start it on an empty data directory (it fetches the chain from its peers, or "
                "joins by state sync) and it prunes to retention_heights (default %d)",
                data_dir,
                DEFAULT_RETENTION_HEIGHTS,
            )
            return 0
        if configured > 0:
            self.store.close()
            raise RetentionNeedsJournal(
                f"config: retention_heights is {configured} but the store in {data_dir} was "
                "created without the journal pruning needs (as an archive, or before pruning "
                "existed): set retention_heights to 0 or leave it out, or start this node on an "
                "empty data directory to fetch the chain into a pruning store"
            )
        return 0

    async def prune(self, stop: asyncio.Event) -> None:
        """Delete state versions older than ``retention_heights`` (``node.pruning``) until
        ``stop`` is set: bounded batches back to back while there is work, then a wait for
        the next ``PRUNE_EVERY_HEIGHTS`` heights. An archive node (0) prunes nothing."""
        retention = self.retention_heights
        if retention == 0:
            return
        pinned_key = full_key(GOVERNANCE, VALIDATORS_KEY)
        while not stop.is_set():
            step = await asyncio.to_thread(self.store.prune, self.suite, retention, pinned_key)
            self.metrics.pruned_bytes.inc(step.bytes_deleted)
            self.metrics.pruned_nodes.inc(step.nodes_deleted)
            self.metrics.prune_floor.set(step.floor)
            if not step.more:
                await self.wait_for_height(
                    self.chain.head.height + PRUNE_EVERY_HEIGHTS, FOLLOW_WAIT_S
                )

    async def _publish(self, committed: CommittedBlock) -> None:
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(committed)
            except asyncio.QueueFull:
                self._subscribers.discard(queue)
                self._lagged.add(queue)
                log.warning("dropped a slow event subscriber")
        committed_signal, self._committed = self._committed, asyncio.Event()
        committed_signal.set()

    def stop_waiting(self) -> None:
        """The node is stopping: every wait (long-poll) ends now with what is committed."""
        self._stopping = True
        self._committed.set()

    # -- waiting and streaming -------------------------------------------------------------
    async def wait_for_transaction(self, identity: bytes, timeout_s: float) -> bool:
        """Wait until ``identity`` is committed; False on timeout."""

        def committed() -> bool:
            with self.store.snapshot() as snapshot:
                return snapshot.has_transaction(identity)

        return await self._wait_until(committed, timeout_s)

    async def wait_for_height(self, height: int, timeout_s: float) -> bool:
        """Wait until the block at ``height`` is committed; False on timeout."""
        return await self._wait_until(lambda: self.chain.head.height >= height, timeout_s)

    async def _wait_until(self, condition: Callable[[], bool], timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while not self._stopping:
            if condition():
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                async with asyncio.timeout(remaining):
                    await self._committed.wait()
            except TimeoutError:
                return False
        return condition()

    def subscribe(self) -> Subscription:
        """Committed blocks from the next one on. A subscriber that falls behind by more than
        ``SUBSCRIBER_QUEUE_BLOCKS`` blocks is disconnected rather than allowed to grow memory."""
        if len(self._subscribers) >= MAX_SUBSCRIBERS:
            raise InvalidInput("too many event subscribers", code="too_many_subscribers")
        queue: asyncio.Queue[CommittedBlock | None] = asyncio.Queue(SUBSCRIBER_QUEUE_BLOCKS)
        self._subscribers.add(queue)
        return Subscription(self._subscribers, queue, self._lagged)

    @property
    def private_data(self) -> PrivateData:
        """The node's private documents and the sources it pulls them from, opened on first use
        (``node.private_data``; acting for the organization of ``<home>/tls/node.crt``)."""
        if self._private_data is None:
            organization = organization_of_certificate(self.home / "tls" / "node.crt")
            self._private_data = PrivateData(
                self.home, self.config.private_data_sources, organization, self.suite.hash
            )
        return self._private_data

    def close(self) -> None:
        for queue in self._subscribers:
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)
        self.store.close()
        self.audit.close()
        if self._private_data is not None:
            self._private_data.close()
        log.info("node %s closed at height %d", self.config.name, self.chain.head.height)


class SnapshotReading:
    """``node.port.Reading`` over one store snapshot."""

    def __init__(self, runtime: Runtime, snapshot: Snapshot, context: BlockContext) -> None:
        self._runtime = runtime
        self._snapshot = snapshot
        self._context = context
        self.height = context.height
        self.time_ms = context.time_ms

    def get(self, full_key: bytes) -> bytes | None:
        return self._snapshot.get(full_key)

    def query(self, contract: str, name: str, arguments: Any) -> Any:
        return self._runtime.run_query(self._snapshot, self._context, contract, name, arguments)


class Subscription:
    """An async iterator of committed blocks; registered from the moment it is created."""

    def __init__(
        self,
        subscribers: set[asyncio.Queue[CommittedBlock | None]],
        queue: asyncio.Queue[CommittedBlock | None],
        lagged: weakref.WeakSet[asyncio.Queue[CommittedBlock | None]],
    ) -> None:
        self._subscribers = subscribers
        self._queue = queue
        self._lagged = lagged

    @property
    def lagged(self) -> bool:
        """True when the node dropped this subscriber for falling behind."""
        return self._queue in self._lagged

    def __aiter__(self) -> AsyncIterator[CommittedBlock]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[CommittedBlock]:
        try:
            while self._queue in self._subscribers:
                try:
                    item = await asyncio.wait_for(self._queue.get(), timeout=1.0)
                except TimeoutError:
                    continue
                if item is None:
                    return
                yield item
        finally:
            self.close()

    def close(self) -> None:
        self._subscribers.discard(self._queue)
