"""The lifecycle against a real node process: `jinqiao contract propose`, `approve` by each
organization's admin, `show`, then a transaction to the committed contract and its query; then
`jinqiao contract pause` through governance."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jinqiao.cli.common import resolve_target
from jinqiao.cli.main import app
from jinqiao.contracts import member_contract
from jinqiao.core.codec import decode
from jinqiao.core.errors import InvalidInput
from tests.contracts.tally import MANIFEST as MANIFEST_TEMPLATE
from tests.contracts.tally import SOURCE
from tests.helpers.process import NodeProcess, free_port

MANIFEST = MANIFEST_TEMPLATE.format(version="1")

pytestmark = pytest.mark.e2e
runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    directory = tmp_path_factory.mktemp("contracts") / "net"
    port = free_port()
    code, out, err = invoke(
        "init", str(directory), "--base-port", str(port), "--insecure-plaintext", "--json"
    )
    assert code == 0, err
    layout = json.loads(out)
    node = NodeProcess(directory / layout["nodes"][0]["home"], port=port).start()
    try:
        yield directory
    finally:
        assert node.stop() == 0, node.log()


def test_propose_approve_commit_and_call(network: Path, tmp_path: Path) -> None:
    package = tmp_path / "tally"
    package.mkdir()
    (package / "contract.py").write_text(SOURCE)
    (package / "contract.toml").write_text(MANIFEST)
    net = ["--network", str(network)]
    code, out, err = invoke(
        "contract", "propose", str(package), "--key", "bank-a-admin", *net, "--json"
    )
    assert code == 0, err
    package_hash = json.loads(out)["package_hash"]
    code, out, err = invoke("contract", "show", package_hash, *net, "--json")
    assert code == 0, err
    assert json.loads(out) == {
        "name": "tally",
        "version": "1",
        "status": "proposed",
        "approvals": [],
    }
    for admin in ("bank-a-admin", "bank-b-admin", "ecfin-admin", "clearing-admin"):
        code, _, err = invoke("contract", "approve", package_hash, "--key", admin, *net)
        assert code == 0, err
    code, out, err = invoke("contract", "show", package_hash, *net)
    assert code == 0, err
    assert out.startswith("tally 1: committed; approved by ")
    contract = member_contract(MANIFEST, SOURCE)
    target = resolve_target(network, None, None)
    with target.client() as client:
        result = client.send(
            target.key("bank-a-admin"), "tally", "add", contract.methods["add"].args_type(7)
        )
        assert result.ok, result.receipt.message
        assert client.query("tally", "total") == 7
    code, out, err = invoke("contract", "pause", "tally", "--key", "clearing-admin", *net, "--json")
    assert code == 0, err
    proposal_id = str(json.loads(out)["proposal_id"])
    for admin in ("bank-a-admin", "bank-b-admin", "ecfin-admin"):
        code, _, err = invoke("tx", "governance", "approve", proposal_id, "--key", admin, *net)
        assert code == 0, err
    with target.client() as client:
        result = client.send(
            target.key("bank-a-admin"), "tally", "add", contract.methods["add"].args_type(7)
        )
        assert (result.ok, result.receipt.code) == (False, "contract_paused")
        assert client.query("tally", "total") == 7
    code, _, err = invoke("contract", "approve", "zz", "--key", "bank-a-admin", *net)
    assert code == 1
    assert "64 hexadecimal digits" in err


def test_the_sdk_drives_the_lifecycle(network: Path) -> None:
    """``client.contracts``, as the demo uses it: propose, approve to the quorum, read the
    record and the hash in force with proofs, call by the manifest."""
    manifest = MANIFEST.replace('name = "tally"', 'name = "sdk_tally"')
    target = resolve_target(network, None, None)
    with target.client() as client:
        proposed, package_hash = client.contracts.propose(
            target.key("bank-a-admin"), manifest, SOURCE
        )
        assert proposed.ok, proposed.receipt.message
        assert decode(proposed.receipt.result, bytes, max_bytes=64) == package_hash
        for admin in ("bank-a-admin", "bank-b-admin", "ecfin-admin", "clearing-admin"):
            assert client.contracts.approve(target.key(admin), package_hash).ok
        record = client.contracts.package(package_hash)
        assert record is not None
        assert (record.status, record.approvals) == (
            "committed",
            ("bank-a", "bank-b", "clearing", "ecfin"),
        )
        assert client.contracts.deployed("sdk_tally") == package_hash
        assert client.contracts.deployed("no_such_contract") is None
        assert client.contracts.package(bytes(32)) is None
        added = client.contracts.call(target.key("bank-b-admin"), manifest, "add", amount_minor=5)
        assert (added.ok, decode(added.receipt.result, int, max_bytes=16)) == (True, 5)
        for method, arguments, code in (
            ("total", {}, "unknown_method"),
            ("nope", {}, "unknown_method"),
            ("add", {}, "invalid_arguments"),
            ("add", {"amount_minor": "5"}, "invalid_arguments"),
            ("add", {"amount_minor": 5, "extra": 1}, "invalid_arguments"),
        ):
            with pytest.raises(InvalidInput) as refused:
                client.contracts.call(target.key("bank-b-admin"), manifest, method, **arguments)
            assert refused.value.code == code, (method, arguments)
        proven = client.proven_query("sdk_tally", "total")
        assert (proven.result, proven.verified) == (5, True)
        assert proven.height >= added.height
        proposal, proposal_id = client.contracts.propose_pause(
            target.key("clearing-admin"), "sdk_tally"
        )
        assert proposal.ok and isinstance(proposal_id, int)
