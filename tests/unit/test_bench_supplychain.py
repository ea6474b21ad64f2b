"""``bench supplychain``'s own figures: the per-phase block summary and the network it sets up."""

from __future__ import annotations

import msgspec

from jinqiao.apps.supplychain.model import SUPPLYCHAIN
from jinqiao.bench.supplychain import _block_summary, _spec
from jinqiao.core.genesis import ChainParameters


def test_block_summary_shows_a_stall() -> None:
    # (seen at, height, transactions, round): the third block waited 40 s and took 7 rounds.
    blocks = [(101.0, 5, 200, 0), (102.0, 6, 400, 0), (142.0, 7, 2000, 6)]
    summary = _block_summary(blocks, started=100.0, ended=143.0)
    assert summary == {
        "count": 3,
        "transactions_mean": 866.7,
        "transactions_max": 2000,
        "rounds_per_height": 3.0,
        "rounds_max": 7,
        "longest_gap_s": 40.0,
    }
    assert _block_summary([], started=100.0, ended=160.0) == {"count": 0, "longest_gap_s": 60.0}
    # Blocks stop, the drain times out: the gap runs to the end.
    assert _block_summary(blocks[:1], started=100.0, ended=180.0)["longest_gap_s"] == 79.0


def test_spec_block_size_applies_to_the_whole_network() -> None:
    default = _spec(4, 9600, None)
    assert default.parameters.block_max_transactions == ChainParameters().block_max_transactions
    assert SUPPLYCHAIN in default.contracts
    capped = _spec(4, 9600, 500)
    assert capped.parameters == msgspec.structs.replace(
        default.parameters, block_max_transactions=500
    )
    assert capped.organizations == default.organizations
