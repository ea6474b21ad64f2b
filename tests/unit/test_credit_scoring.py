"""Credit off chain and end to end: subject hashes from validated ID numbers, the member's
encrypted SQLite store and its erasure, features, the scorecard and its reasons, and a score
computed by a lender from disclosed records, recorded on chain and recomputed by an auditor."""

from __future__ import annotations

import datetime
import hashlib
from pathlib import Path

import msgspec
import pytest

from jinqiao.apps.credit.features import compute_features, period_of_time
from jinqiao.apps.credit.model import (
    CREDIT,
    Access,
    AccessLog,
    PageArgs,
    ReadRecordsArgs,
    RecordDecisionArgs,
    Records,
    RecordScoreArgs,
    ScoreRecord,
    SetPolicyArgs,
    SubmitRecordArgs,
)
from jinqiao.apps.credit.records import RecordBody
from jinqiao.apps.credit.scorecard import decide, decision_hash, result_hash, score
from jinqiao.apps.credit.scoring import score_subject, verify_score
from jinqiao.core.errors import InvalidInput
from jinqiao.credit import CreditStore, subject_hash
from tests.helpers.chain import result_of
from tests.helpers.credit import (
    DAY_MS,
    LENDER,
    MODEL,
    POLICY,
    SUBMITTER,
    approved_model,
    grant,
    make_chain,
)

KEY = hashlib.sha256(b"consortium subject key for tests").digest()
RIC = "11010519491231002X"
IDS = "ab" * 32  # a payment_activity record's reference: the hex hash of its payment ids
USCC = "91110000600037341L"


def sha256(data: bytes) -> bytes:  # the ed25519-sha256 suite's hash
    return hashlib.sha256(data).digest()


def code_of(error: pytest.ExceptionInfo[InvalidInput]) -> str:
    return error.value.code


# -- subjects -----------------------------------------------------------------------------------


def test_subject_hash_is_keyed_and_agrees_across_members() -> None:
    person = subject_hash(KEY, "person", RIC)
    assert len(person) == 32
    assert subject_hash(KEY, "person", " 11010519491231002x ") == person  # compact form
    assert subject_hash(bytes(32), "person", RIC) != person
    assert subject_hash(KEY, "firm", USCC) != person


@pytest.mark.parametrize(
    ("kind", "number", "code"),
    [
        ("person", "11010519491231002Y", "invalid_identity_number"),  # check digit
        ("person", "110105194913310021", "invalid_identity_number"),  # month 13
        ("person", "1101051949123100", "invalid_identity_number"),  # length
        ("firm", "91110000600037341M", "invalid_identity_number"),
        ("firm", "9111000060003734", "invalid_identity_number"),
        ("bank", RIC, "invalid_subject_kind"),
    ],
)
def test_bad_identity_numbers_are_refused(kind: str, number: str, code: str) -> None:
    with pytest.raises(InvalidInput) as error:
        subject_hash(KEY, kind, number)
    assert code_of(error) == code
    assert "\n" not in error.value.message


def test_a_short_consortium_key_is_refused() -> None:
    with pytest.raises(InvalidInput) as error:
        subject_hash(b"short", "person", RIC)
    assert code_of(error) == "invalid_consortium_key"


# -- the member's store -------------------------------------------------------------------------

ALICE = subject_hash(KEY, "person", RIC)


def repayment(period: int, days_past_due: int = 0, loan: str = "LOAN-7781") -> RecordBody:
    return RecordBody(ALICE, "repayments", period, loan, 120_000, days_past_due, 0, 0)


def test_records_are_stored_encrypted_and_disclosed_with_their_salts(tmp_path: Path) -> None:
    path = tmp_path / "bank-b.sqlite"
    with CreditStore(path, sha256) as store:
        stored = store.add(repayment(202610))
        loan = RecordBody(ALICE, "loans", 202601, "LOAN-7781", 3_000_000, 0, 0, 0)
        store.add(loan)
        (disclosure,) = store.disclose(ALICE, ["repayments"])
    assert disclosure.body == repayment(202610)
    assert (
        sha256(
            b"jinqiao/credit/record/v1\x00"
            + disclosure.salt
            + msgspec.msgpack.encode(disclosure.body)
        )
        == stored.commitment
    )
    assert b"LOAN-7781" not in path.read_bytes()
    with CreditStore(path, sha256) as reopened:
        assert len(reopened.disclose(ALICE, ["loans", "repayments"])) == 2


