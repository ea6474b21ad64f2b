"""``post_all`` of ``bench payments``' network phase: as fast as accepted in batches of ``BATCH``,
or paced at a fixed offered rate in small batches; saturation refusals are posted again. The node
is an in-memory HTTP transport that accepts or refuses (the pacer is what is under test)."""

from __future__ import annotations

import time

import httpx
import msgspec

from jinqiao.bench import local_network
from jinqiao.bench.payments_network import paced_batch, post_all


def _node(sizes: list[int], times: list[float], saturate_first: bool = False) -> httpx.Client:
    calls = {"n": 0}

    def answer(request: httpx.Request) -> httpx.Response:
        batch = msgspec.msgpack.decode(request.content)
        sizes.append(len(batch))
        times.append(time.monotonic())
        calls["n"] += 1
        if saturate_first and calls["n"] == 1:
            refused = {"error": {"code": "mempool_full", "message": "full"}, "status": 503}
            return httpx.Response(200, json={"results": [refused] * len(batch)})
        return httpx.Response(200, json={"results": [{"hash": "00"}] * len(batch)})

    return httpx.Client(transport=httpx.MockTransport(answer), base_url="http://node")


def _transactions(count: int) -> list[tuple[bytes, bytes]]:
    return [(number.to_bytes(8, "big"), b"raw") for number in range(count)]


def test_unpaced_posts_full_batches_at_once() -> None:
    sizes: list[int] = []
    times: list[float] = []
    tracker = local_network.Tracker()
    post_all([_node(sizes, times)], _transactions(450), tracker)
    assert sizes == [local_network.BATCH, local_network.BATCH, 50]
    assert len(tracker.submitted_at) == 450
    assert times[-1] - times[0] < 0.5


def test_paced_posts_small_batches_at_the_rate() -> None:
    sizes: list[int] = []
    times: list[float] = []
    tracker = local_network.Tracker()
    rate = 200
    post_all([_node(sizes, times)], _transactions(100), tracker, rate)
    assert paced_batch(rate) == 10
    assert sizes == [10] * 10
    # The tenth batch is due 90 / 200 s after the first.
    assert times[-1] - times[0] >= 0.45
    assert len(tracker.submitted_at) == 100


def test_saturation_refusals_are_posted_again_and_counted() -> None:
    sizes: list[int] = []
    times: list[float] = []
    tracker = local_network.Tracker()
    post_all([_node(sizes, times, saturate_first=True)], _transactions(30), tracker, 600)
    assert sizes == [30, 30]
    assert tracker.refused == 30
    assert len(tracker.submitted_at) == 30


def test_batch_size_bounds() -> None:
    assert paced_batch(1) == 1
    assert paced_batch(100_000) == local_network.BATCH
