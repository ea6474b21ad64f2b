"""The answers of the credit routes (``api.credit``). A proven credit value is a
``CreditProven``: the contract's key, the header's height and state root and the proof (no
block time, no raw value); the records are ``apps.credit.model``'s structs as JSON (bytes as
hex)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class CreditProven(BaseModel):
    """The proof fields of a credit answer."""

    key: str = Field(description="The credit contract's key, hex")
    height: int = Field(description="Height of the header the proof is against")
    state_root: str = Field(description="That header's state root, hex")
    proof: str = Field(description="Canonical StateReadProof, hex")


class Erasure(BaseModel):
    """A subject's erasure: its records destroyed, the chain still valid."""

    by: str = Field(description="The organization that erased it")
    height: int = Field(description="The block that recorded it")
    time_ms: int = Field(description="That block's time")


class SubjectRecord(BaseModel):
    """A subject's file."""

    subject: str = Field(description="The subject's keyed hash, hex")
    consents: int = Field(description="Consents granted")
    records: int = Field(description="Record commitments")
    accesses: int = Field(description="Entries of its access log")
    scores: int = Field(description="Scores recorded")
    known_by: list[str] = Field(description="Institutions that know it")
    erasure: Erasure | None = Field(description="Its erasure, null if none")


class SubjectAnswer(CreditProven):
    """``GET /v1/credit/subjects/{subject}``: the file, or its proven absence (null)."""

    subject: SubjectRecord | None = Field(description="The file; null: proven absent")


class ConsentRecord(BaseModel):
    """A subject's consent to share records with a grantee."""

    consent_id: int = Field(description="Its id")
    custodian: str = Field(description="The institution that holds the subject's consent")
    grantee: str = Field(description="Who may read")
    purpose: str = Field(description="What for")
    categories: list[str] = Field(description="The record categories it covers")
    granted_height: int = Field(description="The block that granted it")
    granted_time_ms: int = Field(description="That block's time")
    expires_time_ms: int = Field(description="When it expires")
    revoked_height: int = Field(description="The block that revoked it, 0 if live")


class ConsentAnswer(CreditProven):
    """``GET /v1/credit/subjects/{subject}/consents/{consent_id}``, proven."""

    consent: ConsentRecord = Field(description="The record")


class RecordCommitmentRecord(BaseModel):
    """A commitment to a behaviour record kept off chain."""

    sequence: int = Field(description="Its place in the subject's records")
    category: str = Field(description="`loans`, `repayments`, ...")
    period: int = Field(description="The month, YYYYMM")
    submitter: str = Field(description="The institution that submitted it")
    commitment: str = Field(description="The record's commitment, hex")
    height: int = Field(description="The block that recorded it")


class RecordAnswer(CreditProven):
    """``GET /v1/credit/subjects/{subject}/records/{sequence}``, proven."""

    record: RecordCommitmentRecord = Field(description="The record")


class AccessRecord(BaseModel):
    """An entry of a subject's access log: who read what, under which consent."""

    sequence: int = Field(description="Its place in the log")
    kind: str = Field(description="What was read: `records` or `score`")
    reader: str = Field(description="The organization that read")
    account: str = Field(description="Its account, hex")
    consent_id: int = Field(description="The consent it read under")
    purpose: str = Field(description="What for")
    categories: list[str] = Field(description="The categories read")
    height: int = Field(description="The block that recorded it")
    time_ms: int = Field(description="That block's time")


class RecordEntry(CreditProven):
    """A record commitment of a page, proven."""

    entry: RecordCommitmentRecord = Field(description="The record")


class AccessEntry(CreditProven):
    """An access log entry of a page, proven."""

    entry: AccessRecord = Field(description="The record")


class RecordsPage(SubjectAnswer):
    """``GET /v1/credit/subjects/{subject}/records``: a page of record commitments with the
    subject's file, every entry proven at one height."""

    entries: list[RecordEntry] = Field(description="The page")
    next_start: int | None = Field(description="Where the next page starts; null after the last")


class AccessLogPage(SubjectAnswer):
    """``GET /v1/credit/subjects/{subject}/access-log``: a page of the access log with the
    subject's file, every entry proven at one height."""

    entries: list[AccessEntry] = Field(description="The page")
    next_start: int | None = Field(description="Where the next page starts; null after the last")


class ScoreRecord(BaseModel):
    """A recorded score and, once recorded, its decision."""

    sequence: int = Field(description="Its place in the subject's scores")
    lender: str = Field(description="The lender that scored")
    model_id: str = Field(description="The model")
    model_version: int = Field(description="Its version")
    consent_id: int = Field(description="The consent it read under")
    access_sequence: int = Field(description="The access log entry of the read")
    as_of_ms: int = Field(description="The time the inputs were taken at")
    record_count: int = Field(description="Records it read")
    result_hash: str = Field(description="The result's hash, hex")
    height: int = Field(description="The block that recorded it")
    decision_policy: str = Field(description="The policy of its decision, or empty")
    decision_hash: str = Field(description="The decision's hash, hex, or empty")


class ScoreAnswer(CreditProven):
    """``GET /v1/credit/subjects/{subject}/scores/{sequence}``, proven."""

    score: ScoreRecord = Field(description="The record")


