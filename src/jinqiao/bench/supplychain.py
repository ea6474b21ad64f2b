"""``jinqiao bench supplychain``: EPCIS events committed per second by a validator network of
separate node processes on this machine, the token transfer rate of the same network in the same
run (``bench network``'s load, for the ratio), and the time to verify an item with 1,000 events
at the API (``GET /v1/verify``) and through the SDK (every proof checked, the verdict
recomputed).

The events are real EPCIS 2.0 documents: ObjectEvents (``commissioning``, one new SGTIN each)
written as XML by ``jinqiao.epcis.build`` and hashed by the reference implementation, then
signed as ``supplychain.commission`` transactions — all before the load starts, like the
transfers. Only transactions the contract accepted count as committed events. The item with a
long history is commissioned, then seen at a different read point by each further event
(``observing``); the verification reads the item, its recall, and its latest 32 events with
proofs, so its cost does not grow with the history.
"""

from __future__ import annotations

import itertools
import json
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

from jinqiao.apps.supplychain.authenticity import TRACE_EVENTS
from jinqiao.apps.supplychain.model import SUPPLYCHAIN, CommissionArgs, EpcsArgs, EventFields
from jinqiao.bench.execute import setup_description
from jinqiao.bench.local_network import (
    BATCH,
    RunningNetwork,
    Tracker,
    account_keys,
    init_quiet_network,
    latency_ms,
    percentile,
    running_network,
    sign_transaction,
)
from jinqiao.bench.network import SENDERS, presign_transfers, submit_transfers, transfer_spec
from jinqiao.client import Client
from jinqiao.core.crypto import DEFAULT_SUITE, Signer
from jinqiao.demo import DemoFailed
from jinqiao.epcis import parse_document
from jinqiao.epcis.build import ObjectEventSpec, xml_document
from jinqiao.node.config import load_config
from jinqiao.provision.network import AccountSpec, NetworkSpec, OrganizationSpec
from jinqiao.terminal import console, emit_json

BRAND_PREFIX = "6901234"
BRAND_ACCOUNTS = 50
EVENTS_PER_DOCUMENT = 1_000
DRAIN_TIMEOUT_S = 60.0
HISTORY_TIMEOUT_S = 600.0
"""The item's history is built after the event phase, whose backlog may still be committing:
it waits for all of it, so the verification is timed on a network at rest."""
VERIFY_TARGET_MS = 50.0


def _spec(validators: int, base_port: int, block_max_transactions: int | None) -> NetworkSpec:
    """``bench network``'s network (its senders hold CNY) plus a brand owner with
    ``BRAND_ACCOUNTS`` accounts and its company prefix; ``block_max_transactions`` replaces the
    chain parameter's default for both phases."""
    transfers = transfer_spec(validators, base_port, DEFAULT_SUITE)
    parameters = transfers.parameters
    if block_max_transactions is not None:
        parameters = msgspec.structs.replace(
            parameters, block_max_transactions=block_max_transactions
        )
    brand = OrganizationSpec(
        "brand",
        "Benchmark Brand",
        (),
        0,
        tuple(AccountSpec(f"brand-{i}", ("admin",)) for i in range(BRAND_ACCOUNTS)),
    )
    contracts = {
        **transfers.contracts,
        SUPPLYCHAIN: {"company_prefixes": [{"prefix": BRAND_PREFIX, "organization": "brand"}]},
    }
    return msgspec.structs.replace(
        transfers,
        chain_id="jinqiao-bench-supplychain",
        organizations=(*transfers.organizations, brand),
        contracts=contracts,
        parameters=parameters,
    )


def _sgtin(serial: str) -> str:
    return f"urn:epc:id:sgtin:{BRAND_PREFIX}.000001.{serial}"


def _read_point(index: int) -> str:
    return f"urn:epc:id:sgln:{BRAND_PREFIX}.{index % 100_000:05d}.0"


def _hashed(specs: list[ObjectEventSpec]) -> Iterator[EventFields]:
    """Each event's fields with its CBV 2.0 hash, from documents of up to 1,000 events."""
    for start in range(0, len(specs), EVENTS_PER_DOCUMENT):
        chunk = specs[start : start + EVENTS_PER_DOCUMENT]
        document = parse_document(xml_document(chunk, created_ms=chunk[0].event_time_ms), None)
        for event in document.events:
            yield EventFields(event.hash_bytes, event.event_time_ms, event.read_point)


