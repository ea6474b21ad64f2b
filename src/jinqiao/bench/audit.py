"""``jinqiao bench audit``: what one audit-trail record costs the API (``node.audit``).

The measured path is ``AuditLog.record`` as the API calls it: build the body, hash it, one
``write`` and one ``fsync`` of the segment file. Run from one thread and from several at once
(the API answers from worker threads; the log serializes appends), in a temporary directory on the
disk given (the node's home disk is what matters: fsync time is the cost).
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from rich.table import Table

from jinqiao.bench.execute import setup_description
from jinqiao.node.audit import open_audit_log
from jinqiao.terminal import console, emit_json

ROUTE = "/v1/payments/statements/{institution}"


def _append(records: int, threads: int, directory: Path) -> dict[str, Any]:
    log = open_audit_log(directory)
    per_thread = records // threads
    latencies_ms: list[float] = []
    lock = threading.Lock()

    def work(worker: int) -> None:
        mine: list[float] = []
        for _ in range(per_thread):
            started = time.perf_counter()
            log.record(
                identity=f"bank-{worker}-admin",
                organization=f"bank-{worker}",
                method="GET",
                route=ROUTE,
                status=200,
            )
            mine.append((time.perf_counter() - started) * 1000)
        with lock:
            latencies_ms.extend(mine)

    workers = [threading.Thread(target=work, args=(index,)) for index in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed_s = time.perf_counter() - started
    log.close()
    latencies_ms.sort()
    done = len(latencies_ms)
    return {
        "threads": threads,
        "records": done,
        "appends_per_second": round(done / elapsed_s, 1),
        "p50_ms": round(latencies_ms[done // 2], 3),
        "p99_ms": round(latencies_ms[min(done - 1, done * 99 // 100)], 3),
    }


def run_audit_bench(
    *, records: int, threads: tuple[int, ...], directory: Path | None, json_output: bool
) -> dict[str, Any]:
    results = []
    for count in threads:
        with tempfile.TemporaryDirectory(dir=directory, prefix="jinqiao-audit-bench-") as home:
            results.append(_append(records, count, Path(home)))
    setup = setup_description(0, 0, 0)
    for unused in ("transfers", "block_size", "accounts"):
        setup.pop(unused)
    setup["storage"] = f"one segment file in {directory or tempfile.gettempdir()}, fsync per record"
    setup["path"] = "AuditLog.record: JSON body, SHA-256, one write, one fsync"
    result: dict[str, Any] = {"benchmark": "audit", "setup": setup, "results": results}
    if json_output:
        emit_json(result)
        return result
    table = Table(title="jinqiao bench audit — audit records appended durably")
    for column in ("threads", "records", "appends/s", "p50 ms", "p99 ms"):
        table.add_column(column, justify="right")
    for row in results:
        table.add_row(
            *(str(row[key]) for key in ("threads", "records", "appends_per_second")),
            str(row["p50_ms"]),
            str(row["p99_ms"]),
        )
    console.print(table)
    console.print(json.dumps(setup))
    return result
