"""A validator-set change decided by governance: it takes effect two heights later, the chain
keeps committing across it, and a client that trusts only genesis follows it with proofs."""

from __future__ import annotations

from pathlib import Path

import pytest

from jinqiao.apps.governance import ProposalArgs, ProposeArgs, SetValidatorPower
from jinqiao.client import Client
from jinqiao.core.codec import decode
from jinqiao.core.genesis import load_genesis
from jinqiao.core.types import BlockHeader
from jinqiao.execution.identity import GOVERNANCE
from jinqiao.keys import load_key
from tests.helpers.process import NodeProcess, make_network

pytestmark = pytest.mark.e2e


def test_power_change_takes_effect_and_clients_follow_it(tmp_path: Path) -> None:
    layout = make_network(tmp_path)
    node = NodeProcess(tmp_path / layout.nodes[0].home).start()
    genesis_file = tmp_path / "genesis.json"
    try:
        validator = load_genesis(genesis_file.read_bytes()).validator_set().validators[0]
        with Client(node.url, credentials=node.credentials, genesis_file=genesis_file) as client:
            admins = [
                load_key(tmp_path / layout.account(f"{org}-admin").key_file)
                for org in ("clearing", "ecfin", "bank-a", "bank-b")
            ]
            action = ProposeArgs(SetValidatorPower(validator.address, 5))
            proposed = client.send(admins[0], GOVERNANCE, "propose", action)
            proposal_id = decode(proposed.receipt.result, int, max_bytes=16)
            approvals = [
                client.send(admin, GOVERNANCE, "approve", ProposalArgs(proposal_id))
                for admin in admins[1:]
            ]
            assert all(result.ok for result in approvals)
            decided_at = approvals[-1].height
            # The chain keeps committing across the change, which is in force from decided_at + 2;
            # this client's proofs are checked with the new set once it is.
            treasury = load_key(tmp_path / layout.account("clearing-treasury").key_file)
            payee = bytes.fromhex(layout.account("bank-a-treasury").address)
            minted = [client.token.mint(treasury, "CNY", payee, 1) for _ in range(3)]
            assert all(result.ok and result.verified for result in minted)
            assert minted[-1].height >= decided_at + 2
        # A fresh client that trusts only genesis follows the change with proofs.
        with Client(node.url, credentials=node.credentials, genesis_file=genesis_file) as fresh:
            assert fresh.token.balance("CNY", payee) == 3
            latest = fresh.block()
            header = decode(bytes.fromhex(latest["header_bytes"]), BlockHeader, max_bytes=4096)
            assert header.height >= decided_at + 2
            assert fresh.validators_for(header).validators[0].power == 5
        changes = node.http.get(f"{node.url}/v1/validators/changes").json()["changes"]
        assert [change["height"] for change in changes] == [decided_at + 1]
    finally:
        assert node.stop() == 0, node.log()
