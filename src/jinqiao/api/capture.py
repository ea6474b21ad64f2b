"""EPCIS 2.0 capture on the node (``POST /v1/epcis/capture``, docs/supplychain.md "Capture on
the node"): a warehouse or factory system of the node's organization posts a whole EPCIS
document; the node validates it, keeps it, and records each event on chain as a transaction
signed by the organization's **capture account**, one after another, as the SDK's ``capture``
does.

Why the node signs: EPCIS systems speak the standard's capture interface and hold no chain key;
the organization gives its node one account key for capture only (``epcis_capture_key_file`` in
the node's config, encrypted like the validator key). The contract's custody rules apply to the
capture account's organization, so the node can record only what that organization may record,
and only identities of that organization may ask it to (others get ``403 forbidden``). The audit
trail names the identity that posted each document; the chain names the capture account.

A capture is a job, as in the standard: ``202 Accepted`` with ``Location:
/v1/epcis/capture/{captureID}`` at once, the events recorded in document order, stopping at the
first that is refused or rejected (EPCIS's ``proceed`` until the first error; what was recorded
stays recorded — a chain has no rollback). ``GET /v1/epcis/capture/{captureID}`` tells where it
stands. Jobs and documents live in the node's SQLite store (``epcis-capture.sqlite`` in the data
directory), written before the answer leaves; a job that a stopped node left ``running`` is
marked ``interrupted`` at the next start, with the transactions it had sent (each may still have
committed: their hashes say).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import secrets
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from fastapi import Path as PathParam
from fastapi import Query as QueryParam

from jinqiao.api.answers import answer
from jinqiao.api.answers.supplychain import CaptureJob
from jinqiao.api.authentication import IDENTITY_KEY
from jinqiao.api.openapi import LOOKUP, MAX_BODY_BYTES_KEY, error_responses
from jinqiao.apps.supplychain.model import SUPPLYCHAIN
from jinqiao.core.codec import CanonicalStruct, decode_stored, encode
from jinqiao.core.crypto import Signer
from jinqiao.core.errors import InvalidInput, JinqiaoError, NodeFault
from jinqiao.core.hashing import transaction_hash, transaction_signing_bytes
from jinqiao.core.types import SignedTransaction, TransactionBody
from jinqiao.epcis import (
    MAX_DOCUMENT_BYTES,
    EpcisError,
    SchemaValidator,
    contract_call,
    parse_document,
)
from jinqiao.epcis.query import iso_time
from jinqiao.execution.identity import REGISTRY, Account, account_key
from jinqiao.execution.state import full_key
from jinqiao.node.port import NodePort
from jinqiao.node.reads import NotFound

log = logging.getLogger(__name__)

VALID_FOR_BLOCKS = 100
COMMIT_TIMEOUT_S = 30.0
MAX_RECEIVERS = 64
JSON_TYPES = ("application/ld+json", "application/json")
XML_TYPES = ("application/xml", "text/xml")
RUNNING, SUCCEEDED, FAILED, INTERRUPTED = "running", "succeeded", "failed", "interrupted"


class CaptureNotConfigured(JinqiaoError):
    code = "capture_not_configured"


@dataclass
class Job:
    capture_id: int
    organization: str
    submitted_by: str
    created_ms: int
    document_sha256: str
    document_format: str
    event_count: int
    state: str = RUNNING
    finished_ms: int | None = None
    transactions: list[dict[str, Any]] | None = None
    error: dict[str, Any] | None = None

    def view(self) -> dict[str, Any]:
        """The job as the standard's capture job, plus the chain's side of each event."""
        errors = [] if self.error is None else [self.error]
        return {
            "captureID": str(self.capture_id),
            "createdAt": iso_time(self.created_ms),
            "finishedAt": None if self.finished_ms is None else iso_time(self.finished_ms),
            "running": self.state == RUNNING,
            "success": self.state == SUCCEEDED,
            "captureErrorBehaviour": "proceed",
            "errors": errors,
            "state": self.state,
            "organization": self.organization,
            "submitted_by": self.submitted_by,
            "document_sha256": self.document_sha256,
            "document_format": self.document_format,
            "event_count": self.event_count,
            "transactions": list(self.transactions or []),
        }


class JobStore:
    """Capture jobs and their documents in SQLite, each change committed before it is reported
    (``synchronous=FULL``; one connection, serialized by a lock)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS jobs (capture_id INTEGER PRIMARY KEY, job TEXT NOT NULL, "
            "document BLOB NOT NULL)"
        )
        with self._lock:
            rows = self._db.execute("SELECT capture_id, job FROM jobs").fetchall()
            for capture_id, text in rows:
                job = Job(**json.loads(text))
                if job.state == RUNNING:
                    job.state, job.finished_ms = INTERRUPTED, int(time.time() * 1000)
                    job.error = {
                        "type": "interrupted",
                        "title": "the node stopped during the capture; the transactions listed "
                        "were sent and may have committed",
                    }
                    self._db.execute(
                        "UPDATE jobs SET job = ? WHERE capture_id = ?",
                        (json.dumps(job.__dict__), capture_id),
                    )

    def add(self, job: Job, document: bytes) -> Job:
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO jobs (job, document) VALUES (?, ?)", ("{}", document)
            )
            job.capture_id = int(cursor.lastrowid or 0)
            self._db.execute(
                "UPDATE jobs SET job = ? WHERE capture_id = ?",
                (json.dumps(job.__dict__), job.capture_id),
            )
        return job

    def save(self, job: Job) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE jobs SET job = ? WHERE capture_id = ?",
                (json.dumps(job.__dict__), job.capture_id),
            )

    def get(self, capture_id: int) -> Job | None:
        with self._lock:
            row = self._db.execute(
                "SELECT job FROM jobs WHERE capture_id = ?", (capture_id,)
            ).fetchone()
        return None if row is None else Job(**json.loads(row[0]))

    def close(self) -> None:
        with self._lock:
            self._db.close()


