"""The governance contract: chain parameters, the validator set, and the proposals of member
organizations that change them, or add and remove organizations.

How a proposal goes:

1. An admin of an active organization calls ``propose`` with one action (a tagged union,
   ``ProposalAction``). The action is checked at once, so a proposal that could never execute is
   refused. The proposer's organization counts as its first approval. The proposal expires after
   ``ChainParameters.proposal_lifetime_blocks``: it may be approved up to and including height
   ``expires_height``.
2. Admins of other organizations call ``approve``. One vote per *organization*: a second admin of
   an organization that already approved is refused ``already_approved``.
3. After every vote (the proposer's included) the quorum rule is evaluated, and if it holds the
   action executes in that same transaction and the proposal is marked executed. The rule
   (``quorum_reached``), with ``a`` the number of approving organizations that are still active,
   ``n`` the number of active organizations and ``p/q`` the quorum fraction from the chain
   parameters (default 2/3)::

       a * q >= p * n

   So with 3 organizations, 2 approvals suffice; with 4, 3 are needed; with 1, its own proposal
   executes at once. Approvals of organizations suspended since they voted do not count.
4. If execution is refused (the state changed since the proposal, e.g. the organization now
   exists), the approving transaction is rejected with that code and nothing changes; the
   proposer may ``withdraw`` the proposal.

Validator sets are kept sorted by address, hold 1..``MAX_VALIDATORS`` validators of active
organizations, each with power 1..``MAX_VALIDATOR_POWER``. A parameter change is applied to the
current ``ChainParameters`` and the result must pass ``ChainParameters.check``. Changes written
in a block take effect for the runtime from the next block. A ``call_contract`` action calls a
method of another contract as the governance contract (role ``contract``) when it executes: the
way a contract's settings that need the consortium's approval change (the payments contract's
fee schedules, for one); the method and its arguments are checked when it is proposed.
``set_aml_parameter``, ``deny_party`` and ``allow_party`` change the anti-money-laundering
parameters and the consortium deny list (``jinqiao.apps.aml``; docs/aml.md): checked when
proposed and again when they execute.

State layout (namespace ``governance``; the full key is ``b"governance/" + key``):

==============================  =================================================================
key                             value
==============================  =================================================================
``parameters``                  ``ChainParameters`` (msgpack map; read by the runtime)
``validators``                  ``ValidatorSet``, sorted by address
``proposal/<id>``               ``Proposal``; ``id`` as 8 bytes big-endian
``next_proposal_id``            ``int``: the id the next proposal gets (absent means 1)
``aml_parameters``              ``AmlParameters`` (absent: the defaults; ``jinqiao.apps.aml``)
``denied/…``, ``denied_count``  the deny list and its size (``jinqiao.apps.aml``)
==============================  =================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from jinqiao.apps.aml import (
    AML_PARAMETER_NAMES,
    AML_PARAMETERS_KEY,
    DENIED_COUNT_KEY,
    MAX_REASON_LENGTH,
    AmlParameters,
    DeniedParty,
    denied_key,
    load_aml_parameters,
    party_problem,
)
from jinqiao.apps.registry import (
    AddOrganizationArgs,
    OrganizationArgs,
    RecoverAccountArgs,
    ValidatorAccountArgs,
    active_organization_count,
    check_address,
    check_name,
    check_new_organization,
    check_policy,
    check_public_key,
    load_organization,
)
from jinqiao.core.codec import CanonicalStruct
from jinqiao.core.errors import InvalidInput
from jinqiao.core.genesis import ADMIN_ROLE, ChainParameters
from jinqiao.core.limits import MAX_NAME_LENGTH, MAX_VALIDATOR_POWER, MAX_VALIDATORS
from jinqiao.core.types import Validator, ValidatorSet
from jinqiao.execution.api import (
    GOVERNANCE,
    PARAMETERS_KEY,
    PENDING_VALIDATORS_KEY,
    REGISTRY,
    VALIDATOR_CHANGE_DELAY_BLOCKS,
    VALIDATORS_KEY,
    Context,
    Contract,
    GenesisContext,
    PendingValidators,
    PolicyKey,
    SigningPolicy,
    method,
    query,
)

PROPOSAL_PREFIX = b"proposal/"
NEXT_PROPOSAL_ID_KEY = b"next_proposal_id"
MAX_PROPOSAL_ID = 2**64 - 1
MIN_VALIDATOR_POWER = 1

STATUS_OPEN = "open"
STATUS_EXECUTED = "executed"
STATUS_WITHDRAWN = "withdrawn"


def proposal_key(proposal_id: int) -> bytes:
    return PROPOSAL_PREFIX + proposal_id.to_bytes(8, "big")


def quorum_reached(approving: int, active: int, numerator: int, denominator: int) -> bool:
    """Whether ``approving`` of ``active`` organizations meet the quorum ``numerator /
    denominator``: ``approving * denominator >= numerator * active``. Integers only."""
    return active > 0 and approving * denominator >= numerator * active


def sorted_validator_set(validators: tuple[Validator, ...]) -> ValidatorSet:
    """The canonical order of a validator set: by address."""
    return ValidatorSet(tuple(sorted(validators, key=lambda validator: validator.address)))


# -- proposal actions: a tagged union, encoded as [tag, fields...] ---------------------------


class AddOrganization(CanonicalStruct, frozen=True, tag="add_organization"):
    """Add an organization with roles, and its first admin account."""

    id: str
    name: str
    roles: tuple[str, ...]
    admin_public_key: bytes
    admin_name: str


class RemoveOrganization(CanonicalStruct, frozen=True, tag="remove_organization"):
    """Suspend an organization: its accounts can no longer send transactions."""

    id: str


class AddValidator(CanonicalStruct, frozen=True, tag="add_validator"):
    public_key: bytes
    name: str
    organization: str
    power: int


class RemoveValidator(CanonicalStruct, frozen=True, tag="remove_validator"):
    address: bytes


class SetValidatorPower(CanonicalStruct, frozen=True, tag="set_validator_power"):
    address: bytes
    power: int


class ReplaceValidatorKey(CanonicalStruct, frozen=True, tag="replace_validator_key"):
    """Give the validator at ``address`` the consensus key ``public_key`` (so a new address),
    keeping its name, organization and power: proposed by an admin of the validator's own
    organization, in force two heights after the quorum decides (docs/keys.md "Rotation")."""

    address: bytes
    public_key: bytes


class SetParameter(CanonicalStruct, frozen=True, tag="set_parameter"):
    """Set the ``ChainParameters`` field ``name`` to ``value``."""

    name: str
    value: int


class CallContract(CanonicalStruct, frozen=True, tag="call_contract"):
    """Call ``contract.method`` with ``args`` (the canonical bytes of its argument struct) as
    the governance contract: for contract settings that need the consortium's approval, such as
    ``payments.set_fee_schedule``. The method must accept calls from contracts (role
    ``contract``) and should check that the caller is the governance contract."""

    contract: str
    method: str
    args: bytes


class SetAmlParameter(CanonicalStruct, frozen=True, tag="set_aml_parameter"):
    """Set the ``AmlParameters`` field ``name`` to ``value`` (an integer; see docs/aml.md)."""

    name: str
    value: int


class DenyParty(CanonicalStruct, frozen=True, tag="deny_party"):
    """Put a party on the consortium deny list: ``kind`` ``account`` (``party`` the address in
    lowercase hex) or ``organization`` (``party`` its id). Token moves to or from it are
    rejected ``party_denied`` from the next transaction on."""

    kind: str
    party: str
    reason: str


class AllowParty(CanonicalStruct, frozen=True, tag="allow_party"):
    """Take a party off the deny list."""

    kind: str
    party: str


class RecoverAccount(CanonicalStruct, frozen=True, tag="recover_account"):
    """Give the account at ``address``, whose keys are lost, a new signing policy: proposed by
    an admin of the account's own organization, executed on the quorum. Every key of its old
    policy is revoked (docs/keys.md "Recovery")."""

    address: bytes
    keys: tuple[PolicyKey, ...]
    threshold: int


AmlAction = SetAmlParameter | DenyParty | AllowParty

ProposalAction = (
    AddOrganization
    | RemoveOrganization
    | AddValidator
    | RemoveValidator
    | SetValidatorPower
    | ReplaceValidatorKey
    | SetParameter
    | CallContract
    | SetAmlParameter
    | DenyParty
    | AllowParty
    | RecoverAccount
)


def action_kind(action: ProposalAction) -> str:
    """The action's tag, e.g. ``"add_validator"``."""
    return str(action.__struct_config__.tag)


