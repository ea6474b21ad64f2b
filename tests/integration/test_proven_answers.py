"""Every answer proven (docs/proofs.md §9) against a real node: freshness (``min_height``,
``height`` and ``time_ms``), absence proven inside a 404, a block's whole transaction list
against its roots, and a streamed event against its receipt. Each section's example in the
document is read here and compared with what the node answers; a lying node — a proxy that
alters the answers — is caught by the SDK in every case."""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from jinqiao.apps.token import TOKEN, Holding, balance_key, supply_key
from jinqiao.client import Client, ClientError, TransactionResult
from jinqiao.core.codec import decode, encode
from jinqiao.core.crypto import Signer
from jinqiao.core.limits import MAX_PROOF_BYTES, MAX_STATE_READS_PROOF_BYTES
from jinqiao.core.proofs import StateRead, StateReadProof, StateReadsProof
from jinqiao.execution.identity import REGISTRY, account_key
from jinqiao.execution.state import full_key
from jinqiao.keys import load_key
from jinqiao.provision.network import NetworkLayout
from jinqiao.verify import VerificationError, verify_state_read
from tests.helpers import doc_examples
from tests.helpers.process import NodeProcess, make_network

pytestmark = pytest.mark.e2e

UNKNOWN = b"\x11" * 20
TRANSFER_MINOR = 250


@dataclass
class Net:
    directory: Path
    layout: NetworkLayout
    node: NodeProcess
    client: Client
    transfer: TransactionResult

    def key(self, name: str) -> Signer:
        return load_key(self.directory / self.layout.account(name).key_file)

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.node.http.get(f"{self.node.url}{path}", params=params, timeout=10)

    def lying_client(self, alter: Callable[[httpx.Request, dict[str, Any]], Any]) -> Client:
        """A client whose node answers through ``alter`` (request, parsed JSON) -> new JSON."""
        return Client(
            self.node.url,
            genesis_file=self.directory / "genesis.json",
            transport=Lying(alter, self.node.credentials.ssl_context()),
        )


class Lying(httpx.BaseTransport):
    """Forwards to the real node, then rewrites the JSON answer."""

    def __init__(
        self, alter: Callable[[httpx.Request, dict[str, Any]], Any], tls: ssl.SSLContext
    ) -> None:
        self.alter = alter
        self.inner = httpx.HTTPTransport(verify=tls)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        try:
            body = response.read()
        finally:
            response.close()
        if not response.headers.get("content-type", "").startswith("application/json"):
            return httpx.Response(response.status_code, headers=response.headers, content=body)
        answer = json.loads(body)
        altered = self.alter(request, answer)
        status = response.status_code
        if isinstance(altered, tuple):
            status, altered = altered
        return httpx.Response(status, json=altered)

    def close(self) -> None:
        self.inner.close()


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    directory = tmp_path_factory.mktemp("network")
    layout = make_network(directory)
    node = NodeProcess(directory / layout.nodes[0].home).start()
    client = Client(node.url, credentials=node.credentials, genesis_file=directory / "genesis.json")
    try:
        payer = load_key(directory / layout.account("clearing-treasury").key_file)
        payee = load_key(directory / layout.account("bank-a-treasury").key_file).address
        client.token.mint(payer, "CNY", payer.address, 10**6)
        transfer = client.token.transfer(payer, "CNY", payee, TRANSFER_MINOR)
        assert transfer.ok, transfer.code
        yield Net(directory, layout, node, client, transfer)
    finally:
        client.close()
        assert node.stop() == 0, node.log()


def _example(name: str) -> dict[str, Any]:
    example: dict[str, Any] = json.loads(doc_examples.block(name))
    return example


# ------------------------------------------------------------------------------------------------
# §9.1 freshness


def test_a_proven_answer_says_how_old_it_is(net: Net) -> None:
    answer = net.get(f"/v1/state/token/{supply_key('CNY').hex()}").json()
    proof = decode(bytes.fromhex(answer["proof"]), StateReadProof, max_bytes=MAX_PROOF_BYTES)
    assert (answer["height"], answer["time_ms"]) == (proof.header.height, proof.header.time_ms)
    proven = net.client.read_state(TOKEN, supply_key("CNY"))
    assert proven.time_ms == net.client.header(proven.height).time_ms > 0
    asset = net.get("/v1/token/CNY").json()
    assert asset["time_ms"] == net.client.header(asset["height"]).time_ms


def test_min_height_at_or_below_the_head_is_served_at_or_above_it(net: Net) -> None:
    head = net.client.status()["height"]
    proven = net.client.read_state(TOKEN, supply_key("CNY"), min_height=head)
    assert proven.height >= head
    account = net.get(f"/v1/accounts/{net.key('bank-a-treasury').address.hex()}", min_height=1)
    assert account.status_code == 200 and account.json()["height"] >= 1


