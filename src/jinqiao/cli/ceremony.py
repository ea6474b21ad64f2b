"""``jinqiao ceremony``: the genesis ceremony across organizations (``provision.ceremony``;
docs/operations.md "A network across hosts")."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from jinqiao.cli.common import JsonOption, SuiteOption, guarded
from jinqiao.cli.keys import NewKeyOptions, with_new_key_options
from jinqiao.core.crypto import DEFAULT_SUITE
from jinqiao.core.errors import InvalidInput
from jinqiao.fileio import load_bounded
from jinqiao.terminal import console, emit_json

ceremony_app = typer.Typer(
    help="Make a network's genesis across organizations: no private key leaves its owner.",
    no_args_is_help=True,
)


def _account(value: str) -> tuple[str, tuple[str, ...]]:
    """``NAME=A,B``: an account and its roles, or a node and its hosts."""
    name, _, items = value.partition("=")
    if not name:
        raise InvalidInput(f"--account and --node take NAME=ITEM,ITEM…, not {value!r}")
    return name, tuple(item for item in items.split(",") if item)


MAX_INPUT_BYTES = 16 * 1024 * 1024
"""No file a ceremony reads (membership, parameters, genesis, address book) is near this; each
has its own, smaller limit once read."""


def _read(path: Path) -> bytes:
    return load_bounded(path, MAX_INPUT_BYTES)


@ceremony_app.command("member")
@guarded
@with_new_key_options
def member(
    new_key: NewKeyOptions,
    organization: Annotated[str, typer.Option("--org", help="The organization's id.")],
    chain_id: Annotated[str, typer.Option(help="The chain the consortium agreed on.")],
    out: Annotated[Path, typer.Option(help="New directory for the organization's material.")],
    host: Annotated[
        list[str] | None,
        typer.Option(
            help="Host name or IP address the others reach the node (named after the "
            "organization) at; repeat: the first is advertised, all are in its certificate."
        ),
    ] = None,
    node: Annotated[
        list[str] | None,
        typer.Option(
            metavar="NAME=HOST,…",
            help="Instead of --host, several validator nodes: each its name and hosts (repeat).",
        ),
    ] = None,
    name: Annotated[str | None, typer.Option(help="Display name (default: the id).")] = None,
    role: Annotated[list[str] | None, typer.Option(help="A role of the organization.")] = None,
    account: Annotated[
        list[str] | None,
        typer.Option(
            metavar="NAME=ROLE,…",
            help="An account to found the organization with (default: ORG-admin=admin).",
        ),
    ] = None,
    api_port: Annotated[int, typer.Option(min=1, max=65535)] = 8600,
    p2p_port: Annotated[int, typer.Option(min=1, max=65535)] = 26600,
    bind: Annotated[
        str, typer.Option(help="Address the node binds to (JINQIAO_API_HOST/P2P_HOST override).")
    ] = "0.0.0.0",  # noqa: S104 - a consortium's node listens on its host's network
    suite: SuiteOption = DEFAULT_SUITE,
    json_output: JsonOption = False,
) -> None:
    """Step 1, on the organization's own machine: make its CA, keys, node and client
    certificates in --out, and the signed membership file to send to the coordinator."""
    from jinqiao.core.genesis import GenesisOrganization
    from jinqiao.provision.ceremony import MEMBERSHIP_FILE, certificate_fingerprint, make_member

    accounts = [_account(value) for value in account or [f"{organization}-admin=admin"]]
    nodes = [_account(value) for value in node or []]
    roles = tuple(role or ())
    protection = new_key.protection(f"the keys of {organization}")
    signed = make_member(
        out,
        chain_id=chain_id,
        organization=GenesisOrganization(organization, name or organization, roles),
        accounts=accounts,
        hosts=host or (),
        nodes=nodes,
        api_port=api_port,
        p2p_port=p2p_port,
        bind_host=bind,
        protection=protection,
        crypto_suite=suite,
    )
    fingerprint = certificate_fingerprint(signed.membership.organization.tls_ca_certificate)
    if json_output:
        emit_json(
            {
                "organization": organization,
                "membership_file": str(out / MEMBERSHIP_FILE),
                "ca_fingerprint": fingerprint,
                "node_homes": [
                    str(out / "nodes" / validator.name)
                    for validator in signed.membership.validators
                ],
            }
        )
        return
    console.print(f"[green]created[/] the material of {organization} in {out}")
    console.print(
        f"send [bold]{out / MEMBERSHIP_FILE}[/] (public material only) to the coordinator"
    )
    console.print(f"and confirm this CA fingerprint to them out of band: {fingerprint}")


@ceremony_app.command("assemble")
@guarded
def assemble(
    files: Annotated[list[Path], typer.Argument(help="The organizations' membership files.")],
    params: Annotated[Path, typer.Option(help="The consortium's parameters (JSON).")],
    out: Annotated[Path, typer.Option(help="The genesis file to write.")],
    peers_out: Annotated[
        Path | None, typer.Option(help="The address book to write (default: peers.json beside).")
    ] = None,
    fingerprint: Annotated[
        list[str] | None,
        typer.Option(
            metavar="ORG=SHA256",
            help="The CA fingerprint an organization confirmed out of band (repeat): refuse "
            "its file if its CA differs.",
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Step 2, by the coordinator: verify every membership file and build the genesis and the
    address book. Refuses an unsigned or altered file and a key or name used twice."""
    from jinqiao.core.genesis import genesis_hash, load_genesis
    from jinqiao.fileio import PUBLIC_FILE_MODE, save_new
    from jinqiao.provision.ceremony import (
        PEERS_FILE,
        certificate_fingerprint,
        dump_address_book,
        load_parameters,
    )
    from jinqiao.provision.ceremony import (
        assemble as assemble_genesis,
    )

    peers_path = peers_out or out.with_name(PEERS_FILE)
    for path in (out, peers_path):
        if path.exists():
            raise InvalidInput(f"{path} exists; choose a new file")
    expected = None
    if fingerprint is not None:
        pairs = [value.partition("=") for value in fingerprint]
        if any(not name or not separator or not digest for name, separator, digest in pairs):
            raise InvalidInput("--fingerprint takes ORG=SHA256")
        expected = {name: digest for name, _, digest in pairs}
    genesis_bytes, book = assemble_genesis(
        [(str(path), _read(path)) for path in files],
        load_parameters(_read(params), str(params)),
        expected_fingerprints=expected,
    )
    genesis = load_genesis(genesis_bytes)
    save_new(out, genesis_bytes, mode=PUBLIC_FILE_MODE)
    save_new(peers_path, dump_address_book(book), mode=PUBLIC_FILE_MODE)
    fingerprints = {
        o.id: certificate_fingerprint(o.tls_ca_certificate) for o in genesis.organizations
    }
    if json_output:
        emit_json(
            {
                "genesis": str(out),
                "peers": str(peers_path),
                "genesis_hash": genesis_hash(genesis).hex(),
                "ca_fingerprints": fingerprints,
            }
        )
        return
    console.print(f"[green]assembled[/] {out} and {peers_path} from {len(files)} membership files")
    for organization, digest in fingerprints.items():
        console.print(f"  {organization}: CA fingerprint {digest}")
    console.print(f"genesis hash {genesis_hash(genesis).hex()}")


