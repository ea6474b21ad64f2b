"""``jinqiao tx resend``: complete a transaction whose outcome is unknown by re-submitting the
same signed bytes from the CLI's journal (``jinqiao.cli.journal``), never a new transaction."""

from __future__ import annotations

from typing import Annotated

import typer

from jinqiao.cli.common import (
    JsonOption,
    Target,
    guarded,
    report_outcome,
    with_submit_target,
)


@guarded
@with_submit_target
def resend(
    target: Target,
    transaction_hash: Annotated[str, typer.Argument(help="Transaction hash (hex) to complete.")],
    json_output: JsonOption = False,
) -> None:
    """Re-submit a transaction this CLI sent, byte for byte, and report its outcome: if a node
    already committed it, that result (nothing is sent); replay protection lets it commit once."""
    journal = target.journal()
    with target.client() as client:
        transaction = journal.load(transaction_hash.lower(), client.suite)
        report_outcome(lambda: client.resend(transaction), json_output, waited=target.wait)
