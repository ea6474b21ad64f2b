"""Report files with their proof bundles, checked offline (docs/proofs.md §12, ADR 0025).

A statement (JSON, CSV, camt.053), a settlement (pacs.009) or an acquirer's merchant payouts
(pacs.008) is saved next to a sidecar ``<file>.proofs.json``: every state key the node read to
build the file, proven against one certified header (a ``StateReadsProof``), and the certified
headers of the other blocks whose time the file states (the settling block). ``verify_report``
checks the proofs against genesis, then **builds the file again** from nothing but the proven
values — with the very code that built it on the node (``jinqiao.reports.reading``), reading
state through the proven reads only — and requires it to be the file, byte for byte. So every
figure, line, total and date of the file is recomputed from proven state; a file changed after
it was saved, or built by a node from other state, fails at the first line that differs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import msgspec

from jinqiao.client.client import Client, error_of
from jinqiao.client.queries import ProvenState, QueryRunner
from jinqiao.client.saved import REPLAY_URL, Replay, SavedAnswer
from jinqiao.client.verified import Verified
from jinqiao.core.codec import decode, encode
from jinqiao.core.errors import InvalidInput
from jinqiao.core.genesis import Genesis
from jinqiao.core.limits import MAX_PROOF_BYTES, MAX_REPORT_PROOF_BYTES, MAX_REPORT_READS
from jinqiao.core.proofs import ReportReadsProof, StateReadProof, StateReadsProof
from jinqiao.core.types import BlockHeader, CommitCertificate
from jinqiao.execution.contract import BlockContext
from jinqiao.reports.reading import (
    REPORT_PROOFS_FORMAT,
    ReportRequest,
    render_report,
)
from jinqiao.verify import VerificationError, verify_header, verify_state_reads

PROOFS_SUFFIX = ".proofs.json"
MAX_REPORT_FILE_BYTES = 256 * 1024 * 1024
MAX_BUNDLE_HEADERS = 16
MAX_BUNDLE_VALIDATOR_PAGES = 100


class ReportProofsInvalid(InvalidInput):
    """The sidecar is not a report proof bundle this version reads."""

    code = "report_proofs_invalid"


class ProvenHeader(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    height: int
    header_bytes: str
    certificate_bytes: str


class ReportProofs(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A report file's proof bundle (the sidecar ``<file>.proofs.json``)."""

    format: str
    report: str
    cycle_id: int
    institution: str | None
    file_format: str
    file_sha256: str
    height: int
    time_ms: int
    reads_proof: str
    headers: list[ProvenHeader]
    validator_changes: list[Any] = []

    def request(self) -> ReportRequest:
        return ReportRequest(self.report, self.cycle_id, self.institution, self.file_format)


def sidecar_of(file: Path) -> Path:
    """Where a report file's bundle is: ``statement.csv`` → ``statement.csv.proofs.json``."""
    return file.with_name(file.name + PROOFS_SUFFIX)


def load_report_proofs(data: bytes) -> ReportProofs:
    if len(data) > 2 * MAX_REPORT_PROOF_BYTES + 1024 * 1024:
        raise ReportProofsInvalid("the bundle is over its size limit")
    try:
        proofs = msgspec.json.decode(data, type=ReportProofs)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
        raise ReportProofsInvalid(f"not a report proof bundle: {exc}") from None
    check_report_proofs(proofs)
    return proofs


def check_report_proofs(proofs: ReportProofs) -> None:
    """The bundle's own shape: its format, a known report in one of its formats, its limits,
    each header listed once."""
    if proofs.format != REPORT_PROOFS_FORMAT:
        raise ReportProofsInvalid(f"format {proofs.format!r} is not {REPORT_PROOFS_FORMAT!r}")
    if len(proofs.headers) > MAX_BUNDLE_HEADERS:
        raise ReportProofsInvalid(f"over {MAX_BUNDLE_HEADERS} headers")
    if len({entry.height for entry in proofs.headers}) != len(proofs.headers):
        raise ReportProofsInvalid("a header is listed twice")
    if len(proofs.validator_changes) > MAX_BUNDLE_VALIDATOR_PAGES:
        raise ReportProofsInvalid(f"over {MAX_BUNDLE_VALIDATOR_PAGES} validator-change pages")
    proofs.request()  # a known report in one of its formats, else InvalidInput


