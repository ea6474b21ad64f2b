"""``jinqiao keys``: make and inspect key files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from jinqiao.cli.common import (
    JsonOption,
    SuiteOption,
    guarded,
)
from jinqiao.core.crypto import DEFAULT_SUITE
from jinqiao.terminal import console, emit_json

keys_app = typer.Typer(help="Make and inspect key files.", no_args_is_help=True)


@keys_app.command("new")
@guarded
def keys_new(
    path: Annotated[Path, typer.Argument(help="Where to write the key (mode 0600).")],
    suite: SuiteOption = DEFAULT_SUITE,
    json_output: JsonOption = False,
) -> None:
    """Generate a new key file for the network's crypto suite (recorded in the file)."""
    from jinqiao.keys import generate_key, save_key

    signer = generate_key(suite)
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
