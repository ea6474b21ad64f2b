"""The ``crosschain`` contract: light clients of other chains, channels, and packets carried
between contracts of two chains with proofs (docs/crosschain.md).

Who calls what:

* governance (a ``call_contract`` proposal) creates a client from the counterparty's genesis and
  opens channels — the two steps that decide whom this chain trusts;
* anyone registered (a relayer; it is not trusted) updates clients with certified headers,
  reports misbehaviour, and delivers packets, acknowledgements and timeouts with their proofs;
* a port contract (``xtransfer``, ``htlc``, any contract given a channel) sends packets and is
  called back: ``on_recv_packet(PacketCallArgs) -> Acknowledgement``,
  ``on_acknowledge_packet(AcknowledgementCallArgs)`` and ``on_timeout_packet(PacketCallArgs)``,
  each accepting role ``contract`` and checking that the caller is this contract.

A packet is delivered exactly once and in order: the receiver keeps the next sequence per
channel, refuses a replay (``packet_already_received``) and a gap (``packet_out_of_order``). A
packet that reaches the receiver at or after its ``timeout_height`` is not delivered: it is
skipped (the sequence moves on, no receipt is written), so the absence of its receipt at any
header from ``timeout_height`` on proves, for good, that it was never delivered — the sender's
refund (``timeout_packet``) rests on exactly that absence proof.

A target contract that cannot accept a packet answers with a refusal acknowledgement and changes
nothing; if it raises instead, the whole ``recv_packet`` transaction is rejected, nothing
changes, and the packet can be delivered again later or times out.
"""

from __future__ import annotations

from jinqiao.apps.crosschain.client import (
    active_client,
    check_id,
    consensus_state,
    create_client,
    load_client,
    submit_misbehaviour,
    substitute_client,
    update_client,
)
from jinqiao.apps.crosschain.model import (
    CLOSED_ACKNOWLEDGED,
    CLOSED_TIMED_OUT,
    CROSSCHAIN,
    IDENTIFIER,
    MAX_ACKNOWLEDGEMENT_RESULT_BYTES,
    MAX_CHANNELS,
    MAX_PACKET_DATA_BYTES,
    MAX_TIMEOUT_BLOCKS,
    Acknowledgement,
    AcknowledgementCallArgs,
    AcknowledgePacketArgs,
    Channel,
    ChannelArgs,
    ClientArgs,
    ClientState,
    ConsensusState,
    ConsensusStateArgs,
    CreateClientArgs,
    MisbehaviourArgs,
    OpenChannelArgs,
    Packet,
    PacketCallArgs,
    PacketRefArgs,
    RecvPacketArgs,
    SendPacketArgs,
    SequencePair,
    SequenceResult,
    SubstituteClientArgs,
    TimeoutPacketArgs,
    UpdateClientArgs,
    channel_key,
    closed_key,
    commitment_key,
    full_crosschain_key,
    next_recv_key,
    next_send_key,
    receipt_key,
)
from jinqiao.core.codec import decode, encode
from jinqiao.core.crypto import get_suite
from jinqiao.core.errors import DecodeError, NodeFault
from jinqiao.core.genesis import IDENTIFIER as CONTRACT_NAME
from jinqiao.core.proofs import SparseMerkleProof, key_hash
from jinqiao.execution.api import (
    CONTRACT_ROLE,
    GOVERNANCE,
    Context,
    Contract,
    VerificationError,
    method,
    query,
    verify_state_proof,
)

CHANNEL_COUNT_KEY = b"channel_count"


