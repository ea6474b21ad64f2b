"""``jinqiao bench statesync``: how long a new node takes to be in sync, by replaying every block
or by restoring a snapshot (issue 17, item 5; ADR 0054).

For each chain length N (transfers among a fixed set of accounts, so the state stays the same
size while the chain grows) a source store is built as ``bench execute`` builds one
(``Chain.execute``, precommit signature, ``Chain.commit``), then a fresh node gets in sync two
ways, each into its own fresh LMDB store:

- **replay**: for every block 1..H, what catch-up does — check its commit certificate, re-execute
  it (``Chain.validate``, signatures checked) and commit it;
- **snapshot**: what state sync does once the bytes have arrived — check block H's certificate,
  decode and check the manifest against H's state root, decode and check every chunk, check the
  blocks of the replay window by their hash links and roots, fold the tree again and install
  everything in one write batch (``node.snapshots``); the node is then at H.

The peers' network is left out (the snapshot path's bytes are reported, so a reader can add a
link's time); the snapshot is the serving node's, taken at the head (its cost is reported too).
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec
from rich.progress import Progress
from rich.table import Table

from jinqiao.apps import default_contracts
from jinqiao.bench.execute import (
    apply_blocks,
    bench_genesis,
    setup_description,
    signed_transfers,
)
from jinqiao.core.codec import decode
from jinqiao.core.crypto import DEFAULT_SUITE, Signer, get_suite
from jinqiao.core.errors import InvalidInput, NodeFault
from jinqiao.core.genesis import ChainParameters, Genesis
from jinqiao.core.hashing import header_hash
from jinqiao.core.types import CommittedBlock
from jinqiao.execution.runtime import Runtime
from jinqiao.node.chain import Chain
from jinqiao.node.snapshots import (
    MAX_SNAPSHOT_CHUNK_BYTES,
    SnapshotChunk,
    SnapshotFiles,
    SnapshotManifest,
    check_block_contents,
    fold_parts,
    install,
    verify_chunk,
    verify_manifest,
    verify_window_blocks,
)
from jinqiao.node.storage import Store
from jinqiao.terminal import console, emit_json, progress_bar
from jinqiao.verify import verify_certificate

WINDOW_BLOCKS = 128
"""The bench genesis's ``valid_until_window_blocks`` (its transfers are valid 100 blocks)."""
MAX_LENGTHS = 6


def parse_lengths(text: str) -> list[int]:
    try:
        lengths = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise InvalidInput(
            f"--lengths: {text!r} is not a comma-separated list of numbers"
        ) from None
    if (
        not lengths
        or len(lengths) > MAX_LENGTHS
        or lengths != sorted(set(lengths))
        or lengths[0] < 1_000
        or lengths[-1] > 10_000_000
    ):
        raise InvalidInput(
            f"--lengths: 1 to {MAX_LENGTHS} increasing chain lengths of 1,000..10,000,000 "
            "transactions"
        )
    return lengths


def statesync_genesis(holders: list[Signer], validator: Signer) -> Genesis:
    genesis = bench_genesis(holders, validator)
    parameters = ChainParameters(valid_until_window_blocks=WINDOW_BLOCKS)
    return msgspec.structs.replace(genesis, parameters=parameters)


def _runtime(genesis: Genesis) -> Runtime:
    return Runtime(genesis.suite, genesis.chain_id, default_contracts())


def replay(source: Store, genesis: Genesis, target: Path) -> tuple[float, bytes]:
    """Catch up block by block from ``source`` into a fresh store at ``target``."""
    store = Store(target)
    try:
        chain = Chain(store, genesis, _runtime(genesis))
        started = time.perf_counter()
        with source.snapshot() as snapshot:
            head = snapshot.head_height()
        for height in range(1, head + 1):
            with source.snapshot() as snapshot:
                committed = snapshot.block(height)
            if committed is None:
                raise NodeFault(f"source block {height} is missing")
            header = committed.block.header
            verify_certificate(
                genesis.suite,
                genesis.chain_id,
                chain.head.validators,
                header,
                committed.certificate,
            )
            chain.commit(chain.validate(committed.block), committed.certificate)
        return time.perf_counter() - started, chain.head.state_root
    finally:
        store.close()


