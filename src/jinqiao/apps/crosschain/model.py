"""The cross-chain records, arguments and state keys (docs/crosschain.md gives their bytes).

Every struct is a ``CanonicalStruct``; a stored value is its canonical encoding. The state keys
of the ``crosschain`` contract (full key ``b"crosschain/" + key``; ``<client>`` and ``<channel>``
are ASCII identifiers, ``<height>`` and ``<sequence>`` 8 bytes big-endian, ``<hash>`` 32 raw
bytes):

=====================================  ==========================================================
key                                    value
=====================================  ==========================================================
``client/<client>``                    ``ClientState``
``consensus/<client>/<height>``        ``ConsensusState``: a header the client accepted
``validator_set/<client>/<hash>``      ``ValidatorSet`` whose ``validator_set_hash`` is ``<hash>``
``channel/<channel>``                  ``Channel``
``next_send/<channel>``                ``int``: the sequence the next sent packet gets (absent: 1)
``next_recv/<channel>``                ``int``: the sequence the next received packet must have
                                       (absent: 1)
``commitment/<channel>/<sequence>``    ``Packet``: the outbox — every packet sent (kept after it
                                       is closed, so a late packet can still be proven to the
                                       receiver and skipped there)
``closed/<channel>/<sequence>``        ``str``: ``"acknowledged"`` or ``"timed_out"`` once the
                                       sender closed the packet
``receipt/<channel>/<sequence>``       ``Acknowledgement``: the inbox — a packet delivered, and
                                       the target contract's answer
=====================================  ==========================================================
"""

from __future__ import annotations

import re

from jinqiao.core.codec import CanonicalStruct
from jinqiao.core.proofs import SparseMerkleProof
from jinqiao.core.types import BlockHeader, CommitCertificate, ValidatorSet

CROSSCHAIN = "crosschain"
IDENTIFIER = re.compile(r"[a-z][a-z0-9-]{0,31}")
"""Client and channel ids: 1..32 characters, lowercase letters, digits and ``-``."""
MAX_CLIENTS = 64
MAX_CHANNELS = 256
MAX_PACKET_DATA_BYTES = 4096
MAX_ACKNOWLEDGEMENT_RESULT_BYTES = 1024
MAX_TIMEOUT_BLOCKS = 1_000_000
"""A packet's ``timeout_height`` is at most this far above the latest height the sender's client
of the destination chain holds: a bound, so no packet waits forever."""

CLIENT_PREFIX = b"client/"
CONSENSUS_PREFIX = b"consensus/"
VALIDATOR_SET_PREFIX = b"validator_set/"
CHANNEL_PREFIX = b"channel/"
NEXT_SEND_PREFIX = b"next_send/"
NEXT_RECV_PREFIX = b"next_recv/"
COMMITMENT_PREFIX = b"commitment/"
RECEIPT_PREFIX = b"receipt/"
CLOSED_PREFIX = b"closed/"
CLOSED_ACKNOWLEDGED = "acknowledged"
CLOSED_TIMED_OUT = "timed_out"


def client_key(client_id: str) -> bytes:
    return CLIENT_PREFIX + client_id.encode()


def consensus_key(client_id: str, height: int) -> bytes:
    return CONSENSUS_PREFIX + client_id.encode() + b"/" + height.to_bytes(8, "big")


def validator_set_key(client_id: str, set_hash: bytes) -> bytes:
    return VALIDATOR_SET_PREFIX + client_id.encode() + b"/" + set_hash


def channel_key(channel_id: str) -> bytes:
    return CHANNEL_PREFIX + channel_id.encode()


def next_send_key(channel_id: str) -> bytes:
    return NEXT_SEND_PREFIX + channel_id.encode()


def next_recv_key(channel_id: str) -> bytes:
    return NEXT_RECV_PREFIX + channel_id.encode()


def commitment_key(channel_id: str, sequence: int) -> bytes:
    """The outbox key of packet ``sequence`` sent on ``channel_id`` (without ``crosschain/``)."""
    return COMMITMENT_PREFIX + channel_id.encode() + b"/" + sequence.to_bytes(8, "big")


def receipt_key(channel_id: str, sequence: int) -> bytes:
    """The inbox key of packet ``sequence`` received on ``channel_id``."""
    return RECEIPT_PREFIX + channel_id.encode() + b"/" + sequence.to_bytes(8, "big")


def closed_key(channel_id: str, sequence: int) -> bytes:
    return CLOSED_PREFIX + channel_id.encode() + b"/" + sequence.to_bytes(8, "big")


def full_crosschain_key(key: bytes) -> bytes:
    """The full state key (what a state proof names) of a ``crosschain`` key."""
    return CROSSCHAIN.encode() + b"/" + key


# -- stored records ------------------------------------------------------------------------


class ClientState(CanonicalStruct, frozen=True):
    """A light client of another chain. ``frozen_height`` 0: active; otherwise the height at
    which two conflicting certified headers were shown, and ``frozen_reason`` says what.
    ``trusted_from_height``: proofs and headers below it are refused (0 for a client never
    frozen; the height governance restarted it from after a freeze)."""

    client_id: str
    chain_id: str
    suite: str
    latest_height: int
    frozen_height: int
    frozen_reason: str
    trusted_from_height: int


class ConsensusState(CanonicalStruct, frozen=True):
    """What the client keeps of a header it accepted (height 0: the counterparty's genesis,
    holding only the genesis validator set's hash)."""

    height: int
    header_hash: bytes
    state_root: bytes
    time_ms: int
    validators_hash: bytes
    next_validators_hash: bytes


