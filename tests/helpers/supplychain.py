"""A consortium for supply chain tests, on the real runtime with the default contracts.

=============  ==========================  =================================================
organization   roles it may grant          accounts (roles)
=============  ==========================  =================================================
central-bank   currency_issuer             issuer (currency_issuer)
gs1-china      gs1_registrar               registrar (gs1_registrar)
brand          core_enterprise             brand-ops, brand-treasury (core_enterprise)
distributor    core_enterprise             distributor-ops, distributor-treasury (c._e.)
retailer       —                           retailer-ops
tier1, tier3   —                           <org>-ops
tier2          funder                      tier2-ops (funder)
bank           funder                      bank-ops (funder)
regulator      regulator                   inspector (regulator)
=============  ==========================  =================================================

Company prefix ``6901234`` is the brand's at genesis (GTIN ``06901234000016`` and its SGTINs,
SSCCs ``0690123400000000x``). Token balances: the brand's treasury and the bank start with
``FUNDS`` fen each; both have approved the supply chain contract for all of it.
"""

from __future__ import annotations

from biip.checksums import gs1_standard_check_digit

from jinqiao.apps.supplychain.model import SUPPLYCHAIN, EventFields
from jinqiao.apps.token import TOKEN, ApproveArgs
from jinqiao.core.genesis import GenesisOrganization
from jinqiao.execution.contract import contract_address
from tests.helpers.chain import BASIC_TIER, INSTITUTION_TIER, AccountSpec, Chain, make_genesis
from tests.helpers.chain import token_config as base_token_config

FUNDS = 10**12
BRAND_PREFIX = "6901234"
GTIN = "06901234000016"

ORGANIZATIONS = (
    GenesisOrganization("central-bank", "Central Bank", ("currency_issuer",)),
    GenesisOrganization("gs1-china", "GS1 China", ("gs1_registrar",)),
    GenesisOrganization("brand", "Brand Owner", ("core_enterprise",)),
    GenesisOrganization("distributor", "Distributor", ("core_enterprise",)),
    GenesisOrganization("retailer", "Retailer", ()),
    GenesisOrganization("tier1", "Tier 1", ()),
    GenesisOrganization("tier2", "Tier 2", ("funder",)),
    GenesisOrganization("tier3", "Tier 3", ()),
    GenesisOrganization("bank", "Bank", ("funder",)),
    GenesisOrganization("regulator", "Regulator", ("regulator",)),
)
ACCOUNTS = (
    AccountSpec("central-bank-admin", "central-bank", ("admin",)),
    AccountSpec("issuer", "central-bank", ("currency_issuer",)),
    AccountSpec("registrar", "gs1-china", ("admin", "gs1_registrar")),
    AccountSpec("brand-ops", "brand", ("admin",)),
    AccountSpec("brand-treasury", "brand", ("core_enterprise",)),
    AccountSpec("distributor-ops", "distributor", ("admin",)),
    AccountSpec("distributor-treasury", "distributor", ("core_enterprise",)),
    AccountSpec("retailer-ops", "retailer", ("admin",)),
    AccountSpec("tier1-ops", "tier1", ("admin",)),
    AccountSpec("tier2-ops", "tier2", ("admin", "funder")),
    AccountSpec("tier3-ops", "tier3", ("admin",)),
    AccountSpec("bank-ops", "bank", ("admin", "funder")),
    AccountSpec("inspector", "regulator", ("admin", "regulator")),
)
OPS = {
    "brand": "brand-ops",
    "distributor": "distributor-ops",
    "retailer": "retailer-ops",
    "tier1": "tier1-ops",
    "tier2": "tier2-ops",
    "tier3": "tier3-ops",
    "bank": "bank-ops",
    "regulator": "inspector",
}


def make_chain(
    extra_organizations: tuple[GenesisOrganization, ...] = (),
    extra_accounts: tuple[AccountSpec, ...] = (),
) -> Chain:
    """The supply chain's consortium; ``extra_…`` add members of other apps (e.g. a credit
    member deriving records from receivables)."""
    wallets = {"brand-treasury": FUNDS, "bank-ops": FUNDS}
    token = base_token_config(
        wallets,
        tiers={"basic": BASIC_TIER, "institution": INSTITUTION_TIER},
        holder_tiers=dict.fromkeys(
            ["brand-treasury", "bank-ops", "tier1-ops", "tier2-ops", "tier3-ops"], "institution"
        ),
    )
    genesis = make_genesis(
        organizations=ORGANIZATIONS + extra_organizations,
        accounts=ACCOUNTS + extra_accounts,
        contracts={
            "token": token,
            SUPPLYCHAIN: {"company_prefixes": [{"prefix": BRAND_PREFIX, "organization": "brand"}]},
        },
    )
    chain = Chain(genesis)
    spender = contract_address(chain.suite.hash, SUPPLYCHAIN)
    for payer in wallets:
        chain.ok(payer, TOKEN, "approve", ApproveArgs("CNY", spender, FUNDS))
    return chain


def sgtin(serial: int | str) -> str:
    return f"urn:epc:id:sgtin:{BRAND_PREFIX}.000001.{serial}"


def sscc(serial: int) -> str:
    body = "0" + BRAND_PREFIX + f"{serial:09d}"
    return f"https://id.gs1.org/00/{body}{gs1_standard_check_digit(body)}"


class Events:
    """Distinct event hashes and increasing event times."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        self.count = 0

    def next(self, *, time_ms: int | None = None) -> EventFields:
        self.count += 1
        hash_ = self.count.to_bytes(32, "big")
        return EventFields(hash_, self.chain.time_ms if time_ms is None else time_ms)
