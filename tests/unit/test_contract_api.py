"""The contract API (``jinqiao.execution.api``): every name it exports exists, the shared
amount checks give every contract the same boundaries and rejection codes, and no app reaches
past the context into the runtime."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any, NoReturn, cast

import pytest

import jinqiao.execution.api as api
from jinqiao.core.errors import Rejection
from jinqiao.core.limits import MAX_AMOUNT_MINOR
from jinqiao.execution.api import Context, check_amount, check_bound


class RejectOnly:
    """All the checks use of a ``Context``: ``reject``."""

    def reject(self, code: str, message: str, **details: Any) -> NoReturn:
        raise Rejection(code, message, **details)


CTX = cast(Context, RejectOnly())


def test_every_exported_name_exists() -> None:
    assert all(hasattr(api, name) for name in api.__all__)


@pytest.mark.parametrize("allow_zero", [True, False])
def test_amounts_are_bounded_above_and_below(allow_zero: bool) -> None:
    check_amount(CTX, 1, allow_zero=allow_zero)
    check_amount(CTX, MAX_AMOUNT_MINOR, allow_zero=allow_zero)
    for amount_minor in (-1, MAX_AMOUNT_MINOR + 1):
        with pytest.raises(Rejection) as info:
            check_amount(CTX, amount_minor, allow_zero=allow_zero)
        assert (info.value.code, info.value.details) == (
            "invalid_amount",
            {"amount_minor": amount_minor},
        )


def test_zero_only_where_allowed() -> None:
    check_amount(CTX, 0, allow_zero=True)  # e.g. a token transfer, an allowance reset
    with pytest.raises(Rejection, match=r"1\.\."):
        check_amount(CTX, 0, allow_zero=False)  # e.g. a payment


def test_totals_stay_within_the_bound() -> None:
    check_bound(CTX, MAX_AMOUNT_MINOR, "supply")
    with pytest.raises(Rejection) as info:
        check_bound(CTX, MAX_AMOUNT_MINOR + 1, "supply")
    assert (info.value.code, info.value.details) == ("amount_overflow", {"what": "supply"})


def test_apps_do_not_reach_the_runtime_through_the_context() -> None:
    """The context is the whole contract API at run time: no app touches its private runtime
    (import-linter covers imports; this covers the one object contracts are handed)."""
    apps = Path(__file__).resolve().parents[2] / "src" / "jinqiao" / "apps"
    reaching = [
        f"{path.name}:{node.lineno}"
        for path in sorted(apps.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute) and node.attr in ("runtime", "_runtime")
    ]
    assert reaching == []
