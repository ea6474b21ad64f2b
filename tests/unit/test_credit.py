"""The credit contract: consent, record commitments, the access log, models approved through
governance, scores and decisions by hash, policies and erasure; every broken rule rejected with
its own code and no state change (``Chain.rejected`` checks both)."""

from __future__ import annotations

import msgspec
import pytest

from jinqiao.apps.credit.model import (
    CREDIT,
    MAX_CONSENTS_PER_SUBJECT,
    Access,
    AccessLog,
    Bin,
    ConsentArgs,
    GrantConsentArgs,
    ModelRecord,
    ModelVersionArgs,
    PageArgs,
    ReadRecordsArgs,
    RecordCommitment,
    RecordDecisionArgs,
    RecordScoreArgs,
    RegisterModelArgs,
    ScoreRecord,
    SequenceArgs,
    SetPolicyArgs,
    Subject,
    SubjectArgs,
    SubmitRecordArgs,
    access_key,
    commitment_key,
    consent_key,
    record_key,
)
from jinqiao.core.errors import Rejection
from jinqiao.execution.api import GOVERNANCE
from tests.helpers.chain import Chain, events, result_of
from tests.helpers.credit import (
    CUSTODIAN,
    DAY_MS,
    LENDER,
    METRICS,
    MODEL,
    POLICY,
    SUBMITTER,
    approved_model,
    enact,
    grant,
    make_chain,
    revoke,
    subject,
)

ALICE = subject("alice")
HASH = bytes(range(32))
READ_CATEGORIES = ("loans", "repayments")


@pytest.fixture
def chain() -> Chain:
    return make_chain()


def read(chain: Chain, consent_id: int, **changes: object) -> ReadRecordsArgs:
    args = ReadRecordsArgs(ALICE, consent_id, "loan_approval", READ_CATEGORIES)
    return msgspec.structs.replace(args, **changes)


def commit(chain: Chain, who: bytes = ALICE, digest: bytes = HASH, period: int = 202611) -> None:
    chain.ok(
        SUBMITTER, CREDIT, "submit_record", SubmitRecordArgs(who, "repayments", period, digest)
    )


def score_args(chain: Chain, consent: int, **changes: object) -> RecordScoreArgs:
    file: Subject = chain.query(CREDIT, "subject", SubjectArgs(ALICE))
    args = RecordScoreArgs(
        ALICE,
        consent,
        "loan_approval",
        "behaviour",
        1,
        chain.time_ms,
        file.records,
        file.accesses,
        HASH,
    )
    return msgspec.structs.replace(args, **changes)


# -- consent and reads --------------------------------------------------------------------------


def test_a_read_under_live_consent_is_logged_for_the_subject(chain: Chain) -> None:
    consent_id = grant(chain, ALICE)
    receipt = chain.ok(LENDER, CREDIT, "read_records", read(chain, consent_id))
    access = result_of(receipt, Access)
    assert (access.sequence, access.kind, access.reader) == (0, "records", "lender")
    assert access.categories == READ_CATEGORIES and access.consent_id == consent_id
    (event,) = events(receipt, "SubjectRead")
    assert event.attribute("reader") == "lender"
    log: AccessLog = chain.query(CREDIT, "access_log", PageArgs(ALICE, 0, 10))
    assert log.accesses == (access,) and log.next_start is None
    file: Subject = chain.query(CREDIT, "subject", SubjectArgs(ALICE))
    assert (file.consents, file.accesses, file.known_by) == (1, 1, ("bank-a",))


