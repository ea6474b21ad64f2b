"""The governance contract: genesis state, the proposal life cycle (propose, approve per
organization, quorum, execute, expire, withdraw) and every kind of action."""

from __future__ import annotations

import msgspec
import pytest

from jinqiao.apps.governance import (
    AddOrganization,
    AddValidator,
    NoArgs,
    Proposal,
    ProposalAction,
    ProposalArgs,
    ProposeArgs,
    RemoveOrganization,
    RemoveValidator,
    ReplaceValidatorKey,
    SetParameter,
    SetValidatorPower,
    quorum_reached,
)
from jinqiao.apps.registry import AccountArgs, OrganizationArgs
from jinqiao.core.crypto import Signer
from jinqiao.core.errors import Rejection
from jinqiao.core.genesis import ChainParameters, GenesisOrganization
from jinqiao.core.limits import MAX_VALIDATORS
from jinqiao.core.types import Receipt, ValidatorSet
from jinqiao.execution.identity import GOVERNANCE, REGISTRY
from tests.helpers.chain import (
    DEFAULT_ACCOUNTS,
    TEST_NAME_SALT,
    AccountSpec,
    Chain,
    events,
    make_genesis,
    registration_for,
    result_of,
    signer_for,
)

ADMINS = ("central-bank-admin", "bank-a-admin", "bank-b-admin", "regulator-admin")
KEY_X = signer_for("x").public_key
KEY_V = signer_for("v").public_key
KEY_A = signer_for("validator-bank-a").public_key


def propose(chain: Chain, admin: str, action: ProposalAction) -> int:
    return result_of(chain.ok(admin, GOVERNANCE, "propose", ProposeArgs(action)), int)


def approve(chain: Chain, admin: str, proposal_id: int) -> Receipt:
    return chain.ok(admin, GOVERNANCE, "approve", ProposalArgs(proposal_id))


def proposal(chain: Chain, proposal_id: int) -> Proposal:
    result: Proposal = chain.query(GOVERNANCE, "proposal", ProposalArgs(proposal_id))
    return result


def enact(chain: Chain, action: ProposalAction) -> int:
    """Propose with the first admin and approve with the next two (3 of 4 organizations)."""
    proposal_id = propose(chain, ADMINS[0], action)
    approve(chain, ADMINS[1], proposal_id)
    approve(chain, ADMINS[2], proposal_id)
    assert proposal(chain, proposal_id).status == "executed"
    return proposal_id


def validators(chain: Chain) -> ValidatorSet:
    result: ValidatorSet = chain.query(GOVERNANCE, "validators", NoArgs())
    return result


def new_organization(org_id: str = "bank-c") -> AddOrganization:
    admin = f"{org_id}-admin"
    return AddOrganization(org_id, "Bank C", ("bank",), signer_for(admin).public_key, admin)


# -- the quorum rule -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("approving", "active", "reached"),
    [(1, 1, True), (1, 2, False), (2, 2, True), (1, 3, False), (2, 3, True), (2, 4, False),
     (3, 4, True), (3, 5, False), (4, 5, True), (4, 6, True), (6, 9, True), (5, 9, False),
     (0, 0, False)],
)  # fmt: skip
def test_two_thirds_quorum_is_at_least_two_thirds(
    approving: int, active: int, reached: bool
) -> None:
    assert quorum_reached(approving, active, 2, 3) is reached


def test_genesis_writes_parameters_and_a_sorted_validator_set() -> None:
    parameters = ChainParameters(proposal_lifetime_blocks=7)
    chain = Chain(make_genesis(parameters=parameters))
    assert chain.query(GOVERNANCE, "parameters", NoArgs()) == parameters
    addresses = [validator.address for validator in validators(chain).validators]
    assert len(addresses) == 4
    assert addresses == sorted(addresses)
    # the same set, in the same order, as genesis gives light clients
    assert validators(chain) == chain.genesis.validator_set()


