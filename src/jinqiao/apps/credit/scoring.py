"""A score from disclosed records, and its recomputation: what a lender runs before recording a
score, and what an auditor or the subject's institution runs to check one recorded on chain.

The lender reads (with proofs) the subject's record commitments and access log, receives the
record bodies from their submitters (``Disclosure``: the salt and the body), and calls
``score_subject``: every disclosure must open a commitment on chain, and every commitment in the
model's categories must be disclosed, so no record can be added, altered or left out.
``verify_score`` recomputes a recorded score from the same inputs and compares the hashes.

Pure: the caller passes the network's hash function. Problems are ``InvalidInput`` with the
stable codes of ``docs/errors.md``.
"""

from __future__ import annotations

from collections.abc import Sequence

from jinqiao.apps.credit.features import compute_features
from jinqiao.apps.credit.model import Access, RecordCommitment, ScorecardModel, ScoreRecord
from jinqiao.apps.credit.records import Hash, RecordBody, commitment, record_problem
from jinqiao.apps.credit.scorecard import ScoreResult, model_categories, result_hash, score
from jinqiao.core.codec import CanonicalStruct
from jinqiao.core.errors import InvalidInput


class Disclosure(CanonicalStruct, frozen=True):
    """A record body as its submitter releases it to a reader, with the salt that opens its
    commitment."""

    salt: bytes
    body: RecordBody


def open_disclosures(
    hash_function: Hash,
    subject: bytes,
    commitments: Sequence[RecordCommitment],
    disclosures: Sequence[Disclosure],
    categories: Sequence[str],
) -> list[RecordBody]:
    """The bodies of the subject's records in ``categories``, in commitment order, after checking
    that the disclosures open exactly the commitments on chain in those categories."""
    wanted = {c.commitment: c for c in commitments if c.category in categories}
    opened: dict[bytes, RecordBody] = {}
    for disclosure in disclosures:
        body = disclosure.body
        problem = record_problem(body)
        if problem is not None:
            raise InvalidInput(f"a disclosed record is malformed: {problem}", code="invalid_record")
        digest = commitment(hash_function, disclosure.salt, body)
        on_chain = wanted.get(digest)
        if (
            on_chain is None
            or body.subject != subject
            or (body.category, body.period) != (on_chain.category, on_chain.period)
        ):
            raise InvalidInput(
                "a disclosed record opens no commitment of this subject in these categories",
                code="commitment_mismatch",
                commitment=digest.hex(),
            )
        opened[digest] = body
    missing = [c.sequence for c in wanted.values() if c.commitment not in opened]
    if missing:
        raise InvalidInput(
            f"records {missing[:10]} were not disclosed",
            code="records_missing",
            sequences=missing[:100],
        )
    return [opened[c.commitment] for c in commitments if c.commitment in opened]


def score_subject(
    hash_function: Hash,
    model: ScorecardModel,
    subject: bytes,
    commitments: Sequence[RecordCommitment],
    disclosures: Sequence[Disclosure],
    accesses: Sequence[Access],
    as_of_ms: int,
) -> ScoreResult:
    """The score of ``subject`` under ``model`` from all of its record commitments (sequences
    0..n-1) and all of its access entries so far."""
    _check_complete("record commitments", [c.sequence for c in commitments])
    _check_complete("access entries", [a.sequence for a in accesses])
    categories = model_categories(model)
    bodies = open_disclosures(hash_function, subject, commitments, disclosures, categories)
    features = compute_features(bodies, accesses, as_of_ms)
    return score(
        model,
        features,
        subject=subject,
        as_of_ms=as_of_ms,
        record_count=len(commitments),
        access_sequence=len(accesses),
    )


def verify_score(
    hash_function: Hash,
    model: ScorecardModel,
    recorded: ScoreRecord,
    subject: bytes,
    commitments: Sequence[RecordCommitment],
    disclosures: Sequence[Disclosure],
    accesses: Sequence[Access],
) -> ScoreResult:
    """Recompute a recorded score (its model, its records below ``record_count``, its accesses
    below ``access_sequence``, its ``as_of_ms``) and check its hash; the result if it matches."""
    if (model.model_id, model.version) != (recorded.model_id, recorded.model_version):
        raise InvalidInput("the model is not the score's model version", code="score_mismatch")
    result = score_subject(
        hash_function,
        model,
        subject,
        [c for c in commitments if c.sequence < recorded.record_count],
        disclosures,
        [a for a in accesses if a.sequence < recorded.access_sequence],
        recorded.as_of_ms,
    )
    if result_hash(hash_function, result) != recorded.result_hash:
        raise InvalidInput(
            "the recomputed score does not match the recorded hash", code="score_mismatch"
        )
    return result


def _check_complete(what: str, sequences: list[int]) -> None:
    if sequences != list(range(len(sequences))):
        raise InvalidInput(f"the {what} must be all of them, in order from 0", code="invalid_input")
