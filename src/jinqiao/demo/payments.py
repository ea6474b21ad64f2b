"""The demo's payments day: card payments recorded on chain, cleared, netted and settled.

The clearing house registers the two banks and the e-commerce finance company, each as card
issuer (cards, wallets) and as acquirer; the acquirers register their merchants. The issuers
authorize a few thousand payments (only a keyed hash of each payer reaches the chain), then the
acquirers capture them into a clearing cycle — some partially, a few reversed instead — refund
some, and an issuer charges one back. Money flows in every direction between the three, which is
what multilateral netting removes. The clearing house closes the cycle (multilateral netting),
the net debtors fund the escrow and the settlement agent settles: every position, and the
netting efficiency, read back proven.

Transactions are signed up front and submitted in batches; their receipts are collected from the
committed blocks (each block's header checked against its commit certificate), not one request
per transaction, so that a few thousand payments fit in the demo's time.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.progress import Progress
from rich.table import Table

from jinqiao.apps.payments.model import (
    PAYMENTS,
    AuthorizeArgs,
    CaptureArgs,
    ChargebackArgs,
    PaymentArgs,
    RefundArgs,
    RegisterInstitutionArgs,
    RegisterMerchantArgs,
)
from jinqiao.client import Client, ClientError, TransactionResult
from jinqiao.core.crypto import Signer
from jinqiao.core.types import SignedTransaction
from jinqiao.demo import DemoFailed
from jinqiao.provision.presets import CNY
from jinqiao.terminal import console, format_minor
from jinqiao.terminal.payments import print_cycle

INSTITUTIONS = {
    "bank-a": "bank-a-treasury",
    "bank-b": "bank-b-treasury",
    "ecfin": "ecfin-settlement",
}
"""Each institution and the account that signs for it and settles for it."""
ISSUER_WEIGHTS = {"bank-a": 4, "bank-b": 4, "ecfin": 2}
ACQUIRER_WEIGHTS = {"bank-a": 3, "bank-b": 2, "ecfin": 5}
CLEARING = "clearing"
CLEARING_ACCOUNT = "clearing-treasury"
MERCHANTS = {
    "bank-a": (("A-0001", "Golden Grocer", "5411"), ("A-0002", "City Hospital", "8062")),
    "bank-b": (("B-0001", "Tea House", "5812"),),
    "ecfin": (("E-0001", "Silk Road Online", "5999"), ("E-0002", "Jade Electronics", "5732")),
}
"""Merchants by acquirer (8062, a hospital, is non-profit: no interchange or network fees)."""
BATCH_TRANSACTIONS = 500
COMMIT_TIMEOUT_S = 120.0
CUTOFF_FLOOR_MS = 3_000
CUTOFF_FACTOR = 4
"""The cycle's cut-off is CUTOFF_FACTOR times the time the authorizations took from opening (at
least CUTOFF_FLOOR_MS): captures and refunds are about as many transactions, each dearer."""
REFUND_SHARE = 0.03
REVERSAL_SHARE = 0.01
PARTIAL_CAPTURE_SHARE = 0.05


@dataclass
class PaymentsTally:
    receipts: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    submitted: int = 0


@dataclass(frozen=True)
class Planned:
    authorization: AuthorizeArgs
    captured_minor: int  # 0: reversed instead
    refund_minor: int


def commit_all(
    client: Client,
    transactions: list[SignedTransaction],
    tally: PaymentsTally,
    progress: Progress,
    description: str,
) -> None:
    """Submit in batches, then read receipts from the committed blocks until all are in."""
    task = progress.add_task(description, total=len(transactions))
    next_height = int(client.status()["height"]) + 1
    pending: set[str] = set()
    for start in range(0, len(transactions), BATCH_TRANSACTIONS):
        batch = transactions[start : start + BATCH_TRANSACTIONS]
        answer = client.submit_batch(batch)
        for transaction, result in zip(batch, answer.results, strict=True):
            tally.submitted += 1
            if "error" in result:
                tally.refused[result["error"]["code"]] += 1
                progress.advance(task)
            else:
                pending.add(client.hash_of(transaction))
    deadline = time.monotonic() + COMMIT_TIMEOUT_S
    while pending:
        if time.monotonic() > deadline:
            raise DemoFailed(
                f"{len(pending)} payments transactions were not committed in {COMMIT_TIMEOUT_S} s"
            )
        try:
            block = client.block(next_height, transactions=True)
        except ClientError as error:
            if error.code != "not_found":
                raise
            time.sleep(0.05)
            continue
        for transaction in block.get("transactions", []):
            receipt = transaction["receipt"]
            if receipt["transaction_hash"] in pending:
                pending.discard(receipt["transaction_hash"])
                tally.receipts[receipt["code"]] += 1
                progress.advance(task)
        next_height += 1


def _plan(count: int, rng: random.Random, issuer_keys: dict[str, bytes]) -> list[Planned]:
    plans = []
    for number in range(count):
        issuer = rng.choices(list(ISSUER_WEIGHTS), weights=list(ISSUER_WEIGHTS.values()))[0]
        acquirer = rng.choices(list(ACQUIRER_WEIGHTS), weights=list(ACQUIRER_WEIGHTS.values()))[0]
        amount = (
            rng.randint(100, 200_000) if rng.random() < 0.9 else rng.randint(200_000, 2_000_000)
        )
        payer = f"6222{rng.randrange(10**12):012d}"  # a card number, hashed by its issuer only
        authorization = AuthorizeArgs(
            payment_id=f"DEMO-{number:06d}",
            issuer=issuer,
            acquirer=acquirer,
            merchant_id=rng.choice(MERCHANTS[acquirer])[0],
            payer_hash=hmac.new(issuer_keys[issuer], payer.encode(), hashlib.sha256).digest(),
            amount_minor=amount,
            currency=CNY,
            channel=rng.choice(("ecommerce", "mobile", "pos", "qr")),
            card_type="credit" if rng.random() < 0.3 else "debit",
            authorization_code=f"{rng.randrange(36**6):06X}"[-6:],
            time_ms=int(time.time() * 1000),
        )
        roll = rng.random()
        captured = amount
        if roll < REVERSAL_SHARE:
            captured = 0
        elif roll < REVERSAL_SHARE + PARTIAL_CAPTURE_SHARE:
            captured = rng.randint(1, amount)
        refund = 0
        if captured and rng.random() < REFUND_SHARE:
            refund = captured if rng.random() < 0.5 else rng.randint(1, captured)
        plans.append(Planned(authorization, captured, refund))
    return plans


def run_payments_day(
    client: Client,
    keys: dict[str, Signer],
    payments: int,
    rng: random.Random,
    progress_factory: Callable[[], Progress],
    statements_dir: Path | None = None,
) -> int:
    """Register, record, clear, fund and settle a day of ``payments`` card payments; write
    bank-a's statement (CSV and ISO 20022 camt.053) and the settlement (pacs.009), each with its
    proof bundle, and the cycle's chart into ``statements_dir``. Returns the cycle id."""
    tally = PaymentsTally()
    clearing = keys[CLEARING_ACCOUNT]
    signer = {institution: keys[account] for institution, account in INSTITUTIONS.items()}
    started = time.monotonic()
    setup = [
        client.build(
            clearing,
            PAYMENTS,
            "register_institution",
            RegisterInstitutionArgs(
                institution, ("acquirer", "card_issuer"), signer[institution].address, None, True
            ),
        )
        for institution in INSTITUTIONS
    ]
    # The issuers' HMAC keys stay with them (their HSMs); here, random bytes per issuer.
    issuer_keys = {issuer: rng.randbytes(32) for issuer in INSTITUTIONS}
    plans = _plan(payments, rng, issuer_keys)
    with progress_factory() as progress:
        commit_all(client, setup, tally, progress, "register institutions")
        merchants = [
            client.build(
                signer[acquirer], PAYMENTS, "register_merchant", RegisterMerchantArgs(*merchant)
            )
            for acquirer, owned in MERCHANTS.items()
            for merchant in owned
        ]
        commit_all(client, merchants, tally, progress, "register merchants")
        authorize_started = time.monotonic()
        authorizations = [
            client.build(signer[p.authorization.issuer], PAYMENTS, "authorize", p.authorization)
            for p in plans
        ]
        commit_all(client, authorizations, tally, progress, "authorize payments")
        authorize_s = time.monotonic() - authorize_started
        cycle_id, cutoff_time_ms = _open_cycle(client, clearing, plans, authorize_s)
        commit_all(
            client,
            _clearing_events(client, signer, plans, cycle_id),
            tally,
            progress,
            "capture, refund",
        )
        dispute = _dispute(client, signer, plans, cycle_id)
        commit_all(client, dispute, tally, progress, "chargeback, a conflicting capture")
    _wait_past(cutoff_time_ms)
    positions_before = _settle(client, keys, cycle_id, tally)
    elapsed_s = time.monotonic() - started
    _print_summary(client, keys, cycle_id, tally, plans, positions_before, elapsed_s)
    if statements_dir is not None:
        _write_statements(client, cycle_id, statements_dir)
    return cycle_id


