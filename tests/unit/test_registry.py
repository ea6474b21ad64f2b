"""The registry contract: genesis records, admins managing their own organization's accounts,
the last-admin rule, and organization changes reserved to the governance contract."""

from __future__ import annotations

import pytest

from jinqiao.apps import default_contracts
from jinqiao.apps.registry import (
    ACTIVE_ORGANIZATIONS_KEY,
    AccountArgs,
    AddOrganizationArgs,
    OrganizationArgs,
    RegisterAccountArgs,
    SetAccountRolesArgs,
    admin_count_key,
    published_name_commitment,
    registration,
)
from jinqiao.core.codec import CanonicalStruct, encode
from jinqiao.core.crypto import DEFAULT_SUITE, get_suite
from jinqiao.core.errors import InvalidInput, Rejection
from jinqiao.core.genesis import GenesisOrganization
from jinqiao.execution.contract import Context, Contract, method
from jinqiao.execution.identity import REGISTRY, Account, Organization, account_key
from tests.helpers.chain import (
    DEFAULT_ACCOUNTS,
    DEFAULT_ORGANIZATIONS,
    TEST_NAME_SALT,
    AccountSpec,
    Chain,
    events,
    make_genesis,
    registration_for,
    signer_for,
)

KEY_X = signer_for("x").public_key


def register(chain: Chain, admin: str, name: str, roles: tuple[str, ...] = ()) -> bytes:
    chain.ok(
        admin,
        REGISTRY,
        "register_account",
        registration_for(name, roles),
    )
    return chain.address(name)


def admins(chain: Chain, organization: str) -> int:
    return chain.read(REGISTRY, admin_count_key(organization), int) or 0


def test_genesis_writes_every_organization_and_account_active() -> None:
    chain = Chain()
    for spec in DEFAULT_ACCOUNTS:
        account = chain.query(REGISTRY, "account", AccountArgs(chain.address(spec.name)))
        assert account == Account(
            chain.address(spec.name),
            signer_for(spec.name).public_key,
            spec.organization,
            published_name_commitment(chain.suite, spec.name),
            spec.roles,
            True,
        )
    bank = chain.query(REGISTRY, "organization", OrganizationArgs("bank-a"))
    assert bank == Organization("bank-a", "Bank A", ("bank",), True)
    assert chain.read(REGISTRY, ACTIVE_ORGANIZATIONS_KEY, int) == 4
    assert admins(chain, "bank-a") == 1


def test_genesis_refuses_the_reserved_contract_role() -> None:
    # The organization lists the role, so genesis checking passes it to the registry, which
    # refuses the reserved role itself.
    organizations = tuple(
        GenesisOrganization(org.id, org.name, (*org.roles, "contract"))
        if org.id == "bank-a"
        else org
        for org in DEFAULT_ORGANIZATIONS
    )
    genesis = make_genesis(
        organizations=organizations,
        accounts=(*DEFAULT_ACCOUNTS, AccountSpec("impostor", "bank-a", ("contract",))),
    )
    with pytest.raises(InvalidInput, match="reserved"):
        Chain(genesis)


def test_admin_registers_an_account_that_can_then_transact() -> None:
    chain = Chain()
    receipt = chain.ok(
        "bank-a-admin",
        REGISTRY,
        "register_account",
        registration_for("carol", ("bank", "admin")),
    )
    account = chain.query(REGISTRY, "account", AccountArgs(chain.address("carol")))
    # the chain holds the salted hash of the name, never the name
    assert account.name_commitment == chain.suite.hash(TEST_NAME_SALT + b"carol")
    assert b"carol" not in encode(account)
    assert account.organization == "bank-a"
    assert account.roles == ("admin", "bank")  # stored sorted
    assert account.active
    (event,) = events(receipt, "AccountRegistered")
    assert event.attribute("address") == chain.address("carol").hex()
    assert event.attribute("roles") == "admin,bank"
    assert event.attribute("name_commitment") == account.name_commitment.hex()
    assert admins(chain, "bank-a") == 2
    # carol is an admin now, so she can register accounts herself
    register(chain, "carol", "dave")


