"""What the network benchmarks share — ``bench network`` and the network phase of ``bench
payments``: a validator network of separate node processes on this machine (mutual TLS between
them, Tendermint, HTTP), pre-signed transactions posted in msgpack batches to the nodes in turn,
the block watcher that long-polls the first node, and the nodes' CPU time from /proc.

The watcher is the client's view of "committed": a transaction's commit time is the moment the
watcher receives the block that holds it (``GET /v1/blocks/{h}?hashes=true&wait_ms=…``). A block
that holds a rejected transaction (``rejected_count`` > 0) is fetched again with its receipts, so
that a benchmark can refuse to count a transaction the contract rejected.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import msgspec

from jinqiao.apps.token import TOKEN
from jinqiao.bench.execute import bench_token_config
from jinqiao.client import Credentials
from jinqiao.core.codec import CanonicalStruct, encode
from jinqiao.core.crypto import DEFAULT_SUITE, Signer
from jinqiao.core.genesis import ChainParameters
from jinqiao.core.hashing import transaction_hash, transaction_signing_bytes
from jinqiao.core.types import SignedTransaction, TransactionBody
from jinqiao.demo.run import running_node
from jinqiao.fileio import PUBLIC_FILE_MODE, save_atomically
from jinqiao.keys import InsecurePlaintext, load_key
from jinqiao.node.config import dump_config, load_config
from jinqiao.provision.network import (
    AccountSpec,
    NetworkLayout,
    NetworkSpec,
    OrganizationSpec,
    init_network,
)

BATCH = 200
"""Transactions per HTTP batch."""
FOUNDERS = ("clearing", "ecfin", "bank-a", "bank-b", "bank-c", "bank-d", "bank-e")
"""The organizations that run the validators, one validator each."""
VALID_UNTIL_WINDOW_BLOCKS = 10_000
VALID_UNTIL = 9_000
"""Every benchmark transaction is valid until this height (admitted from height 0: it is within
the window), so the transactions can be signed before the network starts."""
SATURATED = (429, 503)
"""Statuses of a refusal because the node is saturated (mempool full, too many pending): the
transaction may be posted again later."""
WATCH_WAIT_MS = 1_000
"""Long-poll of the block watcher."""
RETRY_PAUSE_S = 0.1
"""Pause after an HTTP error before asking again."""


@dataclass
class Tracker:
    """What the submitters and the watcher saw, by transaction hash (monotonic seconds)."""

    submitted_at: dict[bytes, float] = field(default_factory=dict)
    committed_at: dict[bytes, float] = field(default_factory=dict)
    refused: int = 0
    blocks: list[tuple[float, int, int, int]] = field(default_factory=list)  # t, height, txs, round
    rejected: dict[bytes, str] = field(default_factory=dict)
    """Committed but rejected by the contract: hash → ``code: message`` of its receipt."""
    lock: threading.Lock = field(default_factory=threading.Lock)


def validator_organizations(validators: int) -> list[OrganizationSpec]:
    """One organization per validator, named after ``FOUNDERS`` (then ``<founder>-<n>``)."""
    organizations = []
    for index in range(validators):
        org = FOUNDERS[index % len(FOUNDERS)] + ("" if index < len(FOUNDERS) else f"-{index}")
        organizations.append(
            OrganizationSpec(
                org,
                f"Validator org {org}",
                ("currency_issuer",),
                validators=1,
                accounts=(AccountSpec(f"{org}-admin", ("admin",)),),
            )
        )
    return organizations


def bench_network_spec(
    chain_id: str,
    validators: int,
    base_port: int,
    organizations: tuple[OrganizationSpec, ...],
    contracts: dict[str, dict[str, Any]],
    *,
    currency: str = "CNY",
    crypto_suite: str = DEFAULT_SUITE,
) -> NetworkSpec:
    """The validators' organizations, then ``organizations``; the token contract with
    ``currency`` (issued by the first validator's organization, one tier without limits that
    matter) and ``contracts``. API ports from ``base_port``, p2p ports from ``base_port + 100``."""
    founders = validator_organizations(validators)
    token = bench_token_config(currency, founders[0].id, [])
    return NetworkSpec(
        chain_id=chain_id,
        organizations=(*founders, *organizations),
        parameters=ChainParameters(valid_until_window_blocks=VALID_UNTIL_WINDOW_BLOCKS),
        contracts={TOKEN: token, **contracts},
        base_api_port=base_port,
        base_p2p_port=base_port + 100,
        crypto_suite=crypto_suite,
    )


def init_quiet_network(
    directory: Path,
    spec: NetworkSpec,
    *,
    authentication: bool = True,
    block_execution_budget_ms: int | None = None,
    mempool_backlog_blocks: int | None = None,
) -> NetworkLayout:
    """``init_network`` into ``directory``, every node logging warnings only (a log line per
    block would cost the nodes time the benchmark measures). A benchmark's network is thrown
    away: its keys are plaintext, said so explicitly (docs/keys.md). Without ``authentication``
    the nodes serve plain HTTP to anybody (``api_authentication``: to measure what it costs);
    ``block_execution_budget_ms`` and ``mempool_backlog_blocks`` are the nodes' settings
    (``None``: their default)."""
    layout = init_network(directory, spec, protection=InsecurePlaintext())
    for node in layout.nodes:
        home = directory / node.home
        config = msgspec.structs.replace(
            load_config(home),
            log_level="WARNING",
            api_authentication=authentication,
            block_execution_budget_ms=block_execution_budget_ms,
        )
        if mempool_backlog_blocks is not None:
            config = msgspec.structs.replace(config, mempool_backlog_blocks=mempool_backlog_blocks)
        save_atomically(home / "config.json", dump_config(config), mode=PUBLIC_FILE_MODE)
    return layout


def account_keys(directory: Path, layout: NetworkLayout, prefix: str) -> dict[str, Signer]:
    """The keys of the accounts whose names start with ``prefix``, by account name."""
    return {
        account.name: load_key(directory / account.key_file)
        for account in layout.accounts
        if account.name.startswith(prefix)
    }


@dataclass
class RunningNetwork:
    processes: list[subprocess.Popen[bytes]]
    urls: list[str]
    """Each node's API, in the order of the layout; the watcher follows the first."""
    tracker: Tracker
    stop: threading.Event
    """Set to stop the watcher (and any submitter that shares it)."""
    credentials: Credentials | None = None
    """The benchmark's client certificate (None: the nodes serve plain HTTP)."""

    def http(self, url: str) -> httpx.Client:
        """A client of the node at ``url``, authenticated as the benchmark."""
        return http_client(url, self.credentials)


