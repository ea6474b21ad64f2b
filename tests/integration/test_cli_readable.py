"""Readable CLI output against a real node process (issue 15 item 5): times as ISO 8601 in the
``--tz`` zone with the epoch value in ``--json``, ``query tx`` decoded (sender, call, arguments,
events, the rejection reason), statements and reconciliations as tables or files by extension."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

import msgspec
import pytest

from jinqiao import terminal
from jinqiao.cli.common import decoded_result
from tests.helpers.process import NodeProcess
from tests.integration.test_cli import REGISTER_M1, authorize_command, invoke, network

pytestmark = pytest.mark.e2e
__all__ = ["network"]  # the module's node: the fixture of test_cli, one node per module


def _sent(*args: str) -> dict[str, object]:
    code, out, err = invoke(*args, "--json")
    assert code in (0, 2), (args, out, err)
    answer: dict[str, object] = json.loads(out)
    return answer


def test_query_tx_shows_the_call_its_events_and_the_time_in_the_zone(
    network: tuple[Path, NodeProcess],
) -> None:
    directory, _ = network
    net = ["--network", str(directory)]
    _sent("tx", "token", "mint", "bank-a-treasury", "100000", "--key", "clearing-treasury", *net)
    sent = _sent(
        "tx", "token", "transfer", "bank-b-treasury", "2500", "--key", "bank-a-treasury", *net
    )
    code, out, err = invoke("query", "tx", str(sent["hash"]), *net, "--tz", "Asia/Shanghai")
    assert code == 0, err
    code, out_json, err = invoke(
        "query", "tx", str(sent["hash"]), *net, "--tz", "Asia/Shanghai", "--json"
    )
    assert code == 0, err
    view = json.loads(out_json)
    layout = json.loads((directory / "network.json").read_text())
    sender = next(a["address"] for a in layout["accounts"] if a["name"] == "bank-a-treasury")
    assert view["sender"] == sender and (view["contract"], view["method"]) == ("token", "transfer")
    assert view["arguments"]["amount_minor"] == 2500
    # The raw canonical bytes beside the decoded values, as in every --json result.
    assert msgspec.msgpack.decode(bytes.fromhex(view["arguments_hex"]))[-1] == 2500
    assert view["result"] == decoded_result(bytes.fromhex(view["result_hex"]))
    assert any(event["name"] == "Transfer" for event in view["events"])
    # The epoch value is kept; the ISO time is the same instant, in the zone asked for.
    moment = datetime.fromisoformat(view["time"])
    assert view["time"].endswith("+08:00") and int(moment.timestamp() * 1000) == view["time_ms"]
    assert view["time"] in out and sender in out and "token.transfer" in out
    assert "amount_minor" in out and "events" in out
    code, out, _ = invoke("query", "tx", str(sent["hash"]), *net, "--tz", "UTC", "--json")
    assert json.loads(out)["time"].endswith("+00:00")


def test_query_tx_of_a_rejected_transaction_says_why(network: tuple[Path, NodeProcess]) -> None:
    directory, _ = network
    net = ["--network", str(directory)]
    sent = _sent(
        "tx", "token", "transfer", "bank-a-treasury", "10", "--key", "regulator-admin", *net
    )
    assert sent["status"] == "rejected"
    code, out, err = invoke("query", "tx", str(sent["hash"]), *net)
    assert code == 2, err
    assert "rejected" in out and "insufficient_funds" in out and f"reason: {sent['message']}" in out


def test_an_unknown_zone_is_one_line(network: tuple[Path, NodeProcess]) -> None:
    directory, _ = network
    code, out, err = invoke("query", "block", "--network", str(directory), "--tz", "Mars/Base")
    assert code == 1 and out == ""
    assert "unknown time zone 'Mars/Base'" in err and "Traceback" not in err


def test_statements_and_reconciliations_as_tables_and_files(
    network: tuple[Path, NodeProcess], tmp_path: Path
) -> None:
    directory, _ = network
    net = ["--network", str(directory)]

    def ok(*args: str) -> str:
        code, out, err = invoke(*args, *net)
        assert code == 0, (args, out, err)
        return out

    clearing = ("--key", "clearing-treasury")
    ok("payments", "register-institution", "bank-a", "card_issuer", "bank-a-treasury", *clearing)
    ok("payments", "register-institution", "ecfin", "acquirer", "ecfin-settlement", *clearing)
    ok(*REGISTER_M1)
    opened = json.loads(
        ok("payments", "open-cycle", "--cutoff-blocks", "1000", *clearing, "--json")
    )
    cycle_id = str(opened["cycle_id"])
    ok(*authorize_command("READ-1", "12345"))
    ok("payments", "capture", "READ-1", "12345", cycle_id, "--key", "ecfin-settlement")
    # In the terminal: a table of the lines (amounts in major units), totals and position.
    shown = ok("payments", "statement", cycle_id, "bank-a")
    assert "Statement of bank-a" in shown and "READ-1" in shown and "123.45" in shown
    assert "entries 1: debit 123.49" in shown and "no net position yet" in shown
    # To files, the format by the extension.
    as_csv, as_json = tmp_path / "bank-a.csv", tmp_path / "bank-a.json"
    ok("payments", "statement", cycle_id, "bank-a", "--output", str(as_csv))
    ok("payments", "statement", cycle_id, "bank-a", "--output", str(as_json))
    assert as_csv.read_text().startswith("sequence,payment_id,")
    lines = json.loads(as_json.read_text())["lines"]
    assert [(line["payment_id"], line["amount_minor"]) for line in lines] == [("READ-1", 12345)]
    code, out, err = invoke(
        "payments", "statement", cycle_id, "bank-a", "--output", str(tmp_path / "s.txt"), *net
    )
    assert code == 1 and ".csv" in err and "Traceback" not in err
    assert not (tmp_path / "s.txt").exists()
    # Reconciliation: the statement's own CSV agrees; without its one line, a break (exit 3).
    assert "0 breaks" in ok("payments", "reconcile", cycle_id, "bank-a", str(as_csv))
    header = as_csv.read_text().splitlines()[0]
    ours = tmp_path / "ours.csv"
    ours.write_text(header + "\n")
    code, out, err = invoke("payments", "reconcile", cycle_id, "bank-a", str(ours), *net)
    assert code == 3, err
    assert "1 breaks" in out and "missing_at_institution" in out and "READ-1" in out
    breaks = tmp_path / "breaks.csv"
    code, _, err = invoke(
        "payments", "reconcile", cycle_id, "bank-a", str(ours), "--output", str(breaks), *net
    )
    assert code == 0, err  # a CSV report says nothing of breaks in the exit code
    assert "missing_at_institution" in breaks.read_text()


def test_progress_while_waiting_for_a_commit_and_a_cutoff(
    network: tuple[Path, NodeProcess], monkeypatch: pytest.MonkeyPatch
) -> None:
    directory, _ = network
    net = ["--network", str(directory)]
    clearing = ("--key", "clearing-treasury")
    # stderr counts as an interactive terminal (as a person's shell is): progress is drawn.
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setattr(terminal.errors, "is_interactive", True)
    code, out, err = invoke("tx", "token", "mint", "bank-b-treasury", "10", *clearing, *net)
    assert code == 0 and "proof verified" in out, err
    assert "waiting for the commit" in err and "s left" in err
    cutoff_time_ms = int(time.time() * 1000) + 1500
    code, out, err = invoke(
        "payments", "open-cycle", "--cutoff-time-ms", str(cutoff_time_ms), *clearing, *net, "--json"
    )
    assert code == 0, err
    cycle_id = str(json.loads(out)["cycle_id"])
    code, out, err = invoke("payments", "wait-cutoff", cycle_id, "--timeout", "60", *net)
    assert code == 0, err
    assert "block time to the cut-off" in err and f"cycle {cycle_id} is past its cut-off" in out
    code, out, err = invoke("payments", "close-cycle", cycle_id, *clearing, *net)
    assert code == 0, (out, err)
    # Past --timeout: one line, exit 1.
    code, out, err = invoke(
        "payments", "open-cycle", "--cutoff-blocks", "1000", *clearing, *net, "--json"
    )
    far = str(json.loads(out)["cycle_id"])
    code, out, err = invoke("payments", "wait-cutoff", far, "--timeout", "0.5", *net, "--json")
    assert code == 1 and "cut-off not reached in 0.5 s" in err and out == ""
