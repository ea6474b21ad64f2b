"""Statements for the reports tests: read from a small cycle run through the in-memory payments
network, or built directly from structs."""

from __future__ import annotations

from pathlib import Path

from jinqiao.apps.payments import PAYMENTS
from jinqiao.apps.payments.model import (
    Cycle,
    CycleArgs,
    CycleInstitutionArgs,
    Entries,
    EntriesArgs,
    InstitutionCycle,
    Position,
    Positions,
)
from jinqiao.core.errors import Rejection
from jinqiao.reports import Statement, StatementProof, build_statement
from tests.helpers.chain import Chain
from tests.unit.test_payments_network import (
    CLEARING_OPS,
    Driver,
    authorize_call,
    capture_call,
    make_network,
    refund_call,
    treasury,
)

CNY_SCALE = 2
XSD_DIRECTORY = Path(__file__).resolve().parents[2] / ".cache" / "iso20022"
"""Filled by ``tools/fetch_iso20022_schemas.py`` (``make test`` runs it)."""


def run_cycle(chain: Chain, *, settle: bool = True, close: bool = True) -> int:
    """Three payments and a partial refund in one cycle: P1 bank-b → ecfin 100,000 debit,
    P2 bank-a → ecfin 200,000 credit, P3 bank-b → bank-a 50,000 debit, P1 refunded 10,000 (R1);
    then closed, funded and settled (as asked)."""
    driver = Driver(chain)
    cycle = driver.open_cycle(blocks=4)
    driver.run(
        [
            authorize_call("P1", "bank-b", "ecfin", 100_000),
            authorize_call("P2", "bank-a", "ecfin", 200_000, merchant=1, card_type="credit"),
            authorize_call("P3", "bank-b", "bank-a", 50_000),
        ]
    )
    driver.run(
        [
            capture_call("ecfin", "P1", 100_000, cycle),
            capture_call("ecfin", "P2", 200_000, cycle),
            capture_call("bank-a", "P3", 50_000, cycle),
        ]
    )
    driver.run([refund_call("ecfin", "P1", "R1", 10_000, cycle)])
    if not close:
        return cycle
    chain.advance(4)
    chain.ok(CLEARING_OPS, PAYMENTS, "close_cycle", CycleArgs(cycle))
    if not settle:
        return cycle
    driver.approve_escrow(["bank-a", "bank-b"])
    for institution in ("bank-a", "bank-b"):
        chain.ok(treasury(institution), PAYMENTS, "fund", CycleArgs(cycle))
    chain.ok(CLEARING_OPS, PAYMENTS, "settle", CycleArgs(cycle))
    return cycle


def settled_network() -> tuple[Chain, int]:
    chain = make_network()
    return chain, run_cycle(chain)


def read_pages(chain: Chain, cycle: int, institution: str, limit: int = 2) -> list[Entries]:
    pages: list[Entries] = []
    start: int | None = 0
    while start is not None:
        page: Entries = chain.query(
            PAYMENTS, "entries", EntriesArgs(cycle, institution, start, limit)
        )
        pages.append(page)
        start = page.next_start
    return pages


def read_statement(chain: Chain, cycle_id: int, institution: str) -> Statement:
    """What the API does, without the proofs (placeholders stand in for them)."""
    cycle: Cycle = chain.query(PAYMENTS, "cycle", CycleArgs(cycle_id))
    head: InstitutionCycle = chain.query(
        PAYMENTS, "institution_cycle", CycleInstitutionArgs(cycle_id, institution)
    )
    try:
        position: Position | None = chain.query(
            PAYMENTS, "position", CycleInstitutionArgs(cycle_id, institution)
        )
    except Rejection:
        position = None
    return build_statement(
        cycle,
        head,
        read_pages(chain, cycle_id, institution),
        position,
        scale=CNY_SCALE,
        height=chain.height,
        proofs=(StatementProof(name="cycle", key=b"cycle/\x01", proof=b"\x00\xff"),),
    )


def read_positions(chain: Chain, cycle_id: int) -> tuple[Cycle, tuple[Position, ...]]:
    cycle: Cycle = chain.query(PAYMENTS, "cycle", CycleArgs(cycle_id))
    positions: Positions = chain.query(PAYMENTS, "positions", CycleArgs(cycle_id))
    return cycle, positions.positions
