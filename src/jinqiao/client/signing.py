"""Authenticate to a node with an account key instead of a client certificate: each request is
signed as an HTTP Message Signature (RFC 9421) by the ``http-message-signatures`` library
(docs/access.md "Authentication: an HTTP message signature").

``Client(url, signer=key, roots_file=...)`` (or ``MessageSignatureAuth`` on any ``httpx``
client) signs ``@method``, ``@target-uri`` and the body's RFC 9530 ``Content-Digest``, with
``created``, ``expires`` (``DEFAULT_SIGNATURE_LIFETIME_S`` later), a fresh random ``nonce``,
``keyid`` the account's address, ``alg`` ``ed25519`` and ``tag`` ``jinqiao``. The key signs
through its ``Signer``, so a key held in an HSM signs requests as it signs transactions. The TLS
connection still authenticates the node (its certificate against the consortium roots).
"""

from __future__ import annotations

import datetime
import secrets
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import httpx
from http_message_signatures import HTTPMessageSigner

from jinqiao.core.crypto import Signer
from jinqiao.core.message_signatures import (
    DEFAULT_SIGNATURE_LIFETIME_S,
    SIGNATURE_LABEL,
    SIGNATURE_TAG,
    AccountKeyAlgorithm,
)

NONCE_BYTES = 24
"""32 base64url characters."""


@dataclass
class _Message:
    """What the library signs: the request's method, absolute URL and (writable) headers."""

    method: str
    url: str
    headers: Any


def sign_request(
    request: httpx.Request,
    signer: Signer,
    *,
    now_s: float,
    lifetime_s: int = DEFAULT_SIGNATURE_LIFETIME_S,
    nonce: str | None = None,
) -> None:
    """Add ``Content-Digest``, ``Signature-Input`` and ``Signature`` to ``request`` (in place),
    signed by ``signer``'s account key."""
    created = datetime.datetime.fromtimestamp(int(now_s), tz=datetime.UTC)
    message = _Message(request.method, str(request.url), request.headers)
    handler = HTTPMessageSigner(signature_algorithm=AccountKeyAlgorithm)
    prepared = handler.prepare(
        message,
        key_id=signer.address.hex(),
        created=created,
        expires=created + datetime.timedelta(seconds=lifetime_s),
        nonce=nonce if nonce is not None else secrets.token_urlsafe(NONCE_BYTES),
        label=SIGNATURE_LABEL,
        tag=SIGNATURE_TAG,
        covered_component_ids=("@method", "@target-uri"),
        body=request.content,  # adds the Content-Digest and covers it
    )
    handler.apply(message, prepared, signer.sign(prepared.signature_base))


class MessageSignatureAuth(httpx.Auth):
    """``httpx`` authentication that signs every request with an account key."""

    requires_request_body = True

    def __init__(
        self,
        signer: Signer,
        *,
        lifetime_s: int = DEFAULT_SIGNATURE_LIFETIME_S,
        clock_s: Callable[[], float] = time.time,
    ) -> None:
        self.signer = signer
        self.lifetime_s = lifetime_s
        self.clock_s = clock_s

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        # Each attempt (a retry, another node) is a new request: a new nonce and time.
        sign_request(request, self.signer, now_s=self.clock_s(), lifetime_s=self.lifetime_s)
        yield request
