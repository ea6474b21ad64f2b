"""A fifth validator joins a running four-validator network through the real commands: `jinqiao
node add` makes its home (key, TLS certificate from its organization's root), the node starts and
is refused by the others until governance decides to add it, then catches up, votes, and carries
the quorum: with one of the original four stopped, the chain keeps committing only because the
new validator's precommits count."""

from __future__ import annotations

from pathlib import Path

import pytest

from jinqiao.apps.governance import ProposalArgs
from jinqiao.client import Client
from jinqiao.execution.identity import GOVERNANCE
from jinqiao.keys import load_key
from tests.helpers.cluster import certificate_signers, funded_load, height, jinqiao, wait_for
from tests.helpers.process import NodeProcess, free_port_base

pytestmark = pytest.mark.e2e


def test_a_validator_added_by_governance_joins_and_carries_the_quorum(
    network: tuple[Path, object, list[NodeProcess]],
) -> None:
    directory, _, nodes = network
    genesis_file = directory / "genesis.json"
    base = free_port_base(1)
    added = jinqiao(
        "node",
        "add",
        str(directory),
        "--name",
        "regulator",
        "--organization",
        "regulator",
        "--api-port",
        str(base),
        "--p2p-port",
        str(base + 100),
        "--insecure-plaintext",
    )
    joiner = NodeProcess(directory / str(added["home"]), port=base).start()
    try:
        load = funded_load(directory, nodes[0])
        # Not yet a node of the network: the others refuse its connections, so it stays at genesis,
        # and it says why it does not vote.
        assert height(joiner) == 0
        consensus = joiner.http.get(f"{joiner.url}/v1/consensus", timeout=5).json()
        assert consensus["validator"] is False
        assert "not a validator" in consensus["summary"]
        with load:
            proposed = jinqiao(
                "tx",
                "governance",
                "add-validator",
                "--public-key",
                str(added["public_key"]),
                "--name",
                "regulator",
                "--organization",
                "regulator",
                "--key",
                "regulator-admin",
                "--network",
                str(directory),
            )
            proposal_id = int(str(proposed["proposal_id"]))
            with Client(
                nodes[0].url, credentials=nodes[0].credentials, genesis_file=genesis_file
            ) as client:
                for admin in ("clearing-admin", "ecfin-admin", "bank-a-admin"):
                    key = load_key(directory / "accounts" / f"{admin}.json")
                    approved = client.send(key, GOVERNANCE, "approve", ProposalArgs(proposal_id))
                    assert approved.ok, approved.receipt
                decided = approved.height
            # In force from decided + 2; the joiner catches up and signs certificates.
            wait_for(lambda: height(joiner) >= decided + 3, 60, "the joiner to catch up")
            address = str(added["address"])
            wait_for(
                lambda: any(
                    address in certificate_signers(nodes[0], at)
                    for at in range(decided + 2, height(nodes[0]) + 1)
                ),
                60,
                "the new validator's precommit in a commit certificate",
            )
            # Five validators of power 1 need four precommits: with one original validator
            # stopped, the chain commits only with the new validator's votes.
            nodes[3].stop()
            at_stop = height(nodes[0])
            wait_for(lambda: height(nodes[0]) >= at_stop + 3, 60, "commits without node 4")
            latest = height(nodes[0])
            assert address in certificate_signers(nodes[0], latest)
        status = joiner.http.get(f"{joiner.url}/v1/status", timeout=5).json()
        assert status["height"] >= latest - 1
        assert joiner.http.get(f"{joiner.url}/v1/consensus", timeout=5).json()["validator"] is True
    finally:
        assert joiner.stop() == 0, joiner.log()
