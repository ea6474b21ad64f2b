"""The network phase of ``jinqiao bench payments``: payments recorded per second by a validator
network of separate node processes on this machine (as ``bench network`` runs it: mutual TLS,
Tendermint, every validator re-executing every block), and the commit latency of closing the
cycle that holds them.

Before the clock: the genesis registers a clearing house and ``institutions`` institutions — each
card issuer and acquirer with one merchant — and the published Chinese fee schedule through the
payments contract's genesis configuration, so no registration transaction precedes the
measurement; every authorization (signed by its issuer) and every capture (signed by its acquirer,
into cycle 1 — the first cycle of a fresh chain; opening it checks that) is signed.

1. **Authorizations**: posted in msgpack batches of ``BATCH`` (``bench_local_network``) to the
   nodes in turn, as fast as they are accepted. A transaction refused because a node is saturated
   (429/503) is posted again after a pause and counted as refused; any other refusal fails the
   benchmark.
2. The clearing house **opens the cycle** once every authorization is committed (one transaction,
   inside the window).
3. **Captures**, posted the same way. A capture executed before its authorization would be
   rejected, so captures start when every authorization is committed (no pipelining: simple, and
   correct whichever node a capture reaches first); the drain at the end of phase 1 is in the
   window.

A payment is recorded when its capture is committed: payments/s = payments / (first authorization
posted → last capture committed). Commit latency is from a transaction's accepted post to the
moment the watcher sees its block (``bench_local_network``). Every block that holds a rejected
transaction is read with its receipts: a rejected authorization or capture fails the run rather
than being counted. At the end the cycle's totals must show exactly the planned captures.

**Closing**: a cycle's cut-off is a block time fixed when it opens, and a capture after it is
rejected; it is set ``CUTOFF_FACTOR`` times phase 1's duration (+ ``CUTOFF_FLOOR_S``) ahead, well
after the last capture (a capture costs the network about twice an authorization). After phase 3
the benchmark waits for the cut-off (not measured) and posts ``close_cycle``; its latency is from
post to block seen. The block's execution time is not reported: nodes do not time the execution of
blocks decided by consensus.
"""

from __future__ import annotations

import contextlib
import random
import tempfile
import time
from collections import deque
from pathlib import Path
from typing import Any

import httpx
from rich.progress import Progress

from jinqiao.apps.payments.model import PAYMENTS, CaptureArgs, CycleArgs, OpenCycleArgs
from jinqiao.bench import local_network
from jinqiao.bench.execute import verify_rate
from jinqiao.bench.payments_plan import (
    CLEARING_ROLES,
    CURRENCY,
    INSTITUTION_ROLES,
    authorization,
    institution_ids,
    payments_contract_config,
    random_payments,
)
from jinqiao.core.codec import decode
from jinqiao.core.crypto import Signer
from jinqiao.core.errors import InvalidInput, NodeFault
from jinqiao.provision.network import AccountSpec, NetworkSpec, OrganizationSpec
from jinqiao.terminal import console

CHAIN_ID = "jinqiao-bench-payments-network"
HOUSE = "clearing-house"
"""The clearing house's organization (``clearing`` is the first validator's)."""
CYCLE_ID = 1
CUTOFF_FACTOR = 4
CUTOFF_FLOOR_S = 3.0
MAX_CUTOFF_S = 3_600.0
"""The longest the benchmark lets a cycle stay open (and then waits for its cut-off)."""
CUTOFF_MARGIN_S = 0.2
"""Waited past the cut-off before closing, so the closing block's time is surely after it."""
FUNDING_WINDOW_BLOCKS = 1_000
STALL_S = 120.0
"""A phase fails when none of its transactions was accepted, or committed, for this long."""
SATURATED_PAUSE_S = 0.05
"""Pause after a batch with saturation refusals: lets the network drain."""
POLL_S = 0.05
MAX_NETWORK_PAYMENTS = 100_000
# At a fixed offered rate, batches leave about this many times a second.
PACED_BATCHES_PER_S = 20
"""Bounded by the time a run takes, not by the network (refusals are posted again)."""
RANDOM_SEED = 2
"""Of the network's payment plan (the in-process runs use their own seed, unchanged)."""

Transactions = list[tuple[bytes, bytes]]
"""Signed transactions as (hash, canonical bytes)."""


def payments_network_spec(validators: int, institutions: list[str], base_port: int) -> NetworkSpec:
    """``bench network``'s validators, plus a clearing house and the institutions, each with an
    admin and an ``<org>-ops`` account that signs for it and is its settlement account."""

    def member(org: str, name: str, roles: tuple[str, ...]) -> OrganizationSpec:
        operations = AccountSpec(f"{org}-ops", roles, payments_institution={"roles": list(roles)})
        return OrganizationSpec(
            org, name, roles, 0, (AccountSpec(f"{org}-admin", ("admin",)), operations)
        )

    organizations = (
        member(HOUSE, "Bench Clearing House", CLEARING_ROLES),
        *(member(org, f"Bench institution {org}", INSTITUTION_ROLES) for org in institutions),
    )
    contracts = {PAYMENTS: payments_contract_config(institutions)}
    return local_network.bench_network_spec(
        CHAIN_ID, validators, base_port, organizations, contracts
    )


