"""Statements, settlement instructions (pacs.009 between institutions, pacs.008 from an acquirer
to its merchants), reconciliation and charts for the payments contract (``docs/api.md``,
"Payments"). The data are read from one snapshot at the head by ``jinqiao.reports.reading``; the
JSON statement carries the proofs of its summary records (cycle, the institution's totals, its
position), and each report's ``…/proven`` route answers the file with its proof bundle — every
state key it was built from, proven — that ``jinqiao verify`` rebuilds it from offline
(docs/proofs.md §12). Settlement dates and the chart's timing come from the committed headers
of the blocks that closed and settled the cycle.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from jinqiao.api.answers import answer
from jinqiao.api.answers.payments import BreakReport, ProvenReport, StatementAnswer
from jinqiao.api.openapi import (
    LOOKUP,
    MAX_BODY_BYTES_KEY,
    REPORT,
    error_responses,
    media_answer,
)
from jinqiao.api.payments import block_times_ms
from jinqiao.apps.payments.figures import cycle_timing, describe_timing, timing_heights
from jinqiao.apps.payments.model import PAYMENTS, CycleArgs, Flow, FlowArgs, Positions
from jinqiao.core.codec import encode
from jinqiao.core.errors import InvalidInput, Rejection
from jinqiao.core.limits import MAX_REPORT_PROOF_BYTES
from jinqiao.node.port import NodePort, Reading
from jinqiao.reports import (
    Statement,
    break_report_to_csv,
    break_report_to_json,
    positions_chart_png_bytes,
    reconcile_csv,
)
from jinqiao.reports.reading import (
    REPORT_PROOFS_FORMAT,
    ReportRequest,
    participant_statement,
    read_cycle,
    read_participants,
    read_scale,
    render_report,
    report_heights,
)
from jinqiao.reports.reconcile import MAX_RECONCILIATION_FILE_BYTES

MAX_RECONCILIATION_BYTES = MAX_RECONCILIATION_FILE_BYTES
PAYOUT_ERRORS: dict[int, tuple[str, ...]] = {
    404: ("unknown_institution", "not_acquirer_in_cycle"),
    409: ("cycle_not_settled", "no_merchant_payouts"),
}
MEDIA = {"json": "application/json", "csv": "text/csv", "camt053": "application/xml"}

CycleId = Annotated[int, Path(ge=1, le=2**64 - 1, description="Cycle id")]
InstitutionId = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$", max_length=64)]


class CycleReading:
    """A node snapshot (``node.port.Reading``) as the report readers take it
    (``jinqiao.reports.reading.Reads``): its height and block time are that snapshot's head."""

    def __init__(self, reading: Reading) -> None:
        self.reading = reading
        self.height = reading.height
        self.time_ms = reading.time_ms

    def get(self, key: bytes) -> bytes | None:
        return self.reading.get(key)

    def query(self, contract: str, name: str, args: Any) -> Any:
        return self.reading.query(contract, name, args)


