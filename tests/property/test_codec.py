"""The canonical codec (DESIGN.md §3 "Canonical encoding") over every struct in core/types.py.

Properties: ``decode(encode(x)) == x``; ``encode`` is deterministic and equal values give equal
bytes (different values give different bytes); ``decode`` refuses anything that is not exactly the
canonical encoding — trailing bytes, truncation, unknown or missing array elements, wrong types,
non-minimal lengths and integers, oversize and empty input, garbage — and always with
``DecodeError`` itself, never another exception type.
"""

from __future__ import annotations

import struct
import typing
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from jinqiao.core.codec import decode, decode_stored, encode
from jinqiao.core.errors import DecodeError
from jinqiao.core.limits import (
    MAX_BLOCK_TRANSACTIONS,
    MAX_CONSENSUS_ROUND,
    MAX_HEIGHT,
    MAX_VALIDATOR_POWER,
)
from jinqiao.core.types import (
    Block,
    BlockHeader,
    CommitCertificate,
    CommitSignature,
    CommittedBlock,
    Event,
    MultiSignedTransaction,
    Receipt,
    SignedTransaction,
    TransactionBody,
    Validator,
    ValidatorSet,
    Vote,
    with_cosigners,
)

MAX_BYTES = 1 << 20
UINT64_MAX = 2**64 - 1

# -- strategies ------------------------------------------------------------------------------

uint64 = st.integers(min_value=0, max_value=UINT64_MAX)
# The ranges core/types.py declares for fields that come from outside (Meta constraints).
height = st.integers(min_value=0, max_value=MAX_HEIGHT)
round_number = st.integers(min_value=0, max_value=MAX_CONSENSUS_ROUND)
transaction_count = st.integers(min_value=0, max_value=MAX_BLOCK_TRANSACTIONS)
short_text = st.text(max_size=24)
address = st.binary(min_size=20, max_size=20)
digest = st.binary(min_size=32, max_size=32)
public_key = st.binary(min_size=32, max_size=32)
signature = st.binary(min_size=64, max_size=64)
payload = st.binary(max_size=200)


def small_tuple(element: st.SearchStrategy[Any], max_size: int = 3) -> st.SearchStrategy[Any]:
    return st.lists(element, max_size=max_size).map(tuple)


transaction_bodies = st.builds(
    TransactionBody,
    short_text,
    address,
    public_key,
    uint64,
    height,
    short_text,
    short_text,
    payload,
)
signed_transactions = st.builds(SignedTransaction, transaction_bodies, signature)
cosigners = st.lists(public_key, min_size=1, max_size=3).map(tuple)
multi_signed_bodies = st.builds(with_cosigners, transaction_bodies, cosigners)
multi_signed_transactions = st.builds(
    MultiSignedTransaction,
    multi_signed_bodies,
    signature,
    st.lists(signature, min_size=1, max_size=3).map(tuple),
)
event_values = st.one_of(
    short_text, st.integers(min_value=-(2**63), max_value=UINT64_MAX), st.booleans()
)
events = st.builds(
    Event,
    short_text,
    short_text,
    small_tuple(st.tuples(short_text, event_values), max_size=4),
)
receipts = st.builds(
    Receipt,
    digest,
    st.integers(min_value=0, max_value=1),
    short_text,
    short_text,
    small_tuple(events),
    uint64,
    payload,
)
block_headers = st.builds(
    BlockHeader,
    short_text,
    height,
    height,
    digest,
    digest,
    digest,
    digest,
    digest,
    digest,
    address,
    transaction_count,
)
blocks = st.builds(
    Block, block_headers, small_tuple(st.one_of(signed_transactions, multi_signed_transactions))
)
votes = st.builds(
    Vote,
    short_text,
    height,
    round_number,
    st.integers(min_value=1, max_value=2),
    st.one_of(st.just(b""), digest),
    address,
)
commit_signatures = st.builds(CommitSignature, address, signature)
commit_certificates = st.builds(
    CommitCertificate, height, round_number, digest, small_tuple(commit_signatures, max_size=4)
)
validator_power = st.integers(min_value=1, max_value=MAX_VALIDATOR_POWER)
validators = st.builds(Validator, address, public_key, validator_power, short_text, short_text)
validator_sets = st.builds(ValidatorSet, st.lists(validators, min_size=1, max_size=4).map(tuple))
committed_blocks = st.builds(CommittedBlock, blocks, commit_certificates, small_tuple(receipts))

