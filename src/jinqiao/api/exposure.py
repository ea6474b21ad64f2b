"""What a request must say about where it comes from and what it carries, checked before any
route runs (docs/api.md "Hosts, origins and content types"):

- ``Host`` names one of the node's configured API hosts, with or without the API port; otherwise
  400 ``untrusted_host`` (a page on a rebound DNS name must not reach a node on loopback);
- an ``Origin`` that is neither the node's own nor one of the configured CORS origins gets 403
  ``cross_origin_refused``; configured origins get CORS answers (Starlette's ``CORSMiddleware``);
- a body is read only under the content type its route parses: JSON, plus msgpack on the
  transaction routes, CSV on the reconciliation upload, JSON-LD or XML on the EPCIS capture and
  any bytes (``application/octet-stream``) on a private document upload; otherwise 415
  ``unsupported_media_type``.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.middleware.cors import CORSMiddleware

from jinqiao.api.errors import send_error
from jinqiao.node.config import NodeConfig

JSON = "application/json"
MEDIA_TYPES_BY_PATH: tuple[tuple[re.Pattern[str], frozenset[str]], ...] = (
    (re.compile(r"/v1/transactions(/batch)?"), frozenset({JSON, "application/msgpack"})),
    (re.compile(r"/v1/payments/cycles/[^/]+/reconciliation/[^/]+"), frozenset({"text/csv"})),
    (
        re.compile(r"/v1/epcis/capture"),
        frozenset({JSON, "application/ld+json", "application/xml", "text/xml"}),
    ),
    (re.compile(r"/v1/private/documents/[^/]+"), frozenset({"application/octet-stream"})),
)
"""Routes whose body may be something other than JSON."""
CORS_MAX_AGE_S = 600


def trusted_hosts(config: NodeConfig, port: int) -> frozenset[str] | None:
    """Every accepted ``Host`` value (lower case), or None when any host is accepted."""
    names = {name.lower() for name in (*config.api_hosts, config.api_host)}
    if config.advertised_host:
        names.add(config.advertised_host.lower())
    if "*" in names:
        return None
    names = {f"[{name}]" if ":" in name and not name.startswith("[") else name for name in names}
    return frozenset(names | {f"{name}:{port}" for name in names})


def _header(scope: Any, wanted: bytes) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == wanted:
            return str(value.decode("latin-1"))
    return None


def _has_body(scope: Any) -> bool:
    length = _header(scope, b"content-length")
    if length is not None:
        return length.strip() not in ("", "0")
    return _header(scope, b"transfer-encoding") is not None


def media_types_for(path: str) -> frozenset[str]:
    for pattern, media_types in MEDIA_TYPES_BY_PATH:
        if pattern.fullmatch(path):
            return media_types
    return frozenset({JSON})


class RequestGuard:
    """Refuses untrusted hosts, foreign origins and unparsed content types (module docstring)."""

    def __init__(self, app: Any, hosts: frozenset[str] | None, origins: frozenset[str]) -> None:
        self.app = app
        self.hosts = hosts
        self.origins = origins

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            refusal = self.refusal(scope)
            if refusal is not None:
                await send_error(send, *refusal)
                return
        await self.app(scope, receive, send)

    def refusal(self, scope: Any) -> tuple[str, str] | None:
        """The code and message of the refusal of this request, or None."""
        host = (_header(scope, b"host") or "").strip().lower()
        if self.hosts is not None and host not in self.hosts:
            return "untrusted_host", f"Host {host[:100]!r} is not one of this node's API hosts"
        origin = _header(scope, b"origin")
        if origin is not None:
            own = f"{scope.get('scheme', 'http')}://{host}"
            if origin.lower() != own and origin not in self.origins:
                return "cross_origin_refused", f"requests from origin {origin[:100]!r} are refused"
        if _has_body(scope):
            content_type = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
            accepted = media_types_for(scope["path"])
            if content_type not in accepted:
                return (
                    "unsupported_media_type",
                    f"a body here must be {' or '.join(sorted(accepted))}, "
                    f"not {content_type[:100] or 'without a content type'}",
                )
        return None


def with_request_guard(app: Any, config: NodeConfig, port: int) -> Any:
    """``app`` behind the host, origin and content-type checks, answering CORS for the
    configured origins."""
    origins = frozenset(config.api_cors_origins)
    cors = CORSMiddleware(
        app,
        allow_origins=sorted(origins),
        allow_methods=["GET", "POST"],
        allow_headers=["content-type"],
        max_age=CORS_MAX_AGE_S,
    )
    return RequestGuard(cors, trusted_hosts(config, port), origins)
