"""The error model: every failure is JSON ``{"code", "message", "details"}``; every client mistake
is a 4xx with a stable code (docs/errors.md lists them all)."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Match, Route

from jinqiao.api.openapi import hex_problem
from jinqiao.core.errors import JinqiaoError, NodeFault

log = logging.getLogger(__name__)

STATUS_BY_CODE: dict[str, int] = {
    "decode_error": 400,
    "untrusted_host": 400,
    "cross_origin_refused": 403,
    "unauthenticated": 401,
    "certificate_refused": 401,
    "signature_refused": 401,
    "forbidden": 403,
    "private_data_mismatch": 400,
    "private_data_not_held": 404,
    "private_data_erased": 410,
    "credit_records_erased": 410,
    "height_pruned": 410,
    "private_data_source_mismatch": 502,
    "unsupported_media_type": 415,
    "too_many_connections": 503,
    "invalid_input": 400,
    "invalid_request": 400,
    "invalid_arguments": 400,
    "invalid_nonce": 400,
    "address_mismatch": 400,
    "duplicate_signer": 400,
    "invalid_signature": 401,
    "unknown_sender": 403,
    "key_mismatch": 403,
    "key_revoked": 403,
    "foreign_signature": 403,
    "under_threshold": 403,
    "approval_required": 403,
    "sender_suspended": 403,
    "organization_suspended": 403,
    "unauthorized": 403,
    "not_found": 404,
    "before_snapshot_base": 404,
    "unknown_contract": 404,
    "unknown_method": 404,
    "duplicate_transaction": 409,
    "request_too_large": 413,
    "transaction_too_large": 413,
    "wrong_chain": 422,
    "expired": 422,
    "valid_until_too_far": 422,
    "too_many_subscribers": 429,
    "too_many_pending": 429,
    "rate_limited": 429,
    "mempool_full": 503,
    "backlog_full": 503,
    "reconciliation_file_invalid": 400,
    "not_in_cycle": 404,
    "cycle_not_settled": 409,
    "unknown_institution": 404,
    "not_acquirer_in_cycle": 404,
    "no_merchant_payouts": 409,
    "height_not_reached": 409,
    "proof_too_large": 413,
    "malformed_identifier": 400,
    "invalid_check_digit": 400,
    "malformed_uri": 400,
    "not_serialized": 400,
    "malformed_scan": 400,
    "capture_not_configured": 404,
    "epcis_malformed": 400,
    "epcis_schema_invalid": 400,
    "epcis_context_refused": 400,
    "epcis_event_count": 400,
    "epcis_invalid_hash": 400,
    "epcis_invalid_time": 400,
    "epcis_hash_failed": 400,
    "epcis_unsupported_event": 400,
    "epcis_unknown_receiver": 400,
    "epcis_too_large": 413,
}
DEFAULT_REJECTION_STATUS = 422
RETRY_AFTER_SECONDS = "1"


def status_for(error: JinqiaoError) -> int:
    if isinstance(error, NodeFault):
        return 500
    return STATUS_BY_CODE.get(error.code, DEFAULT_REJECTION_STATUS)


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "details": details or {}}


def error_response(error: JinqiaoError) -> JSONResponse:
    status = status_for(error)
    headers = {"Retry-After": RETRY_AFTER_SECONDS} if status in (429, 503) else None
    return JSONResponse(
        error_body(error.code, error.message, _jsonable(error.details)), status, headers=headers
    )


def _client(request: Request) -> str:
    return "unknown" if request.client is None else request.client.host


def _jsonable(details: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.hex() if isinstance(v, bytes) else v) for k, v in details.items()}


@dataclass(frozen=True)
class EncodedError:
    """An error answer encoded once, for a plain ASGI middleware to send (``send_encoded``) as
    often as it is needed."""

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes


def encode_error(
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    *,
    retry_after_s: int | None = None,
) -> EncodedError:
    """The error answer of ``code`` (its status from ``STATUS_BY_CODE``); ``retry_after_s``
    becomes its ``Retry-After``."""
    body = json.dumps(error_body(code, message, _jsonable(details or {}))).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if retry_after_s is not None:
        headers.append((b"retry-after", str(retry_after_s).encode()))
    return EncodedError(STATUS_BY_CODE[code], tuple(headers), body)


async def send_encoded(send: Any, answer: EncodedError) -> None:
    await send({"type": "http.response.start", "status": answer.status, "headers": answer.headers})
    await send({"type": "http.response.body", "body": answer.body})


async def send_error(
    send: Any,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    *,
    retry_after_s: int | None = None,
) -> None:
    """The error answer of a plain ASGI middleware, which runs outside FastAPI's handlers;
    ``retry_after_s`` becomes its ``Retry-After``."""
    await send_encoded(send, encode_error(code, message, details, retry_after_s=retry_after_s))


def validation_problems(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """The first 20 problems of a validation failure: where, and what."""
    return [
        {"location": ".".join(str(part) for part in e.get("loc", ())), "problem": _problem(e)}
        for e in errors[:20]
    ]


def _problem(error: Any) -> Any:
    """Pydantic's words for a problem, or plain ones for a hex parameter that does not match."""
    if error.get("type") == "string_pattern_mismatch":
        plain = hex_problem(str(error.get("ctx", {}).get("pattern", "")), error.get("input"))
        if plain is not None:
            return plain
    return error.get("msg")


def allowed_methods(request: Request) -> list[str]:
    """Every method a route of the app serves at the request's path (``HEAD`` with ``GET``)."""
    methods: set[str] = set()
    routers: list[Any] = [request.app, *getattr(request.app.state, "routers", [])]
    for router in routers:
        for route in router.routes:
            if isinstance(route, Route) and route.matches(request.scope)[0] is not Match.NONE:
                methods |= route.methods or set()
    return sorted(methods)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(JinqiaoError)
    async def jinqiao_error(request: Request, error: JinqiaoError) -> JSONResponse:
        if isinstance(error, NodeFault):
            log.error("node fault serving %s: %s %s", request.url.path, error, error.details)
        return error_response(error)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            error_body(
                "invalid_request",
                "the request does not match the API",
                {"problems": validation_problems(error.errors())},
            ),
            400,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}.get(
            error.status_code, "http_error"
        )
        # A 405 carries ``Allow`` (RFC 9110 §15.5.6). Starlette names the methods of the first
        # route that matched the path only; a path served by several routes (one per method)
        # allows them all.
        headers = error.headers
        if error.status_code == 405:
            headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(request))}
        return JSONResponse(error_body(code, str(error.detail)), error.status_code, headers=headers)

    @app.exception_handler(ClientDisconnect)
    async def client_disconnected(request: Request, error: ClientDisconnect) -> JSONResponse:
        # A client may go at any time; that is not the node's fault and costs one debug line.
        # The answer is never delivered: there is nobody left to read it.
        log.debug("client %s went away during %s", _client(request), request.url.path)
        return JSONResponse(error_body("invalid_request", "the client went away"), 400)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error serving %s", request.url.path)
        return JSONResponse(error_body("node_fault", "internal error; see the node log"), 500)
