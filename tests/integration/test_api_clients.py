"""What integrators build on the OpenAPI document (ADR 0040), on a real node process over TLS
with a client certificate:

- the interactive docs work offline: ``/docs`` and ``/redoc`` reference only files the node
  serves, each of which it serves, under the explorer's Content-Security-Policy;
- a second client, generated from the node's ``/openapi.json`` by ``openapi-python-client`` (a
  maintained generator from PyPI) in a virtual environment of its own, pinned by
  ``tools/generator/requirements.lock``, reads a balance as the SDK does.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

from jinqiao.client import Client as SdkClient
from jinqiao.keys import load_key
from tests.helpers.process import NodeProcess, make_network

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
GENERATOR_LOCK = ROOT / "tools" / "generator" / "requirements.lock"
GENERATOR_CONFIG = ROOT / "tools" / "generator" / "config.yaml"
GENERATOR_VENV = Path(os.environ.get("JINQIAO_GENERATOR_VENV", ROOT / ".venv" / "generator"))
PACKAGE = "jinqiao_node_api_client"
"""The package openapi-python-client names after the document's title, ``jinqiao node API``."""


HOLDER = "bank-a-treasury"
MINTED_MINOR = 1_234_500


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[NodeProcess, Path]]:
    """A node of a one-validator network, and the network's directory."""
    directory = tmp_path_factory.mktemp("network")
    layout = make_network(directory)
    process = NodeProcess(directory / layout.nodes[0].home).start()
    try:
        yield process, directory
    finally:
        assert process.stop() == 0, process.log()


@pytest.fixture(scope="module")
def node(network: tuple[NodeProcess, Path]) -> NodeProcess:
    return network[0]


class References(HTMLParser):
    """Every URL a page makes the browser fetch: ``src``, ``href`` and ReDoc's ``spec-url``
    attributes, and the URLs its inline scripts name."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.in_script = tag == "script"
        self.urls += [
            value for name, value in attrs if name in ("src", "href", "spec-url") and value
        ]

    def handle_endtag(self, tag: str) -> None:
        self.in_script = False

    def handle_data(self, data: str) -> None:
        if self.in_script:
            self.urls += re.findall(r"""(?:url|URL)['"]?\s*[:=]\s*['"]([^'"]+)['"]""", data)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_interactive_docs_are_served_by_the_node_alone(node: NodeProcess, page: str) -> None:
    answer = node.http.get(f"{node.url}{page}")
    assert answer.status_code == 200, answer.text
    html = answer.text
    assert "http://" not in html and "https://" not in html, html  # no CDN, no fonts, nothing
    policy = answer.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self' 'sha256-" in policy, policy
    references = References()
    references.feed(html)
    assert len(references.urls) >= 3, references.urls  # the script, the icon, the document
    for reference in references.urls:
        url = urljoin(f"{node.url}{page}", reference)
        assert urlsplit(url).netloc == urlsplit(node.url).netloc, (page, reference)
        fetched = node.http.get(url)
        assert fetched.status_code == 200, (reference, fetched.text[:200])
        assert len(fetched.content) > 0, reference
    if page == "/docs":
        assert '"validatorUrl": null' in html, html
        assert {"/docs/static/swagger-ui-bundle.js", "/docs/static/swagger-ui.css"} <= set(
            references.urls
        )
    else:
        assert "/docs/static/redoc.standalone.js" in references.urls


def test_a_docs_asset_outside_the_list_is_404(node: NodeProcess) -> None:
    for name in ("core.py", "..%2F__init__.py", "x" * 65):
        answer = node.http.get(f"{node.url}/docs/static/{name}")
        assert answer.status_code in (400, 404), (name, answer.text)
        assert answer.json()["code"] in ("not_found", "invalid_request"), answer.text


def _generator() -> Path:
    """The generator's own virtual environment, made from its lock file on first use."""
    python = GENERATOR_VENV / "bin" / "python"
    marker = GENERATOR_VENV / "installed.lock"
    if marker.exists() and marker.read_text() == GENERATOR_LOCK.read_text():
        return python
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(GENERATOR_VENV)], check=True)
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--require-hashes",
            "-r",
            str(GENERATOR_LOCK),
        ],
        check=True,
    )
    marker.write_text(GENERATOR_LOCK.read_text())
    return python


def test_a_generated_client_reads_a_balance_over_tls(
    network: tuple[NodeProcess, Path], tmp_path: Path
) -> None:
    node, directory = network
    issuer = load_key(directory / "accounts" / "clearing-treasury.json")
    payee = load_key(directory / "accounts" / f"{HOLDER}.json").address
    with SdkClient(
        node.url, genesis_file=directory / "genesis.json", credentials=node.credentials
    ) as sdk:
        minted = sdk.token.mint(issuer, "CNY", payee, MINTED_MINOR)
        assert minted.ok and minted.verified, minted
        assert sdk.token.balance("CNY", payee, height=minted.height) == MINTED_MINOR
    holder, height = payee.hex(), minted.height
    document = node.http.get(f"{node.url}/openapi.json")
    assert document.status_code == 200, document.text
    (tmp_path / "openapi.json").write_text(document.text)
    python = _generator()
    generate = subprocess.run(
        [
            str(python.parent / "openapi-python-client"),
            "generate",
            "--path",
            "openapi.json",
            "--meta",
            "none",
            "--output-path",
            PACKAGE,
            "--config",
            str(GENERATOR_CONFIG),
        ],
        cwd=tmp_path,
        env={**os.environ, "PATH": f"{python.parent}{os.pathsep}{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert generate.returncode == 0, f"{generate.stdout}\n{generate.stderr}"
    assert "Warning" not in generate.stdout + generate.stderr, generate.stdout + generate.stderr
    balance_url = f"{node.url}/v1/token/CNY/balances/{holder}?height={height}"
    expected = node.http.get(balance_url).json()
    credentials = node.credentials
    program = textwrap.dedent(
        f"""
        import json, ssl
        from {PACKAGE} import Client
        from {PACKAGE}.api.token import token_balance
        from {PACKAGE}.models import TokenBalance

        context = ssl.create_default_context(cafile={str(credentials.roots_file)!r})
        context.load_cert_chain(
            {str(credentials.certificate_file)!r}, {str(credentials.key_file)!r}
        )
        with Client(base_url={node.url!r}, verify_ssl=context) as client:
            answer = token_balance.sync(
                asset="CNY", address={holder!r}, height={height}, client=client
            )
            assert isinstance(answer, TokenBalance), answer
            print(json.dumps(answer.to_dict()))
        """
    )
    run = subprocess.run(
        [str(python), "-c", program], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"
    read = json.loads(run.stdout)
    assert read == expected
    assert (read["balance_minor"], read["asset"], read["height"]) == (MINTED_MINOR, "CNY", height)
