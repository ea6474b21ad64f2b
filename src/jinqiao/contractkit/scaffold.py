"""``jinqiao contract new NAME``: the files of a new package, a small working contract (a
ledger of pledges per sender) that passes ``jinqiao contract check`` and ``jinqiao contract
test`` as it stands, to be edited into the member's own."""

from __future__ import annotations

import re

from jinqiao.contracts.package import MANIFEST_FILE, SOURCE_FILE
from jinqiao.core.errors import InvalidInput

PACKAGE_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")

SOURCE = '''"""{title}: pledges per sender, with a cap. Written for jinqiao's member contracts
(docs/contracts.md): everything lives in ctx.state, amounts are integers in minor units."""

from __future__ import annotations

from jinqiao.contracts.api import Contract, method, query

MAX_PLEDGE_MINOR = 1_000_000


def pledge_key(sender):
    return b"pledge/" + sender


class {class_name}(Contract):
    @method(roles=("member",))
    def pledge(self, ctx, args):
        if not 0 < args.amount_minor <= MAX_PLEDGE_MINOR:
            ctx.reject("invalid_amount", f"a pledge is 1..{{MAX_PLEDGE_MINOR}} minor units")
        total = (ctx.state.load(pledge_key(ctx.sender)) or 0) + args.amount_minor
        ctx.state.save(pledge_key(ctx.sender), total)
        ctx.emit("Pledged", sender=ctx.sender, amount_minor=args.amount_minor, total=total)
        return total

    @query
    def pledged(self, ctx, args):
        return ctx.state.load(pledge_key(args.sender)) or 0
'''

MANIFEST = """name = "{name}"
version = "0.1.0"

[methods.pledge]
roles = ["member"]
args = {{ amount_minor = "int" }}

[methods.pledged]
kind = "query"
args = {{ sender = "bytes" }}
"""

TESTS = '''"""Tests of {name}: `jinqiao contract test .` runs them against an in-process chain."""

from jinqiao.contractkit import Kit


def test_a_member_pledges(kit: Kit) -> None:
    receipt = kit.call("alice", "pledge", amount_minor=500)
    assert receipt.ok, receipt.message
    assert receipt.result == 500
    assert receipt.events == [
        ("Pledged", {{"sender": kit.address("alice").hex(), "amount_minor": 500, "total": 500}})
    ]
    assert kit.query("pledged", sender=kit.address("alice")) == 500


def test_pledges_add_up(kit: Kit) -> None:
    kit.call("alice", "pledge", amount_minor=500)
    assert kit.call("alice", "pledge", amount_minor=250).result == 750


def test_only_members_pledge(kit: Kit) -> None:
    assert kit.call("carol", "pledge", amount_minor=500).code == "unauthorized"


def test_amounts_are_bounded(kit: Kit) -> None:
    for amount_minor in (0, 1_000_001):
        receipt = kit.call("alice", "pledge", amount_minor=amount_minor)
        assert receipt.code == "invalid_amount"
    assert kit.query("pledged", sender=kit.address("alice")) == 0
'''


def scaffold(name: str) -> dict[str, str]:
    """The files of package ``name`` (relative path → text)."""
    if not PACKAGE_NAME.fullmatch(name):
        raise InvalidInput(
            f"{name!r}: a contract name is a lowercase letter, then a-z, 0-9 or _ (at most 64)",
            code="invalid_package",
        )
    class_name = "".join(part.capitalize() for part in name.split("_") if part)
    title = name.replace("_", " ").capitalize()
    return {
        SOURCE_FILE: SOURCE.format(title=title, class_name=class_name),
        MANIFEST_FILE: MANIFEST.format(name=name),
        "tests/test_contract.py": TESTS.format(name=name),
    }
