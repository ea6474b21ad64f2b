"""The API's contract as the OpenAPI document states it (DESIGN.md §3 "API": the document declares
every answer). Shared here: the common error body, the answers every route can give, the answer
sets of the route families, the non-JSON media types of some answers, and hex parameters with the
plain words a refusal of one uses.

Routes declare ``responses=error_responses(...)``; ``install_openapi`` drops FastAPI's automatic
``422`` (this API answers a request that does not match it with ``400 invalid_request``).
"""

from __future__ import annotations

import http
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field

Codes = Mapping[int, tuple[str, ...]]

MAX_BODY_BYTES_KEY = "x-max-body-bytes"
"""A route's own request body limit, in its ``openapi_extra`` (so the document states it too) and
enforced by ``api.app.BodyLimit``; a route without one has ``MAX_REQUEST_BODY_BYTES``."""


class ErrorBody(BaseModel):
    """Every refusal and error: a stable ``code`` (docs/errors.md), a sentence, and details."""

    code: str = Field(description="Stable code, listed in docs/errors.md")
    message: str = Field(description="What went wrong, in words")
    details: dict[str, Any] = Field(
        description="Facts about the refusal (e.g. `problems` for `invalid_request`)"
    )


EVERY_ROUTE: Codes = {
    400: ("untrusted_host",),
    401: ("unauthenticated", "certificate_refused", "signature_refused"),
    403: ("cross_origin_refused", "forbidden"),
    413: ("request_too_large",),
    415: ("unsupported_media_type",),
    429: ("rate_limited",),
    500: ("node_fault",),
}
"""Answers any route can give: the HTTP middleware's refusals (a Host header that is not the
node's, a foreign ``Origin``, a body over its limit, a JSON body without a JSON content type), the
access rules' (no or a refused client certificate or request signature, a caller not entitled, a
caller over its rate limit: ``api.access``, ``api.ratelimit``; never on the public ``/healthz``
and ``/v1/genesis``) and a node fault (a bug; logged)."""

PARAMETERS: Codes = {400: ("invalid_request",)}
"""A path or query parameter outside its declared type, range or pattern."""

LOOKUP: Codes = {400: ("invalid_request",), 404: ("not_found",)}
"""A read of one record that may be absent."""

ADMISSION: Codes = {
    400: (
        "invalid_request",
        "invalid_input",
        "decode_error",
        "address_mismatch",
        "duplicate_signer",
        "invalid_nonce",
        "invalid_arguments",
    ),
    401: ("invalid_signature",),
    403: (
        "unknown_sender",
        "key_mismatch",
        "key_revoked",
        "foreign_signature",
        "under_threshold",
        "approval_required",
        "sender_suspended",
        "organization_suspended",
        "unauthorized",
    ),
    404: ("unknown_contract", "unknown_method"),
    409: ("duplicate_transaction",),
    413: ("transaction_too_large",),
    422: ("wrong_chain", "expired", "valid_until_too_far"),
    429: ("too_many_pending",),
    503: ("mempool_full", "backlog_full"),
}
"""Admission of one transaction (docs/errors.md, "Request and admission")."""

BATCH: Codes = {400: ("invalid_request", "invalid_input", "decode_error")}
"""A batch refused whole; each transaction's own refusal is in its ``results`` entry."""

QUERY: Codes = {
    400: ("invalid_request", "invalid_arguments"),
    404: ("unknown_method", "unknown_institution"),
    413: ("request_too_large",),
    422: ("the query's rejection codes (docs/errors.md)",),
}
"""A read-only contract query."""

REPORT: Codes = {
    400: ("invalid_request", "invalid_input"),
    404: ("not_found", "not_in_cycle"),
}
"""A payments report built from the cycle's records."""

RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying",
        "required": True,
        "schema": {"type": "string"},
    }
}


def error_responses(*families: Codes) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route: ``EVERY_ROUTE`` and the answers of its ``families``, each
    status with the common error body and its codes in words."""
    merged: dict[int, list[str]] = {}
    for family in (EVERY_ROUTE, *families):
        for status, codes in family.items():
            known = merged.setdefault(status, [])
            known.extend(code for code in codes if code not in known)
    responses: dict[int | str, dict[str, Any]] = {}
    for status in sorted(merged):
        answer: dict[str, Any] = {
            "model": ErrorBody,
            "description": f"{http.HTTPStatus(status).phrase}: "
            + ", ".join(f"`{code}`" if code.isidentifier() else code for code in merged[status]),
        }
        if status in (429, 503):
            answer["headers"] = RETRY_AFTER
        responses[status] = answer
    return responses


def media_answer(*media_types: str, status: int = 200) -> dict[int | str, dict[str, Any]]:
    """A success answer in ``media_types``, none of them JSON (a JSON answer, alone or beside
    files, is declared by ``api.answers.answer`` with its model): with
    ``response_class=Response`` FastAPI declares no media type of its own."""
    if "application/json" in media_types:
        raise ValueError("a JSON answer is declared with api.answers.answer and its model")
    return {
        status: {
            "content": {media_type: {"schema": {"type": "string"}} for media_type in media_types}
        }
    }


def json_or_msgpack_body(model: type[BaseModel], msgpack_description: str) -> dict[str, Any]:
    """The ``openapi_extra`` of a route that reads its body itself: JSON ``model``, or msgpack
    bytes with ``Content-Type: application/msgpack``."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": model.model_json_schema()},
                "application/msgpack": {
                    "schema": {"type": "string", "format": "binary"},
                    "description": msgpack_description,
                },
            },
        }
    }


