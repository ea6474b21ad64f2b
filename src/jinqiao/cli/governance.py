"""``jinqiao tx governance``: proposals, approvals and withdrawals."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from jinqiao.cli.common import (
    JsonOption,
    KeyOption,
    Target,
    fail,
    guarded,
    json_value,
    report,
    send,
    with_submit_target,
    with_target,
)
from jinqiao.client.governance import MAX_PROPOSALS_PER_LIST
from jinqiao.client.outcome import ClientError
from jinqiao.terminal import console, emit_json

if TYPE_CHECKING:
    from jinqiao.apps.governance import ProposalAction
    from jinqiao.client import Client, ProposalStatus

ProposalIdArgument = Annotated[int, typer.Argument(min=0, help="Proposal id.")]


governance_app = typer.Typer(
    help="Governance proposals (organization admins).", no_args_is_help=True
)


def _propose(
    target: Target,
    action: Callable[[Target], ProposalAction],
    what: str,
    key: str,
    json_output: bool,
) -> None:
    """Send a governance proposal and report its id."""
    with target.client() as client:
        submitted = client.governance.propose(target.key(key), action(target))
    if not json_output and submitted.proposal_id is not None:
        console.print(f"proposal [bold]{submitted.proposal_id}[/]: {what}")
    report(submitted.result, json_output, proposal_id=submitted.proposal_id)


@governance_app.command("set-parameter")
@guarded
@with_submit_target
def governance_set_parameter(
    target: Target,
    name: Annotated[str, typer.Argument(help="A chain parameter, e.g. valid_until_window_blocks.")],
    value: Annotated[int, typer.Argument()],
    key: KeyOption,
    aml: Annotated[
        bool, typer.Option("--aml", help="An anti-money-laundering parameter (docs/aml.md).")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Propose a chain parameter change, or with ``--aml`` an anti-money-laundering one
    (executes once a quorum of organizations approves)."""
    from jinqiao.apps.governance import SetAmlParameter, SetParameter

    action = SetAmlParameter(name, value) if aml else SetParameter(name, value)
    what = f"set {'AML ' if aml else ''}{name} = {value}"
    _propose(target, lambda _: action, what, key, json_output)


@governance_app.command("add-validator")
@guarded
@with_submit_target
def governance_add_validator(
    target: Target,
    public_key: Annotated[str, typer.Option(help="The new validator's public key (hex).")],
    name: Annotated[str, typer.Option(help="Its node name (the TLS common name).")],
    organization: Annotated[str, typer.Option(help="The organization that runs it.")],
    key: KeyOption,
    power: Annotated[int, typer.Option(min=1, help="Voting power.")] = 1,
    json_output: JsonOption = False,
) -> None:
    """Propose a new validator; in force two heights after the quorum decides."""
    from jinqiao.apps.governance import AddValidator

    action = AddValidator(_hex(public_key, "--public-key"), name, organization, power)
    what = f"add validator {name} of {organization} with power {power}"
    _propose(target, lambda _: action, what, key, json_output)


@governance_app.command("remove-validator")
@guarded
@with_submit_target
def governance_remove_validator(
    target: Target,
    validator: Annotated[str, typer.Argument(help="Validator address (hex).")],
    key: KeyOption,
    json_output: JsonOption = False,
) -> None:
    """Propose removing a validator; in force two heights after the quorum decides."""
    from jinqiao.apps.governance import RemoveValidator

    _propose(
        target,
        lambda target: RemoveValidator(target.address(validator)),
        f"remove validator {validator}",
        *(key, json_output),
    )


@governance_app.command("set-validator-power")
@guarded
@with_submit_target
def governance_set_validator_power(
    target: Target,
    validator: Annotated[str, typer.Argument(help="Validator address (hex).")],
    power: Annotated[int, typer.Argument(min=1)],
    key: KeyOption,
    json_output: JsonOption = False,
) -> None:
    """Propose a validator's new voting power; in force two heights after the quorum decides."""
    from jinqiao.apps.governance import SetValidatorPower

    _propose(
        target,
        lambda target: SetValidatorPower(target.address(validator), power),
        f"set the power of {validator} to {power}",
        *(key, json_output),
    )


@governance_app.command("replace-validator-key")
@guarded
@with_submit_target
def governance_replace_validator_key(
    target: Target,
    validator: Annotated[str, typer.Argument(help="Validator address (hex).")],
    public_key: Annotated[str, typer.Option(help="The validator's next public key (hex).")],
    key: KeyOption,
    json_output: JsonOption = False,
) -> None:
    """Propose a validator's next consensus key (same name, organization and power); in force
    two heights after the quorum decides. Proposed by an admin of the validator's organization."""
    from jinqiao.apps.governance import ReplaceValidatorKey

    new_key = _hex(public_key, "--public-key")
    _propose(
        target,
        lambda target: ReplaceValidatorKey(target.address(validator), new_key),
        f"replace the key of validator {validator}",
        *(key, json_output),
    )


