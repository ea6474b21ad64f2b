"""Fees: the one rounding rule, caps and minimums, rule lookup by card type and category, the
published Chinese schedule, and changing a schedule through governance (the ``call_contract``
proposal action)."""

from __future__ import annotations

from fractions import Fraction

import msgspec
import pytest

from jinqiao.apps import default_contracts
from jinqiao.apps.governance import CallContract, ProposalArgs, ProposeArgs
from jinqiao.apps.payments import PAYMENTS
from jinqiao.apps.payments.fees import (
    china_2016_rules,
    compute_fees,
    find_rule,
    rate_fee,
    round_half_up_ppm,
    rules_problem,
)
from jinqiao.apps.payments.model import (
    CaptureArgs,
    CurrencyArgs,
    FeeRate,
    FeeRule,
    Fees,
    FeeSchedule,
    Payment,
    PaymentArgs,
    QuoteArgs,
    SetFeeScheduleArgs,
    fee_schedule_version_key,
)
from jinqiao.core.codec import CanonicalStruct, encode
from jinqiao.core.errors import Rejection
from jinqiao.core.types import Receipt
from jinqiao.execution.contract import Context, Contract, method
from jinqiao.execution.identity import GOVERNANCE
from tests.helpers.chain import Chain, events, make_genesis, result_of
from tests.helpers.payments_network import (
    CNY,
    DEFAULT,
    Driver,
    acquiring,
    authorize_call,
    make_network,
    network_genesis_parts,
)

ADMINS = (
    "clearing-admin",
    "bank-a-admin",
    "bank-b-admin",
    "ecfin-admin",
    "central-bank-admin",
    "regulator-admin",
)
RULES = china_2016_rules()


def fen(yuan: int) -> int:
    return yuan * 100


# -- the rounding rule --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "rate_ppm", "fee"),
    [
        (100_000, 325, 33),  # 32.5 → 33: half rounds up
        (99_999, 325, 32),  # 32.4999675 → 32
        (1, 500_000, 1),  # 0.5 → 1
        (1, 499_999, 0),  # 0.499999 → 0
        (3, 500_000, 2),  # 1.5 → 2
        (2**63 - 1, 1_000_000, 2**63 - 1),  # the whole amount, no overflow
        (0, 1_000_000, 0),
    ],
)
def test_fees_round_half_up_on_the_exact_rational(amount: int, rate_ppm: int, fee: int) -> None:
    assert round_half_up_ppm(amount, rate_ppm) == fee
    exact = Fraction(amount * rate_ppm, 1_000_000)
    assert fee == int(exact + Fraction(1, 2))  # floor(x + 1/2) for x >= 0


def test_minimum_cap_and_the_amount_bound_apply_in_that_order() -> None:
    rate = FeeRate(1_000, min_minor=50, cap_minor=200)
    assert rate_fee(10_000, rate) == 50  # 10 raised to the minimum
    assert rate_fee(100_000, rate) == 100
    assert rate_fee(1_000_000, rate) == 200  # 1,000 capped
    assert rate_fee(20, rate) == 20  # never more than the amount
    assert rate_fee(10**6, FeeRate(1_000)) == 1_000  # no cap


# -- the published Chinese schedule -------------------------------------------------------------


@pytest.mark.parametrize(
    ("card_type", "mcc", "amount", "fees"),
    [
        # debit: 0.35% capped at RMB 13; network 0.0325% a side capped at RMB 3.25
        ("debit", "5411", fen(1_000), Fees(350, 33, 33, 0)),
        ("debit", "5411", fen(5_000), Fees(fen(13), 163, 163, 0)),  # 1,750 capped at 1,300
        ("debit", "5411", fen(20_000), Fees(fen(13), 325, 325, 0)),  # network 650 capped
        # credit: 0.45% uncapped
        ("credit", "5812", fen(5_000), Fees(2_250, 163, 163, 0)),
        ("credit", "5812", fen(100_000), Fees(45_000, 325, 325, 0)),
        ("debit", "5411", 1, Fees(0, 0, 0, 0)),
        # non-profit categories are exempt
        ("debit", "8062", fen(1_000), Fees(0, 0, 0, 0)),
        ("credit", "8398", fen(1_000), Fees(0, 0, 0, 0)),
    ],
)
def test_the_chinese_2016_schedule(card_type: str, mcc: str, amount: int, fees: Fees) -> None:
    rule = find_rule(RULES, card_type, mcc)
    assert rule is not None
    assert compute_fees(amount, rule) == fees