def test_a_read_is_refused_without_live_consent(chain: Chain) -> None:
    chain.rejected("unknown_consent", LENDER, CREDIT, "read_records", read(chain, 0))
    consent_id = grant(chain, ALICE, days=1)
    chain.rejected(
        "purpose_not_consented",
        LENDER,
        CREDIT,
        "read_records",
        read(chain, consent_id, purpose="guarantee_review"),
    )
    chain.rejected(
        "category_not_consented",
        LENDER,
        CREDIT,
        "read_records",
        read(chain, consent_id, categories=("loans", "payment_activity")),
    )
    chain.rejected("not_grantee", SUBMITTER, CREDIT, "read_records", read(chain, consent_id))
    chain.advance_time(DAY_MS)
    chain.rejected("consent_expired", LENDER, CREDIT, "read_records", read(chain, consent_id))
    live = grant(chain, ALICE)
    chain.ok(LENDER, CREDIT, "read_records", read(chain, live))
    revoke(chain, ALICE, live)
    chain.rejected("consent_revoked", LENDER, CREDIT, "read_records", read(chain, live))


@pytest.mark.parametrize(
    ("code", "changes"),
    [
        ("invalid_subject", {"subject": b"\x01" * 31}),
        ("invalid_organization_id", {"grantee": "no/such"}),
        ("unknown_organization", {"grantee": "nobody"}),
        ("invalid_purpose", {"purpose": "marketing"}),
        ("invalid_categories", {"categories": ()}),
        ("invalid_categories", {"categories": ("repayments", "loans")}),  # not sorted
        ("invalid_categories", {"categories": ("loans", "loans")}),
        ("invalid_categories", {"categories": ("salary",)}),
        ("invalid_expiry", {"expires_time_ms": 0}),
        ("invalid_expiry", {"expires_time_ms": 2**62}),
    ],
)
def test_bad_consents_are_rejected(chain: Chain, code: str, changes: dict[str, object]) -> None:
    args = GrantConsentArgs(ALICE, "lender", "loan_approval", ("loans",), chain.time_ms + DAY_MS)
    args = msgspec.structs.replace(args, **changes)
    chain.rejected(code, CUSTODIAN, CREDIT, "grant_consent", args)


def test_only_the_custodian_revokes_and_only_once(chain: Chain) -> None:
    consent_id = grant(chain, ALICE)
    chain.rejected(
        "not_custodian", LENDER, CREDIT, "revoke_consent", ConsentArgs(ALICE, consent_id)
    )
    chain.rejected("unknown_consent", CUSTODIAN, CREDIT, "revoke_consent", ConsentArgs(ALICE, 7))
    revoke(chain, ALICE, consent_id)
    chain.rejected(
        "consent_revoked", CUSTODIAN, CREDIT, "revoke_consent", ConsentArgs(ALICE, consent_id)
    )


def test_an_account_without_the_credit_role_is_unauthorized(chain: Chain) -> None:
    args = GrantConsentArgs(ALICE, "lender", "loan_approval", ("loans",), chain.time_ms + DAY_MS)
    chain.rejected("unauthorized", "bank-a-teller", CREDIT, "grant_consent", args)


