"""Clearing cycles and their settlement in the token.

* The clearing house ``open_cycle`` s a cycle of one currency with a cut-off height and/or time,
  and ``close_cycle`` s it once the cut-off is reached: positions are netted from the running
  per-pair totals, written per institution, and checked against net-debit caps and the
  Lamfalussy test (the largest net debtor's collateral covers its debit).
* Each net debtor ``fund`` s its debit: the contract pulls it with ``transfer_from`` from the
  debtor's settlement account into the escrow (the contract's own token address), so the debtor
  first ``approve`` s the contract in the token (a standing allowance works like a direct-debit
  mandate). Funds can be paid in until the cycle settles or is declared in default.
* A settlement agent ``settle`` s a fully funded cycle in one transaction: the escrow pays every
  institution what it paid in plus its position (net creditors their credit; anyone who paid in
  more than a later round needs, the excess).
* After the funding deadline, a settlement agent may ``declare_default``: if every debtor still
  short can be covered by its own posted collateral, the collateral is drawn and the cycle is
  funded; otherwise the debtors that cannot be covered are unwound — every obligation of or to
  them leaves the cycle, positions are recomputed, and a new funding round with a new deadline
  begins (funds already paid in are kept and count toward the new positions). Each round
  excludes at least one institution, so there are at most as many rounds as participants.

Value is conserved: the escrow pays out exactly what was paid in for the cycle (collateral drawn
included), positions sum to zero, and ``escrow/<currency>`` tracks collateral plus unsettled
funds.
"""

from __future__ import annotations

import msgspec

from jinqiao.apps.payments.clearing import compute_round, load_participants, save_cycle
from jinqiao.apps.payments.common import (
    add_escrow,
    check_currency,
    escrow_address,
    load_cycle,
    load_institution,
    past_cutoff,
    sender_institution,
)
from jinqiao.apps.payments.model import (
    CLEARING_HOUSE_ROLE,
    CYCLE_OPEN,
    CYCLE_SETTLED,
    MAX_FUNDING_WINDOW_BLOCKS,
    MAX_HEIGHT,
    MAX_TIME_MS,
    NEXT_CYCLE_ID_KEY,
    SETTLEMENT_AGENT_ROLE,
    CollateralArgs,
    Cycle,
    CycleArgs,
    Institution,
    OpenCycleArgs,
    Position,
    collateral_key,
    institution_key,
    position_key,
)
from jinqiao.apps.payments.netting import payouts
from jinqiao.apps.token import TOKEN, TransferArgs, TransferFromArgs
from jinqiao.core.errors import NodeFault, require
from jinqiao.execution.api import Context, check_amount, check_bound, method


