"""The package kit: ``jinqiao contract new`` scaffolds a package that passes ``check`` and
``test`` as it stands; ``test`` reports failures with their line, and line and branch coverage
that sees what the tests did not run."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from jinqiao.cli.main import app
from jinqiao.contractkit import Kit
from jinqiao.contractkit.runner import run_package_tests
from jinqiao.contractkit.scaffold import scaffold
from jinqiao.core.errors import InvalidInput


def new_package(tmp_path: Path, name: str = "loyalty") -> Path:
    result = CliRunner().invoke(app, ["contract", "new", name, "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    return tmp_path / name


def test_a_new_package_checks_and_tests_clean(tmp_path: Path) -> None:
    package = new_package(tmp_path)
    runner = CliRunner()
    assert runner.invoke(app, ["contract", "check", str(package)]).exit_code == 0
    result = runner.invoke(app, ["contract", "test", str(package)])
    assert result.exit_code == 0, result.output
    assert "4 passed, 0 failed" in result.output
    assert "coverage of contract.py: lines 17/17 (100.0%), branches 2/2 (100.0%)" in result.output


def test_new_refuses_bad_names_and_existing_directories(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["contract", "new", "Bad-Name", "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "a contract name is a lowercase letter" in result.output
    new_package(tmp_path)
    result = runner.invoke(app, ["contract", "new", "loyalty", "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "exists; nothing was written" in result.output


def test_coverage_sees_the_branch_no_test_takes(tmp_path: Path) -> None:
    package = new_package(tmp_path)
    tests = package / "tests" / "test_contract.py"
    text = tests.read_text()
    tests.write_text(text[: text.index("def test_amounts_are_bounded")])
    report = run_package_tests(package)
    assert report.passed
    figures = report.coverage
    assert figures is not None
    reject_line = 1 + (package / "contract.py").read_text().splitlines().index(
        '            ctx.reject("invalid_amount", f"a pledge is 1..{MAX_PLEDGE_MINOR} minor units")'
    )
    assert figures.missing_lines == (reject_line,)
    assert (figures.covered_branches, figures.branches) == (1, 2)
    assert figures.missing_branches == ((reject_line - 1, reject_line),)


def test_a_failing_test_is_reported_with_its_line(tmp_path: Path) -> None:
    package = new_package(tmp_path)
    (package / "tests" / "test_more.py").write_text(
        "def test_wrong(kit):\n    assert kit.query('pledged', sender=b'x' * 20) == 1\n"
    )
    result = CliRunner().invoke(app, ["contract", "test", str(package)])
    assert result.exit_code == 1
    assert (
        "FAIL test_more.py::test_wrong  test_more.py:2: AssertionError: "
        "assert kit.query('pledged', sender=b'x' * 20) == 1"
    ) in result.output
    assert "4 passed, 1 failed" in result.output


def test_test_refuses_a_package_the_check_refuses(tmp_path: Path) -> None:
    package = new_package(tmp_path)
    source = package / "contract.py"
    source.write_text(source.read_text().replace("+ args.amount_minor", "+ args.amount_minor / 1"))
    result = CliRunner().invoke(app, ["contract", "test", str(package)])
    assert result.exit_code == 1
    assert "JQ131" in result.output
    assert "the tests were not run" in result.output


def test_a_package_without_tests_is_refused(tmp_path: Path) -> None:
    package = new_package(tmp_path)
    (package / "tests" / "test_contract.py").unlink()
    with pytest.raises(InvalidInput, match="files test_"):
        run_package_tests(package)


def test_the_kit_signs_executes_and_decodes() -> None:
    files = scaffold("pledges")
    kit = Kit(files["contract.toml"], files["contract.py"])
    receipt = kit.call("bob", "pledge", amount_minor=7)
    # steps: the pause check (1), pledge and pledge_key twice (3 entries), a load and a save
    # (2), the event (1)
    assert (receipt.ok, receipt.result, receipt.steps_used) == (True, 7, 7)
    assert kit.load(b"pledge/" + kit.address("bob")) == 7
    assert kit.call("carol", "pledge", amount_minor=7).code == "unauthorized"
    with pytest.raises(KeyError):
        kit.call("bob", "nothing")


def test_the_bench_runs_every_variant(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Not a timing test: the bench runs, every variant completes every call, and the steps
    say which variant was metered."""
    from jinqiao.bench.contracts import run_contracts_bench

    output = tmp_path / "contracts.json"
    result = run_contracts_bench(
        calls=100, block_size=50, rounds=1, json_output=True, output=output
    )
    capsys.readouterr()
    assert output.with_suffix(".png").read_bytes().startswith(b"\x89PNG")
    loop = result["results"]["loop"]
    # a member's call also reads whether it is paused (one state operation)
    assert loop["steps_used"] == {"builtin": 3, "member": 105, "member-unmetered": 4}
    assert set(loop["calls_per_second"]) == {"builtin", "member", "member-unmetered"}
    slowdown = loop["member_slowdown_vs_builtin"]
    assert len(slowdown["per_round"]) == 1 == len(loop["rounds"])
    assert slowdown["median_of_rounds"] == slowdown["per_round"][0] > 0


def test_the_cli_names_the_package_files_as_the_package_module_does() -> None:
    import jinqiao.cli.contract as cli
    from jinqiao.contracts import package

    assert (cli.SOURCE_FILE, cli.MANIFEST_FILE) == (package.SOURCE_FILE, package.MANIFEST_FILE)
