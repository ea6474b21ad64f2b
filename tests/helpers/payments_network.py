"""A payments network for the payments tests (unit, property and reports).

``make_network`` builds a chain whose consortium has a clearing house (``clearing``: clearing
house and settlement agent), card issuers, acquirers (an organization may be both), the central
bank that issues CNY, and a regulator. Each institution has accounts named for their job:

===========================  ==============================================================
account                      roles
===========================  ==============================================================
``<org>-admin``              admin
``<org>-cards``              card_issuer (issuers)
``<org>-acquiring``          acquirer (acquirers)
``<org>-treasury``           none: the institution's settlement account in the token
``clearing-ops``             clearing_house, settlement_agent
===========================  ==============================================================

Merchants are ``<acquirer>-m<n>``. The fee schedule is the published Chinese one. ``Driver``
submits payments in bulk — blocks of up to 2,000 transactions with signature checks off — so the
large tests stay quick.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from jinqiao.apps.payments import PAYMENTS
from jinqiao.apps.payments.config import china_2016_config_rules
from jinqiao.apps.payments.model import (
    AuthorizeArgs,
    CaptureArgs,
    ChargebackArgs,
    CollateralArgs,
    OpenCycleArgs,
    RefundArgs,
    RepresentArgs,
)
from jinqiao.apps.token import TOKEN, ApproveArgs, HoldingArgs
from jinqiao.core.codec import CanonicalStruct, decode, encode
from jinqiao.core.crypto import Signer
from jinqiao.core.genesis import GenesisOrganization
from jinqiao.core.types import Receipt, ReceiptStatus, SignedTransaction, TransactionBody
from jinqiao.execution.contract import contract_address
from tests.helpers.chain import (
    BLOCK_INTERVAL_MS,
    INSTITUTION_TIER,
    AccountSpec,
    Chain,
    make_genesis,
    signer_for,
)

CNY = "CNY"
CLEARING = "clearing"
CLEARING_OPS = "clearing-ops"
TREASURY_BALANCE = 10**12
MERCHANTS_PER_ACQUIRER = 3
MCCS = ("5411", "5812", "8062")  # grocery, restaurant, hospital (fee-exempt)
BLOCK_TRANSACTIONS = 2_000


def cards(organization: str) -> str:
    return f"{organization}-cards"


def acquiring(organization: str) -> str:
    return f"{organization}-acquiring"


def treasury(organization: str) -> str:
    return f"{organization}-treasury"


def merchant_id(acquirer: str, number: int) -> str:
    return f"{acquirer}-m{number}"


def payer_hash(payer: str) -> bytes:
    """Stands in for the issuer's keyed hash (HMAC) of a payer's identifier."""
    return hashlib.sha256(b"test-issuer-key/" + payer.encode()).digest()


@dataclass(frozen=True)
class NetworkSpec:
    issuers: tuple[str, ...] = ("bank-a", "bank-b")
    acquirers: tuple[str, ...] = ("bank-a", "ecfin")

    @property
    def members(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.issuers) | set(self.acquirers)))

    @property
    def institutions(self) -> tuple[str, ...]:
        return tuple(sorted({*self.members, CLEARING}))


DEFAULT = NetworkSpec()


def network_genesis_parts(
    spec: NetworkSpec,
) -> tuple[list[GenesisOrganization], list[AccountSpec], dict[str, Any]]:
    organizations = [
        GenesisOrganization("central-bank", "Central Bank", ("currency_issuer",)),
        GenesisOrganization(CLEARING, "Clearing House", ("clearing_house", "settlement_agent")),
        GenesisOrganization("regulator", "Regulator", ("regulator",)),
    ]
    accounts = [
        AccountSpec("central-bank-admin", "central-bank", ("admin",)),
        AccountSpec("issuer", "central-bank", ("currency_issuer",)),
        AccountSpec("clearing-admin", CLEARING, ("admin",)),
        AccountSpec(CLEARING_OPS, CLEARING, ("clearing_house", "settlement_agent")),
        AccountSpec(treasury(CLEARING), CLEARING),
        AccountSpec("regulator-admin", "regulator", ("admin",)),
        AccountSpec("inspector", "regulator", ("regulator",)),
    ]
    institutions: list[dict[str, Any]] = [
        {
            "id": CLEARING,
            "roles": ["clearing_house", "settlement_agent"],
            "settlement_account": signer_for(treasury(CLEARING)).address.hex(),
        }
    ]
    merchants = []
    for member in spec.members:
        roles = []
        accounts.append(AccountSpec(f"{member}-admin", member, ("admin",)))
        if member in spec.issuers:
            roles.append("card_issuer")
            accounts.append(AccountSpec(cards(member), member, ("card_issuer",)))
        if member in spec.acquirers:
            roles.append("acquirer")
            accounts.append(AccountSpec(acquiring(member), member, ("acquirer",)))
            merchants.extend(
                {
                    "acquirer": member,
                    "merchant_id": merchant_id(member, number),
                    "name": f"Shop {number} of {member}",
                    "mcc": MCCS[number % len(MCCS)],
                }
                for number in range(MERCHANTS_PER_ACQUIRER)
            )
        accounts.append(AccountSpec(treasury(member), member))
        organizations.append(GenesisOrganization(member, member.title(), tuple(sorted(roles))))
        institutions.append(
            {
                "id": member,
                "roles": sorted(roles),
                "settlement_account": signer_for(treasury(member)).address.hex(),
            }
        )
    treasuries = [treasury(name) for name in spec.institutions]
    token = {
        "tiers": {"basic": dict(INSTITUTION_TIER), "institution": dict(INSTITUTION_TIER)},
        "assets": [
            {
                "symbol": CNY,
                "name": "Digital yuan",
                "scale": 2,
                "issuer": "central-bank",
                "default_tier": "basic",
            }
        ],
        "holdings": [
            {
                "asset": CNY,
                "address": signer_for(name).address.hex(),
                "tier": "institution",
                "balance_minor": TREASURY_BALANCE,
            }
            for name in treasuries
        ],
    }
    payments = {
        "institutions": institutions,
        "merchants": merchants,
        "fee_schedules": [{"currency": CNY, "rules": china_2016_config_rules()}],
    }
    return organizations, accounts, {TOKEN: token, PAYMENTS: payments}


def make_network(spec: NetworkSpec = DEFAULT, *, payments: dict[str, Any] | None = None) -> Chain:
    organizations, accounts, contracts = network_genesis_parts(spec)
    if payments is not None:
        contracts[PAYMENTS] = payments
    return Chain(make_genesis(organizations=organizations, accounts=accounts, contracts=contracts))


@functools.cache
def cached_signer(name: str) -> Signer:
    return signer_for(name)


_nonces = itertools.count(10**15)


@dataclass(frozen=True)
class Call:
    sender: str
    method: str
    args: CanonicalStruct
    contract: str = PAYMENTS


class Driver:
    """Submits payments transactions to a network chain."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain

    def unsigned(self, call: Call) -> SignedTransaction:
        """A transaction with a dummy signature, for blocks executed without signature checks."""
        signer = cached_signer(call.sender)
        body = TransactionBody(
            chain_id=self.chain.chain_id,
            sender=signer.address,
            public_key=signer.public_key,
            nonce=next(_nonces),
            valid_until=self.chain.height + 10,
            contract=call.contract,
            method=call.method,
            args=encode(call.args),
        )
        return SignedTransaction(body, bytes(64))

    def run(self, calls: Iterable[Call], *, require_ok: bool = True) -> list[Receipt]:
        """Execute ``calls`` in order, in blocks of up to ``BLOCK_TRANSACTIONS``."""
        receipts: list[Receipt] = []
        batch: list[Call] = []
        for call in calls:
            batch.append(call)
            if len(batch) == BLOCK_TRANSACTIONS:
                receipts.extend(self._block(batch, require_ok))
                batch = []
        if batch:
            receipts.extend(self._block(batch, require_ok))
        return receipts

    def _block(self, calls: Sequence[Call], require_ok: bool) -> list[Receipt]:
        transactions = [self.unsigned(call) for call in calls]
        result = self.chain.execute(transactions, verify_signatures=False)
        if require_ok:
            for call, receipt in zip(calls, result.receipts, strict=True):
                if receipt.status != ReceiptStatus.OK:
                    raise AssertionError(
                        f"{call.method} by {call.sender} was rejected {receipt.code}: "
                        f"{receipt.message}"
                    )
        return list(result.receipts)

    # -- common steps ----------------------------------------------------------------------

    def open_cycle(
        self,
        *,
        blocks: int | None = 1_000_000,
        time_ms: int | None = None,
        funding_window_blocks: int = 10,
    ) -> int:
        """Open a CNY cycle whose cut-off is ``blocks`` blocks (and/or ``time_ms``) after the
        block that opens it."""
        height = None if blocks is None else self.chain.height + 1 + blocks
        moment = None if time_ms is None else self.chain.time_ms + BLOCK_INTERVAL_MS + time_ms
        receipt = self.chain.ok(
            CLEARING_OPS,
            PAYMENTS,
            "open_cycle",
            OpenCycleArgs(CNY, height, moment, funding_window_blocks),
        )
        return receipt_int(receipt)

    def approve_escrow(self, institutions: Iterable[str], amount_minor: int = 10**12) -> None:
        escrow = escrow_of(self.chain)
        self.run(
            Call(treasury(name), "approve", ApproveArgs(CNY, escrow, amount_minor), TOKEN)
            for name in institutions
        )

    def post_collateral(self, institution: str, amount_minor: int) -> None:
        self.approve_escrow([institution], amount_minor)
        self.chain.ok(
            treasury(institution),
            PAYMENTS,
            "post_collateral",
            CollateralArgs(CNY, amount_minor),
        )


