"""The registry contract: member organizations and their accounts.

Every account belongs to one organization and holds roles. An organization's admins (role
``admin``) register, suspend, reactivate and re-role the accounts of *their own* organization; only
the governance contract adds or suspends organizations (``add_organization`` and
``suspend_organization`` accept a call from nowhere else). The runtime reads these records to check
every sender, so their layout is fixed in ``jinqiao.execution.identity``.

State layout (namespace ``registry``; the full state key is ``b"registry/" + key``):

==============================  =================================================================
key                             value
==============================  =================================================================
``organization/<id>``           ``Organization`` (``id`` is an identifier, UTF-8)
``account/<address>``           ``Account`` (``address`` is the raw 20 bytes)
``policy/<address>``            ``SigningPolicy``: the account's keys, weights, threshold, amount
                                rules and revoked keys; absent means the implicit policy (the
                                address's key, weight 1, threshold 1), docs/keys.md
``approval/<hash>``             ``PendingApproval``: a call proposed by a policy account, with the
                                keys that signed it so far; ``hash`` is the proposing
                                transaction's hash. Deleted when the call runs.
``admins/<id>``                 ``int``: active accounts with role ``admin`` in organization
                                ``id``; absent means 0. Kept so an organization never loses its
                                last active admin.
``active_organizations``        ``int``: number of active organizations (governance's quorum
                                denominator)
==============================  =================================================================

An account's name is not in the state: ``Account.name_commitment`` is the suite hash of a 32-byte
salt and the UTF-8 name (``jinqiao.core.names.name_commitment``). The registering organization
keeps the name and the salt (``jinqiao.credit.names``) and gives them to whom it chooses, who
checks them against the chain. Names already public elsewhere — the accounts of the genesis
document, a new organization's first admin and the validators named in governance proposals —
are committed with the all-zero salt (``PUBLISHED_NAME_SALT``), so anyone can check them.
Organizations keep their names in clear: institutions are not personal data (docs/adr/0029).

Invariants: ``admins/<id>`` equals the number of active ``admin`` accounts of ``id`` and is at
least 1 for every organization that has one (suspending or de-roling the last active admin is
refused ``last_admin``); ``active_organizations`` equals the number of active organizations and
never drops to 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from jinqiao.core.codec import CanonicalStruct
from jinqiao.core.crypto import CryptoSuite
from jinqiao.core.errors import InvalidInput
from jinqiao.core.genesis import ADMIN_ROLE, IDENTIFIER
from jinqiao.core.limits import (
    MAX_AMOUNT_RULES,
    MAX_APPROVAL_BLOCKS,
    MAX_NAME_LENGTH,
    MAX_POLICY_KEYS,
    MAX_POLICY_WEIGHT,
    MAX_REVOKED_KEYS,
)
from jinqiao.core.names import (
    NAME_SALT_BYTES,
    PUBLISHED_NAME_SALT,
    name_commitment,
    name_problem,
)
from jinqiao.core.types import ADDRESS_BYTES, HASH_BYTES
from jinqiao.execution.api import (
    CONTRACT_ROLE,
    GOVERNANCE,
    REGISTRY,
    Account,
    AmountRule,
    Context,
    Contract,
    GenesisContext,
    Organization,
    PolicyKey,
    SigningPolicy,
    account_key,
    implicit_policy,
    method,
    organization_key,
    policy_key,
    query,
)

ADMIN_COUNT_PREFIX = b"admins/"
APPROVAL_PREFIX = b"approval/"
ACTIVE_ORGANIZATIONS_KEY = b"active_organizations"
MAX_ROLES = 16
VALIDATOR_ROLE = "validator"
RESERVED_ROLES = frozenset({CONTRACT_ROLE})


def admin_count_key(organization_id: str) -> bytes:
    return ADMIN_COUNT_PREFIX + organization_id.encode()


# -- arguments ------------------------------------------------------------------------------


class RegisterAccountArgs(CanonicalStruct, frozen=True):
    """Register an account in the sender's organization. The address is derived from the key;
    the name travels only as its commitment (``registration`` builds these arguments)."""

    public_key: bytes
    name_commitment: bytes
    roles: tuple[str, ...]


def registration(
    suite: CryptoSuite, public_key: bytes, name: str, roles: Iterable[str], salt: bytes
) -> RegisterAccountArgs:
    """The arguments registering ``name`` under a fresh random ``salt`` (32 bytes) that the
    organization keeps with the name. The name is checked here, on the member's side, since the
    contract never sees it: ``InvalidInput`` (``invalid_name``) says what to change."""
    problem = name_problem(name)
    if problem is not None:
        raise InvalidInput(f"name {problem}", code="invalid_name")
    if len(salt) != NAME_SALT_BYTES:
        raise InvalidInput(f"a name salt is {NAME_SALT_BYTES} bytes", code="invalid_name_salt")
    return RegisterAccountArgs(public_key, name_commitment(suite.hash, salt, name), tuple(roles))


def published_name_commitment(suite: CryptoSuite, name: str) -> bytes:
    """The commitment of a name that is public anyway (genesis, governance proposals)."""
    return name_commitment(suite.hash, PUBLISHED_NAME_SALT, name)


class AccountArgs(CanonicalStruct, frozen=True):
    """Names one account by its 20-byte address."""

    address: bytes


class SetPolicyArgs(CanonicalStruct, frozen=True):
    """Replace the sender's own signing policy (keys, threshold, amount rules)."""

    keys: tuple[PolicyKey, ...]
    threshold: int
    amount_rules: tuple[AmountRule, ...]


