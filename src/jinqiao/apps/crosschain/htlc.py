"""The ``htlc`` contract: hash time locks, for atomic swaps between two chains without trust
(docs/crosschain.md §5).

A *lock* holds ``amount_minor`` of a token asset for ``recipient`` under ``hash_lock =
SHA-256(preimage)`` until ``timeout_height`` (a height of this chain). Before the timeout anyone
holding the 32-byte preimage may ``redeem``: the recipient is paid and the preimage is stored in
the lock (and shown in the ``Redeemed`` event), where the other party reads it. From the timeout
on, anyone may ``refund``: the sender is paid back. A lock is closed exactly once.

A swap of X on chain A for Y on chain B: Alice picks the preimage and locks X on A for Bob with
timeout ``T_A``; Bob, seeing the lock, locks Y on B for Alice under the same hash with a timeout
``T_B`` that ends well before ``T_A`` (in time); Alice redeems Y on B, revealing the preimage;
Bob redeems X on A with it. If Alice never redeems, both refund after their timeouts; if she
redeems, Bob has until ``T_A`` to redeem. SHA-256 is fixed, whatever each chain's suite, so both
chains check the same hash.

The sender funds a lock as in ``xtransfer``: ``approve`` this contract's address in the token
contract, then ``lock``. State (namespace ``htlc``): ``lock/<id>`` → ``Lock`` where ``id =
SHA-256("jinqiao/htlc/v1\\0" || sender || hash_lock)`` (32 raw bytes).
"""

from __future__ import annotations

import hashlib

import msgspec

from jinqiao.apps.registry import check_address
from jinqiao.apps.token import SYMBOL, TOKEN, TransferArgs, TransferFromArgs
from jinqiao.core.codec import CanonicalStruct
from jinqiao.core.limits import MAX_HEIGHT, MAX_NAME_LENGTH
from jinqiao.execution.api import Context, Contract, check_amount, method, query

HTLC = "htlc"
HASH_BYTES = 32
PREIMAGE_BYTES = 32
MAX_LOCK_BLOCKS = 1_000_000
LOCK_PREFIX = b"lock/"
LOCK_ID_TAG = b"jinqiao/htlc/v1\x00"

STATUS_OPEN = "open"
STATUS_REDEEMED = "redeemed"
STATUS_REFUNDED = "refunded"


def lock_id(sender: bytes, hash_lock: bytes) -> bytes:
    return hashlib.sha256(LOCK_ID_TAG + sender + hash_lock).digest()


def lock_key(identifier: bytes) -> bytes:
    return LOCK_PREFIX + identifier


def hash_of(preimage: bytes) -> bytes:
    return hashlib.sha256(preimage).digest()


class Lock(CanonicalStruct, frozen=True):
    id: bytes
    sender: bytes
    recipient: bytes
    asset: str
    amount_minor: int
    hash_lock: bytes
    timeout_height: int
    status: str
    preimage: bytes
    """Empty until redeemed."""


class LockArgs(CanonicalStruct, frozen=True):
    asset: str
    amount_minor: int
    recipient: bytes
    hash_lock: bytes
    timeout_height: int


class RedeemArgs(CanonicalStruct, frozen=True):
    id: bytes
    preimage: bytes


class LockRefArgs(CanonicalStruct, frozen=True):
    id: bytes


