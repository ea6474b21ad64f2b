"""Value is conserved across two chains (docs/crosschain.md §4), whatever the relayer does and in
whatever order: random transfers A → B and back, packets relayed, acknowledged, left to time out
and refunded in any interleaving, refusals (an unknown receiver, more than the balance). After
every step, with in flight what one side has escrowed or burnt and the other has not yet minted
or released (docs/crosschain.md §4):

* A's CNY supply never changes, and the ``xtransfer`` contract's CNY balance on A equals the
  escrow it counts;
* B's voucher supply equals the sum of its voucher balances;
* ``escrow(A) == voucher supply(B) + in flight``;

and once every packet is settled, ``escrow(A) == voucher supply(B)`` and every account holds
what the completed transfers say.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jinqiao.apps.crosschain.model import (
    CROSSCHAIN,
    Acknowledgement,
    ChannelArgs,
    Packet,
    SequencePair,
    closed_key,
    commitment_key,
    full_crosschain_key,
    receipt_key,
)
from jinqiao.apps.crosschain.transfer import (
    XTRANSFER,
    Amount,
    DenominationArgs,
    EscrowArgs,
    SendTransferArgs,
    TransferData,
    voucher_key,
)
from jinqiao.apps.token import TOKEN, ApproveArgs, AssetArgs, HoldingArgs
from jinqiao.core.codec import decode
from jinqiao.core.limits import MAX_STATE_VALUE_BYTES
from jinqiao.core.types import ReceiptStatus
from tests.helpers.chain import token_config
from tests.helpers.crosschain import (
    RELAYER,
    CertifiedChain,
    ack_args,
    chain_genesis,
    connect,
    escrow_account,
    recv_args,
    timeout_args,
)

VOUCHER = "xtransfer/to-a/CNY"
PEOPLE = ("alice", "bob")
INITIAL = {"alice": 60_000, "bob": 40_000}
TIMEOUT_BLOCKS = 6

action = st.one_of(
    st.tuples(
        st.just("send_ab"),
        st.sampled_from(PEOPLE),
        st.sampled_from((*PEOPLE, "nobody")),
        st.integers(1, 30_000),
    ),
    st.tuples(
        st.just("send_ba"), st.sampled_from(PEOPLE), st.sampled_from(PEOPLE), st.integers(1, 30_000)
    ),
    st.tuples(st.just("relay"), st.sampled_from(("ab", "ba")), st.booleans(), st.integers(0, 3)),
    st.tuples(st.just("settle"), st.sampled_from(("ab", "ba")), st.booleans(), st.integers(0, 3)),
    st.tuples(st.just("wait"), st.sampled_from(("a", "b")), st.integers(1, 4), st.just(0)),
)


def test_value_is_conserved_across_the_pair() -> None:
    run_actions([])  # a run with no actions at all settles to nothing moved


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(action, max_size=14))
def test_value_is_conserved_under_any_relaying(actions: list[tuple[Any, ...]]) -> None:
    run_actions(actions)


def run_actions(actions: list[tuple[Any, ...]]) -> None:
    tokens = {"token": token_config(INITIAL)}
    a = CertifiedChain(chain_genesis("chain-a", "a-validator", contracts=tokens))
    b = CertifiedChain(chain_genesis("chain-b", "b-validator"))
    connect(a, b)
    supply = a.query(TOKEN, "supply", AssetArgs("CNY")).supply_minor
    for step in actions:
        perform(a, b, step)
        check_invariants(a, b, supply)
    for _ in range(2):  # settle everything: time out what cannot arrive, deliver the rest
        a.advance(TIMEOUT_BLOCKS + 1)
        b.advance(TIMEOUT_BLOCKS + 1)
        for direction in ("ab", "ba", "ab", "ba"):
            while relay_next(a, b, direction):
                pass
            while settle_next(a, b, direction, use_timeout=False) or settle_next(
                a, b, direction, use_timeout=True
            ):
                pass
    check_invariants(a, b, supply)
    assert in_flight(a, b, "ab") == in_flight(b, a, "ba") == 0
    assert escrow(a) == voucher_supply(b)
    held_a = sum(balance(a, person) for person in PEOPLE)
    assert held_a + escrow(a) == sum(INITIAL.values())


def perform(a: CertifiedChain, b: CertifiedChain, step: tuple[Any, ...]) -> None:
    kind = step[0]
    if kind == "send_ab":
        _, sender, receiver, amount = step
        to = b.address(receiver) if receiver != "nobody" else b"\x0e" * 20
        a.submit(sender, TOKEN, "approve", ApproveArgs("CNY", escrow_account(a), amount))
        args = SendTransferArgs("to-b", "CNY", amount, to, b.height + TIMEOUT_BLOCKS)
        a.submit(sender, XTRANSFER, "send_transfer", args)
    elif kind == "send_ba":
        _, sender, receiver, amount = step
        args = SendTransferArgs("to-a", VOUCHER, amount, a.address(receiver), a.height + 6)
        b.submit(sender, XTRANSFER, "send_transfer", args)
    elif kind == "relay":
        _, direction, with_update, extra = step
        relay_next(a, b, direction, update_first=with_update, skip=extra)
    elif kind == "settle":
        _, direction, use_timeout, _extra = step
        settle_next(a, b, direction, use_timeout=use_timeout)
    else:
        _, which, blocks, _ = step
        (a if which == "a" else b).advance(blocks)


def ends(
    a: CertifiedChain, b: CertifiedChain, direction: str
) -> tuple[CertifiedChain, CertifiedChain, str, str]:
    """Source, destination and their channels for ``"ab"`` (A to B) or ``"ba"``."""
    return (a, b, "to-b", "to-a") if direction == "ab" else (b, a, "to-a", "to-b")


def relay_next(
    a: CertifiedChain,
    b: CertifiedChain,
    direction: str,
    *,
    update_first: bool = True,
    skip: int = 0,
) -> bool:
    """Carry the packet the destination expects next (or, with ``skip``, a later one: refused
    as out of order). Whether it was delivered or skipped."""
    source, destination, source_channel, destination_channel = ends(a, b, direction)
    pair: SequencePair = destination.query(
        CROSSCHAIN, "next_sequences", ChannelArgs(destination_channel)
    )
    packet = outbox(source, source_channel, pair.next_recv + skip)
    if packet is None:
        return False
    if update_first:
        destination.submit(
            RELAYER, CROSSCHAIN, "update_client", source.update_args(source.chain_id)
        )
    receipt = destination.submit(RELAYER, CROSSCHAIN, "recv_packet", recv_args(source, packet))
    return receipt.status == ReceiptStatus.OK


def settle_next(a: CertifiedChain, b: CertifiedChain, direction: str, *, use_timeout: bool) -> bool:
    """Acknowledge (or time out) the oldest open packet the source sent. Whether it closed."""
    source, destination, source_channel, _ = ends(a, b, direction)
    for packet in open_packets(source, source_channel):
        source.submit(
            RELAYER, CROSSCHAIN, "update_client", destination.update_args(destination.chain_id)
        )
        if use_timeout:
            args: Any = timeout_args(destination, packet)
            method = "timeout_packet"
        elif acknowledgement(destination, packet) is not None:
            args, method = ack_args(destination, packet), "acknowledge_packet"
        else:
            return False
        receipt = source.submit(RELAYER, CROSSCHAIN, method, args)
        return receipt.status == ReceiptStatus.OK
    return False


def outbox(chain: CertifiedChain, channel: str, sequence: int) -> Packet | None:
    raw = chain.state.get(full_crosschain_key(commitment_key(channel, sequence)))
    return None if raw is None else decode(raw, Packet, max_bytes=MAX_STATE_VALUE_BYTES)


def open_packets(chain: CertifiedChain, channel: str) -> list[Packet]:
    packets = []
    sequence = 1
    while (packet := outbox(chain, channel, sequence)) is not None:
        if full_crosschain_key(closed_key(channel, sequence)) not in chain.state:
            packets.append(packet)
        sequence += 1
    return packets


def acknowledgement(chain: CertifiedChain, packet: Packet) -> Acknowledgement | None:
    key = full_crosschain_key(receipt_key(packet.destination_channel, packet.sequence))
    raw = chain.state.get(key)
    return None if raw is None else decode(raw, Acknowledgement, max_bytes=MAX_STATE_VALUE_BYTES)


def in_flight(source: CertifiedChain, destination: CertifiedChain, direction: str) -> int:
    """What ``source`` escrowed or burnt in open packets that ``destination`` has not minted or
    released: every open packet but those acknowledged there with success."""
    channel = "to-b" if direction == "ab" else "to-a"
    total = 0
    for packet in open_packets(source, channel):
        answer = acknowledgement(destination, packet)
        if answer is None or not answer.success:
            total += decode(packet.data, TransferData, max_bytes=4096).amount_minor
    return total


def balance(chain: CertifiedChain, name: str) -> int:
    return int(chain.query(TOKEN, "balance", HoldingArgs("CNY", chain.address(name))).balance_minor)


def escrow(chain: CertifiedChain) -> int:
    held: Amount = chain.query(XTRANSFER, "escrow", EscrowArgs("to-b", "CNY"))
    return held.amount_minor


def voucher_supply(chain: CertifiedChain) -> int:
    held: Amount = chain.query(XTRANSFER, "voucher_supply", DenominationArgs(VOUCHER))
    return held.amount_minor


def check_invariants(a: CertifiedChain, b: CertifiedChain, supply: int) -> None:
    assert a.query(TOKEN, "supply", AssetArgs("CNY")).supply_minor == supply
    contract_balance = a.query(TOKEN, "balance", HoldingArgs("CNY", escrow_account(a)))
    assert contract_balance.balance_minor == escrow(a)
    vouchers = sum(
        decode(value, int, max_bytes=16)
        for key, value in b.state.items()
        if key.startswith(b"xtransfer/" + voucher_key(VOUCHER, b""))
    )
    assert vouchers == voucher_supply(b)
    assert escrow(a) == voucher_supply(b) + in_flight(a, b, "ab") + in_flight(b, a, "ba")