@pytest.mark.parametrize(
    "path",
    [
        f"/v1/state/token/{supply_key('CNY').hex()}",
        f"/v1/accounts/{UNKNOWN.hex()}",
        "/v1/token/CNY",
        f"/v1/token/CNY/balances/{UNKNOWN.hex()}",
        "/v1/payments/payments/P-unknown",
        "/v1/payments/cycles/1/figures",
        "/v1/blocks/latest",
    ],
)
def test_a_node_behind_min_height_refuses_as_documented(net: Net, path: str) -> None:
    example = _example("height-not-reached")
    response = net.get(path, min_height=example["details"]["min_height"])
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["code"] == example["code"]
    assert set(body["details"]) == set(example["details"])
    assert body["details"]["min_height"] == example["details"]["min_height"]
    assert body["details"]["head_height"] <= net.client.status()["height"]
    with pytest.raises(ClientError) as refused:
        net.client.read_state(TOKEN, supply_key("CNY"), min_height=10**6)
    assert (refused.value.code, refused.value.status) == ("height_not_reached", 409)


def test_a_height_below_min_height_is_an_invalid_request(net: Net) -> None:
    response = net.get(f"/v1/state/token/{supply_key('CNY').hex()}", height=1, min_height=2)
    assert (response.status_code, response.json()["code"]) == (400, "invalid_request")


def test_a_node_that_ignores_min_height_is_caught(net: Net) -> None:
    def serve_height_one(request: httpx.Request, answer: dict[str, Any]) -> Any:
        if "min_height" in request.url.params and request.url.path.startswith("/v1/state/"):
            old = net.node.http.get(
                str(request.url.copy_remove_param("min_height")), params={"height": 1}
            )
            return 200, old.json()
        return answer

    head = net.client.status()["height"]
    with (
        net.lying_client(serve_height_one) as lying,
        pytest.raises(VerificationError, match="or later"),
    ):
        lying.read_state(TOKEN, supply_key("CNY"), min_height=head)


# ------------------------------------------------------------------------------------------------
# §9.2 absence


def test_an_unknown_account_is_a_404_that_proves_its_absence(net: Net) -> None:
    example = _example("absence")
    response = net.get(f"/v1/accounts/{UNKNOWN.hex()}")
    assert response.status_code == 404
    body = response.json()
    assert (body["code"], body["message"]) == (example["code"], example["message"])
    assert set(body["details"]) == set(example["details"])
    details = body["details"]
    for name in ("address", "key", "value"):
        assert details[name] == example["details"][name], name
    proof = decode(bytes.fromhex(details["proof"]), StateReadProof, max_bytes=MAX_PROOF_BYTES)
    assert proof.key.hex() == details["key"] and proof.value is None
    assert (proof.header.height, proof.header.time_ms) == (details["height"], details["time_ms"])
    verify_state_read(
        net.client.genesis, proof.header, proof.certificate, proof.key, None, proof.proof
    )
    assert net.client.account(UNKNOWN) is None
    known = net.client.account(net.key("bank-a-treasury").address)
    assert known is not None and known.organization == "bank-a"


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/v1/token/XYZ", full_key(TOKEN, b"asset/XYZ")),
        ("/v1/payments/payments/P-unknown", b"payments/payment/P-unknown"),
        ("/v1/payments/institutions/nobody", b"payments/institution/nobody"),
        ("/v1/payments/cycles/99", b"payments/cycle/" + (99).to_bytes(8, "big")),
        ("/v1/payments/cycles/99/figures", b"payments/cycle/" + (99).to_bytes(8, "big")),
    ],
)
def test_every_unknown_record_proves_its_absence(net: Net, path: str, key: bytes) -> None:
    response = net.get(path)
    assert response.status_code == 404
    assert response.json()["details"]["key"] == key.hex()
    proven = net.client.read_record(path, key)
    assert proven.value is None and proven.verified


def test_the_sdk_reads_a_found_record_through_the_same_call(net: Net) -> None:
    treasury = net.key("clearing-treasury").address
    path = f"/v1/token/CNY/balances/{treasury.hex()}"
    proven = net.client.read_record(path, full_key(TOKEN, balance_key("CNY", treasury)))
    assert proven.value is not None
    assert decode(proven.value, Holding, max_bytes=MAX_PROOF_BYTES).balance_minor > 0


