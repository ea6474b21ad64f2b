"""The credit contract: consent, behaviour record commitments, the access log, scores and
decisions recorded by their hashes, model versions approved by governance, lenders' decision
policies, and erasure. ``docs/credit.md`` is the full description."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from jinqiao.apps.credit.common import (
    MAX_SEQUENCE,
    check_categories,
    check_hash,
    check_purpose,
    check_subject,
    live_consent,
    load_consent,
    load_model,
    load_subject,
    log_access,
    updated,
)
from jinqiao.apps.credit.model import (
    CATEGORIES,
    CREDIT,
    CREDIT_ROLE,
    IDENTIFIER_PATTERN,
    MAX_AS_OF_AGE_MS,
    MAX_CONSENT_DURATION_MS,
    MAX_CONSENTS_PER_SUBJECT,
    MAX_KNOWN_BY,
    MAX_PAGE,
    MAX_RECORDS_PER_SUBJECT,
    READ_RECORDS,
    READ_SCORE,
    RECORD_CATEGORIES,
    Access,
    AccessLog,
    Consent,
    ConsentArgs,
    Erasure,
    GrantConsentArgs,
    ModelRecord,
    ModelVersionArgs,
    PageArgs,
    PolicyArgs,
    PolicyRecord,
    ReadRecordsArgs,
    RecordCommitment,
    RecordDecisionArgs,
    Records,
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
    model_key,
    policy_key,
    record_key,
    score_key,
    subject_key,
)
from jinqiao.apps.credit.records import period_problem
from jinqiao.apps.credit.scorecard import (
    metrics_problem,
    model_categories,
    model_hash,
    model_problem,
    policy_problem,
)
from jinqiao.apps.registry import load_organization
from jinqiao.core.errors import NodeFault
from jinqiao.core.genesis import IDENTIFIER
from jinqiao.core.limits import MAX_NAME_LENGTH
from jinqiao.execution.api import (
    CONTRACT_ROLE,
    GOVERNANCE,
    Context,
    Contract,
    method,
    query,
)

T = TypeVar("T")
KeyOf = Callable[[bytes, int], bytes]


class Credit(Contract):
    """Shared credit rating over consented behaviour data, with every read on the record."""

    name = CREDIT

    # -- consent ------------------------------------------------------------------------------

    @method(GrantConsentArgs, roles=(CREDIT_ROLE,))
    def grant_consent(self, ctx: Context, args: GrantConsentArgs) -> Consent:
        """Record the subject's consent, given through the sender's institution (the custodian),
        for ``grantee`` to read ``categories`` for ``purpose`` until ``expires_time_ms``."""
        subject = load_subject(ctx, args.subject)
        grantee = load_organization(ctx, args.grantee)
        check_purpose(ctx, args.purpose)
        check_categories(ctx, args.categories, CATEGORIES)
        if not ctx.time_ms < args.expires_time_ms <= ctx.time_ms + MAX_CONSENT_DURATION_MS:
            ctx.reject(
                "invalid_expiry",
                "a consent expires after the current block time and at most "
                f"{MAX_CONSENT_DURATION_MS} ms after it",
            )
        if subject.consents >= MAX_CONSENTS_PER_SUBJECT:
            ctx.reject("too_many_consents", f"a subject has at most {MAX_CONSENTS_PER_SUBJECT}")
        consent = Consent(
            subject.consents,
            ctx.organization,
            grantee.id,
            args.purpose,
            args.categories,
            ctx.height,
            ctx.time_ms,
            args.expires_time_ms,
            0,
        )
        ctx.state.save(consent_key(args.subject, consent.consent_id), consent)
        subject = _known_by_sender(ctx, updated(subject, consents=subject.consents + 1))
        ctx.state.save(subject_key(args.subject), subject)
        ctx.emit(
            "ConsentGranted",
            subject=args.subject,
            consent_id=consent.consent_id,
            custodian=consent.custodian,
            grantee=consent.grantee,
            purpose=consent.purpose,
            categories=",".join(consent.categories),
            expires_time_ms=consent.expires_time_ms,
        )
        return consent

    @method(ConsentArgs, roles=(CREDIT_ROLE,))
    def revoke_consent(self, ctx: Context, args: ConsentArgs) -> Consent:
        """Revoke a consent, for the subject, through the institution that recorded it."""
        load_subject(ctx, args.subject)
        consent = load_consent(ctx, args.subject, args.consent_id)
        if consent.custodian != ctx.organization:
            ctx.reject(
                "not_custodian",
                f"only {consent.custodian}, which recorded the consent, may revoke it",
            )
        if consent.revoked_height:
            ctx.reject("consent_revoked", f"consent {consent.consent_id} is already revoked")
        revoked = updated(consent, revoked_height=ctx.height)
        ctx.state.save(consent_key(args.subject, consent.consent_id), revoked)
        ctx.emit("ConsentRevoked", subject=args.subject, consent_id=consent.consent_id)
        return revoked

    # -- behaviour records --------------------------------------------------------------------

    @method(SubmitRecordArgs, roles=(CREDIT_ROLE,))
    def submit_record(self, ctx: Context, args: SubmitRecordArgs) -> RecordCommitment:
        """Commit to a behaviour record kept in the sender's store."""
        subject = load_subject(ctx, args.subject)
        if args.category not in RECORD_CATEGORIES:
            ctx.reject(
                "invalid_category",
                f"a record's category is one of {list(RECORD_CATEGORIES)}",
            )
        problem = period_problem(args.period)
        if problem is not None:
            ctx.reject("invalid_period", problem)
        check_hash(ctx, args.commitment, "commitment")
        if ctx.state.get(commitment_key(args.commitment)) is not None:
            ctx.reject("record_exists", "this commitment is already on chain")
        if subject.records >= MAX_RECORDS_PER_SUBJECT:
            ctx.reject("too_many_records", f"a subject has at most {MAX_RECORDS_PER_SUBJECT}")
        record = RecordCommitment(
            subject.records,
            args.category,
            args.period,
            ctx.organization,
            args.commitment,
            ctx.height,
        )
        ctx.state.save(record_key(args.subject, record.sequence), record)
        ctx.state.save(commitment_key(args.commitment), args.subject)
        subject = _known_by_sender(ctx, updated(subject, records=subject.records + 1))
        ctx.state.save(subject_key(args.subject), subject)
        ctx.emit(
            "RecordCommitted",
            subject=args.subject,
            sequence=record.sequence,
            category=record.category,
            period=record.period,
            submitter=record.submitter,
        )
        return record

    # -- reads, scores and decisions ----------------------------------------------------------

    @method(ReadRecordsArgs, roles=(CREDIT_ROLE,))
    def read_records(self, ctx: Context, args: ReadRecordsArgs) -> Access:
        """Log a read of the subject's records of ``categories`` under a live consent; the
        access entry is what the submitters' stores release the records against."""
        subject = load_subject(ctx, args.subject)
        check_purpose(ctx, args.purpose)
        check_categories(ctx, args.categories, CATEGORIES)
        consent = live_consent(ctx, args.subject, args.consent_id, args.purpose, args.categories)
        subject, access = log_access(ctx, subject, READ_RECORDS, consent, args.categories)
        ctx.state.save(subject_key(args.subject), subject)
        return access

    @method(RecordScoreArgs, roles=(CREDIT_ROLE,))
    def record_score(self, ctx: Context, args: RecordScoreArgs) -> ScoreRecord:
        """Log a score read and record the hash of the result the lender computed with an
        approved model version over the subject's records below ``record_count`` and accesses
        below ``access_count`` (both must be the current counts)."""
        subject = load_subject(ctx, args.subject)
        check_purpose(ctx, args.purpose)
        model = load_model(ctx, args.model_id, args.model_version)
        if not model.approved_height:
            ctx.reject(
                "model_not_approved",
                f"model {args.model_id} version {args.model_version} is not approved",
            )
        categories = model_categories(model.model)
        consent = live_consent(ctx, args.subject, args.consent_id, args.purpose, categories)
        if not 0 <= ctx.time_ms - args.as_of_ms <= MAX_AS_OF_AGE_MS:
            ctx.reject(
                "invalid_as_of",
                f"as_of_ms must be at most the block time and at most {MAX_AS_OF_AGE_MS} ms "
                "before it",
            )
        if args.record_count != subject.records:
            ctx.reject(
                "stale_records",
                f"the subject has {subject.records} records, not {args.record_count}",
                records=subject.records,
            )
        if args.access_count != subject.accesses:
            ctx.reject(
                "stale_access_log",
                f"the subject's access log has {subject.accesses} entries, not {args.access_count}",
                accesses=subject.accesses,
            )
        check_hash(ctx, args.result_hash, "result_hash")
        subject, access = log_access(ctx, subject, READ_SCORE, consent, categories)
        score = ScoreRecord(
            subject.scores,
            ctx.organization,
            args.model_id,
            args.model_version,
            consent.consent_id,
            access.sequence,
            args.as_of_ms,
            args.record_count,
            args.result_hash,
            ctx.height,
            "",
            b"",
        )
        ctx.state.save(score_key(args.subject, score.sequence), score)
        ctx.state.save(subject_key(args.subject), updated(subject, scores=subject.scores + 1))
        ctx.emit(
            "ScoreRecorded",
            subject=args.subject,
            sequence=score.sequence,
            lender=score.lender,
            model_id=score.model_id,
            model_version=score.model_version,
            result_hash=score.result_hash,
        )
        return score

    @method(RecordDecisionArgs, roles=(CREDIT_ROLE,))
    def record_decision(self, ctx: Context, args: RecordDecisionArgs) -> ScoreRecord:
        """Record the hash of the lender's decision on one of its scores under one of its
        policies for the score's model version."""
        load_subject(ctx, args.subject)
        score = None
        if 0 <= args.score_sequence <= MAX_SEQUENCE:
            score = ctx.state.load(score_key(args.subject, args.score_sequence), ScoreRecord)
        if score is None:
            ctx.reject("unknown_score", f"no score {args.score_sequence} for this subject")
        if score.lender != ctx.organization:
            ctx.reject("not_your_score", f"score {score.sequence} was recorded by {score.lender}")
        policy = _load_policy(ctx, ctx.organization, args.policy_id)
        if (policy.policy.model_id, policy.policy.model_version) != (
            score.model_id,
            score.model_version,
        ):
            ctx.reject(
                "policy_model_mismatch",
                f"policy {args.policy_id} is for another model version than the score's",
            )
        if score.decision_hash:
            ctx.reject("decision_exists", f"score {score.sequence} already has a decision")
        check_hash(ctx, args.decision_hash, "decision_hash")
        decided = updated(score, decision_policy=args.policy_id, decision_hash=args.decision_hash)
        ctx.state.save(score_key(args.subject, score.sequence), decided)
        ctx.emit(
            "DecisionRecorded",
            subject=args.subject,
            score_sequence=score.sequence,
            policy_id=args.policy_id,
            decision_hash=args.decision_hash,
        )
        return decided

    # -- models and policies ------------------------------------------------------------------

    @method(RegisterModelArgs, roles=(CREDIT_ROLE,))
    def register_model(self, ctx: Context, args: RegisterModelArgs) -> ModelRecord:
        """Register a scorecard model version with its measured metrics (not usable until
        governance approves it)."""
        problem = model_problem(args.model)
        if problem is not None:
            ctx.reject("invalid_model", problem)
        problem = metrics_problem(args.metrics)
        if problem is not None:
            ctx.reject("invalid_metrics", problem)
        key = model_key(args.model.model_id, args.model.version)
        if ctx.state.get(key) is not None:
            ctx.reject("model_exists", "this model version is already registered")
        record = ModelRecord(
            args.model,
            model_hash(ctx.suite.hash, args.model),
            args.metrics,
            ctx.organization,
            ctx.height,
            0,
        )
        ctx.state.save(key, record)
        ctx.emit(
            "ModelRegistered",
            model_id=args.model.model_id,
            version=args.model.version,
            artifact_hash=record.artifact_hash,
            auc_mean_ppm=args.metrics.auc_mean_ppm,
        )
        return record

    @method(ModelVersionArgs, roles=(CONTRACT_ROLE,))
    def approve_model(self, ctx: Context, args: ModelVersionArgs) -> ModelRecord:
        """Approve a registered model version for scoring. Only the governance contract calls
        this, when a ``call_contract`` proposal reaches the quorum."""
        if ctx.sender != ctx.contract_address(GOVERNANCE):
            ctx.reject("unauthorized", "models are approved only through governance")
        record = load_model(ctx, args.model_id, args.version)
        if record.approved_height:
            ctx.reject("model_already_approved", "this model version is already approved")
        approved = updated(record, approved_height=ctx.height)
        ctx.state.save(model_key(args.model_id, args.version), approved)
        ctx.emit(
            "ModelApproved",
            model_id=args.model_id,
            version=args.version,
            artifact_hash=record.artifact_hash,
        )
        return approved

    @method(SetPolicyArgs, roles=(CREDIT_ROLE,))
    def set_policy(self, ctx: Context, args: SetPolicyArgs) -> PolicyRecord:
        """Record a decision policy of the sender's institution under a new id (a policy never
        changes, so every decision naming it can be recomputed)."""
        if not IDENTIFIER_PATTERN.fullmatch(args.policy_id):
            ctx.reject("invalid_policy_id", "a policy id is 1..64 of a-z, 0-9 and '_.-'")
        model = load_model(ctx, args.policy.model_id, args.policy.model_version)
        problem = policy_problem(args.policy, model.model)
        if problem is not None:
            ctx.reject("invalid_policy", problem)
        key = policy_key(ctx.organization, args.policy_id)
        if ctx.state.get(key) is not None:
            ctx.reject("policy_exists", f"policy {args.policy_id} exists and never changes")
        record = PolicyRecord(ctx.organization, args.policy_id, args.policy, ctx.height)
        ctx.state.save(key, record)
        ctx.emit("PolicySet", organization=ctx.organization, policy_id=args.policy_id)
        return record

    # -- erasure ------------------------------------------------------------------------------

    @method(SubjectArgs, roles=(CREDIT_ROLE,))
    def erase_subject(self, ctx: Context, args: SubjectArgs) -> Subject:
        """Erase a subject (at its request, through an institution that knows it): its consents,
        record commitments, access log and scores leave the state; the subject's file keeps
        only its counts, the institutions that knew it (who may still read the file,
        docs/access.md) and the erasure. Every submitter destroys its key and records off
        chain on seeing the ``SubjectErased`` event."""
        subject = load_subject(ctx, args.subject)
        if ctx.organization not in subject.known_by:
            ctx.reject(
                "subject_not_known",
                "only an institution that granted consent or submitted records for the subject "
                "may erase it",
            )
        for sequence in range(subject.records):
            key = record_key(args.subject, sequence)
            record = ctx.state.load(key, RecordCommitment)
            if record is None:
                raise NodeFault("a record within the count is missing", sequence=sequence)
            ctx.state.delete(commitment_key(record.commitment))
            ctx.state.delete(key)
        for consent_id in range(subject.consents):
            ctx.state.delete(consent_key(args.subject, consent_id))
        for sequence in range(subject.accesses):
            ctx.state.delete(access_key(args.subject, sequence))
        for sequence in range(subject.scores):
            ctx.state.delete(score_key(args.subject, sequence))
        erased = updated(subject, erasure=Erasure(ctx.organization, ctx.height, ctx.time_ms))
        ctx.state.save(subject_key(args.subject), erased)
        ctx.emit("SubjectErased", subject=args.subject, by=ctx.organization)
        return erased

    # -- queries ------------------------------------------------------------------------------

    @query(SubjectArgs)
    def subject(self, ctx: Context, args: SubjectArgs) -> Subject:
        """A subject's file, erased or not."""
        check_subject(ctx, args.subject)
        subject = ctx.state.load(subject_key(args.subject), Subject)
        if subject is None:
            ctx.reject("unknown_subject", "nothing was ever recorded for this subject")
        return subject

    @query(ConsentArgs)
    def consent(self, ctx: Context, args: ConsentArgs) -> Consent:
        load_subject(ctx, args.subject)
        return load_consent(ctx, args.subject, args.consent_id)

    @query(SequenceArgs)
    def record(self, ctx: Context, args: SequenceArgs) -> RecordCommitment:
        return _load_sequenced(ctx, args, record_key, RecordCommitment, "unknown_record")

    @query(SequenceArgs)
    def score(self, ctx: Context, args: SequenceArgs) -> ScoreRecord:
        return _load_sequenced(ctx, args, score_key, ScoreRecord, "unknown_score")

    @query(PageArgs)
    def records(self, ctx: Context, args: PageArgs) -> Records:
        """A page of the subject's record commitments, in submission order."""
        subject = load_subject(ctx, args.subject)
        page, next_start = _page(ctx, args, subject.records, record_key, RecordCommitment)
        return Records(args.subject, page, next_start)

    @query(PageArgs)
    def access_log(self, ctx: Context, args: PageArgs) -> AccessLog:
        """A page of the subject's access log: who looked, when, why, under which consent."""
        subject = load_subject(ctx, args.subject)
        page, next_start = _page(ctx, args, subject.accesses, access_key, Access)
        return AccessLog(args.subject, page, next_start)

    @query(ModelVersionArgs)
    def model(self, ctx: Context, args: ModelVersionArgs) -> ModelRecord:
        return load_model(ctx, args.model_id, args.version)

    @query(PolicyArgs)
    def policy(self, ctx: Context, args: PolicyArgs) -> PolicyRecord:
        return _load_policy(ctx, args.organization, args.policy_id)