class RotateKeyArgs(CanonicalStruct, frozen=True):
    """Replace one key of the sender's policy by a new one with the same weight."""

    old_public_key: bytes
    new_public_key: bytes


class KeyArgs(CanonicalStruct, frozen=True):
    public_key: bytes


class RecoverAccountArgs(CanonicalStruct, frozen=True):
    """A new policy for an account whose keys are lost (the governance contract only)."""

    address: bytes
    keys: tuple[PolicyKey, ...]
    threshold: int


class ProposeTransactionArgs(CanonicalStruct, frozen=True):
    """A call of the sender's to collect signatures for on chain, until ``expires_at_height``."""

    contract: str
    method: str
    args: bytes
    expires_at_height: int


class ApprovalArgs(CanonicalStruct, frozen=True):
    """Names a pending approval by the hash of the transaction that proposed it."""

    approval_hash: bytes


class PendingApproval(CanonicalStruct, frozen=True):
    account: bytes
    contract: str
    method: str
    args: bytes
    expires_at_height: int
    signers: tuple[bytes, ...]


def approval_key(approval_hash: bytes) -> bytes:
    return APPROVAL_PREFIX + approval_hash


class SetAccountRolesArgs(CanonicalStruct, frozen=True):
    """Replace an account's roles."""

    address: bytes
    roles: tuple[str, ...]


class OrganizationArgs(CanonicalStruct, frozen=True):
    """Names one organization by its id."""

    id: str


class AddOrganizationArgs(CanonicalStruct, frozen=True):
    """A new organization and its first admin account (governance only)."""

    id: str
    name: str
    roles: tuple[str, ...]
    admin_public_key: bytes
    admin_name: str


class ValidatorAccountArgs(CanonicalStruct, frozen=True):
    """A validator's key as an account of its organization (governance only)."""

    public_key: bytes
    organization: str
    name: str


# -- checks shared with governance -----------------------------------------------------------


def normalize_roles(roles: Iterable[str]) -> tuple[str, ...]:
    """Roles as stored: sorted, each once."""
    return tuple(sorted(set(roles)))


def check_name(ctx: Context, name: str, field: str) -> None:
    """A display name: printable NFC text of 1..``MAX_NAME_LENGTH`` characters (core.names)."""
    problem = name_problem(name)
    if problem is not None:
        ctx.reject("invalid_name", f"{field} {problem}", field=field)


def check_name_commitment(ctx: Context, commitment: bytes) -> None:
    """A name commitment is one suite hash long."""
    if len(commitment) != HASH_BYTES:
        ctx.reject(
            "invalid_name_commitment",
            f"name_commitment must be {HASH_BYTES} bytes",
            length=len(commitment),
        )


def check_roles(ctx: Context, roles: tuple[str, ...]) -> None:
    """Roles must be distinct identifiers, at most ``MAX_ROLES``, none reserved."""
    if len(roles) > MAX_ROLES:
        ctx.reject("invalid_roles", f"at most {MAX_ROLES} roles", count=len(roles))
    for role in roles:
        if not IDENTIFIER.fullmatch(role):
            ctx.reject("invalid_roles", f"role {role[:MAX_NAME_LENGTH]!r} is not an identifier")
        if role in RESERVED_ROLES:
            ctx.reject("role_not_allowed", f"role {role!r} is reserved", role=role)
    if len(set(roles)) != len(roles):
        ctx.reject("invalid_roles", "a role appears twice")