def _commission_events(
    brands: list[Signer], chain_id: str, count: int, now_ms: int
) -> list[tuple[bytes, bytes]]:
    specs = [
        ObjectEventSpec("commissioning", [_sgtin(f"B{i}")], now_ms, "ADD", _read_point(i))
        for i in range(count)
    ]
    return [
        sign_transaction(
            brands[i % len(brands)],
            chain_id,
            10**9 + i,
            SUPPLYCHAIN,
            "commission",
            CommissionArgs(fields, (_sgtin(f"B{i}"),), "LOT-1"),
        )
        for i, fields in enumerate(_hashed(specs))
    ]


def _history_events(
    brand: Signer, chain_id: str, events: int, now_ms: int
) -> tuple[str, list[tuple[bytes, bytes]], list[tuple[bytes, bytes]]]:
    """The long-lived item, its commission, and ``events - 1`` sightings of it."""
    item = _sgtin("HISTORY")
    specs = [ObjectEventSpec("commissioning", [item], now_ms, "ADD", _read_point(0))]
    specs += [
        ObjectEventSpec("observing", [item], now_ms, read_point=_read_point(i))
        for i in range(1, events)
    ]
    fields = list(_hashed(specs))
    commission = [
        sign_transaction(
            brand, chain_id, 1, SUPPLYCHAIN, "commission", CommissionArgs(fields[0], (item,))
        )
    ]
    sightings = [
        sign_transaction(brand, chain_id, 2 + i, SUPPLYCHAIN, "observe", EpcsArgs(f, (item,)))
        for i, f in enumerate(fields[1:])
    ]
    return item, commission, sightings


def _phase(
    network: RunningNetwork,
    urls: list[str],
    transactions: list[tuple[bytes, bytes]],
    duration_s: float,
    tracker: Tracker,
    stop: threading.Event,
) -> dict[str, Any]:
    """Offer ``transactions`` as fast as accepted for ``duration_s``; wait for them to commit;
    count those committed inside the window and accepted by the contract."""
    identities = {identity for identity, _ in transactions}
    started = time.monotonic()
    submit_transfers(network, urls, transactions, None, duration_s, tracker, stop)
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while time.monotonic() < deadline:
        with tracker.lock:
            pending = [h for h in identities if h in tracker.submitted_at]
            if all(h in tracker.committed_at for h in pending):
                break
        time.sleep(0.1)
    window_end = started + duration_s
    ended = time.monotonic()
    with tracker.lock:
        blocks = [b for b in tracker.blocks if started <= b[0] <= ended and b[2]]
        submitted = [h for h in identities if h in tracker.submitted_at]
        committed = [h for h in submitted if h in tracker.committed_at]
        rejected = {h: tracker.rejected[h] for h in committed if h in tracker.rejected}
        in_window = [
            h for h in committed if tracker.committed_at[h] <= window_end and h not in rejected
        ]
        latencies = [tracker.committed_at[h] - tracker.submitted_at[h] for h in committed]
    return {
        "committed_per_second": round(len(in_window) / duration_s, 1),
        "committed_in_window": len(in_window),
        "submitted": len(submitted),
        "committed_total": len(committed),
        "rejected_by_contract": len(rejected),
        "rejection_sample": sorted(set(rejected.values()))[:3],
        "latency_ms": latency_ms(latencies),
        "blocks": _block_summary(blocks, started, ended),
    }


def _block_summary(
    blocks: list[tuple[float, int, int, int]], started: float, ended: float
) -> dict[str, Any]:
    """The non-empty blocks seen from the phase's start until its backlog committed (or the
    drain timeout): how many, how full, in how many rounds, and the longest time without one,
    the end included (a stall shows here)."""
    if not blocks:
        return {"count": 0, "longest_gap_s": round(ended - started, 2)}
    times = [started] + [seen for seen, _, _, _ in blocks] + [ended]
    return {
        "count": len(blocks),
        "transactions_mean": round(statistics.mean(b[2] for b in blocks), 1),
        "transactions_max": max(b[2] for b in blocks),
        "rounds_per_height": round(statistics.mean(b[3] + 1 for b in blocks), 3),
        "rounds_max": max(b[3] + 1 for b in blocks),
        "longest_gap_s": round(max(b - a for a, b in itertools.pairwise(times)), 2),
    }


