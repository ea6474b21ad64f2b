"""The shortcut for signatures already checked at admission (``Chain.execute(verified=...)``)
against the plain path: the same candidate block, and a forged copy still refused."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from jinqiao.apps import default_contracts
from jinqiao.bench.execute import bench_genesis, signed_transfers
from jinqiao.core.crypto import get_suite
from jinqiao.core.hashing import transaction_hash
from jinqiao.core.types import SignedTransaction
from jinqiao.execution.runtime import InvalidBlock, Runtime
from jinqiao.node.chain import Chain
from jinqiao.node.storage import Store


def make_chain(path: Path) -> tuple[Chain, list[SignedTransaction], bytes]:
    rng = random.Random(5)
    suite = get_suite("ed25519-sha256")
    holders = [suite.signer(rng.randbytes(32)) for _ in range(20)]
    validator = suite.signer(rng.randbytes(32))
    genesis = bench_genesis(holders, validator)
    chain = Chain(
        Store(path), genesis, Runtime(genesis.suite, genesis.chain_id, default_contracts())
    )
    return chain, signed_transfers(holders, 50, rng, 50), validator.address


def test_verified_shortcut_builds_the_same_block(tmp_path: Path) -> None:
    plain_chain, transactions, proposer = make_chain(tmp_path / "plain")
    fast_chain, _, _ = make_chain(tmp_path / "fast")
    suite = plain_chain.suite
    verified = {transaction_hash(suite, tx.body): tx for tx in transactions[:30]}
    plain = plain_chain.execute(transactions, 5_000, proposer, verify_signatures=True)
    fast = fast_chain.execute(
        transactions, 5_000, proposer, verify_signatures=True, verified=verified
    )
    assert fast.block == plain.block and fast.result.receipts == plain.result.receipts


def test_a_forged_copy_of_a_verified_transaction_is_still_refused(tmp_path: Path) -> None:
    chain, transactions, proposer = make_chain(tmp_path / "chain")
    suite = chain.suite
    verified = {transaction_hash(suite, tx.body): tx for tx in transactions}
    forged = SignedTransaction(transactions[3].body, bytes(64))
    block = [*transactions[:3], forged, *transactions[4:]]
    with pytest.raises(InvalidBlock, match="transaction 3"):
        chain.execute(block, 5_000, proposer, verify_signatures=True, verified=verified)
