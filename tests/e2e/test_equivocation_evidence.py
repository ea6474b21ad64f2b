"""A Byzantine validator signs two different prevotes for the same height and round. The honest
validators detect it and put the evidence on chain, where anyone can read it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from jinqiao.client import Client
from jinqiao.core.genesis import load_genesis
from jinqiao.keys import load_key
from tests.helpers.cluster import equivocate, height, p2p_config_of
from tests.helpers.process import NodeProcess, make_network

pytestmark = pytest.mark.e2e


def test_equivocation_is_put_on_chain(tmp_path: Path) -> None:
    layout = make_network(tmp_path, validators=4)
    genesis = load_genesis((tmp_path / "genesis.json").read_bytes())
    honest = [
        NodeProcess(tmp_path / node.home, port=int(node.api_url.rsplit(":", 1)[1]))
        for node in layout.nodes[:3]
    ]
    byzantine_home = tmp_path / layout.nodes[3].home
    byzantine_name = layout.nodes[3].name
    for node in honest:
        node.start()
    try:
        with Client(
            honest[0].url, credentials=honest[0].credentials, genesis_file=tmp_path / "genesis.json"
        ) as client:
            treasury = load_key(tmp_path / layout.account("clearing-treasury").key_file)
            payee = bytes.fromhex(layout.account("bank-a-treasury").address)
            assert client.token.mint(treasury, "CNY", payee, 1).ok  # 3 of 4 commit
        key = load_key(byzantine_home / "validator_key.json")
        equivocate(
            p2p_config_of(tmp_path, byzantine_name),
            genesis.chain_id,
            lambda: height(honest[0]) + 1,
            key,
        )
        deadline = time.monotonic() + 30
        offences = 0
        while time.monotonic() < deadline and offences == 0:
            answer = (
                honest[0]
                .http.post(
                    f"{honest[0].url}/v1/query/evidence/offences",
                    json={"validator": key.address.hex()},
                )
                .json()
            )
            offences = answer["result"]["equivocations"]
            time.sleep(0.3)
        assert offences == 1
    finally:
        for node in honest:
            assert node.stop() == 0, node.log()
