"""Every import-linter contract in pyproject.toml can fail: for each one, a copy of the source tree
gets one deliberate bad import, lint-imports runs on the copy, and the contract must be reported
broken. A contract that cannot fail guards nothing (the review of 2026-12-05 found three probes
that passed unnoticed). Also: every top-level module of ``jinqiao`` has a place in the layers, so
a new one cannot sit outside them and launder imports."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = ROOT / "pyproject.toml"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
NOT_IN_A_LAYER = {"__init__", "__main__"}  # the root package; the entry point imports only cli


@dataclass(frozen=True)
class Probe:
    """A bad import: ``line`` added at the end of ``module`` (a path under ``src/jinqiao``), and
    optionally a new module ``extra`` (path, text) that the bad import goes through."""

    module: str
    line: str
    extra: tuple[str, str] | None = None


PROBES = {
    "Layers follow DESIGN.md": Probe("core/types.py", "import jinqiao.ledger.smt"),
    "The SDK does not import the node": Probe("client/token.py", "import jinqiao.node.config"),
    "The verifier depends only on core": Probe("verify.py", "import jinqiao.ledger.merkle"),
    "The index reads the chain only through the SDK": Probe(
        "index/queries.py", "import jinqiao.node.storage"
    ),
    "Keys and the file writer depend only on core": Probe(
        "keys/__init__.py", "import jinqiao.apps.token"
    ),
    "Apps see only the contract API": Probe(
        "apps/registry.py", "from jinqiao.execution.runtime import Runtime"
    ),
    "The consensus driver does no I/O": Probe("node/driver.py", "import time"),
    "The API sees the node only through its port": Probe(
        "api/state.py", "import jinqiao.node.storage"
    ),
    # Indirect: a new helper outside every layer does the I/O, and a contract imports the helper.
    "Pure layers do no I/O": Probe(
        "apps/token.py", "import jinqiao.helper", extra=("helper.py", "import os\n")
    ),
}


def importlinter_config() -> dict[str, Any]:
    with PYPROJECT.open("rb") as file:
        config: dict[str, Any] = tomllib.load(file)["tool"]["importlinter"]
    return config


def contract_names() -> list[str]:
    return [contract["name"] for contract in importlinter_config()["contracts"]]


def lint_copy(tmp_path: Path, probes: list[Probe]) -> dict[str, str]:
    """Run lint-imports on a copy of ``src`` with ``probes`` applied: each contract's status."""
    package = tmp_path / "src" / "jinqiao"
    shutil.copytree(ROOT / "src" / "jinqiao", package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PYPROJECT, tmp_path / "pyproject.toml")
    for probe in probes:
        if probe.extra is not None:
            (package / probe.extra[0]).write_text(probe.extra[1])
        target = package / probe.module
        target.write_text(target.read_text() + f"\n{probe.line}  # deliberately bad\n")
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(tmp_path / "pyproject.toml")],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path / "src")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    statuses = dict(re.findall(r"^(.+?) (KEPT|BROKEN)(?: \(.*\))?$", result.stdout, re.MULTILINE))
    if set(statuses) != set(contract_names()):
        pytest.fail(f"lint-imports did not report every contract:\n{result.stdout}{result.stderr}")
    return statuses


def test_every_contract_has_a_probe() -> None:
    assert sorted(PROBES) == sorted(contract_names())


def test_the_unchanged_copy_keeps_every_contract(tmp_path: Path) -> None:
    statuses = lint_copy(tmp_path, [])
    assert set(statuses.values()) == {"KEPT"}, statuses


@pytest.mark.parametrize("name", sorted(PROBES))
def test_each_contract_can_fail(tmp_path: Path, name: str) -> None:
    statuses = lint_copy(tmp_path, [PROBES[name]])
    assert statuses[name] == "BROKEN", statuses


def test_the_pure_layers_catch_io_laundered_through_keys(tmp_path: Path) -> None:
    """The review's probe that passed unnoticed: a contract loading a key file (disk I/O)."""
    statuses = lint_copy(tmp_path, [Probe("apps/token.py", "from jinqiao.keys import load_key")])
    assert statuses["Pure layers do no I/O"] == statuses["Layers follow DESIGN.md"] == "BROKEN"


def test_every_top_level_module_is_in_a_layer() -> None:
    layers = next(
        contract["layers"]
        for contract in importlinter_config()["contracts"]
        if contract["type"] == "layers"
    )
    layered = {name.strip() for layer in layers for name in layer.split("|")}
    top_level = {
        f"jinqiao.{path.stem}"
        for path in (ROOT / "src" / "jinqiao").iterdir()
        if (path.suffix == ".py" or (path / "__init__.py").exists())
        and path.stem not in NOT_IN_A_LAYER
    }
    assert top_level == layered