class CrossChain(Contract):
    """Light clients, channels and proven packets. See the module docstring."""

    name = CROSSCHAIN

    # -- governance ------------------------------------------------------------------------

    @method(CreateClientArgs, roles=(CONTRACT_ROLE,))
    def create_client(self, ctx: Context, args: CreateClientArgs) -> ClientState:
        _require_governance(ctx, "clients are created")
        return create_client(ctx, args.client_id, args.chain_id, args.suite, args.validators)

    @method(SubstituteClientArgs, roles=(CONTRACT_ROLE,))
    def substitute_client(self, ctx: Context, args: SubstituteClientArgs) -> ClientState:
        _require_governance(ctx, "frozen clients are recovered")
        return substitute_client(ctx, args.subject, args.substitute)

    @method(OpenChannelArgs, roles=(CONTRACT_ROLE,))
    def open_channel(self, ctx: Context, args: OpenChannelArgs) -> Channel:
        _require_governance(ctx, "channels are opened")
        check_id(ctx, args.channel_id, "invalid_channel_id")
        check_id(ctx, args.counterparty_channel, "invalid_channel_id")
        load_client(ctx, args.client_id)
        if ctx.state.load(channel_key(args.channel_id), Channel) is not None:
            ctx.reject("channel_exists", f"channel {args.channel_id} already exists")
        for port in (args.port, args.counterparty_port):
            if not CONTRACT_NAME.fullmatch(port):
                ctx.reject("invalid_port", "a port is a contract name", port=port[:64])
        if not ctx.is_contract(ctx.contract_address(args.port)) or args.port == CROSSCHAIN:
            ctx.reject("unknown_port", f"no contract {args.port} here to bind the channel to")
        count = ctx.state.load_int(CHANNEL_COUNT_KEY)
        if count >= MAX_CHANNELS:
            ctx.reject("too_many_channels", f"at most {MAX_CHANNELS} channels")
        channel = Channel(
            args.channel_id,
            args.client_id,
            args.port,
            args.counterparty_channel,
            args.counterparty_port,
        )
        ctx.state.save(channel_key(args.channel_id), channel)
        ctx.state.save_int(CHANNEL_COUNT_KEY, count + 1)
        ctx.emit(
            "ChannelOpened",
            channel_id=args.channel_id,
            client_id=args.client_id,
            port=args.port,
            counterparty_channel=args.counterparty_channel,
            counterparty_port=args.counterparty_port,
        )
        return channel

    # -- clients (anyone: the relayer is not trusted) ----------------------------------------

    @method(UpdateClientArgs)
    def update_client(self, ctx: Context, args: UpdateClientArgs) -> ClientState:
        return update_client(
            ctx, args.client_id, args.header, args.certificate, args.next_validators
        )

    @method(MisbehaviourArgs)
    def submit_misbehaviour(self, ctx: Context, args: MisbehaviourArgs) -> ClientState:
        return submit_misbehaviour(
            ctx,
            args.client_id,
            (args.first, args.first_certificate),
            (args.second, args.second_certificate),
        )

    # -- packets -----------------------------------------------------------------------------

    @method(SendPacketArgs, roles=(CONTRACT_ROLE,))
    def send_packet(self, ctx: Context, args: SendPacketArgs) -> SequenceResult:
        """Put a packet in the outbox (called by the port contract itself)."""
        channel = _channel(ctx, args.channel_id)
        if not CONTRACT_NAME.fullmatch(args.port) or ctx.sender != ctx.contract_address(args.port):
            ctx.reject("unauthorized", "only a channel's port contract sends on it")
        if args.port != channel.port:
            ctx.reject("wrong_port", f"channel {channel.channel_id} is bound to {channel.port}")
        client = active_client(ctx, channel.client_id)
        if len(args.data) > MAX_PACKET_DATA_BYTES:
            ctx.reject("packet_too_large", f"packet data is at most {MAX_PACKET_DATA_BYTES} bytes")
        if (
            not client.latest_height
            < args.timeout_height
            <= (client.latest_height + MAX_TIMEOUT_BLOCKS)
        ):
            ctx.reject(
                "invalid_timeout",
                f"timeout_height must be above the destination's height {client.latest_height} "
                f"known here and at most {MAX_TIMEOUT_BLOCKS} above it",
            )
        sequence = ctx.state.load_int(next_send_key(channel.channel_id)) or 1
        packet = Packet(
            sequence,
            channel.channel_id,
            channel.port,
            channel.counterparty_channel,
            channel.counterparty_port,
            args.data,
            args.timeout_height,
        )
        ctx.state.save(commitment_key(channel.channel_id, sequence), packet)
        ctx.state.save_int(next_send_key(channel.channel_id), sequence + 1)
        _emit_packet(ctx, "PacketSent", packet)
        return SequenceResult(sequence)

    @method(RecvPacketArgs)
    def recv_packet(self, ctx: Context, args: RecvPacketArgs) -> Acknowledgement | None:
        """Deliver a packet proven to be in the counterparty's outbox."""
        packet = args.packet
        channel = _channel(ctx, packet.destination_channel)
        if (
            packet.source_channel != channel.counterparty_channel
            or packet.source_port != channel.counterparty_port
        ):
            ctx.reject(
                "wrong_channel",
                f"channel {channel.channel_id} carries packets from "
                f"{channel.counterparty_port} on {channel.counterparty_channel} only",
            )
        if packet.destination_port != channel.port:
            ctx.reject("wrong_port", f"channel {channel.channel_id} is bound to {channel.port}")
        client = active_client(ctx, channel.client_id)
        expected = ctx.state.load_int(next_recv_key(channel.channel_id)) or 1
        if packet.sequence < expected:
            ctx.reject(
                "packet_already_received",
                f"packet {packet.sequence} on {channel.channel_id} was already received",
            )
        if packet.sequence > expected:
            ctx.reject(
                "packet_out_of_order",
                f"channel {channel.channel_id} expects packet {expected} next",
                expected=expected,
            )
        key = full_crosschain_key(commitment_key(packet.source_channel, packet.sequence))
        _check_proof(ctx, client, args.proof_height, key, encode(packet), args.proof)
        ctx.state.save_int(next_recv_key(channel.channel_id), expected + 1)
        if ctx.height >= packet.timeout_height:
            _emit_packet(ctx, "PacketSkipped", packet)
            return None
        raw = ctx.call(channel.port, "on_recv_packet", PacketCallArgs(packet))
        acknowledgement = _decode_acknowledgement(raw, channel.port)
        ctx.state.save(receipt_key(channel.channel_id, packet.sequence), acknowledgement)
        ctx.emit(
            "PacketReceived",
            channel_id=channel.channel_id,
            sequence=packet.sequence,
            port=channel.port,
            success=acknowledgement.success,
            code=acknowledgement.code,
        )
        return acknowledgement

    @method(AcknowledgePacketArgs)
    def acknowledge_packet(self, ctx: Context, args: AcknowledgePacketArgs) -> None:
        """Close a sent packet with the acknowledgement proven in the destination's inbox."""
        packet = args.packet
        channel, client = _sent_packet(ctx, packet)
        key = full_crosschain_key(receipt_key(packet.destination_channel, packet.sequence))
        value = encode(args.acknowledgement)
        _check_proof(ctx, client, args.proof_height, key, value, args.proof)
        ctx.state.save(closed_key(channel.channel_id, packet.sequence), CLOSED_ACKNOWLEDGED)
        ctx.call(
            channel.port,
            "on_acknowledge_packet",
            AcknowledgementCallArgs(packet, args.acknowledgement),
        )
        ctx.emit(
            "PacketAcknowledged",
            channel_id=channel.channel_id,
            sequence=packet.sequence,
            success=args.acknowledgement.success,
            code=args.acknowledgement.code,
        )

    @method(TimeoutPacketArgs)
    def timeout_packet(self, ctx: Context, args: TimeoutPacketArgs) -> None:
        """Close a sent packet the destination never delivered: proven absent from its inbox
        at a height at or above the packet's timeout."""
        packet = args.packet
        channel, client = _sent_packet(ctx, packet)
        if args.proof_height < packet.timeout_height:
            ctx.reject(
                "timeout_not_reached",
                f"the proof is at height {args.proof_height}; the packet times out at "
                f"{packet.timeout_height}",
            )
        key = full_crosschain_key(receipt_key(packet.destination_channel, packet.sequence))
        leaf = args.proof.leaf
        if leaf is not None and leaf.key_hash == key_hash(get_suite(client.suite), key):
            ctx.reject(
                "packet_delivered",
                f"packet {packet.sequence} was delivered; it is acknowledged, not refunded",
            )
        _check_proof(ctx, client, args.proof_height, key, None, args.proof)
        ctx.state.save(closed_key(channel.channel_id, packet.sequence), CLOSED_TIMED_OUT)
        ctx.call(channel.port, "on_timeout_packet", PacketCallArgs(packet))
        _emit_packet(ctx, "PacketTimedOut", packet)

    # -- queries -----------------------------------------------------------------------------

    @query(ClientArgs)
    def client(self, ctx: Context, args: ClientArgs) -> ClientState:
        return load_client(ctx, args.client_id)

    @query(ConsensusStateArgs)
    def consensus_state(self, ctx: Context, args: ConsensusStateArgs) -> ConsensusState:
        return consensus_state(ctx, load_client(ctx, args.client_id), args.height)

    @query(ChannelArgs)
    def channel(self, ctx: Context, args: ChannelArgs) -> Channel:
        return _channel(ctx, args.channel_id)

    @query(PacketRefArgs)
    def packet_commitment(self, ctx: Context, args: PacketRefArgs) -> Packet:
        _channel(ctx, args.channel_id)
        packet = ctx.state.load(commitment_key(args.channel_id, args.sequence), Packet)
        if packet is None:
            ctx.reject("unknown_packet", f"no packet {args.sequence} sent on {args.channel_id}")
        return packet

    @query(PacketRefArgs)
    def packet_receipt(self, ctx: Context, args: PacketRefArgs) -> Acknowledgement:
        _channel(ctx, args.channel_id)
        receipt = ctx.state.load(receipt_key(args.channel_id, args.sequence), Acknowledgement)
        if receipt is None:
            ctx.reject("unknown_packet", f"no packet {args.sequence} received on {args.channel_id}")
        return receipt

    @query(ChannelArgs)
    def next_sequences(self, ctx: Context, args: ChannelArgs) -> SequencePair:
        _channel(ctx, args.channel_id)
        return SequencePair(
            ctx.state.load_int(next_send_key(args.channel_id)) or 1,
            ctx.state.load_int(next_recv_key(args.channel_id)) or 1,
        )


