"""``GET /explorer`` (the page) and ``GET /explorer/static/{name}`` (its scripts and style).

Both are outside the OpenAPI document (pages, not API), with the member rule of
``api.access.RULES``: a browser presents its client certificate as any client does. The assets
are read once from the package; only the names in ``ASSETS`` are served.
"""

from __future__ import annotations

import base64
import hashlib
import json
from importlib import resources
from string import Template

from fastapi import APIRouter, Path, Response

from jinqiao.api.explorer.pins import EXPLORER_SCRIPT, EXPLORER_SCRIPT_SHA384, PINNED_ASSETS
from jinqiao.node.reads import NotFound

STATIC = "/explorer/static/"
ASSETS: dict[str, str] = {
    EXPLORER_SCRIPT: "text/javascript",
    "app.js": "text/javascript",
    "vendor/noble-ed25519-3.2.0.js": "text/javascript",
    "explorer.css": "text/css",
}
"""Every file the page may fetch, with its media type."""
MAX_ASSET_NAME_LENGTH = 64
IMPORT_NAMES = {"jinqiao-verify": EXPLORER_SCRIPT, "noble-ed25519": "vendor/noble-ed25519-3.2.0.js"}


def import_map() -> str:
    """The page's import map: the bare names ``app.js`` imports, each with its pinned SRI."""
    return json.dumps(
        {
            "imports": {name: STATIC + path for name, path in IMPORT_NAMES.items()},
            "integrity": {STATIC + path: PINNED_ASSETS[path] for path in IMPORT_NAMES.values()},
        },
        indent=1,
    )


def content_security_policy(inline_script: str) -> str:
    """Scripts only from this node, with their integrity, plus the one inline import map."""
    digest = base64.b64encode(hashlib.sha256(inline_script.encode()).digest()).decode()
    return (
        f"default-src 'none'; script-src 'self' 'sha256-{digest}'; style-src 'self'; "
        "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    )


def render_page() -> str:
    template = Template(_read("index.html").decode())
    return template.substitute(
        import_map=import_map(),
        app_integrity=PINNED_ASSETS["app.js"],
        explorer_script_sha384=EXPLORER_SCRIPT_SHA384,
    )


def _read(name: str) -> bytes:
    return resources.files("jinqiao.api.explorer").joinpath("static", name).read_bytes()


def router() -> APIRouter:
    routes = APIRouter(include_in_schema=False)
    page = render_page().encode()
    policy = content_security_policy(f"\n{import_map()}\n")  # the inline script's exact text
    assets = {name: _read(name) for name in ASSETS}
    headers = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}

    @routes.get("/explorer")
    def explorer() -> Response:
        return Response(
            page,
            media_type="text/html; charset=utf-8",
            headers={
                **headers,
                "Content-Security-Policy": policy,
                "Referrer-Policy": "no-referrer",
            },
        )

    @routes.get("/explorer/static/{name:path}")
    def asset(name: str = Path(max_length=MAX_ASSET_NAME_LENGTH)) -> Response:
        if name not in assets:
            raise NotFound(f"the explorer has no file {name[:MAX_ASSET_NAME_LENGTH]!r}")
        return Response(assets[name], media_type=ASSETS[name], headers=headers)

    return routes
