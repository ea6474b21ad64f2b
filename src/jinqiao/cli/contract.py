"""``jinqiao contract``: member contracts (docs/contracts.md), on this machine.

``new NAME`` writes a working package to start from; ``check DIR`` reads ``DIR/contract.py`` and
``DIR/contract.toml`` and prints one line per finding, ``FILE:LINE: CODE message``, exiting 1
when there is any (0 and "ok" when none), so a reviewer's script or CI can gate on it; ``test
DIR`` runs the package's tests against an in-process chain and reports coverage.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from jinqiao.cli.common import (
    JsonOption,
    KeyOption,
    Target,
    fail,
    guarded,
    report,
    send,
    with_submit_target,
    with_target,
)
from jinqiao.core.codec import decode, encode
from jinqiao.terminal import console, emit_json

if TYPE_CHECKING:
    from jinqiao.contractkit.runner import TestReport

# The review, the sandbox and coverage.py load only when a contract command runs (every other
# ``jinqiao`` command would pay for them at start).
SOURCE_FILE = "contract.py"
MANIFEST_FILE = "contract.toml"

contract_app = typer.Typer(
    help="Member contracts: scaffold, check and test a package (docs/contracts.md).",
    no_args_is_help=True,
)


@contract_app.command("check")
@guarded
def check(
    directory: Annotated[Path, typer.Argument(help="The package directory.")],
    explain: Annotated[
        bool, typer.Option("--explain", help="Follow each finding with its rule's reason.")
    ] = False,
) -> None:
    """Review a package: the deterministic subset's rules, and the manifest against the code."""
    from jinqiao.contractkit.runner import read_package_file
    from jinqiao.contracts.limits import MAX_MANIFEST_BYTES, MAX_SOURCE_BYTES
    from jinqiao.contracts.package import review_package
    from jinqiao.contracts.rules import RULES

    source = read_package_file(directory / SOURCE_FILE, MAX_SOURCE_BYTES)
    manifest = read_package_file(directory / MANIFEST_FILE, MAX_MANIFEST_BYTES)
    findings = review_package(manifest, source)
    for finding in findings:
        typer.echo(finding.describe(str(directory / SOURCE_FILE)))
        if explain:
            rule = RULES[finding.code]
            typer.echo(f"    {rule.title}: {rule.reason}")
    if findings:
        raise typer.Exit(1)
    typer.echo(f"ok: {directory} is in the deterministic subset and matches its manifest")


@contract_app.command("new")
@guarded
def new(
    name: Annotated[str, typer.Argument(help="The contract's name (a-z, 0-9, _).")],
    parent: Annotated[
        Path, typer.Option("--dir", help="Where to create the package directory NAME.")
    ] = Path("."),
) -> None:
    """Write a new package NAME/: contract.py, contract.toml and tests/test_contract.py."""
    from jinqiao.contractkit.scaffold import scaffold

    files = scaffold(name)
    directory = parent / name
    if directory.exists():
        fail(f"{directory} exists; nothing was written")
    for relative, text in files.items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    typer.echo(f"created {directory}: edit {SOURCE_FILE} and {MANIFEST_FILE}, then")
    typer.echo(f"  jinqiao contract check {directory}")
    typer.echo(f"  jinqiao contract test {directory}")


@contract_app.command("test")
@guarded
def test(
    directory: Annotated[Path, typer.Argument(help="The package directory.")],
) -> None:
    """Run DIR/tests/test_*.py against an in-process chain; report line and branch coverage
    of contract.py. Exits 1 if a test fails or the package is refused."""
    from jinqiao.contractkit.runner import read_package_file, run_package_tests
    from jinqiao.contracts.limits import MAX_MANIFEST_BYTES, MAX_SOURCE_BYTES
    from jinqiao.contracts.package import review_package

    findings = review_package(
        read_package_file(directory / MANIFEST_FILE, MAX_MANIFEST_BYTES),
        read_package_file(directory / SOURCE_FILE, MAX_SOURCE_BYTES),
    )
    if findings:
        for finding in findings:
            typer.echo(finding.describe(str(directory / SOURCE_FILE)))
        fail(f"{directory} does not pass the check; the tests were not run")
    report = run_package_tests(directory)
    print_report(report)
    if not report.passed:
        raise typer.Exit(1)


