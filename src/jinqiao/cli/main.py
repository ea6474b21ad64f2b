"""The ``jinqiao`` command."""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.table import Table

from jinqiao.cli.common import (
    Target,
    console,
    emit_json,
    fail,
    format_minor,
    progress_bar,
    resolve_target,
)
from jinqiao.client import ClientError, TransactionResult
from jinqiao.core.codec import decode
from jinqiao.core.errors import JinqiaoError

if TYPE_CHECKING:
    from jinqiao.apps.governance import ProposalAction

F = TypeVar("F", bound=Callable[..., Any])

app = typer.Typer(
    help="jinqiao: a permissioned blockchain for financial institutions.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
node_app = typer.Typer(help="Run a node.", no_args_is_help=True)
keys_app = typer.Typer(help="Make and inspect key files.", no_args_is_help=True)
tx_app = typer.Typer(help="Send transactions.", no_args_is_help=True)
token_app = typer.Typer(
    help="Token transactions (amounts in minor units, e.g. fen).", no_args_is_help=True
)
query_app = typer.Typer(
    help="Read the ledger (proofs verified against genesis).", no_args_is_help=True
)
bench_app = typer.Typer(help="Benchmarks.", no_args_is_help=True)
payments_app = typer.Typer(
    help="Payments: institutions, the payment lifecycle, clearing cycles, funding and "
    "settlement (amounts in minor units, e.g. fen; docs/payments.md).",
    no_args_is_help=True,
)
app.add_typer(node_app, name="node")
app.add_typer(keys_app, name="keys")
app.add_typer(tx_app, name="tx")
tx_app.add_typer(token_app, name="token")
account_app = typer.Typer(
    help="Registry: an organization admin manages its accounts.", no_args_is_help=True
)
governance_app = typer.Typer(
    help="Governance proposals (organization admins).", no_args_is_help=True
)
tx_app.add_typer(account_app, name="account")
tx_app.add_typer(governance_app, name="governance")
app.add_typer(query_app, name="query")
app.add_typer(bench_app, name="bench")
app.add_typer(payments_app, name="payments")

NetworkOption = Annotated[
    Path | None, typer.Option("--network", "-n", help="Network directory made by `jinqiao init`.")
]
UrlOption = Annotated[
    str | None, typer.Option("--url", help="Node API URL (default: the network's first node).")
]
GenesisOption = Annotated[
    Path | None, typer.Option("--genesis", help="Genesis file to verify proofs against.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def guarded(function: F) -> F:
    """Turn every expected failure into one line on stderr and exit code 1."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except ClientError as error:
            fail(f"{error.code}: {error.message}")
        except JinqiaoError as error:
            fail(
                error.message
                if error.code in ("invalid_input", "error")
                else f"{error.code}: {error.message}"
            )
        except OSError as error:
            fail(f"{error.strerror or error}: {getattr(error, 'filename', '') or ''}")

    return wrapper  # type: ignore[return-value]


# -- init, node --------------------------------------------------------------------------


@app.command()
@guarded
def init(
    directory: Annotated[Path, typer.Argument(help="New directory for the network.")],
    spec: Annotated[Path | None, typer.Option(help="Network specification (JSON).")] = None,
    preset: Annotated[
        str, typer.Option(help="Built-in specification when --spec is not given.")
    ] = "demo",
    validators: Annotated[int, typer.Option(min=1, max=100, help="Validators (preset only).")] = 1,
    chain_id: Annotated[str, typer.Option(help="Chain id (preset only).")] = "jinqiao-demo",
    base_port: Annotated[int, typer.Option(min=1024, max=65000, help="First API port.")] = 8600,
    json_output: JsonOption = False,
) -> None:
    """Write genesis, node homes, keys and TLS material for a new network."""
    from jinqiao.node.presets import demo_spec
    from jinqiao.node.setup import init_network, load_spec

    if spec is not None:
        network_spec = load_spec(spec.read_bytes())
    elif preset == "demo":
        network_spec = demo_spec(chain_id=chain_id, validators=validators, base_api_port=base_port)
    else:
        fail(f"unknown preset {preset!r}; known: demo")
    layout = init_network(directory, network_spec)
    if json_output:
        import msgspec

        emit_json(msgspec.to_builtins(layout))
        return
    console.print(f"[green]created[/] network [bold]{layout.chain_id}[/] in {directory}")
    table = Table("node", "organization", "API", "home")
    for node in layout.nodes:
        table.add_row(node.name, node.organization, node.api_url, str(directory / node.home))
    console.print(table)
    console.print(f"{len(layout.accounts)} account keys in {directory / 'accounts'}")
    console.print(
        f"start a node: [bold]jinqiao node start --home {directory / layout.nodes[0].home}[/]"
    )


@node_app.command("add")
@guarded
def node_add(
    directory: Annotated[Path, typer.Argument(help="The network directory (from jinqiao init).")],
    name: Annotated[str, typer.Option(help="The new node's name (its TLS common name).")],
    organization: Annotated[str, typer.Option(help="The organization that runs it.")],
    api_port: Annotated[int, typer.Option(min=1, max=65535)],
    p2p_port: Annotated[int, typer.Option(min=1, max=65535)],
    host: Annotated[str, typer.Option(help="Address the node listens on.")] = "127.0.0.1",
    json_output: JsonOption = False,
) -> None:
    """Create the home of a node that joins the running network as a validator once governance
    adds its key: start it, then propose `jinqiao tx governance add-validator`."""
    import msgspec

    from jinqiao.node.setup import add_node

    entry = add_node(directory, name, organization, api_port=api_port, p2p_port=p2p_port, host=host)
    from jinqiao.keys import load_key

    public_key = load_key(directory / entry.home / "validator_key.json").public_key.hex()
    if json_output:
        emit_json({**msgspec.to_builtins(entry), "public_key": public_key})
        return
    console.print(
        f"[green]created[/] node [bold]{entry.name}[/] of {organization} "
        f"in {directory / entry.home}"
    )
    console.print(f"validator public key: {public_key}")
    console.print(f"1. start it: [bold]jinqiao node start --home {directory / entry.home}[/]")
    console.print(
        "2. propose it: [bold]jinqiao tx governance add-validator "
        f"--public-key {public_key} --name {entry.name} --organization {organization} "
        "--power 1 --key <an admin key>[/], and have a quorum of organizations approve"
    )


@node_app.command("fingerprint")
@guarded
def node_fingerprint(
    home: Annotated[Path, typer.Option("--home", help="The node's home directory.")],
    json_output: JsonOption = False,
) -> None:
    """The SHA-256 fingerprint of the node's TLS certificate: what other nodes list in their
    `revoked_certificates` to refuse it."""
    from jinqiao.node.config import load_config
    from jinqiao.node.p2p import certificate_fingerprint

    name = load_config(home).name
    fingerprint = certificate_fingerprint(home / "tls" / "node.crt")
    if json_output:
        emit_json({"node": name, "fingerprint": fingerprint})
        return
    console.print(f"{name}  {fingerprint}")


@node_app.command("start")
@guarded
def node_start(
    home: Annotated[Path, typer.Option("--home", help="The node's home directory.")],
    api_port: Annotated[
        int | None, typer.Option(min=0, max=65535, help="Override the API port.")
    ] = None,
) -> None:
    """Run a node until SIGTERM or Ctrl-C."""
    from jinqiao.api.server import run

    run(home, api_port=api_port)


# -- keys --------------------------------------------------------------------------------


@keys_app.command("new")
@guarded
def keys_new(
    path: Annotated[Path, typer.Argument(help="Where to write the key (mode 0600).")],
    json_output: JsonOption = False,
) -> None:
    """Generate a new Ed25519 key file."""
    from jinqiao.keys import generate_key, save_key

    signer = generate_key()
    save_key(path, signer)
    _show_key(path, signer.address, signer.public_key, json_output)


@keys_app.command("show")
@guarded
def keys_show(path: Annotated[Path, typer.Argument()], json_output: JsonOption = False) -> None:
    """Show a key file's address and public key (never the secret)."""
    from jinqiao.keys import load_key

    signer = load_key(path)
    _show_key(path, signer.address, signer.public_key, json_output)


def _show_key(path: Path, address: bytes, public_key: bytes, json_output: bool) -> None:
    if json_output:
        emit_json({"file": str(path), "address": address.hex(), "public_key": public_key.hex()})
    else:
        console.print(
            f"file        {path}\naddress     {address.hex()}\npublic key  {public_key.hex()}"
        )


# -- transactions ------------------------------------------------------------------------


def _report(result: TransactionResult, json_output: bool, **extra: Any) -> None:
    if json_output:
        emit_json(
            {
                "hash": result.transaction_hash,
                "height": result.height,
                "index": result.index,
                "status": "ok" if result.ok else "rejected",
                "code": result.code,
                "message": result.receipt.message,
                "result": result.receipt.result.hex(),
                "verified": result.verified,
                **extra,
            }
        )
    else:
        verdict = (
            "[green]ok[/]"
            if result.ok
            else f"[red]rejected[/] {result.code}: {result.receipt.message}"
        )
        console.print(
            f"{verdict}  tx {result.transaction_hash} in block {result.height}"
            f"{' (proof verified)' if result.verified else ''}"
        )
    if not result.ok:
        raise typer.Exit(2)


KeyOption = Annotated[
    str, typer.Option("--key", "-k", help="Signer: account name in the network, or a key file.")
]


def _send(
    network: Path | None,
    url: str | None,
    genesis: Path | None,
    key: str,
    json_output: bool,
    action: Callable[[Target, Any], TransactionResult],
) -> None:
    target = resolve_target(network, url, genesis)
    with target.client() as client:
        _report(action(target, client), json_output)


@token_app.command("mint")
@guarded
def token_mint(
    recipient: Annotated[str, typer.Argument(help="Account name or address.")],
    amount_minor: Annotated[int, typer.Argument(min=0)],
    key: KeyOption,
    asset: str = "CNY",
    network: NetworkOption = None,
    url: UrlOption = None,
    genesis: GenesisOption = None,
    json_output: JsonOption = False,
) -> None:
    """Mint new money to an account (issuer role)."""
    _send(
        network,
        url,
        genesis,
        key,
        json_output,
        lambda t, c: c.token.mint(t.key(key), asset, t.address(recipient), amount_minor),
    )


@token_app.command("burn")
@guarded
def token_burn(
    amount_minor: Annotated[int, typer.Argument(min=0)],
    key: KeyOption,
    asset: str = "CNY",
    network: NetworkOption = None,
    url: UrlOption = None,
    genesis: GenesisOption = None,
    json_output: JsonOption = False,
) -> None:
    """Burn money from the issuer's own balance."""
    _send(
        network,
        url,
        genesis,
        key,
        json_output,
        lambda t, c: c.token.burn(t.key(key), asset, amount_minor),
    )


@token_app.command("transfer")
@guarded
def token_transfer(
    recipient: Annotated[str, typer.Argument(help="Account name or address.")],
    amount_minor: Annotated[int, typer.Argument(min=0)],
    key: KeyOption,
    asset: str = "CNY",
    network: NetworkOption = None,
    url: UrlOption = None,
    genesis: GenesisOption = None,
    json_output: JsonOption = False,
) -> None:
    """Pay an account."""
    _send(
        network,
        url,
        genesis,
        key,
        json_output,
        lambda t, c: c.token.transfer(t.key(key), asset, t.address(recipient), amount_minor),
    )


@token_app.command("freeze")
@guarded
def token_freeze(
    account: Annotated[str, typer.Argument(help="Account name or address.")],
    key: KeyOption,
    asset: str = "CNY",
    network: NetworkOption = None,
    url: UrlOption = None,
    genesis: GenesisOption = None,
    json_output: JsonOption = False,
) -> None:
    """Freeze an account's holding (regulator role)."""
    _send(
        network,
        url,
        genesis,
        key,
        json_output,
        lambda t, c: c.token.freeze(t.key(key), asset, t.address(account)),
    )


@token_app.command("unfreeze")
@guarded
def token_unfreeze(
    account: Annotated[str, typer.Argument(help="Account name or address.")],
    key: KeyOption,
    asset: str = "CNY",
    network: NetworkOption = None,
    url: UrlOption = None,
    genesis: GenesisOption = None,
    json_output: JsonOption = False,
) -> None:
    """Unfreeze an account's holding (regulator role)."""
    _send(
        network,
        url,
        genesis,
        key,
        json_output,
        lambda t, c: c.token.unfreeze(t.key(key), asset, t.address(account)),
    )


@token_app.command("set-tier")
@guarded
def token_set_tier(
    account: Annotated[str, typer.Argument(help="Account name or address.")],
    tier: Annotated[str, typer.Argument()],
    key: KeyOption,
    asset: str = "CNY",
    network: NetworkOption = None,
    url: UrlOption = None,
    genesis: GenesisOption = None,
    json_output: JsonOption = False,
) -> None:
    """Put an account's holding in a wallet tier (regulator role)."""
    _send(
        network,
        url,
        genesis,
        key,
        json_output,
        lambda t, c: c.token.set_tier(t.key(key), asset, t.address(account), tier),
    )


@account_app.command("register")
@guarded
def account_register(
    name: Annotated[str, typer.Argument(help="The new account's name.")],
    public_key: Annotated[str, typer.Argument(help="Its public key, hex (see `keys new`).")],
    key: KeyOption,
    roles: Annotated[str, typer.Option(help="Comma-separated roles of your organization.")] = "",
    network: NetworkOption = None,
    url: UrlOption = None,
    genesis: GenesisOption = None,
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
    _send(
        network,
        url,
        genesis,
        key,
        json_output,
        lambda t, c: c.send(t.key(key), REGISTRY, "register_account", args),
    )


def _account_action(
    method_name: str,
    account: str,
    key: str,
    network: Path | None,
    url: str | None,
    genesis: Path | None,
    json_output: bool,
) -> None:
    from jinqiao.apps.registry import AccountArgs
    from jinqiao.execution.identity import REGISTRY

    _send(
        network,
        url,
        genesis,
        key,
        json_output,
        lambda t, c: c.send(t.key(key), REGISTRY, method_name, AccountArgs(t.address(account))),
    )


@account_app.command("suspend")
@guarded
def account_suspend(
    account: Annotated[str, typer.Argument(help="Account name or address.")],
    key: KeyOption,
    network: NetworkOption = None,
    url: UrlOption = None,
    genesis: GenesisOption = None,
    json_output: JsonOption = False,
) -> None:
    """Suspend an account of the admin's organization."""
    _account_action("suspend_account", account, key, network, url, genesis, json_output)


@account_app.command("reactivate")
@guarded
def account_reactivate(
    account: Annotated[str, typer.Argument(help="Account name or address.")],
    key: KeyOption,
    network: NetworkOption = None,
    url: UrlOption = None,
    genesis: GenesisOption = None,
    json_output: JsonOption = False,
) -> None:
    """Re-enable a suspended account of the admin's organization."""
    _account_action("reactivate_account", account, key, network, url, genesis, json_output)


@account_app.command("set-roles")
@guarded
def account_set_roles(
    account: Annotated[str, typer.Argument(help="Account name or address.")],
    roles: Annotated[str, typer.Argument(help="Comma-separated roles (replaces the old ones).")],
    key: KeyOption,
    network: NetworkOption = None,
    url: UrlOption = None,
    genesis: GenesisOption = None,
    json_output: JsonOption = False,
) -> None:
    """Replace the roles of an account of the admin's organization."""
    from jinqiao.apps.registry import SetAccountRolesArgs
    from jinqiao.execution.identity import REGISTRY

    _send(
        network,
        url,
        genesis,
        key,
        json_output,
        lambda t, c: c.send(
            t.key(key),
            REGISTRY,
            "set_account_roles",
            SetAccountRolesArgs(t.address(account), tuple(r for r in roles.split(",") if r)),
        ),
    )


def _propose(
    action: Callable[[Target], ProposalAction],
    what: str,
    key: str,
    network: Path | None,
    url: str | None,
    genesis: Path | None,
    json_output: bool,
) -> None:
    """Send a governance proposal and report its id."""
    from jinqiao.apps.governance import ProposeArgs
    from jinqiao.execution.identity import GOVERNANCE

    target = resolve_target(network, url, genesis)
    with target.client() as client:
        result = client.send(target.key(key), GOVERNANCE, "propose", ProposeArgs(action(target)))
    proposal_id = decode(result.receipt.result, int, max_bytes=16) if result.ok else None
    if not json_output and proposal_id is not None:
        console.print(f"proposal [bold]{proposal_id}[/]: {what}")
    _report(result, json_output, proposal_id=proposal_id)


@governance_app.command("set-parameter")
@guarded
def governance_set_parameter(
    name: Annotated[str, typer.Argument(help="A chain parameter, e.g. valid_until_window_blocks.")],
    value: Annotated[int, typer.Argument()],
    key: KeyOption,
    network: NetworkOption = None,
    url: UrlOption = None,
    genesis: GenesisOption = None,
    json_output: JsonOption = False,
) -> None:
    """Propose a chain parameter change (executes once a quorum of organizations approves)."""
    from jinqiao.apps.governance import SetParameter

    action = SetParameter(name, value)
    _propose(lambda _: action, f"set {name} = {value}", key, network, url, genesis, json_output)


@governance_app.command("add-validator")
@guarded
def governance_add_validator(
    public_key: Annotated[str, typer.Option(help="The new validator's public key (hex).")],
    name: Annotated[str, typer.Option(help="Its node name (the TLS common name).")],
    organization: Annotated[str, typer.Option(help="The organization that runs it.")],
    key: KeyOption,
    power: Annotated[int, typer.Option(min=1, help="Voting power.")] = 1,
    network: NetworkOption = None,
    url: UrlOption = None,
    genesis: GenesisOption = None,
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
    _propose(lambda _: action, what, key, network, url, genesis, json_output)


@governance_app.command("remove-validator")
@guarded
def governance_remove_validator(
    validator: Annotated[str, typer.Argument(help="Validator address (hex).")],
    key: KeyOption,
    network: NetworkOption = None,
    url: UrlOption = None,
    genesis: GenesisOption = None,
    json_output: JsonOption = False,
) -> None:
    """Propose removing a validator; in force two heights after the quorum decides."""
    from jinqiao.apps.governance import RemoveValidator

    _propose(
        lambda target: RemoveValidator(target.address(validator)),
        f"remove validator {validator}",
        *(key, network, url, genesis, json_output),
    )


@governance_app.command("set-validator-power")
@guarded
def governance_set_validator_power(
    validator: Annotated[str, typer.Argument(help="Validator address (hex).")],
    power: Annotated[int, typer.Argument(min=1)],
    key: KeyOption,
    network: NetworkOption = None,
    url: UrlOption = None,
    genesis: GenesisOption = None,
    json_output: JsonOption = False,
) -> None:
    """Propose a validator's new voting power; in force two heights after the quorum decides."""
    from jinqiao.apps.governance import SetValidatorPower

    _propose(
        lambda target: SetValidatorPower(target.address(validator), power),
        f"set the power of {validator} to {power}",
        *(key, network, url, genesis, json_output),
    )


@governance_app.command("approve")
@guarded
def governance_approve(
    proposal_id: Annotated[int, typer.Argument(min=0)],
    key: KeyOption,
    network: NetworkOption = None,
    url: UrlOption = None,
    genesis: GenesisOption = None,
    json_output: JsonOption = False,
) -> None:
    """Approve a proposal for the admin's organization."""
    from jinqiao.apps.governance import ProposalArgs
    from jinqiao.execution.identity import GOVERNANCE

    _send(
        network,
        url,
        genesis,
        key,
        json_output,
        lambda t, c: c.send(t.key(key), GOVERNANCE, "approve", ProposalArgs(proposal_id)),
    )


@governance_app.command("withdraw")
@guarded
def governance_withdraw(
    proposal_id: Annotated[int, typer.Argument(min=0)],
    key: KeyOption,
    network: NetworkOption = None,
    url: UrlOption = None,
    genesis: GenesisOption = None,
    json_output: JsonOption = False,
) -> None:
    """Withdraw a proposal of the admin's organization."""
    from jinqiao.apps.governance import ProposalArgs
    from jinqiao.execution.identity import GOVERNANCE

    _send(
        network,
        url,
        genesis,
        key,
        json_output,
        lambda t, c: c.send(t.key(key), GOVERNANCE, "withdraw", ProposalArgs(proposal_id)),
    )


# -- payments ----------------------------------------------------------------------------

CycleArgument = Annotated[int, typer.Argument(min=1, help="Cycle id.")]
AmountArgument = Annotated[int, typer.Argument(min=1, help="Amount in minor units (fen).")]
PaymentIdArgument = Annotated[str, typer.Argument(help="Payment id.")]


@payments_app.command("register-institution")
@guarded
def payments_register_institution(
    institution: Annotated[str, typer.Argument(help="Organization id.")],
    roles: Annotated[str, typer.Argument(help="Comma-separated payment roles.")],
    settlement_account: Annotated[str, typer.Argument(help="Account name or address.")],
    key: KeyOption,
    net_debit_cap_minor: Annotated[int | None, typer.Option("--cap", min=0)] = None,
    inactive: Annotated[bool, typer.Option("--inactive", help="Register as inactive.")] = False,
    network: NetworkOption = None,
    url: UrlOption = None,
    genesis: GenesisOption = None,
    json_output: JsonOption = False,
) -> None:
    """Register an organization for payments, or change its registration (clearing house)."""
    role_list = tuple(role for role in roles.split(",") if role)
    _send(
        network,
        url,
        genesis,
        key,
        json_output,
        lambda t, c: c.payments.register_institution(
            t.key(key),
            institution,
            role_list,
            t.address(settlement_account),
            net_debit_cap_minor=net_debit_cap_minor,
            active=not inactive,
        ),
    )


@payments_app.command("register-merchant")
@guarded
def payments_register_merchant(
    merchant_id: Annotated[str, typer.Argument()],
    name: Annotated[str, typer.Argument()],
    mcc: Annotated[str, typer.Argument(help="ISO 18245 merchant category code, 4 digits.")],
    key: KeyOption,
    network: NetworkOption = None,
    url: UrlOption = None,
    genesis: GenesisOption = None,
    json_output: JsonOption = False,
) -> None:
    """Register a merchant of the signer's acquirer."""
    _send(
        network,
        url,
        genesis,
        key,
        json_output,
        lambda t, c: c.payments.register_merchant(t.key(key), merchant_id, name, mcc),
    )


@payments_app.command("authorize")
@guarded
def payments_authorize(
    payment_id: PaymentIdArgument,
    amount_minor: AmountArgument,
    key: KeyOption,
    issuer: Annotated[str, typer.Option(help="The issuer (the signer's organization).")],
    acquirer: Annotated[str, typer.Option(help="The merchant's acquirer.")],
    merchant: Annotated[str, typer.Option(help="The merchant id at the acquirer.")],
    payer_hash: Annotated[
        str, typer.Option(help="HMAC of the payer's identifier under the issuer's key: 64 hex.")
    ],
    authorization_code: Annotated[str, typer.Option(help="6 letters or digits.")],
    currency: str = "CNY",
    channel: Annotated[str, typer.Option(help="ecommerce, mobile, pos or qr.")] = "pos",
    card_type: Annotated[str, typer.Option(help="debit or credit.")] = "debit",
    network: NetworkOption = None,
    url: UrlOption = None,
    genesis: GenesisOption = None,
    json_output: JsonOption = False,
) -> None:
    """Record an authorization the issuer approved (the payer appears only as a hash)."""
    from jinqiao.apps.payments.model import AuthorizeArgs

    try:
        raw_hash = bytes.fromhex(payer_hash)
    except ValueError:
        fail("the payer hash must be hex")
    args = AuthorizeArgs(
        payment_id,
        issuer,
        acquirer,
        merchant,
        raw_hash,
        amount_minor,
        currency,
        channel,
        card_type,
        authorization_code,
        int(time.time() * 1000),
    )
    _send(
        network, url, genesis, key, json_output, lambda t, c: c.payments.authorize(t.key(key), args)
    )


@payments_app.command("capture")
@guarded
def payments_capture(
    payment_id: PaymentIdArgument,
    amount_minor: AmountArgument,
    cycle_id: CycleArgument,
    key: KeyOption,
    network: NetworkOption = None,
    url: UrlOption = None,
    genesis: GenesisOption = None,
    json_output: JsonOption = False,
) -> None:
    """Capture an authorized payment into an open cycle (acquirer); fees are computed here."""
    _send(
        network,
        url,
        genesis,
        key,
        json_output,
        lambda t, c: c.payments.capture(t.key(key), payment_id, amount_minor, cycle_id),
    )


@payments_app.command("refund")
@guarded
def payments_refund(
    payment_id: PaymentIdArgument,
    refund_id: Annotated[str, typer.Argument(help="Refund id (idempotency key).")],
    amount_minor: AmountArgument,
    cycle_id: CycleArgument,
    key: KeyOption,
    network: NetworkOption = None,
    url: UrlOption = None,
    genesis: GenesisOption = None,
    json_output: JsonOption = False,
) -> None:
    """Refund part or all of a captured payment (acquirer)."""
    _send(
        network,
        url,
        genesis,
        key,
        json_output,
        lambda t, c: c.payments.refund(t.key(key), payment_id, refund_id, amount_minor, cycle_id),
    )


@payments_app.command("chargeback")
@guarded
def payments_chargeback(
    payment_id: PaymentIdArgument,
    amount_minor: AmountArgument,
    reason_code: Annotated[str, typer.Argument(help="The network's reason code, e.g. 4837.")],
    cycle_id: CycleArgument,
    key: KeyOption,
    network: NetworkOption = None,
    url: UrlOption = None,
    genesis: GenesisOption = None,
    json_output: JsonOption = False,
) -> None:
    """Dispute a captured payment (issuer)."""
    _send(
        network,
        url,
        genesis,
        key,
        json_output,
        lambda t, c: c.payments.chargeback(
            t.key(key), payment_id, amount_minor, reason_code, cycle_id
        ),
    )


@payments_app.command("represent")
@guarded
def payments_represent(
    payment_id: PaymentIdArgument,
    amount_minor: AmountArgument,
    cycle_id: CycleArgument,
    key: KeyOption,
    network: NetworkOption = None,
    url: UrlOption = None,
    genesis: GenesisOption = None,
    json_output: JsonOption = False,
) -> None:
    """Answer a chargeback with a second presentment (acquirer)."""
    _send(
        network,
        url,
        genesis,
        key,
        json_output,
        lambda t, c: c.payments.represent(t.key(key), payment_id, amount_minor, cycle_id),
    )


@payments_app.command("reverse")
@guarded
def payments_reverse(
    payment_id: PaymentIdArgument,
    key: KeyOption,
    network: NetworkOption = None,
    url: UrlOption = None,
    genesis: GenesisOption = None,
    json_output: JsonOption = False,
) -> None:
    """Reverse an authorization the merchant will not capture (acquirer)."""
    _send(
        network,
        url,
        genesis,
        key,
        json_output,
        lambda t, c: c.payments.reverse(t.key(key), payment_id),
    )


@payments_app.command("open-cycle")
@guarded
def payments_open_cycle(
    key: KeyOption,
    currency: str = "CNY",
    cutoff_blocks: Annotated[
        int | None, typer.Option(min=1, help="Cut-off this many blocks after the head.")
    ] = None,
    cutoff_time_ms: Annotated[
        int | None, typer.Option(min=1, help="Cut-off block time (ms since the epoch).")
    ] = None,
    funding_window_blocks: Annotated[int, typer.Option(min=1, max=1_000_000)] = 100,
    network: NetworkOption = None,
    url: UrlOption = None,
    genesis: GenesisOption = None,
    json_output: JsonOption = False,
) -> None:
    """Open a clearing cycle (clearing house); prints its id."""
    if cutoff_blocks is None and cutoff_time_ms is None:
        fail("give a cut-off: --cutoff-blocks, --cutoff-time-ms or both")
    target = resolve_target(network, url, genesis)
    with target.client() as client:
        cutoff_height = None
        if cutoff_blocks is not None:
            cutoff_height = int(client.status()["height"]) + cutoff_blocks
        result = client.payments.open_cycle(
            target.key(key),
            currency,
            cutoff_height=cutoff_height,
            cutoff_time_ms=cutoff_time_ms,
            funding_window_blocks=funding_window_blocks,
        )
    cycle_id = client.payments.opened_cycle_id(result) if result.ok else None
    if not json_output and cycle_id is not None:
        console.print(f"cycle [bold]{cycle_id}[/] open, cut-off at height {cutoff_height}")
    _report(result, json_output, cycle_id=cycle_id, cutoff_height=cutoff_height)


def _cycle_action(
    method_name: str,
    cycle_id: int,
    key: str,
    network: Path | None,
    url: str | None,
    genesis: Path | None,
    json_output: bool,
) -> None:
    _send(
        network,
        url,
        genesis,
        key,
        json_output,
        lambda t, c: getattr(c.payments, method_name)(t.key(key), cycle_id),
    )


@payments_app.command("close-cycle")
@guarded
def payments_close_cycle(
    cycle_id: CycleArgument,
    key: KeyOption,
    network: NetworkOption = None,
    url: UrlOption = None,
    genesis: GenesisOption = None,
    json_output: JsonOption = False,
) -> None:
    """Close a cycle past its cut-off and net it (the clearing house that opened it)."""
    _cycle_action("close_cycle", cycle_id, key, network, url, genesis, json_output)


@payments_app.command("fund")
@guarded
def payments_fund(
    cycle_id: CycleArgument,
    key: KeyOption,
    network: NetworkOption = None,
    url: UrlOption = None,
    genesis: GenesisOption = None,
    json_output: JsonOption = False,
) -> None:
    """Pay the institution's net debit into the escrow (signed by its settlement account, which
    first approves the escrow for exactly that amount)."""
    _cycle_action("fund", cycle_id, key, network, url, genesis, json_output)


@payments_app.command("settle")
@guarded
def payments_settle(
    cycle_id: CycleArgument,
    key: KeyOption,
    network: NetworkOption = None,
    url: UrlOption = None,
    genesis: GenesisOption = None,
    json_output: JsonOption = False,
) -> None:
    """Settle a funded cycle: the escrow pays every net creditor (settlement agent)."""
    _cycle_action("settle", cycle_id, key, network, url, genesis, json_output)


@payments_app.command("declare-default")
@guarded
def payments_declare_default(
    cycle_id: CycleArgument,
    key: KeyOption,
    network: NetworkOption = None,
    url: UrlOption = None,
    genesis: GenesisOption = None,
    json_output: JsonOption = False,
) -> None:
    """Run the default procedure on a cycle past its funding deadline (settlement agent): draw
    the short debtors' collateral, or unwind those it does not cover."""
    _cycle_action("declare_default", cycle_id, key, network, url, genesis, json_output)


@payments_app.command("post-collateral")
@guarded
def payments_post_collateral(
    amount_minor: AmountArgument,
    key: KeyOption,
    currency: str = "CNY",
    network: NetworkOption = None,
    url: UrlOption = None,
    genesis: GenesisOption = None,
    json_output: JsonOption = False,
) -> None:
    """Post collateral for the institution (signed by its settlement account, which first
    approves the escrow for exactly that amount)."""
    _send(
        network,
        url,
        genesis,
        key,
        json_output,
        lambda t, c: c.payments.post_collateral(t.key(key), currency, amount_minor),
    )


@payments_app.command("withdraw-collateral")
@guarded
def payments_withdraw_collateral(
    amount_minor: AmountArgument,
    key: KeyOption,
    currency: str = "CNY",
    network: NetworkOption = None,
    url: UrlOption = None,
    genesis: GenesisOption = None,
    json_output: JsonOption = False,
) -> None:
    """Withdraw posted collateral to the settlement account (not while the institution has a
    position in a closed, unsettled cycle)."""
    _send(
        network,
        url,
        genesis,
        key,
        json_output,
        lambda t, c: c.payments.withdraw_collateral(t.key(key), currency, amount_minor),
    )


@payments_app.command("statement")
@guarded
def payments_statement(
    cycle_id: CycleArgument,
    institution: Annotated[str, typer.Argument(help="Institution id, e.g. bank-a.")],
    file_format: Annotated[
        str, typer.Option("--format", help="json, csv or camt053 (ISO 20022 XML).")
    ] = "json",
    output: Annotated[Path | None, typer.Option(help="Write here instead of stdout.")] = None,
    network: NetworkOption = None,
    url: UrlOption = None,
    genesis: GenesisOption = None,
) -> None:
    """An institution's statement for a cycle: every payment, fee and its net position."""
    if file_format not in ("json", "csv", "camt053"):
        fail("--format must be json, csv or camt053")
    target = resolve_target(network, url, genesis)
    with target.client() as client:
        data = client.raw_get(
            f"/v1/payments/cycles/{cycle_id}/statements/{institution}",
            params={"format": file_format},
        )
    _write_or_print(data, output)


@payments_app.command("reconcile")
@guarded
def payments_reconcile(
    cycle_id: CycleArgument,
    institution: Annotated[str, typer.Argument(help="Institution id, e.g. bank-a.")],
    records: Annotated[Path, typer.Argument(help="Your own records for the cycle (CSV).")],
    file_format: Annotated[str, typer.Option("--format", help="json or csv.")] = "json",
    output: Annotated[Path | None, typer.Option(help="Write the break report here.")] = None,
    network: NetworkOption = None,
    url: UrlOption = None,
    genesis: GenesisOption = None,
) -> None:
    """Compare your records with the ledger's statement; exit 3 when there are breaks."""
    if file_format not in ("json", "csv"):
        fail("--format must be json or csv")
    target = resolve_target(network, url, genesis)
    with target.client() as client:
        data = client.raw_post(
            f"/v1/payments/cycles/{cycle_id}/reconciliation/{institution}",
            content=records.read_bytes(),
            headers={"Content-Type": "text/csv"},
            params={"format": file_format},
        )
    _write_or_print(data, output)
    if file_format == "json" and json.loads(data)["breaks"]:
        raise typer.Exit(3)


@payments_app.command("report")
@guarded
def payments_report(
    cycle_id: CycleArgument,
    output: Annotated[Path, typer.Option(help="PNG file to write.")] = Path("cycle.png"),
    network: NetworkOption = None,
    url: UrlOption = None,
    genesis: GenesisOption = None,
) -> None:
    """Draw the cycle's net positions and flows (PNG)."""
    target = resolve_target(network, url, genesis)
    with target.client() as client:
        data = client.raw_get(f"/v1/payments/cycles/{cycle_id}/chart.png")
    output.write_bytes(data)
    console.print(f"wrote {output}")


@payments_app.command("merchant-payouts")
@guarded
def payments_merchant_payouts(
    cycle_id: CycleArgument,
    institution: Annotated[str, typer.Argument(help="The acquirer, e.g. ecfin.")],
    output: Annotated[
        Path | None,
        typer.Option(help="XML file to write (default: merchant-payouts-<cycle>-<acquirer>.xml)."),
    ] = None,
    network: NetworkOption = None,
    url: UrlOption = None,
    genesis: GenesisOption = None,
) -> None:
    """Write an acquirer's payouts to its merchants for a settled cycle as ISO 20022 pacs.008:
    one credit transfer per merchant owed money (captured + represented - refunded - charged
    back, nothing deducted)."""
    target = resolve_target(network, url, genesis)
    with target.client() as client:
        data = client.payments.merchant_payouts_pacs008(cycle_id, institution)
    path = output or Path(f"merchant-payouts-{cycle_id}-{institution}.xml")
    _write_or_print(data, path)


@payments_app.command("settlement")
@guarded
def payments_settlement(
    cycle_id: CycleArgument,
    output: Annotated[
        Path | None,
        typer.Option(help="XML file to write (default: settlement-cycle-<cycle>.pacs009.xml)."),
    ] = None,
    network: NetworkOption = None,
    url: UrlOption = None,
    genesis: GenesisOption = None,
) -> None:
    """Write a settled cycle's net settlement as ISO 20022 pacs.009 (FI-to-FI credit
    transfers from the settlement escrow to each net creditor)."""
    target = resolve_target(network, url, genesis)
    with target.client() as client:
        data = client.payments.settlement_pacs009(cycle_id)
    _write_or_print(data, output or Path(f"settlement-cycle-{cycle_id}.pacs009.xml"))


def _write_or_print(data: bytes, output: Path | None) -> None:
    if output is not None:
        output.write_bytes(data)
        console.print(f"wrote {output} ({len(data):,} bytes)")
    else:
        sys.stdout.write(data.decode())
        if not data.endswith(b"\n"):
            sys.stdout.write("\n")


@payments_app.command("show-cycle")
@guarded
def payments_show_cycle(
    cycle_id: CycleArgument,
    network: NetworkOption = None,
    url: UrlOption = None,
    genesis: GenesisOption = None,
    json_output: JsonOption = False,
) -> None:
    """A cycle, its positions and figures (gross, net, netting efficiency) and its timing
    (settlement time from the closing to the settling block), every value proven."""
    from jinqiao.api.render import to_json
    from jinqiao.apps.payments.figures import cycle_figures
    from jinqiao.cli.payments_view import print_cycle

    target = resolve_target(network, url, genesis)
    with target.client() as client:
        cycle = client.payments.cycle(cycle_id)
        if cycle is None:
            fail(f"not_found: no cycle {cycle_id}")
        positions = client.payments.proven_positions(cycle_id)
        timing = client.payments.timing(cycle_id, cycle=cycle)
        asset = client.token.asset(cycle.currency)
    scale = asset.scale if asset is not None else 0
    figures = cycle_figures(cycle_id, positions)
    if json_output:
        emit_json(
            {
                "cycle": to_json(cycle),
                "positions": to_json(positions),
                "figures": to_json(figures),
                "timing": to_json(timing),
                "verified": client.verify,
            }
        )
        return
    print_cycle(cycle, positions, figures, scale, timing)


# -- queries -----------------------------------------------------------------------------


@query_app.command("status")
@guarded
def query_status(
    network: NetworkOption = None,
    url: UrlOption = None,
    genesis: GenesisOption = None,
    json_output: JsonOption = False,
) -> None:
    """The node's chain, height and validators."""
    target = resolve_target(network, url, genesis)
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
def query_block(
    height: Annotated[int | None, typer.Argument(min=1, help="Height (default: latest).")] = None,
    network: NetworkOption = None,
    url: UrlOption = None,
    genesis: GenesisOption = None,
    json_output: JsonOption = False,
) -> None:
    """A block's header, certificate and transactions."""
    target = resolve_target(network, url, genesis)
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
def query_tx(
    transaction_hash: Annotated[str, typer.Argument(help="Transaction hash (hex).")],
    network: NetworkOption = None,
    url: UrlOption = None,
    genesis: GenesisOption = None,
    json_output: JsonOption = False,
) -> None:
    """A transaction's receipt, with its inclusion proofs verified."""
    target = resolve_target(network, url, genesis)
    with target.client() as client:
        result = client.wait(transaction_hash, timeout_s=0.5)
    _report(result, json_output)


@query_app.command("balance")
@guarded
def query_balance(
    account: Annotated[str, typer.Argument(help="Account name or address.")],
    asset: str = "CNY",
    network: NetworkOption = None,
    url: UrlOption = None,
    genesis: GenesisOption = None,
    json_output: JsonOption = False,
) -> None:
    """An account's balance, proven against the latest block."""
    target = resolve_target(network, url, genesis)
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
def query_state(
    contract: Annotated[str, typer.Argument()],
    key_hex: Annotated[str, typer.Argument(help="Key inside the contract's namespace, hex.")],
    height: Annotated[int | None, typer.Option(min=1)] = None,
    network: NetworkOption = None,
    url: UrlOption = None,
    genesis: GenesisOption = None,
    json_output: JsonOption = False,
) -> None:
    """A raw state value with its proof verified."""
    target = resolve_target(network, url, genesis)
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


@app.command()
@guarded
def status(
    network: NetworkOption = None,
    url: UrlOption = None,
    genesis: GenesisOption = None,
    json_output: JsonOption = False,
) -> None:
    """What consensus is waiting for: height, round, step, missing votes, peers."""
    target = resolve_target(network, url, genesis)
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


# -- demo and benchmarks -----------------------------------------------------------------


@app.command()
@guarded
def demo(
    exit_after: Annotated[
        bool, typer.Option("--exit-after", help="Exit after the summary.")
    ] = False,
    transfers: Annotated[
        int, typer.Option(min=10, max=100_000, help="Random transfers to run.")
    ] = 300,
    directory: Annotated[
        Path | None, typer.Option(help="Keep the network here (default: a temporary directory).")
    ] = None,
    base_port: Annotated[int, typer.Option(min=1024, max=65000)] = 8600,
    seed: Annotated[int, typer.Option(help="Seed of the random transfers.")] = 7,
    validators: Annotated[
        int, typer.Option(min=1, max=5, help="Validator processes, one per founding organization.")
    ] = 4,
    payments: Annotated[
        int,
        typer.Option(min=0, max=20_000, help="Card payments in the payments day (0: skip it)."),
    ] = 2_000,
) -> None:
    """Start a local network, run a day of signed CNY transfers and a day of card payments
    cleared and settled between the institutions, and show what happened."""
    from jinqiao.cli.demo import run_demo

    run_demo(
        exit_after=exit_after,
        transfers=transfers,
        directory=directory,
        base_port=base_port,
        seed=seed,
        validators=validators,
        payments=payments,
    )


@app.command()
@guarded
def sim(
    seeds: Annotated[int, typer.Option(min=1, max=1_000_000, help="How many seeds to run.")] = 100,
    seed: Annotated[int | None, typer.Option(help="Run this one seed (replay).")] = None,
    scenario: Annotated[str | None, typer.Option(help="Only this scenario.")] = None,
    first_seed: Annotated[int, typer.Option(min=0, help="First seed of the range.")] = 1,
    json_output: JsonOption = False,
) -> None:
    """Deterministic simulation of a validator network: drops, delays, partitions, crashes,
    Byzantine twins. One seed replays one run exactly; a failure prints its replay command."""
    import random

    from jinqiao.consensus.sim import SimulationFailure, run_scenario, scenario_names

    names = scenario_names()
    if scenario is not None and scenario not in names:
        fail(f"unknown scenario {scenario!r}; known: {', '.join(names)}")
    chosen = [scenario] if scenario else list(names)
    seed_list = [seed] if seed is not None else list(range(first_seed, first_seed + seeds))
    runs = [(name, number) for number in seed_list for name in chosen]
    failures: list[dict[str, Any]] = []
    started = time.monotonic()
    with progress_bar(disable=json_output) as progress:
        task = progress.add_task("simulating", total=len(runs))
        for name, number in runs:
            try:
                run_scenario(name, number, random.Random(number))
            except SimulationFailure as broken:
                failures.append(
                    {
                        "scenario": name,
                        "seed": number,
                        "error": broken.message,
                        "replay": f"jinqiao sim --seed {number} --scenario {name}",
                    }
                )
            progress.advance(task)
    summary = {
        "runs": len(runs),
        "failures": failures,
        "seconds": round(time.monotonic() - started, 1),
    }
    if json_output:
        emit_json(summary)
    else:
        console.print(f"{len(runs)} runs, {len(failures)} failed, {summary['seconds']} s")
        for failure in failures[:20]:
            console.print(
                f"[red]{failure['scenario']} seed {failure['seed']}[/]: "
                f"{failure['error']}\n  replay: {failure['replay']}"
            )
    if failures:
        raise typer.Exit(1)


@bench_app.command("execute")
@guarded
def bench_execute(
    transfers: Annotated[
        int, typer.Option(min=100, max=1_000_000, help="Transfers to apply.")
    ] = 20_000,
    block_size: Annotated[int, typer.Option(min=1, max=5_000)] = 2_000,
    accounts: Annotated[int, typer.Option(min=2, max=100_000)] = 1_000,
    json_output: JsonOption = False,
    output: Annotated[Path | None, typer.Option(help="Also write the JSON result here.")] = None,
) -> None:
    """How many token transfers per second one node applies (execution, roots, storage)."""
    from jinqiao.cli.bench import run_execute_bench

    run_execute_bench(
        transfers=transfers,
        block_size=block_size,
        accounts=accounts,
        json_output=json_output,
        output=output,
    )


@bench_app.command("payments")
@guarded
def bench_payments(
    payments: Annotated[
        int, typer.Option(min=100, max=1_000_000, help="Payments to record (authorize+capture).")
    ] = 20_000,
    block_size: Annotated[int, typer.Option(min=1, max=5_000)] = 2_000,
    institutions: Annotated[
        int, typer.Option(min=2, max=49, help="Institutions, each issuer and acquirer.")
    ] = 10,
    close_sizes: Annotated[
        str, typer.Option(help="Comma-separated cycle sizes (payments) to close.")
    ] = "100000,1000000",
    record_limit: Annotated[
        int,
        typer.Option(
            min=0,
            help="Cycles up to this size are recorded through the contract; larger "
            "ones are built from per-pair sums (see the module docstring).",
        ),
    ] = 100_000,
    network_validators: Annotated[
        int, typer.Option(min=0, max=7, help="Validators of the network phase (0: skip it).")
    ] = 4,
    network_payments: Annotated[
        int, typer.Option(min=10, max=100_000, help="Payments recorded on the network.")
    ] = 20_000,
    base_port: Annotated[
        int, typer.Option(min=1024, max=65000, help="First API port of the network phase.")
    ] = 9800,
    json_output: JsonOption = False,
    output: Annotated[Path | None, typer.Option(help="Also write the JSON result here.")] = None,
) -> None:
    """Payments recorded per second by one node and by a validator network on this machine, and
    the time to close and net big cycles."""
    from jinqiao.cli.bench_payments import run_payments_bench

    try:
        sizes = [int(size) for size in close_sizes.split(",") if size.strip()]
    except ValueError:
        fail("--close-sizes is a comma-separated list of integers")
    if any(not 1 <= size <= 10_000_000 for size in sizes):
        fail("each close size is 1..10,000,000 payments")
    run_payments_bench(
        payments=payments,
        block_size=block_size,
        institutions=institutions,
        close_sizes=sizes,
        record_limit=record_limit,
        json_output=json_output,
        output=output,
        network_validators=network_validators,
        network_payments=network_payments,
        base_port=base_port,
    )


@bench_app.command("network")
@guarded
def bench_network(
    validators: Annotated[int, typer.Option(min=1, max=7, help="Validator processes.")] = 4,
    duration: Annotated[float, typer.Option(min=5, max=3600, help="Seconds of load.")] = 30,
    rate: Annotated[
        int | None,
        typer.Option(min=1, max=100_000, help="Offered tx/s (default: as fast as accepted)."),
    ] = None,
    json_output: JsonOption = False,
    output: Annotated[Path | None, typer.Option(help="Also write the JSON result here.")] = None,
    plot: Annotated[
        Path | None, typer.Option(help="Write a PNG of throughput and latency here.")
    ] = None,
    base_port: Annotated[int, typer.Option(min=1024, max=65000)] = 9700,
    kill_one: Annotated[
        bool, typer.Option("--kill-one", help="SIGKILL one validator a third of the way in.")
    ] = False,
) -> None:
    """Committed transfers/s and commit latency of a validator network on this machine."""
    from jinqiao.cli.bench_network import run_network_bench

    run_network_bench(
        validators=validators,
        duration_s=duration,
        rate=rate,
        json_output=json_output,
        output=output,
        plot=plot,
        base_port=base_port,
        kill_one=kill_one,
    )


@bench_app.command("exhaustion")
@guarded
def bench_exhaustion(
    idle: Annotated[int, typer.Option(min=0, max=20_000, help="Idle connections held.")] = 5_000,
    slowloris: Annotated[
        int, typer.Option(min=0, max=20_000, help="Slowloris connections held.")
    ] = 1_000,
    addresses: Annotated[
        int, typer.Option(min=1, max=250, help="Loopback addresses the attackers spread over.")
    ] = 50,
    phase: Annotated[float, typer.Option(min=5, max=600, help="Seconds of each phase.")] = 30,
    json_output: JsonOption = False,
    output: Annotated[Path | None, typer.Option(help="Also write the JSON result here.")] = None,
    plot: Annotated[Path | None, typer.Option(help="Write a PNG of the probes here.")] = None,
    base_port: Annotated[int, typer.Option(min=1024, max=65000)] = 9900,
) -> None:
    """/v1/status and /healthz probes at rest, while idle connections are held, during a
    slowloris (docs/performance.md "Connection exhaustion")."""
    from jinqiao.cli.bench_exhaustion import run_exhaustion_bench

    run_exhaustion_bench(
        idle_connections=idle,
        slowloris_connections=slowloris,
        attacker_addresses=addresses,
        phase_s=phase,
        json_output=json_output,
        output=output,
        plot=plot,
        base_port=base_port,
    )


def main() -> None:
    app()
