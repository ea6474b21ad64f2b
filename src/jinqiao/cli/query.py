"""``jinqiao query`` and ``jinqiao status``: read the ledger with proofs verified, and ask
what consensus waits for."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from jinqiao.cli.common import (
    EXIT_PENDING,
    JsonOption,
    Target,
    fail,
    guarded,
    report,
    with_target,
)
from jinqiao.client import PendingTransaction
from jinqiao.terminal import console, emit_json, format_minor

query_app = typer.Typer(
    help="Read the ledger (proofs verified against genesis).", no_args_is_help=True
)


@query_app.command("status")
@guarded
@with_target
def query_status(
    target: Target,
    json_output: JsonOption = False,
) -> None:
    """The node's chain, height and validators."""
    with target.client() as client:
        status = client.status()
    if json_output:
        emit_json(status)
        return
    console.print(
        f"node [bold]{status['node']}[/] chain {status['chain_id']} "
        f"height [bold]{status['height']}[/]\n"
        f"state root {status['state_root']}\nmempool {status['mempool_transactions']} transactions"
    )


@query_app.command("block")
@guarded
@with_target
def query_block(
    target: Target,
    height: Annotated[int | None, typer.Argument(min=1, help="Height (default: latest).")] = None,
    json_output: JsonOption = False,
) -> None:
    """A block's header, certificate and transactions."""
    with target.client() as client:
        block = client.block(height, transactions=True)
    if json_output:
        emit_json(block)
        return
    header = block["header"]
    console.print(
        f"block [bold]{header['height']}[/] {header['hash']}"
        f"{' (certificate verified)' if block['verified'] else ''}\n"
        f"time_ms {header['time_ms']}  transactions {block['transaction_count']} "
        f"(rejected {block['rejected_count']})\nstate root {header['state_root']}"
    )
    table = Table("#", "sender", "call", "result")
    for index, tx in enumerate(block.get("transactions", [])[:50]):
        receipt = tx["receipt"]
        table.add_row(
            str(index), tx["sender"][:12] + "…", f"{tx['contract']}.{tx['method']}", receipt["code"]
        )
    console.print(table)


@query_app.command("tx")
@guarded
@with_target
def query_tx(
    target: Target,
    transaction_hash: Annotated[str, typer.Argument(help="Transaction hash (hex).")],
    json_output: JsonOption = False,
) -> None:
    """A transaction's receipt, with its inclusion proofs verified; "pending" (exit 4) while a
    node holds it in its mempool."""
    with target.client() as client:
        found = client.lookup(transaction_hash.lower())
    if found is None:
        fail(
            f"not_found: no node knows transaction {transaction_hash} (neither pending nor "
            "committed)"
        )
    if isinstance(found, PendingTransaction):
        if json_output:
            emit_json({"hash": found.transaction_hash, "status": "pending"})
        else:
            console.print(f"pending  tx {found.transaction_hash} (in a mempool, not committed yet)")
        raise typer.Exit(EXIT_PENDING)
    report(found, json_output)


@query_app.command("balance")
@guarded
@with_target
def query_balance(
    target: Target,
    account: Annotated[str, typer.Argument(help="Account name or address.")],
    asset: str = "CNY",
    json_output: JsonOption = False,
) -> None:
    """An account's balance, proven against the latest block."""
    address = target.address(account)
    with target.client() as client:
        holding = client.token.holding(asset, address)
        token_asset = client.token.asset(asset)
    balance = 0 if holding is None else holding.balance_minor
    scale = token_asset.scale if token_asset else 0
    if json_output:
        emit_json(
            {
                "asset": asset,
                "address": address.hex(),
                "balance_minor": balance,
                "scale": scale,
                "frozen": bool(holding and holding.frozen),
                "tier": holding.tier if holding else None,
                "verified": True,
            }
        )
        return
    major = format_minor(balance, scale)
    console.print(f"{address.hex()}  {major} {asset}  ({balance} minor units; proof verified)")


@query_app.command("state")
@guarded
@with_target
def query_state(
    target: Target,
    contract: Annotated[str, typer.Argument()],
    key_hex: Annotated[str, typer.Argument(help="Key inside the contract's namespace, hex.")],
    height: Annotated[int | None, typer.Option(min=1)] = None,
    json_output: JsonOption = False,
) -> None:
    """A raw state value with its proof verified."""
    try:
        key = bytes.fromhex(key_hex)
    except ValueError:
        fail("the key must be hex")
    with target.client() as client:
        proven = client.read_state(contract, key, height=height)
    view = {
        "contract": contract,
        "key": key_hex,
        "value": None if proven.value is None else proven.value.hex(),
        "height": proven.height,
        "state_root": proven.state_root.hex(),
        "verified": proven.verified,
    }
    if json_output:
        emit_json(view)
    else:
        shown = "absent (proven)" if proven.value is None else proven.value.hex()
        console.print(
            f"{contract}/{key_hex} at height {proven.height}: {shown}\n"
            f"state root {view['state_root']} verified"
        )


@guarded
@with_target
def status(
    target: Target,
    json_output: JsonOption = False,
) -> None:
    """What consensus is waiting for: height, round, step, missing votes, peers."""
    with target.client() as client:
        view = client.consensus()
    if json_output:
        emit_json(view)
        return
    console.print(f"[bold]{view['summary']}[/]")
    table = Table("validator", "power", "connected", "prevote", "precommit", "last error")
    for validator in view["validators"]:
        name = validator["name"] + (" (this node)" if validator["self"] else "")
        table.add_row(
            name,
            str(validator["power"]),
            _yes_no(validator["connected"]),
            _yes_no(validator["prevote"]),
            _yes_no(validator["precommit"]),
            validator["last_error"][:40],
        )
    console.print(table)


def _yes_no(value: bool | None) -> str:
    if value is None:
        return "-"
    return "[green]yes[/]" if value else "[red]no[/]"
