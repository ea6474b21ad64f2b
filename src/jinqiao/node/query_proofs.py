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
from jinqiao.core.limits import MAX_QUERY_READS, MAX_REPORT_READS
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


class KeyGet(Protocol):
    def get(self, full_key: bytes) -> bytes | None: ...


class RecordingReader:
    """A ``StateReader`` over one snapshot that remembers every key read and what it read, up
    to ``limit`` keys."""

    def __init__(self, reading: KeyGet, limit: int = MAX_QUERY_READS) -> None:
        self._reading = reading
        self._limit = limit
        self.values: dict[bytes, bytes | None] = {}

    def get(self, key: bytes) -> bytes | None:
        if key not in self.values:
            if len(self.values) >= self._limit:
                raise ProofTooLarge(
                    f"the answer reads more than {self._limit} state keys; "
                    "ask without proofs or read the records one by one",
                    limit=self._limit,
                )
            self.values[key] = self._reading.get(key)
        return self.values[key]


class RecordedReading:
    """A ``node.port.Reading`` over one snapshot whose every state read — by ``get`` and inside
    each ``query`` — is recorded, so that what was built from it can be proven afterwards
    (``proof``): a report's bundle (docs/proofs.md §12)."""

    def __init__(
        self,
        runtime: Runtime,
        snapshot: KeyGet,
        context: BlockContext,
        limit: int = MAX_REPORT_READS,
    ) -> None:
        self._runtime = runtime
        self._context = context
        self.recorder = RecordingReader(snapshot, limit)
        self.height = context.height
        self.time_ms = context.time_ms

    def get(self, full_key: bytes) -> bytes | None:
        return self.recorder.get(full_key)

    def query(self, contract: str, name: str, arguments: Any) -> Any:
        return self._runtime.run_query(self.recorder, self._context, contract, name, arguments)

    def proof(self, reader: Reader) -> StateReadsProof:
        """Every key read, proven at this reading's height (call it once the snapshot is
        closed)."""
        if self.height == 0:
            raise NotFound("no block has been committed yet; nothing can be proven")
        return prove_reads(reader, self.height, self.recorder.values)


def prove_reads(reader: Reader, height: int, values: dict[bytes, bytes | None]) -> StateReadsProof:
    """``values`` (full key → the value read at ``height``) proven against that block."""
    reads = []
    for key, value in values.items():
        proven = reader.state(key, height)
        if proven.value != value:
            raise NodeFault("a proven value differs from the value read", key=key)
        reads.append(StateRead(key, value, proven.proof))
    committed = reader.block(height)
    return StateReadsProof(committed.block.header, committed.certificate, tuple(reads))


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
    return ProvenQuery(height, time_ms, result, prove_reads(reader, height, recorder.values))


__all__ = [
    "ProofTooLarge",
    "ProvenQuery",
    "RecordedReading",
    "RecordingReader",
    "prove_query",
    "prove_reads",
]
