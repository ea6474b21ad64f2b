"""Statements for the reports tests: read from a small cycle run through the in-memory payments
network, or built directly from structs."""

from __future__ import annotations

from pathlib import Path

from jinqiao.apps.payments import PAYMENTS
from jinqiao.apps.payments.model import (
    ACQUIRER_SIDE,
    Cycle,
    CycleArgs,
    CycleInstitutionArgs,
    Entries,
    EntriesArgs,
    InstitutionCycle,
    Merchant,
    MerchantArgs,
    PaymentArgs,
    PaymentView,
    Position,
    Positions,
)
from jinqiao.core.errors import Rejection
from jinqiao.reports import Statement, StatementProof, build_statement
from tests.helpers.chain import Chain
from tests.helpers.payments_network import (
    CLEARING_OPS,
    Driver,
    authorize_call,
    capture_call,
    chargeback_call,
    make_network,
    refund_call,
    represent_call,
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


def settle_cycle(chain: Chain, cycle: int) -> None:
    """Close ``cycle`` (past its cut-off), fund every net debtor and settle."""
    chain.ok(CLEARING_OPS, PAYMENTS, "close_cycle", CycleArgs(cycle))
    _, positions = read_positions(chain, cycle)
    debtors = [position.institution for position in positions if position.net_minor < 0]
    Driver(chain).approve_escrow(debtors)
    for institution in debtors:
        chain.ok(treasury(institution), PAYMENTS, "fund", CycleArgs(cycle))
    chain.ok(CLEARING_OPS, PAYMENTS, "settle", CycleArgs(cycle))


def run_disputed_cycle(chain: Chain) -> int:
    """After ``run_cycle`` has settled: a second cycle where ecfin's merchant 1 sells P4
    (bank-b, 30,000), is charged back 40,000 on P2 (bank-a) and represents 15,000 of it — owed
    5,000 — while its merchant 0 refunds 50,000 more of P1 (bank-b) — owed nothing; closed,
    funded and settled."""
    driver = Driver(chain)
    cycle = driver.open_cycle(blocks=4)
    driver.run([authorize_call("P4", "bank-b", "ecfin", 30_000, merchant=1)])
    driver.run(
        [
            capture_call("ecfin", "P4", 30_000, cycle),
            refund_call("ecfin", "P1", "R2", 50_000, cycle),
            chargeback_call("bank-a", "P2", 40_000, cycle),
        ]
    )
    driver.run([represent_call("ecfin", "P2", 15_000, cycle)])
    chain.advance(4)
    settle_cycle(chain, cycle)
    return cycle


def read_merchants(chain: Chain, statement: Statement) -> tuple[dict[str, str], dict[str, str]]:
    """What the API reads for merchant payouts: each acquired payment's merchant id (from the
    payment record) and those merchants' names."""
    merchant_of: dict[str, str] = {}
    for line in statement.lines:
        if line.side == ACQUIRER_SIDE:
            view: PaymentView = chain.query(PAYMENTS, "payment", PaymentArgs(line.payment_id))
            merchant_of[line.payment_id] = view.payment.authorization.merchant_id
    names: dict[str, str] = {}
    for merchant_id in set(merchant_of.values()):
        merchant: Merchant = chain.query(
            PAYMENTS, "merchant", MerchantArgs(statement.institution, merchant_id)
        )
        names[merchant_id] = merchant.name
    return merchant_of, names
