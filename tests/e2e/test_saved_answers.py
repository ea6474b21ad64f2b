"""Saved answers checked offline (docs/proofs.md §11): ``jinqiao query save`` / ``--save`` /
``Client.save`` write what a real node answered, and ``jinqiao verify FILE --genesis`` checks it
with nothing but the genesis file — exit 0 and one line, or exit 1 and the reason."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from typer.testing import CliRunner

from jinqiao.apps.token import supply_key
from jinqiao.cli.main import app
from jinqiao.client import Client, TransactionResult
from jinqiao.client.saved import SAVED_ANSWER_FORMAT, load_saved
from tests.helpers import doc_examples
from tests.helpers.app_answers import FUNDS, AppState, app_network, app_requests
from tests.helpers.process import TEST_IDENTITY, NodeProcess, make_network

pytestmark = pytest.mark.e2e
runner = CliRunner()
UNKNOWN = "11" * 20


@dataclass
class Net:
    directory: Path
    node: NodeProcess
    transfer: TransactionResult
    payee: bytes
    state: AppState

    @property
    def genesis(self) -> str:
        return str(self.directory / "genesis.json")

    def target(self) -> list[str]:
        credentials = str(self.directory / "clients" / TEST_IDENTITY)
        return ["--url", self.node.url, "--genesis", self.genesis, "--as", credentials]


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    with app_network(tmp_path_factory.mktemp("saved")) as network:
        yield Net(network.directory, network.node, network.transfer, network.payee, network.state)


@pytest.mark.parametrize(
    ("path", "body", "summary"),
    [
        (f"/v1/accounts/{UNKNOWN}", None, f"account {UNKNOWN}: absent (proven) at height"),
        ("/v1/token/CNY", None, f"asset CNY: supply {10**6 + FUNDS} minor units at height"),
        (f"/v1/state/token/{supply_key('CNY').hex()}", None, "state token/"),
        ("/v1/blocks/1?leaves=true", None, "block 1: 1 transactions and receipts"),
        (
            "/v1/query/token/balance",
            {"asset": "CNY", "address": "PAYEE"},
            "query token.balance: result recomputed from proven state at height",
        ),
    ],
)
def test_query_save_then_verify_offline(
    net: Net, tmp_path: Path, path: str, body: dict[str, Any] | None, summary: str
) -> None:
    file = tmp_path / "answer.json"
    extra = [] if body is None else ["--body", json.dumps(body).replace("PAYEE", net.payee.hex())]
    code, out, err = invoke("query", "save", path, str(file), *extra, *net.target())
    assert code == 0, err
    assert out.startswith(f"saved {file}: ")
    saved = load_saved(file.read_bytes())
    assert saved.format == SAVED_ANSWER_FORMAT
    code, out, err = invoke("verify", str(file), "--genesis", net.genesis)
    assert code == 0, err
    assert out.startswith(f"verified: {summary}"), out
    assert len(out.strip().splitlines()) == 1


def test_every_application_route_is_saved_then_verified_offline(net: Net, tmp_path: Path) -> None:
    """Supply chain, credit and a cycle's figures: each route saved with `jinqiao query save`
    (found values and proven absences alike) and checked by `jinqiao verify` — the SDK's own
    check of the route, run on the file."""
    for request in app_requests(net.state):
        file = tmp_path / "answer.json"
        query = urlencode(request.params)
        path = request.path + (f"?{query}" if query else "")
        code, out, err = invoke("query", "save", path, str(file), *net.target())
        assert code == 0, f"{request.name}: {err}"
        code, out, err = invoke("verify", str(file), "--genesis", net.genesis)
        assert code == 0, f"{request.name}: {err}"
        assert out.startswith(f"verified: {request.summary}"), f"{request.name}: {out}"


def test_save_options_of_query_commands(net: Net, tmp_path: Path) -> None:
    state_file, tx_file = tmp_path / "state.json", tmp_path / "tx.json"
    key = supply_key("CNY").hex()
    code, _, err = invoke("query", "state", "token", key, "--save", str(state_file), *net.target())
    assert code == 0, err
    tx = net.transfer.transaction_hash
    code, _, err = invoke("query", "tx", tx, "--save", str(tx_file), *net.target())
    assert code == 0, err
    code, out, err = invoke("verify", str(tx_file), "--genesis", net.genesis)
    assert code == 0, err
    assert out.startswith(f"verified: transaction {tx}: committed at height {net.transfer.height}")
    code, out, _ = invoke("verify", str(state_file), "--genesis", net.genesis, "--json")
    assert code == 0
    assert json.loads(out)["verified"] is True


def test_a_tampered_file_fails_with_its_reason(net: Net, tmp_path: Path) -> None:
    file = tmp_path / "tx.json"
    with Client(
        net.node.url, genesis_file=Path(net.genesis), credentials=net.node.credentials
    ) as client:
        client.save(file, f"/v1/transactions/{net.transfer.transaction_hash}")
    document = json.loads(file.read_text())
    document["answer"]["receipt"]["code"] = "ok-but-not"
    file.write_text(json.dumps(document))
    code, out, err = invoke("verify", str(file), "--genesis", net.genesis)
    assert code == 1
    assert out == ""
    assert "verification_failed" in err and "receipt" in err


def test_another_networks_genesis_refuses_the_answer(net: Net, tmp_path: Path) -> None:
    file = tmp_path / "account.json"
    with Client(
        net.node.url, genesis_file=Path(net.genesis), credentials=net.node.credentials
    ) as client:
        client.save(file, f"/v1/accounts/{UNKNOWN}")
    other = tmp_path / "other"
    make_network(other)
    code, _, err = invoke("verify", str(file), "--genesis", str(other / "genesis.json"))
    assert code == 1
    assert "verification_failed" in err


def test_a_bare_answer_body_verifies_with_its_path(net: Net, tmp_path: Path) -> None:
    path = f"/v1/token/CNY/balances/{net.payee.hex()}"
    file = tmp_path / "body.json"
    file.write_bytes(net.node.http.get(net.node.url + path).content)
    code, out, err = invoke("verify", str(file), "--genesis", net.genesis, "--path", path)
    assert code == 0, err
    assert out.startswith(f"verified: CNY balance of {net.payee.hex()}: 250 minor units")


@pytest.mark.parametrize(
    ("content", "code_name"),
    [
        (b"not json", "saved_answer_invalid"),
        (
            b'{"format": "jinqiao-saved-answer/9", "method": "GET", "path": "/v1/status", '
            b'"status": 200, "answer": {}}',
            "saved_answer_invalid",
        ),
        (
            b'{"method": "GET", "path": "/v1/status", "status": 200, "answer": {}}',
            "route_not_verifiable",
        ),
    ],
)
def test_what_is_not_a_verifiable_saved_answer_is_named(
    net: Net, tmp_path: Path, content: bytes, code_name: str
) -> None:
    file = tmp_path / "bad.json"
    file.write_bytes(content)
    code, _, err = invoke("verify", str(file), "--genesis", net.genesis)
    assert code == 1
    assert code_name in err


def test_the_documented_saved_answer_is_what_save_writes(net: Net, tmp_path: Path) -> None:
    example = json.loads(doc_examples.block("saved-answer"))
    load_saved(json.dumps(example).encode())  # the document's example is a valid saved answer
    file = tmp_path / "account.json"
    with Client(
        net.node.url, genesis_file=Path(net.genesis), credentials=net.node.credentials
    ) as client:
        verified = client.save(file, f"/v1/accounts/{UNKNOWN}")
    written = json.loads(file.read_text())
    assert set(written) == set(example)
    assert set(written["answer"]) == set(example["answer"])
    assert set(written["answer"]["details"]) == set(example["answer"]["details"])
    assert (written["method"], written["path"], written["status"]) == (
        example["method"],
        example["path"],
        example["status"],
    )
    line = doc_examples.block("saved-answer-verified").strip()
    assert line.split(" at height ")[0] == f"verified: {verified.summary}".split(" at height ")[0]


def _fields(value: Any) -> Any:
    """The shape of a JSON value: objects' field names, lists' item shapes, leaves' types."""
    if isinstance(value, dict):
        return {name: _fields(item) for name, item in value.items()}
    if isinstance(value, list):
        return [_fields(item) for item in value]
    return type(value).__name__ if value is not None else None


