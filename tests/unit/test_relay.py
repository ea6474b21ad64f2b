"""The relayer (docs/crosschain.md §6) between two certified in-process chains, honest and
malicious. A malicious relayer that drops, reorders, replays or forges what it carries gets
refusals with stable codes and moves no value wrongly; an honest relayer after it completes
every transfer: only delay."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from jinqiao.apps.crosschain.model import (
    AcknowledgePacketArgs,
    RecvPacketArgs,
    UpdateClientArgs,
)
from jinqiao.apps.crosschain.transfer import (
    XTRANSFER,
    Amount,
    DenominationArgs,
    EscrowArgs,
    SendTransferArgs,
    TransferData,
    VoucherBalanceArgs,
)
from jinqiao.apps.governance import AddValidator, ProposalArgs, ProposeArgs
from jinqiao.apps.token import TOKEN, ApproveArgs
from jinqiao.client.relay import Relayer, RoundReport
from jinqiao.core.codec import CanonicalStruct, decode, encode
from jinqiao.execution.api import GOVERNANCE
from tests.helpers.chain import result_of, token_config
from tests.helpers.crosschain import (
    ADMINS,
    CertifiedChain,
    ChainEndpoint,
    chain_genesis,
    connect,
    escrow_account,
)

VOUCHER = "xtransfer/to-a/CNY"
AMOUNTS = (1_000, 2_000, 3_000)


@pytest.fixture
def chains() -> tuple[CertifiedChain, CertifiedChain]:
    tokens = {"token": token_config({"alice": 100_000})}
    a = CertifiedChain(chain_genesis("chain-a", "a-validator", contracts=tokens))
    b = CertifiedChain(chain_genesis("chain-b", "b-validator"))
    connect(a, b)
    return a, b


def send(a: CertifiedChain, b: CertifiedChain, amounts: tuple[int, ...] = AMOUNTS) -> None:
    for amount in amounts:
        a.ok("alice", TOKEN, "approve", ApproveArgs("CNY", escrow_account(a), amount))
        args = SendTransferArgs("to-b", "CNY", amount, b.address("bob"), b.height + 50)
        a.ok("alice", XTRANSFER, "send_transfer", args)


def vouchers(b: CertifiedChain) -> int:
    held: Amount = b.query(
        XTRANSFER, "voucher_balance", VoucherBalanceArgs(VOUCHER, b.address("bob"))
    )
    return held.amount_minor


def voucher_supply(b: CertifiedChain) -> int:
    held: Amount = b.query(XTRANSFER, "voucher_supply", DenominationArgs(VOUCHER))
    return held.amount_minor


def escrow(a: CertifiedChain) -> int:
    held: Amount = a.query(XTRANSFER, "escrow", EscrowArgs("to-b", "CNY"))
    return held.amount_minor


def relay_until_idle(relayer: Relayer, rounds: int = 6) -> list[RoundReport]:
    reports = []
    for _ in range(rounds):
        report = relayer.relay_round()
        reports.append(report)
        if report.moved() == 0:
            break
    return reports


def honest(a: CertifiedChain, b: CertifiedChain) -> Relayer:
    return Relayer(ChainEndpoint(a), ChainEndpoint(b), "to-b")


def test_an_honest_relayer_delivers_and_acknowledges(
    chains: tuple[CertifiedChain, CertifiedChain],
) -> None:
    a, b = chains
    send(a, b)
    reports = relay_until_idle(honest(a, b))
    assert sum(report.delivered for report in reports) == 3
    assert sum(report.acknowledged for report in reports) == 3
    assert all(not report.refused for report in reports)
    assert vouchers(b) == voucher_supply(b) == escrow(a) == sum(AMOUNTS)
    assert reports[-1].moved() == 0


def test_the_relayer_follows_a_validator_set_change(
    chains: tuple[CertifiedChain, CertifiedChain],
) -> None:
    a, b = chains
    newcomer = a.add_signer("a-validator-new")
    action = AddValidator(newcomer.public_key, "a-validator-new", "bank-a", 1)
    proposal_id = result_of(a.ok(ADMINS[0], GOVERNANCE, "propose", ProposeArgs(action)), int)
    a.ok(ADMINS[1], GOVERNANCE, "approve", ProposalArgs(proposal_id))
    a.ok(ADMINS[2], GOVERNANCE, "approve", ProposalArgs(proposal_id))
    a.advance(3)
    send(a, b, (500,))
    reports = relay_until_idle(honest(a, b))
    assert vouchers(b) == 500
    assert sum(report.headers for report in reports) >= 3  # the announcing header, then heads
    assert all(not report.refused for report in reports)


class Malicious:
    """An ``Endpoint`` that lets ``tamper`` decide what is really sent: each call returns the
    transactions to submit instead (none: dropped; two: replayed; changed: forged)."""

    def __init__(
        self,
        inner: ChainEndpoint,
        tamper: Callable[[str, CanonicalStruct], list[tuple[str, CanonicalStruct]]],
    ) -> None:
        self.inner = inner
        self.chain_id = inner.chain_id
        self.tamper = tamper
        self.codes: list[str] = []
        self.held: list[tuple[str, CanonicalStruct]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def submit(self, method: str, args: CanonicalStruct) -> str:
        self.submit_many(method, [args])
        return "ok"  # the relayer believes it worked

    def submit_many(self, method: str, arguments: list[CanonicalStruct]) -> list[str]:
        for args in arguments:
            for real_method, real_args in self.tamper(method, args):
                self.codes.append(self.inner.submit(real_method, real_args))
        return ["ok"] * len(arguments)


def malicious_round(
    a: CertifiedChain,
    b: CertifiedChain,
    tamper: Callable[[str, CanonicalStruct], list[tuple[str, CanonicalStruct]]],
) -> list[str]:
    bad_a, bad_b = Malicious(ChainEndpoint(a), tamper), Malicious(ChainEndpoint(b), tamper)
    relayer = Relayer(bad_a, bad_b, "to-b")  # type: ignore[arg-type]
    for _ in range(3):
        relayer.relay_round()
    return bad_a.codes + bad_b.codes


def drop_packets(method: str, args: CanonicalStruct) -> list[tuple[str, CanonicalStruct]]:
    return [] if method in ("recv_packet", "acknowledge_packet") else [(method, args)]


def replay(method: str, args: CanonicalStruct) -> list[tuple[str, CanonicalStruct]]:
    return [(method, args), (method, args)]


def forge(method: str, args: CanonicalStruct) -> list[tuple[str, CanonicalStruct]]:
    if isinstance(args, RecvPacketArgs):
        data = decode(args.packet.data, TransferData, max_bytes=4096)
        richer = msgspec.structs.replace(data, amount_minor=data.amount_minor * 100)
        packet = msgspec.structs.replace(args.packet, data=encode(richer))
        return [(method, msgspec.structs.replace(args, packet=packet))]
    if isinstance(args, AcknowledgePacketArgs):
        refusal = msgspec.structs.replace(args.acknowledgement, success=False, code="forged")
        return [(method, msgspec.structs.replace(args, acknowledgement=refusal))]
    if isinstance(args, UpdateClientArgs):
        header = msgspec.structs.replace(args.header, state_root=b"\x66" * 32)
        return [(method, msgspec.structs.replace(args, header=header))]
    return [(method, args)]


class Reorder:
    """Holds every ``recv_packet`` and sends them in reverse order once three are held."""

    def __init__(self) -> None:
        self.held: list[tuple[str, CanonicalStruct]] = []

    def __call__(self, method: str, args: CanonicalStruct) -> list[tuple[str, CanonicalStruct]]:
        if method != "recv_packet":
            return [(method, args)]
        self.held.append((method, args))
        if len(self.held) < len(AMOUNTS):
            return []
        released, self.held = list(reversed(self.held)), []
        return released


@pytest.mark.parametrize(
    ("tamper", "expected_codes"),
    [
        (drop_packets, set()),
        (replay, {"packet_already_received", "header_known", "unknown_packet"}),
        (forge, {"invalid_certificate"}),
        (Reorder(), {"packet_out_of_order"}),
    ],
    ids=["drop", "replay", "forge", "reorder"],
)
def test_a_malicious_relayer_only_delays(
    chains: tuple[CertifiedChain, CertifiedChain],
    tamper: Callable[[str, CanonicalStruct], list[tuple[str, CanonicalStruct]]],
    expected_codes: set[str],
) -> None:
    a, b = chains
    send(a, b)
    codes = malicious_round(a, b, tamper)
    refused = {code for code in codes if code != "ok"}
    assert expected_codes <= refused
    # Whatever got through is exactly what an honest relayer would have done: no value made up.
    assert vouchers(b) == voucher_supply(b) <= escrow(a) == sum(AMOUNTS)
    relay_until_idle(honest(a, b))
    assert vouchers(b) == voucher_supply(b) == escrow(a) == sum(AMOUNTS)


def test_forged_packets_with_a_genuine_header_are_refused(
    chains: tuple[CertifiedChain, CertifiedChain],
) -> None:
    """Headers pass (they are genuine); the forged packet's proof does not."""
    a, b = chains
    send(a, b, (1_000,))

    def forge_packets_only(method: str, args: CanonicalStruct) -> list[tuple[str, Any]]:
        return forge(method, args) if isinstance(args, RecvPacketArgs) else [(method, args)]

    codes = malicious_round(a, b, forge_packets_only)
    assert "invalid_proof" in codes
    assert vouchers(b) == 0
    relay_until_idle(honest(a, b))
    assert vouchers(b) == 1_000


def test_a_forged_refusal_cannot_refund_a_delivered_transfer(
    chains: tuple[CertifiedChain, CertifiedChain],
) -> None:
    """The packet is delivered (a voucher minted on B); an acknowledgement turned into a
    refusal would refund alice on A as well — its proof fails, and the escrow stays."""
    a, b = chains
    send(a, b, (1_000,))

    def forge_acknowledgements(method: str, args: CanonicalStruct) -> list[tuple[str, Any]]:
        return forge(method, args) if isinstance(args, AcknowledgePacketArgs) else [(method, args)]

    codes = malicious_round(a, b, forge_acknowledgements)
    assert "invalid_proof" in codes
    assert vouchers(b) == escrow(a) == 1_000
    relay_until_idle(honest(a, b))
    assert vouchers(b) == escrow(a) == 1_000
