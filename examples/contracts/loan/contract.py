"""A consortium loan with a repayment schedule: a lender originates a loan to a borrower of
``principal_minor`` repaid in ``installments`` equal parts of principal, one every ``period_ms``,
each with interest on the outstanding principal at ``rate_bps`` basis points a period (integer
arithmetic, rounded down). The borrower repays installments in order; anyone may mark a loan
overdue once an installment's due time has passed unpaid.

The CNY moves by the token's rules, under allowances the parties give the loan's address
(``ctx.address``) on the token: ``originate`` disburses the principal from the lender to the
borrower, ``repay`` pays the installment from the borrower to the lender (``transfer_from``, in
the same transaction as the loan's own records). A token rejection (no allowance, too little
CNY) rejects the whole transaction."""

from __future__ import annotations

from jinqiao.contracts.api import Contract, method, query

MAX_PRINCIPAL_MINOR = 10**15
MAX_INSTALLMENTS = 360
MAX_RATE_BPS = 5_000
BPS = 10_000
ASSET = "CNY"
CURRENT = "current"
OVERDUE = "overdue"
REPAID = "repaid"


def loan_key(loan_id):
    return b"loan/" + loan_id.encode()


def installment_due(loan):
    """The amount of the next installment: its share of principal (the last one takes the
    remainder) plus interest on what is outstanding."""
    remaining = loan["installments"] - loan["paid_installments"]
    share = loan["outstanding_minor"] // remaining
    if remaining == 1:
        share = loan["outstanding_minor"]
    interest = loan["outstanding_minor"] * loan["rate_bps"] // BPS
    return share, interest


class Loan(Contract):
    @method(roles=("lender",))
    def originate(self, ctx, args):
        if not 0 < len(args.loan_id) <= 64:
            ctx.reject("invalid_loan_id", "a loan id is 1..64 characters")
        if len(args.borrower) != 20 or args.borrower == ctx.sender:
            ctx.reject("invalid_borrower", "the borrower is another 20-byte address")
        if not 0 < args.principal_minor <= MAX_PRINCIPAL_MINOR:
            ctx.reject("invalid_amount", "a principal is 1..10**15 minor units")
        if not 0 < args.installments <= MAX_INSTALLMENTS:
            ctx.reject("invalid_schedule", f"1..{MAX_INSTALLMENTS} installments")
        if args.installments > args.principal_minor or args.period_ms <= 0:
            ctx.reject("invalid_schedule", "each installment repays something, periods are > 0")
        if not 0 <= args.rate_bps <= MAX_RATE_BPS:
            ctx.reject("invalid_rate", f"a rate is 0..{MAX_RATE_BPS} basis points a period")
        if ctx.state.load(loan_key(args.loan_id)) is not None:
            ctx.reject("loan_exists", "this loan id is taken")
        loan = {
            "lender": ctx.sender,
            "borrower": args.borrower,
            "outstanding_minor": args.principal_minor,
            "installments": args.installments,
            "paid_installments": 0,
            "period_ms": args.period_ms,
            "rate_bps": args.rate_bps,
            "next_due_ms": ctx.time_ms + args.period_ms,
            "interest_paid_minor": 0,
            "status": CURRENT,
        }
        self.pay(ctx, ctx.sender, args.borrower, args.principal_minor)
        ctx.state.save(loan_key(args.loan_id), loan)
        ctx.emit(
            "LoanOriginated",
            loan_id=args.loan_id,
            lender=ctx.sender,
            borrower=args.borrower,
            principal_minor=args.principal_minor,
            installments=args.installments,
        )

    @method
    def repay(self, ctx, args):
        """Repay the next installment: exactly its principal share plus interest."""
        loan = self.active_loan(ctx, args.loan_id)
        if ctx.sender != loan["borrower"]:
            ctx.reject("not_borrower", "only the borrower repays")
        share, interest = installment_due(loan)
        if args.amount_minor != share + interest:
            ctx.reject("wrong_amount", f"the installment due is {share + interest}")
        self.pay(ctx, ctx.sender, loan["lender"], args.amount_minor)
        loan["outstanding_minor"] = loan["outstanding_minor"] - share
        loan["interest_paid_minor"] = loan["interest_paid_minor"] + interest
        loan["paid_installments"] = loan["paid_installments"] + 1
        loan["next_due_ms"] = loan["next_due_ms"] + loan["period_ms"]
        loan["status"] = REPAID if loan["outstanding_minor"] == 0 else CURRENT
        ctx.state.save(loan_key(args.loan_id), loan)
        ctx.emit(
            "InstallmentPaid",
            loan_id=args.loan_id,
            installment=loan["paid_installments"],
            principal_minor=share,
            interest_minor=interest,
            outstanding_minor=loan["outstanding_minor"],
        )

    @method
    def mark_overdue(self, ctx, args):
        loan = self.active_loan(ctx, args.loan_id)
        if ctx.time_ms <= loan["next_due_ms"]:
            ctx.reject("not_due", f"the next installment is due at {loan['next_due_ms']}")
        loan["status"] = OVERDUE
        ctx.state.save(loan_key(args.loan_id), loan)
        ctx.emit("LoanOverdue", loan_id=args.loan_id, due_ms=loan["next_due_ms"])

    @query
    def due(self, ctx, args):
        """[principal share, interest, due time, status] of the next installment."""
        loan = ctx.state.load(loan_key(args.loan_id))
        if loan is None:
            ctx.reject("unknown_loan", "no such loan")
        if loan["status"] == REPAID:
            return [0, 0, 0, REPAID]
        share, interest = installment_due(loan)
        return [share, interest, loan["next_due_ms"], loan["status"]]

    def pay(self, ctx, payer, recipient, amount_minor):
        """Move ``amount_minor`` CNY from ``payer`` to ``recipient`` under the allowance the
        payer gave this contract."""
        ctx.call(
            "token",
            "transfer_from",
            asset=ASSET,
            owner=payer,
            recipient=recipient,
            amount_minor=amount_minor,
        )

    def active_loan(self, ctx, loan_id):
        loan = ctx.state.load(loan_key(loan_id))
        if loan is None:
            ctx.reject("unknown_loan", "no such loan")
        if loan["status"] == REPAID:
            ctx.reject("loan_repaid", "the loan is repaid")
        return loan