def presign(
    keys: dict[str, Signer], plan: list[tuple[str, str, int, str]]
) -> tuple[Transactions, Transactions]:
    """The authorizations and the captures (into ``CYCLE_ID``) of ``plan``; nonces 0..2P-1."""
    authorizations: Transactions = []
    captures: Transactions = []
    for number, (issuer, acquirer, amount, card_type) in enumerate(plan):
        payment_id = f"NET-{number:07d}"
        args = authorization(payment_id, issuer, acquirer, amount, card_type)
        authorizations.append(
            local_network.sign_transaction(
                keys[issuer], CHAIN_ID, number, PAYMENTS, "authorize", args
            )
        )
        capture = CaptureArgs(payment_id, amount, CYCLE_ID)
        captures.append(
            local_network.sign_transaction(
                keys[acquirer], CHAIN_ID, len(plan) + number, PAYMENTS, "capture", capture
            )
        )
    return authorizations, captures


def post_all(
    clients: list[httpx.Client],
    transactions: Transactions,
    tracker: local_network.Tracker,
    rate: int | None = None,
) -> None:
    """Post every transaction in batches to the nodes in turn, as fast as they are accepted or,
    with ``rate``, at most ``rate`` per second from the first post (a batch leaves when its first
    transaction is due); those refused because a node is saturated are posted again after a
    pause."""
    waiting = deque(transactions)
    batch_number = 0
    started = last_accepted = time.monotonic()
    posted_count = 0
    size = local_network.BATCH if rate is None else paced_batch(rate)
    while waiting:
        if time.monotonic() - last_accepted > STALL_S:
            raise NodeFault(f"no transaction was accepted for {STALL_S:.0f} s")
        if rate is not None:
            ahead_s = posted_count / rate - (time.monotonic() - started)
            if ahead_s > 0:
                time.sleep(ahead_s)
        batch = [waiting.popleft() for _ in range(min(size, len(waiting)))]
        client = clients[batch_number % len(clients)]
        batch_number += 1
        posted = time.monotonic()
        results = local_network.post_batch(client, batch)
        if results is None:
            waiting.extendleft(reversed(batch))
            time.sleep(local_network.RETRY_PAUSE_S)
            continue
        again = _note_admissions(batch, results, posted, tracker)
        posted_count += len(batch) - len(again)
        if len(again) < len(batch):
            last_accepted = time.monotonic()
        if again:
            waiting.extendleft(reversed(again))
            time.sleep(SATURATED_PAUSE_S)


