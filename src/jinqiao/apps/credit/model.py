"""The credit contract's vocabulary: the account role, closed vocabularies, limits, stored
records, method arguments, query results and the state keys they live under.

Every state key is built here, so the API can read any record and prove it against a header (the
full key is ``b"credit/" + key``). A subject is a 32-byte keyed hash; sequence numbers and
versions are 8 bytes big-endian, so keys sort in numeric order and parse without ambiguity. The
table of keys is in ``docs/credit.md``.
"""

from __future__ import annotations

import re

from jinqiao.core.codec import CanonicalStruct

CREDIT = "credit"

CREDIT_ROLE = "credit_member"
"""The account role of a member institution's credit staff: grant and revoke consent, submit
records, read, score, decide, register models and policies, erase."""

# -- closed vocabularies ----------------------------------------------------------------------

LOANS = "loans"
REPAYMENTS = "repayments"
DEFAULTS = "defaults"
RECOVERIES = "recoveries"
PAYMENT_ACTIVITY = "payment_activity"
INQUIRIES = "inquiries"
RECORD_CATEGORIES = (DEFAULTS, LOANS, PAYMENT_ACTIVITY, RECOVERIES, REPAYMENTS)
"""Categories of behaviour records a member submits (sorted)."""
CATEGORIES = (DEFAULTS, INQUIRIES, LOANS, PAYMENT_ACTIVITY, RECOVERIES, REPAYMENTS)
"""Categories a consent may cover (sorted): the record categories plus ``inquiries``, the
subject's access log seen as data."""

PURPOSES = ("credit_card_approval", "guarantee_review", "loan_approval", "post_loan_management")
"""Purposes a consent may be granted for (sorted); any other is ``invalid_purpose``."""

READ_RECORDS = "records"
READ_SCORE = "score"

APPROVE = "approve"
LIMIT = "limit"
DECLINE = "decline"

# -- formats and limits -----------------------------------------------------------------------

SUBJECT_BYTES = 32
HASH_BYTES = 32
IDENTIFIER_PATTERN = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
"""Model, feature, band and policy ids: 1..64 lower-case ASCII letters, digits and ``_.-``."""
REASON_CODE_PATTERN = re.compile(r"[A-Z0-9]{1,8}")
MIN_PERIOD = 190001
MAX_PERIOD = 999912
"""A record's period is a calendar month ``YYYYMM``."""

MAX_CONSENTS_PER_SUBJECT = 100
MAX_RECORDS_PER_SUBJECT = 1_000
MAX_ACCESSES_PER_SUBJECT = 1_000
"""Each subject's consents, records and access entries are bounded so that erasing a subject
(which deletes them all in one transaction) stays within the 10,000 state operations a
transaction may use: at most 1,000 record reads and 4,100 deletes (1,000 records, their 1,000
commitments, 1,000 accesses, at most 1,000 scores since each is also an access, 100 consents)."""
MAX_KNOWN_BY = 32
"""Institutions that may erase one subject (those that granted consent or submitted records)."""
MAX_CONSENT_DURATION_MS = 3 * 366 * 24 * 3600 * 1000
"""A consent lasts at most about three years from the block that records it."""
MAX_AS_OF_AGE_MS = 24 * 3600 * 1000
"""A score is computed as of a time at most one day before the block that records it."""
MAX_PAGE = 500
MAX_TEXT = 200
MAX_MODEL_FEATURES = 32
MAX_BINS = 32
MAX_BANDS = 16
MAX_POINTS = 10_000
"""Base points, every bin's points and every band's floor lie in -MAX_POINTS..MAX_POINTS."""
PPM = 1_000_000
"""Model metrics (AUC, KS, Gini, Brier score) are integers in parts per million."""


# -- state keys -------------------------------------------------------------------------------


def _seq8(number: int) -> bytes:
    return number.to_bytes(8, "big")


def subject_key(subject: bytes) -> bytes:
    return b"subject/" + subject


def consent_key(subject: bytes, consent_id: int) -> bytes:
    return b"consent/" + subject + b"/" + _seq8(consent_id)


