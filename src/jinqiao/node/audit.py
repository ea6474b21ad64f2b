"""The audit trail: a per-node, hash-chained, append-only log of who read or asked what.

The API calls ``AuditLog.record`` once per authenticated request (and per report generated); the
auditor exports the log with ``jinqiao audit export`` and checks it with ``jinqiao audit verify``
(or a verifier of their own: ``docs/audit.md`` gives the format exactly; ADR 0019 says why it is
ours).

On disk, ``<home>/audit/segment-<n>.log`` (``n`` from 000001), each a sequence of records, one a
line::

    <hash: 64 lower-case hex> <space> <body: compact JSON object> <newline>

``hash`` is SHA-256 of the body's bytes exactly as written; the body holds, in this order,
``seq`` (1, 2, … across all segments), ``time_ms``, ``identity``, ``organization``, ``method``,
``route``, ``status`` and ``previous`` (the hash of record ``seq - 1``; 64 zeros for record 1).
So changing, deleting, inserting or reordering a record breaks the chain at that record. A segment
is closed when the next record would take it over ``segment_bytes``; the chain continues into the
next segment.

Every ``record`` writes one line with a single ``write`` and fsyncs before it returns, so a record
that returned is durable. A crash during the write can leave a torn last line (no newline, or a
hash that does not match); ``open_audit_log`` reports it as ``AuditLogDamaged`` naming the segment
and the record number, and refuses to append after it. ``repair=True`` moves the torn bytes, never
anything else, into ``segment-<n>.log.torn-<offset>`` and appends a record saying so
(``method`` ``AUDIT``, ``route`` ``torn-tail``, ``status`` 0), so the repair is itself in the chain.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from jinqiao.core.errors import InvalidInput, NodeFault
from jinqiao.fileio import sync_directory

__all__ = [
    "FIELD_LIMITS_BYTES",
    "GENESIS_PREVIOUS",
    "MAX_RECORD_BYTES",
    "AuditLog",
    "AuditLogDamaged",
    "AuditRecord",
    "ChainBroken",
    "check_chain",
    "export_log",
    "open_audit_log",
    "parse_line",
    "read_lines",
    "segment_paths",
]

GENESIS_PREVIOUS = "0" * 64
MAX_RECORD_BYTES = 2_048
"""A whole line, hash and newline included: every field is bounded (``FIELD_LIMITS_BYTES``)."""
FIELD_LIMITS_BYTES = {"identity": 256, "organization": 64, "method": 16, "route": 512}
"""Longer values are cut, before hashing, to the longest prefix (in characters) whose JSON-escaped
form (``\\uXXXX`` for anything outside printable ASCII) is at most this many bytes."""
DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024
MIN_SEGMENT_BYTES = MAX_RECORD_BYTES
MAX_SEGMENTS = 999_999
AUDIT_DIRECTORY = "audit"
_FIELDS = (
    "seq",
    "time_ms",
    "identity",
    "organization",
    "method",
    "route",
    "status",
    "previous",
)


class AuditLogDamaged(NodeFault):
    """The log on disk is not a whole, unbroken chain (a torn last record, a broken link)."""

    code = "audit_log_damaged"


class ChainBroken(InvalidInput):
    """An exported log fails verification; ``record`` is the number (1-based line) of the first
    record that does not check."""

    code = "audit_chain_broken"

    def __init__(self, record: int, reason: str) -> None:
        super().__init__(f"record {record}: {reason}", record=record)
        self.record = record
        self.reason = reason


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    time_ms: int
    identity: str
    organization: str
    method: str
    route: str
    status: int
    previous: str
    hash: str


def _escaped_bytes(value: str) -> int:
    return len(json.dumps(value, ensure_ascii=True)) - 2


def _cut(value: str, limit_bytes: int) -> str:
    """``value`` cut to the longest prefix whose JSON-escaped form fits ``limit_bytes``."""
    if _escaped_bytes(value) <= limit_bytes:
        return value
    used = 0
    for index, character in enumerate(value):
        used += _escaped_bytes(character)
        if used > limit_bytes:
            return value[:index]
    return value  # pragma: no cover - the whole value fitted after all


def _body(
    seq: int,
    time_ms: int,
    identity: str,
    organization: str,
    method: str,
    route: str,
    status: int,
    previous: str,
) -> bytes:
    fields = {
        "seq": seq,
        "time_ms": time_ms,
        "identity": _cut(identity, FIELD_LIMITS_BYTES["identity"]),
        "organization": _cut(organization, FIELD_LIMITS_BYTES["organization"]),
        "method": _cut(method, FIELD_LIMITS_BYTES["method"]),
        "route": _cut(route, FIELD_LIMITS_BYTES["route"]),
        "status": status,
        "previous": previous,
    }
    # ensure_ascii: the body is plain ASCII, so an auditor's tools cannot disagree on its bytes.
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def parse_line(line: bytes) -> AuditRecord:
    """One line (without its newline) as a record whose own hash checks; ``ValueError`` with the
    reason otherwise. The link to the previous record is the caller's to check."""
    if len(line) + 1 > MAX_RECORD_BYTES:
        raise ValueError(f"over {MAX_RECORD_BYTES} bytes")
    digest, space, body = line.partition(b" ")
    if not space or len(digest) != 64:
        raise ValueError("not '<64 hex hash> <json body>'")
    if hashlib.sha256(body).hexdigest().encode("ascii") != digest:
        raise ValueError("its hash does not match its body (the record was changed)")
    try:
        fields = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"its body is not JSON: {exc}") from None
    if not isinstance(fields, dict) or tuple(fields) != _FIELDS:
        raise ValueError(f"its body must hold exactly {', '.join(_FIELDS)}, in that order")
    for name in ("seq", "time_ms", "status"):
        if type(fields[name]) is not int or fields[name] < 0:
            raise ValueError(f"{name} is not a non-negative integer")
    for name in ("identity", "organization", "method", "route", "previous"):
        if not isinstance(fields[name], str):
            raise ValueError(f"{name} is not a string")
    return AuditRecord(**fields, hash=digest.decode("ascii"))


