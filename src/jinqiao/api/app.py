"""The HTTP API of a node. OpenAPI at ``/openapi.json``, interactive docs at ``/docs``.

Submitting: ``POST /v1/transactions`` (one, JSON) and ``POST /v1/transactions/batch`` (JSON, or a
msgpack array of transaction byte strings with ``Content-Type: application/msgpack``). Reading:
blocks, transactions with receipts and proofs, state with proofs, accounts, token balances,
payments records with proofs (``api.payments``), a Server-Sent Events stream, ``/healthz`` and
``/metrics``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

import msgspec
from fastapi import FastAPI, Path, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field, ValidationError
from starlette.convertors import StringConvertor, register_url_convertor
from starlette.routing import Match

from jinqiao import __version__
from jinqiao.api.errors import (
    RETRY_AFTER_SECONDS,
    error_body,
    install_error_handlers,
    send_error,
    status_for,
    validation_problems,
)
from jinqiao.api.longpoll import LongPolls
from jinqiao.api.openapi import (
    ADMISSION,
    BATCH,
    LOOKUP,
    MAX_BODY_BYTES_KEY,
    PARAMETERS,
    QUERY,
    error_responses,
    hex_pattern,
    install_openapi,
    json_or_msgpack_body,
    media_answer,
)
from jinqiao.api.payments import add_payments_routes
from jinqiao.api.render import block_json, receipt_json, to_json
from jinqiao.api.reports import add_report_routes
from jinqiao.apps.token import SYMBOL as TOKEN_SYMBOL
from jinqiao.apps.token import TOKEN, Asset, Holding, asset_key, balance_key, supply_key
from jinqiao.core.codec import decode_stored, encode
from jinqiao.core.errors import DecodeError, InvalidInput, TransactionTooLarge
from jinqiao.core.genesis import genesis_hash
from jinqiao.core.hashing import header_hash
from jinqiao.core.limits import (
    MAX_BATCH_TRANSACTIONS,
    MAX_NAME_LENGTH,
    MAX_REQUEST_BODY_BYTES,
    MAX_STATE_KEY_BYTES,
    MAX_TRANSACTION_BYTES,
)
from jinqiao.core.types import CommittedBlock
from jinqiao.execution.identity import REGISTRY, Account, account_key
from jinqiao.execution.state import full_key
from jinqiao.node.admission import Admission
from jinqiao.node.reads import NotFound, Reader
from jinqiao.node.service import Node, Subscription

MAX_WAIT_MS = 30_000
MAX_WAIT_AHEAD_BLOCKS = 1
"""A block request may wait for the next block only, not for one far in the future."""
MAX_QUERY_BODY_BYTES = 64 * 1024
MAX_EVENT_REPLAY_BLOCKS = 10_000
NAME = r"^[a-z0-9_.-]{1,64}$"
SYMBOL = rf"^{TOKEN_SYMBOL.pattern}$"


class NotBatchConvertor(StringConvertor):
    """A path segment other than ``batch``: ``GET /v1/transactions/batch`` is the batch route's
    ``405`` with ``Allow: POST``, not a request for a transaction whose hash is "batch"."""

    regex = "(?!batch$)[^/]+"


register_url_convertor("not_batch", NotBatchConvertor())

Hash = Annotated[str, Path(pattern=hex_pattern(32), description="32 bytes as 64 hex digits")]
Address = Annotated[str, Path(pattern=hex_pattern(20), description="20 bytes as 40 hex digits")]
StateKey = Annotated[
    str,
    Path(
        pattern=hex_pattern(),
        max_length=2 * MAX_STATE_KEY_BYTES,
        description=f"1 to {MAX_STATE_KEY_BYTES} bytes as hex (two digits a byte)",
    ),
]


class SubmitRequest(BaseModel):
    transaction: str = Field(
        description="Canonical bytes of a SignedTransaction, hex (at most "
        f"{MAX_TRANSACTION_BYTES} bytes: a longer one is 413 `transaction_too_large`)",
        pattern=hex_pattern(),
    )


class BatchRequest(BaseModel):
    transactions: list[Annotated[str, Field(pattern=hex_pattern())]] = Field(
        min_length=1, max_length=MAX_BATCH_TRANSACTIONS
    )


class BodyLimit:
    """Refuses request bodies over their route's limit (``MAX_BODY_BYTES_KEY``, else
    ``limit_bytes``) with 413 before reading them whole."""

    def __init__(self, app: FastAPI, limit_bytes: int) -> None:
        self.app = app
        self.limit_bytes = limit_bytes
        self.route_limits: list[tuple[APIRoute, int]] | None = None

    def limit_for(self, scope: Any) -> int:
        if self.route_limits is None:  # the routes are all added once the app serves
            self.route_limits = []
            for route in self.app.routes:
                extra = getattr(route, "openapi_extra", None) or {}
                if isinstance(route, APIRoute) and MAX_BODY_BYTES_KEY in extra:
                    self.route_limits.append((route, int(extra[MAX_BODY_BYTES_KEY])))
        for route, limit in self.route_limits:
            if route.matches(scope)[0] is Match.FULL:
                return limit
        return self.limit_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await _send_too_large(send, limit)
                return
        received = 0

        async def limited_receive() -> Any:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise InvalidInput(f"request body over {limit} bytes", code="request_too_large")
            return message

        await self.app(scope, limited_receive, send)


async def _send_too_large(send: Any, limit: int) -> None:
    await send_error(send, "request_too_large", f"request body over {limit} bytes")


def _transaction_hex(value: str) -> bytes:
    """A transaction's bytes from hex that matched ``hex_pattern()``: over
    ``MAX_TRANSACTION_BYTES`` is ``transaction_too_large``, as for a msgpack body."""
    if len(value) > 2 * MAX_TRANSACTION_BYTES:
        raise TransactionTooLarge(len(value) // 2, MAX_TRANSACTION_BYTES)
    return bytes.fromhex(value)


def create_app(node: Node) -> FastAPI:
    reader = Reader(node.store, node.suite)
    app = FastAPI(
        title="jinqiao node API",
        version=__version__,
        description="Submit signed transactions and read the ledger with proofs.",
    )
    install_error_handlers(app)
    install_openapi(app)
    long_polls = LongPolls(node.metrics.registry)
    chain_genesis_hash = genesis_hash(node.genesis).hex()

    def admit_one(raw: bytes) -> dict[str, Any]:
        admission = node.admit(raw)
        return {"hash": admission.transaction_hash.hex(), "status": admission.status}

    @app.get("/healthz", tags=["operations"], responses=error_responses())
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "height": node.chain.head.height}

    @app.get(
        "/metrics",
        tags=["operations"],
        response_class=Response,
        responses={**media_answer("text/plain"), **error_responses()},
    )
    def metrics() -> Response:
        return Response(generate_latest(node.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/status", tags=["chain"], responses=error_responses())
    def status() -> dict[str, Any]:
        head = node.chain.head
        return {
            "node": node.config.name,
            "chain_id": node.genesis.chain_id,
            "genesis_hash": chain_genesis_hash,
            "height": head.height,
            "block_hash": head.block_hash.hex(),
            "state_root": head.state_root.hex(),
            "last_commit_time_ms": node.last_commit_time_ms,
            "mempool_transactions": len(node.mempool),
            "validator": node.signer.address.hex(),
            "validators": [
                {
                    "address": v.address.hex(),
                    "name": v.name,
                    "organization": v.organization,
                    "power": v.power,
                }
                for v in head.validators.validators
            ],
            "version": __version__,
        }

    @app.get("/v1/validators/changes", tags=["chain"], responses=error_responses(PARAMETERS))
    def validator_changes(
        from_height: Annotated[int, Query(ge=1, le=2**63)] = 1,
        limit: Annotated[int, Query(ge=1, le=100)] = 100,
    ) -> dict[str, Any]:
        """Every validator-set change from ``from_height`` on: for each, the new set proven
        (a canonical ``StateReadProof`` of ``governance/validators``) against the header of the
        block that made it, certified by the set before it."""
        proofs = reader.validator_changes(from_height, limit)
        return {
            "changes": [
                {"height": proof.header.height, "proof": encode(proof).hex()} for proof in proofs
            ]
        }

    @app.get("/v1/consensus", tags=["chain"], responses=error_responses())
    def consensus() -> dict[str, Any]:
        """What consensus is doing and, in words, why the chain is not committing when it is
        not: height, round, step, whose votes are missing, which peers are connected."""
        return node.driver.diagnosis()

    @app.get(
        "/v1/genesis",
        tags=["chain"],
        response_class=Response,
        responses={**media_answer("application/json"), **error_responses()},
    )
    def genesis() -> Response:
        return Response(node.genesis_bytes, media_type="application/json")

    @app.post(
        "/v1/transactions",
        status_code=202,
        tags=["transactions"],
        responses=error_responses(ADMISSION),
        openapi_extra=json_or_msgpack_body(
            SubmitRequest, "the canonical bytes of a SignedTransaction"
        ),
    )
    async def submit(request: Request) -> dict[str, Any]:
        """Submit one signed transaction: JSON ``{"transaction": hex}`` or, with
        ``Content-Type: application/msgpack``, its canonical bytes as the body."""
        body = await request.body()
        if _content_type(request) == "application/msgpack":
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

    @app.post(
        "/v1/transactions/batch",
        tags=["transactions"],
        responses=error_responses(BATCH),
        openapi_extra=json_or_msgpack_body(
            BatchRequest, "a msgpack array of canonical SignedTransaction bytes"
        ),
    )
    async def submit_batch(request: Request) -> JSONResponse:
        """Submit up to 5,000 transactions. Each is admitted or refused on its own; when any was
        refused because the node is saturated, the answer carries ``Retry-After``."""
        body = await request.body()
        raws = _batch_items(body, _content_type(request))
        results = await asyncio.to_thread(_admit_all, raws)
        accepted = sum(1 for r in results if "error" not in r)
        saturated = any(r.get("status") in (429, 503) for r in results)
        return JSONResponse(
            {"accepted": accepted, "refused": len(results) - accepted, "results": results},
            headers={"Retry-After": RETRY_AFTER_SECONDS} if saturated else None,
        )

    def _admit_all(raws: list[bytes]) -> list[dict[str, Any]]:
        return [
            {"hash": outcome.transaction_hash.hex(), "status": outcome.status}
            if isinstance(outcome, Admission)
            else {"error": error_body(outcome.code, outcome.message), "status": status_for(outcome)}
            for outcome in node.admit_many(raws)
        ]

    @app.get(
        "/v1/transactions/{transaction_hash:not_batch}",
        tags=["transactions"],
        responses=error_responses(LOOKUP),
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
            if identity in node.mempool:
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

    def _block_view(
        committed: CommittedBlock, include: bool, hashes: bool = False
    ) -> dict[str, Any]:
        return block_json(
            committed,
            header_hash(node.suite, committed.block.header),
            include_transactions=include,
            include_hashes=hashes,
        )

    @app.get("/v1/blocks/latest", tags=["chain"], responses=error_responses(LOOKUP))
    def latest_block(transactions: bool = False) -> dict[str, Any]:
        return _block_view(reader.block(), transactions)

    @app.get("/v1/blocks/{height}", tags=["chain"], responses=error_responses(LOOKUP))
    async def block_at(
        height: Annotated[int, Path(ge=1, le=2**63)],
        request: Request,
        transactions: bool = False,
        hashes: Annotated[bool, Query(description="Include only the transaction hashes")] = False,
        wait_ms: Annotated[
            int, Query(ge=0, le=MAX_WAIT_MS, description="Long-poll until the block is committed")
        ] = 0,
    ) -> dict[str, Any]:
        if wait_ms and height <= node.chain.head.height + MAX_WAIT_AHEAD_BLOCKS:
            await long_polls.wait(request, node.wait_for_height(height, wait_ms / 1000))
        return await asyncio.to_thread(
            lambda: _block_view(reader.block(height), transactions, hashes)
        )

    @app.get("/v1/blocks/by-hash/{block_hash}", tags=["chain"], responses=error_responses(LOOKUP))
    def block_by_hash(
        block_hash: Hash,
        transactions: bool = False,
    ) -> dict[str, Any]:
        return _block_view(reader.block_by_hash(bytes.fromhex(block_hash)), transactions)

    def _state_view(key: bytes, height: int | None) -> dict[str, Any]:
        read = reader.state(key, height)
        return {
            "key": key.hex(),
            "value": None if read.value is None else read.value.hex(),
            "height": read.header.height,
            "state_root": read.header.state_root.hex(),
            "proof": encode(read).hex(),
        }

    @app.get("/v1/state/{contract}/{key}", tags=["state"], responses=error_responses(LOOKUP))
    def state(
        contract: Annotated[str, Path(pattern=NAME)],
        key: StateKey,
        height: Annotated[int | None, Query(ge=1, le=2**63)] = None,
    ) -> dict[str, Any]:
        """A state value and its proof (``proof`` is a canonical ``StateReadProof``)."""
        return _state_view(full_key(contract, bytes.fromhex(key)), height)

    @app.get("/v1/accounts/{address}", tags=["state"], responses=error_responses(LOOKUP))
    def account(
        address: Address,
        height: Annotated[int | None, Query(ge=1, le=2**63)] = None,
    ) -> dict[str, Any]:
        """An account record (organization, roles, status) with its proof."""
        view = _state_view(full_key(REGISTRY, account_key(bytes.fromhex(address))), height)
        if view["value"] is None:
            raise NotFound(f"no account {address}", address=address)
        view["account"] = to_json(decode_stored(bytes.fromhex(view["value"]), Account))
        return view

    @app.get(
        "/v1/token/{asset}/balances/{address}", tags=["token"], responses=error_responses(LOOKUP)
    )
    def token_balance(
        asset: Annotated[str, Path(pattern=SYMBOL, max_length=12)],
        address: Address,
        height: Annotated[int | None, Query(ge=1, le=2**63)] = None,
    ) -> dict[str, Any]:
        """A holder's balance in minor units (0 when the holding is proven absent), its tier and
        frozen flag, with the state proof."""
        raw_address = bytes.fromhex(address)
        view = _state_view(full_key(TOKEN, balance_key(asset, raw_address)), height)
        holding = (
            None if view["value"] is None else decode_stored(bytes.fromhex(view["value"]), Holding)
        )
        view.update(
            asset=asset,
            address=address,
            balance_minor=0 if holding is None else holding.balance_minor,
            tier=None if holding is None else holding.tier,
            frozen=False if holding is None else holding.frozen,
        )
        return view

    @app.get("/v1/token/{asset}", tags=["token"], responses=error_responses(LOOKUP))
    def token_asset(asset: Annotated[str, Path(pattern=SYMBOL, max_length=12)]) -> dict[str, Any]:
        """An asset's definition and total supply, each with its state proof."""
        definition = _state_view(full_key(TOKEN, asset_key(asset)), None)
        if definition["value"] is None:
            raise NotFound(f"no asset {asset}", asset=asset)
        supply = _state_view(full_key(TOKEN, supply_key(asset)), None)
        return {
            "asset": to_json(decode_stored(bytes.fromhex(definition["value"]), Asset)),
            "supply_minor": 0
            if supply["value"] is None
            else decode_stored(bytes.fromhex(supply["value"]), int),
            "height": definition["height"],
            "asset_proof": definition["proof"],
            "supply_proof": supply["proof"],
        }

    @app.post(
        "/v1/query/{contract}/{query_name}",
        tags=["state"],
        responses=error_responses(QUERY),
        openapi_extra={
            "requestBody": {
                "required": False,
                "content": {
                    "application/json": {
                        "schema": {"type": "object"},
                        "description": "the query's argument struct by field name (bytes as hex)",
                    }
                },
            }
        },
    )
    async def run_query(
        contract: Annotated[str, Path(pattern=NAME, max_length=MAX_NAME_LENGTH)],
        query_name: Annotated[str, Path(pattern=NAME, max_length=MAX_NAME_LENGTH)],
        request: Request,
    ) -> dict[str, Any]:
        """Run a read-only contract query against the head state. Arguments are the query's
        argument struct as a JSON object (bytes as hex). Results are not proven; use
        ``/v1/state`` for proven reads."""
        spec = node.runtime.method_spec(contract, query_name)
        if spec is None or not spec.read_only:
            raise NotFound(f"no query {contract}.{query_name}", code="unknown_method")
        body = await request.body()
        if len(body) > MAX_QUERY_BODY_BYTES:
            raise InvalidInput(
                f"query arguments are over {MAX_QUERY_BODY_BYTES} bytes", code="request_too_large"
            )
        try:
            arguments = struct_from_json(spec.args_type, msgspec.json.decode(body or b"{}"))
        except (msgspec.DecodeError, RecursionError, ValueError) as exc:
            raise InvalidInput(
                f"arguments of {contract}.{query_name}: {exc}", code="invalid_arguments"
            ) from None

        def run() -> dict[str, Any]:
            height, result = node.run_query(contract, query_name, arguments)
            return {"height": height, "result": to_json(result)}

        return await asyncio.to_thread(run)

    add_payments_routes(app, reader)
    add_report_routes(app, node, reader)

    @app.get(
        "/v1/events",
        tags=["events"],
        response_class=Response,
        responses={
            **media_answer("text/event-stream"),
            **error_responses(
                PARAMETERS, {400: ("replay_too_long",), 429: ("too_many_subscribers",)}
            ),
        },
    )
    async def events(
        request: Request,
        contract: Annotated[str | None, Query(max_length=MAX_NAME_LENGTH)] = None,
        name: Annotated[str | None, Query(max_length=MAX_NAME_LENGTH)] = None,
        attribute: Annotated[
            list[str] | None, Query(max_length=8, description="key=value; all must match")
        ] = None,
        from_height: Annotated[int | None, Query(ge=1, le=2**63)] = None,
    ) -> StreamingResponse:
        """Server-Sent Events: one ``event`` message per matching contract event, in commit order,
        starting at ``from_height`` (default: the next block)."""
        wanted = _attribute_filter(attribute or [])
        head = node.chain.head.height
        if from_height is not None and head + 1 - from_height > MAX_EVENT_REPLAY_BLOCKS:
            raise InvalidInput(
                f"from_height may reach back at most {MAX_EVENT_REPLAY_BLOCKS} blocks "
                f"(the head is {head}); page through older blocks with /v1/blocks",
                code="replay_too_long",
            )
        subscription = node.subscribe()  # a refusal here is still an ordinary 429
        stream = _event_stream(
            subscription, reader, EventFilter(contract, name, wanted), head, from_height, request
        )
        return StreamingResponse(
            stream, media_type="text/event-stream", headers={"Cache-Control": "no-store"}
        )

    return app


