"""``jinqiao demo``'s credit story: consent → records from the demo's payments (and a bank's loan
book) → score with reasons → decision → access log → erasure, each step printed, every read
proven. Writes the model's pictures and the subject's score report as PNG."""

from __future__ import annotations

import contextlib
import random
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from rich.panel import Panel

from jinqiao.apps.credit.features import period_of_time
from jinqiao.apps.credit.model import DECLINE, LOANS, ScorecardModel
from jinqiao.apps.credit.records import RecordBody
from jinqiao.apps.credit.scorecard import Decision
from jinqiao.apps.payments.model import Payment
from jinqiao.client import Client, ClientError, Credentials
from jinqiao.client.credit_derive import SUBMITTED, derive_payment_records, submit_derived
from jinqiao.core.crypto import Signer
from jinqiao.core.errors import InvalidInput
from jinqiao.credit import CreditStore, subject_hash
from jinqiao.credit.figures import model_figures_png, score_report_png
from jinqiao.credit.training import TrainingOptions, TrainingReport, train
from jinqiao.credit.training_data import load_training_file
from jinqiao.demo import DemoFailed
from jinqiao.demo.credit import (
    DAY_MS,
    SETTLE_TIMEOUT_S,
    CreditDesk,
    commit_records,
    demo_consortium_key,
    install_model,
    loan_book,
    ok,
    policy_for,
    score_with_disclosures,
)
from jinqiao.demo.credit_history import TARGET, write_training_csv
from jinqiao.node.private_data import CREDIT_STORE_FILE
from jinqiao.provision.network import NetworkLayout
from jinqiao.terminal import console

DEMO_RESIDENT_ID = "11010519491231002X"
"""A resident identity number with a valid GB 11643 check digit (a textbook example)."""
HISTORY_ROWS = 2_000
MAX_PAYMENTS_SCANNED = 200


def train_demo_model(directory: Path, seed: int, as_of_ms: int) -> TrainingReport:
    """A model of the chain's features, trained on a synthetic history (``credit_history``)."""
    path = write_training_csv(directory / "credit-history.csv", HISTORY_ROWS, seed, as_of_ms)
    report = train(load_training_file(path, TARGET), TrainingOptions(model_id="demo-behaviour"))
    if report.model is None:
        raise DemoFailed(f"the demo model is not exportable: {report.not_exportable}")
    return report


def card_payments_of_one_payer(client: Client, issuer: str) -> list[Payment]:
    """The captured payments of the first payer of ``issuer`` among the demo's payments."""
    for number in range(MAX_PAYMENTS_SCANNED):
        payment = client.payments.payment(f"DEMO-{number:06d}")
        if payment is None:
            break
        if payment.authorization.issuer == issuer and payment.capture is not None:
            return [payment]
    return []


ADMINS = ("clearing-admin", "ecfin-admin", "bank-a-admin", "bank-b-admin", "regulator-admin")


MEMBERS = ("bank-a", "bank-b", "ecfin")


def run_credit_story(
    client: Client,
    keys: dict[str, Signer],
    seed: int,
    output_dir: Path | None = None,
    admins: Sequence[str] = ADMINS,
    *,
    network_dir: Path,
    layout: NetworkLayout,
    payments_from_height: int = 1,
) -> None:
    """The story, on the demo network (keys of the ``*-credit`` accounts and of ``admins``, one
    admin per organization, enough for governance's quorum). Each member's records are in its
    node's credit store; the lender's node gathers the disclosures from the submitters' nodes
    (their ``private_data_sources``). ``payments_from_height``: where the issuer's job starts
    reading the card payments."""
    console.print(Panel.fit("[bold]credit[/] — consented data, explainable scores, erasure"))
    homes: dict[str, Path] = {}
    for node in layout.nodes:
        homes.setdefault(node.organization, network_dir / node.home)
    missing = [member for member in MEMBERS if member not in homes]
    if missing:
        console.print(
            f"skipped: the credit story needs the nodes of {', '.join(MEMBERS)} (no node of"
            f" {', '.join(missing)}: run the demo with --validators 4)"
        )
        return
    directory = output_dir or Path(tempfile.mkdtemp(prefix="jinqiao-credit-"))
    directory.mkdir(parents=True, exist_ok=True)
    report = train_demo_model(directory, seed, client.credit.head_time_ms())
    model = report.model
    assert model is not None  # train_demo_model refuses a model that is not exportable
    _show_training(report, directory)
    urls = {node.organization: node.api_url for node in reversed(layout.nodes)}
    with contextlib.ExitStack() as stack:
        node_clients = {
            member: stack.enter_context(
                Client(
                    urls[member],
                    genesis_file=network_dir / layout.genesis_file,
                    credentials=Credentials.for_account(network_dir, f"{member}-credit"),
                )
            )
            for member in MEMBERS
        }
        stores: dict[str, tuple[Signer, CreditStore]] = {}
        for member in MEMBERS:
            (homes[member] / "private").mkdir(exist_ok=True)
            path = homes[member] / "private" / CREDIT_STORE_FILE
            store = stack.enter_context(CreditStore(path, client.suite.hash))
            stores[member] = (keys[f"{member}-credit"], store)
        desk = CreditDesk(
            client,
            custodian=keys["bank-a-credit"],
            lender=keys["ecfin-credit"],
            lender_organization="ecfin",
            admins=[keys[name] for name in admins],
            stores=stores,
            node_clients=node_clients,
        )
        _story(desk, model, report, directory, seed, payments_from_height)


