"""Signing policies on a real node (docs/keys.md "Signing policies"): a key rotated without
changing the address, the old key refused ``key_revoked`` at admission with nothing changed, a
lost key revoked, and an amount rule that needs the approval key above its amount."""

from __future__ import annotations

from pathlib import Path

import pytest

from jinqiao.client import AccountKey, Client, TransactionRefused
from jinqiao.execution.identity import AmountRule, PolicyKey
from jinqiao.keys import generate_key, load_key
from tests.helpers.process import NodeProcess, make_network

pytestmark = pytest.mark.e2e


def test_rotation_revocation_and_amount_rule(tmp_path: Path) -> None:
    layout = make_network(tmp_path)
    node = NodeProcess(tmp_path / layout.nodes[0].home).start()
    try:
        with Client(
            node.url, credentials=node.credentials, genesis_file=tmp_path / "genesis.json"
        ) as client:
            issuer = load_key(tmp_path / layout.account("clearing-treasury").key_file)
            old = load_key(tmp_path / layout.account("bank-a-treasury").key_file)
            payee = bytes.fromhex(layout.account("bank-b-treasury").address)
            assert client.token.mint(issuer, "CNY", old.address, 1_000_000).ok

            new = AccountKey(generate_key(), old.address)
            rotated = client.keys.rotate(old, old.public_key, new.public_key)
            assert rotated.ok, rotated.code
            policy = client.keys.policy(old.address)
            assert [key.public_key for key in policy.keys] == [new.public_key]
            assert old.public_key in policy.revoked

            before = client.token.balance("CNY", old.address)
            with pytest.raises(TransactionRefused) as refused:
                client.token.transfer(old, "CNY", payee, 10)
            assert refused.value.code == "key_revoked"
            assert client.token.balance("CNY", old.address) == before
            assert client.token.transfer(new, "CNY", payee, 10).ok  # same address, new key

            approval = AccountKey(generate_key(), old.address)
            lost = AccountKey(generate_key(), old.address)
            keys = (PolicyKey(new.public_key, 1), PolicyKey(approval.public_key, 1))
            rule = AmountRule("CNY", 100_000, approval.public_key)
            assert client.keys.set_policy(
                new, (*keys, PolicyKey(lost.public_key, 1)), 1, (rule,)
            ).ok
            assert client.keys.revoke(new, lost.public_key).ok
            with pytest.raises(TransactionRefused) as refused:
                client.token.transfer(lost, "CNY", payee, 10)
            assert refused.value.code == "key_revoked"
            with pytest.raises(TransactionRefused) as refused:
                client.token.transfer(new, "CNY", payee, 100_000)
            assert refused.value.code == "approval_required"
            assert client.token.transfer(approval, "CNY", payee, 100_000).ok
            assert client.token.balance("CNY", old.address) == before - 100_010
    finally:
        assert node.stop() == 0, node.log()
