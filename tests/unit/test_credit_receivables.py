"""Behaviour records derived from receivables on the ledger (docs/credit.md, "Records derived
from the ledger"; ADR 0036): a core enterprise's receivables, repaid late or marked past due on
the real supply-chain contract, become ``repayments``, ``defaults`` and ``recoveries`` records of
the obligor; stored encrypted and committed on the same chain by a credit member, they are opened
against those commitments by a lender and scored. An auditor recomputes each record from the
root and its events' block times; a record that is not what the ledger gives is refused."""

from __future__ import annotations

import hashlib
from pathlib import Path

import msgspec
import pytest

from jinqiao.apps.credit.derived import (
    check_receivable_record,
    receivable_records,
    receivable_reference,
)
from jinqiao.apps.credit.features import period_of_time
from jinqiao.apps.credit.model import (
    CREDIT,
    CREDIT_ROLE,
    DEFAULTS,
    RECOVERIES,
    REPAYMENTS,
    PageArgs,
    Records,
    SubmitRecordArgs,
)
from jinqiao.apps.credit.scoring import Disclosure, score_subject
from jinqiao.apps.supplychain.model import (
    SUPPLYCHAIN,
    Backing,
    ConfirmArgs,
    Receivable,
    Root,
    RootArgs,
)
from jinqiao.core.errors import InvalidInput
from jinqiao.core.genesis import GenesisOrganization
from jinqiao.credit import CreditStore, subject_hash
from tests.helpers.chain import AccountSpec, Chain, result_of
from tests.helpers.credit import MODEL
from tests.helpers.supplychain import make_chain

DAY_MS = 86_400_000
FACE = 500_000
KEY = hashlib.sha256(b"consortium subject key for tests").digest()
BRAND = subject_hash(KEY, "firm", "91110000600037341L")
"""The obligor (the brand, a core enterprise) as a credit subject: its unified social credit
code under the consortium key; the deriving member links it to the organization."""


def ledger() -> Chain:
    """The supply chain's consortium plus a credit member that derives the brand's records."""
    return make_chain(
        (GenesisOrganization("credit-bureau", "Credit Bureau", (CREDIT_ROLE,)),),
        (
            AccountSpec("bureau-admin", "credit-bureau", ("admin",)),
            AccountSpec("bureau-credit", "credit-bureau", (CREDIT_ROLE,)),
        ),
    )


def confirm(chain: Chain, invoice: str) -> int:
    args = ConfirmArgs(
        "CNY",
        "tier1",
        chain.address("tier1-ops"),
        FACE,
        chain.time_ms + 30 * DAY_MS,
        (Backing("invoice", hashlib.sha256(invoice.encode()).digest(), FACE),),
    )
    return result_of(chain.ok("brand-treasury", SUPPLYCHAIN, "confirm", args), Receivable).id


def root(chain: Chain, root_id: int) -> Root:
    found: Root = chain.query(SUPPLYCHAIN, "root", RootArgs(root_id))
    return found


def history(chain: Chain) -> dict[int, tuple[Root, int | None, int | None]]:
    """Three receivables of the brand: one repaid three days late, one marked past due and
    repaid twelve days late, one marked past due and still unpaid; each with the block times of
    its marking and repayment (what ``Client.prove_event`` proves of their events)."""
    late, recovered, unpaid = (confirm(chain, invoice) for invoice in ("INV-1", "INV-2", "INV-3"))
    due = root(chain, late).due_time_ms
    chain.advance_time(due - chain.time_ms + 3 * DAY_MS)
    marked_ms = {}
    for root_id in (recovered, unpaid):
        chain.ok("bank-ops", SUPPLYCHAIN, "mark_past_due", RootArgs(root_id))
        marked_ms[root_id] = chain.time_ms
    chain.ok("brand-treasury", SUPPLYCHAIN, "repay", RootArgs(late))
    late_repaid_ms = chain.time_ms
    chain.advance_time(9 * DAY_MS)
    chain.ok("brand-treasury", SUPPLYCHAIN, "repay", RootArgs(recovered))
    recovered_ms = chain.time_ms
    return {
        late: (root(chain, late), None, late_repaid_ms),
        recovered: (root(chain, recovered), marked_ms[recovered], recovered_ms),
        unpaid: (root(chain, unpaid), marked_ms[unpaid], None),
    }