def struct_from_json(kind: type[Any], value: Any) -> Any:
    """An argument struct from a JSON object keyed by field name; ``bytes`` fields are hex."""
    if not isinstance(value, dict):
        raise msgspec.ValidationError(
            f"expected a JSON object with fields {list(kind.__struct_fields__)}"
        )
    fields = msgspec.structs.fields(kind)
    names = [field.name for field in fields]
    unknown = sorted(set(value) - set(names))
    if unknown:
        raise msgspec.ValidationError(f"unknown fields {unknown[:10]}")
    missing = [name for name in names if name not in value]
    if missing:
        raise msgspec.ValidationError(f"missing fields {missing}")
    items = [_from_hex(field.name, field.type, value[field.name]) for field in fields]
    return msgspec.convert(items, kind, strict=True)


def _from_hex(name: str, kind: Any, value: Any) -> Any:
    if kind is bytes and isinstance(value, str):
        try:
            return bytes.fromhex(value)
        except ValueError:
            raise msgspec.ValidationError(f"{name}: {value[:80]!r} is not hex") from None
    return value


def _content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


class RequestInvalid(InvalidInput):
    """A body that does not match the API's schema."""

    code = "invalid_request"

    def __init__(self, error: ValidationError) -> None:
        super().__init__(
            "the request does not match the API", problems=validation_problems(error.errors())
        )


