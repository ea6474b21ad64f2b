"""The payments contract's lifecycle: authorize, reverse, capture (full or partial), refund,
chargeback and representment; who may sign each; idempotent resubmission and conflicts; every
bad input rejected with its own code and no state change; what the payment and statement
queries show."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from jinqiao.apps.payments import PAYMENTS
from jinqiao.apps.payments.model import (
    MAX_REFUNDS_PER_PAYMENT,
    AuthorizeArgs,
    CaptureArgs,
    ChargebackArgs,
    CycleArgs,
    CycleInstitutionArgs,
    CycleTotals,
    Entries,
    EntriesArgs,
    Fees,
    Flow,
    FlowArgs,
    InstitutionArgs,
    InstitutionCycle,
    Payment,
    PaymentArgs,
    PaymentView,
    Refund,
    RefundArgs,
    RefundQueryArgs,
    RegisterInstitutionArgs,
    RegisterMerchantArgs,
    RepresentArgs,
    payment_key,
)
from jinqiao.core.codec import decode
from jinqiao.core.errors import Rejection
from jinqiao.core.limits import MAX_AMOUNT_MINOR, MAX_STATE_VALUE_BYTES
from jinqiao.core.types import Receipt
from tests.helpers.chain import Chain, events, result_of
from tests.helpers.payments_network import (
    CLEARING_OPS,
    Call,
    Driver,
    acquiring,
    authorize_call,
    cards,
    make_network,
    merchant_id,
    payer_hash,
    treasury,
)

# Debit, grocery (5411): issuer fee 0.35% capped at 1300 fen, network 0.0325% capped at 325.
AMOUNT = 100_000  # RMB 1,000.00
FEES = Fees(
    issuer_fee_minor=350, issuer_network_fee_minor=33, acquirer_network_fee_minor=33
)  # 32.5 rounds half up to 33


@pytest.fixture
def chain() -> Chain:
    return make_network()


@pytest.fixture
def cycle(chain: Chain) -> int:
    return Driver(chain).open_cycle()


def submit(chain: Chain, call: Call) -> Receipt:
    return chain.ok(call.sender, call.contract, call.method, call.args)


def refused(chain: Chain, code: str, call: Call) -> Receipt:
    return chain.rejected(code, call.sender, call.contract, call.method, call.args)


def authorize(
    chain: Chain, payment_id: str = "P1", amount_minor: int = AMOUNT, **kwargs: Any
) -> Payment:
    call = authorize_call(payment_id, "bank-b", "ecfin", amount_minor, **kwargs)
    return result_of(submit(chain, call), Payment)


def capture(
    chain: Chain, cycle_id: int, amount_minor: int = AMOUNT, payment_id: str = "P1"
) -> Payment:
    receipt = chain.ok(
        acquiring("ecfin"), PAYMENTS, "capture", CaptureArgs(payment_id, amount_minor, cycle_id)
    )
    return result_of(receipt, Payment)


def view(chain: Chain, payment_id: str = "P1") -> PaymentView:
    result: PaymentView = chain.query(PAYMENTS, "payment", PaymentArgs(payment_id))
    return result


def authorization(**changes: Any) -> AuthorizeArgs:
    base = authorize_call("P1", "bank-b", "ecfin", AMOUNT).args
    assert isinstance(base, AuthorizeArgs)
    return msgspec.structs.replace(base, **changes)


# -- authorize --------------------------------------------------------------------------------


def test_authorize_records_the_payment_with_only_a_hash_of_the_payer(chain: Chain) -> None:
    receipt = submit(chain, authorize_call("P1", "bank-b", "ecfin", AMOUNT, payer="alice-007"))
    payment = result_of(receipt, Payment)
    assert payment.status == "authorized"
    assert payment.authorization.payer_hash == payer_hash("alice-007")
    assert payment.mcc == "5411"  # from the merchant's registration
    assert payment.capture is None and payment.authorized_height == chain.height
    (event,) = events(receipt, "PaymentAuthorized")
    assert event.attribute("amount_minor") == AMOUNT
    stored = chain.state[b"payments/" + payment_key("P1")]
    assert b"alice-007" not in stored
    assert view(chain) == PaymentView(payment, "not_cleared")
    assert receipt.steps_used == 7


def test_the_same_authorization_twice_is_one_authorization(chain: Chain) -> None:
    first = authorize(chain)
    before = dict(chain.state)
    receipt = submit(chain, authorize_call("P1", "bank-b", "ecfin", AMOUNT))
    assert result_of(receipt, Payment) == first
    assert not receipt.events
    assert chain.state == before


@pytest.mark.parametrize(
    "changes",
    [
        {"amount_minor": AMOUNT + 1},
        {"merchant_id": merchant_id("ecfin", 1)},
        {"payer_hash": payer_hash("someone else")},
        {"authorization_code": "ZZZZZZ"},
        {"channel": "ecommerce"},
        {"card_type": "credit"},
        {"time_ms": 1},
    ],
)
def test_the_same_payment_id_with_other_content_is_a_conflict(
    chain: Chain, changes: dict[str, Any]
) -> None:
    authorize(chain)
    refused(chain, "payment_conflict", Call(cards("bank-b"), "authorize", authorization(**changes)))


@pytest.mark.parametrize(
    ("code", "changes"),
    [
        ("invalid_payment_id", {"payment_id": ""}),
        ("invalid_payment_id", {"payment_id": "a/b"}),
        ("invalid_payment_id", {"payment_id": "P" * 65}),
        ("invalid_amount", {"amount_minor": 0}),
        ("invalid_amount", {"amount_minor": -5}),
        ("invalid_amount", {"amount_minor": MAX_AMOUNT_MINOR + 1}),
        ("invalid_payer_hash", {"payer_hash": b"alice"}),
        ("invalid_channel", {"channel": "fax"}),
        ("invalid_card_type", {"card_type": "prepaid"}),
        ("invalid_authorization_code", {"authorization_code": "12345"}),
        ("invalid_time", {"time_ms": -1}),
        ("unknown_currency", {"currency": "USD"}),
        ("unknown_currency", {"currency": "cny"}),
        ("unknown_institution", {"acquirer": "nobody"}),
        ("unknown_institution", {"acquirer": "No Body!"}),
        ("institution_role_missing", {"acquirer": "bank-b"}),
        ("invalid_merchant_id", {"merchant_id": "../x"}),
        ("unknown_merchant", {"merchant_id": "ecfin-m99"}),
        ("unknown_merchant", {"merchant_id": merchant_id("bank-a", 0)}),  # bank-a's, not ecfin's
    ],
)
def test_authorization_rejections(chain: Chain, code: str, changes: dict[str, Any]) -> None:
    refused(chain, code, Call(cards("bank-b"), "authorize", authorization(**changes)))


def test_only_the_issuer_authorizes(chain: Chain) -> None:
    # bank-a's card account cannot authorize for bank-b; an acquirer account has no issuer role
    refused(chain, "not_entitled", Call(cards("bank-a"), "authorize", authorization()))
    refused(chain, "unauthorized", Call(acquiring("ecfin"), "authorize", authorization()))
    # ecfin is registered as an acquirer only
    refused(
        chain,
        "unauthorized",
        Call(acquiring("ecfin"), "authorize", authorization(issuer="ecfin")),
    )


def test_an_inactive_institution_takes_no_new_payments(chain: Chain) -> None:
    chain.ok(
        CLEARING_OPS,
        PAYMENTS,
        "register_institution",
        RegisterInstitutionArgs(
            "ecfin", ("acquirer",), chain.address(treasury("ecfin")), None, False
        ),
    )
    refused(chain, "institution_inactive", Call(cards("bank-b"), "authorize", authorization()))


# -- reverse and capture -----------------------------------------------------------------------


def test_capture_clears_the_payment_in_the_cycle_with_its_fees(chain: Chain, cycle: int) -> None:
    authorize(chain)
    receipt = chain.ok(acquiring("ecfin"), PAYMENTS, "capture", CaptureArgs("P1", AMOUNT, cycle))
    payment = result_of(receipt, Payment)
    assert payment.status == "captured"
    assert payment.capture is not None
    assert payment.capture.fees == FEES
    assert payment.capture.cycle_id == cycle and payment.capture.fee_schedule_version == 1
    (event,) = events(receipt, "PaymentCaptured")
    assert event.attribute("issuer_fee_minor") == 350
    assert view(chain).settlement == "pending"
    # The first capture between these institutions also lists them and their flow in the cycle.
    assert receipt.steps_used == 23
    totals: CycleTotals = chain.query(PAYMENTS, "cycle_totals", CycleArgs(cycle))
    assert (totals.captures, totals.captured_minor, totals.fees_minor) == (1, AMOUNT, 416)
    flow: Flow = chain.query(PAYMENTS, "flow", FlowArgs(cycle, "bank-b", "ecfin"))
    assert (flow.captured_minor, flow.issuer_fee_minor, flow.acquirer_network_fee_minor) == (
        AMOUNT,
        350,
        33,
    )
    assert chain.query(PAYMENTS, "flow", FlowArgs(cycle, "ecfin", "bank-b")) == Flow(
        "ecfin", "bank-b"
    )
    # Later captures cost the same, however many payments the cycle holds: 10 reads (payment,
    # cycle, two institutions, fee schedule, cycle totals, three institutions' totals, flow),
    # 8 writes (the same totals and flow, the payment, two entries) and an event.
    authorize(chain, "P2")
    assert (
        chain.ok(
            acquiring("ecfin"), PAYMENTS, "capture", CaptureArgs("P2", AMOUNT, cycle)
        ).steps_used
        == 19
    )


def test_partial_capture_and_its_limits(chain: Chain, cycle: int) -> None:
    authorize(chain)
    refused(chain, "capture_exceeds_authorized", _capture_call(AMOUNT + 1, cycle))
    payment = capture(chain, cycle, 60_000)
    assert payment.capture is not None and payment.capture.amount_minor == 60_000
    # the same capture again changes nothing; a different one is a conflict
    before = dict(chain.state)
    assert capture(chain, cycle, 60_000) == payment
    assert chain.state == before
    refused(chain, "payment_conflict", _capture_call(60_001, cycle))
    refused(chain, "invalid_transition", Call(acquiring("ecfin"), "reverse", PaymentArgs("P1")))


def _capture_call(amount_minor: int, cycle_id: int, payment_id: str = "P1") -> Call:
    return Call(acquiring("ecfin"), "capture", CaptureArgs(payment_id, amount_minor, cycle_id))


def test_reversal_ends_an_uncaptured_authorization(chain: Chain, cycle: int) -> None:
    authorize(chain)
    receipt = submit(chain, Call(acquiring("ecfin"), "reverse", PaymentArgs("P1")))
    assert result_of(receipt, Payment).status == "reversed"
    assert events(receipt, "PaymentReversed")
    before = dict(chain.state)
    submit(chain, Call(acquiring("ecfin"), "reverse", PaymentArgs("P1")))  # idempotent
    assert chain.state == before
    refused(chain, "invalid_transition", _capture_call(AMOUNT, cycle))
    refused(chain, "not_entitled", Call(acquiring("bank-a"), "reverse", PaymentArgs("P1")))


def test_capture_rejections(chain: Chain, cycle: int) -> None:
    authorize(chain)
    for amount in (0, -1, MAX_AMOUNT_MINOR + 1):
        refused(chain, "invalid_amount", _capture_call(amount, cycle))
    refused(chain, "unknown_payment", _capture_call(1, cycle, "P404"))
    refused(chain, "invalid_payment_id", _capture_call(1, cycle, "P 1"))
    refused(chain, "unknown_cycle", _capture_call(1, cycle + 1))
    refused(chain, "unknown_cycle", _capture_call(1, -1))
    # the issuer's acquiring arm is not this payment's acquirer; an issuer account cannot capture
    refused(
        chain, "not_entitled", Call(acquiring("bank-a"), "capture", CaptureArgs("P1", 1, cycle))
    )
    refused(chain, "unauthorized", Call(cards("bank-b"), "capture", CaptureArgs("P1", 1, cycle)))


def test_a_payment_cannot_go_into_a_cycle_past_its_cutoff(chain: Chain) -> None:
    driver = Driver(chain)
    # cut-off four blocks after the one that opens it: events in the three blocks in between
    cycle = driver.open_cycle(blocks=4)
    authorize(chain, "P1")
    authorize(chain, "P2")
    capture(chain, cycle, payment_id="P1")
    refused(chain, "cycle_closed", _capture_call(AMOUNT, cycle, "P2"))  # height == cut-off
    chain.ok(CLEARING_OPS, PAYMENTS, "close_cycle", CycleArgs(cycle))
    refused(chain, "cycle_closed", _capture_call(AMOUNT, cycle, "P2"))
    # resubmitting the capture that made it in is still the same capture
    assert capture(chain, cycle, payment_id="P1").capture is not None


def test_a_cycle_clears_one_currency() -> None:
    chain = make_network()
    usd = {"symbol": "USD", "name": "Dollar", "scale": 2, "issuer": "central-bank",
           "default_tier": "basic"}  # fmt: skip
    genesis = chain.genesis
    token = dict(genesis.contracts["token"])
    token["assets"] = [*token["assets"], usd]
    chain = Chain(msgspec.structs.replace(genesis, contracts={**genesis.contracts, "token": token}))
    cycle = Driver(chain).open_cycle()
    authorize(chain, currency="USD")
    refused(chain, "currency_mismatch", _capture_call(AMOUNT, cycle))


def test_capture_needs_a_fee_rule() -> None:
    config = make_network().genesis.contracts[PAYMENTS]
    rules = config["fee_schedules"][0]["rules"]
    config["fee_schedules"][0]["rules"] = [rule for rule in rules if rule["card_type"] == "debit"]
    chain = make_network(payments=config)
    cycle = Driver(chain).open_cycle()
    authorize(chain, card_type="credit")
    refused(chain, "no_fee_rule", _capture_call(AMOUNT, cycle))
    config["fee_schedules"] = []
    chain = make_network(payments=config)
    cycle = Driver(chain).open_cycle()
    authorize(chain)
    refused(chain, "no_fee_schedule", _capture_call(AMOUNT, cycle))


# -- refunds ------------------------------------------------------------------------------------


def _refund_call(refund_id: str, amount_minor: int, cycle_id: int) -> Call:
    return Call(acquiring("ecfin"), "refund", RefundArgs("P1", refund_id, amount_minor, cycle_id))


def test_refunds_partial_and_full_never_above_captured(chain: Chain, cycle: int) -> None:
    authorize(chain)
    refused(chain, "invalid_transition", _refund_call("R1", 1, cycle))  # not captured yet
    capture(chain, cycle, 60_000)
    receipt = submit(chain, _refund_call("R1", 20_000, cycle))
    assert result_of(receipt, Refund) == Refund("P1", "R1", 20_000, cycle, chain.height)
    assert events(receipt, "PaymentRefunded")[0].attribute("refund_id") == "R1"
    refused(chain, "refund_exceeds_captured", _refund_call("R2", 40_001, cycle))
    before = dict(chain.state)
    submit(chain, _refund_call("R1", 20_000, cycle))  # the same refund again: nothing happens
    assert chain.state == before
    refused(chain, "payment_conflict", _refund_call("R1", 20_001, cycle))
    submit(chain, _refund_call("R2", 40_000, cycle))
    refused(chain, "refund_exceeds_captured", _refund_call("R3", 1, cycle))
    payment = view(chain).payment
    assert (payment.refunded_minor, payment.refund_count) == (60_000, 2)
    record = chain.query(PAYMENTS, "refund_record", RefundQueryArgs("P1", "R2"))
    assert record.amount_minor == 40_000
    flow = chain.query(PAYMENTS, "flow", FlowArgs(cycle, "bank-b", "ecfin"))
    assert (flow.refunded_minor, flow.issuer_fee_minor) == (60_000, 210)  # refunds carry no fees
    with pytest.raises(Rejection, match="no such refund"):
        chain.query(PAYMENTS, "refund_record", RefundQueryArgs("P1", "R9"))


def test_refund_rejections(chain: Chain, cycle: int) -> None:
    authorize(chain)
    capture(chain, cycle)
    for amount in (0, -1, MAX_AMOUNT_MINOR + 1):
        refused(chain, "invalid_amount", _refund_call("R1", amount, cycle))
    refused(chain, "invalid_refund_id", _refund_call("R/1", 1, cycle))
    refused(
        chain, "not_entitled", Call(acquiring("bank-a"), "refund", RefundArgs("P1", "R", 1, cycle))
    )
    refused(chain, "unauthorized", Call(cards("bank-b"), "refund", RefundArgs("P1", "R", 1, cycle)))
    refused(chain, "unknown_cycle", _refund_call("R1", 1, 99))


def test_a_refund_clears_in_the_captures_cycle_or_a_later_one_once_that_settled(
    chain: Chain,
) -> None:
    driver = Driver(chain)
    first = driver.open_cycle()
    second = driver.open_cycle(blocks=6)
    third = driver.open_cycle()
    authorize(chain)
    capture(chain, second)
    refused(chain, "cycle_out_of_order", _refund_call("R1", 1, first))
    submit(chain, _refund_call("R1", 1, second))  # the capture's own cycle, while open
    refused(chain, "cycle_closed", _refund_call("R2", 1, second))  # past its cut-off
    # a later cycle only once the capture's cycle has settled: it could still be unwound
    refused(chain, "earlier_cycle_unsettled", _refund_call("R2", 1, third))
    chain.ok(CLEARING_OPS, PAYMENTS, "close_cycle", CycleArgs(second))
    refused(chain, "earlier_cycle_unsettled", _refund_call("R2", 1, third))
    driver.approve_escrow(["bank-b"])
    chain.ok(treasury("bank-b"), PAYMENTS, "fund", CycleArgs(second))
    chain.ok(CLEARING_OPS, PAYMENTS, "settle", CycleArgs(second))
    assert view(chain).settlement == "settled"
    submit(chain, _refund_call("R2", 1, third))


# -- chargebacks and representments ------------------------------------------------------------


def _chargeback(amount_minor: int, cycle_id: int, reason: str = "4837") -> Call:
    return Call(cards("bank-b"), "chargeback", ChargebackArgs("P1", amount_minor, reason, cycle_id))


def _represent(amount_minor: int, cycle_id: int) -> Call:
    return Call(acquiring("ecfin"), "represent", RepresentArgs("P1", amount_minor, cycle_id))


def test_chargeback_and_representment(chain: Chain, cycle: int) -> None:
    authorize(chain)
    refused(chain, "invalid_transition", _chargeback(1, cycle))
    capture(chain, cycle)
    submit(chain, _refund_call("R1", 30_000, cycle))
    refused(chain, "chargeback_exceeds_captured", _chargeback(70_001, cycle))
    refused(chain, "invalid_transition", _represent(1, cycle))
    receipt = submit(chain, _chargeback(50_000, cycle))
    payment = result_of(receipt, Payment)
    assert payment.status == "charged_back"
    assert events(receipt, "PaymentChargedBack")[0].attribute("reason_code") == "4837"
    before = dict(chain.state)
    submit(chain, _chargeback(50_000, cycle))  # idempotent
    assert chain.state == before
    refused(chain, "payment_conflict", _chargeback(50_000, cycle, "4853"))
    refused(chain, "invalid_transition", _refund_call("R2", 1, cycle))  # while disputed
    refused(chain, "representment_exceeds_chargeback", _represent(50_001, cycle))
    receipt = submit(chain, _represent(45_000, cycle))
    assert result_of(receipt, Payment).status == "represented"
    refused(chain, "payment_conflict", _represent(45_001, cycle))
    refused(chain, "payment_conflict", _chargeback(1, cycle))  # one chargeback per payment
    # after the representment: captured 100,000, refunded 30,000, 5,000 still disputed
    refused(chain, "refund_exceeds_captured", _refund_call("R2", 65_001, cycle))
    submit(chain, _refund_call("R2", 65_000, cycle))
    flow = chain.query(PAYMENTS, "flow", FlowArgs(cycle, "bank-b", "ecfin"))
    assert (
        flow.captured_minor,
        flow.refunded_minor,
        flow.charged_back_minor,
        flow.represented_minor,
        flow.events,
    ) == (100_000, 95_000, 50_000, 45_000, 5)


def test_chargeback_rejections(chain: Chain, cycle: int) -> None:
    authorize(chain)
    capture(chain, cycle)
    for amount in (0, -1, MAX_AMOUNT_MINOR + 1):
        refused(chain, "invalid_amount", _chargeback(amount, cycle))
    refused(chain, "invalid_reason_code", _chargeback(1, cycle, ""))
    refused(chain, "invalid_reason_code", _chargeback(1, cycle, "reason code"))
    refused(
        chain,
        "not_entitled",
        Call(cards("bank-a"), "chargeback", ChargebackArgs("P1", 1, "4837", cycle)),
    )
    refused(
        chain,
        "unauthorized",
        Call(acquiring("ecfin"), "chargeback", ChargebackArgs("P1", 1, "4837", cycle)),
    )
    submit(chain, _chargeback(10, cycle))
    for amount in (0, -1, MAX_AMOUNT_MINOR + 1):
        refused(chain, "invalid_amount", _represent(amount, cycle))
    refused(
        chain, "not_entitled", Call(acquiring("bank-a"), "represent", RepresentArgs("P1", 1, cycle))
    )


# -- participants -------------------------------------------------------------------------------


def test_acquirers_register_their_merchants(chain: Chain) -> None:
    receipt = chain.ok(
        acquiring("ecfin"),
        PAYMENTS,
        "register_merchant",
        RegisterMerchantArgs("shop-9", "Nine", "5999"),
    )
    assert events(receipt, "MerchantRegistered")[0].attribute("acquirer") == "ecfin"
    submit(
        chain,
        authorize_call("P9", "bank-b", "ecfin", 1).__class__(
            cards("bank-b"), "authorize", authorization(payment_id="P9", merchant_id="shop-9")
        ),
    )
    assert view(chain, "P9").payment.mcc == "5999"
    for code, args in (
        ("invalid_merchant_id", RegisterMerchantArgs("", "x", "5999")),
        ("invalid_name", RegisterMerchantArgs("shop-10", "", "5999")),
        ("invalid_name", RegisterMerchantArgs("shop-10", "\u202egnp.exe", "5999")),
        ("invalid_name", RegisterMerchantArgs("shop-10", "Ten\x00", "5999")),
        ("invalid_mcc", RegisterMerchantArgs("shop-10", "Ten", "59999")),
    ):
        chain.rejected(code, acquiring("ecfin"), PAYMENTS, "register_merchant", args)
    chain.rejected(
        "unauthorized",
        cards("bank-b"),
        PAYMENTS,
        "register_merchant",
        RegisterMerchantArgs("shop-10", "Ten", "5999"),
    )


def test_the_clearing_house_registers_institutions(chain: Chain) -> None:
    account = chain.address(treasury("bank-b"))
    args = RegisterInstitutionArgs("bank-b", ("card_issuer",), account, 5_000_000, True)
    receipt = chain.ok(CLEARING_OPS, PAYMENTS, "register_institution", args)
    assert events(receipt, "InstitutionRegistered")[0].attribute("roles") == "card_issuer"
    assert (
        chain.query(PAYMENTS, "institution", _institution("bank-b")).net_debit_cap_minor
        == 5_000_000
    )
    for code, changed in (
        ("unknown_organization", {"id": "nobody"}),
        ("invalid_roles", {"roles": ()}),
        ("invalid_roles", {"roles": ("card_issuer", "card_issuer")}),
        ("invalid_roles", {"roles": ("bank",)}),
        ("role_not_allowed", {"roles": ("acquirer",)}),
        ("invalid_address", {"settlement_account": b"x"}),
        ("invalid_settlement_account", {"settlement_account": chain.address(treasury("bank-a"))}),
        ("invalid_amount", {"net_debit_cap_minor": -1}),
    ):
        chain.rejected(
            code,
            CLEARING_OPS,
            PAYMENTS,
            "register_institution",
            msgspec.structs.replace(args, **changed),
        )
    chain.rejected("unauthorized", "bank-b-admin", PAYMENTS, "register_institution", args)


def _institution(institution: str) -> InstitutionArgs:
    return InstitutionArgs(institution)


# -- statements ---------------------------------------------------------------------------------


def test_an_institution_reads_its_entries_and_totals_for_a_cycle(chain: Chain, cycle: int) -> None:
    driver = Driver(chain)
    driver.run(authorize_call(f"P{n}", "bank-b", "ecfin", 1_000 + n) for n in range(7))
    driver.run(
        Call(acquiring("ecfin"), "capture", CaptureArgs(f"P{n}", 1_000 + n, cycle))
        for n in range(7)
    )
    submit(chain, Call(acquiring("ecfin"), "refund", RefundArgs("P3", "R1", 500, cycle)))
    head: InstitutionCycle = chain.query(
        PAYMENTS, "institution_cycle", CycleInstitutionArgs(cycle, "bank-b")
    )
    assert head.entry_count == 8
    page: Entries = chain.query(PAYMENTS, "entries", EntriesArgs(cycle, "bank-b", 0, 5))
    assert [entry.payment_id for entry in page.entries] == ["P0", "P1", "P2", "P3", "P4"]
    assert page.entries[0].side == "issuer" and page.entries[0].counterparty == "ecfin"
    assert page.next_start == 5
    rest: Entries = chain.query(PAYMENTS, "entries", EntriesArgs(cycle, "bank-b", 5, 5))
    assert [(entry.kind, entry.reference) for entry in rest.entries][-1] == ("refund", "R1")
    assert rest.next_start is None
    acquirer = chain.query(PAYMENTS, "entries", EntriesArgs(cycle, "ecfin", 0, 1)).entries[0]
    assert (acquirer.side, acquirer.counterparty, acquirer.amount_minor) == (
        "acquirer",
        "bank-b",
        1_000,
    )
    with pytest.raises(Rejection, match="limit"):
        chain.query(PAYMENTS, "entries", EntriesArgs(cycle, "bank-b", 0, 501))
    # totals agree with the entries: the issuer owes the amounts less its refund, plus fees
    amounts = sum(1_000 + n for n in range(7))
    assert head.debit_minor == amounts + head.fees_paid_minor
    assert head.credit_minor == 500 + head.fees_received_minor


def test_queries_refuse_what_does_not_exist(chain: Chain) -> None:
    for name, args, code in (
        ("payment", PaymentArgs("P404"), "unknown_payment"),
        ("payment", PaymentArgs(""), "invalid_payment_id"),
        ("cycle", CycleArgs(7), "unknown_cycle"),
        ("institution", _institution("nobody"), "unknown_institution"),
        ("institution_cycle", CycleInstitutionArgs(7, "bank-a"), "unknown_cycle"),
    ):
        with pytest.raises(Rejection) as error:
            chain.query(PAYMENTS, name, args)
        assert error.value.code == code


def test_payment_records_decode_from_state(chain: Chain) -> None:
    payment = authorize(chain)
    raw = chain.state[b"payments/" + payment_key("P1")]
    assert decode(raw, Payment, max_bytes=MAX_STATE_VALUE_BYTES) == payment


def test_a_cycles_sums_stay_within_the_amount_bound(chain: Chain, cycle: int) -> None:
    half = 2**62
    authorize(chain, "P1", half)
    authorize(chain, "P2", half)
    authorize(chain, "P3", MAX_AMOUNT_MINOR)
    # the largest amount plus its capped fees is more than the cycle's total may reach
    refused(chain, "amount_overflow", _capture_call(MAX_AMOUNT_MINOR, cycle, "P3"))
    capture(chain, cycle, half, payment_id="P1")
    refused(chain, "amount_overflow", _capture_call(half, cycle, "P2"))
    capture(chain, cycle, half - 10_000, payment_id="P2")


def test_a_payment_takes_at_most_64_refunds(chain: Chain, cycle: int) -> None:
    authorize(chain)
    capture(chain, cycle)
    Driver(chain).run(_refund_call(f"R{n}", 1, cycle) for n in range(MAX_REFUNDS_PER_PAYMENT))
    refused(chain, "too_many_refunds", _refund_call("R-last", 1, cycle))
    assert view(chain).payment.refund_count == MAX_REFUNDS_PER_PAYMENT
