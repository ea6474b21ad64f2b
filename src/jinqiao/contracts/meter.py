"""The budget of one contract call: steps, memory and depth, and the operations that spend it.

The sandbox rewrites a contract so that every loop iteration and function entry calls
``Meter.step`` and every operation that can create a large value (``+``, ``*``, ``**``, ``<<``,
f-strings, unpacking) goes through a function here that works out the size of the result from
the sizes of its operands *before* computing it: ``10**10**8`` and ``"a" * 10**10`` are refused
without being attempted.

Running out raises a ``BudgetExhausted``. It derives from ``BaseException`` so that a contract's
``except Exception`` does not catch it (bare ``except:`` and ``except BaseException`` are refused
by the review, rule JQ180), and the meter remembers it, so the host rejects the call even if a
``finally: return`` swallowed it.

Sizes are estimates that are the same on every node: a ``bytes`` counts its length, a ``str``
four bytes per character (its worst case in CPython), a ``list``/``tuple``/``dict`` eight bytes
per item (the items exist already), an ``int`` its bits over eight.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from jinqiao.contracts.limits import (
    MAX_DEPTH,
    MAX_INT_BITS,
    MAX_VALUE_BYTES,
    MEMORY_LIMIT_BYTES,
    STEP_LIMIT,
)

POINTER_BYTES = 8
STR_CHARACTER_BYTES = 4
SCAN_BYTES_PER_STEP = 1024
SMALL_INT = 1 << 62
"""Sums of integers below this are not charged: each fits a machine word, and one is made per
step at most."""


class Halt(BaseException):
    """The call ends here, whatever handlers the contract wrote. ``code`` is the rejection."""

    code: str

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Rejected(Halt):
    """The contract rejected (``ctx.reject``), or its context refused something (a bad key, a
    state operation over the runtime's limit): a rejection the contract cannot catch and go on
    as if nothing happened."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class BudgetExhausted(Halt):
    """A call ran out of its budget. ``code`` (set by each subclass) is the rejection code."""


class OutOfSteps(BudgetExhausted):
    code = "out_of_steps"


class OutOfMemory(BudgetExhausted):
    code = "out_of_memory"


class TooDeep(BudgetExhausted):
    code = "recursion_too_deep"


class Meter:
    """Steps, memory and depth of one call. ``halted`` is the first way the call ended early
    (a budget exceeded, a rejection), kept so that no handler can undo it."""

    __slots__ = (
        "depth",
        "depth_limit",
        "halted",
        "memory_bytes",
        "memory_limit_bytes",
        "step_limit",
        "steps",
    )

    def __init__(
        self,
        step_limit: int = STEP_LIMIT,
        memory_limit_bytes: int = MEMORY_LIMIT_BYTES,
        depth_limit: int = MAX_DEPTH,
    ) -> None:
        self.step_limit = step_limit
        self.memory_limit_bytes = memory_limit_bytes
        self.depth_limit = depth_limit
        self.steps = 0
        self.memory_bytes = 0
        self.depth = 0
        self.halted: Halt | None = None

    def fail(self, halt: Halt) -> Halt:
        if self.halted is None:
            self.halted = halt
        return self.halted

    def step(self) -> None:
        self.steps += 1
        if self.steps > self.step_limit:
            raise self.fail(OutOfSteps(f"the call used more than {self.step_limit} steps"))

    def steps_for(self, count: int) -> None:
        """``count`` steps at once (a builtin's work over a sized value)."""
        self.steps += count
        if self.steps > self.step_limit:
            raise self.fail(OutOfSteps(f"the call used more than {self.step_limit} steps"))

    def scan(self, value: object) -> object:
        """A step per KiB of ``value``: charged where an operation reads a value whole in C (a
        comparison, a string method, a hash), so that repeating it on a big value costs steps."""
        size = size_of(value)
        if size >= SCAN_BYTES_PER_STEP:
            self.steps_for(size // SCAN_BYTES_PER_STEP)
        return value

    def enter(self) -> None:
        self.step()
        self.depth += 1
        if self.depth > self.depth_limit:
            raise self.fail(TooDeep(f"calls nest deeper than {self.depth_limit}"))

    def leave(self) -> None:
        self.depth -= 1

    def allocate(self, size_bytes: int) -> None:
        """Charge a value of ``size_bytes`` that is about to be created."""
        if size_bytes > MAX_VALUE_BYTES:
            raise self.fail(
                OutOfMemory(f"a value of {size_bytes} bytes is over the {MAX_VALUE_BYTES} limit")
            )
        self.memory_bytes += size_bytes
        if self.memory_bytes > self.memory_limit_bytes:
            raise self.fail(
                OutOfMemory(f"the call created more than {self.memory_limit_bytes} bytes")
            )

    def allocate_int(self, bits: int) -> None:
        if bits > MAX_INT_BITS:
            raise self.fail(OutOfMemory(f"an integer of {bits} bits is over {MAX_INT_BITS}"))
        self.allocate(bits // 8 + POINTER_BYTES)

    # -- metered iteration -----------------------------------------------------------------
    def iterate(self, iterable: Iterable[Any]) -> Iterator[Any]:
        """``iterable``, one step per item (``for``, comprehensions, builtins' arguments)."""
        for item in iterable:
            self.step()
            yield item


def size_of(value: object) -> int:
    """The estimated size of an existing value (see the module docstring)."""
    kind = type(value)
    if kind is bytes:
        return len(value)  # type: ignore[arg-type]
    if kind is str:
        return STR_CHARACTER_BYTES * len(value)  # type: ignore[arg-type]
    if kind is int or kind is bool:
        return int.bit_length(value) // 8 + POINTER_BYTES  # type: ignore[arg-type]
    if kind in (list, tuple, dict):
        return POINTER_BYTES * len(value)  # type: ignore[arg-type]
    return POINTER_BYTES


def is_integer(value: object) -> bool:
    return type(value) is int or type(value) is bool


SEQUENCES = (str, bytes, list, tuple)


CURRENT_METER: ContextVar[Meter] = ContextVar("jinqiao_contract_meter")
"""The meter of the call running in this thread (or task). A context variable, not an attribute
of the compiled contract: the node runs queries on API threads while a block executes, and each
call must charge its own meter."""


@contextmanager
def metering(meter: Meter) -> Iterator[Meter]:
    """Charge everything the sandbox does in this context to ``meter``."""
    token = CURRENT_METER.set(meter)
    try:
        yield meter
    finally:
        CURRENT_METER.reset(token)


class Operations:
    """The guarded operators, each charging the current call's meter (``CURRENT_METER``) before
    computing. Outside any call they charge a meter of their own, which nothing reads."""

    def __init__(self) -> None:
        self.idle_meter = Meter()

    @property
    def meter(self) -> Meter:
        return CURRENT_METER.get(self.idle_meter)

    def add(self, left: Any, right: Any) -> Any:
        kind = type(left)
        if kind is int and type(right) is int:
            if -SMALL_INT < left < SMALL_INT > right > -SMALL_INT:
                return left + right  # a machine-word sum: no bigger than the step that made it
            self.meter.allocate_int(max(left.bit_length(), right.bit_length()) + 1)
        elif kind is bytes and type(right) is bytes:
            # A key built from a prefix and an address: ``size_of`` of bytes is the length.
            CURRENT_METER.get(self.idle_meter).allocate(len(left) + len(right))
        elif is_integer(left) and is_integer(right):
            self.meter.allocate_int(max(left.bit_length(), right.bit_length()) + 1)
        elif kind is type(right) and isinstance(left, SEQUENCES):
            self.meter.allocate(size_of(left) + size_of(right))
        return left + right

    def multiply(self, left: Any, right: Any) -> Any:
        if is_integer(left) and is_integer(right):
            self.meter.allocate_int(left.bit_length() + right.bit_length())
        elif isinstance(left, SEQUENCES) and is_integer(right):
            self.meter.allocate(size_of(left) * max(right, 0))
        elif is_integer(left) and isinstance(right, SEQUENCES):
            self.meter.allocate(size_of(right) * max(left, 0))
        return left * right

    def modulo(self, left: Any, right: Any) -> Any:
        """``%``: of numbers only. ``"%s" % x`` would format any object (its repr holds an
        address) and ``"%999999999d"`` builds a string of any size."""
        if isinstance(left, str | bytes):
            raise TypeError("%-formatting is not available to contracts; use an f-string")
        return left % right

    def power(self, base: Any, exponent: Any) -> Any:
        if is_integer(base) and is_integer(exponent):
            if exponent < 0:
                raise ValueError("a negative exponent makes a float")
            if base not in (0, 1, -1):
                self.meter.allocate_int(base.bit_length() * exponent)
        return base**exponent

    def left_shift(self, value: Any, shift: Any) -> Any:
        if is_integer(value) and is_integer(shift) and value != 0 and shift > 0:
            self.meter.allocate_int(value.bit_length() + shift)
        return value << shift

    def sized(self, value: Any) -> Any:
        """An operand of a comparison (``==``, ``<``, ``in`` ...), charged by its size."""
        self.meter.scan(value)
        return value

    def in_place(self, operator_text: str, left: Any, right: Any) -> Any:
        """``left op= right`` on a name (RestrictedPython's ``_inplacevar_``)."""
        if operator_text == "+=":
            return self.add(left, right)
        function = self.in_place_operators.get(operator_text)
        if function is None:
            raise TypeError(f"operator {operator_text} is not available to contracts")
        return function(self, left, right)

    in_place_operators: dict[str, Callable[[Operations, Any, Any], Any]] = {
        "+=": add,
        "*=": multiply,
        "**=": power,
        "<<=": left_shift,
        "%=": modulo,
        "-=": lambda self, left, right: left - right,
        "//=": lambda self, left, right: left // right,
        ">>=": lambda self, left, right: left >> right,
        "&=": lambda self, left, right: left & right,
        "|=": lambda self, left, right: left | right,
        "^=": lambda self, left, right: left ^ right,
    }

    def format_value(self, value: Any) -> str:
        """One ``{value}`` of an f-string: integers, booleans and strings only, so the text's
        size is known (bytes and containers would format as their repr)."""
        if type(value) is str:
            return value
        if is_integer(value) or value is None:
            return str(value)
        raise TypeError(f"an f-string cannot format a {type(value).__name__}")

    def concatenate(self, parts: tuple[str, ...]) -> str:
        """An f-string's parts joined, charged before joining."""
        self.meter.allocate(sum(STR_CHARACTER_BYTES * len(part) for part in parts))
        return "".join(parts)

    def unpack(self, iterable: Any) -> tuple[Any, ...]:
        """``*iterable`` in a call or a display: a tuple built one metered step per item."""
        sized = isinstance(iterable, list | tuple | str | bytes | dict | range)
        if sized:
            self.meter.allocate(POINTER_BYTES * len(iterable))
        items = tuple(self.meter.iterate(iterable))
        if not sized:  # built one metered step per item: at most 8 bytes a step
            self.meter.allocate(POINTER_BYTES * len(items))
        return items