def _require_governance(ctx: Context, what: str) -> None:
    if ctx.sender != ctx.contract_address(GOVERNANCE):
        ctx.reject("unauthorized", f"{what} only through governance")


def _channel(ctx: Context, channel_id: str) -> Channel:
    channel = (
        ctx.state.load(channel_key(channel_id), Channel)
        if IDENTIFIER.fullmatch(channel_id)
        else None
    )
    if channel is None:
        ctx.reject("unknown_channel", f"no channel {channel_id[:64]!r}")
    return channel


def _sent_packet(ctx: Context, packet: Packet) -> tuple[Channel, ClientState]:
    """The channel and client of a packet this chain sent and has not closed."""
    channel = _channel(ctx, packet.source_channel)
    stored = ctx.state.load(commitment_key(channel.channel_id, packet.sequence), Packet)
    closed = ctx.state.load(closed_key(channel.channel_id, packet.sequence), str)
    if stored is None or closed is not None:
        ctx.reject(
            "unknown_packet",
            f"no packet {packet.sequence} waiting on {channel.channel_id} (never sent, or "
            "already acknowledged or timed out)",
        )
    if stored != packet:
        ctx.reject("packet_mismatch", "the packet is not the one this chain sent")
    return channel, active_client(ctx, channel.client_id)


