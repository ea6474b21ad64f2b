"""A read-only contract query answered with the proofs of every state key it read
(docs/proofs.md §9.5), so that a client can run the same query again on proven state.

A query is a pure function of the keys it reads, the block context and its arguments: state
reaches a contract only through ``StateReader.get``. So the query runs over one snapshot through
a reader that records each key it asks for; once the snapshot is closed, each recorded key is
proven at that snapshot's height, against one header (``Reader.state``), and the proven value
must be the value the query read.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from jinqiao.core.errors import InvalidInput, NodeFault
from jinqiao.core.limits import MAX_QUERY_READS
from jinqiao.core.proofs import StateRead, StateReadsProof
from jinqiao.execution.contract import BlockContext
from jinqiao.execution.runtime import Runtime
from jinqiao.node.reads import NotFound, Reader


class ProofTooLarge(InvalidInput):
    """The query read more keys than one proven answer may carry."""

    code = "proof_too_large"


class SnapshotGet(Protocol):
    """What a query needs of one snapshot (``node.port.Reading``)."""

    @property
    def height(self) -> int: ...

    @property
    def time_ms(self) -> int: ...

    def get(self, full_key: bytes) -> bytes | None: ...


class RecordingReader:
    """A ``StateReader`` over one snapshot that remembers every key read and what it read."""

    def __init__(self, reading: SnapshotGet) -> None:
        self._reading = reading
        self.values: dict[bytes, bytes | None] = {}

    def get(self, key: bytes) -> bytes | None:
        if key not in self.values:
            if len(self.values) >= MAX_QUERY_READS:
                raise ProofTooLarge(
                    f"the query reads more than {MAX_QUERY_READS} state keys; "
                    "ask without proofs or read the records one by one",
                    limit=MAX_QUERY_READS,
                )
            self.values[key] = self._reading.get(key)
        return self.values[key]


@dataclass(frozen=True)
class ProvenQuery:
    """A query's result read at block ``height`` (time ``time_ms``), with ``proof``: every key
    it read, proven against that block's header."""

    height: int
    time_ms: int
    result: Any
    proof: StateReadsProof


def prove_query(
    runtime: Runtime,
    reader: Reader,
    reading: Callable[[], AbstractContextManager[SnapshotGet]],
    chain_id: str,
    call: tuple[str, str, Any],
) -> ProvenQuery:
    """Run ``call`` (contract, query name, arguments) on one snapshot from ``reading`` and prove
    every key it read at that snapshot's height."""
    contract, query_name, arguments = call
    with reading() as snapshot:
        if snapshot.height == 0:
            raise NotFound("no block has been committed yet; nothing can be proven")
        recorder = RecordingReader(snapshot)
        context = BlockContext(chain_id, snapshot.height, snapshot.time_ms, b"")
        result = runtime.run_query(recorder, context, contract, query_name, arguments)
        height, time_ms = snapshot.height, snapshot.time_ms
    reads = []
    for key, value in recorder.values.items():
        proven = reader.state(key, height)
        if proven.value != value:
            raise NodeFault("a proven value differs from the value the query read", key=key)
        reads.append(StateRead(key, value, proven.proof))
    committed = reader.block(height)
    proof = StateReadsProof(committed.block.header, committed.certificate, tuple(reads))
    return ProvenQuery(height, time_ms, result, proof)


__all__ = ["ProofTooLarge", "ProvenQuery", "RecordingReader", "prove_query"]
