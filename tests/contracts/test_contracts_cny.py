"""Member contracts that hold CNY, through the real lifecycle and the token's own rules.

A member contract committed by the quorum gets an address the token pays to and from (the
lifecycle's ``address/<address>``, the runtime's ``member_address``). It moves only its own CNY
(``transfer``, sender its address) or what a payer allowed it (``transfer_from``); before it is
committed its address holds nothing. The property test runs random escrow traffic and checks,
after every transaction, that the supply equals the sum of all balances, that the escrow holds
exactly the open escrows plus what was sent to it directly, and that a rejection changes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jinqiao.apps import default_contracts
from jinqiao.apps.token import (
    TOKEN,
    ApproveArgs,
    Holding,
    HoldingArgs,
    TransferArgs,
    balance_key,
    supply_key,
)
from jinqiao.contracts.lifecycle import Lifecycle, MemberContracts, PackageArgs, ProposeArgs
from jinqiao.core.codec import CanonicalStruct, decode, encode
from jinqiao.core.limits import MAX_STATE_VALUE_BYTES
from jinqiao.core.types import ReceiptStatus
from jinqiao.execution.api import contract_address
from tests.helpers.chain import (
    DEFAULT_ACCOUNTS,
    AccountSpec,
    Chain,
    make_genesis,
    token_config,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "contracts"
ESCROW_MANIFEST = (EXAMPLES / "escrow" / "contract.toml").read_text()
ESCROW_SOURCE = (EXAMPLES / "escrow" / "contract.py").read_text()
ADMINS = ("central-bank-admin", "bank-a-admin", "bank-b-admin")
MEMBERS = MemberContracts()  # one compile of each package for the whole module
DAY_MS = 24 * 3600 * 1000
TIERS = {
    "basic": {"max_balance_minor": 50_000, "max_payment_minor": 20_000, "daily_limit_minor": 10**9},
    "institution": {
        "max_balance_minor": 10**15,
        "max_payment_minor": 10**15,
        "daily_limit_minor": 10**15,
    },
}
INITIAL = {"alice": 30_000, "bob": 20_000, "issuer": 100_000}


class OpenArgs(CanonicalStruct, frozen=True):
    escrow_id: str
    payee: bytes
    amount_minor: int
    timeout_ms: int


class EscrowIdArgs(CanonicalStruct, frozen=True):
    escrow_id: str


def escrow_chain() -> Chain:
    """The default consortium with alice and bob holding the role ``bank`` (the escrow's
    ``open`` needs it), CNY at genesis, and the lifecycle wired as a node wires it."""
    accounts = [
        AccountSpec(spec.name, spec.organization, ("bank",))
        if spec.name in ("alice", "bob")
        else spec
        for spec in DEFAULT_ACCOUNTS
    ]
    genesis = make_genesis(accounts=accounts, contracts={TOKEN: token_config(INITIAL, tiers=TIERS)})
    chain = Chain(genesis, contracts=[*default_contracts(), Lifecycle()])
    chain.runtime.resolver = MEMBERS.resolve
    chain.runtime.member_address = MEMBERS.is_member_address
    return chain


def commit_escrow(chain: Chain) -> bytes:
    receipt = chain.ok(
        "bank-a-admin", "contracts", "propose", ProposeArgs(ESCROW_MANIFEST, ESCROW_SOURCE)
    )
    hash_bytes = decode(receipt.result, bytes, max_bytes=64)
    for admin in ADMINS:
        chain.ok(admin, "contracts", "approve", PackageArgs(hash_bytes))
    return contract_address(chain.suite.hash, "escrow")


def balance(chain: Chain, address: bytes) -> int:
    view = chain.query(TOKEN, "balance", HoldingArgs("CNY", address))
    amount: int = view.balance_minor
    return amount


def test_a_committed_member_contract_holds_and_pays_cny() -> None:
    chain = escrow_chain()
    escrow = contract_address(chain.suite.hash, "escrow")
    alice, bob = chain.address("alice"), chain.address("bob")
    # not committed yet: the address is nobody's, and the token pays no one there
    chain.rejected("unknown_recipient", "alice", TOKEN, "transfer", TransferArgs("CNY", escrow, 1))
    assert commit_escrow(chain) == escrow
    chain.ok("alice", TOKEN, "approve", ApproveArgs("CNY", escrow, 15_000))
    receipt = chain.ok("alice", "escrow", "open", OpenArgs("e1", bob, 15_000, DAY_MS))
    assert [event.name for event in receipt.events] == ["Transfer", "Approval", "EscrowOpened"]
    assert (balance(chain, alice), balance(chain, escrow)) == (15_000, 15_000)
    chain.ok("bob", TOKEN, "approve", ApproveArgs("CNY", escrow, 15_000))
    chain.ok("bob", "escrow", "open", OpenArgs("e2", alice, 15_000, DAY_MS))
    # a contract's holding has no tier: 30,000 at once is over basic's 20,000 payment limit
    assert balance(chain, escrow) == 30_000
    chain.ok("alice", "escrow", "release", EscrowIdArgs("e1"))
    assert (balance(chain, escrow), balance(chain, bob)) == (15_000, 20_000)
    chain.advance_time(DAY_MS)
    chain.ok("bob", "escrow", "refund", EscrowIdArgs("e2"))
    assert (balance(chain, escrow), balance(chain, bob)) == (0, 35_000)
    # anyone may pay the contract directly; only its own methods move it out again
    chain.ok("bob", TOKEN, "transfer", TransferArgs("CNY", escrow, 7))
    assert balance(chain, escrow) == 7
    # the regulator's freeze names registered accounts; a contract is stopped by governance
    chain.rejected("unknown_account", "inspector", TOKEN, "freeze", HoldingArgs("CNY", escrow))


THIEF = """from jinqiao.contracts.api import Contract, method


