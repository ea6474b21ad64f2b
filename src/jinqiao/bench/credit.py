"""``jinqiao bench credit``: scores per second for one lender on a validator network of separate
node processes on this machine, and the time to train a model.

Setup (not measured): a network of ``validators`` validators (``bench network``'s: mutual TLS,
Tendermint, every validator re-executing every block), two of them run by the member
organizations — a bank (custodian and submitter of every record) and a lender — with
``credit_member`` accounts; every node's ``private_data_sources`` are the other organizations'
nodes. A model trained on the synthetic behaviour history (``demo.credit_history``) is registered
and approved by the governance quorum; the bank records each of ``subjects`` subjects' consent for
the lender and commits its ``records_per_subject`` records (stored encrypted in the credit store of
the bank's node, which discloses them).

Measured, for every subject, in three steps whose transactions are posted in msgpack batches to
the nodes in turn (as ``bench payments``):

1. the lender's ``read_records`` of the model's categories (an access-log entry);
2. the lender, through the SDK, asks its own node for the subject's disclosures (its node
   gathers them from the bank's node over mutual TLS, each node checking the committed access
   entry and live consent), reads the subject's file, every record commitment and every access
   entry with proofs verified against the validators' signatures (one height per subject), opens
   the disclosures against the commitments, computes the features and the score, and signs
   ``record_score`` with the result's hash;
3. the ``record_score`` transactions, committed.

scores/s = subjects / (first read posted → last score committed). Every score's receipt must be
``ok`` (a rejection fails the run). Training time: the full ``jinqiao credit model train`` on
German Credit (10-fold CV, holdout, final fit) and on the synthetic history used here.
"""

from __future__ import annotations

import contextlib
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from rich.progress import Progress

from jinqiao.apps.credit.features import period_of_time
from jinqiao.apps.credit.model import (
    CREDIT,
    CREDIT_ROLE,
    GrantConsentArgs,
    ReadRecordsArgs,
    RecordScoreArgs,
    SubmitRecordArgs,
)
from jinqiao.apps.credit.scorecard import result_hash
from jinqiao.bench import local_network
from jinqiao.bench.payments_network import Transactions, post_all, wait_committed
from jinqiao.client import Client, Credentials
from jinqiao.core.crypto import Signer
from jinqiao.core.errors import InvalidInput, NodeFault
from jinqiao.credit import CreditStore
from jinqiao.credit.training import TrainingOptions, TrainingReport, train
from jinqiao.credit.training_data import (
    GERMAN_CREDIT_PROTECTED,
    GERMAN_CREDIT_TARGET,
    german_credit_path,
    load_training_file,
)
from jinqiao.demo.credit import SETTLE_TIMEOUT_S, CreditDesk, install_model
from jinqiao.demo.credit_history import TARGET, subject_history, write_training_csv
from jinqiao.node.private_data import CREDIT_STORE_FILE
from jinqiao.provision.network import (
    AccountSpec,
    NetworkLayout,
    NetworkSpec,
    OrganizationSpec,
    pull_private_data_from_each_other,
)
from jinqiao.terminal import console

CHAIN_ID = "jinqiao-bench-credit"
BANK = "bank"
LENDER = "lender"
PURPOSE = "loan_approval"
CONSENT_DAYS = 30
DAY_MS = 86_400_000
HISTORY_ROWS = 2_000
SEED = 13
MAX_SUBJECTS = 10_000


MEMBER_VALIDATORS = 2
"""The bank and the lender run one validator each (their nodes keep and gather the records)."""


def credit_network_spec(validators: int, base_port: int) -> NetworkSpec:
    if validators <= MEMBER_VALIDATORS:
        raise InvalidInput(
            f"the credit benchmark needs at least {MEMBER_VALIDATORS + 1} validators: the bank"
            " and the lender run one each"
        )

    def member(org: str) -> OrganizationSpec:
        return OrganizationSpec(
            org,
            f"Bench {org}",
            (CREDIT_ROLE,),
            1,
            (AccountSpec(f"{org}-admin", ("admin",)), AccountSpec(f"{org}-credit", (CREDIT_ROLE,))),
        )

    return local_network.bench_network_spec(
        CHAIN_ID, validators - MEMBER_VALIDATORS, base_port, (member(BANK), member(LENDER)), {}
    )


def _member_nodes(root: Path, layout: NetworkLayout) -> tuple[int, Path]:
    """The lender's node (its index in the layout) and the bank node's credit store."""
    lender = next(i for i, node in enumerate(layout.nodes) if node.organization == LENDER)
    bank = next(node for node in layout.nodes if node.organization == BANK)
    private = root / bank.home / "private"
    private.mkdir(parents=True, exist_ok=True)
    return lender, private / CREDIT_STORE_FILE


