"""System state that the runtime itself reads: organizations, accounts, chain parameters and the
validator set. The registry and governance contracts (``jinqiao.apps``) write it; the layout is
defined here so the runtime can check every sender without depending on a contract."""

from __future__ import annotations

from jinqiao.core.codec import CanonicalStruct
from jinqiao.core.genesis import ChainParameters

REGISTRY = "registry"
GOVERNANCE = "governance"

ACCOUNT_PREFIX = b"account/"
ORGANIZATION_PREFIX = b"organization/"
PARAMETERS_KEY = b"parameters"
VALIDATORS_KEY = b"validators"


class Organization(CanonicalStruct, frozen=True):
    id: str
    name: str
    roles: tuple[str, ...]
    active: bool


class Account(CanonicalStruct, frozen=True):
    address: bytes
    public_key: bytes
    organization: str
    name: str
    roles: tuple[str, ...]
    active: bool


def account_key(address: bytes) -> bytes:
    return ACCOUNT_PREFIX + address


def organization_key(organization_id: str) -> bytes:
    return ORGANIZATION_PREFIX + organization_id.encode()


__all__ = [
    "ACCOUNT_PREFIX",
    "GOVERNANCE",
    "ORGANIZATION_PREFIX",
    "PARAMETERS_KEY",
    "REGISTRY",
    "VALIDATORS_KEY",
    "Account",
    "ChainParameters",
    "Organization",
    "account_key",
    "organization_key",
]
