"""One transaction signed by two keys of a 2-of-3 policy (docs/keys.md "Several signatures in one
transaction", ADR 0051) on four validator processes of each suite: sent to one node, gossiped,
proposed and voted over real TLS, committed by all four in the same block; a copy with a forged
co-signature is refused at every node."""

from __future__ import annotations

from pathlib import Path

import pytest

from jinqiao.apps.token import TransferArgs
from jinqiao.client import AccountKey, Client, MultiSigner, TransactionRefused
from jinqiao.core.types import MultiSignedTransaction
from jinqiao.execution.identity import PolicyKey
from jinqiao.keys import generate_key, load_key
from jinqiao.provision.network import NetworkLayout
from tests.helpers.cluster import block_hash, height, wait_for
from tests.helpers.process import NodeProcess

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("network", ["ed25519-sha256", "sm2-sm3"], indirect=True)
def test_four_validators_commit_one_multi_signed_transaction(
    network: tuple[Path, NetworkLayout, list[NodeProcess]],
) -> None:
    directory, layout, nodes = network
    genesis_file = directory / "genesis.json"
    issuer = load_key(directory / layout.account("clearing-treasury").key_file)
    owner = load_key(directory / layout.account("bank-a-treasury").key_file)
    payee = bytes.fromhex(layout.account("bank-b-treasury").address)
    suite = owner.suite.name
    second, third = (AccountKey(generate_key(suite), owner.address) for _ in range(2))
    keys = tuple(PolicyKey(key.public_key, 1) for key in (owner, second, third))
    with Client(nodes[0].url, credentials=nodes[0].credentials, genesis_file=genesis_file) as first:
        assert first.token.mint(issuer, "CNY", owner.address, 1_000).ok
        policy = first.keys.set_policy(owner, keys, 2)
        assert policy.ok, policy.code
    # The node the transaction goes to admits it against its own state: it must hold the policy.
    wait_for(lambda: height(nodes[2]) >= policy.height, 60, "the third node to hold the policy")
    with Client(nodes[2].url, credentials=nodes[2].credentials, genesis_file=genesis_file) as other:
        signers = MultiSigner([third, second], owner.address)
        signed = other.build(signers, "token", "transfer", TransferArgs("CNY", payee, 25))
        assert isinstance(signed, MultiSignedTransaction)
        forged = MultiSignedTransaction(signed.body, signed.signature, (bytes(64),))
        with pytest.raises(TransactionRefused) as refused:
            other.submit(forged)
        assert refused.value.code == "invalid_signature"
        paid = other.resend(signed)
        assert paid.ok and paid.verified, paid.code
        assert other.token.balance("CNY", payee) == 25
    wait_for(lambda: min(height(node) for node in nodes) >= paid.height, 60, "all four commit")
    assert len({block_hash(node, paid.height) for node in nodes}) == 1
    for node in nodes:
        with Client(node.url, credentials=node.credentials, genesis_file=genesis_file) as client:
            with pytest.raises(TransactionRefused) as refused:
                client.submit(forged)
            # Committed: its hash is taken (the body is the same), whatever the signatures say.
            assert refused.value.code == "duplicate_transaction"
            assert client.token.balance("CNY", owner.address) == 975