def restore(
    source: Store,
    files: SnapshotFiles,
    height: int,
    genesis: Genesis,
    target: Path,
    *,
    journal: bool = False,
) -> tuple[float, int, bytes]:
    """State sync from the snapshot files into a fresh store (a pruning one if ``journal``):
    every check the joining node makes, then the install. Returns seconds, bytes read and the
    restored head's state root."""
    suite = genesis.suite
    store = Store(target, journal=journal)
    try:
        chain = Chain(store, genesis, _runtime(genesis))
        started = time.perf_counter()
        with source.snapshot() as snapshot:
            top = snapshot.block(height)
            window = [
                snapshot.block(at) for at in range(max(1, height - WINDOW_BLOCKS + 1), height)
            ]
        if top is None or any(block is None for block in window):
            raise NodeFault("source blocks missing")
        blocks: list[CommittedBlock] = [block for block in window if block is not None]
        header = top.block.header
        verify_certificate(suite, genesis.chain_id, chain.head.validators, header, top.certificate)
        check_block_contents(suite, top)
        raw = (files.directory / str(height) / "manifest").read_bytes()
        manifest = decode(raw, SnapshotManifest, max_bytes=MAX_SNAPSHOT_CHUNK_BYTES)
        verify_manifest(suite, manifest, header.state_root)
        read_bytes = len(raw)
        chunks = []
        for part in manifest.parts:
            data = files.chunk(height, part.prefix) or b""
            read_bytes += len(data)
            chunk = decode(data, SnapshotChunk, max_bytes=MAX_SNAPSHOT_CHUNK_BYTES + 1024)
            chunks.append(verify_chunk(suite, manifest, part, chunk))
        verify_window_blocks(suite, top, blocks)
        parts = ((c.prefix, c.subtree_hash, c.leaf, c.bucket) for c in chunks)
        root, top_nodes = fold_parts(suite, manifest.split_depth, parts)
        if root != header.state_root:
            raise NodeFault("the restored tree is not the header's")
        everything = [*blocks, top]
        install(
            store,
            chunks,
            top_nodes,
            everything,
            [[r.transaction_hash for r in b.receipts] for b in everything],
            [header_hash(suite, b.block.header) for b in everything],
        )
        chain.reopen()
        return time.perf_counter() - started, read_bytes, chain.head.state_root
    finally:
        store.close()


def measure_length(
    length: int,
    holders: list[Signer],
    validator: Signer,
    genesis: Genesis,
    block_size: int,
    directory: Path,
    progress: Progress,
    replay_up_to: int,
) -> dict[str, Any]:
    rng = random.Random(length)
    transactions = signed_transfers(holders, length, rng, block_size)
    source = Store(directory / f"source-{length}")
    try:
        chain = Chain(source, genesis, _runtime(genesis))
        apply_blocks(
            chain,
            validator,
            transactions,
            block_size,
            verify_signatures=False,
            progress=progress,
            label=f"build a chain of {length:,} transfers",
        )
        height = chain.head.height
        files = SnapshotFiles(directory / f"snapshots-{length}", keep=1)
        started = time.perf_counter()
        manifest = files.take(genesis.suite, source)
        take_s = time.perf_counter() - started
        if manifest is None:
            raise NodeFault("no snapshot taken")
        replay_s: float | None = None
        replay_root = chain.head.state_root
        if length <= replay_up_to:
            task = progress.add_task(f"replay {height} blocks", total=1)
            replay_s, replay_root = replay(source, genesis, directory / f"replay-{length}")
            progress.advance(task)
        restore_s, read_bytes, restore_root = restore(
            source, files, height, genesis, directory / f"restore-{length}"
        )
        if not replay_root == restore_root == chain.head.state_root:
            raise NodeFault("replay and snapshot reached different states")
    finally:
        source.close()
    return {
        "transactions": length,
        "blocks": height,
        "state_entries": sum(part.entries for part in manifest.parts),
        "chunks": len(manifest.parts),
        "snapshot_bytes": read_bytes,
        "window_blocks": min(WINDOW_BLOCKS, height) - 1,
        "snapshot_take_seconds": round(take_s, 3),
        "replay_seconds": None if replay_s is None else round(replay_s, 3),
        "snapshot_seconds": round(restore_s, 3),
        "speedup": None if replay_s is None else round(replay_s / restore_s, 1),
    }


