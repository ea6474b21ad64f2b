"""Proven packets and the token transfer across two in-process chains (docs/crosschain.md §3,
§4): CNY escrowed on A, a voucher minted on B, burnt on B and released on A; every packet
delivered exactly once and in order against a header the client holds; acknowledgements back;
a timeout refunded with an absence proof; each bad input a stable code that changes nothing."""

from __future__ import annotations

import msgspec
import pytest

from jinqiao.apps.crosschain.model import (
    CROSSCHAIN,
    Acknowledgement,
    ChannelArgs,
    CreateClientArgs,
    OpenChannelArgs,
    SendPacketArgs,
    SequencePair,
    SubstituteClientArgs,
    TimeoutPacketArgs,
    UpdateClientArgs,
)
from jinqiao.apps.crosschain.transfer import (
    XTRANSFER,
    Amount,
    DenominationArgs,
    EscrowArgs,
    SendTransferArgs,
    VoucherBalanceArgs,
    VoucherTransferArgs,
)
from jinqiao.apps.token import TOKEN, ApproveArgs, HoldingArgs
from jinqiao.core.proofs import SparseMerkleProof
from tests.helpers.chain import events, token_config
from tests.helpers.crosschain import (
    RELAYER,
    CertifiedChain,
    ack_args,
    acknowledgement_at,
    chain_genesis,
    connect,
    deliver,
    enact,
    escrow_account,
    outbox_packet,
    recv_args,
    sent_packet,
    timeout_args,
    update,
)
from tests.helpers.suites import SUITE_NAMES

VOUCHER = "xtransfer/to-a/CNY"


@pytest.fixture(params=SUITE_NAMES)
def chains(request: pytest.FixtureRequest) -> tuple[CertifiedChain, CertifiedChain]:
    """A (with alice's CNY) on the default suite, B on each suite in turn."""
    tokens = {"token": token_config({"alice": 100_000})}
    a = CertifiedChain(chain_genesis("chain-a", "a-validator", contracts=tokens))
    b = CertifiedChain(chain_genesis("chain-b", "b-validator", suite_name=request.param))
    connect(a, b)
    return a, b


def balance(chain: CertifiedChain, name: str) -> int:
    held = chain.query(TOKEN, "balance", HoldingArgs("CNY", chain.address(name)))
    return int(held.balance_minor)


def vouchers(chain: CertifiedChain, name: str, denomination: str = VOUCHER) -> int:
    held: Amount = chain.query(
        XTRANSFER, "voucher_balance", VoucherBalanceArgs(denomination, chain.address(name))
    )
    return held.amount_minor


def escrow(chain: CertifiedChain) -> int:
    held: Amount = chain.query(XTRANSFER, "escrow", EscrowArgs("to-b", "CNY"))
    return held.amount_minor


def send_cny(a: CertifiedChain, b: CertifiedChain, amount: int, *, to: str = "bob") -> int:
    """alice escrows ``amount`` on A for ``to`` on B; the packet's sequence."""
    a.ok("alice", TOKEN, "approve", ApproveArgs("CNY", escrow_account(a), amount))
    args = SendTransferArgs("to-b", "CNY", amount, b.address(to), b.height + 20)
    return sent_packet(a, a.ok("alice", XTRANSFER, "send_transfer", args)).sequence


def test_cny_goes_to_b_as_a_voucher_and_comes_back(
    chains: tuple[CertifiedChain, CertifiedChain],
) -> None:
    a, b = chains
    sequence = send_cny(a, b, 30_000)
    assert (balance(a, "alice"), escrow(a)) == (70_000, 30_000)
    packet = outbox_packet(a, "to-b", sequence)
    received = deliver(a, b, packet)
    assert [event.name for event in events(received) if event.contract == CROSSCHAIN] == [
        "PacketReceived"
    ]
    assert vouchers(b, "bob") == 30_000
    supply: Amount = b.query(XTRANSFER, "voucher_supply", DenominationArgs(VOUCHER))
    assert supply.amount_minor == 30_000
    # bob pays alice on B, who sends it back to herself on A
    to_alice = VoucherTransferArgs(VOUCHER, b.address("alice"), 10_000)
    b.ok("bob", XTRANSFER, "transfer_voucher", to_alice)
    back = SendTransferArgs("to-a", VOUCHER, 10_000, a.address("alice"), a.height + 20)
    returned = sent_packet(b, b.ok("alice", XTRANSFER, "send_transfer", back))
    assert vouchers(b, "alice") == 0
    deliver(b, a, returned)
    assert (balance(a, "alice"), escrow(a), vouchers(b, "bob")) == (80_000, 20_000, 20_000)
    pair: SequencePair = a.query(CROSSCHAIN, "next_sequences", ChannelArgs("to-b"))
    assert pair == SequencePair(2, 2)