# -- arguments and records ------------------------------------------------------------------


class ProposeArgs(CanonicalStruct, frozen=True):
    action: ProposalAction


class ProposalArgs(CanonicalStruct, frozen=True):
    """Names one proposal."""

    proposal_id: int


class NoArgs(CanonicalStruct, frozen=True):
    """For queries without arguments."""


class PartyArgs(CanonicalStruct, frozen=True):
    """Names one party of the deny list (as ``DenyParty`` does)."""

    kind: str
    party: str


class Proposal(CanonicalStruct, frozen=True):
    """A proposal as stored. ``approvals`` are organization ids, sorted. ``status`` is
    ``open``, ``executed`` or ``withdrawn``; an open proposal is expired when the height is
    above ``expires_height``. ``executed_height`` is 0 until it executes."""

    id: int
    action: ProposalAction
    proposer: bytes
    proposer_organization: str
    created_height: int
    expires_height: int
    approvals: tuple[str, ...]
    status: str
    executed_height: int


# -- the contract --------------------------------------------------------------------------


class Governance(Contract):
    """Parameters, validators and proposals. See the module docstring."""

    name = GOVERNANCE

    def genesis(self, ctx: GenesisContext, config: Mapping[str, Any]) -> None:
        if config:
            raise InvalidInput("governance takes no genesis configuration")
        ctx.genesis.parameters.check()
        ctx.state.save(PARAMETERS_KEY, ctx.genesis.parameters)
        validators = ctx.genesis.validator_set().validators
        if not 1 <= len(validators) <= MAX_VALIDATORS:
            raise InvalidInput(f"genesis needs 1..{MAX_VALIDATORS} validators")
        ctx.state.save(VALIDATORS_KEY, sorted_validator_set(validators))

    # -- proposals -------------------------------------------------------------------------

    @method(ProposeArgs, roles=(ADMIN_ROLE,))
    def propose(self, ctx: Context, args: ProposeArgs) -> int:
        """Make a proposal (which the proposer's organization approves); returns its id."""
        self._check_action(ctx, args.action)
        parameters = ctx.parameters()
        proposal_id = ctx.state.load_int(NEXT_PROPOSAL_ID_KEY) or 1
        if proposal_id > MAX_PROPOSAL_ID:
            ctx.reject("too_many_proposals", "proposal ids are exhausted")
        ctx.state.save_int(NEXT_PROPOSAL_ID_KEY, proposal_id + 1)
        proposal = Proposal(
            id=proposal_id,
            action=args.action,
            proposer=ctx.sender,
            proposer_organization=ctx.organization,
            created_height=ctx.height,
            expires_height=ctx.height + parameters.proposal_lifetime_blocks,
            approvals=(ctx.organization,),
            status=STATUS_OPEN,
            executed_height=0,
        )
        ctx.emit(
            "ProposalCreated",
            id=proposal_id,
            kind=action_kind(args.action),
            organization=ctx.organization,
            proposer=ctx.sender,
            expires_height=proposal.expires_height,
        )
        proposal = self._tally(ctx, proposal, parameters)
        ctx.state.save(proposal_key(proposal_id), proposal)
        return proposal_id

    @method(ProposalArgs, roles=(ADMIN_ROLE,))
    def approve(self, ctx: Context, args: ProposalArgs) -> None:
        """Approve for the sender's organization; executes the proposal on reaching quorum."""
        proposal = self._open_proposal(ctx, args.proposal_id)
        if ctx.organization in proposal.approvals:
            ctx.reject(
                "already_approved",
                f"organization {ctx.organization} already approved proposal {proposal.id}",
                id=proposal.id,
            )
        approvals = tuple(sorted((*proposal.approvals, ctx.organization)))
        proposal = msgspec.structs.replace(proposal, approvals=approvals)
        proposal = self._tally(ctx, proposal, ctx.parameters())
        ctx.state.save(proposal_key(proposal.id), proposal)

    @method(ProposalArgs, roles=(ADMIN_ROLE,))
    def withdraw(self, ctx: Context, args: ProposalArgs) -> None:
        """Withdraw an open proposal; only an admin of the proposer's organization may."""
        proposal = self._open_proposal(ctx, args.proposal_id)
        if proposal.proposer_organization != ctx.organization:
            ctx.reject(
                "not_proposer",
                "only the proposing organization may withdraw a proposal",
                id=proposal.id,
            )
        proposal = msgspec.structs.replace(proposal, status=STATUS_WITHDRAWN)
        ctx.state.save(proposal_key(proposal.id), proposal)
        ctx.emit("ProposalWithdrawn", id=proposal.id, organization=ctx.organization)

    # -- queries ---------------------------------------------------------------------------

    @query(ProposalArgs)
    def proposal(self, ctx: Context, args: ProposalArgs) -> Proposal:
        return self._load_proposal(ctx, args.proposal_id)

    @query(NoArgs)
    def parameters(self, ctx: Context, args: NoArgs) -> ChainParameters:
        return ctx.parameters()

    @query(NoArgs)
    def aml_parameters(self, ctx: Context, args: NoArgs) -> AmlParameters:
        """The AML parameters in force (the defaults until governance changes one)."""
        return load_aml_parameters(ctx)

    @query(PartyArgs)
    def denied_party(self, ctx: Context, args: PartyArgs) -> DeniedParty:
        """The deny-list entry of a party, or the rejection ``not_denied``."""
        self._check_party(ctx, args.kind, args.party)
        entry = ctx.state.load(denied_key(args.kind, args.party), DeniedParty)
        if entry is None:
            ctx.reject("not_denied", f"{args.kind} {args.party} is not on the deny list")
        return entry

    @query(NoArgs)
    def validators(self, ctx: Context, args: NoArgs) -> ValidatorSet:
        """The validator set in force (a decided change shows in ``pending_validators``)."""
        validators = ctx.state.load(VALIDATORS_KEY, ValidatorSet)
        if validators is None:
            ctx.reject("no_validator_set", "the validator set is missing from state")
        return validators

    @query(NoArgs)
    def pending_validators(self, ctx: Context, args: NoArgs) -> PendingValidators:
        pending = ctx.state.load(PENDING_VALIDATORS_KEY, PendingValidators)
        if pending is None:
            ctx.reject("no_pending_validators", "no validator-set change is waiting")
        return pending

    # -- proposal helpers --------------------------------------------------------------------

    def _load_proposal(self, ctx: Context, proposal_id: int) -> Proposal:
        proposal = None
        if 0 <= proposal_id <= MAX_PROPOSAL_ID:
            proposal = ctx.state.load(proposal_key(proposal_id), Proposal)
        if proposal is None:
            ctx.reject("unknown_proposal", f"no proposal {proposal_id}", id=proposal_id)
        return proposal

    def _open_proposal(self, ctx: Context, proposal_id: int) -> Proposal:
        proposal = self._load_proposal(ctx, proposal_id)
        if proposal.status != STATUS_OPEN:
            ctx.reject(
                "proposal_closed",
                f"proposal {proposal.id} is {proposal.status}",
                id=proposal.id,
                status=proposal.status,
            )
        if ctx.height > proposal.expires_height:
            ctx.reject(
                "proposal_expired",
                f"proposal {proposal.id} expired at height {proposal.expires_height}",
                id=proposal.id,
                expires_height=proposal.expires_height,
            )
        return proposal

    def _tally(self, ctx: Context, proposal: Proposal, parameters: ChainParameters) -> Proposal:
        """Count the approvals of active organizations; execute the proposal on quorum."""
        approving = 0
        for organization_id in proposal.approvals:
            organization = ctx.organization_record(organization_id)
            if organization is not None and organization.active:
                approving += 1
        active = active_organization_count(ctx)
        ctx.emit(
            "ProposalApproved",
            id=proposal.id,
            organization=ctx.organization,
            approving=approving,
            active=active,
        )
        if not quorum_reached(
            approving,
            active,
            parameters.governance_quorum_numerator,
            parameters.governance_quorum_denominator,
        ):
            return proposal
        self._execute(ctx, proposal.action)
        ctx.emit("ProposalExecuted", id=proposal.id, kind=action_kind(proposal.action))
        return msgspec.structs.replace(proposal, status=STATUS_EXECUTED, executed_height=ctx.height)

    # -- actions -----------------------------------------------------------------------------

    def _check_action(self, ctx: Context, action: ProposalAction) -> None:
        """Refuse an action that could not execute against the current state."""
        if isinstance(action, AddOrganization):
            check_new_organization(ctx, _registry_args(action))
        elif isinstance(action, RemoveOrganization):
            organization = load_organization(ctx, action.id)
            if not organization.active:
                ctx.reject(
                    "already_suspended", f"organization {action.id!r} is suspended", id=action.id
                )
            self._check_no_validators(ctx, action.id)
        elif isinstance(action, SetParameter):
            self._changed_parameters(ctx, action)
        elif isinstance(action, CallContract):
            # The called method's own rules run only when the proposal executes.
            ctx.check_call(action.contract, action.method, action.args)
        elif isinstance(action, SetAmlParameter | DenyParty | AllowParty):
            self._check_aml_action(ctx, action)
        elif isinstance(action, RecoverAccount):
            _check_recovery(ctx, action)
        elif isinstance(action, ReplaceValidatorKey):
            changed = self._changed_validators(ctx, action)
            _check_own_validator(ctx, changed, action)
        else:
            self._changed_validators(ctx, action)

    def _execute(self, ctx: Context, action: ProposalAction) -> None:
        if isinstance(action, AddOrganization):
            ctx.call(REGISTRY, "add_organization", _registry_args(action))
        elif isinstance(action, RemoveOrganization):
            self._check_no_validators(ctx, action.id)
            ctx.call(REGISTRY, "suspend_organization", OrganizationArgs(action.id))
        elif isinstance(action, SetParameter):
            ctx.state.save(PARAMETERS_KEY, self._changed_parameters(ctx, action))
            ctx.emit("ParameterChanged", parameter=action.name, value=action.value)
        elif isinstance(action, CallContract):
            ctx.check_call(action.contract, action.method, action.args)
            ctx.call_encoded(action.contract, action.method, action.args)
        elif isinstance(action, SetAmlParameter | DenyParty | AllowParty):
            self._execute_aml_action(ctx, action)
        elif isinstance(action, RecoverAccount):
            args = RecoverAccountArgs(action.address, action.keys, action.threshold)
            ctx.call(REGISTRY, "recover_account", args)
        else:
            before = self._validator_set(ctx)
            validators = self._changed_validators(ctx, action)
            if isinstance(action, AddValidator):
                ctx.call(
                    REGISTRY,
                    "add_validator_account",
                    ValidatorAccountArgs(action.public_key, action.organization, action.name),
                )
            effective = ctx.height + VALIDATOR_CHANGE_DELAY_BLOCKS
            if isinstance(action, ReplaceValidatorKey):
                _register_replacement(ctx, before, action, effective)
            ctx.state.save(PENDING_VALIDATORS_KEY, PendingValidators(effective, validators))
            ctx.emit(
                "ValidatorSetChanged",
                kind=action_kind(action),
                count=len(validators.validators),
                total_power=validators.total_power(),
                effective_height=effective,
            )

    def _check_no_validators(self, ctx: Context, organization_id: str) -> None:
        """A removed organization must not keep validators: remove them first."""
        names = [
            v.name for v in self._validator_set(ctx).validators if v.organization == organization_id
        ]
        if names:
            ctx.reject(
                "organization_has_validators",
                f"organization {organization_id!r} still runs validators {names}; "
                "remove those first",
                validators=names,
            )

    def _changed_parameters(self, ctx: Context, action: SetParameter) -> ChainParameters:
        current = ctx.parameters()
        names = [field.name for field in msgspec.structs.fields(ChainParameters)]
        if action.name not in names:
            ctx.reject("unknown_parameter", f"no chain parameter {action.name[:64]!r}", known=names)
        changed = msgspec.structs.replace(current, **{action.name: action.value})
        try:
            changed.check()
        except InvalidInput as error:
            ctx.reject("invalid_parameter", error.message, name=action.name, value=action.value)
        return changed

    # -- anti-money-laundering parameters and the deny list -----------------------------------

    def _check_party(self, ctx: Context, kind: str, party: str) -> None:
        problem = party_problem(kind, party)
        if problem is not None:
            ctx.reject("invalid_party", problem, kind=kind[:MAX_NAME_LENGTH])

    def _check_aml_action(self, ctx: Context, action: AmlAction) -> AmlParameters | None:
        """Refuse an AML action that could not execute; the changed parameters for
        ``set_aml_parameter``."""
        if isinstance(action, SetAmlParameter):
            if action.name not in AML_PARAMETER_NAMES:
                ctx.reject(
                    "unknown_aml_parameter",
                    f"no AML parameter {action.name[:MAX_NAME_LENGTH]!r}",
                    known=list(AML_PARAMETER_NAMES),
                )
            changed = msgspec.structs.replace(
                load_aml_parameters(ctx), **{action.name: action.value}
            )
            try:
                changed.check()
            except InvalidInput as error:
                ctx.reject(
                    "invalid_aml_parameter", error.message, name=action.name, value=action.value
                )
            return changed
        self._check_party(ctx, action.kind, action.party)
        listed = ctx.state.load(denied_key(action.kind, action.party), DeniedParty) is not None
        if isinstance(action, DenyParty):
            if not 1 <= len(action.reason) <= MAX_REASON_LENGTH:
                ctx.reject("invalid_reason", f"a reason is 1..{MAX_REASON_LENGTH} characters")
            if listed:
                ctx.reject("already_denied", f"{action.kind} {action.party} is already listed")
        elif not listed:
            ctx.reject("not_denied", f"{action.kind} {action.party} is not on the deny list")
        return None

    def _execute_aml_action(self, ctx: Context, action: AmlAction) -> None:
        changed = self._check_aml_action(ctx, action)
        if isinstance(action, SetAmlParameter):
            ctx.state.save(AML_PARAMETERS_KEY, changed)
            ctx.emit("AmlParameterChanged", parameter=action.name, value=action.value)
            return
        key = denied_key(action.kind, action.party)
        count = ctx.state.load_int(DENIED_COUNT_KEY)
        if isinstance(action, DenyParty):
            entry = DeniedParty(action.kind, action.party, action.reason, ctx.height)
            ctx.state.save(key, entry)
            ctx.state.save_int(DENIED_COUNT_KEY, count + 1)
            ctx.emit("PartyDenied", kind=action.kind, party=action.party, reason=action.reason)
        else:
            ctx.state.delete(key)
            ctx.state.save_int(DENIED_COUNT_KEY, count - 1)
            ctx.emit("PartyAllowed", kind=action.kind, party=action.party)

    def _validator_set(self, ctx: Context) -> ValidatorSet:
        """The newest decided set: the pending one if a change waits, else the one in force
        (so two changes decided close together compose)."""
        pending = ctx.state.load(PENDING_VALIDATORS_KEY, PendingValidators)
        if pending is not None:
            return pending.validators
        validators = ctx.state.load(VALIDATORS_KEY, ValidatorSet)
        if validators is None:
            ctx.reject("no_validator_set", "the validator set is missing from state")
        return validators

    def _changed_validators(
        self,
        ctx: Context,
        action: AddValidator | RemoveValidator | SetValidatorPower | ReplaceValidatorKey,
    ) -> ValidatorSet:
        """The validator set after ``action``, or a rejection."""
        current = self._validator_set(ctx).validators
        if isinstance(action, AddValidator):
            check_name(ctx, action.name, "name")
            _check_power(ctx, action.power)
            organization = load_organization(ctx, action.organization)
            if not organization.active:
                ctx.reject(
                    "organization_suspended",
                    f"organization {organization.id} is suspended",
                    id=organization.id,
                )
            address = _check_new_validator_key(ctx, current, action.public_key, organization.id)
            if len(current) >= MAX_VALIDATORS:
                ctx.reject("too_many_validators", f"at most {MAX_VALIDATORS} validators")
            added = Validator(
                address, action.public_key, action.power, organization.id, action.name
            )
            return sorted_validator_set((*current, added))
        check_address(ctx, action.address)
        if isinstance(action, ReplaceValidatorKey):
            return _replaced_key(ctx, current, action)
        index = _validator_index(ctx, current, action.address)
        if isinstance(action, RemoveValidator):
            if len(current) == 1:
                ctx.reject("last_validator", "the last validator cannot be removed")
            return ValidatorSet(current[:index] + current[index + 1 :])
        _check_power(ctx, action.power)
        changed = msgspec.structs.replace(current[index], power=action.power)
        return ValidatorSet((*current[:index], changed, *current[index + 1 :]))


