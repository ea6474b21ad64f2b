"""``jinqiao contract``: member contracts (docs/contracts.md) — review a package on this machine.

``check DIR`` reads ``DIR/contract.py`` and ``DIR/contract.toml`` and prints one line per
finding, ``FILE:LINE: CODE message``, exiting 1 when there is any (0 and "ok" when none), so a
reviewer's script or CI can gate on it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from jinqiao.cli.common import fail, guarded
from jinqiao.contracts.limits import MAX_MANIFEST_BYTES, MAX_SOURCE_BYTES
from jinqiao.contracts.package import MANIFEST_FILE, SOURCE_FILE, review_package
from jinqiao.contracts.rules import RULES

contract_app = typer.Typer(
    help="Member contracts: check a package (docs/contracts.md).", no_args_is_help=True
)


def read_text(path: Path, limit_bytes: int) -> str:
    """A package file, refused over its limit before it is read whole."""
    if not path.is_file():
        fail(f"{path}: no such file (a package holds {SOURCE_FILE} and {MANIFEST_FILE})")
    size = path.stat().st_size
    if size > limit_bytes:
        fail(f"{path}: {size} bytes, over the limit of {limit_bytes}")
    try:
        return path.read_bytes().decode()
    except UnicodeDecodeError:
        fail(f"{path}: not UTF-8 text")


@contract_app.command("check")
@guarded
def check(
    directory: Annotated[Path, typer.Argument(help="The package directory.")],
    explain: Annotated[
        bool, typer.Option("--explain", help="Follow each finding with its rule's reason.")
    ] = False,
) -> None:
    """Review a package: the deterministic subset's rules, and the manifest against the code."""
    source = read_text(directory / SOURCE_FILE, MAX_SOURCE_BYTES)
    manifest = read_text(directory / MANIFEST_FILE, MAX_MANIFEST_BYTES)
    findings = review_package(manifest, source)
    for finding in findings:
        typer.echo(finding.describe(str(directory / SOURCE_FILE)))
        if explain:
            rule = RULES[finding.code]
            typer.echo(f"    {rule.title}: {rule.reason}")
    if findings:
        raise typer.Exit(1)
    typer.echo(f"ok: {directory} is in the deterministic subset and matches its manifest")
