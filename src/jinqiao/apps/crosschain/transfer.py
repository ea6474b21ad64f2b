"""The ``xtransfer`` contract: token transfer across chains, ICS-20 style (docs/crosschain.md §4).

A *denomination* is a token asset of this chain (``CNY``) or a voucher for another chain's
asset, named by the path it came in on: ``xtransfer/<channel>/<denomination there>``.

* Sending a native asset escrows it: the sender first ``approve``s this contract's address in
  the token contract, then ``send_transfer`` moves the amount into this contract's token balance
  and counts it under ``escrow/<channel>/<asset>``.
* Receiving a denomination that does not start with the sender's ``<port>/<channel>/`` mints a
  voucher ``xtransfer/<our channel>/<denomination>`` to the receiver, kept in this contract's
  own ledger (``voucher/…``, ``voucher_supply/…``; holders move it with ``transfer_voucher``).
* Sending a voucher back burns it; the receiver sees its own ``xtransfer/<channel>/`` prefix on
  the denomination, strips it and releases that much from the channel's escrow.
* A refusal acknowledgement or a timeout undoes the send: escrow is paid back, or the burnt
  voucher minted again, to the sender.

So for an asset of chain A and the channel pair (A's ``a``, B's ``b``), at every moment
``escrow(A, a, asset) == supply(B, xtransfer/b/asset) + in flight``, where in flight is what is
escrowed or burnt and not yet minted or released on the other side (the property test checks it
over both chains).

State (namespace ``xtransfer``; ``<address>`` 20 raw bytes at the end of the key):
``escrow/<channel>/<asset>`` → ``int``; ``voucher/<denomination>/<address>`` → ``int``;
``voucher_supply/<denomination>`` → ``int`` (absent: 0).
"""

from __future__ import annotations

from jinqiao.apps.crosschain.model import (
    CROSSCHAIN,
    IDENTIFIER,
    MAX_PACKET_DATA_BYTES,
    Acknowledgement,
    AcknowledgementCallArgs,
    Packet,
    PacketCallArgs,
    SendPacketArgs,
    SequenceResult,
)
from jinqiao.apps.registry import check_address
from jinqiao.apps.token import SYMBOL, TOKEN, TransferArgs, TransferFromArgs
from jinqiao.core.codec import CanonicalStruct, decode, encode
from jinqiao.core.errors import DecodeError
from jinqiao.core.limits import MAX_AMOUNT_MINOR, MAX_NAME_LENGTH
from jinqiao.core.types import ADDRESS_BYTES
from jinqiao.execution.api import (
    CONTRACT_ROLE,
    Context,
    Contract,
    check_amount,
    check_bound,
    method,
    query,
)

XTRANSFER = "xtransfer"
MAX_DENOMINATION_LENGTH = MAX_NAME_LENGTH
ESCROW_PREFIX = b"escrow/"
VOUCHER_PREFIX = b"voucher/"
VOUCHER_SUPPLY_PREFIX = b"voucher_supply/"


def escrow_key(channel_id: str, asset: str) -> bytes:
    return ESCROW_PREFIX + channel_id.encode() + b"/" + asset.encode()


def voucher_key(denomination: str, address: bytes) -> bytes:
    return VOUCHER_PREFIX + denomination.encode() + b"/" + address


def voucher_supply_key(denomination: str) -> bytes:
    return VOUCHER_SUPPLY_PREFIX + denomination.encode()


class TransferData(CanonicalStruct, frozen=True):
    """A packet's ``data``: ``amount_minor`` of ``denomination`` (as the sending chain names
    it) from ``sender`` there to ``receiver`` on the destination."""

    denomination: str
    amount_minor: int
    sender: bytes
    receiver: bytes


class SendTransferArgs(CanonicalStruct, frozen=True):
    channel_id: str
    denomination: str
    amount_minor: int
    receiver: bytes
    timeout_height: int


class VoucherTransferArgs(CanonicalStruct, frozen=True):
    denomination: str
    recipient: bytes
    amount_minor: int


class VoucherBalanceArgs(CanonicalStruct, frozen=True):
    denomination: str
    address: bytes


class DenominationArgs(CanonicalStruct, frozen=True):
    denomination: str


class EscrowArgs(CanonicalStruct, frozen=True):
    channel_id: str
    asset: str


class Amount(CanonicalStruct, frozen=True):
    amount_minor: int


