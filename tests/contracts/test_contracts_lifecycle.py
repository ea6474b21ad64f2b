"""The lifecycle on chain: a package is proposed, each organization's admin approves its exact
hash, at the quorum it is committed and callable by its name; an upgrade goes the same way."""

from __future__ import annotations

import pytest

from jinqiao.apps import default_contracts
from jinqiao.apps.governance import CallContract, ProposalArgs
from jinqiao.apps.governance import ProposeArgs as GovernanceProposeArgs
from jinqiao.contracts.lifecycle import (
    Lifecycle,
    MemberContracts,
    PackageArgs,
    PackageView,
    ProposeArgs,
    SetPausedArgs,
    package_hash,
)
from jinqiao.core.codec import CanonicalStruct, decode, encode
from jinqiao.core.errors import Rejection
from jinqiao.core.genesis import Genesis
from jinqiao.core.types import Receipt
from jinqiao.execution.api import GOVERNANCE
from tests.contracts.tally import MANIFEST, SOURCE
from tests.helpers.chain import Chain, make_genesis, token_config

ADMINS = ("central-bank-admin", "bank-a-admin", "bank-b-admin", "regulator-admin")


class AddArgs(CanonicalStruct, frozen=True):
    amount_minor: int


class NoArgs(CanonicalStruct, frozen=True):
    pass


def lifecycle_chain(genesis: Genesis | None = None) -> Chain:
    chain = Chain(genesis, contracts=[*default_contracts(), Lifecycle()])
    members = MemberContracts()
    chain.runtime.resolver = members.resolve
    chain.runtime.member_address = members.is_member_address
    return chain


def propose(chain: Chain, manifest: str, source: str = SOURCE) -> bytes:
    receipt = chain.ok("bank-a-admin", "contracts", "propose", ProposeArgs(manifest, source))
    hash_bytes = decode(receipt.result, bytes, max_bytes=64)
    assert hash_bytes == package_hash(manifest, source)
    return hash_bytes


def test_a_package_is_callable_once_the_quorum_approves() -> None:
    chain = lifecycle_chain()
    hash_bytes = propose(chain, MANIFEST.format(version="1"))
    chain.rejected("unknown_contract", "alice", "tally", "add", AddArgs(5))
    chain.ok("central-bank-admin", "contracts", "approve", PackageArgs(hash_bytes))
    chain.ok("bank-a-admin", "contracts", "approve", PackageArgs(hash_bytes))
    chain.rejected(
        "already_approved", "bank-a-admin", "contracts", "approve", PackageArgs(hash_bytes)
    )
    view = chain.query("contracts", "package", PackageArgs(hash_bytes))
    assert view == PackageView("tally", "1", "proposed", ("bank-a", "central-bank"))
    chain.rejected("unknown_contract", "alice", "tally", "add", AddArgs(5))
    # 3 of 4 organizations meet the default quorum of 2/3
    receipt = chain.ok("bank-b-admin", "contracts", "approve", PackageArgs(hash_bytes))
    assert [event.name for event in receipt.events] == ["PackageApproved", "PackageCommitted"]
    receipt = chain.ok("alice", "tally", "add", AddArgs(5))
    assert decode(receipt.result, int, max_bytes=16) == 5
    assert chain.query("tally", "total", NoArgs()) == 5
    chain.rejected(
        "package_committed", "regulator-admin", "contracts", "approve", PackageArgs(hash_bytes)
    )


def test_an_upgrade_keeps_the_state_and_runs_the_new_code() -> None:
    chain = lifecycle_chain()
    first = propose(chain, MANIFEST.format(version="1"))
    for admin in ADMINS[:3]:
        chain.ok(admin, "contracts", "approve", PackageArgs(first))
    chain.ok("alice", "tally", "add", AddArgs(5))
    doubled = SOURCE.replace("+ args.amount_minor", "+ 2 * args.amount_minor")
    second = propose(chain, MANIFEST.format(version="2"), doubled)
    chain.ok("alice", "tally", "add", AddArgs(5))  # still version 1 until the quorum
    assert chain.query("tally", "total", NoArgs()) == 10
    for admin in ADMINS[1:]:
        chain.ok(admin, "contracts", "approve", PackageArgs(second))
    chain.ok("alice", "tally", "add", AddArgs(5))
    assert chain.query("tally", "total", NoArgs()) == 20