def test_consents_per_subject_are_bounded(chain: Chain) -> None:
    expires = chain.time_ms + DAY_MS
    args = [
        GrantConsentArgs(ALICE, "lender", "loan_approval", (category,), expires)
        for category in ("loans", "repayments") * (MAX_CONSENTS_PER_SUBJECT // 2)
    ]
    result = chain.execute([chain.transaction(CUSTODIAN, CREDIT, "grant_consent", a) for a in args])
    assert {receipt.code for receipt in result.receipts} == {"ok"}
    chain.rejected("too_many_consents", CUSTODIAN, CREDIT, "grant_consent", args[0])


# -- records ------------------------------------------------------------------------------------


def test_a_record_commitment_is_stored_once(chain: Chain) -> None:
    receipt = chain.ok(
        SUBMITTER, CREDIT, "submit_record", SubmitRecordArgs(ALICE, "loans", 202611, HASH)
    )
    record = result_of(receipt, RecordCommitment)
    assert (record.sequence, record.submitter, record.category) == (0, "bank-b", "loans")
    assert chain.query(CREDIT, "record", SequenceArgs(ALICE, 0)) == record
    again = SubmitRecordArgs(subject("bob"), "loans", 202611, HASH)
    chain.rejected("record_exists", SUBMITTER, CREDIT, "submit_record", again)


@pytest.mark.parametrize(
    ("code", "changes"),
    [
        ("invalid_subject", {"subject": b""}),
        ("invalid_category", {"category": "inquiries"}),
        ("invalid_period", {"period": 202613}),
        ("invalid_period", {"period": 202600}),
        ("invalid_period", {"period": 189912}),
        ("invalid_hash", {"commitment": b"\x00" * 31}),
    ],
)
def test_bad_records_are_rejected(chain: Chain, code: str, changes: dict[str, object]) -> None:
    args = msgspec.structs.replace(SubmitRecordArgs(ALICE, "loans", 202611, HASH), **changes)
    chain.rejected(code, SUBMITTER, CREDIT, "submit_record", args)


# -- models and scores --------------------------------------------------------------------------


def test_a_model_is_usable_only_once_governance_approves_it(chain: Chain) -> None:
    receipt = chain.ok(LENDER, CREDIT, "register_model", RegisterModelArgs(MODEL, METRICS))
    record = result_of(receipt, ModelRecord)
    assert record.approved_height == 0 and record.artifact_hash == chain.suite.hash(
        b"jinqiao/credit/model/v1\x00" + msgspec.msgpack.encode(MODEL)
    )
    consent_id = grant(chain, ALICE)
    chain.rejected(
        "model_not_approved", LENDER, CREDIT, "record_score", score_args(chain, consent_id)
    )
    version = ModelVersionArgs("behaviour", 1)
    chain.rejected("unauthorized", LENDER, CREDIT, "approve_model", version)
    assert enact(chain, CREDIT, "approve_model", version).code == "ok"
    model: ModelRecord = chain.query(CREDIT, "model", version)
    assert model.approved_height > 0
    assert enact(chain, CREDIT, "approve_model", version).code == "model_already_approved"
    chain.rejected(
        "model_exists", LENDER, CREDIT, "register_model", RegisterModelArgs(MODEL, METRICS)
    )


@pytest.mark.parametrize(
    ("code", "model", "metrics"),
    [
        ("invalid_model", msgspec.structs.replace(MODEL, model_id="Behaviour"), METRICS),
        ("invalid_model", msgspec.structs.replace(MODEL, version=0), METRICS),
        ("invalid_model", msgspec.structs.replace(MODEL, features=()), METRICS),
        ("invalid_model", msgspec.structs.replace(MODEL, bands=MODEL.bands[::-1]), METRICS),
        (
            "invalid_model",
            msgspec.structs.replace(
                MODEL,
                features=(msgspec.structs.replace(MODEL.features[0], feature="salary"),),
            ),
            METRICS,
        ),
        (
            "invalid_model",
            msgspec.structs.replace(
                MODEL,
                features=(
                    msgspec.structs.replace(
                        MODEL.features[0], bins=(Bin(3, 1), Bin(1, 2), Bin(None, 0))
                    ),
                ),
            ),
            METRICS,
        ),
        ("invalid_metrics", MODEL, msgspec.structs.replace(METRICS, auc_mean_ppm=1_000_001)),
        ("invalid_metrics", MODEL, msgspec.structs.replace(METRICS, folds=1)),
    ],
)
def test_bad_models_are_rejected(chain: Chain, code: str, model: object, metrics: object) -> None:
    args = RegisterModelArgs(model, metrics)  # type: ignore[arg-type]
    chain.rejected(code, LENDER, CREDIT, "register_model", args)


def test_a_score_is_recorded_with_its_inputs_and_logged(chain: Chain) -> None:
    approved_model(chain)
    commit(chain)
    consent_id = grant(chain, ALICE)
    chain.ok(LENDER, CREDIT, "read_records", read(chain, consent_id))
    args = score_args(chain, consent_id)
    score = result_of(chain.ok(LENDER, CREDIT, "record_score", args), ScoreRecord)
    assert (score.record_count, score.access_sequence, score.result_hash) == (1, 1, HASH)
    log: AccessLog = chain.query(CREDIT, "access_log", PageArgs(ALICE, 0, 10))
    assert [a.kind for a in log.accesses] == ["records", "score"]
    assert log.accesses[1].categories == (
        "defaults",
        "inquiries",
        "loans",
        "recoveries",
        "repayments",
    )
    assert chain.query(CREDIT, "score", SequenceArgs(ALICE, 0)) == score


def test_bad_scores_are_rejected(chain: Chain) -> None:
    approved_model(chain)
    commit(chain)
    consent_id = grant(chain, ALICE)
    narrow = grant(chain, ALICE, categories=("loans", "repayments"))
    cases = [
        ("stale_records", {"record_count": 0}),
        ("stale_access_log", {"access_count": 5}),
        ("invalid_as_of", {"as_of_ms": chain.time_ms + DAY_MS}),
        ("invalid_as_of", {"as_of_ms": chain.time_ms - 2 * DAY_MS}),
        ("invalid_hash", {"result_hash": b"x"}),
        ("unknown_model", {"model_version": 2}),
        ("unknown_model", {"model_id": "no/such"}),
        ("invalid_purpose", {"purpose": "curiosity"}),
        ("purpose_not_consented", {"purpose": "guarantee_review"}),
        ("category_not_consented", {"consent_id": narrow}),
        ("invalid_subject", {"subject": b"\x00"}),
    ]
    for code, changes in cases:
        chain.rejected(
            code, LENDER, CREDIT, "record_score", score_args(chain, consent_id, **changes)
        )


def test_decisions_name_a_policy_of_the_lender_for_the_scores_model(chain: Chain) -> None:
    approved_model(chain)
    consent_id = grant(chain, ALICE)
    chain.ok(LENDER, CREDIT, "record_score", score_args(chain, consent_id))
    decide = RecordDecisionArgs(ALICE, 0, "retail", HASH)
    chain.rejected("unknown_policy", LENDER, CREDIT, "record_decision", decide)
    chain.ok(LENDER, CREDIT, "set_policy", SetPolicyArgs("retail", POLICY))
    chain.rejected("policy_exists", LENDER, CREDIT, "set_policy", SetPolicyArgs("retail", POLICY))
    chain.rejected("not_your_score", SUBMITTER, CREDIT, "record_decision", decide)
    chain.rejected(
        "unknown_score",
        LENDER,
        CREDIT,
        "record_decision",
        msgspec.structs.replace(decide, score_sequence=1),
    )
    chain.rejected(
        "invalid_hash",
        LENDER,
        CREDIT,
        "record_decision",
        msgspec.structs.replace(decide, decision_hash=b""),
    )
    decided = result_of(chain.ok(LENDER, CREDIT, "record_decision", decide), ScoreRecord)
    assert (decided.decision_policy, decided.decision_hash) == ("retail", HASH)
    chain.rejected("decision_exists", LENDER, CREDIT, "record_decision", decide)
    other = msgspec.structs.replace(MODEL, version=2)
    chain.ok(LENDER, CREDIT, "register_model", RegisterModelArgs(other, METRICS))
    chain.ok(
        LENDER,
        CREDIT,
        "set_policy",
        SetPolicyArgs("v2", msgspec.structs.replace(POLICY, model_version=2)),
    )
    chain.ok(LENDER, CREDIT, "record_score", score_args(chain, consent_id))
    chain.rejected(
        "policy_model_mismatch",
        LENDER,
        CREDIT,
        "record_decision",
        RecordDecisionArgs(ALICE, 1, "v2", HASH),
    )


@pytest.mark.parametrize(
    ("code", "policy_id", "changes"),
    [
        ("invalid_policy_id", "Retail", {}),
        ("unknown_model", "retail", {"model_version": 9}),
        ("invalid_policy", "retail", {"decline_below_score": 700}),
        ("invalid_policy", "retail", {"band_limits": POLICY.band_limits[:2]}),
        ("invalid_policy", "retail", {"reduced_limit_minor": -1}),
    ],
)
def test_bad_policies_are_rejected(
    chain: Chain, code: str, policy_id: str, changes: dict[str, object]
) -> None:
    chain.ok(LENDER, CREDIT, "register_model", RegisterModelArgs(MODEL, METRICS))
    args = SetPolicyArgs(policy_id, msgspec.structs.replace(POLICY, **changes))
    chain.rejected(code, LENDER, CREDIT, "set_policy", args)


# -- erasure ------------------------------------------------------------------------------------


def test_erasure_removes_the_subjects_data_and_refuses_everything_after(chain: Chain) -> None:
    approved_model(chain)
    commit(chain)
    consent_id = grant(chain, ALICE)
    chain.ok(LENDER, CREDIT, "read_records", read(chain, consent_id))
    chain.ok(LENDER, CREDIT, "record_score", score_args(chain, consent_id))
    chain.rejected("subject_not_known", LENDER, CREDIT, "erase_subject", SubjectArgs(ALICE))
    receipt = chain.ok(SUBMITTER, CREDIT, "erase_subject", SubjectArgs(ALICE))
    (event,) = events(receipt, "SubjectErased")
    assert event.attribute("by") == "bank-b"
    for key in (
        record_key(ALICE, 0),
        commitment_key(HASH),
        consent_key(ALICE, 0),
        access_key(ALICE, 0),
    ):
        assert chain.read(CREDIT, key, object) is None
    remaining = [key for key in chain.state if key.startswith(b"credit/") and ALICE in key]
    assert remaining == [b"credit/subject/" + ALICE]
    file: Subject = chain.query(CREDIT, "subject", SubjectArgs(ALICE))
    # the institutions that knew the subject stay: they (and the regulator) may read the file
    assert file.erasure is not None and file.known_by == ("bank-a", "bank-b")
    chain.rejected("subject_erased", LENDER, CREDIT, "read_records", read(chain, consent_id))
    chain.rejected("subject_erased", LENDER, CREDIT, "record_score", score_args(chain, consent_id))
    chain.rejected("subject_erased", CUSTODIAN, CREDIT, "erase_subject", SubjectArgs(ALICE))
    args = GrantConsentArgs(ALICE, "lender", "loan_approval", ("loans",), chain.time_ms + DAY_MS)
    chain.rejected("subject_erased", CUSTODIAN, CREDIT, "grant_consent", args)
    with pytest.raises(Rejection) as error:
        chain.query(CREDIT, "access_log", PageArgs(ALICE, 0, 10))
    assert error.value.code == "subject_erased"


# -- queries ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "name", "args"),
    [
        ("unknown_subject", "subject", SubjectArgs(ALICE)),
        ("invalid_subject", "subject", SubjectArgs(b"")),
        ("unknown_record", "record", SequenceArgs(ALICE, 0)),
        ("unknown_record", "record", SequenceArgs(ALICE, -1)),
        ("unknown_score", "score", SequenceArgs(ALICE, 0)),
        ("unknown_consent", "consent", ConsentArgs(ALICE, 2**64)),
        ("invalid_page", "records", PageArgs(ALICE, 0, 0)),
        ("invalid_page", "access_log", PageArgs(ALICE, -1, 10)),
        ("unknown_model", "model", ModelVersionArgs("behaviour", 1)),
    ],
)
def test_queries_reject_what_is_not_there(chain: Chain, code: str, name: str, args: object) -> None:
    with pytest.raises(Rejection) as error:
        chain.query(CREDIT, name, args)  # type: ignore[arg-type]
    assert error.value.code == code


