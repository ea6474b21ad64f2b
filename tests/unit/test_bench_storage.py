"""``jinqiao bench storage``'s own arithmetic: the live bytes it reads from another process's
store, the growth per half, the plot (the network runs are in benchmarks/storage-pruning.*)."""

from __future__ import annotations

from pathlib import Path

from jinqiao.bench.storage import _growth, live_bytes_of, plot_storage_bench
from jinqiao.node.storage import Store
from tests.unit.test_storage import save_genesis, save_three_blocks


def test_live_bytes_read_only_are_the_stores_own(tmp_path: Path) -> None:
    store = Store(tmp_path / "db")
    try:
        save_genesis(store)
        save_three_blocks(store)
        expected = store.live_bytes()
    finally:
        store.close()  # LMDB allows one handle per process: the bench reads another's store
    assert live_bytes_of(tmp_path / "db") == expected > 0


def rows(disk_mb: list[float]) -> list[dict[str, object]]:
    return [
        {
            "elapsed_s": 60.0 * (index + 1),
            "height": index,
            "committed": 0,
            "disk_bytes": [int(mb * 1e6)],
            "live_bytes_first_node": int(mb * 1e6 / 2),
        }
        for index, mb in enumerate(disk_mb)
    ]


def test_growth_per_half_shows_a_plateau() -> None:
    growth = _growth(rows([10, 20, 30, 40, 40, 40, 40, 40, 40]))
    assert growth["disk_first_half"] == 7.5  # 10 → 40 MB in 4 minutes
    assert growth["disk_second_half"] == 0
    assert growth["live_first_half"] == 3.75
    assert _growth(rows([1, 2])) == {}


def test_the_plot_is_written(tmp_path: Path) -> None:
    result = {
        "setup": {"validators": 4, "offered_per_second": 1000},
        "runs": {
            "archive": {"committed_per_second": 300.0, "samples": rows([10, 20, 30])},
            "pruned": {
                "committed_per_second": 290.0,
                "retention_heights": 100,
                "samples": rows([10, 15, 15]),
            },
        },
    }
    plot_storage_bench(result, tmp_path / "storage.png")
    assert (tmp_path / "storage.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
