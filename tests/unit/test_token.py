"""The token contract: genesis configuration, issuing, payments, ERC-20 allowances, wallet tiers,
freezing, queries, the state layout the API proves balances from, and the cost of a transfer."""

from __future__ import annotations

from typing import Any

import pytest

from jinqiao.apps.registry import AccountArgs
from jinqiao.apps.token import (
    DAY_MS,
    MINT_BURN_ADDRESS,
    TOKEN,
    Allowance,
    AllowanceArgs,
    ApproveArgs,
    Asset,
    AssetArgs,
    Balance,
    BurnArgs,
    Holding,
    HoldingArgs,
    MintArgs,
    SetTierArgs,
    Supply,
    TransferArgs,
    TransferFromArgs,
    balance_key,
    supply_key,
)
from jinqiao.core.codec import decode
from jinqiao.core.errors import InvalidInput, Rejection
from jinqiao.core.genesis import GenesisOrganization
from jinqiao.core.limits import MAX_AMOUNT_MINOR, MAX_STATE_VALUE_BYTES
from jinqiao.core.types import Receipt
from jinqiao.execution.identity import REGISTRY
from tests.helpers.chain import (
    BASIC_TIER,
    DEFAULT_ACCOUNTS,
    DEFAULT_ORGANIZATIONS,
    INSTITUTION_TIER,
    AccountSpec,
    Chain,
    address_of,
    events,
    make_genesis,
    signer_for,
    token_config,
)

CNY = "CNY"
STRANGER = signer_for("stranger").address  # not a registered account


def make_chain(
    balances: dict[str, int] | None = None,
    *,
    accounts: tuple[AccountSpec, ...] = DEFAULT_ACCOUNTS,
    organizations: tuple[GenesisOrganization, ...] = DEFAULT_ORGANIZATIONS,
    **config: Any,
) -> Chain:
    """A chain whose token genesis mints ``balances`` (account name → fen)."""
    return Chain(
        make_genesis(
            organizations=organizations,
            accounts=accounts,
            contracts={TOKEN: token_config(balances, **config)},
        )
    )


def balance(chain: Chain, name: str) -> Balance:
    result: Balance = chain.query(TOKEN, "balance", HoldingArgs(CNY, chain.address(name)))
    return result


def supply(chain: Chain) -> int:
    result: Supply = chain.query(TOKEN, "supply", AssetArgs(CNY))
    return result.supply_minor


def pay(chain: Chain, sender: str, recipient: str, amount_minor: int) -> Receipt:
    return chain.ok(
        sender, TOKEN, "transfer", TransferArgs(CNY, chain.address(recipient), amount_minor)
    )


def refused(chain: Chain, code: str, sender: str, recipient: bytes, amount_minor: int) -> None:
    chain.rejected(code, sender, TOKEN, "transfer", TransferArgs(CNY, recipient, amount_minor))


# -- genesis ---------------------------------------------------------------------------------


def test_genesis_writes_assets_tiers_holdings_and_supply() -> None:
    chain = make_chain({"alice": 1_000, "issuer": 50_000})
    assert chain.query(TOKEN, "asset", AssetArgs(CNY)) == Asset(
        CNY, "Digital yuan", 2, "central-bank", "basic"
    )
    assert balance(chain, "alice") == Balance(CNY, chain.address("alice"), 1_000, False, "basic")
    assert balance(chain, "issuer").tier == "institution"
    assert supply(chain) == 51_000
    # an account without a holding reads as an empty holding in the default tier
    assert balance(chain, "bob") == Balance(CNY, chain.address("bob"), 0, False, "basic")