def test_governance_is_the_only_caller_of_approve_model(chain: Chain) -> None:
    assert GOVERNANCE != CREDIT
    assert (
        enact(chain, CREDIT, "approve_model", ModelVersionArgs("behaviour", 1)).code
        == "unknown_model"
    )


# -- limits (state written directly at the limit: thousands of transactions prove nothing more)


def put(chain: Chain, key: bytes, value: object) -> None:
    chain.state[b"credit/" + key] = msgspec.msgpack.encode(value)


def full_subject(chain: Chain, **counts: object) -> Subject:
    file = Subject(ALICE, 0, 0, 0, 0, ("bank-a", "bank-b"), None)
    file = msgspec.structs.replace(file, **counts)
    put(chain, b"subject/" + ALICE, file)
    return file


def test_records_accesses_and_custodians_per_subject_are_bounded(chain: Chain) -> None:
    from jinqiao.apps.credit.model import (
        MAX_ACCESSES_PER_SUBJECT,
        MAX_KNOWN_BY,
        MAX_RECORDS_PER_SUBJECT,
    )

    full_subject(chain, records=MAX_RECORDS_PER_SUBJECT)
    args = SubmitRecordArgs(ALICE, "loans", 202611, HASH)
    chain.rejected("too_many_records", SUBMITTER, CREDIT, "submit_record", args)
    full_subject(chain)
    consent_id = grant(chain, ALICE)
    file: Subject = chain.query(CREDIT, "subject", SubjectArgs(ALICE))
    put(
        chain, b"subject/" + ALICE, msgspec.structs.replace(file, accesses=MAX_ACCESSES_PER_SUBJECT)
    )
    chain.rejected("too_many_accesses", LENDER, CREDIT, "read_records", read(chain, consent_id))
    others = tuple(f"org-{n:02}" for n in range(MAX_KNOWN_BY))
    full_subject(chain, known_by=others)
    chain.rejected("too_many_custodians", SUBMITTER, CREDIT, "submit_record", args)


