"""``jinqiao tx governance``: proposals, approvals and withdrawals."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import msgspec
import typer

from jinqiao.cli.common import (
    JsonOption,
    KeyOption,
    Target,
    fail,
    guarded,
    report,
    send,
    with_submit_target,
    with_target,
)
from jinqiao.core.codec import decode
from jinqiao.terminal import console, emit_json

if TYPE_CHECKING:
    from jinqiao.apps.governance import ProposalAction


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
    from jinqiao.apps.governance import ProposeArgs
    from jinqiao.execution.identity import GOVERNANCE

    with target.client() as client:
        result = client.send(target.key(key), GOVERNANCE, "propose", ProposeArgs(action(target)))
    proposal_id = decode(result.receipt.result, int, max_bytes=16) if result.ok else None
    if not json_output and proposal_id is not None:
        console.print(f"proposal [bold]{proposal_id}[/]: {what}")
    report(result, json_output, proposal_id=proposal_id)


@governance_app.command("set-parameter")
@guarded
@with_submit_target
def governance_set_parameter(
    target: Target,
    name: Annotated[str, typer.Argument(help="A chain parameter, e.g. valid_until_window_blocks.")],
    value: Annotated[int, typer.Argument()],
    key: KeyOption,
    json_output: JsonOption = False,
) -> None:
    """Propose a chain parameter change (executes once a quorum of organizations approves)."""
    from jinqiao.apps.governance import SetParameter

    action = SetParameter(name, value)
    _propose(target, lambda _: action, f"set {name} = {value}", key, json_output)


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

    try:
        key_bytes = bytes.fromhex(public_key)
    except ValueError:
        fail("--public-key must be hexadecimal")
    action = AddValidator(key_bytes, name, organization, power)
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


@governance_app.command("approve")
@guarded
@with_submit_target
def governance_approve(
    target: Target,
    proposal_id: Annotated[int, typer.Argument(min=0)],
    key: KeyOption,
    json_output: JsonOption = False,
) -> None:
    """Approve a proposal for the admin's organization."""
    from jinqiao.apps.governance import ProposalArgs
    from jinqiao.execution.identity import GOVERNANCE

    send(
        target,
        json_output,
        lambda t, c: c.send(t.key(key), GOVERNANCE, "approve", ProposalArgs(proposal_id)),
    )


@governance_app.command("withdraw")
@guarded
@with_submit_target
def governance_withdraw(
    target: Target,
    proposal_id: Annotated[int, typer.Argument(min=0)],
    key: KeyOption,
    json_output: JsonOption = False,
) -> None:
    """Withdraw a proposal of the admin's organization."""
    from jinqiao.apps.governance import ProposalArgs
    from jinqiao.execution.identity import GOVERNANCE

    send(
        target,
        json_output,
        lambda t, c: c.send(t.key(key), GOVERNANCE, "withdraw", ProposalArgs(proposal_id)),
    )


@governance_app.command("show")
@guarded
@with_target
def governance_show(
    target: Target,
    proposal_id: Annotated[int, typer.Argument(min=0)],
    json_output: JsonOption = False,
) -> None:
    """A proposal, proven: its action, who approved, the quorum and whether it executed."""
    from jinqiao.execution.identity import GOVERNANCE

    with target.client() as client:
        answer = client.proven_query(GOVERNANCE, "proposal", proposal_id=proposal_id)
    proposal = _decoded(answer.result)
    view = {"proposal": proposal, "height": answer.height, "verified": answer.verified}
    if json_output:
        emit_json(view)
        return
    console.print_json(data=view)


def _decoded(value: object) -> object:
    """A struct as JSON: fields by name (a proposal's action with its ``kind``), bytes as hex."""
    if isinstance(value, msgspec.Struct):
        fields = {name: _decoded(getattr(value, name)) for name in value.__struct_fields__}
        tag = value.__struct_config__.tag
        return {"kind": tag, **fields} if isinstance(tag, str) else fields
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, tuple | list):
        return [_decoded(item) for item in value]
    return value
