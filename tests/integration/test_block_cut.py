"""The proposer's cut by expected execution time on a real node (ADR 0046, amended): the node's
``block_execution_budget_ms`` reaches its consensus driver, a block of a method never executed is
cut by the initial expectation, and the next one by what the node measured executing the first
on its own chain (LMDB, the state tree, real signatures): the CNY issuer's mints."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from jinqiao.apps.token import TOKEN, MintArgs
from jinqiao.core.codec import encode
from jinqiao.core.hashing import transaction_signing_bytes
from jinqiao.core.types import SignedTransaction, TransactionBody
from jinqiao.keys import load_key
from jinqiao.node import jobs
from jinqiao.node.block_cost import INITIAL_TRANSACTION_COST_S
from jinqiao.node.driver import BuildBlock
from jinqiao.node.service import Node
from tests.helpers.process import make_network

BUDGET_MS = 102  # not a multiple of 5 ms: no float rounding at the boundary
CALLS = 300


def test_blocks_are_cut_by_the_cost_the_node_measured(tmp_path: Path) -> None:
    layout = make_network(tmp_path, validators=4)
    home = tmp_path / layout.nodes[0].home
    config = json.loads((home / "config.json").read_text())
    config["block_execution_budget_ms"] = BUDGET_MS
    (home / "config.json").write_text(json.dumps(config))
    node = Node(home)  # a validator of four: its consensus driver exists (not started here)
    try:
        driver = node.driver
        assert driver is not None and driver.block_budget is not None
        assert driver.block_budget.budget_s == BUDGET_MS / 1000
        issuer = load_key(tmp_path / layout.account("clearing-treasury").key_file)
        payee = bytes.fromhex(layout.account("bank-b-treasury").address)
        raws = []
        for nonce in range(CALLS):
            body = TransactionBody(
                layout.chain_id,
                issuer.address,
                issuer.public_key,
                nonce,
                50,
                TOKEN,
                "mint",
                encode(MintArgs("CNY", payee, 1)),
            )
            raws.append(
                encode(SignedTransaction(body, issuer.sign(transaction_signing_bytes(body))))
            )
        node.admit_many(raws)
        assert len(node.mempool) == CALLS

        def build() -> int:
            action = BuildBlock(
                node.chain.head.height + 1, 0, int(time.time() * 1000), driver.core.address
            )
            candidate = jobs.build_block(node.chain, node.mempool, action, driver.block_budget)
            assert candidate is not None
            assert [r.code for r in candidate.result.receipts] == ["ok"] * len(
                candidate.result.receipts
            )
            driver.execution_costs.observe(candidate.block.transactions, candidate.execution_s)
            node.mempool.remove(candidate.transaction_hashes)  # as a commit would
            return len(candidate.block.transactions)

        # Never executed: 5 ms expected each, so 20 fit in 102 ms.
        assert build() == math.floor(BUDGET_MS / 1000 / INITIAL_TRANSACTION_COST_S)
        measured_s = driver.execution_costs.known()[(TOKEN, "mint")]
        assert measured_s > 0
        # The next block holds as many as the measured cost allows (the budget's own rounding).
        expected = min(CALLS - 20, max(1, math.floor(BUDGET_MS / 1000 / measured_s)))
        assert abs(build() - expected) <= 1
    finally:
        node.close()
