"""The scorecard's features: integers computed from a subject's records and access log as of a
moment, the same way by the lender that scores and by anyone who recomputes the score.

Each feature reads only the categories it names (``FEATURE_CATEGORIES``), so a score needs
consent for exactly the categories of its model's features. Windows are calendar months counted
back from the month (UTC) of ``as_of_ms``, that month included; records of later months are
ignored. A feature is ``None`` when the subject has nothing it could be computed from (no
repayments: no on-time ratio); the scorecard gives such a value its ``missing_points``.

Pure integer arithmetic: no floats, no clock, no ``datetime`` (the month of a time is computed
with the days-to-civil algorithm of H. Hinnant, "chrono-Compatible Low-Level Date Algorithms").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from jinqiao.apps.credit.model import (
    DEFAULTS,
    INQUIRIES,
    LOANS,
    PAYMENT_ACTIVITY,
    RECOVERIES,
    REPAYMENTS,
    Access,
)
from jinqiao.apps.credit.records import RecordBody

MS_PER_DAY = 86_400_000
INQUIRY_WINDOW_MS = 183 * MS_PER_DAY
INQUIRY_PURPOSES = ("credit_card_approval", "loan_approval")
"""Inquiries are reads for a new credit decision; post-loan management and guarantee reviews are
not counted (as in credit bureaus' "hard" inquiries)."""

FEATURE_CATEGORIES: Mapping[str, tuple[str, ...]] = {
    "months_on_file": (LOANS, REPAYMENTS),
    "loans_opened_24m": (LOANS,),
    "late_repayments_12m": (REPAYMENTS,),
    "max_days_past_due_24m": (REPAYMENTS,),
    "on_time_pct_12m": (REPAYMENTS,),
    "unrecovered_defaults": (DEFAULTS, RECOVERIES),
    "payment_months_12m": (PAYMENT_ACTIVITY,),
    "chargebacks_12m": (PAYMENT_ACTIVITY,),
    "inquiries_6m": (INQUIRIES,),
}
FEATURES = tuple(FEATURE_CATEGORIES)

Features = dict[str, int | None]


def month_index(period: int) -> int:
    """``YYYYMM`` as a count of months since year 0."""
    return (period // 100) * 12 + period % 100 - 1


def period_of_time(time_ms: int) -> int:
    """The calendar month ``YYYYMM`` (UTC) of a Unix time in milliseconds."""
    days = time_ms // MS_PER_DAY + 719_468
    era = days // 146_097
    day_of_era = days - era * 146_097
    year_of_era = (
        day_of_era - day_of_era // 1_460 + day_of_era // 36_524 - day_of_era // 146_096
    ) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    shifted_month = (5 * day_of_year + 2) // 153
    month = shifted_month + 3 if shifted_month < 10 else shifted_month - 9
    year = year_of_era + era * 400 + (1 if month <= 2 else 0)
    return year * 100 + month


def categories_of(features: Iterable[str]) -> tuple[str, ...]:
    """The sorted categories needed to compute ``features``."""
    return tuple(sorted({category for name in features for category in FEATURE_CATEGORIES[name]}))


def compute_features(
    records: Sequence[RecordBody], accesses: Sequence[Access], as_of_ms: int
) -> Features:
    """Every feature of ``FEATURES`` as of ``as_of_ms``. ``accesses`` are the subject's access
    entries before the score's own; those of the 183 days up to ``as_of_ms`` count."""
    now = month_index(period_of_time(as_of_ms))

    def within(category: str, months: int) -> list[RecordBody]:
        return [
            r
            for r in records
            if r.category == category and 0 <= now - month_index(r.period) < months
        ]

    on_file = [
        month_index(r.period)
        for r in records
        if r.category in (LOANS, REPAYMENTS) and month_index(r.period) <= now
    ]
    repayments_12 = within(REPAYMENTS, 12)
    repayments_24 = within(REPAYMENTS, 24)
    activity_12 = within(PAYMENT_ACTIVITY, 12)
    on_time = sum(1 for r in repayments_12 if r.days_past_due == 0)
    return {
        "months_on_file": now - min(on_file) + 1 if on_file else None,
        "loans_opened_24m": len(within(LOANS, 24)),
        "late_repayments_12m": len(repayments_12) - on_time,
        "max_days_past_due_24m": (
            max(r.days_past_due for r in repayments_24) if repayments_24 else None
        ),
        "on_time_pct_12m": on_time * 100 // len(repayments_12) if repayments_12 else None,
        "unrecovered_defaults": _unrecovered_defaults(records, now),
        "payment_months_12m": len({r.period for r in activity_12}),
        "chargebacks_12m": sum(r.chargebacks for r in activity_12),
        "inquiries_6m": sum(
            1
            for a in accesses
            if a.purpose in INQUIRY_PURPOSES and 0 <= as_of_ms - a.time_ms < INQUIRY_WINDOW_MS
        ),
    }


def _unrecovered_defaults(records: Sequence[RecordBody], now: int) -> int:
    """Loans (by reference) in default whose recoveries do not cover what was owed."""
    owed: dict[str, int] = {}
    recovered: dict[str, int] = {}
    for r in records:
        if month_index(r.period) > now:
            continue
        if r.category == DEFAULTS:
            owed[r.reference] = owed.get(r.reference, 0) + r.amount_minor
        elif r.category == RECOVERIES:
            recovered[r.reference] = recovered.get(r.reference, 0) + r.amount_minor
    return sum(1 for reference, amount in owed.items() if recovered.get(reference, 0) < amount)
