"""The Host, Origin and Content-Type rules of ``jinqiao.api.exposure`` on plain ASGI scopes (the
integration tests run them against a node process)."""

from __future__ import annotations

from typing import Any

import pytest

from jinqiao.api.exposure import RequestGuard, trusted_hosts
from jinqiao.node.config import NodeConfig

PORT = 8600


def scope(method: str = "GET", path: str = "/v1/status", **headers: str) -> dict[str, Any]:
    return {
        "type": "http",
        "scheme": "http",
        "method": method,
        "path": path,
        "headers": [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()],
    }


def guard(config: NodeConfig) -> RequestGuard:
    return RequestGuard(None, trusted_hosts(config, PORT), frozenset(config.api_cors_origins))


def test_the_api_host_and_loopback_names_are_trusted_bare_or_with_the_port() -> None:
    hosts = trusted_hosts(NodeConfig(name="n", api_host="10.0.0.5"), PORT)
    assert hosts is not None
    for name in ("10.0.0.5", "localhost", "127.0.0.1", "[::1]"):
        assert {name, f"{name}:{PORT}"} <= hosts
    assert "localhost:8601" not in hosts
    any_address = trusted_hosts(NodeConfig(name="n", api_host="::"), PORT)
    assert any_address is not None and {"[::]", f"[::]:{PORT}"} <= any_address
    assert trusted_hosts(NodeConfig(name="n", api_hosts=("*",)), PORT) is None


@pytest.mark.parametrize(
    ("request_scope", "code"),
    [
        (scope(host="evil.example"), "untrusted_host"),
        (scope(), "untrusted_host"),
        (scope(host="LOCALHOST:8600"), None),
        (scope(host="localhost:8600", origin="http://localhost:8600"), None),
        (scope(host="localhost:8600", origin="http://evil.example"), "cross_origin_refused"),
        (scope(host="localhost:8600", origin="https://explorer.example"), None),
        (scope("POST", host="localhost", content_length="2"), "unsupported_media_type"),
        (scope("POST", host="localhost", content_length="0"), None),
        (scope("POST", host="localhost", transfer_encoding="chunked"), "unsupported_media_type"),
        (
            scope(
                "POST",
                "/v1/query/token/balance",
                host="localhost",
                content_length="2",
                content_type="application/json; charset=utf-8",
            ),
            None,
        ),
        (
            scope(
                "POST",
                "/v1/transactions",
                host="localhost",
                content_length="2",
                content_type="application/msgpack",
            ),
            None,
        ),
        (
            scope(
                "POST",
                "/v1/query/x/y",
                host="localhost",
                content_length="2",
                content_type="application/msgpack",
            ),
            "unsupported_media_type",
        ),
        (
            scope(
                "POST",
                "/v1/payments/cycles/1/reconciliation/bank-a",
                host="localhost",
                content_length="2",
                content_type="text/csv",
            ),
            None,
        ),
    ],
)
def test_refusals(request_scope: dict[str, Any], code: str | None) -> None:
    config = NodeConfig(name="n", api_cors_origins=("https://explorer.example",))
    refusal = guard(config).refusal(request_scope)
    assert (None if refusal is None else refusal[0]) == code