def test_a_404_proving_another_key_absent_is_refused(net: Net) -> None:
    """A node hides an existing account behind a 404 that proves some other address absent."""
    present = net.key("bank-a-treasury").address

    def hide(request: httpx.Request, answer: dict[str, Any]) -> Any:
        if request.url.path == f"/v1/accounts/{present.hex()}":
            return 404, net.get(f"/v1/accounts/{UNKNOWN.hex()}").json()
        return answer

    with net.lying_client(hide) as lying, pytest.raises(ClientError, match="another key"):
        lying.account(present)


def test_a_404_claiming_a_present_key_absent_is_refused(net: Net) -> None:
    """The proof of the right key, its value removed: the state proof no longer holds."""
    present = net.key("bank-a-treasury").address
    key = full_key(REGISTRY, account_key(present))

    def strip_value(request: httpx.Request, answer: dict[str, Any]) -> Any:
        if request.url.path != f"/v1/accounts/{present.hex()}":
            return answer
        proof = decode(bytes.fromhex(answer["proof"]), StateReadProof, max_bytes=MAX_PROOF_BYTES)
        forged = StateReadProof(proof.header, proof.certificate, key, None, proof.proof)
        details = {**answer, "value": None, "proof": encode(forged).hex()}
        return 404, {"code": "not_found", "message": "no account", "details": details}

    with net.lying_client(strip_value) as lying, pytest.raises(VerificationError):
        lying.account(present)


def test_a_404_without_a_proof_is_not_taken_as_absence(net: Net) -> None:
    def bare(request: httpx.Request, answer: dict[str, Any]) -> Any:
        return 404, {"code": "not_found", "message": "no account", "details": {}}

    with net.lying_client(bare) as lying, pytest.raises(ClientError) as refused:
        lying.account(UNKNOWN)
    assert refused.value.code == "not_found"


# ------------------------------------------------------------------------------------------------
# §9.3 blocks


def test_a_block_lists_its_transactions_against_its_roots(net: Net) -> None:
    example = _example("block-leaves")
    height = net.transfer.height
    answer = net.get(f"/v1/blocks/{height}", leaves="true").json()
    assert set(example) <= set(answer)
    assert set(example["header"]) <= set(answer["header"])
    block = net.client.proven_block(height)
    assert block.verified and block.header.height == height
    position = block.transaction_hashes.index(bytes.fromhex(net.transfer.transaction_hash))
    assert position == net.transfer.index
    assert block.receipts[position] == net.transfer.receipt
    assert len(block.transactions) == block.header.transaction_count
    latest = net.client.proven_block(min_height=height)
    assert latest.header.height >= height


LEAF_ALTERATIONS: dict[str, Callable[[dict[str, Any]], None]] = {
    "dropped": lambda a: (a["transaction_leaves"].pop(), a["receipt_leaves"].pop()),
    "duplicated": lambda a: (
        a["transaction_leaves"].append(a["transaction_leaves"][0]),
        a["receipt_leaves"].append(a["receipt_leaves"][0]),
    ),
    "receipt-altered": lambda a: a["receipt_leaves"].__setitem__(
        0, a["receipt_leaves"][0][:-2] + "01"
    ),
}


@pytest.mark.parametrize("name", sorted(LEAF_ALTERATIONS))
def test_an_altered_block_list_is_caught(net: Net, name: str) -> None:
    def alter(request: httpx.Request, answer: dict[str, Any]) -> Any:
        if "transaction_leaves" in answer:
            LEAF_ALTERATIONS[name](answer)
        return answer

    with net.lying_client(alter) as lying, pytest.raises(VerificationError):
        lying.proven_block(net.transfer.height)


# ------------------------------------------------------------------------------------------------
# §9.4 events


def _transfer_event(net: Net) -> dict[str, Any]:
    with net.client.events(
        contract="token", name="Transfer", from_height=net.transfer.height, timeout_s=10
    ) as events:
        for event in events:
            if event["transaction_hash"] == net.transfer.transaction_hash:
                return event
    raise AssertionError("the stream ended without the transfer's event")


def test_a_streamed_event_is_checked_against_its_receipt(net: Net) -> None:
    event = _transfer_event(net)
    assert set(event) == set(_example("event"))
    assert (event["height"], event["index"]) == (net.transfer.height, net.transfer.index)
    proven = net.client.prove_event(event)
    assert proven == net.transfer.receipt.events[event["event_index"]]
    assert proven.attribute("amount_minor") == TRANSFER_MINOR


EVENT_ALTERATIONS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "amount": lambda e: {**e, "attributes": {**e["attributes"], "amount_minor": 1}},
    "name": lambda e: {**e, "name": "Mint"},
    "event-index": lambda e: {**e, "event_index": e["event_index"] + 1},
    "index": lambda e: {**e, "index": e["index"] + 1},
    "height": lambda e: {**e, "height": e["height"] - 1},
}


