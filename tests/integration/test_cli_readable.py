"""Readable CLI output against a real node process (issue 15 item 5): times as ISO 8601 in the
``--tz`` zone with the epoch value in ``--json``, ``query tx`` decoded (sender, call, arguments,
events, the rejection reason), statements and reconciliations as tables or files by extension."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from tests.helpers.process import NodeProcess
from tests.integration.test_cli import invoke, network

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
