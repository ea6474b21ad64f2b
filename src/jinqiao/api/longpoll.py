"""Long-polls (``?wait_ms=``) that end when their client goes, instead of holding a task for the
whole wait. A disconnect is a normal event: counted (``jinqiao_api_long_polls_abandoned``) and
logged at debug level."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge
from starlette.requests import ClientDisconnect, Request

log = logging.getLogger(__name__)


class LongPolls:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.waiting = Gauge(
            "jinqiao_api_long_polls_waiting", "Long-polls waiting now", registry=registry
        )
        self.abandoned = Counter(
            "jinqiao_api_long_polls_abandoned",
            "Long-polls ended early because their client disconnected",
            registry=registry,
        )

    async def wait(self, request: Request, waiting: Awaitable[bool]) -> bool:
        """The outcome of ``waiting``; raises ``ClientDisconnect`` as soon as the client goes."""
        wait_task = asyncio.ensure_future(waiting)
        gone_task = asyncio.ensure_future(_disconnected(request.receive))
        self.waiting.inc()
        try:
            await asyncio.wait({wait_task, gone_task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.waiting.dec()
            for task in (wait_task, gone_task):
                task.cancel()
            await asyncio.gather(wait_task, gone_task, return_exceptions=True)
        if not wait_task.cancelled() and wait_task.exception() is None:
            return wait_task.result()
        if gone_task.done() and not gone_task.cancelled() and gone_task.exception() is None:
            self.abandoned.inc()
            log.debug("long-poll of %s ended: its client went away", request.url.path)
            raise ClientDisconnect()
        return wait_task.result()  # re-raises the waiting's own error


async def _disconnected(receive: Callable[[], Awaitable[Any]]) -> None:
    """Returns when the client has gone. The body of a long-poll (a GET) is empty and under the
    body limit, so the loop reads at most a few messages before the disconnect."""
    while (await receive())["type"] != "http.disconnect":
        pass
