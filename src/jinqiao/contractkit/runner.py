"""``jinqiao contract test DIR``: run a package's tests against the kit, with coverage.

The tests are ``DIR/tests/test_*.py``; every function named ``test_*`` is called in the order it
is defined, given a fresh ``Kit`` when it takes a parameter (so tests never share state). A test
passes when it returns, fails when it raises (an ``assert`` or anything else). Line and branch
coverage of ``contract.py`` comes from coverage.py, measured over the whole run; the sandbox
compiles the contract under the file's own path, so coverage attributes its lines to it.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import tempfile
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import coverage

from jinqiao.contractkit import Kit
from jinqiao.contracts.limits import MAX_MANIFEST_BYTES, MAX_SOURCE_BYTES
from jinqiao.contracts.package import MANIFEST_FILE, SOURCE_FILE
from jinqiao.core.errors import InvalidInput

TESTS_DIRECTORY = "tests"
MAX_TEST_FILES = 100


@dataclass(frozen=True)
class TestOutcome:
    name: str
    passed: bool
    message: str = ""


@dataclass(frozen=True)
class CoverageFigures:
    statements: int
    covered_lines: int
    missing_lines: tuple[int, ...]
    branches: int
    covered_branches: int
    missing_branches: tuple[tuple[int, int], ...]

    @property
    def line_percent(self) -> float:
        return 100.0 * self.covered_lines / self.statements if self.statements else 100.0

    @property
    def branch_percent(self) -> float:
        return 100.0 * self.covered_branches / self.branches if self.branches else 100.0


@dataclass(frozen=True)
class TestReport:
    outcomes: list[TestOutcome] = field(default_factory=list)
    coverage: CoverageFigures | None = None

    @property
    def passed(self) -> bool:
        return bool(self.outcomes) and all(outcome.passed for outcome in self.outcomes)


def read_package_file(path: Path, limit_bytes: int) -> str:
    if not path.is_file():
        raise InvalidInput(
            f"{path}: no such file (a package holds {SOURCE_FILE} and {MANIFEST_FILE})",
            code="invalid_package",
        )
    if path.stat().st_size > limit_bytes:
        raise InvalidInput(f"{path}: over the limit of {limit_bytes} bytes", code="invalid_package")
    try:
        return path.read_bytes().decode()
    except UnicodeDecodeError:
        raise InvalidInput(f"{path}: not UTF-8 text", code="invalid_package") from None


def run_package_tests(directory: Path) -> TestReport:
    """Run the package's tests; ``InvalidInput`` if the package cannot be read or reviewed."""
    source_path = (directory / SOURCE_FILE).resolve()
    source = read_package_file(source_path, MAX_SOURCE_BYTES)
    manifest = read_package_file(directory / MANIFEST_FILE, MAX_MANIFEST_BYTES)
    Kit(manifest, source, str(source_path))  # refuses a package the check refuses, up front
    test_files = sorted((directory / TESTS_DIRECTORY).glob("test_*.py"))[: MAX_TEST_FILES + 1]
    if not test_files or len(test_files) > MAX_TEST_FILES:
        raise InvalidInput(
            f"{directory / TESTS_DIRECTORY}: 1..{MAX_TEST_FILES} files test_*.py expected",
            code="invalid_package",
        )
    measurement = coverage.Coverage(
        data_file=None, branch=True, include=[str(source_path)], config_file=False
    )
    outcomes: list[TestOutcome] = []
    measurement.start()
    try:
        for test_file in test_files:
            outcomes += run_test_file(test_file, manifest, source, str(source_path))
    finally:
        measurement.stop()
    return TestReport(outcomes, coverage_figures(measurement, source_path))


def run_test_file(path: Path, manifest: str, source: str, filename: str) -> list[TestOutcome]:
    path = path.resolve()  # tracebacks name the file as it was loaded
    spec = importlib.util.spec_from_file_location(f"jinqiao_contract_tests.{path.stem}", path)
    if spec is None or spec.loader is None:
        raise InvalidInput(f"{path}: not a Python file", code="invalid_package")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        return [TestOutcome(path.name, False, f"importing it raised {describe(exc, path)}")]
    outcomes = []
    for name, function in vars(module).items():
        if not name.startswith("test_") or not inspect.isfunction(function):
            continue
        label = f"{path.name}::{name}"
        try:
            arguments: list[Any] = []
            if inspect.signature(function).parameters:
                arguments.append(Kit(manifest, source, filename))
            function(*arguments)
        except Exception as exc:
            outcomes.append(TestOutcome(label, False, describe(exc, path)))
        else:
            outcomes.append(TestOutcome(label, True))
    return outcomes


def describe(exc: Exception, path: Path) -> str:
    """``test_x.py:LINE: AssertionError: message`` at the deepest frame in the test file."""
    frames = [
        frame for frame in traceback.extract_tb(exc.__traceback__) if frame.filename == str(path)
    ]
    where = f"{path.name}:{frames[-1].lineno}: " if frames else ""
    text = str(exc) or (frames[-1].line or "" if frames else "")
    return f"{where}{type(exc).__name__}{': ' + text if text else ''}"


def coverage_figures(measurement: coverage.Coverage, source_path: Path) -> CoverageFigures:
    with tempfile.TemporaryDirectory() as directory:
        report_path = Path(directory) / "coverage.json"
        measurement.json_report(outfile=str(report_path))
        report = json.loads(report_path.read_text())
    files = report["files"]
    if not files:
        return CoverageFigures(0, 0, (), 0, 0, ())
    (figures,) = files.values()
    summary = figures["summary"]
    return CoverageFigures(
        statements=summary["num_statements"],
        covered_lines=summary["covered_lines"],
        missing_lines=tuple(figures["missing_lines"]),
        branches=summary["num_branches"],
        covered_branches=summary["covered_branches"],
        missing_branches=tuple(tuple(pair) for pair in figures.get("missing_branches", [])),
    )