def _check_proof(
    ctx: Context,
    client: ClientState,
    proof_height: int,
    key: bytes,
    value: bytes | None,
    proof: SparseMerkleProof,
) -> None:
    """``key`` holds ``value`` (``None``: nothing) in the counterparty's state after the
    header the client accepted at ``proof_height``."""
    accepted = consensus_state(ctx, client, proof_height)
    try:
        verify_state_proof(get_suite(client.suite), accepted.state_root, key, value, proof)
    except VerificationError as error:
        ctx.reject("invalid_proof", error.message, proof_height=proof_height)


def _decode_acknowledgement(raw: bytes, port: str) -> Acknowledgement:
    try:
        acknowledgement = decode(
            raw, Acknowledgement, max_bytes=2 * MAX_ACKNOWLEDGEMENT_RESULT_BYTES
        )
    except DecodeError as error:
        raise NodeFault(f"port {port} answered a packet with no acknowledgement") from error
    if len(acknowledgement.result) > MAX_ACKNOWLEDGEMENT_RESULT_BYTES:
        raise NodeFault(f"port {port} answered with an acknowledgement over the limit")
    return acknowledgement


def _emit_packet(ctx: Context, name: str, packet: Packet) -> None:
    ctx.emit(
        name,
        channel_id=packet.source_channel,
        destination_channel=packet.destination_channel,
        sequence=packet.sequence,
        timeout_height=packet.timeout_height,
    )


__all__ = ["CrossChain"]