def _open_loan(desk: CreditDesk, subject: bytes, decision: Decision, period: int) -> None:
    """A loan the decision grants becomes a behaviour record of the lender (issue 13, item 6):
    stored in its own store and committed like any other, so the next score sees it."""
    if decision.outcome == DECLINE or decision.limit_minor == 0:
        console.print("loan: declined, so no loan record")
        return
    signer, store = desk.stores[desk.lender_organization]
    loan = RecordBody(subject, LOANS, period, "demo-loan-1", decision.limit_minor, 0, 0, 0)
    committed = commit_records(desk.client, signer, store, [loan])[0]
    console.print(
        f"loan: ecfin lends {decision.limit_minor / 100:,.2f} CNY and commits it as a loans"
        f" record (block {committed.height}); its repayments follow as repayments records"
    )


def _wait_erased(desk: CreditDesk, subject: bytes, height: int) -> None:
    """Each node's follower erases the subject from its store once it committed the erasure."""
    desk.settle(height)
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    for organization, (_, store) in desk.stores.items():
        while not store.is_erased(subject):
            if time.monotonic() > deadline:
                raise DemoFailed(f"{organization}'s node did not erase the subject")
            time.sleep(0.05)


def _show_training(report: TrainingReport, directory: Path) -> None:
    console.print(
        f"model [bold]demo-behaviour[/] trained on a synthetic history of {report.rows} subjects"
        f" (the chain's own features): 10-fold CV AUC {report.auc.mean:.3f} ± {report.auc.sd:.3f},"
        f" KS {report.ks.mean:.3f}, Gini {report.gini.mean:.3f}; holdout AUC"
        f" {report.holdout_auc:.3f}"
    )
    curves = report.curves
    (directory / "credit-model.png").write_bytes(
        model_figures_png(
            curves.false_positive_rate,
            curves.true_positive_rate,
            curves.good_scores,
            curves.bad_scores,
            cutoff=report.cutoff.cutoff,
            title="demo-behaviour: holdout",
        )
    )


def _derive_payment_activity(
    desk: CreditDesk, subject: bytes, period: int, from_height: int
) -> None:
    """Bank-a's monthly job (``jinqiao credit derive``): it links one of its card payers to the
    subject, derives the month's payment activity from its payments on the ledger (read from
    the proven blocks) and commits it, the body in its node's store; a second run submits
    nothing."""
    bank_a = desk.node_clients["bank-a"]
    # Which card holder is the subject is bank-a's own knowledge; the demo picks one of its
    # payers from the ledger (read as the regulator: bank-a may read only its own payments).
    payments = card_payments_of_one_payer(desk.client, "bank-a")
    if not payments:
        console.print("records: bank-a has no captured card payment to derive activity from")
        return
    links = {payments[0].authorization.payer_hash: subject}
    signer, store = desk.stores["bank-a"]
    derived = derive_payment_records(bank_a, "bank-a", period, links, from_height)
    outcomes = submit_derived(bank_a, signer, store, derived.records)
    again = submit_derived(bank_a, signer, store, derived.records)
    for outcome in outcomes:
        if outcome.status != SUBMITTED:
            raise DemoFailed(f"credit derive: {outcome.status}")
        console.print(
            f"records: bank-a's `credit derive` reads blocks {derived.from_height}.."
            f"{derived.to_height} ({derived.payments} of its card payments, proven), derives"
            f" payment activity of {outcome.record.count} payment(s) for the subject, stores it"
            f" encrypted in its node's store and commits its hash (block {outcome.height}); run"
            f" again: {', '.join(o.status for o in again)}"
        )


