"""Statements, settlement instructions (pacs.009 between institutions, pacs.008 from an acquirer
to its merchants), reconciliation and charts for the payments contract (``docs/api.md``,
"Payments"). The data are read from one snapshot at the head; the statement carries the proofs of
its summary records (cycle, the institution's totals, its position) so a reader can check them
with ``jinqiao.verify`` — each entry can be proven on its own with
``GET /v1/payments/cycles/{c}/entries/{i}/{sequence}``. Settlement dates and the chart's timing
come from the committed headers of the blocks that closed and settled the cycle.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from jinqiao.api.openapi import (
    LOOKUP,
    MAX_BODY_BYTES_KEY,
    REPORT,
    error_responses,
    media_answer,
)
from jinqiao.api.payments import block_times_ms
from jinqiao.apps.payments.figures import cycle_timing, describe_timing, timing_heights
from jinqiao.apps.payments.model import (
    ACQUIRER_SIDE,
    PAYMENTS,
    Cycle,
    CycleArgs,
    CycleInstitutionArgs,
    Entries,
    EntriesArgs,
    Flow,
    FlowArgs,
    InstitutionArgs,
    InstitutionCycle,
    Merchant,
    MerchantArgs,
    Participants,
    PaymentArgs,
    PaymentView,
    Position,
    Positions,
    cycle_key,
    institution_cycle_key,
    position_key,
)
from jinqiao.apps.token import TOKEN, Asset, asset_key
from jinqiao.core.codec import decode_stored, encode
from jinqiao.core.errors import Rejection
from jinqiao.execution.state import full_key
from jinqiao.node.port import NodePort, Reading
from jinqiao.node.reads import NotFound, Reader
from jinqiao.reports import (
    MerchantPayout,
    Statement,
    StatementProof,
    break_report_to_csv,
    break_report_to_json,
    build_statement,
    merchant_payouts,
    merchant_payouts_to_pacs008,
    positions_chart_png_bytes,
    reconcile_csv,
    require_participant,
    require_settled,
    settlement_to_pacs009,
    statement_to_camt053,
    statement_to_csv,
    statement_to_json,
)
from jinqiao.reports.payouts import not_acquirer
from jinqiao.reports.reconcile import MAX_RECONCILIATION_FILE_BYTES

ENTRIES_PAGE = 500
MAX_RECONCILIATION_BYTES = MAX_RECONCILIATION_FILE_BYTES
MAX_ENTRY_PAGES = 2_000

CycleId = Annotated[int, Path(ge=1, le=2**64 - 1, description="Cycle id")]
InstitutionId = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$", max_length=64)]


class CycleReading:
    """Payments queries of one cycle, all from one snapshot (``node.port.Reading``): its height
    and block time are that snapshot's head, never a head a commit moved meanwhile."""

    def __init__(self, reading: Reading) -> None:
        self.reading = reading
        self.height = reading.height
        self.time_ms = reading.time_ms

    def query(self, name: str, args: Any) -> Any:
        return self.reading.query(PAYMENTS, name, args)

    def scale(self, currency: str) -> int:
        raw = self.reading.get(full_key(TOKEN, asset_key(currency)))
        if raw is None:
            raise NotFound(f"no token asset {currency}")
        asset: Asset = decode_stored(raw, Asset)
        return asset.scale


def _cycle(reading: CycleReading, cycle_id: int) -> Cycle:
    try:
        cycle: Cycle = reading.query("cycle", CycleArgs(cycle_id))
    except Rejection as refusal:
        raise NotFound(f"no cycle {cycle_id}", cycle=cycle_id) from refusal
    return cycle


def _participants(reading: CycleReading, cycle_id: int) -> tuple[str, ...]:
    participants: Participants = reading.query("participants", CycleArgs(cycle_id))
    return participants.institutions