def test_erasing_a_subject_at_every_limit_fits_one_transaction(chain: Chain) -> None:
    from jinqiao.apps.credit.model import (
        MAX_ACCESSES_PER_SUBJECT,
        MAX_CONSENTS_PER_SUBJECT,
        MAX_RECORDS_PER_SUBJECT,
        Access,
        Consent,
        score_key,
    )

    for n in range(MAX_RECORDS_PER_SUBJECT):
        digest = n.to_bytes(32, "big")
        put(chain, record_key(ALICE, n), RecordCommitment(n, "loans", 202601, "bank-b", digest, 1))
        put(chain, commitment_key(digest), ALICE)
    for n in range(MAX_CONSENTS_PER_SUBJECT):
        put(
            chain,
            consent_key(ALICE, n),
            Consent(n, "bank-a", "lender", "loan_approval", ("loans",), 1, 1, 2, 0),
        )
    for n in range(MAX_ACCESSES_PER_SUBJECT):
        put(
            chain,
            access_key(ALICE, n),
            Access(n, "score", "lender", bytes(20), 0, "loan_approval", ("loans",), 1, 1),
        )
        put(
            chain,
            score_key(ALICE, n),
            ScoreRecord(n, "lender", "m", 1, 0, n, 1, 0, HASH, 1, "", b""),
        )
    full_subject(
        chain,
        consents=MAX_CONSENTS_PER_SUBJECT,
        records=MAX_RECORDS_PER_SUBJECT,
        accesses=MAX_ACCESSES_PER_SUBJECT,
        scores=MAX_ACCESSES_PER_SUBJECT,
    )
    chain.ok(CUSTODIAN, CREDIT, "erase_subject", SubjectArgs(ALICE))
    assert [key for key in chain.state if key.startswith(b"credit/")] == [
        b"credit/subject/" + ALICE
    ]
