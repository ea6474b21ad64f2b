"""Escrow with a timeout: a payer (an institution holding the role ``acquirer`` or ``bank``, as
in the demo consortium) puts CNY into escrow for a payee until a deadline; the payer releases it
to the payee, or after the deadline takes it back.

The CNY really moves, by the token's rules: before ``open`` the payer approves the escrow's
address (``ctx.address``) for the amount on the token; ``open`` pulls it in the same transaction
(``transfer_from``, so the escrow holds it); ``release`` and ``refund`` pay it out of the escrow's
own balance (``transfer``). A token rejection (no allowance, too little CNY, a frozen holding)
rejects the whole transaction, and nothing changes."""

from __future__ import annotations

from jinqiao.contracts.api import Contract, method, query

MAX_TIMEOUT_MS = 90 * 24 * 3600 * 1000
MAX_AMOUNT_MINOR = 10**15
ASSET = "CNY"
OPEN = "open"
RELEASED = "released"
REFUNDED = "refunded"


def escrow_key(escrow_id):
    return b"escrow/" + escrow_id.encode()


class Escrow(Contract):
    @method(roles=("acquirer", "bank"))
    def open(self, ctx, args):
        if not 0 < len(args.escrow_id) <= 64:
            ctx.reject("invalid_escrow_id", "an escrow id is 1..64 characters")
        if len(args.payee) != 20 or args.payee == ctx.sender:
            ctx.reject("invalid_payee", "the payee is another 20-byte address")
        if not 0 < args.amount_minor <= MAX_AMOUNT_MINOR:
            ctx.reject("invalid_amount", "amounts are 1..10**15 minor units")
        if not 0 < args.timeout_ms <= MAX_TIMEOUT_MS:
            ctx.reject("invalid_timeout", "a timeout is up to 90 days")
        if ctx.state.load(escrow_key(args.escrow_id)) is not None:
            ctx.reject("escrow_exists", "this escrow id is taken")
        deadline_ms = ctx.time_ms + args.timeout_ms
        ctx.call(
            "token",
            "transfer_from",
            asset=ASSET,
            owner=ctx.sender,
            recipient=ctx.address,
            amount_minor=args.amount_minor,
        )
        ctx.state.save(
            escrow_key(args.escrow_id),
            {
                "payer": ctx.sender,
                "payee": args.payee,
                "amount_minor": args.amount_minor,
                "deadline_ms": deadline_ms,
                "status": OPEN,
            },
        )
        ctx.emit(
            "EscrowOpened",
            escrow_id=args.escrow_id,
            payer=ctx.sender,
            payee=args.payee,
            amount_minor=args.amount_minor,
            deadline_ms=deadline_ms,
        )

    @method
    def release(self, ctx, args):
        escrow = self.open_escrow(ctx, args.escrow_id)
        if ctx.sender != escrow["payer"]:
            ctx.reject("not_payer", "only the payer releases")
        self.close(ctx, args.escrow_id, escrow, RELEASED, escrow["payee"])

    @method
    def refund(self, ctx, args):
        escrow = self.open_escrow(ctx, args.escrow_id)
        if ctx.sender != escrow["payer"]:
            ctx.reject("not_payer", "only the payer takes a refund")
        if ctx.time_ms < escrow["deadline_ms"]:
            ctx.reject("not_expired", f"the escrow runs until {escrow['deadline_ms']}")
        self.close(ctx, args.escrow_id, escrow, REFUNDED, escrow["payer"])

    @query
    def escrow(self, ctx, args):
        escrow = ctx.state.load(escrow_key(args.escrow_id))
        if escrow is None:
            ctx.reject("unknown_escrow", "no such escrow")
        return [escrow["amount_minor"], escrow["deadline_ms"], escrow["status"]]

    def open_escrow(self, ctx, escrow_id):
        escrow = ctx.state.load(escrow_key(escrow_id))
        if escrow is None:
            ctx.reject("unknown_escrow", "no such escrow")
        if escrow["status"] != OPEN:
            ctx.reject("escrow_closed", f"the escrow was {escrow['status']}")
        return escrow

    def close(self, ctx, escrow_id, escrow, status, recipient):
        """Pay the escrowed CNY out of the escrow's own balance to ``recipient``."""
        ctx.call(
            "token",
            "transfer",
            asset=ASSET,
            recipient=recipient,
            amount_minor=escrow["amount_minor"],
        )
        escrow["status"] = status
        ctx.state.save(escrow_key(escrow_id), escrow)
        ctx.emit("EscrowClosed", escrow_id=escrow_id, status=status)