def _story(
    desk: CreditDesk,
    model: ScorecardModel,
    report: TrainingReport,
    directory: Path,
    seed: int,
    payments_from_height: int,
) -> None:
    client = desk.client
    assert report.metrics is not None
    proposal_id, approved_height = install_model(desk, model, report.metrics)
    console.print(
        f"registered by ecfin, approved by governance (proposal {proposal_id}) at height"
        f" {approved_height}"
    )
    subject = subject_hash(demo_consortium_key(), "person", DEMO_RESIDENT_ID)
    now_ms = client.credit.head_time_ms()
    categories = (*client.credit.categories_of(model), "inquiries")
    granted = ok(
        client.credit.grant_consent(
            desk.custodian,
            subject,
            desk.lender_organization,
            "loan_approval",
            tuple(sorted(set(categories))),
            now_ms + 30 * DAY_MS,
        ),
        "grant_consent",
    )
    console.print(
        f"consent: bank-a records that subject {subject.hex()[:16]}… lets ecfin read"
        f" {', '.join(sorted(set(categories)))} for loan_approval, 30 days (block {granted.height})"
    )
    period = period_of_time(now_ms)
    _derive_payment_activity(desk, subject, period, payments_from_height)
    signer_b, bank_b = desk.stores["bank-b"]
    book = loan_book(random.Random(seed), subject, period)
    commit_records(desk.node_clients["bank-b"], signer_b, bank_b, book)
    console.print(
        f"records: bank-b commits {len(book)} loan and repayment records, the bodies in its"
        " node's store"
    )
    scored = score_with_disclosures(desk, subject, client.credit.consent_id_of(granted), model)
    ok(scored.transaction, "record_score")
    result = scored.result
    console.print(
        f"score [bold]{result.score}[/] band [bold]{result.band}[/] (hash recorded at block"
        f" {scored.transaction.height}); reasons: "
        + (
            "; ".join(
                f"{r.reason_code} {r.reason} (-{r.points_lost} points)" for r in result.reasons
            )
            or "none"
        )
    )
    policy = policy_for(model)
    ok(client.credit.set_policy(desk.lender, "demo-loans", policy), "set_policy")
    decision, decided = client.credit.decide(
        desk.lender, result, scored.sequence, "demo-loans", policy
    )
    ok(decided, "record_decision")
    console.print(
        f"decision: [bold]{decision.outcome}[/], limit {decision.limit_minor / 100:,.2f} CNY"
        + (f", reasons {', '.join(decision.reason_codes)}" if decision.reason_codes else "")
    )
    _open_loan(desk, subject, decision, period)
    file = client.credit.subject_file(subject)
    console.print(f"access log (proven at height {file.height}): who looked")
    for access in file.accesses:
        console.print(
            f"  #{access.sequence} {access.kind:<7} by {access.reader} for {access.purpose}"
            f" ({', '.join(access.categories)}) at height {access.height}"
        )
    (directory / "credit-score-report.png").write_bytes(
        score_report_png(result, file.accesses, title="Score report", decision=decision.outcome)
    )
    erased = ok(client.credit.erase(desk.custodian, subject), "erase_subject")
    _wait_erased(desk, subject, erased.height)
    console.print(
        f"erasure: bank-a erases the subject on chain (block {erased.height}); the"
        f" {len(desk.stores)} members' nodes, following the committed blocks, destroyed its key"
        " and records in their stores"
    )
    try:
        score_with_disclosures(desk, subject, 0, model)
    except (ClientError, InvalidInput, DemoFailed) as refused:
        console.print(f"a new score is refused: {refused.message}")
    console.print(
        f"pictures: {directory / 'credit-model.png'}, {directory / 'credit-score-report.png'}"
    )