def _write_statements(client: Client, cycle_id: int, directory: Path) -> None:
    """bank-a's statement (CSV, camt.053) and the settlement (pacs.009), each with its proof
    bundle next to it (``<file>.proofs.json``, docs/proofs.md §12: checked before it is written;
    ``jinqiao verify FILE --genesis`` checks it again offline), and the cycle's chart."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, report, institution, file_format in (
        (f"statement-bank-a-cycle-{cycle_id}.csv", "statement", "bank-a", "csv"),
        (f"statement-bank-a-cycle-{cycle_id}.camt053.xml", "statement", "bank-a", "camt053"),
        (f"settlement-cycle-{cycle_id}.pacs009.xml", "settlement", None, "pacs009"),
    ):
        target = directory / name
        client.payments.save_report(
            target, cycle_id, report=report, institution=institution, file_format=file_format
        )
        written.append(f"{target} (+ .proofs.json)")
    chart = directory / f"cycle-{cycle_id}.png"
    chart.write_bytes(client.raw_get(f"/v1/payments/cycles/{cycle_id}/chart.png"))
    written.append(str(chart))
    console.print("wrote " + ", ".join(written))


def _open_cycle(
    client: Client, clearing: Signer, plans: list[Planned], authorize_s: float
) -> tuple[int, int]:
    """Open today's cycle with a cut-off in block time (``CUTOFF_FACTOR``): after it the cycle
    takes no more events, and the clearing house closes it. A capture that came too late would be
    rejected ``cycle_closed`` and shown in the summary; it stays authorized."""
    events = sum(1 for p in plans if p.captured_minor) + sum(1 for p in plans if p.refund_minor)
    budget_ms = int(CUTOFF_FACTOR * 1_000 * authorize_s * max(1, events) / max(1, len(plans)))
    budget_ms = max(budget_ms, CUTOFF_FLOOR_MS)
    cutoff_time_ms = int(time.time() * 1000) + budget_ms
    result = client.payments.open_cycle(
        clearing, CNY, cutoff_time_ms=cutoff_time_ms, funding_window_blocks=1_000
    )
    if not result.ok:
        raise DemoFailed(f"open_cycle was rejected: {result.code}: {result.receipt.message}")
    return client.payments.opened_cycle_id(result), cutoff_time_ms


def _clearing_events(
    client: Client, signer: dict[str, Signer], plans: list[Planned], cycle_id: int
) -> list[SignedTransaction]:
    events = []
    for plan in plans:
        payment_id = plan.authorization.payment_id
        acquirer = signer[plan.authorization.acquirer]
        if plan.captured_minor:
            args: Any = CaptureArgs(payment_id, plan.captured_minor, cycle_id)
            events.append(client.build(acquirer, PAYMENTS, "capture", args))
        else:
            events.append(client.build(acquirer, PAYMENTS, "reverse", PaymentArgs(payment_id)))
    for plan in plans:
        if plan.refund_minor:
            args = RefundArgs(plan.authorization.payment_id, "R1", plan.refund_minor, cycle_id)
            events.append(
                client.build(signer[plan.authorization.acquirer], PAYMENTS, "refund", args)
            )
    return events


def _dispute(
    client: Client, signer: dict[str, Signer], plans: list[Planned], cycle_id: int
) -> list[SignedTransaction]:
    """One chargeback (the payer says the goods never came: reason 4855) and a second capture of
    a captured payment with another amount, which the contract must refuse."""
    disputed = next(p for p in plans if p.captured_minor and not p.refund_minor)
    conflicting = next(p for p in reversed(plans) if p.captured_minor)
    issuer = signer[disputed.authorization.issuer]
    chargeback = ChargebackArgs(
        disputed.authorization.payment_id, disputed.captured_minor, "4855", cycle_id
    )
    over = CaptureArgs(
        conflicting.authorization.payment_id,
        conflicting.authorization.amount_minor + 1,
        cycle_id,
    )
    return [
        client.build(issuer, PAYMENTS, "chargeback", chargeback),
        client.build(signer[conflicting.authorization.acquirer], PAYMENTS, "capture", over),
    ]


def _wait_past(cutoff_time_ms: int) -> None:
    remaining_s = (cutoff_time_ms - time.time() * 1000) / 1000 + 0.1
    if remaining_s > 0:
        console.print(f"waiting {remaining_s:.1f} s for the cycle's cut-off …")
        time.sleep(remaining_s)


def _settle(
    client: Client, keys: dict[str, Signer], cycle_id: int, tally: PaymentsTally
) -> dict[str, int]:
    """Close, fund every net debtor, settle. Returns the settlement balances before funding."""
    accounts = {**INSTITUTIONS, CLEARING: CLEARING_ACCOUNT}
    _check(client.payments.close_cycle(keys[CLEARING_ACCOUNT], cycle_id), "close_cycle", tally)
    before = {
        institution: client.token.balance(CNY, keys[account].address)
        for institution, account in accounts.items()
    }
    for position in client.payments.proven_positions(cycle_id):
        if position.net_minor < 0:
            signer = keys[accounts[position.institution]]
            _check(client.payments.fund(signer, cycle_id), "fund", tally)
    _check(client.payments.settle(keys[CLEARING_ACCOUNT], cycle_id), "settle", tally)
    return before


def _check(result: TransactionResult, what: str, tally: PaymentsTally) -> None:
    tally.submitted += 1
    tally.receipts[result.code] += 1
    if not result.ok:
        raise DemoFailed(f"{what} was rejected: {result.code}: {result.receipt.message}")


def _print_summary(
    client: Client,
    keys: dict[str, Signer],
    cycle_id: int,
    tally: PaymentsTally,
    plans: list[Planned],
    balances_before: dict[str, int],
    elapsed_s: float,
) -> None:
    cycle = client.payments.cycle(cycle_id)
    totals = client.payments.cycle_totals(cycle_id)
    if cycle is None or totals is None:
        raise DemoFailed(f"cycle {cycle_id} is missing")
    positions = client.payments.proven_positions(cycle_id)
    figures = client.payments.figures(cycle_id)
    committed = sum(tally.receipts.values())
    table = Table(title="The payments day (cycle totals proven)")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("payments authorized", f"{len(plans):,}")
    table.add_row("captured", f"{totals.captures:,} = {format_minor(totals.captured_minor, 2)} CNY")
    table.add_row("refunds", f"{totals.refunds:,} = {format_minor(totals.refunded_minor, 2)} CNY")
    table.add_row(
        "chargebacks", f"{totals.chargebacks:,} = {format_minor(totals.charged_back_minor, 2)} CNY"
    )
    table.add_row("interbank fees", f"{format_minor(totals.fees_minor, 2)} CNY")
    table.add_row("payments transactions committed", f"{committed:,}")
    table.add_row("payments day, wall time (with the wait for the cut-off)", f"{elapsed_s:,.1f} s")
    for code, count in sorted(tally.receipts.items()):
        if code != "ok":
            table.add_row(f"rejected on chain: {code}", str(count))
    for code, count in sorted(tally.refused.items()):
        table.add_row(f"refused at admission: {code}", str(count))
    console.print(table)
    print_cycle(cycle, positions, figures, 2, client.payments.timing(cycle_id, cycle=cycle))
    accounts = {**INSTITUTIONS, CLEARING: CLEARING_ACCOUNT}
    moved_exactly = all(
        client.token.balance(CNY, keys[accounts[p.institution]].address)
        - balances_before[p.institution]
        == p.net_minor
        for p in positions
    )
    escrow = client.token.balance(CNY, client.payments.escrow_address)
    verdict = "[green]holds[/]" if moved_exactly and escrow == 0 else "[red]BROKEN[/]"
    console.print(
        f"settlement check: every settlement account moved by exactly its net position, "
        f"escrow back to {format_minor(escrow, 2)} CNY → {verdict}"
    )