def time_training(
    path: Path, target: str, protected: tuple[str, ...]
) -> tuple[float, TrainingReport]:
    started = time.perf_counter()
    report = train(load_training_file(path, target, protected), TrainingOptions(model_id="bench"))
    return time.perf_counter() - started, report


def run_credit_bench(
    *,
    validators: int,
    subjects: int,
    records_per_subject: int,
    base_port: int,
    progress: Progress,
    json_output: bool,
    plot: Path | None,
) -> dict[str, Any]:
    if not 1 <= subjects <= MAX_SUBJECTS:
        raise InvalidInput(f"the benchmark scores 1..{MAX_SUBJECTS:,} subjects")
    german_s, german = time_training(
        german_credit_path(), GERMAN_CREDIT_TARGET, GERMAN_CREDIT_PROTECTED
    )
    with tempfile.TemporaryDirectory(prefix="jinqiao-bench-credit-") as directory:
        root = Path(directory)
        history = write_training_csv(
            root / "history.csv", HISTORY_ROWS, SEED, int(time.time() * 1000)
        )
        history_s, trained = time_training(history, TARGET, ())
        layout = local_network.init_quiet_network(
            root / "net", credit_network_spec(validators, base_port)
        )
        pull_private_data_from_each_other(root / "net", layout)
        lender_node, bank_store = _member_nodes(root / "net", layout)
        keys = local_network.account_keys(root / "net", layout, "")
        admins = [key for name, key in sorted(keys.items()) if name.endswith("-admin")]
        if not json_output:
            console.print(f"credit: starting {validators} validator processes")
        with (
            local_network.running_network(root / "net", layout, root, from_height=1) as network,
            contextlib.ExitStack() as stack,
            CreditStore(bank_store, _suite_hash()) as store,
        ):
            clients = [stack.enter_context(network.http(url)) for url in network.urls]
            # The lender reads the subjects it scores with its own certificate: only the
            # subject's readers may (docs/access.md, the subject rule), the grantee among them;
            # it asks its own node, which gathers the disclosures from the bank's.
            client = stack.enter_context(
                Client(
                    network.urls[lender_node],
                    genesis_file=root / "net" / layout.genesis_file,
                    credentials=Credentials.for_account(root / "net", f"{LENDER}-credit"),
                )
            )
            desk = CreditDesk(
                client, keys[f"{BANK}-credit"], keys[f"{LENDER}-credit"], LENDER, admins
            )
            model = trained.model
            if model is None or trained.metrics is None:
                raise NodeFault("the benchmark model is not exportable")
            install_model(desk, model, trained.metrics)
            who = _setup_subjects(
                clients,
                network.tracker,
                progress,
                client,
                desk,
                store,
                subjects,
                records_per_subject,
            )
            figures = _measure(clients, network, progress, client, desk, model, who)
    result = {
        "setup": {
            "validators": validators,
            "processes": f"{validators} node processes on this machine, mutual TLS; the bank"
            " and the lender run one each, the disclosures travel from the bank's node to the"
            " lender's",
            "subjects": subjects,
            "records_per_subject": records_per_subject,
            "model": f"{len(model.features)} features of the chain, trained on a synthetic "
            f"history of {HISTORY_ROWS} subjects",
            "lender": "one process: SDK reads with proofs verified, scoring, signing; "
            "transactions in msgpack batches of "
            f"{local_network.BATCH} to the nodes in turn",
        },
        **figures,
        "training": {
            "german_credit_seconds": round(german_s, 2),
            "german_credit_rows": german.rows,
            "german_credit_cv_auc": round(german.auc.mean, 4),
            "synthetic_history_seconds": round(history_s, 2),
            "synthetic_history_rows": trained.rows,
            "folds": german.folds,
        },
    }
    if plot is not None:
        plot.write_bytes(_plot(figures))
    return result


def _suite_hash() -> Any:
    from jinqiao.core.crypto import DEFAULT_SUITE, get_suite

    return get_suite(DEFAULT_SUITE).hash


def _signed(signer: Signer, nonce: int, method: str, args: Any) -> tuple[bytes, bytes]:
    return local_network.sign_transaction(signer, CHAIN_ID, nonce, CREDIT, method, args)


