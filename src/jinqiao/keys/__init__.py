"""Key files: where a signing key is kept, and how it is opened for use (``docs/keys.md``).

A key file is one JSON document, owner-only (0600), written atomically and never overwritten, in
one of three formats — every one names its suite and carries the address and public key in clear:

- an **encrypted keystore** (``"format": "jinqiao-keystore-v1"``, ``jinqiao.keys.keystore``):
  the default for every key a user creates;
- a **key reference** to an HSM (``"format": "jinqiao-pkcs11-v1"``, ``jinqiao.keys.hsm``): the key
  lives in a PKCS#11 token and never leaves it;
- a **plaintext** key file, the format of older versions (no ``format`` field:
  ``{"suite", "address", "public_key", "secret_key"}``), written only when asked for explicitly
  (``InsecurePlaintext``: throwaway networks, the demo, tests) and turned into a keystore by
  ``migrate_key`` (``jinqiao keys migrate``).

``load_key`` opens any of them as a ``Signer``. Secrets never appear in ``repr``, logs, error
messages or CLI output.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import msgspec

from jinqiao.core.crypto import DEFAULT_SUITE, Signer, get_suite
from jinqiao.core.errors import InvalidInput
from jinqiao.fileio import save_atomically, save_new
from jinqiao.keys.hsm import PKCS11_FORMAT, HsmKeyReference, open_hsm_key
from jinqiao.keys.keystore import (
    DEFAULT_SCRYPT,
    KEYSTORE_FORMAT,
    Keystore,
    ScryptParameters,
    seal,
    unseal,
)
from jinqiao.keys.passphrase import PassphraseSource

__all__ = [
    "MAX_KEY_FILE_BYTES",
    "Encrypted",
    "HsmKeyReference",
    "InsecurePlaintext",
    "KeyFile",
    "KeyInfo",
    "KeyProtection",
    "PassphraseSource",
    "ScryptParameters",
    "generate_key",
    "load_key",
    "migrate_key",
    "read_key_info",
    "save_key",
    "save_key_reference",
]

MAX_KEY_FILE_BYTES = 4096

log = logging.getLogger(__name__)


class KeyFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The JSON document of a plaintext key file (the older format above); hex strings."""

    suite: str
    address: str
    public_key: str
    secret_key: str


@dataclass(frozen=True)
class Encrypted:
    """Seal the key under ``passphrase`` (scrypt with ``kdf``'s cost, ChaCha20-Poly1305)."""

    passphrase: bytes = field(repr=False)
    kdf: ScryptParameters = DEFAULT_SCRYPT


@dataclass(frozen=True)
class InsecurePlaintext:
    """Write the secret in clear: only for throwaway networks, and only when asked for."""


KeyProtection = Encrypted | InsecurePlaintext
KeyKind = Literal["encrypted", "pkcs11", "plaintext"]


@dataclass(frozen=True)
class KeyInfo:
    """What a key file says in clear: enough to identify it without unlocking it."""

    kind: KeyKind
    suite: str
    address: str
    public_key: str


Document = KeyFile | Keystore | HsmKeyReference


def generate_key(suite_name: str = DEFAULT_SUITE) -> Signer:
    suite = get_suite(suite_name)
    return suite.signer(suite.generate_secret_key())


def _encode(document: Document) -> bytes:
    return msgspec.json.format(msgspec.json.encode(document), indent=2) + b"\n"


def _document(signer: Signer, protection: KeyProtection) -> Document:
    if isinstance(protection, Encrypted):
        return seal(signer, protection.passphrase, protection.kdf)
    if isinstance(protection, InsecurePlaintext):
        return KeyFile(
            suite=signer.suite.name,
            address=signer.address.hex(),
            public_key=signer.public_key.hex(),
            secret_key=signer.secret_key().hex(),
        )
    raise InvalidInput("say how to protect the key: Encrypted(passphrase) or InsecurePlaintext()")


def save_key(path: Path, signer: Signer, protection: KeyProtection) -> None:
    """Write ``signer`` to ``path`` with mode 0600, durably, encrypted or (only if asked)
    plaintext; refuses to overwrite an existing file (``jinqiao.fileio.save_new``)."""
    save_new(path, _encode(_document(signer, protection)))


