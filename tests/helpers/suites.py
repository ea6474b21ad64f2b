"""Run a test module once per crypto suite: its module-level ``SUITE`` is each suite in turn.

    @pytest.fixture(autouse=True, scope="module", params=SUITE_NAMES)
    def each_suite(request: pytest.FixtureRequest) -> Iterator[CryptoSuite]:
        yield from use_suite(request, globals())

Module scope, so Hypothesis tests in the module run under it too (a function-scoped fixture
would be shared by all the examples of one test)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from jinqiao.core.crypto import SUITE_NAMES, CryptoSuite, get_suite

__all__ = ["SUITE_NAMES", "sha256_known_answer", "use_suite"]


def use_suite(request: pytest.FixtureRequest, namespace: dict[str, Any]) -> Iterator[CryptoSuite]:
    suite = get_suite(request.param)
    before = namespace["SUITE"]
    namespace["SUITE"] = suite
    try:
        yield suite
    finally:
        namespace["SUITE"] = before


def sha256_known_answer(suite: CryptoSuite) -> None:
    """Skip a known-answer test whose expected bytes (or chosen key-hash bits) are SHA-256's when
    it runs on another suite; the suite-generic tests of the module cover that suite."""
    if suite.name != "ed25519-sha256":
        pytest.skip("a SHA-256 known answer")