class Thief(Contract):
    @method
    def take(self, ctx, args):
        ctx.call("token", "transfer_from", asset="CNY", owner=args.victim,
                 recipient=ctx.address, amount_minor=1)

    @method
    def spend(self, ctx, args):
        ctx.call("token", "transfer", asset="CNY", recipient=args.victim, amount_minor=1)
"""
THIEF_MANIFEST = """name = "thief"
version = "1"
[methods.take]
args = { victim = "bytes" }
[methods.spend]
args = { victim = "bytes" }
"""


class VictimArgs(CanonicalStruct, frozen=True):
    victim: bytes


def test_a_member_contract_moves_only_its_own_cny() -> None:
    """No allowance, no pull; no balance of its own, no payment — the token's codes, and
    nothing changes (``Chain.rejected`` compares the whole state)."""
    chain = escrow_chain()
    receipt = chain.ok("bank-a-admin", "contracts", "propose", ProposeArgs(THIEF_MANIFEST, THIEF))
    hash_bytes = decode(receipt.result, bytes, max_bytes=64)
    for admin in ADMINS:
        chain.ok(admin, "contracts", "approve", PackageArgs(hash_bytes))
    alice = chain.address("alice")
    chain.rejected("insufficient_allowance", "bob", "thief", "take", VictimArgs(alice))
    chain.rejected("insufficient_funds", "bob", "thief", "spend", VictimArgs(alice))


# -- the property: value is conserved and the escrow holds exactly what it owes ----------------

PARTIES = ("alice", "bob")
amount = st.integers(1, 6_000) | st.sampled_from([0, 20_000, 20_001, 50_000])
escrow_id = st.sampled_from(("e1", "e2", "e3", "e4", "e5"))
operation = st.one_of(
    st.tuples(st.just("approve"), st.sampled_from(PARTIES), amount),
    st.tuples(
        st.just("open"), st.sampled_from(PARTIES), escrow_id, st.sampled_from(PARTIES), amount
    ),
    st.tuples(st.sampled_from(("release", "refund")), st.sampled_from(PARTIES), escrow_id),
    st.tuples(st.just("donate"), st.sampled_from(PARTIES), st.integers(0, 500)),
    st.tuples(st.just("next_day")),
)


# An approval followed by the open it funds, so that escrows often open (and then close).
OTHER = {"alice": "bob", "bob": "alice"}
funded_open = st.tuples(st.sampled_from(PARTIES), escrow_id, amount).map(
    lambda o: [("approve", o[0], o[2]), ("open", o[0], o[1], OTHER[o[0]], o[2])]
)
# ... and closed again by its payer (a refund succeeds only after a next_day).
closed = st.tuples(funded_open, st.sampled_from(("release", "refund"))).map(
    lambda o: [*o[0], (o[1], o[0][1][1], o[0][1][2])]
)
operations = st.lists(
    st.one_of(operation.map(lambda op: [op]), funded_open, closed), min_size=3, max_size=20
).map(lambda groups: [op for group in groups for op in group])


def total_of_balances(chain: Chain) -> int:
    prefix = b"token/" + balance_key("CNY", b"")
    return sum(
        decode(raw, Holding, max_bytes=MAX_STATE_VALUE_BYTES).balance_minor
        for key, raw in chain.state.items()
        if key.startswith(prefix)
    )


def apply(
    chain: Chain, escrow: bytes, op: tuple[Any, ...], open_escrows: dict[str, int]
) -> tuple[bool, int]:
    """Submit ``op``; whether it succeeded, and what it added to the escrow's holding that
    no escrow owes (a direct payment)."""
    kind = op[0]
    if kind == "approve":
        receipt = chain.submit(op[1], TOKEN, "approve", ApproveArgs("CNY", escrow, op[2]))
    elif kind == "open":
        _, payer, identifier, payee, amount_minor = op
        args = OpenArgs(identifier, chain.address(payee), amount_minor, DAY_MS)
        receipt = chain.submit(payer, "escrow", "open", args)
        if receipt.status == ReceiptStatus.OK:
            open_escrows[identifier] = amount_minor
    elif kind in ("release", "refund"):
        receipt = chain.submit(op[1], "escrow", kind, EscrowIdArgs(op[2]))
        if receipt.status == ReceiptStatus.OK:
            del open_escrows[op[2]]
    else:
        receipt = chain.submit(op[1], TOKEN, "transfer", TransferArgs("CNY", escrow, op[2]))
        succeeded = receipt.status == ReceiptStatus.OK
        return succeeded, op[2] if succeeded else 0
    return receipt.status == ReceiptStatus.OK, 0


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(operations)
def test_escrow_traffic_conserves_cny(operations: list[tuple[Any, ...]]) -> None:
    chain = escrow_chain()
    escrow = commit_escrow(chain)
    supply = decode(chain.state[b"token/" + supply_key("CNY")], int, max_bytes=16)
    open_escrows: dict[str, int] = {}
    donated = 0
    for op in operations:
        if op[0] == "next_day":
            chain.advance_time(DAY_MS)
            continue
        before = dict(chain.state)
        succeeded, added = apply(chain, escrow, op, open_escrows)
        donated += added
        if not succeeded:
            assert chain.state == before, op
        assert total_of_balances(chain) == supply
        assert balance(chain, escrow) == sum(open_escrows.values()) + donated
    assert encode(supply) == chain.state[b"token/" + supply_key("CNY")]