STRATEGIES: dict[type[Any], st.SearchStrategy[Any]] = {
    TransactionBody: transaction_bodies,
    SignedTransaction: signed_transactions,
    MultiSignedTransaction: multi_signed_transactions,
    Event: events,
    Receipt: receipts,
    BlockHeader: block_headers,
    Block: blocks,
    Vote: votes,
    CommitSignature: commit_signatures,
    CommitCertificate: commit_certificates,
    Validator: validators,
    ValidatorSet: validator_sets,
    CommittedBlock: committed_blocks,
}
KINDS = list(STRATEGIES)
kind_parameter = pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.__name__)

# -- fixed sample values, one per kind -------------------------------------------------------

SAMPLE_BODY = TransactionBody(
    chain_id="jinqiao-test",
    sender=b"\x11" * 20,
    public_key=b"\x22" * 32,
    nonce=7,
    valid_until=1_000,
    contract="token",
    method="transfer",
    args=b"\x93\x01\x02\x03",
)
SAMPLE_TRANSACTION = SignedTransaction(SAMPLE_BODY, b"\x33" * 64)
SAMPLE_MULTI_SIGNED = MultiSignedTransaction(
    with_cosigners(SAMPLE_BODY, (b"\x0b" * 32,)),
    b"\x33" * 64,
    (b"\x0c" * 64,),
)
SAMPLE_EVENT = Event("token", "transferred", (("amount", 250), ("memo", "rent"), ("ok", True)))
SAMPLE_RECEIPT = Receipt(b"\x44" * 32, 0, "ok", "", (SAMPLE_EVENT,), 12, b"\xc3")
SAMPLE_HEADER = BlockHeader(
    chain_id="jinqiao-test",
    height=3,
    time_ms=1_700_000_000_000,
    previous_block_hash=b"\x01" * 32,
    transactions_root=b"\x02" * 32,
    receipts_root=b"\x03" * 32,
    state_root=b"\x04" * 32,
    validators_hash=b"\x05" * 32,
    next_validators_hash=b"\x06" * 32,
    proposer=b"\x07" * 20,
    transaction_count=1,
)
SAMPLE_BLOCK = Block(SAMPLE_HEADER, (SAMPLE_TRANSACTION, SAMPLE_MULTI_SIGNED))
SAMPLE_VOTE = Vote("jinqiao-test", 3, 0, 2, b"\x08" * 32, b"\x07" * 20)
SAMPLE_COMMIT_SIGNATURE = CommitSignature(b"\x07" * 20, b"\x09" * 64)
SAMPLE_CERTIFICATE = CommitCertificate(3, 0, b"\x08" * 32, (SAMPLE_COMMIT_SIGNATURE,))
SAMPLE_VALIDATOR = Validator(b"\x07" * 20, b"\x0a" * 32, 10, "bank-a", "validator-1")
SAMPLE_VALIDATOR_SET = ValidatorSet((SAMPLE_VALIDATOR,))
SAMPLE_COMMITTED_BLOCK = CommittedBlock(SAMPLE_BLOCK, SAMPLE_CERTIFICATE, (SAMPLE_RECEIPT,))

SAMPLES: dict[type[Any], Any] = {
    TransactionBody: SAMPLE_BODY,
    SignedTransaction: SAMPLE_TRANSACTION,
    MultiSignedTransaction: SAMPLE_MULTI_SIGNED,
    Event: SAMPLE_EVENT,
    Receipt: SAMPLE_RECEIPT,
    BlockHeader: SAMPLE_HEADER,
    Block: SAMPLE_BLOCK,
    Vote: SAMPLE_VOTE,
    CommitSignature: SAMPLE_COMMIT_SIGNATURE,
    CommitCertificate: SAMPLE_CERTIFICATE,
    Validator: SAMPLE_VALIDATOR,
    ValidatorSet: SAMPLE_VALIDATOR_SET,
    CommittedBlock: SAMPLE_COMMITTED_BLOCK,
}

# -- helpers ---------------------------------------------------------------------------------


def assert_rejected(data: bytes, kind: type[Any], *, max_bytes: int = MAX_BYTES) -> DecodeError:
    """``decode`` must raise ``DecodeError`` itself — not a subclass, not another type."""
    try:
        value = decode(data, kind, max_bytes=max_bytes)
    except DecodeError as exc:
        assert type(exc) is DecodeError
        assert exc.code == "decode_error"
        assert kind.__name__ in exc.message
        return exc
    pytest.fail(f"decode accepted {data.hex()} as {value!r}")


def assert_decodes_or_rejects(data: bytes, kind: type[Any]) -> None:
    """Any bytes: either the canonical encoding of the value they decode to, or DecodeError."""
    try:
        value = decode(data, kind, max_bytes=MAX_BYTES)
    except DecodeError as exc:
        assert type(exc) is DecodeError
        return
    assert type(value) is kind
    assert encode(value) == data


