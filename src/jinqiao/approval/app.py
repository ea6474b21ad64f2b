"""The approval service's HTTP API (FastAPI; docs/keys.md "Second factor"):

* ``GET /v1/service`` — the service key (suite, public key) and the chain it approves for;
* ``POST /v1/approvals`` ``{"transaction": HEX}`` — the canonical bytes of the ``TransactionBody``
  of a ``registry.propose_transaction``: 201 with the approval hash and the summary (what the
  approver must see), kept for ``approval_ttl_s``;
* ``POST /v1/approvals/{approval_hash}/approve`` ``{"approver", "totp", "transaction"}`` — the
  service's signature of ``transaction`` (the body of ``registry.approve_transaction`` of that
  hash, signed by the service's key), or a refusal ``{code, message, details}`` with the status
  of docs/errors.md.

WebAuthn (ADR 0052; 404 ``webauthn_not_configured`` without a ``[webauthn]`` section):

* ``GET /webauthn/enroll#TOKEN`` and ``GET /webauthn/approve#CHALLENGE`` — the approver's pages
  (the secret rides in the fragment, which no request carries);
* ``POST /v1/webauthn/enrolments/options`` ``{"token"}`` — creation options for the link's
  approver; ``POST /v1/webauthn/enrolments`` ``{"token", "credential"}`` — 201, enrolled;
* ``POST /v1/approvals/{approval_hash}/challenges`` ``{"approver", "transaction"}`` — 201, a
  challenge and the page the approver opens;
* ``GET /v1/challenges/{challenge_id}`` — the summary and the request options, or the
  service's signature once approved; ``POST /v1/challenges/{challenge_id}/assertion``
  ``{"credential"}`` — the signature, or a refusal.
"""

from __future__ import annotations

from importlib import resources
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from jinqiao.approval.errors import ApprovalRefused
from jinqiao.approval.service import ApprovalService
from jinqiao.core.errors import InvalidInput
from jinqiao.core.limits import MAX_TRANSACTION_BYTES

__all__ = ["create_app"]

MAX_BODY_BYTES = 2 * MAX_TRANSACTION_BYTES + 16 * 1024

HexTransaction = Annotated[
    str, StringConstraints(pattern=r"^([0-9a-f]{2})+$", max_length=2 * MAX_TRANSACTION_BYTES)
]
HexHash = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Token = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{16,64}$")]
ApproverName = Annotated[str, StringConstraints(min_length=1, max_length=64)]

PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
PageName = Literal["enroll", "approve", "pages.js", "pages.css"]
PAGES: dict[str, tuple[str, str]] = {
    "enroll": ("enroll.html", "text/html; charset=utf-8"),
    "approve": ("approve.html", "text/html; charset=utf-8"),
    "pages.js": ("pages.js", "text/javascript; charset=utf-8"),
    "pages.css": ("pages.css", "text/css; charset=utf-8"),
}


class ApprovalRequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    transaction: HexTransaction = Field(description="canonical TransactionBody bytes, hex")


class ApproveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    approver: ApproverName
    totp: Annotated[str, StringConstraints(max_length=16)]
    transaction: HexTransaction = Field(
        description="canonical TransactionBody bytes of registry.approve_transaction, hex"
    )


class EnrolmentOptionsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: Token


class EnrolmentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: Token
    credential: dict[str, Any] = Field(description="navigator.credentials.create(), toJSON()")


class ChallengeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    approver: ApproverName
    transaction: HexTransaction = Field(
        description="canonical TransactionBody bytes of registry.approve_transaction, hex"
    )


class AssertionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    credential: dict[str, Any] = Field(description="navigator.credentials.get(), toJSON()")


def _page(name: str) -> Response:
    filename, media_type = PAGES[name]
    content = resources.files("jinqiao.approval").joinpath("static", filename).read_bytes()
    headers = {
        "Content-Security-Policy": PAGE_POLICY,
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    }
    return Response(content, media_type=media_type, headers=headers)