@pytest.mark.parametrize("example", ["saved-supplychain", "saved-credit"])
def test_the_documented_application_answers_are_what_save_writes(
    net: Net, tmp_path: Path, example: str
) -> None:
    """docs/proofs.md §11's saved supply-chain and credit answers, followed: the request it
    shows, saved from a node holding the same item and subject, has the document's shape field
    for field, the same state keys, and `jinqiao verify` prints the document's line (but for the
    height)."""
    documented = json.loads(doc_examples.block(f"{example}-answer"))
    load_saved(json.dumps(documented).encode())  # the document's example is a valid saved answer
    file = tmp_path / "answer.json"
    query = urlencode(documented["params"])
    path = documented["path"] + (f"?{query}" if query else "")
    code, _, err = invoke("query", "save", path, str(file), *net.target())
    assert code == 0, err
    written = json.loads(file.read_text())
    written["validator_changes"] = documented["validator_changes"]
    shapes = _fields(written), _fields(documented)
    assert shapes[0] == shapes[1]
    answer, shown = written["answer"], documented["answer"]
    assert answer["key"] == shown["key"]
    for name in ("containers", "entries"):
        assert [e["key"] for e in answer.get(name, [])] == [e["key"] for e in shown.get(name, [])]
    code, out, err = invoke("verify", str(file), "--genesis", net.genesis)
    assert code == 0, err
    line = doc_examples.block(f"{example}-verified").strip()
    assert out.strip().split(" at height ")[0] == line.split(" at height ")[0]
