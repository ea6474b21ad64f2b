"""The success answers' bodies as the OpenAPI document declares them (ADR 0040), so that a
generator makes typed clients from ``/openapi.json``.

Each model states exactly what its route returns today (docs/api.md, docs/proofs.md define the
wire format). Routes declare one with ``answer(Model)`` and ``response_model=None``: the model is
the document's, the route still returns its plain dict, so declaring a model changes no byte on
the wire and costs no validation per request; schemathesis checks every answer against it
(tests/integration/test_api_conformance.py) and tests/e2e/test_answer_models.py validates the
answers of a node with state in every application against the document.

One module per area of routes: ``chain`` (node, chain, state, token, transactions),
``payments`` (payments records, figures and reports), ``supplychain`` (items, events,
receivables, EPCIS), ``credit`` and ``private`` (private documents).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from jinqiao.api.answers.chain import (
    AccountAnswer,
    Admitted,
    AssetView,
    BatchAnswer,
    BlockAnswer,
    BlockTransaction,
    CertificateView,
    CommitSignatureView,
    Consensus,
    ConsensusValidator,
    Event,
    GenesisFile,
    HeaderView,
    Health,
    PeerView,
    QueryAnswer,
    ReceiptView,
    Refused,
    Status,
    TokenAsset,
    TokenBalance,
    TransactionAnswer,
    ValidatorChange,
    ValidatorChanges,
    ValidatorEntry,
)
from jinqiao.api.openapi import ErrorBody, ProvenValue


def answer(
    model: type[BaseModel], status: int = 200, *media_types: str
) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` entry that declares ``model`` as the JSON body of the ``status``
    answer and, for a route that answers files too (``response_class=Response``), each of
    ``media_types`` as text."""
    declared: dict[str, Any] = {"model": model, "description": model.__doc__ or model.__name__}
    if media_types:
        # JSON first (FastAPI fills its schema from the model), then the files.
        declared["content"] = {
            "application/json": {},
            **{media_type: {"schema": {"type": "string"}} for media_type in media_types},
        }
    return {status: declared}


__all__ = [
    "AccountAnswer",
    "Admitted",
    "AssetView",
    "BatchAnswer",
    "BlockAnswer",
    "BlockTransaction",
    "CertificateView",
    "CommitSignatureView",
    "Consensus",
    "ConsensusValidator",
    "ErrorBody",
    "Event",
    "GenesisFile",
    "HeaderView",
    "Health",
    "PeerView",
    "ProvenValue",
    "QueryAnswer",
    "ReceiptView",
    "Refused",
    "Status",
    "TokenAsset",
    "TokenBalance",
    "TransactionAnswer",
    "ValidatorChange",
    "ValidatorChanges",
    "ValidatorEntry",
    "answer",
]
