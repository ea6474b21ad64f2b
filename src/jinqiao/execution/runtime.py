"""The runtime: checks, dispatches and applies transactions, one block at a time.

``execute_block`` is the state transition: given committed state, a block context and ordered
transactions, it returns one receipt per transaction and the block's state writes. It is a pure
function of its inputs (DESIGN.md §4 rule 1); the node stores the result and computes the roots.
Signatures are checked by the caller (``verify_signatures``), so a benchmark can measure both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from jinqiao.core.codec import CanonicalStruct, encode
from jinqiao.core.crypto import CryptoSuite
from jinqiao.core.errors import InvalidInput, JinqiaoError, NodeFault, Rejection
from jinqiao.core.genesis import IDENTIFIER, ChainParameters, Genesis
from jinqiao.core.hashing import transaction_hash, transaction_signing_bytes
from jinqiao.core.limits import (
    MAX_ARGS_BYTES,
    MAX_NAME_LENGTH,
    MAX_NONCE,
    MAX_RECEIPT_BYTES,
    MAX_RECEIPT_MESSAGE_LENGTH,
)
from jinqiao.core.types import Event, Receipt, ReceiptStatus, SignedTransaction
from jinqiao.execution.contract import (
    CONTRACT_ROLE,
    BlockContext,
    Context,
    Contract,
    GenesisContext,
    MethodSpec,
    contract_address,
    decode_arguments,
)
from jinqiao.execution.identity import (
    GOVERNANCE,
    PARAMETERS_KEY,
    PENDING_VALIDATORS_KEY,
    REGISTRY,
    VALIDATORS_KEY,
    Account,
    Organization,
    PendingValidators,
    SigningPolicy,
    account_key,
    implicit_policy,
    organization_key,
    policy_key,
    read_governance,
)
from jinqiao.execution.state import (
    CachedReader,
    ContractState,
    EmptyState,
    Overlay,
    StateReader,
    StepMeter,
)

MAX_CALL_DEPTH = 4
APPROVAL_METHODS = frozenset({"propose_transaction", "approve_transaction"})
"""Registry methods that any key of the sender's policy may sign alone (docs/keys.md)."""


class InvalidBlock(JinqiaoError):
    """A proposed block that no correct validator may accept (as opposed to a transaction that
    is rejected inside a valid block)."""

    code = "invalid_block"


@dataclass(frozen=True)
class BlockResult:
    receipts: tuple[Receipt, ...]
    writes: dict[bytes, bytes | None]


@dataclass(frozen=True)
class Caller:
    account: Account
    organization: Organization
    policy: SigningPolicy
    """The sender's signing policy (``implicit_policy`` when it set none)."""


