"""The one durable file writer: atomic replace (temporary file, fsync, rename, directory fsync),
create-only without ever overwriting, the requested mode, and an ``OSError`` turned into the
caller's error class with the path in the message."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from jinqiao.core.errors import InvalidInput, NodeFault
from jinqiao.fileio import PUBLIC_FILE_MODE, save_atomically, save_new


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_save_atomically_replaces_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "network.json"
    save_atomically(path, b"one")
    save_atomically(path, b"two", mode=PUBLIC_FILE_MODE)
    assert path.read_bytes() == b"two"
    assert mode_of(path) == PUBLIC_FILE_MODE
    assert [p.name for p in path.parent.iterdir()] == ["network.json"]


def record_calls(monkeypatch: pytest.MonkeyPatch, publish: str) -> list[str]:
    """Record, in order, each fsync (of a file or a directory) and each call of ``os.<publish>``
    (the rename or link that makes the new file visible under its name)."""
    calls: list[str] = []
    real_fsync, real_publish = os.fsync, getattr(os, publish)

    def fsync(descriptor: int) -> None:
        calls.append("fsync-dir" if stat.S_ISDIR(os.fstat(descriptor).st_mode) else "fsync-file")
        real_fsync(descriptor)

    def publish_file(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
        calls.append(publish)
        real_publish(source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, publish, publish_file)
    return calls


def test_save_atomically_syncs_the_file_then_renames_then_syncs_the_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = record_calls(monkeypatch, "replace")
    save_atomically(tmp_path / "record", b"data")
    assert calls == ["fsync-file", "replace", "fsync-dir"]


def test_a_failed_save_keeps_the_old_file_and_raises_the_callers_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "record"
    save_atomically(path, b"old")

    def crash(source: object, target: object) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(NodeFault, match=r"cannot save .*record: Input/output error"):
        save_atomically(path, b"new", error=NodeFault)
    monkeypatch.undo()
    assert path.read_bytes() == b"old"


def test_an_unwritable_place_is_a_clean_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_bytes(b"")
    with pytest.raises(InvalidInput, match="cannot save"):
        save_atomically(blocker / "config.json", b"{}")
    with pytest.raises(InvalidInput, match="cannot save"):
        save_new(blocker / "node.key", b"secret")


def test_save_new_creates_owner_only_and_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "node.json"
    save_new(path, b"first")
    assert (path.read_bytes(), mode_of(path)) == (b"first", 0o600)
    with pytest.raises(InvalidInput, match="exists; refusing to overwrite"):
        save_new(path, b"second")
    assert path.read_bytes() == b"first"
    assert [p.name for p in path.parent.iterdir()] == ["node.json"]


def test_save_new_syncs_the_file_before_it_appears_and_the_directory_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = record_calls(monkeypatch, "link")
    save_new(tmp_path / "node.key", b"secret")
    assert calls == ["fsync-file", "link", "fsync-dir"]


def test_save_new_without_hard_links_still_never_overwrites(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(source: object, target: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    path = tmp_path / "node.json"
    save_new(path, b"first")
    assert (path.read_bytes(), mode_of(path)) == (b"first", 0o600)
    with pytest.raises(InvalidInput, match="refusing to overwrite"):
        save_new(path, b"second")
    assert path.read_bytes() == b"first"
    assert [p.name for p in tmp_path.iterdir()] == ["node.json"]
