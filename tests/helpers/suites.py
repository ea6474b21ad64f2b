"""Run a test module once per crypto suite: its module-level ``SUITE`` is each suite in turn.

    @pytest.fixture(autouse=True, scope="module", params=SUITE_NAMES)
    def each_suite(request: pytest.FixtureRequest) -> Iterator[CryptoSuite]:
        yield from use_suite(request, globals())

Module scope, so Hypothesis tests in the module run under it too (a function-scoped fixture
would be shared by all the examples of one test)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any, ParamSpec

import pytest

from jinqiao.core.crypto import SUITE_NAMES, CryptoSuite, get_suite

__all__ = ["SUITE_NAMES", "sha256_known_answer", "use_suite"]

P = ParamSpec("P")


def use_suite(request: pytest.FixtureRequest, namespace: dict[str, Any]) -> Iterator[CryptoSuite]:
    suite = get_suite(request.param)
    before = namespace["SUITE"]
    namespace["SUITE"] = suite
    try:
        yield suite
    finally:
        namespace["SUITE"] = before


def sha256_known_answer(test: Callable[P, None]) -> Callable[P, None]:
    """Run a known-answer test whose expected bytes (or chosen key-hash bits) are SHA-256's on
    the SHA-256 suite, whichever suite its module is parametrized with: it runs (not skips) under
    every parametrization, and the suite-generic tests of the module cover the other suites."""
    namespace = test.__globals__

    @functools.wraps(test)
    def on_sha256(*args: P.args, **kwargs: P.kwargs) -> None:
        before = namespace["SUITE"]
        namespace["SUITE"] = get_suite("ed25519-sha256")
        try:
            test(*args, **kwargs)
        finally:
            namespace["SUITE"] = before

    return on_sha256
