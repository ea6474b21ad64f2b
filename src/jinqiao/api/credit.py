"""Read endpoints of the credit contract (``docs/credit.md``, "API"; ``docs/api.md``, "Credit").

Every answer carries each value's ``StateReadProof`` (canonical, hex), exactly as
``GET /v1/state/credit/{key}`` would, beside the decoded record. A subject unknown to the chain
is a **proven absence** (``subject`` null with the proof of absence); any other absent value is
``404 not_found`` whose details prove the absence (``docs/proofs.md`` §9.2). A subject's record
commitments and access log are read at one height, each entry with its own proof. Writes
(consent, records, reads, scores, decisions, erasure) go through ``POST /v1/transactions`` like
every other contract call; the SDK (``client.credit``) builds them.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from jinqiao.api.authentication import IDENTITY_KEY, Identity
from jinqiao.api.openapi import LOOKUP, error_responses, with_proven_absence
from jinqiao.api.proven import proven_absence
from jinqiao.api.render import to_json
from jinqiao.apps.credit.model import (
    CREDIT,
    Access,
    Consent,
    ModelRecord,
    PolicyRecord,
    RecordCommitment,
    ScoreRecord,
    Subject,
    access_key,
    consent_key,
    model_key,
    policy_key,
    record_key,
    score_key,
    subject_key,
)
from jinqiao.core.codec import decode_stored, encode
from jinqiao.core.proofs import StateReadProof
from jinqiao.execution.state import full_key
from jinqiao.node.credit_disclosure import (
    CreditRecordsErased,
    access_categories,
    disclosures_json,
    gather,
)
from jinqiao.node.port import NodePort
from jinqiao.node.private_data import LOCAL_ONLY_PARAMETER

MAX_SEQUENCE = 2**63 - 1
MAX_LIST_PAGE = 100
"""Entries per page of a subject's records or access log (each carries its own proof)."""
SUBJECT_HEX = r"^[0-9a-f]{64}$"
IDENTIFIER = r"^[a-z0-9][a-z0-9_.-]{0,63}$"

SubjectHex = Annotated[
    str,
    Path(pattern=SUBJECT_HEX, description="The subject hash: 64 lower-case hex digits"),
]
Sequence = Annotated[int, Path(ge=0, le=MAX_SEQUENCE)]
Identifier = Annotated[str, Path(pattern=IDENTIFIER, max_length=64)]
Height = Annotated[int | None, Query(ge=1, le=2**63, description="Default: the head")]
Start = Annotated[int, Query(ge=0, le=MAX_SEQUENCE)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIST_PAGE)]
READ = with_proven_absence(error_responses(LOOKUP))
DISCLOSURE_CODES = {410: ("credit_records_erased",)}
LocalOnly = Annotated[
    bool,
    Query(alias=LOCAL_ONLY_PARAMETER, description="Answer from this node's store only, never pull"),
]


