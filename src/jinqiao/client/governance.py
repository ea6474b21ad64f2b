"""SDK of the governance contract (``jinqiao.apps.governance``; docs/guide.md): propose every kind
of action — organizations, validators, chain parameters, fee schedules, contract calls and the
anti-money-laundering ones —, approve, withdraw, and read proposals with the quorum worked out.

Writes return a ``TransactionResult`` (a rejection is a committed receipt with its code, not an
exception); a proposal's is a ``ProposalSubmitted`` carrying the new id. Reads are proven: the
proposal, the quorum fraction, the number of active organizations and each organization's record
come from state proven against one header (``Client.read_struct`` at one height), so "who
approved" and "who is still needed" are what the validators signed, not what a node says.

The contract keeps no index of proposals: ``list`` reads ``proposal/<id>`` for ids 1 up to
``next_proposal_id`` - 1 (both proven). Nor an index of organizations: the members are those of
genesis and those added by executed ``add_organization`` proposals, each record proven, and their
active count is checked against the registry's proven ``active_organizations``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from jinqiao.apps.governance import (
    MAX_PROPOSAL_ID,
    NEXT_PROPOSAL_ID_KEY,
    STATUS_EXECUTED,
    STATUS_OPEN,
    AddOrganization,
    AddValidator,
    AllowParty,
    CallContract,
    DenyParty,
    Proposal,
    ProposalAction,
    ProposalArgs,
    ProposeArgs,
    RemoveOrganization,
    RemoveValidator,
    ReplaceValidatorKey,
    SetAmlParameter,
    SetParameter,
    SetValidatorPower,
    action_kind,
    proposal_key,
)
from jinqiao.apps.registry import ACTIVE_ORGANIZATIONS_KEY
from jinqiao.client.outcome import ClientError
from jinqiao.core.codec import CanonicalStruct, decode, encode
from jinqiao.core.crypto import Signer
from jinqiao.core.errors import InvalidInput
from jinqiao.core.genesis import ChainParameters
from jinqiao.execution.api import (
    GOVERNANCE,
    PARAMETERS_KEY,
    REGISTRY,
    Organization,
    organization_key,
)

if TYPE_CHECKING:
    from jinqiao.apps.payments.model import FeeRule
    from jinqiao.client.client import Client, TransactionResult

MAX_INTEGER_BYTES = 16
MAX_PROPOSALS_PER_LIST = 200
"""The most proposals one ``list`` reads (each one proven read)."""
MAX_PROPOSALS_SCANNED = 10_000
"""The most proposals read to find organizations added by governance (a bound on every loop)."""


@dataclass(frozen=True)
class ProposalSubmitted:
    """A proposal's transaction and the id it got (``None`` when it was rejected)."""

    result: TransactionResult
    proposal_id: int | None


@dataclass(frozen=True)
class ProposalStatus:
    """A proposal with its quorum, proven at block ``height``.

    ``approving``: the approving organizations that are active (the ones that count);
    ``required``: approvals the quorum needs now (``ceil(p * active / q)``); ``still_needed``:
    how many more (0 once executed, withdrawn or expired: it can no longer change);
    ``waiting_for``: the active organizations that have not approved. ``state`` is
    ``executed``, ``withdrawn``, ``expired`` or ``open``."""

    proposal: Proposal
    kind: str
    state: str
    quorum_numerator: int
    quorum_denominator: int
    active_organizations: int
    approving: tuple[str, ...]
    required: int
    still_needed: int
    waiting_for: tuple[str, ...]
    height: int
    verified: bool

    @property
    def executed(self) -> bool:
        return self.proposal.status == STATUS_EXECUTED


@dataclass(frozen=True)
class ProposalList:
    """Proposals ``from_id`` on, proven at ``height``; ``next_id`` is the id the next proposal
    gets, so ``proposals`` are complete up to it when ``len`` did not hit the limit."""

    proposals: tuple[ProposalStatus, ...]
    next_id: int
    height: int
    verified: bool