class Channel(CanonicalStruct, frozen=True):
    """One end of a channel: packets between the contract ``port`` here and the contract
    ``counterparty_port`` at the channel ``counterparty_channel`` of the chain ``client_id``
    follows."""

    channel_id: str
    client_id: str
    port: str
    counterparty_channel: str
    counterparty_port: str


class Packet(CanonicalStruct, frozen=True):
    """A message from ``source_port`` on ``source_channel`` to ``destination_port`` on
    ``destination_channel``; ``timeout_height`` is a height of the destination chain: the packet
    is delivered only in a block below it."""

    sequence: int
    source_channel: str
    source_port: str
    destination_channel: str
    destination_port: str
    data: bytes
    timeout_height: int


class Acknowledgement(CanonicalStruct, frozen=True):
    """The target contract's answer to a delivered packet: ``success`` with ``code`` ``"ok"``, or
    a refusal with its code; ``result`` is the target's own bytes (at most 1 KiB)."""

    success: bool
    code: str
    result: bytes


# -- arguments -----------------------------------------------------------------------------


class CreateClientArgs(CanonicalStruct, frozen=True):
    """Governance only: follow the chain ``chain_id`` (suite ``suite``) from its genesis
    validator set."""

    client_id: str
    chain_id: str
    suite: str
    validators: ValidatorSet


class UpdateClientArgs(CanonicalStruct, frozen=True):
    """A header of the counterparty with its commit certificate; ``next_validators`` is the set
    the header names in ``next_validators_hash`` when it differs from ``validators_hash``."""

    client_id: str
    header: BlockHeader
    certificate: CommitCertificate
    next_validators: ValidatorSet | None


class MisbehaviourArgs(CanonicalStruct, frozen=True):
    """Two certified headers of the counterparty at one height that differ."""

    client_id: str
    first: BlockHeader
    first_certificate: CommitCertificate
    second: BlockHeader
    second_certificate: CommitCertificate


class SubstituteClientArgs(CanonicalStruct, frozen=True):
    """Governance only: restart the frozen client ``subject`` from the latest header the active
    client ``substitute`` (of the same chain and suite) holds."""

    subject: str
    substitute: str


class OpenChannelArgs(CanonicalStruct, frozen=True):
    """Governance only: open this end of a channel (see ``Channel``)."""

    channel_id: str
    client_id: str
    port: str
    counterparty_channel: str
    counterparty_port: str


class SendPacketArgs(CanonicalStruct, frozen=True):
    """From the contract ``port`` (the caller): send ``data`` on ``channel_id``."""

    port: str
    channel_id: str
    data: bytes
    timeout_height: int


class RecvPacketArgs(CanonicalStruct, frozen=True):
    """A packet with the proof that the sender's outbox holds it at the counterparty's height
    ``proof_height``, a header this chain's client holds."""

    packet: Packet
    proof_height: int
    proof: SparseMerkleProof


class AcknowledgePacketArgs(CanonicalStruct, frozen=True):
    """A packet this chain sent, the acknowledgement the destination stored, and the proof of it
    at the destination's height ``proof_height``."""

    packet: Packet
    acknowledgement: Acknowledgement
    proof_height: int
    proof: SparseMerkleProof


class TimeoutPacketArgs(CanonicalStruct, frozen=True):
    """A packet this chain sent and the proof that the destination had not received it at its
    height ``proof_height`` (at or above the packet's ``timeout_height``)."""

    packet: Packet
    proof_height: int
    proof: SparseMerkleProof


class ClientArgs(CanonicalStruct, frozen=True):
    client_id: str


class ConsensusStateArgs(CanonicalStruct, frozen=True):
    client_id: str
    height: int


class ChannelArgs(CanonicalStruct, frozen=True):
    channel_id: str


class PacketRefArgs(CanonicalStruct, frozen=True):
    channel_id: str
    sequence: int


class SequenceResult(CanonicalStruct, frozen=True):
    sequence: int


class SequencePair(CanonicalStruct, frozen=True):
    """The next sequence to send and the next expected to receive on a channel."""

    next_send: int
    next_recv: int


# -- what the crosschain contract passes to the target contract -----------------------------


class PacketCallArgs(CanonicalStruct, frozen=True):
    """``on_recv_packet`` and ``on_timeout_packet`` of a port contract."""

    packet: Packet


class AcknowledgementCallArgs(CanonicalStruct, frozen=True):
    """``on_acknowledge_packet`` of a port contract."""

    packet: Packet
    acknowledgement: Acknowledgement


__all__ = [
    "CLOSED_ACKNOWLEDGED",
    "CLOSED_TIMED_OUT",
    "CROSSCHAIN",
    "IDENTIFIER",
    "MAX_ACKNOWLEDGEMENT_RESULT_BYTES",
    "MAX_CHANNELS",
    "MAX_CLIENTS",
    "MAX_PACKET_DATA_BYTES",
    "MAX_TIMEOUT_BLOCKS",
    "AcknowledgePacketArgs",
    "Acknowledgement",
    "AcknowledgementCallArgs",
    "Channel",
    "ChannelArgs",
    "ClientArgs",
    "ClientState",
    "ConsensusState",
    "ConsensusStateArgs",
    "CreateClientArgs",
    "MisbehaviourArgs",
    "OpenChannelArgs",
    "Packet",
    "PacketCallArgs",
    "PacketRefArgs",
    "RecvPacketArgs",
    "SendPacketArgs",
    "SequencePair",
    "SequenceResult",
    "SubstituteClientArgs",
    "TimeoutPacketArgs",
    "UpdateClientArgs",
    "channel_key",
    "client_key",
    "closed_key",
    "commitment_key",
    "consensus_key",
    "full_crosschain_key",
    "next_recv_key",
    "next_send_key",
    "receipt_key",
    "validator_set_key",
]