# -- life cycle ------------------------------------------------------------------------------


def test_a_proposal_executes_when_two_thirds_of_organizations_approve() -> None:
    chain = Chain()
    receipt = chain.ok(ADMINS[0], GOVERNANCE, "propose", ProposeArgs(new_organization()))
    proposal_id = result_of(receipt, int)
    (created,) = events(receipt, "ProposalCreated")
    assert created.attribute("kind") == "add_organization"
    assert created.attribute("expires_height") == chain.height + 100_000
    assert events(receipt, "ProposalApproved")[0].attribute("approving") == 1
    receipt = approve(chain, ADMINS[1], proposal_id)  # 2 of 4: not yet
    assert not events(receipt, "ProposalExecuted")
    assert proposal(chain, proposal_id).approvals == ("bank-a", "central-bank")
    receipt = approve(chain, ADMINS[2], proposal_id)  # 3 of 4 >= 2/3
    assert events(receipt, "ProposalExecuted")[0].attribute("kind") == "add_organization"
    assert events(receipt, "OrganizationAdded")[0].contract == REGISTRY
    stored = proposal(chain, proposal_id)
    assert stored.status == "executed"
    assert stored.executed_height == chain.height
    organization = chain.query(REGISTRY, "organization", OrganizationArgs("bank-c"))
    assert organization.active
    assert organization.roles == ("bank",)
    # the new organization's admin works at once
    chain.ok(
        "bank-c-admin",
        REGISTRY,
        "register_account",
        registration_for("cathy", ("bank",)),
    )
    chain.rejected("proposal_closed", ADMINS[3], GOVERNANCE, "approve", ProposalArgs(proposal_id))


def test_one_vote_per_organization() -> None:
    accounts = (*DEFAULT_ACCOUNTS, AccountSpec("bank-a-admin-2", "bank-a", ("admin",)))
    chain = Chain(make_genesis(accounts=accounts))
    proposal_id = propose(chain, "bank-a-admin", new_organization())
    chain.rejected(
        "already_approved", "bank-a-admin-2", GOVERNANCE, "approve", ProposalArgs(proposal_id)
    )


def test_only_admins_propose_and_approve() -> None:
    chain = Chain()
    chain.rejected("unauthorized", "alice", GOVERNANCE, "propose", ProposeArgs(new_organization()))
    proposal_id = propose(chain, ADMINS[0], new_organization())
    chain.rejected("unauthorized", "bob", GOVERNANCE, "approve", ProposalArgs(proposal_id))


def test_a_single_organization_network_executes_its_proposals_at_once() -> None:
    chain = Chain(
        make_genesis(
            organizations=(GenesisOrganization("solo", "Solo"),),
            accounts=(AccountSpec("solo-admin", "solo", ("admin",)),),
        )
    )
    proposal_id = propose(chain, "solo-admin", SetParameter("block_max_transactions", 100))
    assert proposal(chain, proposal_id).status == "executed"
    assert chain.query(GOVERNANCE, "parameters", NoArgs()).block_max_transactions == 100


def test_an_expired_proposal_cannot_be_approved() -> None:
    chain = Chain(make_genesis(parameters=ChainParameters(proposal_lifetime_blocks=3)))
    proposal_id = propose(chain, ADMINS[0], new_organization())
    assert proposal(chain, proposal_id).expires_height == chain.height + 3
    chain.advance(2)  # the next block is the last one in which it may be approved
    approve(chain, ADMINS[1], proposal_id)
    chain.rejected("proposal_expired", ADMINS[2], GOVERNANCE, "approve", ProposalArgs(proposal_id))
    chain.rejected("proposal_expired", ADMINS[0], GOVERNANCE, "withdraw", ProposalArgs(proposal_id))