def _submit_all(
    network: RunningNetwork, url: str, transactions: list[tuple[bytes, bytes]], tracker: Tracker
) -> None:
    """Post every transaction (retrying what a saturated node refuses) and wait for all."""
    stop = threading.Event()
    remaining = list(transactions)
    for _ in range(100):
        if not remaining:
            break
        before = len(tracker.submitted_at)
        submit_transfers(network, [url], remaining, None, 600, tracker, stop)
        with tracker.lock:
            remaining = [t for t in remaining if t[0] not in tracker.submitted_at]
        if len(tracker.submitted_at) == before:
            time.sleep(0.5)
    deadline = time.monotonic() + HISTORY_TIMEOUT_S
    while time.monotonic() < deadline:
        with tracker.lock:
            if all(identity in tracker.committed_at for identity, _ in transactions):
                return
        time.sleep(0.1)
    raise DemoFailed(f"{len(transactions)} transactions not committed in {HISTORY_TIMEOUT_S} s")


def _verify_timing(
    network: RunningNetwork, url: str, client: Client, item: str, samples: int
) -> tuple[dict[str, Any], list[float]]:
    """``GET /v1/verify`` of the item ``samples`` times (the answer's time at the client), and
    the SDK's verify (the same request plus every proof checked and the verdict recomputed)."""
    api_ms: list[float] = []
    with network.http(url) as http:
        answer = http.get("/v1/verify", params={"scan": item}).json()  # warm the reader
        for _ in range(samples):
            started = time.perf_counter()
            response = http.get("/v1/verify", params={"scan": item})
            api_ms.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
    sdk_ms = []
    for _ in range(max(1, samples // 5)):
        started = time.perf_counter()
        checked = client.supplychain.verify(item)
        sdk_ms.append((time.perf_counter() - started) * 1000)
    summary = {
        "item_events": answer.get("event_count"),
        "trace_events_read": len(answer.get("trace", [])),
        "values_proven": 2
        + sum((entry.get("pointer") is not None) + 1 for entry in answer.get("trace", [])),
        "verdict": answer.get("verdict"),
        "reasons": answer.get("reasons"),
        "samples": samples,
        "api_ms": _ms_summary(api_ms),
        "sdk_ms_with_proofs_checked": _ms_summary(sdk_ms),
        "sdk_verified": checked.verified,
        "target_ms": VERIFY_TARGET_MS,
        "meets_target_p95": percentile(api_ms, 0.95) <= VERIFY_TARGET_MS,
    }
    return summary, api_ms


def _ms_summary(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(values, 0.50), 2),
        "p95": round(percentile(values, 0.95), 2),
        "max": round(max(values), 2) if values else 0.0,
    }


def run_supplychain_bench(
    *,
    validators: int,
    duration_s: float,
    transactions: int,
    history_events: int,
    verify_samples: int,
    json_output: bool,
    output: Path | None,
    plot: Path | None,
    base_port: int,
    block_max_transactions: int | None = None,
    block_execution_budget_ms: int | None = None,
    mempool_backlog_blocks: int | None = None,
) -> dict[str, Any]:
    def say(message: str) -> None:
        if not json_output:
            console.print(message)

    with tempfile.TemporaryDirectory(prefix="jinqiao-bench-scf-") as directory:
        root = Path(directory)
        spec = _spec(validators, base_port, block_max_transactions)
        layout_parameters = spec.parameters
        layout = init_quiet_network(
            root / "net",
            spec,
            block_execution_budget_ms=block_execution_budget_ms,
            mempool_backlog_blocks=mempool_backlog_blocks,
        )
        node_config = load_config(root / "net" / layout.nodes[0].home)
        budget_ms = node_config.block_budget_ms()
        senders = list(account_keys(root / "net", layout, "sender-").values())
        brands = list(account_keys(root / "net", layout, "brand-").values())
        now_ms = int(time.time() * 1000)
        say(f"signing {transactions} transfers and {transactions} EPCIS commission events…")
        transfers = presign_transfers(senders, layout.chain_id, transactions)
        hashing_started = time.perf_counter()
        events = _commission_events(brands, layout.chain_id, transactions, now_ms)
        hashing_s = time.perf_counter() - hashing_started
        item, commission, sightings = _history_events(
            brands[0], layout.chain_id, history_events, now_ms
        )
        with running_network(root / "net", layout, root) as network:
            urls, tracker, stop = network.urls, network.tracker, network.stop
            say(f"{validators} validators up; transfers for {duration_s:.0f} s")
            transfer_phase = _phase(network, urls, transfers, duration_s, tracker, stop)
            say(f"EPCIS events for {duration_s:.0f} s")
            event_phase = _phase(network, urls, events, duration_s, tracker, stop)
            say(f"an item with {history_events} events")
            _submit_all(network, urls[0], commission, tracker)
            _submit_all(network, urls[0], sightings, tracker)
            with Client(
                urls[0],
                genesis_file=root / "net" / layout.genesis_file,
                credentials=network.credentials,
            ) as client:
                verification, api_ms = _verify_timing(
                    network, urls[0], client, item, verify_samples
                )
        ratio = (
            event_phase["committed_per_second"] / transfer_phase["committed_per_second"]
            if transfer_phase["committed_per_second"]
            else 0.0
        )
        result: dict[str, Any] = {
            "benchmark": "supplychain",
            "setup": {
                **{
                    key: value
                    for key, value in setup_description(transactions, 0, SENDERS).items()
                    if key not in ("path", "block_size", "transfers")
                },
                "path": "HTTP batch submit to the nodes in turn, gossip, Tendermint, "
                "re-execution by every validator, LMDB commit on every node",
                "validators": validators,
                "processes": f"{validators} node processes on this machine, mutual TLS",
                "offered": "as fast as accepted, each phase",
                "duration_s_per_phase": duration_s,
                "batch": BATCH,
                "block_max_transactions": layout_parameters.block_max_transactions,
                "block_execution_budget_ms": budget_ms,
                "block_cut": "by count and bytes only"
                if budget_ms is None
                else "by count, bytes and the proposer's expected execution time",
                "mempool_backlog_blocks": node_config.mempool_backlog_blocks,
                "backlog": "clients refused (503 backlog_full) while the mempool holds more than "
                f"{node_config.mempool_backlog_blocks} blocks' budget of expected execution"
                if node_config.backlog_bound_ms() is not None
                else "bounded by the mempool's capacity only",
                "transactions_signed_per_phase": transactions,
                "events": "EPCIS 2.0 ObjectEvent commissioning, one new SGTIN each, XML hashed "
                "by epcis-event-hash-generator (CBV 2.0), supplychain.commission",
                "event_hashing_ms_per_event_off_chain": round(hashing_s * 1000 / transactions, 3),
                "history_item": f"1 commissioning + {history_events - 1} observing events",
                "trace_events_per_verification": TRACE_EVENTS,
            },
            "transfers": transfer_phase,
            "epcis_events": event_phase,
            "events_over_transfers": round(ratio, 3),
            "target_events_over_transfers": 0.5,
            "verify_item": verification,
        }
        if plot is not None:
            _plot(result, api_ms, plot)
            result["plot"] = str(plot)
    if output is not None:
        output.write_text(json.dumps(result, indent=2) + "\n")
    if json_output:
        emit_json(result)
    else:
        _print(result)
    return result


def _print(result: dict[str, Any]) -> None:
    transfers, events = result["transfers"], result["epcis_events"]
    verify = result["verify_item"]
    console.print(
        f"[bold]{events['committed_per_second']:,} EPCIS events/s[/] committed "
        f"(rejected {events['rejected_by_contract']}); transfers "
        f"{transfers['committed_per_second']:,}/s in the same run: ratio "
        f"{result['events_over_transfers']} (target ≥ 0.5)\n"
        f"verify an item with {verify['item_events']} events: API p50 {verify['api_ms']['p50']} "
        f"ms, p95 {verify['api_ms']['p95']} ms; SDK with every proof checked p50 "
        f"{verify['sdk_ms_with_proofs_checked']['p50']} ms (target ≤ 50 ms at the API)"
    )


def _plot(result: dict[str, Any], api_ms: list[float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    rates = [
        result["transfers"]["committed_per_second"],
        result["epcis_events"]["committed_per_second"],
    ]
    left.bar(["token transfers", "EPCIS events"], rates, color=["#2b6cb0", "#38a169"])
    left.set_ylabel("committed per second")
    left.set_title(f"{result['setup']['validators']} validators, same run")
    for index, rate in enumerate(rates):
        left.annotate(f"{rate:,}", (index, rate), ha="center", va="bottom")
    right.hist(api_ms, bins=30, color="#805ad5")
    right.axvline(VERIFY_TARGET_MS, color="#e53e3e", linestyle="--", label="50 ms target")
    right.set_xlabel(
        f"GET /v1/verify, item with {result['verify_item']['item_events']} events (ms)"
    )
    right.set_ylabel("requests")
    right.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