def _batch_items(body: bytes, content_type: str) -> list[bytes]:
    if len(body) > MAX_REQUEST_BODY_BYTES:
        raise InvalidInput("request body too large", code="request_too_large")
    if content_type == "application/msgpack":
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


def _attribute_filter(pairs: list[str]) -> list[tuple[str, str]]:
    wanted = []
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key:
            raise InvalidInput(f"attribute filter {pair[:80]!r} is not key=value")
        wanted.append((key, value))
    return wanted


class EventFilter:
    def __init__(
        self, contract: str | None, name: str | None, attributes: list[tuple[str, str]]
    ) -> None:
        self.contract = contract
        self.name = name
        self.attributes = attributes

    def messages(self, committed: CommittedBlock) -> list[bytes]:
        """The SSE messages of ``committed``'s events that pass the filter."""
        out = []
        header = committed.block.header
        for index, receipt in enumerate(committed.receipts):
            for event in receipt.events:
                if self.contract is not None and event.contract != self.contract:
                    continue
                if self.name is not None and event.name != self.name:
                    continue
                shown = {
                    k: str(v).lower() if isinstance(v, bool) else str(v)
                    for k, v in event.attributes
                }
                if any(shown.get(k) != v for k, v in self.attributes):
                    continue
                payload = {
                    "height": header.height,
                    "transaction_hash": receipt.transaction_hash.hex(),
                    "index": index,
                    "contract": event.contract,
                    "name": event.name,
                    "attributes": dict(event.attributes),
                }
                out.append(_sse("event", f"{header.height}-{index}", payload))
        return out


def _sse(kind: str, identity: str, payload: dict[str, Any]) -> bytes:
    return f"id: {identity}\nevent: {kind}\ndata: {json.dumps(payload)}\n\n".encode()


async def _event_stream(
    subscription: Subscription,
    reader: Reader,
    event_filter: EventFilter,
    head_height: int,
    from_height: int | None,
    request: Request,
) -> AsyncIterator[bytes]:
    """Replay ``from_height..head`` from the store, then follow new blocks. A subscriber that
    fell too far behind gets a ``lagged`` message naming the height to resume from."""
    next_height = head_height + 1
    try:
        if from_height is not None:
            for height in range(from_height, next_height):
                for message in event_filter.messages(await asyncio.to_thread(reader.block, height)):
                    yield message
        yield b": connected\n\n"
        async for committed in subscription:
            height = committed.block.header.height
            if height < next_height:
                continue
            next_height = height + 1
            if await request.is_disconnected():
                return
            for message in event_filter.messages(committed):
                yield message
        if subscription.lagged:
            yield _sse("lagged", str(next_height), {"resume_from_height": next_height})
    finally:
        subscription.close()


def with_body_limit(app: FastAPI) -> Any:
    return BodyLimit(app, MAX_REQUEST_BODY_BYTES)
