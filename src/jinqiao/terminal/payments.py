"""How the CLI and the demo show a clearing cycle: its positions as a table and its figures."""

from __future__ import annotations

from collections.abc import Sequence

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
