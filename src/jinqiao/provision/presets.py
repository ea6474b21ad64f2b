"""Ready-made network specifications for ``jinqiao init --preset``.

``demo``: the founding consortium of the demo — a card clearing network that also runs the
digital-currency desk, an e-commerce finance company, two banks and a regulator — with the CNY
token (scale 2: amounts in fen) and two wallet tiers. For payments the clearing network is
registered at genesis as clearing house and settlement agent (its treasury is its settlement
account) with the published Chinese bank-card fee schedule for CNY. The banks and the e-commerce
finance company (a wallet provider too) may each act as card issuer and acquirer, through their
treasury or settlement account, once the clearing house registers them
(``jinqiao payments register-institution``). For credit (docs/credit.md) the banks and the
e-commerce finance company each have a ``credit_member`` account (``bank-a-credit``,
``bank-b-credit``, ``ecfin-credit``). For the consortium loan example (docs/contracts.md) bank-a's
treasury holds the role ``lender`` the loan's manifest asks of whoever originates a loan.
"""

from __future__ import annotations

from jinqiao.apps.payments.config import china_2016_config_rules
from jinqiao.core.crypto import DEFAULT_SUITE
from jinqiao.provision.network import AccountSpec, NetworkSpec, OrganizationSpec

CNY = "CNY"
INSTITUTION_TIER = "institution"
RETAIL_TIER = "retail"
INSTITUTION = ({"asset": CNY, "tier": INSTITUTION_TIER},)


P2P_PORT_OFFSET = 100
"""A demo or ``jinqiao init`` network's node listens for peers this far above its API port."""


def demo_spec(
    *,
    chain_id: str = "jinqiao-demo",
    validators: int = 1,
    base_api_port: int = 8600,
    crypto_suite: str = DEFAULT_SUITE,
) -> NetworkSpec:
    """The demo consortium. ``validators`` are spread over the founding organizations."""
    founders = ["clearing", "ecfin", "bank-a", "bank-b", "regulator"]
    per_org = {org: 0 for org in founders}
    for index in range(validators):
        per_org[founders[index % len(founders)]] += 1
    return NetworkSpec(
        chain_id=chain_id,
        base_api_port=base_api_port,
        crypto_suite=crypto_suite,
        base_p2p_port=base_api_port + P2P_PORT_OFFSET
        if base_api_port + P2P_PORT_OFFSET + validators <= 65_535
        else base_api_port - P2P_PORT_OFFSET - validators,
        organizations=(
            OrganizationSpec(
                id="clearing",
                name="Golden Bridge Clearing",
                roles=("clearing_house", "settlement_agent", "currency_issuer"),
                validators=per_org["clearing"],
                accounts=(
                    AccountSpec("clearing-admin", ("admin",)),
                    AccountSpec(
                        "clearing-treasury",
                        ("clearing_house", "currency_issuer", "settlement_agent"),
                        INSTITUTION,
                        payments_institution={"roles": ["clearing_house", "settlement_agent"]},
                    ),
                ),
            ),
            OrganizationSpec(
                id="ecfin",
                name="E-Commerce Finance Co.",
                roles=("acquirer", "card_issuer", "credit_member", "payment_company"),
                validators=per_org["ecfin"],
                accounts=(
                    AccountSpec("ecfin-admin", ("admin",)),
                    AccountSpec("ecfin-settlement", ("acquirer", "card_issuer"), INSTITUTION),
                    AccountSpec("ecfin-credit", ("credit_member",)),
                ),
            ),
            OrganizationSpec(
                id="bank-a",
                name="Bank A",
                roles=("acquirer", "bank", "card_issuer", "credit_member", "lender"),
                validators=per_org["bank-a"],
                accounts=(
                    AccountSpec("bank-a-admin", ("admin",)),
                    AccountSpec(
                        "bank-a-treasury",
                        ("acquirer", "bank", "card_issuer", "lender"),
                        INSTITUTION,
                    ),
                    AccountSpec("bank-a-credit", ("credit_member",)),
                ),
            ),
            OrganizationSpec(
                id="bank-b",
                name="Bank B",
                roles=("acquirer", "bank", "card_issuer", "credit_member"),
                validators=per_org["bank-b"],
                accounts=(
                    AccountSpec("bank-b-admin", ("admin",)),
                    AccountSpec(
                        "bank-b-treasury", ("acquirer", "bank", "card_issuer"), INSTITUTION
                    ),
                    AccountSpec("bank-b-credit", ("credit_member",)),
                ),
            ),
            OrganizationSpec(
                id="regulator",
                name="Financial Regulator",
                roles=("regulator",),
                validators=per_org["regulator"],
                accounts=(AccountSpec("regulator-admin", ("admin", "regulator")),),
            ),
        ),
        contracts={
            "token": {
                "tiers": {
                    INSTITUTION_TIER: {
                        "max_balance_minor": 10**15,
                        "max_payment_minor": 10**13,
                        "daily_limit_minor": 10**14,
                    },
                    # A lightly verified personal wallet: at most CNY 10,000 held, CNY 2,000
                    # per payment and CNY 5,000 a day.
                    RETAIL_TIER: {
                        "max_balance_minor": 1_000_000,
                        "max_payment_minor": 200_000,
                        "daily_limit_minor": 500_000,
                    },
                },
                "assets": [
                    {
                        "symbol": CNY,
                        "name": "Digital yuan (demo)",
                        "scale": 2,
                        "issuer": "clearing",
                        "default_tier": RETAIL_TIER,
                    }
                ],
                "holdings": [],
            },
            "payments": {
                "fee_schedules": [{"currency": CNY, "rules": china_2016_config_rules()}],
            },
        },
    )
