"""An organization's account-name store: names open their on-chain commitments, erasure
destroys them, and a tampered entry is a node fault, never a wrong name."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from jinqiao.core.crypto import DEFAULT_SUITE, get_suite
from jinqiao.core.errors import InvalidInput, NodeFault
from jinqiao.core.names import name_commitment
from jinqiao.credit.names import AccountNameStore, NameOpening, new_salt, store_path

SUITE = get_suite(DEFAULT_SUITE)
ALICE = b"\x11" * 20
BOB = b"\x22" * 20


def test_a_saved_name_opens_its_commitment_and_nothing_else(tmp_path: Path) -> None:
    salt = new_salt()
    with AccountNameStore(store_path(tmp_path, "bank-a"), SUITE.hash) as store:
        committed = store.save(ALICE, NameOpening("张伟", salt))
        opening = store.load(ALICE)
    assert committed == name_commitment(SUITE.hash, salt, "张伟")
    assert opening == NameOpening("张伟", salt)
    assert opening.opens(SUITE.hash, committed)
    assert not NameOpening("张三", salt).opens(SUITE.hash, committed)
    assert not NameOpening("张伟", new_salt()).opens(SUITE.hash, committed)
    # the file holds neither the name nor the salt in clear
    raw = store_path(tmp_path, "bank-a").read_bytes()
    assert "张伟".encode() not in raw and salt not in raw


def test_erasing_a_name_destroys_it_and_keeps_the_others(tmp_path: Path) -> None:
    path = tmp_path / "names.sqlite"
    with AccountNameStore(path, SUITE.hash) as store:
        store.save(ALICE, NameOpening("alice", new_salt()))
        store.save(BOB, NameOpening("bob", new_salt()))
        assert store.erase(ALICE)
        assert store.load(ALICE) is None and store.is_erased(ALICE)
        assert store.load(BOB) is not None
        assert not store.erase(ALICE)
        with pytest.raises(InvalidInput) as refused:
            store.save(ALICE, NameOpening("alice", new_salt()))
        assert refused.value.code == "subject_erased"
    assert b"alice" not in path.read_bytes()


def test_an_entry_moved_to_another_account_does_not_decrypt(tmp_path: Path) -> None:
    path = tmp_path / "names.sqlite"
    with AccountNameStore(path, SUITE.hash) as store:
        store.save(ALICE, NameOpening("alice", new_salt()))
    with sqlite3.connect(path) as db:
        db.execute("UPDATE names SET address = ?", (BOB,))
    with AccountNameStore(path, SUITE.hash) as store, pytest.raises(NodeFault):
        store.load(BOB)
