"""Building a credit scorecard from a checked training file (``training_data``) with maintained
libraries: optbinning's monotonic optimal WOE binning and points scaling, scikit-learn's logistic
regression, stratified k-fold and AUC.

The method (Siddiqi, "Credit Risk Scorecards"; docs/credit.md "Training"):

1. a stratified holdout (30 %) is set aside; the rest is the development set;
2. stratified 10-fold cross-validation on the development set: in each fold the binning, the
   selection of inputs by information value and the regression (its ``C`` chosen by an inner
   CV) are fitted on the training folds only and measured on the held-out fold (AUC, KS,
   Gini = 2 AUC - 1), reported as mean ± sd (``_fit``; ADR 0036 has the settings measured);
3. the final scorecard is fitted the same way on the whole development set and scaled to points
   (600 points at odds 50:1 good to bad, 20 points to double the odds);
4. on the holdout: AUC, KS, Gini, Brier score and a reliability table, the PSI of the score
   between development and holdout, approval and bad rates at the cut-off against approving
   everyone, and the same per value of each protected column (never a model input).

The cut-off, unless given, is the development score that maximises KS (the widest gap between
the goods' and the bads' score distributions).

When every input is a numeric column named after a feature the chain computes
(``jinqiao.apps.credit.features.FEATURES``), the scorecard is exported as a ``ScorecardModel``
with integer points (``export``), ready to register and, once governance approves it, applied by
the contract layer's integer scorecard. Other inputs (the German Credit application attributes)
have no counterpart on chain: such a model is measured and reported but not exportable, and the
report says which columns stand in the way.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import msgspec

from jinqiao.apps.credit.features import FEATURES
from jinqiao.apps.credit.model import (
    PPM,
    Band,
    Bin,
    FeaturePoints,
    ModelMetrics,
    ScorecardModel,
)
from jinqiao.apps.credit.scorecard import MAX_SCORE, model_problem
from jinqiao.core.errors import InvalidInput
from jinqiao.credit.training_data import TrainingData

SEED = 7
FOLDS = 10
HOLDOUT_FRACTION = 0.3
SCORE_POINTS = 600
SCORE_ODDS = 50
POINTS_TO_DOUBLE_ODDS = 20
RELIABILITY_BINS = 10
PSI_BINS = 10
MIN_PREBIN_SHARE = 0.02
"""Pre-bins hold at least 2 % of the training rows (optbinning's default is 5 %): finer
candidate splits for the optimal binning to choose from (ADR 0036 has the settings measured)."""
MIN_INFORMATION_VALUE = 0.02
"""Inputs below this information value are dropped (Siddiqi: below 0.02 is not predictive)."""
INNER_FOLDS = 5
REGULARISATION_CS = tuple(10 ** (step / 3) for step in range(-9, 4))
"""The inverse regularisation strengths the inner CV chooses from: 0.001 to 10, three a decade."""
BAND_NAMES = ("e", "d", "c", "b", "a")
"""Five bands, worst first, split at the development scores' quintiles."""
REASONS = {
    "months_on_file": ("R05", "Short credit history"),
    "loans_opened_24m": ("R06", "Many recent loans"),
    "late_repayments_12m": ("R01", "Late repayments"),
    "max_days_past_due_24m": ("R07", "Days past due"),
    "on_time_pct_12m": ("R02", "Few repayments on time"),
    "unrecovered_defaults": ("R03", "Unrecovered default"),
    "payment_months_12m": ("R08", "Few months with card payments"),
    "chargebacks_12m": ("R09", "Chargebacks"),
    "inquiries_6m": ("R04", "Many recent inquiries"),
}
"""The reason code and text of each chain feature in an exported model."""


class ModelArtifact(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The file ``jinqiao credit model train --out DIR`` writes as ``model.json`` and
    ``jinqiao credit model register`` reads: the model version and its metrics, as JSON."""

    model: ScorecardModel
    metrics: ModelMetrics


@dataclass(frozen=True)
class FitSettings:
    """How one scorecard is fitted (``_fit``). The defaults are the trainer's; the others exist
    to measure alternatives (``tools/credit_settings.py``, ADR 0036)."""

    min_prebin_share: float = MIN_PREBIN_SHARE
    monotonic_trend: str = "auto"
    min_information_value: float | None = MIN_INFORMATION_VALUE
    regularisation_c: float | None = None
    """A fixed ``C``; ``None``: chosen by the inner CV."""
    min_bin_share: float | None = None
    max_bins: int | None = None
    category_cutoff: float | None = None
    """optbinning's ``min_bin_size``, ``max_n_bins`` and ``cat_cutoff`` (rare categories
    grouped); ``None``: optbinning's defaults."""


@dataclass(frozen=True)
class TrainingOptions:
    model_id: str = "german-credit"
    version: int = 1
    folds: int = FOLDS
    holdout_fraction: float = HOLDOUT_FRACTION
    seed: int = SEED
    cutoff: int | None = None
    fit: FitSettings = FitSettings()


@dataclass(frozen=True)
class FoldResult:
    """One held-out fold: its AUC and KS, and the ``C`` its training folds chose."""

    auc: float
    ks: float
    regularisation_c: float


@dataclass(frozen=True)
class MeanSd:
    mean: float
    sd: float

    @staticmethod
    def of(values: list[float]) -> MeanSd:
        mean = sum(values) / len(values)
        return MeanSd(mean, math.sqrt(sum((v - mean) ** 2 for v in values) / len(values)))


@dataclass(frozen=True)
class CutoffReport:
    """Holdout approval and bad rates at the cut-off, against approving everyone."""

    cutoff: int
    approval_rate: float
    bad_rate: float
    approve_all_bad_rate: float
    bads_avoided: int
    goods_declined: int


@dataclass(frozen=True)
class Curves:
    """What the model's pictures draw (holdout ROC; KS and distributions of holdout scores)."""

    false_positive_rate: list[float]
    true_positive_rate: list[float]
    good_scores: list[float]
    bad_scores: list[float]


@dataclass
class TrainingReport:
    source: str
    rows: int
    development_rows: int
    holdout_rows: int
    bad_rate: float
    inputs: list[str]
    categorical: list[str]
    selected: list[str]
    """The inputs the final scorecard kept (information value at least
    ``MIN_INFORMATION_VALUE`` on the development set), in file order."""
    regularisation_c: float
    """The ``C`` the inner CV chose for the final scorecard; ``fold_regularisation_c`` per
    outer fold."""
    fold_regularisation_c: list[float]
    folds: int
    auc: MeanSd
    ks: MeanSd
    gini: MeanSd
    holdout_auc: float
    holdout_ks: float
    holdout_gini: float
    holdout_brier: float
    reliability: list[dict[str, float]]
    psi: float
    cutoff: CutoffReport
    disparity: dict[str, list[dict[str, Any]]]
    points: list[dict[str, Any]]
    training_seconds: float
    curves: Curves
    model: ScorecardModel | None = None
    metrics: ModelMetrics | None = None
    not_exportable: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def train(data: TrainingData, options: TrainingOptions = TrainingOptions()) -> TrainingReport:
    """Cross-validate, fit and measure a scorecard on ``data`` (module docstring)."""
    import numpy
    from sklearn.metrics import brier_score_loss, roc_auc_score, roc_curve
    from sklearn.model_selection import train_test_split

    started = time.perf_counter()
    frame = frame_of(data)
    bad = numpy.asarray(data.bad)
    rows = numpy.arange(data.rows)
    development, holdout = train_test_split(
        rows, test_size=options.holdout_fraction, stratify=bad, random_state=options.seed
    )
    folds = cross_validate(data, frame, bad, development, options.folds, options.seed, options.fit)
    aucs = [fold.auc for fold in folds]
    scorecard = _fit(data, frame.iloc[development], bad[development], options.seed, options.fit)
    holdout_probability = scorecard.predict_proba(frame.iloc[holdout])[:, 1]
    development_scores = scorecard.score(frame.iloc[development])
    holdout_scores = scorecard.score(frame.iloc[holdout])
    false_rate, true_rate, _ = roc_curve(bad[holdout], holdout_probability)
    holdout_auc = float(roc_auc_score(bad[holdout], holdout_probability))
    cutoff = (
        options.cutoff
        if options.cutoff is not None
        else _ks_cutoff(development_scores, bad[development])
    )
    report = TrainingReport(
        source=data.source,
        rows=data.rows,
        development_rows=len(development),
        holdout_rows=len(holdout),
        bad_rate=float(bad.mean()),
        inputs=list(data.inputs),
        categorical=list(data.categorical),
        selected=_selected(scorecard),
        regularisation_c=_chosen_c(scorecard),
        fold_regularisation_c=[fold.regularisation_c for fold in folds],
        folds=options.folds,
        auc=MeanSd.of(aucs),
        ks=MeanSd.of([fold.ks for fold in folds]),
        gini=MeanSd.of([2 * auc - 1 for auc in aucs]),
        holdout_auc=holdout_auc,
        holdout_ks=float(max(true_rate - false_rate)),
        holdout_gini=2 * holdout_auc - 1,
        holdout_brier=float(brier_score_loss(bad[holdout], holdout_probability)),
        reliability=_reliability(holdout_probability, bad[holdout]),
        psi=_psi(development_scores, holdout_scores),
        cutoff=_cutoff_report(cutoff, holdout_scores, bad[holdout]),
        disparity={
            name: _disparity([values[i] for i in holdout], holdout_scores, bad[holdout], cutoff)
            for name, values in data.protected.items()
        },
        points=_points_table(scorecard),
        training_seconds=0.0,
        curves=Curves(
            [float(v) for v in false_rate],
            [float(v) for v in true_rate],
            [float(s) for s, b in zip(holdout_scores, bad[holdout], strict=True) if not b],
            [float(s) for s, b in zip(holdout_scores, bad[holdout], strict=True) if b],
        ),
    )
    report.metrics = _metrics(report)
    report.model, report.not_exportable = export(
        data, scorecard, options, [float(s) for s in development_scores]
    )
    report.training_seconds = time.perf_counter() - started
    return report


def cross_validate(
    data: TrainingData,
    frame: Any,
    bad: Any,
    rows: Any,
    folds: int,
    seed: int,
    settings: FitSettings = FitSettings(),
) -> list[FoldResult]:
    """Stratified ``folds``-fold CV over ``rows`` (indexes into ``frame`` and ``bad``): each fold
    fitted on the others only and measured on itself (``fold_result``)."""
    from sklearn.model_selection import StratifiedKFold

    splits = StratifiedKFold(folds, shuffle=True, random_state=seed)
    return [
        fold_result(data, frame, bad, rows[fit_rows], rows[test_rows], seed, settings)
        for fit_rows, test_rows in splits.split(rows, bad[rows])
    ]


def fold_result(
    data: TrainingData,
    frame: Any,
    bad: Any,
    fit_rows: Any,
    test_rows: Any,
    seed: int,
    settings: FitSettings = FitSettings(),
) -> FoldResult:
    """A scorecard fitted on ``fit_rows`` only (``_fit``), measured on ``test_rows``."""
    from sklearn.metrics import roc_auc_score, roc_curve

    model = _fit(data, frame.iloc[fit_rows], bad[fit_rows], seed, settings)
    probability = model.predict_proba(frame.iloc[test_rows])[:, 1]
    false_rate, true_rate, _ = roc_curve(bad[test_rows], probability)
    return FoldResult(
        float(roc_auc_score(bad[test_rows], probability)),
        float(max(true_rate - false_rate)),
        _chosen_c(model),
    )


def frame_of(data: TrainingData) -> Any:
    """The inputs as the pandas frame optbinning takes."""
    import pandas

    return pandas.DataFrame(
        {
            name: pandas.Series(values, dtype="object" if name in data.categorical else "float64")
            for name, values in data.inputs.items()
        }
    )


def _fit(
    data: TrainingData, frame: Any, bad: Any, seed: int, settings: FitSettings = FitSettings()
) -> Any:
    """A points scorecard fitted on ``frame`` only (ADR 0036): optimal binning of every numeric
    input with its trend chosen by optbinning (``auto``: ascending, descending, peak or valley)
    from pre-bins of at least ``MIN_PREBIN_SHARE`` of the rows, optimal grouping of every
    categorical one; inputs whose information value is below ``MIN_INFORMATION_VALUE`` dropped;
    WOE logistic regression whose inverse regularisation ``C`` is chosen among
    ``REGULARISATION_CS`` by an inner stratified ``INNER_FOLDS``-fold CV (AUC) on ``frame``
    itself, so nothing outside it is seen; Siddiqi's points scaling."""
    from optbinning import BinningProcess, Scorecard
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.model_selection import StratifiedKFold

    numeric = [name for name in data.inputs if name not in data.categorical]
    floor = settings.min_information_value
    binning = BinningProcess(
        list(data.inputs),
        categorical_variables=list(data.categorical),
        min_prebin_size=settings.min_prebin_share,
        binning_fit_params={
            name: _binning_params(settings, name in numeric) for name in data.inputs
        },
        selection_criteria=None if floor is None else {"iv": {"min": floor}},
    )
    fixed = settings.regularisation_c
    estimator = LogisticRegressionCV(
        Cs=list(REGULARISATION_CS) if fixed is None else [fixed],
        cv=StratifiedKFold(INNER_FOLDS, shuffle=True, random_state=seed),
        scoring="roc_auc",
        # Newton's method on at most a few dozen WOE columns: on German Credit the C and the
        # coefficients lbfgs finds (within 0.002), in about a fifth of the time (ADR 0036).
        solver="newton-cholesky",
        max_iter=1_000,
    )
    scorecard = Scorecard(
        binning_process=binning,
        estimator=estimator,
        scaling_method="pdo_odds",
        scaling_method_params={
            "pdo": POINTS_TO_DOUBLE_ODDS,
            "odds": SCORE_ODDS,
            "scorecard_points": SCORE_POINTS,
        },
    )
    # optbinning and scikit-learn warn about their own internals (deprecations, solver notes);
    # none of it is about the data, which training_data has already checked.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            scorecard.fit(frame, bad)
        except ValueError:
            binned = getattr(scorecard, "binning_process_", None)
            if binned is None or len(binned.get_support(names=True)):
                raise
            raise InvalidInput(
                f"no input column has an information value of at least {floor}"
                f" on {len(bad)} training rows: nothing in the file predicts the target",
                code="no_predictive_inputs",
            ) from None
    return scorecard


def _binning_params(settings: FitSettings, numeric: bool) -> dict[str, Any]:
    params: dict[str, Any] = {"monotonic_trend": settings.monotonic_trend} if numeric else {}
    if settings.min_bin_share is not None:
        params["min_bin_size"] = settings.min_bin_share
    if settings.max_bins is not None:
        params["max_n_bins"] = settings.max_bins
    if settings.category_cutoff is not None and not numeric:
        params["cat_cutoff"] = settings.category_cutoff
    return params


def _chosen_c(scorecard: Any) -> float:
    return float(scorecard.estimator_.C_[0])


def _selected(scorecard: Any) -> list[str]:
    return [str(name) for name in scorecard.binning_process_.get_support(names=True)]


def _ks_cutoff(scores: Any, bad: Any) -> int:
    """The integer score that best separates goods (approved at or above it) from bads."""
    best, best_gap = math.floor(min(scores)), -1.0
    goods, bads = max(1, int((bad == 0).sum())), max(1, int(bad.sum()))
    for candidate in sorted({math.floor(s) for s in scores}):
        approved = scores >= candidate
        gap = abs(float(approved[bad == 0].sum()) / goods - float(approved[bad == 1].sum()) / bads)
        if gap > best_gap:
            best, best_gap = candidate, gap
    return int(best)


def _cutoff_report(cutoff: int, scores: Any, bad: Any) -> CutoffReport:
    approved = scores >= cutoff
    approved_count = int(approved.sum())
    return CutoffReport(
        cutoff,
        approved_count / len(scores),
        float(bad[approved].sum()) / approved_count if approved_count else 0.0,
        float(bad.mean()),
        int(bad[~approved].sum()),
        int((~approved & (bad == 0)).sum()),
    )


def _reliability(probability: Any, bad: Any) -> list[dict[str, float]]:
    """Predicted against observed bad rate in equal-count bins of predicted probability."""
    import numpy

    order = numpy.argsort(probability, kind="stable")
    table = []
    for chunk in numpy.array_split(order, RELIABILITY_BINS):
        if len(chunk):
            table.append(
                {
                    "rows": float(len(chunk)),
                    "predicted_bad_rate": float(probability[chunk].mean()),
                    "observed_bad_rate": float(bad[chunk].mean()),
                }
            )
    return table


def _psi(expected: Any, actual: Any) -> float:
    """Population stability index of the holdout's scores against the development scores, over
    the development scores' deciles."""
    import numpy

    edges = numpy.unique(numpy.quantile(expected, numpy.linspace(0, 1, PSI_BINS + 1)))
    edges[0], edges[-1] = -numpy.inf, numpy.inf
    floor = 1e-6
    expected_share = numpy.histogram(expected, edges)[0] / len(expected) + floor
    actual_share = numpy.histogram(actual, edges)[0] / len(actual) + floor
    return float(((actual_share - expected_share) * numpy.log(actual_share / expected_share)).sum())


def _disparity(groups: list[str], scores: Any, bad: Any, cutoff: int) -> list[dict[str, Any]]:
    """Per value of a protected column (numbers in quartile ranges): rows, mean score,
    approval rate at the cut-off, bad rate."""
    import numpy

    labels = _group_labels(groups)
    table = []
    for label in sorted(set(labels)):
        mask = numpy.asarray([value == label for value in labels])
        table.append(
            {
                "group": label,
                "rows": int(mask.sum()),
                "mean_score": float(scores[mask].mean()),
                "approval_rate": float((scores[mask] >= cutoff).mean()),
                "bad_rate": float(bad[mask].mean()),
            }
        )
    return table


def _group_labels(values: list[str]) -> list[str]:
    try:
        numbers = [float(value) for value in values]
    except ValueError:
        return values
    if len(set(numbers)) <= 8:
        return values
    import numpy

    edges = [float(edge) for edge in numpy.quantile(numbers, [0.25, 0.5, 0.75])]

    def label(number: float) -> str:
        for low, high in zip([-math.inf, *edges], [*edges, math.inf], strict=True):
            if low <= number < high or (high == math.inf and number >= low):
                return f"[{low:g}, {high:g})"
        return "?"

    return [label(number) for number in numbers]


def _points_table(scorecard: Any) -> list[dict[str, Any]]:
    table = scorecard.table(style="summary")
    return [
        {"variable": str(row["Variable"]), "bin": str(row["Bin"]), "points": float(row["Points"])}
        for _, row in table.iterrows()
    ]


def _ppm(value: float) -> int:
    return max(0, min(PPM, round(value * PPM)))


def _metrics(report: TrainingReport) -> ModelMetrics:
    return ModelMetrics(
        report.folds,
        _ppm(report.auc.mean),
        _ppm(report.auc.sd),
        _ppm(report.ks.mean),
        _ppm(report.ks.sd),
        _ppm(max(0.0, report.gini.mean)),
        _ppm(report.gini.sd),
        _ppm(report.holdout_auc),
        _ppm(report.holdout_brier),
        report.development_rows,
    )


def export(
    data: TrainingData, scorecard: Any, options: TrainingOptions, scores: list[float]
) -> tuple[ScorecardModel | None, str | None]:
    """The fitted scorecard as an on-chain ``ScorecardModel`` with integer points, or why it
    cannot be one. A chain feature is an integer, so a split ``s`` between integers becomes the
    bound ``ceil(s)`` (``v < s`` ⇔ ``v < ceil(s)`` for integer ``v``)."""
    selected = _selected(scorecard)
    foreign = [name for name in selected if name not in FEATURES or name in data.categorical]
    if foreign:
        return None, (
            f"columns {', '.join(foreign[:6])}{' …' if len(foreign) > 6 else ''} are not numeric "
            "chain features (docs/credit.md, Features): the model is measured but cannot score "
            "on chain"
        )
    detailed = scorecard.table(style="detailed")
    features = []
    for name in selected:
        rows = detailed[detailed["Variable"] == name]
        points = [float(p) for p in rows["Points"]]
        splits = list(scorecard.binning_process_.get_binned_variable(name).splits)
        bins = _integer_bins(splits, points[: len(splits) + 1])
        code, reason = REASONS[name]
        features.append(FeaturePoints(name, code, reason, bins, round(points[-1])))
    lows = [math.floor(s) for s in sorted(scores)]
    floors = [lows[0]] + [lows[len(lows) * k // len(BAND_NAMES)] for k in range(1, len(BAND_NAMES))]
    bands, last = [], None
    for name, floor in zip(BAND_NAMES, floors, strict=True):
        if last is None or floor > last:
            bands.append(Band(name, max(-MAX_SCORE, min(MAX_SCORE, floor))))
            last = floor
    model = ScorecardModel(options.model_id, options.version, 0, tuple(features), tuple(bands))
    problem = model_problem(model)
    if problem is not None:
        raise InvalidInput(f"the trained model is not a sound scorecard: {problem}")
    return model, None


def _integer_bins(splits: list[float], points: list[float]) -> tuple[Bin, ...]:
    bins: list[Bin] = []
    for split, value in zip(splits, points, strict=False):
        upper = math.ceil(split)
        if bins and bins[-1].upper == upper:
            continue  # two splits between the same integers: one bound
        bins.append(Bin(upper, round(value)))
    bins.append(Bin(None, round(points[len(splits)])))
    return tuple(bins)


__all__ = [
    "FitSettings",
    "FoldResult",
    "ModelArtifact",
    "TrainingOptions",
    "TrainingReport",
    "cross_validate",
    "export",
    "fold_result",
    "frame_of",
    "train",
]
