"""Behaviour records as members keep them off chain, and the commitments the chain holds.

A record's body never reaches the chain: the submitter keeps it (encrypted under the subject's
key, ``jinqiao.credit.store``) and the chain holds ``commitment(hash, salt, body)``, a salted
hash under the network's hash function. The 32-byte random salt makes a commitment unlinkable to
its body for anyone without the salt: a body such as "repaid 30 days late in 2026-11" has too few
possible values to stay hidden behind an unsalted hash. Destroying the salt (erasure) leaves the
commitment meaningless.

Pure: the caller passes the network's hash function (``CryptoSuite.hash``).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from jinqiao.apps.credit.model import (
    MAX_PERIOD,
    MIN_PERIOD,
    PAYMENT_ACTIVITY,
    RECORD_CATEGORIES,
    REPAYMENTS,
    SUBJECT_BYTES,
)
from jinqiao.core.codec import CanonicalStruct, encode
from jinqiao.core.errors import require
from jinqiao.core.limits import MAX_AMOUNT_MINOR

SALT_BYTES = 32
MAX_DAYS_PAST_DUE = 3_650
MAX_PAYMENTS_PER_MONTH = 1_000_000
MAX_REFERENCE_LENGTH = 64
COMMITMENT_DOMAIN = b"jinqiao/credit/record/v1\x00"
HEX_DIGEST = re.compile(r"[0-9a-f]{64}")

Hash = Callable[[bytes], bytes]


class RecordBody(CanonicalStruct, frozen=True):
    """One behaviour record of a subject in a month (``period`` ``YYYYMM``).

    ============== ============== ============= ============== ==============
    category       reference      amount_minor  days_past_due  count, chargebacks
    ============== ============== ============= ============== ==============
    loans          the loan's id  principal > 0 0              0, 0
    repayments     the loan's id  paid > 0      0 = on time    0, 0
    defaults       the loan's id  owed > 0      0              0, 0
    recoveries     the loan's id  recovered > 0 0              0, 0
    payment_activity  ids digest  total paid    0              payments >= 1, <= payments
    ============== ============== ============= ============== ==============
    """

    subject: bytes
    category: str
    period: int
    reference: str
    amount_minor: int
    days_past_due: int
    count: int
    chargebacks: int


def period_problem(period: int) -> str | None:
    if not MIN_PERIOD <= period <= MAX_PERIOD or not 1 <= period % 100 <= 12:
        return f"a period is a month YYYYMM from {MIN_PERIOD} to {MAX_PERIOD}"
    return None


def record_problem(body: RecordBody) -> str | None:
    """What is wrong with ``body`` (the table in ``RecordBody``), or ``None``."""
    if len(body.subject) != SUBJECT_BYTES:
        return f"subject must be a {SUBJECT_BYTES}-byte keyed hash"
    if body.category not in RECORD_CATEGORIES:
        return f"category must be one of {list(RECORD_CATEGORIES)}"
    problem = period_problem(body.period)
    if problem is not None:
        return problem
    if not 0 <= body.amount_minor <= MAX_AMOUNT_MINOR:
        return f"amount_minor must be in 0..{MAX_AMOUNT_MINOR}"
    if body.category == PAYMENT_ACTIVITY:
        return _activity_problem(body)
    if not 1 <= len(body.reference) <= MAX_REFERENCE_LENGTH or not body.reference.isprintable():
        return f"reference (the loan's id) must be 1..{MAX_REFERENCE_LENGTH} printable characters"
    if body.amount_minor == 0:
        return f"a {body.category} record's amount_minor must be positive"
    if body.count != 0 or body.chargebacks != 0:
        return f"a {body.category} record has count and chargebacks 0"
    if body.category == REPAYMENTS:
        if not 0 <= body.days_past_due <= MAX_DAYS_PAST_DUE:
            return f"days_past_due must be in 0..{MAX_DAYS_PAST_DUE}"
    elif body.days_past_due != 0:
        return f"a {body.category} record has days_past_due 0"
    return None


def _activity_problem(body: RecordBody) -> str | None:
    if not HEX_DIGEST.fullmatch(body.reference) or body.days_past_due != 0:
        return (
            "a payment_activity record's reference is the hex hash of its payment ids "
            "(64 lower-case hex digits) and its days_past_due 0"
        )
    if not 1 <= body.count <= MAX_PAYMENTS_PER_MONTH:
        return f"a payment_activity record counts 1..{MAX_PAYMENTS_PER_MONTH} payments"
    if not 0 <= body.chargebacks <= body.count:
        return "chargebacks must be in 0..count"
    return None


def commitment(hash_function: Hash, salt: bytes, body: RecordBody) -> bytes:
    """The record's commitment: ``hash(domain || salt || canonical body)``."""
    require(len(salt) == SALT_BYTES, f"a salt is {SALT_BYTES} bytes")
    return hash_function(COMMITMENT_DOMAIN + salt + encode(body))


__all__ = [
    "SALT_BYTES",
    "RecordBody",
    "commitment",
    "period_problem",
    "record_problem",
]
