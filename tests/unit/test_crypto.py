"""The crypto suite (DESIGN.md §3 "Crypto suites"): Ed25519 signatures and SHA-256, addresses,
and the rules that verification never raises and secret keys never show in ``repr``."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jinqiao.core.crypto import ADDRESS_TAG, DEFAULT_SUITE, get_suite
from jinqiao.core.errors import InvalidInput

SUITE = get_suite("ed25519-sha256")
FIXED_SECRET = bytes(range(32))
# Regression guards, computed once from FIXED_SECRET: a change here changes every address.
FIXED_PUBLIC_KEY_HEX = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"
FIXED_ADDRESS_HEX = "d71011fd6886e90c0125cd0c06768e5d6fdc41d1"

# RFC 8032 §7.1, TEST 1 (empty message).
RFC_SECRET = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC_PUBLIC_KEY = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
RFC_SIGNATURE = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)

secrets = st.binary(min_size=32, max_size=32)
messages = st.binary(max_size=512)


def flip_bit(data: bytes, bit: int) -> bytes:
    changed = bytearray(data)
    changed[bit // 8] ^= 1 << (bit % 8)
    return bytes(changed)


def test_suite_parameters() -> None:
    assert DEFAULT_SUITE == "ed25519-sha256"
    assert SUITE.name == "ed25519-sha256"
    assert (SUITE.public_key_bytes, SUITE.signature_bytes, SUITE.secret_key_bytes) == (32, 64, 32)
    assert get_suite("ed25519-sha256") is SUITE


def test_hash_is_sha256() -> None:
    assert SUITE.hash(b"abc").hex() == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


def test_rfc8032_known_answer() -> None:
    signer = SUITE.signer(RFC_SECRET)
    assert signer.public_key == RFC_PUBLIC_KEY
    assert signer.sign(b"") == RFC_SIGNATURE
    assert SUITE.verify(RFC_PUBLIC_KEY, b"", RFC_SIGNATURE) is True


def test_fixed_key_gives_pinned_public_key_and_address() -> None:
    signer = SUITE.signer(FIXED_SECRET)
    assert signer.public_key.hex() == FIXED_PUBLIC_KEY_HEX
    assert signer.address.hex() == FIXED_ADDRESS_HEX
    assert len(signer.address) == 20
    # The documented rule: the first 20 bytes of the suite hash of tag + public key.
    assert signer.address == hashlib.sha256(ADDRESS_TAG + signer.public_key).digest()[:20]
    assert SUITE.address(signer.public_key) == signer.address
    assert SUITE.signer(FIXED_SECRET).address == signer.address


@settings(max_examples=25, deadline=None)
@given(secret=secrets, message=messages)
def test_sign_then_verify(secret: bytes, message: bytes) -> None:
    signer = SUITE.signer(secret)
    signature = signer.sign(message)
    assert len(signature) == 64
    assert signer.sign(message) == signature  # Ed25519 is deterministic
    assert SUITE.verify(signer.public_key, message, signature) is True
    assert len(signer.address) == 20
    assert signer.address == SUITE.address(signer.public_key)
    assert signer.secret_key() == secret


@settings(max_examples=20, deadline=None)
@given(message=messages, data=st.data())
def test_tampered_message_fails(message: bytes, data: st.DataObject) -> None:
    signer = SUITE.signer(FIXED_SECRET)
    signature = signer.sign(message)
    if message:
        bit = data.draw(st.integers(min_value=0, max_value=len(message) * 8 - 1))
        assert SUITE.verify(signer.public_key, flip_bit(message, bit), signature) is False
    assert SUITE.verify(signer.public_key, message + b"\x00", signature) is False


@settings(max_examples=20, deadline=None)
@given(bit=st.integers(min_value=0, max_value=64 * 8 - 1))
def test_tampered_signature_fails(bit: int) -> None:
    signer = SUITE.signer(FIXED_SECRET)
    signature = signer.sign(b"pay 100 fen")
    assert SUITE.verify(signer.public_key, b"pay 100 fen", flip_bit(signature, bit)) is False


@settings(max_examples=20, deadline=None)
@given(bit=st.integers(min_value=0, max_value=32 * 8 - 1))
def test_tampered_public_key_fails(bit: int) -> None:
    signer = SUITE.signer(FIXED_SECRET)
    signature = signer.sign(b"pay 100 fen")
    assert SUITE.verify(flip_bit(signer.public_key, bit), b"pay 100 fen", signature) is False


def test_other_key_fails() -> None:
    signer = SUITE.signer(FIXED_SECRET)
    other = SUITE.signer(bytes(32))
    signature = signer.sign(b"message")
    assert SUITE.verify(other.public_key, b"message", signature) is False
    assert other.address != signer.address


@pytest.mark.parametrize(
    ("public_key_length", "signature_length"),
    [(0, 64), (31, 64), (33, 64), (64, 64), (32, 0), (32, 63), (32, 65), (32, 128), (0, 0)],
)
def test_wrong_lengths_return_false(public_key_length: int, signature_length: int) -> None:
    signer = SUITE.signer(FIXED_SECRET)
    signature = signer.sign(b"message")
    public_key = (signer.public_key * 3)[:public_key_length]
    signature = (signature * 3)[:signature_length]
    assert SUITE.verify(public_key, b"message", signature) is False


def test_garbage_key_and_signature_return_false() -> None:
    assert SUITE.verify(b"\xff" * 32, b"message", b"\x00" * 64) is False
    assert SUITE.verify(b"\x00" * 32, b"message", b"\x00" * 64) is False
    assert SUITE.verify(b"\x00" * 32, b"", b"\xff" * 64) is False


@settings(max_examples=50, deadline=None)
@given(
    public_key=st.binary(max_size=40),
    message=st.binary(max_size=40),
    signature=st.binary(max_size=80),
)
def test_verify_never_raises(public_key: bytes, message: bytes, signature: bytes) -> None:
    assert SUITE.verify(public_key, message, signature) is False


@pytest.mark.parametrize("length", [0, 16, 31, 33, 64])
def test_secret_of_wrong_length_is_invalid_input(length: int) -> None:
    with pytest.raises(InvalidInput, match="32 bytes"):
        SUITE.signer(bytes(length))


@pytest.mark.parametrize("name", ["sm2", "SM2-SM3", "", "ED25519-SHA256", "ed25519"])
def test_unknown_suite_is_invalid_input(name: str) -> None:
    with pytest.raises(InvalidInput) as info:
        get_suite(name)
    assert info.value.code == "invalid_input"
    assert repr(name) in info.value.message
    assert "ed25519-sha256" in info.value.message


def test_generated_keys_are_distinct_and_usable() -> None:
    first = SUITE.generate_secret_key()
    second = SUITE.generate_secret_key()
    assert len(first) == 32
    assert first != second
    signer = SUITE.signer(first)
    assert SUITE.verify(signer.public_key, b"m", signer.sign(b"m")) is True


def test_signer_repr_does_not_contain_the_secret() -> None:
    signer = SUITE.signer(FIXED_SECRET)
    for shown in (repr(signer), str(signer), f"{signer}", f"{signer!r}"):
        assert FIXED_SECRET.hex() not in shown
        assert FIXED_SECRET.hex().upper() not in shown
        assert repr(FIXED_SECRET) not in shown
        assert FIXED_ADDRESS_HEX in shown