def http_client(url: str, credentials: Credentials | None) -> httpx.Client:
    if credentials is None:
        return httpx.Client(base_url=url, timeout=30)
    return credentials.http_client(base_url=url, timeout=30)


def network_access(directory: Path, layout: NetworkLayout) -> tuple[list[str], Credentials | None]:
    """The nodes' API URLs and the credentials to call them with: the first account's client
    certificate when the nodes authenticate (``init_quiet_network``), else plain HTTP."""
    authentication = load_config(directory / layout.nodes[0].home).api_authentication
    urls = [node.api_url for node in layout.nodes]
    if not authentication:
        return [url.replace("https://", "http://", 1) for url in urls], None
    return urls, Credentials.for_account(directory, layout.accounts[0].name)


@contextmanager
def running_network(
    directory: Path,
    layout: NetworkLayout,
    logs: Path,
    *,
    from_height: int | None = None,
    prefixes: list[tuple[str, ...]] | None = None,
) -> Iterator[RunningNetwork]:
    """Every node of ``layout`` running (logs in ``logs``; node i's command after
    ``prefixes[i]``, e.g. its network namespace) and the watcher following the first from
    ``from_height`` (default: its next block); on exit the watcher stops, then the nodes."""
    urls, credentials = network_access(directory, layout)
    with ExitStack() as stack:
        probe = stack.enter_context(http_client(urls[0], credentials))
        processes = [
            stack.enter_context(
                running_node(
                    directory / node.home,
                    logs / f"{node.name}.log",
                    url,
                    probe,
                    prefixes[index] if prefixes else (),
                )
            )
            for index, (node, url) in enumerate(zip(layout.nodes, urls, strict=True))
        ]
        network = RunningNetwork(processes, urls, Tracker(), threading.Event(), credentials)
        watcher = threading.Thread(
            target=watch,
            args=(network.http(network.urls[0]), network.tracker, network.stop, from_height),
            daemon=True,
        )
        watcher.start()
        try:
            yield network
        finally:
            network.stop.set()
            watcher.join(timeout=30)


