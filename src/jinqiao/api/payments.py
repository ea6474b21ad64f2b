"""Read endpoints of the payments contract (``docs/api.md``, "Payments").

Each endpoint that returns one state value returns it with its ``StateReadProof`` (canonical,
hex), exactly as ``GET /v1/state/payments/{key}`` would, plus the decoded record and the age of
the answer (``height``, ``time_ms``); an absent value is ``404 not_found`` with the absence proven
in ``details`` (``api.proven``); ``min_height`` refuses an answer older than the client needs.
``/figures`` reads the cycle, its participants and every position at one
height and returns each proof next to the figures computed from them, with the cycle's timing
(settlement time included) from the committed headers of the blocks that opened, closed and
settled it, returned too. Writes go through ``POST /v1/transactions`` like every other contract
call.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from jinqiao.api.answers import answer
from jinqiao.api.answers.payments import (
    CycleAnswer,
    CycleTotalsAnswer,
    EntryAnswer,
    FiguresAnswer,
    FlowAnswer,
    InstitutionAnswer,
    InstitutionCycleAnswer,
    PaymentAnswer,
    PositionAnswer,
)
from jinqiao.api.openapi import proven_read_responses
from jinqiao.api.proven import (
    MinHeight,
    check_min_height,
    proven_absence,
    proven_fields,
    require_fresh,
)
from jinqiao.api.render import to_json
from jinqiao.apps.payments.figures import (
    cycle_figures,
    cycle_timing,
    format_ppm_percent,
    timing_heights,
)
from jinqiao.apps.payments.model import (
    PAYMENTS,
    Cycle,
    CycleTotals,
    Entry,
    Flow,
    Institution,
    InstitutionCycle,
    Payment,
    Position,
    cycle_key,
    cycle_totals_key,
    entry_key,
    flow_key,
    institution_cycle_key,
    institution_key,
    participants_key,
    payment_key,
    position_key,
)
from jinqiao.core.codec import decode_stored, encode
from jinqiao.core.proofs import StateReadProof
from jinqiao.execution.state import full_key
from jinqiao.node.port import NodePort
from jinqiao.node.reads import Reader

MAX_ID = 2**64 - 1
MAX_SEQUENCE = 2**63 - 1
INSTITUTION_ID = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
"""An organization id (``core.genesis.IDENTIFIER``)."""
PAYMENT_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
"""A payment id (``apps.payments.model.REFERENCE``)."""

CycleId = Annotated[int, Path(ge=1, le=MAX_ID, description="Cycle id")]
InstitutionId = Annotated[str, Path(pattern=INSTITUTION_ID, max_length=64)]
Height = Annotated[int | None, Query(ge=1, le=2**63, description="Default: the head")]
READ = proven_read_responses()


def committed_headers(reader: Reader, heights: Iterable[int]) -> list[dict[str, Any]]:
    """The committed header and commit certificate (canonical bytes, hex) of each height, with
    its block time: what a client needs to check a cycle's timing."""
    views = []
    for height in heights:
        committed = reader.block(height)
        views.append(
            {
                "height": height,
                "time_ms": committed.block.header.time_ms,
                "header_bytes": encode(committed.block.header).hex(),
                "certificate_bytes": encode(committed.certificate).hex(),
            }
        )
    return views


def block_times_ms(reader: Reader, heights: Iterable[int]) -> dict[int, int]:
    """The committed block time of each height."""
    return {height: reader.block(height).block.header.time_ms for height in heights}


