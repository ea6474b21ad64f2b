"""How a contract is declared and what it sees.

    class Token(Contract):
        name = "token"

        @method(TransferArgs)
        def transfer(self, ctx: Context, args: TransferArgs) -> None:
            ...
            ctx.emit("Transfer", sender=..., recipient=..., amount_minor=args.amount_minor)

        @query(BalanceArgs)
        def balance(self, ctx: Context, args: BalanceArgs) -> Balance: ...

A method completes (its optional return value, a struct, is encoded into the receipt) or raises
``Rejection`` via ``ctx.reject``. Contract objects hold no state of their own: everything lives in
``ctx.state``, the contract's namespace of the authenticated state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn, TypeVar

from jinqiao.core.codec import CanonicalStruct, decode, encode
from jinqiao.core.errors import DecodeError, NodeFault, Rejection
from jinqiao.core.genesis import ChainParameters, Genesis
from jinqiao.core.limits import (
    MAX_AMOUNT_MINOR,
    MAX_EVENT_ATTRIBUTES,
    MAX_EVENTS_PER_TRANSACTION,
    MAX_NAME_LENGTH,
)
from jinqiao.core.types import Event, EventValue
from jinqiao.execution.identity import (
    GOVERNANCE,
    PARAMETERS_KEY,
    REGISTRY,
    Account,
    Organization,
    account_key,
    organization_key,
)
from jinqiao.execution.state import ContractState, Overlay, StepMeter

if TYPE_CHECKING:
    from jinqiao.core.crypto import CryptoSuite
    from jinqiao.execution.runtime import Runtime

CONTRACT_ROLE = "contract"
"""The one role a contract holds when it calls another contract (``Context.call``); a method that
declares roles must list it to accept such calls."""

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

SPEC_ATTRIBUTE = "_jinqiao_spec"


@dataclass(frozen=True)
class MethodSpec:
    name: str
    args_type: type[Any]
    roles: frozenset[str]
    read_only: bool
    function_name: str


def method(args_type: type[Any], *, roles: Iterable[str] = ()) -> Callable[[F], F]:
    """Declare a state-changing method taking ``args_type``. If ``roles`` is given, the sender
    must hold at least one of them (else the transaction is rejected ``unauthorized``)."""

    def mark(function: F) -> F:
        setattr(function, SPEC_ATTRIBUTE, (args_type, frozenset(roles), False))
        return function

    return mark


def query(args_type: type[Any]) -> Callable[[F], F]:
    """Declare a read-only query. Queries run against committed state, never in a block."""

    def mark(function: F) -> F:
        setattr(function, SPEC_ATTRIBUTE, (args_type, frozenset(), True))
        return function

    return mark


class Contract:
    """Base class of every contract. Subclasses set ``name`` and declare methods."""

    name: ClassVar[str] = ""
    methods: ClassVar[dict[str, MethodSpec]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        collected: dict[str, MethodSpec] = {}
        for base in reversed(cls.__mro__):
            for attribute, value in vars(base).items():
                marker = getattr(value, SPEC_ATTRIBUTE, None)
                if marker is not None:
                    args_type, roles, read_only = marker
                    collected[attribute] = MethodSpec(
                        attribute, args_type, roles, read_only, attribute
                    )
        cls.methods = collected

    def genesis(self, ctx: GenesisContext, config: Mapping[str, Any]) -> None:
        """Write the contract's initial state from genesis. ``config`` is
        ``genesis.contracts.get(name, {})``. Default: nothing."""


@dataclass(frozen=True)
class BlockContext:
    chain_id: str
    height: int
    time_ms: int
    proposer: bytes


def contract_address(suite_hash: Callable[[bytes], bytes], contract: str) -> bytes:
    """The address a contract acts as when it calls another contract."""
    return suite_hash(b"jinqiao/contract/v1\x00" + contract.encode())[:20]


class Context:
    """What a method sees: who is calling, the block, its own state, an event emitter."""

    def __init__(
        self,
        *,
        runtime: Runtime,
        contract: str,
        block: BlockContext,
        sender: bytes,
        organization: str,
        roles: frozenset[str],
        transaction_hash: bytes,
        overlay: Overlay,
        meter: StepMeter,
        events: list[Event],
        read_only: bool = False,
        signing_key: bytes = b"",
    ) -> None:
        self._runtime = runtime
        self.signing_key = signing_key
        """The public key that signed the transaction (``body.public_key``, the first signer of a
        multi-signed one); empty in a call by a contract and in a query."""
        self.contract = contract
        self.block = block
        self.chain_id = block.chain_id
        self.height = block.height
        self.time_ms = block.time_ms
        self.sender = sender
        self.organization = organization
        self.roles = roles
        self.transaction_hash = transaction_hash
        self._overlay = overlay
        self._meter = meter
        self._events = events
        self._read_only = read_only
        self.state = ContractState(contract, overlay, meter, writable=not read_only)

    # -- who is calling -------------------------------------------------------------------
    def reject(self, code: str, message: str, **details: Any) -> NoReturn:
        raise Rejection(code, message, **details)

    # -- other contracts' state, read only -----------------------------------------------
    def read(self, contract: str, key: bytes, kind: type[T]) -> T | None:
        return ContractState(contract, self._overlay, self._meter, writable=False).load(key, kind)

    def account(self, address: bytes) -> Account | None:
        return self.read(REGISTRY, account_key(address), Account)

    def organization_record(self, organization_id: str) -> Organization | None:
        return self.read(REGISTRY, organization_key(organization_id), Organization)

    def parameters(self) -> ChainParameters:
        parameters = self.read(GOVERNANCE, PARAMETERS_KEY, ChainParameters)
        if parameters is None:
            raise NodeFault("chain parameters missing from state")
        return parameters

    # -- effects -------------------------------------------------------------------------
    def emit(self, name: str, /, **attributes: EventValue | bytes) -> None:
        """Record an event. Byte values are shown as hex; attributes are sorted by key."""
        if self._read_only:
            raise NodeFault("a query tried to emit an event")
        if len(self._events) >= MAX_EVENTS_PER_TRANSACTION:
            self.reject("too_many_events", f"more than {MAX_EVENTS_PER_TRANSACTION} events")
        if len(attributes) > MAX_EVENT_ATTRIBUTES or len(name) > MAX_NAME_LENGTH:
            raise NodeFault(f"event {name!r} is over the attribute or name limit")
        self._meter.charge()
        pairs = tuple(
            sorted(
                (key, value.hex() if isinstance(value, bytes) else value)
                for key, value in attributes.items()
            )
        )
        self._events.append(Event(self.contract, name, pairs))

    def call(self, contract: str, method_name: str, args: CanonicalStruct) -> bytes:
        """Call another contract's method as this contract (sender = this contract's address,
        role ``contract``). Its writes and events join this transaction's."""
        return self.call_encoded(contract, method_name, encode(args))

    def call_encoded(self, contract: str, method_name: str, args: bytes) -> bytes:
        """``call`` with the arguments already canonically encoded (a governance proposal holds
        them as bytes)."""
        return self._runtime.call_from_contract(self, contract, method_name, args)

    def call_approved(
        self,
        account: bytes,
        contract: str,
        method_name: str,
        args: bytes,
        signers: tuple[bytes, ...],
    ) -> bytes | None:
        """The registry's pending approvals only: run ``contract.method_name(args)`` as
        ``account`` when the keys in ``signers`` satisfy the account's current signing policy
        (threshold and amount rules). Returns the encoded result, or ``None`` (nothing run) when
        they do not yet. Raises the call's rejection."""
        if self.contract != "registry":
            raise NodeFault(f"{self.contract} may not call as an account")
        return self._runtime.call_approved(self, account, contract, method_name, args, signers)

    def record_steps(self, steps: int) -> None:
        """Add the steps a member contract's sandbox counted (``jinqiao.contracts``) to the
        transaction's ``steps_used``. The sandbox enforces its own budget (``out_of_steps``), so
        this records without a limit check; the state-operation limit still applies to every
        state operation made after it."""
        if steps < 0:
            raise NodeFault("negative steps")
        self._meter.used += steps

    # -- the network's contracts and crypto, read only ---------------------------------------
    @property
    def suite(self) -> CryptoSuite:
        """The network's crypto suite (for checking keys and signatures a method is given)."""
        return self._runtime.suite

    def contract_address(self, contract: str) -> bytes:
        """The address ``contract`` acts as when it calls another contract or holds a balance."""
        return contract_address(self._runtime.suite.hash, contract)

    def is_contract(self, address: bytes) -> bool:
        """Whether ``address`` is the address of one of the network's contracts."""
        return address in self._runtime.contract_addresses

    def is_member_contract(self, address: bytes) -> bool:
        """Whether ``address`` is the address of a member's contract committed through the
        lifecycle (``jinqiao.contracts.lifecycle``): one state read, charged. Such a contract
        may hold a balance, as a built-in one may (``is_contract``)."""
        self._meter.charge()
        return self._runtime.is_member_address(self._overlay, address)

    def argument_type(self, contract: str, method_name: str) -> type[Any] | None:
        """The argument struct of the method ``contract.method_name`` (built in, or a member's
        committed contract), or ``None`` if there is no such method (a query is not one): for a
        caller that has the arguments by name (a member contract's ``ctx.call``)."""
        found = self._runtime.find_contract(self._overlay, contract)
        spec = None if found is None else found.methods.get(method_name)
        return None if spec is None or spec.read_only else spec.args_type

    def check_call(self, contract: str, method_name: str, args: bytes) -> None:
        """Reject, as ``call_encoded`` would, unless a contract may call ``contract.method_name``
        with ``args``: ``unknown_contract``, ``unknown_method`` (or a query), ``unauthorized``
        (the method does not accept the ``contract`` role), ``invalid_arguments``. For checking
        a call that will be made later (a governance proposal) when it is submitted."""
        self._runtime.check_contract_call(contract, method_name, args, self._overlay)


