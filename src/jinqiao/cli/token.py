"""``jinqiao tx token``: token transactions."""

from __future__ import annotations

from typing import Annotated

import typer

from jinqiao.cli.common import (
    JsonOption,
    KeyOption,
    Target,
    guarded,
    send,
    with_submit_target,
)

token_app = typer.Typer(
    help="Token transactions (amounts in minor units, e.g. fen).", no_args_is_help=True
)


@token_app.command("mint")
@guarded
@with_submit_target
def token_mint(
    target: Target,
    recipient: Annotated[str, typer.Argument(help="Account name or address.")],
    amount_minor: Annotated[int, typer.Argument(min=0)],
    key: KeyOption,
    asset: str = "CNY",
    json_output: JsonOption = False,
) -> None:
    """Mint new money to an account (issuer role)."""
    send(
        target,
        json_output,
        lambda t, c: c.token.mint(t.key(key), asset, t.address(recipient), amount_minor),
    )


@token_app.command("burn")
@guarded
@with_submit_target
def token_burn(
    target: Target,
    amount_minor: Annotated[int, typer.Argument(min=0)],
    key: KeyOption,
    asset: str = "CNY",
    json_output: JsonOption = False,
) -> None:
    """Burn money from the issuer's own balance."""
    send(
        target,
        json_output,
        lambda t, c: c.token.burn(t.key(key), asset, amount_minor),
    )


@token_app.command("transfer")
@guarded
@with_submit_target
def token_transfer(
    target: Target,
    recipient: Annotated[str, typer.Argument(help="Account name or address.")],
    amount_minor: Annotated[int, typer.Argument(min=0)],
    key: KeyOption,
    asset: str = "CNY",
    json_output: JsonOption = False,
) -> None:
    """Pay an account."""
    send(
        target,
        json_output,
        lambda t, c: c.token.transfer(t.key(key), asset, t.address(recipient), amount_minor),
    )


@token_app.command("freeze")
@guarded
@with_submit_target
def token_freeze(
    target: Target,
    account: Annotated[str, typer.Argument(help="Account name or address.")],
    key: KeyOption,
    asset: str = "CNY",
    json_output: JsonOption = False,
) -> None:
    """Freeze an account's holding (regulator role)."""
    send(
        target,
        json_output,
        lambda t, c: c.token.freeze(t.key(key), asset, t.address(account)),
    )


@token_app.command("unfreeze")
@guarded
@with_submit_target
def token_unfreeze(
    target: Target,
    account: Annotated[str, typer.Argument(help="Account name or address.")],
    key: KeyOption,
    asset: str = "CNY",
    json_output: JsonOption = False,
) -> None:
    """Unfreeze an account's holding (regulator role)."""
    send(
        target,
        json_output,
        lambda t, c: c.token.unfreeze(t.key(key), asset, t.address(account)),
    )


@token_app.command("set-tier")
@guarded
@with_submit_target
def token_set_tier(
    target: Target,
    account: Annotated[str, typer.Argument(help="Account name or address.")],
    tier: Annotated[str, typer.Argument()],
    key: KeyOption,
    asset: str = "CNY",
    json_output: JsonOption = False,
) -> None:
    """Put an account's holding in a wallet tier (regulator role)."""
    send(
        target,
        json_output,
        lambda t, c: c.token.set_tier(t.key(key), asset, t.address(account), tier),
    )