def test_erasure_destroys_the_key_and_the_bytes(tmp_path: Path) -> None:
    path = tmp_path / "bank-b.sqlite"
    with CreditStore(path, sha256) as store:
        store.add(repayment(202610))
        bob = subject_hash(KEY, "firm", USCC)
        store.add(msgspec.structs.replace(repayment(202610), subject=bob))
        key_row = store._db.execute(
            "SELECT key FROM subject_keys WHERE subject = ?", (ALICE,)
        ).fetchone()
        sealed = store._db.execute(
            "SELECT sealed FROM records WHERE subject = ?", (ALICE,)
        ).fetchone()
        assert store.erase(ALICE) == 1
        assert store.erase(ALICE) == 0
        with pytest.raises(InvalidInput) as error:
            store.disclose(ALICE, ["repayments"])
        assert code_of(error) == "subject_erased"
        with pytest.raises(InvalidInput) as error:
            store.add(repayment(202611))
        assert code_of(error) == "subject_erased"
        assert len(store.disclose(bob, ["repayments"])) == 1
    raw = path.read_bytes()
    assert bytes(key_row[0]) not in raw and bytes(sealed[0]) not in raw


@pytest.mark.parametrize(
    "body",
    [
        RecordBody(b"short", "loans", 202601, "L1", 1, 0, 0, 0),
        RecordBody(ALICE, "inquiries", 202601, "L1", 1, 0, 0, 0),
        RecordBody(ALICE, "loans", 202613, "L1", 1, 0, 0, 0),
        RecordBody(ALICE, "loans", 202601, "", 1, 0, 0, 0),
        RecordBody(ALICE, "loans", 202601, "L1", 0, 0, 0, 0),
        RecordBody(ALICE, "loans", 202601, "L1", 1, 5, 0, 0),
        RecordBody(ALICE, "repayments", 202601, "L1", 1, 3_651, 0, 0),
        RecordBody(ALICE, "payment_activity", 202601, IDS, 10, 0, 0, 0),
        RecordBody(ALICE, "payment_activity", 202601, IDS, 10, 0, 2, 3),
        RecordBody(ALICE, "payment_activity", 202601, IDS, 10, 1, 2, 0),
        RecordBody(ALICE, "payment_activity", 202601, "", 10, 0, 2, 0),
        RecordBody(ALICE, "payment_activity", 202601, IDS.upper(), 10, 0, 2, 0),
    ],
)
def test_malformed_records_are_refused_and_not_stored(tmp_path: Path, body: RecordBody) -> None:
    with CreditStore(tmp_path / "s.sqlite", sha256) as store:
        with pytest.raises(InvalidInput) as error:
            store.add(body)
        assert code_of(error) == "invalid_record"
        assert store._db.execute("SELECT count(*) FROM records").fetchone()[0] == 0


# -- features and the scorecard -----------------------------------------------------------------


@pytest.mark.parametrize(
    "when",
    [
        "1970-01-01T00:00:00",
        "2000-02-29T23:59:59",
        "2026-12-31T23:59:59.999",
        "2100-03-01T00:00:00",
    ],
)
def test_the_month_of_a_time_is_the_calendar_month(when: str) -> None:
    moment = datetime.datetime.fromisoformat(when).replace(tzinfo=datetime.UTC)
    assert period_of_time(int(moment.timestamp() * 1000)) == moment.year * 100 + moment.month


AS_OF_MS = int(datetime.datetime(2026, 12, 5, tzinfo=datetime.UTC).timestamp() * 1000)


def access(sequence: int, days_ago: int, purpose: str = "loan_approval") -> Access:
    return Access(
        sequence, "records", "lender", b"", 0, purpose, ("loans",), 1, AS_OF_MS - days_ago * DAY_MS
    )


