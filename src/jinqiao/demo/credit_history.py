"""A seeded, **synthetic** behaviour history for the credit demo and benchmark: subjects with a
hidden risk, their loans, repayments (some late), defaults, recoveries and card-payment activity
as ``RecordBody``s, and whether they later went bad.

German Credit (the default training file) describes loan applications, not behaviour on a
ledger, so a model trained on it cannot be applied to the chain's features (docs/adr/0021). A
member training on its own history exports the chain's features and outcomes; the demo and
benchmark have no such history, so they make one here: the training rows are the chain's own
features, computed from these records by ``apps.credit.features.compute_features`` (the code
that scores on chain), and the outcome is drawn from the hidden risk. It is labelled synthetic
wherever it is used.
"""

from __future__ import annotations

import csv
import math
import random
from pathlib import Path

from jinqiao.apps.credit.features import compute_features, month_index
from jinqiao.apps.credit.model import DEFAULTS, LOANS, PAYMENT_ACTIVITY, RECOVERIES, REPAYMENTS
from jinqiao.apps.credit.records import RecordBody

TRAINING_FEATURES = (
    "months_on_file",
    "loans_opened_24m",
    "late_repayments_12m",
    "max_days_past_due_24m",
    "on_time_pct_12m",
    "unrecovered_defaults",
    "payment_months_12m",
    "chargebacks_12m",
)
"""Every subject of the history has loans and repayments, so none of these is ever none; the
inquiry count is left out (it needs an access log, which the history does not simulate)."""
TARGET = "bad"
ACTIVITY_REFERENCE = "0" * 64


def _period(month: int) -> int:
    """``YYYYMM`` of a count of months since year 0 (``features.month_index`` inverted)."""
    return (month // 12) * 100 + month % 12 + 1


def subject_history(
    generator: random.Random, subject: bytes, as_of_period: int, risk: float
) -> list[RecordBody]:
    """Records of one subject up to ``as_of_period``; ``risk`` in 0..1 makes late repayments,
    defaults and chargebacks likelier and card use rarer."""
    now = month_index(as_of_period)
    first = now - generator.randint(3, 60)
    records: list[RecordBody] = []
    loans = 1 + int(generator.random() * 3 * (0.5 + risk))
    for number in range(loans):
        opened = generator.randint(first, now)
        reference = f"L{number + 1}"
        principal = generator.randint(5, 200) * 100_000
        records.append(RecordBody(subject, LOANS, _period(opened), reference, principal, 0, 0, 0))
        for month in range(opened + 1, min(now, opened + 24) + 1):
            late = generator.random() < 0.03 + 0.35 * risk**2
            days = generator.choice((5, 15, 35, 65, 95)) if late else 0
            records.append(
                RecordBody(
                    subject, REPAYMENTS, _period(month), reference, principal // 24, days, 0, 0
                )
            )
        if generator.random() < 0.4 * risk**2 and opened < now:
            owed = principal // 2
            records.append(RecordBody(subject, DEFAULTS, _period(now), reference, owed, 0, 0, 0))
            if generator.random() < 0.3:
                records.append(
                    RecordBody(subject, RECOVERIES, _period(now), reference, owed, 0, 0, 0)
                )
    if not any(r.category == REPAYMENTS for r in records):
        records.append(RecordBody(subject, REPAYMENTS, _period(now), "L1", 100_000, 0, 0, 0))
    for month in range(now - 11, now + 1):
        if generator.random() < 0.85 - 0.6 * risk:
            count = generator.randint(1, 40)
            chargebacks = sum(1 for _ in range(count) if generator.random() < 0.02 * risk)
            amount = count * generator.randint(50, 800) * 100
            records.append(
                RecordBody(
                    subject,
                    PAYMENT_ACTIVITY,
                    _period(month),
                    ACTIVITY_REFERENCE,
                    amount,
                    0,
                    count,
                    chargebacks,
                )
            )
    return records


def training_rows(count: int, seed: int, as_of_ms: int) -> list[dict[str, int]]:
    """``count`` subjects' features as of ``as_of_ms`` (by the chain's own feature code) and
    their outcome (``bad`` 1 or 0), drawn from each subject's hidden risk."""
    from jinqiao.apps.credit.features import period_of_time

    generator = random.Random(seed)
    rows = []
    for number in range(count):
        risk = generator.random()
        subject = number.to_bytes(32, "big")
        records = subject_history(generator, subject, period_of_time(as_of_ms), risk)
        features = compute_features(records, [], as_of_ms)
        odds = math.exp(-2.8 + 3.5 * risk + generator.gauss(0, 0.6))
        row = {name: int(features[name] or 0) for name in TRAINING_FEATURES}
        row[TARGET] = int(generator.random() < odds / (1 + odds))
        rows.append(row)
    return rows


def write_training_csv(path: Path, count: int, seed: int, as_of_ms: int) -> Path:
    rows = training_rows(count, seed, as_of_ms)
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, [*TRAINING_FEATURES, TARGET])
        writer.writeheader()
        writer.writerows(rows)
    return path


__all__ = ["TARGET", "subject_history", "training_rows", "write_training_csv"]
