"""The interactive API docs, offline: ``GET /docs`` (Swagger UI), ``GET /redoc`` (ReDoc) and
``GET /docs/static/{name}`` (their scripts, style and icon, shipped in the maintained
``fastapi-offline`` package and read once from it), never from a public CDN (ADR 0040).

Pages, not API: outside the OpenAPI document, with the member rule of ``api.access.RULES``.
Their Content-Security-Policy is the explorer's (``explorer.routes.content_security_policy``):
scripts only from this node plus the page's one inline script by its hash; styles add
``'unsafe-inline'`` because both viewers set styles at run time.
"""

from __future__ import annotations

import re
from importlib import resources

from fastapi import APIRouter, Path, Response
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)

from jinqiao.api.explorer.routes import content_security_policy
from jinqiao.node.reads import NotFound

STATIC = "/docs/static/"
ASSETS: dict[str, str] = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
    "favicon.png": "image/png",
}
"""Every file the pages may fetch, with its media type."""
MAX_ASSET_NAME_LENGTH = 64
OPENAPI_URL = "/openapi.json"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def swagger_page(title: str) -> str:
    return bytes(
        get_swagger_ui_html(
            openapi_url=OPENAPI_URL,
            title=f"{title} - Swagger UI",
            oauth2_redirect_url=OAUTH2_REDIRECT_URL,
            swagger_js_url=STATIC + "swagger-ui-bundle.js",
            swagger_css_url=STATIC + "swagger-ui.css",
            swagger_favicon_url=STATIC + "favicon.png",
            # Swagger UI would fetch a validity badge from its public validator otherwise.
            swagger_ui_parameters={"validatorUrl": None},
        ).body
    ).decode()


def redoc_page(title: str) -> str:
    return bytes(
        get_redoc_html(
            openapi_url=OPENAPI_URL,
            title=f"{title} - ReDoc",
            redoc_js_url=STATIC + "redoc.standalone.js",
            redoc_favicon_url=STATIC + "favicon.png",
            with_google_fonts=False,
        ).body
    ).decode()


def page_policy(page: str) -> str:
    """The explorer's policy for ``page``: its inline scripts by hash (at most one: the
    policy names one), inline styles allowed, and ReDoc's worker from a ``blob:``."""
    scripts = INLINE_SCRIPT.findall(page)
    if len(scripts) > 1:
        raise ValueError(f"a docs page has {len(scripts)} inline scripts; the policy names one")
    policy = content_security_policy(scripts[0] if scripts else "")
    return policy.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'") + (
        "; worker-src blob:"
    )


def _read(name: str) -> bytes:
    return resources.files("fastapi_offline").joinpath("static", name).read_bytes()


def router(title: str) -> APIRouter:
    routes = APIRouter(include_in_schema=False)
    assets = {name: _read(name) for name in ASSETS}
    headers = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
    pages = {
        "/docs": swagger_page(title),
        "/redoc": redoc_page(title),
        OAUTH2_REDIRECT_URL: bytes(get_swagger_ui_oauth2_redirect_html().body).decode(),
    }

    def serve(page: str) -> Response:
        return Response(
            page.encode(),
            media_type="text/html; charset=utf-8",
            headers={
                **headers,
                "Content-Security-Policy": page_policy(page),
                "Referrer-Policy": "no-referrer",
            },
        )

    @routes.get("/docs")
    def swagger_ui() -> Response:
        return serve(pages["/docs"])

    @routes.get(OAUTH2_REDIRECT_URL)
    def swagger_ui_oauth2_redirect() -> Response:
        return serve(pages[OAUTH2_REDIRECT_URL])

    @routes.get("/redoc")
    def redoc() -> Response:
        return serve(pages["/redoc"])

    @routes.get(STATIC + "{name}")
    def docs_asset(name: str = Path(max_length=MAX_ASSET_NAME_LENGTH)) -> Response:
        if name not in assets:
            raise NotFound(f"the docs have no file {name[:MAX_ASSET_NAME_LENGTH]!r}")
        return Response(assets[name], media_type=ASSETS[name], headers=headers)

    return routes
