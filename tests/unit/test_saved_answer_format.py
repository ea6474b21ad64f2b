"""The saved-answer and report-bundle formats refuse what they do not read, with their codes
(docs/proofs.md §11, §12; docs/errors.md), and the lie generator changes exactly one thing."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from jinqiao.cli.verify import bare_answer
from jinqiao.client.reports import ReportProofsInvalid, load_report_proofs
from jinqiao.client.saved import (
    MAX_SAVED_ANSWER_BYTES,
    SavedAnswerInvalid,
    dump_saved,
    load_saved,
)
from jinqiao.core.errors import InvalidInput
from tests.helpers.lies import alterations

GOOD: dict[str, Any] = {
    "format": "jinqiao-saved-answer/1",
    "method": "GET",
    "path": "/v1/accounts/" + "11" * 20,
    "params": {},
    "body": None,
    "status": 404,
    "answer": {"code": "not_found"},
    "validator_changes": [],
}


def test_a_saved_answer_round_trips() -> None:
    saved = load_saved(json.dumps(GOOD).encode())
    assert load_saved(dump_saved(saved)) == saved


@pytest.mark.parametrize(
    "change",
    [
        {"format": "jinqiao-saved-answer/2"},
        {"method": "DELETE"},
        {"path": "/etc/passwd"},
        {"path": "/v1/" + "a" * 2048},
        {"status": 99},
        {"validator_changes": [{}] * 101},
        {"unknown": 1},
    ],
)
def test_what_is_not_a_saved_answer_is_refused(change: dict[str, Any]) -> None:
    with pytest.raises(SavedAnswerInvalid):
        load_saved(json.dumps({**GOOD, **change}).encode())


def test_limits_and_bare_bodies() -> None:
    with pytest.raises(SavedAnswerInvalid):
        load_saved(b" " * (MAX_SAVED_ANSWER_BYTES + 1))
    with pytest.raises(SavedAnswerInvalid):
        load_saved(b"[1, 2")
    with pytest.raises(SavedAnswerInvalid, match="arguments"):
        bare_answer(b"{}", "/v1/query/token/balance?proofs=true")
    saved = bare_answer(b'{"code": "not_found", "details": {}}', "/v1/blocks/3?leaves=true")
    assert (saved.status, saved.path, saved.params) == (404, "/v1/blocks/3", {"leaves": "true"})


def test_a_report_bundle_names_a_known_report() -> None:
    bundle = {
        "format": "jinqiao-report-proofs/1",
        "report": "statement",
        "cycle_id": 1,
        "institution": "bank-a",
        "file_format": "pacs009",
        "file_sha256": "00",
        "height": 1,
        "time_ms": 1,
        "reads_proof": "",
        "headers": [],
    }
    with pytest.raises(InvalidInput, match="format"):
        load_report_proofs(json.dumps(bundle).encode())
    with pytest.raises(ReportProofsInvalid):
        load_report_proofs(json.dumps({**bundle, "format": "x"}).encode())
    header = {"height": 2, "header_bytes": "", "certificate_bytes": ""}
    with pytest.raises(ReportProofsInvalid, match="twice"):
        load_report_proofs(
            json.dumps({**bundle, "file_format": "csv", "headers": [header, header]}).encode()
        )


def test_each_alteration_changes_one_thing_inside_the_canonical_bytes() -> None:
    nested = msgspec.msgpack.encode([b"\x01" * 32, 7, "a", [True, None]]).hex()
    answer = {"height": 3, "proof": nested, "note": "x", "hash": "ab"}
    seen = set()
    for where, altered in alterations(answer):
        assert altered != answer, where
        assert where not in seen
        seen.add(where)
    assert ".proof<>[0]" in seen and ".proof<>[3][0]" in seen and ".proof<>[3][1]" in seen
    assert (
        ".hash" in seen
        and ".height (dropped)" in seen
        and ".proof<>[3] (last item dropped)" in seen
    )