class Runtime:
    """Holds the contracts of a network and applies transactions to state."""

    def __init__(
        self,
        suite: CryptoSuite,
        chain_id: str,
        contracts: Sequence[Contract],
        resolver: Callable[[Callable[[bytes], bytes | None], str], Contract | None] | None = None,
        member_address: Callable[[Callable[[bytes], bytes | None], bytes], bool] | None = None,
    ) -> None:
        self.suite = suite
        self.resolver = resolver
        """Finds a contract that is not built in — a member's, committed on chain — by name in
        the state being executed (``jinqiao.contracts.lifecycle.MemberContracts.resolve``)."""
        self.member_address = member_address
        """Whether an address is a committed member contract's, in the state being executed
        (``jinqiao.contracts.lifecycle.MemberContracts.is_member_address``): such a contract
        holds a balance as a built-in one does (``Context.is_member_contract``)."""
        self.chain_id = chain_id
        self.contracts: dict[str, Contract] = {}
        for contract in contracts:
            if not IDENTIFIER.fullmatch(contract.name) or contract.name in self.contracts:
                raise NodeFault(
                    f"contract name {contract.name!r} is not an identifier or is used twice"
                )
            self.contracts[contract.name] = contract
        self.contract_addresses = {
            contract_address(suite.hash, name): name for name in self.contracts
        }
        self._call_depth = 0

    # -- genesis ---------------------------------------------------------------------------
    def apply_genesis(self, genesis: Genesis) -> dict[bytes, bytes | None]:
        """The state writes of height 0, contract by contract in registration order."""
        overlay = Overlay(EmptyState())
        for name, contract in self.contracts.items():
            state = ContractState(name, overlay, StepMeter(limit=1 << 62))
            contract.genesis(
                GenesisContext(genesis, state, overlay), genesis.contracts.get(name, {})
            )
        unknown = set(genesis.contracts) - set(self.contracts)
        if unknown:
            raise InvalidInput(f"genesis configures unknown contracts {sorted(unknown)}")
        return dict(overlay.writes)

    # -- admission and execution -----------------------------------------------------------
    def verify_signature(self, transaction: SignedTransaction) -> None:
        """The stateless check: every signature verifies under its key over the signing bytes
        (one for a ``SignedTransaction``, ``body.public_key`` and each co-signer's for a
        ``MultiSignedTransaction``). Whether those keys may sign for the sender is the account's
        signing policy's question (``check_transaction``)."""
        signers, signatures = transaction.signers(), transaction.signatures()
        if len(signers) != len(signatures):
            raise Rejection(
                "invalid_signature",
                f"{len(signatures) - 1} co-signatures for {len(signers) - 1} co-signers",
            )
        message = transaction_signing_bytes(transaction.body)
        for index, (public_key, signature) in enumerate(zip(signers, signatures, strict=True)):
            if not self.suite.verify(public_key, message, signature):
                which = "the signature" if index == 0 else f"co-signature {index - 1}"
                raise Rejection("invalid_signature", f"{which} does not verify")

    def parameters(self, state: StateReader) -> ChainParameters:
        return read_governance(state, PARAMETERS_KEY, ChainParameters, "chain parameters")

    def check_transaction(
        self,
        state: StateReader,
        transaction: SignedTransaction,
        height: int,
        parameters: ChainParameters,
    ) -> tuple[Caller, Contract, MethodSpec, Any]:
        """Every stateful check that precedes running the method, at ``height``. Raises
        ``Rejection`` with a stable code; used both for mempool admission and in blocks."""
        body = transaction.body
        if body.chain_id != self.chain_id:
            raise Rejection("wrong_chain", f"transaction is for chain {body.chain_id!r}")
        if not 0 <= body.nonce <= MAX_NONCE:
            raise Rejection("invalid_nonce", "nonce must be an unsigned 64-bit integer")
        if body.valid_until < height:
            raise Rejection(
                "expired",
                f"valid_until {body.valid_until} is below height {height}",
                valid_until=body.valid_until,
                height=height,
            )
        window = parameters.valid_until_window_blocks
        if body.valid_until > height + window:
            raise Rejection(
                "valid_until_too_far",
                f"valid_until {body.valid_until} is more than {window} blocks after {height}",
                valid_until=body.valid_until,
                height=height,
                window=window,
            )
        signers = transaction.signers()
        if len(set(signers)) != len(signers):
            raise Rejection("duplicate_signer", "a key signs this transaction more than once")
        caller = self._caller(state, body.sender, body.public_key)
        for cosigner in signers[1:]:
            _check_policy_signer(caller.policy, cosigner)
        contract = (
            self.find_contract(state, body.contract)
            if len(body.contract) <= MAX_NAME_LENGTH
            else None
        )
        if contract is None:
            raise Rejection("unknown_contract", f"no contract named {body.contract[:64]!r}")
        spec = contract.methods.get(body.method)
        if spec is None or spec.read_only:
            raise Rejection(
                "unknown_method", f"contract {contract.name} has no method {body.method[:64]!r}"
            )
        arguments = decode_arguments(spec, body.args, MAX_ARGS_BYTES)
        if not (contract.name == REGISTRY and body.method in APPROVAL_METHODS):
            # A pending approval collects signatures one key at a time: membership suffices.
            _check_threshold(caller.policy, signers)
            _check_amount_rules(caller.policy, signers, arguments)
        if spec.roles and not spec.roles & set(caller.account.roles):
            raise Rejection(
                "unauthorized",
                f"{contract.name}.{spec.name} needs one of the roles {sorted(spec.roles)}",
                required=sorted(spec.roles),
            )
        return caller, contract, spec, arguments

    def find_contract(self, state: StateReader, name: str) -> Contract | None:
        """A built-in contract, else (with a resolver) a member's committed in ``state``."""
        contract = self.contracts.get(name)
        if contract is None and self.resolver is not None:
            contract = self.resolver(state.get, name)
        return contract

    def is_member_address(self, state: StateReader, address: bytes) -> bool:
        """Whether ``address`` is a committed member contract's in ``state``."""
        return self.member_address is not None and self.member_address(state.get, address)

    def _caller(
        self, state: StateReader, sender: bytes, public_key: bytes, *, check_key: bool = True
    ) -> Caller:
        registry = ContractState(REGISTRY, Overlay(state), StepMeter())
        policy = registry.load(policy_key(sender), SigningPolicy)
        if policy is None and self.suite.address(public_key) != sender:
            raise Rejection("address_mismatch", "sender is not the address of public_key")
        account = registry.load(account_key(sender), Account)
        if account is None:
            raise Rejection("unknown_sender", f"account {sender.hex()} is not registered")
        if policy is None:
            if account.public_key != public_key:
                raise Rejection(
                    "key_mismatch", "public_key is not the key registered for the sender"
                )
            policy = implicit_policy(account)
        elif check_key:
            _check_policy_signer(policy, public_key)
        if not account.active:
            raise Rejection("sender_suspended", f"account {sender.hex()} is suspended")
        organization = registry.load(organization_key(account.organization), Organization)
        if organization is None:
            raise NodeFault(f"account {sender.hex()} belongs to a missing organization")
        if not organization.active:
            raise Rejection(
                "organization_suspended", f"organization {organization.id} is suspended"
            )
        return Caller(account, organization, policy)

    def execute_block(
        self,
        state: StateReader,
        block: BlockContext,
        transactions: Sequence[SignedTransaction],
        is_committed: Callable[[bytes], bool],
        *,
        verify_signatures: bool = True,
        already_verified: Callable[[bytes, SignedTransaction], bool] | None = None,
    ) -> BlockResult:
        """Apply ``transactions`` in order on top of ``state``.

        Raises ``InvalidBlock`` — the whole block is refused, nothing is applied — when the block
        holds more transactions than ``block_max_transactions`` or, with ``verify_signatures``, a
        transaction whose signature does not verify: a forged copy must not be able to use up the
        identity (hash) of a genuine transaction by earning a receipt."""
        if block.chain_id != self.chain_id:
            raise NodeFault("block for another chain")
        parameters = self.parameters(state)
        if len(transactions) > parameters.block_max_transactions:
            raise InvalidBlock(
                f"{len(transactions)} transactions, over block_max_transactions "
                f"{parameters.block_max_transactions}"
            )
        identities = [transaction_hash(self.suite, t.body) for t in transactions]
        if verify_signatures:
            for index, transaction in enumerate(transactions):
                if already_verified is not None and already_verified(
                    identities[index], transaction
                ):
                    # This node checked exactly these signed bytes at admission.
                    continue
                try:
                    self.verify_signature(transaction)
                except Rejection as rejection:
                    raise InvalidBlock(f"transaction {index}: {rejection.message}") from None
        block_overlay = Overlay(CachedReader(state))
        seen: set[bytes] = set()
        receipts = []
        for identity, transaction in zip(identities, transactions, strict=True):
            receipts.append(
                self._execute_one(
                    block_overlay,
                    block,
                    parameters,
                    transaction,
                    identity,
                    seen,
                    is_committed,
                )
            )
        self._promote_validators(block_overlay, block.height)
        return BlockResult(tuple(receipts), block_overlay.writes)

    def _promote_validators(self, overlay: Overlay, height: int) -> None:
        """End of block: a pending validator set due at the next height becomes the set in
        force, so this block's header names it as ``next_validators_hash``."""
        governance = ContractState(GOVERNANCE, overlay, StepMeter(limit=1 << 62))
        pending = governance.load(PENDING_VALIDATORS_KEY, PendingValidators)
        if pending is not None and pending.effective_height <= height + 1:
            governance.save(VALIDATORS_KEY, pending.validators)
            governance.delete(PENDING_VALIDATORS_KEY)

    def _execute_one(
        self,
        block_overlay: Overlay,
        block: BlockContext,
        parameters: ChainParameters,
        transaction: SignedTransaction,
        identity: bytes,
        seen: set[bytes],
        is_committed: Callable[[bytes], bool],
    ) -> Receipt:
        events: list[Event] = []
        meter = StepMeter()
        overlay = Overlay(block_overlay)
        try:
            if identity in seen or is_committed(identity):
                raise Rejection("duplicate_transaction", "this transaction was already committed")
            seen.add(identity)
            caller, contract, spec, arguments = self.check_transaction(
                overlay, transaction, block.height, parameters
            )
            context = Context(
                runtime=self,
                contract=contract.name,
                block=block,
                sender=caller.account.address,
                organization=caller.organization.id,
                roles=frozenset(caller.account.roles),
                transaction_hash=identity,
                overlay=overlay,
                meter=meter,
                events=events,
                signing_key=transaction.body.public_key,
            )
            result = getattr(contract, spec.function_name)(context, arguments)
            receipt = Receipt(
                identity,
                ReceiptStatus.OK,
                "ok",
                "",
                tuple(events),
                meter.used,
                _encode_result(result),
            )
            size = len(encode(receipt))
            if size > MAX_RECEIPT_BYTES:
                # Every receipt must fit a ReceiptProof of at most MAX_PROOF_BYTES.
                raise Rejection(
                    "receipt_too_large",
                    f"the receipt would be {size} bytes, over {MAX_RECEIPT_BYTES}",
                )
        except Rejection as rejection:
            return Receipt(
                identity,
                ReceiptStatus.REJECTED,
                rejection.code,
                rejection.message[:MAX_RECEIPT_MESSAGE_LENGTH],
                (),
                meter.used,
                b"",
            )
        overlay.merge_into(block_overlay)
        return receipt

    def check_contract_call(
        self,
        contract_name: str,
        method_name: str,
        args: bytes,
        state: StateReader | None = None,
    ) -> Any:
        """The checks of a call by a contract, as rejections: the contract and method exist (and
        the method is not a query), the method accepts the ``contract`` role, the arguments
        decode. Returns the decoded arguments. ``Context.check_call`` exposes it to contracts.
        With ``state``, a member's committed contract counts too (``find_contract``)."""
        contract = (
            self.contracts.get(contract_name)
            if state is None
            else self.find_contract(state, contract_name)
        )
        if contract is None:
            raise Rejection("unknown_contract", f"no contract named {contract_name[:64]!r}")
        spec = contract.methods.get(method_name)
        if spec is None or spec.read_only:
            raise Rejection(
                "unknown_method", f"contract {contract_name} has no method {method_name[:64]!r}"
            )
        if spec.roles and CONTRACT_ROLE not in spec.roles:
            raise Rejection(
                "unauthorized", f"{contract_name}.{method_name} cannot be called by a contract"
            )
        return decode_arguments(spec, args, MAX_ARGS_BYTES)

    def call_from_contract(
        self, caller: Context, contract_name: str, method_name: str, args: bytes
    ) -> bytes:
        """A contract calling another within the same transaction (see ``Context.call``)."""
        contract = self.find_contract(caller._overlay, contract_name)
        if contract is None:
            raise NodeFault(f"{caller.contract} called unknown contract {contract_name!r}")
        spec = contract.methods.get(method_name)
        if spec is None or spec.read_only:
            raise NodeFault(
                f"{caller.contract} called unknown method {contract_name}.{method_name}"
            )
        if self._call_depth >= MAX_CALL_DEPTH:
            raise Rejection("call_depth_exceeded", f"more than {MAX_CALL_DEPTH} nested calls")
        arguments = self.check_contract_call(contract_name, method_name, args, caller._overlay)
        sender = contract_address(self.suite.hash, caller.contract)
        return self._run_nested(
            caller, contract, spec, arguments, sender, "", frozenset({CONTRACT_ROLE})
        )

    def _run_nested(
        self,
        caller: Context,
        contract: Contract,
        spec: MethodSpec,
        arguments: Any,
        sender: bytes,
        organization: str,
        roles: frozenset[str],
    ) -> bytes:
        """Run a method inside ``caller``'s transaction (same state, steps and events)."""
        context = Context(
            runtime=self,
            contract=contract.name,
            block=caller.block,
            sender=sender,
            organization=organization,
            roles=roles,
            transaction_hash=caller.transaction_hash,
            overlay=caller._overlay,
            meter=caller._meter,
            events=caller._events,
        )
        self._call_depth += 1
        try:
            result = getattr(contract, spec.function_name)(context, arguments)
        finally:
            self._call_depth -= 1
        return _encode_result(result)

    def call_approved(
        self,
        caller: Context,
        account: bytes,
        contract_name: str,
        method_name: str,
        args: bytes,
        signers: tuple[bytes, ...],
    ) -> bytes | None:
        """A pending approval's call (``Context.call_approved``): ``None`` while ``signers`` do
        not satisfy ``account``'s current policy, else the call's result, run as ``account``
        with the checks of a transaction (account and organization active, contract and
        method, arguments, roles)."""
        sender = self._caller_of_account(caller._overlay, account)
        contract = self.find_contract(caller._overlay, contract_name)
        spec = None if contract is None else contract.methods.get(method_name)
        if contract is None or spec is None or spec.read_only:
            raise Rejection("unknown_method", f"no method {contract_name}.{method_name}")
        arguments = decode_arguments(spec, args, MAX_ARGS_BYTES)
        policy = sender.policy
        if signers_weight(policy, signers) < policy.threshold:
            return None
        try:
            _check_amount_rules(policy, signers, arguments)
        except Rejection:
            return None
        if spec.roles and not spec.roles & set(sender.account.roles):
            raise Rejection("unauthorized", f"{contract_name}.{method_name} needs another role")
        if self._call_depth >= MAX_CALL_DEPTH:
            raise Rejection("call_depth_exceeded", f"more than {MAX_CALL_DEPTH} nested calls")
        roles = frozenset(sender.account.roles)
        return self._run_nested(
            caller, contract, spec, arguments, account, sender.organization.id, roles
        )

    def _caller_of_account(self, state: StateReader, address: bytes) -> Caller:
        """The account and organization at ``address``, both active, with its policy."""
        registry = ContractState(REGISTRY, Overlay(state), StepMeter())
        account = registry.load(account_key(address), Account)
        if account is None:
            raise Rejection("unknown_sender", f"account {address.hex()} is not registered")
        return self._caller(state, address, account.public_key, check_key=False)

    # -- queries ---------------------------------------------------------------------------
    def run_query(
        self,
        state: StateReader,
        block: BlockContext,
        contract_name: str,
        query_name: str,
        arguments: Any,
    ) -> Any:
        """Run a read-only query against ``state``. ``arguments`` is already of the query's
        argument type. Raises ``Rejection`` for unknown names or a refusal."""
        contract = self.find_contract(state, contract_name)
        if contract is None:
            raise Rejection("unknown_contract", f"no contract named {contract_name[:64]!r}")
        spec = contract.methods.get(query_name)
        if spec is None or not spec.read_only:
            raise Rejection(
                "unknown_method", f"contract {contract_name} has no query {query_name[:64]!r}"
            )
        context = Context(
            runtime=self,
            contract=contract.name,
            block=block,
            sender=b"",
            organization="",
            roles=frozenset(),
            transaction_hash=b"",
            overlay=Overlay(state),
            meter=StepMeter(),
            events=[],
            read_only=True,
        )
        return getattr(contract, spec.function_name)(context, arguments)

    def method_spec(self, contract_name: str, method_name: str) -> MethodSpec | None:
        contract = self.contracts.get(contract_name)
        return None if contract is None else contract.methods.get(method_name)


