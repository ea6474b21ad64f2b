"""Where a passphrase (or an HSM PIN) comes from: never a command-line argument, which other users
of the machine can read in the process list.

A passphrase is read from the first of:

1. the source a command was given explicitly: ``--passphrase-env NAME`` (the variable NAME),
   ``--passphrase-fd N`` (one line read from the open file descriptor N) or
   ``--passphrase-file PATH`` (the file's first line);
2. the environment: ``JINQIAO_KEY_PASSPHRASE`` (the passphrase itself),
   ``JINQIAO_KEY_PASSPHRASE_FD`` (a descriptor number) or ``JINQIAO_KEY_PASSPHRASE_FILE`` (a path);
3. a prompt on the terminal, when standard input is one;

otherwise it is a clear error. The first source given is the only one read: if it yields an empty
passphrase, that is an error naming the source (the next source is not tried). One trailing
newline is removed. A descriptor is read once per process (its value is kept for the next key the
same process unlocks).
"""

from __future__ import annotations

import getpass
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from jinqiao.core.errors import InvalidInput

__all__ = [
    "ENV_PASSPHRASE",
    "ENV_PASSPHRASE_FD",
    "ENV_PASSPHRASE_FILE",
    "MIN_NEW_PASSPHRASE_CHARACTERS",
    "PassphraseSource",
    "read_pin",
    "read_secret_line",
]

# Names of environment variables, not secrets:
ENV_PASSPHRASE = "JINQIAO_KEY_PASSPHRASE"  # noqa: S105
ENV_PASSPHRASE_FD = "JINQIAO_KEY_PASSPHRASE_FD"  # noqa: S105
ENV_PASSPHRASE_FILE = "JINQIAO_KEY_PASSPHRASE_FILE"  # noqa: S105
MIN_NEW_PASSPHRASE_CHARACTERS = 8
MAX_SECRET_INPUT_BYTES = 1024

_descriptor_values: dict[int, bytes] = {}


@dataclass(frozen=True)
class PassphraseSource:
    """An explicit source (at most one of the three), or none: then the environment or a prompt."""

    env: str | None = None
    fd: int | None = None
    file: Path | None = None

    def __post_init__(self) -> None:
        given = [name for name in ("env", "fd", "file") if getattr(self, name) is not None]
        if len(given) > 1:
            raise InvalidInput(
                "give at most one of --passphrase-env, --passphrase-fd, --passphrase-file"
            )

    def read(self, what: str, *, new: bool = False) -> bytes:
        """The passphrase for ``what`` (e.g. ``key accounts/a.json``). With ``new``, a prompt asks
        twice and any source must give at least ``MIN_NEW_PASSPHRASE_CHARACTERS`` characters.

        The first source that is *given* decides: one that yields an empty passphrase is an
        error naming it, never a reason to try the next source (an operator who named a file
        meant that file, not whatever the environment holds)."""
        found = self._explicit() or _from_environment()
        passphrase, source = found if found is not None else (_prompt(what, new=new), "the prompt")
        if not passphrase:
            raise InvalidInput(f"the passphrase for {what} from {source} is empty")
        if new and len(passphrase.decode("utf-8", "replace")) < MIN_NEW_PASSPHRASE_CHARACTERS:
            raise InvalidInput(
                f"a new passphrase needs at least {MIN_NEW_PASSPHRASE_CHARACTERS} characters"
            )
        return passphrase

    def _explicit(self) -> tuple[bytes, str] | None:
        """The passphrase of the explicit source and the source's name; None if none was given."""
        if self.env is not None:
            value = os.environ.get(self.env)
            if value is None:
                raise InvalidInput(f"the environment variable {self.env} is not set")
            return _limited(value.encode(), f"${self.env}"), f"${self.env}"
        if self.fd is not None:
            return _read_descriptor(self.fd), f"file descriptor {self.fd}"
        if self.file is not None:
            return _read_file(self.file, "passphrase"), str(self.file)
        return None


def _from_environment() -> tuple[bytes, str] | None:
    """Like ``PassphraseSource._explicit``, for the first of the environment variables set."""
    value = os.environ.get(ENV_PASSPHRASE)
    if value is not None:
        return _limited(value.encode(), f"${ENV_PASSPHRASE}"), f"${ENV_PASSPHRASE}"
    descriptor = os.environ.get(ENV_PASSPHRASE_FD)
    if descriptor is not None:
        if not descriptor.isdigit():
            raise InvalidInput(f"{ENV_PASSPHRASE_FD} must be a file descriptor number")
        named = f"file descriptor {descriptor} (${ENV_PASSPHRASE_FD})"
        return _read_descriptor(int(descriptor)), named
    path = os.environ.get(ENV_PASSPHRASE_FILE)
    if path is not None:
        return _read_file(Path(path), "passphrase"), f"{path} (${ENV_PASSPHRASE_FILE})"
    return None


def _prompt(what: str, *, new: bool) -> bytes:
    if not sys.stdin.isatty():
        raise InvalidInput(
            f"{what} needs a passphrase: set {ENV_PASSPHRASE} (or {ENV_PASSPHRASE_FD}, "
            f"{ENV_PASSPHRASE_FILE}), give --passphrase-env/--passphrase-fd/--passphrase-file "
            "where the command has them, or run it on a terminal"
        )
    first = getpass.getpass(f"passphrase for {what}: ").encode()
    if new and getpass.getpass("again: ").encode() != first:
        raise InvalidInput("the two passphrases differ")
    return _limited(first, "the passphrase")


def _strip_newline(data: bytes) -> bytes:
    if data.endswith(b"\r\n"):
        return data[:-2]
    return data[:-1] if data.endswith(b"\n") else data


def _limited(data: bytes, what: str) -> bytes:
    if len(data) > MAX_SECRET_INPUT_BYTES:
        raise InvalidInput(f"{what} is longer than {MAX_SECRET_INPUT_BYTES} bytes")
    return data


def read_secret_line(descriptor: int) -> bytes:
    """One line (at most ``MAX_SECRET_INPUT_BYTES``) from an open file descriptor, without its
    newline; read byte by byte so nothing after the line is consumed."""
    data = b""
    try:
        while not data.endswith(b"\n") and len(data) <= MAX_SECRET_INPUT_BYTES:
            chunk = os.read(descriptor, 1)
            if not chunk:
                break
            data += chunk
    except OSError as exc:
        raise InvalidInput(f"cannot read file descriptor {descriptor}: {exc.strerror}") from None
    return _limited(_strip_newline(data), f"the input on file descriptor {descriptor}")


def _read_descriptor(descriptor: int) -> bytes:
    cached = _descriptor_values.get(descriptor)
    if cached is None:
        cached = read_secret_line(descriptor)
        _descriptor_values[descriptor] = cached
    return cached


def _read_file(path: Path, what: str) -> bytes:
    try:
        with path.open("rb") as file:
            data = file.read(MAX_SECRET_INPUT_BYTES + 2)
    except OSError as exc:
        raise InvalidInput(f"cannot read the {what} file {path}: {exc.strerror}") from None
    return _limited(_strip_newline(data.split(b"\n", 1)[0] + b"\n"), f"the {what} in {path}")


def read_pin(pin_file: str | None, what: str) -> bytes:
    """An HSM user PIN: the first line of ``pin_file``, else a prompt on the terminal."""
    if pin_file is not None:
        return _read_file(Path(pin_file), "PIN")
    if not sys.stdin.isatty():
        raise InvalidInput(f"{what} needs its PIN: name a pin_file, or run on a terminal")
    return _limited(getpass.getpass(f"PIN for {what}: ").encode(), "the PIN")