@pytest.mark.parametrize("name", sorted(EVENT_ALTERATIONS))
def test_an_altered_event_is_refused(net: Net, name: str) -> None:
    event = EVENT_ALTERATIONS[name](_transfer_event(net))
    with pytest.raises(VerificationError):
        net.client.prove_event(event)


# ------------------------------------------------------------------------------------------------
# The OpenAPI document describes the new answers


def test_the_openapi_document_describes_freshness_absence_and_leaves(net: Net) -> None:
    document = net.get("/openapi.json").json()
    account = document["paths"]["/v1/accounts/{address}"]["get"]
    assert "min_height" in {parameter["name"] for parameter in account["parameters"]}
    assert "409" in account["responses"]
    assert "ProvenAbsenceBody" in json.dumps(account["responses"]["404"])
    block = document["paths"]["/v1/blocks/{height}"]["get"]
    assert "leaves" in {parameter["name"] for parameter in block["parameters"]}


# ------------------------------------------------------------------------------------------------
# §9.5 a query derived from proven state


def test_a_query_is_run_again_on_the_state_it_read(net: Net) -> None:
    payee = net.key("bank-a-treasury").address
    proven = net.client.proven_query(TOKEN, "balance", asset="CNY", address=payee)
    assert proven.verified
    assert proven.result.balance_minor == net.client.token.balance("CNY", payee)
    assert proven.time_ms == net.client.header(proven.height).time_ms
    answer = net.node.http.post(
        f"{net.node.url}/v1/query/token/balance",
        params={"proofs": "true"},
        json={"asset": "CNY", "address": payee.hex()},
        timeout=10,
    ).json()
    assert answer["result"]["balance_minor"] == proven.result.balance_minor
    reads = decode(
        bytes.fromhex(answer["reads_proof"]), StateReadsProof, max_bytes=MAX_STATE_READS_PROOF_BYTES
    ).reads
    assert full_key(TOKEN, balance_key("CNY", payee)) in {read.key for read in reads}


def test_an_unproven_query_answer_is_as_before(net: Net) -> None:
    payee = net.key("bank-a-treasury").address
    answer = net.node.http.post(
        f"{net.node.url}/v1/query/token/balance",
        json={"asset": "CNY", "address": payee.hex()},
        timeout=10,
    ).json()
    assert set(answer) == {"height", "result"}


def _altered_reads(alter: Callable[[StateReadsProof], StateReadsProof]) -> Callable[..., Any]:
    def rewrite(request: httpx.Request, answer: dict[str, Any]) -> Any:
        if "reads_proof" in answer:
            proof = decode(
                bytes.fromhex(answer["reads_proof"]),
                StateReadsProof,
                max_bytes=MAX_STATE_READS_PROOF_BYTES,
            )
            answer["reads_proof"] = encode(alter(proof)).hex()
        return answer

    return rewrite


def _with_reads(proof: StateReadsProof, reads: tuple[StateRead, ...]) -> StateReadsProof:
    return StateReadsProof(proof.header, proof.certificate, reads)


QUERY_ALTERATIONS: dict[str, Callable[[StateReadsProof], StateReadsProof]] = {
    "read-dropped": lambda p: _with_reads(p, p.reads[1:]),
    "value-changed": lambda p: _with_reads(
        p,
        tuple(
            StateRead(r.key, encode(Holding(10**12, "retail", False, 0, 0)), r.proof)
            if b"/balance/" in r.key
            else r
            for r in p.reads
        ),
    ),
    "read-twice": lambda p: _with_reads(p, (*p.reads, p.reads[0])),
}


@pytest.mark.parametrize("name", sorted(QUERY_ALTERATIONS))
def test_an_altered_query_proof_is_caught(net: Net, name: str) -> None:
    payee = net.key("bank-a-treasury").address
    lying = net.lying_client(_altered_reads(QUERY_ALTERATIONS[name]))
    with lying, pytest.raises(VerificationError):
        lying.proven_query(TOKEN, "balance", asset="CNY", address=payee)


def test_the_node_s_own_result_is_never_taken(net: Net) -> None:
    payee = net.key("bank-a-treasury").address

    def inflate(request: httpx.Request, answer: dict[str, Any]) -> Any:
        if "reads_proof" in answer:
            answer["result"]["balance_minor"] = 10**12
        return answer

    with net.lying_client(inflate) as lying:
        proven = lying.proven_query(TOKEN, "balance", asset="CNY", address=payee)
    assert proven.result.balance_minor == net.client.token.balance("CNY", payee)