def _read_statement(
    reading: CycleReading, reader: Reader, cycle: Cycle, institution: str
) -> Statement:
    """The statement of a participant of ``cycle``, read from ``snapshot`` (proofs at the same
    height)."""
    cycle_id = cycle.cycle_id
    head: InstitutionCycle = reading.query(
        "institution_cycle", CycleInstitutionArgs(cycle_id, institution)
    )
    try:
        position: Position | None = reading.query(
            "position", CycleInstitutionArgs(cycle_id, institution)
        )
    except Rejection:
        position = None
    pages: list[Entries] = []
    start: int | None = 0
    while start is not None and len(pages) < MAX_ENTRY_PAGES:
        page: Entries = reading.query(
            "entries", EntriesArgs(cycle_id, institution, start, ENTRIES_PAGE)
        )
        pages.append(page)
        start = page.next_start
    scale = reading.scale(cycle.currency)
    proofs = (
        [
            StatementProof(
                name=name,
                key=key,
                proof=encode(reader.state(full_key(PAYMENTS, key), reading.height)),
            )
            for name, key in (
                ("cycle", cycle_key(cycle_id)),
                ("institution_cycle", institution_cycle_key(cycle_id, institution)),
                ("position", position_key(cycle_id, institution)),
            )
        ]
        if reading.height > 0
        else []
    )
    return build_statement(
        cycle, head, pages, position, scale=scale, height=reading.height, proofs=proofs
    )


def _merchants(
    reading: CycleReading, statement: Statement
) -> tuple[dict[str, str], dict[str, str]]:
    """The merchant id of each payment the statement's institution acquired, and each of those
    merchants' registered names."""
    merchant_of: dict[str, str] = {}
    for line in statement.lines:
        if line.side == ACQUIRER_SIDE and line.payment_id not in merchant_of:
            view: PaymentView = reading.query("payment", PaymentArgs(line.payment_id))
            merchant_of[line.payment_id] = view.payment.authorization.merchant_id
    names: dict[str, str] = {}
    for merchant_id in sorted(set(merchant_of.values())):
        merchant: Merchant = reading.query(
            "merchant", MerchantArgs(statement.institution, merchant_id)
        )
        names[merchant_id] = merchant.name
    return merchant_of, names