def print_report(report: TestReport) -> None:
    for outcome in report.outcomes:
        mark = "ok  " if outcome.passed else "FAIL"
        typer.echo(f"{mark} {outcome.name}{'  ' + outcome.message if outcome.message else ''}")
    failed = sum(not outcome.passed for outcome in report.outcomes)
    typer.echo(f"{len(report.outcomes) - failed} passed, {failed} failed")
    figures = report.coverage
    if figures is not None:
        typer.echo(
            f"coverage of {SOURCE_FILE}: lines {figures.covered_lines}/{figures.statements} "
            f"({figures.line_percent:.1f}%), branches {figures.covered_branches}/"
            f"{figures.branches} ({figures.branch_percent:.1f}%)"
        )
        if figures.missing_lines:
            typer.echo(f"  lines not run: {', '.join(map(str, figures.missing_lines))}")
        if figures.missing_branches:
            arcs = ", ".join(f"{start}->{end}" for start, end in figures.missing_branches)
            typer.echo(f"  branches not taken: {arcs}")


# -- on chain (jinqiao.contracts.lifecycle) ---------------------------------------------------


@contract_app.command("propose")
@guarded
@with_submit_target
def propose(
    target: Target,
    directory: Annotated[Path, typer.Argument(help="The package directory.")],
    key: KeyOption,
    json_output: JsonOption = False,
) -> None:
    """Propose a package on chain (an organization admin); prints its hash for approvals."""
    from jinqiao.contractkit.runner import read_package_file
    from jinqiao.contracts.lifecycle import LIFECYCLE, ProposeArgs
    from jinqiao.contracts.limits import MAX_MANIFEST_BYTES, MAX_SOURCE_BYTES

    args = ProposeArgs(
        read_package_file(directory / MANIFEST_FILE, MAX_MANIFEST_BYTES),
        read_package_file(directory / SOURCE_FILE, MAX_SOURCE_BYTES),
    )
    with target.client() as client:
        result = client.send(target.key(key), LIFECYCLE, "propose", args)
    package_hash = decode(result.receipt.result, bytes, max_bytes=64).hex() if result.ok else None
    if not json_output and package_hash is not None:
        console.print(f"package [bold]{package_hash}[/] proposed")
    report(result, json_output, package_hash=package_hash)


@contract_app.command("approve")
@guarded
@with_submit_target
def approve(
    target: Target,
    package_hash: Annotated[str, typer.Argument(help="The package's hash (hex).")],
    key: KeyOption,
    json_output: JsonOption = False,
) -> None:
    """Approve that exact package for the admin's organization (after checking and testing it:
    `jinqiao contract check` and `test` on the same files)."""
    from jinqiao.contracts.lifecycle import LIFECYCLE, PackageArgs

    args = PackageArgs(parse_hash(package_hash))
    send(target, json_output, lambda t, c: c.send(t.key(key), LIFECYCLE, "approve", args))


@contract_app.command("show")
@guarded
@with_target
def show(
    target: Target,
    package_hash: Annotated[str, typer.Argument(help="The package's hash (hex).")],
    json_output: JsonOption = False,
) -> None:
    """Where a package stands: proposed or committed, and which organizations approved."""
    from jinqiao.contracts.lifecycle import LIFECYCLE

    parse_hash(package_hash)
    with target.client() as client:
        view = client.query(LIFECYCLE, "package", package_hash=bytes.fromhex(package_hash))
    if json_output:
        emit_json(view)
        return
    approvals = ", ".join(view["approvals"]) or "none yet"
    console.print(f"{view['name']} {view['version']}: {view['status']}; approved by {approvals}")


def parse_hash(text: str) -> bytes:
    try:
        value = bytes.fromhex(text)
    except ValueError:
        fail("a package hash is 64 hexadecimal digits")
    if len(value) != 32:
        fail("a package hash is 64 hexadecimal digits")
    return value


@contract_app.command("pause")
@guarded
@with_submit_target
def pause(
    target: Target,
    name: Annotated[str, typer.Argument(help="The member contract's name.")],
    key: KeyOption,
    resume: Annotated[bool, typer.Option("--resume", help="Propose to resume it instead.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Propose (to governance) pausing a member contract: once the quorum approves
    (`jinqiao tx governance approve ID`) its methods are rejected `contract_paused`."""
    from jinqiao.apps.governance import CallContract
    from jinqiao.cli.governance import _propose
    from jinqiao.contracts.lifecycle import LIFECYCLE, SetPausedArgs

    action = CallContract(LIFECYCLE, "set_paused", encode(SetPausedArgs(name, not resume)))
    what = f"{'resume' if resume else 'pause'} contract {name}"
    _propose(target, lambda _: action, what, key, json_output)
