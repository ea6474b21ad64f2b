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
from jinqiao.cli.keys import (
    NewKeyOptions,
    PassphraseFdOption,
    PassphraseFileOption,
    with_new_key_options,
)
from jinqiao.core.crypto import DEFAULT_SUITE, get_suite
from jinqiao.core.errors import InvalidInput
from jinqiao.keys import PassphraseSource
from jinqiao.provision.presets import P2P_PORT_OFFSET
from jinqiao.terminal import console, emit_json

node_app = typer.Typer(help="Run a node.", no_args_is_help=True)


@guarded
@with_new_key_options
def init(
    directory: Annotated[Path, typer.Argument(help="New directory for the network.")],
    new_key: NewKeyOptions,
    spec: Annotated[Path | None, typer.Option(help="Network specification (JSON).")] = None,
    preset: Annotated[
        str, typer.Option(help="Built-in specification when --spec is not given.")
    ] = "demo",
    validators: Annotated[int, typer.Option(min=1, max=100, help="Validators (preset only).")] = 1,
    chain_id: Annotated[str, typer.Option(help="Chain id (preset only).")] = "jinqiao-demo",
    base_port: Annotated[int, typer.Option(min=1024, max=65000, help="First API port.")] = 8600,
    suite: SuiteOption = DEFAULT_SUITE,
    existing_key: Annotated[
        list[str] | None,
        typer.Option(
            metavar="NAME=FILE",
            help="Use this key file (e.g. an HSM key reference) for account or node NAME.",
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Write genesis, node homes, keys and TLS material for a new network. Account and
    validator keys are encrypted under one passphrase unless --insecure-plaintext is given."""
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
    get_suite(network_spec.crypto_suite)  # an unknown suite: one line, before any prompt
    existing = _existing_keys(existing_key or [])
    if directory.exists() and any(directory.iterdir()):
        raise InvalidInput(f"{directory} is not empty; choose a new directory")
    protection = new_key.protection(f"the keys of {directory}")
    layout = init_network(directory, network_spec, protection=protection, existing_keys=existing)
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


def _existing_keys(pairs: list[str]) -> dict[str, Path]:
    existing: dict[str, Path] = {}
    for pair in pairs:
        name, separator, file = pair.partition("=")
        if not separator or not name or not file:
            raise InvalidInput(f"--existing-key takes NAME=FILE, not {pair!r}")
        existing[name] = Path(file)
    return existing


@node_app.command("add")
@guarded
@with_new_key_options
def node_add(
    directory: Annotated[Path, typer.Argument(help="The network directory (from jinqiao init).")],
    new_key: NewKeyOptions,
    name: Annotated[str, typer.Option(help="The new node's name (its TLS common name).")],
    organization: Annotated[str, typer.Option(help="The organization that runs it.")],
    api_port: Annotated[int, typer.Option(min=1, max=65535)],
    host: Annotated[str, typer.Option(help="Address the node listens on.")] = "127.0.0.1",
    p2p_port: Annotated[
        int | None,
        typer.Option(
            min=1, max=65535, help="Its P2P port (default: the API port + 100, as init does)."
        ),
    ] = None,
    observer: Annotated[
        bool,
        typer.Option(
            "--observer",
            help="An observer: follows and verifies every block, never votes (no key).",
        ),
    ] = False,
    validator_key: Annotated[
        Path | None,
        typer.Option(help="Use this key file (e.g. an HSM key reference) as the validator key."),
    ] = None,
    state_sync: Annotated[
        bool,
        typer.Option(
            "--state-sync",
            help="Start by restoring the state at a recent height from the peers' snapshots, "
            "checked against its certified header, instead of replaying every block.",
        ),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Create the home of a node that joins the running network as a validator once governance
    adds its key: start it, then propose `jinqiao tx governance add-validator`. With
    --observer, a node that only follows the chain (docs/guide.md "An observer node")."""
    import msgspec

    from jinqiao.keys import InsecurePlaintext, KeyProtection, read_key_info
    from jinqiao.provision.network import add_node

    protection: KeyProtection = InsecurePlaintext()
    if validator_key is None and not observer:
        protection = new_key.protection(f"the validator key of {name}")
    entry = add_node(
        directory,
        name,
        organization,
        api_port=api_port,
        p2p_port=api_port + P2P_PORT_OFFSET if p2p_port is None else p2p_port,
        protection=protection,
        existing_key=validator_key,
        host=host,
        observer=observer,
        state_sync=state_sync,
    )
    if observer:
        if json_output:
            emit_json(msgspec.to_builtins(entry))
            return
        console.print(
            f"[green]created[/] observer node [bold]{entry.name}[/] of {organization} "
            f"in {directory / entry.home} (no validator key: it never votes)"
        )
        console.print(
            "1. restart the other nodes of this directory: their configurations now let it connect"
        )
        console.print(f"2. start it: [bold]jinqiao node start --home {directory / entry.home}[/]")
        return
    public_key = read_key_info(directory / entry.home / "validator_key.json").public_key
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
    home: Annotated[Path | None, typer.Option("--home", help="The node's home directory.")] = None,
    certificate: Annotated[
        Path | None,
        typer.Option(
            "--certificate", help="A PEM certificate instead, e.g. an API client's client.crt."
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """The SHA-256 fingerprint of the node's TLS certificate (or of ``--certificate``): what
    nodes list in their `revoked_certificates` to refuse it (a peer at the handshake, an API
    client with 401 certificate_refused)."""
    from jinqiao.node.config import load_config
    from jinqiao.node.p2p import certificate_fingerprint

    if certificate is not None and home is None:
        name, fingerprint = str(certificate), certificate_fingerprint(certificate)
    elif home is not None and certificate is None:
        name = load_config(home).name
        fingerprint = certificate_fingerprint(home / "tls" / "node.crt")
    else:
        fail("give --home of a node or --certificate FILE")
    if json_output:
        emit_json({"node": name, "fingerprint": fingerprint})
        return
    console.print(f"{name}  {fingerprint}")


@node_app.command("rotate-tls")
@guarded
def node_rotate_tls(
    home: Annotated[Path, typer.Option("--home", help="The node's home directory.")],
    ca: Annotated[
        Path | None,
        typer.Option(
            "--ca",
            help="The directory of the organization's tls-ca.key and tls-ca.crt "
            "(default: <home>/../../orgs/<organization>, as jinqiao init lays it out).",
        ),
    ] = None,
    valid_days: Annotated[int, typer.Option(min=1, help="Days the new certificate is valid.")] = (
        825
    ),
    json_output: JsonOption = False,
) -> None:
    """Issue the node a new TLS key and certificate from its organization's root and install
    them; the old pair is kept in <home>/tls/backup/. A running node loads the new pair within a
    second (or at SIGHUP), without a restart: new connections present it, open ones keep theirs
    (docs/keys.md "Rotation")."""
    from jinqiao.provision.tls_rotation import rotate_node_tls

    rotation = rotate_node_tls(home, ca, valid_days=valid_days)
    if json_output:
        emit_json(
            {
                "node": rotation.node,
                "organization": rotation.organization,
                "old_serial": f"{rotation.old.serial:x}",
                "old_fingerprint": rotation.old.fingerprint,
                "new_serial": f"{rotation.new.serial:x}",
                "new_fingerprint": rotation.new.fingerprint,
                "backup_certificate": str(rotation.backup_certificate),
                "backup_key": str(rotation.backup_key),
            }
        )
        return
    console.print(
        f"[green]rotated[/] the TLS certificate of [bold]{rotation.node}[/] "
        f"({rotation.organization})"
    )
    console.print(f"new serial {rotation.new.serial:x}  fingerprint {rotation.new.fingerprint}")
    console.print(f"old serial {rotation.old.serial:x}  fingerprint {rotation.old.fingerprint}")
    console.print(f"old pair kept in {rotation.backup_certificate.parent}")


@node_app.command("next-key")
@guarded
@with_new_key_options
def node_next_key(
    home: Annotated[Path, typer.Option("--home", help="The validator node's home directory.")],
    new_key: NewKeyOptions,
    key_file: Annotated[
        str,
        typer.Option(
            "--key-file",
            help="The next key's file, relative to the home: made here if absent (encrypted "
            "unless --insecure-plaintext), else used as it is (one jinqiao keys create made, "
            "an HSM reference included).",
        ),
    ] = "next_validator_key.json",
    json_output: JsonOption = False,
) -> None:
    """Give a validator its next consensus key: make (or take) the key file and name it
    next_validator_key_file in the node's config.json. Restart the node, then have an admin of
    its organization propose `jinqiao tx governance replace-validator-key` (docs/keys.md
    "Rotation")."""
    from jinqiao.core.genesis import load_genesis
    from jinqiao.keys import generate_key, save_key
    from jinqiao.node.config import load_config
    from jinqiao.provision.next_key import name_next_validator_key

    path = home / key_file
    if not path.exists():
        load_config(home)  # a home that is not a node's: one line, before any prompt
        suite = load_genesis((home / "genesis.json").read_bytes()).crypto_suite
        save_key(path, generate_key(suite), new_key.protection(f"next validator key {path}"))
    named = name_next_validator_key(home, key_file)
    admin = f"{named.organization or 'ORG'}-admin"
    propose = (
        f"jinqiao tx governance replace-validator-key {named.validator_address} "
        f"--public-key {named.key.public_key} --key {admin}"
    )
    if json_output:
        emit_json(
            {
                "validator": named.validator_name,
                "organization": named.organization,
                "validator_address": named.validator_address,
                "key_file": str(named.key_file),
                "kind": named.key.kind,
                "address": named.key.address,
                "public_key": named.key.public_key,
                "propose": propose,
            }
        )
        return
    console.print(
        f"next key of validator [bold]{named.validator_name}[/] ({named.key.kind}) in "
        f"{named.key_file}\naddress     {named.key.address}\npublic key  {named.key.public_key}"
    )
    console.print("restart the node, then an admin of its organization proposes:")
    console.print(propose, markup=False)


@node_app.command("start")
@guarded
def node_start(
    home: Annotated[Path, typer.Option("--home", help="The node's home directory.")],
    api_port: Annotated[
        int | None, typer.Option(min=0, max=65535, help="Override the API port.")
    ] = None,
    passphrase_fd: PassphraseFdOption = None,
    passphrase_file: PassphraseFileOption = None,
) -> None:
    """Run a node until SIGTERM or Ctrl-C. An encrypted validator key is unlocked with the
    passphrase from --passphrase-fd, --passphrase-file, JINQIAO_KEY_PASSPHRASE(_FD, _FILE) or a
    prompt; an HSM key with its PIN file or a prompt (docs/keys.md)."""
    import os

    from jinqiao.api.server import configure_logging, run
    from jinqiao.keys.passphrase import ENV_PASSPHRASE, ENV_PASSPHRASE_FD, ENV_PASSPHRASE_FILE
    from jinqiao.node.config import load_config

    # The node opens its key itself (jinqiao.keys.load_key, from the environment's sources):
    # the options name where the passphrase is, never the passphrase, so they travel as such.
    PassphraseSource(fd=passphrase_fd, file=passphrase_file)  # at most one of them
    if passphrase_fd is not None or passphrase_file is not None:
        for name in (ENV_PASSPHRASE, ENV_PASSPHRASE_FD, ENV_PASSPHRASE_FILE):
            os.environ.pop(name, None)  # the option wins over the environment
    if passphrase_fd is not None:
        os.environ[ENV_PASSPHRASE_FD] = str(passphrase_fd)
    if passphrase_file is not None:
        os.environ[ENV_PASSPHRASE_FILE] = str(passphrase_file)
    # Logging is set up before the node opens its key, so that what opening it logs (its
    # public parts, at DEBUG) reaches the log like every later line.
    configure_logging(load_config(home, environment=os.environ).log_level)
    run(home, api_port=api_port)


@node_app.command("backup")
@guarded
def node_backup(
    home: Annotated[Path, typer.Option("--home", help="The node's home directory.")],
    out: Annotated[Path, typer.Option(help="The new backup archive (a tar file).")],
    json_output: JsonOption = False,
) -> None:
    """Back up the node's store, consistent while the node runs (docs/operations.md)."""
    import msgspec

    from jinqiao.node.backup import backup

    manifest = backup(home, out)
    if json_output:
        emit_json({"file": str(out), **msgspec.to_builtins(manifest)})
        return
    console.print(
        f"[green]backed up[/] the store of {home} at height {manifest.height} "
        f"(state root {manifest.state_root}) to {out}"
    )


@node_app.command("restore")
@guarded
def node_restore(
    home: Annotated[Path, typer.Option("--home", help="The home of a stopped node, no store.")],
    archive: Annotated[Path, typer.Option("--from", help="A backup from `jinqiao node backup`.")],
    json_output: JsonOption = False,
) -> None:
    """Restore a backup into a node's home; started, the node fetches the blocks since."""
    import msgspec

    from jinqiao.node.backup import restore

    manifest = restore(home, archive)
    if json_output:
        emit_json({"file": str(archive), **msgspec.to_builtins(manifest)})
        return
    console.print(
        f"[green]restored[/] height {manifest.height} (state root {manifest.state_root}) into "
        f"{home}; start the node and it catches up from its peers"
    )
