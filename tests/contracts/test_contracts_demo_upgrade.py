"""The demo's version 2 of the escrow example (``jinqiao.demo.contracts_story``): it passes the
review, keeps every method of version 1, and its new method and migration behave — on the test
kit, the runtime the node runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from jinqiao.contractkit import Kit
from jinqiao.contracts.host import parse_manifest
from jinqiao.contracts.package import MANIFEST_FILE, SOURCE_FILE, review_package
from jinqiao.demo import DemoFailed
from jinqiao.demo.contracts_story import ESCROW_EXAMPLE, escrow_version_2

DAY_MS = 24 * 3600 * 1000


def version_1() -> tuple[str, str]:
    return (
        (ESCROW_EXAMPLE / MANIFEST_FILE).read_text(),
        (ESCROW_EXAMPLE / SOURCE_FILE).read_text(),
    )


def test_the_demo_reads_the_shipped_example() -> None:
    assert Path(__file__).resolve().parents[2] / "examples/contracts/escrow" == ESCROW_EXAMPLE


def test_version_2_passes_the_review_and_names_its_migration() -> None:
    manifest, source = escrow_version_2(*version_1())
    assert review_package(manifest, source) == []
    parsed = parse_manifest(manifest)
    assert (parsed.version, parsed.migration) == ("2.0.0", "migrate")
    names = {entry.name for entry in parsed.methods}
    assert names == {"open", "release", "refund", "escrow", "extend", "migrate"}


def test_version_2_extends_a_deadline_and_only_the_lifecycle_migrates() -> None:
    kit = Kit(*escrow_version_2(*version_1()))
    approved = kit.call_contract(
        "alice", "token", "approve", asset="CNY", spender=kit.contract_address, amount_minor=5
    )
    assert approved.ok, approved.message
    opened = kit.call(
        "alice", "open", escrow_id="e1", payee=kit.address("bob"), amount_minor=5, timeout_ms=DAY_MS
    )
    assert opened.ok, opened.message
    deadline_ms = kit.query("escrow", escrow_id="e1")[1]
    extended = kit.call("alice", "extend", escrow_id="e1", extra_ms=DAY_MS)
    assert extended.events == [
        ("EscrowExtended", {"escrow_id": "e1", "deadline_ms": deadline_ms + DAY_MS})
    ]
    assert kit.call("bob", "extend", escrow_id="e1", extra_ms=1).code == "not_payer"
    assert kit.call("alice", "extend", escrow_id="e1", extra_ms=0).code == "invalid_timeout"
    assert kit.call("alice", "migrate").code == "unauthorized"
    assert kit.load(b"schema") is None


def test_an_example_of_another_shape_is_refused_clearly() -> None:
    manifest, source = version_1()
    with pytest.raises(DemoFailed, match="changed shape"):
        escrow_version_2(manifest.replace("1.0.0", "1.0.1"), source)
