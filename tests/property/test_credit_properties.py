"""Invariants of the credit app (issue 13), each over random inputs:

* consent: under random sequences of grants, revocations, time passing and reads, a read succeeds
  exactly when a plain model finds a live consent for it (granted to the reader, not revoked, not
  expired, for the read's purpose, covering its categories); a refused read names the rule it
  breaks and changes nothing; every successful read, and only those, is in the access log;
* the scorecard: a score is the base points plus each feature's bin points, its band is the
  highest whose floor it reaches, its reasons are the (at most four) largest point losses in
  order, and the same inputs give the same result hash;
* commitments: the disclosures of a subject's records open their commitments, and altering any
  field of any record, or leaving one out, is refused;
* erasure: after a subject is erased every method on it is refused ``subject_erased`` and no key
  of the subject but its file remains in state;
* the month of a time is the calendar month (against ``datetime``);
* hostile arguments (any value of each field's type, extremes and over-long strings included) to
  every method and query end in a receipt or a rejection, never a node fault.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import types
import typing
from dataclasses import dataclass

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jinqiao.apps.credit.features import FEATURES, period_of_time
from jinqiao.apps.credit.model import (
    CATEGORIES,
    CREDIT,
    PURPOSES,
    AccessLog,
    Band,
    Bin,
    ConsentArgs,
    FeaturePoints,
    GrantConsentArgs,
    PageArgs,
    ReadRecordsArgs,
    RecordCommitment,
    ScorecardModel,
    SubjectArgs,
    SubmitRecordArgs,
)
from jinqiao.apps.credit.records import RecordBody, commitment
from jinqiao.apps.credit.scorecard import feature_points, result_hash, score
from jinqiao.apps.credit.scoring import Disclosure, open_disclosures
from jinqiao.core.errors import InvalidInput
from jinqiao.core.types import ReceiptStatus
from tests.helpers.credit import CUSTODIAN, DAY_MS, LENDER, SUBMITTER, make_chain, subject

ALICE = subject("alice")
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


# -- consent --------------------------------------------------------------------------------------

category_sets = st.lists(st.sampled_from(CATEGORIES), min_size=1, max_size=3, unique=True).map(
    lambda c: tuple(sorted(c))
)
operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("grant"),
            st.sampled_from(("lender", "bank-b")),
            st.sampled_from(PURPOSES),
            category_sets,
            st.integers(1, 5),
        ),
        st.tuples(st.just("revoke"), st.integers(0, 4)),
        st.tuples(st.just("wait"), st.integers(1, 3)),
        st.tuples(st.just("read"), st.integers(0, 4), st.sampled_from(PURPOSES), category_sets),
    ),
    min_size=1,
    max_size=25,
)


@dataclass
class ModelConsent:
    grantee: str
    purpose: str
    categories: tuple[str, ...]
    expires_time_ms: int
    revoked: bool = False


def expected_read(
    consents: list[ModelConsent],
    consent_id: int,
    purpose: str,
    categories: tuple[str, ...],
    now: int,
) -> str:
    if consent_id >= len(consents):
        return "unknown_consent"
    consent = consents[consent_id]
    if consent.grantee != "lender":
        return "not_grantee"
    if consent.revoked:
        return "consent_revoked"
    if now >= consent.expires_time_ms:
        return "consent_expired"
    if purpose != consent.purpose:
        return "purpose_not_consented"
    if not set(categories) <= set(consent.categories):
        return "category_not_consented"
    return "ok"


@SETTINGS
@given(operations)
def test_a_read_succeeds_exactly_under_live_consent(ops: list[tuple[object, ...]]) -> None:
    chain = make_chain()
    consents: list[ModelConsent] = []
    reads = 0
    for op in ops:
        if op[0] == "grant":
            _, grantee, purpose, categories, days = op
            expires = chain.time_ms + int(days) * DAY_MS  # type: ignore[call-overload]
            args = GrantConsentArgs(ALICE, grantee, purpose, categories, expires)  # type: ignore[arg-type]
            chain.ok(CUSTODIAN, CREDIT, "grant_consent", args)
            consents.append(ModelConsent(grantee, purpose, categories, expires))  # type: ignore[arg-type]
        elif op[0] == "revoke":
            consent_id = int(op[1])  # type: ignore[call-overload]
            args_revoke = ConsentArgs(ALICE, consent_id)
            if consent_id < len(consents) and not consents[consent_id].revoked:
                chain.ok(CUSTODIAN, CREDIT, "revoke_consent", args_revoke)
                consents[consent_id].revoked = True
            else:
                code = "unknown_consent" if consent_id >= len(consents) else "consent_revoked"
                chain.rejected(code, CUSTODIAN, CREDIT, "revoke_consent", args_revoke)
        elif op[0] == "wait":
            chain.advance_time(int(op[1]) * DAY_MS)  # type: ignore[call-overload]
        else:
            _, consent_id, purpose, categories = op
            args_read = ReadRecordsArgs(ALICE, consent_id, purpose, categories)  # type: ignore[arg-type]
            next_block_time = chain.time_ms + 1_000
            expected = expected_read(consents, consent_id, purpose, categories, next_block_time)  # type: ignore[arg-type]
            if expected == "ok":
                chain.ok(LENDER, CREDIT, "read_records", args_read)
                reads += 1
            else:
                chain.rejected(expected, LENDER, CREDIT, "read_records", args_read)
    if consents:
        log: AccessLog = chain.query(CREDIT, "access_log", PageArgs(ALICE, 0, 500))
        assert len(log.accesses) == reads
        assert [a.sequence for a in log.accesses] == list(range(reads))


# -- the scorecard ------------------------------------------------------------------------------

points = st.integers(-200, 200)


@st.composite
def feature_points_strategy(draw: st.DrawFn, name: str) -> FeaturePoints:
    uppers = draw(st.lists(st.integers(-50, 500), max_size=5, unique=True).map(sorted))
    bins = (*(Bin(upper, draw(points)) for upper in uppers), Bin(None, draw(points)))
    return FeaturePoints(
        name, "R" + str(FEATURES.index(name)), f"reason {name}", bins, draw(points)
    )


@st.composite
def models(draw: st.DrawFn) -> ScorecardModel:
    names = draw(
        st.lists(st.sampled_from(FEATURES), min_size=1, max_size=len(FEATURES), unique=True)
    )
    features = tuple(draw(feature_points_strategy(name)) for name in names)
    floors = draw(
        st.lists(st.integers(-2_000, 3_000), min_size=1, max_size=5, unique=True).map(sorted)
    )
    bands = tuple(Band(f"band-{i}", floor) for i, floor in enumerate(floors))
    return ScorecardModel("m", 1, draw(st.integers(-1_000, 1_000)), features, bands)


values = st.one_of(st.none(), st.integers(-100, 600))


@SETTINGS
@given(models(), st.data())
def test_a_score_is_base_plus_points_with_the_largest_losses_as_reasons(
    model: ScorecardModel, data: st.DataObject
) -> None:
    features = {name: data.draw(values) for name in FEATURES}
    result = score(model, features, subject=ALICE, as_of_ms=0, record_count=0, access_sequence=0)
    expected = model.base_points + sum(
        feature_points(f, features[f.feature]) for f in model.features
    )
    assert result.score == expected
    assert [s.points for s in result.features] == [
        feature_points(f, features[f.feature]) for f in model.features
    ]
    reached = [band.name for band in model.bands if band.min_score <= result.score]
    assert result.band == (reached[-1] if reached else model.bands[0].name)
    losses = {
        f.feature: max([b.points for b in f.bins] + [f.missing_points])
        - feature_points(f, features[f.feature])
        for f in model.features
    }
    reasons = [r.points_lost for r in result.reasons]
    assert reasons == sorted(reasons, reverse=True) and len(reasons) <= 4
    assert all(r.points_lost == losses[r.feature] > 0 for r in result.reasons)
    left_out = [
        loss for name, loss in losses.items() if name not in {r.feature for r in result.reasons}
    ]
    assert all(loss <= (min(reasons) if len(reasons) == 4 else 0) for loss in left_out)
    again = score(
        model, dict(features), subject=ALICE, as_of_ms=0, record_count=0, access_sequence=0
    )
    assert result_hash(sha256, again) == result_hash(sha256, result)


# -- commitments ------------------------------------------------------------------------------

records = st.lists(
    st.builds(
        RecordBody,
        st.just(ALICE),
        st.sampled_from(("loans", "repayments", "defaults", "recoveries")),
        st.sampled_from((202301, 202406, 202512)),
        st.sampled_from(("L1", "L2")),
        st.integers(1, 10**9),
        st.just(0),
        st.just(0),
        st.just(0),
    ),
    min_size=1,
    max_size=6,
    unique=True,
)
changes = st.sampled_from(
    (
        {"amount_minor": 7},
        {"reference": "L3"},
        {"period": 202302},
        {"category": "recoveries"},
        {"subject": subject("bob")},
    )
)


@SETTINGS
@given(records, st.data())
def test_disclosures_open_commitments_and_any_change_is_refused(
    bodies: list[RecordBody], data: st.DataObject
) -> None:
    salts = [hashlib.sha256(bytes([i])).digest() for i in range(len(bodies))]
    on_chain = [
        RecordCommitment(i, body.category, body.period, "bank-b", commitment(sha256, salt, body), 1)
        for i, (body, salt) in enumerate(zip(bodies, salts, strict=True))
    ]
    disclosures = [Disclosure(salt, body) for salt, body in zip(salts, bodies, strict=True)]
    every = ("defaults", "loans", "recoveries", "repayments")
    assert open_disclosures(sha256, ALICE, on_chain, disclosures, every) == bodies
    victim = data.draw(st.integers(0, len(bodies) - 1))
    change = data.draw(changes)
    if all(getattr(bodies[victim], k) == v for k, v in change.items()):
        return
    altered = list(disclosures)
    altered[victim] = Disclosure(salts[victim], msgspec.structs.replace(bodies[victim], **change))
    with pytest.raises(InvalidInput) as error:
        open_disclosures(sha256, ALICE, on_chain, altered, every)
    assert error.value.code == "commitment_mismatch"
    with pytest.raises(InvalidInput) as error:
        open_disclosures(
            sha256, ALICE, on_chain, disclosures[:victim] + disclosures[victim + 1 :], every
        )
    assert error.value.code == "records_missing"


# -- erasure ----------------------------------------------------------------------------------


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 4), st.integers(0, 4), st.integers(0, 3))
def test_after_erasure_everything_is_refused_and_nothing_remains(
    grants: int, submissions: int, reads: int
) -> None:
    chain = make_chain()
    categories = ("loans",)
    for _ in range(grants):
        args = GrantConsentArgs(
            ALICE, "lender", "loan_approval", categories, chain.time_ms + DAY_MS
        )
        chain.ok(CUSTODIAN, CREDIT, "grant_consent", args)
    for n in range(submissions):
        digest = hashlib.sha256(b"record %d" % n).digest()
        chain.ok(
            SUBMITTER, CREDIT, "submit_record", SubmitRecordArgs(ALICE, "loans", 202301, digest)
        )
    for _ in range(reads if grants else 0):
        chain.ok(
            LENDER, CREDIT, "read_records", ReadRecordsArgs(ALICE, 0, "loan_approval", categories)
        )
    eraser = CUSTODIAN if grants else SUBMITTER
    if not grants and not submissions:
        chain.rejected("subject_not_known", eraser, CREDIT, "erase_subject", SubjectArgs(ALICE))
        return
    chain.ok(eraser, CREDIT, "erase_subject", SubjectArgs(ALICE))
    left = [
        key
        for key in chain.state
        if key.startswith(b"credit/") and not key.startswith(b"credit/model/")
    ]
    assert left == [b"credit/subject/" + ALICE]
    refused = [
        (
            CUSTODIAN,
            "grant_consent",
            GrantConsentArgs(ALICE, "lender", "loan_approval", categories, chain.time_ms + DAY_MS),
        ),
        (CUSTODIAN, "revoke_consent", ConsentArgs(ALICE, 0)),
        (SUBMITTER, "submit_record", SubmitRecordArgs(ALICE, "loans", 202301, bytes(32))),
        (LENDER, "read_records", ReadRecordsArgs(ALICE, 0, "loan_approval", categories)),
        (SUBMITTER, "erase_subject", SubjectArgs(ALICE)),
    ]
    for sender, method, args in refused:
        chain.rejected("subject_erased", sender, CREDIT, method, args)  # type: ignore[arg-type]
    assert (
        chain.submit(LENDER, CREDIT, "read_records", refused[3][2]).status == ReceiptStatus.REJECTED
    )


# -- calendar -----------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 253_402_300_799_999))  # to 9999-12-31T23:59:59.999Z
def test_the_month_of_a_time_matches_datetime(time_ms: int) -> None:
    moment = datetime.datetime.fromtimestamp(time_ms // 1000, tz=datetime.UTC)
    assert period_of_time(time_ms) == moment.year * 100 + moment.month


# -- hostile arguments ------------------------------------------------------------------------


TEXTS = st.one_of(
    st.sampled_from(("lender", "loan_approval", "behaviour", "loans", "a/b", "")),
    st.text(max_size=20),
    st.text(alphabet="abc-", min_size=240, max_size=300),  # longer than any state key allows
)
INTEGERS = st.one_of(st.integers(-(2**63), 2**64 - 1), st.integers(-3, 3))
BLOBS = st.one_of(st.just(ALICE), st.binary(max_size=40), st.binary(min_size=240, max_size=300))


def hostile(kind: object) -> st.SearchStrategy[object]:
    """Any value of ``kind`` (an argument struct or a field's type), extremes included."""
    if kind is int:
        return INTEGERS
    if kind is str:
        return TEXTS
    if kind is bytes:
        return BLOBS
    if typing.get_origin(kind) is tuple:
        return st.lists(hostile(typing.get_args(kind)[0]), max_size=5).map(tuple)
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        return st.one_of([hostile(k) for k in typing.get_args(kind)])
    if kind is type(None):
        return st.none()
    assert isinstance(kind, type) and issubclass(kind, msgspec.Struct), kind
    fields = msgspec.structs.fields(kind)
    return st.tuples(*(hostile(f.type) for f in fields)).map(lambda values: kind(*values))


def _calls() -> st.SearchStrategy[tuple[str, object]]:
    from jinqiao.apps.credit.contract import Credit

    return st.one_of(
        [
            st.tuples(st.just(name), hostile(spec.args_type))
            for name, spec in sorted(Credit.methods.items())
        ]
    )


CALLS = _calls()


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_hostile_arguments_are_rejected_never_a_node_fault(data: st.DataObject) -> None:
    from jinqiao.apps.credit.contract import Credit
    from jinqiao.core.errors import Rejection

    chain = make_chain()
    grant_args = GrantConsentArgs(
        ALICE, "lender", "loan_approval", ("loans",), chain.time_ms + DAY_MS
    )
    chain.ok(CUSTODIAN, CREDIT, "grant_consent", grant_args)
    method, args = data.draw(CALLS)
    spec = Credit.methods[method]
    if spec.read_only:
        with contextlib.suppress(Rejection):
            chain.query(CREDIT, method, args)
    else:
        receipt = chain.submit(LENDER, CREDIT, method, args)
        assert receipt.status in (ReceiptStatus.OK, ReceiptStatus.REJECTED)
