"""Schemathesis over the OpenAPI document of a real node process on loopback (real HTTP): no 5xx,
and every answer's status, media type, headers and body as the document declares them; a wrong
method is 405 with ``Allow``.

The short run is part of ``make test`` (a few examples per operation, fixed seed). ``make fuzz``
runs the long one (``JINQIAO_FUZZ=long``): many more examples, every check, stateful sequences.
Both read ``tests/schemathesis.toml`` and the hooks in ``tests/helpers/schemathesis_hooks.py``.

``GET /v1/events`` is left out: it is a Server-Sent Events stream that stays open until the client
leaves, which a request/response fuzzer cannot end (its refusals are tested in test_node_api.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

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
    "3",
    "--phases",
    "examples,coverage,fuzzing",
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


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    directory = tmp_path_factory.mktemp("network")
    layout = make_network(directory)
    process = NodeProcess(directory / layout.nodes[0].home).start()
    try:
        yield process
    finally:
        assert process.stop() == 0, process.log()


def test_the_api_keeps_to_its_openapi_document(node: NodeProcess, tmp_path: Path) -> None:
    long_run = os.environ.get("JINQIAO_FUZZ") == "long"
    environment = dict(os.environ)
    environment["SCHEMATHESIS_HOOKS"] = "tests.helpers.schemathesis_hooks"
    environment["PYTHONPATH"] = str(ROOT)
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(ROOT / "tests" / "schemathesis.toml"),
        "run",
        f"{node.url}/openapi.json",
        *(LONG_RUN if long_run else SHORT_RUN),
        "--exclude-path",
        "/v1/events",
        # As the regulator (docs/access.md), who may call every route: the access rules have
        # their own walk of the document (test_access_rules.py).
        "--tls-verify",
        str(node.credentials.roots_file),
        "--request-cert",
        str(node.credentials.certificate_file),
        "--request-cert-key",
        str(node.credentials.key_file),
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
    if long_run:
        print(run.stdout[-20_000:])  # make fuzz runs pytest -s: the report is shown
    assert run.returncode == 0, f"{run.stdout[-20_000:]}\n{run.stderr[-5_000:]}\n{node.log()}"
    log = node.log_path.read_text(errors="replace")
    assert "unexpected error serving" not in log and "node fault serving" not in log, log
    if not long_run:
        assert elapsed_s < SHORT_RUN_LIMIT_S, f"the short run took {elapsed_s:.1f} s"
