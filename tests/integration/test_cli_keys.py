"""``jinqiao keys create|import|export-public|migrate`` as an operator runs them: a real process,
passphrases from an environment variable, a file descriptor or a file (never an argument), the
secret never printed, and one clear line for each refusal with nothing changed."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from jinqiao.core.crypto import get_suite
from jinqiao.keys import InsecurePlaintext, load_key, read_key_info, save_key
from jinqiao.keys.passphrase import ENV_PASSPHRASE, ENV_PASSPHRASE_FD, ENV_PASSPHRASE_FILE
from tests.helpers.process import make_network

SUITE = get_suite("ed25519-sha256")
SECRET = bytes(range(100, 132))
PASSPHRASE = "a passphrase for the tests"
FAST = ("--scrypt-log2-n", "14")


def jinqiao(
    *args: str,
    environment: dict[str, str] | None = None,
    stdin: bytes = b"",
    pass_fds: tuple[int, ...] = (),
) -> subprocess.CompletedProcess[str]:
    base = {
        name: value
        for name, value in os.environ.items()
        if name not in (ENV_PASSPHRASE, ENV_PASSPHRASE_FD, ENV_PASSPHRASE_FILE)
    }
    result = subprocess.run(
        [sys.executable, "-m", "jinqiao", *args],
        input=stdin,
        capture_output=True,
        env={**base, **(environment or {})},
        pass_fds=pass_fds,
        timeout=120,
        check=False,
    )
    return subprocess.CompletedProcess(
        result.args, result.returncode, result.stdout.decode(), result.stderr.decode()
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert result.returncode == 1, result
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_create_encrypts_by_default_and_export_public_needs_no_passphrase(tmp_path: Path) -> None:
    path = tmp_path / "alice.json"
    created = jinqiao(
        "keys",
        "create",
        str(path),
        "--passphrase-env",
        "ALICE_PASSPHRASE",
        *FAST,
        "--json",
        environment={"ALICE_PASSPHRASE": PASSPHRASE},
    )
    assert created.returncode == 0, created.stderr
    shown = json.loads(created.stdout)
    assert shown["kind"] == "encrypted"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    exported = jinqiao("keys", "export-public", str(path), "--json")
    assert json.loads(exported.stdout) == shown
    signer = load_key(path, PASSPHRASE.encode())
    assert signer.address.hex() == shown["address"]
    for output in (created.stdout, created.stderr, exported.stdout):
        assert signer.secret_key().hex() not in output and PASSPHRASE not in output


def test_create_without_a_passphrase_or_with_a_short_one_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    assert_one_line_error(jinqiao("keys", "create", str(path)), "needs a passphrase")
    assert_one_line_error(
        jinqiao("keys", "create", str(path), environment={ENV_PASSPHRASE: "short"}),
        "at least 8 characters",
    )
    assert_one_line_error(
        jinqiao(
            "keys",
            "create",
            str(path),
            "--insecure-plaintext",
            "--passphrase-env",
            "X",
            environment={"X": PASSPHRASE},
        ),
        "--insecure-plaintext takes no passphrase",
    )
    assert not path.exists()


def test_import_reads_the_secret_on_stdin_and_the_passphrase_on_a_descriptor(
    tmp_path: Path,
) -> None:
    path = tmp_path / "imported.json"
    reading, writing = os.pipe()
    os.write(writing, PASSPHRASE.encode() + b"\n")
    os.close(writing)
    try:
        result = jinqiao(
            "keys",
            "import",
            str(path),
            "--passphrase-fd",
            str(reading),
            *FAST,
            "--json",
            stdin=SECRET.hex().encode() + b"\n",
            pass_fds=(reading,),
        )
    finally:
        os.close(reading)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["address"] == SUITE.signer(SECRET).address.hex()
    assert SECRET.hex() not in result.stdout + result.stderr
    assert load_key(path, PASSPHRASE.encode()).secret_key() == SECRET


def test_import_refuses_a_secret_that_is_not_hex(tmp_path: Path) -> None:
    path = tmp_path / "imported.json"
    result = jinqiao(
        "keys",
        "import",
        str(path),
        *FAST,
        stdin=b"not hex at all\n",
        environment={ENV_PASSPHRASE: PASSPHRASE},
    )
    assert_one_line_error(result, "must be hexadecimal")
    assert not path.exists()


def test_migrate_encrypts_plaintext_files_in_place(tmp_path: Path) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    save_key(first, SUITE.signer(SECRET), InsecurePlaintext())
    save_key(second, SUITE.signer(bytes(32)), InsecurePlaintext())
    passphrase_file = tmp_path / "passphrase"
    passphrase_file.write_text(PASSPHRASE + "\n")
    result = jinqiao(
        "keys",
        "migrate",
        str(first),
        str(second),
        "--passphrase-file",
        str(passphrase_file),
        *FAST,
    )
    assert result.returncode == 0, result.stderr
    for path in (first, second):
        assert read_key_info(path).kind == "encrypted"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key(first, PASSPHRASE.encode()).secret_key() == SECRET
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.json", "passphrase"]


def test_migrate_changes_nothing_when_one_file_is_not_plaintext(tmp_path: Path) -> None:
    plain, sealed = tmp_path / "plain.json", tmp_path / "sealed.json"
    save_key(plain, SUITE.signer(SECRET), InsecurePlaintext())
    created = jinqiao(
        "keys", "create", str(sealed), *FAST, environment={ENV_PASSPHRASE: PASSPHRASE}
    )
    assert created.returncode == 0
    before = plain.read_bytes(), sealed.read_bytes()
    result = jinqiao(
        "keys", "migrate", str(plain), str(sealed), environment={ENV_PASSPHRASE: PASSPHRASE}
    )
    assert_one_line_error(result, "is already encrypted; nothing was migrated")
    assert (plain.read_bytes(), sealed.read_bytes()) == before


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kdf": {"log2_n": 40}}, "KDF parameter log2_n=40 is out of range 14..20"),
        ({"address": "00" * 20}, "wrong passphrase, or the file was altered"),
    ],
    ids=["kdf-out-of-range", "tampered"],
)
def test_a_command_using_a_bad_keystore_fails_in_one_line(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    path = tmp_path / "k.json"
    assert jinqiao("keys", "create", str(path), *FAST, environment={ENV_PASSPHRASE: PASSPHRASE})
    document = json.loads(path.read_bytes())
    for field, value in change.items():
        if isinstance(value, dict):
            document[field].update(value)
        else:
            document[field] = value
    path.write_text(json.dumps(document))
    before = path.read_bytes()
    make_network(tmp_path / "net")  # a genesis to name; no node runs: the key fails first
    result = jinqiao(
        "tx",
        "token",
        "transfer",
        "00" * 20,
        "1",
        "--key",
        str(path),
        "--url",
        "http://127.0.0.1:9",
        "--genesis",
        str(tmp_path / "net" / "genesis.json"),
        environment={ENV_PASSPHRASE: PASSPHRASE},
    )
    assert_one_line_error(result, message)
    assert path.read_bytes() == before


def test_init_refuses_an_unknown_existing_key_name_and_writes_nothing(tmp_path: Path) -> None:
    key = tmp_path / "k.json"
    save_key(key, SUITE.signer(SECRET), InsecurePlaintext())
    directory = tmp_path / "net"
    result = jinqiao(
        "init", str(directory), "--insecure-plaintext", "--existing-key", f"nobody={key}"
    )
    assert_one_line_error(result, "no account or node named 'nobody'")
    assert not directory.exists() or not any(directory.iterdir())
    result = jinqiao("init", str(directory))
    assert_one_line_error(result, "needs a passphrase")
    assert not directory.exists() or not any(directory.iterdir())


def test_an_empty_passphrase_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    """An empty --passphrase-file is refused, though the environment holds a passphrase that
    would do: the explicit source is what the operator meant."""
    empty = tmp_path / "empty"
    empty.write_text("\n")
    path = tmp_path / "k.json"
    result = jinqiao(
        "keys",
        "create",
        str(path),
        *FAST,
        "--passphrase-file",
        str(empty),
        environment={ENV_PASSPHRASE: PASSPHRASE},
    )
    assert_one_line_error(result, f"the passphrase for new key {path} from {empty} is empty")
    assert not path.exists()
    result = jinqiao("keys", "create", str(path), *FAST, environment={ENV_PASSPHRASE: ""})
    assert_one_line_error(result, f"from ${ENV_PASSPHRASE} is empty")
    assert not path.exists()
