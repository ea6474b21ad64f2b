"""Docs that match the code: every stable error or rejection code the source can produce is
listed in docs/errors.md, and every code the API maps to a status is a real code."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from jinqiao.api.errors import STATUS_BY_CODE

ROOT = Path(__file__).resolve().parents[2]


def codes_in_source() -> set[str]:
    codes: set[str] = set()
    for path in (ROOT / "src" / "jinqiao").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
                if name in ("reject", "Rejection", "ClientError") and node.args:
                    first = node.args[0]
                    if isinstance(first, ast.Constant) and isinstance(first.value, str):
                        codes.add(first.value)
                for keyword in node.keywords:
                    if keyword.arg == "code" and isinstance(keyword.value, ast.Constant):
                        codes.add(str(keyword.value.value))
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id == "code"
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
            ):
                codes.add(node.value.value)
    return {code for code in codes if re.fullmatch(r"[a-z][a-z_]+", code)}


def test_every_code_is_documented() -> None:
    documented = set(re.findall(r"`([a-z][a-z_]+)`", (ROOT / "docs" / "errors.md").read_text()))
    missing = sorted(codes_in_source() - documented)
    assert not missing, f"codes missing from docs/errors.md: {missing}"


def test_the_scan_finds_codes() -> None:
    # A scan that found nothing would make the test above pass vacuously.
    found = codes_in_source()
    assert {"insufficient_funds", "duplicate_transaction", "decode_error", "mempool_full"} <= found


def test_status_map_names_documented_codes() -> None:
    documented = set(re.findall(r"`([a-z][a-z_]+)`", (ROOT / "docs" / "errors.md").read_text()))
    assert set(STATUS_BY_CODE) <= documented