class Settlement:
    """The cycle and settlement methods of the payments contract (a mixin of ``Payments``)."""

    @method(OpenCycleArgs, roles=(CLEARING_HOUSE_ROLE,))
    def open_cycle(self, ctx: Context, args: OpenCycleArgs) -> int:
        """Open a clearing cycle; returns its id. It takes clearing events until the block
        height reaches ``cutoff_height`` or the block time reaches ``cutoff_time_ms``."""
        house = sender_institution(ctx, CLEARING_HOUSE_ROLE)
        check_currency(ctx, args.currency)
        if args.cutoff_height is None and args.cutoff_time_ms is None:
            ctx.reject("invalid_cutoff", "a cycle needs a cut-off height, time or both")
        if args.cutoff_height is not None and not ctx.height < args.cutoff_height <= MAX_HEIGHT:
            ctx.reject("invalid_cutoff", f"the cut-off height must be after {ctx.height}")
        if args.cutoff_time_ms is not None and not ctx.time_ms < args.cutoff_time_ms <= MAX_TIME_MS:
            ctx.reject("invalid_cutoff", f"the cut-off time must be after {ctx.time_ms}")
        if not 1 <= args.funding_window_blocks <= MAX_FUNDING_WINDOW_BLOCKS:
            ctx.reject(
                "invalid_funding_window",
                f"the funding window is 1..{MAX_FUNDING_WINDOW_BLOCKS} blocks",
            )
        cycle_id = ctx.state.load_int(NEXT_CYCLE_ID_KEY) or 1
        ctx.state.save_int(NEXT_CYCLE_ID_KEY, cycle_id + 1)
        cycle = Cycle(
            cycle_id=cycle_id,
            currency=args.currency,
            clearing_house=house.id,
            status=CYCLE_OPEN,
            opened_height=ctx.height,
            cutoff_height=args.cutoff_height,
            cutoff_time_ms=args.cutoff_time_ms,
            funding_window_blocks=args.funding_window_blocks,
            closed_height=0,
            funding_deadline_height=0,
            round=0,
            excluded=(),
            unfunded_debtors=0,
            debit_total_minor=0,
            funded_minor=0,
            settled_height=0,
            report=None,
        )
        save_cycle(ctx, cycle)
        ctx.emit("CycleOpened", cycle_id=cycle_id, currency=args.currency, clearing_house=house.id)
        return cycle_id

    @method(CycleArgs, roles=(CLEARING_HOUSE_ROLE,))
    def close_cycle(self, ctx: Context, args: CycleArgs) -> Cycle:
        """Close a cycle at or after its cut-off: compute and store every position."""
        sender_institution(ctx, CLEARING_HOUSE_ROLE)
        cycle = load_cycle(ctx, args.cycle_id)
        if cycle.clearing_house != ctx.organization:
            ctx.reject(
                "not_entitled",
                f"only {cycle.clearing_house}, which opened it, closes cycle {cycle.cycle_id}",
                institution=cycle.clearing_house,
            )
        if cycle.status != CYCLE_OPEN:
            ctx.reject("cycle_not_open", f"cycle {cycle.cycle_id} is {cycle.status}")
        if not past_cutoff(ctx, cycle):
            ctx.reject("cutoff_not_reached", f"cycle {cycle.cycle_id} is before its cut-off")
        closed = compute_round(ctx, cycle, (), closing=True)
        save_cycle(ctx, closed)
        _emit_round(ctx, "CycleClosed", closed)
        return closed

    @method(CycleArgs)
    def fund(self, ctx: Context, args: CycleArgs) -> Position:
        """Pay the sender's institution's outstanding net debit in a closed cycle into the
        escrow, from its settlement account (which must have approved the contract)."""
        institution = load_institution(ctx, ctx.organization)
        cycle = _unsettled_closed_cycle(ctx, args.cycle_id)
        key = position_key(cycle.cycle_id, institution.id)
        position = ctx.state.load(key, Position)
        owed = 0 if position is None else -position.net_minor - position.funded_minor
        if position is None or owed <= 0:
            ctx.reject(
                "nothing_to_fund",
                f"{institution.id} owes nothing more in cycle {cycle.cycle_id}",
                institution=institution.id,
            )
        ctx.call(
            TOKEN,
            "transfer_from",
            TransferFromArgs(
                cycle.currency, institution.settlement_account, escrow_address(ctx), owed
            ),
        )
        funded = msgspec.structs.replace(position, funded_minor=position.funded_minor + owed)
        ctx.state.save(key, funded)
        save_cycle(
            ctx,
            msgspec.structs.replace(
                cycle,
                funded_minor=cycle.funded_minor + owed,
                unfunded_debtors=cycle.unfunded_debtors - 1,
            ),
        )
        add_escrow(ctx, cycle.currency, owed)
        ctx.emit(
            "CycleFunded",
            cycle_id=cycle.cycle_id,
            institution=institution.id,
            amount_minor=owed,
            round=cycle.round,
        )
        return funded

    @method(CycleArgs, roles=(SETTLEMENT_AGENT_ROLE,))
    def declare_default(self, ctx: Context, args: CycleArgs) -> Cycle:
        """After the funding deadline: cover every short debtor from its own collateral if that
        is enough for all of them, or else unwind those it is not enough for and start a new
        funding round (module docstring)."""
        sender_institution(ctx, SETTLEMENT_AGENT_ROLE)
        cycle = _unsettled_closed_cycle(ctx, args.cycle_id)
        if ctx.height <= cycle.funding_deadline_height:
            ctx.reject(
                "funding_deadline_not_reached",
                f"debtors may fund until height {cycle.funding_deadline_height}",
                funding_deadline_height=cycle.funding_deadline_height,
            )
        if cycle.unfunded_debtors == 0:
            ctx.reject("nothing_in_default", f"cycle {cycle.cycle_id} is fully funded")
        positions = _load_positions(ctx, cycle)
        short = {
            position.institution: -position.net_minor - position.funded_minor
            for position in positions
            if position.funded_minor < -position.net_minor
        }
        collateral = {
            institution: ctx.state.load_int(collateral_key(cycle.currency, institution))
            for institution in sorted(short)
        }
        defaulters = tuple(
            institution
            for institution in sorted(short)
            if collateral[institution] < short[institution]
        )
        if defaulters:
            excluded = tuple(sorted((*cycle.excluded, *defaulters)))
            unwound = compute_round(ctx, cycle, excluded, closing=False)
            save_cycle(ctx, unwound)
            _emit_round(ctx, "CycleUnwound", unwound, institutions=",".join(defaulters))
            return unwound
        drawn = 0
        for position in positions:
            shortfall = short.get(position.institution, 0)
            if shortfall == 0:
                continue
            ctx.state.save_int(
                collateral_key(cycle.currency, position.institution),
                collateral[position.institution] - shortfall,
            )
            ctx.state.save(
                position_key(cycle.cycle_id, position.institution),
                msgspec.structs.replace(
                    position,
                    funded_minor=position.funded_minor + shortfall,
                    collateral_used_minor=position.collateral_used_minor + shortfall,
                ),
            )
            drawn += shortfall
        covered = msgspec.structs.replace(
            cycle, funded_minor=cycle.funded_minor + drawn, unfunded_debtors=0
        )
        save_cycle(ctx, covered)
        ctx.emit(
            "DefaultCovered",
            cycle_id=cycle.cycle_id,
            round=cycle.round,
            institutions=",".join(sorted(short)),
            collateral_used_minor=drawn,
        )
        return covered

    @method(CycleArgs, roles=(SETTLEMENT_AGENT_ROLE,))
    def settle(self, ctx: Context, args: CycleArgs) -> Cycle:
        """Settle a fully funded cycle: pay every institution from the escrow, atomically."""
        sender_institution(ctx, SETTLEMENT_AGENT_ROLE)
        cycle = _unsettled_closed_cycle(ctx, args.cycle_id)
        if cycle.unfunded_debtors > 0:
            ctx.reject(
                "cycle_not_funded",
                f"{cycle.unfunded_debtors} debtors of cycle {cycle.cycle_id} have not funded",
                unfunded_debtors=cycle.unfunded_debtors,
            )
        positions = _load_positions(ctx, cycle)
        funded = {position.institution: position.funded_minor for position in positions}
        require(sum(funded.values()) == cycle.funded_minor, "cycle funding does not add up")
        amounts = payouts(
            {position.institution: position.net_minor for position in positions}, funded
        )
        for position in positions:
            institution = load_institution(ctx, position.institution)
            payout = amounts[position.institution]
            if payout > 0:
                ctx.call(
                    TOKEN,
                    "transfer",
                    TransferArgs(cycle.currency, institution.settlement_account, payout),
                )
            ctx.state.save(
                position_key(cycle.cycle_id, position.institution),
                msgspec.structs.replace(position, paid_out_minor=payout),
            )
            _release(ctx, institution)
        add_escrow(ctx, cycle.currency, -cycle.funded_minor)
        settled = msgspec.structs.replace(cycle, status=CYCLE_SETTLED, settled_height=ctx.height)
        save_cycle(ctx, settled)
        ctx.emit(
            "CycleSettled",
            cycle_id=cycle.cycle_id,
            round=cycle.round,
            paid_out_minor=cycle.funded_minor,
            excluded=",".join(cycle.excluded),
        )
        return settled

    # -- collateral ----------------------------------------------------------------------------

    @method(CollateralArgs)
    def post_collateral(self, ctx: Context, args: CollateralArgs) -> int:
        """Pay collateral into the escrow from the sender's institution's settlement account
        (approved to the contract); returns the collateral now posted."""
        institution = load_institution(ctx, ctx.organization)
        check_amount(ctx, args.amount_minor, allow_zero=False)
        check_currency(ctx, args.currency)
        key = collateral_key(args.currency, institution.id)
        total = ctx.state.load_int(key) + args.amount_minor
        check_bound(ctx, total, "collateral")
        ctx.call(
            TOKEN,
            "transfer_from",
            TransferFromArgs(
                args.currency,
                institution.settlement_account,
                escrow_address(ctx),
                args.amount_minor,
            ),
        )
        ctx.state.save_int(key, total)
        add_escrow(ctx, args.currency, args.amount_minor)
        ctx.emit(
            "CollateralPosted",
            institution=institution.id,
            currency=args.currency,
            amount_minor=args.amount_minor,
            collateral_minor=total,
        )
        return total

    @method(CollateralArgs)
    def withdraw_collateral(self, ctx: Context, args: CollateralArgs) -> int:
        """Return collateral to the settlement account; only while the institution has no
        position in a closed, unsettled cycle. Returns the collateral left."""
        institution = load_institution(ctx, ctx.organization)
        check_amount(ctx, args.amount_minor, allow_zero=False)
        check_currency(ctx, args.currency)
        if institution.pending_cycles > 0:
            ctx.reject(
                "collateral_locked",
                f"{institution.id} has a position in {institution.pending_cycles} unsettled cycles",
                pending_cycles=institution.pending_cycles,
            )
        key = collateral_key(args.currency, institution.id)
        posted = ctx.state.load_int(key)
        if args.amount_minor > posted:
            ctx.reject(
                "insufficient_collateral",
                f"{institution.id} has {posted} posted",
                collateral_minor=posted,
            )
        ctx.call(
            TOKEN,
            "transfer",
            TransferArgs(args.currency, institution.settlement_account, args.amount_minor),
        )
        ctx.state.save_int(key, posted - args.amount_minor)
        add_escrow(ctx, args.currency, -args.amount_minor)
        ctx.emit(
            "CollateralWithdrawn",
            institution=institution.id,
            currency=args.currency,
            amount_minor=args.amount_minor,
            collateral_minor=posted - args.amount_minor,
        )
        return posted - args.amount_minor


