"""Lies, generated: every way to alter one field of an API answer, found by walking it.

``alterations(answer)`` walks a JSON answer and yields, for every leaf, a copy with that leaf
changed — and for every list, copies with an item dropped and an item repeated. A hex string
that is the canonical encoding of a struct (a proof, a header, a certificate, a leaf) is walked
inside: its msgpack is decoded, each of its own leaves changed, and encoded again, so a lie can
sit in a Merkle sibling, a header field, a precommit signature, a receipt's event or a nested
transaction — not only in the hex text. Nothing is written by hand per field, so a field added
to an answer is lied about without touching the tests.

``Lying`` is an httpx transport wrapped around the real one (plain HTTP or HTTPS alike): it
forwards each request, except those ``targets`` picks while a ``lie`` is set (per alteration),
which it answers with the lie.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import msgspec

from jinqiao.client.saved import SavedAnswer, verify_saved
from jinqiao.client.verified import Verified
from jinqiao.core.errors import JinqiaoError
from jinqiao.core.genesis import Genesis

MAX_NESTED_BYTES = 1 << 22


def _flip_hex(text: str) -> str:
    """``text`` with its last hex digit changed (still hex, same length)."""
    last = int(text[-1], 16) ^ 1
    return text[:-1] + format(last, "x")


def _is_hex(text: str) -> bool:
    if not text or len(text) % 2:
        return False
    try:
        bytes.fromhex(text)
    except ValueError:
        return False
    return True


def _nested(data: bytes) -> Any:
    """``data`` decoded as a msgpack array or map when it is exactly one's encoding, else
    ``None``."""
    if not data or len(data) > MAX_NESTED_BYTES or data[0] not in _CONTAINER_TYPES:
        return None
    try:
        value = msgspec.msgpack.decode(data)
    except (msgspec.DecodeError, ValueError):
        return None
    if not isinstance(value, list | dict) or msgspec.msgpack.encode(value) != data:
        return None
    return value


# msgpack fixarray 0x90-0x9f, fixmap 0x80-0x8f, array16/32 0xdc/0xdd, map16/32 0xde/0xdf.
_CONTAINER_TYPES = frozenset(range(0x80, 0xA0)) | {0xDC, 0xDD, 0xDE, 0xDF}


def _containers(
    value: Any, path: str, leaf: Callable[[Any, str], Iterator[tuple[str, Any]]]
) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key in list(value):
            for where, changed in leaf(value[key], f"{path}.{key}"):
                yield where, {**value, key: changed}
            yield f"{path}.{key} (dropped)", {k: v for k, v in value.items() if k != key}
        return
    for index, item in enumerate(value):
        for where, changed in leaf(item, f"{path}[{index}]"):
            yield where, [*value[:index], changed, *value[index + 1 :]]
    if value:
        yield f"{path} (last item dropped)", value[:-1]
        yield f"{path} (first item repeated)", [value[0], *value]


def _msgpack_alterations(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Alterations of a decoded msgpack value (bytes stay bytes)."""
    if isinstance(value, list | dict):
        yield from _containers(value, path, _msgpack_alterations)
    elif isinstance(value, bytes):
        nested = _nested(value)
        if nested is not None:
            for where, changed in _msgpack_alterations(nested, f"{path}<>"):
                yield where, msgspec.msgpack.encode(changed)
        else:
            yield path, (bytes([value[0] ^ 1]) + value[1:]) if value else b"\x00"
    elif isinstance(value, bool):
        yield path, not value
    elif isinstance(value, int):
        yield path, value - 1 if value > 0 else value + 1
    elif isinstance(value, str):
        yield path, value + "x"
    elif value is None:
        yield path, b"\x00"


def alterations(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every one-field alteration of a JSON answer: ``(where, altered answer)``."""
    if isinstance(value, list | dict):
        yield from _containers(value, path, alterations)
    elif isinstance(value, bool):
        yield path, not value
    elif isinstance(value, int):
        yield path, value - 1 if value > 0 else value + 1
    elif isinstance(value, str):
        nested = _nested(bytes.fromhex(value)) if _is_hex(value) else None
        if nested is not None:
            for where, changed in _msgpack_alterations(nested, f"{path}<>"):
                yield where, msgspec.msgpack.encode(changed).hex()
        elif _is_hex(value):
            yield path, _flip_hex(value)
        else:
            yield path, value + "x"
    elif value is None:
        yield path, "00"


# The one field of an answer no proof covers and that says nothing about the ledger: a 404's
# message (its details are checked).
UNPROVEN_ECHOES = (".message",)


def lie_in_saved_answer(
    genesis: Genesis, saved: SavedAnswer, honest: Verified
) -> tuple[int, int, int, list[str]]:
    """Every alteration of a saved answer — its answer and its validator-change pages — checked
    by ``verify_saved``: ``(tried, refused, proving the same, accepted lies)``.

    An alteration that still checks is harmless only when it proves exactly what the honest
    file proves: a field left out shows nothing false; a validator change given twice is
    skipped once followed; a proof changed inside (``<>``) that still checks still proves it —
    e.g. a certificate without one precommit whose signers still hold over two thirds of the
    power. A shown field changed outside a proof is always a lie, except ``UNPROVEN_ECHOES``."""
    tried = refused = same = 0
    accepted: list[str] = []
    for where, altered in alterations(msgspec.to_builtins(saved)):
        if not where.startswith((".answer", ".validator_changes")):
            continue  # the request: another request's answer, not a lie in this one
        tried += 1
        try:
            verified = verify_saved(genesis, msgspec.convert(altered, SavedAnswer))
        except (JinqiaoError, msgspec.ValidationError):
            refused += 1
            continue
        repeated_change = where.startswith(".validator_changes") and where.endswith("repeated)")
        # A page of validator changes stopped early proves fewer changes, none false: withheld.
        page_stopped = where == ".answer.changes (last item dropped)"
        harmless = where.endswith("(dropped)") or repeated_change or "<>" in where
        if page_stopped:
            same += 1
            continue
        if harmless and verified == honest:
            same += 1
        elif not where.endswith(UNPROVEN_ECHOES):
            accepted.append(where)
    return tried, refused, same, accepted


class Lying(httpx.BaseTransport):
    """Forwards to ``inner`` (the real transport); answers the requests ``targets`` picks with
    ``lie`` instead (status and JSON body), without asking the node, when it is set."""

    def __init__(
        self, inner: httpx.BaseTransport, targets: Callable[[httpx.Request], bool]
    ) -> None:
        self.inner = inner
        self.targets = targets
        self.lie: tuple[int, Any] | None = None
        self.lied = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.lie is not None and self.targets(request):
            # The lie replaces the answer whole: the node need not be asked (thousands of lies
            # per answer would each cost a round trip).
            self.lied += 1
            status, answer = self.lie
            return httpx.Response(
                status,
                content=json.dumps(answer).encode(),
                headers={"content-type": "application/json"},
            )
        response = self.inner.handle_request(request)
        try:
            body = response.read()
        finally:
            response.close()
        return httpx.Response(response.status_code, headers=response.headers, content=body)

    def close(self) -> None:
        self.inner.close()


__all__ = ["UNPROVEN_ECHOES", "Lying", "alterations", "lie_in_saved_answer"]