def field_values(value: msgspec.Struct) -> list[Any]:
    return list(msgspec.structs.astuple(value))


def pack(items: list[Any]) -> bytes:
    """Plain msgpack of a list (structs inside are encoded as their arrays)."""
    return msgspec.msgpack.encode(items)


def wide_encoding(value: Any) -> bytes:
    """A valid msgpack encoding of ``value`` that uses the widest form of every integer, string,
    byte string and array, so it is never the canonical one (the top-level array always has
    fewer than 65536 elements, where the canonical form is a fixarray or array16)."""
    if isinstance(value, bool):
        return b"\xc3" if value else b"\xc2"
    if isinstance(value, int):
        if value >= 0:
            return b"\xcf" + struct.pack(">Q", value)
        return b"\xd3" + struct.pack(">q", value)
    if isinstance(value, str):
        raw = value.encode()
        return b"\xdb" + struct.pack(">I", len(raw)) + raw
    if isinstance(value, bytes):
        return b"\xc6" + struct.pack(">I", len(value)) + value
    if isinstance(value, msgspec.Struct):
        value = msgspec.structs.astuple(value)
    if isinstance(value, tuple | list):
        return b"\xdd" + struct.pack(">I", len(value)) + b"".join(map(wide_encoding, value))
    raise TypeError(f"no wide encoding for {type(value).__name__}")


def rebuilt(value: Any) -> Any:
    """A structurally equal value made of fresh objects (no shared bytes, strings, tuples)."""
    if isinstance(value, bool):
        return value is True
    if isinstance(value, int):
        return int(str(value))
    if isinstance(value, str):
        return "".join(list(value))
    if isinstance(value, bytes):
        return bytes(bytearray(value))
    if isinstance(value, tuple):
        return tuple(rebuilt(item) for item in value)
    if isinstance(value, msgspec.Struct):
        return type(value)(*(rebuilt(item) for item in msgspec.structs.astuple(value)))
    raise TypeError(f"cannot rebuild {type(value).__name__}")


def same_value(first: Any, second: Any) -> bool:
    """Equality that also compares types, so ``True`` and ``1`` differ (as they do on the wire;
    plain ``==`` on structs treats them as equal)."""
    if type(first) is not type(second):
        return False
    if isinstance(first, msgspec.Struct):
        first, second = msgspec.structs.astuple(first), msgspec.structs.astuple(second)
    if isinstance(first, tuple):
        return len(first) == len(second) and all(map(same_value, first, second))
    return bool(first == second)


def wrong_values_for(annotation: Any) -> list[Any]:
    """Values of a type the field does not accept (None and a float are wrong for every field)."""
    wrong: list[Any] = [None, 1.5]
    if typing.get_origin(annotation) is typing.Annotated:  # a constrained field: its base type
        annotation = typing.get_args(annotation)[0]
    if annotation is int:
        return [*wrong, "1", b"\x01", True, [1]]
    if annotation is str:
        return [*wrong, b"text", 1, ["text"]]
    if annotation is bytes:
        return [*wrong, "bytes", 1, [1]]
    if typing.get_origin(annotation) is tuple:
        return [*wrong, 1, "x", b"x", {"a": 1}]
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        return [*wrong, 1, "x", b"x", {"a": 1}]
    raise AssertionError(f"no wrong values for {annotation!r}")


# -- round trip and determinism --------------------------------------------------------------


@kind_parameter
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_decode_inverts_encode(kind: type[Any], data: st.DataObject) -> None:
    value = data.draw(STRATEGIES[kind])
    encoded = encode(value)
    decoded = decode(encoded, kind, max_bytes=MAX_BYTES)
    assert type(decoded) is kind
    assert decoded == value
    assert encode(decoded) == encoded


@kind_parameter
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_encode_is_deterministic_and_equal_values_give_equal_bytes(
    kind: type[Any], data: st.DataObject
) -> None:
    value = data.draw(STRATEGIES[kind])
    copy = rebuilt(value)
    assert copy == value
    assert copy is not value
    assert encode(value) == encode(value)
    assert encode(copy) == encode(value)


@kind_parameter
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_different_values_give_different_bytes(kind: type[Any], data: st.DataObject) -> None:
    first = data.draw(STRATEGIES[kind])
    second = data.draw(STRATEGIES[kind])
    assert (encode(first) == encode(second)) == same_value(first, second)


def test_encoding_is_a_msgpack_array_in_field_order() -> None:
    assert encode(SAMPLE_COMMIT_SIGNATURE) == (
        b"\x92" + b"\xc4\x14" + b"\x07" * 20 + b"\xc4\x40" + b"\x09" * 64
    )
    assert encode(SAMPLE_VOTE)[:6] == b"\x96\xacjinq"