def run_statesync_bench(
    *,
    lengths: list[int],
    accounts: int,
    block_size: int,
    replay_up_to: int,
    directory: Path | None,
    json_output: bool,
    output: Path | None,
    plot: Path | None,
) -> None:
    rng = random.Random(1)
    suite = get_suite(DEFAULT_SUITE)
    holders = [suite.signer(rng.randbytes(32)) for _ in range(accounts)]
    validator = suite.signer(rng.randbytes(32))
    genesis = statesync_genesis(holders, validator)
    rows: list[dict[str, Any]] = []
    setup = setup_description(lengths[-1], block_size, accounts)
    setup["path"] = (
        "replay: per block certificate check, Chain.validate (signatures checked), Chain.commit; "
        "snapshot: certificate of block H, manifest and every chunk checked against H's state "
        f"root, {WINDOW_BLOCKS - 1} window blocks hash-linked, one install write batch; "
        "no network (bytes reported)"
    )
    setup["valid_until_window_blocks"] = WINDOW_BLOCKS
    result: dict[str, Any] = {"benchmark": "statesync", "setup": setup, "results": rows}
    with (
        tempfile.TemporaryDirectory(prefix="jinqiao-statesync-", dir=directory) as work,
        progress_bar(disable=json_output) as progress,
    ):
        for length in lengths:
            rows.append(
                measure_length(
                    length,
                    holders,
                    validator,
                    genesis,
                    block_size,
                    Path(work),
                    progress,
                    replay_up_to,
                )
            )
            if output is not None:  # after each length: a long run's figures survive a stop
                output.write_text(json.dumps(result, indent=2) + "\n")
    if plot is not None:
        write_plot(result, plot)
    if json_output:
        emit_json(result)
        return
    table = Table(title="jinqiao bench statesync — time for a new node to be in sync")
    for column in ("transactions", "blocks", "state entries", "replay s", "snapshot s", "speedup"):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(
            f"{row['transactions']:,}",
            str(row["blocks"]),
            f"{row['state_entries']:,}",
            "not run" if row["replay_seconds"] is None else str(row["replay_seconds"]),
            str(row["snapshot_seconds"]),
            "" if row["speedup"] is None else f"{row['speedup']}x",
        )
    console.print(table)
    console.print(f"setup: {setup['cpu']}, {setup['cores']} cores; {setup['path']}")


def write_plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["results"]
    lengths = [row["transactions"] for row in rows]
    figure, axis = plt.subplots(figsize=(7, 4.5))
    replayed = [row for row in rows if row["replay_seconds"] is not None]
    axis.plot(
        [row["transactions"] for row in replayed],
        [row["replay_seconds"] for row in replayed],
        "o-",
        label="replay every block",
    )
    axis.plot(lengths, [row["snapshot_seconds"] for row in rows], "s-", label="state sync")
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("chain length (transactions)")
    axis.set_ylabel("seconds to be in sync")
    setup = result["setup"]
    axis.set_title(
        f"new node in sync: {setup['accounts']:,} accounts, blocks of {setup['block_size']:,}"
    )
    axis.grid(True, which="both", alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
