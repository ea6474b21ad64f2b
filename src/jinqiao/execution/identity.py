"""System state that the runtime itself reads: organizations, accounts, chain parameters and the
validator set. The registry and governance contracts (``jinqiao.apps``) write it; the layout is
defined here so the runtime can check every sender without depending on a contract."""

from __future__ import annotations

from typing import TypeVar

from jinqiao.core.codec import CanonicalStruct
from jinqiao.core.errors import NodeFault
from jinqiao.core.genesis import ChainParameters
from jinqiao.core.types import ValidatorSet
from jinqiao.execution.state import ContractState, Overlay, StateReader, StepMeter

T = TypeVar("T")

REGISTRY = "registry"
GOVERNANCE = "governance"

ACCOUNT_PREFIX = b"account/"
ORGANIZATION_PREFIX = b"organization/"
POLICY_PREFIX = b"policy/"
PARAMETERS_KEY = b"parameters"
VALIDATORS_KEY = b"validators"
PENDING_VALIDATORS_KEY = b"pending_validators"
VALIDATOR_CHANGE_DELAY_BLOCKS = 2
"""A validator-set change decided in block h takes effect at height h + 2: block h + 1 is still
certified by the old set, and its header's ``next_validators_hash`` names the new one."""


class Organization(CanonicalStruct, frozen=True):
    id: str
    name: str
    roles: tuple[str, ...]
    active: bool


class PendingValidators(CanonicalStruct, frozen=True):
    """A decided validator set and the first height it certifies."""

    effective_height: int
    validators: ValidatorSet


class Account(CanonicalStruct, frozen=True):
    address: bytes
    public_key: bytes
    organization: str
    name_commitment: bytes
    """The suite hash of a 32-byte salt and the account's UTF-8 name
    (``jinqiao.core.names.name_commitment``): the name stays with the organization."""
    roles: tuple[str, ...]
    active: bool


class PolicyKey(CanonicalStruct, frozen=True):
    public_key: bytes
    weight: int


class AmountRule(CanonicalStruct, frozen=True):
    """A transaction of this account whose arguments carry ``asset`` equal to ``asset`` and an
    ``amount`` of at least ``min_amount`` must be signed by ``public_key`` (an approval service's
    key, docs/keys.md)."""

    asset: str
    min_amount: int
    public_key: bytes


class SigningPolicy(CanonicalStruct, frozen=True):
    """Who may sign for an account (docs/keys.md "Signing policies"). An account without one
    has the implicit policy of its address's key, weight 1, threshold 1."""

    keys: tuple[PolicyKey, ...]
    threshold: int
    amount_rules: tuple[AmountRule, ...]
    revoked: tuple[bytes, ...]
    """Keys rotated out or revoked: a signature by one is refused ``key_revoked``."""

    def weight_of(self, public_key: bytes) -> int:
        for key in self.keys:
            if key.public_key == public_key:
                return key.weight
        return 0


def implicit_policy(account: Account) -> SigningPolicy:
    """The policy of an account that has none: its registered key alone."""
    return SigningPolicy((PolicyKey(account.public_key, 1),), 1, (), ())


def read_governance(state: StateReader, key: bytes, kind: type[T], what: str) -> T:
    """A record the governance contract keeps (parameters, validator set) from committed
    ``state``; its absence is a node fault, never a transaction outcome."""
    value = ContractState(GOVERNANCE, Overlay(state), StepMeter()).load(key, kind)
    if value is None:
        raise NodeFault(f"{what} missing from state")
    return value


def read_pending_validators(state: StateReader) -> PendingValidators | None:
    """The validator set a governance decision put in force from a later height, if any."""
    return ContractState(GOVERNANCE, Overlay(state), StepMeter()).load(
        PENDING_VALIDATORS_KEY, PendingValidators
    )


def account_key(address: bytes) -> bytes:
    return ACCOUNT_PREFIX + address


def organization_key(organization_id: str) -> bytes:
    return ORGANIZATION_PREFIX + organization_id.encode()


def policy_key(address: bytes) -> bytes:
    return POLICY_PREFIX + address


__all__ = [
    "ACCOUNT_PREFIX",
    "GOVERNANCE",
    "ORGANIZATION_PREFIX",
    "PARAMETERS_KEY",
    "PENDING_VALIDATORS_KEY",
    "POLICY_PREFIX",
    "REGISTRY",
    "VALIDATORS_KEY",
    "VALIDATOR_CHANGE_DELAY_BLOCKS",
    "Account",
    "AmountRule",
    "ChainParameters",
    "Organization",
    "PendingValidators",
    "PolicyKey",
    "SigningPolicy",
    "account_key",
    "implicit_policy",
    "organization_key",
    "policy_key",
    "read_governance",
    "read_pending_validators",
]