@ceremony_app.command("check")
@guarded
def check(
    genesis: Annotated[Path, typer.Option(help="The genesis from the coordinator.")],
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            help="The organization's directory (from ceremony member): install into its node.",
        ),
    ] = None,
    peers: Annotated[
        Path | None, typer.Option(help="The address book from the coordinator (with --dir).")
    ] = None,
    membership: Annotated[
        Path | None, typer.Option(help="What you submitted (default: DIR/membership.json).")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Step 3, on the organization's machine: confirm the genesis holds exactly what you
    submitted; with --dir (and --peers), then install it, the consortium's roots and the peers
    into your node's home. A refusal changes nothing."""
    from jinqiao.core.genesis import genesis_hash
    from jinqiao.provision.ceremony import (
        MEMBERSHIP_FILE,
        check_and_install,
        check_submission,
        load_address_book,
    )

    if directory is None:
        if membership is None or peers is not None:
            raise InvalidInput(
                "give --membership FILE to check only, or --dir DIR --peers FILE to check and "
                "install"
            )
        checked, _ = check_submission(_read(genesis), membership)
    else:
        if peers is None:
            raise InvalidInput("--dir installs into the node: give the address book, --peers")
        checked = check_and_install(
            directory,
            _read(genesis),
            load_address_book(_read(peers), str(peers)),
            membership_file=membership or directory / MEMBERSHIP_FILE,
        )
    digest = genesis_hash(checked).hex()
    if json_output:
        emit_json(
            {
                "genesis_hash": digest,
                "chain_id": checked.chain_id,
                "installed": directory is not None,
            }
        )
        return
    console.print(
        f"[green]checked[/] the genesis of {checked.chain_id}: it holds exactly what you submitted"
        + ("" if directory is None else f"; installed in {directory / 'nodes'}")
    )
    console.print(f"genesis hash {digest} (compare it with the other organizations')")
