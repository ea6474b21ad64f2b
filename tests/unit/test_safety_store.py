"""The safety record on disk: atomic (a crash leaves the old or the new record), owner-only, a
node fault when it cannot be saved, and what a restarted safety module reloads. The fsync order
(file, rename, directory) is ``jinqiao.fileio``'s and tested in ``test_fileio.py``."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from jinqiao.consensus.safety import ConflictingSignature, SafetyModule
from jinqiao.core.crypto import get_suite
from jinqiao.core.errors import NodeFault
from jinqiao.core.types import Vote, VoteType
from jinqiao.node.safety_store import FileSafetyStorage

SUITE = get_suite("ed25519-sha256")
SIGNER = SUITE.signer(hashlib.sha256(b"safety-store-test").digest())
X = hashlib.sha256(b"x").digest()
Y = hashlib.sha256(b"y").digest()


def test_load_before_any_save_is_none(tmp_path: Path) -> None:
    assert FileSafetyStorage(tmp_path / "safety.bin").load() is None


def test_save_then_load_round_trips_and_overwrites(tmp_path: Path) -> None:
    storage = FileSafetyStorage(tmp_path / "state" / "safety.bin")
    storage.save(b"first")
    storage.save(b"second")
    assert storage.load() == b"second"
    assert sorted(p.name for p in (tmp_path / "state").iterdir()) == ["safety.bin"]
    mode = stat.S_IMODE((tmp_path / "state" / "safety.bin").stat().st_mode)
    assert mode == 0o600


def test_a_crash_before_the_rename_leaves_the_old_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = FileSafetyStorage(tmp_path / "safety.bin")
    storage.save(b"old")

    def crash(source: object, target: object) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(NodeFault, match="cannot save"):
        storage.save(b"new")
    monkeypatch.undo()
    assert FileSafetyStorage(tmp_path / "safety.bin").load() == b"old"


def test_an_oversize_record_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "safety.bin"
    path.write_bytes(b"\x00" * (1024 * 1024))
    with pytest.raises(NodeFault, match="over"):
        FileSafetyStorage(path).load()


def test_a_restarted_safety_module_reloads_the_file(tmp_path: Path) -> None:
    path = tmp_path / "safety.bin"
    first = SafetyModule(SIGNER, "chain", FileSafetyStorage(path))
    first.sign_vote(Vote("chain", 1, 0, int(VoteType.PREVOTE), X, SIGNER.address))
    restarted = SafetyModule(SIGNER, "chain", FileSafetyStorage(path))
    with pytest.raises(ConflictingSignature):
        restarted.sign_vote(Vote("chain", 1, 0, int(VoteType.PREVOTE), Y, SIGNER.address))
