"""Keys in a real SoftHSM2 token, used by a running network: a validator whose consensus key lives
in the token votes in every block, and an account whose key lives there signs a transfer that
commits. Two validators, so no block commits without the token's precommit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jinqiao.cli.main import app
from jinqiao.client import Client
from jinqiao.keys import load_key, read_key_info
from jinqiao.keys.hsm import HsmSigner
from tests.helpers.process import NodeProcess, free_port_base
from tests.helpers.softhsm import USER_PIN, SoftToken

pytestmark = pytest.mark.e2e
runner = CliRunner()


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.stderr
    return result.stdout


def create_in_token(token: SoftToken, path: Path, label: str) -> None:
    invoke(*token.create_arguments(path, label))


def test_a_validator_votes_and_an_account_signs_from_the_token(
    tmp_path: Path, soft_token: SoftToken
) -> None:
    validator_reference = tmp_path / "refs" / "clearing-validator.json"
    account_reference = tmp_path / "refs" / "bank-a-treasury.json"
    create_in_token(soft_token, validator_reference, f"validator-{tmp_path.name}")
    create_in_token(soft_token, account_reference, f"account-{tmp_path.name}")
    directory = tmp_path / "net"
    base = free_port_base(2)
    layout = json.loads(
        invoke(
            "init",
            str(directory),
            "--validators",
            "2",
            "--base-port",
            str(base),
            "--insecure-plaintext",
            "--existing-key",
            f"clearing={validator_reference}",
            "--existing-key",
            f"bank-a-treasury={account_reference}",
            "--json",
        )
    )
    validator_address = read_key_info(validator_reference).address
    assert [node["name"] for node in layout["nodes"]] == ["clearing", "ecfin"]
    assert layout["nodes"][0]["address"] == validator_address
    home = directory / layout["nodes"][0]["home"]
    assert read_key_info(home / "validator_key.json").kind == "pkcs11"
    nodes = [
        NodeProcess(directory / node["home"], port=int(node["api_url"].rsplit(":", 1)[1]))
        for node in layout["nodes"]
    ]
    for node in nodes:
        node.start()
    try:
        with Client(
            nodes[1].url, credentials=nodes[1].credentials, genesis_file=directory / "genesis.json"
        ) as client:
            treasury = load_key(directory / "accounts" / "clearing-treasury.json")
            account = load_key(directory / "accounts" / "bank-a-treasury.json")
            assert isinstance(account, HsmSigner)
            assert account.address.hex() == read_key_info(account_reference).address
            assert client.token.mint(treasury, "CNY", account.address, 10_000).ok
            payee = load_key(directory / "accounts" / "bank-b-treasury.json").address
            result = client.token.transfer(account, "CNY", payee, 2_500)
            assert result.ok, result.code
            assert result.verified  # its commit certificate checked against genesis
            assert client.token.balance("CNY", payee) >= 2_500
            account.close()
        block = nodes[0].url + f"/v1/blocks/{result.height}"
        signatures = nodes[0].http.get(block, timeout=5).json()["certificate"]["signatures"]
        assert validator_address in {signature["validator"] for signature in signatures}
    finally:
        for node in nodes:
            assert node.stop() == 0, node.log()
    assert USER_PIN not in nodes[0].home.joinpath("node.log").read_text()
