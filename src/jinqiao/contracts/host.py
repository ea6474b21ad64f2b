"""A member contract as a contract of the runtime: its manifest, its context, its namespace.

``member_contract`` turns a package (manifest text and source) into a ``Contract`` of
``jinqiao.execution.api`` whose methods run the sandboxed code, so the runtime checks senders,
roles and arguments and keeps each transaction all-or-nothing exactly as for a built-in contract.

The contract sees a ``MemberContext``, not the runtime's ``Context``: the caller, the block, an
event emitter, ``reject``, ``call`` (another contract's declared method, under that contract's
rules) and ``state`` — a ``MemberState`` over the contract's own namespace (``<name>/``) and
nothing else. It has no way to name another contract's state: there is no ``read`` and no
namespace argument, and every key is appended to its own prefix.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn, cast

import msgspec

from jinqiao.contracts import api
from jinqiao.contracts.limits import MAX_ARGUMENTS, MAX_MANIFEST_BYTES, MAX_METHODS
from jinqiao.contracts.meter import POINTER_BYTES, Halt, Meter, Rejected
from jinqiao.contracts.rules import Finding
from jinqiao.contracts.sandbox import ContractRefused, LoadedContract, compile_contract
from jinqiao.core.codec import CanonicalStruct, encode
from jinqiao.core.errors import InvalidInput, Rejection
from jinqiao.core.genesis import IDENTIFIER
from jinqiao.core.limits import (
    MAX_EVENT_ATTRIBUTES,
    MAX_NAME_LENGTH,
    MAX_STATE_KEY_BYTES,
)
from jinqiao.execution.api import CONTRACT_ROLE, Context, Contract, method, query

ARGUMENT_TYPES: dict[str, Any] = {
    "int": int,
    "str": str,
    "bytes": bytes,
    "bool": bool,
    "list[int]": tuple[int, ...],
    "list[str]": tuple[str, ...],
    "list[bytes]": tuple[bytes, ...],
}
"""What a manifest may declare as an argument's type (lists arrive as tuples)."""

MAX_STORED_DEPTH = 8
LIFECYCLE_NAMESPACE = "contracts"
PAUSED_PREFIX = b"paused/"
"""Where ``jinqiao.contracts.lifecycle`` marks a member contract paused by governance."""
RESERVED_METHOD_NAMES = frozenset({"genesis", "name", "methods"})
"""Attributes every runtime contract has: a method so named would replace them."""
MIN_ENCODED_INT = -(2**63)
MAX_ENCODED_INT = 2**64 - 1
"""msgpack's integers: a value outside cannot be encoded into state, an event or a receipt."""
MAX_EVENT_VALUE_BYTES = 1024
MAX_REJECTION_MESSAGE_LENGTH = 256


# -- the manifest ----------------------------------------------------------------------------


@dataclass(frozen=True)
class MethodEntry:
    name: str
    kind: str
    roles: tuple[str, ...]
    arguments: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Manifest:
    name: str
    version: str
    methods: tuple[MethodEntry, ...]
    migration: str = ""
    """A method run once, by the lifecycle, when this version replaces a committed one."""