def paced_batch(rate: int) -> int:
    """The batch size at an offered ``rate``: about ``PACED_BATCHES_PER_S`` batches a second, so
    that the load is smooth, never more than ``BATCH``."""
    return max(1, min(local_network.BATCH, rate // PACED_BATCHES_PER_S))


def _note_admissions(
    batch: Transactions,
    results: list[dict[str, Any]],
    posted: float,
    tracker: local_network.Tracker,
) -> Transactions:
    """Record the accepted ones; return those refused because the node is saturated. Any other
    refusal means the benchmark is broken."""
    again: Transactions = []
    with tracker.lock:
        for item, result in zip(batch, results, strict=True):
            error = result.get("error")
            if error is None or error["code"] == "duplicate_transaction":
                # Latency counts from the first accepted post (a post whose answer was lost may
                # have been admitted, and even committed, before it was posted again).
                tracker.submitted_at.setdefault(item[0], posted)
            elif result.get("status") in local_network.SATURATED:
                tracker.refused += 1
                again.append(item)
            else:
                raise NodeFault(
                    f"a benchmark transaction was refused at admission: "
                    f"{error['code']}: {error['message']}"
                )
    return again


def wait_committed(
    tracker: local_network.Tracker, transactions: Transactions, progress: Progress, description: str
) -> float:
    """Wait until every one of ``transactions`` is committed; the time the last was seen.
    Fails as soon as one of them is seen rejected, or after ``STALL_S`` without a commit."""
    wanted = {identity for identity, _ in transactions}
    remaining = set(wanted)
    task = progress.add_task(description, total=len(wanted))
    last_progress = time.monotonic()
    while remaining:
        with tracker.lock:
            rejected = [code for identity, code in tracker.rejected.items() if identity in wanted]
            done = {identity for identity in remaining if identity in tracker.committed_at}
        if rejected:
            raise NodeFault(
                f"{len(rejected)} benchmark transactions were rejected, e.g. {rejected[0]}; "
                "the figures would be wrong"
            )
        if done:
            remaining -= done
            progress.advance(task, len(done))
            last_progress = time.monotonic()
        elif time.monotonic() - last_progress > STALL_S:
            raise NodeFault(f"{len(remaining)} transactions not committed after {STALL_S:.0f} s")
        else:
            time.sleep(POLL_S)
    with tracker.lock:
        return max(tracker.committed_at[identity] for identity in wanted)


def _commit_one(
    clients: list[httpx.Client],
    tracker: local_network.Tracker,
    progress: Progress,
    signed: tuple[bytes, bytes],
    description: str,
) -> tuple[dict[str, Any], float]:
    """Post one transaction and wait for it: its receipt (which must be ok) and its commit
    latency in seconds."""
    post_all(clients, [signed], tracker)
    committed = wait_committed(tracker, [signed], progress, description)
    identity = signed[0]
    receipt: dict[str, Any] = clients[0].get(f"/v1/transactions/{identity.hex()}").json()["receipt"]
    if receipt["status"] != "ok":
        raise NodeFault(f"{description}: {receipt['code']}: {receipt['message']}")
    with tracker.lock:
        return receipt, committed - tracker.submitted_at[identity]


def _open_cycle(
    clients: list[httpx.Client],
    tracker: local_network.Tracker,
    progress: Progress,
    house: Signer,
    nonce: int,
    cutoff_s: float,
) -> int:
    """Open cycle ``CYCLE_ID`` with its cut-off ``cutoff_s`` from now; the cut-off (block time,
    ms)."""
    cutoff_time_ms = int((time.time() + min(cutoff_s, MAX_CUTOFF_S)) * 1000)
    arguments = OpenCycleArgs(CURRENCY, None, cutoff_time_ms, FUNDING_WINDOW_BLOCKS)
    opening = local_network.sign_transaction(
        house, CHAIN_ID, nonce, PAYMENTS, "open_cycle", arguments
    )
    receipt, _ = _commit_one(clients, tracker, progress, opening, "network: open the cycle")
    opened = decode(bytes.fromhex(receipt["result"]), int, max_bytes=16)
    if opened != CYCLE_ID:
        raise NodeFault(f"opened cycle {opened}, but the captures were signed for {CYCLE_ID}")
    return cutoff_time_ms


def _close_cycle(
    clients: list[httpx.Client],
    tracker: local_network.Tracker,
    progress: Progress,
    house: Signer,
    nonce: int,
    cutoff_time_ms: int,
    json_output: bool,
) -> dict[str, Any]:
    """Wait for the cut-off, then close the cycle: its commit latency and state operations."""
    wait_s = cutoff_time_ms / 1000 - time.time() + CUTOFF_MARGIN_S
    if wait_s > 0:
        if not json_output:
            console.print(f"network: waiting {wait_s:.1f} s for the cycle's cut-off")
        time.sleep(wait_s)
    closing = local_network.sign_transaction(
        house, CHAIN_ID, nonce, PAYMENTS, "close_cycle", CycleArgs(CYCLE_ID)
    )
    receipt, latency_s = _commit_one(
        clients, tracker, progress, closing, "network: close the cycle"
    )
    return {
        "commit_latency_ms": round(latency_s * 1000, 1),
        "state_operations": receipt["steps_used"],
        "waited_for_cutoff_s": round(max(wait_s, 0.0), 1),
    }


def _check_totals(client: httpx.Client, plan: list[tuple[str, str, int, str]]) -> None:
    """The cycle holds exactly the planned captures (read from the first node)."""
    totals = client.get(f"/v1/payments/cycles/{CYCLE_ID}/totals").json()["totals"]
    expected = (len(plan), sum(amount for _, _, amount, _ in plan))
    if (totals["captures"], totals["captured_minor"]) != expected:
        raise NodeFault(
            f"cycle {CYCLE_ID} holds {totals['captures']} captures of {totals['captured_minor']} "
            f"fen; the benchmark captured {expected[0]} of {expected[1]}"
        )


def run_network_phase(
    *,
    validators: int,
    payments: int,
    institutions: int,
    base_port: int,
    progress: Progress,
    json_output: bool,
    rate: int | None = None,
) -> dict[str, Any]:
    """Start the network, record ``payments`` payments on it, close their cycle; the figures.
    ``rate``: offered transactions per second in each phase (None: as fast as accepted)."""
    if not 1 <= payments <= MAX_NETWORK_PAYMENTS:
        raise InvalidInput(f"the network phase records 1..{MAX_NETWORK_PAYMENTS:,} payments")
    names = institution_ids(institutions)
    plan = list(random_payments(payments, names, random.Random(RANDOM_SEED)))
    with tempfile.TemporaryDirectory(prefix="jinqiao-bench-payments-net-") as directory:
        root = Path(directory)
        spec = payments_network_spec(validators, names, base_port)
        layout = local_network.init_quiet_network(root / "net", spec)
        keys = {
            name.removesuffix("-ops"): key
            for name, key in local_network.account_keys(root / "net", layout, "").items()
            if name.endswith("-ops")
        }
        signing = progress.add_task("network: sign authorizations and captures", total=1)
        authorizations, captures = presign(keys, plan)
        progress.advance(signing)
        verify_per_second = verify_rate(keys[HOUSE])
        if not json_output:
            console.print(f"network: starting {validators} validator processes")
        with (
            local_network.running_network(root / "net", layout, root, from_height=1) as network,
            contextlib.ExitStack() as stack,
        ):
            clients = [stack.enter_context(network.http(url)) for url in network.urls]
            figures, cutoff_time_ms = _record(
                clients, network, keys[HOUSE], authorizations, captures, progress, rate
            )
            closing = _close_cycle(
                clients,
                network.tracker,
                progress,
                keys[HOUSE],
                2 * payments + 1,
                cutoff_time_ms,
                json_output,
            )
            _check_totals(clients[0], plan)
    return {
        "setup": {
            "validators": validators,
            "processes": f"{validators} node processes on this machine, mutual TLS",
            "path": "HTTP msgpack batches to the nodes in turn, gossip, Tendermint, "
            "re-execution by every validator, LMDB commit on every node",
            "payments": payments,
            "institutions": institutions,
            "institution_roles": "each card issuer and acquirer, one merchant each, registered "
            "at genesis; plus a clearing house",
            "batch": local_network.BATCH if rate is None else paced_batch(rate),
            "offered": (
                "as fast as accepted (saturation refusals posted again)"
                if rate is None
                else f"{rate} tx/s in each phase (authorizations, then captures); "
                "saturation refusals posted again"
            ),
            "rate": rate,
            "captures": "posted once every authorization is committed; the cycle is opened "
            "in between (in the window)",
        },
        **figures,
        "receipts_ok": 2 * payments + 2,
        "close": {"payments": payments, **closing},
        "signature_verifications_per_second_one_core": round(verify_per_second, 1),
    }


def _record(
    clients: list[httpx.Client],
    network: local_network.RunningNetwork,
    house: Signer,
    authorizations: Transactions,
    captures: Transactions,
    progress: Progress,
    rate: int | None,
) -> tuple[dict[str, Any], int]:
    """The measured part: authorizations, opening the cycle, captures. Returns the figures and
    the cycle's cut-off (block time, ms)."""
    payments = len(authorizations)
    tracker = network.tracker
    cpu_before = local_network.nodes_cpu_seconds(network.processes)
    started = time.monotonic()
    post_all(clients, authorizations, tracker, rate)
    authorized = wait_committed(tracker, authorizations, progress, "network: authorize")
    with tracker.lock:
        refused_authorize = tracker.refused
    cutoff_s = CUTOFF_FACTOR * (authorized - started) + CUTOFF_FLOOR_S
    cutoff_time_ms = _open_cycle(clients, tracker, progress, house, 2 * payments, cutoff_s)
    captures_started = time.monotonic()
    post_all(clients, captures, tracker, rate)
    captured = wait_committed(tracker, captures, progress, "network: capture")
    cpu_s = local_network.nodes_cpu_seconds(network.processes) - cpu_before
    window_s = captured - started
    with tracker.lock:
        blocks = [block for block in tracker.blocks if started <= block[0] <= captured]
        refused_capture = tracker.refused - refused_authorize
    figures = {
        "payments_per_second": round(payments / window_s, 1),
        "seconds": round(window_s, 3),
        "authorize": _phase(tracker, authorizations, started, authorized, refused_authorize),
        "open_cycle_ms": round((captures_started - authorized) * 1000, 1),
        "capture": _phase(tracker, captures, captures_started, captured, refused_capture),
        "blocks": len(blocks),
        "blocks_per_second": round(len(blocks) / window_s, 2),
        "rounds_per_height": round(sum(block[3] + 1 for block in blocks) / max(1, len(blocks)), 3),
        "cpu_ms_per_payment": round(cpu_s * 1000 / payments, 3),
    }
    return figures, cutoff_time_ms


def _phase(
    tracker: local_network.Tracker,
    transactions: Transactions,
    started: float,
    ended: float,
    refused: int,
) -> dict[str, Any]:
    with tracker.lock:
        latencies = [
            tracker.committed_at[identity] - tracker.submitted_at[identity]
            for identity, _ in transactions
        ]
    seconds = ended - started
    return {
        "seconds": round(seconds, 3),
        "committed_per_second": round(len(transactions) / seconds, 1),
        "latency_ms": local_network.latency_ms(latencies),
        "refused": refused,
    }