def record_key(subject: bytes, sequence: int) -> bytes:
    return b"record/" + subject + b"/" + _seq8(sequence)


def commitment_key(commitment: bytes) -> bytes:
    """Each commitment once, on the whole chain (a record cannot be submitted twice)."""
    return b"commitment/" + commitment


def access_key(subject: bytes, sequence: int) -> bytes:
    return b"access/" + subject + b"/" + _seq8(sequence)


def score_key(subject: bytes, sequence: int) -> bytes:
    return b"score/" + subject + b"/" + _seq8(sequence)


def model_key(model_id: str, version: int) -> bytes:
    return b"model/" + model_id.encode() + b"/" + _seq8(version)


def policy_key(organization: str, policy_id: str) -> bytes:
    return b"policy/" + organization.encode() + b"/" + policy_id.encode()


# -- the scorecard model ----------------------------------------------------------------------


class Bin(CanonicalStruct, frozen=True):
    """A value ``v`` falls in the first bin (in order) with ``v < upper``; the last bin has
    ``upper`` ``None`` (no bound)."""

    upper: int | None
    points: int


class FeaturePoints(CanonicalStruct, frozen=True):
    """The points of one feature: by bin, or ``missing_points`` when the feature has no value
    (e.g. an on-time ratio with no repayments). ``reason_code`` and ``reason`` explain a score
    that lost points on this feature."""

    feature: str
    reason_code: str
    reason: str
    bins: tuple[Bin, ...]
    missing_points: int


class Band(CanonicalStruct, frozen=True):
    """Scores at or above ``min_score`` (and below the next band's) are in band ``name``."""

    name: str
    min_score: int


class ScorecardModel(CanonicalStruct, frozen=True):
    """A points scorecard: ``score = base_points + sum of each feature's points``. Bands are in
    ascending ``min_score``; the first band's floor is the lowest score it reports."""

    model_id: str
    version: int
    base_points: int
    features: tuple[FeaturePoints, ...]
    bands: tuple[Band, ...]


class ModelMetrics(CanonicalStruct, frozen=True):
    """What the model's builder measured, in parts per million: cross-validated AUC, KS and Gini
    (mean and standard deviation over folds), and the holdout's AUC and Brier score."""

    folds: int
    auc_mean_ppm: int
    auc_sd_ppm: int
    ks_mean_ppm: int
    ks_sd_ppm: int
    gini_mean_ppm: int
    gini_sd_ppm: int
    holdout_auc_ppm: int
    holdout_brier_ppm: int
    training_rows: int


class ModelRecord(CanonicalStruct, frozen=True):
    """A registered model version. ``artifact_hash`` is the network hash of the canonical
    ``ScorecardModel``; ``approved_height`` is 0 until governance approves it."""

    model: ScorecardModel
    artifact_hash: bytes
    metrics: ModelMetrics
    registered_by: str
    registered_height: int
    approved_height: int


class BandLimit(CanonicalStruct, frozen=True):
    band: str
    limit_minor: int


class DecisionPolicy(CanonicalStruct, frozen=True):
    """A lender's cut-offs for one model version: ``approve`` at or above ``approve_min_score``
    with the band's limit, ``limit`` (approve with ``reduced_limit_minor``) at or above
    ``decline_below_score``, ``decline`` below it."""

    model_id: str
    model_version: int
    approve_min_score: int
    decline_below_score: int
    band_limits: tuple[BandLimit, ...]
    reduced_limit_minor: int


class PolicyRecord(CanonicalStruct, frozen=True):
    organization: str
    policy_id: str
    policy: DecisionPolicy
    height: int


# -- per-subject records ----------------------------------------------------------------------


class Erasure(CanonicalStruct, frozen=True):
    by: str
    height: int
    time_ms: int


class Subject(CanonicalStruct, frozen=True):
    """A subject's file: counts of what was ever recorded (sequence numbers are below them), the
    institutions that know the subject (may erase it), and the erasure once erased."""

    subject: bytes
    consents: int
    records: int
    accesses: int
    scores: int
    known_by: tuple[str, ...]
    erasure: Erasure | None