@governance_app.command("add-organization")
@guarded
@with_submit_target
def governance_add_organization(
    target: Target,
    organization_id: Annotated[str, typer.Argument(help="The new organization's id.")],
    name: Annotated[str, typer.Option(help="Its name.")],
    admin_public_key: Annotated[str, typer.Option(help="Its first admin's public key (hex).")],
    admin_name: Annotated[str, typer.Option(help="Its first admin's account name.")],
    key: KeyOption,
    role: Annotated[list[str] | None, typer.Option(help="A role (repeat for several).")] = None,
    json_output: JsonOption = False,
) -> None:
    """Propose a new member organization with its first admin account."""
    from jinqiao.apps.governance import AddOrganization

    action = AddOrganization(
        organization_id,
        name,
        tuple(role or ()),
        _hex(admin_public_key, "--admin-public-key"),
        admin_name,
    )
    _propose(target, lambda _: action, f"add organization {organization_id}", key, json_output)


@governance_app.command("remove-organization")
@guarded
@with_submit_target
def governance_remove_organization(
    target: Target,
    organization_id: Annotated[str, typer.Argument(help="The organization to suspend.")],
    key: KeyOption,
    json_output: JsonOption = False,
) -> None:
    """Propose suspending an organization (remove its validators first)."""
    from jinqiao.apps.governance import RemoveOrganization

    action = RemoveOrganization(organization_id)
    _propose(target, lambda _: action, f"remove organization {organization_id}", key, json_output)


@governance_app.command("set-fee-schedule")
@guarded
@with_submit_target
def governance_set_fee_schedule(
    target: Target,
    schedule_file: Annotated[
        Path,
        typer.Argument(
            help='A JSON fee schedule: {"currency": "CNY", "rules": [...]}, each rule as in the '
            "payments genesis configuration (docs/payments.md)."
        ),
    ],
    key: KeyOption,
    json_output: JsonOption = False,
) -> None:
    """Propose replacing a currency's payments fee schedule (``payments.set_fee_schedule``)."""
    from jinqiao.apps.governance import CallContract
    from jinqiao.apps.payments.config import load_fee_schedule
    from jinqiao.apps.payments.model import SetFeeScheduleArgs
    from jinqiao.core.codec import encode

    currency, rules = load_fee_schedule(schedule_file.read_bytes())
    action = CallContract(
        "payments", "set_fee_schedule", encode(SetFeeScheduleArgs(currency, rules))
    )
    what = f"set the {currency} fee schedule ({len(rules)} rules)"
    _propose(target, lambda _: action, what, key, json_output)


@governance_app.command("call-contract")
@guarded
@with_submit_target
def governance_call_contract(
    target: Target,
    contract: Annotated[str, typer.Argument(help="The contract to call.")],
    method_name: Annotated[str, typer.Argument(metavar="METHOD", help="Its method.")],
    args_hex: Annotated[
        str, typer.Option("--args-hex", help="The canonical bytes of its arguments (hex).")
    ],
    key: KeyOption,
    json_output: JsonOption = False,
) -> None:
    """Propose calling a contract method as the governance contract once approved."""
    from jinqiao.apps.governance import CallContract

    action = CallContract(contract, method_name, _hex(args_hex, "--args-hex"))
    _propose(target, lambda _: action, f"call {contract}.{method_name}", key, json_output)


@governance_app.command("deny-party")
@guarded
@with_submit_target
def governance_deny_party(
    target: Target,
    kind: Annotated[str, typer.Argument(help="account or organization.")],
    party: Annotated[str, typer.Argument(help="An address (hex) or an organization id.")],
    reason: Annotated[str, typer.Option(help="Why (recorded on chain).")],
    key: KeyOption,
    json_output: JsonOption = False,
) -> None:
    """Propose putting a party on the consortium deny list."""
    from jinqiao.apps.governance import DenyParty

    action = DenyParty(kind, party, reason)
    _propose(target, lambda _: action, f"deny {kind} {party}", key, json_output)


@governance_app.command("allow-party")
@guarded
@with_submit_target
def governance_allow_party(
    target: Target,
    kind: Annotated[str, typer.Argument(help="account or organization.")],
    party: Annotated[str, typer.Argument(help="An address (hex) or an organization id.")],
    key: KeyOption,
    json_output: JsonOption = False,
) -> None:
    """Propose taking a party off the consortium deny list."""
    from jinqiao.apps.governance import AllowParty

    action = AllowParty(kind, party)
    _propose(target, lambda _: action, f"allow {kind} {party}", key, json_output)


