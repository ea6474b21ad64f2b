"""Plaintext key files (src/jinqiao/keys/__init__.py, the older format, written only when asked
for with ``InsecurePlaintext``): created owner-only, never overwritten, loaded strictly — every
problem is an ``InvalidInput`` whose message names the file. Encrypted keystores:
tests/unit/test_keystore.py."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

from jinqiao.core.crypto import get_suite
from jinqiao.core.errors import InvalidInput
from jinqiao.keys import (
    MAX_KEY_FILE_BYTES,
    InsecurePlaintext,
    generate_key,
    load_key,
    save_key,
)

SUITE = get_suite("ed25519-sha256")
SECRET = bytes(range(32))
OTHER_SECRET = bytes(range(1, 33))
PLAIN = InsecurePlaintext()


def key_document() -> dict[str, Any]:
    signer = SUITE.signer(SECRET)
    return {
        "suite": "ed25519-sha256",
        "address": signer.address.hex(),
        "public_key": signer.public_key.hex(),
        "secret_key": SECRET.hex(),
    }


def write(path: Path, content: bytes | dict[str, Any]) -> Path:
    path.write_bytes(json.dumps(content).encode() if isinstance(content, dict) else content)
    return path


def assert_refused(path: Path, *fragments: str) -> InvalidInput:
    with pytest.raises(InvalidInput) as info:
        load_key(path)
    assert type(info.value) is InvalidInput
    assert info.value.code == "invalid_input"
    assert str(path) in info.value.message
    for fragment in fragments:
        assert fragment in info.value.message
    # The secret never ends up in an error message either.
    assert SECRET.hex() not in info.value.message
    return info.value


def test_save_key_creates_owner_only_file(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "node.json"
    save_key(path, SUITE.signer(SECRET), PLAIN)
    mode = path.stat().st_mode
    assert stat.S_ISREG(mode)
    assert stat.S_IMODE(mode) == 0o600
    document = json.loads(path.read_bytes())
    assert document == key_document()


def test_save_key_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "node.json"
    save_key(path, SUITE.signer(SECRET), PLAIN)
    before = path.read_bytes()
    with pytest.raises(InvalidInput) as info:
        save_key(path, SUITE.signer(OTHER_SECRET), PLAIN)
    assert str(path) in info.value.message
    assert "refusing to overwrite" in info.value.message
    assert path.read_bytes() == before
    assert load_key(path).secret_key() == SECRET


def test_save_key_refuses_to_overwrite_any_existing_file(tmp_path: Path) -> None:
    path = write(tmp_path / "notes.txt", b"not a key")
    with pytest.raises(InvalidInput, match="refusing to overwrite"):
        save_key(path, SUITE.signer(SECRET), PLAIN)
    assert path.read_bytes() == b"not a key"


def test_load_key_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "node.json"
    signer = generate_key()
    save_key(path, signer, PLAIN)
    loaded = load_key(path)
    assert loaded.suite.name == "ed25519-sha256"
    assert loaded.secret_key() == signer.secret_key()
    assert loaded.public_key == signer.public_key
    assert loaded.address == signer.address
    assert SUITE.verify(signer.public_key, b"m", loaded.sign(b"m")) is True


def test_load_key_reads_a_hand_written_file(tmp_path: Path) -> None:
    loaded = load_key(write(tmp_path / "node.json", key_document()))
    assert loaded.public_key == SUITE.signer(SECRET).public_key


def test_missing_file_is_refused(tmp_path: Path) -> None:
    assert_refused(tmp_path / "absent.json", "cannot read key file")


def test_directory_is_refused(tmp_path: Path) -> None:
    assert_refused(tmp_path, "cannot read key file")


@pytest.mark.parametrize(
    "content",
    [b"", b"not json", b"{", b"\xff\xfe", b"[]", b"null", b'"key"'],
    ids=["empty", "text", "truncated", "binary", "array", "null", "string"],
)
def test_non_json_or_non_object_is_refused(tmp_path: Path, content: bytes) -> None:
    assert_refused(write(tmp_path / "node.json", content), "not a jinqiao key file")


def test_unknown_field_is_refused(tmp_path: Path) -> None:
    document = {**key_document(), "comment": "hello"}
    assert_refused(write(tmp_path / "node.json", document), "unknown field", "comment")


@pytest.mark.parametrize("field", ["suite", "address", "public_key", "secret_key"])
def test_missing_field_is_refused(tmp_path: Path, field: str) -> None:
    document = key_document()
    del document[field]
    assert_refused(write(tmp_path / "node.json", document), field)


def test_wrong_type_is_refused(tmp_path: Path) -> None:
    document = {**key_document(), "secret_key": 12}
    assert_refused(write(tmp_path / "node.json", document), "secret_key")


def test_wrong_suite_is_refused(tmp_path: Path) -> None:
    document = {**key_document(), "suite": "sm9-sm3"}
    assert_refused(write(tmp_path / "node.json", document), "sm9-sm3")
    # An Ed25519 key labelled SM2: the SM2 public key of that secret is another.
    document = {**key_document(), "suite": "sm2-sm3"}
    assert_refused(write(tmp_path / "sm2.json", document), "does not match the secret key")


def test_secret_that_is_not_hex_is_refused(tmp_path: Path) -> None:
    document = {**key_document(), "secret_key": "zz" * 32}
    assert_refused(write(tmp_path / "node.json", document), "not a jinqiao key file")


def test_secret_of_wrong_length_is_refused(tmp_path: Path) -> None:
    document = {**key_document(), "secret_key": SECRET[:31].hex()}
    assert_refused(write(tmp_path / "node.json", document), "32 bytes")


def test_public_key_that_does_not_match_the_secret_is_refused(tmp_path: Path) -> None:
    document = {**key_document(), "public_key": SUITE.signer(OTHER_SECRET).public_key.hex()}
    assert_refused(write(tmp_path / "node.json", document), "does not match")


def test_address_that_does_not_match_the_secret_is_refused(tmp_path: Path) -> None:
    document = {**key_document(), "address": SUITE.signer(OTHER_SECRET).address.hex()}
    assert_refused(write(tmp_path / "node.json", document), "does not match")


def test_oversize_file_is_refused(tmp_path: Path) -> None:
    document = json.dumps(key_document()).encode()
    padded = document + b" " * (MAX_KEY_FILE_BYTES + 1 - len(document))
    assert len(padded) == MAX_KEY_FILE_BYTES + 1
    assert_refused(write(tmp_path / "node.json", padded), "too large")
    at_limit = document + b" " * (MAX_KEY_FILE_BYTES - len(document))
    assert load_key(write(tmp_path / "fits.json", at_limit)).secret_key() == SECRET
