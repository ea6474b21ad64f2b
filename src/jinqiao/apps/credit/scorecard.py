"""The explainable scorecard: points per feature, the score, its band and its four main reasons,
and a lender's decision policy applied to it. Pure integer arithmetic, so a score recomputed from
the same inputs is the same, byte for byte, wherever it is computed.

``score = base_points + sum(points of each feature's bin)``. A feature's *points lost* are the
most points it could have given (its best bin, or ``missing_points`` if higher) less what it gave;
the reasons are the (at most four) features that lost most, largest loss first, ties in the
model's feature order, features that lost nothing left out. ``result_hash`` is what goes on
chain.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from jinqiao.apps.credit.features import FEATURES, categories_of
from jinqiao.apps.credit.model import (
    APPROVE,
    DECLINE,
    IDENTIFIER_PATTERN,
    LIMIT,
    MAX_BANDS,
    MAX_BINS,
    MAX_MODEL_FEATURES,
    MAX_POINTS,
    PPM,
    REASON_CODE_PATTERN,
    DecisionPolicy,
    FeaturePoints,
    ModelMetrics,
    ScorecardModel,
)
from jinqiao.core.codec import CanonicalStruct, encode
from jinqiao.core.errors import NodeFault, require
from jinqiao.core.limits import MAX_AMOUNT_MINOR
from jinqiao.core.names import name_problem

MAX_REASONS = 4
MAX_SCORE = MAX_POINTS * (MAX_MODEL_FEATURES + 1)
"""No score can lie outside -MAX_SCORE..MAX_SCORE."""
MAX_VERSION = 2**63 - 1
RESULT_DOMAIN = b"jinqiao/credit/score/v1\x00"
DECISION_DOMAIN = b"jinqiao/credit/decision/v1\x00"
MODEL_DOMAIN = b"jinqiao/credit/model/v1\x00"


class FeatureScore(CanonicalStruct, frozen=True):
    feature: str
    value: int | None
    points: int


class Reason(CanonicalStruct, frozen=True):
    reason_code: str
    reason: str
    feature: str
    points_lost: int


class ScoreResult(CanonicalStruct, frozen=True):
    """A score as the lender sees it and as its hash is recorded: the subject, the model
    version, the inputs' extent (records below ``record_count``, accesses below
    ``access_sequence``, as of ``as_of_ms``), each feature's value and points, and the outcome."""

    subject: bytes
    model_id: str
    model_version: int
    as_of_ms: int
    record_count: int
    access_sequence: int
    features: tuple[FeatureScore, ...]
    score: int
    band: str
    reasons: tuple[Reason, ...]


class Decision(CanonicalStruct, frozen=True):
    """``approve`` with the band's limit, ``limit`` (approve with the reduced limit) or
    ``decline`` (limit 0); the reason codes of the score for anything but a plain approval."""

    subject: bytes
    result_hash: bytes
    outcome: str
    limit_minor: int
    reason_codes: tuple[str, ...]


def model_problem(model: ScorecardModel) -> str | None:
    """What is wrong with ``model`` as a scorecard, in words; ``None`` when it is sound."""
    if not IDENTIFIER_PATTERN.fullmatch(model.model_id):
        return "model_id must be 1..64 of a-z, 0-9 and '_.-', starting with a letter or digit"
    if not 1 <= model.version <= MAX_VERSION:
        return f"version must be in 1..{MAX_VERSION}"
    if not -MAX_POINTS <= model.base_points <= MAX_POINTS:
        return f"base_points must be in -{MAX_POINTS}..{MAX_POINTS}"
    if not 1 <= len(model.features) <= MAX_MODEL_FEATURES:
        return f"a model has 1..{MAX_MODEL_FEATURES} features"
    names = [feature.feature for feature in model.features]
    if len(set(names)) != len(names):
        return "each feature appears once"
    for feature in model.features:
        problem = _feature_problem(feature)
        if problem is not None:
            return f"feature {feature.feature[:64]!r}: {problem}"
    if not 1 <= len(model.bands) <= MAX_BANDS:
        return f"a model has 1..{MAX_BANDS} bands"
    floors = [band.min_score for band in model.bands]
    if any(not IDENTIFIER_PATTERN.fullmatch(band.name) for band in model.bands):
        return "band names are 1..64 of a-z, 0-9 and '_.-'"
    if len({band.name for band in model.bands}) != len(model.bands):
        return "band names are distinct"
    if floors != sorted(set(floors)) or any(abs(floor) > MAX_SCORE for floor in floors):
        return f"band floors ascend strictly and lie in -{MAX_SCORE}..{MAX_SCORE}"
    return None


def _feature_problem(feature: FeaturePoints) -> str | None:
    if feature.feature not in FEATURES:
        return f"not a feature; features are {list(FEATURES)}"
    if not REASON_CODE_PATTERN.fullmatch(feature.reason_code):
        return "reason_code must be 1..8 of A-Z and 0-9"
    problem = name_problem(feature.reason)
    if problem is not None:
        return f"reason {problem}"
    if not 1 <= len(feature.bins) <= MAX_BINS:
        return f"a feature has 1..{MAX_BINS} bins"
    uppers = [b.upper for b in feature.bins]
    bounded = [upper for upper in uppers[:-1] if upper is not None]
    if uppers[-1] is not None or len(bounded) != len(uppers) - 1:
        return "every bin but the last has an upper bound; the last has none"
    if bounded != sorted(set(bounded)):
        return "upper bounds ascend strictly"
    points = [b.points for b in feature.bins] + [feature.missing_points]
    if any(abs(p) > MAX_POINTS for p in points):
        return f"points lie in -{MAX_POINTS}..{MAX_POINTS}"
    return None


