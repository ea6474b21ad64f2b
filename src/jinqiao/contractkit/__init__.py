"""The test kit of member contracts: an in-process chain to test a package against, and the
runner behind ``jinqiao contract test`` (``jinqiao.contractkit.runner``).

    def test_add(kit: Kit) -> None:
        receipt = kit.call("alice", "add", amount_minor=5)
        assert receipt.ok and receipt.result == 5
        assert receipt.events == [("Added", {"amount_minor": 5, "total": 5})]
        assert kit.query("total") == 5
        assert kit.call("carol", "add", amount_minor=5).code == "unauthorized"

The chain is the real runtime with the registry, governance and token contracts and the
package's contract, one organization (``members``) that may grant every role the manifest names,
and three accounts whose keys derive from their names: ``alice`` and ``bob`` hold every such
role, ``carol`` none. Each of the three holds ``KIT_BALANCE_MINOR`` of ``CNY`` at genesis, so a
contract that moves CNY (``ctx.call("token", "transfer_from", ...)``) is tested as it will run:

    def test_deposit(kit: Kit) -> None:
        assert kit.call_contract("alice", "token", "approve", asset="CNY",
                                 spender=kit.contract_address, amount_minor=500).ok
        assert kit.call("alice", "deposit", amount_minor=500).ok
        assert kit.balance(kit.contract_address) == 500

 Every ``call`` signs a transaction, executes it in a block of its own and commits
the block's writes; a rejected call changes nothing. Nothing reads a clock: block ``n`` has time
``GENESIS_TIME_MS + n * BLOCK_INTERVAL_MS`` plus what ``advance`` added.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import msgspec

from jinqiao.apps import Governance, Registry
from jinqiao.apps.token import TOKEN, HoldingArgs, Token
from jinqiao.contracts import member_contract, parse_manifest
from jinqiao.contracts.package import SOURCE_FILE
from jinqiao.core.codec import encode
from jinqiao.core.crypto import Signer, get_suite
from jinqiao.core.errors import InvalidInput, Rejection
from jinqiao.core.genesis import (
    ADMIN_ROLE,
    ChainParameters,
    Genesis,
    GenesisAccount,
    GenesisOrganization,
    GenesisValidator,
    check_genesis,
)
from jinqiao.core.hashing import transaction_signing_bytes
from jinqiao.core.types import Receipt, ReceiptStatus, SignedTransaction, TransactionBody
from jinqiao.execution.api import CONTRACT_ROLE, GOVERNANCE, REGISTRY
from jinqiao.execution.contract import BlockContext, contract_address
from jinqiao.execution.runtime import Runtime
from jinqiao.execution.state import MappingState, full_key

SUITE = "ed25519-sha256"
CHAIN_ID = "jinqiao-kit"
GENESIS_TIME_MS = 1_700_000_000_000
BLOCK_INTERVAL_MS = 1_000
ORGANIZATION = "members"
ROLE_HOLDERS = ("alice", "bob")
NO_ROLES = ("carol",)
ASSET = "CNY"
KIT_BALANCE_MINOR = 1_000_000_00
"""What alice, bob and carol each hold at genesis: 1,000,000.00 CNY in fen."""
KIT_CONTRACTS = frozenset({REGISTRY, GOVERNANCE, TOKEN})
KIT_TIER = {
    "max_balance_minor": 10**15,
    "max_payment_minor": 10**15,
    "daily_limit_minor": 10**15,
}


def signer_for(name: str) -> Signer:
    """The kit's key of account ``name`` (derived from the name: for tests only)."""
    return get_suite(SUITE).signer(hashlib.sha256(b"jinqiao-kit-key/" + name.encode()).digest())


@dataclass(frozen=True)
class KitReceipt:
    """A receipt, decoded: ``result`` is the method's return value, ``events`` (name,
    attributes) pairs in order."""

    ok: bool
    code: str
    message: str
    result: Any
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    steps_used: int = 0