def mutate(config: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    target = config
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return config


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("surprise",), 1, "unknown field"),
        (("assets", 0, "symbol"), "cny", "symbol"),
        (("assets", 0, "scale"), 19, "scale"),
        (("assets", 0, "scale"), "2", "Expected `int`"),
        (("assets", 0, "issuer"), "nobody", "issuer"),
        (("assets", 0, "default_tier"), "gold", "default tier"),
        (("tiers", "basic", "max_payment_minor"), -1, "max_payment_minor"),
        (("holdings", 0, "asset"), "USD", "unknown asset"),
        (("holdings", 0, "address"), STRANGER.hex(), "not a genesis account"),
        (("holdings", 0, "tier"), "gold", "unknown tier"),
        (("holdings", 0, "balance_minor"), BASIC_TIER["max_balance_minor"] + 1, "balance"),
    ],
)
def test_genesis_configuration_is_checked(path: tuple[Any, ...], value: Any, message: str) -> None:
    config = mutate(token_config({"alice": 1}, holder_tiers={}), path, value)
    with pytest.raises(InvalidInput, match=message):
        Chain(make_genesis(contracts={TOKEN: config}))


def test_genesis_refuses_a_holding_listed_twice() -> None:
    config = token_config({"alice": 1}, holder_tiers={})
    config["holdings"].append(dict(config["holdings"][0]))
    with pytest.raises(InvalidInput, match="twice"):
        Chain(make_genesis(contracts={TOKEN: config}))


# -- transfers --------------------------------------------------------------------------------


def test_transfer_moves_value_and_emits_transfer() -> None:
    chain = make_chain({"alice": 1_000})
    receipt = pay(chain, "alice", "bob", 250)
    assert balance(chain, "alice").balance_minor == 750
    assert balance(chain, "bob").balance_minor == 250
    assert supply(chain) == 1_000
    (event,) = events(receipt, "Transfer")
    assert dict(event.attributes) == {
        "asset": CNY,
        "sender": chain.address("alice").hex(),
        "recipient": chain.address("bob").hex(),
        "amount_minor": 250,
    }


def test_a_transfer_costs_nine_steps() -> None:
    """6 reads (asset, payer holding, recipient account, recipient holding, the deny list's
    size, tier), 2 writes and 1 event; one more read when the recipient's tier differs from the
    payer's."""
    chain = make_chain({"alice": 1_000, "issuer": 1_000})
    assert pay(chain, "alice", "bob", 1).steps_used == 9
    assert pay(chain, "issuer", "bob", 1).steps_used == 10


def test_zero_value_transfers_are_moves_too() -> None:
    chain = make_chain()
    receipt = pay(chain, "alice", "bob", 0)
    assert events(receipt, "Transfer")[0].attribute("amount_minor") == 0


def test_paying_oneself_keeps_the_balance_and_counts_toward_the_daily_limit() -> None:
    chain = make_chain({"alice": 200_000})
    for _ in range(2):
        pay(chain, "alice", "alice", 200_000)
    assert balance(chain, "alice").balance_minor == 200_000
    holding = chain.read(TOKEN, balance_key(CNY, chain.address("alice")), Holding)
    assert holding is not None and holding.spent_minor == 400_000
    refused(chain, "tier_daily_limit", "alice", chain.address("alice"), 200_000)


def test_transfer_rejections() -> None:
    chain = make_chain({"alice": 1_000})
    bob = chain.address("bob")
    refused(chain, "insufficient_funds", "alice", bob, 1_001)
    refused(chain, "unknown_recipient", "alice", STRANGER, 1)
    refused(chain, "invalid_address", "alice", b"\x01" * 19, 1)
    refused(chain, "invalid_address", "alice", b"\x01" * 1_000, 1)
    refused(chain, "invalid_amount", "alice", bob, -1)
    refused(chain, "invalid_amount", "alice", bob, MAX_AMOUNT_MINOR + 1)
    for symbol in ("USD", "cny", "C" * 1_000):
        chain.rejected("unknown_asset", "alice", TOKEN, "transfer", TransferArgs(symbol, bob, 1))


# -- tiers ------------------------------------------------------------------------------------


def test_tier_payment_limit() -> None:
    chain = make_chain({"alice": 300_000})
    limit = BASIC_TIER["max_payment_minor"]
    refused(chain, "tier_payment_limit", "alice", chain.address("bob"), limit + 1)
    pay(chain, "alice", "bob", limit)