def dump_report_proofs(proofs: ReportProofs) -> bytes:
    return json.dumps(msgspec.to_builtins(proofs), indent=1).encode() + b"\n"


class ProvenReads:
    """State as the bundle proves it (``jinqiao.reports.reading.Reads``): a read of a key the
    bundle does not prove fails verification; queries run the network's contract code."""

    def __init__(self, runner: QueryRunner, proof: StateReadsProof) -> None:
        header = proof.header
        self.height = header.height
        self.time_ms = header.time_ms
        self._runner = runner
        self._state = ProvenState(proof)
        self._context = BlockContext(runner.genesis.chain_id, header.height, header.time_ms, b"")

    def get(self, full_key: bytes) -> bytes | None:
        return self._state.get(full_key)

    def query(self, contract: str, name: str, arguments: Any) -> Any:
        return self._runner.runtime.run_query(self._state, self._context, contract, name, arguments)


def verify_report(
    genesis: Genesis,
    file: bytes,
    proofs: ReportProofs,
    *,
    live: Callable[[Mapping[str, Any]], Any] | None = None,
) -> tuple[Verified, list[Any]]:
    """Check ``file`` against its bundle offline (module docstring). Returns what it proves and
    the validator-change pages the check used (``live`` fetches those the bundle lacks)."""
    check_report_proofs(proofs)
    if len(file) > MAX_REPORT_FILE_BYTES:
        raise VerificationError(f"a report file is at most {MAX_REPORT_FILE_BYTES} bytes")
    if hashlib.sha256(file).hexdigest() != proofs.file_sha256:
        raise VerificationError("the file is not the one its bundle proves (file_sha256 differs)")
    bundle = _decode_hex(
        proofs.reads_proof, ReportReadsProof, MAX_REPORT_PROOF_BYTES
    ).as_reads_proof()
    header = bundle.header
    if (header.height, header.time_ms) != (proofs.height, proofs.time_ms):
        raise VerificationError("the bundle's height or time is not its proof's header's")
    pages = Replay(
        SavedAnswer(method="GET", path="/v1/none", status=404, answer={}, validator_changes=[]),
        live,
    )
    pages.pages = list(proofs.validator_changes)
    with Client(REPLAY_URL, genesis=genesis, transport=pages) as client:
        verify_state_reads(
            genesis,
            header,
            bundle.certificate,
            bundle.reads,
            validators=client.validators_for(header),
            max_reads=MAX_REPORT_READS,
        )
        times: dict[int, int] = {}
        for entry in proofs.headers:
            other = _decode_hex(entry.header_bytes, BlockHeader, MAX_PROOF_BYTES)
            certificate = _decode_hex(entry.certificate_bytes, CommitCertificate, MAX_PROOF_BYTES)
            if other.height != entry.height:
                raise VerificationError(f"the header listed at {entry.height} is another block's")
            verify_header(genesis, other, certificate, validators=client.validators_for(other))
            times[other.height] = other.time_ms
    reads = {read.key: read for read in bundle.reads}

    def prove(key: bytes, height: int) -> bytes:
        read = reads.get(key)
        if read is None or height != header.height:
            raise VerificationError(f"the file embeds a proof of {key[:80]!r}, not in the bundle")
        return encode(StateReadProof(header, bundle.certificate, key, read.value, read.proof))

    def block_time_ms(height: int) -> int:
        if height not in times:
            raise VerificationError(f"the file states block {height}'s time; the bundle lacks it")
        return times[height]

    request = proofs.request()
    rebuilt = render_report(
        ProvenReads(QueryRunner(genesis), bundle), request, prove, block_time_ms
    )
    if rebuilt != file:
        raise VerificationError(_first_difference(file, rebuilt))
    who = "" if request.institution is None else f" for {request.institution}"
    summary = (
        f"{request.report} of cycle {request.cycle_id}{who} ({request.file_format}): the file, "
        f"rebuilt from {len(bundle.reads)} proven state values at height {header.height}"
    )
    return Verified(summary, header.height), pages.pages[: pages.served_pages]