def test_bad_proposals_are_rejected() -> None:
    chain = lifecycle_chain()
    receipt = chain.rejected(
        "package_refused",
        "bank-a-admin",
        "contracts",
        "propose",
        ProposeArgs(MANIFEST.format(version="1"), SOURCE.replace("or 0", "or 0.5")),
    )
    assert "JQ130" in receipt.message
    taken = MANIFEST.format(version="1").replace('"tally"', '"token"')
    chain.rejected("name_taken", "bank-a-admin", "contracts", "propose", ProposeArgs(taken, SOURCE))
    propose(chain, MANIFEST.format(version="1"))
    chain.rejected(
        "version_exists",
        "bank-b-admin",
        "contracts",
        "propose",
        ProposeArgs(MANIFEST.format(version="1"), SOURCE + "\n"),
    )
    chain.rejected("unauthorized", "alice", "contracts", "propose", ProposeArgs(MANIFEST, SOURCE))
    chain.rejected(
        "unknown_package", "bank-a-admin", "contracts", "approve", PackageArgs(b"x" * 32)
    )
    with pytest.raises(Rejection):
        chain.query("contracts", "package", PackageArgs(b"x" * 32))


def governance_decides(chain: Chain, action: CallContract) -> Receipt:
    """bank-a proposes, two more organizations approve: 3 of 4 meet the 2/3 quorum."""
    receipt = chain.ok("bank-a-admin", GOVERNANCE, "propose", GovernanceProposeArgs(action))
    proposal_id = decode(receipt.result, int, max_bytes=16)
    chain.ok("bank-b-admin", GOVERNANCE, "approve", ProposalArgs(proposal_id))
    return chain.ok("central-bank-admin", GOVERNANCE, "approve", ProposalArgs(proposal_id))


def test_governance_pauses_and_resumes_a_member_contract() -> None:
    chain = lifecycle_chain()
    hash_bytes = propose(chain, MANIFEST.format(version="1"))
    for admin in ADMINS[:3]:
        chain.ok(admin, "contracts", "approve", PackageArgs(hash_bytes))
    chain.ok("alice", "tally", "add", AddArgs(5))
    pause = CallContract("contracts", "set_paused", encode(SetPausedArgs("tally", True)))
    governance_decides(chain, pause)
    chain.rejected("contract_paused", "alice", "tally", "add", AddArgs(5))
    assert chain.query("tally", "total", NoArgs()) == 5  # reads still answer
    resume = CallContract("contracts", "set_paused", encode(SetPausedArgs("tally", False)))
    governance_decides(chain, resume)
    chain.ok("alice", "tally", "add", AddArgs(5))
    assert chain.query("tally", "total", NoArgs()) == 10
    # only governance: an admin calling set_paused directly is refused by role
    chain.rejected(
        "unauthorized", "bank-a-admin", "contracts", "set_paused", SetPausedArgs("tally", True)
    )


MIGRATING = SOURCE.replace(
    "    @query",
    """    @method(roles=("contract",))
    def migrate(self, ctx, args):
        total = ctx.state.load(b"total") or 0
        if total > 1000:
            ctx.reject("too_much", "cannot migrate this total")
        ctx.state.save(b"total", total * 100)

    @query""",
)
MIGRATING_MANIFEST = (
    MANIFEST.replace('version = "{version}"', 'version = "{version}"\nmigration = "migrate"')
    + '[methods.migrate]\nroles = ["contract"]\n'
)


def commit(chain: Chain, manifest: str, source: str) -> Receipt:
    hash_bytes = propose(chain, manifest, source)
    for admin in ADMINS[:2]:
        chain.ok(admin, "contracts", "approve", PackageArgs(hash_bytes))
    return chain.submit(ADMINS[2], "contracts", "approve", PackageArgs(hash_bytes))