def metrics_problem(metrics: ModelMetrics) -> str | None:
    ratios = (
        metrics.auc_mean_ppm,
        metrics.auc_sd_ppm,
        metrics.ks_mean_ppm,
        metrics.ks_sd_ppm,
        metrics.gini_mean_ppm,
        metrics.gini_sd_ppm,
        metrics.holdout_auc_ppm,
        metrics.holdout_brier_ppm,
    )
    if any(not 0 <= ratio <= PPM for ratio in ratios):
        return f"metrics are parts per million in 0..{PPM}"
    if not 2 <= metrics.folds <= 100 or not 1 <= metrics.training_rows <= 2**40:
        return "folds must be in 2..100 and training_rows positive"
    return None


def model_categories(model: ScorecardModel) -> tuple[str, ...]:
    """The categories a score under ``model`` reads, hence needs consent for."""
    return categories_of(feature.feature for feature in model.features)


def model_hash(hash_function: Callable[[bytes], bytes], model: ScorecardModel) -> bytes:
    """The artifact hash a model version is registered and approved by."""
    return hash_function(MODEL_DOMAIN + encode(model))


def feature_points(feature: FeaturePoints, value: int | None) -> int:
    if value is None:
        return feature.missing_points
    for bin_ in feature.bins:
        if bin_.upper is None or value < bin_.upper:
            return bin_.points
    raise NodeFault("a feature's last bin has an upper bound", feature=feature.feature)


def score(
    model: ScorecardModel,
    features: Mapping[str, int | None],
    *,
    subject: bytes,
    as_of_ms: int,
    record_count: int,
    access_sequence: int,
) -> ScoreResult:
    """Apply ``model`` to ``features`` (every feature the model names must be present)."""
    require(model_problem(model) is None, "scoring with an unsound model", model=model.model_id)
    scored = []
    losses = []
    for position, feature in enumerate(model.features):
        value = features[feature.feature]
        points = feature_points(feature, value)
        best = max([b.points for b in feature.bins] + [feature.missing_points])
        scored.append(FeatureScore(feature.feature, value, points))
        if best > points:
            losses.append((-(best - points), position, feature))
    total = model.base_points + sum(item.points for item in scored)
    band = model.bands[0].name
    for candidate in model.bands:
        if total >= candidate.min_score:
            band = candidate.name
    reasons = tuple(
        Reason(feature.reason_code, feature.reason, feature.feature, -negative_loss)
        for negative_loss, _, feature in sorted(losses, key=lambda item: item[:2])[:MAX_REASONS]
    )
    return ScoreResult(
        subject,
        model.model_id,
        model.version,
        as_of_ms,
        record_count,
        access_sequence,
        tuple(scored),
        total,
        band,
        reasons,
    )


def result_hash(hash_function: Callable[[bytes], bytes], result: ScoreResult) -> bytes:
    return hash_function(RESULT_DOMAIN + encode(result))


def policy_problem(policy: DecisionPolicy, model: ScorecardModel) -> str | None:
    """What is wrong with ``policy`` for ``model`` (whose id and version it must name)."""
    if (policy.model_id, policy.model_version) != (model.model_id, model.version):
        return "the policy names another model version"
    if policy.decline_below_score > policy.approve_min_score:
        return "decline_below_score must not exceed approve_min_score"
    bands = [limit.band for limit in policy.band_limits]
    if sorted(bands) != sorted(band.name for band in model.bands):
        return "band_limits name each of the model's bands once"
    amounts = [limit.limit_minor for limit in policy.band_limits] + [policy.reduced_limit_minor]
    if any(not 0 <= amount <= MAX_AMOUNT_MINOR for amount in amounts):
        return f"limits are amounts in 0..{MAX_AMOUNT_MINOR}"
    return None


def decide(
    hash_function: Callable[[bytes], bytes], policy: DecisionPolicy, result: ScoreResult
) -> Decision:
    """The policy's decision on a score of the policy's model version."""
    require(
        (policy.model_id, policy.model_version) == (result.model_id, result.model_version),
        "a decision under a policy for another model",
    )
    reasons = tuple(reason.reason_code for reason in result.reasons)
    digest = result_hash(hash_function, result)
    if result.score >= policy.approve_min_score:
        limits = {limit.band: limit.limit_minor for limit in policy.band_limits}
        return Decision(result.subject, digest, APPROVE, limits.get(result.band, 0), ())
    if result.score >= policy.decline_below_score:
        return Decision(result.subject, digest, LIMIT, policy.reduced_limit_minor, reasons)
    return Decision(result.subject, digest, DECLINE, 0, reasons)


def decision_hash(hash_function: Callable[[bytes], bytes], decision: Decision) -> bytes:
    return hash_function(DECISION_DOMAIN + encode(decision))