def check_public_key(ctx: Context, public_key: bytes) -> bytes:
    """Check a public key for the network's suite (length, and for SM2 a point on the curve)
    and return its address."""
    suite = ctx.suite
    try:
        suite.check_public_key(public_key)
    except InvalidInput as exc:
        ctx.reject("invalid_public_key", exc.message, length=len(public_key))
    return suite.address(public_key)


def check_policy(ctx: Context, policy: SigningPolicy) -> None:
    """A signing policy that can be satisfied and is within its limits: 1 to
    ``MAX_POLICY_KEYS`` distinct valid keys, none revoked, weights 1..``MAX_POLICY_WEIGHT``, a
    threshold from 1 to the sum of the weights, at most ``MAX_AMOUNT_RULES`` amount rules (an
    asset symbol of 1 to ``MAX_NAME_LENGTH`` characters, a positive minimum, a valid key) and at
    most ``MAX_REVOKED_KEYS`` revoked keys."""
    problem = _policy_problem(ctx, policy)
    if problem is not None:
        ctx.reject("invalid_policy", problem)


def _policy_problem(ctx: Context, policy: SigningPolicy) -> str | None:
    if not 1 <= len(policy.keys) <= MAX_POLICY_KEYS:
        return f"a policy has 1 to {MAX_POLICY_KEYS} keys"
    public_keys = [key.public_key for key in policy.keys]
    if len(set(public_keys)) != len(public_keys):
        return "a key appears twice"
    if len(policy.revoked) > MAX_REVOKED_KEYS:
        return f"more than {MAX_REVOKED_KEYS} revoked keys: recover the account instead"
    if set(public_keys) & set(policy.revoked):
        return "a revoked key cannot return to the policy"
    if any(not 1 <= key.weight <= MAX_POLICY_WEIGHT for key in policy.keys):
        return f"weights are 1 to {MAX_POLICY_WEIGHT}"
    total = sum(key.weight for key in policy.keys)
    if not 1 <= policy.threshold <= total:
        return f"the threshold must be 1 to the keys' total weight {total}"
    if len(policy.amount_rules) > MAX_AMOUNT_RULES:
        return f"at most {MAX_AMOUNT_RULES} amount rules"
    for rule in policy.amount_rules:
        if not 1 <= len(rule.asset) <= MAX_NAME_LENGTH or rule.min_amount < 1:
            return "an amount rule needs an asset symbol and a positive minimum amount"
    for public_key in [*public_keys, *(rule.public_key for rule in policy.amount_rules)]:
        try:
            ctx.suite.check_public_key(public_key)
        except InvalidInput as exc:
            return f"invalid key: {exc.message}"
    return None


def check_address(ctx: Context, address: bytes, field: str = "address") -> None:
    if len(address) != ADDRESS_BYTES:
        ctx.reject("invalid_address", f"{field} must be {ADDRESS_BYTES} bytes", field=field)


def check_organization_id(ctx: Context, organization_id: str) -> None:
    if not IDENTIFIER.fullmatch(organization_id):
        ctx.reject(
            "invalid_organization_id",
            f"{organization_id[:MAX_NAME_LENGTH]!r} is not an identifier",
        )


def check_new_organization(ctx: Context, args: AddOrganizationArgs) -> bytes:
    """Every check ``add_organization`` makes; returns the admin's address. Governance runs it
    when a proposal is made, so a proposal that could never execute is refused at once."""
    check_organization_id(ctx, args.id)
    check_name(ctx, args.name, "name")
    check_roles(ctx, args.roles)
    check_name(ctx, args.admin_name, "admin_name")
    address = check_public_key(ctx, args.admin_public_key)
    if ctx.organization_record(args.id) is not None:
        ctx.reject("organization_exists", f"organization {args.id!r} exists", id=args.id)
    if ctx.account(address) is not None:
        ctx.reject("account_exists", "an account with this key exists", address=address.hex())
    return address


