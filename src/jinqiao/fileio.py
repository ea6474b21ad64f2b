"""Durable file writes: the one way jinqiao saves a file it must not lose or tear.

``save_atomically`` replaces a file (the safety record, the locked block, ``network.json``): it
writes a temporary file beside the target, fsyncs it, renames it over the target (atomic on POSIX)
and fsyncs the directory so the rename itself survives a power cut. A crash at any instant leaves
the old contents or the new, never a torn mix; a leftover temporary file is overwritten by the next
save.

``save_new`` creates a file that must not exist yet (a key, a CA's private key): the same
temporary-file-and-fsync, then a hard link to the target, which fails if the target exists — so an
existing key is never overwritten and a crash never leaves a half-written key under the target's
name (on a file system without hard links it creates the target exclusively and writes in place).

Both turn an ``OSError`` into the caller's error class (``InvalidInput`` for a command's files,
``NodeFault`` for a running node's) with the path and the system's reason. This module sits below
``jinqiao.keys``, ``jinqiao.node`` and ``jinqiao.provision`` and imports only ``jinqiao.core``;
nothing in the pure layers may import it (``pyproject.toml`` ``[tool.importlinter]``).
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from jinqiao.core.errors import InvalidInput, JinqiaoError

__all__ = [
    "PRIVATE_FILE_MODE",
    "PUBLIC_FILE_MODE",
    "load_bounded",
    "save_atomically",
    "save_new",
    "sync_directory",
]

PRIVATE_FILE_MODE = 0o600
PUBLIC_FILE_MODE = 0o644
_NO_HARD_LINKS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP})


def load_bounded(path: Path, max_bytes: int) -> bytes:
    """The bytes of ``path``, refused (``InvalidInput``) when unreadable or over ``max_bytes``,
    reading at most one byte more than the limit."""
    try:
        with path.open("rb") as file:
            data = file.read(max_bytes + 1)
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise InvalidInput(f"{path} is over {max_bytes} bytes")
    return data


def save_atomically(
    path: Path,
    data: bytes,
    *,
    mode: int = PRIVATE_FILE_MODE,
    error: type[JinqiaoError] = InvalidInput,
) -> None:
    """Replace ``path`` with ``data``, durably; returns only when both are on disk."""
    temporary = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        _write_and_sync(descriptor, data, mode)
        os.replace(temporary, path)
        sync_directory(path.parent)
    except OSError as exc:
        raise error(f"cannot save {path}: {_reason(exc)}") from None


def save_new(
    path: Path,
    data: bytes,
    *,
    mode: int = PRIVATE_FILE_MODE,
    error: type[JinqiaoError] = InvalidInput,
) -> None:
    """Create ``path`` holding ``data``, durably; ``error`` if ``path`` already exists."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        temporary = Path(name)
        try:
            _write_and_sync(descriptor, data, mode)
            exists = _link_unless_exists(temporary, path, data, mode)
        finally:
            temporary.unlink(missing_ok=True)
        if exists:
            raise error(f"{path} exists; refusing to overwrite it")
        sync_directory(path.parent)
    except OSError as exc:
        raise error(f"cannot save {path}: {_reason(exc)}") from None


def _write_and_sync(descriptor: int, data: bytes, mode: int) -> None:
    """Write all of ``data`` to ``descriptor``, set its mode (a reused or ``mkstemp`` file has its
    own) and fsync it; the descriptor is closed in every case."""
    try:
        os.fchmod(descriptor, mode)
        view = memoryview(data)
        while view:
            written = os.write(descriptor, view)
            view = view[written:]
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _link_unless_exists(source: Path, target: Path, data: bytes, mode: int) -> bool:
    """Link ``target`` to ``source``; ``True`` (and no link) if ``target`` already exists. On a
    file system without hard links, create ``target`` exclusively and write ``data`` into it
    instead: never an overwrite, though a crash mid-write may then leave it torn (which
    ``jinqiao.keys.load_key`` reports as not a key file)."""
    try:
        os.link(source, target)
    except FileExistsError:
        return True
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise
        try:
            descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        except FileExistsError:
            return True
        _write_and_sync(descriptor, data, mode)
    return False


def sync_directory(directory: Path) -> None:
    """fsync a directory, so that a file created or renamed in it survives a power cut."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)