def _hex(text: str, option: str) -> bytes:
    try:
        return bytes.fromhex(text)
    except ValueError:
        fail(f"{option} must be hexadecimal")


@governance_app.command("approve")
@guarded
@with_submit_target
def governance_approve(
    target: Target,
    proposal_id: ProposalIdArgument,
    key: KeyOption,
    json_output: JsonOption = False,
) -> None:
    """Approve a proposal for the admin's organization (an unknown id is refused before
    anything is sent)."""
    send(target, json_output, lambda t, c: c.governance.approve(t.key(key), _known(c, proposal_id)))


@governance_app.command("withdraw")
@guarded
@with_submit_target
def governance_withdraw(
    target: Target,
    proposal_id: ProposalIdArgument,
    key: KeyOption,
    json_output: JsonOption = False,
) -> None:
    """Withdraw a proposal of the admin's organization (an unknown id is refused before
    anything is sent)."""
    send(
        target, json_output, lambda t, c: c.governance.withdraw(t.key(key), _known(c, proposal_id))
    )


def _known(client: Client, proposal_id: int) -> int:
    """``proposal_id`` once the proven state shows the proposal exists."""
    if client.governance.record(proposal_id) is None:
        raise ClientError("unknown_proposal", f"no proposal {proposal_id} (nothing sent)")
    return proposal_id


@governance_app.command("show")
@guarded
@with_target
def governance_show(
    target: Target,
    proposal_id: ProposalIdArgument,
    json_output: JsonOption = False,
) -> None:
    """A proposal, proven: its action, who approved, the quorum, who is still needed and
    whether it executed."""
    with target.client() as client:
        status = client.governance.proposal(proposal_id)
    if status is None:
        raise ClientError("unknown_proposal", f"no proposal {proposal_id}")
    view = status_view(status)
    if json_output:
        emit_json({"proposal": view, "height": status.height, "verified": status.verified})
        return
    console.print(_table([status], f"proposal {proposal_id} at height {status.height}"))
    console.print_json(data={"action": view["action"]})


@governance_app.command("list")
@guarded
@with_target
def governance_list(
    target: Target,
    from_id: Annotated[int, typer.Option(min=1, help="The first proposal id.")] = 1,
    limit: Annotated[
        int, typer.Option(min=1, max=MAX_PROPOSALS_PER_LIST, help="How many proposals.")
    ] = 50,
    json_output: JsonOption = False,
) -> None:
    """Proposals by id, proven: kind, state, quorum, who approved and who is still needed."""
    with target.client() as client:
        listed = client.governance.list(from_id=from_id, limit=limit)
    if json_output:
        emit_json(
            {
                "proposals": [status_view(status) for status in listed.proposals],
                "next_id": listed.next_id,
                "height": listed.height,
                "verified": listed.verified,
            }
        )
        return
    console.print(_table(list(listed.proposals), f"proposals at height {listed.height}"))


def status_view(status: ProposalStatus) -> dict[str, Any]:
    """A ``ProposalStatus`` as JSON: the proposal decoded (bytes as hex) and the quorum."""
    proposal = status.proposal
    return {
        "id": proposal.id,
        "kind": status.kind,
        "state": status.state,
        "status": proposal.status,
        "executed": status.executed,
        "action": json_value(proposal.action),
        "proposer": proposal.proposer.hex(),
        "proposer_organization": proposal.proposer_organization,
        "created_height": proposal.created_height,
        "expires_height": proposal.expires_height,
        "executed_height": proposal.executed_height,
        "approvals": list(proposal.approvals),
        "quorum": {
            "numerator": status.quorum_numerator,
            "denominator": status.quorum_denominator,
            "active_organizations": status.active_organizations,
            "required": status.required,
            "approving": list(status.approving),
            "still_needed": status.still_needed,
            "waiting_for": list(status.waiting_for),
        },
    }


def _table(statuses: list[ProposalStatus], title: str) -> Table:
    table = Table(title=title)
    for column in ("id", "kind", "state", "approved", "quorum", "still needed from"):
        table.add_column(column)
    for status in statuses:
        waiting = ", ".join(status.waiting_for) if status.still_needed else "-"
        table.add_row(
            str(status.proposal.id),
            status.kind,
            status.state + (f" at {status.proposal.executed_height}" if status.executed else ""),
            ", ".join(status.proposal.approvals),
            f"{len(status.approving)} of {status.required} ({status.active_organizations} active)",
            f"{status.still_needed} more of: {waiting}" if status.still_needed else "-",
        )
    return table