def router(node: NodePort) -> APIRouter:
    routes = APIRouter(tags=["payments"])
    reader = node.reader

    def prove(key: bytes, height: int) -> bytes:
        return encode(reader.state(key, height))

    def block_time_ms(height: int) -> int:
        return block_times_ms(reader, (height,))[height]

    def report_file(request: ReportRequest) -> bytes:
        """The report read from one snapshot at the head."""
        with node.reading() as one_snapshot:
            return render_report(CycleReading(one_snapshot), request, prove, block_time_ms)

    def proven_report(request: ReportRequest) -> dict[str, Any]:
        """The report and its bundle: every state key it read, proven at the height it was
        read, and the headers of the other blocks whose time it states (docs/proofs.md §12)."""
        with node.recorded_reading() as recorded:
            file = render_report(recorded, request, prove, block_time_ms)
            heights = report_heights(recorded, request)
        bundle = encode(recorded.proof(reader))
        if len(bundle) > MAX_REPORT_PROOF_BYTES:
            raise InvalidInput(
                f"the proofs of the report's reads are over {MAX_REPORT_PROOF_BYTES} bytes",
                code="proof_too_large",
                limit_bytes=MAX_REPORT_PROOF_BYTES,
            )
        headers = []
        for height in heights:
            committed = reader.block(height)
            headers.append(
                {
                    "height": height,
                    "header_bytes": encode(committed.block.header).hex(),
                    "certificate_bytes": encode(committed.certificate).hex(),
                }
            )
        return {
            "format": REPORT_PROOFS_FORMAT,
            "report": request.report,
            "cycle_id": request.cycle_id,
            "institution": request.institution,
            "file_format": request.file_format,
            "file_sha256": hashlib.sha256(file).hexdigest(),
            "height": recorded.height,
            "time_ms": recorded.time_ms,
            "reads_proof": bundle.hex(),
            "headers": headers,
            "file": file.decode(),
        }

    def statement(cycle_id: int, institution: str) -> Statement:
        with node.reading() as one_snapshot:
            return participant_statement(CycleReading(one_snapshot), cycle_id, institution, prove)

    @routes.get(
        "/v1/payments/cycles/{cycle_id}/statements/{institution}",
        tags=["payments"],
        response_class=Response,
        responses={
            **answer(StatementAnswer, 200, "text/csv", "application/xml"),
            **error_responses(REPORT),
        },
    )
    async def get_statement(
        cycle_id: CycleId,
        institution: InstitutionId,
        format: Annotated[str, Query(pattern="^(json|csv|camt053)$")] = "json",
    ) -> Response:
        """An institution's statement for a cycle: every payment, fee and its position, as
        JSON (with proofs of the summary records), CSV, or ISO 20022 camt.053 XML. Its proofs:
        ``…/statements/{institution}/proven``."""
        request = ReportRequest("statement", cycle_id, institution, format)
        return Response(await asyncio.to_thread(report_file, request), media_type=MEDIA[format])

    @routes.get(
        "/v1/payments/cycles/{cycle_id}/statements/{institution}/proven",
        tags=["payments"],
        response_model=None,
        responses={**answer(ProvenReport), **error_responses(REPORT, {413: ("proof_too_large",)})},
    )
    async def get_proven_statement(
        cycle_id: CycleId,
        institution: InstitutionId,
        format: Annotated[str, Query(pattern="^(json|csv|camt053)$")] = "json",
    ) -> dict[str, Any]:
        """The statement file (``file``) with its proof bundle: every state key it was built
        from, proven against one certified header (docs/proofs.md §12); ``jinqiao verify``
        rebuilds the file from them offline."""
        request = ReportRequest("statement", cycle_id, institution, format)
        return await asyncio.to_thread(proven_report, request)

    @routes.post(
        "/v1/payments/cycles/{cycle_id}/reconciliation/{institution}",
        tags=["payments"],
        response_class=Response,
        responses={
            **answer(BreakReport, 200, "text/csv"),
            **error_responses(REPORT, {400: ("reconciliation_file_invalid",)}),
        },
        openapi_extra={
            MAX_BODY_BYTES_KEY: MAX_RECONCILIATION_BYTES,
            "requestBody": {
                "required": True,
                "content": {"text/csv": {"schema": {"type": "string"}}},
                "description": "the institution's own records (docs/payments.md "
                f'"Reconciliation"), at most {MAX_RECONCILIATION_BYTES} bytes',
            },
        },
    )
    async def reconcile(
        cycle_id: CycleId,
        institution: InstitutionId,
        request: Request,
        format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
    ) -> Response:
        """Upload the institution's own records for a cycle (CSV, docs/payments.md
        "Reconciliation") and get the break report: missing on either side, amount, fee,
        status or currency mismatches."""
        body = await request.body()  # at most MAX_RECONCILIATION_BYTES (BodyLimit)
        built = await asyncio.to_thread(statement, cycle_id, institution)
        report = await asyncio.to_thread(reconcile_csv, built, body)
        if format == "csv":
            return Response(break_report_to_csv(report), media_type="text/csv")
        return Response(break_report_to_json(report), media_type="application/json")

    @routes.get(
        "/v1/payments/cycles/{cycle_id}/settlement",
        tags=["payments"],
        response_class=Response,
        responses={
            **media_answer("application/xml"),
            **error_responses(LOOKUP, {409: ("cycle_not_settled",)}),
        },
    )
    async def settlement(cycle_id: CycleId) -> Response:
        """The settled cycle's movements as ISO 20022 pacs.009 (409 ``cycle_not_settled``
        before settlement), dated with the settling block's time. Its proofs:
        ``…/settlement/proven``."""
        request = ReportRequest("settlement", cycle_id, None, "pacs009")
        xml = await asyncio.to_thread(report_file, request)
        return Response(xml, media_type="application/xml")

    @routes.get(
        "/v1/payments/cycles/{cycle_id}/settlement/proven",
        tags=["payments"],
        response_model=None,
        responses={
            **answer(ProvenReport),
            **error_responses(LOOKUP, {409: ("cycle_not_settled",), 413: ("proof_too_large",)}),
        },
    )
    async def proven_settlement(cycle_id: CycleId) -> dict[str, Any]:
        """The pacs.009 (``file``) with its proof bundle (docs/proofs.md §12)."""
        request = ReportRequest("settlement", cycle_id, None, "pacs009")
        return await asyncio.to_thread(proven_report, request)

    @routes.get(
        "/v1/payments/cycles/{cycle_id}/merchant-payouts/{institution}",
        tags=["payments"],
        response_class=Response,
        responses={**media_answer("application/xml"), **error_responses(LOOKUP, PAYOUT_ERRORS)},
    )
    async def merchant_payouts_pacs008(cycle_id: CycleId, institution: InstitutionId) -> Response:
        """An acquirer's payouts to its merchants for a settled cycle as ISO 20022 pacs.008: one
        credit transfer per merchant owed money (captured + represented - refunded - charged
        back; nothing deducted), dated with the settling block's time. 404
        ``unknown_institution``, 409 ``cycle_not_settled``, 404 ``not_acquirer_in_cycle``, 409
        ``no_merchant_payouts``. Its proofs: ``…/merchant-payouts/{institution}/proven``."""
        request = ReportRequest("merchant-payouts", cycle_id, institution, "pacs008")
        xml = await asyncio.to_thread(report_file, request)
        return Response(xml, media_type="application/xml")

    @routes.get(
        "/v1/payments/cycles/{cycle_id}/merchant-payouts/{institution}/proven",
        tags=["payments"],
        response_model=None,
        responses={
            **answer(ProvenReport),
            **error_responses(LOOKUP, {**PAYOUT_ERRORS, 413: ("proof_too_large",)}),
        },
    )
    async def proven_merchant_payouts(
        cycle_id: CycleId, institution: InstitutionId
    ) -> dict[str, Any]:
        """The pacs.008 (``file``) with its proof bundle (docs/proofs.md §12)."""
        request = ReportRequest("merchant-payouts", cycle_id, institution, "pacs008")
        return await asyncio.to_thread(proven_report, request)

    def chart(cycle_id: int) -> bytes:
        """The chart, its note the cycle's timing from the committed headers."""
        with node.reading() as one_snapshot:
            reading = CycleReading(one_snapshot)
            cycle = read_cycle(reading, cycle_id)
            positions: Positions = reading.query(PAYMENTS, "positions", CycleArgs(cycle_id))
            participants = read_participants(reading, cycle_id)
            flows: list[Flow] = []
            for issuer in participants:
                for acquirer in participants:
                    try:
                        flow = reading.query(PAYMENTS, "flow", FlowArgs(cycle_id, issuer, acquirer))
                    except Rejection:
                        continue
                    if any(
                        getattr(flow, name)
                        for name in flow.__struct_fields__
                        if name.endswith("_minor")
                    ):
                        flows.append(flow)
            scale = read_scale(reading, cycle.currency)
        timing = cycle_timing(cycle, block_times_ms(reader, timing_heights(cycle)))
        return positions_chart_png_bytes(
            positions.positions,
            flows,
            currency=cycle.currency,
            scale=scale,
            title=f"Cycle {cycle_id} ({cycle.status}): net positions and flows",
            note=f"Cycle {cycle_id} {describe_timing(timing)}",
        )

    @routes.get(
        "/v1/payments/cycles/{cycle_id}/chart.png",
        tags=["payments"],
        response_class=Response,
        responses={**media_answer("image/png"), **error_responses(LOOKUP)},
    )
    async def cycle_chart(cycle_id: CycleId) -> Response:
        """A PNG of the cycle's net positions and flows, noting when it opened, closed and
        settled and its settlement time (also the PNG's ``Description`` text)."""
        return Response(await asyncio.to_thread(chart, cycle_id), media_type="image/png")

    return routes
