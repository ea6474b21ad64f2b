"""Crypto suites (DESIGN.md §3 "Crypto suites"). A suite names a signature scheme and a hash; a
network picks one in genesis. The default, ``ed25519-sha256``, uses libsodium through PyNaCl;
``sm2-sm3`` (GM/T 0003 signatures, GM/T 0004 hash) uses gmalglib (ADR 0014).

Addresses are the first 20 bytes of the suite hash of the public key. Secret keys never appear in
``repr`` or logs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Protocol

import nacl.bindings
import nacl.exceptions
import nacl.signing
import nacl.utils
from gmalglib.sm2 import SM2
from gmalglib.sm3 import SM3

from jinqiao.core.errors import InvalidInput, NodeFault
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

    def check_public_key(self, public_key: bytes) -> None:
        """Raise ``InvalidInput`` saying what is wrong with a malformed public key."""
        ...


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

    def check_public_key(self, public_key: bytes) -> None:
        if len(public_key) != self.public_key_bytes:
            raise InvalidInput(f"an ed25519 public key is {self.public_key_bytes} bytes")
        try:
            nacl.signing.VerifyKey(public_key)
        except (nacl.exceptions.CryptoError, ValueError, TypeError):
            raise InvalidInput("not an ed25519 public key") from None


SM2_USER_ID = b"1234567812345678"
"""The signer ID in every SM2 signature's Z value: GM/T 0009's default ID, used when the parties
have agreed no other. jinqiao agrees no other: every key of every network uses it, so a signature
made under any other ID does not verify (``invalid_signature``)."""
SM2_UNCOMPRESSED_POINT = 0x04


class Sm2Signer:
    """An SM2 key. Each signature draws a fresh nonce k from ``nonce_source`` (bytes of the
    asked length, read little-endian by gmalglib): libsodium's CSPRNG by default.
    Only the simulator passes a seeded source, so that one seed replays one run exactly."""

    def __init__(
        self,
        suite: Sm2Sm3,
        secret_key: bytes,
        *,
        nonce_source: Callable[[int], bytes] = nacl.utils.random,
    ) -> None:
        if len(secret_key) != suite.secret_key_bytes:
            raise InvalidInput(f"an sm2 secret key is {suite.secret_key_bytes} bytes")
        if not SM2.is_sk_valid(secret_key):
            raise InvalidInput("not an sm2 secret key: it must be in [1, n-2] of the SM2 curve")
        self.suite: CryptoSuite = suite
        self._secret_key = secret_key
        self._key = SM2(sk=secret_key, uid=SM2_USER_ID, rnd_fn=nonce_source)
        self.public_key = bytes(SM2.get_pk(secret_key))
        self.address = suite.address(self.public_key)

    def sign(self, message: bytes) -> bytes:
        return bytes(self._key.sign(message))

    def secret_key(self) -> bytes:
        """The raw secret, for writing a key file. Never log it."""
        return self._secret_key

    def __repr__(self) -> str:
        return f"Sm2Signer(address={self.address.hex()})"


class Sm2Sm3:
    """SM2 signatures (GM/T 0003.2, recommended curve of GM/T 0003.5, user ID ``SM2_USER_ID``)
    and the SM3 hash (GM/T 0004). Public keys are uncompressed points (0x04 || x || y, 65 bytes);
    signatures are r || s, 32 bytes each, big-endian (not DER)."""

    name = "sm2-sm3"
    public_key_bytes = 65
    signature_bytes = 64
    secret_key_bytes = 32

    def __init__(self) -> None:
        self._verifiers: dict[bytes, SM2] = {}

    def hash(self, data: bytes) -> bytes:
        return bytes(SM3(data).digest())

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        if len(public_key) != self.public_key_bytes or len(signature) != self.signature_bytes:
            return False
        if public_key[0] != SM2_UNCOMPRESSED_POINT:
            return False
        verifier = self._verifiers.get(public_key)
        if verifier is None:
            if not SM2.is_pk_valid(public_key):
                return False
            verifier = SM2(pk=public_key, uid=SM2_USER_ID)
            if len(self._verifiers) > 100_000:
                self._verifiers.clear()
            self._verifiers[public_key] = verifier
        return bool(verifier.verify(message, signature))

    def signer(self, secret_key: bytes) -> Signer:
        return Sm2Signer(self, secret_key)

    def generate_secret_key(self) -> bytes:
        """32 bytes from libsodium's CSPRNG in [1, n-2]; a draw outside (about once in 2**32)
        is drawn again."""
        for _attempt in range(64):
            secret_key = nacl.utils.random(self.secret_key_bytes)
            if SM2.is_sk_valid(secret_key):
                return secret_key
        raise NodeFault("64 random draws were not SM2 secret keys: the random source is broken")

    def address(self, public_key: bytes) -> bytes:
        return self.hash(ADDRESS_TAG + public_key)[:ADDRESS_BYTES]

    def check_public_key(self, public_key: bytes) -> None:
        if len(public_key) != self.public_key_bytes:
            raise InvalidInput(
                f"an sm2 public key is {self.public_key_bytes} bytes (0x04 || x || y); "
                f"this one is {len(public_key)}"
            )
        if public_key[0] != SM2_UNCOMPRESSED_POINT:
            raise InvalidInput("an sm2 public key must be an uncompressed point (first byte 04)")
        if not SM2.is_pk_valid(public_key):
            raise InvalidInput("not an sm2 public key: the point is not on the SM2 curve")


_SUITES: dict[str, CryptoSuite] = {}


def get_suite(name: str) -> CryptoSuite:
    """The suite called ``name``; raises ``InvalidInput`` for an unknown one."""
    suite = _SUITES.get(name)
    if suite is None:
        if name == Ed25519Sha256.name:
            suite = Ed25519Sha256()
        elif name == Sm2Sm3.name:
            suite = Sm2Sm3()
        else:
            raise InvalidInput(f"unknown crypto suite {name!r}; known: {', '.join(SUITE_NAMES)}")
        _SUITES[name] = suite
    return suite


DEFAULT_SUITE = Ed25519Sha256.name
SUITE_NAMES = (Ed25519Sha256.name, Sm2Sm3.name)
