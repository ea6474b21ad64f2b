"""A validator's consensus key is replaced on a running four-validator network while transfers
flow (docs/keys.md "Rotation"): `jinqiao node next-key` makes the next key and names it
`next_validator_key_file`, the node is restarted (the other three keep committing), the
organization's admin proposes `tx governance replace-validator-key` and the quorum approves.
The chain never stops committing; from the decided height h, certificates of h + 2 on carry the
new key's precommit and never the old key's; the old key's votes are refused as a stranger's
(two conflicting votes by it make no evidence, while the same by the new key do); the restarted
node signs with the new key; and the SDK's verifier checks headers across the switch."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from jinqiao.apps.governance import ProposalArgs
from jinqiao.client import Client
from jinqiao.core.crypto import Signer
from jinqiao.core.genesis import load_genesis
from jinqiao.execution.identity import GOVERNANCE
from jinqiao.keys import load_key
from jinqiao.provision.network import NetworkLayout
from jinqiao.verify import verify_header
from tests.helpers.cluster import (
    certificate_signers,
    equivocate,
    funded_load,
    height,
    jinqiao,
    p2p_config_of,
    wait_for,
)
from tests.helpers.process import NodeProcess

pytestmark = pytest.mark.e2e

MAX_BLOCK_GAP_MS = 10_000
"""Under load a block commits every few hundred milliseconds. While the rotated node restarts,
a round it would propose waits out the propose timeout (3 s, more on a loaded machine: 5.1 s
seen) before another validator proposes; 10 s, the empty-block heartbeat, would be a stall."""


def _wait_for_signature(node: NodeProcess, key: Signer, from_height: int) -> None:
    """Until a certificate from ``from_height`` on holds ``key``'s precommit."""
    wait_for(
        lambda: any(
            key.address.hex() in certificate_signers(node, at)
            for at in range(from_height, height(node) + 1)
        ),
        60,
        f"a precommit by {key.address.hex()} from height {from_height}",
    )


def _offences(node: NodeProcess, address: bytes) -> int:
    answer = node.http.post(
        f"{node.url}/v1/query/evidence/offences", json={"validator": address.hex()}
    ).json()
    return int(answer["result"]["equivocations"])


def test_a_validator_key_is_replaced_while_the_network_commits(
    network: tuple[Path, NetworkLayout, list[NodeProcess]],
) -> None:
    directory, layout, nodes = network
    genesis_file = directory / "genesis.json"
    genesis = load_genesis(genesis_file.read_bytes())
    rotated, name = nodes[1], layout.nodes[1].name
    old = load_key(rotated.home / "validator_key.json")
    [validator] = [v for v in genesis.validator_set().validators if v.address == old.address]
    organization = validator.organization
    created = jinqiao("node", "next-key", "--home", str(rotated.home), "--insecure-plaintext")
    new = load_key(rotated.home / "next_validator_key.json")
    assert created["address"] == new.address.hex()
    assert (created["validator_address"], created["organization"]) == (
        old.address.hex(),
        organization,
    )

    load = funded_load(directory, nodes[0])
    start = height(nodes[0])
    with load:
        # The node learns its next key at a restart; three of four keep committing meanwhile.
        assert rotated.stop() == 0, rotated.log()
        rotated.start()
        proposed = jinqiao(
            "tx",
            "governance",
            "replace-validator-key",
            old.address.hex(),
            "--public-key",
            new.public_key.hex(),
            "--key",
            f"{organization}-admin",
            "--network",
            str(directory),
        )
        proposal_id = int(str(proposed["proposal_id"]))
        admins = [f"{o.id}-admin" for o in genesis.organizations if o.id != organization]
        with Client(
            nodes[0].url, credentials=nodes[0].credentials, genesis_file=genesis_file
        ) as client:
            for admin in admins:
                key = load_key(directory / "accounts" / f"{admin}.json")
                approved = client.send(key, GOVERNANCE, "approve", ProposalArgs(proposal_id))
                assert approved.ok, approved.receipt
                status = client.governance.proposal(proposal_id)
                if status is not None and status.executed:
                    break
            decided = approved.height
            kinds = [event.name for event in approved.receipt.events]
            assert "ValidatorKeyReplaced" in kinds
        wait_for(lambda: height(nodes[0]) >= decided + 8, 60, "eight blocks after the decision")
        _wait_for_signature(nodes[0], new, decided + 2)
    latest = height(nodes[0])
    assert load.errors == 0
    committed_heights = {at for at, _ in load.committed.values()}
    assert min(committed_heights) <= decided and max(committed_heights) >= decided + 2
    for at in range(decided + 2, latest + 1):
        assert old.address.hex() not in certificate_signers(nodes[0], at), at
    assert "validator key switched" in rotated.log()

    # The SDK follows the change: each header on both sides of the switch verifies against the
    # set it finds for it, the old key's up to h + 1 and the new key's from h + 2.
    with Client(
        nodes[2].url, credentials=nodes[2].credentials, genesis_file=genesis_file
    ) as client:
        times = []
        for at in range(start, latest + 1):
            header, certificate = client.certified_header(at)
            validators = client.validators_for(header)
            verify_header(genesis, header, certificate, validators=validators)
            members = validators.by_address()
            assert (old.address in members, new.address in members) == (
                (True, False) if at <= decided + 1 else (False, True)
            ), at
            times.append(header.time_ms)
    # The network never stopped committing.
    gap_ms, gap_end = max(
        (b - a, start + i + 1) for i, (a, b) in enumerate(itertools.pairwise(times))
    )
    print(f"longest gap {gap_ms} ms, before block {gap_end}; decided {decided}")
    assert gap_ms < MAX_BLOCK_GAP_MS, (gap_ms, gap_end, decided)

    # The old key's votes are a stranger's: no evidence; the new key's count (control).
    assert rotated.stop() == 0, rotated.log()
    p2p = p2p_config_of(directory, name)
    equivocate(p2p, genesis.chain_id, lambda: height(nodes[0]) + 1, old)
    equivocate(p2p, genesis.chain_id, lambda: height(nodes[0]) + 1, new)
    wait_for(lambda: _offences(nodes[0], new.address) == 1, 30, "the new key's evidence")
    assert _offences(nodes[0], old.address) == 0

    # Restarted after the switch, the node signs with the new key.
    rotated.start()
    _wait_for_signature(nodes[0], new, height(nodes[0]) + 1)
    consensus = rotated.http.get(f"{rotated.url}/v1/consensus", timeout=5).json()
    assert consensus["validator"] is True