def test_event_values_keep_their_type_through_the_codec() -> None:
    # True == 1 in Python, so equality alone cannot tell them apart; the wire must.
    as_bool = Event("c", "n", (("flag", True),))
    as_int = Event("c", "n", (("flag", 1),))
    assert encode(as_bool) != encode(as_int)
    assert type(decode(encode(as_bool), Event, max_bytes=MAX_BYTES).attributes[0][1]) is bool
    assert type(decode(encode(as_int), Event, max_bytes=MAX_BYTES).attributes[0][1]) is int


def test_vote_for_nil_round_trips_with_empty_block_hash() -> None:
    nil_vote = Vote("jinqiao-test", 3, 1, 1, b"", b"\x07" * 20)
    assert decode(encode(nil_vote), Vote, max_bytes=MAX_BYTES) == nil_vote


def test_decode_accepts_bytearray_and_memoryview() -> None:
    encoded = encode(SAMPLE_BLOCK)
    # decode is annotated as taking bytes but explicitly accepts these buffer types too.
    assert decode(bytearray(encoded), Block, max_bytes=MAX_BYTES) == SAMPLE_BLOCK  # type: ignore[arg-type]
    assert decode(memoryview(encoded), Block, max_bytes=MAX_BYTES) == SAMPLE_BLOCK  # type: ignore[arg-type]


# -- strict decoding -------------------------------------------------------------------------


@kind_parameter
def test_trailing_bytes_are_rejected(kind: type[Any]) -> None:
    encoded = encode(SAMPLES[kind])
    for trailer in (b"\x00", b"\xc0", encoded):
        error = assert_rejected(encoded + trailer, kind)
        assert "malformed" in error.message


@kind_parameter
def test_truncation_at_every_position_is_rejected(kind: type[Any]) -> None:
    encoded = encode(SAMPLES[kind])
    for end in range(len(encoded)):
        assert_rejected(encoded[:end], kind)


@kind_parameter
def test_extra_array_element_is_rejected(kind: type[Any]) -> None:
    fields = field_values(SAMPLES[kind])
    for extra in (0, "", b"", None):
        error = assert_rejected(pack([*fields, extra]), kind)
        assert f"at most length {len(fields)}" in error.message


@kind_parameter
def test_missing_array_element_is_rejected(kind: type[Any]) -> None:
    fields = field_values(SAMPLES[kind])
    for keep in range(len(fields)):
        error = assert_rejected(pack(fields[:keep]), kind)
        assert "invalid" in error.message


@kind_parameter
def test_map_instead_of_array_is_rejected(kind: type[Any]) -> None:
    as_map = msgspec.msgpack.encode(msgspec.structs.asdict(SAMPLES[kind]))
    error = assert_rejected(as_map, kind)
    assert "Expected `array`" in error.message


@kind_parameter
def test_wrong_type_at_each_field_is_rejected(kind: type[Any]) -> None:
    fields = field_values(SAMPLES[kind])
    for position, field in enumerate(msgspec.structs.fields(kind)):
        for wrong in wrong_values_for(field.type):
            changed = list(fields)
            changed[position] = wrong
            error = assert_rejected(pack(changed), kind)
            assert f"$[{position}]" in error.message, (field.name, wrong, error.message)


def test_wrong_type_inside_nested_values_is_rejected() -> None:
    event = ["token", "transferred", [["amount", 250]]]
    for wrong_value in (b"\x01", 1.5, None, [1]):
        error = assert_rejected(pack(["token", "t", [["amount", wrong_value]]]), Event)
        assert "$[2][0][1]" in error.message
    assert_rejected(pack(["token", "t", [["amount", 250, 1]]]), Event)
    assert_rejected(pack(["token", "t", [[1, 250]]]), Event)
    header = field_values(SAMPLE_HEADER)
    transaction = [field_values(SAMPLE_BODY), SAMPLE_TRANSACTION.signature]
    assert_rejected(pack([[*header, 0], [transaction]]), Block)
    assert_rejected(pack([header, [[*transaction, 0]]]), Block)
    assert_rejected(pack([header, [1]]), Block)
    receipt = field_values(SAMPLE_RECEIPT)
    receipt[4] = [[*event, 0]]
    assert_rejected(
        pack([SAMPLE_BLOCK, SAMPLE_CERTIFICATE, [receipt]]),
        CommittedBlock,
    )


