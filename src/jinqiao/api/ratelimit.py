"""Per-identity rate limits of the API (docs/api.md "Rate limits", ADR 0041): one token bucket
per authenticated identity, so that a member flooding a node is refused with 429
``rate_limited`` while the other members are served as before.

A bucket holds at most ``burst`` tokens and refills at ``requests_per_second``; a request takes
one token, or is refused with ``Retry-After`` (whole seconds until a token is back). The access
layer (``api.access.AccessControl``) asks ``RateLimiter.admit`` as soon as it knows the caller:
for a client certificate, from the connection's certificate before the request is routed or its
body read; for a signed request, once the signature is checked. Unauthenticated and refused
callers are not metered (they are answered 401 at once), the public routes are not metered.

A refusal is made cheap for the node, since a flood is mostly refusals: no route matching, an
answer encoded once per identity (``api.access``), at most one audit record per identity per
second, no log line per refusal (they are counted in ``jinqiao_api_rate_limited_total`` and
summed up in one log line per identity per ``SUMMARY_INTERVAL_S``). And a caller that asks again
before the ``Retry-After`` it was given — one that does not honour it — has its next 429 held
until that time (``tarpit_s``, at most ``max_held`` answers held at once): a flooder that waits
for its answers then sends about one refused request per connection per ``Retry-After`` instead
of as many as the node can refuse.

The buckets are bounded: at most ``max_identities`` are kept, the least recently used forgotten
first. A forgotten bucket comes back full; with the default bound (100,000) only a network with
more authenticated identities calling one node at once than that would see it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter

from jinqiao.node.config import ApiRateLimit

log = logging.getLogger(__name__)

MAX_IDENTITIES = 100_000
MAX_HELD_REFUSALS = 1_024
"""At most this many 429 answers are held (tarpit) at once; beyond it they go at once."""

AUDITED_REFUSALS_INTERVAL_S = 1.0
"""At most one 429 of an identity is written to the audit trail per this interval: a flood of
refusals must not become a flood of fsynced audit records (the refusals are all counted in
``jinqiao_api_rate_limited_total``)."""
SUMMARY_INTERVAL_S = 60.0
"""At most one log line per identity per this interval says how many of its requests were
refused since the last one."""


@dataclass
class TokenBucket:
    tokens: float
    updated_s: float
    refusal_audited_s: float = -math.inf
    retry_after_until_s: float = -math.inf
    """When the ``Retry-After`` of the last refusal not held ends (clock seconds)."""
    refused_since_summary: int = 0
    summary_s: float = -math.inf


@dataclass(frozen=True)
class Refusal:
    """How a request over its limit is answered: ``Retry-After`` in whole seconds, held
    ``hold_s`` first (0: at once), and whether it goes into the audit trail."""

    retry_after_s: int
    hold_s: float
    audit: bool


class RateLimiter:
    """Token buckets keyed by identity (``requests_per_second`` refill, ``burst`` capacity)."""

    def __init__(
        self,
        requests_per_second: float,
        burst: int,
        *,
        tarpit_s: float = 0.0,
        max_held: int = MAX_HELD_REFUSALS,
        max_identities: int = MAX_IDENTITIES,
        clock: Callable[[], float] = time.monotonic,
        refused: Counter | None = None,
        held: Counter | None = None,
    ) -> None:
        self.rate = requests_per_second
        self.burst = burst
        self.tarpit_s = tarpit_s
        self.max_held = max_held
        self.max_identities = max_identities
        self.clock = clock
        self.refused = refused
        self.held_total = held
        self.holding = 0
        self.buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def admit(self, identity: str) -> float:
        """Take a token from ``identity``'s bucket: 0.0 when admitted, else the seconds until a
        token is back (the caller answers 429 with that as ``Retry-After``)."""
        now = self.clock()
        bucket = self.buckets.get(identity)
        if bucket is None:
            bucket = TokenBucket(float(self.burst), now)
            self.buckets[identity] = bucket
            if len(self.buckets) > self.max_identities:
                self.buckets.popitem(last=False)
        else:
            self.buckets.move_to_end(identity)
            elapsed = max(0.0, now - bucket.updated_s)
            bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate)
            bucket.updated_s = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        if self.refused is not None:
            self.refused.inc()
        return (1.0 - bucket.tokens) / self.rate

    def refuse(self, identity: str, wait_s: float) -> Refusal:
        """How to answer the request of ``identity`` that ``admit`` refused (``wait_s``): held
        until the end of the ``Retry-After`` it was last given if it came back before that (at
        most ``tarpit_s``), else at once, starting a new ``Retry-After``."""
        retry_after_s = retry_after_seconds(wait_s)
        bucket = self.buckets.get(identity)
        if bucket is None:  # forgotten between admit and now: cannot happen on one event loop
            return Refusal(retry_after_s, 0.0, True)
        now = self.clock()
        hold_s = 0.0
        if now < bucket.retry_after_until_s:
            hold_s = min(self.tarpit_s, bucket.retry_after_until_s - now)
        else:
            bucket.retry_after_until_s = now + retry_after_s
        bucket.refused_since_summary += 1
        if now - bucket.summary_s >= SUMMARY_INTERVAL_S:
            log.warning(
                "rate limit: refused %d requests of %s since the last summary (at most one "
                "line per %.0f s)",
                bucket.refused_since_summary,
                identity,
                SUMMARY_INTERVAL_S,
            )
            bucket.refused_since_summary = 0
            bucket.summary_s = now
        return Refusal(retry_after_s, hold_s, self.audit_refusal(identity))

    async def hold(self, refusal: Refusal) -> None:
        """Wait ``refusal.hold_s`` before the 429 goes (the tarpit), unless ``max_held``
        answers are held already."""
        if refusal.hold_s <= 0 or self.holding >= self.max_held:
            return
        self.holding += 1
        if self.held_total is not None:
            self.held_total.inc()
        try:
            await asyncio.sleep(refusal.hold_s)
        finally:
            self.holding -= 1

    def audit_refusal(self, identity: str) -> bool:
        """Whether this refusal of ``identity`` goes into the audit trail: the first of each
        ``AUDITED_REFUSALS_INTERVAL_S``."""
        bucket = self.buckets.get(identity)
        now = self.clock()
        if bucket is None or now - bucket.refusal_audited_s >= AUDITED_REFUSALS_INTERVAL_S:
            if bucket is not None:
                bucket.refusal_audited_s = now
            return True
        return False


def node_rate_limiter(config: ApiRateLimit, registry: CollectorRegistry) -> RateLimiter:
    """The limiter of a node's API, its refusals counted in ``registry``."""
    refused = Counter(
        "jinqiao_api_rate_limited",
        "Requests refused with 429 rate_limited (an identity over api_rate_limit)",
        registry=registry,
    )
    held = Counter(
        "jinqiao_api_rate_limited_held",
        "429 answers held until the Retry-After the identity was last given (the tarpit)",
        registry=registry,
    )
    return RateLimiter(
        config.requests_per_second,
        config.burst,
        tarpit_s=config.tarpit_ms / 1000,
        refused=refused,
        held=held,
    )


def retry_after_seconds(wait_s: float) -> int:
    """``Retry-After`` in whole seconds (RFC 9110 §10.2.3), at least 1."""
    return max(1, math.ceil(wait_s))
