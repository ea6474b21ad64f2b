"""The relayer: carries headers, packets, acknowledgements and timeouts between two jinqiao
networks (docs/crosschain.md §6).

It is not trusted. Every header it brings is checked on chain against the validator set the
light client trusts, every packet and acknowledgement against a state proof of such a header;
it holds no key the chains trust beyond an ordinary account that pays for nothing. A relayer
that drops, reorders, replays or forges only delays (``tests/unit/test_relay.py`` runs a
malicious one). So it keeps no state of its own that matters: each round reads where both
chains are and does the next steps.

A round, for a channel pair (A's ``channel``, B's counterparty), in each direction source →
destination:

1. **Packets.** The destination expects sequence ``next_recv``; the source has sent up to
   ``next_send - 1``. If any is missing, bring the destination's client of the source up to the
   source's head (first every header that announces a validator-set change, then the head) and
   deliver each missing packet with the proof of its outbox key at that height.
2. **Acknowledgements and timeouts.** For each packet the source sent and has not closed: bring
   the source's client of the destination up to the destination's head; if the destination's
   inbox holds the acknowledgement, prove it back (``acknowledge_packet``); if it proves absent
   at or after the packet's timeout height, prove that (``timeout_packet``).

``Endpoint`` is what the relayer needs of one chain; ``SdkEndpoint`` is a network reached
through the SDK (HTTP); tests give an in-process chain the same shape.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from jinqiao.apps.crosschain.model import (
    CROSSCHAIN,
    Acknowledgement,
    AcknowledgePacketArgs,
    Channel,
    ClientState,
    Packet,
    RecvPacketArgs,
    TimeoutPacketArgs,
    UpdateClientArgs,
    channel_key,
    client_key,
    closed_key,
    commitment_key,
    next_recv_key,
    next_send_key,
    receipt_key,
)
from jinqiao.client.client import Client
from jinqiao.core.codec import CanonicalStruct, decode
from jinqiao.core.crypto import Signer
from jinqiao.core.errors import InvalidInput
from jinqiao.core.limits import MAX_STATE_VALUE_BYTES
from jinqiao.core.proofs import SparseMerkleProof
from jinqiao.core.types import BlockHeader, CommitCertificate, ValidatorSet
from jinqiao.execution.identity import GOVERNANCE, VALIDATORS_KEY

MAX_PACKETS_PER_ROUND = 100
"""Packets, acknowledgements or timeouts one direction handles in one round."""

ValidatorChange = tuple[BlockHeader, CommitCertificate, ValidatorSet]


class Endpoint(Protocol):
    """One chain as the relayer sees it. ``read`` and ``prove`` take ``crosschain`` keys
    (without the ``crosschain/`` prefix)."""

    chain_id: str

    def head(self) -> int: ...

    def certified_header(self, height: int) -> tuple[BlockHeader, CommitCertificate]: ...

    def next_validators(self, height: int) -> ValidatorSet: ...

    def validator_changes(self, after_height: int) -> list[int]:
        """Heights above ``after_height`` whose header announces a new validator set."""
        ...

    def read(self, key: bytes) -> bytes | None: ...

    def prove(self, key: bytes, height: int) -> tuple[bytes | None, SparseMerkleProof]: ...

    def submit(self, method: str, args: CanonicalStruct) -> str:
        """Send a ``crosschain`` transaction and wait for it; its receipt's code."""
        ...

    def submit_many(self, method: str, arguments: list[CanonicalStruct]) -> list[str]:
        """Send several, in this order, then wait for them all; their receipts' codes."""
        ...