def test_tier_daily_limit_resets_the_next_day() -> None:
    chain = make_chain({"alice": 1_000_000})
    daily = BASIC_TIER["daily_limit_minor"]
    pay(chain, "alice", "bob", 200_000)
    pay(chain, "alice", "bob", 200_000)
    refused(chain, "tier_daily_limit", "alice", chain.address("bob"), daily - 400_000 + 1)
    pay(chain, "alice", "bob", daily - 400_000)
    refused(chain, "tier_daily_limit", "alice", chain.address("bob"), 1)
    chain.advance_time(DAY_MS)
    pay(chain, "alice", "bob", 200_000)
    # the day is the block time's UTC day, not a rolling 24 hours
    assert chain.time_ms // DAY_MS != (chain.time_ms - DAY_MS) // DAY_MS


def test_tier_balance_limit_binds_the_recipient() -> None:
    chain = make_chain({"issuer": 10**9, "bob": BASIC_TIER["max_balance_minor"] - 10})
    refused(chain, "tier_balance_limit", "issuer", chain.address("bob"), 11)
    pay(chain, "issuer", "bob", 10)


def test_set_tier_by_a_regulator() -> None:
    chain = make_chain({"alice": 900_000})
    alice = chain.address("alice")
    receipt = chain.ok("inspector", TOKEN, "set_tier", SetTierArgs(CNY, alice, "institution"))
    assert events(receipt, "TierChanged")[0].attribute("tier") == "institution"
    pay(chain, "alice", "bob", 600_000)  # over basic's payment limit, within institution's
    chain.rejected(
        "unauthorized", "bank-a-admin", TOKEN, "set_tier", SetTierArgs(CNY, alice, "basic")
    )
    chain.rejected("unknown_tier", "inspector", TOKEN, "set_tier", SetTierArgs(CNY, alice, "gold"))
    chain.rejected(
        "unknown_tier", "inspector", TOKEN, "set_tier", SetTierArgs(CNY, alice, "G" * 999)
    )
    chain.rejected(
        "unknown_account", "inspector", TOKEN, "set_tier", SetTierArgs(CNY, STRANGER, "basic")
    )


def test_a_tier_the_balance_would_break_is_refused() -> None:
    tiers = {
        "basic": BASIC_TIER,
        "institution": INSTITUTION_TIER,
        "small": {**BASIC_TIER, "max_balance_minor": 10},
    }
    chain = make_chain({"alice": 11}, tiers=tiers)
    alice = chain.address("alice")
    chain.rejected(
        "tier_balance_limit", "inspector", TOKEN, "set_tier", SetTierArgs(CNY, alice, "small")
    )
    pay(chain, "alice", "bob", 1)
    chain.ok("inspector", TOKEN, "set_tier", SetTierArgs(CNY, alice, "small"))


# -- freezing ---------------------------------------------------------------------------------


def test_a_frozen_account_neither_sends_nor_receives() -> None:
    chain = make_chain({"alice": 1_000, "bob": 1_000, "issuer": 1_000})
    alice = chain.address("alice")
    receipt = chain.ok("inspector", TOKEN, "freeze", HoldingArgs(CNY, alice))
    assert events(receipt, "Frozen")
    assert balance(chain, "alice").frozen
    refused(chain, "account_frozen", "alice", chain.address("bob"), 1)
    refused(chain, "account_frozen", "bob", alice, 1)
    chain.rejected("account_frozen", "issuer", TOKEN, "mint", MintArgs(CNY, alice, 1))
    chain.ok("alice", TOKEN, "approve", ApproveArgs(CNY, chain.address("bob"), 5))
    chain.rejected(
        "account_frozen",
        "bob",
        TOKEN,
        "transfer_from",
        TransferFromArgs(CNY, alice, chain.address("bob"), 1),
    )
    chain.rejected("already_frozen", "inspector", TOKEN, "freeze", HoldingArgs(CNY, alice))
    receipt = chain.ok("inspector", TOKEN, "unfreeze", HoldingArgs(CNY, alice))
    assert events(receipt, "Unfrozen")
    pay(chain, "alice", "bob", 1)
    chain.rejected("not_frozen", "inspector", TOKEN, "unfreeze", HoldingArgs(CNY, alice))


