"""Behaviour records derived from the ledger instead of typed in again: a cardholder's
``payment_activity`` for a month, from the card payments the issuer recorded in ``payments``.

The issuer knows which of its payers is which subject (its ``payer_hash`` is a keyed hash under
the issuer's own key); the chain does not. So the issuer reads its payer's payments from the
ledger (the ``payments.payment`` query, with proofs) and calls ``payment_activity``; the record's
``reference`` is the hash of the sorted ids of the payments it counts, so an auditor given those
ids reads the same payments from the ledger and checks the record with
``check_payment_activity``.

A payment counts in the month (UTC) of its authorization time once captured: ``count`` is the
number of such payments, ``amount_minor`` the sum of what was captured less what was refunded,
``chargebacks`` the number charged back (whether or not represented later).

Pure: the caller passes the network's hash function.
"""

from __future__ import annotations

from collections.abc import Sequence

from jinqiao.apps.credit.features import period_of_time
from jinqiao.apps.credit.model import PAYMENT_ACTIVITY
from jinqiao.apps.credit.records import Hash, RecordBody
from jinqiao.apps.payments.model import Payment
from jinqiao.core.codec import encode
from jinqiao.core.errors import InvalidInput

PAYMENTS_DOMAIN = b"jinqiao/credit/payment_ids/v1\x00"
MAX_DERIVED_PAYMENTS = 100_000


def payment_ids_reference(hash_function: Hash, payment_ids: Sequence[str]) -> str:
    """The ``reference`` of a derived record: hex of the hash of the sorted payment ids."""
    return hash_function(PAYMENTS_DOMAIN + encode(sorted(payment_ids))).hex()


def payment_activity(
    hash_function: Hash, subject: bytes, period: int, issuer: str, payments: Sequence[Payment]
) -> RecordBody:
    """The ``payment_activity`` record of ``subject`` in ``period`` from its payments at
    ``issuer`` (all of one payer; payments of other months or not captured are left out)."""
    if len(payments) > MAX_DERIVED_PAYMENTS:
        raise InvalidInput(
            f"at most {MAX_DERIVED_PAYMENTS} payments per derivation", code="invalid_input"
        )
    if any(p.authorization.issuer != issuer for p in payments):
        raise InvalidInput(f"a payment was not issued by {issuer}", code="not_issuer_payment")
    if len({p.authorization.payer_hash for p in payments}) > 1:
        raise InvalidInput("the payments are of more than one payer", code="mixed_payers")
    counted = [
        p
        for p in payments
        if p.capture is not None and period_of_time(p.authorization.time_ms) == period
    ]
    if not counted:
        raise InvalidInput(
            f"no captured payment was authorized in {period}", code="no_payment_activity"
        )
    if len({p.authorization.payment_id for p in counted}) != len(counted):
        raise InvalidInput("a payment is given twice", code="invalid_input")
    amount_minor = 0
    for payment in counted:
        if payment.capture is not None:
            amount_minor += max(0, payment.capture.amount_minor - payment.refunded_minor)
    return RecordBody(
        subject,
        PAYMENT_ACTIVITY,
        period,
        payment_ids_reference(hash_function, [p.authorization.payment_id for p in counted]),
        amount_minor,
        0,
        len(counted),
        sum(1 for p in counted if p.chargeback is not None),
    )


def check_payment_activity(
    hash_function: Hash, body: RecordBody, issuer: str, payments: Sequence[Payment]
) -> None:
    """Check a disclosed ``payment_activity`` record against the payments it names (read from
    the ledger): ``derivation_mismatch`` unless it is exactly what they give."""
    derived = payment_activity(hash_function, body.subject, body.period, issuer, payments)
    if derived != body:
        raise InvalidInput(
            "the record is not what these payments on the ledger give",
            code="derivation_mismatch",
        )
