"""A four-validator network of real node processes under a load of signed transfers, for the
end-to-end tests (``tests/e2e``): waiting for heights, reading metrics, the load generator."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from jinqiao.apps.token import TOKEN, TransferArgs
from jinqiao.client import Client, ClientError
from jinqiao.consensus.messages import SignedVote
from jinqiao.core.crypto import Signer
from jinqiao.core.genesis import genesis_hash, load_genesis
from jinqiao.core.hashing import vote_signing_bytes
from jinqiao.core.types import Vote, VoteType
from jinqiao.keys import load_key
from jinqiao.node.config import load_config
from jinqiao.node.p2p import P2PConfig, P2PNetwork, PeerAddress, organization_roots
from jinqiao.node.wire import VoteMessage, encode_message
from tests.helpers.process import NodeProcess, make_network, test_credentials


def jinqiao(*args: str) -> dict[str, object]:
    """Run the ``jinqiao`` command with ``--json`` in a new process; its answer, parsed."""
    result = subprocess.run(
        [sys.executable, "-m", "jinqiao", *args, "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    parsed: dict[str, object] = json.loads(result.stdout)
    return parsed


def height(node: NodeProcess) -> int:
    try:
        return int(node.http.get(f"{node.url}/v1/status", timeout=2).json()["height"])
    except (httpx.HTTPError, ValueError, KeyError):
        return -1


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.2)


def metric_values(node: NodeProcess) -> dict[str, float]:
    """The node's Prometheus samples, by name with labels, e.g. ``name{label="v"}``."""
    text = node.http.get(f"{node.url}/metrics", timeout=5).text
    samples = (line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#"))
    return {name: float(value) for name, value in samples}


def certificate_signers(node: NodeProcess, at: int) -> set[str]:
    """The validators (address hex) whose precommits are in block ``at``'s certificate."""
    block = node.http.get(f"{node.url}/v1/blocks/{at}", timeout=5).json()
    return {signature["validator"] for signature in block["certificate"]["signatures"]}


def block_hash(node: NodeProcess, at: int) -> str:
    return str(node.http.get(f"{node.url}/v1/blocks/{at}", timeout=5).json()["header"]["hash"])


class Load:
    """Transfers submitted to ``url`` in batches of ``batch_size``, waiting for the last
    ``confirm_last`` of each batch; remembers what it saw committed (hash → height, index) and
    counts the client errors (a node down or restarting), pausing ``retry_pause_s`` after each."""

    def __init__(
        self,
        url: str,
        genesis_file: Path,
        payer_file: Path,
        payee: bytes,
        *,
        batch_size: int = 20,
        confirm_last: int = 1,
        wait_timeout_s: float = 20,
        retry_pause_s: float = 0.2,
    ) -> None:
        self.client = Client(
            url,
            genesis_file=genesis_file,
            timeout_s=5,
            credentials=test_credentials(genesis_file.parent),
        )
        self.payer = load_key(payer_file)
        self.payee = payee
        self.batch_size = batch_size
        self.confirm_last = confirm_last
        self.wait_timeout_s = wait_timeout_s
        self.retry_pause_s = retry_pause_s
        self.committed: dict[str, tuple[int, int]] = {}
        self.errors = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                batch = [
                    self.client.build(
                        self.payer, TOKEN, "transfer", TransferArgs("CNY", self.payee, 1)
                    )
                    for _ in range(self.batch_size)
                ]
                self.client.submit_batch(batch)
                for transaction in batch[-self.confirm_last :]:
                    result = self.client.wait(
                        self.client.hash_of(transaction), timeout_s=self.wait_timeout_s
                    )
                    self.committed[result.transaction_hash] = (result.height, result.index)
            except ClientError:
                self.errors += 1
                time.sleep(self.retry_pause_s)

    def __enter__(self) -> Load:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=60)
        self.client.close()


