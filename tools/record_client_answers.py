"""Record a real node's answers to the SDK's core requests, for the unit tests of
``jinqiao.client.core`` (tests/unit/test_client_core.py replays them without a node).

    .venv/bin/python tools/record_client_answers.py tests/unit/data/client_core_answers.json

Starts a one-validator network in a temporary directory, mints CNY to bank-a-treasury with the
SDK (``Client``), reads the holding, the account, the block and the transaction, and writes every
request the SDK made with the node's answer (status and body) and the network's genesis. About
ten seconds.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from jinqiao.apps.token import TOKEN, MintArgs, balance_key
from jinqiao.client import Client, Credentials
from jinqiao.keys import InsecurePlaintext, load_key
from jinqiao.provision.network import init_network
from jinqiao.provision.presets import demo_spec

API_PORT = 28_600
START_TIMEOUT_S = 60.0


class Recording(httpx.HTTPTransport):
    """A real transport that keeps each request's method, path, query and answer."""

    def __init__(self, records: list[dict[str, Any]], **settings: Any) -> None:
        super().__init__(**settings)
        self.records = records

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        body = response.read()
        self.records.append(
            {
                "method": request.method,
                "path": request.url.path,
                "query": request.url.query.decode(),
                "status": response.status_code,
                "body": body.decode(),
            }
        )
        return httpx.Response(response.status_code, headers=response.headers, content=body)


def record(network: Path, output: Path) -> None:
    credentials = Credentials.for_account(network, "regulator-admin")
    records: list[dict[str, Any]] = []
    transport = Recording(records, verify=credentials.ssl_context())
    url = f"https://127.0.0.1:{API_PORT}"
    genesis_file = network / "genesis.json"
    with Client(url, genesis_file=genesis_file, transport=transport) as client:
        issuer = load_key(network / "accounts" / "clearing-treasury.json")
        payee = load_key(network / "accounts" / "bank-a-treasury.json").address
        result = client.send(issuer, TOKEN, "mint", MintArgs("CNY", payee, 100_000))
        client.read_state(TOKEN, balance_key("CNY", payee), height=result.height)
        client.account(payee, height=result.height)
        client.block(result.height)
    answers = {"genesis": genesis_file.read_text(), "records": records}
    output.write_text(json.dumps(answers, indent=1) + "\n")


def main(output: Path) -> None:
    with tempfile.TemporaryDirectory() as directory:
        network = Path(directory)
        spec = demo_spec(validators=1, base_api_port=API_PORT)
        layout = init_network(network, spec, protection=InsecurePlaintext())
        home = network / layout.nodes[0].home
        command = [sys.executable, "-m", "jinqiao", "node", "start", "--home", str(home)]
        with subprocess.Popen(command, stdout=subprocess.DEVNULL) as node:
            try:
                _wait_until_up(network)
                record(network, output)
            finally:
                node.terminate()
                node.wait(timeout=30)


def _wait_until_up(network: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    credentials = Credentials.for_account(network, "regulator-admin")
    with credentials.http_client(timeout=1.0) as probe:
        while time.monotonic() < deadline:
            try:
                if probe.get(f"https://127.0.0.1:{API_PORT}/healthz").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
    raise SystemExit(f"the node did not start in {START_TIMEOUT_S} s")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
