"""An in-memory chain for contract tests, driven through the real ``Runtime``.

    chain = Chain(make_genesis(contracts={"token": token_config({"issuer": 1_000})}))
    receipt = chain.ok("alice", "token", "transfer", TransferArgs("CNY", chain.address("bob"), 5))
    chain.rejected("insufficient_funds", "alice", "token", "transfer", TransferArgs(...))
    balance = chain.query("token", "balance", HoldingArgs("CNY", chain.address("bob")))

Every account's key is derived from its name (``signer_for``), so tests name accounts, not keys.
Each ``submit``/``ok``/``rejected`` executes one block holding one transaction; ``execute`` runs a
block of several. Committed state is a plain dict (``chain.state``) of full keys to values; a
block's writes are applied to it (``None`` deletes). Nothing here is random or reads a clock: block
``n`` has time ``genesis_time_ms + n * BLOCK_INTERVAL_MS`` unless a test moves time on.

The default consortium (``DEFAULT_ORGANIZATIONS``/``DEFAULT_ACCOUNTS``):

=============  ==================  ===================================================
organization   roles it may grant  accounts (roles)
=============  ==================  ===================================================
central-bank   issuer              central-bank-admin (admin), issuer (issuer)
bank-a         bank                bank-a-admin (admin), alice
bank-b         bank                bank-b-admin (admin), bob
regulator      regulator           regulator-admin (admin), inspector (regulator)
=============  ==================  ===================================================

and one validator per organization (``validator-<organization>``, power 1).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from jinqiao.apps import default_contracts
from jinqiao.apps.registry import RegisterAccountArgs, registration
from jinqiao.client.cosign import MultiSigner
from jinqiao.core.codec import CanonicalStruct, decode, encode
from jinqiao.core.crypto import Signer, get_suite
from jinqiao.core.genesis import (
    ChainParameters,
    Genesis,
    GenesisAccount,
    GenesisOrganization,
    GenesisValidator,
    check_genesis,
)
from jinqiao.core.hashing import transaction_signing_bytes
from jinqiao.core.limits import MAX_STATE_VALUE_BYTES
from jinqiao.core.types import Event, Receipt, ReceiptStatus, SignedTransaction, TransactionBody
from jinqiao.execution.contract import BlockContext, Contract
from jinqiao.execution.runtime import BlockResult, Runtime
from jinqiao.execution.state import MappingState, full_key

T = TypeVar("T")

SUITE_NAME = "ed25519-sha256"
CHAIN_ID = "jinqiao-test"
GENESIS_TIME_MS = 1_700_000_000_000
BLOCK_INTERVAL_MS = 1_000


def secret_for(name: str) -> bytes:
    """The test secret key of the account or validator ``name`` (deterministic)."""
    return hashlib.sha256(b"jinqiao-test-key/" + name.encode()).digest()


def signer_for(name: str, suite_name: str = SUITE_NAME) -> Signer:
    return get_suite(suite_name).signer(secret_for(name))


TEST_NAME_SALT = bytes(range(32))
"""The salt the tests commit registered names with (the SDK draws a random one)."""


def registration_for(
    name: str, roles: tuple[str, ...] = (), suite_name: str = SUITE_NAME
) -> RegisterAccountArgs:
    """``register_account`` arguments for the test account ``name``, its name committed with
    ``TEST_NAME_SALT``."""
    suite = get_suite(suite_name)
    return registration(suite, signer_for(name, suite_name).public_key, name, roles, TEST_NAME_SALT)


def address_of(name: str, suite_name: str = SUITE_NAME) -> bytes:
    return signer_for(name, suite_name).address


@dataclass(frozen=True)
class AccountSpec:
    """A genesis account, named; its key comes from ``signer_for(name)``."""

    name: str
    organization: str
    roles: tuple[str, ...] = ()


DEFAULT_ORGANIZATIONS: tuple[GenesisOrganization, ...] = (
    GenesisOrganization("central-bank", "Central Bank", ("currency_issuer",)),
    GenesisOrganization("bank-a", "Bank A", ("bank",)),
    GenesisOrganization("bank-b", "Bank B", ("bank",)),
    GenesisOrganization("regulator", "Regulator", ("regulator",)),
)

DEFAULT_ACCOUNTS: tuple[AccountSpec, ...] = (
    AccountSpec("central-bank-admin", "central-bank", ("admin",)),
    AccountSpec("issuer", "central-bank", ("currency_issuer",)),
    AccountSpec("bank-a-admin", "bank-a", ("admin",)),
    AccountSpec("alice", "bank-a"),
    AccountSpec("bank-b-admin", "bank-b", ("admin",)),
    AccountSpec("bob", "bank-b"),
    AccountSpec("regulator-admin", "regulator", ("admin",)),
    AccountSpec("inspector", "regulator", ("regulator",)),
)


def make_genesis(
    *,
    organizations: Sequence[GenesisOrganization] = DEFAULT_ORGANIZATIONS,
    accounts: Sequence[AccountSpec] = DEFAULT_ACCOUNTS,
    validators: Sequence[tuple[str, str]] | None = None,
    parameters: ChainParameters | None = None,
    contracts: Mapping[str, dict[str, Any]] | None = None,
    chain_id: str = CHAIN_ID,
    suite_name: str = SUITE_NAME,
) -> Genesis:
    """A checked genesis. ``validators`` are (name, organization) pairs, power 1; by default one
    ``validator-<organization>`` per organization. Keys are made for ``suite_name``."""
    suite = get_suite(suite_name)
    if validators is None:
        validators = [(f"validator-{org.id}", org.id) for org in organizations]
    genesis = Genesis(
        chain_id=chain_id,
        genesis_time_ms=GENESIS_TIME_MS,
        organizations=tuple(organizations),
        accounts=tuple(
            GenesisAccount(
                spec.name,
                spec.organization,
                signer_for(spec.name, suite_name).public_key.hex(),
                spec.roles,
            )
            for spec in accounts
        ),
        validators=tuple(
            GenesisValidator(name, organization, signer_for(name, suite_name).public_key.hex())
            for name, organization in validators
        ),
        crypto_suite=suite.name,
        parameters=parameters or ChainParameters(),
        contracts=dict(contracts or {}),
    )
    check_genesis(genesis)
    return genesis


BASIC_TIER = {
    "max_balance_minor": 1_000_000,
    "max_payment_minor": 200_000,
    "daily_limit_minor": 500_000,
}
INSTITUTION_TIER = {
    "max_balance_minor": 10**15,
    "max_payment_minor": 10**15,
    "daily_limit_minor": 10**15,
}


def token_config(
    balances: Mapping[str, int] | None = None,
    *,
    tiers: Mapping[str, Mapping[str, int]] | None = None,
    holder_tiers: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A ``genesis.contracts["token"]`` document: asset ``CNY`` (scale 2) issued by
    ``central-bank``, tiers ``basic`` (default) and ``institution`` (for ``issuer``), and
    ``balances`` (account name → fen) minted at genesis."""
    tier_of = {"issuer": "institution", **(holder_tiers or {})}
    balances = dict(balances or {})
    holders = sorted(set(balances) | set(tier_of))
    return {
        "tiers": {
            name: dict(limits)
            for name, limits in (
                tiers or {"basic": BASIC_TIER, "institution": INSTITUTION_TIER}
            ).items()
        },
        "assets": [
            {
                "symbol": "CNY",
                "name": "Digital yuan",
                "scale": 2,
                "issuer": "central-bank",
                "default_tier": "basic",
            }
        ],
        "holdings": [
            {
                "asset": "CNY",
                "address": address_of(name).hex(),
                "tier": tier_of.get(name),
                "balance_minor": balances.get(name, 0),
            }
            for name in holders
        ],
    }


