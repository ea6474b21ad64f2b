"""``jinqiao bench storage`` (issue 17 item 4, ADR 0053): the disk a validator network uses over
time under a fixed offered rate of transfers, once as archive nodes (``retention_heights`` 0)
and once as pruning nodes, so that the growth of the one and the plateau of the other show on
one plot.

The load is the network benchmark's transfers among ``SENDERS`` funded accounts, signed as they
are sent with ``valid_until`` a little past the head (a transaction signed for a far height
would keep its block's body, which the index needs to refuse its replay, that long). Every
``SAMPLE_S`` seconds the sampler records the disk each node's ``data.mdb`` takes (its allocated
blocks: the file is a sparse one of the map's size, ADR 0056; LMDB never gives pages back to the
file system, it reuses them) and the first node's live
bytes (the pages its tables' B-trees hold, read through a read-only LMDB handle).
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

import msgspec

from jinqiao.apps.token import TOKEN, TransferArgs
from jinqiao.bench.local_network import (
    BATCH,
    RunningNetwork,
    account_keys,
    init_quiet_network,
    running_network,
    save_figure,
    sign_transaction,
)
from jinqiao.bench.network import SENDERS, submit_transfers, transfer_spec
from jinqiao.core.crypto import DEFAULT_SUITE, Signer
from jinqiao.fileio import PUBLIC_FILE_MODE, save_atomically
from jinqiao.node.config import dump_config, load_config
from jinqiao.node.storage import open_read_only
from jinqiao.terminal import console, emit_json

SAMPLE_S = 10.0
"""Seconds between two samples of the disk."""
SIGN_AHEAD_BLOCKS = 100
"""A transfer is valid until this many heights past the head its sender saw."""
MODES = ("archive", "pruned")


@dataclass
class _Samples:
    rows: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def live_bytes_of(data: Path) -> int:
    """The pages the B-trees of every table of the LMDB store in ``data`` hold, in bytes (as
    ``LmdbTables.live_bytes``, through a read-only handle that another process may hold too)."""
    environment = open_read_only(data, max_dbs=64)
    try:
        pages = 0
        with environment.begin() as transaction:
            names = [bytes(key) for key, _ in transaction.cursor()]  # the named tables
            for name in names:
                database = environment.open_db(name, txn=transaction, create=False)
                stat = transaction.stat(database)
                pages += stat["branch_pages"] + stat["leaf_pages"] + stat["overflow_pages"]
        return int(pages * environment.stat()["psize"])
    finally:
        environment.close()


def _set_retention(home: Path, retention_heights: int) -> None:
    config = msgspec.structs.replace(load_config(home), retention_heights=retention_heights)
    save_atomically(home / "config.json", dump_config(config), mode=PUBLIC_FILE_MODE)


class _SignedOnDemand(Sequence[tuple[bytes, bytes]]):
    """The load as ``submit_transfers`` reads it, a slice at a time: each transfer signed when
    its batch is taken, valid ``SIGN_AHEAD_BLOCKS`` past the head the watcher last saw."""

    def __init__(
        self, network: RunningNetwork, senders: list[Signer], chain_id: str, count: int
    ) -> None:
        self.network = network
        self.senders = senders
        self.chain_id = chain_id
        self.size = count

    def __len__(self) -> int:
        return self.size

    @overload
    def __getitem__(self, index: int) -> tuple[bytes, bytes]: ...

    @overload
    def __getitem__(self, index: slice) -> list[tuple[bytes, bytes]]: ...

    def __getitem__(self, index: int | slice) -> tuple[bytes, bytes] | list[tuple[bytes, bytes]]:
        if isinstance(index, int):
            return self[index : index + 1][0]
        tracker = self.network.tracker
        with tracker.lock:
            head = tracker.blocks[-1][1] if tracker.blocks else 0
        signed = []
        for nonce in range(*index.indices(self.size)):
            payer = self.senders[nonce % len(self.senders)]
            payee = self.senders[(nonce * 7 + 1) % len(self.senders)]
            args = TransferArgs("CNY", payee.address, 1)
            signed.append(
                sign_transaction(
                    payer,
                    self.chain_id,
                    nonce,
                    TOKEN,
                    "transfer",
                    args,
                    valid_until=head + SIGN_AHEAD_BLOCKS,
                )
            )
        return signed


def _sample(
    network: RunningNetwork, data_dirs: list[Path], samples: _Samples, started: float
) -> None:
    while not network.stop.wait(SAMPLE_S):
        with network.tracker.lock:
            height = network.tracker.blocks[-1][1] if network.tracker.blocks else 0
            committed = len(network.tracker.committed_at)
        row = {
            "elapsed_s": round(time.monotonic() - started, 1),
            "height": height,
            "committed": committed,
            "disk_bytes": [(data / "data.mdb").stat().st_blocks * 512 for data in data_dirs],
            "live_bytes_first_node": live_bytes_of(data_dirs[0]),
        }
        with samples.lock:
            samples.rows.append(row)


def _run_one(
    mode: str, validators: int, rate: int, duration_s: float, retention: int, base_port: int
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"jinqiao-bench-storage-{mode}-") as directory:
        root = Path(directory)
        layout = init_quiet_network(
            root / "net", transfer_spec(validators, base_port, DEFAULT_SUITE)
        )
        homes = [root / "net" / node.home for node in layout.nodes]
        for home in homes:
            _set_retention(home, retention if mode == "pruned" else 0)
        senders = list(account_keys(root / "net", layout, "sender-").values())
        data_dirs = [home / load_config(home).data_dir for home in homes]
        samples = _Samples()
        with running_network(root / "net", layout, root) as network:
            started = time.monotonic()
            sampler = threading.Thread(
                target=_sample, args=(network, data_dirs, samples, started), daemon=True
            )
            sampler.start()
            load = _SignedOnDemand(
                network, senders, layout.chain_id, int(rate * duration_s * 1.1) + BATCH
            )
            submit_transfers(
                network, network.urls, load, rate, duration_s, network.tracker, network.stop
            )
            network.stop.set()
            sampler.join(timeout=60)
            with network.tracker.lock:
                committed = len(network.tracker.committed_at)
                refused = network.tracker.refused
    rows = samples.rows
    return {
        "retention_heights": retention if mode == "pruned" else 0,
        "committed_per_second": round(committed / duration_s, 1),
        "refused": refused,
        "samples": rows,
        "growth_mb_per_minute": _growth(rows),
    }


def _growth(rows: list[dict[str, Any]]) -> dict[str, float]:
    """MB per minute of the first node's file and live bytes, over the first and the second half
    of the run: a store that has reached its plateau grows by ~0 in the second half."""
    if len(rows) < 4:
        return {}
    half = len(rows) // 2
    out = {}
    for name, first, second in (
        ("first_half", rows[0], rows[half]),
        ("second_half", rows[half], rows[-1]),
    ):
        minutes = (second["elapsed_s"] - first["elapsed_s"]) / 60
        out[f"disk_{name}"] = round(
            (second["disk_bytes"][0] - first["disk_bytes"][0]) / 1e6 / minutes, 2
        )
        out[f"live_{name}"] = round(
            (second["live_bytes_first_node"] - first["live_bytes_first_node"]) / 1e6 / minutes, 2
        )
    return out


def run_storage_bench(
    *,
    validators: int,
    duration_s: float,
    rate: int,
    retention_heights: int,
    modes: tuple[str, ...],
    json_output: bool,
    output: Path | None,
    plot: Path | None,
    base_port: int,
) -> dict[str, Any]:
    runs = {}
    for mode in modes:
        if not json_output:
            console.print(
                f"{mode}: {validators} validators, {rate} tx/s offered for {duration_s:.0f} s"
            )
        runs[mode] = _run_one(mode, validators, rate, duration_s, retention_heights, base_port)
    result: dict[str, Any] = {
        "benchmark": "storage",
        "setup": {
            "validators": validators,
            "processes": f"{validators} node processes on this machine, mutual TLS, HTTPS API",
            "load": f"token transfers of 1 fen among {SENDERS} funded accounts, batches of "
            f"{BATCH} to the nodes in turn, each valid {SIGN_AHEAD_BLOCKS} heights past the "
            "head its sender saw",
            "offered_per_second": rate,
            "duration_s": duration_s,
            "sample_every_s": SAMPLE_S,
            "disk": "disk blocks each node's data.mdb takes (LMDB reuses freed pages, never "
            "shrinks the file); live: the pages the first node's tables hold",
        },
        "runs": runs,
    }
    if plot is not None:
        plot_storage_bench(result, plot)
        result["plot"] = str(plot)
    if output is not None:
        output.write_text(json.dumps(result, indent=2) + "\n")
    if json_output:
        emit_json(result)
    else:
        for mode, run in runs.items():
            console.print(
                f"{mode}: {run['committed_per_second']} tx/s committed; growth MB/min "
                f"{run['growth_mb_per_minute']}"
            )
    return result


def plot_storage_bench(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(9, 5))
    colours = {"archive": "#c53030", "pruned": "#2b6cb0"}
    for mode, run in result["runs"].items():
        minutes = [row["elapsed_s"] / 60 for row in run["samples"]]
        disk = [row["disk_bytes"][0] / 1e6 for row in run["samples"]]
        live = [row["live_bytes_first_node"] / 1e6 for row in run["samples"]]
        label = f"{mode} ({run['committed_per_second']} tx/s committed)"
        axes.plot(minutes, disk, color=colours.get(mode), label=f"{label}: data.mdb")
        axes.plot(minutes, live, color=colours.get(mode), linestyle="--", label=f"{mode}: live")
    axes.set_xlabel("minutes since the load started")
    axes.set_ylabel("MB, first validator's store")
    setup = result["setup"]
    retention = result["runs"].get("pruned", {}).get("retention_heights", 0)
    save_figure(
        figure,
        axes,
        f"{setup['validators']} validators, {setup['offered_per_second']} tx/s offered; "
        f"pruned keeps {retention} heights",
        "upper left",
        path,
    )
