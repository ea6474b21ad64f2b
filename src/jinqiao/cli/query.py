"""``jinqiao query`` and ``jinqiao status``: read the ledger with proofs verified, and ask
what consensus waits for."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlsplit

import typer
from rich.table import Table

from jinqiao.cli.common import (
    EXIT_PENDING,
    JsonOption,
    Target,
    decoded_result,
    fail,
    guarded,
    report,
    with_target,
)
from jinqiao.client import PendingTransaction, TransactionResult
from jinqiao.terminal import console, emit_json, format_minor

SaveOption = Annotated[
    Path | None,
    typer.Option(
        "--save",
        help="Also write the node's answer to this file as a saved answer "
        "(`jinqiao verify FILE --genesis GENESIS` checks it offline).",
    ),
]

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
    for transaction in block.get("transactions", []):
        receipt = transaction["receipt"]
        receipt["decoded_result"] = decoded_result(bytes.fromhex(receipt["result"]))
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
    save: SaveOption = None,
    json_output: JsonOption = False,
) -> None:
    """A transaction's receipt, with its inclusion proofs verified; "pending" (exit 4) while a
    node holds it in its mempool."""
    with target.client() as client:
        found = client.lookup(transaction_hash.lower())
        if save is not None and isinstance(found, TransactionResult):
            client.save(save, f"/v1/transactions/{found.transaction_hash}")
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


@query_app.command("account")
@guarded
@with_target
def query_account(
    target: Target,
    account: Annotated[str, typer.Argument(help="Account name or address.")],
    names_store: Annotated[
        Path | None,
        typer.Option(
            help="An account-name store to open the name from (default: the store of "
            "the account's organization in the network directory, if there is one)."
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """An account's record, proven against the latest block. The chain holds only a salted hash
    of the name; the name is shown when a name store holds it and it opens that hash."""
    from jinqiao.credit.names import AccountNameStore, store_path

    address = target.address(account)
    with target.client() as client:
        record = client.account(address)
        suite = client.suite
    if record is None:
        fail(f"unknown_account: no account {address.hex()} (absence proven)")
    if names_store is None and target.network_dir is not None:
        names_store = store_path(target.network_dir, record.organization)
    name = None
    if names_store is not None and names_store.is_file():
        with AccountNameStore(names_store, suite.hash) as store:
            opening = store.load(address)
        if opening is not None and opening.opens(suite.hash, record.name_commitment):
            name = opening.name
    if json_output:
        emit_json(
            {
                "address": address.hex(),
                "organization": record.organization,
                "roles": list(record.roles),
                "active": record.active,
                "name_commitment": record.name_commitment.hex(),
                "name": name,
                "verified": True,
            }
        )
        return
    shown = f"name {name!r} (opens the commitment)" if name else "name not held here"
    console.print(
        f"{address.hex()}  organization {record.organization}  roles {','.join(record.roles)}"
        f"  {'active' if record.active else 'suspended'}  {shown}  (proof verified)",
        highlight=False,
    )


@query_app.command("state")
@guarded
@with_target
def query_state(
    target: Target,
    contract: Annotated[str, typer.Argument()],
    key_hex: Annotated[str, typer.Argument(help="Key inside the contract's namespace, hex.")],
    height: Annotated[int | None, typer.Option(min=1)] = None,
    save: SaveOption = None,
    json_output: JsonOption = False,
) -> None:
    """A raw state value with its proof verified."""
    try:
        key = bytes.fromhex(key_hex)
    except ValueError:
        fail("the key must be hex")
    with target.client() as client:
        proven = client.read_state(contract, key, height=height)
        if save is not None:
            params = {} if height is None else {"height": proven.height}
            client.save(save, f"/v1/state/{contract}/{key.hex()}", params=params)
    view = {
        "contract": contract,
        "key": key_hex,
        "value": None if proven.value is None else proven.value.hex(),
        "decoded": None if proven.value is None else decoded_result(proven.value),
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


@query_app.command("save")
@guarded
@with_target
def query_save(
    target: Target,
    path: Annotated[
        str,
        typer.Argument(help="An API path with its query string, e.g. /v1/accounts/<hex>."),
    ],
    file: Annotated[Path, typer.Argument(help="Where to write the saved answer.")],
    body: Annotated[
        str | None, typer.Option(help="A query's arguments, a JSON object (bytes as hex).")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Save any proven answer to FILE and check it as `jinqiao verify` will (a query is saved
    with proofs=true). An answer that does not check is saved all the same, and reported."""
    parts = urlsplit(path)
    params: dict[str, Any] = dict(parse_qsl(parts.query))
    arguments = None
    if parts.path.startswith("/v1/query/"):
        params["proofs"] = "true"
        try:
            arguments = json.loads(body or "{}")
        except json.JSONDecodeError as exc:
            fail(f"--body is not JSON: {exc}")
        if not isinstance(arguments, dict):
            fail("--body must be a JSON object")
    with target.client() as client:
        verified = client.save(file, parts.path, params=params, body=arguments)
    if json_output:
        emit_json({"file": str(file), "summary": verified.summary, "height": verified.height})
    else:
        console.print(f"saved {file}: {verified.summary}", highlight=False)


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
