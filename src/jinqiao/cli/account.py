"""``jinqiao tx account``: an organization admin manages its accounts (registry)."""

from __future__ import annotations

from typing import Annotated

import typer

from jinqiao.cli.common import (
    JsonOption,
    KeyOption,
    Target,
    fail,
    guarded,
    send,
    with_submit_target,
)

account_app = typer.Typer(
    help="Registry: an organization admin manages its accounts.", no_args_is_help=True
)


@account_app.command("register")
@guarded
@with_submit_target
def account_register(
    target: Target,
    name: Annotated[str, typer.Argument(help="The new account's name.")],
    public_key: Annotated[
        str, typer.Argument(help="Its public key, hex (see `keys export-public`).")
    ],
    key: KeyOption,
    roles: Annotated[str, typer.Option(help="Comma-separated roles of your organization.")] = "",
    json_output: JsonOption = False,
) -> None:
    """Register an account in the admin's organization."""
    from jinqiao.apps.registry import RegisterAccountArgs
    from jinqiao.execution.identity import REGISTRY

    try:
        raw_key = bytes.fromhex(public_key)
    except ValueError:
        fail("the public key must be hex")
    args = RegisterAccountArgs(raw_key, name, tuple(r for r in roles.split(",") if r))
    send(
        target,
        json_output,
        lambda t, c: c.send(t.key(key), REGISTRY, "register_account", args),
    )


def _account_action(
    target: Target,
    method_name: str,
    account: str,
    key: str,
    json_output: bool,
) -> None:
    from jinqiao.apps.registry import AccountArgs
    from jinqiao.execution.identity import REGISTRY

    send(
        target,
        json_output,
        lambda t, c: c.send(t.key(key), REGISTRY, method_name, AccountArgs(t.address(account))),
    )


@account_app.command("suspend")
@guarded
@with_submit_target
def account_suspend(
    target: Target,
    account: Annotated[str, typer.Argument(help="Account name or address.")],
    key: KeyOption,
    json_output: JsonOption = False,
) -> None:
    """Suspend an account of the admin's organization."""
    _account_action(target, "suspend_account", account, key, json_output)


@account_app.command("reactivate")
@guarded
@with_submit_target
def account_reactivate(
    target: Target,
    account: Annotated[str, typer.Argument(help="Account name or address.")],
    key: KeyOption,
    json_output: JsonOption = False,
) -> None:
    """Re-enable a suspended account of the admin's organization."""
    _account_action(target, "reactivate_account", account, key, json_output)


@account_app.command("set-roles")
@guarded
@with_submit_target
def account_set_roles(
    target: Target,
    account: Annotated[str, typer.Argument(help="Account name or address.")],
    roles: Annotated[str, typer.Argument(help="Comma-separated roles (replaces the old ones).")],
    key: KeyOption,
    json_output: JsonOption = False,
) -> None:
    """Replace the roles of an account of the admin's organization."""
    from jinqiao.apps.registry import SetAccountRolesArgs
    from jinqiao.execution.identity import REGISTRY

    send(
        target,
        json_output,
        lambda t, c: c.send(
            t.key(key),
            REGISTRY,
            "set_account_roles",
            SetAccountRolesArgs(t.address(account), tuple(r for r in roles.split(",") if r)),
        ),
    )
