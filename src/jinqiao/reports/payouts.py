"""What an acquirer owes each of its merchants for one settled cycle, from its statement.

The statement of an acquirer holds every clearing event of the cycle where it is the acquirer
(``side`` ``acquirer``); the payment record names each payment's merchant. A merchant's payout
for the cycle is **gross**:

    amount = captured + represented - refunded - charged back

over its settled lines of the cycle (lines ``unwound`` by the default procedure are left out: they
are not settled by this network). Nothing is deducted: the interbank fees are between the
institutions, and the acquirer fee recorded on chain (the merchant discount, ``acquirer_fee_minor``
of its captures) is reported next to the amount but billed under the merchant agreement, not
netted here. A merchant whose amount is 0 or negative (its refunds and chargebacks in this cycle
exceed its sales) is owed nothing: it gets no credit transfer, and the acquirer collects the debit
under the merchant agreement.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from jinqiao.apps.payments.model import (
    ACQUIRER_SIDE,
    CAPTURE,
    CHARGEBACK,
    CYCLE_SETTLED,
    REFUND,
    REPRESENTMENT,
    SETTLED,
)
from jinqiao.core.errors import InvalidInput
from jinqiao.reports.statement import Statement, StatementLine


class MerchantPayout(msgspec.Struct, frozen=True, kw_only=True):
    """One merchant's settled clearing in a cycle, in minor units: the amounts by kind, the
    acquirer fees recorded on its captures (not deducted) and ``amount_minor``, what it is owed
    (captured + represented - refunded - charged back; 0 or less: nothing)."""

    merchant_id: str
    name: str
    lines: int
    captured_minor: int
    represented_minor: int
    refunded_minor: int
    charged_back_minor: int
    acquirer_fee_minor: int
    amount_minor: int


def require_settled(cycle_id: int, status: str) -> None:
    """Raise ``InvalidInput`` (``cycle_not_settled``) unless the cycle has settled."""
    if status != CYCLE_SETTLED:
        raise InvalidInput(
            f"cycle {cycle_id} is {status}, not settled",
            code="cycle_not_settled",
            cycle_id=cycle_id,
        )


def not_acquirer(institution: str, cycle_id: int) -> InvalidInput:
    return InvalidInput(
        f"{institution} acquired no payments in cycle {cycle_id}",
        code="not_acquirer_in_cycle",
        institution=institution,
        cycle_id=cycle_id,
    )


def _payout(merchant_id: str, name: str, lines: list[StatementLine]) -> MerchantPayout:
    def total(kind: str) -> int:
        return sum(line.amount_minor for line in lines if line.kind == kind)

    captured, represented = total(CAPTURE), total(REPRESENTMENT)
    refunded, charged_back = total(REFUND), total(CHARGEBACK)
    return MerchantPayout(
        merchant_id=merchant_id,
        name=name,
        lines=len(lines),
        captured_minor=captured,
        represented_minor=represented,
        refunded_minor=refunded,
        charged_back_minor=charged_back,
        acquirer_fee_minor=sum(line.acquirer_fee_minor for line in lines),
        amount_minor=captured + represented - refunded - charged_back,
    )


def merchant_payouts(
    statement: Statement,
    merchant_of: Mapping[str, str],
    names: Mapping[str, str] | None = None,
) -> tuple[MerchantPayout, ...]:
    """Every merchant of the statement's institution (an acquirer) with settled lines in the
    cycle, by merchant id. ``merchant_of`` maps each payment id of the statement's acquirer lines
    to its merchant id (the payment record's ``authorization.merchant_id``); ``names`` the
    merchant ids to their registered names. Raises ``InvalidInput``: ``cycle_not_settled``
    before settlement, ``not_acquirer_in_cycle`` when the institution acquired nothing in the
    cycle, ``invalid_input`` when a payment's merchant is not given."""
    require_settled(statement.cycle_id, statement.cycle_status)
    acquired = [line for line in statement.lines if line.side == ACQUIRER_SIDE]
    if not acquired:
        raise not_acquirer(statement.institution, statement.cycle_id)
    by_merchant: dict[str, list[StatementLine]] = {}
    for line in acquired:
        if line.status != SETTLED:
            continue
        merchant_id = merchant_of.get(line.payment_id)
        if merchant_id is None:
            raise InvalidInput(
                f"no merchant given for payment {line.payment_id}", payment_id=line.payment_id
            )
        by_merchant.setdefault(merchant_id, []).append(line)
    known = names or {}
    return tuple(
        _payout(merchant_id, known.get(merchant_id, ""), by_merchant[merchant_id])
        for merchant_id in sorted(by_merchant)
    )
