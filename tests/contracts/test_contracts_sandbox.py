"""The sandbox and the host: a member contract runs through the real runtime, its steps are the
same on every run, running out changes nothing, and the manifest must match the code."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jinqiao.apps import default_contracts
from jinqiao.cli.main import app
from jinqiao.contracts import (
    ContractRefused,
    Meter,
    compile_contract,
    member_contract,
    review_source,
)
from jinqiao.contracts.host import public_attributes
from jinqiao.contracts.package import review_package
from jinqiao.contracts.sandbox import LoadedContract
from jinqiao.core.codec import CanonicalStruct, decode
from jinqiao.core.errors import InvalidInput
from jinqiao.execution.api import Contract
from tests.helpers.chain import Chain, events

SOURCE = '''"""A counter."""

from __future__ import annotations

from jinqiao.contracts.api import Contract, method, query

KEY = b"total"


class Counter(Contract):
    @method(roles=("admin",))
    def add(self, ctx, args):
        total = ctx.state.load(KEY) or 0
        for i in range(args.times):
            total += args.amount_minor
        ctx.state.save(KEY, total)
        ctx.emit("Added", amount_minor=args.amount_minor, total=total)
        return total

    @method
    def add_then_loop(self, ctx, args):
        ctx.state.save(KEY, 12345)
        ctx.emit("Written")
        while True:
            pass

    @method
    def fail(self, ctx, args):
        ctx.reject("too_big", "no")

    @method
    def divide(self, ctx, args):
        return args.amount_minor // 0

    @query
    def total(self, ctx, args):
        return ctx.state.load(KEY) or 0

    @query
    def sneaky_write(self, ctx, args):
        ctx.state.save(KEY, 1)
'''

MANIFEST = """
name = "counter"
version = "1.0.0"

[methods.add]
roles = ["admin"]
args = { amount_minor = "int", times = "int" }

[methods.add_then_loop]
[methods.fail]
[methods.divide]
args = { amount_minor = "int" }

[methods.total]
kind = "query"