class DisclosureSource(BaseModel):
    """What one of the node's private data sources answered."""

    source: str = Field(description="The source's name")
    status: str = Field(description="`ok`, `malformed`, `unreachable`, or the HTTP status")
    disclosed: int = Field(description="Disclosures it gave")


class DisclosuresAnswer(BaseModel):
    """``GET /v1/credit/subjects/{subject}/disclosures/{sequence}``: the records disclosed to
    the reader of an access entry, to check against their commitments."""

    subject: str = Field(description="The subject, hex")
    access_sequence: int = Field(description="The access log entry")
    categories: list[str] = Field(description="The categories it read")
    height: int = Field(description="The block the access was read at")
    disclosures: list[str] = Field(description="Each a canonical Disclosure, hex")
    sources: list[DisclosureSource] = Field(description="The sources asked")


class Bin(BaseModel):
    """A value ``v`` falls in the first bin with ``v < upper``; the last has no bound."""

    upper: int | None = Field(description="Its bound; null: none")
    points: int = Field(description="Its points")


class FeaturePoints(BaseModel):
    """The points of one feature."""

    feature: str = Field(description="The feature")
    reason_code: str = Field(description="The reason code of a score that lost points on it")
    reason: str = Field(description="That reason in words")
    bins: list[Bin] = Field(description="Its bins, in order")
    missing_points: int = Field(description="The points when it has no value")


class Band(BaseModel):
    """Scores at or above ``min_score`` (and below the next band's) are in band ``name``."""

    name: str = Field(description="The band")
    min_score: int = Field(description="Its lowest score")


class ScorecardModel(BaseModel):
    """A points table."""

    model_id: str = Field(description="The model")
    version: int = Field(description="Its version")
    base_points: int = Field(description="The points every score starts from")
    features: list[FeaturePoints] = Field(description="Its features")
    bands: list[Band] = Field(description="Its bands")


class ModelMetrics(BaseModel):
    """How the model was validated (parts per million)."""

    folds: int = Field(description="Cross-validation folds")
    auc_mean_ppm: int = Field(description="AUC, mean")
    auc_sd_ppm: int = Field(description="AUC, standard deviation")
    ks_mean_ppm: int = Field(description="KS, mean")
    ks_sd_ppm: int = Field(description="KS, standard deviation")
    gini_mean_ppm: int = Field(description="Gini, mean")
    gini_sd_ppm: int = Field(description="Gini, standard deviation")
    holdout_auc_ppm: int = Field(description="AUC on the holdout")
    holdout_brier_ppm: int = Field(description="Brier score on the holdout")
    training_rows: int = Field(description="Rows it was trained on")


class ModelRecord(BaseModel):
    """A registered model version."""

    model: ScorecardModel = Field(description="Its points table")
    artifact_hash: str = Field(description="The training artifact's hash, hex")
    metrics: ModelMetrics = Field(description="Its validation")
    registered_by: str = Field(description="The lender that registered it")
    registered_height: int = Field(description="The block that registered it")
    approved_height: int = Field(description="The block governance approved it in, 0 before")


class ModelAnswer(CreditProven):
    """``GET /v1/credit/models/{model_id}/{version}``, proven."""

    model: ModelRecord = Field(description="The record")


class BandLimit(BaseModel):
    """The credit limit of a band."""

    band: str = Field(description="The band")
    limit_minor: int = Field(description="Its limit")


class DecisionPolicy(BaseModel):
    """A lender's cut-offs for one model version."""

    model_id: str = Field(description="The model")
    model_version: int = Field(description="Its version")
    approve_min_score: int = Field(description="Approve at or above, with the band's limit")
    decline_below_score: int = Field(description="Decline below; between: a reduced limit")
    band_limits: list[BandLimit] = Field(description="The limit of each band")
    reduced_limit_minor: int = Field(description="The reduced limit")


class PolicyRecord(BaseModel):
    """A lender's decision policy."""

    organization: str = Field(description="The lender")
    policy_id: str = Field(description="The policy's id")
    policy: DecisionPolicy = Field(description="Its cut-offs")
    height: int = Field(description="The block that set it")


class PolicyAnswer(CreditProven):
    """``GET /v1/credit/policies/{organization}/{policy_id}``, proven."""

    policy: PolicyRecord = Field(description="The record")


__all__ = [
    "AccessEntry",
    "AccessLogPage",
    "AccessRecord",
    "Band",
    "BandLimit",
    "Bin",
    "ConsentAnswer",
    "ConsentRecord",
    "CreditProven",
    "DecisionPolicy",
    "DisclosureSource",
    "DisclosuresAnswer",
    "Erasure",
    "FeaturePoints",
    "ModelAnswer",
    "ModelMetrics",
    "ModelRecord",
    "PolicyAnswer",
    "PolicyRecord",
    "RecordAnswer",
    "RecordCommitmentRecord",
    "RecordEntry",
    "RecordsPage",
    "ScoreAnswer",
    "ScoreRecord",
    "ScorecardModel",
    "SubjectAnswer",
    "SubjectRecord",
]
