"""The AML parameters and the consortium deny list: changed only by governance proposals that
reach quorum, checked when proposed (wrong type, wrong sign, unknown name), and the token's
``party_denied`` rejection for moves to and from a listed party, which changes nothing."""

from __future__ import annotations

import pytest

from jinqiao.apps.aml import AmlParameters, DeniedParty
from jinqiao.apps.governance import (
    AllowParty,
    DenyParty,
    NoArgs,
    PartyArgs,
    ProposalArgs,
    ProposeArgs,
    SetAmlParameter,
)
from jinqiao.apps.token import TOKEN, BurnArgs, HoldingArgs, MintArgs, TransferArgs
from jinqiao.core.codec import CanonicalStruct, encode
from jinqiao.core.errors import Rejection
from jinqiao.execution.identity import GOVERNANCE
from tests.helpers.chain import Chain, make_genesis, token_config
from tests.unit.test_governance import ADMINS, enact, propose

ALICE_BALANCE = 500_000


def chain_with_money() -> Chain:
    config = token_config({"alice": ALICE_BALANCE, "bob": 1_000, "issuer": 10**9})
    return Chain(make_genesis(contracts={TOKEN: config}))


def aml_parameters(chain: Chain) -> AmlParameters:
    result: AmlParameters = chain.query(GOVERNANCE, "aml_parameters", NoArgs())
    return result


def balance(chain: Chain, name: str) -> int:
    result = chain.query(TOKEN, "balance", HoldingArgs("CNY", chain.address(name)))
    return int(result.balance_minor)


def test_the_defaults_are_order_no_3_thresholds_in_fen() -> None:
    parameters = aml_parameters(Chain())
    assert parameters.large_cash_minor == 50_000 * 100
    assert parameters.large_transfer_non_individual_minor == 2_000_000 * 100
    assert parameters.large_transfer_individual_minor == 500_000 * 100
    parameters.check()


def test_a_parameter_changes_only_when_the_proposal_reaches_quorum() -> None:
    chain = Chain()
    proposal_id = propose(chain, ADMINS[0], SetAmlParameter("structuring_min_count", 5))
    assert aml_parameters(chain).structuring_min_count == 3  # one approval of four: open
    chain.ok(ADMINS[1], GOVERNANCE, "approve", ProposalArgs(proposal_id))
    chain.ok(ADMINS[2], GOVERNANCE, "approve", ProposalArgs(proposal_id))
    assert aml_parameters(chain).structuring_min_count == 5


@pytest.mark.parametrize(
    ("code", "action"),
    [
        ("unknown_aml_parameter", SetAmlParameter("cash_threshold", 1)),
        ("invalid_aml_parameter", SetAmlParameter("large_cash_minor", -1)),
        ("invalid_aml_parameter", SetAmlParameter("large_transfer_individual_minor", 0)),
        ("invalid_aml_parameter", SetAmlParameter("rapid_share_bps", 10_001)),
        ("invalid_aml_parameter", SetAmlParameter("structuring_margin_bps", 10_000)),
        ("invalid_aml_parameter", SetAmlParameter("fan_window_ms", 367 * 86_400_000)),
        ("invalid_party", DenyParty("person", "x", "sanctions")),
        ("invalid_party", DenyParty("account", "ABCD", "sanctions")),
        ("invalid_party", DenyParty("organization", "Not An Id", "sanctions")),
        ("invalid_reason", DenyParty("organization", "bank-b", "")),
        ("not_denied", AllowParty("organization", "bank-b")),
    ],
)
def test_aml_actions_are_checked_when_proposed(code: str, action: CanonicalStruct) -> None:
    chain = Chain()
    before = dict(chain.state)
    chain.rejected(code, ADMINS[0], GOVERNANCE, "propose", ProposeArgs(action))  # type: ignore[arg-type]
    assert chain.state == before


class _TextValue(CanonicalStruct, frozen=True, tag="set_aml_parameter"):
    name: str
    value: str


class _FloatValue(CanonicalStruct, frozen=True, tag="set_aml_parameter"):
    name: str
    value: float


class _BoolValue(CanonicalStruct, frozen=True, tag="set_aml_parameter"):
    name: str
    value: bool


class _ProposeText(CanonicalStruct, frozen=True):
    action: _TextValue


class _ProposeFloat(CanonicalStruct, frozen=True):
    action: _FloatValue


class _ProposeBool(CanonicalStruct, frozen=True):
    action: _BoolValue


@pytest.mark.parametrize(
    "raw",
    [
        encode(_ProposeText(_TextValue("large_cash_minor", "5000000"))),
        encode(_ProposeFloat(_FloatValue("large_cash_minor", 5e6))),
        encode(_ProposeBool(_BoolValue("listed_min_attempts", True))),
    ],
)
def test_a_threshold_of_the_wrong_type_is_refused(raw: bytes) -> None:
    chain = Chain()
    before = dict(chain.state)
    chain.rejected("invalid_arguments", ADMINS[0], GOVERNANCE, "propose", raw)
    assert chain.state == before
    assert aml_parameters(chain) == AmlParameters()


def test_a_denied_account_neither_pays_nor_is_paid_and_nothing_changes() -> None:
    chain = chain_with_money()
    enact(chain, DenyParty("account", chain.address("alice").hex(), "UN list 2026-12"))
    entry = chain.query(
        GOVERNANCE, "denied_party", PartyArgs("account", chain.address("alice").hex())
    )
    assert isinstance(entry, DeniedParty) and entry.reason == "UN list 2026-12"
    before = dict(chain.state)
    transfer = TransferArgs("CNY", chain.address("bob"), 10)
    receipt = chain.rejected("party_denied", "alice", TOKEN, "transfer", transfer)
    assert receipt.events == ()
    to_alice = TransferArgs("CNY", chain.address("alice"), 10)
    chain.rejected("party_denied", "bob", TOKEN, "transfer", to_alice)
    mint = MintArgs("CNY", chain.address("alice"), 10)
    chain.rejected("party_denied", "issuer", TOKEN, "mint", mint)
    assert chain.state == before
    assert balance(chain, "alice") == ALICE_BALANCE
    enact(chain, AllowParty("account", chain.address("alice").hex()))
    chain.ok("alice", TOKEN, "transfer", transfer)
    assert balance(chain, "bob") == 1_010


def test_denying_an_organization_covers_all_its_accounts() -> None:
    chain = chain_with_money()
    enact(chain, DenyParty("organization", "bank-b", "licence withdrawn"))
    chain.rejected(
        "party_denied", "alice", TOKEN, "transfer", TransferArgs("CNY", chain.address("bob"), 1)
    )
    chain.rejected(
        "party_denied", "bob", TOKEN, "transfer", TransferArgs("CNY", chain.address("alice"), 1)
    )
    # Parties outside bank-b are unaffected.
    chain.ok("issuer", TOKEN, "transfer", TransferArgs("CNY", chain.address("alice"), 1))
    chain.ok("issuer", TOKEN, "burn", BurnArgs("CNY", 1))
    with pytest.raises(Rejection) as refusal:
        chain.query(GOVERNANCE, "denied_party", PartyArgs("organization", "bank-a"))
    assert refusal.value.code == "not_denied"


def test_a_party_cannot_be_listed_twice() -> None:
    chain = Chain()
    enact(chain, DenyParty("organization", "bank-b", "licence withdrawn"))
    action = DenyParty("organization", "bank-b", "again")
    chain.rejected("already_denied", ADMINS[0], GOVERNANCE, "propose", ProposeArgs(action))
