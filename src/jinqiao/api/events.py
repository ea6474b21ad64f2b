"""Events: a Server-Sent Events stream of contract events, replayed from a height then followed
live; a slow subscriber is told where to resume."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from jinqiao.api.openapi import PARAMETERS, error_responses, media_answer
from jinqiao.core.errors import InvalidInput
from jinqiao.core.limits import MAX_NAME_LENGTH
from jinqiao.core.types import CommittedBlock
from jinqiao.node.port import NodePort, Stream
from jinqiao.node.reads import Reader

MAX_EVENT_REPLAY_BLOCKS = 10_000


def router(node: NodePort) -> APIRouter:
    routes = APIRouter(tags=["events"])

    @routes.get(
        "/v1/events",
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
        head = node.head().height
        if from_height is not None and head + 1 - from_height > MAX_EVENT_REPLAY_BLOCKS:
            raise InvalidInput(
                f"from_height may reach back at most {MAX_EVENT_REPLAY_BLOCKS} blocks "
                f"(the head is {head}); page through older blocks with /v1/blocks",
                code="replay_too_long",
            )
        subscription = node.subscribe()  # a refusal here is still an ordinary 429
        stream = _event_stream(
            subscription,
            node.reader,
            EventFilter(contract, name, wanted),
            head,
            from_height,
            request,
        )
        return StreamingResponse(
            stream, media_type="text/event-stream", headers={"Cache-Control": "no-store"}
        )

    return routes


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
            for event_index, event in enumerate(receipt.events):
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
                    "time_ms": header.time_ms,
                    "transaction_hash": receipt.transaction_hash.hex(),
                    "index": index,
                    "event_index": event_index,
                    "contract": event.contract,
                    "name": event.name,
                    "attributes": dict(event.attributes),
                }
                out.append(_sse("event", f"{header.height}-{index}", payload))
        return out


def _sse(kind: str, identity: str, payload: dict[str, Any]) -> bytes:
    return f"id: {identity}\nevent: {kind}\ndata: {json.dumps(payload)}\n\n".encode()


async def _event_stream(
    subscription: Stream,
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
