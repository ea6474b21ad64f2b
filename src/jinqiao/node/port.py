"""What the HTTP API may ask of a node: a narrow interface (``NodePort``) instead of the node's
store, chain, mempool and runtime.

Every read goes through a ``Reading``: one store snapshot, with the height and block time of that
snapshot's own head, so an answer can never name a head newer than the state it read. The API
package sees the node only through this module, ``node.reads`` (proven reads) and the admission
outcome types; an import-linter contract ("The API sees the node only through its port") enforces
it, and ``service.Node`` satisfies ``NodePort``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from prometheus_client import CollectorRegistry

from jinqiao.core.crypto import CryptoSuite
from jinqiao.core.genesis import Genesis
from jinqiao.core.types import CommittedBlock, ValidatorSet
from jinqiao.execution.contract import MethodSpec
from jinqiao.node.admission import Admission, AdmissionRefused
from jinqiao.node.audit import AuditRecord
from jinqiao.node.private_data import PrivateData
from jinqiao.node.query_proofs import ProvenQuery, RecordedReading
from jinqiao.node.reads import Reader


@dataclass(frozen=True)
class HeadView:
    """The committed head as the API shows it (a copy: it never moves under a reader)."""

    height: int
    block_hash: bytes
    state_root: bytes
    time_ms: int
    validators: ValidatorSet


class Reading(Protocol):
    """Reads from one store snapshot; ``height`` and ``time_ms`` are that snapshot's head."""

    @property
    def height(self) -> int: ...

    @property
    def time_ms(self) -> int: ...

    def get(self, full_key: bytes) -> bytes | None:
        """The latest value under a full state key (unproven: prove it with ``Reader.state``
        at ``height``)."""
        ...

    def query(self, contract: str, name: str, arguments: Any) -> Any:
        """A read-only contract query against this snapshot."""
        ...


class Stream(Protocol):
    """Committed blocks from the next one on (``NodePort.subscribe``)."""

    @property
    def lagged(self) -> bool: ...

    def __aiter__(self) -> AsyncIterator[CommittedBlock]: ...

    def close(self) -> None: ...


class NodePort(Protocol):
    genesis: Genesis
    genesis_bytes: bytes
    suite: CryptoSuite
    last_commit_time_ms: int

    @property
    def node_name(self) -> str: ...

    @property
    def validator_address(self) -> bytes:
        """Empty for an observer."""
        ...

    @property
    def role(self) -> str:
        """``validator`` or ``observer``."""
        ...

    @property
    def reader(self) -> Reader: ...

    @property
    def metrics_registry(self) -> CollectorRegistry: ...

    def head(self) -> HeadView: ...

    def mempool_size(self) -> int: ...

    def record_audit(
        self, *, identity: str, organization: str, method: str, route: str, status: int
    ) -> AuditRecord:
        """Append one record to the node's audit trail (docs/audit.md), durably: written and
        fsynced when it returns (about 1-5 ms; call it from a worker thread). Raises
        ``NodeFault`` if the disk fails: do not answer as if the request were recorded."""
        ...

    def is_pending(self, transaction_hash: bytes) -> bool: ...

    def consensus_diagnosis(self) -> dict[str, Any]: ...

    def admit(self, raw: bytes) -> Admission: ...

    def admit_many(self, raws: Sequence[bytes]) -> list[Admission | AdmissionRefused]: ...

    async def wait_for_transaction(self, identity: bytes, timeout_s: float) -> bool: ...

    async def wait_for_height(self, height: int, timeout_s: float) -> bool: ...

    def query_spec(self, contract: str, name: str) -> MethodSpec | None: ...

    def run_query(self, contract: str, query_name: str, arguments: Any) -> tuple[int, Any]: ...

    def prove_query(self, contract: str, query_name: str, arguments: Any) -> ProvenQuery:
        """``run_query`` with every state key it read proven at the height it read
        (``node.query_proofs``; synchronous: run it in a worker thread)."""
        ...

    def reading(self) -> AbstractContextManager[Reading]: ...

    def recorded_reading(self) -> AbstractContextManager[RecordedReading]:
        """A ``Reading`` that records every key it reads; ``RecordedReading.proof`` proves them
        once it is closed (a report's bundle, docs/proofs.md §12)."""
        ...

    def subscribe(self) -> Stream: ...

    @property
    def private_data(self) -> PrivateData:
        """The node's private document store and sources (``node.private_data``)."""
        ...
