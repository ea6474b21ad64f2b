"""The hostile suite (tests/contracts/hostile.py): every hostile contract is refused by the
review with its rule code, or passes the review and is stopped by the sandbox with its rejection
code, leaving state unchanged. docs/contracts.md lists the suite; a test keeps the two equal."""

from __future__ import annotations

import re
from pathlib import Path
from textwrap import dedent

import pytest

from jinqiao.apps import default_contracts
from jinqiao.contracts import RULES, member_contract, review_source
from jinqiao.core.types import ReceiptStatus
from jinqiao.execution.api import Contract
from tests.contracts.hostile import ESCAPE_NAMESPACE, HOSTILE, MANIFEST, Hostile
from tests.helpers.chain import Chain

ROOT = Path(__file__).resolve().parents[2]
REVIEWED = [case for case in HOSTILE if case.expected.startswith("JQ")]
STOPPED = [case for case in HOSTILE if not case.expected.startswith("JQ")]


def chain_with(contract: Contract) -> Chain:
    return Chain(contracts=[*default_contracts(), contract])


@pytest.mark.parametrize("case", REVIEWED, ids=lambda case: case.id)
def test_the_review_refuses(case: Hostile) -> None:
    codes = {finding.code for finding in review_source(case.source())}
    assert case.expected in codes, codes


@pytest.mark.parametrize("case", STOPPED, ids=lambda case: case.id)
def test_the_sandbox_stops(case: Hostile) -> None:
    assert review_source(case.source()) == []
    contract = member_contract(MANIFEST, case.source())
    chain = chain_with(contract)
    args = contract.methods["attack"].args_type()
    receipt = chain.rejected(case.expected, "alice", "hostile", "attack", args)
    assert receipt.status == ReceiptStatus.REJECTED


def test_stopping_is_quick() -> None:
    """A bomb is refused before it is computed: the whole stopped half of the suite takes
    well under a second of budget each (the step limit bounds the loops)."""
    contract = member_contract(MANIFEST, Hostile("x", "return 'a' * 10**10", "").source())
    chain = chain_with(contract)
    receipt = chain.submit("alice", "hostile", "attack", contract.methods["attack"].args_type())
    # one state read (is the contract paused?) and one step (the method's entry)
    assert (receipt.code, receipt.steps_used) == ("out_of_memory", 2)


def test_keys_stay_in_the_contracts_own_namespace() -> None:
    contract = member_contract(MANIFEST, ESCAPE_NAMESPACE.source())
    chain = chain_with(contract)
    token_before = {key: value for key, value in chain.state.items() if key.startswith(b"token/")}
    chain.ok("alice", "hostile", "attack", contract.methods["attack"].args_type())
    token_after = {key: value for key, value in chain.state.items() if key.startswith(b"token/")}
    assert token_after == token_before
    assert chain.state[b"hostile/../token/supply/CNY"] == b"x"
    assert chain.state[b"hostile//token/x"] == b"x"


def test_the_documented_suite_is_the_suite() -> None:
    text = (ROOT / "docs" / "contracts.md").read_text()
    section = text.split("## The hostile suite", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| `([a-z_]+)` \| `([A-Za-z0-9_]+)` \|", section, re.MULTILINE))
    expected = {case.id: case.expected for case in [*HOSTILE, ESCAPE_NAMESPACE]}
    assert rows == expected


def test_every_rule_is_documented() -> None:
    text = (ROOT / "docs" / "contracts.md").read_text()
    documented = re.findall(r"^\| `(JQ\d+)` \|", text, re.MULTILINE)
    assert documented == list(RULES)


def test_the_documented_package_passes_the_check() -> None:
    """docs/contracts.md "A package": its contract.py and contract.toml are a valid package."""
    from jinqiao.contracts.package import review_package

    text = (ROOT / "docs" / "contracts.md").read_text()
    source = re.search(r"```python\n(.*?)```", text, re.DOTALL)
    manifest = re.search(r"```toml\n(.*?)```", text, re.DOTALL)
    assert source is not None and manifest is not None
    assert review_package(dedent(manifest.group(1)), dedent(source.group(1))) == []
