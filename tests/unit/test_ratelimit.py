"""The API's per-identity token buckets (``api.ratelimit``, docs/api.md "Rate limits"), on a
clock the test moves."""

from __future__ import annotations

import asyncio
import logging

import pytest
from prometheus_client import CollectorRegistry

from jinqiao.api.ratelimit import (
    SUMMARY_INTERVAL_S,
    RateLimiter,
    Refusal,
    node_rate_limiter,
    retry_after_seconds,
)
from jinqiao.node.config import ApiRateLimit


class Clock:
    def __init__(self) -> None:
        self.now_s = 1_000.0

    def __call__(self) -> float:
        return self.now_s


def test_a_burst_then_the_sustained_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(10.0, 5, clock=clock)
    assert [limiter.admit("bank-a/teller") for _ in range(5)] == [0.0] * 5
    assert limiter.admit("bank-a/teller") == pytest.approx(0.1)
    clock.now_s += 0.25  # 2.5 tokens back
    assert [limiter.admit("bank-a/teller") for _ in range(2)] == [0.0, 0.0]
    assert limiter.admit("bank-a/teller") == pytest.approx(0.05)
    clock.now_s += 60  # never more than the burst
    assert sum(limiter.admit("bank-a/teller") == 0.0 for _ in range(10)) == 5


def test_each_identity_has_its_own_bucket() -> None:
    limiter = RateLimiter(1.0, 2, clock=Clock())
    assert [limiter.admit("bank-a/flood") for _ in range(3)][-1] > 0
    assert limiter.admit("bank-b/teller") == 0.0


def test_the_buckets_are_bounded_least_recently_used_first() -> None:
    limiter = RateLimiter(1.0, 1, max_identities=2, clock=Clock())
    for identity in ("a", "b", "a", "c"):
        limiter.admit(identity)
    assert list(limiter.buckets) == ["a", "c"]


def test_refusals_are_audited_once_a_second_and_all_counted() -> None:
    clock = Clock()
    registry = CollectorRegistry()
    limiter = node_rate_limiter(ApiRateLimit(requests_per_second=1.0, burst=1), registry)
    limiter.clock = clock
    limiter.admit("x")
    audited = []
    for _ in range(5):
        assert limiter.admit("x") > 0
        audited.append(limiter.audit_refusal("x"))
    assert audited == [True, False, False, False, False]
    clock.now_s += 0.5  # half a token back: still refused, and still within the second
    assert limiter.admit("x") > 0 and not limiter.audit_refusal("x")
    clock.now_s += 1.0
    assert limiter.admit("x") == 0.0
    assert limiter.admit("x") > 0 and limiter.audit_refusal("x")
    assert registry.get_sample_value("jinqiao_api_rate_limited_total") == 7


def test_retry_after_is_whole_seconds_at_least_one() -> None:
    assert [retry_after_seconds(s) for s in (0.001, 1.0, 1.2)] == [1, 1, 2]


def test_a_caller_back_before_its_retry_after_is_held_until_then() -> None:
    clock = Clock()
    limiter = RateLimiter(10.0, 1, tarpit_s=1.0, clock=clock)
    assert limiter.admit("flood") == 0.0
    first = limiter.refuse("flood", limiter.admit("flood"))
    assert (first.retry_after_s, first.hold_s) == (1, 0.0)  # the first refusal goes at once
    clock.now_s += 0.25  # back before its Retry-After (1 s): held until it ends
    again = limiter.refuse("flood", limiter.admit("flood"))
    assert again.hold_s == pytest.approx(0.75)
    clock.now_s += 0.75  # its Retry-After is over: a token is back
    assert limiter.admit("flood") == 0.0
    assert limiter.refuse("flood", limiter.admit("flood")).hold_s == 0.0  # a new Retry-After
    assert limiter.refuse("other", 0.5).hold_s == 0.0  # a bucket it does not know: at once


def test_no_tarpit_when_it_is_off() -> None:
    clock = Clock()
    limiter = RateLimiter(10.0, 1, tarpit_s=0.0, clock=clock)
    limiter.admit("flood")
    refusals = [limiter.refuse("flood", limiter.admit("flood")) for _ in range(3)]
    assert [refusal.hold_s for refusal in refusals] == [0.0, 0.0, 0.0]


def test_the_tarpit_holds_at_most_max_held_answers_at_once() -> None:
    async def scenario() -> tuple[int, float]:
        registry = CollectorRegistry()
        limiter = node_rate_limiter(ApiRateLimit(10.0, 1, tarpit_ms=200), registry)
        limiter.max_held = 2
        held = Refusal(retry_after_s=1, hold_s=0.2, audit=False)
        started = asyncio.get_running_loop().time()
        tasks = [asyncio.create_task(limiter.hold(held)) for _ in range(3)]
        await asyncio.sleep(0)
        holding = limiter.holding
        await asyncio.gather(*tasks)
        elapsed = asyncio.get_running_loop().time() - started
        assert limiter.holding == 0
        assert registry.get_sample_value("jinqiao_api_rate_limited_held_total") == 2
        return holding, elapsed

    holding, elapsed_s = asyncio.run(scenario())
    assert holding == 2  # the third went at once
    assert elapsed_s >= 0.2


def test_one_summary_line_per_identity_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    limiter = RateLimiter(1.0, 1, clock=clock)
    limiter.admit("flood")
    with caplog.at_level(logging.WARNING, logger="jinqiao.api.ratelimit"):
        for _ in range(50):
            limiter.refuse("flood", limiter.admit("flood"))
        clock.now_s += SUMMARY_INTERVAL_S
        limiter.refuse("flood", limiter.admit("flood"))
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 2, lines
    assert "refused 1 requests of flood" in lines[0]
    assert "refused 50 requests of flood" in lines[1]
