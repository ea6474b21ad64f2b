"""Checks and record access shared by the payments contract's methods: each loader either returns
the record or rejects with the code that names what is wrong."""

from __future__ import annotations

from jinqiao.apps.payments.model import (
    CYCLE_OPEN,
    PAYMENTS,
    REFERENCE,
    Cycle,
    Institution,
    Payment,
    cycle_key,
    escrow_key,
    institution_key,
    payment_key,
)
from jinqiao.apps.token import SYMBOL, TOKEN, Asset, asset_key
from jinqiao.core.errors import require
from jinqiao.core.genesis import IDENTIFIER
from jinqiao.core.limits import MAX_NAME_LENGTH
from jinqiao.execution.api import Context, check_bound

MAX_CYCLE_ID = 2**64 - 1


def escrow_address(ctx: Context) -> bytes:
    """The payments contract's own address: its token balance is the settlement escrow."""
    return ctx.contract_address(PAYMENTS)


def check_reference(ctx: Context, value: str, code: str, field: str) -> None:
    if not REFERENCE.fullmatch(value):
        ctx.reject(
            code,
            f"{field} must be 1..64 letters, digits or '_.:-', starting with a letter or digit",
            field=field,
        )


def check_currency(ctx: Context, currency: str) -> None:
    """``currency`` must be an asset of the token contract."""
    known = SYMBOL.fullmatch(currency) and ctx.read(TOKEN, asset_key(currency), Asset) is not None
    if not known:
        ctx.reject("unknown_currency", f"no token asset {currency[:MAX_NAME_LENGTH]!r}")


def load_institution(ctx: Context, institution_id: str) -> Institution:
    institution = None
    if IDENTIFIER.fullmatch(institution_id):
        institution = ctx.state.load(institution_key(institution_id), Institution)
    if institution is None:
        ctx.reject(
            "unknown_institution",
            f"{institution_id[:MAX_NAME_LENGTH]!r} is not registered for payments",
            institution=institution_id[:MAX_NAME_LENGTH],
        )
    return institution


def active_institution(ctx: Context, institution_id: str, role: str) -> Institution:
    """A registered, active institution holding ``role``."""
    institution = load_institution(ctx, institution_id)
    if not institution.active:
        ctx.reject(
            "institution_inactive",
            f"institution {institution.id} is not active for payments",
            institution=institution.id,
        )
    if role not in institution.roles:
        ctx.reject(
            "institution_role_missing",
            f"institution {institution.id} is not registered as {role}",
            institution=institution.id,
            role=role,
        )
    return institution


def sender_institution(ctx: Context, role: str) -> Institution:
    """The sender's organization, as an active institution holding ``role``."""
    return active_institution(ctx, ctx.organization, role)


def require_party(ctx: Context, institution: str, transition: str) -> None:
    """Only the institution entitled to a transition signs it (``docs/payments.md``)."""
    if ctx.organization != institution:
        ctx.reject(
            "not_entitled",
            f"only {institution} may {transition} this payment",
            institution=institution,
            transition=transition,
        )


def load_payment(ctx: Context, payment_id: str) -> Payment:
    check_reference(ctx, payment_id, "invalid_payment_id", "payment_id")
    payment = ctx.state.load(payment_key(payment_id), Payment)
    if payment is None:
        ctx.reject("unknown_payment", f"no payment {payment_id!r}", payment_id=payment_id)
    return payment


def load_cycle(ctx: Context, cycle_id: int) -> Cycle:
    cycle = ctx.state.load(cycle_key(cycle_id), Cycle) if 0 < cycle_id <= MAX_CYCLE_ID else None
    if cycle is None:
        ctx.reject("unknown_cycle", f"no cycle {cycle_id}", cycle_id=cycle_id)
    return cycle


def past_cutoff(ctx: Context, cycle: Cycle) -> bool:
    """Whether the block is at or past the cycle's cut-off height or time."""
    return (cycle.cutoff_height is not None and ctx.height >= cycle.cutoff_height) or (
        cycle.cutoff_time_ms is not None and ctx.time_ms >= cycle.cutoff_time_ms
    )


def open_cycle_for(ctx: Context, cycle_id: int, currency: str) -> Cycle:
    """The cycle a clearing event goes into: open, before its cut-off, in ``currency``."""
    cycle = load_cycle(ctx, cycle_id)
    if cycle.status != CYCLE_OPEN or past_cutoff(ctx, cycle):
        ctx.reject(
            "cycle_closed",
            f"cycle {cycle_id} takes no more payments",
            cycle_id=cycle_id,
            status=cycle.status,
        )
    if cycle.currency != currency:
        ctx.reject(
            "currency_mismatch",
            f"cycle {cycle_id} clears {cycle.currency}, not {currency}",
            cycle_currency=cycle.currency,
            currency=currency,
        )
    return cycle


def add_escrow(ctx: Context, currency: str, delta_minor: int) -> None:
    key = escrow_key(currency)
    total = ctx.state.load_int(key) + delta_minor
    check_bound(ctx, total, "escrow")
    require(total >= 0, "the escrow accounting went negative", currency=currency)
    ctx.state.save_int(key, total)
