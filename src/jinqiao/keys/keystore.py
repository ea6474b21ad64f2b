"""Encrypted key files (keystores): a secret key sealed under a passphrase.

The passphrase goes through scrypt (memory-hard; RFC 7914) into a 32-byte key that seals the
secret with ChaCha20-Poly1305 (an AEAD; RFC 8439), both from ``cryptography``. Everything else in
the file — the suite, the address, the public key, the KDF parameters, the cipher and its nonce —
is in clear, so a locked file can still be identified, and is bound to the ciphertext as the
AEAD's associated data: changing any byte of the file makes unlocking fail as a tampered file.

The KDF parameters are recorded in the file and checked against ``SCRYPT_BOUNDS`` before any work
is done, so a file cannot make the loader allocate gigabytes or accept a cost too low to protect
anything. A wrong passphrase and a tampered file are told apart only as far as the AEAD allows:
both fail authentication, after the full KDF cost (the slowness is the point).
"""

from __future__ import annotations

import os

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from jinqiao.core.crypto import Signer, get_suite
from jinqiao.core.errors import InvalidInput

__all__ = [
    "DEFAULT_SCRYPT",
    "KEYSTORE_FORMAT",
    "SCRYPT_BOUNDS",
    "CipherParameters",
    "Keystore",
    "ScryptParameters",
    "check_scrypt",
    "seal",
    "unseal",
]

KEYSTORE_FORMAT = "jinqiao-keystore-v1"
CIPHER_NAME = "chacha20-poly1305"
KDF_NAME = "scrypt"
SALT_BYTES = 16
NONCE_BYTES = 12
DERIVED_KEY_BYTES = 32
MAX_PASSPHRASE_BYTES = 1024

SCRYPT_BOUNDS: dict[str, tuple[int, int]] = {"log2_n": (14, 20), "r": (8, 16), "p": (1, 4)}
"""Inclusive bounds on the scrypt parameters a keystore may record. The low ends keep a file
from being protected by a trivial cost (2^14 · 8 · 128 B = 16 MiB of memory); the high ends keep
a file from making the loader allocate more than 2^20 · 16 · 128 B = 2 GiB or run for minutes."""


class ScryptParameters(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """scrypt's cost: N = 2**log2_n, block size r, parallelism p; memory is 128 · N · r bytes."""

    name: str = KDF_NAME
    log2_n: int = 17
    r: int = 8
    p: int = 1
    salt: str = ""
    """Hex, ``SALT_BYTES`` random bytes; empty only in a template such as ``DEFAULT_SCRYPT``."""


DEFAULT_SCRYPT = ScryptParameters()
"""2^17 · 8 · 128 B = 128 MiB and about a second per unlock on a laptop core."""


class CipherParameters(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    nonce: str


class Keystore(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The JSON document of an encrypted key file; hex strings."""

    format: str
    suite: str
    address: str
    public_key: str
    kdf: ScryptParameters
    cipher: CipherParameters
    ciphertext: str


def check_scrypt(kdf: ScryptParameters) -> None:
    """``InvalidInput`` naming the parameter if ``kdf`` is not a usable scrypt setting."""
    if kdf.name != KDF_NAME:
        raise InvalidInput(f"unsupported KDF {kdf.name!r}; supported: {KDF_NAME}")
    for name, (low, high) in SCRYPT_BOUNDS.items():
        value = getattr(kdf, name)
        if not low <= value <= high:
            raise InvalidInput(f"KDF parameter {name}={value} is out of range {low}..{high}")
    if len(kdf.salt) != 2 * SALT_BYTES:
        raise InvalidInput(f"KDF salt must be {SALT_BYTES} bytes ({2 * SALT_BYTES} hex)")


def _derive(passphrase: bytes, kdf: ScryptParameters) -> bytes:
    if not passphrase:
        raise InvalidInput("the passphrase is empty")
    if len(passphrase) > MAX_PASSPHRASE_BYTES:
        raise InvalidInput(f"a passphrase is at most {MAX_PASSPHRASE_BYTES} bytes")
    scrypt = Scrypt(
        salt=bytes.fromhex(kdf.salt), length=DERIVED_KEY_BYTES, n=2**kdf.log2_n, r=kdf.r, p=kdf.p
    )
    return scrypt.derive(passphrase)


def _associated_data(keystore: Keystore) -> bytes:
    """What the AEAD authenticates besides the ciphertext: every clear field of the file, in the
    canonical encoding of the document with an empty ciphertext."""
    return msgspec.msgpack.encode(msgspec.structs.replace(keystore, ciphertext=""))


def seal(signer: Signer, passphrase: bytes, kdf: ScryptParameters = DEFAULT_SCRYPT) -> Keystore:
    """The keystore of ``signer``'s secret under ``passphrase``, with a fresh salt and nonce."""
    kdf = msgspec.structs.replace(kdf, salt=os.urandom(SALT_BYTES).hex())
    check_scrypt(kdf)
    header = Keystore(
        format=KEYSTORE_FORMAT,
        suite=signer.suite.name,
        address=signer.address.hex(),
        public_key=signer.public_key.hex(),
        kdf=kdf,
        cipher=CipherParameters(CIPHER_NAME, os.urandom(NONCE_BYTES).hex()),
        ciphertext="",
    )
    aead = ChaCha20Poly1305(_derive(passphrase, kdf))
    ciphertext = aead.encrypt(
        bytes.fromhex(header.cipher.nonce), signer.secret_key(), _associated_data(header)
    )
    return msgspec.structs.replace(header, ciphertext=ciphertext.hex())


def unseal(keystore: Keystore, passphrase: bytes) -> Signer:
    """The signer sealed in ``keystore``; ``InvalidInput`` for a bad file or a wrong passphrase
    (after the KDF's full cost), never with any secret in the message."""
    if keystore.format != KEYSTORE_FORMAT:
        raise InvalidInput(f"unsupported keystore format {keystore.format!r}")
    check_scrypt(keystore.kdf)
    if keystore.cipher.name != CIPHER_NAME:
        raise InvalidInput(f"unsupported cipher {keystore.cipher.name!r}; supported: {CIPHER_NAME}")
    suite = get_suite(keystore.suite)
    try:
        nonce = bytes.fromhex(keystore.cipher.nonce)
        ciphertext = bytes.fromhex(keystore.ciphertext)
    except ValueError:
        raise InvalidInput("the nonce or ciphertext is not hex") from None
    if len(nonce) != NONCE_BYTES:
        raise InvalidInput(f"the cipher nonce must be {NONCE_BYTES} bytes")
    aead = ChaCha20Poly1305(_derive(passphrase, keystore.kdf))
    try:
        secret = aead.decrypt(nonce, ciphertext, _associated_data(keystore))
    except InvalidTag:
        raise InvalidInput(
            "wrong passphrase, or the file was altered (authentication failed)"
        ) from None
    signer = suite.signer(secret)
    if signer.public_key.hex() != keystore.public_key or signer.address.hex() != keystore.address:
        raise InvalidInput("public key or address does not match the sealed secret key")
    return signer
