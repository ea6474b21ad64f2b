"""Invariants of the token contract (DESIGN.md §4 rule 2) under random sequences of mint, burn,
transfer, approve, transfer_from, freeze, unfreeze, set_tier and days passing, across several
accounts, checked after every transaction against a plain model:

* total supply equals the sum of all balances in state, and no balance is negative;
* every balance is within its tier's maximum, and no one spends over the daily limit;
* a rejected transaction leaves state exactly as it was;
* an operation succeeds exactly when the model finds no rule it breaks, and a rejection names one
  of the rules it breaks; a success changes balances, allowances and supply as the model says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jinqiao.apps.token import (
    DAY_MS,
    TOKEN,
    ApproveArgs,
    BurnArgs,
    Holding,
    HoldingArgs,
    MintArgs,
    SetTierArgs,
    Tier,
    TransferArgs,
    TransferFromArgs,
    allowance_key,
    balance_key,
    supply_key,
    tier_key,
)
from jinqiao.core.codec import CanonicalStruct, decode
from jinqiao.core.limits import MAX_AMOUNT_MINOR, MAX_STATE_VALUE_BYTES
from jinqiao.core.types import ReceiptStatus
from tests.helpers.chain import (
    BLOCK_INTERVAL_MS,
    Chain,
    make_genesis,
    signer_for,
    token_config,
)

CNY = "CNY"
HOLDERS = ("alice", "bob", "bank-a-admin", "issuer")
STRANGER = "stranger"  # never registered
TIERS = {
    "basic": {"max_balance_minor": 2_500, "max_payment_minor": 400, "daily_limit_minor": 700},
    "institution": {
        "max_balance_minor": 100_000,
        "max_payment_minor": 50_000,
        "daily_limit_minor": 80_000,
    },
}
INITIAL = {"alice": 900, "bob": 800, "bank-a-admin": 500, "issuer": 20_000}
PROPERTY_SETTINGS = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

holder = st.sampled_from(HOLDERS)
recipient = st.sampled_from((*HOLDERS, STRANGER))
spender = st.sampled_from(("alice", "bob"))  # few spenders, so that allowances get used
amount = st.one_of(
    st.integers(0, 450),
    st.integers(0, 150),
    st.integers(0, 1_200),
    st.sampled_from([0, 400, 401, 700, 2_500, 2_501, 50_000, -1, MAX_AMOUNT_MINOR + 1]),
)
OPERATIONS = {
    "transfer": st.tuples(st.just("transfer"), holder, recipient, amount),
    "transfer_from": st.tuples(st.just("transfer_from"), spender, holder, recipient, amount),
    "approve": st.tuples(st.just("approve"), holder, spender | st.just(STRANGER), amount),
    "mint": st.tuples(st.just("mint"), recipient, amount),
    "burn": st.tuples(st.just("burn"), amount),
    "freeze": st.tuples(st.sampled_from(("freeze", "unfreeze")), holder),
    "set_tier": st.tuples(st.just("set_tier"), holder, st.sampled_from(sorted(TIERS))),
    "next_day": st.tuples(st.just("next_day")),
}
# An approval followed by spending from it, so that transfer_from often has an allowance.
delegation = st.tuples(holder, spender, amount, recipient, amount).map(
    lambda d: [("approve", d[0], d[1], d[2]), ("transfer_from", d[1], d[0], d[3], d[4])]
)
# Weights: payments make up most of a sequence; freezing and the like are rarer.
WEIGHTS = {"transfer": 8, "transfer_from": 1, "approve": 1, "mint": 2, "burn": 1, "freeze": 1,
           "set_tier": 1, "next_day": 1}  # fmt: skip
operations = st.lists(
    st.one_of(
        st.sampled_from([kind for kind in sorted(WEIGHTS) for _ in range(WEIGHTS[kind])])
        .flatmap(OPERATIONS.__getitem__)
        .map(lambda op: [op]),
        delegation,
    ),
    min_size=5,
    max_size=30,
).map(lambda groups: [op for group in groups for op in group])
payment = st.sampled_from([150, 250, 300, 400]) | st.integers(0, 400)
# Payments alone, small enough to pass the payment limit, to reach the daily limits often.
payments = st.lists(
    st.one_of(
        st.tuples(st.just("transfer"), holder, holder, payment).map(lambda op: [op]),
        st.just([("next_day",)]),
    ),
    min_size=5,
    max_size=30,
).map(lambda groups: [op for group in groups for op in group])


@dataclass
class Model:
    """What the state should be, in plain Python."""

    balances: dict[str, int]
    tiers: dict[str, str]
    frozen: set[str] = field(default_factory=set)
    spent: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (day, spent)
    allowances: dict[tuple[str, str], int] = field(default_factory=dict)

    def limit(self, name: str, what: str) -> int:
        return TIERS[self.tiers[name]][what]

    def spent_on(self, name: str, day: int) -> int:
        spent_day, spent = self.spent.get(name, (day, 0))
        return spent if spent_day == day else 0

    def payment_problems(self, payer: str, payee: str, amount: int, day: int) -> set[str]:
        """The rules a payment from ``payer`` to ``payee`` would break."""
        problems = set()
        if payee == STRANGER:
            problems.add("unknown_recipient")
        if payer in self.frozen or payee in self.frozen:
            problems.add("account_frozen")
        if amount > self.balances[payer]:
            problems.add("insufficient_funds")
        if amount > self.limit(payer, "max_payment_minor"):
            problems.add("tier_payment_limit")
        if self.spent_on(payer, day) + amount > self.limit(payer, "daily_limit_minor"):
            problems.add("tier_daily_limit")
        if (
            payee != STRANGER
            and payee != payer
            and self.balances[payee] + amount > self.limit(payee, "max_balance_minor")
        ):
            problems.add("tier_balance_limit")
        return problems

    def pay(self, payer: str, payee: str, amount: int, day: int) -> None:
        self.spent[payer] = (day, self.spent_on(payer, day) + amount)
        self.balances[payer] -= amount
        self.balances[payee] += amount


def plan(model: Model, op: tuple[Any, ...], day: int) -> tuple[str, str, CanonicalStruct, set[str]]:
    """(sender, method, arguments, rules broken) for ``op``; applies it to ``model`` if no rule
    is broken."""
    kind = op[0]
    address = {name: signer_for(name).address for name in (*HOLDERS, STRANGER)}
    amount = op[-1] if isinstance(op[-1], int) else 0
    problems = set() if 0 <= amount <= MAX_AMOUNT_MINOR else {"invalid_amount"}
    if kind == "mint":
        _, payee, _ = op
        args: CanonicalStruct = MintArgs(CNY, address[payee], amount)
        if payee == STRANGER:
            problems.add("unknown_recipient")
        elif not problems:
            if payee in model.frozen:
                problems.add("account_frozen")
            if model.balances[payee] + amount > model.limit(payee, "max_balance_minor"):
                problems.add("tier_balance_limit")
        if not problems:
            model.balances[payee] += amount
        return "issuer", "mint", args, problems
    if kind == "burn":
        if not problems:
            if "issuer" in model.frozen:
                problems.add("account_frozen")
            if amount > model.balances["issuer"]:
                problems.add("insufficient_funds")
        if not problems:
            model.balances["issuer"] -= amount
        return "issuer", "burn", BurnArgs(CNY, amount), problems
    if kind == "transfer":
        _, payer, payee, _ = op
        if not problems:
            problems = model.payment_problems(payer, payee, amount, day)
        if not problems:
            model.pay(payer, payee, amount, day)
        return payer, "transfer", TransferArgs(CNY, address[payee], amount), problems
    if kind == "approve":
        _, owner, spender, _ = op
        if spender == STRANGER:
            problems.add("unknown_spender")
        if not problems:
            model.allowances[(owner, spender)] = amount
        return owner, "approve", ApproveArgs(CNY, address[spender], amount), problems
    if kind == "transfer_from":
        _, spender, owner, payee, _ = op
        if not problems:
            if amount > model.allowances.get((owner, spender), 0):
                problems.add("insufficient_allowance")
            problems |= model.payment_problems(owner, payee, amount, day)
        if not problems:
            model.allowances[(owner, spender)] = model.allowances.get((owner, spender), 0) - amount
            model.pay(owner, payee, amount, day)
        args = TransferFromArgs(CNY, address[owner], address[payee], amount)
        return spender, "transfer_from", args, problems
    if kind in ("freeze", "unfreeze"):
        _, name = op
        freezing = kind == "freeze"
        if (name in model.frozen) == freezing:
            problems = {"already_frozen" if freezing else "not_frozen"}
        elif freezing:
            model.frozen.add(name)
        else:
            model.frozen.discard(name)
        return "inspector", kind, HoldingArgs(CNY, address[name]), problems
    _, name, tier = op
    if model.balances[name] > TIERS[tier]["max_balance_minor"]:
        problems = {"tier_balance_limit"}
    else:
        model.tiers[name] = tier
    return "inspector", "set_tier", SetTierArgs(CNY, address[name], tier), problems


def stored(chain: Chain, key: bytes) -> Any:
    raw = chain.state.get(b"token/" + key)
    return None if raw is None else decode(raw, int, max_bytes=MAX_STATE_VALUE_BYTES)


def check_invariants(chain: Chain, model: Model, day: int) -> None:
    prefix = b"token/" + balance_key(CNY, b"")
    total = 0
    for key, raw in chain.state.items():
        if not key.startswith(prefix):
            continue
        holding = decode(raw, Holding, max_bytes=MAX_STATE_VALUE_BYTES)
        tier = chain.read(TOKEN, tier_key(holding.tier), Tier)
        assert tier is not None
        assert 0 <= holding.balance_minor <= tier.max_balance_minor
        if holding.spent_day == day:
            assert holding.spent_minor <= tier.daily_limit_minor
        total += holding.balance_minor
    assert total == (stored(chain, supply_key(CNY)) or 0)
    assert total == sum(model.balances.values())
    for name in HOLDERS:
        holding = chain.read(TOKEN, balance_key(CNY, chain.address(name)), Holding)
        assert (holding.balance_minor if holding else 0) == model.balances[name]
        assert (holding.frozen if holding else False) == (name in model.frozen)
        assert (holding.tier if holding else "basic") == model.tiers[name]
    for (owner, spender), allowance in model.allowances.items():
        key = allowance_key(CNY, chain.address(owner), signer_for(spender).address)
        assert (stored(chain, key) or 0) == allowance


def new_chain() -> tuple[Chain, Model]:
    config = token_config(INITIAL, tiers=TIERS)
    chain = Chain(make_genesis(contracts={TOKEN: config}))
    balances = {name: INITIAL.get(name, 0) for name in HOLDERS}
    tiers = {name: "institution" if name == "issuer" else "basic" for name in HOLDERS}
    return chain, Model(balances, tiers)


@PROPERTY_SETTINGS
@given(operations)
def test_random_operations_keep_the_token_invariants(operations: list[tuple[Any, ...]]) -> None:
    run(operations)


@PROPERTY_SETTINGS
@given(payments)
def test_random_payments_keep_within_tier_limits(operations: list[tuple[Any, ...]]) -> None:
    run(operations)


def run(operations: list[tuple[Any, ...]]) -> None:
    """Apply ``operations`` to a new chain and to the model, checking after each."""
    chain, model = new_chain()
    for op in operations:
        if op[0] == "next_day":
            chain.advance_time(DAY_MS)
            continue
        day = (chain.time_ms + BLOCK_INTERVAL_MS) // DAY_MS  # the next block's day
        sender, method, args, problems = plan(model, op, day)
        before = dict(chain.state)
        receipt = chain.submit(sender, TOKEN, method, args)
        if problems:
            assert receipt.status == ReceiptStatus.REJECTED, (op, problems)
            assert receipt.code in problems, (op, receipt.code, problems)
            assert chain.state == before
        else:
            assert receipt.status == ReceiptStatus.OK, (op, receipt.code, receipt.message)
        check_invariants(chain, model, day)
