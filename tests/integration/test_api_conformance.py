"""Schemathesis over the OpenAPI document of a real node process on loopback (real HTTP): no 5xx,
and every answer's status, media type, headers and body as the document declares them; a wrong
method is 405 with ``Allow``.

The short run is part of ``make test`` (a few examples per operation, fixed seed). ``make fuzz``
runs the long one (``JINQIAO_FUZZ=long``): many more examples, every check, stateful sequences.
Both read ``tests/schemathesis.toml`` and the hooks in ``tests/helpers/schemathesis_hooks.py``.

``GET /v1/events`` is left out: it is a Server-Sent Events stream that stays open until the client
leaves, which a request/response fuzzer cannot end (its refusals are tested in test_node_api.py).

The run is made once per role (docs/access.md): a bank member, a customer account (registered by
its bank; it has no client certificate and signs each request, RFC 9421), the regulator and an
operator of the node's organization. Each run counts the requests it tried, the 5xx answers and
the crashes (a call without an answer, or the node's log reporting an unexpected error) and
prints them (``pytest -s`` shows them; the figures are in docs/performance.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from jinqiao.apps.registry import registration
from jinqiao.client import Client, Credentials
from jinqiao.keys import InsecurePlaintext, generate_key, load_key, save_key
from tests.helpers.process import NodeProcess, make_network

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SHORT_CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_schema_conformance,response_headers_conformance,unsupported_method"
)
SHORT_RUN = [
    "--checks",
    SHORT_CHECKS,
    "--max-examples",
    "2",
    "--phases",
    "examples,fuzzing",
    "--seed",
    "7",
    "--generation-deterministic",
]
LONG_RUN = [
    "--checks",
    "all",
    "--max-examples",
    "200",
    "--phases",
    "examples,coverage,fuzzing,stateful",
]
SHORT_RUN_LIMIT_S = 60
ROLES = {
    "bank member": "bank-a-treasury",
    "customer": "customer",  # signs with its account key (no certificate)
    "regulator": "regulator-admin",
    "operator": "clearing-admin",  # the node's organization (make_network's one validator)
}
SERVER_FAULTS = ("unexpected error serving", "node fault serving")


class Fuzzed:
    """A running node, its OpenAPI document saved as a file, and a registered customer's key."""

    def __init__(self, directory: Path, node: NodeProcess, customer_key: Path) -> None:
        self.directory = directory
        self.node = node
        self.customer_key = customer_key
        self.schema = directory / "openapi.json"
        self.schema.write_text(json.dumps(node.http.get(f"{node.url}/openapi.json").json()))


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    directory = tmp_path_factory.mktemp("network")
    layout = make_network(directory)
    process = NodeProcess(directory / layout.nodes[0].home).start()
    try:
        customer = generate_key()
        with Client(
            process.url, genesis_file=directory / "genesis.json", credentials=process.credentials
        ) as client:
            admin = load_key(directory / "accounts" / "bank-a-admin.json")
            arguments = registration(client.suite, customer.public_key, "alice", (), bytes(32))
            registered = client.send(admin, "registry", "register_account", arguments)
            assert registered.ok, registered.receipt.message
        key_file = directory / "customer.json"
        save_key(key_file, customer, InsecurePlaintext())
        yield Fuzzed(directory, process, key_file)
    finally:
        assert process.stop() == 0, process.log()


@pytest.mark.parametrize("role", list(ROLES))
def test_the_api_keeps_to_its_openapi_document(fuzzed: Fuzzed, role: str, tmp_path: Path) -> None:
    node = fuzzed.node
    long_run = os.environ.get("JINQIAO_FUZZ") == "long"
    counts = tmp_path / "counts"
    environment = dict(os.environ)
    environment["SCHEMATHESIS_HOOKS"] = "tests.helpers.schemathesis_hooks"
    environment["PYTHONPATH"] = str(ROOT)
    environment["JINQIAO_FUZZ_COUNTS"] = str(counts)
    account = ROLES[role]
    if account == "customer":
        environment["JINQIAO_FUZZ_SIGNER"] = str(fuzzed.customer_key)
        identity: list[str] = []
    else:
        credentials = Credentials.for_account(fuzzed.directory, account)
        identity = [
            "--request-cert",
            str(credentials.certificate_file),
            "--request-cert-key",
            str(credentials.key_file),
        ]
    log_before = len(node.log_path.read_bytes())
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(ROOT / "tests" / "schemathesis.toml"),
        "run",
        str(fuzzed.schema),
        "--url",
        node.url,
        *(LONG_RUN if long_run else SHORT_RUN),
        "--exclude-path",
        "/v1/events",
        "--tls-verify",
        str(node.credentials.roots_file),
        *identity,
        "--workers",
        "1",
        "--request-timeout",
        "10",
    ]
    started = time.monotonic()
    run = subprocess.run(
        command, cwd=tmp_path, env=environment, capture_output=True, text=True, check=False
    )
    elapsed_s = time.monotonic() - started
    outcomes = counts.read_text().split() if counts.exists() else []
    log = node.log_path.read_bytes()[log_before:].decode(errors="replace")
    faults = sum(log.count(fault) for fault in SERVER_FAULTS)
    server_errors = sum(1 for outcome in outcomes if outcome.startswith("5"))
    crashes = (
        outcomes.count("error")
        + faults
        + (0 if node.process is not None and node.process.poll() is None else 1)
    )
    unauthenticated = outcomes.count("401")
    print(
        f"\nschemathesis as {role} ({account}): {len(outcomes)} requests tried, "
        f"{server_errors} 5xx, {crashes} crashes ({outcomes.count('403')} 403, "
        f"{unauthenticated} 401), {elapsed_s:.1f} s"
    )
    if long_run:
        print(run.stdout[-20_000:])  # make fuzz runs pytest -s: the report is shown
    assert (server_errors, crashes) == (0, 0), f"{run.stdout[-20_000:]}\n{log[-5_000:]}"
    assert run.returncode == 0, f"{run.stdout[-20_000:]}\n{run.stderr[-5_000:]}\n{node.log()}"
    assert len(outcomes) > 20  # the run reached the node
    assert unauthenticated < len(outcomes) / 10, unauthenticated  # as the role, not refused
    with httpx.Client(verify=False) as http:
        assert http.get(f"{node.url}/healthz").status_code == 200
    if not long_run:
        assert elapsed_s < SHORT_RUN_LIMIT_S, f"the short run took {elapsed_s:.1f} s"