def _setup_subjects(
    clients: list[httpx.Client],
    tracker: local_network.Tracker,
    progress: Progress,
    client: Client,
    desk: CreditDesk,
    store: CreditStore,
    subjects: int,
    records_per_subject: int,
) -> list[bytes]:
    """Consents and records, committed (not measured); the subjects."""
    now_ms = client.credit.head_time_ms()
    period = period_of_time(now_ms)
    generator = random.Random(SEED)
    categories = client.credit.categories_of(_model_of(client))
    consents: Transactions = []
    records: Transactions = []
    who = []
    nonce = 1_000_000
    for number in range(subjects):
        subject = (b"bench-subject-" + number.to_bytes(8, "big")).ljust(32, b"\0")
        who.append(subject)
        expires = now_ms + CONSENT_DAYS * DAY_MS
        args = GrantConsentArgs(subject, LENDER, PURPOSE, (*categories, "inquiries"), expires)
        consents.append(_signed(desk.custodian, nonce, "grant_consent", _sorted(args)))
        nonce += 1
        bodies = subject_history(generator, subject, period, generator.random())
        for body in bodies[:records_per_subject]:
            stored = store.add(body)
            submit = SubmitRecordArgs(subject, stored.category, stored.period, stored.commitment)
            records.append(_signed(desk.custodian, nonce, "submit_record", submit))
            nonce += 1
    post_all(clients, consents + records, tracker)
    wait_committed(tracker, consents + records, progress, "credit: consents and records")
    return who


def _sorted(args: GrantConsentArgs) -> GrantConsentArgs:
    return GrantConsentArgs(
        args.subject,
        args.grantee,
        args.purpose,
        tuple(sorted(set(args.categories))),
        args.expires_time_ms,
    )


def _model_of(client: Client) -> Any:
    record = client.credit.model("bench", 1)
    if record is None:
        raise NodeFault("the benchmark model is not on chain")
    return record.model


def _measure(
    clients: list[httpx.Client],
    network: local_network.RunningNetwork,
    progress: Progress,
    client: Client,
    desk: CreditDesk,
    model: Any,
    who: list[bytes],
) -> dict[str, Any]:
    tracker = network.tracker
    categories = client.credit.categories_of(model)
    cpu_before = local_network.nodes_cpu_seconds(network.processes)
    started = time.monotonic()
    reads = [
        _signed(
            desk.lender, 2_000_000 + n, "read_records", ReadRecordsArgs(s, 0, PURPOSE, categories)
        )
        for n, s in enumerate(who)
    ]
    post_all(clients, reads, tracker)
    read_done = wait_committed(tracker, reads, progress, "credit: read_records")
    _settle(network, int(client.status()["height"]))
    scores: Transactions = []
    task = progress.add_task("credit: disclosures, proven reads, score, sign", total=len(who))
    for number, subject in enumerate(who):
        # Each subject's first access entry is this read (sequence 0).
        disclosures = client.credit.disclosures(subject, 0).disclosures
        result, file = client.credit.compute_score(model, subject, disclosures)
        args = RecordScoreArgs(
            subject,
            0,
            PURPOSE,
            model.model_id,
            model.version,
            file.time_ms,
            result.record_count,
            result.access_sequence,
            result_hash(client.suite.hash, result),
        )
        scores.append(_signed(desk.lender, 3_000_000 + number, "record_score", args))
        progress.advance(task)
    computed = time.monotonic()
    post_all(clients, scores, tracker)
    scored = wait_committed(tracker, scores, progress, "credit: record_score")
    cpu_s = local_network.nodes_cpu_seconds(network.processes) - cpu_before
    with tracker.lock:
        timeline = sorted(tracker.committed_at[identity] - started for identity, _ in scores)
    window_s = scored - started
    return {
        "scores_per_second": round(len(who) / window_s, 1),
        "seconds": round(window_s, 3),
        "read_records_seconds": round(read_done - started, 3),
        "proven_reads_and_scoring_seconds": round(computed - read_done, 3),
        "proven_reads_and_scoring_per_second": round(len(who) / (computed - read_done), 1),
        "record_score_seconds": round(scored - computed, 3),
        "node_cpu_ms_per_score": round(cpu_s * 1000 / len(who), 3),
        "scores_committed_at_seconds": [round(t, 3) for t in timeline],
    }


def _settle(network: local_network.RunningNetwork, height: int) -> None:
    """Every node has committed ``height``: each serves disclosures from its committed state."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    for url in network.urls:
        with network.http(url) as http:
            while int(http.get("/v1/status").json()["height"]) < height:
                if time.monotonic() > deadline:
                    raise NodeFault(f"{url} did not reach height {height}")
                time.sleep(0.05)


def _plot(figures: dict[str, Any]) -> bytes:
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 4.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    times = figures["scores_committed_at_seconds"]
    axes.plot(times, range(1, len(times) + 1), label="scores committed")
    for name, at in (
        ("reads committed", figures["read_records_seconds"]),
        (
            "scores computed",
            figures["read_records_seconds"] + figures["proven_reads_and_scoring_seconds"],
        ),
    ):
        axes.axvline(at, linestyle="--", color="grey")
        axes.annotate(name, (at, 0), rotation=90, va="bottom", fontsize=8)
    axes.set(
        title=f"Credit scores: {figures['scores_per_second']} scores/s",
        xlabel="seconds since the first read was posted",
        ylabel="scores committed",
    )
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


__all__ = ["run_credit_bench"]
