"""Schemathesis hooks for fuzzing a node's API (``make fuzz`` loads this module through
``SCHEMATHESIS_HOOKS``; ``tests/integration/test_api_conformance.py`` applies ``cap_wait``).

Long polls are capped: ``wait_ms`` may hold a request up to 30 s by design (until a block or a
transaction is committed), which would spend the run's time waiting instead of testing.
"""

from __future__ import annotations

from typing import Any

import schemathesis

MAX_FUZZ_WAIT_MS = 50


def cap_wait(query: dict[str, Any] | None) -> None:
    """Lower a whole-number ``wait_ms`` (int or digits) to ``MAX_FUZZ_WAIT_MS``; other values are
    left alone, to be refused."""
    value = None if query is None else query.get("wait_ms")
    if isinstance(value, int) and value > MAX_FUZZ_WAIT_MS:
        query["wait_ms"] = MAX_FUZZ_WAIT_MS  # type: ignore[index]
    elif isinstance(value, str) and value.isdigit() and int(value) > MAX_FUZZ_WAIT_MS:
        query["wait_ms"] = str(MAX_FUZZ_WAIT_MS)  # type: ignore[index]


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: Any) -> None:
    cap_wait(case.query)
