"""Schemathesis over the OpenAPI document of a real node process on loopback (real HTTP): no 5xx,
and every answer's status, media type, headers and body as the document declares them; a wrong
method is 405 with ``Allow``.

The short run is part of ``make test`` (a few examples per operation, fixed seed). ``make fuzz``
runs the long one (``JINQIAO_FUZZ=long``): many more examples (200 per operation, or
``JINQIAO_FUZZ_EXAMPLES``), every check, stateful sequences.
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
from typing import Any

import httpx
import pytest
from schemathesis.config._checks import POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES
from schemathesis.config._warnings import DEFAULT_DISPLAYED_WARNINGS

from jinqiao.api.access import (
    ACCOUNT,
    DISCLOSURE,
    DOCUMENT,
    OPERATOR,
    PARTY,
    PAYMENT,
    RECEIVABLE,
    REGULATOR_ROLE,
    ROLE,
    RULES,
    Rule,
)
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
    os.environ.get("JINQIAO_FUZZ_EXAMPLES", "200"),
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
ORGANIZATIONS = {"customer": "bank-a"}  # the others: their client certificate's
NODE_ORGANIZATION = "clearing"  # make_network's one validator
METHODS = ("get", "put", "post", "delete", "patch")
DATA_RULES = (PARTY, ACCOUNT, PAYMENT, RECEIVABLE, DOCUMENT, DISCLOSURE)
"""Rules decided by the request's data (docs/access.md)."""


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
    organization = (
        ORGANIZATIONS.get(account)
        or json.loads((fuzzed.directory / "clients" / account / "client.json").read_text())[
            "organization"
        ]
    )
    config = tmp_path / "schemathesis.toml"
    config.write_text(role_config(json.loads(fuzzed.schema.read_text()), fuzzed, organization))
    log_before = len(node.log_path.read_bytes())
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config),
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


def refused_by_design(rule: Rule, organization: str, roles: frozenset[str]) -> bool:
    """Whether ``organization`` (its genesis ``roles``) is refused ``rule`` whatever the request
    says: an ``operator`` rule of another organization's node, a ``role`` rule for roles it does
    not hold (docs/access.md). The regulator is refused none of them."""
    if REGULATOR_ROLE in roles:
        return False
    if rule.kind == OPERATOR:
        return organization != NODE_ORGANIZATION
    return rule.kind == ROLE and roles.isdisjoint(rule.roles)


def role_config(document: dict[str, Any], fuzzed: Fuzzed, organization: str) -> str:
    """Per operation, what the document says this role gets, then ``tests/schemathesis.toml``:

    - an operation the role is refused by design: valid data gets 403 (anything else fails
      ``positive_data_acceptance``), and "returned only 401/403" is its expected answer, not
      shown as a warning;
    - an operation whose rule reads the request's data (party, account, payment, receivable,
      document, disclosure): generated parameters name other members' records, so 403 is the
      documented answer to most of them and "only 401/403" is not shown either;
    - an operation with ``height`` and ``min_height``: a height below min_height is a documented
      400 ``invalid_request`` that a schema cannot state.
    """
    genesis = json.loads((fuzzed.directory / "genesis.json").read_text())
    roles = next(
        frozenset(entry["roles"])
        for entry in genesis["organizations"]
        if entry["id"] == organization
    )
    shown = [
        warning.value for warning in DEFAULT_DISPLAYED_WARNINGS if warning.value != "missing_auth"
    ]
    blocks = [
        "# Generated per role by tests/integration/test_api_conformance.py; the first block\n"
        "# that names an option for an operation decides it, so these come first.\n"
    ]
    for path, operations in document["paths"].items():
        for method in METHODS:
            operation = operations.get(method)
            if operation is None:
                continue
            rule = RULES[(method.upper(), path)]
            names = {parameter["name"] for parameter in operation.get("parameters", ())}
            block = f'\n[[operations]]\ninclude-operation-id = "{operation["operationId"]}"\n'
            if refused_by_design(rule, organization, roles):
                why = f"# {organization} is refused this by design (docs/access.md): 403"
                block += 'checks.positive_data_acceptance.expected-statuses = ["403"]\n'
            elif {"height", "min_height"} <= names:
                why = "# a height below min_height: 400 invalid_request"
                statuses = [*POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES, "400"]
                block += (
                    f"checks.positive_data_acceptance.expected-statuses = {json.dumps(statuses)}\n"
                )
            elif rule.kind in DATA_RULES:
                why = "#"
            else:
                continue
            if rule.kind in DATA_RULES or refused_by_design(rule, organization, roles):
                block += f"warnings.display = {json.dumps(shown)}\n"
            if rule.kind in DATA_RULES:
                why += (
                    "; " if why != "#" else " "
                ) + "the rule reads the data: 403 for others' records"
            blocks.append(f"\n{why}{block}")
    blocks.append("\n" + (ROOT / "tests" / "schemathesis.toml").read_text())
    return "".join(blocks)
