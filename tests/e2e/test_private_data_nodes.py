"""Private data shared node-to-node (tracker issue 9, item 3; docs/access.md "Private data"): three
organizations each run a validator node — a supplier, bank-a and bank-b. A core enterprise confirms
a receivable to the supplier backed by an invoice (its SHA-256 on chain); the supplier puts the
invoice on its own node and offers the receivable to bank-a for factoring. Bank-a's node, asked by
bank-a, pulls the invoice from the supplier's node over mutual TLS and checks it against the chain;
bank-b is refused by its own node and by the supplier's; a tampered body is refused on arrival.
"""

from __future__ import annotations

import hashlib
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import msgspec
import pytest
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from jinqiao.apps.supplychain.model import FACTORING, INVOICE, Backing
from jinqiao.client import Client, Credentials
from jinqiao.keys import InsecurePlaintext, load_key
from jinqiao.node.private_data import PrivateDocumentStore
from jinqiao.provision.network import (
    AccountSpec,
    NetworkLayout,
    OrganizationSpec,
    init_network,
)
from jinqiao.provision.presets import demo_spec
from tests.helpers.cluster import height, wait_for
from tests.helpers.process import NodeProcess, free_port_base, nodes_pulling_from_each_other

pytestmark = pytest.mark.e2e

INVOICE_BODY = b'{"invoice": "INV-2026-0042", "amount_minor": 50000000, "buyer": "core"}'
INVOICE_HASH = hashlib.sha256(INVOICE_BODY).hexdigest()
OCTETS = {"content-type": "application/octet-stream"}
DAY_MS = 86_400_000


@dataclass
class Consortium:
    directory: Path
    nodes: dict[str, NodeProcess]

    def as_account(self, account: str) -> httpx.Client:
        return Credentials.for_account(self.directory, account).http_client(timeout=30)

    def document_url(self, organization: str, document_hash: str = INVOICE_HASH) -> str:
        return f"{self.nodes[organization].url}/v1/private/documents/{document_hash}"


def _spec(base_port: int) -> msgspec.Struct:
    """The demo consortium without validators, plus a core enterprise and a supplier; the
    supplier, bank-a and bank-b run one validator each."""
    spec = demo_spec(validators=0, base_api_port=base_port)
    organizations = []
    for organization in spec.organizations:
        if organization.id in ("bank-a", "bank-b"):
            organization = msgspec.structs.replace(organization, validators=1)
        organizations.append(organization)
    organizations += [
        OrganizationSpec(
            id="core",
            name="Core Enterprise",
            roles=("core_enterprise",),
            accounts=(
                AccountSpec("core-admin", ("admin",)),
                AccountSpec("core-treasury", ("core_enterprise",)),
            ),
        ),
        OrganizationSpec(
            id="supplier",
            name="Supplier",
            validators=1,
            accounts=(
                AccountSpec("supplier-admin", ("admin",)),
                AccountSpec("supplier-treasury", ()),
            ),
        ),
    ]
    return msgspec.structs.replace(spec, organizations=tuple(organizations))


@pytest.fixture(scope="module")
def consortium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Consortium]:
    directory = tmp_path_factory.mktemp("private")
    layout: NetworkLayout = init_network(
        directory, _spec(free_port_base(3)), protection=InsecurePlaintext()
    )
    nodes = nodes_pulling_from_each_other(directory, layout)
    started: list[NodeProcess] = []
    try:
        for node in nodes.values():
            started.append(node.start())
        committed_at = _confirm_and_offer(directory, nodes["supplier"])
        for node in nodes.values():
            # Each node decides from its own committed state.
            wait_for(lambda node=node: height(node) >= committed_at, 60, "the offer everywhere")
        yield Consortium(directory, nodes)
    finally:
        for node in started:
            if node.process is not None and node.process.poll() is None:
                node.process.send_signal(signal.SIGCONT)
                node.stop()


def _confirm_and_offer(directory: Path, node: NodeProcess) -> int:
    """The core enterprise confirms a receivable to the supplier backed by the invoice; the
    supplier offers it to bank-a for factoring."""
    core = load_key(directory / "accounts" / "core-treasury.json")
    supplier = load_key(directory / "accounts" / "supplier-treasury.json")
    with Client(
        node.url,
        genesis_file=directory / "genesis.json",
        credentials=Credentials.for_account(directory, "supplier-treasury"),
    ) as client:
        due_ms = int(time.time() * 1000) + 90 * DAY_MS
        backing = Backing(INVOICE, bytes.fromhex(INVOICE_HASH), 500_000_00)
        confirmed = client.supplychain.confirm(
            core, "CNY", "supplier", supplier.address, 500_000_00, due_ms, (backing,)
        )
        assert confirmed.ok, confirmed.receipt
        receivable_id = client.supplychain.receivable_id(confirmed)
        expires = int(client.status()["height"]) + 10_000
        offered = client.supplychain.offer_finance(
            supplier, receivable_id, FACTORING, "bank-a", 50_000, supplier.address, expires
        )
        assert offered.ok, offered.receipt
        return offered.height


