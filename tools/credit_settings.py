"""Measure the scorecard settings of ADR 0036 on German Credit: the 10-fold CV AUC (mean ± sd) of
each setting on the trainer's own split (30 % holdout, seed 7; the holdout is never used), and,
with ``--nested``, the fully nested figure: in each outer fold an inner 5-fold CV on its
training rows chooses among pre-bins {2 %, 5 %} and trends {auto, auto_asc_desc} (information
value ≥ 0.02, ``C`` by the trainer's inner CV), and the choice is measured on the outer fold.

    .venv/bin/python tools/credit_settings.py [--nested]

Minutes of CPU (the nested run about seven); prints one line per setting.
"""

from __future__ import annotations

import sys
from dataclasses import replace

from jinqiao.credit.training import (
    FOLDS,
    HOLDOUT_FRACTION,
    INNER_FOLDS,
    SEED,
    FitSettings,
    MeanSd,
    cross_validate,
    fold_result,
    frame_of,
)
from jinqiao.credit.training_data import (
    GERMAN_CREDIT_PROTECTED,
    GERMAN_CREDIT_TARGET,
    TrainingData,
    german_credit_path,
    load_training_file,
)

BEFORE = FitSettings(0.05, "auto_asc_desc", None, 1.0)
"""ADR 0021's settings: optbinning's default pre-bins, ascending or descending, every input,
``C`` = 1."""
TRAINER = FitSettings()
SETTINGS = {
    "ADR 0021": BEFORE,
    "+ C by inner CV": replace(BEFORE, regularisation_c=None),
    "+ IV >= 0.02": replace(BEFORE, min_information_value=0.02),
    "trend auto": replace(BEFORE, monotonic_trend="auto"),
    "pre-bins 1 %": replace(BEFORE, min_prebin_share=0.01),
    "pre-bins 2 %": replace(BEFORE, min_prebin_share=0.02),
    "pre-bins 3 %": replace(BEFORE, min_prebin_share=0.03),
    "pre-bins 2 %, auto": replace(BEFORE, min_prebin_share=0.02, monotonic_trend="auto"),
    "pre-bins 2 %, auto, C by inner CV": replace(TRAINER, min_information_value=None),
    "pre-bins 2 %, auto, IV >= 0.02, C by inner CV (the trainer)": TRAINER,
    "pre-bins 2 %, auto, minimum bin 5 %": replace(
        BEFORE, min_prebin_share=0.02, monotonic_trend="auto", min_bin_share=0.05
    ),
    "pre-bins 2 %, auto, at most 6 bins": replace(
        BEFORE, min_prebin_share=0.02, monotonic_trend="auto", max_bins=6
    ),
    "pre-bins 2 %, rare categories grouped": replace(
        BEFORE, min_prebin_share=0.02, category_cutoff=0.05
    ),
    "pre-bins 2 %, C = 0.3": replace(BEFORE, min_prebin_share=0.02, regularisation_c=0.3),
}
NESTED_CANDIDATES = tuple(
    replace(TRAINER, min_prebin_share=share, monotonic_trend=trend)
    for share in (0.02, 0.05)
    for trend in ("auto", "auto_asc_desc")
)


def main(arguments: list[str]) -> None:
    import numpy
    from sklearn.model_selection import StratifiedKFold, train_test_split

    data = load_training_file(german_credit_path(), GERMAN_CREDIT_TARGET, GERMAN_CREDIT_PROTECTED)
    frame, bad = frame_of(data), numpy.asarray(data.bad)
    development, _ = train_test_split(
        numpy.arange(data.rows), test_size=HOLDOUT_FRACTION, stratify=bad, random_state=SEED
    )
    for name, settings in SETTINGS.items():
        folds = cross_validate(data, frame, bad, development, FOLDS, SEED, settings)
        auc = MeanSd.of([fold.auc for fold in folds])
        print(f"{name:<62} {auc.mean:.4f} ± {auc.sd:.4f}", flush=True)
    if "--nested" not in arguments:
        return
    outer = StratifiedKFold(FOLDS, shuffle=True, random_state=SEED)
    aucs = []
    for fit_rows, test_rows in outer.split(development, bad[development]):
        fitting, testing = development[fit_rows], development[test_rows]
        chosen = max(NESTED_CANDIDATES, key=lambda s: _mean_auc(data, frame, bad, fitting, s))
        aucs.append(fold_result(data, frame, bad, fitting, testing, SEED, chosen).auc)
        print(
            f"  outer fold {len(aucs)}: pre-bins {chosen.min_prebin_share:.0%}"
            f" {chosen.monotonic_trend}, AUC {aucs[-1]:.4f}",
            flush=True,
        )
    nested = MeanSd.of(aucs)
    print(f"{'nested (settings chosen per outer fold)':<62} {nested.mean:.4f} ± {nested.sd:.4f}")


def _mean_auc(
    data: TrainingData, frame: object, bad: object, rows: object, settings: FitSettings
) -> float:
    folds = cross_validate(data, frame, bad, rows, INNER_FOLDS, SEED, settings)
    return sum(fold.auc for fold in folds) / len(folds)


if __name__ == "__main__":
    main(sys.argv[1:])