def router(node: NodePort) -> APIRouter:
    routes = APIRouter(tags=["payments"])
    reader = node.reader

    def statement(cycle_id: int, institution: str) -> tuple[Statement, int]:
        """The statement, with the time of the block it was read at."""
        with node.reading() as one_snapshot:
            reading = CycleReading(one_snapshot)
            cycle = _cycle(reading, cycle_id)
            participants = _participants(reading, cycle_id)
            require_participant(participants, institution, cycle_id)
            return _read_statement(reading, reader, cycle, institution), reading.time_ms

    @routes.get(
        "/v1/payments/cycles/{cycle_id}/statements/{institution}",
        tags=["payments"],
        response_class=Response,
        responses={
            **media_answer("application/json", "text/csv", "application/xml"),
            **error_responses(REPORT),
        },
    )
    async def get_statement(
        cycle_id: CycleId,
        institution: InstitutionId,
        format: Annotated[str, Query(pattern="^(json|csv|camt053)$")] = "json",
    ) -> Response:
        """An institution's statement for a cycle: every payment, fee and its position, as
        JSON (with proofs of the summary records), CSV, or ISO 20022 camt.053 XML."""
        built, read_time_ms = await asyncio.to_thread(statement, cycle_id, institution)
        if format == "csv":
            return Response(statement_to_csv(built), media_type="text/csv")
        if format == "camt053":
            xml = statement_to_camt053(built, created_time_ms=read_time_ms)
            return Response(xml, media_type="application/xml")
        return Response(statement_to_json(built), media_type="application/json")

    @routes.post(
        "/v1/payments/cycles/{cycle_id}/reconciliation/{institution}",
        tags=["payments"],
        response_class=Response,
        responses={
            **media_answer("application/json", "text/csv"),
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
        built, _ = await asyncio.to_thread(statement, cycle_id, institution)
        report = await asyncio.to_thread(reconcile_csv, built, body)
        if format == "csv":
            return Response(break_report_to_csv(report), media_type="text/csv")
        return Response(break_report_to_json(report), media_type="application/json")

    def settled_time_ms(cycle: Cycle, read_time_ms: int) -> int:
        """The settling block's time (the read's while the cycle has not settled: the documents
        refuse such a cycle anyway)."""
        if cycle.settled_height == 0:
            return read_time_ms
        return block_times_ms(reader, (cycle.settled_height,))[cycle.settled_height]

    def settled(cycle_id: int) -> tuple[Cycle, tuple[Position, ...], int, int]:
        """The cycle, its positions and its currency's scale, with the time of the block they
        were read at."""
        with node.reading() as one_snapshot:
            reading = CycleReading(one_snapshot)
            cycle = _cycle(reading, cycle_id)
            positions: Positions = reading.query("positions", CycleArgs(cycle_id))
            scale = reading.scale(cycle.currency)
            return cycle, positions.positions, scale, reading.time_ms

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
        before settlement), dated with the settling block's time."""
        cycle, positions, scale, read_time_ms = await asyncio.to_thread(settled, cycle_id)
        settled_ms = await asyncio.to_thread(settled_time_ms, cycle, read_time_ms)
        xml = settlement_to_pacs009(
            cycle,
            positions,
            scale=scale,
            created_time_ms=read_time_ms,
            settled_time_ms=settled_ms,
        )
        return Response(xml, media_type="application/xml")

    def payouts(
        cycle_id: int, institution: str
    ) -> tuple[Statement, tuple[MerchantPayout, ...], int]:
        with node.reading() as one_snapshot:
            reading = CycleReading(one_snapshot)
            cycle = _cycle(reading, cycle_id)
            reading.query("institution", InstitutionArgs(institution))
            require_settled(cycle_id, cycle.status)
            if institution not in _participants(reading, cycle_id):
                raise not_acquirer(institution, cycle_id)
            built = _read_statement(reading, reader, cycle, institution)
            merchant_of, names = _merchants(reading, built)
            read_time_ms = reading.time_ms
        return built, merchant_payouts(built, merchant_of, names), read_time_ms

    @routes.get(
        "/v1/payments/cycles/{cycle_id}/merchant-payouts/{institution}",
        tags=["payments"],
        response_class=Response,
        responses={
            **media_answer("application/xml"),
            **error_responses(
                LOOKUP,
                {
                    404: ("unknown_institution", "not_acquirer_in_cycle"),
                    409: ("cycle_not_settled", "no_merchant_payouts"),
                },
            ),
        },
    )
    async def merchant_payouts_pacs008(cycle_id: CycleId, institution: InstitutionId) -> Response:
        """An acquirer's payouts to its merchants for a settled cycle as ISO 20022 pacs.008: one
        credit transfer per merchant owed money (captured + represented - refunded - charged
        back; nothing deducted), dated with the settling block's time. 404
        ``unknown_institution``, 409 ``cycle_not_settled``, 404 ``not_acquirer_in_cycle``, 409
        ``no_merchant_payouts``."""
        built, owed, read_time_ms = await asyncio.to_thread(payouts, cycle_id, institution)
        settled_ms = await asyncio.to_thread(block_times_ms, reader, (built.settled_height,))
        xml = merchant_payouts_to_pacs008(
            built,
            owed,
            created_time_ms=read_time_ms,
            settled_time_ms=settled_ms[built.settled_height],
        )
        return Response(xml, media_type="application/xml")

    def chart(cycle_id: int) -> bytes:
        """The chart, its note the cycle's timing from the committed headers."""
        with node.reading() as one_snapshot:
            reading = CycleReading(one_snapshot)
            cycle = _cycle(reading, cycle_id)
            positions: Positions = reading.query("positions", CycleArgs(cycle_id))
            participants = _participants(reading, cycle_id)
            flows: list[Flow] = []
            for issuer in participants:
                for acquirer in participants:
                    try:
                        flow = reading.query("flow", FlowArgs(cycle_id, issuer, acquirer))
                    except Rejection:
                        continue
                    if any(
                        getattr(flow, name)
                        for name in flow.__struct_fields__
                        if name.endswith("_minor")
                    ):
                        flows.append(flow)
            scale = reading.scale(cycle.currency)
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