def test_withdraw_by_the_proposing_organization_only() -> None:
    chain = Chain()
    proposal_id = propose(chain, ADMINS[0], new_organization())
    chain.rejected("not_proposer", ADMINS[1], GOVERNANCE, "withdraw", ProposalArgs(proposal_id))
    receipt = chain.ok(ADMINS[0], GOVERNANCE, "withdraw", ProposalArgs(proposal_id))
    assert events(receipt, "ProposalWithdrawn")
    assert proposal(chain, proposal_id).status == "withdrawn"
    chain.rejected("proposal_closed", ADMINS[1], GOVERNANCE, "approve", ProposalArgs(proposal_id))
    chain.rejected("proposal_closed", ADMINS[0], GOVERNANCE, "withdraw", ProposalArgs(proposal_id))


def test_unknown_proposals() -> None:
    chain = Chain()
    for proposal_id in (1, 0, -1, 2**64 - 1):
        chain.rejected(
            "unknown_proposal", ADMINS[0], GOVERNANCE, "approve", ProposalArgs(proposal_id)
        )
    with pytest.raises(Rejection) as error:
        proposal(chain, 1)
    assert error.value.code == "unknown_proposal"


def test_proposal_ids_count_up() -> None:
    chain = Chain()
    first = propose(chain, ADMINS[0], new_organization("bank-c"))
    second = propose(chain, ADMINS[1], new_organization("bank-d"))
    assert (first, second) == (1, 2)
    assert proposal(chain, second).proposer_organization == "bank-a"
    assert proposal(chain, second).proposer == chain.address(ADMINS[1])


def test_execution_refused_by_changed_state_rejects_the_approval() -> None:
    chain = Chain()
    first = propose(chain, ADMINS[0], new_organization())
    second = propose(chain, ADMINS[1], new_organization())
    approve(chain, ADMINS[1], first)
    approve(chain, ADMINS[2], first)
    approve(chain, ADMINS[0], second)
    approve(chain, ADMINS[2], second)  # 3 of the now 5 organizations: not yet
    chain.rejected("organization_exists", ADMINS[3], GOVERNANCE, "approve", ProposalArgs(second))
    assert proposal(chain, second).status == "open"


# -- organizations ---------------------------------------------------------------------------


def test_removing_an_organization_suspends_its_accounts_and_its_vote() -> None:
    chain = Chain(make_genesis(validators=[("validator-bank-a", "bank-a")]))
    stale = propose(chain, "bank-b-admin", SetParameter("block_max_transactions", 10))
    enact(chain, RemoveOrganization("bank-b"))
    assert not chain.query(REGISTRY, "organization", OrganizationArgs("bank-b")).active
    chain.rejected(
        "organization_suspended",
        "bob",
        REGISTRY,
        "suspend_account",
        AccountArgs(chain.address("bob")),
    )
    # 3 active organizations remain; bank-b's approval of `stale` no longer counts
    receipt = approve(chain, ADMINS[0], stale)
    assert events(receipt, "ProposalApproved")[0].attribute("approving") == 1
    assert events(receipt, "ProposalApproved")[0].attribute("active") == 3
    approve(chain, ADMINS[1], stale)  # 2 of 3
    assert proposal(chain, stale).status == "executed"


@pytest.mark.parametrize(
    ("code", "action"),
    [
        ("organization_exists", new_organization("bank-a")),
        ("account_exists", AddOrganization("x", "X", (), signer_for("alice").public_key, "a")),
        ("invalid_public_key", AddOrganization("x", "X", (), b"\x00", "a")),
        ("invalid_organization_id", AddOrganization("X!", "X", (), KEY_X, "a")),
        ("invalid_organization_id", AddOrganization("x\n", "X", (), KEY_X, "a")),
        ("role_not_allowed", AddOrganization("x", "X", ("contract",), KEY_X, "a")),
        ("invalid_name", AddOrganization("x", "", (), KEY_X, "a")),
        ("unknown_organization", RemoveOrganization("nowhere")),
    ],
)  # fmt: skip
def test_organization_actions_are_checked_when_proposed(code: str, action: ProposalAction) -> None:
    Chain().rejected(code, ADMINS[0], GOVERNANCE, "propose", ProposeArgs(action))