def check_amount(ctx: Context, amount_minor: int, *, allow_zero: bool) -> None:
    """An amount argument: a whole number of minor units in 0..MAX_AMOUNT_MINOR (``allow_zero``,
    e.g. a token transfer or an allowance reset) or 1..MAX_AMOUNT_MINOR (e.g. a payment); else
    the rejection ``invalid_amount``."""
    lowest = 0 if allow_zero else 1
    if not lowest <= amount_minor <= MAX_AMOUNT_MINOR:
        ctx.reject(
            "invalid_amount",
            f"amounts are integers in {lowest}..{MAX_AMOUNT_MINOR}",
            amount_minor=amount_minor,
        )


def check_bound(ctx: Context, total_minor: int, what: str) -> None:
    """A running total (a supply, a balance, a cycle's obligations) stays within
    MAX_AMOUNT_MINOR; else the rejection ``amount_overflow`` naming ``what``."""
    if total_minor > MAX_AMOUNT_MINOR:
        ctx.reject("amount_overflow", f"the {what} would exceed {MAX_AMOUNT_MINOR}", what=what)


class GenesisContext:
    """What a contract's ``genesis`` hook sees: the genesis document and its own state."""

    def __init__(self, genesis: Genesis, state: ContractState, overlay: Overlay) -> None:
        self.genesis = genesis
        self.state = state
        self._overlay = overlay


def decode_arguments(spec: MethodSpec, raw: bytes, max_bytes: int) -> Any:
    """The method's argument struct, or the rejection ``invalid_arguments``.

    The rejection's message is fixed text: receipts are hashed, so a message that quoted the
    decoder's own words would make validators on different library versions disagree. The
    decoder's explanation goes to ``details`` (shown by the API at admission, never hashed)."""
    try:
        return decode(raw, spec.args_type, max_bytes=max_bytes)
    except DecodeError as exc:
        raise Rejection(
            "invalid_arguments",
            f"the arguments of {spec.name} are not a canonical {spec.args_type.__name__}",
            method=spec.name,
            reason=exc.message,
        ) from None
