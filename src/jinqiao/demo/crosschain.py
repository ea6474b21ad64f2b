"""``jinqiao demo --cross-chain``: two networks moving value both ways, every step proven
(docs/crosschain.md).

Two real networks on this machine — different chain ids, validator sets and, by default,
crypto suites (A ``ed25519-sha256``, B ``sm2-sm3``) — each with a light client of the other
created by its governance, and one channel pair between their ``xtransfer`` contracts. Then:
CNY goes from alice on A to bob on B (escrowed on A, a voucher minted on B), part of it comes
back (the voucher burnt, the escrow released), one atomic swap completes and one is refunded on
timeout. The relayer is the SDK one (``jinqiao.client.relay``), run between the steps; every
balance shown is read back with its proof.

``running_pair`` and ``connect_pair`` are shared with ``jinqiao bench crosschain`` and the
end-to-end test.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from jinqiao.apps.crosschain import CROSSCHAIN, HTLC, XTRANSFER
from jinqiao.apps.crosschain.htlc import Lock, LockArgs, LockRefArgs, RedeemArgs, lock_key
from jinqiao.apps.crosschain.model import CreateClientArgs, OpenChannelArgs
from jinqiao.apps.crosschain.transfer import SendTransferArgs, escrow_key, voucher_key
from jinqiao.apps.governance import CallContract, ProposalArgs, ProposeArgs
from jinqiao.apps.token import TOKEN, ApproveArgs, Holding, balance_key
from jinqiao.client import Client, Credentials
from jinqiao.client.relay import Relayer, SdkEndpoint
from jinqiao.core.codec import CanonicalStruct, decode, encode
from jinqiao.core.crypto import Signer
from jinqiao.core.genesis import ChainParameters
from jinqiao.core.limits import MAX_STATE_VALUE_BYTES
from jinqiao.demo import DemoFailed
from jinqiao.demo.run import running_node
from jinqiao.execution.contract import contract_address
from jinqiao.execution.identity import GOVERNANCE
from jinqiao.fileio import PUBLIC_FILE_MODE, save_atomically
from jinqiao.keys import InsecurePlaintext, load_key
from jinqiao.node.config import dump_config, load_config
from jinqiao.provision.network import (
    AccountSpec,
    NetworkLayout,
    NetworkSpec,
    OrganizationSpec,
    init_network,
)
from jinqiao.terminal import console, format_minor

CHANNEL_A = "to-b"
CHANNEL_B = "to-a"
FOUNDERS = ("clearing", "ecfin", "bank-c", "bank-d")
PEOPLE = ("alice", "bob", "relayer")
ALICE_CNY_MINOR = 10_000_000
BOB_CNY_MINOR = 5_000_000
EMPTY_BLOCK_INTERVAL_MS = 300
"""Blocks keep coming while the story waits for a timeout height."""
RELAY_ROUNDS = 8


READER = "bank-admin"
"""The account whose client certificate the demo's requests carry."""


@dataclass
class Side:
    """One running network of the pair."""

    name: str
    layout: NetworkLayout
    directory: Path
    client: Client

    def key(self, account: str) -> Signer:
        return load_key(self.directory / self.layout.account(account).key_file)

    def admins(self) -> list[Signer]:
        return [
            self.key(account.name)
            for account in self.layout.accounts
            if account.name.endswith("-admin")
        ]

    def send(self, account: str, contract: str, method: str, args: CanonicalStruct) -> Any:
        result = self.client.send(self.key(account), contract, method, args)
        if result.receipt.code != "ok":
            raise DemoFailed(
                f"{self.name}: {contract}.{method} by {account} was rejected "
                f"{result.receipt.code}: {result.receipt.message}"
            )
        return result

    def proven_int(self, contract: str, key: bytes) -> int:
        value = self.client.read_state(contract, key).value
        return 0 if value is None else decode(value, int, max_bytes=16)

    def cny(self, account: str) -> int:
        address = bytes.fromhex(self.layout.account(account).address)
        value = self.client.read_state(TOKEN, balance_key("CNY", address)).value
        return 0 if value is None else decode(value, Holding, max_bytes=1024).balance_minor

    def address(self, account: str) -> bytes:
        return bytes.fromhex(self.layout.account(account).address)


