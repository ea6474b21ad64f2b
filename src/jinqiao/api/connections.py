"""Connection limits of the HTTP API: a cap on connections in all and per client address, and the
header, body and idle timeouts that uvicorn does not have (ADR 0010).

``guarded_protocol(limits)`` is uvicorn's h11 protocol class with the limits bound; pass it as
``http=`` to ``uvicorn.Config``. A connection over a cap is answered 503 ``too_many_connections``
(the common JSON error body, ``Connection: close``) and closed before any of its bytes are read;
a connection that misses a timeout is closed. Each is logged at debug level, one line: a flood of
them must not flood the log.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from jinqiao.api.authentication import CLIENT_CERTIFICATE_KEY
from jinqiao.api.errors import RETRY_AFTER_SECONDS, error_body
from jinqiao.node.config import ApiLimits

log = logging.getLogger(__name__)


def _refusal(message: str) -> bytes:
    body = json.dumps(error_body("too_many_connections", message)).encode()
    head = (
        "HTTP/1.1 503 Service Unavailable\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        f"retry-after: {RETRY_AFTER_SECONDS}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode() + body


class ConnectionCounts:
    """Open connections, in all and by client address, shared by the connections of one server."""

    def __init__(self, limits: ApiLimits) -> None:
        self.limits = limits
        self.total = 0
        self.by_address: Counter[str] = Counter()

    def refusal(self, address: str) -> str | None:
        """Why a new connection from ``address`` is refused, or None (then it is counted)."""
        if self.total >= self.limits.max_connections:
            return f"the node holds its maximum of {self.limits.max_connections} connections"
        if self.by_address[address] >= self.limits.max_connections_per_address:
            return (
                f"{address} holds its maximum of {self.limits.max_connections_per_address} "
                "connections"
            )
        self.total += 1
        self.by_address[address] += 1
        return None

    def release(self, address: str) -> None:
        self.total -= 1
        self.by_address[address] -= 1
        if self.by_address[address] <= 0:
            del self.by_address[address]


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with the caps and timeouts of ``counts.limits``."""

    counts: ConnectionCounts

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limits = self.counts.limits
        self.timeout_keep_alive = limits.idle_timeout_ms / 1000  # type: ignore[assignment]
        self._address = ""
        self._counted = False
        self._deadline: asyncio.TimerHandle | None = None
        self._deadline_phase: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        self._address = str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"
        refusal = self.counts.refusal(self._address)
        if refusal is not None:
            log.debug("refused a connection from %s: %s", self._address, refusal)
            if isinstance(transport, asyncio.WriteTransport):
                transport.write(_refusal(refusal))
            transport.close()
            return
        self._counted = True
        super().connection_made(transport)  # type: ignore[arg-type]
        self._pass_client_certificate(transport)
        self._watch(h11.IDLE)

    def _pass_client_certificate(self, transport: asyncio.BaseTransport) -> None:
        """Put the client certificate the TLS handshake verified (DER) into the scope of every
        request on this connection, for ``api.access`` (uvicorn's scope does not carry it)."""
        tls = transport.get_extra_info("ssl_object")
        der = tls.getpeercert(binary_form=True) if tls is not None else None
        if not der:
            return
        inner = self.app

        async def with_certificate(scope: Any, receive: Any, send: Any) -> None:
            scope[CLIENT_CERTIFICATE_KEY] = der
            await inner(scope, receive, send)

        self.app = with_certificate

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._counted:
            return
        self._counted = False
        self.counts.release(self._address)
        self._cancel_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self.transport.is_closing():
            self._watch(self.conn.their_state)

    def _watch(self, phase: Any) -> None:
        """Keep the deadline of the phase the client's side is in: its headers (``IDLE``: a new
        connection, or bytes of the next request on a kept-alive one, which end uvicorn's idle
        timer), its body (``SEND_BODY``), or none (its request is complete)."""
        if phase is h11.IDLE:
            self._arm(phase, self.counts.limits.header_timeout_ms, "its request headers")
        elif phase is h11.SEND_BODY:
            self._arm(phase, self.counts.limits.body_timeout_ms, "its request body")
        else:
            self._cancel_deadline()

    def _arm(self, phase: Any, timeout_ms: int, what: str) -> None:
        if self._deadline is not None and self._deadline_phase is phase:
            return
        self._cancel_deadline()
        self._deadline_phase = phase
        self._deadline = self.loop.call_later(timeout_ms / 1000, self._expire, phase, what)

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = None
        self._deadline_phase = None

    def _expire(self, phase: Any, what: str) -> None:
        self._deadline = None
        self._deadline_phase = None
        if self.conn.their_state is phase and not self.transport.is_closing():
            log.debug(
                "closed a connection from %s: it did not send %s in time", self._address, what
            )
            self.transport.close()


def guarded_protocol(limits: ApiLimits) -> type[GuardedH11Protocol]:
    """A protocol class for one server: its connections share one ``ConnectionCounts``."""
    return type("NodeH11Protocol", (GuardedH11Protocol,), {"counts": ConnectionCounts(limits)})
