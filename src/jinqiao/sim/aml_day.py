"""A labelled synthetic day for the AML reports: ordinary traffic among the customers of three
banks, with planted large-value, structuring, rapid in-and-out, fan-in, fan-out and
listed-party cases, executed by the node's own chain, runtime, default contracts and store (one
validator signs each block's certificate), so reports are read through the node's ``Reader``
as on a running node.

``synthetic_day(seed)`` is deterministic: one seed, one day. ``run_day(day, directory)`` executes
it and returns the reader. Every planted case is a ``PlantedCase`` naming the rule and subject an
AML report must find; the tests (``tests/integration/test_aml_day.py``) check that each is found
and count the findings no label explains (false positives).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from jinqiao.apps import default_contracts
from jinqiao.apps.governance import DenyParty, ProposalArgs, ProposeArgs
from jinqiao.apps.token import TOKEN, HoldingArgs, MintArgs, TransferArgs
from jinqiao.core.codec import CanonicalStruct, encode
from jinqiao.core.crypto import Signer, get_suite
from jinqiao.core.genesis import (
    Genesis,
    GenesisAccount,
    GenesisOrganization,
    GenesisValidator,
    check_genesis,
)
from jinqiao.core.hashing import transaction_hash, transaction_signing_bytes
from jinqiao.core.types import SignedTransaction, TransactionBody
from jinqiao.execution.identity import GOVERNANCE
from jinqiao.execution.runtime import Runtime
from jinqiao.node.chain import Chain
from jinqiao.node.reads import Reader
from jinqiao.node.storage import Store
from jinqiao.node.validator import solo_certificate

CHAIN_ID = "jinqiao-aml-day"
DAY_START_MS = 1_767_196_800_000
"""2026-01-01T00:00:00+08:00, the start of a China-time calendar day (the reports' day, as in
Order No. 3); the plan's hours are China time."""
SLOT_MS = 120_000
"""Transactions due in the same two minutes go in one block."""
HOUR_MS = 3_600_000
BANKS = ("bank-a", "bank-b", "bank-c")
PERSONS_PER_BANK = 10
COMPANIES_PER_BANK = 2
PERSON_BALANCE_MINOR = 3_000_000 * 100
COMPANY_BALANCE_MINOR = 100_000_000 * 100
CNY = 100
"""Fen per yuan."""
LISTED_PERSONS = ("bank-b-person-8", "bank-c-person-9")
"""Frozen and deny-listed early in the day: ordinary traffic leaves them alone, so every attempt
on them is a planted one."""


@dataclass(frozen=True)
class PlantedCase:
    """A case the report must find: ``rule`` about the account ``subject`` (a name), with the
    planted transactions (their hashes) among its transactions."""

    rule: str
    subject: str
    transactions: frozenset[bytes]


@dataclass
class SyntheticDay:
    seed: int
    genesis: Genesis
    validator: Signer
    signers: dict[str, Signer]
    blocks: list[tuple[int, list[SignedTransaction]]]
    planted: list[PlantedCase]
    ordinary_count: int

    def organization_of(self, name: str) -> str:
        return _organization_of(name)

    def name_of(self, address: bytes) -> str:
        for name, signer in self.signers.items():
            if signer.address == address:
                return name
        return address.hex()


def person(bank: str, number: int) -> str:
    return f"{bank}-person-{number}"


def company(bank: str, number: int) -> str:
    return f"{bank}-company-{number}"


@dataclass
class _Plan:
    """Transactions due at block times, before they are signed into blocks."""

    signers: dict[str, Signer]
    due: list[tuple[int, int, str, str, str, CanonicalStruct]] = field(default_factory=list)
    """(time_ms, order, sender, contract, method, args)."""

    def add(
        self, time_ms: int, sender: str, contract: str, method: str, args: CanonicalStruct
    ) -> int:
        self.due.append((time_ms, len(self.due), sender, contract, method, args))
        return len(self.due) - 1

    def pay(self, time_ms: int, payer: str, payee: str, amount_minor: int) -> int:
        return self.add(
            time_ms,
            payer,
            TOKEN,
            "transfer",
            TransferArgs("CNY", self.signers[payee].address, amount_minor),
        )

    def mint(self, time_ms: int, recipient: str, amount_minor: int) -> int:
        args = MintArgs("CNY", self.signers[recipient].address, amount_minor)
        return self.add(time_ms, "issuer", TOKEN, "mint", args)


