"""The payments contract's genesis configuration, ``genesis.contracts["payments"]`` (JSON)::

    {"institutions": [
        {"id": "clearing", "roles": ["clearing_house", "settlement_agent"],
         "settlement_account": "<hex address>", "net_debit_cap_minor": null},
        {"id": "bank-a", "roles": ["card_issuer"], "settlement_account": "…",
         "net_debit_cap_minor": 500000000}],
     "merchants": [{"acquirer": "ecfin", "merchant_id": "M0001", "name": "Tea House",
                    "mcc": "5812"}],
     "fee_schedules": [{"currency": "CNY", "rules": [
        {"card_type": "debit", "mcc": "*",
         "issuer_fee": {"rate_ppm": 3500, "cap_minor": 1300},
         "issuer_network_fee": {"rate_ppm": 325, "cap_minor": 325},
         "acquirer_network_fee": {"rate_ppm": 325, "cap_minor": 325}}]}]}

Every part is optional: institutions and merchants may be registered later (by the clearing
house and by acquirers), fee schedules set through governance. ``china_2016_config_rules`` gives
the published Chinese schedule in this form.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from jinqiao.apps.payments.fees import china_2016_rules, rules_problem
from jinqiao.apps.payments.model import (
    ACQUIRER_ROLE,
    MCC,
    PAYMENT_ROLES,
    REFERENCE,
    FeeRate,
    FeeRule,
    FeeSchedule,
    Institution,
    Merchant,
)
from jinqiao.apps.token import TOKEN, load_token_config
from jinqiao.core.errors import InvalidInput
from jinqiao.core.genesis import Genesis
from jinqiao.core.limits import MAX_AMOUNT_MINOR
from jinqiao.core.names import check_name


class _ConfigStruct(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    pass


class InstitutionConfig(_ConfigStruct, frozen=True):
    id: str
    roles: tuple[str, ...]
    settlement_account: str
    net_debit_cap_minor: int | None = None
    active: bool = True


class MerchantConfig(_ConfigStruct, frozen=True):
    acquirer: str
    merchant_id: str
    name: str
    mcc: str


class FeeRateConfig(_ConfigStruct, frozen=True):
    rate_ppm: int
    min_minor: int = 0
    cap_minor: int | None = None


class FeeRuleConfig(_ConfigStruct, frozen=True):
    card_type: str
    issuer_fee: FeeRateConfig
    issuer_network_fee: FeeRateConfig
    acquirer_network_fee: FeeRateConfig
    acquirer_fee: FeeRateConfig | None = None
    mcc: str = "*"


class FeeScheduleConfig(_ConfigStruct, frozen=True):
    currency: str
    rules: tuple[FeeRuleConfig, ...]


class PaymentsConfig(_ConfigStruct, frozen=True):
    institutions: tuple[InstitutionConfig, ...] = ()
    merchants: tuple[MerchantConfig, ...] = ()
    fee_schedules: tuple[FeeScheduleConfig, ...] = ()


class GenesisRecords(msgspec.Struct, frozen=True):
    institutions: tuple[Institution, ...]
    merchants: tuple[Merchant, ...]
    fee_schedules: tuple[FeeSchedule, ...]


def load_payments_config(config: Mapping[str, Any]) -> PaymentsConfig:
    try:
        return msgspec.convert(config, PaymentsConfig, strict=True)
    except msgspec.ValidationError as error:
        raise InvalidInput(f"payments genesis configuration: {error}") from None


def genesis_records(genesis: Genesis, config: PaymentsConfig) -> GenesisRecords:
    """The records genesis writes, each checked as the methods that register them would."""
    institutions = _institutions(genesis, config)
    return GenesisRecords(
        tuple(institutions[key] for key in sorted(institutions)),
        _merchants(config, institutions),
        _fee_schedules(genesis, config),
    )


def _institutions(genesis: Genesis, config: PaymentsConfig) -> dict[str, Institution]:
    organizations = {organization.id: organization for organization in genesis.organizations}
    suite = genesis.suite
    account_organization = {
        suite.address(bytes.fromhex(account.public_key)): account.organization
        for account in genesis.accounts
    }
    institutions: dict[str, Institution] = {}
    for entry in config.institutions:
        where = f"payments institution {entry.id!r}"
        organization = organizations.get(entry.id)
        if organization is None:
            raise InvalidInput(f"{where}: not a genesis organization")
        if entry.id in institutions:
            raise InvalidInput(f"{where}: appears twice")
        roles = tuple(sorted(set(entry.roles)))
        if not roles or len(roles) != len(entry.roles) or not set(roles) <= set(PAYMENT_ROLES):
            raise InvalidInput(f"{where}: roles must be distinct, from {list(PAYMENT_ROLES)}")
        missing = set(roles) - set(organization.roles)
        if missing:
            raise InvalidInput(f"{where}: the organization may not hold roles {sorted(missing)}")
        try:
            account = bytes.fromhex(entry.settlement_account)
        except ValueError:
            raise InvalidInput(f"{where}: settlement_account is not hex") from None
        if account_organization.get(account) != entry.id:
            raise InvalidInput(f"{where}: settlement_account is not an account of {entry.id}")
        cap = entry.net_debit_cap_minor
        if cap is not None and not 0 <= cap <= MAX_AMOUNT_MINOR:
            raise InvalidInput(f"{where}: net_debit_cap_minor must be 0..{MAX_AMOUNT_MINOR}")
        institutions[entry.id] = Institution(entry.id, roles, account, cap, entry.active, 0)
    return institutions


def _merchants(
    config: PaymentsConfig, institutions: Mapping[str, Institution]
) -> tuple[Merchant, ...]:
    merchants: dict[tuple[str, str], Merchant] = {}
    for entry in config.merchants:
        where = f"payments merchant {entry.merchant_id!r} of {entry.acquirer!r}"
        acquirer = institutions.get(entry.acquirer)
        if acquirer is None or ACQUIRER_ROLE not in acquirer.roles:
            raise InvalidInput(f"{where}: not a configured acquirer")
        if not REFERENCE.fullmatch(entry.merchant_id):
            raise InvalidInput(f"{where}: merchant_id is 1..64 letters, digits or '_.:-'")
        check_name(entry.name, f"{where}: name")
        if not MCC.fullmatch(entry.mcc):
            raise InvalidInput(f"{where}: mcc must be four digits")
        if (entry.acquirer, entry.merchant_id) in merchants:
            raise InvalidInput(f"{where}: appears twice")
        merchants[(entry.acquirer, entry.merchant_id)] = Merchant(
            entry.acquirer, entry.merchant_id, entry.name, entry.mcc
        )
    return tuple(merchants[key] for key in sorted(merchants))


def _fee_schedules(genesis: Genesis, config: PaymentsConfig) -> tuple[FeeSchedule, ...]:
    assets = {asset.symbol for asset in load_token_config(genesis.contracts.get(TOKEN, {})).assets}
    schedules: dict[str, FeeSchedule] = {}
    for entry in config.fee_schedules:
        where = f"payments fee schedule of {entry.currency!r}"
        if entry.currency not in assets:
            raise InvalidInput(f"{where}: not a token asset")
        if entry.currency in schedules:
            raise InvalidInput(f"{where}: appears twice")
        rules = tuple(_rule(rule) for rule in entry.rules)
        problem = rules_problem(rules)
        if problem is not None:
            raise InvalidInput(f"{where}: {problem}")
        schedules[entry.currency] = FeeSchedule(entry.currency, 1, rules)
    return tuple(schedules[key] for key in sorted(schedules))


def load_fee_schedule(document: bytes) -> tuple[str, tuple[FeeRule, ...]]:
    """A fee schedule proposed to governance, given as JSON in the genesis form
    (``{"currency": "CNY", "rules": [...]}``): its currency and rules, or ``InvalidInput``. The
    contract checks the rules again when the proposal executes."""
    try:
        entry = msgspec.json.decode(document, type=FeeScheduleConfig)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise InvalidInput(f"fee schedule: {exc}") from None
    rules = tuple(_rule(rule) for rule in entry.rules)
    problem = rules_problem(rules)
    if problem is not None:
        raise InvalidInput(f"fee schedule of {entry.currency!r}: {problem}")
    return entry.currency, rules


def _rate(config: FeeRateConfig | None) -> FeeRate:
    if config is None:
        return FeeRate(0)
    return FeeRate(config.rate_ppm, config.min_minor, config.cap_minor)


def _rule(config: FeeRuleConfig) -> FeeRule:
    return FeeRule(
        config.card_type,
        config.mcc,
        _rate(config.issuer_fee),
        _rate(config.issuer_network_fee),
        _rate(config.acquirer_network_fee),
        _rate(config.acquirer_fee),
    )


def _rate_json(rate: FeeRate) -> dict[str, Any]:
    return {"rate_ppm": rate.rate_ppm, "min_minor": rate.min_minor, "cap_minor": rate.cap_minor}


def china_2016_config_rules() -> list[dict[str, Any]]:
    """``china_2016_rules()`` as the ``rules`` of a genesis fee schedule (JSON-ready)."""
    return [
        {
            "card_type": rule.card_type,
            "mcc": rule.mcc,
            "issuer_fee": _rate_json(rule.issuer_fee),
            "issuer_network_fee": _rate_json(rule.issuer_network_fee),
            "acquirer_network_fee": _rate_json(rule.acquirer_network_fee),
            "acquirer_fee": _rate_json(rule.acquirer_fee),
        }
        for rule in china_2016_rules()
    ]
