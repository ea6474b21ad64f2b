"""``jinqiao explorer-hash``: the explorer's pinned script hashes, from the package installed here
(docs/explorer.md). The page shows the verifying script's hash beside the genesis hash it
computed; a viewer compares both with this command's output, which no node can change."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from jinqiao.api.explorer.pins import EXPLORER_SCRIPT, EXPLORER_SCRIPT_SHA384, PINNED_ASSETS
from jinqiao.cli.common import JsonOption, guarded
from jinqiao.core.genesis import genesis_hash, load_genesis
from jinqiao.terminal import console, emit_json


@guarded
def explorer_hash(
    genesis: Annotated[
        Path | None,
        typer.Option(
            "--genesis", help="Also print this genesis file's hash, as the page shows it."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Print the SHA-384 (Subresource Integrity) of the explorer's verifying script and of every
    script the page loads, as pinned in this installed package."""
    chain_genesis = (
        genesis_hash(load_genesis(genesis.read_bytes())).hex() if genesis is not None else None
    )
    if as_json:
        emit_json(
            {
                "explorer_script": EXPLORER_SCRIPT_SHA384,
                "scripts": PINNED_ASSETS,
                "genesis_hash": chain_genesis,
            }
        )
        return
    console.print(f"verifying script ({EXPLORER_SCRIPT}): {EXPLORER_SCRIPT_SHA384}")
    for name, pin in PINNED_ASSETS.items():
        if name != EXPLORER_SCRIPT:
            console.print(f"  also loaded, {name}: {pin}")
    if chain_genesis is not None:
        console.print(f"genesis hash: {chain_genesis}")
