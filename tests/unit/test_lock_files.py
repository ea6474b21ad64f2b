"""The hashed lock files (issue 15, item 7; ADR 0039; docs/operations.md "Lock files"):
``requirements.lock`` pins everything ``make install`` installs and ``requirements-node.lock`` the
node's base dependencies alone, each version with the sha256 of its files, the two agreeing."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")
HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}\b")


def canonical(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lock: Path) -> dict[str, tuple[str, int]]:
    """Each pinned distribution of ``lock``: its version and how many hashes it lists."""
    entries: dict[str, tuple[str, int]] = {}
    name = ""
    for line in lock.read_text().splitlines():
        found = PIN.match(line)
        if found is not None:
            name = canonical(found[1])
            assert name not in entries, f"{lock.name}: {name} pinned twice"
            entries[name] = (found[2], 0)
        elif name and HASH.search(line):
            version, hashes = entries[name]
            entries[name] = (version, hashes + 1)
    return entries


def project() -> dict[str, list[str]]:
    """pyproject's base dependencies (``""``) and extras, as ``name==version`` strings."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {"": data["dependencies"], **data["optional-dependencies"]}


def exact_pins(requirements: list[str]) -> dict[str, str]:
    found = {}
    for requirement in requirements:
        match = re.match(r"([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==([^\s;]+)", requirement)
        if match is not None and not requirement.startswith("jinqiao"):
            found[canonical(match[1])] = match[2]
    return found


def test_every_pin_of_each_lock_has_hashes() -> None:
    for lock in (
        "requirements.lock",
        "requirements-node.lock",
        "tools/generator/requirements.lock",
    ):
        entries = pins(ROOT / lock)
        assert len(entries) > 20, lock
        unhashed = sorted(name for name, (_, hashes) in entries.items() if hashes == 0)
        assert not unhashed, f"{lock}: no hash for {unhashed}"


def test_the_node_lock_is_the_base_dependencies_at_the_full_locks_versions() -> None:
    full, node = pins(ROOT / "requirements.lock"), pins(ROOT / "requirements-node.lock")
    extras = project()
    for name, version in exact_pins(extras[""]).items():
        assert node[name][0] == version, f"{name}: pyproject pins {version}"
    for name, (version, _) in node.items():
        assert full[name][0] == version, f"{name} {version} is {full[name][0]} in requirements.lock"
    # What only an extra or the development tools need is not in the node's lock.
    for extra in ("reports", "credit", "export", "dev"):
        for name, version in exact_pins(extras[extra]).items():
            assert full[name][0] == version, f"{name}: pyproject pins {version}"
            if name not in exact_pins(extras[""]):
                assert name not in node, f"{name} (extra {extra}) is in requirements-node.lock"
    assert "matplotlib" not in node and "pandas" not in node and "pytest" not in node
