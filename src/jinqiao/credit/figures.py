"""Pictures of credit (PNG, matplotlib): a model's ROC, KS and score distribution on its holdout,
and a subject's score report (score, band, reasons, who looked).

Only these pictures turn scores into floats, to draw them; nothing computed here goes on chain.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from jinqiao.apps.credit.model import Access
from jinqiao.apps.credit.scorecard import ScoreResult

MAX_LOG_ROWS = 12


def _png(figure: Any, title: str) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Title": title})
    return buffer.getvalue()


def model_figures_png(
    false_positive_rate: Sequence[float],
    true_positive_rate: Sequence[float],
    good_scores: Sequence[float],
    bad_scores: Sequence[float],
    *,
    cutoff: int,
    title: str,
) -> bytes:
    """Three panels: the holdout ROC curve (with its AUC), the KS chart (cumulative share of
    goods and bads by score, the widest gap marked) and the score distribution of goods and bads
    with the cut-off."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(15, 4.8), dpi=100)
    FigureCanvasAgg(figure)
    roc_axes, ks_axes, distribution_axes = figure.subplots(1, 3)
    area = sum(
        (false_positive_rate[i] - false_positive_rate[i - 1])
        * (true_positive_rate[i] + true_positive_rate[i - 1])
        / 2
        for i in range(1, len(false_positive_rate))
    )
    roc_axes.plot(false_positive_rate, true_positive_rate, label=f"model (AUC {area:.3f})")
    roc_axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    roc_axes.set(title="ROC (holdout)", xlabel="false positive rate", ylabel="true positive rate")
    roc_axes.legend(loc="lower right")
    points = sorted({*good_scores, *bad_scores})
    good_share = [sum(1 for s in good_scores if s <= p) / max(1, len(good_scores)) for p in points]
    bad_share = [sum(1 for s in bad_scores if s <= p) / max(1, len(bad_scores)) for p in points]
    gaps = [bad - good for good, bad in zip(good_share, bad_share, strict=True)]
    ks_axes.plot(points, bad_share, label="bads", color="#c62828")
    ks_axes.plot(points, good_share, label="goods", color="#2e7d32")
    if gaps:
        widest = max(range(len(gaps)), key=lambda i: gaps[i])
        ks_axes.vlines(points[widest], good_share[widest], bad_share[widest], color="black")
        ks_axes.set_title(f"KS {gaps[widest]:.3f} at score {points[widest]:.0f} (holdout)")
    ks_axes.set(xlabel="score", ylabel="cumulative share")
    ks_axes.legend(loc="lower right")
    distribution_axes.hist(
        [list(good_scores), list(bad_scores)],
        bins=30,
        label=["goods", "bads"],
        color=["#2e7d32", "#c62828"],
        alpha=0.7,
    )
    distribution_axes.axvline(cutoff, color="black", linestyle="--", label=f"cut-off {cutoff}")
    distribution_axes.set(title="Score distribution (holdout)", xlabel="score", ylabel="rows")
    distribution_axes.legend()
    figure.suptitle(title)
    figure.tight_layout()
    return _png(figure, title)


def score_report_png(
    result: ScoreResult,
    accesses: Sequence[Access],
    *,
    title: str,
    decision: str = "",
) -> bytes:
    """A subject's score report: the score and band, the points of each feature, the reasons
    (largest loss first) and who looked (the access log's latest entries)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(13, 6), dpi=100)
    FigureCanvasAgg(figure)
    points_axes, text_axes = figure.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.2]})
    names = [feature.feature for feature in result.features]
    points = [feature.points for feature in result.features]
    colors = ["#2e7d32" if value >= 0 else "#c62828" for value in points]
    points_axes.barh(names, points, color=colors)
    points_axes.axvline(0, color="black", linewidth=0.8)
    points_axes.invert_yaxis()
    points_axes.set(title=f"Score {result.score}, band {result.band}", xlabel="points")
    for row, feature in enumerate(result.features):
        value = "none" if feature.value is None else str(feature.value)
        points_axes.annotate(
            f" value {value}: {feature.points}", (feature.points, row), va="center", fontsize=8
        )
    lines = [f"model {result.model_id} v{result.model_version}"]
    if decision:
        lines.append(f"decision: {decision}")
    lines.append("")
    lines.append("Reasons (points lost):")
    lines += [
        f"  {reason.reason_code}  {reason.reason} ({reason.points_lost})"
        for reason in result.reasons
    ] or ["  none"]
    lines.append("")
    lines.append(f"Who looked ({len(accesses)} entries, latest first):")
    for access in list(reversed(accesses))[:MAX_LOG_ROWS]:
        lines.append(
            f"  #{access.sequence} {access.kind:<7} {access.reader:<12} {access.purpose}"
            f"  height {access.height}"
        )
    text_axes.axis("off")
    text_axes.text(0, 1, "\n".join(lines), va="top", family="monospace", fontsize=9)
    figure.suptitle(title)
    figure.tight_layout()
    return _png(figure, title)


__all__ = ["model_figures_png", "score_report_png"]
