"""The payments that ``bench payments`` records, in-process and on the network: institutions that
are each card issuer and acquirer, one merchant per acquirer (MCC 5411), the published Chinese fee
schedule, and random payments with their authorizations."""

from __future__ import annotations

import random
from collections.abc import Iterator

from jinqiao.apps.payments.samples import (
    CLEARING,
    CLEARING_ROLES,
    CURRENCY,
    INSTITUTION_ROLES,
    MCC,
    MERCHANT,
    authorization,
    payments_contract_config,
)


def institution_ids(count: int) -> list[str]:
    return [f"inst-{number:02d}" for number in range(count)]


def random_payments(
    count: int, institutions: list[str], rng: random.Random
) -> Iterator[tuple[str, str, int, str]]:
    """(issuer, acquirer, amount in fen, card type) of ``count`` payments."""
    for _ in range(count):
        yield (
            rng.choice(institutions),
            rng.choice(institutions),
            rng.randint(100, 200_000),
            "credit" if rng.random() < 0.3 else "debit",
        )


__all__ = [
    "CLEARING",
    "CLEARING_ROLES",
    "CURRENCY",
    "INSTITUTION_ROLES",
    "MCC",
    "MERCHANT",
    "authorization",
    "institution_ids",
    "payments_contract_config",
    "random_payments",
]
