"""An observer node (tracker issue 9, item 4): four validator processes and an observer made by
`jinqiao node add --observer`, under a load of transfers. The observer follows every block with
its commit certificate and reaches the validators' head (same block hash and state root); it says
it is an observer; no certificate holds a signature but the validators'; a transaction sent to the
observer is forwarded and committed; stopping it does not stop the chain; restarted, it catches
up."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from jinqiao.apps.token import TOKEN, TransferArgs
from jinqiao.client import Client
from jinqiao.keys import load_key
from tests.helpers.cluster import Load, height, jinqiao, wait_for
from tests.helpers.process import NodeProcess, free_port_base, make_network

pytestmark = pytest.mark.e2e


def status(node: NodeProcess) -> dict[str, object]:
    answer: dict[str, object] = node.http.get(f"{node.url}/v1/status", timeout=5).json()
    return answer


def head_of(node: NodeProcess) -> tuple[object, object, object]:
    answer = status(node)
    return answer["height"], answer["block_hash"], answer["state_root"]


def certificate_signers(node: NodeProcess, at: int) -> set[str]:
    block = node.http.get(f"{node.url}/v1/blocks/{at}", timeout=5).json()
    return {signature["validator"] for signature in block["certificate"]["signatures"]}


@pytest.fixture
def network_with_observer(
    tmp_path: Path,
) -> Iterator[tuple[Path, list[NodeProcess], NodeProcess]]:
    layout = make_network(tmp_path, validators=4)
    base = free_port_base(1)
    entry = jinqiao(
        "node",
        "add",
        str(tmp_path),
        "--name",
        "pboc-observer",
        "--organization",
        "regulator",
        "--api-port",
        str(base),
        "--p2p-port",
        str(base + 100),
        "--observer",
    )
    assert (entry["role"], entry["address"]) == ("observer", "")
    validators = [
        NodeProcess(tmp_path / node.home, port=int(node.api_url.rsplit(":", 1)[1]))
        for node in layout.nodes
    ]
    observer = NodeProcess(tmp_path / str(entry["home"]), port=base)
    started: list[NodeProcess] = []
    try:
        for node in [*validators, observer]:
            started.append(node.start())
        yield tmp_path, validators, observer
    finally:
        for node in started:
            if node.process is not None and node.process.poll() is None:
                node.process.send_signal(signal.SIGCONT)
                node.stop()


def test_an_observer_follows_verifies_and_never_votes(
    network_with_observer: tuple[Path, list[NodeProcess], NodeProcess],
) -> None:
    directory, validators, observer = network_with_observer
    genesis_file = directory / "genesis.json"
    payer_file = directory / "accounts" / "bank-a-treasury.json"
    payee = load_key(directory / "accounts" / "bank-b-treasury.json").address
    validator_addresses = {
        str(v["address"])
        for v in status(validators[0])["validators"]  # type: ignore[union-attr]
    }
    with Client(
        validators[0].url, credentials=validators[0].credentials, genesis_file=genesis_file
    ) as client:
        treasury = load_key(directory / "accounts" / "clearing-treasury.json")
        assert client.token.mint(treasury, "CNY", load_key(payer_file).address, 10**9).ok

    consensus = observer.http.get(f"{observer.url}/v1/consensus", timeout=5).json()
    assert (consensus["role"], consensus["validator"]) == ("observer", False)
    assert "never proposes or votes" in consensus["summary"]
    assert status(observer)["validator"] == ""

    with Load(validators[0].url, genesis_file, payer_file, payee) as load:
        wait_for(lambda: len(load.committed) >= 20, 120, "transfers committed under load")
        # A transfer sent to the observer is forwarded to the validators and committed; the
        # observer sees it once it has fetched the block.
        with Client(
            observer.url, credentials=observer.credentials, genesis_file=genesis_file
        ) as through_observer:
            sent = through_observer.send(
                load_key(payer_file), TOKEN, "transfer", TransferArgs("CNY", payee, 7)
            )
            assert sent.ok, sent.receipt
        wait_for(lambda: height(observer) >= height(validators[0]) - 2, 120, "observer near head")
    assert load.committed, "the load committed nothing"

    # Load stopped: the observer reaches exactly the validators' head.
    wait_for(
        lambda: head_of(observer) == head_of(validators[0]), 60, "the observer at the same head"
    )
    final = int(str(status(validators[0])["height"]))
    for node in validators[1:]:
        wait_for(lambda node=node: height(node) >= final, 60, "every validator at the head")
    # Each node stores the certificate it assembled or fetched (any 2f + 1 precommits): every
    # one, the validators' and the observer's, holds validators' signatures only, 3 of 4 at least.
    for at in range(1, final + 1):
        for node in (validators[0], observer):
            signers = certificate_signers(node, at)
            assert len(signers) >= 3 and signers <= validator_addresses, (at, signers)

    # Stopping the observer does not affect liveness.
    assert observer.stop() == 0, observer.log()
    with Load(validators[1].url, genesis_file, payer_file, payee) as load:
        wait_for(lambda: height(validators[1]) >= final + 5, 60, "commits without the observer")
    assert load.committed
    # Restarted, it catches up from its own store.
    observer.start()
    wait_for(
        lambda: head_of(observer) == head_of(validators[1]), 60, "the observer caught up again"
    )
    assert "Traceback" not in observer.log()
