"""Clearing in state: the running per-cycle aggregates every clearing event updates, and the
computation of a cycle's positions from them.

Why running aggregates: a transaction may make 10,000 state operations, so closing a cycle
cannot read its payments (100,000 of them, say). Each clearing event instead adds itself to the
*flow* of its (issuer, acquirer) pair (``model.Flow``), to its institutions' running totals and
to the cycle's totals as it is recorded (a capture costs a constant 19 operations once the
institutions are in the cycle), and closing the cycle reads only the flows: O(institutions²), at
most 2,500 reads for 50 institutions, however many payments the cycle holds. Sums are order
independent, so any order of the same events gives the same aggregates and positions. Flows,
rather than totals per (debtor, creditor), are kept because unwinding a defaulter must drop every
obligation its payments created, including the network fees its counterparties owe for them.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

import msgspec

from jinqiao.apps.payments.common import load_institution
from jinqiao.apps.payments.model import (
    ACQUIRER_SIDE,
    CAPTURE,
    CHARGEBACK,
    CYCLE_CLOSED,
    ISSUER_SIDE,
    MAX_CYCLE_INSTITUTIONS,
    REFUND,
    REPRESENTMENT,
    Cycle,
    CycleReport,
    CycleTotals,
    Entry,
    Fees,
    Flow,
    Institution,
    InstitutionCycle,
    Payment,
    Position,
    acquirers_key,
    collateral_key,
    cycle_key,
    cycle_totals_key,
    entry_key,
    flow_key,
    institution_cycle_key,
    institution_key,
    participants_key,
    position_key,
)
from jinqiao.apps.payments.netting import (
    Delta,
    add_flows,
    event_flow,
    flow_obligations,
    gross_obligations,
    gross_sides,
    largest_debtor,
    multilateral_net,
)
from jinqiao.core.errors import NodeFault, require
from jinqiao.execution.api import Context, check_bound


@dataclass
class _Change:
    """What one event adds to one institution's cycle totals."""

    debit_minor: int = 0
    credit_minor: int = 0
    fees_paid_minor: int = 0
    fees_received_minor: int = 0
    merchant_fees_minor: int = 0
    entries: list[Entry] = field(default_factory=list)


def record_event(
    ctx: Context,
    cycle: Cycle,
    kind: str,
    payment: Payment,
    amount_minor: int,
    fees: Fees,
    reference: str = "",
) -> None:
    """Add a clearing event of ``payment`` to ``cycle``'s running aggregates and to the entry
    indexes of its issuer and acquirer."""
    authorization = payment.authorization
    issuer, acquirer = authorization.issuer, authorization.acquirer
    flow = event_flow(kind, issuer, acquirer, amount_minor, fees)
    deltas = flow_obligations(flow, cycle.clearing_house)
    _add_totals(ctx, cycle.cycle_id, kind, amount_minor, fees, deltas)
    changes: dict[str, _Change] = {}
    for delta in deltas:
        owing = changes.setdefault(delta.debtor, _Change())
        owing.debit_minor += delta.value_minor
        owing.fees_paid_minor += delta.fee_minor
        owed = changes.setdefault(delta.creditor, _Change())
        owed.credit_minor += delta.value_minor
        owed.fees_received_minor += delta.fee_minor
    changes.setdefault(acquirer, _Change()).merchant_fees_minor += fees.acquirer_fee_minor
    for side, institution, counterparty in (
        (ISSUER_SIDE, issuer, acquirer),
        (ACQUIRER_SIDE, acquirer, issuer),
    ):
        entry = Entry(
            authorization.payment_id,
            kind,
            reference,
            side,
            counterparty,
            amount_minor,
            fees,
            ctx.height,
        )
        changes.setdefault(institution, _Change()).entries.append(entry)
    _add_institution_totals(ctx, cycle.cycle_id, changes)
    _add_flow(ctx, cycle.cycle_id, flow)


