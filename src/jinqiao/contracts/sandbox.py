"""Compile a reviewed contract with metering and run its methods with restricted builtins.

``compile_contract`` refuses any source with a review finding (``jinqiao.contracts.rules``), then
transforms it twice: RestrictedPython's transformer routes attribute and item access, iteration,
unpacking and augmented assignment through guard functions; ``Instrumenter`` adds a step at
every function entry and at the top of every ``for`` and ``while`` body (comprehensions and
unpacking step through the metered ``_getiter_``), sizes comparison operands, keeps a depth
count, and routes ``+``, ``*``, ``**``, ``<<``, f-strings and ``*unpacking`` through
``jinqiao.contracts.meter.Operations``, which size the result first.

At run time the contract sees only: the builtins in ``Guards.builtins`` (several wrapped so that
they iterate through the meter and size what they build), attribute access through an allow-list
per type (``Guards.getattr``), the three names of ``jinqiao.contracts.api``, two hash functions,
and the context it is called with (``jinqiao.contracts.host``). One ``Guards`` serves one
compiled contract; each call charges its own ``Meter`` (``meter.CURRENT_METER``), so calls on
different threads — a query on an API thread while a block executes — do not mix their counts.
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import CodeType, FunctionType, MethodType, SimpleNamespace
from typing import Any

from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence
from RestrictedPython.transformer import RestrictingNodeTransformer

from jinqiao.contracts import api
from jinqiao.contracts.meter import (
    CURRENT_METER,
    POINTER_BYTES,
    STR_CHARACTER_BYTES,
    Halt,
    Meter,
    Operations,
    OutOfMemory,
    TooDeep,
    is_integer,
    metering,
    size_of,
)
from jinqiao.contracts.rules import (
    API_MODULE,
    AST_LOCK,
    INTROSPECTION_ATTRIBUTES,
    Finding,
    review_source,
)
from jinqiao.core.codec import CanonicalStruct
from jinqiao.core.errors import InvalidInput

MAX_INT_TEXT_DIGITS = 1300
"""``int(text)`` refuses longer text itself, rather than relying on the interpreter's limit, which
an environment variable can change from node to node."""


class ContractRefused(InvalidInput):
    """The source is outside the deterministic subset; ``findings`` says where and why."""

    code = "contract_refused"

    def __init__(self, findings: list[Finding], filename: str) -> None:
        super().__init__(
            f"{filename}: {len(findings)} findings",
            findings=[finding.describe(filename) for finding in findings],
        )
        self.findings = findings


class AccessRefused(Exception):
    """An attribute, write or call that the sandbox does not allow."""


# -- instrumentation -------------------------------------------------------------------------

OPERATORS: dict[type[ast.operator], str] = {
    ast.Add: "_jq_add",
    ast.Mult: "_jq_multiply",
    ast.Pow: "_jq_power",
    ast.LShift: "_jq_left_shift",
    ast.Mod: "_jq_modulo",
}


IN_PLACE_OPERATORS: dict[object, str] = {
    "+=": "_jq_add",
    "*=": "_jq_multiply",
    "**=": "_jq_power",
    "<<=": "_jq_left_shift",
    "%=": "_jq_modulo",
}
"""The in-place operators whose sized function ``Operations.in_place`` would call."""


def call(name: str, *arguments: ast.expr) -> ast.Call:
    return ast.Call(func=ast.Name(name, ast.Load()), args=list(arguments), keywords=[])


class Instrumenter(ast.NodeTransformer):
    """Steps, depth and sized operations (the module docstring). Runs after RestrictedPython's
    transformer, so the names it adds (``_jq_...``) are out of the contract's reach: the review
    refuses every name that starts with ``_``."""

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        self.generic_visit(node)
        guarded = ast.Try(
            body=node.body,
            handlers=[],
            orelse=[],
            finalbody=[ast.Expr(call("_jq_leave"))],
        )
        node.body = [ast.Expr(call("_jq_enter")), guarded]
        return node

    def visit_While(self, node: ast.While) -> ast.While:
        self.generic_visit(node)
        node.body.insert(0, ast.Expr(call("_jq_step")))
        return node

    def visit_For(self, node: ast.For) -> ast.For:
        """A step at the top of the body instead of the metered ``_getiter_`` that
        RestrictedPython put around the iterable: the same count, one call an iteration less.
        (Tuple targets keep RestrictedPython's guarded unpacking, which steps itself.)"""
        self.generic_visit(node)
        iterable = node.iter
        if (
            isinstance(iterable, ast.Call)
            and isinstance(iterable.func, ast.Name)
            and iterable.func.id == "_getiter_"
        ):
            node.iter = iterable.args[0]
            node.body.insert(0, ast.Expr(call("_jq_step")))
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.expr:
        self.generic_visit(node)
        guard = OPERATORS.get(type(node.op))
        if guard is None:
            return node
        return ast.copy_location(call(guard, node.left, node.right), node)

    def visit_Call(self, node: ast.Call) -> ast.expr:
        """``x += y`` on a name, which RestrictedPython made ``_inplacevar_('+=', x, y)``: the
        sized operator's function called directly (``Operations.in_place`` would dispatch to the
        same one), a call less per iteration of a summing loop."""
        self.generic_visit(node)
        function, arguments = node.func, node.args
        if (
            isinstance(function, ast.Name)
            and function.id == "_inplacevar_"
            and len(arguments) == 3
            and isinstance(arguments[0], ast.Constant)
            and arguments[0].value in IN_PLACE_OPERATORS
        ):
            guard = IN_PLACE_OPERATORS[arguments[0].value]
            return ast.copy_location(call(guard, arguments[1], arguments[2]), node)
        return node

    def visit_JoinedStr(self, node: ast.JoinedStr) -> ast.expr:
        self.generic_visit(node)
        parts: list[ast.expr] = []
        for part in node.values:
            if isinstance(part, ast.FormattedValue):
                parts.append(call("_jq_format", part.value))
            else:
                parts.append(part)
        return ast.copy_location(call("_jq_concatenate", ast.Tuple(parts, ast.Load())), node)

    def visit_Compare(self, node: ast.Compare) -> ast.Compare:
        """Each operand through ``_jq_sized``: comparing or searching a big value is charged
        by its size. Evaluation order and chaining are unchanged."""
        self.generic_visit(node)
        node.left = call("_jq_sized", node.left)
        node.comparators = [call("_jq_sized", operand) for operand in node.comparators]
        return node

    def visit_Starred(self, node: ast.Starred) -> ast.Starred:
        self.generic_visit(node)
        if isinstance(node.ctx, ast.Load):
            node.value = call("_jq_unpack", node.value)
        return node


# -- guards ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Allowed:
    """Attributes allowed on one type; those in ``wrapped`` are replaced by a guarded version,
    those in ``scanning`` charge a step per KiB of the object when called."""

    names: frozenset[str]
    wrapped: frozenset[str] = frozenset()
    scanning: frozenset[str] = frozenset()


STR_METHODS = frozenset(
    {
        "startswith", "endswith", "find", "rfind", "index", "rindex", "count", "lower",
        "upper", "strip", "lstrip", "rstrip", "split", "rsplit", "isdigit", "isalpha",
        "isalnum", "isspace", "islower", "isupper", "encode", "partition", "rpartition",
        "removeprefix", "removesuffix", "join", "replace",
    }
)  # fmt: skip
BYTES_METHODS = frozenset(
    {
        "startswith", "endswith", "find", "index", "count", "hex", "decode", "split",
        "strip", "join", "replace", "removeprefix", "removesuffix",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES: dict[type, Allowed] = {
    str: Allowed(STR_METHODS, frozenset({"join", "replace"}), STR_METHODS),
    bytes: Allowed(BYTES_METHODS, frozenset({"join", "replace", "hex"}), BYTES_METHODS),
    int: Allowed(frozenset({"bit_length", "to_bytes"}), frozenset({"to_bytes"})),
    bool: Allowed(frozenset({"bit_length"})),
    list: Allowed(
        frozenset(
            {"append", "extend", "insert", "pop", "remove", "index", "count", "sort"}
            | {"reverse", "copy", "clear"}
        ),
        frozenset({"extend", "copy", "sort"}),
        frozenset({"insert", "pop", "remove", "index", "count", "reverse"}),
    ),
    tuple: Allowed(frozenset({"index", "count"}), scanning=frozenset({"index", "count"})),
    dict: Allowed(
        frozenset({"get", "keys", "values", "items", "pop", "setdefault", "update", "copy"})
        | {"clear"},
        frozenset({"update", "copy", "keys", "values", "items"}),
    ),
}
TYPE_ATTRIBUTES: dict[type, frozenset[str]] = {
    int: frozenset({"from_bytes"}),
    bytes: frozenset({"fromhex"}),
}
CODECS = frozenset({"utf-8", "utf8", "ascii"})
PRODUCING = frozenset(
    {
        "lower", "upper", "strip", "lstrip", "rstrip", "split", "rsplit", "encode", "decode",
        "partition", "rpartition", "removeprefix", "removesuffix",
    }
)  # fmt: skip
"""String and bytes methods that build a value the size of their object (``scanning``)."""
HASH_METHODS = frozenset({"digest", "hexdigest", "update"})
HASH_TYPES = (type(hashlib.sha256()), type(hashlib.sha3_256()))
EXCEPTION_ATTRIBUTES = frozenset({"args"})
PER_OBJECT = (type, SimpleNamespace, FunctionType, MethodType)
"""Types whose allowed attributes depend on the object (which type, module or builtin)."""
UNCACHED = Allowed(frozenset())


class Guards(Operations):
    """The functions a compiled contract's globals hold. See the module docstring."""

    def __init__(
        self, public: Callable[[object], frozenset[str] | None], *, metered: bool = True
    ) -> None:
        super().__init__()
        self.public = public
        self.metered = metered
        self.allowed_by_type: dict[type, Allowed | None] = {}
        """What ``allowed_names`` said for each type whose answer depends on the type alone."""
        self.plain_by_type: dict[type, frozenset[str]] = {}
        """Of those, the names ``getattr`` hands out unchanged (the fast path)."""
        self.builtins = self.make_builtins()
        self.builtin_types: dict[Any, type] = {
            self.builtins[kind.__name__]: kind for kind in (int, str, bytes, list, tuple, dict)
        }
        self.modules = {
            API_MODULE: SimpleNamespace(Contract=api.Contract, method=api.method, query=api.query),
            "__future__": SimpleNamespace(annotations=None),
            "hashlib": SimpleNamespace(
                sha256=self.hashing(hashlib.sha256), sha3_256=self.hashing(hashlib.sha3_256)
            ),
        }

    # -- attribute, item and write guards --------------------------------------------------
    def getattr(self, target: Any, name: str, *default: Any) -> Any:
        # The fast path: a name this type allows as it is (neither wrapped nor scanning),
        # remembered by ``plain_attributes`` the first time the slow path allowed it. Every
        # ``ctx.state``, ``args.amount_minor`` goes through here; the checks below ran for the
        # first access of each (type, name) and their answer depends on nothing else.
        plain = self.plain_by_type.get(type(target))
        if plain is not None and type(name) is str and name in plain:
            return getattr(target, name)
        if type(name) is not str or name.startswith("_") or name in INTROSPECTION_ATTRIBUTES:
            raise AccessRefused(f"attribute {name!r} is not available to contracts")
        kind = type(target)
        allowed = self.allowed_by_type.get(kind, UNCACHED)
        if allowed is UNCACHED:
            if isinstance(target, MethodType | FunctionType):
                # ``int.from_bytes``: the builtin ``int`` is a wrapper standing for the type.
                target = self.builtin_types.get(target, target)
            allowed = self.allowed_names(target)
            if kind not in PER_OBJECT:
                self.allowed_by_type[kind] = allowed
                if allowed is not None:
                    self.plain_by_type[kind] = frozenset(
                        plain_name
                        for plain_name in allowed.names - allowed.wrapped - allowed.scanning
                        if not plain_name.startswith("_")
                        and plain_name not in INTROSPECTION_ATTRIBUTES
                    )
        if allowed is None or name not in allowed.names:
            if default:
                return default[0]
            raise AccessRefused(f"{type(target).__name__}.{name} is not available to contracts")
        if name in allowed.wrapped:
            return getattr(self, f"wrapped_{type(target).__name__}_{name}")(target)
        if name in allowed.scanning:
            return self.scanning(target, name)
        return getattr(target, name)

    def scanning(self, target: Any, name: str) -> Callable[..., Any]:
        """A method that reads its object whole (``str.find``, ``list.index`` ...): a step per
        KiB of the object and of each argument when called. A string or bytes method that builds
        a value is also charged a copy of its object (``upper``, ``strip`` ...), ``split`` a
        list of as many parts as it has characters, ``encode``/``decode`` twice; only UTF-8 and
        ASCII are known (a codec name could load any codec module). Searching (``find``,
        ``count``) is charged steps only."""
        bound = getattr(target, name)
        text = type(target) is str or type(target) is bytes
        size = size_of(target) if text and name in PRODUCING else 0
        if name in ("split", "rsplit"):
            size += POINTER_BYTES * (len(target) + 1)
        elif name in ("encode", "decode"):
            size *= 2

        def scanned(*arguments: Any, **keywords: Any) -> Any:
            if name in ("encode", "decode"):
                codec = arguments[0] if arguments else keywords.get("encoding", "utf-8")
                if codec not in CODECS:
                    raise AccessRefused(f"{name} knows only {sorted(CODECS)}")
            self.meter.scan(target)
            for argument in arguments:
                self.meter.scan(argument)
            if size:
                self.meter.allocate(size)
            return bound(*arguments, **keywords)

        return scanned

    def allowed_names(self, target: Any) -> Allowed | None:
        kind = type(target)
        allowed = ALLOWED_ATTRIBUTES.get(kind)
        if allowed is not None:
            return allowed
        if kind is type:
            names = TYPE_ATTRIBUTES.get(target)
            return None if names is None else Allowed(names, names)
        if isinstance(target, CanonicalStruct):
            return Allowed(frozenset(kind.__struct_fields__))
        if kind in HASH_TYPES:
            return Allowed(HASH_METHODS, scanning=frozenset({"update"}))
        if isinstance(target, Exception):
            return Allowed(EXCEPTION_ATTRIBUTES)
        if isinstance(target, SimpleNamespace):  # an allowed module
            return Allowed(frozenset(vars(target)))
        names = self.public(target)
        return None if names is None else Allowed(names)

    def hasattr(self, target: Any, name: str) -> bool:
        missing = object()
        return self.getattr(target, name, missing) is not missing

    def getitem(self, target: Any, key: Any) -> Any:
        if type(key) is slice and isinstance(target, str | bytes | list | tuple):
            count = len(range(*key.indices(len(target))))
            unit = STR_CHARACTER_BYTES if type(target) is str else 1
            self.meter.allocate(count * (unit if isinstance(target, str | bytes) else 8))
        return target[key]

    def write(self, target: Any) -> Any:
        """``target[key] = value``, ``del target[key]``: lists and dicts only; no attribute of
        anything may be set, so neither the contract object nor its class can keep state."""
        if type(target) is list or type(target) is dict:
            return target
        raise AccessRefused(f"a contract cannot change a {type(target).__name__}")

    def getiter(self, iterable: Any) -> Any:
        return self.meter.iterate(iterable) if self.metered else iter(iterable)

    def iter_unpack_sequence(self, iterable: Any, spec: Any, getiter: Any) -> Any:
        return guarded_iter_unpack_sequence(iterable, spec, getiter)  # type: ignore[no-untyped-call]

    def unpack_sequence(self, iterable: Any, spec: Any, getiter: Any) -> Any:
        return guarded_unpack_sequence(iterable, spec, getiter)  # type: ignore[no-untyped-call]

    def apply(self, function: Callable[..., Any], *arguments: Any, **keywords: Any) -> Any:
        return function(*arguments, **keywords)

    # -- wrapped methods: size first -------------------------------------------------------
    def sized_join(self, separator: str | bytes, parts: Iterable[Any]) -> Any:
        items = list(self.meter.iterate(parts))
        self.meter.allocate(
            sum(size_of(part) for part in items) + size_of(separator) * max(len(items) - 1, 0)
        )
        return separator.join(items)

    def wrapped_str_join(self, target: str) -> Callable[[Iterable[str]], str]:
        return lambda parts: self.sized_join(target, parts)

    def wrapped_bytes_join(self, target: bytes) -> Callable[[Iterable[bytes]], bytes]:
        return lambda parts: self.sized_join(target, parts)

    def sized_replace(self, target: Any, old: Any, new: Any, count: int = -1) -> Any:
        occurrences = target.count(old) + (1 if len(old) == 0 else 0)
        if count >= 0:
            occurrences = min(occurrences, count)
        self.meter.allocate(size_of(target) + occurrences * size_of(new))
        return target.replace(old, new, count)

    def wrapped_str_replace(self, target: str) -> Callable[..., str]:
        return lambda old, new, count=-1: self.sized_replace(target, old, new, count)

    def wrapped_bytes_replace(self, target: bytes) -> Callable[..., bytes]:
        return lambda old, new, count=-1: self.sized_replace(target, old, new, count)

    def wrapped_bytes_hex(self, target: bytes) -> Callable[[], str]:
        def sized_hex() -> str:
            self.meter.allocate(2 * STR_CHARACTER_BYTES * len(target))
            return target.hex()

        return sized_hex

    def wrapped_type_from_bytes(self, target: type) -> Callable[..., int]:
        def sized_from_bytes(data: bytes, byteorder: str = "big", *, signed: bool = False) -> Any:
            self.meter.allocate_int(8 * len(data))
            return int.from_bytes(data, byteorder, signed=signed)  # type: ignore[arg-type]

        return sized_from_bytes

    def wrapped_type_fromhex(self, target: type) -> Callable[[str], bytes]:
        def sized_fromhex(text: str) -> bytes:
            self.meter.allocate(len(text) // 2)
            return bytes.fromhex(text)

        return sized_fromhex

    def wrapped_int_to_bytes(self, target: int) -> Callable[..., bytes]:
        def sized_to_bytes(length: int = 1, byteorder: str = "big", *, signed: bool = False) -> Any:
            if not is_integer(length):
                raise TypeError("to_bytes needs an integer length")
            self.meter.allocate(max(length, 0))
            return target.to_bytes(length, byteorder, signed=signed)  # type: ignore[arg-type]

        return sized_to_bytes

    def wrapped_list_extend(self, target: list[Any]) -> Callable[[Iterable[Any]], None]:
        def sized_extend(items: Iterable[Any]) -> None:
            added = list(self.meter.iterate(items))
            self.meter.allocate(POINTER_BYTES * len(added))
            target.extend(added)

        return sized_extend

    def wrapped_list_copy(self, target: list[Any]) -> Callable[[], list[Any]]:
        def sized_copy() -> list[Any]:
            self.meter.allocate(size_of(target))
            return target.copy()

        return sized_copy

    def wrapped_list_sort(self, target: list[Any]) -> Callable[..., None]:
        def metered_sort(*, key: Callable[[Any], Any] | None = None, reverse: bool = False) -> None:
            self.meter.steps_for(len(target))
            target.sort(key=key, reverse=reverse)

        return metered_sort

    def wrapped_dict_update(self, target: dict[Any, Any]) -> Callable[[Any], None]:
        def sized_update(other: Any) -> None:
            pairs = dict(self.meter.iterate(other.items() if type(other) is dict else other))
            self.meter.allocate(size_of(pairs))
            target.update(pairs)

        return sized_update

    def wrapped_dict_keys(self, target: dict[Any, Any]) -> Callable[[], list[Any]]:
        """``keys``, ``values``, ``items`` give lists: a view's ``&``, ``|``, ``^`` and ``-``
        make sets, whose order depends on hashing."""
        return lambda: self.sized_copy(target.keys())

    def wrapped_dict_values(self, target: dict[Any, Any]) -> Callable[[], list[Any]]:
        return lambda: self.sized_copy(target.values())

    def wrapped_dict_items(self, target: dict[Any, Any]) -> Callable[[], list[Any]]:
        return lambda: self.sized_copy(target.items())

    def sized_copy(self, view: Any) -> list[Any]:
        self.meter.allocate(POINTER_BYTES * len(view))
        self.meter.steps_for(len(view) // 128)
        return list(view)

    def wrapped_dict_copy(self, target: dict[Any, Any]) -> Callable[[], dict[Any, Any]]:
        def sized_copy() -> dict[Any, Any]:
            self.meter.allocate(size_of(target))
            return target.copy()

        return sized_copy

    # -- builtins --------------------------------------------------------------------------
    def collect(self, kind: Callable[[Iterable[Any]], Any], iterable: Any = ()) -> Any:
        """``list(x)``, ``tuple(x)``, ``dict(x)``, ``sorted(x)``: sized first when ``x`` has a
        length, built through the meter in any case."""
        if isinstance(iterable, list | tuple | str | bytes | dict | range):
            self.meter.allocate(POINTER_BYTES * len(iterable))
        return kind(self.meter.iterate(iterable))

    def consume(self, function: Callable[..., Any]) -> Callable[..., Any]:
        """A builtin that consumes an iterable in C (``sum``, ``min``, ``any``...), fed through
        the meter so a long range costs its steps."""

        def metered(iterable: Any, *rest: Any, **keywords: Any) -> Any:
            return function(self.meter.iterate(iterable), *rest, **keywords)

        return metered

    def consume_or_compare(self, function: Callable[..., Any]) -> Callable[..., Any]:
        """``min``/``max``: of one iterable (metered), or of several arguments (a few values,
        compared by size)."""

        def metered(*arguments: Any, **keywords: Any) -> Any:
            if len(arguments) == 1:
                return function(self.meter.iterate(arguments[0]), **keywords)
            for argument in arguments:
                self.meter.scan(argument)
            return function(*arguments, **keywords)

        return metered

    def hashing(self, constructor: Callable[..., Any]) -> Callable[..., Any]:
        """``sha256(data)``: a step per KiB hashed; ``update`` is charged the same way through
        the attribute allow-list."""

        def hashed(data: bytes = b"") -> Any:
            self.meter.scan(data)
            return constructor(data)

        return hashed

    def make_str(self, value: Any = "") -> str:
        if type(value) is str or is_integer(value) or value is None:
            return str(value)
        raise TypeError(f"str() of a {type(value).__name__} is not available to contracts")

    def make_int(self, value: Any = 0, base: int = 10) -> int:
        if isinstance(value, str | bytes):
            if len(value) > MAX_INT_TEXT_DIGITS:
                raise ValueError(f"more than {MAX_INT_TEXT_DIGITS} digits")
            return int(value, base)
        if is_integer(value):
            return int(value)
        raise TypeError(f"int() of a {type(value).__name__} is not available to contracts")

    def make_bytes(self, value: Any = b"", encoding: str = "utf-8") -> bytes:
        if is_integer(value):
            self.meter.allocate(max(value, 0))
            return bytes(value)
        if type(value) is str:
            self.meter.allocate(STR_CHARACTER_BYTES * len(value))
            return value.encode(encoding)
        return bytes(self.collect(list, value))

    def make_dict(self, iterable: Any = (), **keywords: Any) -> dict[Any, Any]:
        built: dict[Any, Any] = self.collect(
            dict, iterable.items() if type(iterable) is dict else iterable
        )
        built.update(keywords)
        return built

    def make_sorted(
        self, iterable: Any, *, key: Callable[[Any], Any] | None = None, reverse: bool = False
    ) -> list[Any]:
        items: list[Any] = self.collect(list, iterable)
        self.meter.steps_for(len(items))
        items.sort(key=key, reverse=reverse)
        return items

    def is_instance(self, value: Any, kinds: Any) -> bool:
        """``isinstance``, where the builtins ``int``, ``str``, ... (wrappers here) stand for
        their types."""
        if type(kinds) is tuple:
            return any(self.is_instance(value, kind) for kind in kinds)
        if isinstance(kinds, MethodType | FunctionType):
            kinds = self.builtin_types.get(kinds, kinds)
        return isinstance(value, kinds)

    def import_module(
        self,
        name: str,
        globals: Any = None,
        locals: Any = None,
        fromlist: Iterable[str] = (),
        level: int = 0,
    ) -> SimpleNamespace:
        """``__import__`` for ``from MODULE import NAME``: a namespace holding only the allowed
        names, never the module itself (whose other attributes would lead anywhere)."""
        module = self.modules.get(name)
        if module is None or level != 0:
            raise ImportError(f"module {name!r} is not available to contracts")
        return module

    def build_class(self, name: str, bases: tuple[type, ...], namespace: dict[str, Any]) -> type:
        """RestrictedPython's ``__metaclass__``: the one class, deriving from ``Contract``."""
        if bases != (api.Contract,):
            raise AccessRefused("a contract class derives from Contract alone")
        return type(name, bases, namespace)

    def make_builtins(self) -> dict[str, Any]:
        return {
            "abs": abs,
            "all": self.consume(all),
            "any": self.consume(any),
            "bool": bool,
            "bytes": self.make_bytes,
            "chr": chr,
            "dict": self.make_dict,
            "divmod": divmod,
            "enumerate": lambda iterable, start=0: enumerate(self.getiter(iterable), start),
            "getattr": self.getattr,
            "hasattr": self.hasattr,
            "hex": hex,
            "int": self.make_int,
            "isinstance": self.is_instance,
            "len": len,
            "list": lambda iterable=(): self.collect(list, iterable),
            "max": self.consume_or_compare(max),
            "min": self.consume_or_compare(min),
            "ord": ord,
            "range": range,
            "reversed": lambda sequence: self.getiter(reversed(sequence)),
            "sorted": self.make_sorted,
            "str": self.make_str,
            "sum": self.consume(sum),
            "tuple": lambda iterable=(): self.collect(tuple, iterable),
            "zip": lambda *iterables: zip(*(self.getiter(i) for i in iterables), strict=False),
            "ValueError": ValueError,
            "KeyError": KeyError,
            "IndexError": IndexError,
            "ZeroDivisionError": ZeroDivisionError,
            "ArithmeticError": ArithmeticError,
            "LookupError": LookupError,
            "Exception": Exception,
            "None": None,
            "True": True,
            "False": False,
            "__import__": self.import_module,
            "__build_class__": __build_class__,
        }

    def module_globals(self, name: str) -> dict[str, Any]:
        return {
            "__builtins__": self.builtins,
            "__name__": name,
            "__metaclass__": self.build_class,
            "_getattr_": self.getattr,
            "_getitem_": self.getitem,
            "_write_": self.write,
            "_getiter_": self.getiter,
            "_iter_unpack_sequence_": self.iter_unpack_sequence,
            "_unpack_sequence_": self.unpack_sequence,
            "_inplacevar_": self.in_place,
            "_apply_": self.apply,
            "_jq_step": self.step,
            "_jq_enter": self.enter,
            "_jq_leave": self.leave,
            "_jq_add": self.add,
            "_jq_multiply": self.multiply,
            "_jq_power": self.power,
            "_jq_left_shift": self.left_shift,
            "_jq_modulo": self.modulo,
            "_jq_format": self.format_value,
            "_jq_concatenate": self.concatenate,
            "_jq_unpack": self.unpack,
            "_jq_sized": self.sized,
        }

    # The meter changes per call; these read it each time.
    def step(self) -> None:
        meter = CURRENT_METER.get(self.idle_meter)  # Meter.step inlined: every iteration
        meter.steps += 1
        if meter.steps > meter.step_limit:
            meter.step()

    def enter(self) -> None:
        """``Meter.enter`` inlined (it runs at every function call); at a limit, the meter's
        own ``enter`` raises the right halt."""
        meter = CURRENT_METER.get(self.idle_meter)
        if meter.steps >= meter.step_limit or meter.depth >= meter.depth_limit:
            meter.enter()
            return
        meter.steps += 1
        meter.depth += 1

    def leave(self) -> None:
        CURRENT_METER.get(self.idle_meter).depth -= 1


# -- compiling and loading -------------------------------------------------------------------


def compile_contract(
    source: str, filename: str = "contract.py", *, metered: bool = True
) -> CodeType:
    """The instrumented code of a contract, or ``ContractRefused`` with every finding.
    ``metered=False`` leaves out the instrumentation (steps, depth, sized operators): it exists
    only to measure what metering costs (``jinqiao bench contracts``); no node uses it."""
    findings = review_source(source, filename)
    if findings:
        raise ContractRefused(findings, filename)
    with AST_LOCK:
        tree = ast.parse(source, filename)
    errors: list[str] = []
    with AST_LOCK:
        tree = RestrictingNodeTransformer(errors, [], {}).visit(tree)
    if errors:  # review_source ran the same transformer: a difference is a bug here
        raise ContractRefused([Finding(0, "JQ101", error) for error in errors], filename)
    if metered:
        tree = Instrumenter().visit(tree)
    ast.fix_missing_locations(tree)
    with AST_LOCK:
        return compile(tree, filename, "exec", dont_inherit=True)


@dataclass(frozen=True)
class Declared:
    """A method or query as the code declares it."""

    name: str
    kind: str
    roles: tuple[str, ...]
    function: Callable[..., Any]


class LoadedContract:
    """A compiled contract's module, run once under a meter, and its declared methods."""

    def __init__(
        self,
        code: CodeType,
        public: Callable[[object], frozenset[str] | None],
        module_name: str = "contract",
        *,
        metered: bool = True,
    ) -> None:
        self.guards = Guards(public, metered=metered)
        namespace = self.guards.module_globals(module_name)
        try:
            with metering(Meter()):
                exec(code, namespace)  # noqa: S102 (reviewed, instrumented, restricted)
        except Halt as halt:
            raise InvalidInput(f"loading the contract: {halt.message}") from None
        except Exception as exc:
            raise InvalidInput(f"loading the contract raised {type(exc).__name__}") from None
        classes = [
            value
            for value in namespace.values()
            if isinstance(value, type)
            and issubclass(value, api.Contract)
            and value is not api.Contract
        ]
        if len(classes) != 1:
            raise InvalidInput("the source defines no contract class")
        self.contract_class: type[api.Contract] = classes[0]
        self.instance = self.contract_class()
        self.declared: dict[str, Declared] = {}
        for name, value in vars(self.contract_class).items():
            declaration = getattr(value, api.DECLARATION_ATTRIBUTE, None)
            if declaration is not None:
                kind, roles = declaration
                self.declared[name] = Declared(name, kind, roles, value)

    def call(self, name: str, context: object, arguments: object, meter: Meter) -> Any:
        """Run ``name`` under ``meter``. Raises the meter's ``Halt`` when the call ran out or
        rejected, even if the contract swallowed it (``finally: return``)."""
        declared = self.declared[name]
        # ``metering(meter)`` without the context manager's generator: this runs once a call.
        token = CURRENT_METER.set(meter)
        try:
            result = declared.function(self.instance, context, arguments)
        except RecursionError:
            # The interpreter's own limit (a deeply nested value compared or copied in C).
            raise meter.fail(TooDeep("the interpreter's recursion limit")) from None
        except MemoryError:
            raise meter.fail(OutOfMemory("the interpreter ran out of memory")) from None
        finally:
            CURRENT_METER.reset(token)
        if meter.halted is not None:
            raise meter.halted
        return result