def check_chain(lines: Iterable[bytes], *, head: str | None = None) -> tuple[int, str]:
    """Verify records (each line with its newline) from record 1: every hash, every link, every
    sequence number. Returns (records, hash of the last). ``head``, if given, is the hash the
    last record must have (the node's head, read separately): a log cut at a record boundary is
    whole by itself, and only this catches it. Raises ``ChainBroken`` at the first bad record."""
    previous, seq = GENESIS_PREVIOUS, 0
    for number, raw in enumerate(lines, start=1):
        if len(raw) > MAX_RECORD_BYTES:
            raise ChainBroken(number, f"over {MAX_RECORD_BYTES} bytes")
        if not raw.endswith(b"\n"):
            raise ChainBroken(number, "torn: the last record has no newline (the file was cut)")
        try:
            record = parse_line(raw[:-1])
        except ValueError as problem:
            raise ChainBroken(number, str(problem)) from None
        if record.seq != seq + 1:
            raise ChainBroken(
                number,
                f"sequence number {record.seq} where {seq + 1} was expected (a record "
                "was deleted, inserted or moved)",
            )
        if record.previous != previous:
            raise ChainBroken(number, "its previous hash is not the hash of the record before it")
        previous, seq = record.hash, record.seq
    if head is not None and head != previous:
        raise ChainBroken(
            seq + 1,
            f"the log ends at record {seq} ({previous}) before the head {head}: it was truncated",
        )
    return seq, previous


def segment_paths(directory: Path) -> list[Path]:
    """The segments in order (``segment-000001.log``, …)."""
    paths = sorted(directory.glob("segment-*.log"))
    for index, path in enumerate(paths, start=1):
        if path.name != f"segment-{index:06d}.log":
            raise AuditLogDamaged(f"{directory}: segment {index} is missing (found {path.name})")
    return paths


