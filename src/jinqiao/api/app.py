"""The HTTP API of a node. OpenAPI at ``/openapi.json``, interactive docs at ``/docs``.

One router per area, each over the node's narrow port (``node.port.NodePort``), never its store,
chain, mempool or runtime: ``operations`` (``/healthz``, ``/metrics``), ``chain`` (status,
consensus, genesis, validator changes, blocks), ``transactions`` (submit one or a batch, look one
up), ``state`` (proven state reads, accounts, the token, contract queries), ``payments`` (proven
payments records), ``reports`` (statements, settlement files, reconciliation, charts) and
``events`` (Server-Sent Events), ``supplychain``, ``credit`` and ``private`` (private
documents shared between parties' nodes); ``explorer`` serves the web page and ``docs``
the interactive API docs (offline). Here: the app, its operation ids and
its request-body limit.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette.routing import Match

from jinqiao import __version__
from jinqiao.api import (
    capture,
    chain,
    credit,
    docs,
    events,
    explorer,
    operations,
    payments,
    private,
    reports,
    state,
    supplychain,
    transactions,
)
from jinqiao.api.errors import install_error_handlers, send_error
from jinqiao.api.longpoll import LongPolls
from jinqiao.api.openapi import MAX_BODY_BYTES_KEY, install_openapi
from jinqiao.core.errors import InvalidInput
from jinqiao.core.limits import MAX_REQUEST_BODY_BYTES
from jinqiao.node.port import NodePort


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
            routers: list[APIRouter] = getattr(self.app.state, "routers", [])
            for route in [route for router in routers for route in router.routes]:
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


def operation_id(route: APIRoute) -> str:
    """A route's stable ``operationId``: its function's name, which generated clients use as
    the method name (ADR 0040); ``tests/integration/test_api_document.py`` keeps them unique."""
    return route.name


def create_app(node: NodePort, capture_service: capture.CaptureService | None = None) -> FastAPI:
    """The node's API: one router per area, each over the node's narrow port (EPCIS capture
    with the node's capture account, if it has one)."""
    app = FastAPI(
        title="jinqiao node API",
        version=__version__,
        description="Submit signed transactions and read the ledger with proofs.",
        generate_unique_id_function=operation_id,
        docs_url=None,  # the docs pages are served offline by ``api.docs``
        redoc_url=None,
    )
    install_error_handlers(app)
    install_openapi(app)
    long_polls = LongPolls(node.metrics_registry)
    routers = [
        operations.router(node),
        chain.router(node, long_polls),
        transactions.router(node, long_polls),
        state.router(node),
        payments.router(node),
        reports.router(node),
        events.router(node),
        supplychain.router(node),
        capture.router(node, capture_service),
        credit.router(node),
        explorer.router(),
        docs.router(app.title),
        private.router(node),
    ]
    for router in routers:
        app.include_router(router)
    app.state.routers = routers  # BodyLimit reads each route's own limit from them
    return app


def with_body_limit(app: FastAPI) -> Any:
    return BodyLimit(app, MAX_REQUEST_BODY_BYTES)
