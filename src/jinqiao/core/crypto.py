"""Crypto suites (DESIGN.md §3 "Crypto suites"). A suite names a signature scheme and a hash; a
network picks one in genesis. The default, ``ed25519-sha256``, uses libsodium through PyNaCl.

Addresses are the first 20 bytes of the suite hash of the public key. Secret keys never appear in
``repr`` or logs.
"""

from __future__ import annotations

import hashlib
from typing import Protocol

import nacl.bindings
import nacl.exceptions
import nacl.signing

from jinqiao.core.errors import InvalidInput
from jinqiao.core.types import ADDRESS_BYTES

ADDRESS_TAG = b"jinqiao/address/v1\x00"


class CryptoSuite(Protocol):
    name: str
    public_key_bytes: int
    signature_bytes: int
    secret_key_bytes: int

    def hash(self, data: bytes) -> bytes: ...

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool: ...

    def signer(self, secret_key: bytes) -> Signer: ...

    def generate_secret_key(self) -> bytes: ...

    def address(self, public_key: bytes) -> bytes: ...


class Signer(Protocol):
    suite: CryptoSuite
    public_key: bytes
    address: bytes

    def sign(self, message: bytes) -> bytes: ...

    def secret_key(self) -> bytes: ...


class Ed25519Signer:
    def __init__(self, suite: Ed25519Sha256, secret_key: bytes) -> None:
        if len(secret_key) != suite.secret_key_bytes:
            raise InvalidInput(f"an ed25519 secret key is {suite.secret_key_bytes} bytes")
        self.suite: CryptoSuite = suite
        self._secret_key = secret_key
        self._key = nacl.signing.SigningKey(secret_key)
        self.public_key = bytes(self._key.verify_key)
        self.address = suite.address(self.public_key)

    def sign(self, message: bytes) -> bytes:
        return bytes(self._key.sign(message).signature)

    def secret_key(self) -> bytes:
        """The raw secret, for writing a key file. Never log it."""
        return self._secret_key

    def __repr__(self) -> str:
        return f"Ed25519Signer(address={self.address.hex()})"


def ed25519_public_key_problem(public_key: bytes) -> str | None:
    """Why ``public_key`` cannot be a member's Ed25519 key, or ``None`` when it can: it must be
    32 bytes encoding, canonically, a point of the prime-order subgroup (libsodium's
    ``crypto_core_ed25519_is_valid_point``). A small-order key (docs/proofs.md §3.2) never
    verifies a signature; a non-canonical or off-curve one never decodes; a mixed-order one is
    never made by a key generator."""
    if len(public_key) != Ed25519Sha256.public_key_bytes:
        return f"an ed25519 public key is {Ed25519Sha256.public_key_bytes} bytes"
    if not nacl.bindings.crypto_core_ed25519_is_valid_point(public_key):
        return (
            "not an ed25519 public key: it must be a canonical point of the prime-order "
            "subgroup (not of small order, not off the curve)"
        )
    return None


class Ed25519Sha256:
    """Ed25519 signatures (RFC 8032, libsodium) and SHA-256."""

    name = "ed25519-sha256"
    public_key_bytes = 32
    signature_bytes = 64
    secret_key_bytes = 32

    def __init__(self) -> None:
        self._verify_keys: dict[bytes, nacl.signing.VerifyKey] = {}

    def hash(self, data: bytes) -> bytes:
        return hashlib.sha256(data).digest()

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        if len(public_key) != self.public_key_bytes or len(signature) != self.signature_bytes:
            return False
        key = self._verify_keys.get(public_key)
        if key is None:
            try:
                key = nacl.signing.VerifyKey(public_key)
            except (nacl.exceptions.CryptoError, ValueError, TypeError):
                return False
            if len(self._verify_keys) > 100_000:
                self._verify_keys.clear()
            self._verify_keys[public_key] = key
        try:
            key.verify(message, signature)
        except (nacl.exceptions.BadSignatureError, ValueError, TypeError):
            return False
        return True

    def signer(self, secret_key: bytes) -> Signer:
        return Ed25519Signer(self, secret_key)

    def generate_secret_key(self) -> bytes:
        return bytes(nacl.signing.SigningKey.generate())

    def address(self, public_key: bytes) -> bytes:
        return self.hash(ADDRESS_TAG + public_key)[:ADDRESS_BYTES]


_SUITES: dict[str, CryptoSuite] = {}


def get_suite(name: str) -> CryptoSuite:
    """The suite called ``name``; raises ``InvalidInput`` for an unknown one."""
    suite = _SUITES.get(name)
    if suite is None:
        if name == Ed25519Sha256.name:
            suite = Ed25519Sha256()
            _SUITES[name] = suite
        else:
            raise InvalidInput(f"unknown crypto suite {name!r}; known: {Ed25519Sha256.name}")
    return suite


DEFAULT_SUITE = Ed25519Sha256.name