def test_the_supplier_puts_the_invoice_on_its_own_node_checked_against_its_hash(
    consortium: Consortium,
) -> None:
    with consortium.as_account("supplier-treasury") as supplier:
        wrong = supplier.put(
            consortium.document_url("supplier"), content=INVOICE_BODY + b" ", headers=OCTETS
        )
        assert (wrong.status_code, wrong.json()["code"]) == (400, "private_data_mismatch")
        put = supplier.put(
            consortium.document_url("supplier"), content=INVOICE_BODY, headers=OCTETS
        )
        assert put.status_code == 200, put.text
        assert put.json() == {"document_hash": INVOICE_HASH, "size_bytes": len(INVOICE_BODY)}
        own = supplier.get(consortium.document_url("supplier"))
    assert (own.status_code, own.content) == (200, INVOICE_BODY)
    assert own.headers["jinqiao-private-source"] == "local"


def _tamper(store_file: Path, body: bytes) -> None:
    """Make a node's store hold ``body`` under the invoice's hash, as a lying or broken node's
    would (``PrivateDocumentStore.save`` itself refuses a body that does not match)."""
    key = ChaCha20Poly1305.generate_key()
    nonce = secrets.token_bytes(12)
    sealed = ChaCha20Poly1305(key).encrypt(nonce, body, bytes.fromhex(INVOICE_HASH))
    with sqlite3.connect(store_file) as db:
        db.execute(
            "UPDATE documents SET key = ?, nonce = ?, sealed = ? WHERE document_hash = ?",
            (key, nonce, sealed, bytes.fromhex(INVOICE_HASH)),
        )
    with PrivateDocumentStore(store_file) as store:
        loaded = store.load(bytes.fromhex(INVOICE_HASH))
    assert loaded is not None and loaded.body == body


def test_bank_a_gets_the_invoice_it_is_offered_from_the_suppliers_node(
    consortium: Consortium,
) -> None:
    supplier_store = consortium.nodes["supplier"].home / "private" / "private-documents.sqlite"
    with consortium.as_account("supplier-treasury") as supplier:
        put = supplier.put(
            consortium.document_url("supplier"), content=INVOICE_BODY, headers=OCTETS
        )
        assert put.status_code == 200, put.text
    # First the supplier's node serves a tampered invoice: bank-a's node refuses it, logs it and
    # keeps nothing.
    _tamper(supplier_store, INVOICE_BODY.replace(b"50000000", b"90000000"))
    with consortium.as_account("bank-a-treasury") as bank_a:
        refused = bank_a.get(consortium.document_url("bank-a"))
        assert refused.status_code == 502, refused.text
        assert refused.json()["code"] == "private_data_source_mismatch"
        sources = refused.json()["details"]["sources"]
        assert {"source": consortium.nodes["supplier"].url, "status": "mismatch"} in sources
        assert "private data from " + consortium.nodes["supplier"].url in (
            consortium.nodes["bank-a"].log()
        )
        local = bank_a.get(consortium.document_url("bank-a"), params={"local_only": "true"})
        assert (local.status_code, local.json()["code"]) == (404, "private_data_not_held")
    # The supplier puts the true invoice back.
    with consortium.as_account("supplier-treasury") as supplier:
        put = supplier.put(
            consortium.document_url("supplier"), content=INVOICE_BODY, headers=OCTETS
        )
        assert put.status_code == 200, put.text
    with consortium.as_account("bank-a-treasury") as bank_a:
        pulled = bank_a.get(consortium.document_url("bank-a"))
        assert pulled.status_code == 200, pulled.text
        assert pulled.content == INVOICE_BODY
        assert pulled.headers["jinqiao-private-source"] == consortium.nodes["supplier"].url
        # Kept: the next read is served from bank-a's own store.
        again = bank_a.get(consortium.document_url("bank-a"))
    assert (again.content, again.headers["jinqiao-private-source"]) == (INVOICE_BODY, "local")


