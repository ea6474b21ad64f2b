"""The payment lifecycle: authorize, reverse, capture, refund, charge back, represent.

Who signs what (the card-network roles; ``docs/payments.md`` has the diagram):

==============  ======================  =================================================
transition      signed by               from status
==============  ======================  =================================================
authorize       the issuer              (new)
reverse         the acquirer            authorized
capture         the acquirer            authorized (amount up to the authorized one)
refund          the acquirer            captured, represented (up to what it still holds)
chargeback      the issuer              captured (up to captured less refunded)
represent       the acquirer            charged_back (up to the chargeback)
==============  ======================  =================================================

"Signed by the issuer" means by an account with role ``card_issuer`` of the issuer's
organization (the account role is checked by the runtime, the organization here). Every
transition is idempotent: the same payment (or refund) id with the same content returns the
stored record and changes nothing; different content is refused ``payment_conflict``.

A capture goes into an open cycle of the payment's currency. A refund, chargeback or
representment goes into the cycle of the event it follows while that cycle is open, or into a
later cycle once that one has settled; never into an earlier cycle.
"""

from __future__ import annotations

from typing import NoReturn

import msgspec

from jinqiao.apps.payments.clearing import record_event
from jinqiao.apps.payments.common import (
    active_institution,
    check_currency,
    check_reference,
    load_cycle,
    load_payment,
    open_cycle_for,
    require_party,
)
from jinqiao.apps.payments.fees import compute_fees, find_rule
from jinqiao.apps.payments.model import (
    ACQUIRER_ROLE,
    AUTHORIZATION_CODE,
    AUTHORIZED,
    CAPTURE,
    CAPTURED,
    CARD_ISSUER_ROLE,
    CARD_TYPES,
    CHANNELS,
    CHARGEBACK,
    CHARGED_BACK,
    CYCLE_SETTLED,
    MAX_REFUNDS_PER_PAYMENT,
    MAX_TIME_MS,
    NO_FEES,
    PAYER_HASH_BYTES,
    REASON_CODE,
    REFUND,
    REPRESENTED,
    REPRESENTMENT,
    REVERSED,
    AuthorizeArgs,
    Capture,
    CaptureArgs,
    Chargeback,
    ChargebackArgs,
    Cycle,
    FeeSchedule,
    Merchant,
    Payment,
    PaymentArgs,
    Refund,
    RefundArgs,
    RepresentArgs,
    Representment,
    fee_schedule_key,
    merchant_key,
    payment_key,
    refund_key,
)
from jinqiao.core.errors import NodeFault
from jinqiao.execution.api import Context, check_amount, method