def parse_manifest(text: str) -> Manifest:
    """``contract.toml``; ``InvalidInput`` (code ``invalid_manifest``) names the problem."""

    def refuse(message: str) -> NoReturn:
        raise InvalidInput(f"manifest: {message}", code="invalid_manifest")

    if len(text.encode()) > MAX_MANIFEST_BYTES:
        refuse(f"over {MAX_MANIFEST_BYTES} bytes")
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        refuse(str(exc))
    name, version, methods = document.get("name"), document.get("version"), document.get("methods")
    known = {"name", "version", "methods", "migration"}
    if set(document) - known:
        refuse(f"unknown keys {sorted(set(document) - known)}")
    if not isinstance(name, str) or not IDENTIFIER.fullmatch(name) or "." in name:
        refuse("name must be an identifier (a-z, 0-9, _ and -)")
    if not isinstance(version, str) or not 0 < len(version) <= MAX_NAME_LENGTH:
        refuse("version must be a string of 1..64 characters")
    if not isinstance(methods, dict) or not 0 < len(methods) <= MAX_METHODS:
        refuse(f"methods must be a table of 1..{MAX_METHODS} methods")
    entries = []
    for method_name, entry in methods.items():
        if not IDENTIFIER.fullmatch(method_name) or not isinstance(entry, dict):
            refuse(f"method {method_name!r}: not an identifier or not a table")
        if method_name in RESERVED_METHOD_NAMES:
            refuse(f"method {method_name!r}: the name is the runtime's (genesis, name, methods)")
        if set(entry) - {"kind", "roles", "args"}:
            refuse(f"method {method_name}: unknown keys")
        kind = entry.get("kind", api.METHOD)
        roles = entry.get("roles", [])
        arguments = entry.get("args", {})
        if kind not in (api.METHOD, api.QUERY):
            refuse(f"method {method_name}: kind is 'method' or 'query'")
        if not isinstance(roles, list) or not all(
            isinstance(role, str) and IDENTIFIER.fullmatch(role) for role in roles
        ):
            refuse(f"method {method_name}: roles must be a list of identifiers")
        if kind == api.QUERY and roles:
            refuse(f"query {method_name}: queries take no roles")
        if not isinstance(arguments, dict) or len(arguments) > MAX_ARGUMENTS:
            refuse(f"method {method_name}: args must be a table of at most {MAX_ARGUMENTS}")
        for argument, kind_name in arguments.items():
            if not argument.isidentifier() or argument.startswith("_"):
                refuse(f"method {method_name}: argument {argument!r} is not a name")
            if kind_name not in ARGUMENT_TYPES:
                refuse(
                    f"method {method_name}.{argument}: type must be one of {list(ARGUMENT_TYPES)}"
                )
        entries.append(
            MethodEntry(method_name, kind, tuple(sorted(roles)), tuple(arguments.items()))
        )
    migration = document.get("migration", "")
    if migration:
        entry = next((entry for entry in entries if entry.name == migration), None)
        if (
            entry is None
            or entry.kind != api.METHOD
            or entry.arguments
            or entry.roles != (CONTRACT_ROLE,)
        ):
            refuse(
                f"migration {migration!r} must be a method without arguments whose roles are "
                f'exactly ["{CONTRACT_ROLE}"] (the lifecycle calls it)'
            )
    return Manifest(name, version, tuple(entries), migration)


def manifest_findings(manifest: Manifest, loaded: LoadedContract) -> list[Finding]:
    """Rule JQ200: the manifest lists exactly what the code declares, kind and roles alike."""
    findings = []
    listed = {entry.name: entry for entry in manifest.methods}
    for name, declared in sorted(loaded.declared.items()):
        line = declared.function.__code__.co_firstlineno
        entry = listed.get(name)
        if entry is None:
            findings.append(Finding(line, "JQ200", f"{name} is declared but not in the manifest"))
        elif entry.kind != declared.kind or entry.roles != declared.roles:
            findings.append(
                Finding(
                    line,
                    "JQ200",
                    f"{name}: the code says {declared.kind} roles {list(declared.roles)}, "
                    f"the manifest {entry.kind} roles {list(entry.roles)}",
                )
            )
    for name in sorted(set(listed) - set(loaded.declared)):
        findings.append(
            Finding(0, "JQ200", f"{name} is in the manifest but not in the code", "contract.toml")
        )
    return findings


# -- what the contract sees ------------------------------------------------------------------


def public_attributes(target: object) -> frozenset[str] | None:
    """The sandbox's allow-list for the objects this module hands to a contract."""
    if isinstance(target, MemberContext | MemberState):
        return target.public
    if isinstance(target, api.Contract):
        return frozenset(name for name in vars(type(target)) if not name.startswith("_"))
    return None