@dataclass
class Pair:
    a: Side
    b: Side

    def relayer(self) -> Relayer:
        return Relayer(
            SdkEndpoint(self.a.client, self.a.key("relayer")),
            SdkEndpoint(self.b.client, self.b.key("relayer")),
            CHANNEL_A,
        )


def pair_spec(
    chain_id: str, validators: int, base_port: int, suite: str, holdings: dict[str, int]
) -> NetworkSpec:
    """Founding organizations running one validator each, and ``bank`` with the people; CNY
    issued by the first founder, ``holdings`` (account → fen) at genesis."""
    founders = tuple(
        OrganizationSpec(
            org,
            f"{org} (validator)",
            ("currency_issuer",),
            validators=1,
            accounts=(AccountSpec(f"{org}-admin", ("admin",)),),
        )
        for org in FOUNDERS[:validators]
    )
    people = tuple(
        AccountSpec(
            name,
            (),
            ({"asset": "CNY", "balance_minor": holdings[name]},) if name in holdings else (),
        )
        for name in PEOPLE
    )
    bank = OrganizationSpec(
        "bank", "Bank", ("bank",), accounts=(AccountSpec("bank-admin", ("admin",)), *people)
    )
    unlimited = 10**15
    token = {
        "tiers": {
            "open": {
                "max_balance_minor": unlimited,
                "max_payment_minor": unlimited,
                "daily_limit_minor": unlimited,
            }
        },
        "assets": [
            {
                "symbol": "CNY",
                "name": "Digital yuan",
                "scale": 2,
                "issuer": founders[0].id,
                "default_tier": "open",
            }
        ],
        "holdings": [],
    }
    return NetworkSpec(
        chain_id=chain_id,
        organizations=(*founders, bank),
        parameters=ChainParameters(),
        contracts={TOKEN: token},
        base_api_port=base_port,
        base_p2p_port=base_port + 100,
        crypto_suite=suite,
    )


@contextlib.contextmanager
def running_pair(
    root: Path,
    *,
    base_port: int,
    validators: tuple[int, int] = (1, 1),
    suites: tuple[str, str] = ("ed25519-sha256", "sm2-sm3"),
) -> Iterator[Pair]:
    """Networks ``jinqiao-a`` (API ports from ``base_port``) and ``jinqiao-b`` (from
    ``base_port + 20``) running under ``root``; stopped on exit."""
    with contextlib.ExitStack() as stack:
        sides = []
        for index, (name, holdings) in enumerate(
            (("jinqiao-a", {"alice": ALICE_CNY_MINOR}), ("jinqiao-b", {"bob": BOB_CNY_MINOR}))
        ):
            spec = pair_spec(
                name, validators[index], base_port + 20 * index, suites[index], holdings
            )
            directory = root / name
            layout = init_network(directory, spec, protection=InsecurePlaintext())
            # The demo reads as the bank that holds the people's accounts (docs/access.md).
            credentials = Credentials.for_account(directory, READER)
            http = stack.enter_context(credentials.http_client(timeout=5))
            for node in layout.nodes:
                home = directory / node.home
                config = msgspec.structs.replace(
                    load_config(home),
                    log_level="WARNING",
                    empty_block_interval_ms=EMPTY_BLOCK_INTERVAL_MS,
                )
                save_atomically(home / "config.json", dump_config(config), mode=PUBLIC_FILE_MODE)
                stack.enter_context(
                    running_node(home, root / f"{name}-{node.name}.log", node.api_url, http)
                )
            client = Client(
                layout.nodes[0].api_url,
                genesis_file=directory / layout.genesis_file,
                other_urls=[node.api_url for node in layout.nodes],
                credentials=credentials,
            )
            stack.callback(client.close)
            sides.append(Side(name, layout, directory, client))
        yield Pair(sides[0], sides[1])


