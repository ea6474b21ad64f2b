"""Display names (core/names.py): printable NFC text without control, bidi or invisible
characters, everywhere a name is accepted — the registry, governance, payments merchants, genesis
and contract configuration."""

from __future__ import annotations

import pytest

from jinqiao.core.limits import MAX_NAME_LENGTH
from jinqiao.core.names import name_problem

UNSAFE = {
    "right-to-left override": "\u202egnp.exe",
    "nul": "a\x00b",
    "newline": "bank\nA",
    "escape": "bank\x1b[31m",
    "del": "bank\x7f",
    "c1 control": "bank\x85",
    "left-to-right isolate": "\u2066bank",
    "arabic letter mark": "bank\u061c",
    "zero width space": "ba\u200bnk",
    "zero width joiner": "ba\u200dnk",
    "byte order mark": "\ufeffbank",
    "line separator": "bank\u2028A",
    "private use": "bank\ue000",
    "unassigned": "bank\U000e0080",
    "lone surrogate": "bank\ud800",
    "no-break space": "bank\u00a0A",
    "not nfc": "Cafe\u0301",
    "leading space": " bank",
    "trailing space": "bank ",
    "empty": "",
    "too long": "x" * (MAX_NAME_LENGTH + 1),
}


@pytest.mark.parametrize("name", UNSAFE.values(), ids=UNSAFE.keys())
def test_unsafe_names_are_refused_with_a_reason(name: str) -> None:
    problem = name_problem(name)
    assert problem is not None
    assert problem.startswith("must ")


@pytest.mark.parametrize(
    "name", ["Bank A", "Café", "中国银行 上海分行", "x" * MAX_NAME_LENGTH, "O'Brien & Sons (HK)"]
)
def test_ordinary_names_are_accepted(name: str) -> None:
    assert name_problem(name) is None


def test_the_reason_names_the_offending_character() -> None:
    assert name_problem("\u202egnp.exe") == ("must be printable text (U+202E is of category Cf)")
    assert name_problem("a\x00b") == "must be printable text (U+0000 is of category Cc)"
