"""Transactions: submit one or a batch, and look one up with its receipt and proofs."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError

from jinqiao.api.answers import Admitted, BatchAnswer, TransactionAnswer, answer
from jinqiao.api.errors import RETRY_AFTER_SECONDS, error_body, status_for, validation_problems
from jinqiao.api.longpoll import LongPolls
from jinqiao.api.openapi import (
    ADMISSION,
    BATCH,
    LOOKUP,
    error_responses,
    hex_pattern,
    json_or_msgpack_body,
)
from jinqiao.api.params import MAX_WAIT_MS, Hash
from jinqiao.api.render import receipt_json
from jinqiao.core.codec import encode
from jinqiao.core.errors import DecodeError, InvalidInput, TransactionTooLarge
from jinqiao.core.limits import (
    MAX_BATCH_TRANSACTIONS,
    MAX_REQUEST_BODY_BYTES,
    MAX_TRANSACTION_BYTES,
)
from jinqiao.node.admission import Admission
from jinqiao.node.port import NodePort
from jinqiao.node.reads import NotFound


class SubmitRequest(BaseModel):
    transaction: str = Field(
        description="Canonical bytes of a SignedTransaction or MultiSignedTransaction, hex "
        f"(at most {MAX_TRANSACTION_BYTES} bytes: a longer one is 413 `transaction_too_large`)",
        pattern=hex_pattern(),
    )


class BatchRequest(BaseModel):
    transactions: list[Annotated[str, Field(pattern=hex_pattern())]] = Field(
        min_length=1, max_length=MAX_BATCH_TRANSACTIONS
    )


class RequestInvalid(InvalidInput):
    """A body that does not match the API's schema."""

    code = "invalid_request"

    def __init__(self, error: ValidationError) -> None:
        super().__init__(
            "the request does not match the API", problems=validation_problems(error.errors())
        )


def router(node: NodePort, long_polls: LongPolls) -> APIRouter:
    routes = APIRouter(tags=["transactions"])
    reader = node.reader

    def admit_one(raw: bytes) -> dict[str, Any]:
        admission = node.admit(raw)
        return {"hash": admission.transaction_hash.hex(), "status": admission.status}

    def admit_all(raws: list[bytes]) -> list[dict[str, Any]]:
        return [
            {"hash": outcome.transaction_hash.hex(), "status": outcome.status}
            if isinstance(outcome, Admission)
            else {"error": error_body(outcome.code, outcome.message), "status": status_for(outcome)}
            for outcome in node.admit_many(raws)
        ]

    @routes.post(
        "/v1/transactions",
        status_code=202,
        response_model=None,
        responses={**answer(Admitted, 202), **error_responses(ADMISSION)},
        openapi_extra=json_or_msgpack_body(
            SubmitRequest, "the canonical bytes of a SignedTransaction or MultiSignedTransaction"
        ),
    )
    async def submit(request: Request) -> dict[str, Any]:
        """Submit one signed transaction: JSON ``{"transaction": hex}`` or, with
        ``Content-Type: application/msgpack``, its canonical bytes as the body."""
        body = await request.body()
        if content_type(request) == "application/msgpack":
            if len(body) > MAX_TRANSACTION_BYTES:
                raise TransactionTooLarge(len(body), MAX_TRANSACTION_BYTES)
            raw = body
        else:
            try:
                parsed = SubmitRequest.model_validate_json(body)
            except ValidationError as exc:
                raise RequestInvalid(exc) from None
            raw = _transaction_hex(parsed.transaction)
        return await asyncio.to_thread(admit_one, raw)

    @routes.post(
        "/v1/transactions/batch",
        responses={**answer(BatchAnswer), **error_responses(BATCH)},
        openapi_extra=json_or_msgpack_body(
            BatchRequest, "a msgpack array of canonical (Multi)SignedTransaction bytes"
        ),
    )
    async def submit_batch(request: Request) -> JSONResponse:
        """Submit up to 5,000 transactions. Each is admitted or refused on its own; when any was
        refused because the node is saturated, the answer carries ``Retry-After``."""
        body = await request.body()
        raws = _batch_items(body, content_type(request))
        results = await asyncio.to_thread(admit_all, raws)
        accepted = sum(1 for r in results if "error" not in r)
        saturated = any(r.get("status") in (429, 503) for r in results)
        return JSONResponse(
            {"accepted": accepted, "refused": len(results) - accepted, "results": results},
            headers={"Retry-After": RETRY_AFTER_SECONDS} if saturated else None,
        )

    @routes.get(
        "/v1/transactions/{transaction_hash:not_batch}",
        response_model=None,
        responses={**answer(TransactionAnswer), **error_responses(LOOKUP)},
    )
    async def transaction(
        transaction_hash: Hash,
        request: Request,
        wait_ms: Annotated[int, Query(ge=0, le=MAX_WAIT_MS)] = 0,
    ) -> dict[str, Any]:
        identity = bytes.fromhex(transaction_hash)
        if wait_ms:
            await long_polls.wait(request, node.wait_for_transaction(identity, wait_ms / 1000))
        record = await asyncio.to_thread(reader.transaction, identity)
        if record is None:
            if node.is_pending(identity):
                return {"hash": transaction_hash, "status": "pending"}
            raise NotFound(f"transaction {transaction_hash} is neither pending nor committed")
        return {
            "hash": transaction_hash,
            "status": "committed",
            "height": record.height,
            "index": record.index,
            "receipt": receipt_json(record.receipt),
            "transaction_proof": encode(record.transaction_proof).hex(),
            "receipt_proof": encode(record.receipt_proof).hex(),
        }

    return routes


def content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _transaction_hex(value: str) -> bytes:
    """A transaction's bytes from hex that matched ``hex_pattern()``: over
    ``MAX_TRANSACTION_BYTES`` is ``transaction_too_large``, as for a msgpack body."""
    if len(value) > 2 * MAX_TRANSACTION_BYTES:
        raise TransactionTooLarge(len(value) // 2, MAX_TRANSACTION_BYTES)
    return bytes.fromhex(value)


def _batch_items(body: bytes, kind: str) -> list[bytes]:
    if len(body) > MAX_REQUEST_BODY_BYTES:
        raise InvalidInput("request body too large", code="request_too_large")
    if kind == "application/msgpack":
        try:
            items = msgspec.msgpack.decode(body, type=list[bytes])
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise DecodeError(f"batch is not a msgpack array of byte strings: {exc}") from None
    else:
        try:
            request = BatchRequest.model_validate_json(body)
        except ValidationError as exc:
            raise RequestInvalid(exc) from None
        # Whole bytes of hex (the pattern); an oversize one is refused on its own in admission,
        # as in a msgpack batch.
        items = [bytes.fromhex(item) for item in request.transactions]
    if len(items) > MAX_BATCH_TRANSACTIONS:
        raise InvalidInput(f"a batch holds at most {MAX_BATCH_TRANSACTIONS} transactions")
    if not items:
        raise InvalidInput("the batch is empty")
    return items
