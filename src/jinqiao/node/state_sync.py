"""A joining node restores the state at a recent height from its peers' snapshots (ADR 0054),
then follows the chain by ordinary catch-up from there.

Steps, each checked before the next (every answer is a peer's word, hostile until checked):

1. ask every connected peer which snapshots it serves; take the greatest height ``H`` offered;
2. fetch block ``H`` and the chain's validator-set changes below it, and check: each change
   proven (state proof against a header the set in force certified) starting from genesis's
   set, which this node trusts already, then ``H``'s commit certificate against the set so
   reached (docs/proofs.md §3.3);
3. fetch the manifest and check that its parts make header ``H``'s state root
   (``node.snapshots``);
4. fetch the chunks from every peer that offers ``H`` at once; each chunk is checked on arrival
   and a wrong one is refused, logged and fetched from another peer; a peer that sent
   ``MAX_REFUSALS_PER_PEER`` wrong answers is asked nothing more;
5. fetch the blocks of the replay window below ``H`` (``valid_until_window_blocks`` of the
   restored parameters), each linked by hash to the one above it: the node must know which
   transactions of the window were committed, or it would take a replayed one for new;
6. fold the tree again from what the chunks built, compare with the state root, and install
   everything in one write batch (``snapshots.install``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from jinqiao.core.codec import decode, decode_stored, encode
from jinqiao.core.crypto import CryptoSuite
from jinqiao.core.errors import DecodeError, InvalidInput
from jinqiao.core.genesis import Genesis
from jinqiao.core.hashing import header_hash, validator_set_hash
from jinqiao.core.types import CommittedBlock, ValidatorSet
from jinqiao.execution.identity import GOVERNANCE, VALIDATORS_KEY
from jinqiao.execution.runtime import Runtime
from jinqiao.execution.state import MappingState, full_key
from jinqiao.node.p2p import MAX_FRAME_BYTES, P2PConfig, P2PNetwork
from jinqiao.node.reads import Reader
from jinqiao.node.snapshots import (
    SnapshotChunk,
    SnapshotFiles,
    SnapshotManifest,
    SnapshotPart,
    SnapshotRefused,
    VerifiedChunk,
    check_block_contents,
    fold_parts,
    install,
    verify_chunk,
    verify_manifest,
    verify_window_blocks,
)
from jinqiao.node.storage import Store
from jinqiao.node.wire import (
    MAX_OFFERED_SNAPSHOTS,
    MAX_VALIDATOR_CHANGES_PER_MESSAGE,
    BlockRequest,
    BlockResponse,
    ChunkRequest,
    ChunkResponse,
    ManifestRequest,
    ManifestResponse,
    SnapshotsOffer,
    SnapshotsRequest,
    StateSyncRequest,
    ValidatorChangesRequest,
    ValidatorChangesResponse,
    WireMessage,
    decode_message,
    encode_message,
)
from jinqiao.verify import verify_certificate, verify_state_read

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_S = 10.0
OFFER_WAIT_S = 3.0
MAX_REFUSALS_PER_PEER = 3
MAX_VALIDATOR_CHANGE_PAGES = 1_000
BLOCKS_IN_FLIGHT_PER_PEER = 16
CHUNKS_IN_FLIGHT_PER_PEER = 2
MAX_CANDIDATE_HEIGHTS = 4
"""Offered snapshot heights tried, newest first, before state sync gives up."""


class StateSyncFailed(InvalidInput):
    """State sync could not finish (no peer offers a snapshot, every peer lied, timeouts)."""

    code = "state_sync_failed"


@dataclass
class SyncReport:
    height: int
    chunks: int
    entries: int
    window_blocks: int
    refused: list[str] = field(default_factory=list)
    seconds: float = 0.0


class _Requests:
    """Answers awaited from peers, by (peer, what was asked)."""

    def __init__(self) -> None:
        self.waiting: dict[tuple[str, Any], asyncio.Future[WireMessage]] = {}

    def resolve(self, peer: str, message: WireMessage) -> None:
        key = (peer, _answer_key(message))
        future = self.waiting.pop(key, None)
        if future is not None and not future.done():
            future.set_result(message)

    async def ask(self, network: P2PNetwork, peer: str, request: WireMessage, key: Any) -> Any:
        future: asyncio.Future[WireMessage] = asyncio.get_running_loop().create_future()
        self.waiting[(peer, key)] = future
        try:
            if not network.send(peer, encode_message(request)):
                raise StateSyncFailed(f"peer {peer} is not connected")
            async with asyncio.timeout(REQUEST_TIMEOUT_S):
                return await future
        except TimeoutError:
            raise StateSyncFailed(f"peer {peer} did not answer {key} in time") from None
        finally:
            self.waiting.pop((peer, key), None)


def _answer_key(message: WireMessage) -> Any:
    if isinstance(message, SnapshotsOffer):
        return "offer"
    if isinstance(message, ManifestResponse):
        return ("manifest", message.manifest.height)
    if isinstance(message, ChunkResponse):
        return ("chunk", message.chunk.height, message.chunk.prefix)
    if isinstance(message, BlockResponse):
        return ("block", message.committed.block.header.height)
    if isinstance(message, ValidatorChangesResponse):
        return ("changes", message.from_height)
    return None


class StateSync:
    """One state sync of an empty store, over its own peer connections."""

    def __init__(
        self,
        genesis: Genesis,
        store: Store,
        runtime: Runtime,
        genesis_validators: ValidatorSet,
        p2p_config: P2PConfig,
        *,
        network_factory: Callable[[P2PConfig, Any], P2PNetwork] = P2PNetwork,
    ) -> None:
        self.genesis = genesis
        self.suite: CryptoSuite = genesis.suite
        self.store = store
        self.runtime = runtime
        self.genesis_validators = genesis_validators
        self.requests = _Requests()
        self.network = network_factory(p2p_config, self._on_frame)
        self.refusals: dict[str, int] = {}
        self.refused: list[str] = []

    async def _on_frame(self, peer: str, payload: bytes) -> None:
        try:
            message = decode_message(payload)
        except DecodeError as error:
            self._refuse(peer, f"undecodable frame: {error.message}")
            return
        self.requests.resolve(peer, message)

    def _refuse(self, peer: str, reason: str) -> None:
        self.refusals[peer] = self.refusals.get(peer, 0) + 1
        self.refused.append(f"{peer}: {reason}")
        log.warning("state sync: refused an answer of %s: %s", peer, reason)

    def _trusted(self, peers: Iterable[str]) -> list[str]:
        return [p for p in peers if self.refusals.get(p, 0) < MAX_REFUSALS_PER_PEER]

    async def run(self, timeout_s: float) -> SyncReport:
        started = time.perf_counter()
        await self.network.start()
        try:
            async with asyncio.timeout(timeout_s):
                report = await self._sync()
        except TimeoutError:
            raise StateSyncFailed(
                f"state sync did not finish in {timeout_s:g} s; refused: {self.refused or 'none'}"
            ) from None
        finally:
            await self.network.stop()
        report.seconds = time.perf_counter() - started
        log.info(
            "state sync: in %.1f s, %d state entries, %d answers refused",
            report.seconds,
            report.entries,
            len(report.refused),
        )
        return report

    async def _sync(self) -> SyncReport:
        while True:
            peers = self.network.connected()
            if peers:
                await asyncio.sleep(OFFER_WAIT_S)  # let the other peers connect too
                peers = self.network.connected()
                break
            await asyncio.sleep(0.2)
        top, manifest, serving = await self._choose(await self._offers(peers))
        height = top.block.header.height
        chunks = await self._chunks(manifest, serving)
        root, top_nodes = fold_parts(
            self.suite,
            manifest.split_depth,
            ((c.prefix, c.subtree_hash, c.leaf, c.bucket) for c in chunks),
        )
        if root != top.block.header.state_root:  # each chunk matched its part; a bug if not
            raise StateSyncFailed("the restored state does not make the header's state root")
        window = await self._window(top, chunks, serving)
        blocks = [*window, top]
        await asyncio.to_thread(
            install,
            self.store,
            chunks,
            top_nodes,
            blocks,
            [[receipt.transaction_hash for receipt in b.receipts] for b in blocks],
            [header_hash(self.suite, b.block.header) for b in blocks],
        )
        log.info(
            "state sync: installed the state at height %d (%d chunks, %d blocks of the replay "
            "window); following the chain from there",
            height,
            len(chunks),
            len(window),
        )
        return SyncReport(
            height=height,
            chunks=len(chunks),
            entries=sum(len(chunk.writes) for chunk in chunks),
            window_blocks=len(window),
            refused=list(self.refused),
        )

    async def _first(self, peers: list[str], attempt: Callable[[str], Any], what: str) -> Any:
        """The first peer's answer that checks out; each wrong one is refused."""
        for peer in self._trusted(peers):
            try:
                return await attempt(peer)
            except InvalidInput as failure:  # refused, unproven, undecodable or no answer
                self._refuse(peer, failure.message)
        raise StateSyncFailed(f"no peer gave {what} that checks out: {self.refused}")

    async def _choose(
        self, offers: dict[int, list[str]]
    ) -> tuple[CommittedBlock, SnapshotManifest, list[str]]:
        """The newest offered snapshot whose certified block and manifest check out (a peer
        that offers a height nobody else has, or cannot prove, only costs a try)."""
        for height in sorted(offers, reverse=True)[:MAX_CANDIDATE_HEIGHTS]:
            offering = offers[height]
            log.info("state sync: snapshot at height %d offered by %s", height, ", ".join(offering))
            try:
                top = await self._certified_block(height, offering)
                manifest, serving = await self._manifests(top, offering)
            except StateSyncFailed as failure:
                log.warning("state sync: snapshot at height %d not used: %s", height, failure)
                continue
            return top, manifest, serving
        raise StateSyncFailed(f"no offered snapshot checks out; refused: {self.refused}")

    async def _offers(self, peers: list[str]) -> dict[int, list[str]]:
        async def offer(peer: str) -> tuple[str, tuple[int, ...]]:
            try:
                answer = await self.requests.ask(self.network, peer, SnapshotsRequest(), "offer")
            except StateSyncFailed:
                return peer, ()
            return peer, tuple(answer.heights)

        offers = await asyncio.gather(*(offer(peer) for peer in peers))
        by_height: dict[int, list[str]] = {}
        for peer, offered in offers:
            for height in set(offered):
                by_height.setdefault(height, []).append(peer)
        if not by_height:
            raise StateSyncFailed(
                f"no peer offers a snapshot (asked {', '.join(peers)}): the serving nodes take "
                "one every snapshot_interval_blocks heights"
            )
        return by_height

    # -- the certified header ----------------------------------------------------------------
    async def _certified_block(self, height: int, peers: list[str]) -> CommittedBlock:
        async def attempt(peer: str) -> CommittedBlock:
            answer = await self.requests.ask(
                self.network, peer, BlockRequest(height), ("block", height)
            )
            committed: CommittedBlock = answer.committed
            validators = await self._validators_for(peer, height)
            header = committed.block.header
            verify_certificate(
                self.suite, self.genesis.chain_id, validators, header, committed.certificate
            )
            check_block_contents(self.suite, committed)
            return committed

        result: CommittedBlock = await self._first(peers, attempt, f"block {height}")
        return result

    async def _validators_for(self, peer: str, height: int) -> ValidatorSet:
        """The set that certifies ``height``: genesis's, then each proven change below it."""
        validators = self.genesis_validators
        from_height = 1
        for _ in range(MAX_VALIDATOR_CHANGE_PAGES):
            answer = await self.requests.ask(
                self.network,
                peer,
                ValidatorChangesRequest(from_height),
                ("changes", from_height),
            )
            for proof in answer.changes:
                at = proof.header.height
                if at < from_height:
                    raise SnapshotRefused("validator changes out of order")
                if at >= height:
                    return validators
                if proof.key != full_key(GOVERNANCE, VALIDATORS_KEY) or proof.value is None:
                    raise SnapshotRefused("a validator change that proves no validator set")
                verify_state_read(
                    self.genesis,
                    proof.header,
                    proof.certificate,
                    proof.key,
                    proof.value,
                    proof.proof,
                    validators=validators,
                )
                changed = decode(proof.value, ValidatorSet, max_bytes=MAX_FRAME_BYTES)
                if validator_set_hash(self.suite, changed) != proof.header.next_validators_hash:
                    raise SnapshotRefused("a proven validator set is not the header's next set")
                validators = changed
                from_height = at + 1
            if len(answer.changes) < MAX_VALIDATOR_CHANGES_PER_MESSAGE:
                return validators
        raise StateSyncFailed("too many validator-set changes")

    # -- manifest and chunks -----------------------------------------------------------------
    async def _manifest(self, peer: str, top: CommittedBlock) -> SnapshotManifest:
        height = top.block.header.height
        answer = await self.requests.ask(
            self.network, peer, ManifestRequest(height), ("manifest", height)
        )
        manifest: SnapshotManifest = answer.manifest
        verify_manifest(self.suite, manifest, top.block.header.state_root)
        if manifest.height != height:
            raise SnapshotRefused("a manifest of another height")
        return manifest

    async def _manifests(
        self, top: CommittedBlock, peers: list[str]
    ) -> tuple[SnapshotManifest, list[str]]:
        """The manifest most peers serve among those that check out, and those peers (peers
        may cut the same state into other chunks: chunks come only from peers of one manifest)."""

        async def attempt(peer: str) -> tuple[str, SnapshotManifest | None]:
            try:
                return peer, await self._manifest(peer, top)
            except InvalidInput as failure:
                self._refuse(peer, failure.message)
                return peer, None

        answers = await asyncio.gather(*(attempt(peer) for peer in peers))
        by_manifest: dict[bytes, list[str]] = {}
        manifests: dict[bytes, SnapshotManifest] = {}
        for peer, manifest in answers:
            if manifest is not None:
                encoded = encode(manifest)
                manifests[encoded] = manifest
                by_manifest.setdefault(encoded, []).append(peer)
        if not by_manifest:
            raise StateSyncFailed(f"no peer gave a manifest that checks out: {self.refused}")
        chosen = max(by_manifest, key=lambda encoded: len(by_manifest[encoded]))
        return manifests[chosen], by_manifest[chosen]

    async def _chunks(self, manifest: SnapshotManifest, peers: list[str]) -> list[VerifiedChunk]:
        todo: asyncio.Queue[SnapshotPart] = asyncio.Queue()
        for part in manifest.parts:
            todo.put_nowait(part)
        done: dict[int, VerifiedChunk] = {}
        failed: set[tuple[str, int]] = set()

        async def worker(peer: str) -> None:
            while len(done) < len(manifest.parts) and self._trusted([peer]):
                try:
                    part = todo.get_nowait()
                except asyncio.QueueEmpty:
                    await asyncio.sleep(0.05)
                    continue
                if (peer, part.prefix) in failed:
                    todo.put_nowait(part)
                    if all((p, part.prefix) in failed for p in self._trusted(peers)):
                        raise StateSyncFailed(f"every peer failed chunk {part.prefix}")
                    await asyncio.sleep(0.05)
                    continue
                try:
                    answer = await self.requests.ask(
                        self.network,
                        peer,
                        ChunkRequest(manifest.height, part.prefix),
                        ("chunk", manifest.height, part.prefix),
                    )
                    done[part.prefix] = await asyncio.to_thread(
                        verify_chunk, self.suite, manifest, part, answer.chunk
                    )
                except InvalidInput as failure:
                    self._refuse(peer, failure.message)
                    failed.add((peer, part.prefix))
                    todo.put_nowait(part)

        workers = [
            asyncio.create_task(worker(peer))
            for peer in peers
            for _ in range(CHUNKS_IN_FLIGHT_PER_PEER)
        ]
        try:
            await asyncio.gather(*workers)
        finally:
            for task in workers:
                task.cancel()
        if len(done) < len(manifest.parts):
            raise StateSyncFailed(
                f"{len(manifest.parts) - len(done)} chunks could not be fetched: {self.refused}"
            )
        return [done[part.prefix] for part in manifest.parts]

    # -- the replay window -------------------------------------------------------------------
    async def _window(
        self, top: CommittedBlock, chunks: list[VerifiedChunk], peers: list[str]
    ) -> list[CommittedBlock]:
        writes: dict[bytes, bytes] = {}
        for chunk in chunks:
            writes.update(chunk.writes)
        window = self.runtime.parameters(MappingState(writes)).valid_until_window_blocks
        height = top.block.header.height
        first = max(1, height - window + 1)
        blocks: dict[int, CommittedBlock] = {}
        heights = list(range(first, height))

        async def worker(peer: str, mine: list[int]) -> None:
            for at in mine:
                with contextlib.suppress(StateSyncFailed):
                    answer = await self.requests.ask(
                        self.network, peer, BlockRequest(at), ("block", at)
                    )
                    blocks[at] = answer.committed

        for _ in range(MAX_REFUSALS_PER_PEER * max(1, len(peers))):
            missing = [at for at in heights if at not in blocks]
            trusted = self._trusted(peers)
            if not missing or not trusted:
                break
            lanes = [(peer, lane) for peer in trusted for lane in range(BLOCKS_IN_FLIGHT_PER_PEER)]
            await asyncio.gather(
                *(
                    worker(peer, missing[index :: len(lanes)])
                    for index, (peer, _) in enumerate(lanes)
                )
            )
            try:
                ordered = [blocks[at] for at in heights]
                verify_window_blocks(self.suite, top, ordered)
                return ordered
            except KeyError:
                continue
            except SnapshotRefused as failure:
                # The link check names the first block (from the top) that is not the chain's.
                blocks.pop(int(failure.details.get("height", first)), None)
                self.refused.append(f"window: {failure.message}")
                log.warning("state sync: %s", failure.message)
        raise StateSyncFailed(f"could not fetch the {len(heights)} blocks of the replay window")