[methods.sneaky_write]
kind = "query"
"""


def counter_chain() -> tuple[Chain, Contract]:
    contract = member_contract(MANIFEST, SOURCE)
    return Chain(contracts=[*default_contracts(), contract]), contract


def args(contract: Contract, name: str, *values: object) -> CanonicalStruct:
    built: CanonicalStruct = contract.methods[name].args_type(*values)
    return built


def test_a_member_contract_runs_through_the_runtime() -> None:
    chain, contract = counter_chain()
    receipt = chain.ok("bank-a-admin", "counter", "add", args(contract, "add", 5, 3))
    assert decode(receipt.result, int, max_bytes=16) == 15
    assert [event.attributes for event in events(receipt, "Added")] == [
        (("amount_minor", 5), ("total", 15))
    ]
    assert chain.query("counter", "total", args(contract, "total")) == 15
    chain.rejected("unauthorized", "alice", "counter", "add", args(contract, "add", 5, 3))


def test_steps_are_the_same_on_every_run() -> None:
    """Two nodes (two chains, two loads of the package) give identical receipts."""
    receipts = []
    for _ in range(2):
        chain, contract = counter_chain()
        receipts.append(chain.ok("bank-a-admin", "counter", "add", args(contract, "add", 2, 50)))
    assert receipts[0] == receipts[1]
    # 50 loop iterations + 1 method entry + the pause check and 2 state operations + 1 event
    assert receipts[0].steps_used == 50 + 1 + 3 + 1


def test_running_out_changes_nothing() -> None:
    """The method saved a value and emitted an event before its endless loop: the rejection
    drops both (``Chain.rejected`` checks the state), and the receipt counts the steps."""
    chain, contract = counter_chain()
    receipt = chain.rejected(
        "out_of_steps", "alice", "counter", "add_then_loop", args(contract, "add_then_loop")
    )
    assert receipt.events == ()
    assert receipt.steps_used > 100_000


def test_contract_rejections_and_errors() -> None:
    chain, contract = counter_chain()
    chain.rejected("too_big", "alice", "counter", "fail", args(contract, "fail"))
    receipt = chain.rejected(
        "contract_error", "alice", "counter", "divide", args(contract, "divide", 1)
    )
    assert "ZeroDivisionError" in receipt.message


def test_a_query_cannot_write() -> None:
    chain, contract = counter_chain()
    with pytest.raises(Exception, match="cannot change state") as info:
        chain.query("counter", "sneaky_write", args(contract, "sneaky_write"))
    assert getattr(info.value, "code", None) == "read_only"


def test_the_manifest_must_match_the_code() -> None:
    missing = MANIFEST.replace("[methods.fail]\n", "")
    findings = review_package(missing, SOURCE)
    assert [(f.code, f.message) for f in findings] == [
        ("JQ200", "fail is declared but not in the manifest")
    ]
    assert findings[0].line == SOURCE.splitlines().index("    def fail(self, ctx, args):")
    wrong_roles = MANIFEST.replace('roles = ["admin"]', 'roles = ["bank"]')
    assert [f.code for f in review_package(wrong_roles, SOURCE)] == ["JQ200"]
    extra = MANIFEST + "\n[methods.ghost]\n"
    assert [f.describe("contract.py") for f in review_package(extra, SOURCE)] == [
        "contract.toml:0: JQ200 ghost is in the manifest but not in the code"
    ]
    with pytest.raises(ContractRefused):
        member_contract(extra, SOURCE)


@pytest.mark.parametrize(
    "manifest",
    [
        "name = ",
        'name = "Bad Name"\nversion = "1"\n[methods.add]\n',
        'name = "x"\nversion = "1"\n',
        'name = "x"\nversion = "1"\n[methods.add]\nargs = { a = "float" }\n',
        'name = "x"\nversion = "1"\n[methods.add]\nkind = "query"\nroles = ["a"]\n',
        'name = "x"\nversion = "1"\nowner = "me"\n[methods.add]\n',
        'name = "x"\nversion = "1"\n[methods.genesis]\n',
    ],
)
def test_bad_manifests_are_refused(manifest: str) -> None:
    with pytest.raises(InvalidInput) as info:
        member_contract(manifest, SOURCE)
    assert info.value.code == "invalid_manifest"


def test_the_counter_is_in_the_subset() -> None:
    assert review_source(SOURCE) == []


def test_syntax_errors_and_oversize_sources_are_findings() -> None:
    assert [(f.line, f.code) for f in review_source("x = (\n")] == [(1, "JQ100")]
    assert [f.code for f in review_source("x = 1\n" * 20_000)] == ["JQ100"]
    assert [f.code for f in review_source("x = " + "(" * 1000 + ")" * 1000)] == ["JQ100"]


def test_the_check_command(tmp_path: Path) -> None:
    (tmp_path / "contract.py").write_text(SOURCE)
    (tmp_path / "contract.toml").write_text(MANIFEST)
    runner = CliRunner()
    result = runner.invoke(app, ["contract", "check", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok:")
    (tmp_path / "contract.py").write_text(SOURCE.replace("// 0", "/ 3"))
    result = runner.invoke(app, ["contract", "check", "--explain", str(tmp_path)])
    assert result.exit_code == 1
    line = SOURCE.splitlines().index("        return args.amount_minor // 0") + 1
    assert f"contract.py:{line}: JQ131 `/` makes a float; use `//`" in result.output
    assert "true division:" in result.output
    result = runner.invoke(app, ["contract", "check", str(tmp_path / "missing")])
    assert result.exit_code == 1
    assert "no such file" in result.output
    assert "Traceback" not in result.output


EVERYDAY = """from jinqiao.contracts.api import Contract, method
from hashlib import sha256

LIMITS = (3, 9)


def clamp(value, low, high):
    return max(low, min(value, high))


