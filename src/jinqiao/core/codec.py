"""The one canonical binary encoding (DESIGN.md §3 "Canonical encoding").

Every struct that is hashed or signed derives from ``CanonicalStruct``: frozen, encoded as a
msgpack array in field order, integers in their shortest form. ``decode`` is strict — it refuses
oversize input, unknown or missing fields, wrong types, trailing bytes, and any byte string that is
not exactly what ``encode`` would produce for the decoded value — so one value has one encoding and
one encoding has one value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import msgspec

from jinqiao.core.errors import DecodeError


class CanonicalStruct(
    msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True, kw_only=False
):
    """Base for every hashed or signed structure."""


T = TypeVar("T")

_encoder = msgspec.msgpack.Encoder()
_decoders: dict[type[Any], msgspec.msgpack.Decoder[Any]] = {}
_dispatchers: dict[type[Any], Callable[[Any], Any]] = {}


def register_dispatch(marker: type[Any], dispatch: Callable[[Any], Any]) -> None:
    """Let a field typed ``marker`` (a plain class that several structs derive from) hold any
    of them: ``dispatch`` gets the item as decoded msgpack (a list for a struct) and returns
    the struct, choosing by its shape (``types.MultiSignedTransaction``: by arity). It raises
    ``msgspec.ValidationError`` for an item of no known shape."""
    _dispatchers[marker] = dispatch


def _dispatch_hook(kind: type[Any], item: Any) -> Any:
    dispatch = _dispatchers.get(kind)
    if dispatch is None:
        raise NotImplementedError(f"no decoder for {kind!r}")
    return dispatch(item)


def encode(value: Any) -> bytes:
    """The canonical bytes of ``value``."""
    return _encoder.encode(value)


def _decoder_for(kind: type[T]) -> msgspec.msgpack.Decoder[T]:
    decoder = _decoders.get(kind)
    if decoder is None:
        decoder = msgspec.msgpack.Decoder(kind, dec_hook=_dispatch_hook)
        _decoders[kind] = decoder
    return decoder


def decode(data: bytes, kind: type[T], *, max_bytes: int) -> T:
    """Decode ``data`` as ``kind``, refusing anything that is not its canonical encoding.

    Raises ``DecodeError`` with a message naming the problem; never anything else.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise DecodeError(f"expected bytes, got {type(data).__name__}")
    size = len(data)
    if size > max_bytes:
        raise DecodeError(
            f"{kind.__name__} is {size} bytes, over the limit of {max_bytes}",
            size=size,
            limit=max_bytes,
        )
    if size == 0:
        raise DecodeError(f"empty input where a {kind.__name__} was expected")
    try:
        value = _decoder_for(kind).decode(data)
    except msgspec.ValidationError as exc:
        raise DecodeError(f"invalid {kind.__name__}: {exc}") from None
    except (msgspec.DecodeError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        # msgspec lets invalid UTF-8 in a string escape as UnicodeDecodeError.
        raise DecodeError(f"malformed {kind.__name__}: {exc}") from None
    if _encoder.encode(value) != bytes(data):
        raise DecodeError(f"{kind.__name__} is not in canonical encoding")
    return value


def decode_stored(data: bytes, kind: type[T]) -> T:
    """Decode bytes this node wrote itself with ``encode`` (state values, stored blocks): the
    strict structure and type checks stay, the canonical re-encoding check is skipped because the
    bytes came from ``encode``. Never use it on bytes that came from outside."""
    try:
        return _decoder_for(kind).decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise DecodeError(f"stored {kind.__name__} does not decode: {exc}") from None


def json_view(value: Any) -> Any:
    """A JSON-ready view of ``value`` (structs by field name, tuples as lists, bytes as lowercase
    hex): how the API shows decoded records, and how an offline check of a saved answer renders
    the proven value to compare it with the view the node gave (``jinqiao.client.saved``)."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, msgspec.Struct):
        return {field: json_view(getattr(value, field)) for field in value.__struct_fields__}
    if isinstance(value, tuple | list):
        return [json_view(item) for item in value]
    if isinstance(value, dict):
        return {str(key): json_view(item) for key, item in value.items()}
    return value