def test_bank_b_is_refused_by_its_own_node_and_by_the_suppliers(consortium: Consortium) -> None:
    with consortium.as_account("bank-b-treasury") as bank_b:
        for organization in ("bank-b", "supplier"):
            answer = bank_b.get(consortium.document_url(organization))
            assert (answer.status_code, answer.json()["code"]) == (403, "forbidden")
            assert "document" in answer.json()["message"]
        put = bank_b.put(consortium.document_url("bank-b"), content=INVOICE_BODY, headers=OCTETS)
        assert (put.status_code, put.json()["code"]) == (403, "forbidden")
    # bank-b's *node*, presenting its own certificate as a pulling node does, is refused too.
    tls = consortium.nodes["bank-b"].home / "tls"
    node_credentials = Credentials(tls / "node.crt", tls / "node.key", tls / "roots.pem")
    with node_credentials.http_client(timeout=30) as bank_b_node:
        answer = bank_b_node.get(consortium.document_url("supplier"), params={"local_only": "true"})
    assert (answer.status_code, answer.json()["code"]) == (403, "forbidden")
    with consortium.as_account("regulator-admin") as regulator:
        assert regulator.get(consortium.document_url("supplier")).content == INVOICE_BODY


def test_the_sdk_and_the_cli_put_and_get_documents(consortium: Consortium, tmp_path: Path) -> None:
    directory = consortium.directory
    genesis = directory / "genesis.json"
    bank_a_node = consortium.nodes["bank-a"]
    with Client(
        consortium.nodes["supplier"].url,
        genesis_file=genesis,
        credentials=Credentials.for_account(directory, "supplier-treasury"),
    ) as supplier:
        digest = supplier.supplychain.put_private_document(INVOICE_BODY)
    assert digest.hex() == INVOICE_HASH
    with Client(
        bank_a_node.url,
        genesis_file=genesis,
        credentials=Credentials.for_account(directory, "bank-a-treasury"),
    ) as bank_a:
        assert bank_a.supplychain.private_document(digest) == INVOICE_BODY

    def cli(account: str, node: NodeProcess) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable, "-m", "jinqiao", "scf", "get-document", INVOICE_HASH,
                "--output", str(tmp_path / f"{account}.bin"),
                "--network", str(directory), "--url", node.url, "--as", account,
            ],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    got = cli("bank-a-treasury", bank_a_node)
    assert got.returncode == 0, got.stderr
    assert (tmp_path / "bank-a-treasury.bin").read_bytes() == INVOICE_BODY
    refused = cli("bank-b-treasury", consortium.nodes["bank-b"])
    assert refused.returncode == 1 and "forbidden" in refused.stderr, refused.stderr
    assert not (tmp_path / "bank-b-treasury.bin").exists()


def test_a_document_the_chain_does_not_record_is_nobodys(consortium: Consortium) -> None:
    unknown = hashlib.sha256(b"not on chain").hexdigest()
    with consortium.as_account("supplier-treasury") as supplier:
        answer = supplier.put(
            consortium.document_url("supplier", unknown), content=b"not on chain", headers=OCTETS
        )
    assert (answer.status_code, answer.json()["code"]) == (403, "forbidden")


def test_erasing_destroys_the_copy_and_refuses_it_again(consortium: Consortium) -> None:
    with consortium.as_account("bank-a-admin") as bank_a:
        erased = bank_a.delete(consortium.document_url("bank-a"))
        assert erased.json() == {"document_hash": INVOICE_HASH, "erased": True}
        gone = bank_a.get(consortium.document_url("bank-a"))
        assert (gone.status_code, gone.json()["code"]) == (410, "private_data_erased")
    with consortium.as_account("supplier-treasury") as supplier:
        # Erasing is for the node's own organization only.
        other = supplier.delete(consortium.document_url("bank-a"))
        assert (other.status_code, other.json()["code"]) == (403, "forbidden")
        # The supplier's copy is untouched.
        assert supplier.get(consortium.document_url("supplier")).content == INVOICE_BODY


def test_the_receivable_records_are_for_its_parties_on_every_node(consortium: Consortium) -> None:
    """Issue 9 item 2 on real nodes: the receivable, its root and the invoice's use are read by
    the parties (bank-a as the offered funder) and refused to bank-b, on its own node too."""
    paths = (
        "/v1/supplychain/receivables/1",
        "/v1/supplychain/roots/1",
        f"/v1/supplychain/documents/{INVOICE_HASH}",
    )
    for account, expected in (("bank-a-treasury", 200), ("bank-b-treasury", 403)):
        with consortium.as_account(account) as http:
            for organization in ("bank-a", "bank-b"):
                for path in paths:
                    answer = http.get(consortium.nodes[organization].url + path)
                    assert answer.status_code == expected, (account, organization, path)