def test_the_last_active_organization_cannot_be_removed() -> None:
    organizations = (GenesisOrganization("a", "A"), GenesisOrganization("b", "B"))
    accounts = (AccountSpec("a-admin", "a", ("admin",)), AccountSpec("b-admin", "b", ("admin",)))
    genesis = make_genesis(organizations=organizations, accounts=accounts, validators=[("v", "a")])
    chain = Chain(genesis)
    proposal_id = propose(chain, "a-admin", RemoveOrganization("b"))
    approve(chain, "b-admin", proposal_id)  # 2 of 2
    chain.rejected(
        "already_suspended", "a-admin", GOVERNANCE, "propose", ProposeArgs(RemoveOrganization("b"))
    )
    # a alone is the whole (active) consortium now: its proposal executes at once, and is
    # refused — a runs the network's validators, and the last validator cannot go.
    chain.rejected(
        "organization_has_validators",
        "a-admin",
        GOVERNANCE,
        "propose",
        ProposeArgs(RemoveOrganization("a")),
    )


# -- validators ------------------------------------------------------------------------------


def test_add_set_power_and_remove_a_validator() -> None:
    chain = Chain()
    key = signer_for("validator-new").public_key
    address = signer_for("validator-new").address
    before = validators(chain)
    enact(chain, AddValidator(key, "validator-new", "bank-a", 5))
    # Decided in block h, in force from h + 2: block h + 1 is still certified by the old set.
    assert validators(chain) == before
    chain.advance()
    chain.advance()
    current = validators(chain).validators
    assert len(current) == 5
    assert [v.address for v in current] == sorted(v.address for v in current)
    assert current[[v.address for v in current].index(address)].power == 5
    receipt_id = enact(chain, SetValidatorPower(address, 7))
    assert proposal(chain, receipt_id).status == "executed"
    chain.advance(2)
    assert validators(chain).by_address()[address].power == 7
    enact(chain, RemoveValidator(address))
    chain.advance(2)
    assert address not in validators(chain).by_address()
    assert len(validators(chain).validators) == 4


def test_an_added_validator_key_becomes_a_validator_account_of_its_organization() -> None:
    """Like a genesis validator, a validator added by governance can sign what only validators
    send (equivocation evidence): its key is an active account with role ``validator``."""
    chain = Chain()
    signer = signer_for("validator-added")
    enact(chain, AddValidator(signer.public_key, "validator-added", "bank-b", 1))
    account = chain.query(REGISTRY, "account", AccountArgs(signer.address))
    assert (account.organization, account.roles, account.active) == (
        "bank-b",
        ("validator",),
        True,
    )


def chain_with_account_x_of_bank_a() -> tuple[Chain, Signer]:
    chain = Chain()
    signer = signer_for("x")
    args = registration_for("x")
    chain.ok("bank-a-admin", REGISTRY, "register_account", args)
    return chain, signer


def test_an_existing_account_of_the_organization_gains_the_validator_role() -> None:
    chain, signer = chain_with_account_x_of_bank_a()
    enact(chain, AddValidator(signer.public_key, "x", "bank-a", 1))
    account = chain.query(REGISTRY, "account", AccountArgs(signer.address))
    # the account keeps the name its organization registered (committed with TEST_NAME_SALT)
    assert account.roles == ("validator",)
    assert account.name_commitment == chain.suite.hash(TEST_NAME_SALT + b"x")


def test_a_key_of_another_organization_cannot_become_its_validator() -> None:
    chain, signer = chain_with_account_x_of_bank_a()
    action = AddValidator(signer.public_key, "x", "bank-b", 1)
    chain.rejected(
        "account_in_other_organization", ADMINS[0], GOVERNANCE, "propose", ProposeArgs(action)
    )


