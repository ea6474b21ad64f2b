"""Fee arithmetic: pure functions over integers, and the published Chinese schedule as an example.

The one rounding rule: a fee of ``rate_ppm`` millionths on ``amount_minor`` is the exact rational
``amount_minor * rate_ppm / 1_000_000`` rounded half up to a whole minor unit, computed with
integers only::

    rounded = (amount_minor * rate_ppm + 500_000) // 1_000_000

then raised to ``min_minor``, lowered to ``cap_minor`` (if any), and never more than the amount:
``min(max(rounded, min_minor), cap_minor, amount_minor)``. Amounts are non-negative, so "half up"
and "half away from zero" agree. Rates are parts per million rather than basis points because
published network fees need a hundredth of a basis point (0.0325% = 3.25 bp = 325 ppm).

Fees are computed once, when a payment is captured, with the schedule then in force; refunds,
chargebacks and representments move amounts only.
"""

from __future__ import annotations

from jinqiao.apps.payments.model import (
    ANY_MCC,
    CARD_TYPES,
    MAX_FEE_RULES,
    MCC,
    PPM,
    FeeRate,
    FeeRule,
    Fees,
)
from jinqiao.core.limits import MAX_AMOUNT_MINOR


def round_half_up_ppm(amount_minor: int, rate_ppm: int) -> int:
    """``amount_minor * rate_ppm / PPM`` rounded half up (both non-negative)."""
    return (amount_minor * rate_ppm + PPM // 2) // PPM


def rate_fee(amount_minor: int, rate: FeeRate) -> int:
    """The fee ``rate`` charges on ``amount_minor`` (see the module docstring)."""
    fee = max(round_half_up_ppm(amount_minor, rate.rate_ppm), rate.min_minor)
    if rate.cap_minor is not None:
        fee = min(fee, rate.cap_minor)
    return min(fee, amount_minor)


def compute_fees(amount_minor: int, rule: FeeRule) -> Fees:
    return Fees(
        issuer_fee_minor=rate_fee(amount_minor, rule.issuer_fee),
        issuer_network_fee_minor=rate_fee(amount_minor, rule.issuer_network_fee),
        acquirer_network_fee_minor=rate_fee(amount_minor, rule.acquirer_network_fee),
        acquirer_fee_minor=rate_fee(amount_minor, rule.acquirer_fee),
    )


def find_rule(rules: tuple[FeeRule, ...], card_type: str, mcc: str) -> FeeRule | None:
    """The rule of (``card_type``, ``mcc``), else the card type's ``"*"`` rule, else ``None``."""
    fallback = None
    for rule in rules:
        if rule.card_type == card_type:
            if rule.mcc == mcc:
                return rule
            if rule.mcc == ANY_MCC:
                fallback = rule
    return fallback


def rate_problem(rate: FeeRate) -> str | None:
    if not 0 <= rate.rate_ppm <= PPM:
        return f"rate_ppm must be 0..{PPM}"
    if not 0 <= rate.min_minor <= MAX_AMOUNT_MINOR:
        return f"min_minor must be 0..{MAX_AMOUNT_MINOR}"
    if rate.cap_minor is not None and not rate.min_minor <= rate.cap_minor <= MAX_AMOUNT_MINOR:
        return f"cap_minor must be min_minor..{MAX_AMOUNT_MINOR}"
    return None


def rules_problem(rules: tuple[FeeRule, ...]) -> str | None:
    """What is wrong with a schedule's rules, or ``None``: at most ``MAX_FEE_RULES``, known card
    types, ``mcc`` four digits or ``"*"``, sound rates, strictly sorted by (card type, mcc)."""
    if len(rules) > MAX_FEE_RULES:
        return f"at most {MAX_FEE_RULES} rules"
    previous: tuple[str, str] | None = None
    for index, rule in enumerate(rules):
        where = f"rule {index}"
        if rule.card_type not in CARD_TYPES:
            return f"{where}: card_type must be one of {list(CARD_TYPES)}"
        if rule.mcc != ANY_MCC and not MCC.fullmatch(rule.mcc):
            return f"{where}: mcc must be four digits or '*'"
        for name, rate in (
            ("issuer_fee", rule.issuer_fee),
            ("issuer_network_fee", rule.issuer_network_fee),
            ("acquirer_network_fee", rule.acquirer_network_fee),
            ("acquirer_fee", rule.acquirer_fee),
        ):
            problem = rate_problem(rate)
            if problem is not None:
                return f"{where} {name}: {problem}"
        key = (rule.card_type, rule.mcc)
        if previous is not None and key <= previous:
            return f"{where}: rules must be sorted by (card_type, mcc), each pair once"
        previous = key
    return None


# -- the published Chinese schedule --------------------------------------------------------------

CNY_FEN_PER_YUAN = 100
NON_PROFIT_MCCS = ("8062", "8211", "8398")
"""Hospitals, schools and charities: exempt from the issuer and network fees under the 2016
reform (NDRC and PBOC notice 发改价格[2016]557号); an example of per-category rules."""


def china_2016_rules(acquirer_fee: FeeRate | None = None) -> tuple[FeeRule, ...]:
    """The bank card fees of the 2016 Chinese reform, in fen: issuer fee (interchange) 0.35% of
    a debit card payment, capped at RMB 13, and 0.45% of a credit card payment, uncapped; network
    fee 0.0325% from each side, capped at RMB 3.25 per side. The acquirer's own fee to its
    merchant is market-priced and left to the caller (default: none). Non-profit categories pay
    no issuer or network fee."""
    own = acquirer_fee or FeeRate(0)
    network = FeeRate(325, cap_minor=325)
    free = FeeRate(0)
    debit = FeeRate(3_500, cap_minor=13 * CNY_FEN_PER_YUAN)
    credit = FeeRate(4_500)
    rules = []
    for card_type, issuer in (("credit", credit), ("debit", debit)):
        rules.append(FeeRule(card_type, ANY_MCC, issuer, network, network, own))
        rules.extend(FeeRule(card_type, mcc, free, free, free, own) for mcc in NON_PROFIT_MCCS)
    return tuple(sorted(rules, key=lambda rule: (rule.card_type, rule.mcc)))