class Everyday(Contract):
    @method
    def run(self, ctx, args):
        parts = [p.strip() for p in " a, b ,c ".split(",")]
        low, high = LIMITS
        table = {name: index for index, name in enumerate(parts)}
        table.update({"d": 3})
        ordered = sorted(table.items(), key=self.second, reverse=True)
        first, *rest = [1, 2, 3]
        try:
            int("x")
        except ValueError:
            parsed = int("42")
        digest = sha256(b"abc").hexdigest()[:8]
        number = int.from_bytes(bytes.fromhex("0102"), "big")
        total = 0
        while total < 5:
            total += 2
        checks = (
            isinstance(parsed, int),
            isinstance("x", (bytes, str)),
            isinstance(parsed, str),
            "b" in table,
        )
        label = f"{parts[0]}-{clamp(12, low, high)}"
        return (
            ",".join(parts),
            label,
            ordered[0][0],
            first + sum(rest),
            parsed,
            digest,
            number,
            total,
            checks,
            list(reversed(parts))[0],
            parts[1:][0],
            divmod(17, 5),
            b"-".join([b"x", b"y"]).hex(),
        )

    def second(self, pair):
        return pair[1]
"""


def test_everyday_python_works_in_the_sandbox() -> None:
    """The guards must not break ordinary code: builtins, methods, unpacking, f-strings,
    comprehensions, exceptions, ``isinstance`` with the wrapped types, ``int.from_bytes``."""
    assert review_source(EVERYDAY) == []
    contract = member_contract('name = "everyday"\nversion = "1"\n[methods.run]\n', EVERYDAY)
    chain = Chain(contracts=[*default_contracts(), contract])
    receipt = chain.ok("alice", "everyday", "run", args(contract, "run"))
    assert decode(receipt.result, tuple, max_bytes=1024) == (
        "a,b,c",
        "a-9",
        "d",
        6,
        42,
        "ba7816bf",
        258,
        6,
        [True, True, False, True],
        "c",
        "b",
        [3, 2],
        "782d79",
    )


LOOPER = """from jinqiao.contracts.api import Contract, method


class Looper(Contract):
    @method
    def spin(self, ctx, args):
        total = 0
        for i in range(args):
            total = total + i
        return total
"""


def test_calls_on_threads_count_their_own_steps() -> None:
    """A query on an API thread while a block executes: each call charges its own meter."""
    loaded = LoadedContract(compile_contract(LOOPER), public_attributes)
    steps: dict[int, list[int]] = {20_000: [], 30_000: []}

    def spin(count: int) -> None:
        for _ in range(5):
            meter = Meter()
            loaded.call("spin", None, count, meter)
            steps[count].append(meter.steps)

    threads = [threading.Thread(target=spin, args=(count,)) for count in steps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert steps == {20_000: [20_001] * 5, 30_000: [30_001] * 5}


def test_the_attribute_fast_path_allows_no_more_than_the_slow_path() -> None:
    """``Guards.getattr`` remembers, per type, the names it hands out unchanged. After a
    type's allowed names are cached, its private, introspection, wrapped and unknown names
    are still refused or wrapped exactly as on the first access."""
    from jinqiao.contracts.sandbox import AccessRefused, Guards

    guards = Guards(public_attributes)
    values = {"a": 1}
    assert guards.getattr(values, "get")("a") == 1  # fills the cache for dict
    assert dict in guards.plain_by_type and "get" in guards.plain_by_type[dict]
    assert "items" not in guards.plain_by_type[dict]  # wrapped: a list, not a view
    assert type(guards.getattr(values, "items")()) is list
    for name in ("__class__", "_private", "fromkeys", "format", 7):
        with pytest.raises(AccessRefused):
            guards.getattr(values, name)  # type: ignore[arg-type]
    assert guards.getattr("text", "upper")() == "TEXT"  # scanning: never on the fast path
    assert "upper" not in guards.plain_by_type[str]