def test_features_count_within_their_windows() -> None:
    records = [
        RecordBody(ALICE, "loans", 202401, "L1", 1_000, 0, 0, 0),  # 35 months before: on file
        RecordBody(ALICE, "loans", 202601, "L2", 1_000, 0, 0, 0),
        repayment(202512, 0),  # 12 months before: outside the 12-month window
        repayment(202601, 0),
        repayment(202602, 45),
        repayment(202611, 0),
        repayment(202701, 90),  # after as-of: ignored
        RecordBody(ALICE, "defaults", 202603, "L9", 5_000, 0, 0, 0),
        RecordBody(ALICE, "recoveries", 202605, "L9", 4_000, 0, 0, 0),
        RecordBody(ALICE, "payment_activity", 202611, IDS, 50_000, 0, 12, 1),
        RecordBody(ALICE, "payment_activity", 202612, IDS, 60_000, 0, 9, 0),
    ]
    accesses = [access(0, 10), access(1, 200), access(2, 5, "post_loan_management"), access(3, 0)]
    assert compute_features(records, accesses, AS_OF_MS) == {
        "months_on_file": 36,
        "loans_opened_24m": 1,
        "late_repayments_12m": 1,
        "max_days_past_due_24m": 45,
        "on_time_pct_12m": 66,
        "unrecovered_defaults": 1,
        "payment_months_12m": 2,
        "chargebacks_12m": 1,
        "inquiries_6m": 2,
    }
    empty = compute_features([], [], AS_OF_MS)
    assert empty["months_on_file"] is None and empty["on_time_pct_12m"] is None


def test_a_score_is_base_plus_points_with_the_biggest_losses_as_reasons() -> None:
    features = {
        "late_repayments_12m": 1,  # 20 of 60: lost 40
        "on_time_pct_12m": 66,  # -10 of 40: lost 50
        "unrecovered_defaults": 1,  # -80 of 50: lost 130
        "inquiries_6m": 2,  # 10 of 30: lost 20
        "months_on_file": None,  # missing, -10 of 40: lost 50
    }
    result = score(
        MODEL, features, subject=ALICE, as_of_ms=AS_OF_MS, record_count=3, access_sequence=4
    )
    assert result.score == 500 + 20 - 10 - 80 + 10 - 10 == 430
    assert result.band == "e"
    assert [(r.reason_code, r.points_lost) for r in result.reasons] == [
        ("R03", 130),
        ("R02", 50),
        ("R05", 50),
        ("R01", 40),
    ]
    best = dict(
        features,
        late_repayments_12m=0,
        on_time_pct_12m=100,
        unrecovered_defaults=0,
        inquiries_6m=0,
        months_on_file=40,
    )
    top = score(MODEL, best, subject=ALICE, as_of_ms=AS_OF_MS, record_count=3, access_sequence=4)
    assert (top.score, top.band, top.reasons) == (720, "a", ())
    approve = decide(sha256, POLICY, top)
    assert (approve.outcome, approve.limit_minor, approve.reason_codes) == (
        "approve",
        5_000_000,
        (),
    )
    decline = decide(sha256, POLICY, result)
    assert (decline.outcome, decline.limit_minor) == ("decline", 0)
    assert decline.reason_codes == ("R03", "R02", "R05", "R01")
    middle = msgspec.structs.replace(result, score=560)
    assert decide(sha256, POLICY, middle).outcome == "limit"


def test_the_score_report_is_a_png_of_the_score_reasons_and_who_looked() -> None:
    """Issue 13, item 8: the subject's score report as a picture (a PNG of the stated size with
    something drawn on it)."""
    import io

    from PIL import Image

    from jinqiao.credit.figures import score_report_png

    features = {
        "late_repayments_12m": 4,
        "on_time_pct_12m": 50,
        "unrecovered_defaults": 1,
        "inquiries_6m": 2,
        "months_on_file": None,
    }
    result = score(
        MODEL, features, subject=ALICE, as_of_ms=AS_OF_MS, record_count=3, access_sequence=2
    )
    looked = [
        Access(n, kind, "lender", bytes(20), 0, "loan_approval", ("loans",), 10 + n, AS_OF_MS)
        for n, kind in enumerate(("records", "score"))
    ]
    png = score_report_png(result, looked, title="Score report", decision="decline")
    image = Image.open(io.BytesIO(png))
    assert (image.format, image.size) == ("PNG", (1300, 600))
    assert sum(1 for count in image.convert("L").histogram() if count) > 10  # drawn, not blank


