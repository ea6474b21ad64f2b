"""How the CLI and the demo show a clearing cycle: its positions as a table and its figures."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.markup import escape
from rich.table import Table

from jinqiao.apps.payments.figures import (
    CycleFigures,
    CycleTiming,
    describe_timing,
    format_ppm_percent,
)
from jinqiao.apps.payments.model import Cycle, Position
from jinqiao.terminal import console, format_minor


def print_cycle(
    cycle: Cycle,
    positions: Sequence[Position],
    figures: CycleFigures,
    scale: int,
    timing: CycleTiming | None = None,
) -> None:
    table = Table(
        title=f"Cycle {cycle.cycle_id} ({cycle.currency}, {cycle.status}): net positions, proven"
    )
    for column in ("institution", "net", "gross debit", "gross credit", "funded", "paid out"):
        table.add_column(column, justify="left" if column == "institution" else "right")
    for position in positions:
        table.add_row(
            position.institution + (" (unwound)" if position.excluded else ""),
            format_minor(position.net_minor, scale),
            format_minor(position.debit_minor, scale),
            format_minor(position.credit_minor, scale),
            format_minor(position.funded_minor, scale),
            format_minor(position.paid_out_minor, scale),
        )
    console.print(table)
    console.print(
        f"gross obligations {format_minor(figures.gross_minor, scale)} {cycle.currency}, "
        f"net {format_minor(figures.net_minor, scale)} {cycle.currency}: netting efficiency "
        f"[bold]{format_ppm_percent(figures.netting_efficiency_ppm)}[/]; largest net debit "
        f"{figures.largest_net_debtor or '-'} "
        f"{format_minor(figures.largest_net_debit_minor, scale)} {cycle.currency}"
    )
    if timing is not None:
        console.print(f"cycle {cycle.cycle_id} {describe_timing(timing)} (block times, proven)")


def print_statement(statement: Mapping[str, Any]) -> None:
    """A statement (its JSON form, docs/payments.md) as a table of its lines, then its totals
    and net position."""
    scale = int(statement["scale"])
    currency = statement["currency"]
    table = Table(
        title=f"Statement of {statement['institution']}, cycle {statement['cycle_id']} "
        f"({currency}, {statement['cycle_status']}), read at height {statement['height']}"
    )
    for column in ("#", "payment", "kind", "reference", "side", "counterparty", "direction"):
        table.add_column(column)
    for column in ("amount", "fee", "height"):
        table.add_column(column, justify="right")
    table.add_column("status")
    for line in statement["lines"]:
        table.add_row(
            str(line["sequence"]),
            escape(line["payment_id"]),
            line["kind"],
            escape(line["reference"]),
            line["side"],
            escape(line["counterparty"]),
            line["direction"],
            format_minor(line["amount_minor"], scale),
            format_minor(line["fee_minor"], scale),
            str(line["height"]),
            line["status"],
        )
    console.print(table)
    totals = statement["totals"]
    console.print(
        f"entries {totals['entry_count']}: debit {format_minor(totals['debit_minor'], scale)}, "
        f"credit {format_minor(totals['credit_minor'], scale)}, fees paid "
        f"{format_minor(totals['fees_paid_minor'], scale)}, fees received "
        f"{format_minor(totals['fees_received_minor'], scale)} {currency}",
        highlight=False,
    )
    position = statement["position"]
    if position is None:
        console.print("no net position yet (it is computed when the cycle closes)")
    else:
        console.print(
            f"net position {format_minor(position['net_minor'], scale)} {currency} "
            f"(> 0: receives); funded {format_minor(position['funded_minor'], scale)}, paid out "
            f"{format_minor(position['paid_out_minor'], scale)}"
            + (" (unwound)" if position["excluded"] else ""),
            highlight=False,
        )


def print_break_report(report: Mapping[str, Any]) -> None:
    """A reconciliation's break report (its JSON form) as a summary and a table of breaks."""
    counts = ", ".join(f"{kind} {count}" for kind, count in sorted(report["break_counts"].items()))
    console.print(
        f"Reconciliation of {report['institution']}, cycle {report['cycle_id']} "
        f"({report['currency']}): ledger {report['ledger_entries']} entries, records "
        f"{report['institution_records']}, matched {report['matched']}; "
        f"{len(report['breaks'])} breaks" + (f" ({counts})" if counts else ""),
        highlight=False,
    )
    if not report["breaks"]:
        return
    table = Table("break", "payment", "kind", "reference", "side", "row", "record", "sequence")
    table.add_column("ledger", justify="right")
    table.add_column("records", justify="right")
    for found in report["breaks"]:
        table.add_row(
            found["kind"],
            escape(found["payment_id"]),
            escape(found["entry_kind"]),
            escape(found["reference"]),
            escape(found["side"]),
            "-" if found["row"] is None else str(found["row"]),
            escape(found["record_id"]),
            "-" if found["sequence"] is None else str(found["sequence"]),
            escape(found["ledger_value"]),
            escape(found["institution_value"]),
        )
    console.print(table)
