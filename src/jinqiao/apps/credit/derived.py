"""Behaviour records derived from the ledger instead of typed in again: a cardholder's
``payment_activity`` for a month, from the card payments the issuer recorded in ``payments``;
a core enterprise's repaid or past-due receivables, from ``supplychain`` (``receivable_records``,
below).

The issuer knows which of its payers is which subject (its ``payer_hash`` is a keyed hash under
the issuer's own key); the chain does not. So the issuer reads its payer's payments from the
ledger (the ``payments.payment`` query, with proofs) and calls ``payment_activity``; the record's
``reference`` is the hash of the sorted ids of the payments it counts, so an auditor given those
ids reads the same payments from the ledger and checks the record with
``check_payment_activity``.

A payment counts in the month (UTC) of its authorization time once captured: ``count`` is the
number of such payments, ``amount_minor`` the sum of what was captured less what was refunded,
``chargebacks`` the number charged back (whether or not represented later).

A receivable root (``supplychain.root``, proven) says whether it is repaid or marked past due
but not when: the block time of its ``ReceivableRepaid`` / ``ReceivablePastDue`` event's block
does (``Client.prove_event`` and the proven header's ``time_ms``). From the root and those times
``receivable_records`` gives, with reference ``receivable-<root id>`` (ADR 0036):

- marked past due: ``defaults``, owed the face value, in the month of the marking;
- repaid: ``repayments`` of the face value, ``days_past_due`` the whole days from the due time to
  the repayment (at most ``MAX_DAYS_PAST_DUE``), in the month of the repayment; and if it had
  been marked past due, ``recoveries`` of the face value in the same month.

Pure: the caller passes the network's hash function.
"""

from __future__ import annotations

from collections.abc import Sequence

from jinqiao.apps.credit.features import MS_PER_DAY, period_of_time
from jinqiao.apps.credit.model import DEFAULTS, PAYMENT_ACTIVITY, RECOVERIES, REPAYMENTS
from jinqiao.apps.credit.records import MAX_DAYS_PAST_DUE, Hash, RecordBody, record_problem
from jinqiao.apps.payments.model import Payment
from jinqiao.apps.supplychain.model import Root
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


def receivable_reference(root_id: int) -> str:
    """The ``reference`` of a record derived from receivable ``root_id``."""
    return f"receivable-{root_id}"


def receivable_records(
    subject: bytes, root: Root, past_due_time_ms: int | None, repaid_time_ms: int | None
) -> list[RecordBody]:
    """The records of the obligor ``subject`` that receivable ``root`` gives (module
    docstring). ``past_due_time_ms`` and ``repaid_time_ms`` are the block times of its marking
    and its repayment, given exactly when the root is marked past due and repaid."""
    for time_ms, happened, what in (
        (past_due_time_ms, root.past_due, "marked past due"),
        (repaid_time_ms, root.repaid, "repaid"),
    ):
        if (time_ms is None) == happened:
            raise InvalidInput(
                f"receivable {root.id} is {'' if happened else 'not '}{what}: its block time"
                f" must be {'given' if happened else 'none'}",
                code="invalid_input",
            )
        if time_ms is not None and time_ms < root.due_time_ms:
            raise InvalidInput(
                f"receivable {root.id} cannot be {what} before its due time {root.due_time_ms}",
                code="invalid_input",
            )
    reference = receivable_reference(root.id)
    face = root.face_value_minor
    records = []
    if past_due_time_ms is not None:
        marked = period_of_time(past_due_time_ms)
        records.append(RecordBody(subject, DEFAULTS, marked, reference, face, 0, 0, 0))
    if repaid_time_ms is not None:
        period = period_of_time(repaid_time_ms)
        days_late = min(MAX_DAYS_PAST_DUE, (repaid_time_ms - root.due_time_ms) // MS_PER_DAY)
        records.append(RecordBody(subject, REPAYMENTS, period, reference, face, days_late, 0, 0))
        if past_due_time_ms is not None:
            records.append(RecordBody(subject, RECOVERIES, period, reference, face, 0, 0, 0))
    if not records:
        raise InvalidInput(
            f"receivable {root.id} is neither repaid nor marked past due",
            code="no_receivable_activity",
        )
    for body in records:
        problem = record_problem(body)
        if problem is not None:
            raise InvalidInput(problem, code="invalid_record")
    return records


def check_receivable_record(
    body: RecordBody, root: Root, past_due_time_ms: int | None, repaid_time_ms: int | None
) -> None:
    """Check a disclosed record against the receivable it names (read from the ledger with the
    block times of its events): ``derivation_mismatch`` unless the root gives exactly it."""
    derived = receivable_records(body.subject, root, past_due_time_ms, repaid_time_ms)
    if body not in derived:
        raise InvalidInput(
            f"the record is not what receivable {root.id} on the ledger gives",
            code="derivation_mismatch",
        )
