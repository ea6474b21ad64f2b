"""The genesis document: the network's founding organizations, their administrators, the
validators, the chain parameters and each contract's initial configuration.

Genesis is JSON for people to read and review. Keys and addresses are lowercase hex. ``load`` is
strict (unknown fields, bad hex, duplicates, impossible parameters are refused with a message that
names the field) and ``genesis_hash`` hashes the canonical encoding, so two nodes can compare the
genesis they run with one short string.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from jinqiao.core.crypto import CryptoSuite, Ed25519Sha256, ed25519_public_key_problem, get_suite
from jinqiao.core.errors import InvalidInput
from jinqiao.core.limits import (
    MAX_BLOCK_TRANSACTIONS,
    MAX_GENESIS_BYTES,
    MAX_NAME_LENGTH,
    MAX_VALID_UNTIL_WINDOW_BLOCKS,
    MAX_VALIDATOR_POWER,
    MAX_VALIDATORS,
)
from jinqiao.core.names import check_name
from jinqiao.core.types import Validator, ValidatorSet

IDENTIFIER = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
ADMIN_ROLE = "admin"
REGULATOR_ROLE = "regulator"


class _GenesisStruct(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    pass


class GenesisOrganization(_GenesisStruct, frozen=True):
    id: str
    name: str
    roles: tuple[str, ...] = ()
    tls_ca_certificate: str = ""
    """PEM of the organization's TLS root; its nodes' certificates chain to it."""


class GenesisAccount(_GenesisStruct, frozen=True):
    name: str
    organization: str
    public_key: str
    roles: tuple[str, ...] = ()


class GenesisValidator(_GenesisStruct, frozen=True):
    name: str
    organization: str
    public_key: str
    power: int = 1


class ChainParameters(_GenesisStruct, frozen=True):
    """Parameters governance may change. Each has a hard ceiling in ``core.limits``."""

    valid_until_window_blocks: int = 1_000
    block_max_transactions: int = 2_000
    governance_quorum_numerator: int = 2
    governance_quorum_denominator: int = 3
    proposal_lifetime_blocks: int = 100_000

    def check(self) -> None:
        if not 1 <= self.valid_until_window_blocks <= MAX_VALID_UNTIL_WINDOW_BLOCKS:
            raise InvalidInput(
                f"valid_until_window_blocks must be 1..{MAX_VALID_UNTIL_WINDOW_BLOCKS}"
            )
        if not 1 <= self.block_max_transactions <= MAX_BLOCK_TRANSACTIONS:
            raise InvalidInput(f"block_max_transactions must be 1..{MAX_BLOCK_TRANSACTIONS}")
        if not 0 < self.governance_quorum_numerator <= self.governance_quorum_denominator:
            raise InvalidInput("governance quorum must be a fraction in (0, 1]")
        if self.governance_quorum_denominator > 1_000:
            raise InvalidInput("governance_quorum_denominator must be at most 1000")
        if not 1 <= self.proposal_lifetime_blocks <= 10_000_000:
            raise InvalidInput("proposal_lifetime_blocks must be 1..10000000")


class Genesis(_GenesisStruct, frozen=True):
    chain_id: str
    genesis_time_ms: int
    organizations: tuple[GenesisOrganization, ...]
    accounts: tuple[GenesisAccount, ...]
    validators: tuple[GenesisValidator, ...]
    crypto_suite: str = "ed25519-sha256"
    parameters: ChainParameters = ChainParameters()
    contracts: dict[str, dict[str, Any]] = {}

    @property
    def suite(self) -> CryptoSuite:
        return get_suite(self.crypto_suite)

    def validator_set(self) -> ValidatorSet:
        """The genesis validators, sorted by address: the order governance keeps in state, so
        this set and the one in state at height 0 hash the same."""
        suite = self.suite
        validators = []
        for validator in self.validators:
            public_key = bytes.fromhex(validator.public_key)
            validators.append(
                Validator(
                    address=suite.address(public_key),
                    public_key=public_key,
                    power=validator.power,
                    organization=validator.organization,
                    name=validator.name,
                )
            )
        return ValidatorSet(tuple(sorted(validators, key=lambda validator: validator.address)))


LOWERCASE_HEX = re.compile(r"[0-9a-f]*")


def _hex_key(value: str, where: str, suite: CryptoSuite) -> bytes:
    if not LOWERCASE_HEX.fullmatch(value):
        raise InvalidInput(f"{where}: public_key is not hex (lowercase 0-9a-f only)")
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise InvalidInput(f"{where}: public_key is not hex") from None
    try:
        suite.check_public_key(raw)
    except InvalidInput as exc:
        raise InvalidInput(f"{where}: {exc.message}") from None
    return raw


def _check_key_point(key: bytes, where: str, suite: CryptoSuite) -> None:
    """Refuse a key no signature can verify under (docs/proofs.md §3.1): for Ed25519, a point
    of small order, a non-canonical encoding or a point off the curve."""
    if suite.name == Ed25519Sha256.name:
        problem = ed25519_public_key_problem(key)
        if problem is not None:
            raise InvalidInput(f"{where}: {problem}")


def _check_identifier(value: str, where: str) -> None:
    if not IDENTIFIER.fullmatch(value):
        raise InvalidInput(
            f"{where}: {value!r} is not an identifier (lowercase letters, digits, '_', '.', '-', "
            f"at most {MAX_NAME_LENGTH} characters)"
        )


def check_genesis(genesis: Genesis) -> None:
    """Raise ``InvalidInput`` naming the first problem, or return if genesis is sound."""
    suite = get_suite(genesis.crypto_suite)
    check_name(genesis.chain_id, "chain_id")
    if genesis.genesis_time_ms < 0:
        raise InvalidInput("genesis_time_ms must not be negative")
    genesis.parameters.check()
    organizations: set[str] = set()
    for organization in genesis.organizations:
        _check_identifier(organization.id, "organization id")
        if organization.id in organizations:
            raise InvalidInput(f"organization {organization.id!r} appears twice")
        organizations.add(organization.id)
        check_name(organization.name, f"organization {organization.id} name")
        for role in organization.roles:
            _check_identifier(role, f"organization {organization.id} role")
    if not organizations:
        raise InvalidInput("genesis needs at least one organization")
    seen_keys: set[bytes] = set()
    admins: set[str] = set()
    organization_roles = {o.id: set(o.roles) | {ADMIN_ROLE} for o in genesis.organizations}
    account_names: set[str] = set()
    for account in genesis.accounts:
        where = f"account {account.name!r}"
        _check_identifier(account.name, "account name")
        if account.name in account_names:
            raise InvalidInput(f"{where} appears twice")
        account_names.add(account.name)
        if account.organization not in organizations:
            raise InvalidInput(f"{where}: unknown organization {account.organization!r}")
        key = _hex_key(account.public_key, where, suite)
        _check_key_point(key, where, suite)
        if key in seen_keys:
            raise InvalidInput(f"{where}: public key used twice")
        seen_keys.add(key)
        for role in account.roles:
            _check_identifier(role, f"{where} role")
        extra = sorted(set(account.roles) - organization_roles[account.organization])
        if extra:
            raise InvalidInput(
                f"{where}: roles {extra} are not roles of organization {account.organization!r}"
            )
        if ADMIN_ROLE in account.roles:
            admins.add(account.organization)
    missing = organizations - admins
    if missing:
        raise InvalidInput(f"organizations without an admin account: {sorted(missing)}")
    if not 1 <= len(genesis.validators) <= MAX_VALIDATORS:
        raise InvalidInput(f"genesis needs 1..{MAX_VALIDATORS} validators")
    validator_keys: set[bytes] = set()
    validator_names: set[str] = set()
    for validator in genesis.validators:
        where = f"validator {validator.name!r}"
        _check_identifier(validator.name, "validator name")
        if validator.name in validator_names:
            raise InvalidInput(f"{where} appears twice")
        validator_names.add(validator.name)
        if validator.organization not in organizations:
            raise InvalidInput(f"{where}: unknown organization {validator.organization!r}")
        key = _hex_key(validator.public_key, where, suite)
        _check_key_point(key, where, suite)
        if key in validator_keys:
            raise InvalidInput(f"{where}: public key used twice")
        validator_keys.add(key)
        if not 1 <= validator.power <= MAX_VALIDATOR_POWER:
            raise InvalidInput(f"{where}: power must be 1..{MAX_VALIDATOR_POWER}")


def load_genesis(data: bytes) -> Genesis:
    """Parse and check a genesis JSON document."""
    if len(data) > MAX_GENESIS_BYTES:
        raise InvalidInput(f"genesis is over {MAX_GENESIS_BYTES} bytes")
    try:
        genesis = msgspec.json.decode(data, type=Genesis)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise InvalidInput(f"invalid genesis: {exc}") from None
    check_genesis(genesis)
    return genesis


def dump_genesis(genesis: Genesis) -> bytes:
    return msgspec.json.format(msgspec.json.encode(genesis), indent=2) + b"\n"


_SORTED_ENCODER = msgspec.msgpack.Encoder(order="sorted")


def genesis_hash(genesis: Genesis) -> bytes:
    """The hash of genesis, independent of the key order of the JSON objects in it (the
    ``contracts`` configuration is free-form JSON, so its maps are encoded with sorted keys)."""
    return genesis.suite.hash(b"jinqiao/genesis/v1\x00" + _SORTED_ENCODER.encode(genesis))