class Htlc(Contract):
    """Hash time locks. See the module docstring."""

    name = HTLC

    @method(LockArgs)
    def lock(self, ctx: Context, args: LockArgs) -> Lock:
        check_amount(ctx, args.amount_minor, allow_zero=False)
        check_address(ctx, args.recipient, "recipient")
        if not SYMBOL.fullmatch(args.asset):
            ctx.reject("unknown_asset", f"no asset {args.asset[:MAX_NAME_LENGTH]!r}")
        if len(args.hash_lock) != HASH_BYTES:
            ctx.reject("invalid_hash_lock", f"a hash lock is {HASH_BYTES} bytes (SHA-256)")
        if not ctx.height < args.timeout_height <= min(ctx.height + MAX_LOCK_BLOCKS, MAX_HEIGHT):
            ctx.reject(
                "invalid_timeout",
                f"timeout_height must be above {ctx.height} and at most {MAX_LOCK_BLOCKS} above",
            )
        if ctx.account(args.recipient) is None:
            ctx.reject("unknown_recipient", "the recipient is not a registered account")
        identifier = lock_id(ctx.sender, args.hash_lock)
        if ctx.state.load(lock_key(identifier), Lock) is not None:
            ctx.reject("lock_exists", "this sender already used this hash lock")
        ctx.call(
            TOKEN,
            "transfer_from",
            TransferFromArgs(args.asset, ctx.sender, ctx.contract_address(HTLC), args.amount_minor),
        )
        lock = Lock(
            identifier,
            ctx.sender,
            args.recipient,
            args.asset,
            args.amount_minor,
            args.hash_lock,
            args.timeout_height,
            STATUS_OPEN,
            b"",
        )
        ctx.state.save(lock_key(identifier), lock)
        ctx.emit(
            "Locked",
            id=identifier,
            sender=ctx.sender,
            recipient=args.recipient,
            asset=args.asset,
            amount_minor=args.amount_minor,
            hash_lock=args.hash_lock,
            timeout_height=args.timeout_height,
        )
        return lock

    @method(RedeemArgs)
    def redeem(self, ctx: Context, args: RedeemArgs) -> None:
        lock = _open_lock(ctx, args.id)
        if ctx.height >= lock.timeout_height:
            ctx.reject("lock_expired", f"the lock expired at height {lock.timeout_height}")
        if len(args.preimage) != PREIMAGE_BYTES or hash_of(args.preimage) != lock.hash_lock:
            ctx.reject("wrong_preimage", "the preimage does not hash to the lock's hash")
        _close(ctx, lock, STATUS_REDEEMED, lock.recipient, args.preimage)
        ctx.emit("Redeemed", id=lock.id, preimage=args.preimage, recipient=lock.recipient)

    @method(LockRefArgs)
    def refund(self, ctx: Context, args: LockRefArgs) -> None:
        lock = _open_lock(ctx, args.id)
        if ctx.height < lock.timeout_height:
            ctx.reject(
                "lock_not_expired", f"the lock can be refunded from height {lock.timeout_height}"
            )
        _close(ctx, lock, STATUS_REFUNDED, lock.sender, b"")
        ctx.emit("Refunded", id=lock.id, sender=lock.sender)

    @query(LockRefArgs)
    def get_lock(self, ctx: Context, args: LockRefArgs) -> Lock:
        return _load_lock(ctx, args.id)


def _close(ctx: Context, lock: Lock, status: str, payee: bytes, preimage: bytes) -> None:
    """Mark ``lock`` closed (before paying: the lock is closed whatever the token does next) and
    pay its amount to ``payee``."""
    closed = msgspec.structs.replace(lock, status=status, preimage=preimage)
    ctx.state.save(lock_key(lock.id), closed)
    ctx.call(TOKEN, "transfer", TransferArgs(lock.asset, payee, lock.amount_minor))


def _load_lock(ctx: Context, identifier: bytes) -> Lock:
    lock = ctx.state.load(lock_key(identifier), Lock) if len(identifier) == HASH_BYTES else None
    if lock is None:
        ctx.reject("unknown_lock", "no such lock")
    return lock


def _open_lock(ctx: Context, identifier: bytes) -> Lock:
    lock = _load_lock(ctx, identifier)
    if lock.status != STATUS_OPEN:
        ctx.reject("lock_closed", f"the lock was already {lock.status}")
    return lock


__all__ = [
    "HTLC",
    "Htlc",
    "Lock",
    "LockArgs",
    "LockRefArgs",
    "RedeemArgs",
    "hash_of",
    "lock_id",
    "lock_key",
]
