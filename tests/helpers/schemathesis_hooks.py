"""Schemathesis hooks for fuzzing a node's API (``make fuzz`` loads this module through
``SCHEMATHESIS_HOOKS``; ``tests/integration/test_api_conformance.py`` runs it once per role).

Long polls are capped: ``wait_ms`` may hold a request up to 30 s by design (until a block or a
transaction is committed), which would spend the run's time waiting instead of testing.

Two environment variables, both optional:

- ``JINQIAO_FUZZ_SIGNER``: the key file of an account that signs every request (RFC 9421, the
  SDK's ``sign_request``) instead of a client certificate — a customer account has no certificate.
- ``JINQIAO_FUZZ_COUNTS``: a file to which each call appends a line, its status code or
  ``error`` when the call got no answer (refused connection, timeout): the test counts them.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import httpx
import requests
import schemathesis

from jinqiao.client.signing import sign_request
from jinqiao.core.crypto import Signer
from jinqiao.keys import load_key

MAX_FUZZ_WAIT_MS = 50
SIGNED_FIELDS = ("content-digest", "signature-input", "signature")


def cap_wait(query: dict[str, Any] | None) -> None:
    """Lower a whole-number ``wait_ms`` (int or digits) to ``MAX_FUZZ_WAIT_MS``; other values are
    left alone, to be refused."""
    value = None if query is None else query.get("wait_ms")
    if isinstance(value, int) and value > MAX_FUZZ_WAIT_MS:
        query["wait_ms"] = MAX_FUZZ_WAIT_MS  # type: ignore[index]
    elif isinstance(value, str) and value.isdigit() and int(value) > MAX_FUZZ_WAIT_MS:
        query["wait_ms"] = str(MAX_FUZZ_WAIT_MS)  # type: ignore[index]


class AccountSignature(requests.auth.AuthBase):
    """Signs the request ``requests`` is about to send, as it will be sent (method, URL, body)."""

    def __init__(self, signer: Signer) -> None:
        self.signer = signer

    def __call__(self, prepared: requests.PreparedRequest) -> requests.PreparedRequest:
        body = prepared.body
        content = body.encode() if isinstance(body, str) else body
        if content is not None and not isinstance(content, bytes):
            raise TypeError(f"cannot sign a streamed body ({type(content).__name__})")
        request = httpx.Request(
            str(prepared.method), str(prepared.url), content=content or b"", headers={}
        )
        sign_request(request, self.signer, now_s=time.time())
        for name in SIGNED_FIELDS:
            prepared.headers[name] = request.headers[name]
        return prepared


_signer: Signer | None = None


def _signature() -> AccountSignature | None:
    global _signer
    path = os.environ.get("JINQIAO_FUZZ_SIGNER")
    if not path:
        return None
    if _signer is None:
        _signer = load_key(Path(path))
    return AccountSignature(_signer)


def _count(outcome: str) -> None:
    path = os.environ.get("JINQIAO_FUZZ_COUNTS")
    if path:
        with open(path, "a") as file:
            file.write(outcome + "\n")


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: Any) -> None:
    cap_wait(case.query)
    signature = _signature()
    if signature is not None:
        kwargs["auth"] = signature


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    _count(str(response.status_code))


@schemathesis.hook
def after_network_error(context: Any, case: Any, request: Any) -> None:
    _count("error")
