"""What a person sees in a terminal: the console, progress bars, JSON output, amounts.

Shared by the CLI, the demo and the benchmarks (which run outside the node), so it depends on
nothing of jinqiao's but what it prints.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

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


_shown_zone: tzinfo | None = None
"""The zone times are shown in (``--tz``); ``None``: the local zone of this machine."""


def set_time_zone(name: str | None) -> None:
    """Show times in the IANA zone ``name`` (``Asia/Shanghai``, ``UTC``), or in the local zone
    for ``None``; ``ValueError`` names an unknown zone."""
    global _shown_zone
    if name is None:
        _shown_zone = None
        return
    try:
        _shown_zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}: give an IANA name such as Asia/Shanghai or UTC"
        ) from None


def format_time_ms(time_ms: int) -> str:
    """Milliseconds since 1970 as ISO 8601 with milliseconds and the offset of the zone chosen
    with ``set_time_zone``: ``1764980000000`` → ``2025-12-06T08:13:20.000+08:00``."""
    moment = datetime.fromtimestamp(time_ms // 1000, UTC) + timedelta(milliseconds=time_ms % 1000)
    return moment.astimezone(_shown_zone).isoformat(timespec="milliseconds")


class _TimeLeftColumn(ProgressColumn):
    """The seconds left before the task's ``deadline`` (a ``time.monotonic()`` value)."""

    def render(self, task: Task) -> Text:
        left_s = max(0.0, float(task.fields["deadline"]) - time.monotonic())
        return Text(f"at most {left_s:.0f} s left", style="progress.remaining")


def waiting_progress(*, disable: bool = False) -> Progress:
    """On stderr, for a wait whose end is not known in advance (a commit): a spinner, the
    elapsed time and the seconds left before the task's ``deadline`` field. Shown only in a
    terminal (it would garble a log or a pipe)."""
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        _TimeLeftColumn(),
        console=errors,
        transient=True,
        disable=disable or not errors.is_terminal,
    )


def cutoff_progress(*, disable: bool = False) -> Progress:
    """On stderr, for a wait towards a known end (a cycle's cut-off height or time): the bar,
    where the chain is (the task's ``shown`` field) and the remaining time estimated from the
    pace so far. Shown only in a terminal."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[shown]}"),
        TimeRemainingColumn(),
        console=errors,
        disable=disable or not errors.is_terminal,
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