def enact(side: Side, contract: str, method: str, args: CanonicalStruct) -> None:
    """A ``call_contract`` proposal, approved by the admins in turn until it executes."""
    admins = side.admins()
    action = CallContract(contract, method, encode(args))
    result = side.client.send(admins[0], GOVERNANCE, "propose", ProposeArgs(action))
    if result.receipt.code != "ok":
        raise DemoFailed(f"{side.name}: proposal refused {result.receipt.code}")
    if _executed(result.receipt.events):
        return
    proposal_id = decode(result.receipt.result, int, max_bytes=16)
    for admin in admins[1:]:
        result = side.client.send(admin, GOVERNANCE, "approve", ProposalArgs(proposal_id))
        if result.receipt.code != "ok":
            raise DemoFailed(f"{side.name}: {method} refused {result.receipt.code}")
        if _executed(result.receipt.events):
            return
    raise DemoFailed(f"{side.name}: {method} did not reach the quorum")


def _executed(events: Any) -> bool:
    return any(event.name == "ProposalExecuted" for event in events)


def connect_pair(pair: Pair) -> None:
    """Each network's governance creates its client of the other (from the other's genesis)
    and opens its end of the channel pair between the ``xtransfer`` contracts."""
    for here, there, channel, counterparty in (
        (pair.a, pair.b, CHANNEL_A, CHANNEL_B),
        (pair.b, pair.a, CHANNEL_B, CHANNEL_A),
    ):
        genesis = there.client.genesis
        enact(
            here,
            CROSSCHAIN,
            "create_client",
            CreateClientArgs(
                genesis.chain_id, genesis.chain_id, genesis.suite.name, genesis.validator_set()
            ),
        )
        enact(
            here,
            CROSSCHAIN,
            "open_channel",
            OpenChannelArgs(channel, genesis.chain_id, XTRANSFER, counterparty, XTRANSFER),
        )


def relay(pair: Pair, rounds: int = RELAY_ROUNDS) -> int:
    """Relay until a round moves nothing; what moved (packets, acknowledgements, timeouts)."""
    relayer = pair.relayer()
    moved = 0
    for _ in range(rounds):
        report = relayer.relay_round()
        moved += report.moved()
        if report.moved() == 0:
            break
    return moved


def send_transfer(
    side: Side,
    other: Side,
    sender: str,
    receiver: str,
    denomination: str,
    amount: int,
    *,
    timeout_blocks: int = 1_000,
) -> None:
    """``sender`` on ``side`` sends ``amount`` of ``denomination`` to ``receiver`` on ``other``
    (approving the escrow first for a native asset), timing out ``timeout_blocks`` after
    ``other``'s head."""
    channel = CHANNEL_A if side.name == "jinqiao-a" else CHANNEL_B
    if "/" not in denomination:
        escrow = contract_address(side.client.suite.hash, XTRANSFER)
        side.send(sender, TOKEN, "approve", ApproveArgs(denomination, escrow, amount))
    timeout = int(other.client.status()["height"]) + timeout_blocks
    args = SendTransferArgs(channel, denomination, amount, other.address(receiver), timeout)
    side.send(sender, XTRANSFER, "send_transfer", args)


