"""`jinqiao node next-key` on a real network directory (docs/keys.md "Rotation"): it makes the
validator's next key and names it `next_validator_key_file` in config.json, keeping the rest of
the file; it takes a key file made beforehand; and it refuses, writing nothing, a key of another
suite, the current key, a genesis validator's key, a second next key and an observer's home. A
node opened on the home holds both keys."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from jinqiao.keys import InsecurePlaintext, generate_key, load_key, save_key
from jinqiao.node.config import load_config
from jinqiao.node.service import Node
from tests.helpers.cli import invoke
from tests.helpers.process import make_network


@pytest.fixture
def home(tmp_path: Path) -> Path:
    layout = make_network(tmp_path, validators=2)
    return tmp_path / layout.nodes[0].home


def next_key(home: Path, *options: str) -> tuple[int, str, str]:
    return invoke("node", "next-key", "--home", str(home), "--insecure-plaintext", *options)


def test_the_next_key_is_made_and_named_in_the_configuration(home: Path) -> None:
    before = json.loads((home / "config.json").read_text())
    code, out, err = next_key(home, "--json")
    assert code == 0, err
    answer = json.loads(out)
    key = load_key(home / "next_validator_key.json")
    current = load_key(home / "validator_key.json")
    assert (answer["address"], answer["public_key"]) == (key.address.hex(), key.public_key.hex())
    assert answer["validator_address"] == current.address.hex()
    assert f"--public-key {key.public_key.hex()}" in answer["propose"]
    after = json.loads((home / "config.json").read_text())
    assert after == {**before, "next_validator_key_file": "next_validator_key.json"}
    assert (home / "next_validator_key.json").stat().st_mode & 0o777 == 0o600
    node = Node(home)
    try:
        assert node.next_signer is not None and node.next_signer.address == key.address
        assert node.validator_address == current.address
        records = sorted(path.name for path in (home / "consensus").iterdir())
        assert records == [f"safety-{key.address.hex()}.record"]
    finally:
        node.store.close()


def test_a_key_made_beforehand_is_taken_as_it_is(home: Path) -> None:
    signer = generate_key("ed25519-sha256")
    save_key(home / "hsm-or-other.json", signer, InsecurePlaintext())
    code, out, err = invoke(
        "node", "next-key", "--home", str(home), "--key-file", "hsm-or-other.json"
    )
    assert code == 0, err
    assert signer.address.hex() in out
    assert load_config(home).next_validator_key_file == "hsm-or-other.json"


def test_bad_next_keys_are_refused_and_nothing_is_written(home: Path) -> None:
    config = (home / "config.json").read_bytes()
    save_key(home / "sm2.json", generate_key("sm2-sm3"), InsecurePlaintext())
    shutil.copy(home / "validator_key.json", home / "copy.json")
    [other_home] = [path for path in home.parent.iterdir() if path != home]
    shutil.copy(other_home / "validator_key.json", home / "other.json")
    for key_file, message in (
        ("sm2.json", "sm2-sm3 key; this network signs with ed25519-sha256"),
        ("copy.json", "current validator key"),
        ("validator_key.json", "current validator key"),
        ("other.json", "key of genesis validator"),
    ):
        code, _, err = next_key(home, "--key-file", key_file)
        assert code != 0 and message in err, (key_file, err)
        assert (home / "config.json").read_bytes() == config
    assert next_key(home)[0] == 0
    code, _, err = next_key(home, "--key-file", "sm2.json")
    assert code != 0 and "already names a next key" in err


def test_an_observer_has_no_key_to_replace(home: Path) -> None:
    document = json.loads((home / "config.json").read_text())
    (home / "config.json").write_text(json.dumps({**document, "observer": True}))
    save_key(home / "next.json", generate_key("ed25519-sha256"), InsecurePlaintext())
    code, _, err = invoke("node", "next-key", "--home", str(home), "--key-file", "next.json")
    assert code != 0 and "observer" in err
