"""Key files: one JSON document per key, created owner-only (0600) and never overwritten.

    {"suite": "ed25519-sha256", "address": "…", "public_key": "…", "secret_key": "…"}

The secret never appears in ``repr``, logs or CLI output (``jinqiao keys show`` prints the public
parts only).
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from jinqiao.core.crypto import DEFAULT_SUITE, Signer, get_suite
from jinqiao.core.errors import InvalidInput
from jinqiao.fileio import save_new

__all__ = ["MAX_KEY_FILE_BYTES", "KeyFile", "generate_key", "load_key", "save_key"]

MAX_KEY_FILE_BYTES = 4096


class KeyFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The JSON document of a key file (the format above); hex strings."""

    suite: str
    address: str
    public_key: str
    secret_key: str


def generate_key(suite_name: str = DEFAULT_SUITE) -> Signer:
    suite = get_suite(suite_name)
    return suite.signer(suite.generate_secret_key())


def save_key(path: Path, signer: Signer) -> None:
    """Write ``signer`` to ``path`` with mode 0600, durably; refuses to overwrite an existing
    file (``jinqiao.fileio.save_new``)."""
    document = KeyFile(
        suite=signer.suite.name,
        address=signer.address.hex(),
        public_key=signer.public_key.hex(),
        secret_key=signer.secret_key().hex(),
    )
    save_new(path, msgspec.json.format(msgspec.json.encode(document), indent=2) + b"\n")


def load_key(path: Path) -> Signer:
    """Read a key file; a clear ``InvalidInput`` for anything wrong with it."""
    try:
        with path.open("rb") as file:
            data = file.read(MAX_KEY_FILE_BYTES + 1)
    except OSError as exc:
        raise InvalidInput(f"cannot read key file {path}: {exc.strerror}") from None
    if len(data) > MAX_KEY_FILE_BYTES:
        raise InvalidInput(f"{path} is too large to be a key file")
    try:
        document = msgspec.json.decode(data, type=KeyFile)
        suite = get_suite(document.suite)
        signer = suite.signer(bytes.fromhex(document.secret_key))
    except (msgspec.ValidationError, msgspec.DecodeError, ValueError, InvalidInput) as exc:
        raise InvalidInput(f"{path} is not a jinqiao key file: {exc}") from None
    if signer.public_key.hex() != document.public_key or signer.address.hex() != document.address:
        raise InvalidInput(f"{path}: public key or address does not match the secret key")
    return signer
