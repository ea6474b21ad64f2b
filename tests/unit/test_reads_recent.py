"""The reader serves the node's recent committed blocks from memory (``node.service.RecentBlocks``)
and the rest from the store, and never a block past the store's head."""

from __future__ import annotations

import pytest

from jinqiao.core.types import CommittedBlock
from jinqiao.node.reads import NotFound, Reader
from jinqiao.node.storage import MemoryTables, Store
from tests.unit.test_pruning import SUITE, commit_blocks, make_chain


def test_recent_blocks_come_from_memory_and_older_ones_from_the_store() -> None:
    store = Store(tables=MemoryTables(), journal=True)
    chain, holders, validator = make_chain(store)
    commit_blocks([chain], holders, validator.address, blocks=4, per_block=3)
    with store.snapshot() as snapshot:
        stored = {height: snapshot.block(height) for height in range(1, 5)}
    kept: dict[int, CommittedBlock] = {}
    for height in (3, 4):
        block = stored[height]
        assert block is not None
        kept[height] = block
    reader = Reader(store, SUITE, recent=kept.get)
    assert reader.block(4) is kept[4] and reader.block() is kept[4]
    assert reader.block(3) is kept[3]
    older = reader.block(2)
    assert older is not stored[2] and older == stored[2]  # decoded from the store again
    assert Reader(store, SUITE).block(4) is not kept[4]
    # A block the memory holds past the store's head is not served.
    kept[5] = kept[4]
    with pytest.raises(NotFound, match="no block at height 5"):
        reader.block(5)
