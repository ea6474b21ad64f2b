"""Prometheus metrics of one node, on a registry of its own (several nodes may share a process
in tests), with the standard process and Python metrics that prometheus_client's default registry
would carry (``process_cpu_seconds_total``, ``process_resident_memory_bytes``,
``process_open_fds``, ``python_gc_*``, ``python_info``): a registry of our own does not include
them unless asked."""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)


class NodeMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.tls_certificate_expiry = Gauge(
            "jinqiao_tls_certificate_expiry_timestamp_seconds",
            "When the TLS certificate the node presents expires (Unix time)",
            registry=self.registry,
        )
        self.tls_certificate_rotations = Counter(
            "jinqiao_tls_certificate_rotations",
            "TLS certificates loaded while the node runs (docs/keys.md Rotation)",
            registry=self.registry,
        )
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
        self.mempool_backlog = Gauge(
            "jinqiao_mempool_backlog_seconds",
            "Expected execution time of the transactions waiting in the mempool (the bound "
            "of mempool_backlog_blocks applies to it)",
            registry=self.registry,
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
        self.rounds_per_height = Histogram(
            "jinqiao_consensus_rounds_per_height",
            "Rounds a height needed before it was decided (1 = decided in its first round)",
            buckets=(1, 2, 3, 4, 6, 10, 20),
            registry=self.registry,
        )
        self.commit_interval_seconds = Histogram(
            "jinqiao_consensus_commit_interval_seconds",
            "Time from one commit to the next on this node",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
            registry=self.registry,
        )
        self.missing_votes = Counter(
            "jinqiao_consensus_missing_votes",
            "Heights decided without this validator's precommit in the certificate",
            ["validator"],
            registry=self.registry,
        )
        self.consensus_round = Gauge(
            "jinqiao_consensus_round", "Current consensus round", registry=self.registry
        )
        self.peers_connected = Gauge(
            "jinqiao_peers_connected", "Validator peers connected", registry=self.registry
        )
        self.pruned_bytes = Counter(
            "jinqiao_pruned_bytes",
            "Bytes of old state versions the pruner deleted (ADR 0053)",
            registry=self.registry,
        )
        self.pruned_nodes = Counter(
            "jinqiao_pruned_state_nodes",
            "State tree nodes the pruner deleted (ADR 0053)",
            registry=self.registry,
        )
        self.prune_floor = Gauge(
            "jinqiao_prune_floor_height",
            "Oldest height whose state this node keeps (0: none pruned yet, or an archive node)",
            registry=self.registry,
        )
        self.evidence = Counter(
            "jinqiao_consensus_equivocations",
            "Equivocations seen, by validator",
            ["validator"],
            registry=self.registry,
        )