def test_a_packet_is_delivered_once_and_in_order(
    chains: tuple[CertifiedChain, CertifiedChain],
) -> None:
    a, b = chains
    first = outbox_packet(a, "to-b", send_cny(a, b, 1_000))
    second = outbox_packet(a, "to-b", send_cny(a, b, 2_000))
    update(b, a)
    b.rejected("packet_out_of_order", RELAYER, CROSSCHAIN, "recv_packet", recv_args(a, second))
    b.ok(RELAYER, CROSSCHAIN, "recv_packet", recv_args(a, first))
    b.rejected("packet_already_received", RELAYER, CROSSCHAIN, "recv_packet", recv_args(a, first))
    b.ok(RELAYER, CROSSCHAIN, "recv_packet", recv_args(a, second))
    assert vouchers(b, "bob") == 3_000


def test_a_proof_must_be_against_a_header_the_client_holds_and_match(
    chains: tuple[CertifiedChain, CertifiedChain],
) -> None:
    a, b = chains
    packet = outbox_packet(a, "to-b", send_cny(a, b, 1_000))
    # No header of A at that height yet on B.
    b.rejected("unknown_consensus_state", RELAYER, CROSSCHAIN, "recv_packet", recv_args(a, packet))
    update(b, a)
    forged = msgspec.structs.replace(packet, data=packet.data[:-1] + b"\x01")
    b.rejected("invalid_proof", RELAYER, CROSSCHAIN, "recv_packet", recv_args(a, forged))
    # A proof of another key (the wrong path) for the right packet.
    wrong_path = msgspec.structs.replace(
        recv_args(a, packet), proof=a.prove(b"token/supply/CNY", a.height)
    )
    b.rejected("invalid_proof", RELAYER, CROSSCHAIN, "recv_packet", wrong_path)
    empty = msgspec.structs.replace(recv_args(a, packet), proof=SparseMerkleProof((), None))
    b.rejected("invalid_proof", RELAYER, CROSSCHAIN, "recv_packet", empty)
    assert vouchers(b, "bob") == 0


def test_a_packet_routed_to_the_wrong_channel_or_contract_is_refused(
    chains: tuple[CertifiedChain, CertifiedChain],
) -> None:
    a, b = chains
    packet = outbox_packet(a, "to-b", send_cny(a, b, 1_000))
    update(b, a)
    proof = recv_args(a, packet)
    for code, changed in (
        ("unknown_channel", {"destination_channel": "nowhere"}),
        ("wrong_port", {"destination_port": "htlc"}),
        ("wrong_channel", {"source_channel": "elsewhere"}),
        ("wrong_channel", {"source_port": "htlc"}),
    ):
        rerouted = msgspec.structs.replace(proof, packet=msgspec.structs.replace(packet, **changed))
        b.rejected(code, RELAYER, CROSSCHAIN, "recv_packet", rerouted)
    # A contract other than the channel's port cannot send on it, nor can an account.
    b.rejected(
        "unauthorized",
        "alice",
        CROSSCHAIN,
        "send_packet",
        SendPacketArgs(XTRANSFER, "to-a", b"", b.height + 5),
    )


def test_only_governance_opens_channels_to_existing_contracts(
    chains: tuple[CertifiedChain, CertifiedChain],
) -> None:
    a, _ = chains
    opened = OpenChannelArgs("to-b-2", "chain-b", XTRANSFER, "to-a-2", XTRANSFER)
    a.rejected("unauthorized", "bank-a-admin", CROSSCHAIN, "open_channel", opened)
    for code, args in (
        ("channel_exists", msgspec.structs.replace(opened, channel_id="to-b")),
        ("unknown_port", msgspec.structs.replace(opened, port="nothing")),
        ("unknown_client", msgspec.structs.replace(opened, client_id="chain-z")),
    ):
        with pytest.raises(AssertionError, match=code):
            enact(a, CROSSCHAIN, "open_channel", args)


def test_a_refused_transfer_is_refunded_by_its_acknowledgement(
    chains: tuple[CertifiedChain, CertifiedChain],
) -> None:
    a, b = chains
    a.ok("alice", TOKEN, "approve", ApproveArgs("CNY", escrow_account(a), 5_000))
    nobody = b"\x09" * 20
    args = SendTransferArgs("to-b", "CNY", 5_000, nobody, b.height + 20)
    packet = sent_packet(a, a.ok("alice", XTRANSFER, "send_transfer", args))
    assert balance(a, "alice") == 95_000
    deliver(a, b, packet)
    assert acknowledgement_at(b, packet) == Acknowledgement(False, "unknown_recipient", b"")
    assert (balance(a, "alice"), escrow(a)) == (100_000, 0)


