"""``jinqiao audit``: export a node's audit trail and verify an export (``docs/audit.md``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from jinqiao.cli.common import JsonOption, fail, guarded
from jinqiao.terminal import console, emit_json

audit_app = typer.Typer(help="The audit trail of authenticated reads.", no_args_is_help=True)


@audit_app.command("export")
@guarded
def audit_export(
    home: Annotated[Path, typer.Option("--home", help="The node's home directory.")],
    output: Annotated[Path, typer.Option("--output", help="New file to write the log into.")],
    json_output: JsonOption = False,
) -> None:
    """Check the node's audit log and write all its segments, in order, into one file."""
    from jinqiao.node.audit import export_log

    records, head = export_log(home, output)
    if json_output:
        emit_json({"records": records, "head": head, "output": str(output)})
        return
    console.print(f"exported {records} records to {output}; head {head}")


@audit_app.command("verify")
@guarded
def audit_verify(
    file: Annotated[Path, typer.Argument(help="An exported audit log.")],
    head: Annotated[
        str | None,
        typer.Option(help="The hash the last record must have (the node's head, read apart)."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Check every record's hash, link and number; exit 1 naming the first broken record."""
    from jinqiao.node.audit import ChainBroken, check_chain, read_lines

    try:
        with file.open("rb") as opened:
            records, last = check_chain(read_lines(opened), head=head)
    except ChainBroken as broken:
        if json_output:
            emit_json({"valid": False, "record": broken.record, "reason": broken.reason})
            raise typer.Exit(1) from None
        fail(f"{file}: record {broken.record} is broken: {broken.reason}")
    if json_output:
        emit_json({"valid": True, "records": records, "head": last})
        return
    console.print(f"{file}: {records} records, chain intact; head {last}")


@audit_app.command("repair")
@guarded
def audit_repair(
    home: Annotated[Path, typer.Option("--home", help="The node's home (node stopped).")],
    json_output: JsonOption = False,
) -> None:
    """After a crash left a torn last record: move the torn bytes aside (kept, never deleted) and
    append a record of the repair. Refuses any other damage. Run it with the node stopped."""
    from jinqiao.node.audit import open_audit_log

    log = open_audit_log(home, repair=True)
    records, head = log.head
    log.close()
    if json_output:
        emit_json({"records": records, "head": head})
        return
    console.print(f"audit log intact: {records} records; head {head}")