class ChainError(AssertionError):
    """A test expectation about a receipt did not hold."""


class Chain:
    """Committed state plus a runtime; executes blocks of real signed transactions."""

    def __init__(
        self, genesis: Genesis | None = None, contracts: Sequence[Contract] | None = None
    ) -> None:
        self.genesis = genesis if genesis is not None else make_genesis()
        self.suite = self.genesis.suite
        self.chain_id = self.genesis.chain_id
        self.runtime = Runtime(
            self.suite,
            self.chain_id,
            list(contracts) if contracts is not None else default_contracts(),
        )
        self.state: dict[bytes, bytes] = {}
        self.apply_writes(self.runtime.apply_genesis(self.genesis))
        self.height = 0
        self.time_ms = self.genesis.genesis_time_ms
        self.committed: set[bytes] = set()
        self._next_nonce = 0

    # -- accounts -------------------------------------------------------------------------

    def signer(self, name: str) -> Signer:
        return signer_for(name, self.suite.name)

    def address(self, name: str) -> bytes:
        return self.signer(name).address

    # -- transactions ---------------------------------------------------------------------

    def transaction(
        self,
        sender: str | Signer,
        contract: str,
        method: str,
        args: CanonicalStruct | bytes,
        *,
        nonce: int | None = None,
        valid_until: int | None = None,
    ) -> SignedTransaction:
        """A signed transaction; ``args`` is a struct or already-encoded bytes. Nonces count
        up per chain unless given, so every transaction is distinct."""
        signer = self.signer(sender) if isinstance(sender, str) else sender
        if nonce is None:
            nonce = self._next_nonce
            self._next_nonce += 1
        body = TransactionBody(
            chain_id=self.chain_id,
            sender=signer.address,
            public_key=signer.public_key,
            nonce=nonce,
            valid_until=self.height + 10 if valid_until is None else valid_until,
            contract=contract,
            method=method,
            args=args if isinstance(args, bytes) else encode(args),
        )
        if isinstance(signer, MultiSigner):
            return signer.sign_body(body)
        return SignedTransaction(body, signer.sign(transaction_signing_bytes(body)))

    def execute(
        self,
        transactions: Iterable[SignedTransaction],
        *,
        verify_signatures: bool = True,
    ) -> BlockResult:
        """Execute one block at the next height and commit its writes."""
        self.height += 1
        self.time_ms += BLOCK_INTERVAL_MS
        block = BlockContext(self.chain_id, self.height, self.time_ms, self.address("proposer"))
        result = self.runtime.execute_block(
            MappingState(self.state),
            block,
            list(transactions),
            is_committed=self.committed.__contains__,
            verify_signatures=verify_signatures,
        )
        self.apply_writes(result.writes)
        for receipt in result.receipts:
            self.committed.add(receipt.transaction_hash)
        return result

    def submit(
        self, sender: str | Signer, contract: str, method: str, args: CanonicalStruct | bytes
    ) -> Receipt:
        """One transaction in its own block; its receipt, whatever the outcome."""
        return self.execute([self.transaction(sender, contract, method, args)]).receipts[0]

    def ok(
        self, sender: str | Signer, contract: str, method: str, args: CanonicalStruct | bytes
    ) -> Receipt:
        """Submit and require success."""
        receipt = self.submit(sender, contract, method, args)
        if receipt.status != ReceiptStatus.OK:
            raise ChainError(f"{contract}.{method} was rejected {receipt.code}: {receipt.message}")
        return receipt

    def rejected(
        self,
        code: str,
        sender: str | Signer,
        contract: str,
        method: str,
        args: CanonicalStruct | bytes,
    ) -> Receipt:
        """Submit and require the rejection ``code`` and that state did not change."""
        before = dict(self.state)
        receipt = self.submit(sender, contract, method, args)
        if receipt.status != ReceiptStatus.REJECTED or receipt.code != code:
            raise ChainError(
                f"{contract}.{method}: expected rejection {code!r}, got {receipt.code!r} "
                f"({receipt.message})"
            )
        if self.state != before:
            raise ChainError(f"{contract}.{method} was rejected but state changed")
        return receipt

    # -- time -----------------------------------------------------------------------------

    def advance(self, blocks: int = 1) -> None:
        """Commit ``blocks`` empty blocks."""
        for _ in range(blocks):
            self.execute([])

    def advance_time(self, milliseconds: int) -> None:
        """Move the clock; the next block's time is this plus one block interval."""
        self.time_ms += milliseconds

    # -- reading --------------------------------------------------------------------------

    def block_context(self) -> BlockContext:
        return BlockContext(self.chain_id, self.height, self.time_ms, b"")

    def query(self, contract: str, name: str, args: CanonicalStruct) -> Any:
        """Run a query against committed state (raises ``Rejection`` like the API would)."""
        return self.runtime.run_query(
            MappingState(self.state), self.block_context(), contract, name, args
        )

    def read(self, contract: str, key: bytes, kind: type[T]) -> T | None:
        """A contract's stored value, decoded, or ``None``."""
        raw = self.state.get(full_key(contract, key))
        return None if raw is None else decode(raw, kind, max_bytes=MAX_STATE_VALUE_BYTES)

    def apply_writes(self, writes: Mapping[bytes, bytes | None]) -> None:
        for key, value in writes.items():
            if value is None:
                self.state.pop(key, None)
            else:
                self.state[key] = value


def events(receipt: Receipt, name: str | None = None) -> list[Event]:
    """The receipt's events, optionally only those called ``name``."""
    return [event for event in receipt.events if name is None or event.name == name]


def result_of(receipt: Receipt, kind: type[T]) -> T:
    """Decode what the method returned."""
    return decode(receipt.result, kind, max_bytes=MAX_STATE_VALUE_BYTES)