def _check_policy_signer(policy: SigningPolicy, public_key: bytes) -> None:
    """A transaction's signing key against the sender's policy: a revoked key is refused, and so
    is a key that is neither a policy key nor an amount rule's (an approval service's key has no
    weight: it co-signs, it never reaches a threshold alone)."""
    if public_key in policy.revoked:
        raise Rejection("key_revoked", "the signing key was revoked or rotated out")
    rule_keys = {rule.public_key for rule in policy.amount_rules}
    if policy.weight_of(public_key) == 0 and public_key not in rule_keys:
        raise Rejection("foreign_signature", "the signing key is not in the sender's policy")


def signers_weight(policy: SigningPolicy, signers: Sequence[bytes]) -> int:
    """The total weight of the distinct keys of ``signers`` in ``policy``."""
    return sum(policy.weight_of(public_key) for public_key in set(signers))


def _check_threshold(policy: SigningPolicy, signers: Sequence[bytes]) -> None:
    weight = signers_weight(policy, signers)
    if weight < policy.threshold:
        raise Rejection(
            "under_threshold",
            f"the signatures weigh {weight}, under the policy's threshold {policy.threshold}",
            weight=weight,
            threshold=policy.threshold,
        )


def _check_amount_rules(policy: SigningPolicy, signers: Sequence[bytes], arguments: Any) -> None:
    """Every amount rule that the call's ``asset`` and ``amount_minor`` arguments meet names a
    key that must be among ``signers``. Arguments without both fields meet no rule."""
    asset = getattr(arguments, "asset", None)
    amount = getattr(arguments, "amount_minor", None)
    if not isinstance(asset, str) or not isinstance(amount, int) or isinstance(amount, bool):
        return
    for rule in policy.amount_rules:
        if rule.asset == asset and amount >= rule.min_amount and rule.public_key not in signers:
            raise Rejection(
                "approval_required",
                f"{amount} {asset} is at least {rule.min_amount}: the policy requires the "
                "signature of its approval key",
                asset=asset,
                min_amount=rule.min_amount,
            )


def _encode_result(result: object) -> bytes:
    if result is None:
        return b""
    if not isinstance(result, CanonicalStruct | int | str | bytes | bool | tuple):
        raise NodeFault(f"a method returned a {type(result).__name__}, not a canonical value")
    return encode(result)