def test_only_regulators_freeze_registered_accounts() -> None:
    chain = make_chain()
    chain.rejected(
        "unauthorized", "bank-a-admin", TOKEN, "freeze", HoldingArgs(CNY, chain.address("bob"))
    )
    chain.rejected("unknown_account", "inspector", TOKEN, "freeze", HoldingArgs(CNY, STRANGER))
    chain.rejected("unknown_asset", "inspector", TOKEN, "freeze", HoldingArgs("XYZ", STRANGER))


# -- issuing ----------------------------------------------------------------------------------


def test_mint_and_burn_change_supply_and_emit_transfers_from_and_to_zero() -> None:
    chain = make_chain()
    receipt = chain.ok("issuer", TOKEN, "mint", MintArgs(CNY, chain.address("alice"), 500))
    (event,) = events(receipt, "Transfer")
    assert event.attribute("sender") == MINT_BURN_ADDRESS.hex()
    assert balance(chain, "alice").balance_minor == 500
    assert supply(chain) == 500
    chain.ok("issuer", TOKEN, "mint", MintArgs(CNY, chain.address("issuer"), 300))
    receipt = chain.ok("issuer", TOKEN, "burn", BurnArgs(CNY, 200))
    assert events(receipt, "Transfer")[0].attribute("recipient") == MINT_BURN_ADDRESS.hex()
    assert balance(chain, "issuer").balance_minor == 100
    assert supply(chain) == 600
    chain.rejected("insufficient_funds", "issuer", TOKEN, "burn", BurnArgs(CNY, 101))
    chain.ok("issuer", TOKEN, "burn", BurnArgs(CNY, 100))
    assert chain.state.get(b"token/" + supply_key(CNY)) is not None  # 500 left with alice


def test_only_the_issuer_organization_mints() -> None:
    accounts = (*DEFAULT_ACCOUNTS, AccountSpec("rogue", "bank-a", ("currency_issuer",)))
    organizations = tuple(
        GenesisOrganization(org.id, org.name, (*org.roles, "currency_issuer"))
        if org.id == "bank-a"
        else org
        for org in DEFAULT_ORGANIZATIONS
    )
    chain = make_chain(accounts=accounts, organizations=organizations)
    alice = chain.address("alice")
    chain.rejected("unauthorized", "alice", TOKEN, "mint", MintArgs(CNY, alice, 1))
    chain.rejected("not_issuer", "rogue", TOKEN, "mint", MintArgs(CNY, alice, 1))
    chain.rejected("not_issuer", "rogue", TOKEN, "burn", BurnArgs(CNY, 0))
    chain.rejected("unknown_recipient", "issuer", TOKEN, "mint", MintArgs(CNY, STRANGER, 1))
    chain.rejected(
        "tier_balance_limit",
        "issuer",
        TOKEN,
        "mint",
        MintArgs(CNY, alice, BASIC_TIER["max_balance_minor"] + 1),
    )


def test_supply_is_bounded() -> None:
    tiers = {
        "basic": BASIC_TIER,
        "institution": {**INSTITUTION_TIER, "max_balance_minor": MAX_AMOUNT_MINOR},
    }
    chain = make_chain({"issuer": MAX_AMOUNT_MINOR - 5}, tiers=tiers)
    issuer = chain.address("issuer")
    chain.rejected("amount_overflow", "issuer", TOKEN, "mint", MintArgs(CNY, issuer, 6))
    chain.ok("issuer", TOKEN, "mint", MintArgs(CNY, issuer, 5))
    assert supply(chain) == MAX_AMOUNT_MINOR


# -- allowances -------------------------------------------------------------------------------


