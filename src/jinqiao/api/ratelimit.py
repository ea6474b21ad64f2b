"""Per-identity rate limits of the API (docs/api.md "Rate limits", ADR 0041): one token bucket
per authenticated identity, so that a member flooding a node is refused with 429
``rate_limited`` while the other members are served as before.

A bucket holds at most ``burst`` tokens and refills at ``requests_per_second``; a request takes
one token, or is refused with ``Retry-After`` (whole seconds until a token is back). The access
layer (``api.access.AccessControl``) asks ``RateLimiter.admit`` once the caller is authenticated
and before its rule is evaluated: unauthenticated and refused callers are not metered (they are
answered 401 at once), the public routes are not metered.

The buckets are bounded: at most ``max_identities`` are kept, the least recently used forgotten
first. A forgotten bucket comes back full; with the default bound (100,000) only a network with
more authenticated identities calling one node at once than that would see it.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter

from jinqiao.node.config import ApiRateLimit

MAX_IDENTITIES = 100_000


AUDITED_REFUSALS_INTERVAL_S = 1.0
"""At most one 429 of an identity is written to the audit trail per this interval: a flood of
refusals must not become a flood of fsynced audit records (the refusals are all counted in
``jinqiao_api_rate_limited_total``)."""


@dataclass
class TokenBucket:
    tokens: float
    updated_s: float
    refusal_audited_s: float = -math.inf


class RateLimiter:
    """Token buckets keyed by identity (``requests_per_second`` refill, ``burst`` capacity)."""

    def __init__(
        self,
        requests_per_second: float,
        burst: int,
        *,
        max_identities: int = MAX_IDENTITIES,
        clock: Callable[[], float] = time.monotonic,
        refused: Counter | None = None,
    ) -> None:
        self.rate = requests_per_second
        self.burst = burst
        self.max_identities = max_identities
        self.clock = clock
        self.refused = refused
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
    return RateLimiter(config.requests_per_second, config.burst, refused=refused)


def retry_after_seconds(wait_s: float) -> int:
    """``Retry-After`` in whole seconds (RFC 9110 §10.2.3), at least 1."""
    return max(1, math.ceil(wait_s))