def _check_new_validator_key(
    ctx: Context, current: tuple[Validator, ...], public_key: bytes, organization_id: str
) -> bytes:
    """A valid key that is no validator's and no account of another organization; its
    address."""
    address = check_public_key(ctx, public_key)
    if any(validator.address == address for validator in current):
        ctx.reject("validator_exists", "this key is a validator", address=address.hex())
    account = ctx.account(address)
    if account is not None and account.organization != organization_id:
        ctx.reject(
            "account_in_other_organization",
            f"this key is an account of organization {account.organization}",
            address=address.hex(),
        )
    return address


def _replaced_key(
    ctx: Context, current: tuple[Validator, ...], action: ReplaceValidatorKey
) -> ValidatorSet:
    """The set with one validator's key (and so its address) replaced, or a rejection: the
    validator exists and the new key is valid, in no validator's hands and no account of
    another organization."""
    old = current[_validator_index(ctx, current, action.address)]
    address = _check_new_validator_key(ctx, current, action.public_key, old.organization)
    replaced = msgspec.structs.replace(old, address=address, public_key=action.public_key)
    others = tuple(validator for validator in current if validator.address != action.address)
    return sorted_validator_set((*others, replaced))


def _check_own_validator(ctx: Context, changed: ValidatorSet, action: ReplaceValidatorKey) -> None:
    """The proposer is an admin of the organization that runs the validator."""
    new = changed.by_address()[ctx.suite.address(action.public_key)]
    if new.organization != ctx.organization:
        ctx.reject(
            "not_your_organization",
            "a validator's key is replaced on the proposal of its own organization's admin",
            address=action.address.hex(),
            organization=new.organization,
        )


