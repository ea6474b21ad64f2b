"""The token change the payments escrow needs: a contract address of the runtime may receive and
hold a balance, be approved as a spender and pay with ``transfer``, with no wallet tier limits;
any other unregistered address is still refused."""

from __future__ import annotations

from jinqiao.apps import default_contracts
from jinqiao.apps.payments import PAYMENTS
from jinqiao.apps.token import (
    TOKEN,
    AllowanceArgs,
    ApproveArgs,
    Holding,
    HoldingArgs,
    TransferArgs,
    TransferFromArgs,
    balance_key,
)
from jinqiao.core.codec import CanonicalStruct
from jinqiao.execution.contract import Context, Contract, contract_address, method
from tests.helpers.chain import (
    BASIC_TIER,
    Chain,
    events,
    make_genesis,
    signer_for,
    token_config,
)

CNY = "CNY"


class PayOutArgs(CanonicalStruct, frozen=True):
    recipient: bytes
    amount_minor: int


class Vault(Contract):
    """A contract that pays out of its own token balance."""

    name = "vault"

    @method(PayOutArgs)
    def pay_out(self, ctx: Context, args: PayOutArgs) -> None:
        ctx.call(TOKEN, "transfer", TransferArgs(CNY, args.recipient, args.amount_minor))


def make_chain(balances: dict[str, int]) -> tuple[Chain, bytes]:
    genesis = make_genesis(contracts={TOKEN: token_config(balances, holder_tiers={})})
    chain = Chain(genesis, contracts=[*default_contracts(), Vault()])
    return chain, contract_address(chain.suite.hash, "vault")


def balance(chain: Chain, address: bytes) -> int:
    result: int = chain.query(TOKEN, "balance", HoldingArgs(CNY, address)).balance_minor
    return result


def test_a_contract_receives_holds_and_pays_beyond_any_tier() -> None:
    chain, vault = make_chain({"issuer": 5_000_000, "alice": 1_000})
    held = 2 * BASIC_TIER["max_balance_minor"]  # the vault's holding is in the default tier
    chain.ok("issuer", TOKEN, "transfer", TransferArgs(CNY, vault, held))
    chain.ok("alice", TOKEN, "transfer", TransferArgs(CNY, vault, 1_000))
    assert balance(chain, vault) == held + 1_000
    # one payment above the basic payment limit, and a day's total above the daily limit
    big = BASIC_TIER["daily_limit_minor"] + 1
    receipt = chain.ok("alice", "vault", "pay_out", PayOutArgs(chain.address("issuer"), big))
    assert events(receipt, "Transfer")[0].attribute("sender") == vault.hex()
    chain.ok("alice", "vault", "pay_out", PayOutArgs(chain.address("issuer"), big))
    # the recipient's tier still binds the recipient
    chain.rejected(
        "tier_balance_limit",
        "alice",
        "vault",
        "pay_out",
        PayOutArgs(chain.address("bob"), BASIC_TIER["max_balance_minor"] + 1),
    )
    left = held + 1_000 - 2 * big
    chain.rejected(
        "insufficient_funds",
        "alice",
        "vault",
        "pay_out",
        PayOutArgs(chain.address("bob"), left + 1),
    )
    assert balance(chain, vault) == left
    holding = chain.read(TOKEN, balance_key(CNY, vault), Holding)
    assert holding is not None and holding.balance_minor == left


def test_a_contract_can_be_an_approved_spender() -> None:
    chain, _ = make_chain({"alice": 1_000})
    escrow = contract_address(chain.suite.hash, PAYMENTS)
    chain.ok("alice", TOKEN, "approve", ApproveArgs(CNY, escrow, 500))
    assert chain.query(TOKEN, "allowance", _allowance(chain, escrow)).amount_minor == 500


def _allowance(chain: Chain, spender: bytes) -> AllowanceArgs:
    return AllowanceArgs(CNY, chain.address("alice"), spender)


def test_other_unregistered_addresses_are_still_refused() -> None:
    chain, _ = make_chain({"alice": 1_000})
    stranger = signer_for("stranger").address
    chain.rejected("unknown_recipient", "alice", TOKEN, "transfer", TransferArgs(CNY, stranger, 1))
    chain.rejected("unknown_spender", "alice", TOKEN, "approve", ApproveArgs(CNY, stranger, 1))
    chain.ok("alice", TOKEN, "approve", ApproveArgs(CNY, chain.address("bob"), 5))
    chain.rejected(
        "unknown_recipient",
        "bob",
        TOKEN,
        "transfer_from",
        TransferFromArgs(CNY, chain.address("alice"), stranger, 1),
    )
