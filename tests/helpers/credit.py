"""A consortium for the credit contract's tests, a small scorecard model, and helpers.

=============  ==================================================================
organization   accounts (roles)
=============  ==================================================================
bank-a         bank-a-admin (admin), bank-a-credit (credit_member), bank-a-teller
bank-b         bank-b-admin (admin), bank-b-credit (credit_member)
lender         lender-admin (admin), lender-credit (credit_member)
regulator      regulator-admin (admin), inspector (regulator)
=============  ==================================================================

bank-a knows the subjects (records their consent) and submits records, bank-b submits records,
lender reads and scores. Governance's quorum is 3 of the 4 organizations.
"""

from __future__ import annotations

import hashlib

from jinqiao.apps.credit.model import (
    CREDIT,
    CREDIT_ROLE,
    Band,
    BandLimit,
    Bin,
    Consent,
    ConsentArgs,
    DecisionPolicy,
    FeaturePoints,
    GrantConsentArgs,
    ModelMetrics,
    ModelVersionArgs,
    RegisterModelArgs,
    ScorecardModel,
)
from jinqiao.apps.governance import CallContract, ProposalArgs, ProposeArgs
from jinqiao.core.codec import encode
from jinqiao.core.genesis import GenesisOrganization
from jinqiao.core.types import Receipt
from jinqiao.execution.api import GOVERNANCE
from tests.helpers.chain import AccountSpec, Chain, make_genesis, result_of

ORGANIZATIONS = (
    GenesisOrganization("bank-a", "Bank A", (CREDIT_ROLE,)),
    GenesisOrganization("bank-b", "Bank B", (CREDIT_ROLE,)),
    GenesisOrganization("lender", "Lender", (CREDIT_ROLE,)),
    GenesisOrganization("regulator", "Regulator", ("regulator",)),
)
ACCOUNTS = (
    AccountSpec("bank-a-admin", "bank-a", ("admin",)),
    AccountSpec("bank-a-credit", "bank-a", (CREDIT_ROLE,)),
    AccountSpec("bank-a-teller", "bank-a"),
    AccountSpec("bank-b-admin", "bank-b", ("admin",)),
    AccountSpec("bank-b-credit", "bank-b", (CREDIT_ROLE,)),
    AccountSpec("lender-admin", "lender", ("admin",)),
    AccountSpec("lender-credit", "lender", (CREDIT_ROLE,)),
    AccountSpec("regulator-admin", "regulator", ("admin",)),
    AccountSpec("inspector", "regulator", ("regulator",)),
)
ADMINS = ("bank-a-admin", "bank-b-admin", "lender-admin", "regulator-admin")
CUSTODIAN = "bank-a-credit"
SUBMITTER = "bank-b-credit"
LENDER = "lender-credit"
DAY_MS = 86_400_000

MODEL = ScorecardModel(
    "behaviour",
    1,
    500,
    (
        FeaturePoints(
            "late_repayments_12m",
            "R01",
            "Late repayments",
            (Bin(1, 60), Bin(3, 20), Bin(None, -20)),
            0,
        ),
        FeaturePoints(
            "on_time_pct_12m",
            "R02",
            "Few repayments on time",
            (Bin(80, -10), Bin(95, 10), Bin(None, 40)),
            0,
        ),
        FeaturePoints(
            "unrecovered_defaults", "R03", "Unrecovered default", (Bin(1, 50), Bin(None, -80)), 0
        ),
        FeaturePoints(
            "inquiries_6m",
            "R04",
            "Many recent inquiries",
            (Bin(2, 30), Bin(5, 10), Bin(None, -10)),
            0,
        ),
        FeaturePoints(
            "months_on_file",
            "R05",
            "Short credit history",
            (Bin(12, 0), Bin(36, 20), Bin(None, 40)),
            -10,
        ),
    ),
    (Band("e", 0), Band("d", 450), Band("c", 550), Band("b", 620), Band("a", 680)),
)
METRICS = ModelMetrics(10, 790_000, 40_000, 450_000, 50_000, 580_000, 80_000, 770_000, 170_000, 700)
POLICY = DecisionPolicy(
    "behaviour",
    1,
    620,
    550,
    tuple(
        BandLimit(band, limit)
        for band, limit in (("a", 5_000_000), ("b", 2_000_000), ("c", 0), ("d", 0), ("e", 0))
    ),
    500_000,
)


def subject(name: str) -> bytes:
    """A stand-in subject hash (the keyed hash itself is tested in test_credit_store)."""
    return hashlib.sha256(b"test-subject/" + name.encode()).digest()


def make_chain() -> Chain:
    return Chain(make_genesis(organizations=ORGANIZATIONS, accounts=ACCOUNTS))


def grant(
    chain: Chain,
    who: bytes,
    *,
    grantee: str = "lender",
    purpose: str = "loan_approval",
    categories: tuple[str, ...] = ("defaults", "inquiries", "loans", "recoveries", "repayments"),
    days: int = 30,
) -> int:
    args = GrantConsentArgs(who, grantee, purpose, categories, chain.time_ms + days * DAY_MS)
    return result_of(chain.ok(CUSTODIAN, CREDIT, "grant_consent", args), Consent).consent_id


def revoke(chain: Chain, who: bytes, consent_id: int) -> Receipt:
    return chain.ok(CUSTODIAN, CREDIT, "revoke_consent", ConsentArgs(who, consent_id))


def enact(chain: Chain, contract: str, method: str, args: object) -> Receipt:
    """A ``call_contract`` proposal approved by three of the four organizations."""
    action = CallContract(contract, method, encode(args))
    proposal_id = result_of(chain.ok(ADMINS[0], GOVERNANCE, "propose", ProposeArgs(action)), int)
    chain.ok(ADMINS[1], GOVERNANCE, "approve", ProposalArgs(proposal_id))
    return chain.submit(ADMINS[2], GOVERNANCE, "approve", ProposalArgs(proposal_id))


def approved_model(chain: Chain, model: ScorecardModel = MODEL) -> None:
    chain.ok(LENDER, CREDIT, "register_model", RegisterModelArgs(model, METRICS))
    receipt = enact(chain, CREDIT, "approve_model", ModelVersionArgs(model.model_id, model.version))
    assert receipt.code == "ok", receipt.message
