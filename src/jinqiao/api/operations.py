"""Operations: liveness (``/healthz``, public) and Prometheus metrics (``/metrics``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from jinqiao.api.answers import Health, answer
from jinqiao.api.openapi import error_responses, media_answer
from jinqiao.node.port import NodePort


def router(node: NodePort) -> APIRouter:
    routes = APIRouter(tags=["operations"])

    @routes.get("/healthz", response_model=None, responses={**answer(Health), **error_responses()})
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "height": node.head().height}

    @routes.get(
        "/metrics",
        response_class=Response,
        responses={**media_answer("text/plain"), **error_responses()},
    )
    def metrics() -> Response:
        return Response(generate_latest(node.metrics_registry), media_type=CONTENT_TYPE_LATEST)

    return routes