def test_receivables_become_records_that_score_on_chain(tmp_path: Path) -> None:
    chain = ledger()
    receivables = history(chain)
    bodies = [
        body
        for receivable, marked_ms, repaid_ms in receivables.values()
        for body in receivable_records(BRAND, receivable, marked_ms, repaid_ms)
    ]
    late, recovered, unpaid = sorted(receivables)
    summary = [(b.reference, b.category, b.amount_minor, b.days_past_due) for b in bodies]
    assert summary == [
        (receivable_reference(late), REPAYMENTS, FACE, 3),
        (receivable_reference(recovered), DEFAULTS, FACE, 0),
        (receivable_reference(recovered), REPAYMENTS, FACE, 12),
        (receivable_reference(recovered), RECOVERIES, FACE, 0),
        (receivable_reference(unpaid), DEFAULTS, FACE, 0),
    ]
    assert bodies[2].period == period_of_time(receivables[recovered][2] or 0)
    with CreditStore(tmp_path / "bureau.sqlite", chain.suite.hash) as store:
        for body in bodies:
            stored = store.add(body)
            chain.ok(
                "bureau-credit",
                CREDIT,
                "submit_record",
                SubmitRecordArgs(BRAND, stored.category, stored.period, stored.commitment),
            )
        disclosures = store.disclose(BRAND, (DEFAULTS, RECOVERIES, REPAYMENTS))
    page: Records = chain.query(CREDIT, "records", PageArgs(BRAND, 0, 500))
    assert len(page.records) == 5
    result = score_subject(
        chain.suite.hash, MODEL, BRAND, page.records, disclosures, [], chain.time_ms
    )
    features = {f.feature: f.value for f in result.features}
    assert features["late_repayments_12m"] == 2
    assert features["on_time_pct_12m"] == 0
    assert features["unrecovered_defaults"] == 1  # the unpaid one; the recovered one is not
    altered = [
        Disclosure(d.salt, msgspec.structs.replace(d.body, days_past_due=0))
        if d.body.category == REPAYMENTS
        else d
        for d in disclosures
    ]
    with pytest.raises(InvalidInput) as refused:
        score_subject(chain.suite.hash, MODEL, BRAND, page.records, altered, [], chain.time_ms)
    assert refused.value.code == "commitment_mismatch"


def test_an_auditor_recomputes_each_record_from_the_ledger() -> None:
    chain = ledger()
    receivables = history(chain)
    for receivable, marked_ms, repaid_ms in receivables.values():
        for body in receivable_records(BRAND, receivable, marked_ms, repaid_ms):
            check_receivable_record(body, receivable, marked_ms, repaid_ms)
    late, recovered, _ = sorted(receivables)
    receivable, marked_ms, repaid_ms = receivables[late]
    honest = receivable_records(BRAND, receivable, marked_ms, repaid_ms)[0]
    for forged in (
        msgspec.structs.replace(honest, days_past_due=0),
        msgspec.structs.replace(honest, amount_minor=FACE + 1),
        msgspec.structs.replace(honest, reference=receivable_reference(recovered)),
    ):
        with pytest.raises(InvalidInput) as refused:
            check_receivable_record(forged, receivable, marked_ms, repaid_ms)
        assert refused.value.code == "derivation_mismatch"


def test_bad_derivations_are_refused() -> None:
    chain = ledger()
    open_id = confirm(chain, "INV-9")
    receivables = history(chain)
    late, recovered, _ = sorted(receivables)
    repaid, _, repaid_ms = receivables[late]
    marked = receivables[recovered][0]
    cases = [
        ("no_receivable_activity", root(chain, open_id), None, None),
        ("invalid_input", repaid, None, None),  # repaid: its repayment's time is needed
        ("invalid_input", repaid, repaid_ms, repaid_ms),  # never marked past due
        ("invalid_input", marked, None, repaid_ms),  # marked: its marking's time is needed
        ("invalid_input", repaid, None, repaid.due_time_ms - 1),  # before the due time
    ]
    for code, receivable, past_due_ms, paid_ms in cases:
        with pytest.raises(InvalidInput) as refused:
            receivable_records(BRAND, receivable, past_due_ms, paid_ms)
        assert refused.value.code == code, (code, past_due_ms, paid_ms)
