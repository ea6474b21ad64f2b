"""The payments contract: participants, fee schedules, queries and genesis; the payment lifecycle
(``lifecycle.Lifecycle``) and the cycles and their settlement (``settlement.Settlement``) are
mixed in. ``docs/payments.md`` is the full description."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinqiao.apps.payments.clearing import load_participants
from jinqiao.apps.payments.common import (
    check_currency,
    check_reference,
    load_cycle,
    load_institution,
    load_payment,
    sender_institution,
)
from jinqiao.apps.payments.config import genesis_records, load_payments_config
from jinqiao.apps.payments.fees import compute_fees, find_rule, rules_problem
from jinqiao.apps.payments.lifecycle import Lifecycle
from jinqiao.apps.payments.model import (
    ACQUIRER_ROLE,
    CARD_TYPES,
    CLEARING_HOUSE_ROLE,
    CYCLE_SETTLED,
    MAX_ENTRIES_PAGE,
    MCC,
    NOT_CLEARED,
    PAYMENT_ROLES,
    PAYMENTS,
    PENDING,
    SETTLED,
    UNWOUND,
    Amount,
    CollateralQueryArgs,
    CurrencyArgs,
    Cycle,
    CycleArgs,
    CycleInstitutionArgs,
    CycleTotals,
    Entries,
    EntriesArgs,
    Entry,
    Fees,
    FeeSchedule,
    Flow,
    FlowArgs,
    Institution,
    InstitutionArgs,
    InstitutionCycle,
    Merchant,
    MerchantArgs,
    Participants,
    PaymentArgs,
    PaymentView,
    Position,
    Positions,
    QuoteArgs,
    Refund,
    RefundQueryArgs,
    RegisterInstitutionArgs,
    RegisterMerchantArgs,
    SetFeeScheduleArgs,
    collateral_key,
    cycle_totals_key,
    entry_key,
    fee_schedule_key,
    fee_schedule_version_key,
    flow_key,
    institution_cycle_key,
    institution_key,
    merchant_key,
    position_key,
    refund_key,
)
from jinqiao.apps.payments.settlement import Settlement
from jinqiao.apps.registry import check_address, check_name, load_organization
from jinqiao.core.errors import NodeFault
from jinqiao.core.genesis import IDENTIFIER
from jinqiao.core.limits import MAX_NAME_LENGTH
from jinqiao.execution.api import (
    CONTRACT_ROLE,
    GOVERNANCE,
    Context,
    Contract,
    GenesisContext,
    check_amount,
    method,
    query,
)


class Payments(Lifecycle, Settlement, Contract):
    """Payments recorded on chain, cleared in cycles, netted and settled in the token."""

    name = PAYMENTS

    def genesis(self, ctx: GenesisContext, config: Mapping[str, Any]) -> None:
        records = genesis_records(ctx.genesis, load_payments_config(config))
        for institution in records.institutions:
            ctx.state.save(institution_key(institution.id), institution)
        for merchant in records.merchants:
            ctx.state.save(merchant_key(merchant.acquirer, merchant.merchant_id), merchant)
        for schedule in records.fee_schedules:
            ctx.state.save(fee_schedule_key(schedule.currency), schedule)
            ctx.state.save(fee_schedule_version_key(schedule.currency, schedule.version), schedule)

    # -- participants ---------------------------------------------------------------------------

    @method(RegisterInstitutionArgs, roles=(CLEARING_HOUSE_ROLE,))
    def register_institution(self, ctx: Context, args: RegisterInstitutionArgs) -> Institution:
        """Register an organization for payments, or change its registration (clearing house)."""
        sender_institution(ctx, CLEARING_HOUSE_ROLE)
        organization = load_organization(ctx, args.id)
        roles = tuple(sorted(set(args.roles)))
        if not roles or len(roles) != len(args.roles) or not set(roles) <= set(PAYMENT_ROLES):
            ctx.reject("invalid_roles", f"roles must be distinct, from {list(PAYMENT_ROLES)}")
        for role in roles:
            if role not in organization.roles:
                ctx.reject(
                    "role_not_allowed",
                    f"organization {organization.id} may not hold role {role!r}",
                    role=role,
                )
        check_address(ctx, args.settlement_account, "settlement_account")
        account = ctx.account(args.settlement_account)
        if account is None or account.organization != organization.id:
            ctx.reject(
                "invalid_settlement_account",
                f"the settlement account must be a registered account of {organization.id}",
            )
        cap = args.net_debit_cap_minor
        if cap is not None:
            check_amount(ctx, cap, allow_zero=True)
        key = institution_key(organization.id)
        existing = ctx.state.load(key, Institution)
        pending = 0 if existing is None else existing.pending_cycles
        institution = Institution(
            organization.id, roles, args.settlement_account, cap, args.active, pending
        )
        ctx.state.save(key, institution)
        ctx.emit(
            "InstitutionRegistered",
            institution=organization.id,
            roles=",".join(roles),
            settlement_account=args.settlement_account,
            active=args.active,
        )
        return institution

    @method(RegisterMerchantArgs, roles=(ACQUIRER_ROLE,))
    def register_merchant(self, ctx: Context, args: RegisterMerchantArgs) -> Merchant:
        """Register a merchant of the sender's acquirer, or change its name or category."""
        acquirer = sender_institution(ctx, ACQUIRER_ROLE)
        check_reference(ctx, args.merchant_id, "invalid_merchant_id", "merchant_id")
        check_name(ctx, args.name, "name")
        if not MCC.fullmatch(args.mcc):
            ctx.reject("invalid_mcc", "a merchant category code is four digits")
        merchant = Merchant(acquirer.id, args.merchant_id, args.name, args.mcc)
        ctx.state.save(merchant_key(acquirer.id, args.merchant_id), merchant)
        ctx.emit(
            "MerchantRegistered",
            acquirer=acquirer.id,
            merchant_id=args.merchant_id,
            mcc=args.mcc,
        )
        return merchant

    @method(SetFeeScheduleArgs, roles=(CONTRACT_ROLE,))
    def set_fee_schedule(self, ctx: Context, args: SetFeeScheduleArgs) -> FeeSchedule:
        """Replace a currency's fee schedule. Only the governance contract calls this, when a
        ``call_contract`` proposal is approved; the new version applies to later captures."""
        if ctx.sender != ctx.contract_address(GOVERNANCE):
            ctx.reject("unauthorized", "fee schedules change only through governance")
        check_currency(ctx, args.currency)
        problem = rules_problem(args.rules)
        if problem is not None:
            ctx.reject("invalid_fee_schedule", problem)
        current = ctx.state.load(fee_schedule_key(args.currency), FeeSchedule)
        version = 1 if current is None else current.version + 1
        schedule = FeeSchedule(args.currency, version, args.rules)
        ctx.state.save(fee_schedule_key(args.currency), schedule)
        ctx.state.save(fee_schedule_version_key(args.currency, version), schedule)
        ctx.emit(
            "FeeScheduleChanged", currency=args.currency, version=version, rules=len(args.rules)
        )
        return schedule

    # -- queries: participants and fees -------------------------------------------------------

    @query(InstitutionArgs)
    def institution(self, ctx: Context, args: InstitutionArgs) -> Institution:
        return load_institution(ctx, args.id)

    @query(MerchantArgs)
    def merchant(self, ctx: Context, args: MerchantArgs) -> Merchant:
        merchant = None
        if IDENTIFIER.fullmatch(args.acquirer):
            check_reference(ctx, args.merchant_id, "invalid_merchant_id", "merchant_id")
            merchant = ctx.state.load(merchant_key(args.acquirer, args.merchant_id), Merchant)
        if merchant is None:
            ctx.reject("unknown_merchant", "no such merchant")
        return merchant

    @query(CurrencyArgs)
    def fee_schedule(self, ctx: Context, args: CurrencyArgs) -> FeeSchedule:
        return _fee_schedule(ctx, args.currency)

    @query(QuoteArgs)
    def quote_fees(self, ctx: Context, args: QuoteArgs) -> Fees:
        """The fees a capture of ``amount_minor`` would be charged now."""
        schedule = _fee_schedule(ctx, args.currency)
        if args.card_type not in CARD_TYPES or not MCC.fullmatch(args.mcc):
            ctx.reject("no_fee_rule", "no rule for this card type and category")
        check_amount(ctx, args.amount_minor, allow_zero=False)
        rule = find_rule(schedule.rules, args.card_type, args.mcc)
        if rule is None:
            ctx.reject("no_fee_rule", "no rule for this card type and category")
        return compute_fees(args.amount_minor, rule)

    @query(CollateralQueryArgs)
    def collateral(self, ctx: Context, args: CollateralQueryArgs) -> Amount:
        institution = load_institution(ctx, args.institution)
        check_currency(ctx, args.currency)
        return Amount(ctx.state.load_int(collateral_key(args.currency, institution.id)))

    # -- queries: payments ----------------------------------------------------------------------

    @query(PaymentArgs)
    def payment(self, ctx: Context, args: PaymentArgs) -> PaymentView:
        payment = load_payment(ctx, args.payment_id)
        if payment.capture is None:
            return PaymentView(payment, NOT_CLEARED)
        cycle = load_cycle(ctx, payment.capture.cycle_id)
        authorization = payment.authorization
        if authorization.issuer in cycle.excluded or authorization.acquirer in cycle.excluded:
            return PaymentView(payment, UNWOUND)
        return PaymentView(payment, SETTLED if cycle.status == CYCLE_SETTLED else PENDING)

    @query(RefundQueryArgs)
    def refund_record(self, ctx: Context, args: RefundQueryArgs) -> Refund:
        check_reference(ctx, args.payment_id, "invalid_payment_id", "payment_id")
        check_reference(ctx, args.refund_id, "invalid_refund_id", "refund_id")
        refund = ctx.state.load(refund_key(args.payment_id, args.refund_id), Refund)
        if refund is None:
            ctx.reject("unknown_refund", "no such refund")
        return refund

    # -- queries: cycles ------------------------------------------------------------------------

    @query(CycleArgs)
    def cycle(self, ctx: Context, args: CycleArgs) -> Cycle:
        return load_cycle(ctx, args.cycle_id)

    @query(CycleArgs)
    def cycle_totals(self, ctx: Context, args: CycleArgs) -> CycleTotals:
        cycle = load_cycle(ctx, args.cycle_id)
        return ctx.state.load(cycle_totals_key(cycle.cycle_id), CycleTotals) or CycleTotals()

    @query(CycleArgs)
    def participants(self, ctx: Context, args: CycleArgs) -> Participants:
        cycle = load_cycle(ctx, args.cycle_id)
        return Participants(cycle.cycle_id, load_participants(ctx, cycle.cycle_id))

    @query(FlowArgs)
    def flow(self, ctx: Context, args: FlowArgs) -> Flow:
        """Everything cleared in the cycle from ``issuer`` to ``acquirer`` (zeros if nothing):
        the per-counterparty lines of both institutions' statements."""
        cycle = load_cycle(ctx, args.cycle_id)
        for party in (args.issuer, args.acquirer):
            if not IDENTIFIER.fullmatch(party):
                ctx.reject("unknown_institution", f"{party[:MAX_NAME_LENGTH]!r} is not an id")
        key = flow_key(cycle.cycle_id, args.issuer, args.acquirer)
        return ctx.state.load(key, Flow) or Flow(args.issuer, args.acquirer)

    @query(CycleInstitutionArgs)
    def institution_cycle(self, ctx: Context, args: CycleInstitutionArgs) -> InstitutionCycle:
        """An institution's totals in a cycle: the head of its statement."""
        cycle = load_cycle(ctx, args.cycle_id)
        institution = load_institution(ctx, args.institution)
        key = institution_cycle_key(cycle.cycle_id, institution.id)
        stored = ctx.state.load(key, InstitutionCycle)
        return stored or InstitutionCycle(institution.id, 0, 0, 0, 0, 0, 0)

    @query(EntriesArgs)
    def entries(self, ctx: Context, args: EntriesArgs) -> Entries:
        """A page of an institution's clearing entries in a cycle, in recording order."""
        if args.start < 0 or not 1 <= args.limit <= MAX_ENTRIES_PAGE:
            ctx.reject("invalid_page", f"start >= 0 and limit 1..{MAX_ENTRIES_PAGE}")
        head = self.institution_cycle(ctx, CycleInstitutionArgs(args.cycle_id, args.institution))
        end = min(head.entry_count, args.start + args.limit)
        page = []
        for sequence in range(args.start, end):
            entry = ctx.state.load(entry_key(args.cycle_id, head.institution, sequence), Entry)
            if entry is None:
                raise NodeFault("an entry within the count is missing", sequence=sequence)
            page.append(entry)
        next_start = end if end < head.entry_count else None
        return Entries(args.cycle_id, head.institution, tuple(page), next_start)

    @query(CycleInstitutionArgs)
    def position(self, ctx: Context, args: CycleInstitutionArgs) -> Position:
        cycle = load_cycle(ctx, args.cycle_id)
        institution = load_institution(ctx, args.institution)
        position = ctx.state.load(position_key(cycle.cycle_id, institution.id), Position)
        if position is None:
            ctx.reject("no_position", f"{institution.id} has no position in cycle {cycle.cycle_id}")
        return position

    @query(CycleArgs)
    def positions(self, ctx: Context, args: CycleArgs) -> Positions:
        """Every participant's position in a closed cycle (empty while it is open)."""
        cycle = load_cycle(ctx, args.cycle_id)
        positions = []
        for institution in load_participants(ctx, cycle.cycle_id):
            position = ctx.state.load(position_key(cycle.cycle_id, institution), Position)
            if position is not None:
                positions.append(position)
        return Positions(cycle.cycle_id, tuple(positions))


def _fee_schedule(ctx: Context, currency: str) -> FeeSchedule:
    check_currency(ctx, currency)
    schedule = ctx.state.load(fee_schedule_key(currency), FeeSchedule)
    if schedule is None:
        ctx.reject("no_fee_schedule", f"no fee schedule for {currency}", currency=currency)
    return schedule


__all__ = ["Payments"]