class GovernanceClient:
    def __init__(self, client: Client) -> None:
        self._client = client

    # -- proposals (writes) ----------------------------------------------------------------
    def propose(self, admin: Signer, action: ProposalAction) -> ProposalSubmitted:
        """Propose ``action`` (an organization admin); the proposer's organization approves."""
        result = self._client.send(admin, GOVERNANCE, "propose", ProposeArgs(action))
        proposal_id = (
            decode(result.receipt.result, int, max_bytes=MAX_INTEGER_BYTES) if result.ok else None
        )
        return ProposalSubmitted(result, proposal_id)

    def propose_add_organization(
        self,
        admin: Signer,
        organization_id: str,
        name: str,
        roles: Sequence[str],
        admin_public_key: bytes,
        admin_name: str,
    ) -> ProposalSubmitted:
        action = AddOrganization(organization_id, name, tuple(roles), admin_public_key, admin_name)
        return self.propose(admin, action)

    def propose_remove_organization(self, admin: Signer, organization_id: str) -> ProposalSubmitted:
        """Suspend an organization (its validators must be removed first)."""
        return self.propose(admin, RemoveOrganization(organization_id))

    def propose_add_validator(
        self, admin: Signer, public_key: bytes, name: str, organization: str, power: int = 1
    ) -> ProposalSubmitted:
        return self.propose(admin, AddValidator(public_key, name, organization, power))

    def propose_remove_validator(self, admin: Signer, address: bytes) -> ProposalSubmitted:
        return self.propose(admin, RemoveValidator(address))

    def propose_replace_validator_key(
        self, admin: Signer, address: bytes, public_key: bytes
    ) -> ProposalSubmitted:
        """Give the validator at ``address`` a new consensus key, keeping its name,
        organization and power (docs/keys.md "Rotation"); ``admin`` is an admin of its
        organization."""
        return self.propose(admin, ReplaceValidatorKey(address, public_key))

    def propose_set_validator_power(
        self, admin: Signer, address: bytes, power: int
    ) -> ProposalSubmitted:
        return self.propose(admin, SetValidatorPower(address, power))

    def propose_set_parameter(self, admin: Signer, name: str, value: int) -> ProposalSubmitted:
        """Change a ``ChainParameters`` field."""
        return self.propose(admin, SetParameter(name, value))

    def propose_contract_call(
        self, admin: Signer, contract: str, method_name: str, args: CanonicalStruct
    ) -> ProposalSubmitted:
        """Call ``contract.method_name`` with ``args`` as the governance contract once approved."""
        return self.propose(admin, CallContract(contract, method_name, encode(args)))

    def propose_fee_schedule(
        self, admin: Signer, currency: str, rules: Sequence[FeeRule]
    ) -> ProposalSubmitted:
        """Replace a currency's payments fee schedule (``payments.set_fee_schedule``)."""
        from jinqiao.apps.payments.model import SetFeeScheduleArgs

        args = SetFeeScheduleArgs(currency, tuple(rules))
        return self.propose_contract_call(admin, "payments", "set_fee_schedule", args)

    def propose_aml_parameter(self, admin: Signer, name: str, value: int) -> ProposalSubmitted:
        return self.propose(admin, SetAmlParameter(name, value))

    def propose_deny_party(
        self, admin: Signer, kind: str, party: str, reason: str
    ) -> ProposalSubmitted:
        return self.propose(admin, DenyParty(kind, party, reason))

    def propose_allow_party(self, admin: Signer, kind: str, party: str) -> ProposalSubmitted:
        return self.propose(admin, AllowParty(kind, party))

    def approve(self, admin: Signer, proposal_id: int) -> TransactionResult:
        """Approve for the admin's organization; the approval that reaches the quorum executes
        the proposal in the same transaction (event ``ProposalExecuted``)."""
        _check_id(proposal_id)
        return self._client.send(admin, GOVERNANCE, "approve", ProposalArgs(proposal_id))

    def withdraw(self, admin: Signer, proposal_id: int) -> TransactionResult:
        _check_id(proposal_id)
        return self._client.send(admin, GOVERNANCE, "withdraw", ProposalArgs(proposal_id))

    # -- proven reads ----------------------------------------------------------------------
    def parameters(self, *, height: int | None = None) -> ChainParameters:
        """The chain parameters in force, proven."""
        parameters = self._client.read_struct(
            GOVERNANCE, PARAMETERS_KEY, ChainParameters, height=height
        )
        if parameters is None:
            raise ClientError("bad_response", "the chain parameters are proven absent")
        return parameters

    def next_proposal_id(self, *, height: int | None = None) -> tuple[int, int]:
        """The id the next proposal gets and the height it was proven at."""
        proven = self._client.read_state(GOVERNANCE, NEXT_PROPOSAL_ID_KEY, height=height)
        next_id = (
            1 if proven.value is None else decode(proven.value, int, max_bytes=MAX_INTEGER_BYTES)
        )
        return next_id, proven.height

    def record(self, proposal_id: int) -> Proposal | None:
        """The stored proposal alone (one proven read, no quorum); ``None`` when proven absent."""
        _check_id(proposal_id)
        return self._client.read_struct(GOVERNANCE, proposal_key(proposal_id), Proposal)

    def proposal(self, proposal_id: int) -> ProposalStatus | None:
        """A proposal with its quorum, proven; ``None`` when it is proven absent (no such id)."""
        _check_id(proposal_id)
        next_id, height = self.next_proposal_id()
        proposal = self._read_proposal(proposal_id, height)
        if proposal is None:
            return None
        _, organizations = self._organizations(next_id, height)
        return self._status(proposal, organizations, height)

    def list(self, *, from_id: int = 1, limit: int = 50) -> ProposalList:
        """Proposals ``from_id`` .. ``from_id + limit - 1`` (at most ``MAX_PROPOSALS_PER_LIST``)
        that exist, with their quorum, all proven at one height."""
        _check_id(from_id)
        if not 1 <= limit <= MAX_PROPOSALS_PER_LIST:
            raise InvalidInput(f"limit is 1..{MAX_PROPOSALS_PER_LIST}", code="invalid_limit")
        next_id, height = self.next_proposal_id()
        proposals, organizations = self._organizations(next_id, height)
        chosen = range(from_id, min(next_id, from_id + limit))
        listed = []
        for proposal_id in chosen:
            proposal = proposals.get(proposal_id) or self._read_proposal(proposal_id, height)
            if proposal is None:
                raise ClientError("bad_response", f"proposal {proposal_id} is proven absent")
            listed.append(self._status(proposal, organizations, height))
        return ProposalList(tuple(listed), next_id, height, self._client.verify)

    # -- helpers ---------------------------------------------------------------------------
    def _read_proposal(self, proposal_id: int, height: int) -> Proposal | None:
        return self._client.read_struct(
            GOVERNANCE, proposal_key(proposal_id), Proposal, height=height
        )

    def _organizations(
        self, next_id: int, height: int
    ) -> tuple[dict[int, Proposal], dict[str, Organization]]:
        """The proposals read on the way and every member organization's proven record: those
        of genesis and those added by executed ``add_organization`` proposals."""
        if next_id - 1 > MAX_PROPOSALS_SCANNED:
            raise ClientError(
                "too_many_proposals",
                f"more than {MAX_PROPOSALS_SCANNED} proposals: organizations cannot be listed",
            )
        proposals: dict[int, Proposal] = {}
        identifiers = [organization.id for organization in self._client.genesis.organizations]
        for proposal_id in range(1, next_id):
            proposal = self._read_proposal(proposal_id, height)
            if proposal is None:
                raise ClientError("bad_response", f"proposal {proposal_id} is proven absent")
            proposals[proposal_id] = proposal
            if proposal.status == STATUS_EXECUTED and isinstance(proposal.action, AddOrganization):
                identifiers.append(proposal.action.id)
        organizations: dict[str, Organization] = {}
        for identifier in sorted(set(identifiers)):
            record = self._client.read_struct(
                REGISTRY, organization_key(identifier), Organization, height=height
            )
            if record is not None:
                organizations[identifier] = record
        active = self._active_count(height)
        if sum(record.active for record in organizations.values()) != active:
            raise ClientError(
                "bad_response",
                f"the registry counts {active} active organizations, the members found differ",
            )
        return proposals, organizations

    def _active_count(self, height: int) -> int:
        proven = self._client.read_state(REGISTRY, ACTIVE_ORGANIZATIONS_KEY, height=height)
        if proven.value is None:
            return 0
        return decode(proven.value, int, max_bytes=MAX_INTEGER_BYTES)

    def _status(
        self, proposal: Proposal, organizations: dict[str, Organization], height: int
    ) -> ProposalStatus:
        parameters = self.parameters(height=height)
        numerator = parameters.governance_quorum_numerator
        denominator = parameters.governance_quorum_denominator
        active = sorted(key for key, record in organizations.items() if record.active)
        approving = tuple(identifier for identifier in proposal.approvals if identifier in active)
        required = -(-numerator * len(active) // denominator)
        state = proposal.status
        if state == STATUS_OPEN and height > proposal.expires_height:
            state = "expired"
        open_ = state == STATUS_OPEN
        return ProposalStatus(
            proposal=proposal,
            kind=action_kind(proposal.action),
            state=state,
            quorum_numerator=numerator,
            quorum_denominator=denominator,
            active_organizations=len(active),
            approving=approving,
            required=required,
            still_needed=max(0, required - len(approving)) if open_ else 0,
            waiting_for=tuple(i for i in active if i not in approving) if open_ else (),
            height=height,
            verified=self._client.verify,
        )


def _check_id(proposal_id: int) -> None:
    if not 0 <= proposal_id <= MAX_PROPOSAL_ID:
        raise InvalidInput(
            f"a proposal id is 1..{MAX_PROPOSAL_ID}, not {proposal_id}", code="unknown_proposal"
        )


__all__ = ["GovernanceClient", "ProposalList", "ProposalStatus", "ProposalSubmitted"]