def _refusal(code: str, message: str, status: int, details: dict[str, Any]) -> JSONResponse:
    return JSONResponse({"code": code, "message": message, "details": details}, status_code=status)


class _BodyLimit:
    """Refuses a request body over ``MAX_BODY_BYTES`` with 413: at once when its Content-Length
    says so, else as soon as the bytes received pass the limit (a chunked body has no length).
    A body within the limit is received here first and then handed to the application."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and (not value.isdigit() or int(value) > MAX_BODY_BYTES):
                await _too_large()(scope, receive, send)
                return
        messages: list[Any] = []
        received = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            received += len(message.get("body", b""))
            if received > MAX_BODY_BYTES:
                await _too_large()(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        pending = iter(messages)

        async def replay() -> Any:
            return next(pending, None) or await receive()

        await self.app(scope, replay, send)


def _too_large() -> JSONResponse:
    return _refusal(
        "request_too_large", f"a request body is at most {MAX_BODY_BYTES} bytes", 413, {}
    )


def create_app(service: ApprovalService) -> FastAPI:
    app = FastAPI(title="jinqiao approval service", version="1")
    app.add_middleware(_BodyLimit)

    @app.exception_handler(ApprovalRefused)
    async def refused(_request: Request, exc: ApprovalRefused) -> JSONResponse:
        return _refusal(exc.code, exc.message, exc.status, exc.details)

    @app.exception_handler(InvalidInput)
    async def invalid(_request: Request, exc: InvalidInput) -> JSONResponse:
        return _refusal(exc.code, exc.message, 400, exc.details)

    @app.exception_handler(RequestValidationError)
    async def malformed(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"where": ".".join(str(part) for part in error["loc"]), "problem": error["msg"]}
            for error in exc.errors()
        ]
        return _refusal(
            "invalid_request", "the request does not match the API", 400, {"problems": problems}
        )

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/service")
    def info() -> dict[str, Any]:
        return service.info()

    @app.post("/v1/approvals", status_code=201)
    def request_approval(body: ApprovalRequestBody) -> dict[str, Any]:
        return service.request(bytes.fromhex(body.transaction))

    @app.post("/v1/approvals/{approval_hash}/approve")
    def approve(approval_hash: HexHash, body: ApproveBody) -> dict[str, Any]:
        return service.approve(
            bytes.fromhex(approval_hash),
            body.approver,
            body.totp,
            bytes.fromhex(body.transaction),
        )

    _webauthn_routes(app, service)
    return app


def _webauthn_routes(app: FastAPI, service: ApprovalService) -> None:
    ceremonies = service.webauthn

    @app.get("/webauthn/{page}", include_in_schema=False)
    def page(page: PageName) -> Response:
        _ = ceremonies.settings  # refuses when WebAuthn is not configured
        return _page(page)

    @app.post("/v1/webauthn/enrolments/options")
    def enrolment_options(body: EnrolmentOptionsBody) -> dict[str, Any]:
        return ceremonies.enrolment_options(body.token)

    @app.post("/v1/webauthn/enrolments", status_code=201)
    def enrol(body: EnrolmentBody) -> dict[str, Any]:
        return ceremonies.register(body.token, body.credential)

    @app.post("/v1/approvals/{approval_hash}/challenges", status_code=201)
    def challenge(approval_hash: HexHash, body: ChallengeBody) -> dict[str, Any]:
        return ceremonies.open_challenge(
            bytes.fromhex(approval_hash), body.approver, bytes.fromhex(body.transaction)
        )

    @app.get("/v1/challenges/{challenge_id}")
    def view(challenge_id: Token) -> dict[str, Any]:
        return ceremonies.view(challenge_id)

    @app.post("/v1/challenges/{challenge_id}/assertion")
    def assertion(challenge_id: Token, body: AssertionBody) -> dict[str, Any]:
        return ceremonies.answer(challenge_id, body.credential)