def synthetic_day(seed: int) -> SyntheticDay:
    """The day of ``seed``: genesis, blocks of signed transactions and the planted cases."""
    suite = get_suite("ed25519-sha256")
    names = _account_names()
    signers = {
        name: suite.signer(hashlib.sha256(f"aml-day/{seed}/{name}".encode()).digest())
        for name in (*names, "validator")
    }
    plan = _Plan(signers)
    rng = random.Random(seed)
    ordinary = _ordinary_traffic(plan, rng)
    planted_indexes = _planted_cases(plan, rng)
    blocks, hashes = _blocks(plan, signers, suite.name)
    planted = [
        PlantedCase(rule, subject, frozenset(hashes[index] for index in indexes))
        for rule, subject, indexes in planted_indexes
    ]
    return SyntheticDay(
        seed=seed,
        genesis=_genesis(names, signers),
        validator=signers["validator"],
        signers={name: signers[name] for name in names},
        blocks=blocks,
        planted=planted,
        ordinary_count=ordinary,
    )


def _account_names() -> list[str]:
    names = ["issuer", "inspector"]
    names += [f"{organization}-admin" for organization in ("central-bank", *BANKS, "regulator")]
    for bank in BANKS:
        names += [person(bank, n) for n in range(PERSONS_PER_BANK)]
        names += [company(bank, n) for n in range(COMPANIES_PER_BANK)]
    return names


def _organization_of(name: str) -> str:
    if name == "issuer" or name.startswith("central-bank"):
        return "central-bank"
    if name == "inspector" or name.startswith("regulator"):
        return "regulator"
    return name[: len("bank-a")]


def _roles_of(name: str) -> tuple[str, ...]:
    if name.endswith("-admin"):
        return ("admin",)
    if name == "issuer":
        return ("currency_issuer",)
    if name == "inspector":
        return ("regulator",)
    return ("corporate",) if "-company-" in name else ()


def _genesis(names: list[str], signers: dict[str, Signer]) -> Genesis:
    organizations = (
        GenesisOrganization("central-bank", "Central Bank", ("currency_issuer",)),
        *(GenesisOrganization(bank, bank.title(), ("corporate",)) for bank in BANKS),
        GenesisOrganization("regulator", "Regulator", ("regulator",)),
    )
    holdings = []
    for name in names:
        if "-person-" in name or "-company-" in name or name == "issuer":
            balance = COMPANY_BALANCE_MINOR if "-person-" not in name else PERSON_BALANCE_MINOR
            holdings.append(
                {"asset": "CNY", "address": signers[name].address.hex(), "balance_minor": balance}
            )
    unlimited = 10**15
    genesis = Genesis(
        chain_id=CHAIN_ID,
        genesis_time_ms=DAY_START_MS,
        organizations=organizations,
        accounts=tuple(
            GenesisAccount(
                name, _organization_of(name), signers[name].public_key.hex(), _roles_of(name)
            )
            for name in names
        ),
        validators=(
            GenesisValidator("validator", "bank-a", signers["validator"].public_key.hex(), 1),
        ),
        contracts={
            TOKEN: {
                "tiers": {
                    "open": {
                        "max_balance_minor": unlimited,
                        "max_payment_minor": unlimited,
                        "daily_limit_minor": unlimited,
                    }
                },
                "assets": [
                    {
                        "symbol": "CNY",
                        "name": "Digital yuan",
                        "scale": 2,
                        "issuer": "central-bank",
                        "default_tier": "open",
                    }
                ],
                "holdings": holdings,
            }
        },
    )
    check_genesis(genesis)
    return genesis