class MemberState:
    """The contract's own namespace. Keys are bytes of at most ``MAX_STATE_KEY_BYTES``; values
    are bytes (``get``/``set``) or canonical values — integers, strings, bytes, booleans and
    lists and string-keyed dicts of them (``load``/``save``). A refusal here (a bad key, the
    runtime's limits) halts the call: the contract cannot catch it and carry on."""

    public = frozenset({"get", "set", "delete", "load", "save"})
    __slots__ = ("_meter", "_state", "_writable")

    def __init__(self, context: Context, meter: Meter, writable: bool) -> None:
        self._state = context.state
        self._meter = meter
        self._writable = writable

    def _halt(self, code: str, message: str) -> Halt:
        return self._meter.fail(Rejected(code, message))

    def _key(self, key: object) -> bytes:
        if type(key) is not bytes or not 0 < len(key) <= MAX_STATE_KEY_BYTES:
            raise self._halt("invalid_state_key", f"state keys are 1..{MAX_STATE_KEY_BYTES} bytes")
        return key

    def _check_writable(self) -> None:
        if not self._writable:
            raise self._halt("read_only", "a query cannot change state")

    def get(self, key: bytes) -> bytes | None:
        try:
            value = self._state.get(self._key(key))
        except Rejection as rejection:
            raise self._halt(rejection.code, rejection.message) from None
        if value is not None:
            self._meter.allocate(len(value))
        return value

    def set(self, key: bytes, value: bytes) -> None:
        self._check_writable()
        if type(value) is not bytes:
            raise self._halt("invalid_state_value", "set() stores bytes; use save() for values")
        try:
            self._state.set(self._key(key), value)
        except Rejection as rejection:
            raise self._halt(rejection.code, rejection.message) from None

    def delete(self, key: bytes) -> None:
        self._check_writable()
        try:
            self._state.delete(self._key(key))
        except Rejection as rejection:
            raise self._halt(rejection.code, rejection.message) from None

    def load(self, key: bytes) -> Any:
        raw = self.get(key)
        if raw is None:
            return None
        self._meter.allocate(POINTER_BYTES * len(raw))
        return msgspec.msgpack.decode(raw)

    def save(self, key: bytes, value: Any) -> None:
        self._meter.scan(value)
        problem = canonical_problem(value, 0)
        if problem is not None:
            raise self._halt("invalid_state_value", problem)
        self.set(key, msgspec.msgpack.encode(value))


def canonical_problem(value: Any, depth: int) -> str | None:
    """Why ``value`` cannot be stored or returned, or ``None``: integers within msgpack's range,
    strings, bytes, booleans, ``None``, and lists, tuples and string-keyed dicts of them."""
    kind = type(value)
    if depth > MAX_STORED_DEPTH:
        return f"values nest at most {MAX_STORED_DEPTH} deep"
    if kind is int:
        return None if MIN_ENCODED_INT <= value <= MAX_ENCODED_INT else "an integer over 64 bits"
    if kind in (str, bytes, bool) or value is None:
        return None
    if kind in (list, tuple):
        for item in value:
            problem = canonical_problem(item, depth + 1)
            if problem is not None:
                return problem
        return None
    if kind is dict:
        for dict_key, item in value.items():
            problem = "dicts have string keys" if type(dict_key) is not str else None
            problem = problem or canonical_problem(item, depth + 1)
            if problem is not None:
                return problem
        return None
    return f"a {kind.__name__} is not a canonical value"


@functools.lru_cache(maxsize=1024)
def is_event_name(name: str) -> bool:
    """An identifier (any case). Remembered: a contract emits the same few names every call
    (the caller checks the length first, so the cache holds short names only)."""
    return IDENTIFIER.fullmatch(name.lower()) is not None