def receipt_int(receipt: Receipt) -> int:
    value: int = decode(receipt.result, int, max_bytes=64)
    return value


def escrow_of(chain: Chain) -> bytes:
    return contract_address(chain.suite.hash, PAYMENTS)


def token_balance(chain: Chain, address: bytes) -> int:
    balance: int = chain.query(TOKEN, "balance", HoldingArgs(CNY, address)).balance_minor
    return balance


def authorize_call(
    payment_id: str,
    issuer: str,
    acquirer: str,
    amount_minor: int,
    *,
    merchant: int = 0,
    card_type: str = "debit",
    channel: str = "pos",
    payer: str = "payer-1",
    currency: str = CNY,
) -> Call:
    return Call(
        cards(issuer),
        "authorize",
        AuthorizeArgs(
            payment_id=payment_id,
            issuer=issuer,
            acquirer=acquirer,
            merchant_id=merchant_id(acquirer, merchant),
            payer_hash=payer_hash(payer),
            amount_minor=amount_minor,
            currency=currency,
            channel=channel,
            card_type=card_type,
            authorization_code="A1B2C3",
            time_ms=1_700_000_000_000,
        ),
    )


def capture_call(acquirer: str, payment_id: str, amount_minor: int, cycle_id: int) -> Call:
    return Call(acquiring(acquirer), "capture", CaptureArgs(payment_id, amount_minor, cycle_id))