class Lifecycle:
    """The payment methods of the payments contract (a mixin of ``Payments``)."""

    @method(AuthorizeArgs, roles=(CARD_ISSUER_ROLE,))
    def authorize(self, ctx: Context, args: AuthorizeArgs) -> Payment:
        """Record an authorization the issuer approved."""
        _check_authorization(ctx, args)
        require_party(ctx, args.issuer, "authorize")
        existing = ctx.state.load(payment_key(args.payment_id), Payment)
        if existing is not None:
            if existing.authorization != args:
                _conflict(ctx, args.payment_id, "authorization")
            return existing
        check_currency(ctx, args.currency)
        active_institution(ctx, args.issuer, CARD_ISSUER_ROLE)
        active_institution(ctx, args.acquirer, ACQUIRER_ROLE)
        check_reference(ctx, args.merchant_id, "invalid_merchant_id", "merchant_id")
        merchant = ctx.state.load(merchant_key(args.acquirer, args.merchant_id), Merchant)
        if merchant is None:
            ctx.reject(
                "unknown_merchant",
                f"acquirer {args.acquirer} has no merchant {args.merchant_id!r}",
                acquirer=args.acquirer,
                merchant_id=args.merchant_id,
            )
        payment = Payment(args, merchant.mcc, AUTHORIZED, ctx.height, 0, None, 0, 0, None, None)
        ctx.state.save(payment_key(args.payment_id), payment)
        ctx.emit(
            "PaymentAuthorized",
            payment_id=args.payment_id,
            issuer=args.issuer,
            acquirer=args.acquirer,
            merchant_id=args.merchant_id,
            amount_minor=args.amount_minor,
            currency=args.currency,
        )
        return payment

    @method(PaymentArgs, roles=(ACQUIRER_ROLE,))
    def reverse(self, ctx: Context, args: PaymentArgs) -> Payment:
        """Cancel an authorization that was not captured (the merchant's side reverses it)."""
        payment = load_payment(ctx, args.payment_id)
        require_party(ctx, payment.authorization.acquirer, "reverse")
        if payment.status == REVERSED:
            return payment
        _require_status(ctx, payment, "reverse", AUTHORIZED)
        reversed_payment = msgspec.structs.replace(
            payment, status=REVERSED, reversed_height=ctx.height
        )
        ctx.state.save(payment_key(args.payment_id), reversed_payment)
        ctx.emit("PaymentReversed", payment_id=args.payment_id)
        return reversed_payment

    @method(CaptureArgs, roles=(ACQUIRER_ROLE,))
    def capture(self, ctx: Context, args: CaptureArgs) -> Payment:
        """Present an authorized payment for clearing in an open cycle, in full or in part;
        its fees are computed now, once."""
        check_amount(ctx, args.amount_minor, allow_zero=False)
        payment = load_payment(ctx, args.payment_id)
        authorization = payment.authorization
        require_party(ctx, authorization.acquirer, "capture")
        if payment.capture is not None:
            if (payment.capture.amount_minor, payment.capture.cycle_id) != (
                args.amount_minor,
                args.cycle_id,
            ):
                _conflict(ctx, args.payment_id, "capture")
            return payment
        _require_status(ctx, payment, "capture", AUTHORIZED)
        if args.amount_minor > authorization.amount_minor:
            ctx.reject(
                "capture_exceeds_authorized",
                f"the authorized amount is {authorization.amount_minor}",
                authorized_minor=authorization.amount_minor,
            )
        cycle = open_cycle_for(ctx, args.cycle_id, authorization.currency)
        active_institution(ctx, authorization.issuer, CARD_ISSUER_ROLE)
        active_institution(ctx, authorization.acquirer, ACQUIRER_ROLE)
        schedule = ctx.state.load(fee_schedule_key(authorization.currency), FeeSchedule)
        if schedule is None:
            ctx.reject(
                "no_fee_schedule",
                f"no fee schedule for {authorization.currency}",
                currency=authorization.currency,
            )
        rule = find_rule(schedule.rules, authorization.card_type, payment.mcc)
        if rule is None:
            ctx.reject(
                "no_fee_rule",
                f"no fee rule for {authorization.card_type} cards in category {payment.mcc}",
                card_type=authorization.card_type,
                mcc=payment.mcc,
            )
        fees = compute_fees(args.amount_minor, rule)
        record_event(ctx, cycle, CAPTURE, payment, args.amount_minor, fees)
        capture = Capture(args.amount_minor, cycle.cycle_id, fees, schedule.version, ctx.height)
        captured = msgspec.structs.replace(payment, status=CAPTURED, capture=capture)
        ctx.state.save(payment_key(args.payment_id), captured)
        ctx.emit(
            "PaymentCaptured",
            payment_id=args.payment_id,
            cycle_id=cycle.cycle_id,
            amount_minor=args.amount_minor,
            issuer_fee_minor=fees.issuer_fee_minor,
            issuer_network_fee_minor=fees.issuer_network_fee_minor,
            acquirer_network_fee_minor=fees.acquirer_network_fee_minor,
            acquirer_fee_minor=fees.acquirer_fee_minor,
        )
        return captured

    @method(RefundArgs, roles=(ACQUIRER_ROLE,))
    def refund(self, ctx: Context, args: RefundArgs) -> Refund:
        """Return part or all of a captured payment to the payer; the acquirer owes the issuer
        the amount. Refunds never exceed what was captured (less earlier refunds and any
        chargeback not represented)."""
        check_amount(ctx, args.amount_minor, allow_zero=False)
        check_reference(ctx, args.refund_id, "invalid_refund_id", "refund_id")
        payment = load_payment(ctx, args.payment_id)
        require_party(ctx, payment.authorization.acquirer, "refund")
        key = refund_key(args.payment_id, args.refund_id)
        existing = ctx.state.load(key, Refund)
        if existing is not None:
            if (existing.amount_minor, existing.cycle_id) != (args.amount_minor, args.cycle_id):
                _conflict(ctx, args.payment_id, "refund")
            return existing
        _require_status(ctx, payment, "refund", CAPTURED, REPRESENTED)
        capture = _captured(payment)
        if payment.refund_count >= MAX_REFUNDS_PER_PAYMENT:
            ctx.reject("too_many_refunds", f"at most {MAX_REFUNDS_PER_PAYMENT} refunds per payment")
        refundable = capture.amount_minor - payment.refunded_minor - _disputed(payment)
        if args.amount_minor > refundable:
            ctx.reject(
                "refund_exceeds_captured",
                f"at most {refundable} can still be refunded",
                refundable_minor=refundable,
            )
        cycle = self._follow_up_cycle(ctx, payment, args.cycle_id, capture.cycle_id)
        record_event(
            ctx, cycle, REFUND, payment, args.amount_minor, NO_FEES, reference=args.refund_id
        )
        refund = Refund(
            args.payment_id, args.refund_id, args.amount_minor, args.cycle_id, ctx.height
        )
        ctx.state.save(key, refund)
        ctx.state.save(
            payment_key(args.payment_id),
            msgspec.structs.replace(
                payment,
                refunded_minor=payment.refunded_minor + args.amount_minor,
                refund_count=payment.refund_count + 1,
            ),
        )
        ctx.emit(
            "PaymentRefunded",
            payment_id=args.payment_id,
            refund_id=args.refund_id,
            cycle_id=args.cycle_id,
            amount_minor=args.amount_minor,
        )
        return refund

    @method(ChargebackArgs, roles=(CARD_ISSUER_ROLE,))
    def chargeback(self, ctx: Context, args: ChargebackArgs) -> Payment:
        """Dispute a captured payment for the payer with a network reason code; the acquirer
        owes the issuer the amount."""
        check_amount(ctx, args.amount_minor, allow_zero=False)
        if not REASON_CODE.fullmatch(args.reason_code):
            ctx.reject("invalid_reason_code", "a reason code is 1..8 letters, digits or '.'")
        payment = load_payment(ctx, args.payment_id)
        require_party(ctx, payment.authorization.issuer, "charge back")
        if payment.chargeback is not None:
            recorded = payment.chargeback
            if (recorded.amount_minor, recorded.reason_code, recorded.cycle_id) != (
                args.amount_minor,
                args.reason_code,
                args.cycle_id,
            ):
                _conflict(ctx, args.payment_id, "chargeback")
            return payment
        _require_status(ctx, payment, "charge back", CAPTURED)
        capture = _captured(payment)
        disputable = capture.amount_minor - payment.refunded_minor
        if args.amount_minor > disputable:
            ctx.reject(
                "chargeback_exceeds_captured",
                f"at most {disputable} can be charged back",
                disputable_minor=disputable,
            )
        cycle = self._follow_up_cycle(ctx, payment, args.cycle_id, capture.cycle_id)
        record_event(ctx, cycle, CHARGEBACK, payment, args.amount_minor, NO_FEES)
        chargeback = Chargeback(args.amount_minor, args.reason_code, args.cycle_id, ctx.height)
        disputed = msgspec.structs.replace(payment, status=CHARGED_BACK, chargeback=chargeback)
        ctx.state.save(payment_key(args.payment_id), disputed)
        ctx.emit(
            "PaymentChargedBack",
            payment_id=args.payment_id,
            cycle_id=args.cycle_id,
            amount_minor=args.amount_minor,
            reason_code=args.reason_code,
        )
        return disputed

    @method(RepresentArgs, roles=(ACQUIRER_ROLE,))
    def represent(self, ctx: Context, args: RepresentArgs) -> Payment:
        """Contest a chargeback (second presentment), for up to its amount; the issuer owes the
        acquirer the amount again."""
        check_amount(ctx, args.amount_minor, allow_zero=False)
        payment = load_payment(ctx, args.payment_id)
        require_party(ctx, payment.authorization.acquirer, "represent")
        if payment.representment is not None:
            recorded = payment.representment
            if (recorded.amount_minor, recorded.cycle_id) != (args.amount_minor, args.cycle_id):
                _conflict(ctx, args.payment_id, "representment")
            return payment
        _require_status(ctx, payment, "represent", CHARGED_BACK)
        chargeback = payment.chargeback
        if chargeback is None:
            raise NodeFault("a charged back payment has no chargeback", payment_id=args.payment_id)
        if args.amount_minor > chargeback.amount_minor:
            ctx.reject(
                "representment_exceeds_chargeback",
                f"the chargeback was {chargeback.amount_minor}",
                chargeback_minor=chargeback.amount_minor,
            )
        cycle = self._follow_up_cycle(ctx, payment, args.cycle_id, chargeback.cycle_id)
        record_event(ctx, cycle, REPRESENTMENT, payment, args.amount_minor, NO_FEES)
        representment = Representment(args.amount_minor, args.cycle_id, ctx.height)
        represented = msgspec.structs.replace(
            payment, status=REPRESENTED, representment=representment
        )
        ctx.state.save(payment_key(args.payment_id), represented)
        ctx.emit(
            "PaymentRepresented",
            payment_id=args.payment_id,
            cycle_id=args.cycle_id,
            amount_minor=args.amount_minor,
        )
        return represented

    def _follow_up_cycle(
        self, ctx: Context, payment: Payment, cycle_id: int, after_cycle_id: int
    ) -> Cycle:
        """The open cycle a refund, chargeback or representment goes into: the cycle of the
        events it follows while that is open, or a later one once that has settled — so a
        follow-up never rests on an event that could still be unwound, nor on one that was."""
        cycle = open_cycle_for(ctx, cycle_id, payment.authorization.currency)
        if cycle_id < after_cycle_id:
            ctx.reject(
                "cycle_out_of_order",
                f"this follows an event cleared in cycle {after_cycle_id}",
                after_cycle_id=after_cycle_id,
            )
        for earlier_id in _event_cycles(payment):
            if earlier_id == cycle_id:
                continue
            earlier = load_cycle(ctx, earlier_id)
            parties = (payment.authorization.issuer, payment.authorization.acquirer)
            if any(party in earlier.excluded for party in parties):
                ctx.reject(
                    "payment_unwound",
                    f"payment {payment.authorization.payment_id} was unwound from cycle "
                    f"{earlier_id}",
                    cycle_id=earlier_id,
                )
            if earlier.status != CYCLE_SETTLED:
                ctx.reject(
                    "earlier_cycle_unsettled",
                    f"cycle {earlier_id}, which holds an earlier event of this payment, has not "
                    "settled yet",
                    cycle_id=earlier_id,
                )
        return cycle