@pytest.mark.parametrize(
    ("code", "args"),
    [
        ("role_not_allowed", registration_for("x", ("issuer",))),
        ("role_not_allowed", registration_for("x", ("contract",))),
        ("invalid_roles", registration_for("x", ("bank", "bank"))),
        ("invalid_roles", registration_for("x", ("Bank!",))),
        ("invalid_roles", registration_for("x", ("bank\n",))),
        ("invalid_name_commitment", RegisterAccountArgs(KEY_X, b"", ())),
        (
            "invalid_name_commitment",
            RegisterAccountArgs(signer_for("x").public_key, b"\1" * 33, ()),
        ),
        ("invalid_public_key", RegisterAccountArgs(b"\x01" * 31, b"\0" * 32, ())),
        ("account_exists", registration_for("bob")),
    ],
)
def test_register_account_rejections(code: str, args: RegisterAccountArgs) -> None:
    Chain().rejected(code, "bank-a-admin", REGISTRY, "register_account", args)


@pytest.mark.parametrize("name", ["", "x" * 65, "\u202egnp.exe", "a\x00b", "Cafe\u0301", " x"])
def test_the_member_side_refuses_a_bad_name_before_committing_it(name: str) -> None:
    # The contract never sees the name, so the SDK checks it (core.names) before hashing it.
    with pytest.raises(InvalidInput) as refused:
        registration(get_suite(DEFAULT_SUITE), signer_for("x").public_key, name, (), TEST_NAME_SALT)
    assert refused.value.code == "invalid_name"


def test_a_name_salt_must_be_32_bytes() -> None:
    with pytest.raises(InvalidInput) as refused:
        registration(get_suite(DEFAULT_SUITE), signer_for("x").public_key, "x", (), b"short")
    assert refused.value.code == "invalid_name_salt"


def test_only_admins_register_accounts() -> None:
    args = registration_for("x")
    Chain().rejected("unauthorized", "alice", REGISTRY, "register_account", args)


def test_suspend_and_reactivate_an_account() -> None:
    chain = Chain()
    alice = AccountArgs(chain.address("alice"))
    receipt = chain.ok("bank-a-admin", REGISTRY, "suspend_account", alice)
    assert events(receipt, "AccountSuspended")
    assert not chain.query(REGISTRY, "account", alice).active
    # a suspended account's transactions are refused by the runtime
    chain.rejected("sender_suspended", "alice", REGISTRY, "suspend_account", alice)
    chain.rejected("already_suspended", "bank-a-admin", REGISTRY, "suspend_account", alice)
    receipt = chain.ok("bank-a-admin", REGISTRY, "reactivate_account", alice)
    assert events(receipt, "AccountReactivated")
    assert chain.query(REGISTRY, "account", alice).active
    chain.rejected("already_active", "bank-a-admin", REGISTRY, "reactivate_account", alice)


def test_admins_manage_only_their_own_organization() -> None:
    chain = Chain()
    bob = AccountArgs(chain.address("bob"))
    chain.rejected("not_your_organization", "bank-a-admin", REGISTRY, "suspend_account", bob)
    chain.rejected("not_your_organization", "bank-a-admin", REGISTRY, "reactivate_account", bob)
    chain.rejected(
        "not_your_organization",
        "bank-a-admin",
        REGISTRY,
        "set_account_roles",
        SetAccountRolesArgs(chain.address("bob"), ()),
    )


def test_unknown_and_malformed_addresses() -> None:
    chain = Chain()
    unknown = AccountArgs(signer_for("nobody").address)
    chain.rejected("unknown_account", "bank-a-admin", REGISTRY, "suspend_account", unknown)
    chain.rejected(
        "invalid_address", "bank-a-admin", REGISTRY, "suspend_account", AccountArgs(b"\x01" * 300)
    )
    with pytest.raises(Rejection) as error:
        chain.query(REGISTRY, "account", unknown)
    assert error.value.code == "unknown_account"
    with pytest.raises(Rejection) as error:
        chain.query(REGISTRY, "organization", OrganizationArgs("nowhere"))
    assert error.value.code == "unknown_organization"
    with pytest.raises(Rejection) as error:
        chain.query(REGISTRY, "organization", OrganizationArgs("x" * 1000))
    assert error.value.code == "invalid_organization_id"