def _ordinary_traffic(plan: _Plan, rng: random.Random) -> int:
    """Person-to-person payments, salaries, purchases from companies, business-to-business
    payments and small cash withdrawals, at random times of the day."""
    persons = [
        person(bank, n)
        for bank in BANKS
        for n in range(PERSONS_PER_BANK)
        if person(bank, n) not in LISTED_PERSONS
    ]
    companies = [company(bank, n) for bank in BANKS for n in range(COMPANIES_PER_BANK)]
    count = 0

    def at() -> int:
        return DAY_START_MS + HOUR_MS + rng.randrange(22 * HOUR_MS)

    for _ in range(100):
        payer, payee = rng.sample(persons, 2)
        plan.pay(at(), payer, payee, rng.randint(10 * CNY, 5_000 * CNY))
        count += 1
    for index, payee in enumerate(persons):
        employer = companies[index % len(companies)]
        plan.pay(at(), employer, payee, rng.randint(8_000 * CNY, 20_000 * CNY))
        count += 1
    for _ in range(60):
        plan.pay(at(), rng.choice(persons), rng.choice(companies), rng.randint(50, 3_000) * CNY)
        count += 1
    for _ in range(20):
        payer, payee = rng.sample(companies, 2)
        plan.pay(at(), payer, payee, rng.randint(50_000 * CNY, 300_000 * CNY))
        count += 1
    for _ in range(20):
        plan.mint(at(), rng.choice(persons), rng.randint(500 * CNY, 10_000 * CNY))
        count += 1
    return count


Planted = list[tuple[str, str, list[int]]]


def _planted_cases(plan: _Plan, rng: random.Random) -> Planted:
    planted: Planted = []
    _plant_large_value(plan, planted)
    _plant_structuring(plan, rng, planted)
    _plant_flows(plan, rng, planted)
    _plant_listed(plan, planted)
    return planted


def _hour(hours: float) -> int:
    return DAY_START_MS + int(hours * HOUR_MS)


def _plant_large_value(plan: _Plan, planted: Planted) -> None:
    a0, b0 = person("bank-a", 0), person("bank-b", 0)
    single = plan.pay(_hour(9.5), a0, b0, 600_000 * CNY)
    planted += [("large_transfer", a0, [single]), ("large_transfer", b0, [single])]
    ca, cc = company("bank-a", 0), company("bank-c", 0)
    corporate = plan.pay(_hour(10.25), ca, cc, 2_500_000 * CNY)
    planted += [("large_transfer", ca, [corporate]), ("large_transfer", cc, [corporate])]
    b1 = person("bank-b", 1)
    cumulative = [
        plan.pay(_hour(9), b1, person("bank-a", 1), 200_000 * CNY),
        plan.pay(_hour(12), b1, person("bank-c", 1), 200_000 * CNY),
        plan.pay(_hour(15), b1, person("bank-b", 2), 200_000 * CNY),
    ]
    planted.append(("large_transfer", b1, cumulative))
    c3 = person("bank-c", 3)
    planted.append(("large_cash", c3, [plan.mint(_hour(11), c3, 60_000 * CNY)]))


def _plant_structuring(plan: _Plan, rng: random.Random, planted: Planted) -> None:
    a4 = person("bank-a", 4)
    payees = (person("bank-b", 4), person("bank-c", 4), person("bank-a", 5), person("bank-b", 5))
    split = [
        plan.pay(_hour(8 + 3 * n), a4, payee, rng.randint(481_000, 499_000) * CNY)
        for n, payee in enumerate(payees)
    ]
    planted += [("structuring", a4, split), ("large_transfer", a4, split)]
    b6 = person("bank-b", 6)
    cash = [plan.mint(_hour(10 + 3 * n), b6, rng.randint(46_000, 49_500) * CNY) for n in range(3)]
    planted += [("structuring", b6, cash), ("large_cash", b6, cash)]


