"""A validator's next consensus key named in its node's configuration (``jinqiao node
next-key``; docs/keys.md "Rotation"): the key file is checked — the network's suite, not the
current validator key, not already a validator's — and ``next_validator_key_file`` is written
into ``<home>/config.json`` (the rest of the file kept as it is), atomically. The node opens the
next key at its next start; governance's ``replace_validator_key`` then puts it in the set."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import msgspec

from jinqiao.core.errors import InvalidInput
from jinqiao.core.genesis import load_genesis
from jinqiao.fileio import save_atomically
from jinqiao.keys import KeyInfo, read_key_info
from jinqiao.node.config import MAX_CONFIG_BYTES, NodeConfig, load_config

__all__ = ["NextKey", "name_next_validator_key"]


@dataclass(frozen=True)
class NextKey:
    """The validator (its current address, name and organization) and its next key."""

    validator_address: str
    validator_name: str
    organization: str
    key_file: Path
    key: KeyInfo


def name_next_validator_key(home: Path, key_file: str) -> NextKey:
    """Check the key at ``home / key_file`` and name it the node's next validator key; a clear
    ``InvalidInput`` and nothing written for anything wrong."""
    config = load_config(home)
    if config.observer:
        raise InvalidInput("this node is an observer: it has no validator key to replace")
    if config.next_validator_key_file and config.next_validator_key_file != key_file:
        raise InvalidInput(
            f"this node already names a next key, {config.next_validator_key_file!r}: replace "
            "the validator's key with it first, or remove it from config.json"
        )
    if key_file == config.validator_key_file:
        raise InvalidInput(f"{key_file} is the node's current validator key")
    genesis = load_genesis((home / "genesis.json").read_bytes())
    current = read_key_info(home / config.validator_key_file)
    path = home / key_file
    key = read_key_info(path)
    if key.suite != genesis.suite.name:
        raise InvalidInput(
            f"{path} is a {key.suite} key; this network signs with {genesis.suite.name}"
        )
    if key.address == current.address:
        raise InvalidInput(f"{path} holds the node's current validator key")
    validators = {v.address.hex(): v for v in genesis.validator_set().validators}
    if key.address in validators:
        name = validators[key.address].name
        raise InvalidInput(f"{path} holds the key of genesis validator {name}")
    validator = validators.get(current.address)
    _write_config(home, key_file)
    return NextKey(
        current.address,
        config.name if validator is None else validator.name,
        "" if validator is None else validator.organization,
        path,
        key,
    )


def _write_config(home: Path, key_file: str) -> None:
    path = home / "config.json"
    document = json.loads(path.read_bytes())
    document["next_validator_key_file"] = key_file
    data = json.dumps(document, indent=2).encode() + b"\n"
    if len(data) > MAX_CONFIG_BYTES:
        raise InvalidInput(f"{path} would be over {MAX_CONFIG_BYTES} bytes")
    msgspec.json.decode(data, type=NodeConfig).check()
    save_atomically(path, data, mode=path.stat().st_mode & 0o777, error=InvalidInput)
