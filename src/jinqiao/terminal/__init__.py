"""What a person sees in a terminal: the console, progress bars, JSON output, amounts.

Shared by the CLI, the demo and the benchmarks (which run outside the node), so it depends on
nothing of jinqiao's but what it prints.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

# Piped output (CI logs, files) gets 120 columns rather than Rich's 80, so tables of amounts are
# not cut short; a terminal keeps its own width.
_PIPED_WIDTH = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 120
console = Console(soft_wrap=True, width=_PIPED_WIDTH)
errors = Console(stderr=True, soft_wrap=True)


def progress_bar(*, disable: bool = False) -> Progress:
    """The progress bar of every long CLI task: description, bar, done/total, elapsed time."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=disable,
    )


def emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=True) + "\n")


def format_minor(amount_minor: int, scale: int) -> str:
    """``123456, 2`` → ``"1,234.56"``, in integers (no float rounding of money)."""
    sign = "-" if amount_minor < 0 else ""
    major, minor = divmod(abs(amount_minor), 10**scale)
    return f"{sign}{major:,}" + (f".{minor:0{scale}d}" if scale else "")


def save_result(result: dict[str, Any], *, output: Path | None, json_output: bool) -> bool:
    """Write a benchmark's ``result`` to ``output`` and, with ``--json``, to stdout; True when
    the caller should print its text summary instead."""
    if output is not None:
        output.write_text(json.dumps(result, indent=2) + "\n")
    if json_output:
        emit_json(result)
    return not json_output
