"""The payments that ``bench payments`` records, in-process and on the network: institutions that
are each card issuer and acquirer, one merchant per acquirer (MCC 5411), the published Chinese fee
schedule, and random payments with their authorizations."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from jinqiao.apps.payments.config import china_2016_config_rules
from jinqiao.apps.payments.model import AuthorizeArgs

CURRENCY = "CNY"
CLEARING = "clearing"
MCC = "5411"
MERCHANT = "M1"
INSTITUTION_ROLES = ("acquirer", "card_issuer")
CLEARING_ROLES = ("clearing_house", "settlement_agent")


def institution_ids(count: int) -> list[str]:
    return [f"inst-{number:02d}" for number in range(count)]


def payments_contract_config(acquirers: list[str]) -> dict[str, Any]:
    """The payments contract's genesis configuration without its institutions: one merchant per
    acquirer and the fee schedule of ``CURRENCY``."""
    return {
        "merchants": [
            {"acquirer": acquirer, "merchant_id": MERCHANT, "name": "Bench Shop", "mcc": MCC}
            for acquirer in acquirers
        ],
        "fee_schedules": [{"currency": CURRENCY, "rules": china_2016_config_rules()}],
    }


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


def authorization(
    payment_id: str, issuer: str, acquirer: str, amount_minor: int, card_type: str
) -> AuthorizeArgs:
    """The issuer's authorization of a point-of-sale payment at the acquirer's merchant."""
    return AuthorizeArgs(
        payment_id,
        issuer,
        acquirer,
        MERCHANT,
        bytes(32),
        amount_minor,
        CURRENCY,
        "pos",
        card_type,
        "A1B2C3",
        0,
    )