@pytest.mark.parametrize(
    ("code", "action"),
    [
        ("validator_exists", AddValidator(KEY_A, "v", "bank-a", 1)),
        ("invalid_power", AddValidator(KEY_V, "v", "bank-a", 0)),
        ("invalid_power", AddValidator(KEY_V, "v", "bank-a", 1_000_001)),
        ("unknown_organization", AddValidator(KEY_V, "v", "bank-z", 1)),
        ("invalid_public_key", AddValidator(b"\x01", "v", "bank-a", 1)),
        ("invalid_name", AddValidator(KEY_V, "", "bank-a", 1)),
        ("unknown_validator", RemoveValidator(signer_for("v").address)),
        ("invalid_address", RemoveValidator(b"\x01")),
        ("unknown_validator", SetValidatorPower(signer_for("v").address, 3)),
        ("invalid_power", SetValidatorPower(signer_for("validator-bank-a").address, -1)),
    ],
)  # fmt: skip
def test_validator_actions_are_checked(code: str, action: ProposalAction) -> None:
    Chain().rejected(code, ADMINS[0], GOVERNANCE, "propose", ProposeArgs(action))


def test_a_validator_of_a_suspended_organization_cannot_be_added() -> None:
    chain = Chain(make_genesis(validators=[("validator-bank-a", "bank-a")]))
    enact(chain, RemoveOrganization("bank-b"))
    action = AddValidator(KEY_V, "v", "bank-b", 1)
    chain.rejected("organization_suspended", ADMINS[0], GOVERNANCE, "propose", ProposeArgs(action))


def test_the_last_validator_cannot_be_removed() -> None:
    chain = Chain(make_genesis(validators=[("validator-bank-a", "bank-a")]))
    action = RemoveValidator(signer_for("validator-bank-a").address)
    chain.rejected("last_validator", ADMINS[0], GOVERNANCE, "propose", ProposeArgs(action))


def test_at_most_max_validators() -> None:
    names = [(f"validator-{index}", "bank-a") for index in range(MAX_VALIDATORS)]
    chain = Chain(make_genesis(validators=names))
    action = AddValidator(signer_for("one-too-many").public_key, "v", "bank-a", 1)
    chain.rejected("too_many_validators", ADMINS[0], GOVERNANCE, "propose", ProposeArgs(action))


# -- parameters ------------------------------------------------------------------------------


def test_a_parameter_change_applies_to_later_votes() -> None:
    chain = Chain()
    enact(chain, SetParameter("governance_quorum_numerator", 3))  # now unanimity: 3/3
    assert chain.query(GOVERNANCE, "parameters", NoArgs()).governance_quorum_numerator == 3
    proposal_id = propose(chain, ADMINS[0], SetParameter("block_max_transactions", 10))
    approve(chain, ADMINS[1], proposal_id)
    approve(chain, ADMINS[2], proposal_id)
    assert proposal(chain, proposal_id).status == "open"
    receipt = approve(chain, ADMINS[3], proposal_id)
    assert events(receipt, "ParameterChanged")[0].attribute("value") == 10


@pytest.mark.parametrize(
    ("code", "action"),
    [
        ("unknown_parameter", SetParameter("gas_price", 1)),
        ("invalid_parameter", SetParameter("governance_quorum_numerator", 4)),
        ("invalid_parameter", SetParameter("governance_quorum_numerator", 0)),
        ("invalid_parameter", SetParameter("valid_until_window_blocks", 10**9)),
        ("invalid_parameter", SetParameter("block_max_transactions", 0)),
    ],
)
def test_parameter_changes_are_checked(code: str, action: SetParameter) -> None:
    Chain().rejected(code, ADMINS[0], GOVERNANCE, "propose", ProposeArgs(action))


def test_proposal_arguments_are_strictly_typed() -> None:
    chain = Chain()
    chain.rejected("invalid_arguments", ADMINS[0], GOVERNANCE, "propose", b"\x91\x92\xa3bad\x01")


