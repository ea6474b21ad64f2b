"""Per-identity rate limits on a real node process over real TLS (docs/api.md "Rate limits",
ADR 0041): a member that sends more than its limit is answered 429 ``rate_limited`` with
``Retry-After``, while another member asking at the same time is served."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from jinqiao.client import Credentials
from tests.helpers.process import NodeProcess, configured_node, metric

pytestmark = pytest.mark.e2e

LIMIT = {"requests_per_second": 2, "burst": 5}
FLOOD_THREADS = 3
FLOOD_REQUESTS = 15  # per thread: 45 in all, far over a burst of 5 and 2/s


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    process = configured_node(tmp_path_factory.mktemp("network"), api_rate_limit=LIMIT).start()
    try:
        yield process
    finally:
        assert process.stop() == 0, process.log()


def test_the_flooder_gets_429_with_retry_after_and_the_victim_is_served(
    node: NodeProcess,
) -> None:
    network: Path = node.home.parent.parent
    url = f"{node.url}/v1/status"
    flood: Counter[int] = Counter()
    refusals: list[tuple[str | None, dict[str, object]]] = []
    lock = threading.Lock()

    def flooder() -> None:
        with Credentials.for_account(network, "bank-b-treasury").http_client(timeout=10) as http:
            for _ in range(FLOOD_REQUESTS):
                answer = http.get(url)
                with lock:
                    flood[answer.status_code] += 1
                    if answer.status_code == 429:
                        refusals.append((answer.headers.get("retry-after"), answer.json()))

    threads = [threading.Thread(target=flooder) for _ in range(FLOOD_THREADS)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    victim: Counter[int] = Counter()
    with Credentials.for_account(network, "bank-a-treasury").http_client(timeout=10) as http:
        for _ in range(4):  # within bank-a's own burst
            victim[http.get(url).status_code] += 1
    for thread in threads:
        thread.join(timeout=60)
    elapsed_s = time.monotonic() - started
    assert victim == Counter({200: 4}), victim
    assert set(flood) == {200, 429}, flood
    # the bucket lets through its burst and then its rate, no more
    allowed = LIMIT["burst"] + LIMIT["requests_per_second"] * elapsed_s + 1
    assert flood[200] <= allowed, (flood, elapsed_s)
    retry_after, body = refusals[0]
    assert retry_after is not None and int(retry_after) >= 1, retry_after
    assert body["code"] == "rate_limited" and "bank-b-treasury" in str(body["message"]), body


def test_a_caller_that_does_not_wait_for_retry_after_is_held_then_refused(
    node: NodeProcess,
) -> None:
    """The tarpit (ADR 0041): once refused, a caller that asks again before its ``Retry-After``
    has its next 429 held until then; the first refusal goes at once. Refusals are counted in
    ``/metrics``, not written to the log one by one."""
    network: Path = node.home.parent.parent
    url = f"{node.url}/v1/status"
    answers: list[tuple[int, float, str | None]] = []
    held_before = metric(node, "jinqiao_api_rate_limited_held_total") or 0.0
    with Credentials.for_account(network, "ecfin-admin").http_client(timeout=10) as http:
        for _ in range(LIMIT["burst"] + 4):  # its burst, then four it does not wait for
            started = time.monotonic()
            answer = http.get(url)
            answers.append(
                (answer.status_code, time.monotonic() - started, answer.headers.get("retry-after"))
            )
    refused = [(seconds, retry_after) for status, seconds, retry_after in answers if status == 429]
    assert len(refused) >= 2, answers
    first_s, retry_after = refused[0]
    assert first_s < 0.5 and retry_after is not None and int(retry_after) >= 1, answers
    assert any(seconds >= 0.3 for seconds, _ in refused[1:]), answers  # held, not at once
    held = metric(node, "jinqiao_api_rate_limited_held_total")
    assert held is not None and held > held_before, held
    assert (metric(node, "jinqiao_api_rate_limited_total") or 0) >= len(refused)
    log = node.log()
    assert log.count("rate limit: refused") <= 3, log[-3_000:]  # a summary, not a line each