class CaptureService:
    """What ``POST /v1/epcis/capture`` needs: the node, its capture account's key, the EPCIS
    JSON Schema (for JSON-LD) and the job store."""

    def __init__(
        self,
        node: NodePort,
        signer: Signer,
        store: JobStore,
        schema: SchemaValidator | None,
    ) -> None:
        self.node = node
        self.signer = signer
        self.store = store
        self.schema = schema
        self.tasks: set[asyncio.Task[None]] = set()

    def organization(self) -> str:
        """The capture account's organization, from committed state — from genesis before the
        first block (an account that is not there, or not active, captures nothing)."""
        try:
            proof = self.node.reader.state(
                full_key(REGISTRY, account_key(self.signer.address)), None
            )
        except NotFound:
            return self._genesis_organization()
        account = None if proof.value is None else decode_stored(proof.value, Account)
        if account is None or not account.active:
            raise NodeFault(
                "the capture account is not an active account",
                address=self.signer.address.hex(),
            )
        return account.organization

    def _genesis_organization(self) -> str:
        for account in self.node.genesis.accounts:
            public_key = bytes.fromhex(account.public_key)
            if self.node.suite.address(public_key) == self.signer.address:
                return account.organization
        raise NodeFault(
            "the capture account is not a genesis account and no block is committed yet",
            address=self.signer.address.hex(),
        )

    def accept(
        self, document: bytes, media_type: str, receivers: dict[str, str], lot: str, caller: Any
    ) -> tuple[Job, list[tuple[str, CanonicalStruct]]]:
        """Check the document and the caller and keep both (in a worker thread: it parses,
        hashes and writes); ``record`` then records the calls."""
        organization = self.organization()
        if caller is None or caller.organization != organization:
            raise JinqiaoError(
                f"this node captures for {organization} only (its capture account signs)",
                code="forbidden",
            )
        if media_type in JSON_TYPES and self.schema is None:
            raise InvalidInput(
                "this node has no EPCIS JSON Schema (epcis_schema_file): send XML",
                code="unsupported_media_type",
            )
        try:
            parsed = parse_document(document, self.schema if media_type in JSON_TYPES else None)
            calls = []
            for event in parsed.events:
                receiver = next(
                    (receivers[value] for _, value in event.destinations if value in receivers),
                    "",
                )
                calls.append(contract_call(event, receiver=receiver, lot=lot))
        except EpcisError as error:
            problems = list(getattr(error, "problems", ())[:10])
            raise InvalidInput(error.message, code=error.code, problems=problems) from None
        job = Job(
            0,
            organization,
            caller.name,
            int(time.time() * 1000),
            hashlib.sha256(document).hexdigest(),
            parsed.format,
            len(calls),
            transactions=[],
        )
        job = self.store.add(job, document)
        log.info(
            "capture %d: %d events from %s of %s (document %s)",
            job.capture_id,
            len(calls),
            caller.name,
            organization,
            job.document_sha256[:16],
        )
        return job, calls

    def record(self, job: Job, calls: Sequence[tuple[str, CanonicalStruct]]) -> None:
        """Record ``calls`` in the background, in order (on the event loop)."""
        task = asyncio.get_running_loop().create_task(self._record(job, calls))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _record(self, job: Job, calls: Sequence[tuple[str, CanonicalStruct]]) -> None:
        try:
            for method, args in calls:
                if not await self._one(job, method, args):
                    break
            else:
                job.state = SUCCEEDED
        except Exception as error:
            log.exception("capture %d stopped", job.capture_id)
            job.state = FAILED
            job.error = {"type": "node_fault", "title": str(error)[:200]}
        job.finished_ms = int(time.time() * 1000)
        await asyncio.to_thread(self.store.save, job)
        log.info("capture %d %s", job.capture_id, job.state)

    async def _one(self, job: Job, method: str, args: CanonicalStruct) -> bool:
        """Sign, admit and wait for one event's transaction; False when the job must stop."""
        body = TransactionBody(
            chain_id=self.node.genesis.chain_id,
            sender=self.signer.address,
            public_key=self.signer.public_key,
            nonce=secrets.randbits(63),
            valid_until=self.node.head().height + VALID_FOR_BLOCKS,
            contract=SUPPLYCHAIN,
            method=method,
            args=encode(args),
        )
        signed = SignedTransaction(body, self.signer.sign(transaction_signing_bytes(body)))
        identity = transaction_hash(self.node.suite, body)
        entry: dict[str, Any] = {"transaction": identity.hex(), "method": method}
        assert job.transactions is not None
        job.transactions.append(entry)
        await asyncio.to_thread(self.store.save, job)  # sent is on record before it is sent
        try:
            await asyncio.to_thread(self.node.admit, encode(signed))
        except JinqiaoError as refused:
            entry.update(status="refused", code=refused.code)
            job.state = FAILED
            job.error = {"type": refused.code, "title": refused.message}
            return False
        if not await self.node.wait_for_transaction(identity, COMMIT_TIMEOUT_S):
            entry["status"] = "pending"
            job.state = FAILED
            job.error = {
                "type": "pending",
                "title": f"not committed within {COMMIT_TIMEOUT_S:.0f} s; it may still be",
            }
            return False
        record = await asyncio.to_thread(self.node.reader.transaction, identity)
        if record is None:
            raise NodeFault("a committed capture transaction is not found", hash=identity.hex())
        receipt = record.receipt
        entry.update(status="ok" if receipt.status == 0 else "rejected", code=receipt.code)
        entry["height"] = record.height
        if receipt.status != 0:
            job.state = FAILED
            job.error = {"type": receipt.code, "title": receipt.message}
            return False
        return True