def router(node: NodePort) -> APIRouter:
    routes = APIRouter()
    reader = node.reader

    def read(key: bytes, height: int | None) -> StateReadProof:
        return reader.state(full_key(CREDIT, key), height)

    def proven(name: str, proof: StateReadProof, kind: type[Any], key: bytes) -> dict[str, Any]:
        return {
            name: None if proof.value is None else to_json(decode_stored(proof.value, kind)),
            "key": key.hex(),
            "height": proof.header.height,
            "state_root": proof.header.state_root.hex(),
            "proof": encode(proof).hex(),
        }

    def view(
        name: str, key: bytes, kind: type[Any], height: int | None, missing: str
    ) -> dict[str, Any]:
        proof = read(key, height)
        if proof.value is None:
            raise proven_absence(missing, proof)
        return proven(name, proof, kind, key)

    def listing(
        subject: str,
        height: int | None,
        start: int,
        limit: int,
        count_of: str,
        key_of: Any,
        kind: type[Any],
    ) -> dict[str, Any]:
        raw = bytes.fromhex(subject)
        head = read(subject_key(raw), height)
        answer = proven("subject", head, Subject, subject_key(raw))
        count = 0
        if head.value is not None:
            count = getattr(decode_stored(head.value, Subject), count_of)
        at = head.header.height
        entries = []
        for sequence in range(start, min(count, start + limit)):
            key = key_of(raw, sequence)
            proof = read(key, at)
            if proof.value is None:  # erased: the counts stay, the entries are gone
                break
            entries.append(proven("entry", proof, kind, key))
        answer["entries"] = entries
        answer["next_start"] = start + limit if start + limit < count and entries else None
        return answer

    @routes.get("/v1/credit/subjects/{subject}", tags=["credit"], responses=READ)
    def subject(subject: SubjectHex, height: Height = None) -> dict[str, Any]:
        """A subject's file (counts, institutions that know it, erasure), proven; a subject the
        chain does not know is a proven absence (``subject`` null)."""
        key = subject_key(bytes.fromhex(subject))
        return proven("subject", read(key, height), Subject, key)

    @routes.get(
        "/v1/credit/subjects/{subject}/consents/{consent_id}", tags=["credit"], responses=READ
    )
    def consent(subject: SubjectHex, consent_id: Sequence, height: Height = None) -> dict[str, Any]:
        """A consent (grantee, purpose, categories, expiry, revocation), proven."""
        key = consent_key(bytes.fromhex(subject), consent_id)
        return view("consent", key, Consent, height, f"no consent {consent_id} of this subject")

    @routes.get("/v1/credit/subjects/{subject}/records", tags=["credit"], responses=READ)
    def records(
        subject: SubjectHex, start: Start = 0, limit: Limit = MAX_LIST_PAGE, height: Height = None
    ) -> dict[str, Any]:
        """A page of the subject's record commitments from ``start``, with the subject's file,
        every entry proven at one height; ``next_start`` null after the last."""
        return listing(subject, height, start, limit, "records", record_key, RecordCommitment)

    @routes.get("/v1/credit/subjects/{subject}/records/{sequence}", tags=["credit"], responses=READ)
    def record(subject: SubjectHex, sequence: Sequence, height: Height = None) -> dict[str, Any]:
        """One record commitment (category, month, submitter, commitment), proven."""
        key = record_key(bytes.fromhex(subject), sequence)
        return view("record", key, RecordCommitment, height, f"no record {sequence}")

    @routes.get("/v1/credit/subjects/{subject}/access-log", tags=["credit"], responses=READ)
    def access_log(
        subject: SubjectHex, start: Start = 0, limit: Limit = MAX_LIST_PAGE, height: Height = None
    ) -> dict[str, Any]:
        """Who looked: a page of the subject's access log from ``start``, with the subject's
        file, every entry proven at one height."""
        return listing(subject, height, start, limit, "accesses", access_key, Access)

    @routes.get("/v1/credit/subjects/{subject}/scores/{sequence}", tags=["credit"], responses=READ)
    def score(subject: SubjectHex, sequence: Sequence, height: Height = None) -> dict[str, Any]:
        """A recorded score (lender, model version, inputs' extent, result hash) and its
        decision once recorded, proven."""
        key = score_key(bytes.fromhex(subject), sequence)
        return view("score", key, ScoreRecord, height, f"no score {sequence} of this subject")

    @routes.get(
        "/v1/credit/subjects/{subject}/disclosures/{sequence}",
        tags=["credit"],
        responses=error_responses(DISCLOSURE_CODES),
    )
    async def disclosures(
        subject: SubjectHex, sequence: Sequence, request: Request, local_only: LocalOnly = False
    ) -> dict[str, Any]:
        """The records disclosed to the reader of the subject's access entry ``sequence`` (a
        committed ``read_records`` of the caller's organization under a consent live at the
        head; ``api.access`` checks it): this node's own, and, asked by its own organization,
        those of its ``private_data_sources`` (each asked with ``local_only``). Each disclosure
        is a canonical ``Disclosure`` in hex; the reader checks them against the commitments."""
        raw = bytes.fromhex(subject)
        with node.reading() as reading:
            categories = access_categories(reading.get, raw, sequence)
            at = reading.height
        private = node.private_data
        if categories is None or await asyncio.to_thread(private.credit.is_erased, raw):
            raise CreditRecordsErased(f"subject {subject} is erased: its records are destroyed")
        found = await asyncio.to_thread(private.credit.disclose, raw, categories)
        identity: Identity | None = request.scope.get(IDENTITY_KEY)
        asked: list[dict[str, Any]] = []
        if (
            not local_only
            and identity is not None
            and identity.organization == private.organization
        ):
            for answer in await asyncio.to_thread(gather, private.sources, raw, sequence):
                found += answer.disclosures
                asked.append(
                    {
                        "source": answer.source,
                        "status": answer.status,
                        "disclosed": len(answer.disclosures),
                    }
                )
        return {
            "subject": subject,
            "access_sequence": sequence,
            "categories": list(categories),
            "height": at,
            "disclosures": disclosures_json(found),
            "sources": asked,
        }

    @routes.get("/v1/credit/models/{model_id}/{version}", tags=["credit"], responses=READ)
    def model(
        model_id: Identifier,
        version: Annotated[int, Path(ge=1, le=MAX_SEQUENCE)],
        height: Height = None,
    ) -> dict[str, Any]:
        """A registered model version (points table, artifact hash, metrics, approval height:
        0 until governance approves it), proven."""
        key = model_key(model_id, version)
        return view("model", key, ModelRecord, height, f"no model {model_id} version {version}")

    @routes.get("/v1/credit/policies/{organization}/{policy_id}", tags=["credit"], responses=READ)
    def policy(
        organization: Identifier, policy_id: Identifier, height: Height = None
    ) -> dict[str, Any]:
        """A lender's decision policy, proven."""
        key = policy_key(organization, policy_id)
        return view("policy", key, PolicyRecord, height, f"{organization} has no {policy_id}")

    return routes


__all__ = ["router"]