class MemberContext:
    """What a member contract's method is given as ``ctx``."""

    public = frozenset(
        {
            "sender", "organization", "roles", "height", "time_ms", "chain_id",
            "transaction_hash", "contract", "address", "state", "emit", "reject", "call",
        }
    )  # fmt: skip

    __slots__ = (
        "_context", "_meter", "_writable", "chain_id", "contract", "height", "organization",
        "sender", "state", "time_ms", "transaction_hash",
    )  # fmt: skip

    @property
    def address(self) -> bytes:
        """The address this contract acts as: the token's holder of its CNY (a payer funds it
        with ``transfer`` to it, or an allowance it pulls with ``transfer_from``) and the
        sender of its calls (``call``: ``transfer`` pays out of its own balance only)."""
        return self._context.contract_address(self.contract)

    def __init__(self, context: Context, meter: Meter, writable: bool) -> None:
        self._context = context
        self._meter = meter
        self.contract = context.contract
        self.sender = context.sender
        self.organization = context.organization
        self.height = context.height
        self.time_ms = context.time_ms
        self.chain_id = context.chain_id
        self.transaction_hash = context.transaction_hash
        self.state = MemberState(context, meter, writable)
        self._writable = writable

    @property
    def roles(self) -> tuple[str, ...]:
        """The sender's roles, sorted (built when asked: most methods never look)."""
        return tuple(sorted(self._context.roles))

    def _halt(self, code: str, message: str) -> Halt:
        return self._meter.fail(Rejected(code, message))

    def emit(self, name: str, /, **attributes: Any) -> None:
        if not self._writable:
            raise self._halt("read_only", "a query cannot emit events")
        if type(name) is not str or len(name) > MAX_NAME_LENGTH or not is_event_name(name):
            raise self._halt("invalid_event", "an event name is an identifier")
        if len(attributes) > MAX_EVENT_ATTRIBUTES:
            raise self._halt("invalid_event", f"at most {MAX_EVENT_ATTRIBUTES} attributes")
        for value in attributes.values():
            kind = type(value)
            if (
                kind not in (int, str, bool, bytes)
                or (kind is int and not MIN_ENCODED_INT <= value <= MAX_ENCODED_INT)
                or (kind is not int and len(value) > MAX_EVENT_VALUE_BYTES)
            ):
                raise self._halt(
                    "invalid_event",
                    f"event values are int (64 bits), str, bool or bytes of at most "
                    f"{MAX_EVENT_VALUE_BYTES}",
                )
        try:
            self._context.emit(name, **attributes)
        except Rejection as rejection:
            raise self._halt(rejection.code, rejection.message) from None

    def call(self, contract: str, method_name: str, /, **arguments: Any) -> Any:
        """Call another contract's declared method as this contract (sender: this contract's
        address ``ctx.address``, role ``contract``), arguments by name — the token's
        ``transfer`` to pay out of the contract's own CNY, ``transfer_from`` to pull an
        allowance a payer gave it. The callee's own rules decide: an
        unknown method, a method that does not accept contracts, or arguments of the wrong type
        halt this call with the callee's rejection (``unknown_method``, ``unauthorized``,
        ``invalid_arguments``); its result comes back decoded."""
        if not self._writable:
            raise self._halt("read_only", "a query cannot call a method")
        if type(contract) is not str or type(method_name) is not str:
            raise self._halt("unknown_contract", "contract and method are names")
        kind = self._context.argument_type(contract, method_name)
        if kind is None:
            raise self._halt("unknown_method", f"{contract[:64]} has no method {method_name[:64]}")
        try:
            arguments_bytes = encode(kind(**arguments))
        except TypeError:
            raise self._halt("invalid_arguments", f"the arguments of {method_name}") from None
        except (msgspec.EncodeError, OverflowError):
            raise self._halt("invalid_arguments", f"the arguments of {method_name}") from None
        try:
            self._context.check_call(contract, method_name, arguments_bytes)
            result = self._context.call_encoded(contract, method_name, arguments_bytes)
        except Rejection as rejection:
            raise self._halt(rejection.code, rejection.message) from None
        if not result:
            return None
        self._meter.allocate(POINTER_BYTES * len(result))
        return msgspec.msgpack.decode(result)

    def reject(self, code: str, message: str = "") -> NoReturn:
        if type(code) is not str or not IDENTIFIER.fullmatch(code) or type(message) is not str:
            raise self._halt("invalid_rejection", "a rejection code is an identifier")
        raise self._halt(code, message[:MAX_REJECTION_MESSAGE_LENGTH])