def test_an_organization_with_validators_cannot_be_removed() -> None:
    chain = Chain()
    action = RemoveOrganization("bank-b")
    chain.rejected(
        "organization_has_validators", ADMINS[0], GOVERNANCE, "propose", ProposeArgs(action)
    )


def test_validator_changes_compose_and_take_effect_two_blocks_later() -> None:
    chain = Chain()
    first = signer_for("validator-one")
    second = signer_for("validator-two")
    enact(chain, AddValidator(first.public_key, "validator-one", "bank-a", 2))
    enact(chain, AddValidator(second.public_key, "validator-two", "bank-a", 3))
    pending = chain.query(GOVERNANCE, "pending_validators", NoArgs())
    assert {first.address, second.address} <= set(pending.validators.by_address())
    assert second.address not in validators(chain).by_address()
    chain.advance(2)
    in_force = validators(chain).by_address()
    assert in_force[first.address].power == 2 and in_force[second.address].power == 3
    with pytest.raises(Rejection, match="no validator-set change"):
        chain.query(GOVERNANCE, "pending_validators", NoArgs())


# -- replacing a validator's consensus key (docs/keys.md "Rotation") ------------------------


def test_a_validator_key_is_replaced_keeping_name_organization_and_power() -> None:
    chain = Chain()
    old = signer_for("validator-bank-a")
    new = signer_for("validator-bank-a-next")
    before = validators(chain).by_address()[old.address]
    proposal_id = propose(chain, "bank-a-admin", ReplaceValidatorKey(old.address, new.public_key))
    approve(chain, "central-bank-admin", proposal_id)
    receipt = approve(chain, "bank-b-admin", proposal_id)
    [event] = events(receipt, "ValidatorKeyReplaced")
    decided = chain.height
    assert dict(event.attributes) == {
        "name": "validator-bank-a",
        "organization": "bank-a",
        "old_address": old.address.hex(),
        "new_address": new.address.hex(),
        "power": before.power,
        "effective_height": decided + 2,
    }
    assert old.address in validators(chain).by_address()
    chain.advance(2)
    in_force = validators(chain).by_address()
    assert old.address not in in_force
    assert in_force[new.address] == msgspec.structs.replace(
        before, address=new.address, public_key=new.public_key
    )
    account = chain.query(REGISTRY, "account", AccountArgs(new.address))
    assert (account.organization, account.roles, account.active) == (
        "bank-a",
        ("validator",),
        True,
    )


@pytest.mark.parametrize(
    ("code", "action"),
    [
        ("unknown_validator", ReplaceValidatorKey(signer_for("v").address, KEY_V)),
        ("invalid_address", ReplaceValidatorKey(b"\x01", KEY_V)),
        ("invalid_public_key", ReplaceValidatorKey(signer_for("validator-bank-a").address, b"1")),
        ("validator_exists", ReplaceValidatorKey(signer_for("validator-bank-a").address, KEY_A)),
        (
            "validator_exists",
            ReplaceValidatorKey(
                signer_for("validator-bank-a").address,
                signer_for("validator-bank-b").public_key,
            ),
        ),
        (
            "not_your_organization",
            ReplaceValidatorKey(signer_for("validator-bank-b").address, KEY_V),
        ),
    ],
)  # fmt: skip
def test_a_key_replacement_is_checked_when_proposed(code: str, action: ProposalAction) -> None:
    Chain().rejected(code, "bank-a-admin", GOVERNANCE, "propose", ProposeArgs(action))


def test_a_key_of_another_organization_cannot_replace_a_validator_key() -> None:
    chain, signer = chain_with_account_x_of_bank_a()
    action = ReplaceValidatorKey(signer_for("validator-bank-b").address, signer.public_key)
    chain.rejected(
        "account_in_other_organization", "bank-b-admin", GOVERNANCE, "propose", ProposeArgs(action)
    )