def _check_authorization(ctx: Context, args: AuthorizeArgs) -> None:
    check_reference(ctx, args.payment_id, "invalid_payment_id", "payment_id")
    check_amount(ctx, args.amount_minor, allow_zero=False)
    if len(args.payer_hash) != PAYER_HASH_BYTES:
        ctx.reject("invalid_payer_hash", f"payer_hash is a {PAYER_HASH_BYTES}-byte keyed hash")
    if args.channel not in CHANNELS:
        ctx.reject("invalid_channel", f"channel must be one of {list(CHANNELS)}")
    if args.card_type not in CARD_TYPES:
        ctx.reject("invalid_card_type", f"card_type must be one of {list(CARD_TYPES)}")
    if not AUTHORIZATION_CODE.fullmatch(args.authorization_code):
        ctx.reject("invalid_authorization_code", "an authorization code is six alphanumerics")
    if not 0 <= args.time_ms <= MAX_TIME_MS:
        ctx.reject("invalid_time", f"time_ms must be 0..{MAX_TIME_MS}")


def _require_status(ctx: Context, payment: Payment, transition: str, *allowed: str) -> None:
    if payment.status not in allowed:
        ctx.reject(
            "invalid_transition",
            f"cannot {transition} a payment that is {payment.status}",
            status=payment.status,
            transition=transition,
        )


def _conflict(ctx: Context, payment_id: str, what: str) -> NoReturn:
    ctx.reject(
        "payment_conflict",
        f"payment {payment_id} already has a different {what}",
        payment_id=payment_id,
        what=what,
    )


def _captured(payment: Payment) -> Capture:
    if payment.capture is None:
        raise NodeFault(
            "a captured payment has no capture", payment_id=payment.authorization.payment_id
        )
    return payment.capture


def _disputed(payment: Payment) -> int:
    """What a chargeback holds back and no representment has returned."""
    if payment.chargeback is None:
        return 0
    represented = 0 if payment.representment is None else payment.representment.amount_minor
    return payment.chargeback.amount_minor - represented


def _event_cycles(payment: Payment) -> tuple[int, ...]:
    cycles = []
    if payment.capture is not None:
        cycles.append(payment.capture.cycle_id)
    if payment.chargeback is not None and payment.chargeback.cycle_id not in cycles:
        cycles.append(payment.chargeback.cycle_id)
    return tuple(cycles)