class CrossTransfer(Contract):
    """Escrow, vouchers and their packets. See the module docstring."""

    name = XTRANSFER

    @method(SendTransferArgs)
    def send_transfer(self, ctx: Context, args: SendTransferArgs) -> SequenceResult:
        check_amount(ctx, args.amount_minor, allow_zero=False)
        check_address(ctx, args.receiver, "receiver")
        if not IDENTIFIER.fullmatch(args.channel_id):
            ctx.reject("unknown_channel", f"no channel {args.channel_id[:64]!r}")
        _check_denomination(ctx, args.denomination)
        if _is_voucher_of(args.denomination, args.channel_id):
            self._burn(ctx, args.denomination, ctx.sender, args.amount_minor)
        elif args.denomination.startswith(XTRANSFER + "/"):
            ctx.reject(
                "wrong_channel",
                f"voucher {args.denomination} goes back only on the channel it came in on",
            )
        else:
            ctx.call(
                TOKEN,
                "transfer_from",
                TransferFromArgs(
                    args.denomination,
                    ctx.sender,
                    ctx.contract_address(XTRANSFER),
                    args.amount_minor,
                ),
            )
            self._add_escrow(ctx, args.channel_id, args.denomination, args.amount_minor)
        data = TransferData(args.denomination, args.amount_minor, ctx.sender, args.receiver)
        raw = ctx.call(
            CROSSCHAIN,
            "send_packet",
            SendPacketArgs(XTRANSFER, args.channel_id, encode(data), args.timeout_height),
        )
        return decode(raw, SequenceResult, max_bytes=64)

    @method(VoucherTransferArgs)
    def transfer_voucher(self, ctx: Context, args: VoucherTransferArgs) -> None:
        check_amount(ctx, args.amount_minor, allow_zero=False)
        check_address(ctx, args.recipient, "recipient")
        _check_denomination(ctx, args.denomination)
        if ctx.account(args.recipient) is None:
            ctx.reject("unknown_recipient", "the recipient is not a registered account")
        self._burn(ctx, args.denomination, ctx.sender, args.amount_minor, supply=False)
        self._mint(ctx, args.denomination, args.recipient, args.amount_minor, supply=False)
        ctx.emit(
            "VoucherTransfer",
            denomination=args.denomination,
            sender=ctx.sender,
            recipient=args.recipient,
            amount_minor=args.amount_minor,
        )

    # -- called by the crosschain contract -----------------------------------------------------

    @method(PacketCallArgs, roles=(CONTRACT_ROLE,))
    def on_recv_packet(self, ctx: Context, args: PacketCallArgs) -> Acknowledgement:
        _require_crosschain(ctx)
        packet = args.packet
        data = _transfer_data(packet)
        if data is None:
            return Acknowledgement(False, "invalid_packet_data", b"")
        if ctx.account(data.receiver) is None:
            return Acknowledgement(False, "unknown_recipient", b"")
        returning = f"{packet.source_port}/{packet.source_channel}/"
        if data.denomination.startswith(returning):
            asset = data.denomination[len(returning) :]
            key = escrow_key(packet.destination_channel, asset)
            escrowed = ctx.state.load_int(key)
            if not SYMBOL.fullmatch(asset) or escrowed < data.amount_minor:
                return Acknowledgement(False, "insufficient_escrow", b"")
            ctx.state.save_int(key, escrowed - data.amount_minor)
            ctx.call(TOKEN, "transfer", TransferArgs(asset, data.receiver, data.amount_minor))
        else:
            voucher = f"{XTRANSFER}/{packet.destination_channel}/{data.denomination}"
            if len(voucher) > MAX_DENOMINATION_LENGTH:
                return Acknowledgement(False, "denomination_too_long", b"")
            supply = ctx.state.load_int(voucher_supply_key(voucher))
            if supply + data.amount_minor > MAX_AMOUNT_MINOR:
                return Acknowledgement(False, "amount_overflow", b"")
            self._mint(ctx, voucher, data.receiver, data.amount_minor)
        return Acknowledgement(True, "ok", b"")

    @method(AcknowledgementCallArgs, roles=(CONTRACT_ROLE,))
    def on_acknowledge_packet(self, ctx: Context, args: AcknowledgementCallArgs) -> None:
        _require_crosschain(ctx)
        if not args.acknowledgement.success:
            self._refund(ctx, args.packet)

    @method(PacketCallArgs, roles=(CONTRACT_ROLE,))
    def on_timeout_packet(self, ctx: Context, args: PacketCallArgs) -> None:
        _require_crosschain(ctx)
        self._refund(ctx, args.packet)

    # -- queries -------------------------------------------------------------------------------

    @query(VoucherBalanceArgs)
    def voucher_balance(self, ctx: Context, args: VoucherBalanceArgs) -> Amount:
        _check_denomination(ctx, args.denomination)
        check_address(ctx, args.address)
        return Amount(ctx.state.load_int(voucher_key(args.denomination, args.address)))

    @query(DenominationArgs)
    def voucher_supply(self, ctx: Context, args: DenominationArgs) -> Amount:
        _check_denomination(ctx, args.denomination)
        return Amount(ctx.state.load_int(voucher_supply_key(args.denomination)))

    @query(EscrowArgs)
    def escrow(self, ctx: Context, args: EscrowArgs) -> Amount:
        _check_denomination(ctx, args.asset)
        if not IDENTIFIER.fullmatch(args.channel_id):
            ctx.reject("unknown_channel", f"no channel {args.channel_id[:64]!r}")
        return Amount(ctx.state.load_int(escrow_key(args.channel_id, args.asset)))

    # -- helpers -------------------------------------------------------------------------------

    def _refund(self, ctx: Context, packet: Packet) -> None:
        """Undo a send whose packet was refused or timed out."""
        data = _transfer_data(packet)
        if data is None:  # this contract wrote the packet; it always decodes
            ctx.reject("invalid_packet_data", "the packet's data is not a transfer")
        if _is_voucher_of(data.denomination, packet.source_channel):
            self._mint(ctx, data.denomination, data.sender, data.amount_minor)
        else:
            key = escrow_key(packet.source_channel, data.denomination)
            escrowed = ctx.state.load_int(key)
            if escrowed < data.amount_minor:
                ctx.reject("insufficient_escrow", "the escrow does not cover the refund")
            ctx.state.save_int(key, escrowed - data.amount_minor)
            ctx.call(
                TOKEN, "transfer", TransferArgs(data.denomination, data.sender, data.amount_minor)
            )
        ctx.emit(
            "TransferRefunded",
            channel_id=packet.source_channel,
            sequence=packet.sequence,
            sender=data.sender,
            amount_minor=data.amount_minor,
        )

    def _add_escrow(self, ctx: Context, channel_id: str, asset: str, amount_minor: int) -> None:
        key = escrow_key(channel_id, asset)
        escrowed = ctx.state.load_int(key) + amount_minor
        check_bound(ctx, escrowed, "escrow")
        ctx.state.save_int(key, escrowed)

    def _mint(
        self,
        ctx: Context,
        denomination: str,
        address: bytes,
        amount_minor: int,
        *,
        supply: bool = True,
    ) -> None:
        key = voucher_key(denomination, address)
        balance = ctx.state.load_int(key) + amount_minor
        check_bound(ctx, balance, "voucher balance")
        ctx.state.save_int(key, balance)
        if supply:
            total = ctx.state.load_int(voucher_supply_key(denomination)) + amount_minor
            check_bound(ctx, total, "voucher supply")
            ctx.state.save_int(voucher_supply_key(denomination), total)
            ctx.emit(
                "VoucherMinted",
                denomination=denomination,
                address=address,
                amount_minor=amount_minor,
            )

    def _burn(
        self,
        ctx: Context,
        denomination: str,
        address: bytes,
        amount_minor: int,
        *,
        supply: bool = True,
    ) -> None:
        key = voucher_key(denomination, address)
        balance = ctx.state.load_int(key)
        if balance < amount_minor:
            ctx.reject(
                "insufficient_funds",
                f"the voucher balance is {balance}",
                balance_minor=balance,
                amount_minor=amount_minor,
            )
        ctx.state.save_int(key, balance - amount_minor)
        if supply:
            total = ctx.state.load_int(voucher_supply_key(denomination)) - amount_minor
            ctx.state.save_int(voucher_supply_key(denomination), total)
            ctx.emit(
                "VoucherBurnt",
                denomination=denomination,
                address=address,
                amount_minor=amount_minor,
            )