def wait_for_height(side: Side, height: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while int(side.client.status()["height"]) < height:
        if time.monotonic() > deadline:
            raise DemoFailed(f"{side.name} did not reach height {height}")
        time.sleep(0.2)


def swap(pair: Pair, *, redeem: bool, margin_blocks: int = 30) -> str:
    """Alice's CNY on A for Bob's CNY on B under one hash lock; with ``redeem`` false nobody
    reveals the preimage and both locks are refunded after their timeouts."""
    a, b = pair.a, pair.b
    preimage = hashlib.sha256(b"jinqiao demo swap " + str(redeem).encode()).digest()
    hash_lock = hashlib.sha256(preimage).digest()
    amount_a, amount_b = 120_000, 100_000
    height_a = int(a.client.status()["height"])
    height_b = int(b.client.status()["height"])
    locks = []
    for side, sender, recipient, amount, timeout in (
        (a, "alice", "bob", amount_a, height_a + 2 * margin_blocks),
        (b, "bob", "alice", amount_b, height_b + margin_blocks),
    ):
        htlc = contract_address(side.client.suite.hash, HTLC)
        side.send(sender, TOKEN, "approve", ApproveArgs("CNY", htlc, amount))
        args = LockArgs("CNY", amount, side.address(recipient), hash_lock, timeout)
        result = side.send(sender, HTLC, "lock", args)
        locks.append(decode(result.receipt.result, Lock, max_bytes=MAX_STATE_VALUE_BYTES))
    lock_a, lock_b = locks
    if redeem:
        b.send("alice", HTLC, "redeem", RedeemArgs(lock_b.id, preimage))
        revealed = b.client.read_state(HTLC, lock_key(lock_b.id)).value
        seen = decode(revealed or b"", Lock, max_bytes=MAX_STATE_VALUE_BYTES).preimage
        a.send("bob", HTLC, "redeem", RedeemArgs(lock_a.id, seen))
        return "both redeemed: alice has bob's CNY on B, bob has alice's on A"
    wait_for_height(b, lock_b.timeout_height)
    b.send("bob", HTLC, "refund", LockRefArgs(lock_b.id))
    wait_for_height(a, lock_a.timeout_height)
    a.send("alice", HTLC, "refund", LockRefArgs(lock_a.id))
    return "both refunded after their timeouts"


def show(pair: Pair, step: str) -> None:
    """The balances that matter, each read back with its proof."""
    a, b = pair.a, pair.b
    voucher = f"{XTRANSFER}/{CHANNEL_B}/CNY"
    escrowed = a.proven_int(XTRANSFER, escrow_key(CHANNEL_A, "CNY"))
    vouchers = b.proven_int(XTRANSFER, voucher_key(voucher, b.address("bob")))
    console.print(
        f"[bold]{step}[/]\n"
        f"  A: alice {_cny(a.cny('alice'))}, bob {_cny(a.cny('bob'))}, escrow {_cny(escrowed)}\n"
        f"  B: bob {_cny(vouchers, voucher)}, alice {_cny(b.cny('alice'))}, "
        f"bob {_cny(b.cny('bob'))}"
    )


def _cny(amount_minor: int, unit: str = "CNY") -> str:
    return f"{format_minor(amount_minor, 2)} {unit}"


def run_cross_chain_demo(
    *,
    base_port: int,
    directory: Path | None,
    validators: tuple[int, int],
    suites: tuple[str, str],
) -> None:
    root = directory or Path(tempfile.mkdtemp(prefix="jinqiao-crosschain-"))
    console.print(
        f"[bold]jinqiao demo --cross-chain[/]: networks jinqiao-a ({validators[0]} validators, "
        f"{suites[0]}) and jinqiao-b ({validators[1]}, {suites[1]}) in {root}"
    )
    try:
        with running_pair(root, base_port=base_port, validators=validators, suites=suites) as pair:
            connect_pair(pair)
            console.print("governance of each created a light client of the other and a channel")
            show(pair, "at the start (every figure proven)")
            send_transfer(pair.a, pair.b, "alice", "bob", "CNY", 2_500_000)
            moved = relay(pair)
            show(pair, f"alice sent 25,000.00 CNY to bob on B ({moved} proven steps relayed)")
            voucher = f"{XTRANSFER}/{CHANNEL_B}/CNY"
            send_transfer(pair.b, pair.a, "bob", "alice", voucher, 1_000_000)
            moved = relay(pair)
            show(pair, f"bob sent 10,000.00 back to alice on A ({moved} proven steps relayed)")
            console.print(f"swap 1: {swap(pair, redeem=True)}")
            console.print(f"swap 2: {swap(pair, redeem=False, margin_blocks=10)}")
            show(pair, "after the swaps")
    finally:
        if directory is None:
            shutil.rmtree(root, ignore_errors=True)
