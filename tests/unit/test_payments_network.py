"""The payments network's genesis configuration (``tests/helpers/payments_network.py`` builds
the network the payments tests share)."""

from __future__ import annotations

from typing import Any

import pytest

from jinqiao.apps.payments import PAYMENTS
from jinqiao.apps.payments.model import (
    CurrencyArgs,
    Institution,
    InstitutionArgs,
    Merchant,
    MerchantArgs,
)
from jinqiao.core.codec import CanonicalStruct
from jinqiao.core.errors import InvalidInput
from jinqiao.core.limits import MAX_AMOUNT_MINOR
from tests.helpers.chain import signer_for
from tests.helpers.payments_network import (
    CLEARING,
    CNY,
    DEFAULT,
    make_network,
    network_genesis_parts,
    treasury,
)

# -- tests of the genesis configuration ------------------------------------------------------


def test_genesis_registers_institutions_merchants_and_the_fee_schedule() -> None:
    chain = make_network()
    bank_a: Institution = chain.query(PAYMENTS, "institution", InstitutionArgs("bank-a"))
    assert bank_a.roles == ("acquirer", "card_issuer")
    assert bank_a.settlement_account == chain.address(treasury("bank-a"))
    assert bank_a.active and bank_a.pending_cycles == 0 and bank_a.net_debit_cap_minor is None
    clearing = chain.query(PAYMENTS, "institution", InstitutionArgs(CLEARING))
    assert clearing.roles == ("clearing_house", "settlement_agent")
    shop: Merchant = chain.query(PAYMENTS, "merchant", MerchantArgs("ecfin", "ecfin-m1"))
    assert shop.mcc == "5812"
    schedule = chain.query(PAYMENTS, "fee_schedule", _currency())
    assert (schedule.version, len(schedule.rules)) == (1, 8)


def _currency() -> CanonicalStruct:
    return CurrencyArgs(CNY)


def test_a_network_without_payments_configuration_starts_empty() -> None:
    chain = make_network(payments={})
    assert not [key for key in chain.state if key.startswith(b"payments/")]


def _config(**changes: Any) -> dict[str, Any]:
    _, _, contracts = network_genesis_parts(DEFAULT)
    config: dict[str, Any] = contracts[PAYMENTS]
    for path, value in changes.items():
        section, index, field = path.split("__")
        config[section][int(index)][field] = value
    return config


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"institutions__1__id": "nobody"}, "not a genesis organization"),
        ({"institutions__1__roles": ["card_issuer", "card_issuer"]}, "roles must be distinct"),
        ({"institutions__1__roles": ["bank"]}, "roles must be distinct"),
        ({"institutions__2__roles": ["clearing_house"]}, "may not hold"),
        ({"institutions__1__settlement_account": "zz"}, "not hex"),
        ({"institutions__1__settlement_account": signer_for("x").address.hex()}, "not an account"),
        ({"institutions__1__net_debit_cap_minor": -1}, "net_debit_cap_minor"),
        ({"institutions__1__net_debit_cap_minor": MAX_AMOUNT_MINOR + 1}, "net_debit_cap_minor"),
        ({"merchants__0__acquirer": "bank-b"}, "not a configured acquirer"),
        ({"merchants__0__merchant_id": "a/b"}, "merchant_id"),
        ({"merchants__0__name": ""}, "name"),
        ({"merchants__0__mcc": "58"}, "mcc"),
        ({"fee_schedules__0__currency": "USD"}, "not a token asset"),
        ({"fee_schedules__0__rules": []}, None),
    ],
)
def test_genesis_configuration_is_checked(changes: dict[str, Any], message: str | None) -> None:
    config = _config(**changes)
    if message is None:  # an empty schedule is allowed (captures are then refused no_fee_rule)
        make_network(payments=config)
        return
    with pytest.raises(InvalidInput, match=message):
        make_network(payments=config)


def test_genesis_refuses_duplicates_bad_rules_and_unknown_fields() -> None:
    config = _config()
    config["institutions"].append(dict(config["institutions"][1]))
    with pytest.raises(InvalidInput, match="twice"):
        make_network(payments=config)
    config = _config()
    config["merchants"].append(dict(config["merchants"][0]))
    with pytest.raises(InvalidInput, match="twice"):
        make_network(payments=config)
    config = _config()
    config["fee_schedules"].append(dict(config["fee_schedules"][0]))
    with pytest.raises(InvalidInput, match="twice"):
        make_network(payments=config)
    config = _config()
    config["fee_schedules"][0]["rules"].reverse()
    with pytest.raises(InvalidInput, match="sorted"):
        make_network(payments=config)
    config = _config()
    config["fee_schedules"][0]["rules"][0]["issuer_fee"]["rate_ppm"] = 1_000_001
    with pytest.raises(InvalidInput, match="rate_ppm"):
        make_network(payments=config)
    with pytest.raises(InvalidInput, match="unknown field"):
        make_network(payments={"surprise": 1})