def read_lines(file: BinaryIO) -> Iterator[bytes]:
    """The lines of ``file`` with their newlines, none read past ``MAX_RECORD_BYTES`` + 1 bytes
    (a longer one comes out cut, and fails as oversize)."""
    while line := file.readline(MAX_RECORD_BYTES + 1):
        yield line


def _lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as file:
        yield from read_lines(file)


class AuditLog:
    """Appends records; thread-safe (the API answers from worker threads). Make one with
    ``open_audit_log``."""

    def __init__(
        self,
        directory: Path,
        *,
        segment_index: int,
        segment_size: int,
        seq: int,
        head: str,
        segment_bytes: int,
        clock_ms: Callable[[], int],
    ) -> None:
        self.directory = directory
        self._segment_index = segment_index
        self._segment_size = segment_size
        self._seq = seq
        self._head = head
        self._segment_bytes = segment_bytes
        self._clock_ms = clock_ms
        self._lock = threading.Lock()
        self._descriptor = self._open_segment(segment_index)

    @property
    def head(self) -> tuple[int, str]:
        """(records so far, hash of the last): what an auditor compares an export with."""
        with self._lock:
            return self._seq, self._head

    def record(
        self,
        *,
        identity: str,
        organization: str,
        method: str,
        route: str,
        status: int,
    ) -> AuditRecord:
        """Append one record durably (written and fsynced when this returns). ``route`` should
        be the route template (``/v1/accounts/{address}``) or the path; fields over their limit
        are cut. A failing disk is a ``NodeFault``: the caller must not answer as if recorded."""
        if not 0 <= status <= 999:
            raise InvalidInput(f"audit: status {status} is not 0..999")
        with self._lock:
            if self._descriptor < 0:
                raise NodeFault("audit: the log is closed")
            seq, time_ms = self._seq + 1, self._clock_ms()
            body = _body(seq, time_ms, identity, organization, method, route, status, self._head)
            digest = hashlib.sha256(body).hexdigest()
            line = digest.encode("ascii") + b" " + body + b"\n"
            if len(line) > MAX_RECORD_BYTES:  # pragma: no cover - the field limits prevent it
                raise NodeFault(f"audit: a record of {len(line)} bytes")
            if self._segment_size + len(line) > self._segment_bytes:
                self._rotate()
            self._append(line)
            previous, self._seq, self._head = self._head, seq, digest
            self._segment_size += len(line)
        return AuditRecord(
            seq, time_ms, identity, organization, method, route, status, previous, digest
        )

    def close(self) -> None:
        with self._lock:
            if self._descriptor >= 0:
                os.close(self._descriptor)
                self._descriptor = -1

    def _append(self, line: bytes) -> None:
        try:
            written = os.write(self._descriptor, line)
            if written != len(line):
                raise OSError(f"short write: {written} of {len(line)} bytes")
            os.fsync(self._descriptor)
        except OSError as exc:
            raise NodeFault(
                f"audit: cannot append to segment {self._segment_index}: {exc}"
            ) from exc

    def _rotate(self) -> None:
        if self._segment_index >= MAX_SEGMENTS:
            raise NodeFault(f"audit: {MAX_SEGMENTS} segments; archive and start a new log")
        os.close(self._descriptor)
        self._descriptor = -1
        self._segment_index += 1
        self._segment_size = 0
        self._descriptor = self._open_segment(self._segment_index)

    def _open_segment(self, index: int) -> int:
        path = self.directory / f"segment-{index:06d}.log"
        try:
            existed = path.exists()
            descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            if not existed:
                sync_directory(self.directory)
        except OSError as exc:
            raise NodeFault(f"audit: cannot open {path}: {exc}") from exc
        return descriptor


