"""``Chain.validate``, the one path by which a node accepts a block it did not build: it
re-executes the block, recomputes every root and names each header field that does not match."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from jinqiao.core.types import Block, BlockHeader
from jinqiao.execution.runtime import InvalidBlock
from tests.unit.test_chain_verified_signatures import make_chain


def proposed(tmp_path: Path) -> tuple[Block, Path]:
    """A valid block built by one node (the proposer) for a second, identical chain."""
    proposer_chain, transactions, proposer = make_chain(tmp_path / "proposer")
    candidate = proposer_chain.execute(transactions, 5_000, proposer, verify_signatures=True)
    return candidate.block, tmp_path / "validator"


def with_header(block: Block, **changes: object) -> Block:
    header: BlockHeader = msgspec.structs.replace(block.header, **changes)
    return Block(header, block.transactions)


def test_a_valid_block_validates_to_the_same_block(tmp_path: Path) -> None:
    block, path = proposed(tmp_path)
    chain, _, _ = make_chain(path)
    assert chain.validate(block).block == block


@pytest.mark.parametrize(
    "field",
    ["state_root", "receipts_root", "transactions_root", "validators_hash", "next_validators_hash"],
)
def test_each_wrong_root_is_named(tmp_path: Path, field: str) -> None:
    block, path = proposed(tmp_path)
    chain, _, _ = make_chain(path)
    with pytest.raises(InvalidBlock, match=f"{field} do not match") as refusal:
        chain.validate(with_header(block, **{field: b"\x01" * 32}))
    assert refusal.value.details["fields"] == field


def test_reordered_transactions_name_both_roots_and_the_state(tmp_path: Path) -> None:
    block, path = proposed(tmp_path)
    chain, _, _ = make_chain(path)
    swapped = Block(
        block.header, (block.transactions[1], block.transactions[0], *block.transactions[2:])
    )
    with pytest.raises(InvalidBlock) as refusal:
        chain.validate(swapped)
    assert refusal.value.details["fields"].startswith("transactions_root,receipts_root")


def test_a_block_that_does_not_extend_the_head_is_refused_before_execution(
    tmp_path: Path,
) -> None:
    block, path = proposed(tmp_path)
    chain, _, _ = make_chain(path)
    with pytest.raises(InvalidBlock, match="does not extend"):
        chain.validate(with_header(block, height=2))
    with pytest.raises(InvalidBlock, match="does not extend"):
        chain.validate(with_header(block, previous_block_hash=b"\x02" * 32))
    with pytest.raises(InvalidBlock, match="carries"):
        chain.validate(Block(block.header, block.transactions[:-1]))
    with pytest.raises(InvalidBlock, match="chain"):
        chain.validate(with_header(block, chain_id="another-chain"))
    assert chain.head.height == 0
