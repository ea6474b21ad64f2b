"""The example contracts (examples/contracts: an escrow with a timeout, a consortium loan with a
repayment schedule) pass the check, and their own tests pass with full line and branch coverage
— through the same runner as ``jinqiao contract test``."""

from __future__ import annotations

from pathlib import Path

import pytest

from jinqiao.contractkit.runner import run_package_tests
from jinqiao.contracts.package import MANIFEST_FILE, SOURCE_FILE, review_package

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "contracts"


@pytest.mark.parametrize("name", ["escrow", "loan"])
def test_an_example_checks_and_passes_its_tests(name: str) -> None:
    package = EXAMPLES / name
    manifest = (package / MANIFEST_FILE).read_text()
    assert review_package(manifest, (package / SOURCE_FILE).read_text()) == []
    report = run_package_tests(package)
    assert report.passed, [outcome for outcome in report.outcomes if not outcome.passed]
    figures = report.coverage
    assert figures is not None
    assert (figures.missing_lines, figures.missing_branches) == ((), ())


def test_a_module_constant_that_bombs_is_refused_at_load() -> None:
    source = (EXAMPLES / "escrow" / SOURCE_FILE).read_text()
    bomb = source.replace("MAX_AMOUNT_MINOR = 10**15", "MAX_AMOUNT_MINOR = 10**10**8")
    manifest = (EXAMPLES / "escrow" / MANIFEST_FILE).read_text()
    findings = review_package(manifest, bomb)
    assert [(finding.code, finding.message) for finding in findings] == [
        # 10 is 4 bits, so 10**(10**8) is sized as 4 * 10**8 bits: an upper bound, before computing
        ("JQ190", "loading the contract: an integer of 400000000 bits is over 4096")
    ]
