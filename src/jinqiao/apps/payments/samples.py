"""A small payments network that tools start from (the benchmarks, the simulator): institutions
that are each card issuer and acquirer, one merchant per acquirer (MCC 5411), the published Chinese
fee schedule in CNY, and point-of-sale authorizations."""

from __future__ import annotations

from typing import Any

from jinqiao.apps.payments.config import china_2016_config_rules
from jinqiao.apps.payments.model import AuthorizeArgs

CURRENCY = "CNY"
CLEARING = "clearing"
MCC = "5411"
MERCHANT = "M1"
INSTITUTION_ROLES = ("acquirer", "card_issuer")
CLEARING_ROLES = ("clearing_house", "settlement_agent")


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