def sign_transaction(
    signer: Signer,
    chain_id: str,
    nonce: int,
    contract: str,
    method: str,
    args: CanonicalStruct,
    valid_until: int = VALID_UNTIL,
) -> tuple[bytes, bytes]:
    """A signed transaction, valid until ``valid_until``: (its hash, its canonical bytes)."""
    body = TransactionBody(
        chain_id,
        signer.address,
        signer.public_key,
        nonce,
        valid_until,
        contract,
        method,
        encode(args),
    )
    signed = SignedTransaction(body, signer.sign(transaction_signing_bytes(body)))
    return transaction_hash(signer.suite, body), encode(signed)


def post_batch(
    client: httpx.Client, batch: list[tuple[bytes, bytes]]
) -> list[dict[str, Any]] | None:
    """Post ``batch`` as one msgpack batch; each transaction's result (``error`` when it was
    refused), or None when the request failed as a whole (the caller posts it again)."""
    body = msgspec.msgpack.encode([raw for _, raw in batch])
    try:
        response = client.post(
            "/v1/transactions/batch",
            content=body,
            headers={"Content-Type": "application/msgpack"},
        )
        results: list[dict[str, Any]] = response.json()["results"]
    except (httpx.HTTPError, ValueError, KeyError):
        return None
    return results


def watch(
    client: httpx.Client, tracker: Tracker, stop: threading.Event, from_height: int | None = None
) -> None:
    """Follow the chain on the node ``client`` calls from ``from_height`` (default: its next
    block) until ``stop`` is set; closes ``client``."""
    try:
        next_height = from_height or int(client.get("/v1/status").json()["height"]) + 1
        while not stop.is_set():
            try:
                response = client.get(
                    f"/v1/blocks/{next_height}",
                    params={"hashes": "true", "wait_ms": WATCH_WAIT_MS},
                )
                if response.status_code == 404:
                    continue  # not committed within the long-poll; ask again
                block = response.json()
                seen = time.monotonic()
                rejected = _rejections(client, next_height) if block["rejected_count"] else {}
            except httpx.HTTPError:
                time.sleep(RETRY_PAUSE_S)
                continue
            hashes = [bytes.fromhex(h) for h in block["transaction_hashes"]]
            with tracker.lock:
                for identity in hashes:
                    tracker.committed_at.setdefault(identity, seen)
                tracker.rejected.update(rejected)
                tracker.blocks.append(
                    (seen, next_height, len(hashes), block["certificate"]["round"])
                )
            next_height += 1
    finally:
        client.close()


def _rejections(client: httpx.Client, height: int) -> dict[bytes, str]:
    block = client.get(f"/v1/blocks/{height}", params={"transactions": "true"}).json()
    return {
        bytes.fromhex(receipt["transaction_hash"]): f"{receipt['code']}: {receipt['message']}"
        for receipt in (transaction["receipt"] for transaction in block["transactions"])
        if receipt["status"] != "ok"
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def nodes_cpu_seconds(processes: list[subprocess.Popen[bytes]]) -> float:
    return sum(cpu_seconds(process.pid) for process in processes)


def save_figure(figure: Any, axes: Any, title: str, legend: str, path: Path) -> None:
    """Title, legend, layout: a benchmark's matplotlib figure written to ``path`` as a PNG."""
    import matplotlib.pyplot as plt

    axes.set_title(title)
    axes.legend(loc=legend)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def latency_ms(latencies_s: list[float]) -> dict[str, float]:
    """p50, p95 and p99 of ``latencies_s``, in milliseconds."""
    return {
        name: round(percentile(latencies_s, fraction) * 1000, 1)
        for name, fraction in (("p50", 0.50), ("p95", 0.95), ("p99", 0.99))
    }
