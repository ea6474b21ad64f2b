"""``jinqiao init`` and ``jinqiao node``: make a network, add a node, run one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from jinqiao.cli.common import (
    JsonOption,
    SuiteOption,
    fail,
    guarded,
)
from jinqiao.core.crypto import DEFAULT_SUITE
from jinqiao.terminal import console, emit_json

node_app = typer.Typer(help="Run a node.", no_args_is_help=True)


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
    suite: SuiteOption = DEFAULT_SUITE,
    json_output: JsonOption = False,
) -> None:
    """Write genesis, node homes, keys and TLS material for a new network."""
    from jinqiao.provision.network import init_network, load_spec
    from jinqiao.provision.presets import demo_spec

    if spec is not None:
        import msgspec

        network_spec = load_spec(spec.read_bytes())
        if suite != DEFAULT_SUITE:
            network_spec = msgspec.structs.replace(network_spec, crypto_suite=suite)
    elif preset == "demo":
        network_spec = demo_spec(
            chain_id=chain_id, validators=validators, base_api_port=base_port, crypto_suite=suite
        )
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

    from jinqiao.provision.network import add_node

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
