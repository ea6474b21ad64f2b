"""Receivables: a core enterprise's confirmed payable, split and passed down its supply chain,
financed against the token, and repaid once at maturity.

Money moves only through the token contract, called as this contract (``ctx.call``): the funder
and the obligor each ``approve`` the supply chain contract's address in the token first, and the
contract pulls the payment with ``transfer_from`` in the same transaction that moves the
receivable (delivery versus payment). A rejected token move rejects the whole transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

from msgspec.structs import replace

from jinqiao.apps.registry import check_address
from jinqiao.apps.supplychain.common import known_organization
from jinqiao.apps.supplychain.model import (
    BACKING_KINDS,
    CLOSED,
    CORE_ENTERPRISE_ROLE,
    FACTORING,
    FINANCE_KINDS,
    FUNDER_ROLE,
    HASH_BYTES,
    INVOICE,
    LIVE,
    MAX_BACKING,
    MAX_DUE_MS,
    MAX_LIVE_PARTS,
    MAX_RATE_PPM,
    MAX_SPLIT_PARTS,
    MS_PER_DAY,
    NEXT_RECEIVABLE_KEY,
    PPM,
    RECEIVING,
    RECEIVING_EVENT,
    SHIPPING,
    SHIPPING_EVENT,
    SPLIT,
    YEAR_MS,
    Backing,
    ConfirmArgs,
    DocumentUse,
    EventRecord,
    FinanceOffer,
    OfferArgs,
    PastDueRow,
    Receivable,
    ReceivableArgs,
    Root,
    RootArgs,
    SplitArgs,
    TransferReceivableArgs,
    document_key,
    event_key,
    past_due_count_key,
    past_due_key,
    receivable_key,
    root_key,
)
from jinqiao.apps.token import SYMBOL, TOKEN, Asset, TransferFromArgs, asset_key
from jinqiao.execution.api import Context, check_amount, check_bound, method

MAX_RECEIVABLE_ID = 2**63 - 1


class Receivables:
    """The receivable methods of the supply chain contract (mixed into ``SupplyChain``)."""

    @method(ConfirmArgs, roles=(CORE_ENTERPRISE_ROLE,))
    def confirm(self, ctx: Context, args: ConfirmArgs) -> Receivable:
        """The sender's organization (the obligor) confirms a payable to ``holder``."""
        known = SYMBOL.fullmatch(args.asset) and ctx.read(TOKEN, asset_key(args.asset), Asset)
        if not known:
            ctx.reject("unknown_currency", f"no token asset {args.asset[:16]!r}")
        holder = known_organization(ctx, args.holder)
        if holder == ctx.organization:
            ctx.reject("invalid_holder", "a receivable is owed to another organization")
        _check_account(ctx, args.holder_account, holder)
        check_amount(ctx, args.face_value_minor, allow_zero=False)
        if not ctx.time_ms < args.due_time_ms <= MAX_DUE_MS:
            ctx.reject("invalid_due_date", "the due time must be after the block time")
        _check_backing(ctx, args.backing, args.face_value_minor)
        receivable_id = ctx.state.load_int(NEXT_RECEIVABLE_KEY) + 1
        ctx.state.save_int(NEXT_RECEIVABLE_KEY, receivable_id)
        part = Receivable(
            receivable_id,
            receivable_id,
            0,
            ctx.organization,
            holder,
            args.holder_account,
            args.face_value_minor,
            args.due_time_ms,
            LIVE,
            "",
            b"",
            None,
        )
        root = Root(
            receivable_id,
            args.asset,
            ctx.organization,
            args.face_value_minor,
            args.due_time_ms,
            args.backing,
            (receivable_id,),
            False,
            False,
        )
        for backing in args.backing:
            use = DocumentUse(backing.document_hash, receivable_id)
            ctx.state.save(document_key(backing.document_hash), use)
        ctx.state.save(root_key(receivable_id), root)
        ctx.state.save(receivable_key(receivable_id), part)
        ctx.emit(
            "ReceivableConfirmed",
            receivable_id=receivable_id,
            obligor=ctx.organization,
            holder=holder,
            face_value_minor=args.face_value_minor,
            due_time_ms=args.due_time_ms,
        )
        return part

    @method(SplitArgs)
    def split(self, ctx: Context, args: SplitArgs) -> Root:
        """The holder splits a part into parts (same holder) whose values sum to it."""
        part = _movable_part(ctx, args.receivable_id)
        if not 2 <= len(args.values_minor) <= MAX_SPLIT_PARTS:
            ctx.reject("invalid_split", f"a split makes 2..{MAX_SPLIT_PARTS} parts")
        for value in args.values_minor:
            check_amount(ctx, value, allow_zero=False)
        if sum(args.values_minor) != part.face_value_minor:
            ctx.reject(
                "split_mismatch",
                f"the parts sum to {sum(args.values_minor)}, not {part.face_value_minor}",
            )
        root = load_root(ctx, part.root_id)
        if len(root.live_parts) - 1 + len(args.values_minor) > MAX_LIVE_PARTS:
            ctx.reject("too_many_parts", f"a receivable has at most {MAX_LIVE_PARTS} live parts")
        first = ctx.state.load_int(NEXT_RECEIVABLE_KEY) + 1
        ids = tuple(range(first, first + len(args.values_minor)))
        ctx.state.save_int(NEXT_RECEIVABLE_KEY, ids[-1])
        for part_id, value in zip(ids, args.values_minor, strict=True):
            child = replace(part, id=part_id, parent_id=part.id, face_value_minor=value)
            ctx.state.save(receivable_key(part_id), child)
        ctx.state.save(receivable_key(part.id), replace(part, status=SPLIT))
        live = tuple(i for i in root.live_parts if i != part.id) + ids
        updated = replace(root, live_parts=live)
        ctx.state.save(root_key(root.id), updated)
        ctx.emit("ReceivableSplit", receivable_id=part.id, parts=len(ids), first_part=first)
        return updated

    @method(TransferReceivableArgs)
    def transfer(self, ctx: Context, args: TransferReceivableArgs) -> Receivable:
        """The holder passes a part to another organization (e.g. its own supplier)."""
        part = _movable_part(ctx, args.receivable_id)
        recipient = known_organization(ctx, args.recipient)
        if recipient == part.holder:
            ctx.reject("invalid_recipient", "the recipient already holds the receivable")
        _check_account(ctx, args.recipient_account, recipient)
        moved = replace(part, holder=recipient, holder_account=args.recipient_account)
        ctx.state.save(receivable_key(part.id), moved)
        ctx.emit(
            "ReceivableTransferred", receivable_id=part.id, holder=part.holder, recipient=recipient
        )
        return moved

    @method(OfferArgs)
    def offer_finance(self, ctx: Context, args: OfferArgs) -> FinanceOffer:
        """The holder offers a part to a funder, for factoring or as a pledge, at an annual
        discount rate; the advance is fixed now (``docs/supplychain.md``, "Finance")."""
        part = _movable_part(ctx, args.receivable_id)
        if args.kind not in FINANCE_KINDS:
            ctx.reject("invalid_finance_kind", f"kind is one of {list(FINANCE_KINDS)}")
        funder = known_organization(ctx, args.funder)
        if funder == part.holder:
            ctx.reject("invalid_funder", "the funder is another organization than the holder")
        if not 0 <= args.rate_ppm <= MAX_RATE_PPM:
            ctx.reject("invalid_rate", f"rate_ppm is 0..{MAX_RATE_PPM} per year")
        advance = advance_minor(
            part.face_value_minor, args.rate_ppm, part.due_time_ms - ctx.time_ms
        )
        if advance < 1:
            ctx.reject("invalid_rate", "the discount would leave nothing to advance")
        _check_account(ctx, args.payee, part.holder)
        if args.expires_height <= ctx.height:
            ctx.reject("invalid_expiry", "the offer must expire after this block")
        offer = FinanceOffer(
            args.kind, funder, args.rate_ppm, advance, args.payee, args.expires_height
        )
        ctx.state.save(receivable_key(part.id), replace(part, offer=offer))
        ctx.emit(
            "FinanceOffered",
            receivable_id=part.id,
            kind=args.kind,
            funder=funder,
            advance_minor=advance,
        )
        return offer

    @method(ReceivableArgs)
    def withdraw_offer(self, ctx: Context, args: ReceivableArgs) -> None:
        part = _held_part(ctx, args.receivable_id)
        if part.offer is None:
            ctx.reject("no_offer", f"receivable {part.id} has no open offer")
        ctx.state.save(receivable_key(part.id), replace(part, offer=None))
        ctx.emit("FinanceOfferWithdrawn", receivable_id=part.id)

    @method(ReceivableArgs, roles=(FUNDER_ROLE,))
    def accept_offer(self, ctx: Context, args: ReceivableArgs) -> Receivable:
        """The funder accepts: it pays the advance to the holder's payee in the token (from the
        sender's account, which approved this contract) and, in the same transaction, becomes
        the holder (factoring) or the pledgee (pledge)."""
        part = _live_part(ctx, args.receivable_id)
        offer = part.offer
        if offer is None:
            ctx.reject("no_offer", f"receivable {part.id} has no open offer")
        if offer.funder != ctx.organization:
            ctx.reject("not_funder", f"the offer is to {offer.funder}")
        if ctx.height > offer.expires_height:
            ctx.reject("offer_expired", f"the offer expired at height {offer.expires_height}")
        _check_not_matured(ctx, part)
        root = load_root(ctx, part.root_id)
        payment = TransferFromArgs(root.asset, ctx.sender, offer.payee, offer.advance_minor)
        ctx.call(TOKEN, "transfer_from", payment)
        if offer.kind == FACTORING:
            financed = replace(part, holder=ctx.organization, holder_account=ctx.sender, offer=None)
        else:
            financed = replace(
                part, pledgee=ctx.organization, pledgee_account=ctx.sender, offer=None
            )
        ctx.state.save(receivable_key(part.id), financed)
        ctx.emit(
            "ReceivableFinanced",
            receivable_id=part.id,
            kind=offer.kind,
            funder=ctx.organization,
            seller=part.holder,
            advance_minor=offer.advance_minor,
        )
        return financed

    @method(ReceivableArgs)
    def release_pledge(self, ctx: Context, args: ReceivableArgs) -> Receivable:
        """The pledgee releases its pledge; the part can move again."""
        part = _live_part(ctx, args.receivable_id)
        if not part.pledgee:
            ctx.reject("not_pledged", f"receivable {part.id} is not pledged")
        if part.pledgee != ctx.organization:
            ctx.reject("not_pledgee", f"only {part.pledgee} releases this pledge")
        released = replace(part, pledgee="", pledgee_account=b"")
        ctx.state.save(receivable_key(part.id), released)
        ctx.emit("PledgeReleased", receivable_id=part.id, pledgee=ctx.organization)
        return released

    @method(RootArgs, roles=(CORE_ENTERPRISE_ROLE,))
    def repay(self, ctx: Context, args: RootArgs) -> Root:
        """At or after maturity the obligor pays every live part once, in creation order: the
        face value to the part's holder account, or to its pledgee's account if pledged."""
        root = load_root(ctx, args.root_id)
        if root.obligor != ctx.organization:
            ctx.reject("not_obligor", f"only {root.obligor} repays receivable {root.id}")
        if root.repaid:
            ctx.reject("already_repaid", f"receivable {root.id} is repaid")
        if ctx.time_ms < root.due_time_ms:
            ctx.reject("not_yet_due", f"receivable {root.id} is due at {root.due_time_ms} ms")
        for part_id in root.live_parts:
            part = load_part(ctx, part_id)
            payee = part.pledgee_account if part.pledgee else part.holder_account
            ctx.call(
                TOKEN,
                "transfer_from",
                TransferFromArgs(root.asset, ctx.sender, payee, part.face_value_minor),
            )
            ctx.state.save(receivable_key(part.id), replace(part, status=CLOSED, offer=None))
        repaid = replace(root, live_parts=(), repaid=True)
        ctx.state.save(root_key(root.id), repaid)
        ctx.emit(
            "ReceivableRepaid",
            root_id=root.id,
            parts=len(root.live_parts),
            amount_minor=root.face_value_minor,
        )
        return repaid

    @method(RootArgs)
    def mark_past_due(self, ctx: Context, args: RootArgs) -> Root:
        """Any member marks an unpaid receivable past its due time (visible to lenders)."""
        root = load_root(ctx, args.root_id)
        if root.repaid:
            ctx.reject("already_repaid", f"receivable {root.id} is repaid")
        if ctx.time_ms < root.due_time_ms:
            ctx.reject("not_yet_due", f"receivable {root.id} is due at {root.due_time_ms} ms")
        if root.past_due:
            ctx.reject("already_past_due", f"receivable {root.id} is marked past due")
        marked = replace(root, past_due=True)
        ctx.state.save(root_key(root.id), marked)
        parts = [load_part(ctx, part_id) for part_id in root.live_parts]
        parties = past_due_parties(root, parts)
        for organization in parties:
            counted = past_due_count_key(organization)
            sequence = ctx.state.load(counted, int) or 0
            ctx.state.save(past_due_key(organization, sequence), root.id)
            ctx.state.save(counted, sequence + 1)
        ctx.emit(
            "ReceivablePastDue", root_id=root.id, obligor=root.obligor, parties=",".join(parties)
        )
        return marked