class SnapshotServer:
    """Takes this node's snapshots every ``interval`` heights and answers joining peers'
    state-sync requests from them (called in a worker thread)."""

    def __init__(
        self, suite: CryptoSuite, store: Store, files: SnapshotFiles, interval: int
    ) -> None:
        self.suite = suite
        self.store = store
        self.files = files
        self.interval = interval
        self.reader = Reader(store, suite)
        self._taking = threading.Lock()

    def due(self, height: int) -> bool:
        return self.interval > 0 and height % self.interval == 0

    def take(self) -> SnapshotManifest | None:
        """Take a snapshot of the head (one at a time; a call while one runs returns ``None``)."""
        if not self._taking.acquire(blocking=False):
            return None
        try:
            started = time.perf_counter()
            manifest = self.files.take(self.suite, self.store)
            if manifest is not None:
                log.info(
                    "snapshot of height %d taken: %d chunks, %d entries, %.1f s",
                    manifest.height,
                    len(manifest.parts),
                    sum(part.entries for part in manifest.parts),
                    time.perf_counter() - started,
                )
            return manifest
        finally:
            self._taking.release()

    def answer(self, request: StateSyncRequest) -> WireMessage | None:
        if isinstance(request, SnapshotsRequest):
            return SnapshotsOffer(tuple(self.files.heights()[-MAX_OFFERED_SNAPSHOTS:]))
        if isinstance(request, ManifestRequest):
            manifest = self.files.manifest(request.height)
            return None if manifest is None else ManifestResponse(manifest)
        if isinstance(request, ChunkRequest):
            raw = self.files.chunk(request.height, request.prefix)
            if raw is None:
                return None
            return ChunkResponse(decode_stored(raw, SnapshotChunk))
        changes = self.reader.validator_changes(
            max(1, request.from_height), MAX_VALIDATOR_CHANGES_PER_MESSAGE
        )
        return ValidatorChangesResponse(request.from_height, tuple(changes))