def test_non_minimal_integer_is_rejected() -> None:
    # Vote.height = 1 written as uint8 (0xcc 0x01) instead of the positive fixint 0x01.
    canonical = encode(Vote("c", 1, 0, 2, b"", b"\x07" * 20))
    assert canonical == b"\x96\xa1c\x01\x00\x02\xc4\x00\xc4\x14" + b"\x07" * 20
    for long_form in (b"\xcc\x01", b"\xcd\x00\x01", b"\xce\x00\x00\x00\x01", b"\xd0\x01"):
        non_minimal = canonical[:3] + long_form + canonical[4:]
        # msgpack itself reads it as the same vote; only canonicality forbids it.
        assert msgspec.msgpack.decode(non_minimal, type=Vote) == Vote(
            "c", 1, 0, 2, b"", b"\x07" * 20
        )
        error = assert_rejected(non_minimal, Vote)
        assert "not in canonical encoding" in error.message


def test_non_minimal_lengths_are_rejected() -> None:
    canonical = encode(Vote("c", 1, 0, 2, b"", b"\x07" * 20))
    str8 = b"\x96\xd9\x01c" + canonical[3:]
    bin16 = canonical[:6] + b"\xc5\x00\x00" + canonical[8:]
    array16 = b"\xdc\x00\x06" + canonical[1:]
    for non_minimal in (str8, bin16, array16):
        assert msgspec.msgpack.decode(non_minimal, type=Vote) == Vote(
            "c", 1, 0, 2, b"", b"\x07" * 20
        )
        assert "not in canonical encoding" in assert_rejected(non_minimal, Vote).message


@kind_parameter
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_widest_form_encodings_are_rejected(kind: type[Any], data: st.DataObject) -> None:
    value = data.draw(STRATEGIES[kind])
    wide = wide_encoding(value)
    assert decode_stored(wide, kind) == value  # the same value, by the chain's decoder
    assert wide != encode(value)
    assert "not in canonical encoding" in assert_rejected(wide, kind).message


@kind_parameter
def test_oversize_input_is_rejected_before_decoding(kind: type[Any]) -> None:
    encoded = encode(SAMPLES[kind])
    assert decode(encoded, kind, max_bytes=len(encoded)) == SAMPLES[kind]
    error = assert_rejected(encoded, kind, max_bytes=len(encoded) - 1)
    assert error.details == {"size": len(encoded), "limit": len(encoded) - 1}
    assert "over the limit" in error.message


@kind_parameter
def test_empty_input_is_rejected(kind: type[Any]) -> None:
    assert "empty input" in assert_rejected(b"", kind).message
    assert "empty input" in assert_rejected(b"", kind, max_bytes=0).message


def test_non_bytes_input_is_rejected() -> None:
    for not_bytes in ("\x92\xc4\x00\xc4\x00", None, 0, [146]):
        with pytest.raises(DecodeError) as info:
            decode(not_bytes, CommitSignature, max_bytes=MAX_BYTES)  # type: ignore[arg-type]
        assert type(info.value) is DecodeError
        assert "expected bytes" in info.value.message


@kind_parameter
def test_invalid_utf8_in_any_string_field_is_a_decode_error(kind: type[Any]) -> None:
    # A msgpack str whose payload is not UTF-8 must be refused like any other bad input.
    sample = SAMPLES[kind]
    string_fields = [field.name for field in msgspec.structs.fields(kind) if field.type is str]
    for name in string_fields:
        encoded = encode(msgspec.structs.replace(sample, **{name: "zq"}))
        assert encoded.count(b"\xa2zq") == 1
        assert_rejected(encoded.replace(b"\xa2zq", b"\xa2\xff\xfe"), kind)


@kind_parameter
@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=300))
def test_garbage_bytes_decode_canonically_or_raise_decode_error(
    kind: type[Any], data: bytes
) -> None:
    assert_decodes_or_rejects(data, kind)


@kind_parameter
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    # Shrinking a CommittedBlock takes minutes; the failing bytes are printed unshrunk instead.
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
@given(data=st.data())
def test_mutated_encodings_decode_canonically_or_raise_decode_error(
    kind: type[Any], data: st.DataObject
) -> None:
    encoded = bytearray(encode(data.draw(STRATEGIES[kind])))
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        position = data.draw(st.integers(min_value=0, max_value=len(encoded)))
        operation = data.draw(st.sampled_from(["replace", "insert", "delete"]))
        byte = data.draw(st.integers(min_value=0, max_value=255))
        if operation == "insert":
            encoded[position:position] = bytes([byte])
        elif position < len(encoded):
            if operation == "replace":
                encoded[position] = byte
            else:
                del encoded[position]
    assert_decodes_or_rejects(bytes(encoded), kind)