def _first_difference(file: bytes, rebuilt: bytes) -> str:
    for number, (line, proven) in enumerate(
        zip(file.splitlines(), rebuilt.splitlines(), strict=False), start=1
    ):
        if line != proven:
            return (
                f"line {number} of the file says {line[:120].decode(errors='replace')!r}; the "
                f"proven state gives {proven[:120].decode(errors='replace')!r}"
            )
    return (
        f"the file has {len(file.splitlines())} lines; the proven state gives "
        f"{len(rebuilt.splitlines())}"
    )


def _decode_hex(value: str, kind: type[Any], max_bytes: int) -> Any:
    if len(value) > 2 * max_bytes:
        raise VerificationError(f"the bundle's {kind.__name__} is over {max_bytes} bytes")
    try:
        return decode(bytes.fromhex(value), kind, max_bytes=max_bytes)
    except (ValueError, InvalidInput) as exc:
        raise VerificationError(f"the bundle's {kind.__name__} does not decode: {exc}") from None


ROUTE_SEGMENT = {"statement": "statements", "merchant-payouts": "merchant-payouts"}


def report_path(request: ReportRequest) -> str:
    """The API route of a report's ``…/proven`` answer."""
    base = f"/v1/payments/cycles/{request.cycle_id}"
    if request.institution is None:
        return f"{base}/{request.report}/proven"
    return f"{base}/{ROUTE_SEGMENT[request.report]}/{request.institution}/proven"


def save_report(client: Client, request: ReportRequest, file: Path) -> Verified:
    """Fetch a report with its bundle, check it (``verify_report``, fetching the validator
    changes it needs), and write the file and its sidecar. Nothing is written unless it
    checks."""
    params = {"format": request.file_format} if request.report == "statement" else {}
    answer = client.send_raw("GET", report_path(request), params=params)
    if answer.status_code >= 400:
        raise error_of(answer)
    body = answer.json()
    text = body.pop("file", None) if isinstance(body, dict) else None
    if not isinstance(text, str):
        raise VerificationError("the node's report answer has no file")
    try:
        proofs = msgspec.convert(body, ReportProofs)
    except msgspec.ValidationError as exc:
        raise VerificationError(f"the node's report bundle is malformed: {exc}") from None

    def live(page_params: Mapping[str, Any]) -> Any:
        return client.send_raw("GET", "/v1/validators/changes", params=page_params).json()

    data = text.encode()
    verified, pages = verify_report(client.genesis, data, proofs, live=live)
    file.write_bytes(data)
    sidecar_of(file).write_bytes(
        dump_report_proofs(msgspec.structs.replace(proofs, validator_changes=pages))
    )
    return verified


def verify_report_file(genesis: Genesis, file: Path, bundle: Path | None = None) -> Verified:
    """``verify_report`` of a file and its sidecar (``bundle``, else ``<file>.proofs.json``)."""
    proofs = load_report_proofs((bundle or sidecar_of(file)).read_bytes())
    data = file.read_bytes()
    verified, _ = verify_report(genesis, data, proofs)
    return verified


__all__ = [
    "PROOFS_SUFFIX",
    "ProvenReads",
    "ReportProofs",
    "ReportProofsInvalid",
    "dump_report_proofs",
    "load_report_proofs",
    "report_path",
    "save_report",
    "sidecar_of",
    "verify_report",
    "verify_report_file",
]
