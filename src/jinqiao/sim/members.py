"""A member contract's whole life in a simulation run (scenario ``member_contracts``): proposed,
approved by the organizations to the governance quorum, called (CNY moved into and out of its
own balance), upgraded with a migration, and paused by a governance proposal — every step a
transaction the simulated client sends, ordered, validated and executed by the nodes' own stack
(the lifecycle contract, the resolver, the sandbox), so the run's checks cover it: agreement on
every state root, no transaction lost or committed twice, and conservation of CNY with the
contract's holding counted.

The script is data: ``member_script`` gives each transaction its time, sender (a payer, the admin
of organization ``org-<index>``) and nonce. Under faults a step may be rejected (an approval that
arrives before its proposal committed, say); that is a recorded outcome like any other, and
``MemberProgress`` counts what the committed receipts say happened.
"""

from __future__ import annotations

from dataclasses import dataclass

from jinqiao.apps.governance import CallContract, ProposalArgs
from jinqiao.apps.governance import ProposeArgs as GovernanceProposeArgs
from jinqiao.apps.token import TOKEN, ApproveArgs
from jinqiao.contracts.lifecycle import (
    LIFECYCLE,
    PackageArgs,
    ProposeArgs,
    SetPausedArgs,
    package_hash,
)
from jinqiao.core.codec import CanonicalStruct, encode
from jinqiao.core.crypto import CryptoSuite
from jinqiao.execution.api import GOVERNANCE, contract_address

CONTRACT = "vault"
MEMBER_NONCES = 2_000_000
"""Member-contract transactions take nonces from here on (payments take 1,000,000 on)."""
STEP_MS = 350
"""Between two steps of the script: blocks commit every few tens of milliseconds when the
network is well, so each step usually finds the one before it committed."""
DEPOSIT_MINOR = 25_000
WITHDRAW_MINOR = 10_000

SOURCE = """from jinqiao.contracts.api import Contract, method, query


class Vault(Contract):
    @method
    def deposit(self, ctx, args):
        ctx.call("token", "transfer_from", asset="CNY", owner=ctx.sender,
                 recipient=ctx.address, amount_minor=args.amount_minor)
        key = b"held/" + ctx.sender
        ctx.state.save(key, (ctx.state.load(key) or 0) + args.amount_minor)
        ctx.emit("Deposited", amount_minor=args.amount_minor)

    @method
    def withdraw(self, ctx, args):
        key = b"held/" + ctx.sender
        held = ctx.state.load(key) or 0
        if args.amount_minor > held:
            ctx.reject("insufficient_deposit", f"{held} deposited")
        ctx.state.save(key, held - args.amount_minor)
        ctx.call("token", "transfer", asset="CNY", recipient=ctx.sender,
                 amount_minor=args.amount_minor)
        ctx.emit("Withdrawn", amount_minor=args.amount_minor)

    @query
    def held(self, ctx, args):
        return ctx.state.load(b"held/" + args.holder) or 0
"""
MANIFEST = """name = "vault"
version = "{version}"
[methods.deposit]
args = {{ amount_minor = "int" }}
[methods.withdraw]
args = {{ amount_minor = "int" }}
[methods.held]
kind = "query"
args = {{ holder = "bytes" }}
"""
VERSION_2_SOURCE = (
    SOURCE.rstrip()
    + """

    @method(roles=("contract",))
    def migrate(self, ctx, args):
        ctx.state.save(b"schema", 2)
        ctx.emit("Migrated", schema=2)
"""
)
VERSION_2_MANIFEST = (
    MANIFEST.format(version="2").replace('version = "2"', 'version = "2"\nmigration = "migrate"')
    + '[methods.migrate]\nroles = ["contract"]\n'
)


class AmountArgs(CanonicalStruct, frozen=True):
    amount_minor: int


@dataclass(frozen=True)
class MemberStep:
    """One transaction of the script: at ``at_ms``, payer ``payer`` sends it."""

    at_ms: int
    payer: int
    contract: str
    method: str
    args: CanonicalStruct
    nonce: int


def member_script(suite: CryptoSuite, organizations: int, start_ms: int) -> tuple[MemberStep, ...]:
    """The life of ``vault`` on a network of ``organizations`` organizations (each payer the
    admin of its own): every organization but the last approves each version (the default
    quorum of two thirds needs ``ceil(2n/3)``), so the quorum is reached and one approval is
    never needed."""
    version_1 = package_hash(MANIFEST.format(version="1"), SOURCE)
    version_2 = package_hash(VERSION_2_MANIFEST, VERSION_2_SOURCE)
    vault = contract_address(suite.hash, CONTRACT)
    voters = range(-(-2 * organizations // 3))
    pause = CallContract(LIFECYCLE, "set_paused", encode(SetPausedArgs(CONTRACT, True)))
    steps: list[tuple[int, str, str, CanonicalStruct]] = [
        (1, LIFECYCLE, "propose", ProposeArgs(MANIFEST.format(version="1"), SOURCE)),
        *((voter, LIFECYCLE, "approve", PackageArgs(version_1)) for voter in voters),
        (2, TOKEN, "approve", ApproveArgs("CNY", vault, DEPOSIT_MINOR)),
        (2, CONTRACT, "deposit", AmountArgs(DEPOSIT_MINOR)),
        (1, LIFECYCLE, "propose", ProposeArgs(VERSION_2_MANIFEST, VERSION_2_SOURCE)),
        *((voter, LIFECYCLE, "approve", PackageArgs(version_2)) for voter in voters),
        (2, CONTRACT, "withdraw", AmountArgs(WITHDRAW_MINOR)),
        (0, GOVERNANCE, "propose", GovernanceProposeArgs(pause)),
        *((voter, GOVERNANCE, "approve", ProposalArgs(1)) for voter in range(1, len(voters))),
        (2, CONTRACT, "withdraw", AmountArgs(WITHDRAW_MINOR)),  # rejected: paused
    ]
    return tuple(
        MemberStep(start_ms + index * STEP_MS, payer, contract, method, args, MEMBER_NONCES + index)
        for index, (payer, contract, method, args) in enumerate(steps)
    )


@dataclass
class MemberProgress:
    """What the committed receipts of one node say of the script."""

    packages_committed: int = 0
    migrations: int = 0
    calls_ok: int = 0
    paused_rejections: int = 0

    def count(self, contract: str, method: str, code: str, event_names: list[str]) -> None:
        self.packages_committed += event_names.count("PackageCommitted")
        self.migrations += event_names.count("Migrated")
        if contract == CONTRACT and code == "ok":
            self.calls_ok += 1
        if contract == CONTRACT and code == "contract_paused":
            self.paused_rejections += 1


__all__ = [
    "CONTRACT",
    "MANIFEST",
    "SOURCE",
    "VERSION_2_MANIFEST",
    "VERSION_2_SOURCE",
    "MemberProgress",
    "MemberStep",
    "member_script",
]