def _plant_flows(plan: _Plan, rng: random.Random, planted: Planted) -> None:
    c7 = person("bank-c", 7)
    inflow = plan.pay(_hour(10), company("bank-c", 1), c7, 300_000 * CNY)
    out = [
        plan.pay(_hour(10.5), c7, person("bank-a", 7), 100_000 * CNY),
        plan.pay(_hour(11), c7, person("bank-b", 7), 95_000 * CNY),
        plan.pay(_hour(11.5), c7, person("bank-a", 8), 80_000 * CNY),
    ]
    planted.append(("rapid_in_out", c7, [inflow, *out]))
    a9, b9 = person("bank-a", 9), person("bank-b", 9)
    others = [
        person(bank, n)
        for bank in BANKS
        for n in range(PERSONS_PER_BANK)
        if person(bank, n) not in (a9, b9, *LISTED_PERSONS)
    ]
    fan_in = [
        plan.pay(_hour(14 + n / 6), payer, a9, rng.randint(1_000, 3_000) * CNY)
        for n, payer in enumerate(rng.sample(others, 12))
    ]
    planted.append(("fan_in", a9, fan_in))
    fan_out = [
        plan.pay(_hour(18 + n / 6), b9, payee, rng.randint(1_000, 3_000) * CNY)
        for n, payee in enumerate(rng.sample(others, 12))
    ]
    planted.append(("fan_out", b9, fan_out))


def _plant_listed(plan: _Plan, planted: Planted) -> None:
    c9 = person("bank-c", 9)
    denied = DenyParty("account", plan.signers[c9].address.hex(), "sanctions list 2026-01")
    plan.add(_hour(0.1), "bank-a-admin", GOVERNANCE, "propose", ProposeArgs(denied))
    for n, admin in enumerate(("bank-b-admin", "bank-c-admin", "regulator-admin")):
        plan.add(_hour(0.2 + n / 10), admin, GOVERNANCE, "approve", ProposalArgs(1))
    a2, a3 = person("bank-a", 2), person("bank-a", 3)
    attempt_out = plan.pay(_hour(9), c9, a2, 10_000 * CNY)
    attempt_in = plan.pay(_hour(12), a3, c9, 5_000 * CNY)
    planted += [
        ("listed_party_activity", c9, [attempt_out, attempt_in]),
        ("listed_party_activity", a2, [attempt_out]),
        ("listed_party_activity", a3, [attempt_in]),
    ]
    b8, c8 = person("bank-b", 8), person("bank-c", 8)
    holding = HoldingArgs("CNY", plan.signers[b8].address)
    plan.add(_hour(1), "inspector", TOKEN, "freeze", holding)
    frozen = plan.pay(_hour(13), b8, c8, 20_000 * CNY)
    planted += [
        ("listed_party_activity", b8, [frozen]),
        ("listed_party_activity", c8, [frozen]),
    ]


def _blocks(
    plan: _Plan, signers: dict[str, Signer], suite_name: str
) -> tuple[list[tuple[int, list[SignedTransaction]]], dict[int, bytes]]:
    """Sign the due transactions into blocks, one per two-minute slot that has any."""
    suite = get_suite(suite_name)
    blocks: list[tuple[int, list[SignedTransaction]]] = []
    hashes: dict[int, bytes] = {}
    slot_of_block = -1
    for nonce, (time_ms, order, sender, contract, method, args) in enumerate(sorted(plan.due)):
        slot = (time_ms - DAY_START_MS) // SLOT_MS
        if slot != slot_of_block:
            blocks.append((DAY_START_MS + (slot + 1) * SLOT_MS - 1, []))
            slot_of_block = slot
        signer = signers[sender]
        body = TransactionBody(
            chain_id=CHAIN_ID,
            sender=signer.address,
            public_key=signer.public_key,
            nonce=nonce,
            valid_until=len(blocks) + 10,
            contract=contract,
            method=method,
            args=encode(args),
        )
        blocks[-1][1].append(SignedTransaction(body, signer.sign(transaction_signing_bytes(body))))
        hashes[order] = transaction_hash(suite, body)
    return blocks, hashes


def run_day(day: SyntheticDay, directory: Path) -> Iterator[Reader]:
    """Execute and commit every block of ``day`` in a store under ``directory``; yield the
    node's reader over it (the store closes when the generator is closed)."""
    store = Store(directory)
    try:
        runtime = Runtime(day.genesis.suite, day.genesis.chain_id, default_contracts())
        chain = Chain(store, day.genesis, runtime)
        for time_ms, transactions in day.blocks:
            candidate = chain.execute(transactions, time_ms, day.validator.address)
            certificate = solo_certificate(
                day.validator, candidate.block.header, candidate.block_hash
            )
            chain.commit(candidate, certificate)
        yield Reader(store, day.genesis.suite)
    finally:
        store.close()