def hex_pattern(size_bytes: int | None = None) -> str:
    """Exactly ``size_bytes`` bytes as hex or, without a size, one or more whole bytes."""
    if size_bytes is None:
        return "^(?:[0-9a-fA-F]{2})+$"
    return f"^[0-9a-fA-F]{{{2 * size_bytes}}}$"


def hex_problem(pattern: str, value: Any) -> str | None:
    """A hex refusal in plain words (odd length, wrong length, not hex), or None when ``pattern``
    is not one of ``hex_pattern``'s."""
    if not pattern.startswith("^") or "[0-9a-fA-F]" not in pattern or not isinstance(value, str):
        return None
    if any(character not in "0123456789abcdefABCDEF" for character in value):
        return f"{value[:80]!r} is not hex (digits 0-9 and a-f only)"
    if len(value) % 2:
        return f"{len(value)} hex digits is an odd number: a byte is two digits"
    if pattern == hex_pattern():
        return "empty: expected at least one byte as hex"
    expected = pattern.removeprefix("^[0-9a-fA-F]{").removesuffix("}$")
    return f"{len(value) // 2} bytes; expected {int(expected) // 2} bytes ({expected} hex digits)"


def install_openapi(app: FastAPI) -> None:
    """Build the document without FastAPI's automatic ``422 HTTPValidationError``: this API
    answers a request that does not match it with ``400 invalid_request`` (declared per route)."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            for operations in document.get("paths", {}).values():
                for operation in operations.values():
                    answer = operation.get("responses", {}).get("422", {})
                    schema = answer.get("content", {}).get("application/json", {}).get("schema")
                    if schema == {"$ref": "#/components/schemas/HTTPValidationError"}:
                        del operation["responses"]["422"]
            schemas = document.get("components", {}).get("schemas", {})
            schemas.pop("HTTPValidationError", None)
            schemas.pop("ValidationError", None)
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]


PRUNED: Codes = {410: ("height_pruned",)}
"""A read of a block, or of state at a height, that a pruning node may no longer keep
(docs/operations.md "Storage retention")."""

FRESH: Codes = {409: ("height_not_reached",), **PRUNED}
"""A proven read that takes ``min_height`` (docs/proofs.md §9.1) or a ``height`` whose state a
pruning node may no longer keep (docs/operations.md "Storage retention")."""


class ProvenValue(BaseModel):
    """A proven state read (docs/proofs.md): the value or its proven absence, and the proof."""

    key: str = Field(description="The full state key read, hex")
    value: str | None = Field(description="The stored bytes, hex; null: proven absent")
    height: int = Field(description="Height of the header the proof is against")
    time_ms: int = Field(description="That block's time (ms since the epoch)")
    state_root: str = Field(description="That header's state root, hex")
    proof: str = Field(description="Canonical StateReadProof, hex")


class ProvenAbsence(ProvenValue):
    """The ``details`` of a 404 from a proven read: the absence proven (docs/proofs.md §9.2)."""

    model_config = {"extra": "allow"}

    value: None = Field(description="Always null: the key holds nothing")
    proof: str = Field(description="Canonical StateReadProof with value nil, hex")


class ProvenAbsenceBody(BaseModel):
    """A 404 ``not_found`` that proves the record absent."""

    code: str = Field(description="`not_found`")
    message: str = Field(description="What is not there, in words")
    details: ProvenAbsence | dict[str, Any] = Field(
        description="The absence proven or, when the height asked for is not committed, the "
        "facts of that refusal (no proof)"
    )


def proven_read_responses(*families: Codes) -> dict[int | str, dict[str, Any]]:
    """``error_responses`` of a proven read of one record: ``LOOKUP`` and ``FRESH``, with the
    404 answer's body ``ProvenAbsenceBody`` (the absence proven)."""
    return with_proven_absence(error_responses(LOOKUP, FRESH, *families))


def with_proven_absence(
    responses: dict[int | str, dict[str, Any]],
) -> dict[int | str, dict[str, Any]]:
    """``responses`` whose 404 answer's body is ``ProvenAbsenceBody`` (the absence proven)."""
    responses[404] = {
        **responses[404],
        "model": ProvenAbsenceBody,
        "description": "Not Found: `not_found`, the record proven absent (`details.proof`), "
        "or no block at the height asked for (no proof)",
    }
    return responses


__all__ = [
    "ADMISSION",
    "BATCH",
    "EVERY_ROUTE",
    "FRESH",
    "LOOKUP",
    "MAX_BODY_BYTES_KEY",
    "PARAMETERS",
    "QUERY",
    "REPORT",
    "ErrorBody",
    "ProvenAbsence",
    "ProvenAbsenceBody",
    "ProvenValue",
    "error_responses",
    "hex_pattern",
    "hex_problem",
    "install_openapi",
    "json_or_msgpack_body",
    "media_answer",
    "proven_read_responses",
    "with_proven_absence",
]