def test_approve_and_transfer_from() -> None:
    chain = make_chain({"alice": 1_000})
    alice, bob = chain.address("alice"), chain.address("bob")
    receipt = chain.ok("alice", TOKEN, "approve", ApproveArgs(CNY, bob, 300))
    assert dict(events(receipt, "Approval")[0].attributes)["amount_minor"] == 300
    receipt = chain.ok(
        "bob", TOKEN, "transfer_from", TransferFromArgs(CNY, alice, chain.address("issuer"), 100)
    )
    assert [event.name for event in receipt.events] == ["Transfer", "Approval"]
    assert events(receipt, "Approval")[0].attribute("amount_minor") == 200
    assert events(receipt, "Transfer")[0].attribute("sender") == alice.hex()
    allowance: Allowance = chain.query(TOKEN, "allowance", AllowanceArgs(CNY, alice, bob))
    assert allowance.amount_minor == 200
    assert balance(chain, "alice").balance_minor == 900
    assert balance(chain, "issuer").balance_minor == 100
    chain.rejected(
        "insufficient_allowance",
        "bob",
        TOKEN,
        "transfer_from",
        TransferFromArgs(CNY, alice, bob, 201),
    )
    receipt = chain.ok("bob", TOKEN, "transfer_from", TransferFromArgs(CNY, alice, bob, 0))
    assert [event.name for event in receipt.events] == ["Transfer", "Approval"]
    # approve replaces the allowance; zero removes it from state
    chain.ok("alice", TOKEN, "approve", ApproveArgs(CNY, bob, 0))
    assert chain.query(TOKEN, "allowance", AllowanceArgs(CNY, alice, bob)).amount_minor == 0


def test_an_allowance_does_not_move_a_suspended_owners_money() -> None:
    chain = make_chain({"alice": 1_000})
    alice, bob = chain.address("alice"), chain.address("bob")
    chain.ok("alice", TOKEN, "approve", ApproveArgs(CNY, bob, 300))
    chain.ok("bank-a-admin", REGISTRY, "suspend_account", AccountArgs(alice))
    spend = TransferFromArgs(CNY, alice, bob, 100)
    chain.rejected("owner_suspended", "bob", TOKEN, "transfer_from", spend)
    assert balance(chain, "alice").balance_minor == 1_000
    chain.ok("bank-a-admin", REGISTRY, "reactivate_account", AccountArgs(alice))
    chain.ok("bob", TOKEN, "transfer_from", spend)
    assert balance(chain, "alice").balance_minor == 900


def test_transfer_from_is_a_payment_of_the_owner() -> None:
    chain = make_chain({"alice": 1_000_000})
    alice, bob = chain.address("alice"), chain.address("bob")
    chain.ok("alice", TOKEN, "approve", ApproveArgs(CNY, bob, 10**6))
    chain.rejected(
        "tier_payment_limit",
        "bob",
        TOKEN,
        "transfer_from",
        TransferFromArgs(CNY, alice, bob, BASIC_TIER["max_payment_minor"] + 1),
    )
    chain.rejected(
        "unknown_recipient",
        "bob",
        TOKEN,
        "transfer_from",
        TransferFromArgs(CNY, alice, STRANGER, 1),
    )


def test_approve_rejections() -> None:
    chain = make_chain()
    chain.rejected("unknown_spender", "alice", TOKEN, "approve", ApproveArgs(CNY, STRANGER, 1))
    chain.rejected(
        "invalid_amount", "alice", TOKEN, "approve", ApproveArgs(CNY, chain.address("bob"), -5)
    )
    chain.rejected(
        "unknown_asset", "alice", TOKEN, "approve", ApproveArgs("EUR", chain.address("bob"), 5)
    )


# -- reading and proving ----------------------------------------------------------------------


def test_balance_key_locates_the_holding_in_state() -> None:
    chain = make_chain({"alice": 1_234})
    raw = chain.state[b"token/" + balance_key(CNY, address_of("alice"))]
    holding = decode(raw, Holding, max_bytes=MAX_STATE_VALUE_BYTES)
    assert holding.balance_minor == 1_234


def test_queries_refuse_unknown_assets_and_bad_addresses() -> None:
    chain = make_chain()
    for contract, name, args, code in (
        (TOKEN, "balance", HoldingArgs("XYZ", chain.address("alice")), "unknown_asset"),
        (TOKEN, "balance", HoldingArgs(CNY, b"\x00" * 500), "invalid_address"),
        (TOKEN, "supply", AssetArgs("XYZ"), "unknown_asset"),
        (TOKEN, "asset", AssetArgs("X" * 500), "unknown_asset"),
        (TOKEN, "allowance", AllowanceArgs(CNY, b"", b""), "invalid_address"),
        (REGISTRY, "account", AccountArgs(b""), "invalid_address"),
    ):
        with pytest.raises(Rejection) as error:
            chain.query(contract, name, args)
        assert error.value.code == code