def test_the_last_active_admin_cannot_suspend_itself() -> None:
    chain = Chain()
    me = AccountArgs(chain.address("bank-a-admin"))
    chain.rejected("last_admin", "bank-a-admin", REGISTRY, "suspend_account", me)
    register(chain, "bank-a-admin", "carol", ("admin",))
    assert admins(chain, "bank-a") == 2
    chain.ok("bank-a-admin", REGISTRY, "suspend_account", me)
    assert admins(chain, "bank-a") == 1
    chain.rejected(
        "last_admin", "carol", REGISTRY, "suspend_account", AccountArgs(chain.address("carol"))
    )
    # reactivating an admin counts it again
    chain.ok("carol", REGISTRY, "reactivate_account", me)
    assert admins(chain, "bank-a") == 2


def test_set_account_roles_keeps_the_admin_count() -> None:
    chain = Chain()
    alice = chain.address("alice")
    receipt = chain.ok(
        "bank-a-admin", REGISTRY, "set_account_roles", SetAccountRolesArgs(alice, ("admin",))
    )
    assert events(receipt, "AccountRolesChanged")[0].attribute("roles") == "admin"
    assert admins(chain, "bank-a") == 2
    chain.ok("alice", REGISTRY, "set_account_roles", SetAccountRolesArgs(alice, ("bank",)))
    assert chain.query(REGISTRY, "account", AccountArgs(alice)).roles == ("bank",)
    assert admins(chain, "bank-a") == 1
    chain.rejected(
        "last_admin",
        "bank-a-admin",
        REGISTRY,
        "set_account_roles",
        SetAccountRolesArgs(chain.address("bank-a-admin"), ()),
    )
    chain.rejected(
        "role_not_allowed",
        "bank-a-admin",
        REGISTRY,
        "set_account_roles",
        SetAccountRolesArgs(alice, ("regulator",)),
    )


def test_a_suspended_admin_does_not_count_when_its_roles_change() -> None:
    chain = Chain()
    register(chain, "bank-a-admin", "carol", ("admin",))
    carol = chain.address("carol")
    chain.ok("bank-a-admin", REGISTRY, "suspend_account", AccountArgs(carol))
    assert admins(chain, "bank-a") == 1
    chain.ok("bank-a-admin", REGISTRY, "set_account_roles", SetAccountRolesArgs(carol, ()))
    assert admins(chain, "bank-a") == 1
    chain.ok("bank-a-admin", REGISTRY, "reactivate_account", AccountArgs(carol))
    assert admins(chain, "bank-a") == 1


def test_accounts_cannot_add_or_suspend_organizations() -> None:
    chain = Chain()
    args = AddOrganizationArgs("bank-c", "Bank C", (), signer_for("c-admin").public_key, "c-admin")
    chain.rejected("unauthorized", "bank-a-admin", REGISTRY, "add_organization", args)
    chain.rejected(
        "unauthorized", "bank-a-admin", REGISTRY, "suspend_organization", OrganizationArgs("bank-b")
    )


class ImpostorArgs(CanonicalStruct, frozen=True):
    id: str


class Impostor(Contract):
    """A contract other than governance that tries to add an organization."""

    name = "impostor"

    @method(ImpostorArgs)
    def add(self, ctx: Context, args: ImpostorArgs) -> None:
        key = signer_for(args.id + "-admin").public_key
        ctx.call(REGISTRY, "add_organization", AddOrganizationArgs(args.id, "X", (), key, "a"))


def test_only_the_governance_contract_may_add_organizations() -> None:
    chain = Chain(contracts=[*default_contracts(), Impostor()])
    chain.rejected("unauthorized", "alice", "impostor", "add", ImpostorArgs("bank-c"))
    assert chain.read(REGISTRY, b"organization/bank-c", Organization) is None


def test_an_organization_may_only_grant_its_own_roles() -> None:
    organizations = (
        GenesisOrganization("solo", "Solo", ("bank", "issuer")),
        GenesisOrganization("other", "Other", ("regulator",)),
    )
    accounts = (
        AccountSpec("solo-admin", "solo", ("admin",)),
        AccountSpec("o", "other", ("admin",)),
    )
    chain = Chain(make_genesis(organizations=organizations, accounts=accounts))
    register(chain, "solo-admin", "teller", ("bank", "issuer"))
    chain.rejected(
        "role_not_allowed",
        "solo-admin",
        REGISTRY,
        "register_account",
        registration_for("y", ("regulator",)),
    )
    assert chain.read(REGISTRY, account_key(chain.address("y")), Account) is None