def advance_minor(face_value_minor: int, rate_ppm: int, remaining_ms: int) -> int:
    """What a funder pays for ``face_value_minor`` due in ``remaining_ms``: the face value less
    simple interest at ``rate_ppm`` per 365-day year, the interest rounded up to a whole minor
    unit (the funder never pays more than the exact price)."""
    remaining = max(remaining_ms, 0)
    denominator = PPM * YEAR_MS
    discount = -(-face_value_minor * rate_ppm * remaining // denominator)
    return face_value_minor - discount


def past_due_parties(root: Root, parts: Sequence[Receivable]) -> tuple[str, ...]:
    """Who a past-due receivable is reported to, in this order: its obligor, then the
    organization each live part is to be paid to (its pledgee if pledged, else its holder) and
    each holder of a pledged part, in part order, each once."""
    parties = [root.obligor]
    for part in parts:
        for organization in (part.pledgee, part.holder):
            if organization and organization not in parties:
                parties.append(organization)
    return tuple(parties)


def past_due_position(
    root: Root, parts: Sequence[Receivable], organization: str
) -> tuple[tuple[str, ...], int]:
    """``organization``'s roles in a receivable (``obligor``, ``holder``, ``pledgee``) and what
    repayment pays it: the face values of the live parts paid to it (0 once repaid: no part
    is live)."""
    roles = []
    if root.obligor == organization:
        roles.append("obligor")
    if any(part.holder == organization for part in parts):
        roles.append("holder")
    if any(part.pledgee == organization for part in parts):
        roles.append("pledgee")
    owed = sum(
        part.face_value_minor for part in parts if (part.pledgee or part.holder) == organization
    )
    return tuple(roles), owed


def days_past_due(due_time_ms: int, time_ms: int) -> int:
    """Whole days from the due time to ``time_ms`` (a block time), 0 before it."""
    return max(0, time_ms - due_time_ms) // MS_PER_DAY


def past_due_row(
    root: Root, parts: Sequence[Receivable], organization: str, time_ms: int
) -> PastDueRow:
    """A row of ``organization``'s past-due report from a root, its live parts (in the root's
    order) and the block time they were read at."""
    roles, owed = past_due_position(root, parts, organization)
    days = 0 if root.repaid else days_past_due(root.due_time_ms, time_ms)
    return PastDueRow(
        root.id,
        root.asset,
        root.obligor,
        root.face_value_minor,
        root.due_time_ms,
        days,
        root.repaid,
        roles,
        owed,
    )


# -- helpers ----------------------------------------------------------------------------------


def _check_account(ctx: Context, address: bytes, organization: str) -> None:
    check_address(ctx, address, "account")
    account = ctx.account(address)
    if account is None or account.organization != organization or not account.active:
        ctx.reject(
            "invalid_account",
            f"the account must be an active registered account of {organization}",
            organization=organization,
        )


def _check_backing(ctx: Context, backing: tuple[Backing, ...], face_value_minor: int) -> None:
    if not 1 <= len(backing) <= MAX_BACKING:
        ctx.reject("invalid_backing", f"a receivable is backed by 1..{MAX_BACKING} documents")
    if len({b.document_hash for b in backing}) != len(backing):
        ctx.reject("invalid_backing", "a document is named twice")
    covered = 0
    for document in backing:
        if document.kind not in BACKING_KINDS or len(document.document_hash) != HASH_BYTES:
            ctx.reject(
                "invalid_backing",
                f"a document is a kind of {list(BACKING_KINDS)} and a {HASH_BYTES}-byte hash",
            )
        if document.kind == INVOICE:
            check_amount(ctx, document.amount_minor, allow_zero=False)
            covered += document.amount_minor
            check_bound(ctx, covered, "invoice total")
        elif document.amount_minor != 0:
            ctx.reject("invalid_backing", "only an invoice states an amount")
        if document.kind in (SHIPPING_EVENT, RECEIVING_EVENT):
            wanted = SHIPPING if document.kind == SHIPPING_EVENT else RECEIVING
            event = ctx.state.load(event_key(document.document_hash), EventRecord)
            if event is None or event.kind != wanted:
                ctx.reject(
                    "unknown_event",
                    f"no {wanted} event with hash {document.document_hash.hex()} is recorded",
                )
        used = ctx.state.load(document_key(document.document_hash), DocumentUse)
        if used is not None:
            ctx.reject(
                "document_already_used",
                f"document {document.document_hash.hex()} backs receivable {used.root_id}",
                root_id=used.root_id,
            )
    if covered < face_value_minor:
        ctx.reject(
            "backing_insufficient",
            f"the invoices cover {covered}, less than the face value {face_value_minor}",
        )


def load_part(ctx: Context, receivable_id: int) -> Receivable:
    part = None
    if 0 < receivable_id <= MAX_RECEIVABLE_ID:
        part = ctx.state.load(receivable_key(receivable_id), Receivable)
    if part is None:
        ctx.reject("unknown_receivable", f"no receivable {receivable_id}")
    return part


def load_root(ctx: Context, root_id: int) -> Root:
    root = None
    if 0 < root_id <= MAX_RECEIVABLE_ID:
        root = ctx.state.load(root_key(root_id), Root)
    if root is None:
        ctx.reject("unknown_receivable", f"no root receivable {root_id}")
    return root


def _live_part(ctx: Context, receivable_id: int) -> Receivable:
    part = load_part(ctx, receivable_id)
    if part.status != LIVE:
        ctx.reject("receivable_not_live", f"receivable {part.id} is {part.status}")
    return part


def _held_part(ctx: Context, receivable_id: int) -> Receivable:
    part = _live_part(ctx, receivable_id)
    if part.holder != ctx.organization:
        ctx.reject("not_holder", f"{ctx.organization} does not hold receivable {part.id}")
    return part


def _check_not_matured(ctx: Context, part: Receivable) -> None:
    if ctx.time_ms >= part.due_time_ms:
        ctx.reject("receivable_matured", f"receivable {part.id} is due; it can only be repaid")


def _movable_part(ctx: Context, receivable_id: int) -> Receivable:
    """A live part the sender holds, not pledged, with no open offer, before maturity."""
    part = _held_part(ctx, receivable_id)
    if part.pledgee:
        ctx.reject("receivable_pledged", f"receivable {part.id} is pledged to {part.pledgee}")
    if part.offer is not None:
        ctx.reject("offer_open", f"receivable {part.id} has an open finance offer")
    _check_not_matured(ctx, part)
    return part
