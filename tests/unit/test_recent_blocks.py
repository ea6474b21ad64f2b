"""The node's last committed blocks kept decoded (``node.service.RecentBlocks``)."""

from __future__ import annotations

from jinqiao.node.service import RECENT_BLOCKS, RecentBlocks
from tests.unit.test_storage import committed_block


def test_keeps_the_last_blocks_committed_and_forgets_older_ones() -> None:
    recent = RecentBlocks()
    blocks = [committed_block(height, bytes(32), 1) for height in range(1, RECENT_BLOCKS + 4)]
    for block in blocks:
        recent.add(block)
    assert recent.get(0) is None
    for block in blocks[:3]:
        assert recent.get(block.block.header.height) is None  # older than the last eight
    for block in blocks[3:]:
        assert recent.get(block.block.header.height) is block
    assert recent.get(RECENT_BLOCKS + 4) is None  # not committed yet