def _check_segments(paths: list[Path]) -> tuple[int, str, int, int | None]:
    """Verify every segment; returns (records, head hash, last segment's size, offset of a torn
    tail in the last segment or None). A broken record anywhere but a torn last line raises."""
    previous, seq, size = GENESIS_PREVIOUS, 0, 0
    for index, path in enumerate(paths, start=1):
        offset = 0
        for raw in _lines(path):
            last_segment = index == len(paths)
            try:
                if not raw.endswith(b"\n"):
                    raise ValueError("no newline")
                record = parse_line(raw[:-1])
                if record.seq != seq + 1 or record.previous != previous:
                    raise ValueError("it does not link to the record before it")
            except ValueError as problem:
                if last_segment and offset + len(raw) == path.stat().st_size:
                    return seq, previous, offset, offset
                raise AuditLogDamaged(
                    f"audit: {path.name} record {seq + 1} (byte {offset}) is broken: {problem}",
                    segment=path.name,
                    record=seq + 1,
                ) from None
            previous, seq = record.hash, record.seq
            offset += len(raw)
        size = offset
    return seq, previous, size, None


def open_audit_log(
    home: Path,
    *,
    segment_bytes: int = DEFAULT_SEGMENT_BYTES,
    repair: bool = False,
    clock_ms: Callable[[], int] | None = None,
) -> AuditLog:
    """Open (or create) ``<home>/audit/`` for appending, after verifying every record on disk.
    A torn last record raises ``AuditLogDamaged`` unless ``repair`` (see the module docstring)."""
    if not MIN_SEGMENT_BYTES <= segment_bytes <= 2**40:
        raise InvalidInput(f"audit: segment_bytes must be {MIN_SEGMENT_BYTES}..2**40")
    directory = home / AUDIT_DIRECTORY
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise NodeFault(f"audit: cannot create {directory}: {exc}") from exc
    paths = segment_paths(directory)
    seq, head, size, torn_at = _check_segments(paths)
    if torn_at is not None:
        last = paths[-1]
        if not repair:
            raise AuditLogDamaged(
                f"audit: {last.name} ends in a torn record {seq + 1} at byte {torn_at} (a crash "
                "during an append); nothing was appended after it. Repair moves the torn bytes "
                "aside and records the repair in the chain",
                segment=last.name,
                record=seq + 1,
            )
        _move_torn_tail(last, torn_at)
    log = AuditLog(
        directory,
        segment_index=max(1, len(paths)),
        segment_size=size,
        seq=seq,
        head=head,
        segment_bytes=segment_bytes,
        clock_ms=clock_ms or (lambda: int(time.time() * 1000)),
    )
    if torn_at is not None:
        log.record(identity="", organization="", method="AUDIT", route="torn-tail", status=0)
    return log


def _move_torn_tail(path: Path, offset: int) -> None:
    aside = path.with_name(f"{path.name}.torn-{offset}")
    with path.open("r+b") as file:
        file.seek(offset)
        torn = file.read()
        aside.write_bytes(torn)
        with aside.open("rb") as check:
            os.fsync(check.fileno())
        file.truncate(offset)
        os.fsync(file.fileno())


def export_log(home: Path, output: Path) -> tuple[int, str]:
    """Write every segment of ``<home>/audit/``, in order, into ``output`` (one file in the same
    format) after checking the chain; returns (records, head hash)."""
    directory = home / AUDIT_DIRECTORY
    if not directory.is_dir():
        raise InvalidInput(f"{directory} does not exist: this node has no audit log")
    paths = segment_paths(directory)
    seq, head, last_size, torn_at = _check_segments(paths)
    if torn_at is not None:
        raise AuditLogDamaged(
            f"audit: {paths[-1].name} ends in an incomplete record {seq + 1} (an append in "
            "progress: export again; or a crash: `jinqiao audit repair` with the node stopped)",
            record=seq + 1,
        )
    try:
        with output.open("xb") as file:
            for index, path in enumerate(paths, start=1):
                # The running node may append while this copies: take what was checked.
                remaining = last_size if index == len(paths) else path.stat().st_size
                with path.open("rb") as segment:
                    while remaining > 0 and (chunk := segment.read(min(remaining, 1 << 20))):
                        file.write(chunk)
                        remaining -= len(chunk)
            file.flush()
            os.fsync(file.fileno())
    except FileExistsError:
        raise InvalidInput(f"{output} exists; choose a new file") from None
    return seq, head