def funded_load(directory: Path, node: NodeProcess) -> Load:
    """A ``Load`` of transfers from bank-a's treasury (minted 10^9 fen first) to bank-b's,
    submitted to ``node``; not yet started."""
    genesis_file = directory / "genesis.json"
    payer_file = directory / "accounts" / "bank-a-treasury.json"
    payee = load_key(directory / "accounts" / "bank-b-treasury.json").address
    with Client(node.url, credentials=node.credentials, genesis_file=genesis_file) as client:
        treasury = load_key(directory / "accounts" / "clearing-treasury.json")
        assert client.token.mint(treasury, "CNY", load_key(payer_file).address, 10**9).ok
    return Load(node.url, genesis_file, payer_file, payee)


def equivocate(p2p: P2PConfig, chain_id: str, deciding: Callable[[], int], key: Signer) -> None:
    """Speak on the network as the (stopped) node of ``p2p``: two different prevotes signed by
    ``key`` for round 0 of the height ``deciding()`` returns, asked once at least three peers are
    connected (connecting can take seconds, in which an empty block may commit: votes for a
    height already decided would be ignored as stale, and show nothing)."""

    async def ignore(peer: str, payload: bytes) -> None:
        return None

    async def send() -> None:
        network = P2PNetwork(p2p, ignore)
        await network.start()
        try:
            deadline = time.monotonic() + 20
            while len(network.connected()) < 3 and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            at = deciding()
            for block_hash in (b"\x01" * 32, b"\x02" * 32):
                vote = Vote(chain_id, at, 0, VoteType.PREVOTE, block_hash, key.address)
                signed = SignedVote(vote, key.sign(vote_signing_bytes(vote)))
                network.broadcast(encode_message(VoteMessage(signed)))
            await asyncio.sleep(1.0)
        finally:
            await network.stop()

    asyncio.run(send())


def p2p_config_of(directory: Path, name: str) -> P2PConfig:
    """The p2p configuration of node ``name`` of the network in ``directory``, for a test that
    speaks on the network as that node (its process not started) with its own certificate."""
    genesis = load_genesis((directory / "genesis.json").read_bytes())
    home = directory / "nodes" / name
    config = load_config(home)
    return P2PConfig(
        node=name,
        host=config.p2p_host,
        port=config.p2p_port,
        certificate_file=home / "tls" / "node.crt",
        key_file=home / "tls" / "node.key",
        roots_file=home / "tls" / "roots.pem",
        chain_id=genesis.chain_id,
        genesis_hash=genesis_hash(genesis),
        nodes={v.name: v.organization for v in genesis.validators},
        peers=tuple(PeerAddress(p.name, p.host, p.port) for p in config.peers),
        organization_roots=organization_roots(genesis),
    )


def load_to_kill_under(url: str, genesis_file: Path, payer_file: Path, payee: bytes) -> Load:
    """A ``Load`` for a node about to be killed: batches of 40, short waits and retries, so that
    the load keeps blocks coming and notices the restart quickly."""
    return Load(
        url,
        genesis_file,
        payer_file,
        payee,
        batch_size=40,
        confirm_last=3,
        wait_timeout_s=5,
        retry_pause_s=0.05,
    )


@dataclass(frozen=True)
class FundedNode:
    """A started node of a fresh one-validator network, its payer funded (``start_funded_node``)."""

    node: NodeProcess
    home: Path
    genesis_file: Path
    payer_file: Path
    payee: bytes


def start_funded_node(directory: Path, **config: object) -> FundedNode:
    """Make a network in ``directory`` (``make_network``), start its first node with ``config``
    set over its config.json, and mint 10^9 fen to bank-a's treasury, which pays bank-b's."""
    layout = make_network(directory)
    home = directory / layout.nodes[0].home
    if config:
        settings = json.loads((home / "config.json").read_text())
        (home / "config.json").write_text(json.dumps({**settings, **config}))
    node = NodeProcess(home).start()
    genesis_file = directory / "genesis.json"
    treasury = load_key(directory / layout.account("clearing-treasury").key_file)
    payer_file = directory / layout.account("bank-a-treasury").key_file
    payee = bytes.fromhex(layout.account("bank-b-treasury").address)
    with Client(node.url, credentials=node.credentials, genesis_file=genesis_file) as client:
        assert client.token.mint(treasury, "CNY", load_key(payer_file).address, 10**9).ok
    return FundedNode(node, home, genesis_file, payer_file, payee)