def router(node: NodePort) -> APIRouter:
    routes = APIRouter()
    reader = node.reader

    def read(key: bytes, height: int | None, min_height: int | None = None) -> StateReadProof:
        check_min_height(height, min_height)
        proof = reader.state(full_key(PAYMENTS, key), height)
        require_fresh(proof.header.height, min_height)
        return proof

    def view(
        name: str,
        key: bytes,
        kind: type[Any],
        height: int | None,
        missing: str,
        min_height: int | None = None,
    ) -> dict[str, Any]:
        proof = read(key, height, min_height)
        if proof.value is None:
            raise proven_absence(missing, proof)
        return {
            name: to_json(decode_stored(proof.value, kind)),
            **proven_fields(proof),
            "key": key.hex(),  # the contract's key, as before; the proof names the full key
        }

    @routes.get(
        "/v1/payments/institutions/{institution}",
        tags=["payments"],
        response_model=None,
        responses={**answer(InstitutionAnswer), **READ},
    )
    def institution(
        institution: InstitutionId, height: Height = None, min_height: MinHeight = None
    ) -> dict[str, Any]:
        """A registered institution (roles, settlement account, cap, active), proven."""
        return view(
            "institution",
            institution_key(institution),
            Institution,
            height,
            f"{institution} is not registered for payments",
            min_height=min_height,
        )

    @routes.get(
        "/v1/payments/payments/{payment_id}",
        tags=["payments"],
        response_model=None,
        responses={**answer(PaymentAnswer), **READ},
    )
    def payment(
        payment_id: Annotated[str, Path(pattern=PAYMENT_ID, max_length=64)],
        height: Height = None,
        min_height: MinHeight = None,
    ) -> dict[str, Any]:
        """A payment as stored (authorization, status, capture with fees, refunds total,
        chargeback, representment), proven."""
        return view(
            "payment",
            payment_key(payment_id),
            Payment,
            height,
            f"no payment {payment_id}",
            min_height=min_height,
        )

    @routes.get(
        "/v1/payments/cycles/{cycle_id}",
        tags=["payments"],
        response_model=None,
        responses={**answer(CycleAnswer), **READ},
    )
    def cycle(
        cycle_id: CycleId, height: Height = None, min_height: MinHeight = None
    ) -> dict[str, Any]:
        """A clearing cycle (status, cut-offs, funding, report), proven."""
        return view(
            "cycle",
            cycle_key(cycle_id),
            Cycle,
            height,
            f"no cycle {cycle_id}",
            min_height=min_height,
        )

    @routes.get(
        "/v1/payments/cycles/{cycle_id}/totals",
        tags=["payments"],
        response_model=None,
        responses={**answer(CycleTotalsAnswer), **READ},
    )
    def cycle_totals(
        cycle_id: CycleId, height: Height = None, min_height: MinHeight = None
    ) -> dict[str, Any]:
        """The cycle's running totals, proven (404 until its first clearing event)."""
        return view(
            "totals",
            cycle_totals_key(cycle_id),
            CycleTotals,
            height,
            f"no clearing events in cycle {cycle_id} (or no such cycle)",
            min_height=min_height,
        )

    @routes.get(
        "/v1/payments/cycles/{cycle_id}/positions/{institution}",
        tags=["payments"],
        response_model=None,
        responses={**answer(PositionAnswer), **READ},
    )
    def position(
        cycle_id: CycleId,
        institution: InstitutionId,
        height: Height = None,
        min_height: MinHeight = None,
    ) -> dict[str, Any]:
        """An institution's net position and funding in a closed cycle, proven."""
        return view(
            "position",
            position_key(cycle_id, institution),
            Position,
            height,
            f"{institution} has no position in cycle {cycle_id}",
            min_height=min_height,
        )

    @routes.get(
        "/v1/payments/cycles/{cycle_id}/institutions/{institution}",
        tags=["payments"],
        response_model=None,
        responses={**answer(InstitutionCycleAnswer), **READ},
    )
    def institution_cycle(
        cycle_id: CycleId,
        institution: InstitutionId,
        height: Height = None,
        min_height: MinHeight = None,
    ) -> dict[str, Any]:
        """An institution's running totals and entry count in a cycle (its statement head)."""
        return view(
            "totals",
            institution_cycle_key(cycle_id, institution),
            InstitutionCycle,
            height,
            f"{institution} has no entries in cycle {cycle_id}",
            min_height=min_height,
        )

    @routes.get(
        "/v1/payments/cycles/{cycle_id}/flows/{issuer}/{acquirer}",
        tags=["payments"],
        response_model=None,
        responses={**answer(FlowAnswer), **READ},
    )
    def flow(
        cycle_id: CycleId,
        issuer: InstitutionId,
        acquirer: InstitutionId,
        height: Height = None,
        min_height: MinHeight = None,
    ) -> dict[str, Any]:
        """Everything cleared in the cycle from ``issuer`` to ``acquirer``, proven."""
        return view(
            "flow",
            flow_key(cycle_id, issuer, acquirer),
            Flow,
            height,
            f"no flow from {issuer} to {acquirer} in cycle {cycle_id}",
            min_height=min_height,
        )

    @routes.get(
        "/v1/payments/cycles/{cycle_id}/entries/{institution}/{sequence}",
        tags=["payments"],
        response_model=None,
        responses={**answer(EntryAnswer), **READ},
    )
    def entry(
        cycle_id: CycleId,
        institution: InstitutionId,
        sequence: Annotated[int, Path(ge=0, le=MAX_SEQUENCE)],
        height: Height = None,
        min_height: MinHeight = None,
    ) -> dict[str, Any]:
        """The ``sequence``-th (from 0) statement entry of an institution in a cycle, proven.
        Pages of entries: ``POST /v1/query/payments/entries`` (unproven)."""
        return view(
            "entry",
            entry_key(cycle_id, institution, sequence),
            Entry,
            height,
            f"{institution} has no entry {sequence} in cycle {cycle_id}",
            min_height=min_height,
        )

    @routes.get(
        "/v1/payments/cycles/{cycle_id}/figures",
        tags=["payments"],
        response_model=None,
        responses={**answer(FiguresAnswer), **READ},
    )
    def figures(
        cycle_id: CycleId, height: Height = None, min_height: MinHeight = None
    ) -> dict[str, Any]:
        """Gross obligations, net debits, netting efficiency (integer ppm) and the largest net
        debit of a cycle, computed from its positions; every value read is proven at one height
        (the proofs are returned). While the cycle is open there are no positions: all zero.
        ``timing``: when it opened, closed and settled and its settlement time (closing block to
        settling block), from the committed headers returned in ``headers``."""
        cycle_proof = read(cycle_key(cycle_id), height, min_height)
        if cycle_proof.value is None:
            raise proven_absence(f"no cycle {cycle_id}", cycle_proof)
        at = cycle_proof.header.height
        cycle_record = decode_stored(cycle_proof.value, Cycle)
        participants_proof = read(participants_key(cycle_id), at)
        participants: tuple[str, ...] = ()
        if participants_proof.value is not None:
            participants = decode_stored(participants_proof.value, tuple[str, ...])
        positions: list[Position] = []
        position_proofs: dict[str, str] = {}
        for member in participants:
            # Every participant's position is proven, present or absent (an open cycle has
            # none yet): a client then knows no position was left out of the figures.
            proof = read(position_key(cycle_id, member), at)
            position_proofs[member] = encode(proof).hex()
            if proof.value is not None:
                positions.append(decode_stored(proof.value, Position))
        result = cycle_figures(cycle_id, positions)
        headers = committed_headers(reader, timing_heights(cycle_record))
        timing = cycle_timing(cycle_record, {view["height"]: view["time_ms"] for view in headers})
        return {
            "figures": to_json(result),
            "netting_efficiency": format_ppm_percent(result.netting_efficiency_ppm),
            "status": cycle_record.status,
            "currency": cycle_record.currency,
            "timing": to_json(timing),
            "headers": headers,
            "positions": [to_json(position) for position in positions],
            "height": at,
            "time_ms": cycle_proof.header.time_ms,
            "state_root": cycle_proof.header.state_root.hex(),
            "proofs": {
                "cycle": encode(cycle_proof).hex(),
                "participants": encode(participants_proof).hex(),
                "positions": position_proofs,
            },
        }

    return routes


__all__ = ["block_times_ms", "committed_headers", "router"]
