"""State access for execution: a read interface over committed state and layered write overlays.

Full state keys are ``contract_name + b"/" + key``. A transaction writes into its own ``Overlay``
on top of the block's overlay; on success its writes are merged down, on rejection they are
dropped — so each transaction is all-or-nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Protocol, TypeVar

from jinqiao.core.codec import decode_stored, encode
from jinqiao.core.errors import DecodeError, NodeFault, Rejection
from jinqiao.core.limits import (
    MAX_NAME_LENGTH,
    MAX_STATE_KEY_BYTES,
    MAX_STATE_OPERATIONS_PER_TRANSACTION,
    MAX_STATE_VALUE_BYTES,
)

T = TypeVar("T")

SEPARATOR = b"/"


class StateReader(Protocol):
    def get(self, key: bytes) -> bytes | None: ...


class EmptyState:
    def get(self, key: bytes) -> bytes | None:
        return None


class CachedReader:
    """Committed state read through a cache, for the length of one block (committed state does
    not change while a block executes)."""

    def __init__(self, parent: StateReader) -> None:
        self._parent = parent
        self._cache: dict[bytes, bytes | None] = {}

    def get(self, key: bytes) -> bytes | None:
        try:
            return self._cache[key]
        except KeyError:
            value = self._parent.get(key)
            self._cache[key] = value
            return value


class MappingState:
    """Committed state held in a mapping (tests, genesis)."""

    def __init__(self, values: Mapping[bytes, bytes]) -> None:
        self._values = values

    def get(self, key: bytes) -> bytes | None:
        return self._values.get(key)


class Overlay:
    """Writes layered over a reader. ``None`` in ``writes`` means deleted."""

    def __init__(self, parent: StateReader) -> None:
        self.parent = parent
        self.writes: dict[bytes, bytes | None] = {}

    def get(self, key: bytes) -> bytes | None:
        if key in self.writes:
            return self.writes[key]
        return self.parent.get(key)

    def set(self, key: bytes, value: bytes | None) -> None:
        self.writes[key] = value

    def merge_into(self, target: Overlay) -> None:
        target.writes.update(self.writes)

    def changes(self) -> Iterator[tuple[bytes, bytes | None]]:
        return iter(self.writes.items())


def full_key(contract: str, key: bytes) -> bytes:
    return contract.encode() + SEPARATOR + key


class StepMeter:
    """Counts state operations and events of one transaction; over the budget is a rejection."""

    def __init__(self, limit: int = MAX_STATE_OPERATIONS_PER_TRANSACTION) -> None:
        self.limit = limit
        self.used = 0

    def charge(self, steps: int = 1) -> None:
        self.used += steps
        if self.used > self.limit:
            raise Rejection(
                "step_limit_exceeded",
                f"transaction used more than {self.limit} steps",
                limit=self.limit,
            )


class ContractState:
    """A contract's own namespace of the state. Keys and values are bytes; ``load``/``save``
    store canonical structs."""

    def __init__(
        self, contract: str, overlay: Overlay, meter: StepMeter, *, writable: bool = True
    ) -> None:
        if not contract or len(contract) > MAX_NAME_LENGTH:
            raise NodeFault(f"bad contract namespace {contract!r}")
        self._prefix = contract.encode() + SEPARATOR
        self._overlay = overlay
        self._meter = meter
        self._writable = writable

    def _key(self, key: bytes) -> bytes:
        if len(key) > MAX_STATE_KEY_BYTES:
            raise NodeFault(f"state key of {len(key)} bytes is over {MAX_STATE_KEY_BYTES}")
        return self._prefix + key

    def get(self, key: bytes) -> bytes | None:
        self._meter.charge()
        return self._overlay.get(self._key(key))

    def set(self, key: bytes, value: bytes) -> None:
        if not self._writable:
            raise NodeFault("a query tried to write state")
        if len(value) > MAX_STATE_VALUE_BYTES:
            raise Rejection(
                "value_too_large", f"a state value of {len(value)} bytes is over the limit"
            )
        self._meter.charge()
        self._overlay.set(self._key(key), value)

    def delete(self, key: bytes) -> None:
        if not self._writable:
            raise NodeFault("a query tried to write state")
        self._meter.charge()
        self._overlay.set(self._key(key), None)

    def load(self, key: bytes, kind: type[T]) -> T | None:
        raw = self.get(key)
        if raw is None:
            return None
        try:
            return decode_stored(raw, kind)
        except DecodeError as exc:
            raise NodeFault(f"stored value under {key!r} is not a {kind.__name__}: {exc}") from exc

    def save(self, key: bytes, value: object) -> None:
        self.set(key, encode(value))

    def load_int(self, key: bytes) -> int:
        """An integer counter stored canonically; absent reads as 0."""
        value = self.load(key, int)
        return 0 if value is None else value

    def save_int(self, key: bytes, value: int) -> None:
        if value == 0:
            self.delete(key)
        else:
            self.save(key, value)