class SdkEndpoint:
    """A network reached through the SDK, sending as ``signer`` (any registered account)."""

    def __init__(self, client: Client, signer: Signer) -> None:
        self.client = client
        self.signer = signer
        self.chain_id = client.genesis.chain_id

    def head(self) -> int:
        return int(self.client.status()["height"])

    def certified_header(self, height: int) -> tuple[BlockHeader, CommitCertificate]:
        return self.client.certified_header(height)

    def next_validators(self, height: int) -> ValidatorSet:
        proof = self.client.state_read_proof(GOVERNANCE, VALIDATORS_KEY, height=height)
        if proof.value is None:
            raise InvalidInput(f"{self.chain_id} has no validator set at height {height}")
        return decode(proof.value, ValidatorSet, max_bytes=MAX_STATE_VALUE_BYTES)

    def validator_changes(self, after_height: int) -> list[int]:
        proofs = self.client.validator_change_proofs(after_height + 1)
        return [proof.header.height for proof in proofs if proof.header.height > after_height]

    def read(self, key: bytes) -> bytes | None:
        return self.client.read_state(CROSSCHAIN, key).value

    def prove(self, key: bytes, height: int) -> tuple[bytes | None, SparseMerkleProof]:
        proof = self.client.state_read_proof(CROSSCHAIN, key, height=height)
        return proof.value, proof.proof

    def submit(self, method: str, args: CanonicalStruct) -> str:
        return self.client.send(self.signer, CROSSCHAIN, method, args).receipt.code

    def submit_many(self, method: str, arguments: list[CanonicalStruct]) -> list[str]:
        """One batch request (the node admits them in this order, and its mempool keeps
        arrival order), then a wait for each."""
        transactions = [
            self.client.build(self.signer, CROSSCHAIN, method, args) for args in arguments
        ]
        if not transactions:
            return []
        batch = self.client.submit_batch(transactions)
        codes = []
        for transaction, answer in zip(transactions, batch.results, strict=True):
            if "error" in answer:  # refused at admission (a replay, the mempool full, …)
                error = answer["error"]
                codes.append(
                    str(error.get("code", "refused")) if isinstance(error, dict) else "refused"
                )
                continue
            identity = self.client.hash_of(transaction)
            codes.append(self.client.wait(identity).receipt.code)
        return codes


@dataclass
class RoundReport:
    """What one round did, by kind; ``refused`` lists the codes of transactions the chains
    rejected (another relayer was first, a proof went stale: harmless)."""

    headers: int = 0
    delivered: int = 0
    acknowledged: int = 0
    timed_out: int = 0
    refused: list[str] = field(default_factory=list)

    def moved(self) -> int:
        return self.delivered + self.acknowledged + self.timed_out