def _unsettled_closed_cycle(ctx: Context, cycle_id: int) -> Cycle:
    cycle = load_cycle(ctx, cycle_id)
    if cycle.status == CYCLE_OPEN:
        ctx.reject("cycle_not_closed", f"cycle {cycle_id} is still open", cycle_id=cycle_id)
    if cycle.status == CYCLE_SETTLED:
        ctx.reject("cycle_already_settled", f"cycle {cycle_id} is settled", cycle_id=cycle_id)
    return cycle


def _load_positions(ctx: Context, cycle: Cycle) -> list[Position]:
    positions = []
    for institution in load_participants(ctx, cycle.cycle_id):
        position = ctx.state.load(position_key(cycle.cycle_id, institution), Position)
        if position is None:
            raise NodeFault(
                "a participant of a closed cycle has no position", institution=institution
            )
        positions.append(position)
    return positions


def _release(ctx: Context, institution: Institution) -> None:
    """One pending cycle fewer for ``institution``."""
    require(institution.pending_cycles > 0, "pending cycle count below zero", id=institution.id)
    ctx.state.save(
        institution_key(institution.id),
        msgspec.structs.replace(institution, pending_cycles=institution.pending_cycles - 1),
    )


def _emit_round(ctx: Context, name: str, cycle: Cycle, **extra: str) -> None:
    report = cycle.report
    require(report is not None, "a closed cycle without a report")
    if report is None:
        return
    ctx.emit(
        name,
        cycle_id=cycle.cycle_id,
        round=cycle.round,
        participants=report.participants,
        debit_total_minor=report.debit_total_minor,
        largest_debtor=report.largest_debtor,
        largest_debit_minor=report.largest_debit_minor,
        lamfalussy_covered=report.lamfalussy_covered,
        over_cap=",".join(report.over_cap),
        funding_deadline_height=cycle.funding_deadline_height,
        **extra,
    )
