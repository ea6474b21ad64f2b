"""A validator admits transactions from clients only while a fifth of its mempool is free, and
keeps admitting what its peers gossip into that fifth: under a saturating load, a transaction one
node accepted still finds room on the others (and so survives that node's crash)."""

from __future__ import annotations

import json
from pathlib import Path

from jinqiao.apps.token import TOKEN, TransferArgs
from jinqiao.core.codec import encode
from jinqiao.core.hashing import transaction_signing_bytes
from jinqiao.core.types import SignedTransaction, TransactionBody
from jinqiao.keys import load_key
from jinqiao.node.admission import Admission
from jinqiao.node.mempool import MempoolFull
from jinqiao.node.service import Node
from tests.helpers.process import make_network

CAPACITY = 10


def test_client_submissions_leave_room_for_gossip(tmp_path: Path) -> None:
    layout = make_network(tmp_path, validators=4)
    home = tmp_path / layout.nodes[0].home
    config = json.loads((home / "config.json").read_text())
    config["mempool_capacity"] = CAPACITY
    (home / "config.json").write_text(json.dumps(config))
    node = Node(home)  # a validator of four: its consensus driver exists (not started here)
    try:
        assert node.driver is not None
        payer = load_key(tmp_path / layout.account("bank-a-treasury").key_file)
        payee = bytes.fromhex(layout.account("bank-b-treasury").address)
        raws = []
        for nonce in range(CAPACITY + 1):
            body = TransactionBody(
                layout.chain_id,
                payer.address,
                payer.public_key,
                nonce,
                50,
                TOKEN,
                "transfer",
                encode(TransferArgs("CNY", payee, 1)),
            )
            raws.append(
                encode(SignedTransaction(body, payer.sign(transaction_signing_bytes(body))))
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