def save_key_reference(path: Path, reference: HsmKeyReference) -> None:
    """Write an HSM key reference to ``path`` (0600, never over an existing file)."""
    save_new(path, _encode(reference))


def _read_document(path: Path) -> Document:
    try:
        with path.open("rb") as file:
            data = file.read(MAX_KEY_FILE_BYTES + 1)
    except OSError as exc:
        raise InvalidInput(f"cannot read key file {path}: {exc.strerror}") from None
    if len(data) > MAX_KEY_FILE_BYTES:
        raise InvalidInput(f"{path} is too large to be a key file")
    try:
        raw: Any = msgspec.json.decode(data)
        if not isinstance(raw, dict):
            raise InvalidInput("not a JSON object")
        kind = raw.get("format")
        if kind is None:
            document: Document = msgspec.convert(raw, type=KeyFile)
        elif kind == KEYSTORE_FORMAT:
            document = msgspec.convert(raw, type=Keystore)
        elif kind == PKCS11_FORMAT:
            document = msgspec.convert(raw, type=HsmKeyReference)
        else:
            raise InvalidInput(f"unknown key file format {kind!r}")
        get_suite(document.suite)
    except (msgspec.ValidationError, msgspec.DecodeError, InvalidInput) as exc:
        raise InvalidInput(f"{path} is not a jinqiao key file: {exc}") from None
    return document


def read_key_info(path: Path) -> KeyInfo:
    """The clear parts of any key file, without unlocking it."""
    document = _read_document(path)
    kind: KeyKind = (
        "encrypted"
        if isinstance(document, Keystore)
        else "pkcs11"
        if isinstance(document, HsmKeyReference)
        else "plaintext"
    )
    return KeyInfo(kind, document.suite, document.address, document.public_key)


def _plaintext_signer(path: Path, document: KeyFile) -> Signer:
    try:
        signer = get_suite(document.suite).signer(bytes.fromhex(document.secret_key))
    except (ValueError, InvalidInput) as exc:
        raise InvalidInput(f"{path} is not a jinqiao key file: {exc}") from None
    if signer.public_key.hex() != document.public_key or signer.address.hex() != document.address:
        raise InvalidInput(f"{path}: public key or address does not match the secret key")
    return signer


def load_key(path: Path, passphrase: bytes | PassphraseSource | None = None) -> Signer:
    """Open the key in ``path`` for signing; a clear ``InvalidInput`` naming the file for anything
    wrong. An encrypted key takes ``passphrase``, or one read from ``PassphraseSource()``'s
    default places (the environment, else a terminal prompt); an HSM key its PIN file or a prompt;
    a plaintext key nothing."""
    document = _read_document(path)
    signer = _open(path, document, passphrase)
    # Public parts only: the secret, the passphrase and the PIN are never logged.
    log.debug("opened key %s (%s, address %s)", path, type(document).__name__, document.address)
    return signer


def _open(path: Path, document: Document, passphrase: bytes | PassphraseSource | None) -> Signer:
    if isinstance(document, KeyFile):
        return _plaintext_signer(path, document)
    if isinstance(document, HsmKeyReference):
        return open_hsm_key(document, str(path))
    if not isinstance(passphrase, bytes):
        passphrase = (passphrase or PassphraseSource()).read(f"key {path}")
    try:
        return unseal(document, passphrase)
    except InvalidInput as exc:
        raise InvalidInput(f"{path}: {exc.message}") from None


def migrate_key(path: Path, protection: Encrypted) -> KeyInfo:
    """Replace the plaintext key file ``path`` by a keystore of the same key, atomically (a crash
    leaves the one or the other). No plaintext copy is kept: a backup of the secret beside the key
    is what encryption removes (``docs/keys.md``). The new file is unlocked once before it replaces
    the old, so a mistake never loses the key."""
    document = _read_document(path)
    if not isinstance(document, KeyFile):
        raise InvalidInput(f"{path} is already {read_key_info(path).kind}; nothing to migrate")
    signer = _plaintext_signer(path, document)
    keystore = seal(signer, protection.passphrase, protection.kdf)
    if unseal(keystore, protection.passphrase).public_key != signer.public_key:
        raise InvalidInput(f"{path}: the new keystore does not open to the same key")
    save_atomically(path, _encode(keystore))
    return KeyInfo("encrypted", keystore.suite, keystore.address, keystore.public_key)
