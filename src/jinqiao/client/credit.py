"""SDK of the credit contract (``docs/credit.md``): consent, record commitments, reads, scores,
decisions, models, policies and erasure.

Writes return the ``TransactionResult`` (inclusion and receipt proofs verified); a rejection is a
committed receipt with its code (``result.code``), not an exception. Every read is **proven**
against a header the validators signed (``Client.read_struct``); ``None`` is a proven absence.
The lists of a subject (record commitments, access log) are read key by key at one height, each
proven, so a lender scores from exactly what the chain holds.

Scoring runs here, at the edge: ``score`` reads the model, the subject's commitments and access
log with proofs, opens the disclosed records against their commitments
(``apps.credit.scoring.score_subject``), applies the integer scorecard and records the result's
hash. The disclosures come from the submitters' nodes (``disclosures``: the lender's own node
gathers them from its ``private_data_sources`` under the committed access entry of its read,
docs/credit.md "Disclosure"); each is opened against its commitment on chain when scored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jinqiao.apps.credit.derived import receivable_records
from jinqiao.apps.credit.model import (
    CREDIT,
    Access,
    Consent,
    ConsentArgs,
    DecisionPolicy,
    GrantConsentArgs,
    ModelMetrics,
    ModelRecord,
    PolicyRecord,
    ReadRecordsArgs,
    RecordCommitment,
    RecordDecisionArgs,
    RecordScoreArgs,
    RegisterModelArgs,
    ScorecardModel,
    ScoreRecord,
    SetPolicyArgs,
    Subject,
    SubjectArgs,
    SubmitRecordArgs,
    access_key,
    consent_key,
    model_key,
    policy_key,
    record_key,
    score_key,
    subject_key,
)
from jinqiao.apps.credit.records import RecordBody
from jinqiao.apps.credit.scorecard import (
    Decision,
    ScoreResult,
    decide,
    decision_hash,
    model_categories,
    result_hash,
)
from jinqiao.apps.credit.scoring import Disclosure, score_subject
from jinqiao.apps.supplychain.model import SUPPLYCHAIN
from jinqiao.core.codec import decode
from jinqiao.core.crypto import Signer
from jinqiao.core.errors import InvalidInput
from jinqiao.core.limits import MAX_PROOF_BYTES
from jinqiao.execution.state import full_key
from jinqiao.verify import VerificationError

if TYPE_CHECKING:
    from jinqiao.client.client import Client, TransactionResult

RECEIVABLE_EVENTS = ("ReceivablePastDue", "ReceivableRepaid")
"""The supply chain's events whose block times date a receivable's records."""


@dataclass(frozen=True)
class SubjectFile:
    """A subject's file with all its record commitments and access entries, each proven at
    ``height`` (whose block time is ``time_ms``)."""

    subject: Subject | None
    records: list[RecordCommitment]
    accesses: list[Access]
    height: int
    time_ms: int


@dataclass(frozen=True)
class Scored:
    """A recorded score: what the lender computed, and the ``record_score`` transaction."""

    result: ScoreResult
    transaction: TransactionResult

    @property
    def sequence(self) -> int:
        """The score's number in the subject's scores (for ``record_decision``)."""
        return decode(
            self.transaction.receipt.result, ScoreRecord, max_bytes=MAX_PROOF_BYTES
        ).sequence


MAX_DISCLOSURE_BYTES = 4096


@dataclass(frozen=True)
class Disclosed:
    """The records disclosed under an access entry (``GET …/disclosures/{sequence}``), unchecked
    until scored against their commitments, and what each source node answered (``status``
    ``ok``, an HTTP status and code such as ``403 forbidden``, ``unreachable``, ``malformed``)."""

    disclosures: list[Disclosure]
    categories: tuple[str, ...]
    sources: list[dict[str, Any]]


MAX_LIST_PAGE = 100
"""Entries per page of ``GET /v1/credit/subjects/{subject}/records`` or ``/access-log``."""
_LISTS: dict[str, tuple[str, Any, type[Any]]] = {
    "records": ("records", record_key, RecordCommitment),
    "access-log": ("accesses", access_key, Access),
}


@dataclass(frozen=True)
class SubjectPage:
    """A page of a subject's record commitments or access log from ``start``, with the
    subject's file, every value proven at ``height``; ``subject`` ``None`` is its proven
    absence, ``next_start`` ``None`` after the last entry (and for an erased subject, whose
    entries are gone while its counts stay)."""

    subject: Subject | None
    start: int
    entries: tuple[Any, ...]
    next_start: int | None
    height: int


class CreditClient:
    def __init__(self, client: Client) -> None:
        self._client = client

    def _send(self, signer: Signer, method: str, args: Any) -> TransactionResult:
        return self._client.send(signer, CREDIT, method, args)

    def _hash(self, data: bytes) -> bytes:
        return self._client.suite.hash(data)

    # -- consent and records ---------------------------------------------------------------
    def grant_consent(
        self,
        custodian: Signer,
        subject: bytes,
        grantee: str,
        purpose: str,
        categories: tuple[str, ...],
        expires_time_ms: int,
    ) -> TransactionResult:
        args = GrantConsentArgs(
            subject, grantee, purpose, tuple(sorted(categories)), expires_time_ms
        )
        return self._send(custodian, "grant_consent", args)

    def revoke_consent(
        self, custodian: Signer, subject: bytes, consent_id: int
    ) -> TransactionResult:
        return self._send(custodian, "revoke_consent", ConsentArgs(subject, consent_id))

    def submit_record(
        self, submitter: Signer, subject: bytes, category: str, period: int, commitment: bytes
    ) -> TransactionResult:
        args = SubmitRecordArgs(subject, category, period, commitment)
        return self._send(submitter, "submit_record", args)

    def read_records(
        self,
        reader: Signer,
        subject: bytes,
        consent_id: int,
        purpose: str,
        categories: tuple[str, ...],
    ) -> TransactionResult:
        """Log a read of ``categories`` (the submitters disclose only to a logged reader)."""
        args = ReadRecordsArgs(subject, consent_id, purpose, tuple(sorted(categories)))
        return self._send(reader, "read_records", args)

    def disclosures(self, subject: bytes, access_sequence: int) -> Disclosed:
        """The records the submitters' nodes disclose to this client's organization under the
        subject's access entry ``access_sequence`` (its ``read_records``): the node asked
        gathers them from itself and its sources. ``ClientError`` ``403 forbidden`` when the
        entry is not this organization's read or its consent is no longer live, ``410
        credit_records_erased`` for an erased subject."""
        answer = json.loads(
            self._client.raw_get(
                f"/v1/credit/subjects/{subject.hex()}/disclosures/{access_sequence}"
            )
        )
        values = answer.get("disclosures") if isinstance(answer, dict) else None
        if not isinstance(values, list):
            raise VerificationError("the disclosure answer holds no list of disclosures")
        try:
            found = [
                decode(bytes.fromhex(str(value)), Disclosure, max_bytes=MAX_DISCLOSURE_BYTES)
                for value in values
            ]
        except ValueError:
            raise VerificationError("a disclosure is not canonical hex") from None
        categories = tuple(str(category) for category in answer.get("categories", ()))
        return Disclosed(found, categories, list(answer.get("sources", ())))

    @staticmethod
    def access_sequence_of(result: TransactionResult) -> int:
        """The access entry a committed ``read_records`` logged (what disclosures are asked
        under)."""
        return decode(result.receipt.result, Access, max_bytes=MAX_PROOF_BYTES).sequence

    def receivable_records(
        self, subject: bytes, root_id: int, events: Sequence[Mapping[str, Any]]
    ) -> list[RecordBody]:
        """The records that receivable ``root_id`` gives its obligor ``subject``
        (``apps.credit.derived.receivable_records``), from the ledger: the root read with proofs
        and the block times of its ``ReceivablePastDue`` and ``ReceivableRepaid`` events. Each
        event is given as the event stream delivered it and proven against its transaction's
        receipt (``Client.prove_event``, ``VerificationError`` if it differs); its time is that
        of its block's header. ``invalid_input`` for an event of another kind or receivable, or
        twice; ``unknown_receivable`` for a root the ledger does not hold (proven absence)."""
        if len(events) > len(RECEIVABLE_EVENTS):
            raise InvalidInput("a receivable has at most two such events", code="invalid_input")
        times: dict[str, int] = {}
        for event in events:
            proven = self._client.prove_event(event)
            if (
                proven.contract != SUPPLYCHAIN
                or proven.name not in RECEIVABLE_EVENTS
                or proven.attribute("root_id") != root_id
                or proven.name in times
            ):
                raise InvalidInput(
                    f"{proven.contract}.{proven.name} is not a marking or repayment of receivable"
                    f" {root_id}, or is given twice",
                    code="invalid_input",
                )
            times[proven.name] = self._client.header(int(event["height"])).time_ms
        root = self._client.supplychain.root(root_id)
        if root is None:
            raise InvalidInput(
                f"receivable {root_id} is not on the ledger", code="unknown_receivable"
            )
        return receivable_records(
            subject, root, times.get("ReceivablePastDue"), times.get("ReceivableRepaid")
        )

    def erase(self, signer: Signer, subject: bytes) -> TransactionResult:
        return self._send(signer, "erase_subject", SubjectArgs(subject))

    # -- models and policies ---------------------------------------------------------------
    def register_model(
        self, signer: Signer, model: ScorecardModel, metrics: ModelMetrics
    ) -> TransactionResult:
        return self._send(signer, "register_model", RegisterModelArgs(model, metrics))

    def set_policy(
        self, lender: Signer, policy_id: str, policy: DecisionPolicy
    ) -> TransactionResult:
        return self._send(lender, "set_policy", SetPolicyArgs(policy_id, policy))

    # -- proven reads ----------------------------------------------------------------------
    def _read(self, key: bytes, kind: type[Any], height: int | None) -> Any:
        return self._client.read_struct(CREDIT, key, kind, height=height)

    def subject(self, subject: bytes, *, height: int | None = None) -> Subject | None:
        return self._read(subject_key(subject), Subject, height)  # type: ignore[no-any-return]

    def consent(
        self, subject: bytes, consent_id: int, *, height: int | None = None
    ) -> Consent | None:
        return self._read(consent_key(subject, consent_id), Consent, height)  # type: ignore[no-any-return]

    def record(
        self, subject: bytes, sequence: int, *, height: int | None = None
    ) -> RecordCommitment | None:
        return self._read(record_key(subject, sequence), RecordCommitment, height)  # type: ignore[no-any-return]

    def access(self, subject: bytes, sequence: int, *, height: int | None = None) -> Access | None:
        return self._read(access_key(subject, sequence), Access, height)  # type: ignore[no-any-return]

    def score_record(
        self, subject: bytes, sequence: int, *, height: int | None = None
    ) -> ScoreRecord | None:
        return self._read(score_key(subject, sequence), ScoreRecord, height)  # type: ignore[no-any-return]

    def model(
        self, model_id: str, version: int, *, height: int | None = None
    ) -> ModelRecord | None:
        return self._read(model_key(model_id, version), ModelRecord, height)  # type: ignore[no-any-return]

    def policy(
        self, organization: str, policy_id: str, *, height: int | None = None
    ) -> PolicyRecord | None:
        return self._read(policy_key(organization, policy_id), PolicyRecord, height)  # type: ignore[no-any-return]

    def records_page(
        self,
        subject: bytes,
        *,
        start: int = 0,
        limit: int = MAX_LIST_PAGE,
        height: int | None = None,
    ) -> SubjectPage:
        """A page of the subject's record commitments (``GET …/records``), proven."""
        return self._page("records", subject, start, limit, height)

    def access_log_page(
        self,
        subject: bytes,
        *,
        start: int = 0,
        limit: int = MAX_LIST_PAGE,
        height: int | None = None,
    ) -> SubjectPage:
        """A page of the subject's access log (``GET …/access-log``), proven."""
        return self._page("access-log", subject, start, limit, height)

    def _page(
        self, route: str, subject: bytes, start: int, limit: int, height: int | None
    ) -> SubjectPage:
        """One page of a subject's list route: the subject's proof, then exactly the entries
        its count says exist from ``start`` (none once erased), each proven at its height."""
        if not 1 <= limit <= MAX_LIST_PAGE or start < 0:
            raise ValueError(f"limit must be 1..{MAX_LIST_PAGE} and start at least 0")
        count_of, key_of, kind = _LISTS[route]
        params = {"start": start, "limit": limit, **({} if height is None else {"height": height})}
        answer, _ = self._client.answer_or_absence(
            f"/v1/credit/subjects/{subject.hex()}/{route}", params
        )
        head = self._client.proven_state_answer(
            answer.get("proof"), full_key(CREDIT, subject_key(subject)), height, None
        )
        found = (
            None if head.value is None else decode(head.value, Subject, max_bytes=MAX_PROOF_BYTES)
        )
        count = 0 if found is None else int(getattr(found, count_of))
        listed = found is not None and found.erasure is None
        sequences = range(start, min(count, start + limit)) if listed else range(0)
        entries = answer.get("entries")
        if not isinstance(entries, list) or len(entries) != len(sequences):
            raise VerificationError(f"the page does not hold the subject's {route} from its start")
        values: list[Any] = []
        for sequence, entry in zip(sequences, entries, strict=True):
            proof = entry.get("proof") if isinstance(entry, dict) else None
            key = full_key(CREDIT, key_of(subject, sequence))
            proven = self._client.proven_state_answer(proof, key, head.height, None)
            if proven.value is None:
                raise VerificationError(f"entry {sequence} of the subject's {route} is absent")
            values.append(decode(proven.value, kind, max_bytes=MAX_PROOF_BYTES))
        next_start = start + limit if start + limit < count and values else None
        return SubjectPage(found, start, tuple(values), next_start, head.height)

    def subject_file(self, subject: bytes) -> SubjectFile:
        """The subject's file, every record commitment and every access entry, proven at one
        height (the head when called)."""
        proven = self._client.read_state(CREDIT, subject_key(subject))
        height = proven.height
        time_ms = self._client.header(height).time_ms
        if proven.value is None:
            return SubjectFile(None, [], [], height, time_ms)
        found = decode(proven.value, Subject, max_bytes=MAX_PROOF_BYTES)
        records = (
            [
                self._required(record_key(subject, n), RecordCommitment, height)
                for n in range(found.records)
            ]
            if found.erasure is None
            else []
        )
        accesses = (
            [self._required(access_key(subject, n), Access, height) for n in range(found.accesses)]
            if found.erasure is None
            else []
        )
        return SubjectFile(found, records, accesses, height, time_ms)

    def _required(self, key: bytes, kind: type[Any], height: int) -> Any:
        value = self._read(key, kind, height)
        if value is None:
            raise InvalidInput(f"the chain lacks {key!r} below the subject's count")
        return value

    def head_time_ms(self) -> int:
        """The block time of the head (checked against its commit certificate), or genesis time
        before the first block: what consent expiries and scores are measured against."""
        height = int(self._client.status()["height"])
        if height == 0:
            return self._client.genesis.genesis_time_ms
        return self._client.header(height).time_ms

    # -- scores and decisions --------------------------------------------------------------
    def compute_score(
        self, model: ScorecardModel, subject: bytes, disclosures: list[Disclosure]
    ) -> tuple[ScoreResult, SubjectFile]:
        """The score of ``subject`` from its proven file and the disclosed records, as of the
        block time of the height read (no transaction)."""
        file = self.subject_file(subject)
        result = score_subject(
            self._hash, model, subject, file.records, disclosures, file.accesses, file.time_ms
        )
        return result, file

    def score(
        self,
        lender: Signer,
        subject: bytes,
        consent_id: int,
        purpose: str,
        model_id: str,
        model_version: int,
        disclosures: list[Disclosure],
    ) -> Scored:
        """Score ``subject`` under the approved model version and record the result's hash
        (``record_score``; refused without a live consent, for an unapproved model, an erased
        subject, or when a record or access arrived since the read: ``stale_*``)."""
        record = self.model(model_id, model_version)
        if record is None:
            raise InvalidInput(f"no model {model_id} version {model_version}", code="unknown_model")
        result, file = self.compute_score(record.model, subject, disclosures)
        args = RecordScoreArgs(
            subject,
            consent_id,
            purpose,
            model_id,
            model_version,
            file.time_ms,
            result.record_count,
            result.access_sequence,
            result_hash(self._hash, result),
        )
        return Scored(result, self._send(lender, "record_score", args))

    def decide(
        self,
        lender: Signer,
        result: ScoreResult,
        score_sequence: int,
        policy_id: str,
        policy: DecisionPolicy,
    ) -> tuple[Decision, TransactionResult]:
        """Apply the lender's policy to its score and record the decision's hash."""
        decision = decide(self._hash, policy, result)
        args = RecordDecisionArgs(
            result.subject, score_sequence, policy_id, decision_hash(self._hash, decision)
        )
        return decision, self._send(lender, "record_decision", args)

    @staticmethod
    def consent_id_of(result: TransactionResult) -> int:
        """The ``consent_id`` a committed ``grant_consent`` gave."""
        return decode(result.receipt.result, Consent, max_bytes=MAX_PROOF_BYTES).consent_id

    @staticmethod
    def categories_of(model: ScorecardModel) -> tuple[str, ...]:
        """The categories a score under ``model`` needs consent (and a read) for."""
        return model_categories(model)
