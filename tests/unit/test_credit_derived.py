"""Payment activity derived from the payments ledger: an issuer's cardholder's captured payments
of a month become one ``payment_activity`` record, which an auditor checks against the same
payments read from the ledger."""

from __future__ import annotations

import msgspec
import pytest

from jinqiao.apps.credit.derived import (
    check_payment_activity,
    payment_activity,
    payment_ids_reference,
)
from jinqiao.apps.credit.records import record_problem
from jinqiao.apps.payments import PAYMENTS
from jinqiao.apps.payments.model import Payment, PaymentArgs, PaymentView
from jinqiao.core.errors import InvalidInput
from tests.helpers.chain import Chain
from tests.helpers.credit import subject
from tests.helpers.payments_network import (
    Driver,
    authorize_call,
    capture_call,
    chargeback_call,
    make_network,
    refund_call,
)

ALICE = subject("alice")
PERIOD = 202311  # the month of the helpers' authorization time, 1_700_000_000_000 ms


def ledger_payment(chain: Chain, payment_id: str) -> Payment:
    view: PaymentView = chain.query(PAYMENTS, "payment", PaymentArgs(payment_id))
    return view.payment


@pytest.fixture
def ledger() -> tuple[Chain, list[Payment]]:
    chain = make_network()
    driver = Driver(chain)
    cycle = driver.open_cycle()
    driver.run(
        [
            authorize_call("P1", "bank-b", "ecfin", 10_000, payer="alice-card"),
            authorize_call("P2", "bank-b", "ecfin", 20_000, payer="alice-card"),
            authorize_call("P3", "bank-b", "ecfin", 5_000, payer="alice-card"),  # not captured
            capture_call("ecfin", "P1", 10_000, cycle),
            capture_call("ecfin", "P2", 20_000, cycle),
            refund_call("ecfin", "P1", "R1", 4_000, cycle),
            chargeback_call("bank-b", "P2", 20_000, cycle),
        ]
    )
    return chain, [ledger_payment(chain, p) for p in ("P1", "P2", "P3")]


def test_payment_activity_is_derived_from_the_ledger(ledger: tuple[Chain, list[Payment]]) -> None:
    chain, payments = ledger
    body = payment_activity(chain.suite.hash, ALICE, PERIOD, "bank-b", payments)
    assert record_problem(body) is None
    assert (body.count, body.amount_minor, body.chargebacks) == (2, 6_000 + 20_000, 1)
    assert body.reference == payment_ids_reference(chain.suite.hash, ["P2", "P1"])
    check_payment_activity(chain.suite.hash, body, "bank-b", payments)


def test_a_record_that_is_not_what_the_ledger_gives_is_refused(
    ledger: tuple[Chain, list[Payment]],
) -> None:
    chain, payments = ledger
    body = payment_activity(chain.suite.hash, ALICE, PERIOD, "bank-b", payments)
    for changed in (
        msgspec.structs.replace(body, amount_minor=body.amount_minor + 1),
        msgspec.structs.replace(body, chargebacks=0),
    ):
        with pytest.raises(InvalidInput) as error:
            check_payment_activity(chain.suite.hash, changed, "bank-b", payments)
        assert error.value.code == "derivation_mismatch"
    with pytest.raises(InvalidInput) as error:
        check_payment_activity(chain.suite.hash, body, "bank-b", payments[1:])  # P1 left out
    assert error.value.code == "derivation_mismatch"


def test_bad_derivations_are_refused(ledger: tuple[Chain, list[Payment]]) -> None:
    chain, payments = ledger
    other_payer = msgspec.structs.replace(
        payments[0],
        authorization=msgspec.structs.replace(payments[0].authorization, payer_hash=bytes(32)),
    )
    cases = [
        ("not_issuer_payment", "bank-a", payments, PERIOD),
        ("mixed_payers", "bank-b", [*payments, other_payer], PERIOD),
        ("no_payment_activity", "bank-b", payments, 202312),
        ("no_payment_activity", "bank-b", payments[2:], PERIOD),
        ("invalid_input", "bank-b", [payments[0], payments[0]], PERIOD),
    ]
    for code, issuer, given, period in cases:
        with pytest.raises(InvalidInput) as error:
            payment_activity(chain.suite.hash, ALICE, period, issuer, given)
        assert error.value.code == code, code
