"""The proposer's cut by expected execution time on a real node (ADR 0046, amended): the node's
``block_execution_budget_ms`` reaches its consensus driver, a block of a method never executed is
cut by the initial expectation, and the next one by what the node measured executing the first
on its own chain (LMDB, the state tree, real signatures): the CNY issuer's mints."""

from __future__ import annotations

import math
import time
from pathlib import Path

from jinqiao.apps.token import TOKEN, MintArgs
from jinqiao.node import jobs
from jinqiao.node.block_cost import INITIAL_TRANSACTION_COST_S
from jinqiao.node.driver import BuildBlock
from tests.helpers.validator import open_validator, signed_calls

BUDGET_MS = 102  # not a multiple of 5 ms: no float rounding at the boundary
CALLS = 300


def test_blocks_are_cut_by_the_cost_the_node_measured(tmp_path: Path) -> None:
    # The backlog bound (ADR 0055) is off: it would refuse the 63rd call at 3 x 102 ms.
    layout, node = open_validator(
        tmp_path, block_execution_budget_ms=BUDGET_MS, mempool_backlog_blocks=0
    )
    try:
        driver = node.driver
        assert driver is not None and driver.block_budget is not None
        assert driver.block_budget.budget_s == BUDGET_MS / 1000
        payee = bytes.fromhex(layout.account("bank-b-treasury").address)
        mint = MintArgs("CNY", payee, 1)
        raws = signed_calls(tmp_path, layout, "clearing-treasury", TOKEN, "mint", mint, CALLS)
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