def test_rules_fall_back_to_the_card_types_default() -> None:
    rule = find_rule(RULES, "debit", "5999")
    assert rule is not None and rule.mcc == "*"
    exact = find_rule(RULES, "debit", "8211")
    assert exact is not None and exact.mcc == "8211"
    assert find_rule(RULES, "prepaid", "5999") is None
    assert find_rule((), "debit", "5999") is None
    assert rules_problem(RULES) is None


@pytest.mark.parametrize(
    ("rules", "problem"),
    [
        ((FeeRule("prepaid", "*", *(FeeRate(0),) * 4),), "card_type"),
        ((FeeRule("debit", "54", *(FeeRate(0),) * 4),), "mcc"),
        ((FeeRule("debit", "*", FeeRate(-1), *(FeeRate(0),) * 3),), "rate_ppm"),
        ((FeeRule("debit", "*", FeeRate(1_000_001), *(FeeRate(0),) * 3),), "rate_ppm"),
        ((FeeRule("debit", "*", FeeRate(0, min_minor=-1), *(FeeRate(0),) * 3),), "min_minor"),
        ((FeeRule("debit", "*", FeeRate(0, 10, 9), *(FeeRate(0),) * 3),), "cap_minor"),
        (RULES[::-1], "sorted"),
        ((RULES[0], RULES[0]), "sorted"),
        (RULES * 9, "at most 64"),
    ],
)
def test_bad_rules_are_named(rules: tuple[FeeRule, ...], problem: str) -> None:
    found = rules_problem(rules)
    assert found is not None and problem in found


def test_quote_fees_shows_what_a_capture_would_cost() -> None:
    chain = make_network()
    quote = chain.query(PAYMENTS, "quote_fees", QuoteArgs(CNY, "debit", "5411", fen(1_000)))
    assert quote == Fees(350, 33, 33, 0)
    for args, code in (
        (QuoteArgs(CNY, "prepaid", "5411", 1), "no_fee_rule"),
        (QuoteArgs(CNY, "debit", "5411", 0), "invalid_amount"),
        (QuoteArgs("USD", "debit", "5411", 1), "unknown_currency"),
    ):
        with pytest.raises(Rejection) as error:
            chain.query(PAYMENTS, "quote_fees", args)
        assert error.value.code == code


# -- changing the schedule through governance ---------------------------------------------------


def propose(chain: Chain, action: CallContract) -> int:
    return result_of(chain.ok(ADMINS[0], GOVERNANCE, "propose", ProposeArgs(action)), int)


def enact(chain: Chain, action: CallContract) -> Receipt:
    """Four of the six organizations approve (2/3)."""
    proposal_id = propose(chain, action)
    for admin in ADMINS[1:3]:
        chain.ok(admin, GOVERNANCE, "approve", ProposalArgs(proposal_id))
    return chain.submit(ADMINS[3], GOVERNANCE, "approve", ProposalArgs(proposal_id))


def schedule_change(rules: tuple[FeeRule, ...]) -> CallContract:
    return CallContract(PAYMENTS, "set_fee_schedule", encode(SetFeeScheduleArgs(CNY, rules)))


