"""Checks and record access shared by the credit contract's methods: each either returns what
it checked or rejects with the code that names what is wrong (``docs/credit.md``)."""

from __future__ import annotations

from typing import TypeVar

import msgspec

from jinqiao.apps.credit.model import (
    HASH_BYTES,
    IDENTIFIER_PATTERN,
    MAX_ACCESSES_PER_SUBJECT,
    PURPOSES,
    SUBJECT_BYTES,
    Access,
    Consent,
    ModelRecord,
    Subject,
    access_key,
    consent_key,
    model_key,
    subject_key,
)
from jinqiao.core.limits import MAX_NAME_LENGTH
from jinqiao.execution.api import Context

MAX_SEQUENCE = 2**63 - 1

T = TypeVar("T")


def check_subject(ctx: Context, subject: bytes) -> None:
    if len(subject) != SUBJECT_BYTES:
        ctx.reject(
            "invalid_subject",
            f"a subject is a {SUBJECT_BYTES}-byte keyed hash, not {len(subject)} bytes",
            length=len(subject),
        )


def check_hash(ctx: Context, value: bytes, field: str) -> None:
    if len(value) != HASH_BYTES:
        ctx.reject("invalid_hash", f"{field} must be {HASH_BYTES} bytes", field=field)


def check_purpose(ctx: Context, purpose: str) -> None:
    if purpose not in PURPOSES:
        ctx.reject(
            "invalid_purpose",
            f"{purpose[:MAX_NAME_LENGTH]!r} is not a purpose; purposes are {list(PURPOSES)}",
        )


def check_categories(ctx: Context, categories: tuple[str, ...], allowed: tuple[str, ...]) -> None:
    """Non-empty, sorted, distinct, each one of ``allowed``."""
    if (
        not categories
        or list(categories) != sorted(set(categories))
        or not set(categories) <= set(allowed)
    ):
        ctx.reject(
            "invalid_categories",
            f"categories must be a non-empty sorted list of distinct names from {list(allowed)}",
        )


def load_subject(ctx: Context, subject: bytes) -> Subject:
    """The subject's file (an empty one if nothing was ever recorded), not erased."""
    check_subject(ctx, subject)
    stored = ctx.state.load(subject_key(subject), Subject)
    if stored is None:
        return Subject(subject, 0, 0, 0, 0, (), None)
    if stored.erasure is not None:
        ctx.reject(
            "subject_erased",
            "the subject was erased: its data can no longer be read, scored or added to",
            erased_height=stored.erasure.height,
        )
    return stored


def load_consent(ctx: Context, subject: bytes, consent_id: int) -> Consent:
    consent = None
    if 0 <= consent_id <= MAX_SEQUENCE:
        consent = ctx.state.load(consent_key(subject, consent_id), Consent)
    if consent is None:
        ctx.reject("unknown_consent", f"no consent {consent_id} for this subject")
    return consent


def live_consent(
    ctx: Context, subject: bytes, consent_id: int, purpose: str, categories: tuple[str, ...]
) -> Consent:
    """A consent that lets the sender's organization read ``categories`` for ``purpose`` now."""
    consent = load_consent(ctx, subject, consent_id)
    if consent.grantee != ctx.organization:
        ctx.reject("not_grantee", f"consent {consent_id} was granted to another institution")
    if consent.revoked_height:
        ctx.reject(
            "consent_revoked",
            f"consent {consent_id} was revoked at height {consent.revoked_height}",
        )
    if ctx.time_ms >= consent.expires_time_ms:
        ctx.reject(
            "consent_expired",
            f"consent {consent_id} expired at {consent.expires_time_ms}",
            expires_time_ms=consent.expires_time_ms,
        )
    if purpose != consent.purpose:
        ctx.reject("purpose_not_consented", f"consent {consent_id} is for {consent.purpose}")
    missing = sorted(set(categories) - set(consent.categories))
    if missing:
        ctx.reject(
            "category_not_consented",
            f"consent {consent_id} does not cover {missing}",
            categories=",".join(missing),
        )
    return consent


def log_access(
    ctx: Context,
    subject: Subject,
    kind: str,
    consent: Consent,
    categories: tuple[str, ...],
) -> tuple[Subject, Access]:
    """Append an entry to the subject's access log; the updated file is returned, not saved."""
    if subject.accesses >= MAX_ACCESSES_PER_SUBJECT:
        ctx.reject(
            "too_many_accesses",
            f"the subject's access log is full ({MAX_ACCESSES_PER_SUBJECT} entries)",
        )
    access = Access(
        subject.accesses,
        kind,
        ctx.organization,
        ctx.sender,
        consent.consent_id,
        consent.purpose,
        categories,
        ctx.height,
        ctx.time_ms,
    )
    ctx.state.save(access_key(subject.subject, access.sequence), access)
    ctx.emit(
        "SubjectRead",
        subject=subject.subject,
        sequence=access.sequence,
        kind=kind,
        reader=ctx.organization,
        consent_id=consent.consent_id,
        purpose=consent.purpose,
        categories=",".join(categories),
    )
    return updated(subject, accesses=subject.accesses + 1), access


def load_model(ctx: Context, model_id: str, version: int) -> ModelRecord:
    record = None
    if IDENTIFIER_PATTERN.fullmatch(model_id) and 1 <= version <= MAX_SEQUENCE:
        record = ctx.state.load(model_key(model_id, version), ModelRecord)
    if record is None:
        ctx.reject(
            "unknown_model",
            f"no model {model_id[:MAX_NAME_LENGTH]!r} version {version}",
        )
    return record


def updated(value: T, **changes: object) -> T:
    """A stored record with ``changes`` (records are frozen and rewritten whole)."""
    return msgspec.structs.replace(value, **changes)  # type: ignore[type-var]