def _is_voucher_of(denomination: str, channel_id: str) -> bool:
    return denomination.startswith(f"{XTRANSFER}/{channel_id}/")


def _denomination_ok(denomination: str) -> bool:
    """An asset symbol behind zero or more ``<port>/<channel>/`` hops, at most 64 characters."""
    parts = denomination.split("/")
    return (
        0 < len(denomination) <= MAX_DENOMINATION_LENGTH
        and SYMBOL.fullmatch(parts[-1]) is not None
        and all(IDENTIFIER.fullmatch(part) for part in parts[:-1])
    )


def _check_denomination(ctx: Context, denomination: str) -> None:
    if not _denomination_ok(denomination):
        ctx.reject("unknown_asset", f"no denomination {denomination[:64]!r}")


def _transfer_data(packet: Packet) -> TransferData | None:
    try:
        data = decode(packet.data, TransferData, max_bytes=MAX_PACKET_DATA_BYTES)
    except DecodeError:
        return None
    if (
        not 1 <= data.amount_minor <= MAX_AMOUNT_MINOR
        or len(data.sender) != ADDRESS_BYTES
        or len(data.receiver) != ADDRESS_BYTES
        or not _denomination_ok(data.denomination)
    ):
        return None
    return data


def _require_crosschain(ctx: Context) -> None:
    if ctx.sender != ctx.contract_address(CROSSCHAIN):
        ctx.reject("unauthorized", "only the crosschain contract delivers packets")


__all__ = [
    "XTRANSFER",
    "Amount",
    "CrossTransfer",
    "DenominationArgs",
    "EscrowArgs",
    "SendTransferArgs",
    "TransferData",
    "VoucherBalanceArgs",
    "VoucherTransferArgs",
    "escrow_key",
    "voucher_key",
    "voucher_supply_key",
]