def test_a_fee_schedule_changes_by_governance_and_applies_to_later_captures() -> None:
    chain = make_network()
    driver = Driver(chain)
    cycle = driver.open_cycle()
    driver.run([authorize_call(f"P{n}", "bank-b", "ecfin", fen(1_000)) for n in (1, 2)])
    chain.ok(acquiring("ecfin"), PAYMENTS, "capture", CaptureArgs("P1", fen(1_000), cycle))
    cheaper = tuple(
        msgspec.structs.replace(rule, issuer_fee=FeeRate(rule.issuer_fee.rate_ppm // 2))
        if rule.mcc == "*"
        else rule
        for rule in RULES
    )
    receipt = enact(chain, schedule_change(cheaper))
    assert receipt.code == "ok", receipt.message
    (event,) = events(receipt, "FeeScheduleChanged")
    assert (event.contract, event.attribute("version")) == (PAYMENTS, 2)
    schedule: FeeSchedule = chain.query(PAYMENTS, "fee_schedule", CurrencyArgs(CNY))
    assert (schedule.version, schedule.rules) == (2, cheaper)
    assert chain.read(PAYMENTS, fee_schedule_version_key(CNY, 1), FeeSchedule) is not None
    chain.ok(acquiring("ecfin"), PAYMENTS, "capture", CaptureArgs("P2", fen(1_000), cycle))
    first: Payment = chain.query(PAYMENTS, "payment", PaymentArgs("P1")).payment
    second: Payment = chain.query(PAYMENTS, "payment", PaymentArgs("P2")).payment
    assert first.capture is not None and second.capture is not None
    assert (first.capture.fee_schedule_version, first.capture.fees.issuer_fee_minor) == (1, 350)
    assert (second.capture.fee_schedule_version, second.capture.fees.issuer_fee_minor) == (2, 175)


def test_a_bad_schedule_is_refused_when_the_proposal_executes() -> None:
    chain = make_network()
    receipt = enact(chain, schedule_change(RULES[::-1]))
    assert receipt.code == "invalid_fee_schedule"
    assert chain.query(PAYMENTS, "fee_schedule", CurrencyArgs(CNY)).version == 1
    bad_currency = CallContract(
        PAYMENTS, "set_fee_schedule", encode(SetFeeScheduleArgs("USD", RULES))
    )
    assert enact(chain, bad_currency).code == "unknown_currency"


@pytest.mark.parametrize(
    ("code", "action"),
    [
        ("unknown_contract", CallContract("nowhere", "set_fee_schedule", b"")),
        ("unknown_method", CallContract(PAYMENTS, "set_everything", b"")),
        ("unknown_method", CallContract(PAYMENTS, "payment", b"")),  # a query
        ("unauthorized", CallContract(PAYMENTS, "settle", encode(PaymentArgs("x")))),
        ("invalid_arguments", CallContract(PAYMENTS, "set_fee_schedule", b"\x91\x01")),
    ],
)
def test_call_contract_proposals_are_checked_when_made(code: str, action: CallContract) -> None:
    chain = make_network()
    chain.rejected(code, ADMINS[0], GOVERNANCE, "propose", ProposeArgs(action))


class MeddlerArgs(CanonicalStruct, frozen=True):
    rate_ppm: int


class Meddler(Contract):
    """A contract other than governance that tries to set the fee schedule."""

    name = "meddler"

    @method(MeddlerArgs)
    def meddle(self, ctx: Context, args: MeddlerArgs) -> None:
        rule = FeeRule("debit", "*", *(FeeRate(args.rate_ppm),) * 4)
        ctx.call(PAYMENTS, "set_fee_schedule", SetFeeScheduleArgs(CNY, (rule,)))


def test_only_governance_sets_fee_schedules() -> None:
    organizations, accounts, contracts = network_genesis_parts(DEFAULT)
    genesis = make_genesis(organizations=organizations, accounts=accounts, contracts=contracts)
    chain = Chain(genesis, contracts=[*default_contracts(), Meddler()])
    chain.rejected("unauthorized", "bank-a-admin", "meddler", "meddle", MeddlerArgs(0))
    chain.rejected(
        "unauthorized", "clearing-ops", PAYMENTS, "set_fee_schedule", SetFeeScheduleArgs(CNY, RULES)
    )
    assert chain.query(PAYMENTS, "fee_schedule", CurrencyArgs(CNY)).version == 1
