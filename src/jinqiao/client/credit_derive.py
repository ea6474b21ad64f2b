"""The issuer's monthly job (docs/credit.md, "Records derived from the ledger, wired"): read the
card payments it authorized from the committed blocks (every block checked against its
certificate and roots, every payment read with proofs), derive the ``payment_activity`` record of
each subject it knows for the month, and submit what the chain does not yet hold — the body into
the institution's credit store (its node's, so the node discloses it), the commitment on chain.

Idempotent: a record of the same subject, category and month already committed by the
institution is skipped and reported, and a body already in the store but not yet committed (a
run interrupted between the two) is committed with its stored commitment, never stored twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from jinqiao.apps.credit.derived import payment_activity
from jinqiao.apps.credit.records import Hash, RecordBody, commitment, period_problem
from jinqiao.apps.payments.model import PAYMENTS, Payment
from jinqiao.client.outcome import ClientError
from jinqiao.core.crypto import Signer
from jinqiao.core.errors import InvalidInput
from jinqiao.core.types import ReceiptStatus
from jinqiao.execution.identity import REGISTRY, Account, account_key

if TYPE_CHECKING:
    from jinqiao.client.client import Client
    from jinqiao.credit import CreditStore

AUTHORIZED_EVENT = "PaymentAuthorized"
MAX_SCANNED_BLOCKS = 1_000_000
"""Blocks one run reads at most (``--from-height`` starts a later run where one ended)."""
MAX_PAYMENTS_READ = 100_000
"""Authorizations of the issuer one run reads at most (the derivation's own bound)."""
SUBMITTED = "submitted"
ALREADY_COMMITTED = "already_committed"
RESUBMITTED = "committed_from_store"


@dataclass(frozen=True)
class DerivedPayments:
    """The records derived from the issuer's payments in blocks ``from_height``..``to_height``:
    one per known subject with captured payments authorized in the month; ``payments`` the
    issuer's authorizations read, ``unknown_payers`` those of payers it links to no subject."""

    records: list[RecordBody]
    from_height: int
    to_height: int
    payments: int
    unknown_payers: int


@dataclass(frozen=True)
class DerivedOutcome:
    """What happened to one derived record: ``status`` ``submitted``, ``committed_from_store``
    (stored by an interrupted run, committed now), ``already_committed`` (skipped), or a rejection
    code of ``submit_record``; ``height`` the block of the commitment (0 if none)."""

    record: RecordBody
    status: str
    height: int = 0


def check_period(text: str) -> int:
    """``YYYY-MM`` (or ``YYYYMM``) as the integer month ``YYYYMM``; ``invalid_period`` otherwise."""
    digits = text.strip().replace("-", "", 1)
    period = int(digits) if len(digits) == 6 and digits.isdigit() else 0
    problem = period_problem(period) if period else f"{text!r} is not a month YYYY-MM"
    if problem is not None:
        raise InvalidInput(problem, code="invalid_period")
    return period


def organization_of(client: Client, account: bytes) -> str:
    """The organization of ``account``, read with proofs from the registry."""
    record = client.read_struct(REGISTRY, account_key(account), Account)
    if record is None:
        raise InvalidInput(f"account {account.hex()} is not registered", code="unknown_account")
    return str(record.organization)


def issuer_payment_ids(client: Client, issuer: str, from_height: int) -> tuple[list[str], int]:
    """The ids of the payments ``issuer`` authorized in committed blocks from ``from_height`` to
    the head (each block proven), and the last height read."""
    head = int(client.status()["height"])
    if head - from_height + 1 > MAX_SCANNED_BLOCKS:
        raise InvalidInput(
            f"at most {MAX_SCANNED_BLOCKS} blocks per run: start later with --from-height",
            code="invalid_input",
        )
    ids: list[str] = []
    for height in range(max(1, from_height), head + 1):
        block = client.proven_block(height)
        for receipt in block.receipts:
            if receipt.status != int(ReceiptStatus.OK):
                continue
            for event in receipt.events:
                if (event.contract, event.name, event.attribute("issuer")) == (
                    PAYMENTS,
                    AUTHORIZED_EVENT,
                    issuer,
                ):
                    ids.append(str(event.attribute("payment_id")))
        if len(ids) > MAX_PAYMENTS_READ:
            raise InvalidInput(
                f"more than {MAX_PAYMENTS_READ} authorizations: run over fewer blocks",
                code="invalid_input",
            )
    return ids, head


def derive_payment_records(
    client: Client,
    issuer: str,
    period: int,
    payers: Mapping[bytes, bytes],
    from_height: int = 1,
) -> DerivedPayments:
    """The ``payment_activity`` records of ``period`` for the subjects ``payers`` links (payer
    hash → subject) from the payments ``issuer`` authorized, read from the ledger with proofs."""
    ids, head = issuer_payment_ids(client, issuer, from_height)
    by_payer: dict[bytes, list[Payment]] = {}
    unknown = 0
    for payment_id in ids:
        payment = client.payments.payment(payment_id)
        if payment is None:
            raise InvalidInput(f"payment {payment_id} is not in state", code="unknown_payment")
        payer = payment.authorization.payer_hash
        if payer not in payers:
            unknown += 1
            continue
        by_payer.setdefault(payer, []).append(payment)
    records = []
    for payer, payments in sorted(by_payer.items()):
        try:
            body = payment_activity(client.suite.hash, payers[payer], period, issuer, payments)
        except InvalidInput as error:
            if error.code == "no_payment_activity":
                continue
            raise
        records.append(body)
    return DerivedPayments(records, max(1, from_height), head, len(ids), unknown)


@dataclass
class _Committed:
    """The institution's commitments of one subject on chain, by (category, period)."""

    known: set[tuple[str, int]] = field(default_factory=set)
    heights: dict[tuple[str, int], int] = field(default_factory=dict)


def _committed_by(client: Client, subject: bytes, organization: str) -> _Committed:
    committed = _Committed()
    try:
        file = client.credit.subject_file(subject)
    except ClientError as error:
        # The subject rule lets the institutions that know a subject read it: refused means
        # this institution never submitted (or consented) for it, so it has nothing committed.
        if error.status == 403:
            return committed
        raise
    for record in file.records:
        if record.submitter == organization:
            slot = (record.category, record.period)
            committed.known.add(slot)
            committed.heights[slot] = record.height
    return committed


def _stored_commitment(store: CreditStore, hash_function: Hash, body: RecordBody) -> bytes | None:
    for disclosure in store.disclose(body.subject, (body.category,)):
        if disclosure.body == body:
            return commitment(hash_function, disclosure.salt, body)
    return None


def submit_derived(
    client: Client, submitter: Signer, store: CreditStore, records: Sequence[RecordBody]
) -> list[DerivedOutcome]:
    """Store and commit each record the institution has not committed yet (module docstring)."""
    organization = organization_of(client, submitter.address)
    outcomes = []
    for body in records:
        committed = _committed_by(client, body.subject, organization)
        slot = (body.category, body.period)
        if slot in committed.known:
            outcomes.append(DerivedOutcome(body, ALREADY_COMMITTED, committed.heights[slot]))
            continue
        digest = _stored_commitment(store, client.suite.hash, body)
        status = SUBMITTED if digest is None else RESUBMITTED
        if digest is None:
            digest = store.add(body).commitment
        result = client.credit.submit_record(
            submitter, body.subject, body.category, body.period, digest
        )
        outcomes.append(DerivedOutcome(body, status if result.ok else result.code, result.height))
    return outcomes


__all__ = [
    "ALREADY_COMMITTED",
    "RESUBMITTED",
    "SUBMITTED",
    "DerivedOutcome",
    "DerivedPayments",
    "check_period",
    "derive_payment_records",
    "submit_derived",
]