class Consent(CanonicalStruct, frozen=True):
    """``custodian`` (the institution that knows the subject and recorded the consent) lets
    ``grantee`` read ``categories`` for ``purpose`` until block time ``expires_time_ms``
    (exclusive), unless revoked (``revoked_height`` > 0)."""

    consent_id: int
    custodian: str
    grantee: str
    purpose: str
    categories: tuple[str, ...]
    granted_height: int
    granted_time_ms: int
    expires_time_ms: int
    revoked_height: int


class RecordCommitment(CanonicalStruct, frozen=True):
    """A behaviour record on chain: its commitment (salted hash of the record, whose body stays
    in the submitter's store), category, month and submitter."""

    sequence: int
    category: str
    period: int
    submitter: str
    commitment: bytes
    height: int


class Access(CanonicalStruct, frozen=True):
    """One read of a subject's data (``kind`` ``records``) or score (``score``): who, under which
    consent, for which purpose and categories, when."""

    sequence: int
    kind: str
    reader: str
    account: bytes
    consent_id: int
    purpose: str
    categories: tuple[str, ...]
    height: int
    time_ms: int


class ScoreRecord(CanonicalStruct, frozen=True):
    """A score a lender computed off chain and recorded: the model version, the inputs it used
    (records with sequence below ``record_count``, accesses below ``access_sequence``, as of
    ``as_of_ms``) and the hash of the result. A decision on it adds ``decision_policy`` and the
    hash of the decision."""

    sequence: int
    lender: str
    model_id: str
    model_version: int
    consent_id: int
    access_sequence: int
    as_of_ms: int
    record_count: int
    result_hash: bytes
    height: int
    decision_policy: str
    decision_hash: bytes


# -- method arguments -------------------------------------------------------------------------


class GrantConsentArgs(CanonicalStruct, frozen=True):
    subject: bytes
    grantee: str
    purpose: str
    categories: tuple[str, ...]
    expires_time_ms: int


class ConsentArgs(CanonicalStruct, frozen=True):
    subject: bytes
    consent_id: int


class SubmitRecordArgs(CanonicalStruct, frozen=True):
    subject: bytes
    category: str
    period: int
    commitment: bytes


class ReadRecordsArgs(CanonicalStruct, frozen=True):
    subject: bytes
    consent_id: int
    purpose: str
    categories: tuple[str, ...]


class RecordScoreArgs(CanonicalStruct, frozen=True):
    subject: bytes
    consent_id: int
    purpose: str
    model_id: str
    model_version: int
    as_of_ms: int
    record_count: int
    access_count: int
    result_hash: bytes


class RecordDecisionArgs(CanonicalStruct, frozen=True):
    subject: bytes
    score_sequence: int
    policy_id: str
    decision_hash: bytes


class RegisterModelArgs(CanonicalStruct, frozen=True):
    model: ScorecardModel
    metrics: ModelMetrics


class ModelVersionArgs(CanonicalStruct, frozen=True):
    model_id: str
    version: int


class SetPolicyArgs(CanonicalStruct, frozen=True):
    policy_id: str
    policy: DecisionPolicy


class SubjectArgs(CanonicalStruct, frozen=True):
    subject: bytes


# -- query arguments and results --------------------------------------------------------------


class SequenceArgs(CanonicalStruct, frozen=True):
    subject: bytes
    sequence: int


class PageArgs(CanonicalStruct, frozen=True):
    subject: bytes
    start: int
    limit: int


class PolicyArgs(CanonicalStruct, frozen=True):
    organization: str
    policy_id: str


class Records(CanonicalStruct, frozen=True):
    """A page of a subject's record commitments; ``next_start`` is ``None`` after the last."""

    subject: bytes
    records: tuple[RecordCommitment, ...]
    next_start: int | None


class AccessLog(CanonicalStruct, frozen=True):
    """A page of a subject's access log: who looked; ``next_start`` is ``None`` after the last."""

    subject: bytes
    accesses: tuple[Access, ...]
    next_start: int | None
