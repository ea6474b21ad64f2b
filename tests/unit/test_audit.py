"""The audit trail (``node.audit``, docs/audit.md): every record durable and chained; a changed,
deleted, reordered or cut record found with its number, by ``check_chain`` and by
``jinqiao audit verify``; a torn last record reported on open, never accepted silently."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jinqiao.cli.main import app
from jinqiao.node.audit import (
    FIELD_LIMITS_BYTES,
    GENESIS_PREVIOUS,
    MAX_RECORD_BYTES,
    AuditLogDamaged,
    ChainBroken,
    check_chain,
    export_log,
    open_audit_log,
    parse_line,
)
from jinqiao.node.service import Node
from tests.helpers.process import make_network

runner = CliRunner()
SEGMENT_BYTES = 4_096


def write_log(home: Path, records: int, *, segment_bytes: int = SEGMENT_BYTES) -> None:
    clock = iter(range(1_000, 1_000 + records * 10, 10))
    log = open_audit_log(home, segment_bytes=segment_bytes, clock_ms=lambda: next(clock))
    for index in range(records):
        log.record(
            identity=f"bank-a-teller-{index}",
            organization="bank-a",
            method="GET",
            route="/v1/accounts/{address}",
            status=200 if index % 7 else 403,
        )
    log.close()


def exported(tmp_path: Path, records: int) -> list[bytes]:
    write_log(tmp_path / "home", records)
    output = tmp_path / "export.log"
    export_log(tmp_path / "home", output)
    return output.read_bytes().splitlines(keepends=True)


def first_broken(lines: list[bytes], head: str | None = None) -> int:
    with pytest.raises(ChainBroken) as caught:
        check_chain(lines, head=head)
    return caught.value.record


def test_records_chain_across_segments_and_verify(tmp_path: Path) -> None:
    write_log(tmp_path, 100)
    segments = sorted((tmp_path / "audit").iterdir())
    assert len(segments) > 3, "the 4 KiB segments must rotate"
    assert all(path.stat().st_size <= SEGMENT_BYTES for path in segments)
    assert stat.S_IMODE(segments[0].stat().st_mode) == 0o600
    lines = [line for path in segments for line in path.read_bytes().splitlines(keepends=True)]
    records, head = check_chain(lines)
    assert records == 100
    first = parse_line(lines[0][:-1])
    assert (first.seq, first.previous, first.time_ms, first.status) == (
        1,
        GENESIS_PREVIOUS,
        1000,
        403,
    )
    # The next segment's first record links to the previous segment's last.
    second_segment_first = parse_line(segments[1].read_bytes().splitlines()[0])
    last_of_first = parse_line(segments[0].read_bytes().splitlines()[-1])
    assert second_segment_first.previous == last_of_first.hash
    # The format is what docs/audit.md says: hash = SHA-256 of the body bytes.
    digest, body = lines[5][:-1].split(b" ", 1)
    assert hashlib.sha256(body).hexdigest().encode() == digest
    assert list(json.loads(body)) == [
        "seq",
        "time_ms",
        "identity",
        "organization",
        "method",
        "route",
        "status",
        "previous",
    ]
    # Reopening continues the chain.
    log = open_audit_log(tmp_path, segment_bytes=SEGMENT_BYTES)
    assert log.head == (100, head)
    appended = log.record(identity="r", organization="pboc", method="GET", route="/x", status=200)
    assert (appended.seq, appended.previous) == (101, head)
    log.close()


def test_a_changed_record_is_found_by_number(tmp_path: Path) -> None:
    lines = exported(tmp_path, 20)
    lines[11] = lines[11].replace(b'"status":200', b'"status":404')
    assert first_broken(lines) == 12


def test_a_changed_record_with_a_recomputed_hash_breaks_the_next_link(tmp_path: Path) -> None:
    lines = exported(tmp_path, 20)
    body = lines[11][:-1].split(b" ", 1)[1].replace(b"bank-a-teller-11", b"bank-b-teller-11")
    lines[11] = hashlib.sha256(body).hexdigest().encode() + b" " + body + b"\n"
    assert first_broken(lines) == 13


def test_a_deleted_record_is_found_by_number(tmp_path: Path) -> None:
    lines = exported(tmp_path, 20)
    del lines[6]
    assert first_broken(lines) == 7


def test_reordered_records_are_found_by_number(tmp_path: Path) -> None:
    lines = exported(tmp_path, 20)
    lines[3], lines[4] = lines[4], lines[3]
    assert first_broken(lines) == 4


def test_a_truncated_log_is_found(tmp_path: Path) -> None:
    lines = exported(tmp_path, 20)
    _records, head = check_chain(lines)
    # Cut inside a record: the last one is torn.
    cut = [*lines[:15], lines[15][:40]]
    assert first_broken(cut) == 16
    # Cut at a record boundary: whole by itself, caught against the node's head.
    assert check_chain(lines[:15])[0] == 15
    assert first_broken(lines[:15], head=head) == 16


def test_an_oversize_line_is_refused(tmp_path: Path) -> None:
    lines = exported(tmp_path, 3)
    lines[1] = b"a" * (MAX_RECORD_BYTES + 1)
    assert first_broken(lines) == 2


def test_long_fields_are_cut_to_their_limit(tmp_path: Path) -> None:
    log = open_audit_log(tmp_path)
    record = log.record(
        identity="\u0000" * 5_000,
        organization="o" * 500,
        method="G" * 99,
        route="é" * 9_000,
        status=200,
    )
    log.close()
    line = (tmp_path / "audit" / "segment-000001.log").read_bytes()
    assert len(line) <= MAX_RECORD_BYTES
    parsed = parse_line(line[:-1])
    assert parsed.hash == record.hash
    assert len(parsed.organization) == FIELD_LIMITS_BYTES["organization"]
    assert len(parsed.identity) == FIELD_LIMITS_BYTES["identity"] // 6  # \u0000 is 6 bytes
    assert parsed.method == "G" * FIELD_LIMITS_BYTES["method"]


def test_a_torn_last_record_is_reported_on_open_and_repaired_only_on_request(
    tmp_path: Path,
) -> None:
    write_log(tmp_path, 10, segment_bytes=1024 * 1024)
    segment = tmp_path / "audit" / "segment-000001.log"
    whole = segment.read_bytes()
    torn_tail = b'0123abcd {"seq":11,"time_'
    segment.write_bytes(whole + torn_tail)
    with pytest.raises(AuditLogDamaged, match="torn record 11"):
        open_audit_log(tmp_path)
    assert segment.read_bytes() == whole + torn_tail  # nothing changed
    log = open_audit_log(tmp_path, repair=True)
    seq, head = log.head
    log.close()
    assert seq == 11
    aside = tmp_path / "audit" / f"segment-000001.log.torn-{len(whole)}"
    assert aside.read_bytes() == torn_tail
    lines = segment.read_bytes().splitlines(keepends=True)
    assert check_chain(lines) == (11, head)
    repair = parse_line(lines[-1][:-1])
    assert (repair.method, repair.route) == ("AUDIT", "torn-tail")


def test_a_broken_record_before_the_end_is_not_taken_for_a_torn_one(tmp_path: Path) -> None:
    write_log(tmp_path, 10, segment_bytes=1024 * 1024)
    segment = tmp_path / "audit" / "segment-000001.log"
    lines = segment.read_bytes().splitlines(keepends=True)
    lines[4] = lines[4].replace(b"teller", b"tellex")
    segment.write_bytes(b"".join(lines))
    for repair in (False, True):
        with pytest.raises(AuditLogDamaged, match="record 5"):
            open_audit_log(tmp_path, repair=repair)


def test_a_missing_segment_is_reported(tmp_path: Path) -> None:
    write_log(tmp_path, 100)
    os.remove(tmp_path / "audit" / "segment-000002.log")
    with pytest.raises(AuditLogDamaged, match="segment 2 is missing"):
        open_audit_log(tmp_path, segment_bytes=SEGMENT_BYTES)


def test_cli_export_and_verify(tmp_path: Path) -> None:
    home = tmp_path / "node"
    write_log(home, 30)
    output = tmp_path / "audit-export.log"
    result = runner.invoke(app, ["audit", "export", "--home", str(home), "--output", str(output)])
    assert result.exit_code == 0, result.stderr
    again = runner.invoke(app, ["audit", "export", "--home", str(home), "--output", str(output)])
    assert again.exit_code == 1 and "exists" in again.stderr
    result = runner.invoke(app, ["audit", "verify", str(output), "--json"])
    assert result.exit_code == 0, result.stderr
    verdict = json.loads(result.stdout)
    assert verdict["valid"] and verdict["records"] == 30
    lines = output.read_bytes().splitlines(keepends=True)
    del lines[17]
    output.write_bytes(b"".join(lines))
    result = runner.invoke(app, ["audit", "verify", str(output)])
    assert result.exit_code == 1
    assert "record 18 is broken" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    missing = runner.invoke(
        app, ["audit", "export", "--home", str(tmp_path / "none"), "--output", str(tmp_path / "x")]
    )
    assert missing.exit_code == 1 and "no audit log" in missing.stderr


def test_cli_repair_moves_a_torn_tail_aside_and_records_it(tmp_path: Path) -> None:
    write_log(tmp_path, 5, segment_bytes=1024 * 1024)
    segment = tmp_path / "audit" / "segment-000001.log"
    whole = segment.read_bytes()
    segment.write_bytes(whole + b"abc")
    export = runner.invoke(
        app, ["audit", "export", "--home", str(tmp_path), "--output", str(tmp_path / "e.log")]
    )
    assert export.exit_code == 1 and "incomplete record 6" in export.stderr
    result = runner.invoke(app, ["audit", "repair", "--home", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["records"] == 6
    assert (tmp_path / "audit" / f"segment-000001.log.torn-{len(whole)}").read_bytes() == b"abc"


def test_a_node_records_through_its_port_and_refuses_to_start_on_a_torn_log(
    tmp_path: Path,
) -> None:
    layout = make_network(tmp_path)
    home = tmp_path / layout.nodes[0].home
    node = Node(home)
    try:
        first = node.record_audit(
            identity="pboc-examiner",
            organization="regulator",
            method="GET",
            route="/v1/accounts/{address}",
            status=200,
        )
    finally:
        node.close()
    assert (first.seq, first.previous) == (1, GENESIS_PREVIOUS)
    segment = home / "audit" / "segment-000001.log"
    segment.write_bytes(segment.read_bytes() + b"9f")
    with pytest.raises(AuditLogDamaged, match="torn record 2"):
        Node(home)