def _add_totals(
    ctx: Context,
    cycle_id: int,
    kind: str,
    amount_minor: int,
    fees: Fees,
    deltas: tuple[Delta, ...],
) -> None:
    key = cycle_totals_key(cycle_id)
    totals = ctx.state.load(key, CycleTotals) or CycleTotals()
    obligations = totals.obligations_minor + sum(delta.value_minor for delta in deltas)
    check_bound(ctx, obligations, "cycle's total obligations")
    interbank_fees = sum(delta.fee_minor for delta in deltas)
    if kind == CAPTURE:
        totals = msgspec.structs.replace(
            totals,
            captures=totals.captures + 1,
            captured_minor=totals.captured_minor + amount_minor,
            merchant_fees_minor=totals.merchant_fees_minor + fees.acquirer_fee_minor,
        )
    elif kind == REFUND:
        totals = msgspec.structs.replace(
            totals,
            refunds=totals.refunds + 1,
            refunded_minor=totals.refunded_minor + amount_minor,
        )
    elif kind == CHARGEBACK:
        totals = msgspec.structs.replace(
            totals,
            chargebacks=totals.chargebacks + 1,
            charged_back_minor=totals.charged_back_minor + amount_minor,
        )
    elif kind == REPRESENTMENT:
        totals = msgspec.structs.replace(
            totals,
            representments=totals.representments + 1,
            represented_minor=totals.represented_minor + amount_minor,
        )
    totals = msgspec.structs.replace(
        totals,
        fees_minor=totals.fees_minor + interbank_fees,
        obligations_minor=obligations,
    )
    # On-us events (issuer and acquirer the same) create no obligation, so their amounts are
    # bounded here; every other sum of the cycle is at most one of these totals.
    for what, total in (
        ("captured", totals.captured_minor),
        ("refunded", totals.refunded_minor),
        ("charged back", totals.charged_back_minor),
        ("represented", totals.represented_minor),
    ):
        check_bound(ctx, total, f"cycle's {what} total")
    ctx.state.save(key, totals)


def _add_institution_totals(ctx: Context, cycle_id: int, changes: dict[str, _Change]) -> None:
    joined = []
    for institution in sorted(changes):
        change = changes[institution]
        key = institution_cycle_key(cycle_id, institution)
        current = ctx.state.load(key, InstitutionCycle)
        if current is None:
            joined.append(institution)
            current = InstitutionCycle(institution, 0, 0, 0, 0, 0, 0)
        for offset, entry in enumerate(change.entries):
            ctx.state.save(entry_key(cycle_id, institution, current.entry_count + offset), entry)
        ctx.state.save(
            key,
            InstitutionCycle(
                institution,
                current.entry_count + len(change.entries),
                current.debit_minor + change.debit_minor,
                current.credit_minor + change.credit_minor,
                current.fees_paid_minor + change.fees_paid_minor,
                current.fees_received_minor + change.fees_received_minor,
                current.merchant_fees_minor + change.merchant_fees_minor,
            ),
        )
    if joined:
        key = participants_key(cycle_id)
        participants = list(ctx.state.load(key, tuple[str, ...]) or ())
        for institution in joined:
            bisect.insort(participants, institution)
        if len(participants) > MAX_CYCLE_INSTITUTIONS:
            ctx.reject(
                "too_many_institutions",
                f"a cycle clears between at most {MAX_CYCLE_INSTITUTIONS} institutions",
                cycle_id=cycle_id,
            )
        ctx.state.save(key, tuple(participants))


def _add_flow(ctx: Context, cycle_id: int, flow: Flow) -> None:
    key = flow_key(cycle_id, flow.issuer, flow.acquirer)
    current = ctx.state.load(key, Flow)
    if current is None:
        listed_at = acquirers_key(cycle_id, flow.issuer)
        acquirers = list(ctx.state.load(listed_at, tuple[str, ...]) or ())
        bisect.insort(acquirers, flow.acquirer)
        ctx.state.save(listed_at, tuple(acquirers))
        current = Flow(flow.issuer, flow.acquirer)
    ctx.state.save(key, add_flows(current, flow))


# -- positions ---------------------------------------------------------------------------------


def load_participants(ctx: Context, cycle_id: int) -> tuple[str, ...]:
    return ctx.state.load(participants_key(cycle_id), tuple[str, ...]) or ()