# -- end to end: store, chain, lender, auditor ----------------------------------------------------


def test_a_score_from_disclosed_records_is_recorded_and_recomputed(tmp_path: Path) -> None:
    chain = make_chain()
    hash_function = chain.suite.hash
    approved_model(chain)
    with CreditStore(tmp_path / "bank-b.sqlite", hash_function) as store:
        for body in (
            RecordBody(ALICE, "loans", 202301, "L1", 1_000_000, 0, 0, 0),
            repayment(202309, 0),
            repayment(202310, 31),
            RecordBody(ALICE, "payment_activity", 202311, IDS, 80_000, 0, 20, 0),
        ):
            stored = store.add(body)
            args = SubmitRecordArgs(ALICE, stored.category, stored.period, stored.commitment)
            chain.ok(SUBMITTER, CREDIT, "submit_record", args)
        consent_id = grant(chain, ALICE)
        categories = ("defaults", "inquiries", "loans", "recoveries", "repayments")
        read = ReadRecordsArgs(ALICE, consent_id, "loan_approval", categories)
        chain.ok(LENDER, CREDIT, "read_records", read)
        disclosures = store.disclose(ALICE, categories)
    commitments: Records = chain.query(CREDIT, "records", PageArgs(ALICE, 0, 500))
    log: AccessLog = chain.query(CREDIT, "access_log", PageArgs(ALICE, 0, 500))
    as_of_ms = chain.time_ms
    result = score_subject(
        hash_function, MODEL, ALICE, commitments.records, disclosures, log.accesses, as_of_ms
    )
    # As of November 2023 (the test chain's clock): the read just logged is an inquiry.
    assert [f.value for f in result.features] == [1, 50, 0, 1, 11]
    digest = result_hash(hash_function, result)
    args = RecordScoreArgs(
        ALICE, consent_id, "loan_approval", "behaviour", 1, as_of_ms, 4, 1, digest
    )
    recorded = result_of(chain.ok(LENDER, CREDIT, "record_score", args), ScoreRecord)
    chain.ok(LENDER, CREDIT, "set_policy", SetPolicyArgs("retail", POLICY))
    decision = decide(hash_function, POLICY, result)
    chain.ok(
        LENDER,
        CREDIT,
        "record_decision",
        RecordDecisionArgs(ALICE, 0, "retail", decision_hash(hash_function, decision)),
    )

    # An auditor with the same inputs gets the same score; the later access entry is left out.
    later: AccessLog = chain.query(CREDIT, "access_log", PageArgs(ALICE, 0, 500))
    again = verify_score(
        hash_function, MODEL, recorded, ALICE, commitments.records, disclosures, later.accesses
    )
    assert again == result

    altered = [
        msgspec.structs.replace(d, body=msgspec.structs.replace(d.body, days_past_due=0))
        for d in disclosures
    ]
    with pytest.raises(InvalidInput) as error:
        verify_score(
            hash_function, MODEL, recorded, ALICE, commitments.records, altered, later.accesses
        )
    assert code_of(error) == "commitment_mismatch"
    with pytest.raises(InvalidInput) as error:
        verify_score(
            hash_function,
            MODEL,
            recorded,
            ALICE,
            commitments.records,
            disclosures[1:],
            later.accesses,
        )
    assert code_of(error) == "records_missing"
    wrong = msgspec.structs.replace(recorded, as_of_ms=recorded.as_of_ms - 1)
    with pytest.raises(InvalidInput) as error:
        verify_score(
            hash_function, MODEL, wrong, ALICE, commitments.records, disclosures, later.accesses
        )
    assert code_of(error) == "score_mismatch"


def test_records_of_categories_the_model_does_not_read_are_not_disclosed(tmp_path: Path) -> None:
    chain = make_chain()
    with CreditStore(tmp_path / "s.sqlite", chain.suite.hash) as store:
        store.add(RecordBody(ALICE, "payment_activity", 202311, IDS, 80_000, 0, 20, 0))
        assert store.disclose(ALICE, ["loans", "repayments"]) == []
