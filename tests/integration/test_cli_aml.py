"""``jinqiao aml report`` against a real node process: a large mint and transfer are reported
as JSON, CSV and a signed file that verifies with the genesis alone; a bad range is one line."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jinqiao.cli.main import app
from jinqiao.core.genesis import load_genesis
from jinqiao.keys import load_key
from jinqiao.provision.network import load_layout
from jinqiao.reports.aml_signed import verify_aml_file
from tests.helpers.process import NodeProcess, free_port

pytestmark = pytest.mark.e2e
runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    directory = tmp_path_factory.mktemp("cli-aml") / "net"
    port = free_port()
    code, out, err = invoke(
        "init", str(directory), "--base-port", str(port), "--insecure-plaintext", "--json"
    )
    assert code == 0, err
    layout = json.loads(out)
    node = NodeProcess(directory / layout["nodes"][0]["home"], port=port).start()
    net = ["--network", str(directory)]
    try:
        # CNY 3,000,000 minted (cash in) and CNY 2,500,000 moved between two institutions'
        # treasuries (non-individual accounts): both at or over Order No. 3's thresholds.
        for args in (
            ("mint", "bank-a-treasury", "300000000", "--key", "clearing-treasury"),
            ("transfer", "bank-b-treasury", "250000000", "--key", "bank-a-treasury"),
        ):
            code, _, err = invoke("tx", "token", *args, *net)
            assert code == 0, err
        yield directory
    finally:
        assert node.stop() == 0, node.log()


def head(directory: Path) -> int:
    code, out, _ = invoke("query", "status", "--network", str(directory), "--json")
    assert code == 0
    return int(json.loads(out)["height"])


def test_json_and_csv_reports(network: Path) -> None:
    top = str(head(network))
    base = ["aml", "report", "--from-height", "1", "--to-height", top, "--network", str(network)]
    code, out, err = invoke(*base)
    assert code == 0, err
    report = json.loads(out)
    rules = sorted(case["rule"] for case in report["large_value"])
    assert rules == ["large_cash", "large_transfer", "large_transfer"]
    code, out, err = invoke(*base, "--institution", "bank-b", "--format", "csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(row["rule"], row["organization"], row["amount"]) for row in rows] == [
        ("large_transfer", "bank-b", "2500000.00")
    ]


def test_signed_report_verifies(network: Path, tmp_path: Path) -> None:
    layout = load_layout(network)
    key_file = network / layout.account("regulator-admin").key_file
    path = tmp_path / "report.bin"
    code, _, err = invoke(
        "aml",
        "report",
        "--from-height",
        "1",
        "--to-height",
        str(head(network)),
        "--format",
        "signed",
        "--key",
        str(key_file),
        "--output",
        str(path),
        "--network",
        str(network),
    )
    assert code == 0, err
    genesis = load_genesis((network / layout.genesis_file).read_bytes())
    report = verify_aml_file(
        path.read_bytes(), genesis, signer_public_key=load_key(key_file).public_key
    )
    assert len(report.large_value) == 3


@pytest.mark.parametrize(
    ("bounds", "expected"),
    [
        (("5", "4"), "report_range_reversed"),
        (("1", "100000"), "report_range_too_large"),
        (("9000", "9001"), "report_range_empty"),
    ],
)
def test_bad_ranges_are_one_line(network: Path, bounds: tuple[str, str], expected: str) -> None:
    low, high = bounds
    code, _, err = invoke(
        "aml", "report", "--from-height", low, "--to-height", high, "--network", str(network)
    )
    assert code == 1 and expected in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_a_signed_report_needs_a_key_and_a_file(network: Path) -> None:
    code, _, err = invoke(
        "aml", "report", "--from-height", "1", "--to-height", "1", "--format", "signed",
        "--network", str(network),
    )  # fmt: skip
    assert code == 1 and "needs --key" in err