# -- the runtime's view ----------------------------------------------------------------------


def argument_type(contract: str, entry: MethodEntry) -> type[CanonicalStruct]:
    fields = [(name, ARGUMENT_TYPES[kind]) for name, kind in entry.arguments]
    created = msgspec.defstruct(
        f"{contract}.{entry.name}",
        fields,
        bases=(CanonicalStruct,),
        frozen=True,
        array_like=True,
        forbid_unknown_fields=True,
    )
    return cast(type[CanonicalStruct], created)


def run_member_method(
    loaded: LoadedContract, name: str, context: Context, arguments: object, writable: bool
) -> tuple[Any, Meter]:
    """Call ``name`` in the sandbox; a budget running out, a rejection or an exception of the
    contract's code becomes a ``Rejection`` (``out_of_steps``, ``out_of_memory``,
    ``recursion_too_deep``, the contract's own code, ``contract_error``), so the runtime drops
    the transaction's writes. The sandbox's steps are added to the receipt's ``steps_used``."""
    meter = Meter()
    member = MemberContext(context, meter, writable)
    try:
        result = loaded.call(name, member, arguments, meter)
    except Halt as halt:
        raise Rejection(
            halt.code, halt.message, steps=meter.steps, memory_bytes=meter.memory_bytes
        ) from None
    except Exception as exc:
        raise Rejection(
            "contract_error", f"{context.contract}.{name} raised {type(exc).__name__}"
        ) from None
    finally:
        context.record_steps(min(meter.steps, meter.step_limit + 1))
    if type(result) is list:
        result = tuple(result)
    problem = canonical_problem(result, 0)
    if problem is not None or type(result) is dict:
        raise Rejection(
            "contract_error",
            f"{context.contract}.{name} returned {problem or 'a dict'}; a result is an integer, "
            "string, bytes, boolean or list",
        )
    return result, meter


def member_contract(
    manifest_text: str, source: str, filename: str = "contract.py", *, metered: bool = True
) -> Contract:
    """The runtime contract for a package. ``InvalidInput`` if the manifest is malformed,
    ``ContractRefused`` if the source or the manifest's match with it has findings.
    (``metered=False``: for measuring the metering's cost only, see ``compile_contract``.)"""
    manifest = parse_manifest(manifest_text)
    loaded = LoadedContract(
        compile_contract(source, filename, metered=metered),
        public_attributes,
        manifest.name,
        metered=metered,
    )
    findings = manifest_findings(manifest, loaded)
    if findings:
        raise ContractRefused(findings, filename)
    namespace: dict[str, Any] = {"name": manifest.name}
    for entry in manifest.methods:
        namespace[entry.name] = host_function(
            loaded, manifest.name, entry, entry.name == manifest.migration
        )
    created = type(f"Member_{manifest.name}", (Contract,), namespace)
    instance: Contract = created()
    return instance


def host_function(
    loaded: LoadedContract, contract: str, entry: MethodEntry, migration: bool
) -> Callable[..., Any]:
    writable = entry.kind == api.METHOD
    paused_key = PAUSED_PREFIX + contract.encode()

    def run(self: Contract, context: Context, arguments: object) -> Any:
        if migration and context.sender != context.contract_address(LIFECYCLE_NAMESPACE):
            raise Rejection("unauthorized", f"{contract}.{entry.name} is run by the lifecycle only")
        if writable and context.read(LIFECYCLE_NAMESPACE, paused_key, bool):
            raise Rejection("contract_paused", f"governance has paused {contract}")
        return run_member_method(loaded, entry.name, context, arguments, writable)[0]

    run.__name__ = entry.name
    kind = argument_type(contract, entry)
    return method(kind, roles=entry.roles)(run) if writable else query(kind)(run)
