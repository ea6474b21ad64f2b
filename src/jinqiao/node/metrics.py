"""Prometheus metrics of one node, on a registry of its own (several nodes may share a process
in tests)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class NodeMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.height = Gauge(
            "jinqiao_height", "Height of the last committed block", registry=self.registry
        )
        self.mempool_size = Gauge(
            "jinqiao_mempool_transactions",
            "Transactions waiting in the mempool",
            registry=self.registry,
        )
        self.mempool_bytes = Gauge(
            "jinqiao_mempool_bytes", "Bytes waiting in the mempool", registry=self.registry
        )
        self.admitted = Counter(
            "jinqiao_transactions_admitted",
            "Transactions admitted to the mempool",
            registry=self.registry,
        )
        self.refused = Counter(
            "jinqiao_transactions_refused",
            "Transactions refused at admission, by code",
            ["code"],
            registry=self.registry,
        )
        self.committed = Counter(
            "jinqiao_transactions_committed",
            "Transactions committed, by receipt code",
            ["code"],
            registry=self.registry,
        )
        self.blocks = Counter(
            "jinqiao_blocks_committed", "Blocks committed", registry=self.registry
        )
        self.execution_seconds = Histogram(
            "jinqiao_block_execution_seconds",
            "Time to execute a block and compute its roots",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.commit_seconds = Histogram(
            "jinqiao_block_commit_seconds",
            "Time to write a block to disk",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )
        self.block_transactions = Histogram(
            "jinqiao_block_transactions",
            "Transactions per block",
            buckets=(0, 1, 10, 50, 100, 250, 500, 1000, 2000, 5000),
            registry=self.registry,
        )
