"""Signing policies on a real node (docs/keys.md "Signing policies"): a key rotated without
changing the address, the old key refused ``key_revoked`` at admission with nothing changed, a
lost key revoked, an amount rule that needs the approval key above its amount, a 2-of-3
account that pays only once a second key approved on chain, the same account paying in one
block with one transaction that two of its keys sign (and refused, with nothing changed, for a
duplicate, foreign, revoked or too light signer), and an account whose key is lost
recovered by its organization's admin and the governance quorum."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jinqiao.apps.governance import ProposalArgs, ProposeArgs, RecoverAccount
from jinqiao.apps.token import TOKEN, TransferArgs
from jinqiao.cli.main import app
from jinqiao.client import (
    AccountKey,
    Client,
    MultiSigner,
    TransactionRefused,
    TransactionResult,
)
from jinqiao.core.codec import decode, encode
from jinqiao.core.crypto import Signer
from jinqiao.core.genesis import load_genesis
from jinqiao.core.hashing import transaction_signing_bytes
from jinqiao.core.limits import MAX_PROOF_BYTES
from jinqiao.core.proofs import TransactionProof
from jinqiao.core.types import MultiSignedTransaction, with_cosigners
from jinqiao.execution.identity import GOVERNANCE, AmountRule, PolicyKey
from jinqiao.keys import generate_key, load_key
from jinqiao.provision.network import load_layout
from jinqiao.verify import VerificationError, verify_transaction_inclusion
from tests.helpers import doc_verifier as doc
from tests.helpers.process import NodeProcess, make_network

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Treasury:
    client: Client
    owner: Signer
    payee: bytes
    url: str
    directory: Path


@contextmanager
def funded_treasury(directory: Path, amount_minor: int) -> Iterator[Treasury]:
    """A one-node network whose ``bank-a-treasury`` holds ``amount_minor`` fen."""
    layout = make_network(directory)
    node = NodeProcess(directory / layout.nodes[0].home).start()
    try:
        with Client(
            node.url, credentials=node.credentials, genesis_file=directory / "genesis.json"
        ) as client:
            issuer = load_key(directory / layout.account("clearing-treasury").key_file)
            owner = load_key(directory / layout.account("bank-a-treasury").key_file)
            payee = bytes.fromhex(layout.account("bank-b-treasury").address)
            assert client.token.mint(issuer, "CNY", owner.address, amount_minor).ok
            yield Treasury(client, owner, payee, node.url, directory)
    finally:
        assert node.stop() == 0, node.log()


def test_rotation_revocation_and_amount_rule(tmp_path: Path) -> None:
    with funded_treasury(tmp_path, 1_000_000) as treasury:
        client, old, payee = treasury.client, treasury.owner, treasury.payee

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
        assert client.keys.set_policy(new, (*keys, PolicyKey(lost.public_key, 1)), 1, (rule,)).ok
        assert client.keys.revoke(new, lost.public_key).ok
        with pytest.raises(TransactionRefused) as refused:
            client.token.transfer(lost, "CNY", payee, 10)
        assert refused.value.code == "key_revoked"
        with pytest.raises(TransactionRefused) as refused:
            client.token.transfer(new, "CNY", payee, 100_000)
        assert refused.value.code == "approval_required"
        assert client.token.transfer(approval, "CNY", payee, 100_000).ok
        assert client.token.balance("CNY", old.address) == before - 100_010


def test_two_of_three_pays_only_with_a_second_signature_collected_on_chain(
    tmp_path: Path,
) -> None:
    with funded_treasury(tmp_path, 1_000) as treasury:
        client, owner, payee = treasury.client, treasury.owner, treasury.payee
        second, third = (AccountKey(generate_key(), owner.address) for _ in range(2))
        members = (owner.public_key, second.public_key, third.public_key)
        keys = tuple(PolicyKey(public_key, 1) for public_key in members)
        assert client.keys.set_policy(owner, keys, 2).ok

        with pytest.raises(TransactionRefused) as refused:
            client.token.transfer(owner, "CNY", payee, 10)
        assert refused.value.code == "under_threshold"
        before = client.token.balance("CNY", payee)
        transfer = TransferArgs("CNY", payee, 10)
        proposed = client.keys.propose(
            owner, TOKEN, "transfer", transfer, client.status()["height"] + 50
        )
        assert proposed.ok, proposed.code
        approval_hash = bytes.fromhex(proposed.transaction_hash)
        assert client.token.balance("CNY", payee) == before
        duplicate = client.keys.approve(owner, approval_hash)
        assert duplicate.code == "duplicate_cosignature"
        approved = client.keys.approve(third, approval_hash)
        assert approved.ok, approved.code
        assert client.token.balance("CNY", payee) == before + 10
        assert client.keys.approve(second, approval_hash).code == "unknown_approval"


def test_an_account_survives_a_lost_key_by_recovery(tmp_path: Path) -> None:
    with funded_treasury(tmp_path, 1_000) as treasury:
        client, lost, payee = treasury.client, treasury.owner, treasury.payee
        layout = load_layout(tmp_path)
        admins = {
            entry.organization: load_key(tmp_path / entry.key_file)
            for entry in layout.accounts
            if entry.name.endswith("-admin")
        }
        fresh = AccountKey(generate_key(), lost.address)
        action = RecoverAccount(lost.address, (PolicyKey(fresh.public_key, 1),), 1)
        proposed = client.send(admins.pop("bank-a"), GOVERNANCE, "propose", ProposeArgs(action))
        assert proposed.ok, proposed.code
        proposal_id = decode(proposed.receipt.result, int, max_bytes=16)
        recovered = []
        for admin in admins.values():
            approved = client.send(admin, GOVERNANCE, "approve", ProposalArgs(proposal_id))
            assert approved.ok, approved.code
            recovered = [e for e in approved.receipt.events if e.name == "AccountRecovered"]
            if recovered:
                break
        assert recovered, "the quorum never executed the recovery"
        with pytest.raises(TransactionRefused) as refused:
            client.token.transfer(lost, "CNY", payee, 10)
        assert refused.value.code == "key_revoked"
        assert client.token.transfer(fresh, "CNY", payee, 10).ok  # same address, same balance
        assert client.token.balance("CNY", lost.address) == 990


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_the_cli_shows_sets_rotates_and_approves(tmp_path: Path) -> None:
    with funded_treasury(tmp_path, 1_000) as treasury:
        net = ["--network", str(tmp_path), "--url", treasury.url]
        code, out, err = invoke("keys", "policy", "show", "bank-a-treasury", *net, "--json")
        assert code == 0, err
        shown = json.loads(out)
        assert shown["keys"] == [{"public_key": treasury.owner.public_key.hex(), "weight": 1}]
        new_file = tmp_path / "treasury-2.json"
        code, out, err = invoke("keys", "create", str(new_file), "--insecure-plaintext", "--json")
        assert code == 0, err
        assert invoke("keys", "rotate", str(new_file), "--key", "bank-a-treasury", *net)[0] == 0
        code, _, err = invoke(
            "tx", "token", "transfer", "bank-b-treasury", "1", "--key", "bank-a-treasury", *net
        )
        assert code == 3 and "key_revoked" in err  # refused at admission
        as_account = ["--key", str(new_file), "--account", "bank-a-treasury", *net]
        other = generate_key().public_key.hex()
        members = ["--member", f"{new_file}:1", "--member", f"{other}:1"]
        code, out, err = invoke("keys", "policy", "set", *members, "--threshold", "3", *as_account)
        assert code == 2 and "invalid_policy" in out + err  # rejected in its block
        code, out, err = invoke("keys", "policy", "set", *members, "--threshold", "2", *as_account)
        assert code == 0, err
        code, out, err = invoke("keys", "approve", "00" * 32, *as_account)
        assert code == 2 and "unknown_approval" in out + err
        code, out, err = invoke("keys", "revoke", other, *as_account)
        assert code == 3 and "under_threshold" in err
        code, out, _ = invoke("keys", "policy", "show", "bank-a-treasury", *net, "--json")
        assert json.loads(out)["threshold"] == 2
        assert json.loads(out)["revoked"] == [treasury.owner.public_key.hex()]


def _with_duplicate_signer(
    client: Client, owner: Signer, transfer: TransferArgs
) -> MultiSignedTransaction:
    """A transaction whose co-signer is its own ``public_key`` (the SDK refuses to build one)."""
    built = client.build(owner, TOKEN, "transfer", transfer)
    body = with_cosigners(built.body, (owner.public_key,))
    signature = owner.sign(transaction_signing_bytes(body))
    return MultiSignedTransaction(body, signature, (signature,))


def _check_proofs_of(directory: Path, client: Client, paid: TransactionResult) -> None:
    """``jinqiao.verify`` accepts the proven multi-signed transaction and refuses it with one
    byte of a co-signature changed; so does the verifier written from docs/proofs.md."""
    genesis = load_genesis((directory / "genesis.json").read_bytes())
    answer = json.loads(client.raw_get(f"/v1/transactions/{paid.transaction_hash}"))
    raw = bytes.fromhex(answer["transaction_proof"])
    proof = decode(raw, TransactionProof, max_bytes=MAX_PROOF_BYTES)
    assert proof.transaction[:1] == b"\x93"  # docs/proofs.md §4.3: the 3-item shape
    check = (genesis, proof.header, proof.certificate)
    verify_transaction_inclusion(*check, proof.transaction, proof.proof)
    tampered = proof.transaction[:-1] + bytes([proof.transaction[-1] ^ 1])
    with pytest.raises(VerificationError):
        verify_transaction_inclusion(*check, tampered, proof.proof)
    # The verifier written from docs/proofs.md alone ties both proofs to the hash (§4.2, §4.3).
    trust = doc.Trust.from_genesis((directory / "genesis.json").read_bytes())
    asked = bytes.fromhex(paid.transaction_hash)
    receipt_proof = bytes.fromhex(answer["receipt_proof"])
    lookup = doc.verify_lookup(trust, asked, raw, receipt_proof)
    assert len(lookup.transaction["cosignatures"]) == 1
    with pytest.raises(doc.Refused):
        doc.verify_lookup(trust, bytes(32), raw, receipt_proof)


def test_two_of_three_pays_in_one_block_with_two_signatures(tmp_path: Path) -> None:
    with funded_treasury(tmp_path, 1_000) as treasury:
        client, owner, payee = treasury.client, treasury.owner, treasury.payee
        second, third, approval = (AccountKey(generate_key(), owner.address) for _ in range(3))
        members = (owner.public_key, second.public_key, third.public_key)
        keys = tuple(PolicyKey(public_key, 1) for public_key in members)
        rule = AmountRule("CNY", 1_000_000, approval.public_key)  # weight 0: it never counts
        assert client.keys.set_policy(owner, keys, 2, (rule,)).ok
        before = client.token.balance("CNY", payee)

        paid = client.token.transfer(MultiSigner([second, third], owner.address), "CNY", payee, 10)
        assert paid.ok and paid.verified, paid.code
        assert isinstance(paid.transaction, MultiSignedTransaction)
        assert paid.transaction.signers() == (second.public_key, third.public_key)
        assert client.token.balance("CNY", payee) == before + 10
        _check_proofs_of(treasury.directory, client, paid)

        def refused(code: str, build: Callable[[], object]) -> None:
            balances = (
                client.token.balance("CNY", owner.address),
                client.token.balance("CNY", payee),
            )
            with pytest.raises(TransactionRefused) as refusal:
                build()
            assert refusal.value.code == code
            assert client.keys.policy(owner.address).keys == keys
            after = (client.token.balance("CNY", owner.address), client.token.balance("CNY", payee))
            assert after == balances

        stranger = AccountKey(generate_key(), owner.address)
        transfer = TransferArgs("CNY", payee, 5)
        refused(
            "duplicate_signer",
            lambda: client.submit(_with_duplicate_signer(client, owner, transfer)),
        )
        refused(
            "foreign_signature",
            lambda: client.token.transfer(
                MultiSigner([owner, stranger], owner.address), "CNY", payee, 5
            ),
        )
        refused(
            "under_threshold",
            lambda: client.token.transfer(
                MultiSigner([owner, approval], owner.address), "CNY", payee, 5
            ),
        )
        assert client.keys.revoke(MultiSigner([owner, second], owner.address), third.public_key).ok
        keys = keys[:2]
        refused(
            "key_revoked",
            lambda: client.token.transfer(
                MultiSigner([owner, third], owner.address), "CNY", payee, 5
            ),
        )


def test_the_cli_prepares_cosigns_and_submits_one_transaction(tmp_path: Path) -> None:
    with funded_treasury(tmp_path, 1_000) as treasury:
        client, owner, payee = treasury.client, treasury.owner, treasury.payee
        net = ["--network", str(tmp_path), "--url", treasury.url]
        files = [tmp_path / "ops-2.json", tmp_path / "ops-3.json"]
        for file in files:
            assert invoke("keys", "create", str(file), "--insecure-plaintext")[0] == 0
        members = (owner.public_key, *(load_key(file).public_key for file in files))
        keys = tuple(PolicyKey(public_key, 1) for public_key in members)
        assert client.keys.set_policy(owner, keys, 2).ok
        before = client.token.balance("CNY", payee)

        prepared = tmp_path / "pay.json"
        args = encode(TransferArgs("CNY", payee, 7)).hex()
        signers = ["--signer", str(files[0]), "--signer", str(files[1])]
        code, out, err = invoke(
            "keys", "prepare", str(prepared), TOKEN, "transfer", "--args-hex", args,
            *signers, "--account", "bank-a-treasury", *net,
        )  # fmt: skip
        assert code == 0, err
        assert "0 of 2 signatures" in out
        code, _, err = invoke("keys", "cosign", str(prepared), "--key", str(files[0]))
        assert code == 0, err
        code, _, err = invoke("keys", "submit", str(prepared), *net)
        assert code == 1 and "still lacks the signatures of" in err
        stranger = tmp_path / "stranger.json"
        assert invoke("keys", "create", str(stranger), "--insecure-plaintext")[0] == 0
        code, _, err = invoke("keys", "cosign", str(prepared), "--key", str(stranger))
        assert code == 1 and "not one of this transaction's signers" in err
        code, out, err = invoke("keys", "cosign", str(prepared), "--key", str(files[1]))
        assert code == 0 and "2 of 2 signatures" in out, err
        assert client.token.balance("CNY", payee) == before
        code, out, err = invoke("keys", "submit", str(prepared), *net, "--json")
        assert code == 0, err
        assert json.loads(out)["status"] == "ok"
        assert client.token.balance("CNY", payee) == before + 7
        code, out, err = invoke("keys", "submit", str(prepared), *net, "--json")
        assert code == 0 and json.loads(out)["height"] > 0  # the same bytes: committed once
        assert client.token.balance("CNY", payee) == before + 7
