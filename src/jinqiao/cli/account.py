"""``jinqiao tx account``: an organization admin manages its accounts (registry)."""

from __future__ import annotations

from pathlib import Path
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
    name: Annotated[str, typer.Argument(help="The new account's name (kept off chain).")],
    public_key: Annotated[
        str, typer.Argument(help="Its public key, hex (see `keys export-public`).")
    ],
    key: KeyOption,
    roles: Annotated[str, typer.Option(help="Comma-separated roles of your organization.")] = "",
    names_store: Annotated[
        Path | None,
        typer.Option(
            help="Your organization's account-name store (default: in the network directory)."
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Register an account in the admin's organization. The chain gets only a salted hash of
    the name; the name and its salt go to your organization's encrypted store (docs/adr/0029)."""
    from jinqiao.apps.registry import registration
    from jinqiao.credit.names import AccountNameStore, NameOpening, new_salt
    from jinqiao.execution.identity import REGISTRY

    try:
        raw_key = bytes.fromhex(public_key)
    except ValueError:
        fail("the public key must be hex")
    signer = target.key(key)
    suite = signer.suite
    salt = new_salt()
    args = registration(suite, raw_key, name, (r for r in roles.split(",") if r), salt)
    if names_store is None:
        names_store = _organization_store(target, signer.address)
    # Kept before sending, so a committed registration never loses its name; a refused one is
    # replaced when it is retried.
    with AccountNameStore(names_store, suite.hash) as store:
        store.save(suite.address(raw_key), NameOpening(name, salt))
    send(
        target,
        json_output,
        lambda t, c: c.send(signer, REGISTRY, "register_account", args),
    )


def _organization_store(target: Target, admin: bytes) -> Path:
    from jinqiao.credit.names import store_path

    if target.layout is None or target.network_dir is None:
        fail("without --network, say where your organization keeps names: --names-store FILE")
    for entry in target.layout.accounts:
        if bytes.fromhex(entry.address) == admin:
            return store_path(target.network_dir, entry.organization)
    fail("the admin key is not an account of this network directory; give --names-store FILE")


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