def _known_by_sender(ctx: Context, subject: Subject) -> Subject:
    if ctx.organization in subject.known_by:
        return subject
    if len(subject.known_by) >= MAX_KNOWN_BY:
        ctx.reject(
            "too_many_custodians",
            f"at most {MAX_KNOWN_BY} institutions may hold a subject's consents and records",
        )
    return updated(subject, known_by=tuple(sorted((*subject.known_by, ctx.organization))))


def _load_policy(ctx: Context, organization: str, policy_id: str) -> PolicyRecord:
    record = None
    if IDENTIFIER_PATTERN.fullmatch(policy_id) and IDENTIFIER.fullmatch(organization):
        record = ctx.state.load(policy_key(organization, policy_id), PolicyRecord)
    if record is None:
        ctx.reject(
            "unknown_policy",
            f"{organization[:MAX_NAME_LENGTH]!r} has no policy {policy_id[:MAX_NAME_LENGTH]!r}",
        )
    return record


def _load_sequenced(ctx: Context, args: SequenceArgs, key_of: KeyOf, kind: type[T], code: str) -> T:
    load_subject(ctx, args.subject)
    value = None
    if 0 <= args.sequence <= MAX_SEQUENCE:
        value = ctx.state.load(key_of(args.subject, args.sequence), kind)
    if value is None:
        ctx.reject(code, f"no entry {args.sequence} for this subject")
    return value


def _page(
    ctx: Context, args: PageArgs, count: int, key_of: KeyOf, kind: type[T]
) -> tuple[tuple[T, ...], int | None]:
    if args.start < 0 or not 1 <= args.limit <= MAX_PAGE:
        ctx.reject("invalid_page", f"start >= 0 and limit 1..{MAX_PAGE}")
    end = min(count, args.start + args.limit)
    page = []
    for sequence in range(args.start, end):
        value = ctx.state.load(key_of(args.subject, sequence), kind)
        if value is None:
            raise NodeFault("an entry within the count is missing", sequence=sequence)
        page.append(value)
    return tuple(page), (end if end < count else None)


__all__ = ["Credit"]
