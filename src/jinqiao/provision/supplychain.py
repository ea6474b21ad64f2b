"""A supply chain added to a network specification (the demo's, or a test's): the GS1 member
organization, a brand owner that is also the core enterprise of its suppliers, a distributor, a
retailer, three tiers of suppliers, and a bank (``bank-a``) allowed to fund receivables.

=============  =====================  ==============================================================
organization   roles it may grant     accounts (roles)
=============  =====================  ==============================================================
gs1-china      gs1_registrar          gs1-registrar (gs1_registrar)
brand          core_enterprise        brand-ops, brand-treasury (core_enterprise; CNY)
distributor    core_enterprise        distributor-ops, distributor-treasury (core_enterprise; CNY)
retailer       —                      retailer-ops
tier1..tier3   —                      tier1-ops, tier2-ops, tier3-ops (CNY institution)
bank-a         + funder               bank-a-funder (funder; CNY institution)
=============  =====================  ==============================================================

The brand's GS1 company prefix ``BRAND_PREFIX`` is registered to it at genesis.
"""

from __future__ import annotations

import msgspec

from jinqiao.apps.supplychain.model import CORE_ENTERPRISE_ROLE, FUNDER_ROLE, SUPPLYCHAIN
from jinqiao.provision.network import AccountSpec, NetworkSpec, OrganizationSpec

BRAND_PREFIX = "6901234"
FUNDING_BANK = "bank-a"
INSTITUTION_HOLDING = ({"asset": "CNY", "tier": "institution"},)


def supply_chain_organizations() -> tuple[OrganizationSpec, ...]:
    def ops(org: str, *roles: str, funds: bool = False) -> AccountSpec:
        return AccountSpec(f"{org}-ops", ("admin", *roles), INSTITUTION_HOLDING if funds else ())

    return (
        OrganizationSpec(
            "gs1-china",
            "GS1 China",
            ("gs1_registrar",),
            accounts=(AccountSpec("gs1-registrar", ("admin", "gs1_registrar")),),
        ),
        OrganizationSpec(
            "brand",
            "Jade Mountain Tea (brand owner, core enterprise)",
            (CORE_ENTERPRISE_ROLE,),
            accounts=(
                ops("brand"),
                AccountSpec("brand-treasury", (CORE_ENTERPRISE_ROLE,), INSTITUTION_HOLDING),
            ),
        ),
        OrganizationSpec(
            "distributor",
            "Yangtze Distribution",
            (CORE_ENTERPRISE_ROLE,),
            accounts=(
                ops("distributor"),
                AccountSpec("distributor-treasury", (CORE_ENTERPRISE_ROLE,), INSTITUTION_HOLDING),
            ),
        ),
        OrganizationSpec("retailer", "Harbour Retail", accounts=(ops("retailer"),)),
        OrganizationSpec(
            "tier1", "Tier-1 packaging supplier", accounts=(ops("tier1", funds=True),)
        ),
        OrganizationSpec("tier2", "Tier-2 print shop", accounts=(ops("tier2", funds=True),)),
        OrganizationSpec("tier3", "Tier-3 paper mill", accounts=(ops("tier3", funds=True),)),
    )


def with_supply_chain(spec: NetworkSpec) -> NetworkSpec:
    """``spec`` with the supply chain's organizations, ``FUNDING_BANK`` allowed the ``funder``
    role (account ``bank-a-funder``), and the brand's company prefix at genesis."""
    organizations = []
    for organization in spec.organizations:
        if organization.id == FUNDING_BANK:
            funder = AccountSpec(f"{FUNDING_BANK}-funder", (FUNDER_ROLE,), INSTITUTION_HOLDING)
            organization = msgspec.structs.replace(
                organization,
                roles=(*organization.roles, FUNDER_ROLE),
                accounts=(*organization.accounts, funder),
            )
        organizations.append(organization)
    contracts = {
        **spec.contracts,
        SUPPLYCHAIN: {"company_prefixes": [{"prefix": BRAND_PREFIX, "organization": "brand"}]},
    }
    return msgspec.structs.replace(
        spec,
        organizations=(*organizations, *supply_chain_organizations()),
        contracts=contracts,
    )


__all__ = ["BRAND_PREFIX", "FUNDING_BANK", "supply_chain_organizations", "with_supply_chain"]