def test_a_timed_out_transfer_is_refunded_with_an_absence_proof(
    chains: tuple[CertifiedChain, CertifiedChain],
) -> None:
    a, b = chains
    a.ok("alice", TOKEN, "approve", ApproveArgs("CNY", escrow_account(a), 4_000))
    timeout = b.height + 3
    args = SendTransferArgs("to-b", "CNY", 4_000, b.address("bob"), timeout)
    packet = sent_packet(a, a.ok("alice", XTRANSFER, "send_transfer", args))
    sent_height = a.height
    b.advance(1)
    update(a, b)
    a.rejected(
        "timeout_not_reached", RELAYER, CROSSCHAIN, "timeout_packet", timeout_args(b, packet)
    )
    b.advance(3)
    update(a, b)
    a.ok(RELAYER, CROSSCHAIN, "timeout_packet", timeout_args(b, packet))
    assert (balance(a, "alice"), escrow(a)) == (100_000, 0)
    a.rejected("unknown_packet", RELAYER, CROSSCHAIN, "timeout_packet", timeout_args(b, packet))
    # The late packet reaches B, proven against a header of A from before the refund: skipped
    # (no voucher, no receipt), and the channel's sequence moves on.
    update(b, a, sent_height)
    receipt = b.ok(RELAYER, CROSSCHAIN, "recv_packet", recv_args(a, packet, sent_height))
    assert [event.name for event in events(receipt)] == ["PacketSkipped"]
    assert vouchers(b, "bob") == 0
    assert acknowledgement_at(b, packet) is None
    pair: SequencePair = b.query(CROSSCHAIN, "next_sequences", ChannelArgs("to-a"))
    assert pair.next_recv == 2


def test_a_refund_for_a_delivered_packet_is_refused(
    chains: tuple[CertifiedChain, CertifiedChain],
) -> None:
    a, b = chains
    packet = outbox_packet(a, "to-b", send_cny(a, b, 1_000))
    update(b, a)
    b.ok(RELAYER, CROSSCHAIN, "recv_packet", recv_args(a, packet))
    b.advance(25)
    update(a, b)
    a.rejected("packet_delivered", RELAYER, CROSSCHAIN, "timeout_packet", timeout_args(b, packet))
    # An absence proof taken before delivery does not help either: it is below the timeout.
    stale = TimeoutPacketArgs(packet, 1, b.prove(b"crosschain/receipt/to-a/x", 1))
    a.rejected("timeout_not_reached", RELAYER, CROSSCHAIN, "timeout_packet", stale)
    a.ok(RELAYER, CROSSCHAIN, "acknowledge_packet", ack_args(b, packet))
    assert escrow(a) == 1_000


def test_a_transfer_in_flight_completes_after_the_client_is_recovered(
    chains: tuple[CertifiedChain, CertifiedChain],
) -> None:
    a, b = chains
    packet = outbox_packet(a, "to-b", send_cny(a, b, 1_500))
    update(b, a)
    header, _ = a.headers[a.height]
    fork = msgspec.structs.replace(header, state_root=b"\x07" * 32)
    frozen = UpdateClientArgs("chain-a", fork, a.certify(fork, a.genesis.validator_set()), None)
    b.ok(RELAYER, CROSSCHAIN, "update_client", frozen)
    b.rejected("client_frozen", RELAYER, CROSSCHAIN, "recv_packet", recv_args(a, packet))
    fresh = CreateClientArgs("chain-a-2", "chain-a", a.suite.name, a.genesis.validator_set())
    enact(b, CROSSCHAIN, "create_client", fresh)
    a.advance()
    b.ok(RELAYER, CROSSCHAIN, "update_client", a.update_args("chain-a-2"))
    enact(b, CROSSCHAIN, "substitute_client", SubstituteClientArgs("chain-a", "chain-a-2"))
    # The proof at the header the frozen client held is no longer accepted; at the new one it is.
    stale = recv_args(a, packet, a.height - 1)
    b.rejected("unknown_consensus_state", RELAYER, CROSSCHAIN, "recv_packet", stale)
    b.ok(RELAYER, CROSSCHAIN, "recv_packet", recv_args(a, packet))
    update(a, b)
    a.ok(RELAYER, CROSSCHAIN, "acknowledge_packet", ack_args(b, packet))
    assert vouchers(b, "bob") == escrow(a) == 1_500