@dataclass
class Relayer:
    """Relays channel ``channel`` of ``a`` and its counterparty on ``b``."""

    a: Endpoint
    b: Endpoint
    channel: str
    log: Callable[[str], None] = lambda message: None
    observe: Callable[[str], None] = lambda kind: None
    """Called with ``headers``, ``delivered``, ``acknowledged`` or ``timed_out`` as each
    succeeds (the benchmark timestamps them)."""
    _first_open: dict[tuple[str, str], int] = field(default_factory=dict)

    def relay_round(self) -> RoundReport:
        report = RoundReport()
        channel_a = self._channel(self.a, self.channel)
        channel_b = self._channel(self.b, channel_a.counterparty_channel)
        for source, destination, sent, received in (
            (self.a, self.b, channel_a, channel_b),
            (self.b, self.a, channel_b, channel_a),
        ):
            self._deliver(source, destination, sent, received, report)
        for source, destination, sent, received in (
            (self.a, self.b, channel_a, channel_b),
            (self.b, self.a, channel_b, channel_a),
        ):
            self._close(source, destination, sent, received, report)
        return report

    # -- the two steps -------------------------------------------------------------------------

    def _deliver(
        self,
        source: Endpoint,
        destination: Endpoint,
        sent: Channel,
        received: Channel,
        report: RoundReport,
    ) -> None:
        next_send = _read_int(source, next_send_key(sent.channel_id))
        next_recv = _read_int(destination, next_recv_key(received.channel_id))
        last = min(next_send, next_recv + MAX_PACKETS_PER_ROUND)
        if next_recv >= last:
            return
        height = self._update_client(destination, source, received.client_id, report)
        deliveries: list[CanonicalStruct] = []
        for sequence in range(next_recv, last):
            value, proof = source.prove(commitment_key(sent.channel_id, sequence), height)
            if value is None:
                break  # not committed at the height the client holds yet: next round
            packet = decode(value, Packet, max_bytes=MAX_STATE_VALUE_BYTES)
            deliveries.append(RecvPacketArgs(packet, height, proof))
        codes = destination.submit_many("recv_packet", deliveries)
        for code in codes:
            self._count(report, code, "delivered", f"packet to {destination.chain_id}")

    def _close(
        self,
        source: Endpoint,
        destination: Endpoint,
        sent: Channel,
        received: Channel,
        report: RoundReport,
    ) -> None:
        next_send = _read_int(source, next_send_key(sent.channel_id))
        waiting = self._open_packets(source, sent.channel_id, next_send)
        if not waiting:
            return
        height = self._update_client(source, destination, sent.client_id, report)
        closing: dict[str, list[CanonicalStruct]] = {"acknowledge_packet": [], "timeout_packet": []}
        for sequence in waiting:
            raw = source.read(commitment_key(sent.channel_id, sequence))
            if raw is None:
                continue
            packet = decode(raw, Packet, max_bytes=MAX_STATE_VALUE_BYTES)
            value, proof = destination.prove(receipt_key(received.channel_id, sequence), height)
            if value is not None:
                acknowledgement = decode(value, Acknowledgement, max_bytes=MAX_STATE_VALUE_BYTES)
                closing["acknowledge_packet"].append(
                    AcknowledgePacketArgs(packet, acknowledgement, height, proof)
                )
            elif height >= packet.timeout_height:
                closing["timeout_packet"].append(TimeoutPacketArgs(packet, height, proof))
        for method, kind in (
            ("acknowledge_packet", "acknowledged"),
            ("timeout_packet", "timed_out"),
        ):
            for code in source.submit_many(method, closing[method]):
                self._count(report, code, kind, f"{method} on {source.chain_id}")

    def _open_packets(self, source: Endpoint, channel_id: str, next_send: int) -> list[int]:
        """Up to ``MAX_PACKETS_PER_ROUND`` sequences sent on ``channel_id`` and not closed,
        oldest first. The cursor only skips what the chain says is closed (closed packets
        stay closed), so it saves reads and decides nothing."""
        cursor_key = (source.chain_id, channel_id)
        sequence = self._first_open.get(cursor_key, 1)
        waiting: list[int] = []
        while sequence < next_send and len(waiting) < MAX_PACKETS_PER_ROUND:
            if source.read(closed_key(channel_id, sequence)) is None:
                waiting.append(sequence)
            elif not waiting:
                self._first_open[cursor_key] = sequence + 1
            sequence += 1
        return waiting

    # -- headers -------------------------------------------------------------------------------

    def _update_client(
        self, host: Endpoint, counterparty: Endpoint, client_id: str, report: RoundReport
    ) -> int:
        """Bring ``host``'s client of ``counterparty`` to ``counterparty``'s head; the height
        it then holds."""
        client = _client(host, client_id)
        head = counterparty.head()
        if client.latest_height >= head:
            return client.latest_height
        for height in counterparty.validator_changes(client.latest_height):
            if height < head:
                self._send_header(host, counterparty, client_id, height, report)
        self._send_header(host, counterparty, client_id, head, report)
        return _client(host, client_id).latest_height

    def _send_header(
        self,
        host: Endpoint,
        counterparty: Endpoint,
        client_id: str,
        height: int,
        report: RoundReport,
    ) -> None:
        header, certificate = counterparty.certified_header(height)
        changed = header.next_validators_hash != header.validators_hash
        next_set = counterparty.next_validators(height) if changed else None
        code = host.submit(
            "update_client", UpdateClientArgs(client_id, header, certificate, next_set)
        )
        self._count(report, code, "headers", f"header {height} of {counterparty.chain_id}")

    def _count(self, report: RoundReport, code: str, kind: str, what: str) -> None:
        if code == "ok":
            setattr(report, kind, getattr(report, kind) + 1)
            self.observe(kind)
            self.log(f"{what}: ok")
        else:
            report.refused.append(code)
            self.log(f"{what}: refused {code}")

    @staticmethod
    def _channel(endpoint: Endpoint, channel_id: str) -> Channel:
        raw = endpoint.read(channel_key(channel_id))
        if raw is None:
            raise InvalidInput(f"{endpoint.chain_id} has no channel {channel_id!r}")
        return decode(raw, Channel, max_bytes=MAX_STATE_VALUE_BYTES)


def _client(endpoint: Endpoint, client_id: str) -> ClientState:
    raw = endpoint.read(client_key(client_id))
    if raw is None:
        raise InvalidInput(f"{endpoint.chain_id} has no client {client_id!r}")
    return decode(raw, ClientState, max_bytes=MAX_STATE_VALUE_BYTES)


def _read_int(endpoint: Endpoint, key: bytes) -> int:
    raw = endpoint.read(key)
    return 1 if raw is None else decode(raw, int, max_bytes=16)


__all__ = [
    "MAX_PACKETS_PER_ROUND",
    "Endpoint",
    "Relayer",
    "RoundReport",
    "SdkEndpoint",
]
