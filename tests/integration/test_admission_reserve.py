"""A validator admits transactions from clients only while a fifth of its mempool is free, and
keeps admitting what its peers gossip into that fifth: under a saturating load, a transaction one
node accepted still finds room on the others (and so survives that node's crash)."""

from __future__ import annotations

from pathlib import Path

from jinqiao.apps.token import TOKEN, TransferArgs
from jinqiao.node.admission import Admission
from jinqiao.node.mempool import MempoolFull
from tests.helpers.validator import open_validator, signed_calls

CAPACITY = 10


def test_client_submissions_leave_room_for_gossip(tmp_path: Path) -> None:
    layout, node = open_validator(tmp_path, mempool_capacity=CAPACITY)
    try:
        payee = bytes.fromhex(layout.account("bank-b-treasury").address)
        transfer = TransferArgs("CNY", payee, 1)
        raws = signed_calls(
            tmp_path, layout, "bank-a-treasury", TOKEN, "transfer", transfer, CAPACITY + 1
        )
        from_clients = node.admit_many(raws[:CAPACITY])
        accepted = [o for o in from_clients if isinstance(o, Admission)]
        assert len(accepted) == 8  # 80% of the capacity
        assert all(isinstance(o, MempoolFull) for o in from_clients[8:])
        node.admit_gossip(tuple(raws[8:CAPACITY]))  # what peers gossip fills the reserve
        assert len(node.mempool) == CAPACITY
        node.admit_gossip((raws[CAPACITY],))  # and no further
        assert len(node.mempool) == CAPACITY
    finally:
        node.close()
