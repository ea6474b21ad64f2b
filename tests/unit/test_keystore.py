"""Encrypted key files (src/jinqiao/keys/keystore.py) and where passphrases come from
(src/jinqiao/keys/passphrase.py): sealed with scrypt + ChaCha20-Poly1305, identified without
unlocking, tamper-evident, bounded KDF parameters, a wrong passphrase refused after the KDF's
cost, migration from plaintext in place — and every refusal leaves the file as it was."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path
from typing import Any

import pytest

from jinqiao.core.crypto import get_suite
from jinqiao.core.errors import InvalidInput
from jinqiao.keys import (
    Encrypted,
    InsecurePlaintext,
    PassphraseSource,
    load_key,
    migrate_key,
    read_key_info,
    save_key,
)
from jinqiao.keys.keystore import SCRYPT_BOUNDS, ScryptParameters, seal, unseal
from jinqiao.keys.passphrase import (
    ENV_PASSPHRASE,
    ENV_PASSPHRASE_FD,
    ENV_PASSPHRASE_FILE,
    read_secret_line,
)

SUITE = get_suite("ed25519-sha256")
SECRET = bytes(range(32))
PASSPHRASE = b"correct horse battery staple"
FAST = ScryptParameters(log2_n=14)
"""The lowest cost the bounds allow: the tests check behaviour, not strength."""


@pytest.fixture(autouse=True)
def no_ambient_passphrase(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (ENV_PASSPHRASE, ENV_PASSPHRASE_FD, ENV_PASSPHRASE_FILE):
        monkeypatch.delenv(name, raising=False)
    # A descriptor is read once per process; a test's pipe may reuse an earlier test's number.
    monkeypatch.setattr("jinqiao.keys.passphrase._descriptor_values", {})


def sealed_file(tmp_path: Path, kdf: ScryptParameters = FAST) -> Path:
    path = tmp_path / "alice.json"
    save_key(path, SUITE.signer(SECRET), Encrypted(PASSPHRASE, kdf))
    return path


def rewrite(path: Path, change: dict[str, Any]) -> bytes:
    document = json.loads(path.read_bytes())
    for dotted, value in change.items():
        target = document
        *parents, leaf = dotted.split(".")
        for parent in parents:
            target = target[parent]
        target[leaf] = value
    path.write_text(json.dumps(document))
    return path.read_bytes()


def refused(path: Path, passphrase: bytes, *fragments: str) -> None:
    before = path.read_bytes()
    with pytest.raises(InvalidInput) as info:
        load_key(path, passphrase)
    assert str(path) in info.value.message
    for fragment in fragments:
        assert fragment in info.value.message
    assert SECRET.hex() not in info.value.message
    assert PASSPHRASE.decode() not in info.value.message
    assert path.read_bytes() == before


def test_a_keystore_round_trips_and_shows_only_public_parts(tmp_path: Path) -> None:
    path = sealed_file(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert SECRET.hex() not in text
    document = json.loads(text)
    signer = SUITE.signer(SECRET)
    assert document["format"] == "jinqiao-keystore-v1"
    assert document["suite"] == "ed25519-sha256"
    assert document["address"] == signer.address.hex()
    assert document["public_key"] == signer.public_key.hex()
    assert document["kdf"]["name"] == "scrypt" and document["kdf"]["log2_n"] == 14
    assert document["cipher"]["name"] == "chacha20-poly1305"
    info = read_key_info(path)
    assert (info.kind, info.address) == ("encrypted", signer.address.hex())
    loaded = load_key(path, PASSPHRASE)
    assert loaded.secret_key() == SECRET
    assert SUITE.verify(signer.public_key, b"m", loaded.sign(b"m"))


def test_two_seals_of_one_key_differ(tmp_path: Path) -> None:
    first = seal(SUITE.signer(SECRET), PASSPHRASE, FAST)
    second = seal(SUITE.signer(SECRET), PASSPHRASE, FAST)
    assert first.kdf.salt != second.kdf.salt
    assert first.cipher.nonce != second.cipher.nonce
    assert first.ciphertext != second.ciphertext


def test_the_default_cost_is_recorded(tmp_path: Path) -> None:
    keystore = seal(SUITE.signer(SECRET), PASSPHRASE)
    assert (keystore.kdf.log2_n, keystore.kdf.r, keystore.kdf.p) == (17, 8, 1)


def test_a_wrong_passphrase_is_refused_after_the_kdf_cost(tmp_path: Path) -> None:
    path = sealed_file(tmp_path, ScryptParameters(log2_n=16))
    started = time.perf_counter()
    load_key(path, PASSPHRASE)
    right_s = time.perf_counter() - started
    started = time.perf_counter()
    refused(path, b"wrong passphrase!", "wrong passphrase", "authentication failed")
    wrong_s = time.perf_counter() - started
    # The refusal comes only after the full key derivation: as slow as a right guess.
    assert wrong_s > 0.5 * right_s


@pytest.mark.parametrize(
    "change",
    [
        {"address": SUITE.signer(bytes(32)).address.hex()},
        {"public_key": SUITE.signer(bytes(32)).public_key.hex()},
        {"kdf.r": 9},
        {"kdf.salt": "00" * 16},
        {"cipher.nonce": "00" * 12},
    ],
    ids=["address", "public_key", "kdf-r", "salt", "nonce"],
)
def test_a_changed_clear_field_is_detected(tmp_path: Path, change: dict[str, Any]) -> None:
    path = sealed_file(tmp_path)
    rewrite(path, change)
    refused(path, PASSPHRASE, "authentication failed")


def test_a_changed_ciphertext_is_detected(tmp_path: Path) -> None:
    path = sealed_file(tmp_path)
    ciphertext = bytearray(bytes.fromhex(json.loads(path.read_bytes())["ciphertext"]))
    ciphertext[0] ^= 1
    rewrite(path, {"ciphertext": ciphertext.hex()})
    refused(path, PASSPHRASE, "authentication failed")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("log2_n", 30),
        ("log2_n", 13),
        ("r", 1),
        ("r", 1000),
        ("p", 0),
        ("p", 64),
    ],
)
def test_a_kdf_parameter_out_of_range_is_refused_before_any_work(
    tmp_path: Path, field: str, value: int
) -> None:
    path = sealed_file(tmp_path)
    rewrite(path, {f"kdf.{field}": value})
    low, high = SCRYPT_BOUNDS[field]
    started = time.perf_counter()
    refused(path, PASSPHRASE, f"KDF parameter {field}={value} is out of range {low}..{high}")
    assert time.perf_counter() - started < 0.05


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kdf.name": "pbkdf2"}, "unsupported KDF 'pbkdf2'"),
        ({"kdf.salt": "00"}, "KDF salt must be 16 bytes"),
        ({"cipher.name": "aes-128-cbc"}, "unsupported cipher 'aes-128-cbc'"),
        ({"cipher.nonce": "00"}, "nonce must be 12 bytes"),
        ({"ciphertext": "zz"}, "not hex"),
        ({"format": "jinqiao-keystore-v9"}, "unknown key file format"),
        ({"kdf.cost": 3}, "unknown field"),
    ],
)
def test_a_malformed_keystore_is_refused(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    path = sealed_file(tmp_path)
    rewrite(path, change)
    refused(path, PASSPHRASE, message)


def test_unseal_checks_the_secret_against_the_clear_public_key() -> None:
    keystore = seal(SUITE.signer(SECRET), PASSPHRASE, FAST)
    assert unseal(keystore, PASSPHRASE).public_key == SUITE.signer(SECRET).public_key
    with pytest.raises(InvalidInput, match="empty"):
        unseal(keystore, b"")


def test_an_encrypted_key_without_any_passphrase_source_is_a_clear_error(tmp_path: Path) -> None:
    path = sealed_file(tmp_path)
    with pytest.raises(InvalidInput, match=f"needs a passphrase: set {ENV_PASSPHRASE}"):
        load_key(path)


def test_passphrase_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = sealed_file(tmp_path)
    monkeypatch.setenv(ENV_PASSPHRASE, PASSPHRASE.decode())
    assert load_key(path).secret_key() == SECRET
    monkeypatch.setenv("MY_PASSPHRASE", PASSPHRASE.decode())
    monkeypatch.setenv(ENV_PASSPHRASE, "not it at all")
    assert load_key(path, PassphraseSource(env="MY_PASSPHRASE")).secret_key() == SECRET
    with pytest.raises(InvalidInput, match="MISSING_VARIABLE is not set"):
        load_key(path, PassphraseSource(env="MISSING_VARIABLE"))


def test_passphrase_from_a_file_descriptor(tmp_path: Path) -> None:
    path = sealed_file(tmp_path)
    reading, writing = os.pipe()
    os.write(writing, PASSPHRASE + b"\nnext line stays unread")
    os.close(writing)
    try:
        assert load_key(path, PassphraseSource(fd=reading)).secret_key() == SECRET
        # Read once per process: a second key opened with the same descriptor gets the same.
        assert load_key(path, PassphraseSource(fd=reading)).secret_key() == SECRET
        assert os.read(reading, 100) == b"next line stays unread"
    finally:
        os.close(reading)


def test_passphrase_from_a_file_and_its_errors(tmp_path: Path) -> None:
    path = sealed_file(tmp_path)
    passphrase_file = tmp_path / "passphrase"
    passphrase_file.write_bytes(PASSPHRASE + b"\n")
    assert load_key(path, PassphraseSource(file=passphrase_file)).secret_key() == SECRET
    with pytest.raises(InvalidInput, match="cannot read the passphrase file"):
        load_key(path, PassphraseSource(file=tmp_path / "absent"))
    with pytest.raises(InvalidInput, match="at most one of"):
        PassphraseSource(env="A", file=passphrase_file)


def test_a_new_passphrase_must_not_be_short(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHORT", "1234567")
    with pytest.raises(InvalidInput, match="at least 8 characters"):
        PassphraseSource(env="SHORT").read("new key", new=True)
    monkeypatch.setenv("LONG", "12345678")
    assert PassphraseSource(env="LONG").read("new key", new=True) == b"12345678"


def test_a_secret_line_is_read_without_its_newline() -> None:
    reading, writing = os.pipe()
    os.write(writing, b"abc\r\nrest")
    os.close(writing)
    try:
        assert read_secret_line(reading) == b"abc"
    finally:
        os.close(reading)


def test_migrate_encrypts_a_plaintext_file_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    save_key(path, SUITE.signer(SECRET), InsecurePlaintext())
    info = migrate_key(path, Encrypted(PASSPHRASE, FAST))
    assert info.kind == "encrypted"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert SECRET.hex() not in path.read_text()
    assert read_key_info(path).address == SUITE.signer(SECRET).address.hex()
    assert load_key(path, PASSPHRASE).secret_key() == SECRET
    assert [p.name for p in tmp_path.iterdir()] == ["old.json"]  # no plaintext copy left
    before = path.read_bytes()
    with pytest.raises(InvalidInput, match="already encrypted; nothing to migrate"):
        migrate_key(path, Encrypted(PASSPHRASE, FAST))
    assert path.read_bytes() == before


SM2 = get_suite("sm2-sm3")
SM2_SECRET = bytes.fromhex("3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8")
"""The signer's secret of GM/T 0003.5's signature example: a valid SM2 secret key."""


def test_an_sm2_key_is_sealed_in_the_same_keystore_format(tmp_path: Path) -> None:
    path = tmp_path / "sm2.json"
    signer = SM2.signer(SM2_SECRET)
    save_key(path, signer, Encrypted(PASSPHRASE, FAST))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert SM2_SECRET.hex() not in text
    document = json.loads(text)
    assert document["format"] == "jinqiao-keystore-v1" and document["suite"] == "sm2-sm3"
    assert document["public_key"] == signer.public_key.hex() and len(signer.public_key) == 65
    assert document["cipher"]["name"] == "chacha20-poly1305" and document["kdf"]["name"] == "scrypt"
    assert len(bytes.fromhex(document["ciphertext"])) == 32 + 16  # the secret and the AEAD tag
    info = read_key_info(path)
    assert (info.kind, info.suite, info.address) == ("encrypted", "sm2-sm3", signer.address.hex())
    loaded = load_key(path, PASSPHRASE)
    assert loaded.suite is SM2 and loaded.secret_key() == SM2_SECRET
    assert SM2.verify(signer.public_key, b"m", loaded.sign(b"m"))
    before = path.read_bytes()
    with pytest.raises(InvalidInput, match="wrong passphrase"):
        load_key(path, b"wrong passphrase!")
    assert path.read_bytes() == before


def test_an_sm2_keystore_relabelled_ed25519_is_refused(tmp_path: Path) -> None:
    """The suite is a clear field bound to the ciphertext: relabelling is tampering."""
    path = tmp_path / "sm2.json"
    save_key(path, SM2.signer(SM2_SECRET), Encrypted(PASSPHRASE, FAST))
    rewrite(path, {"suite": "ed25519-sha256"})
    before = path.read_bytes()
    with pytest.raises(InvalidInput, match="authentication failed"):
        load_key(path, PASSPHRASE)
    assert path.read_bytes() == before


def test_migrate_encrypts_a_plaintext_sm2_key(tmp_path: Path) -> None:
    path = tmp_path / "old-sm2.json"
    save_key(path, SM2.signer(SM2_SECRET), InsecurePlaintext())
    info = migrate_key(path, Encrypted(PASSPHRASE, FAST))
    assert (info.kind, info.suite) == ("encrypted", "sm2-sm3")
    assert SM2_SECRET.hex() not in path.read_text()
    assert load_key(path, PASSPHRASE).secret_key() == SM2_SECRET


def test_an_empty_explicit_passphrase_is_refused_not_passed_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An explicit source that yields nothing is a mistake to report, not a reason to take the
    environment's passphrase (or a prompt's) instead."""
    path = sealed_file(tmp_path)
    monkeypatch.setenv(ENV_PASSPHRASE, PASSPHRASE.decode())  # would open the key
    empty_file = tmp_path / "empty"
    empty_file.write_bytes(b"\n")
    monkeypatch.setenv("EMPTY_PASSPHRASE", "")
    reading, writing = os.pipe()
    os.write(writing, b"\n")
    os.close(writing)
    try:
        for source, named in [
            (PassphraseSource(file=empty_file), f"from {empty_file}"),
            (PassphraseSource(env="EMPTY_PASSPHRASE"), "from $EMPTY_PASSPHRASE"),
            (PassphraseSource(fd=reading), f"from file descriptor {reading}"),
        ]:
            with pytest.raises(InvalidInput) as info:
                load_key(path, source)
            assert info.value.message == f"the passphrase for key {path} {named} is empty"
            with pytest.raises(InvalidInput, match="is empty"):
                source.read("new key", new=True)
    finally:
        os.close(reading)


@pytest.mark.parametrize("variable", [ENV_PASSPHRASE, ENV_PASSPHRASE_FILE, ENV_PASSPHRASE_FD])
def test_an_empty_passphrase_from_the_environment_is_refused_not_prompted_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    path = sealed_file(tmp_path)
    empty_file = tmp_path / "empty"
    empty_file.write_bytes(b"")
    reading, writing = os.pipe()
    os.close(writing)
    value = {ENV_PASSPHRASE: "", ENV_PASSPHRASE_FILE: str(empty_file)}.get(variable, str(reading))
    monkeypatch.setenv(variable, value)
    # On a terminal, a prompt would answer with the right passphrase: it must not be asked.
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("getpass.getpass", lambda prompt: PASSPHRASE.decode())
    try:
        with pytest.raises(InvalidInput, match=f"key {path} from .* is empty"):
            load_key(path)
    finally:
        os.close(reading)