def test_an_upgrade_runs_its_migration_once() -> None:
    chain = lifecycle_chain()
    assert commit(chain, MANIFEST.format(version="1"), SOURCE).code == "ok"
    chain.ok("alice", "tally", "add", AddArgs(5))
    receipt = commit(chain, MIGRATING_MANIFEST.format(version="2"), MIGRATING)
    assert receipt.code == "ok", receipt.message
    assert chain.query("tally", "total", NoArgs()) == 500
    # nobody else runs it again
    chain.rejected("unauthorized", "bank-a-admin", "tally", "migrate", NoArgs())


def test_a_failing_migration_leaves_the_old_version() -> None:
    chain = lifecycle_chain()
    commit(chain, MANIFEST.format(version="1"), SOURCE)
    chain.ok("alice", "tally", "add", AddArgs(5_000))
    hash_bytes = propose(chain, MIGRATING_MANIFEST.format(version="2"), MIGRATING)
    for admin in ADMINS[:2]:
        chain.ok(admin, "contracts", "approve", PackageArgs(hash_bytes))
    chain.rejected("too_much", ADMINS[2], "contracts", "approve", PackageArgs(hash_bytes))
    view = chain.query("contracts", "package", PackageArgs(hash_bytes))
    assert view.status == "proposed"
    chain.ok("alice", "tally", "add", AddArgs(1))  # version 1 still runs
    assert chain.query("tally", "total", NoArgs()) == 5_001


def test_a_migration_must_be_declared_as_one() -> None:
    from jinqiao.contracts import parse_manifest
    from jinqiao.core.errors import InvalidInput

    bad = MANIFEST.format(version="2").replace('version = "2"', 'version = "2"\nmigration = "add"')
    with pytest.raises(InvalidInput, match="migration 'add' must be a method without arguments"):
        parse_manifest(bad)


VAULT = """from jinqiao.contracts.api import Contract, method


class Vault(Contract):
    @method
    def pay(self, ctx, args):
        ctx.call("token", "transfer", asset="CNY", recipient=args.recipient,
                 amount_minor=args.amount_minor)
        return ctx.call("tally", "add", amount_minor=args.amount_minor)

    @method
    def mint(self, ctx, args):
        ctx.call("token", "mint", asset="CNY", recipient=args.recipient, amount_minor=1)

    @method
    def wrong_types(self, ctx, args):
        ctx.call("token", "transfer", asset=1, recipient=b"", amount_minor="x")

    @method
    def unknown(self, ctx, args):
        ctx.call("token", "steal")
"""
VAULT_MANIFEST = """name = "vault"
version = "1"
[methods.pay]
args = { recipient = "bytes", amount_minor = "int" }
[methods.mint]
args = { recipient = "bytes" }
[methods.wrong_types]
[methods.unknown]
"""


class PayArgs(CanonicalStruct, frozen=True):
    recipient: bytes
    amount_minor: int


class RecipientArgs(CanonicalStruct, frozen=True):
    recipient: bytes


def test_a_member_contract_calls_declared_methods_under_their_rules() -> None:
    """Through ``ctx.call``: another member contract's method, and the token's methods, each
    deciding by its own rules — the vault holds no token, so its transfer is refused; it is no
    currency issuer, so it cannot mint; wrong argument types and unknown methods are refused."""
    chain = lifecycle_chain(make_genesis(contracts={"token": token_config({"alice": 100_000})}))
    commit(chain, MANIFEST.format(version="1"), SOURCE)
    commit(chain, VAULT_MANIFEST, VAULT)
    bob = chain.address("bob")
    receipt = chain.ok("alice", "vault", "pay", PayArgs(bob, 0))
    assert decode(receipt.result, int, max_bytes=16) == 0  # tally's result, through the vault
    chain.rejected("insufficient_funds", "alice", "vault", "pay", PayArgs(bob, 300))
    chain.rejected("unauthorized", "alice", "vault", "mint", RecipientArgs(bob))
    chain.rejected("invalid_arguments", "alice", "vault", "wrong_types", NoArgs())
    chain.rejected("unknown_method", "alice", "vault", "unknown", NoArgs())