def _receivers(values: Sequence[str]) -> dict[str, str]:
    if len(values) > MAX_RECEIVERS:
        raise InvalidInput(f"at most {MAX_RECEIVERS} receivers", code="invalid_request")
    receivers = {}
    for value in values:
        destination, equals, organization = value.rpartition("=")
        if not equals or not destination or not organization:
            raise InvalidInput(
                f"a receiver is DESTINATION=ORGANIZATION, not {value[:80]!r}",
                code="invalid_request",
            )
        receivers[destination] = organization
    return receivers


CAPTURE = error_responses(
    LOOKUP,
    {
        400: (
            "epcis_malformed",
            "epcis_schema_invalid",
            "epcis_context_refused",
            "epcis_event_count",
            "epcis_invalid_hash",
            "epcis_invalid_time",
            "epcis_hash_failed",
            "epcis_unsupported_event",
            "epcis_unknown_receiver",
            "epcis_too_large",
        ),
        415: ("unsupported_media_type",),
        404: ("capture_not_configured",),
    },
)


def router(node: NodePort, service: CaptureService | None) -> APIRouter:
    routes = APIRouter(tags=["supplychain"])

    def configured() -> CaptureService:
        if service is None:
            raise CaptureNotConfigured(
                "this node has no capture account (epcis_capture_key_file in its config): "
                "capture with the SDK or `jinqiao scf capture`, which sign themselves"
            )
        return service

    @routes.post(
        "/v1/epcis/capture",
        status_code=202,
        response_model=None,
        responses={**answer(CaptureJob, 202), **CAPTURE},
        openapi_extra={
            MAX_BODY_BYTES_KEY: MAX_DOCUMENT_BYTES,
            "requestBody": {
                "required": True,
                "content": {
                    "application/ld+json": {"schema": {"type": "object"}},
                    "application/xml": {"schema": {"type": "string"}},
                },
                "description": "an EPCIS 2.0 document (EPCISDocument), JSON-LD or XML, at most "
                f"{MAX_DOCUMENT_BYTES} bytes",
            },
        },
    )
    async def capture(
        request: Request,
        response: Response,
        receiver: Annotated[
            list[str],
            QueryParam(
                max_length=MAX_RECEIVERS,
                description="DESTINATION=ORGANIZATION: the organization a shipment's "
                "destination (e.g. its owning_party PGLN) names",
            ),
        ] = [],  # noqa: B006 - FastAPI copies query defaults
        lot: Annotated[str, QueryParam(max_length=20)] = "",
    ) -> dict[str, Any]:
        """Capture an EPCIS 2.0 document: checked, kept, and recorded event by event by this
        node's capture account (docs/supplychain.md "Capture on the node")."""
        capture_service = configured()
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type not in (*JSON_TYPES, *XML_TYPES):
            raise InvalidInput(
                "an EPCIS document is application/ld+json, application/json or application/xml",
                code="unsupported_media_type",
            )
        document = await request.body()
        receivers = _receivers(receiver)
        caller = request.scope.get(IDENTITY_KEY)
        job, calls = await asyncio.to_thread(
            capture_service.accept, document, media_type, receivers, lot, caller
        )
        capture_service.record(job, calls)
        response.headers["Location"] = f"/v1/epcis/capture/{job.capture_id}"
        return job.view()

    @routes.get(
        "/v1/epcis/capture/{capture_id}",
        response_model=None,
        responses={**answer(CaptureJob), **error_responses(LOOKUP)},
    )
    def capture_job(
        request: Request, capture_id: Annotated[int, PathParam(ge=1, le=2**63 - 1)]
    ) -> dict[str, Any]:
        """Where a capture stands: running, succeeded, failed (the first error) or interrupted,
        with each event's transaction hash, status and code."""
        job = configured().store.get(capture_id)
        caller = request.scope.get(IDENTITY_KEY)
        if job is None or caller is None or not _may_see(node, caller, job):
            raise NotFound(f"no capture {capture_id} on this node for you")
        return job.view()

    return routes


def _may_see(node: NodePort, caller: Any, job: Job) -> bool:
    """The capturing organization and the regulator see a job."""
    if caller.organization == job.organization:
        return True
    roles = {o.id: o.roles for o in node.genesis.organizations}.get(caller.organization, ())
    return "regulator" in roles


__all__ = ["CaptureService", "JobStore", "router"]