def load_flows(ctx: Context, cycle_id: int, participants: tuple[str, ...]) -> list[Flow]:
    """Every flow of the cycle, by issuer then acquirer."""
    flows = []
    for issuer in participants:
        for acquirer in ctx.state.load(acquirers_key(cycle_id, issuer), tuple[str, ...]) or ():
            flow = ctx.state.load(flow_key(cycle_id, issuer, acquirer), Flow)
            if flow is None:
                raise NodeFault("a listed flow is missing", issuer=issuer, acquirer=acquirer)
            flows.append(flow)
    return flows


def _check_running_totals(ctx: Context, cycle_id: int, sides: dict[str, tuple[int, int]]) -> None:
    """The per-institution running totals must agree with the per-pair ones."""
    for institution in sorted(sides):
        totals = ctx.state.load(institution_cycle_key(cycle_id, institution), InstitutionCycle)
        require(
            totals is not None and (totals.debit_minor, totals.credit_minor) == sides[institution],
            "per-institution totals disagree with the obligations",
            institution=institution,
        )


def compute_round(ctx: Context, cycle: Cycle, excluded: tuple[str, ...], *, closing: bool) -> Cycle:
    """Net the cycle's obligations between the institutions not ``excluded``, write every
    participant's position and return the cycle, closed, with its new round and risk report.
    Funds paid in so far are kept; an excluded institution's position is 0."""
    participants = load_participants(ctx, cycle.cycle_id)
    flows = load_flows(ctx, cycle.cycle_id, participants)
    if closing:
        everything = gross_obligations(flows, cycle.clearing_house)
        _check_running_totals(ctx, cycle.cycle_id, gross_sides(everything, participants))
    live = gross_obligations(flows, cycle.clearing_house, excluded)
    positions = multilateral_net(live, participants)
    sides = gross_sides(live, participants)
    institutions = {
        participant: _participant(ctx, participant, closing=closing) for participant in participants
    }
    unfunded = 0
    for participant in participants:
        key = position_key(cycle.cycle_id, participant)
        previous = None if closing else ctx.state.load(key, Position)
        funded = 0 if previous is None else previous.funded_minor
        collateral_used = 0 if previous is None else previous.collateral_used_minor
        debit, credit = sides[participant]
        position = Position(
            participant,
            positions[participant],
            debit,
            credit,
            funded,
            collateral_used,
            0,
            participant in excluded,
        )
        ctx.state.save(key, position)
        if funded < -position.net_minor:
            unfunded += 1
    debtor, debit = largest_debtor(positions)
    collateral = ctx.state.load_int(collateral_key(cycle.currency, debtor)) if debtor else 0
    over_cap = tuple(
        participant
        for participant in participants
        if _over_cap(institutions[participant], positions[participant])
    )
    debit_total = sum(-net for net in positions.values() if net < 0)
    report = CycleReport(
        len(participants),
        len(live),
        debit_total,
        debtor,
        debit,
        collateral,
        collateral >= debit,
        over_cap,
    )
    return msgspec.structs.replace(
        cycle,
        status=CYCLE_CLOSED,
        closed_height=ctx.height if closing else cycle.closed_height,
        funding_deadline_height=ctx.height + cycle.funding_window_blocks,
        round=cycle.round + 1,
        excluded=excluded,
        unfunded_debtors=unfunded,
        debit_total_minor=debit_total,
        report=report,
    )


def _over_cap(institution: Institution, net_minor: int) -> bool:
    cap = institution.net_debit_cap_minor
    return cap is not None and -net_minor > cap


def _participant(ctx: Context, institution_id: str, *, closing: bool) -> Institution:
    """A participant's institution record; on closing, it now has one more pending cycle."""
    institution = load_institution(ctx, institution_id)
    if closing:
        institution = msgspec.structs.replace(
            institution, pending_cycles=institution.pending_cycles + 1
        )
        ctx.state.save(institution_key(institution_id), institution)
    return institution


def save_cycle(ctx: Context, cycle: Cycle) -> None:
    ctx.state.save(cycle_key(cycle.cycle_id), cycle)