def _register_replacement(
    ctx: Context, before: ValidatorSet, action: ReplaceValidatorKey, effective: int
) -> None:
    """The new key becomes an account of the validator's organization with role
    ``validator`` (as an added validator's does), and the event names both addresses."""
    old = before.validators[_validator_index(ctx, before.validators, action.address)]
    ctx.call(
        REGISTRY,
        "add_validator_account",
        ValidatorAccountArgs(action.public_key, old.organization, old.name),
    )
    ctx.emit(
        "ValidatorKeyReplaced",
        name=old.name,
        organization=old.organization,
        old_address=old.address,
        new_address=ctx.suite.address(action.public_key),
        power=old.power,
        effective_height=effective,
    )


def _registry_args(action: AddOrganization) -> AddOrganizationArgs:
    return AddOrganizationArgs(
        action.id, action.name, action.roles, action.admin_public_key, action.admin_name
    )


def _check_recovery(ctx: Context, action: RecoverAccount) -> None:
    """The proposer is an admin of the account's organization, and the new policy is valid."""
    check_address(ctx, action.address)
    account = ctx.account(action.address)
    if account is None:
        ctx.reject("unknown_account", "no such account", address=action.address.hex())
    if account.organization != ctx.organization:
        ctx.reject(
            "not_your_organization",
            "an account is recovered on the proposal of its own organization's admin",
            address=action.address.hex(),
        )
    check_policy(ctx, SigningPolicy(action.keys, action.threshold, (), ()))


def _check_power(ctx: Context, power: int) -> None:
    if not MIN_VALIDATOR_POWER <= power <= MAX_VALIDATOR_POWER:
        ctx.reject(
            "invalid_power",
            f"validator power must be {MIN_VALIDATOR_POWER}..{MAX_VALIDATOR_POWER}",
            power=power,
        )


def _validator_index(ctx: Context, validators: tuple[Validator, ...], address: bytes) -> int:
    for index, validator in enumerate(validators):
        if validator.address == address:
            return index
    ctx.reject("unknown_validator", "no validator with this address", address=address.hex())