def load_organization(ctx: Context, organization_id: str) -> Organization:
    """The organization ``organization_id`` or the rejection ``unknown_organization``."""
    check_organization_id(ctx, organization_id)
    organization = ctx.organization_record(organization_id)
    if organization is None:
        ctx.reject(
            "unknown_organization",
            f"no organization {organization_id!r}",
            id=organization_id,
        )
    return organization


def active_organization_count(ctx: Context) -> int:
    return ctx.read(REGISTRY, ACTIVE_ORGANIZATIONS_KEY, int) or 0


def governance_address(ctx: Context) -> bytes:
    return ctx.contract_address(GOVERNANCE)


# -- the contract --------------------------------------------------------------------------


class Registry(Contract):
    """Organizations and accounts. See the module docstring for the state layout."""

    name = REGISTRY

    def genesis(self, ctx: GenesisContext, config: Mapping[str, Any]) -> None:
        if config:
            raise InvalidInput("the registry takes no genesis configuration")
        genesis = ctx.genesis
        suite = genesis.suite
        for organization in genesis.organizations:
            roles = normalize_roles(organization.roles)
            if RESERVED_ROLES.intersection(roles):
                raise InvalidInput(f"organization {organization.id}: role 'contract' is reserved")
            ctx.state.save(
                organization_key(organization.id),
                Organization(organization.id, organization.name, roles, True),
            )
        ctx.state.save_int(ACTIVE_ORGANIZATIONS_KEY, len(genesis.organizations))
        admins: dict[str, int] = {}
        for account in genesis.accounts:
            roles = normalize_roles(account.roles)
            if RESERVED_ROLES.intersection(roles):
                raise InvalidInput(f"account {account.name!r}: role 'contract' is reserved")
            public_key = bytes.fromhex(account.public_key)
            address = suite.address(public_key)
            committed = published_name_commitment(suite, account.name)
            ctx.state.save(
                account_key(address),
                Account(address, public_key, account.organization, committed, roles, True),
            )
            if ADMIN_ROLE in roles:
                admins[account.organization] = admins.get(account.organization, 0) + 1
        for organization_id in sorted(admins):
            ctx.state.save_int(admin_count_key(organization_id), admins[organization_id])
        # Each genesis validator's key is also an account of its organization (role
        # ``validator``), so a validator node can sign the transactions only validators send,
        # such as equivocation evidence.
        for validator in genesis.validators:
            public_key = bytes.fromhex(validator.public_key)
            address = suite.address(public_key)
            if ctx.state.get(account_key(address)) is None:
                ctx.state.save(
                    account_key(address),
                    Account(
                        address,
                        public_key,
                        validator.organization,
                        published_name_commitment(suite, validator.name),
                        (VALIDATOR_ROLE,),
                        True,
                    ),
                )

    # -- accounts, by an organization's admin ---------------------------------------------

    @method(RegisterAccountArgs, roles=(ADMIN_ROLE,))
    def register_account(self, ctx: Context, args: RegisterAccountArgs) -> None:
        check_name_commitment(ctx, args.name_commitment)
        check_roles(ctx, args.roles)
        organization = load_organization(ctx, ctx.organization)
        allowed = {*organization.roles, ADMIN_ROLE}
        for role in args.roles:
            if role not in allowed:
                ctx.reject(
                    "role_not_allowed",
                    f"organization {organization.id} cannot grant role {role!r}",
                    role=role,
                )
        address = check_public_key(ctx, args.public_key)
        if ctx.state.get(account_key(address)) is not None:
            ctx.reject("account_exists", "an account with this key exists", address=address.hex())
        roles = normalize_roles(args.roles)
        account = Account(
            address, args.public_key, organization.id, args.name_commitment, roles, True
        )
        ctx.state.save(account_key(address), account)
        if ADMIN_ROLE in roles:
            self._add_admins(ctx, organization.id, 1)
        ctx.emit(
            "AccountRegistered",
            address=address,
            organization=organization.id,
            name_commitment=args.name_commitment,
            roles=",".join(roles),
        )

    @method(AccountArgs, roles=(ADMIN_ROLE,))
    def suspend_account(self, ctx: Context, args: AccountArgs) -> None:
        account = self._own_account(ctx, args.address)
        if not account.active:
            ctx.reject("already_suspended", "the account is suspended", address=args.address.hex())
        if ADMIN_ROLE in account.roles:
            self._add_admins(ctx, account.organization, -1)
        ctx.state.save(account_key(account.address), msgspec.structs.replace(account, active=False))
        ctx.emit("AccountSuspended", address=account.address, organization=account.organization)

    @method(AccountArgs, roles=(ADMIN_ROLE,))
    def reactivate_account(self, ctx: Context, args: AccountArgs) -> None:
        account = self._own_account(ctx, args.address)
        if account.active:
            ctx.reject("already_active", "the account is active", address=args.address.hex())
        if ADMIN_ROLE in account.roles:
            self._add_admins(ctx, account.organization, 1)
        ctx.state.save(account_key(account.address), msgspec.structs.replace(account, active=True))
        ctx.emit("AccountReactivated", address=account.address, organization=account.organization)

    @method(SetAccountRolesArgs, roles=(ADMIN_ROLE,))
    def set_account_roles(self, ctx: Context, args: SetAccountRolesArgs) -> None:
        check_roles(ctx, args.roles)
        account = self._own_account(ctx, args.address)
        organization = load_organization(ctx, account.organization)
        allowed = {*organization.roles, ADMIN_ROLE}
        for role in args.roles:
            if role not in allowed:
                ctx.reject(
                    "role_not_allowed",
                    f"organization {organization.id} cannot grant role {role!r}",
                    role=role,
                )
        roles = normalize_roles(args.roles)
        was_admin = ADMIN_ROLE in account.roles
        is_admin = ADMIN_ROLE in roles
        if account.active and was_admin != is_admin:
            self._add_admins(ctx, account.organization, 1 if is_admin else -1)
        ctx.state.save(account_key(account.address), msgspec.structs.replace(account, roles=roles))
        ctx.emit(
            "AccountRolesChanged",
            address=account.address,
            organization=account.organization,
            roles=",".join(roles),
        )

    # -- organizations, by the governance contract only -----------------------------------

    @method(AddOrganizationArgs, roles=(CONTRACT_ROLE,))
    def add_organization(self, ctx: Context, args: AddOrganizationArgs) -> None:
        self._require_governance(ctx)
        address = check_new_organization(ctx, args)
        roles = normalize_roles(args.roles)
        ctx.state.save(organization_key(args.id), Organization(args.id, args.name, roles, True))
        ctx.state.save_int(ACTIVE_ORGANIZATIONS_KEY, active_organization_count(ctx) + 1)
        committed = published_name_commitment(ctx.suite, args.admin_name)
        admin = Account(address, args.admin_public_key, args.id, committed, (ADMIN_ROLE,), True)
        ctx.state.save(account_key(address), admin)
        ctx.state.save_int(admin_count_key(args.id), 1)
        ctx.emit(
            "OrganizationAdded", id=args.id, organization_name=args.name, roles=",".join(roles)
        )
        ctx.emit(
            "AccountRegistered",
            address=address,
            organization=args.id,
            name_commitment=committed,
            roles=ADMIN_ROLE,
        )

    @method(OrganizationArgs, roles=(CONTRACT_ROLE,))
    def suspend_organization(self, ctx: Context, args: OrganizationArgs) -> None:
        self._require_governance(ctx)
        organization = load_organization(ctx, args.id)
        if not organization.active:
            ctx.reject("already_suspended", f"organization {args.id!r} is suspended", id=args.id)
        active = active_organization_count(ctx)
        if active <= 1:
            ctx.reject("last_organization", "the last active organization cannot be suspended")
        ctx.state.save(
            organization_key(args.id), msgspec.structs.replace(organization, active=False)
        )
        ctx.state.save_int(ACTIVE_ORGANIZATIONS_KEY, active - 1)
        ctx.emit("OrganizationSuspended", id=args.id)

    @method(ValidatorAccountArgs, roles=(CONTRACT_ROLE,))
    def add_validator_account(self, ctx: Context, args: ValidatorAccountArgs) -> None:
        """A validator added by governance gets what a genesis validator has: its key as an
        active account of its organization with role ``validator`` (for evidence reports)."""
        self._require_governance(ctx)
        address = check_public_key(ctx, args.public_key)
        existing = ctx.state.load(account_key(address), Account)
        if existing is None:
            committed = published_name_commitment(ctx.suite, args.name)
            account = Account(
                address, args.public_key, args.organization, committed, (VALIDATOR_ROLE,), True
            )
        elif existing.organization != args.organization:
            ctx.reject(
                "account_in_other_organization",
                f"this key is an account of organization {existing.organization}",
                address=address.hex(),
            )
        else:
            if existing.active:
                account = existing
            else:
                if ADMIN_ROLE in existing.roles:
                    self._add_admins(ctx, existing.organization, 1)
                account = msgspec.structs.replace(existing, active=True)
            account = msgspec.structs.replace(
                account, roles=normalize_roles((*account.roles, VALIDATOR_ROLE))
            )
        ctx.state.save(account_key(address), account)
        ctx.emit(
            "AccountRegistered",
            address=address,
            organization=args.organization,
            name_commitment=account.name_commitment,
            roles=",".join(account.roles),
        )

    # -- signing policies, by the account itself under its current policy ------------------

    @method(SetPolicyArgs)
    def set_policy(self, ctx: Context, args: SetPolicyArgs) -> None:
        current = self._policy(ctx, ctx.sender)
        policy = SigningPolicy(args.keys, args.threshold, args.amount_rules, current.revoked)
        self._save_policy(ctx, policy)
        ctx.emit(
            "PolicySet",
            address=ctx.sender,
            keys=len(policy.keys),
            threshold=policy.threshold,
            amount_rules=len(policy.amount_rules),
        )

    @method(RotateKeyArgs)
    def rotate_key(self, ctx: Context, args: RotateKeyArgs) -> None:
        current = self._policy(ctx, ctx.sender)
        weight = current.weight_of(args.old_public_key)
        if weight == 0:
            ctx.reject("key_not_in_policy", "the key to rotate out is not in the policy")
        keys = tuple(
            PolicyKey(args.new_public_key, weight) if key.public_key == args.old_public_key else key
            for key in current.keys
        )
        revoked = (*current.revoked, args.old_public_key)
        self._save_policy(
            ctx, SigningPolicy(keys, current.threshold, current.amount_rules, revoked)
        )
        ctx.emit(
            "KeyRotated",
            address=ctx.sender,
            old_public_key=args.old_public_key,
            new_public_key=args.new_public_key,
        )

    @method(KeyArgs)
    def revoke_key(self, ctx: Context, args: KeyArgs) -> None:
        current = self._policy(ctx, ctx.sender)
        if current.weight_of(args.public_key) == 0:
            ctx.reject("key_not_in_policy", "the key to revoke is not in the policy")
        keys = tuple(key for key in current.keys if key.public_key != args.public_key)
        revoked = (*current.revoked, args.public_key)
        self._save_policy(
            ctx, SigningPolicy(keys, current.threshold, current.amount_rules, revoked)
        )
        ctx.emit("KeyRevoked", address=ctx.sender, public_key=args.public_key)

    @method(RecoverAccountArgs, roles=(CONTRACT_ROLE,))
    def recover_account(self, ctx: Context, args: RecoverAccountArgs) -> None:
        """Governance's ``recover_account`` action: the old policy's keys are all revoked (the
        newest ``MAX_REVOKED_KEYS`` revoked keys are remembered), its amount rules kept."""
        self._require_governance(ctx)
        check_address(ctx, args.address)
        current = self._policy(ctx, args.address)
        lost = tuple(
            key.public_key for key in current.keys if key.public_key not in current.revoked
        )
        revoked = (*current.revoked, *lost)[-MAX_REVOKED_KEYS:]
        policy = SigningPolicy(args.keys, args.threshold, current.amount_rules, revoked)
        self._save_policy(ctx, policy, args.address)
        ctx.emit(
            "AccountRecovered", address=args.address, keys=len(args.keys), threshold=args.threshold
        )

    # -- pending approvals: signatures collected on chain, one key per transaction -----------

    @method(ProposeTransactionArgs)
    def propose_transaction(self, ctx: Context, args: ProposeTransactionArgs) -> bytes:
        if not ctx.height <= args.expires_at_height <= ctx.height + MAX_APPROVAL_BLOCKS:
            ctx.reject(
                "invalid_expiry",
                f"expires_at_height must be {ctx.height}..{ctx.height + MAX_APPROVAL_BLOCKS}",
            )
        approval = PendingApproval(
            ctx.sender,
            args.contract,
            args.method,
            args.args,
            args.expires_at_height,
            (ctx.signing_key,),
        )
        ctx.emit(
            "ApprovalProposed",
            approval_hash=ctx.transaction_hash,
            address=ctx.sender,
            contract=args.contract,
            method=args.method,
            expires_at_height=args.expires_at_height,
        )
        self._advance_approval(ctx, ctx.transaction_hash, approval)
        return ctx.transaction_hash

    @method(ApprovalArgs)
    def approve_transaction(self, ctx: Context, args: ApprovalArgs) -> None:
        approval = ctx.state.load(approval_key(args.approval_hash), PendingApproval)
        if approval is None or approval.account != ctx.sender:
            ctx.reject("unknown_approval", "no pending approval of the sender with this hash")
        if ctx.height > approval.expires_at_height:
            ctx.reject(
                "approval_expired",
                f"the approval expired at height {approval.expires_at_height}",
            )
        if ctx.signing_key in approval.signers:
            ctx.reject("duplicate_cosignature", "this key already signed the approval")
        signed = msgspec.structs.replace(approval, signers=(*approval.signers, ctx.signing_key))
        ctx.emit("ApprovalSigned", approval_hash=args.approval_hash, public_key=ctx.signing_key)
        self._advance_approval(ctx, args.approval_hash, signed)

    def _advance_approval(
        self, ctx: Context, approval_hash: bytes, approval: PendingApproval
    ) -> None:
        """Run the approved call when its signers satisfy the policy, else keep waiting."""
        result = ctx.call_approved(
            approval.account, approval.contract, approval.method, approval.args, approval.signers
        )
        if result is None:
            ctx.state.save(approval_key(approval_hash), approval)
            return
        ctx.state.delete(approval_key(approval_hash))
        ctx.emit("ApprovalExecuted", approval_hash=approval_hash, address=approval.account)

    # -- queries ---------------------------------------------------------------------------

    @query(ApprovalArgs)
    def approval(self, ctx: Context, args: ApprovalArgs) -> PendingApproval:
        approval = ctx.state.load(approval_key(args.approval_hash), PendingApproval)
        if approval is None:
            ctx.reject("unknown_approval", "no pending approval with this hash")
        return approval

    @query(AccountArgs)
    def policy(self, ctx: Context, args: AccountArgs) -> SigningPolicy:
        """The account's signing policy, the implicit one when it set none."""
        check_address(ctx, args.address)
        return self._policy(ctx, args.address)

    @query(AccountArgs)
    def account(self, ctx: Context, args: AccountArgs) -> Account:
        check_address(ctx, args.address)
        account = ctx.state.load(account_key(args.address), Account)
        if account is None:
            ctx.reject("unknown_account", "no such account", address=args.address.hex())
        return account

    @query(OrganizationArgs)
    def organization(self, ctx: Context, args: OrganizationArgs) -> Organization:
        return load_organization(ctx, args.id)

    # -- helpers ---------------------------------------------------------------------------

    def _own_account(self, ctx: Context, address: bytes) -> Account:
        """The account at ``address``, which must belong to the sender's organization."""
        check_address(ctx, address)
        account = ctx.state.load(account_key(address), Account)
        if account is None:
            ctx.reject("unknown_account", "no such account", address=address.hex())
        if account.organization != ctx.organization:
            ctx.reject(
                "not_your_organization",
                "an admin manages only the accounts of its own organization",
                address=address.hex(),
            )
        return account

    def _policy(self, ctx: Context, address: bytes) -> SigningPolicy:
        account = ctx.state.load(account_key(address), Account)
        if account is None:
            ctx.reject("unknown_account", "no such account", address=address.hex())
        policy = ctx.state.load(policy_key(address), SigningPolicy)
        return implicit_policy(account) if policy is None else policy

    def _save_policy(
        self, ctx: Context, policy: SigningPolicy, address: bytes | None = None
    ) -> None:
        """Check ``policy`` (``invalid_policy`` names the first problem) and save it as the
        policy of ``address`` (default: the sender)."""
        check_policy(ctx, policy)
        ctx.state.save(policy_key(ctx.sender if address is None else address), policy)

    def _add_admins(self, ctx: Context, organization_id: str, delta: int) -> None:
        key = admin_count_key(organization_id)
        count = ctx.state.load_int(key) + delta
        if count < 1:
            ctx.reject(
                "last_admin",
                f"this would leave organization {organization_id} without an active admin",
                organization=organization_id,
            )
        ctx.state.save_int(key, count)

    def _require_governance(self, ctx: Context) -> None:
        if ctx.sender != governance_address(ctx):
            ctx.reject("unauthorized", "only the governance contract may do this")
