"""The ``sm2-sm3`` suite (GM/T 0003 SM2 signatures, GM/T 0004 SM3): the standards' published
test vectors, the user-ID rule, and malformed keys and signatures refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gmalglib.sm2 import SM2
from hypothesis import given, settings
from hypothesis import strategies as st

from jinqiao.core.crypto import ADDRESS_TAG, SM2_USER_ID, get_suite
from jinqiao.core.errors import InvalidInput, Rejection
from jinqiao.core.hashing import transaction_signing_bytes
from jinqiao.core.types import SignedTransaction, TransactionBody
from jinqiao.execution.runtime import Runtime
from jinqiao.keys import InsecurePlaintext, generate_key, load_key, save_key

SUITE = get_suite("sm2-sm3")

# GM/T 0004-2012 (GB/T 32905-2016) Appendix A: example 1 ("abc") and example 2 (512 bits).
SM3_ABC = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
SM3_512_BITS = "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"

# GM/T 0003.5-2012 (GB/T 32918.5-2017) signature example on the recommended curve, with the
# default user ID 1234567812345678: secret d, nonce k, message, public key and (r, s).
D = bytes.fromhex("3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8")
K = bytes.fromhex("59276e27d506861a16680f3ad9c02dccef3cc1fa3cdbe4ce6d54b80deac1bc21")
MESSAGE = b"message digest"
PUBLIC_KEY = bytes.fromhex(
    "04"
    "09f9df311e5421a150dd7d161e4bc5c672179fad1833fc076bb08ff356f35020"
    "ccea490ce26775a52dc6ea718cc1aa600aed05fbf35e084a6632f6072da9ad13"
)
SIGNATURE = bytes.fromhex(
    "f5a03b0648d2c4630eeac513e1bb81a15944da3827d5b74143ac7eaceee720b3"
    "b1b6aa29df212fd8763182bc0d421ca1bb9038fd1f7f42d4840b69c485bbc1aa"
)
# The same key, nonce and message signed under the user ID ALICE123@YAHOO.COM.
ALICE_ID = b"ALICE123@YAHOO.COM"
ALICE_SIGNATURE = bytes.fromhex(
    "b0e3e7d4ac2178f833ad73fa9d1191e41c76c8bfedb5ad89040ba2e5184bde58"
    "cc8d096578f7dd2669ac1ac42f7e722bcfa42b9e0be0b1b5df7ca0b53fdd5750"
)
CURVE_ORDER = int("fffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123", 16)


def fixed_nonce(length: int) -> bytes:
    """gmalglib reads its random bytes little-endian: hand it K so."""
    assert length == len(K)
    return K[::-1]


def test_suite_parameters() -> None:
    assert SUITE.name == "sm2-sm3"
    assert (SUITE.public_key_bytes, SUITE.signature_bytes, SUITE.secret_key_bytes) == (65, 64, 32)
    assert SM2_USER_ID == b"1234567812345678"
    assert get_suite("sm2-sm3") is SUITE


def test_sm3_standard_examples() -> None:
    assert SUITE.hash(b"abc").hex() == SM3_ABC
    assert SUITE.hash(b"abcd" * 16).hex() == SM3_512_BITS


def test_sm2_standard_example_key_and_signature_verify() -> None:
    signer = SUITE.signer(D)
    assert signer.public_key == PUBLIC_KEY
    assert signer.address == SUITE.hash(ADDRESS_TAG + PUBLIC_KEY)[:20]
    assert SUITE.verify(PUBLIC_KEY, MESSAGE, SIGNATURE) is True


def test_sm2_standard_example_signs_to_the_published_r_s() -> None:
    """The library signs the standard's (d, k, M, ID) to exactly its (r, s): the Z value and
    the r || s encoding are the standard's."""
    assert SM2(sk=D, uid=SM2_USER_ID, rnd_fn=fixed_nonce).sign(MESSAGE) == SIGNATURE
    assert SM2(sk=D, uid=ALICE_ID, rnd_fn=fixed_nonce).sign(MESSAGE) == ALICE_SIGNATURE


def test_signature_under_another_user_id_is_refused() -> None:
    """A valid SM2 signature, but with Z computed over another ID: it does not verify."""
    assert SM2(pk=PUBLIC_KEY, uid=ALICE_ID).verify(MESSAGE, ALICE_SIGNATURE)
    assert SUITE.verify(PUBLIC_KEY, MESSAGE, ALICE_SIGNATURE) is False
    assert SUITE.verify(PUBLIC_KEY, MESSAGE, SM2(sk=D, uid=b"").sign(MESSAGE)) is False


