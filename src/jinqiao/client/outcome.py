"""What can become of a submitted transaction, as types, and how the SDK reaches a network.

A transaction sent to a node ends in exactly one of four outcomes, and the SDK never reports one
as another:

- **committed ok** — ``TransactionResult`` with ``ok`` true;
- **committed rejected** — ``TransactionResult`` with ``ok`` false and the contract's ``code``;
- **refused at admission** — ``TransactionRefused``: the node answered with an error before it
  took the transaction (bad signature, expired, mempool full after every retry, …). Nothing
  changed on chain;
- **pending — outcome unknown** — ``TransactionPending`` (raised) or ``PendingTransaction``
  (returned by ``Client.lookup``): the transaction may have been admitted but no commit was seen
  within the timeout, or the node stopped answering after the request left. It may still commit.
  Re-submit **the same signed bytes** (``Client.resend``), never a new transaction: replay
  protection then guarantees it commits at most once.

``NodesUnreachable`` says no node of the list answered; its message names each with its reason.

Requests are retried with ``tenacity``: a 429 or 503 answer is retried after the node's
``Retry-After`` (capped at ``MAX_RETRY_AFTER_S``), and a request no node answered is retried with a
short growing wait; at most ``MAX_REQUEST_ATTEMPTS`` tries in all. Every request the SDK retries is
idempotent: reads, and submissions of the same signed bytes.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import tenacity

from jinqiao.core.errors import JinqiaoError

__all__ = [
    "MAX_REQUEST_ATTEMPTS",
    "MAX_RETRY_AFTER_S",
    "NodesUnreachable",
    "PendingTransaction",
    "TransactionPending",
    "TransactionRefused",
    "retrying",
    "retrying_async",
]

MAX_REQUEST_ATTEMPTS = 4
MAX_RETRY_AFTER_S = 10.0
UNREACHABLE_WAIT_INITIAL_S = 0.25
UNREACHABLE_WAIT_MAX_S = 2.0
SATURATED_STATUSES = frozenset({429, 503})

T = TypeVar("T")


class ClientError(JinqiaoError):
    """The node refused a request, or could not be reached. ``code`` is the node's stable code
    (docs/errors.md) or ``unreachable`` / ``bad_response``; ``status`` the HTTP status."""

    def __init__(self, code: str, message: str, status: int = 0, **details: Any) -> None:
        super().__init__(message, code=code, **details)
        self.status = status


class NodesUnreachable(ClientError):
    """No node of the list answered. ``maybe_sent`` is true when a request may have reached a
    node before the connection broke (a submission whose outcome is then unknown)."""

    def __init__(self, failures: Sequence[tuple[str, str]], *, maybe_sent: bool) -> None:
        named = "; ".join(f"{url}: {reason}" for url, reason in failures)
        super().__init__("unreachable", f"no node answered ({named})")
        self.failures = list(failures)
        self.maybe_sent = maybe_sent


class TransactionRefused(ClientError):
    """The node refused the transaction at admission (``code`` says why); nothing changed."""

    def __init__(self, transaction_hash: str, refusal: ClientError) -> None:
        super().__init__(refusal.code, refusal.message, refusal.status, **refusal.details)
        self.transaction_hash = transaction_hash


class TransactionPending(ClientError):
    """Pending — outcome unknown. ``admitted`` is true when a node confirmed it holds the
    transaction; false when the request may or may not have arrived. Re-submit the same bytes
    (``Client.resend``) or look it up later (``Client.lookup``); never sign a new one."""

    def __init__(self, transaction_hash: str, reason: str, *, admitted: bool) -> None:
        super().__init__("pending", f"transaction {transaction_hash} is pending: {reason}")
        self.transaction_hash = transaction_hash
        self.reason = reason
        self.admitted = admitted


@dataclass(frozen=True)
class PendingTransaction:
    """``Client.lookup``'s answer for a transaction a node holds in its mempool."""

    transaction_hash: str


class _Saturated(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


def retry_after_s(response: httpx.Response) -> float:
    """The wait a 429/503 answer asks for (RFC 9110 ``Retry-After``: seconds or an HTTP date),
    between 0 and ``MAX_RETRY_AFTER_S``; 1 s when the header is missing or malformed."""
    value = response.headers.get("Retry-After", "").strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_S)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 1.0
    return max(0.0, min(when.timestamp() - time.time(), MAX_RETRY_AFTER_S))


def _wait(state: tenacity.RetryCallState) -> float:
    error = state.outcome.exception() if state.outcome is not None else None
    if isinstance(error, _Saturated):
        return retry_after_s(error.response)
    growing: float = UNREACHABLE_WAIT_INITIAL_S * 2.0 ** (state.attempt_number - 1)
    return min(growing, UNREACHABLE_WAIT_MAX_S)


def _policy() -> dict[str, Any]:
    """tenacity's settings shared by ``retrying`` and ``retrying_async``."""
    return {
        "stop": tenacity.stop_after_attempt(MAX_REQUEST_ATTEMPTS),
        "wait": _wait,
        "retry": tenacity.retry_if_exception_type((_Saturated, NodesUnreachable)),
        "reraise": True,
    }


def _answered(response: httpx.Response) -> httpx.Response:
    if response.status_code in SATURATED_STATUSES:
        raise _Saturated(response)
    return response


def retrying(
    attempt: Callable[[], httpx.Response],
    *,
    sleep: Callable[[float], None] | None = None,
) -> httpx.Response:
    """``attempt()`` until it gives an answer that is not 429/503, at most
    ``MAX_REQUEST_ATTEMPTS`` times; the last 429/503 answer is returned as it is, and
    ``NodesUnreachable`` from the last attempt is raised."""
    retryer = tenacity.Retrying(sleep=time.sleep if sleep is None else sleep, **_policy())
    try:
        return retryer(lambda: _answered(attempt()))
    except _Saturated as saturated:
        return saturated.response


async def retrying_async(
    attempt: Callable[[], Awaitable[httpx.Response]],
    *,
    sleep: Callable[[float], Awaitable[None]] | None = None,
) -> httpx.Response:
    """``retrying`` for an asynchronous ``attempt``: the same policy, waits on the event loop."""

    async def once() -> httpx.Response:
        return _answered(await attempt())

    retryer = tenacity.AsyncRetrying(sleep=asyncio.sleep if sleep is None else sleep, **_policy())
    try:
        return await retryer(once)
    except _Saturated as saturated:
        return saturated.response