class Kit:
    """An in-process chain holding one member contract (see the module docstring)."""

    def __init__(self, manifest_text: str, source: str, filename: str = SOURCE_FILE) -> None:
        manifest = parse_manifest(manifest_text)
        if manifest.name in KIT_CONTRACTS:
            raise InvalidInput(
                f"a package cannot be named {manifest.name!r}: a built-in contract has the name",
                code="name_taken",
            )
        self.name = manifest.name
        self.contract = member_contract(manifest_text, source, filename)
        roles = sorted({role for entry in manifest.methods for role in entry.roles})
        self.genesis = kit_genesis(tuple(roles))
        self.suite = self.genesis.suite
        self.runtime = Runtime(
            self.suite, CHAIN_ID, [Registry(), Governance(), Token(), self.contract]
        )
        self.contract_address = contract_address(self.suite.hash, self.name)
        """The address the package's contract acts as: it holds CNY and pays from it."""
        self.state: dict[bytes, bytes] = {}
        self.commit(self.runtime.apply_genesis(self.genesis))
        self.height = 0
        self.time_ms = GENESIS_TIME_MS
        self.nonce = 0

    def address(self, name: str) -> bytes:
        return signer_for(name).address

    def call(self, sender: str, method: str, **arguments: Any) -> KitReceipt:
        """Sign and execute ``method`` with ``arguments`` (by name, as in the manifest)."""
        return self.call_contract(sender, self.name, method, **arguments)

    def call_contract(
        self, sender: str, contract: str, method: str, **arguments: Any
    ) -> KitReceipt:
        """``call`` of another contract of the kit's chain (``token``: ``approve``,
        ``transfer``), arguments by name."""
        found = self.runtime.contracts.get(contract)
        spec = None if found is None else found.methods.get(method)
        if spec is None or spec.read_only:
            raise KeyError(f"{contract} has no method {method!r}")
        args = encode(spec.args_type(**arguments))
        signer = signer_for(sender)
        body = TransactionBody(
            chain_id=CHAIN_ID,
            sender=signer.address,
            public_key=signer.public_key,
            nonce=self.nonce,
            valid_until=self.height + 10,
            contract=contract,
            method=method,
            args=args,
        )
        self.nonce += 1
        transaction = SignedTransaction(body, signer.sign(transaction_signing_bytes(body)))
        return decode_receipt(self.execute([transaction])[0])

    def execute(self, transactions: list[SignedTransaction]) -> tuple[Receipt, ...]:
        self.height += 1
        self.time_ms += BLOCK_INTERVAL_MS
        block = BlockContext(CHAIN_ID, self.height, self.time_ms, self.address("proposer"))
        result = self.runtime.execute_block(
            MappingState(self.state), block, transactions, is_committed=lambda _: False
        )
        self.commit(result.writes)
        return result.receipts

    def query(self, name: str, **arguments: Any) -> Any:
        """A query's result against committed state, as a client decodes it (lists, not
        tuples); a refusal raises ``Rejection``."""
        spec = self.contract.methods.get(name)
        if spec is None:
            raise KeyError(f"{self.name} has no query {name!r}")
        block = BlockContext(CHAIN_ID, self.height, self.time_ms, b"")
        result = self.runtime.run_query(
            MappingState(self.state), block, self.name, name, spec.args_type(**arguments)
        )
        return None if result is None else msgspec.msgpack.decode(encode(result))

    def balance(self, holder: str | bytes, asset: str = ASSET) -> int:
        """The ``asset`` balance of an account (by name: ``"alice"``) or an address (the
        contract's: ``kit.contract_address``), in minor units."""
        address = self.address(holder) if isinstance(holder, str) else holder
        block = BlockContext(CHAIN_ID, self.height, self.time_ms, b"")
        result = self.runtime.run_query(
            MappingState(self.state), block, TOKEN, "balance", HoldingArgs(asset, address)
        )
        balance: int = result.balance_minor
        return balance

    def load(self, key: bytes) -> Any:
        """What the contract saved under ``key`` (``ctx.state.save``), or ``None``."""
        raw = self.state.get(full_key(self.name, key))
        return None if raw is None else msgspec.msgpack.decode(raw)

    def get(self, key: bytes) -> bytes | None:
        """The bytes under ``key`` in the contract's namespace (``ctx.state.set``)."""
        return self.state.get(full_key(self.name, key))

    def advance(self, blocks: int = 0, milliseconds: int = 0) -> None:
        """Commit ``blocks`` empty blocks and move the clock on by ``milliseconds``."""
        self.time_ms += milliseconds
        for _ in range(blocks):
            self.execute([])

    def commit(self, writes: dict[bytes, bytes | None]) -> None:
        for key, value in writes.items():
            if value is None:
                self.state.pop(key, None)
            else:
                self.state[key] = value


def decode_receipt(receipt: Receipt) -> KitReceipt:
    return KitReceipt(
        ok=receipt.status == ReceiptStatus.OK,
        code=receipt.code,
        message=receipt.message,
        result=msgspec.msgpack.decode(receipt.result) if receipt.result else None,
        events=[(event.name, dict(event.attributes)) for event in receipt.events],
        steps_used=receipt.steps_used,
    )


def kit_genesis(roles: tuple[str, ...]) -> Genesis:
    suite = get_suite(SUITE)
    # "contract" is the role of a contract calling another (a migration): no account holds it.
    roles = tuple(role for role in roles if role != CONTRACT_ROLE)
    member_roles = tuple(role for role in roles if role != ADMIN_ROLE)
    accounts = [
        GenesisAccount(name, ORGANIZATION, signer_for(name).public_key.hex(), roles)
        for name in ROLE_HOLDERS
    ]
    accounts += [
        GenesisAccount(name, ORGANIZATION, signer_for(name).public_key.hex()) for name in NO_ROLES
    ]
    accounts.append(
        GenesisAccount("admin", ORGANIZATION, signer_for("admin").public_key.hex(), (ADMIN_ROLE,))
    )
    genesis = Genesis(
        chain_id=CHAIN_ID,
        genesis_time_ms=GENESIS_TIME_MS,
        organizations=(GenesisOrganization(ORGANIZATION, "Members", member_roles),),
        accounts=tuple(accounts),
        validators=(
            GenesisValidator("validator", ORGANIZATION, signer_for("validator").public_key.hex()),
        ),
        crypto_suite=suite.name,
        parameters=ChainParameters(),
        contracts={
            TOKEN: {
                "tiers": {"kit": KIT_TIER},
                "assets": [
                    {
                        "symbol": ASSET,
                        "name": "Digital yuan",
                        "scale": 2,
                        "issuer": ORGANIZATION,
                        "default_tier": "kit",
                    }
                ],
                "holdings": [
                    {
                        "asset": ASSET,
                        "address": signer_for(name).address.hex(),
                        "balance_minor": KIT_BALANCE_MINOR,
                    }
                    for name in (*ROLE_HOLDERS, *NO_ROLES)
                ],
            }
        },
    )
    check_genesis(genesis)
    return genesis


__all__ = ["Kit", "KitReceipt", "Rejection", "signer_for"]