def test_transaction_signed_under_another_user_id_is_rejected_invalid_signature() -> None:
    runtime = Runtime(SUITE, "sm2-chain", {})
    body = TransactionBody(
        chain_id="sm2-chain",
        sender=SUITE.address(PUBLIC_KEY),
        public_key=PUBLIC_KEY,
        nonce=1,
        valid_until=10,
        contract="token",
        method="transfer",
        args=b"",
    )
    signing_bytes = transaction_signing_bytes(body)
    runtime.verify_signature(SignedTransaction(body, SUITE.signer(D).sign(signing_bytes)))
    wrong_id = SM2(sk=D, uid=ALICE_ID).sign(signing_bytes)
    with pytest.raises(Rejection) as raised:
        runtime.verify_signature(SignedTransaction(body, wrong_id))
    assert raised.value.code == "invalid_signature"


@pytest.mark.parametrize(
    ("public_key", "problem"),
    [
        (PUBLIC_KEY[1:], "65 bytes"),
        (PUBLIC_KEY + b"\x00", "65 bytes"),
        (b"\x02" + PUBLIC_KEY[1:33], "65 bytes"),  # compressed: refused, by length
        (b"\x03" + PUBLIC_KEY[1:], "uncompressed point"),
        (PUBLIC_KEY[:-1] + bytes([PUBLIC_KEY[-1] ^ 1]), "not on the SM2 curve"),
        (b"\x04" + b"\x00" * 64, "not on the SM2 curve"),
    ],
)
def test_malformed_public_keys(public_key: bytes, problem: str) -> None:
    with pytest.raises(InvalidInput, match=problem):
        SUITE.check_public_key(public_key)
    assert SUITE.verify(public_key, MESSAGE, SIGNATURE) is False


def test_malformed_signatures_do_not_verify() -> None:
    n = CURVE_ORDER.to_bytes(32, "big")
    zero = bytes(32)
    for signature in (
        b"",
        SIGNATURE[:-1],
        SIGNATURE + b"\x00",
        zero + SIGNATURE[32:],  # r = 0
        SIGNATURE[:32] + zero,  # s = 0
        n + SIGNATURE[32:],  # r = n
        SIGNATURE[:32] + n,  # s = n
        b"\x30\x44" + SIGNATURE[:62],  # DER-looking bytes are just a wrong r || s
    ):
        assert SUITE.verify(PUBLIC_KEY, MESSAGE, signature) is False


@pytest.mark.parametrize(
    "secret",
    [b"", bytes(31), bytes(32), CURVE_ORDER.to_bytes(32, "big"), b"\xff" * 32],
)
def test_malformed_secret_keys(secret: bytes) -> None:
    with pytest.raises(InvalidInput, match="sm2 secret key"):
        SUITE.signer(secret)


@settings(max_examples=20, deadline=None)
@given(message=st.binary(max_size=300), bit=st.integers(min_value=0, max_value=511))
def test_sign_verify_and_any_flipped_bit_fails(message: bytes, bit: int) -> None:
    signer = SUITE.signer(D)
    signature = signer.sign(message)
    assert len(signature) == 64
    assert SUITE.verify(signer.public_key, message, signature)
    flipped = bytearray(signature)
    flipped[bit // 8] ^= 1 << (bit % 8)
    assert not SUITE.verify(signer.public_key, message, bytes(flipped))
    assert not SUITE.verify(signer.public_key, message + b"\x00", signature)


def test_repr_hides_the_secret() -> None:
    signer = SUITE.signer(D)
    assert D.hex() not in repr(signer)
    assert signer.address.hex() in repr(signer)


def test_generated_keys_are_fresh_and_valid() -> None:
    first, second = SUITE.generate_secret_key(), SUITE.generate_secret_key()
    assert first != second
    SUITE.check_public_key(SUITE.signer(first).public_key)


def test_plaintext_key_file_records_its_suite_and_loads_as_sm2(tmp_path: Path) -> None:
    """The older plaintext format; encrypted SM2 keystores: tests/unit/test_keystore.py."""
    path = tmp_path / "key.json"
    save_key(path, generate_key("sm2-sm3"), InsecurePlaintext())
    document = json.loads(path.read_text())
    assert document["suite"] == "sm2-sm3" and len(bytes.fromhex(document["public_key"])) == 65
    loaded = load_key(path)
    assert loaded.suite is SUITE
    assert SUITE.verify(loaded.public_key, b"m", loaded.sign(b"m"))


def test_sm2_key_file_with_a_bad_secret_or_foreign_public_key_is_refused(tmp_path: Path) -> None:
    signer, other = SUITE.signer(D), SUITE.signer(bytes(range(1, 33)))
    document = {
        "suite": "sm2-sm3",
        "address": signer.address.hex(),
        "public_key": other.public_key.hex(),
        "secret_key": D.hex(),
    }
    path = tmp_path / "foreign.json"
    path.write_text(json.dumps(document))
    with pytest.raises(InvalidInput, match="does not match the secret key"):
        load_key(path)
    path = tmp_path / "zero.json"
    path.write_text(json.dumps({**document, "secret_key": bytes(32).hex()}))
    with pytest.raises(InvalidInput, match="not a jinqiao key file: not an sm2 secret key"):
        load_key(path)