def refund_call(
    acquirer: str, payment_id: str, refund_id: str, amount_minor: int, cycle_id: int
) -> Call:
    return Call(
        acquiring(acquirer), "refund", RefundArgs(payment_id, refund_id, amount_minor, cycle_id)
    )


def chargeback_call(
    issuer: str, payment_id: str, amount_minor: int, cycle_id: int, reason: str = "4837"
) -> Call:
    return Call(
        cards(issuer), "chargeback", ChargebackArgs(payment_id, amount_minor, reason, cycle_id)
    )


def represent_call(acquirer: str, payment_id: str, amount_minor: int, cycle_id: int) -> Call:
    return Call(acquiring(acquirer), "represent", RepresentArgs(payment_id, amount_minor, cycle_id))


# -- random cycles and an independent oracle ------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """One payment's life within a cycle, valid by construction: captured up to the authorized
    amount, refunds within what is left, a chargeback within what is not refunded, a
    representment within the chargeback, and refunds after it within what is then left."""

    payment_id: str
    issuer: str
    acquirer: str
    merchant: int
    card_type: str
    amount_minor: int
    captured_minor: int
    refunds: tuple[int, ...] = ()
    chargeback_minor: int = 0
    represented_minor: int = 0
    late_refunds: tuple[int, ...] = ()

    @property
    def mcc(self) -> str:
        return MCCS[self.merchant % len(MCCS)]


def plan_calls(plan: Plan, cycle_id: int) -> list[Call]:
    """The transactions of ``plan``, in the order its lifecycle requires."""
    calls = [
        authorize_call(
            plan.payment_id,
            plan.issuer,
            plan.acquirer,
            plan.amount_minor,
            merchant=plan.merchant,
            card_type=plan.card_type,
        ),
        capture_call(plan.acquirer, plan.payment_id, plan.captured_minor, cycle_id),
    ]
    calls.extend(
        refund_call(plan.acquirer, plan.payment_id, f"R{n}", amount, cycle_id)
        for n, amount in enumerate(plan.refunds)
    )
    if plan.chargeback_minor:
        calls.append(chargeback_call(plan.issuer, plan.payment_id, plan.chargeback_minor, cycle_id))
        if plan.represented_minor:
            calls.append(
                represent_call(plan.acquirer, plan.payment_id, plan.represented_minor, cycle_id)
            )
    calls.extend(
        refund_call(plan.acquirer, plan.payment_id, f"L{n}", amount, cycle_id)
        for n, amount in enumerate(plan.late_refunds)
    )
    return calls


def half_up(value: Fraction) -> int:
    return math.floor(value + Fraction(1, 2))


def oracle_fees(card_type: str, mcc: str, amount_minor: int) -> tuple[int, int, int]:
    """The published Chinese fees, computed here from the notice's percentages with exact
    fractions: (issuer fee, issuer's network fee, acquirer's network fee)."""
    if mcc in ("8062", "8211", "8398"):
        return 0, 0, 0
    issuer = half_up(amount_minor * Fraction("0.35" if card_type == "debit" else "0.45") / 100)
    if card_type == "debit":
        issuer = min(issuer, 1_300)
    network = min(half_up(amount_minor * Fraction("0.0325") / 100), 325)
    return issuer, network, network


def oracle_positions(
    plans: Iterable[Plan], institutions: Iterable[str], excluded: Iterable[str] = ()
) -> dict[str, int]:
    """Each institution's net position, straight from the payments: what it receives minus
    what it pays, payment by payment, leaving out the payments of ``excluded`` institutions."""
    out = set(excluded)
    positions = {institution: 0 for institution in institutions}
    for plan in plans:
        if plan.issuer in out or plan.acquirer in out:
            continue
        issuer_fee, issuer_network, acquirer_network = oracle_fees(
            plan.card_type, plan.mcc, plan.captured_minor
        )
        returned = sum(plan.refunds) + plan.chargeback_minor + sum(plan.late_refunds)
        # The issuer pays the captured amount and its network fee, and gets back refunds,
        # the chargeback and the interchange; a representment pays the chargeback back.
        positions[plan.issuer] += (
            -plan.captured_minor + issuer_fee - issuer_network + returned - plan.represented_minor
        )
        positions[plan.acquirer] += (
            plan.captured_minor - issuer_fee - acquirer_network - returned + plan.represented_minor
        )
        positions[CLEARING] += issuer_network + acquirer_network
    return positions
