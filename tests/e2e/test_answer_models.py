"""Every JSON answer a real node gives keeps to the schema ``/openapi.json`` declares for it
(ADR 0040): a model of ``jinqiao.api.answers`` that names a wrong field, type or requirement
fails here. One validator with a little state in every application (``build_app_state``) and a
token transfer; each GET route is read, found and (where it can be) absent, and the body is
validated with jsonschema-rs against the operation's schema for the status it answered."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from jinqiao.apps.token import supply_key
from jinqiao.client import TransactionResult
from jinqiao.provision.supplychain import BRAND_PREFIX
from tests.helpers.answer_schemas import answer_problems
from tests.helpers.app_answers import AppState, app_network, app_requests
from tests.helpers.credit import MODEL
from tests.helpers.process import NodeProcess

pytestmark = pytest.mark.e2e

NOT_READ = {
    "capture_job": "a capture job: validated in tests/integration/test_epcis_capture.py",
    "proven_settlement": "a settled cycle: validated in tests/integration/test_payments_api.py",
    "proven_merchant_payouts": "the same",
    "score": "a recorded score: validated in tests/e2e/test_credit_disclosure_nodes.py",
    "disclosures": "a node holding private records: the same",
}
"""GET operations with a JSON success answer that this network cannot answer 200, and why."""


@dataclass
class Net:
    node: NodeProcess
    http: httpx.Client
    document: dict[str, Any]
    transfer: TransactionResult
    payee: bytes
    state: AppState


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    with app_network(tmp_path_factory.mktemp("answers")) as network:
        node = network.node
        document = node.http.get(node.url + "/openapi.json").json()
        yield Net(node, node.http, document, network.transfer, network.payee, network.state)


def _reads(net: Net) -> list[tuple[str, dict[str, Any]]]:
    """One GET per route this network can answer (found), and some absent."""
    state, cycle, tx = net.state, net.state.cycle_id, net.transfer.transaction_hash
    payee, subject = net.payee.hex(), state.subject.hex()
    block = net.http.get(f"{net.node.url}/v1/blocks/1").json()["header"]["hash"]
    payments = f"/v1/payments/cycles/{cycle}"
    chain: list[tuple[str, dict[str, Any]]] = [
        ("/healthz", {}),
        ("/v1/status", {}),
        ("/v1/genesis", {}),
        ("/v1/consensus", {}),
        ("/v1/validators/changes", {}),
        ("/v1/blocks/latest", {}),
        ("/v1/blocks/latest", {"transactions": "true", "leaves": "true"}),
        ("/v1/blocks/1", {"hashes": "true"}),
        ("/v1/blocks/1", {"transactions": "true"}),
        (f"/v1/blocks/by-hash/{block}", {}),
        (f"/v1/transactions/{tx}", {}),
        (f"/v1/state/token/{supply_key('CNY').hex()}", {}),
        (f"/v1/accounts/{payee}", {}),
        ("/v1/token/CNY", {}),
        (f"/v1/token/CNY/balances/{payee}", {}),
    ]
    payment_routes: list[tuple[str, dict[str, Any]]] = [
        ("/v1/payments/institutions/bank-a", {}),
        ("/v1/payments/payments/SAVED-P1", {}),
        (payments, {}),
        (f"{payments}/totals", {}),
        (f"{payments}/positions/bank-a", {}),
        (f"{payments}/institutions/bank-a", {}),
        (f"{payments}/flows/bank-a/ecfin", {}),
        (f"{payments}/entries/bank-a/0", {}),
        (f"{payments}/figures", {}),
        (f"{payments}/statements/bank-a", {"format": "json"}),
        (f"{payments}/statements/bank-a/proven", {}),
        (f"{payments}/settlement/proven", {}),
        ("/v1/payments/cycles/999/merchant-payouts/ecfin/proven", {}),
        ("/v1/payments/payments/NONE", {}),
    ]
    applications = [(request.path, request.params) for request in app_requests(state)]
    others: list[tuple[str, dict[str, Any]]] = [
        (f"/v1/supplychain/past-due/{BRAND_PREFIX}", {}),
        ("/v1/supplychain/past-due/brand", {}),
        (f"/v1/credit/subjects/{subject}/disclosures/0", {}),
        (f"/v1/credit/models/{MODEL.model_id}/999", {}),
        ("/v1/epcis/capture/1", {}),
        ("/v1/verify", {"scan": f"urn:epc:id:sgtin:{BRAND_PREFIX}.000001.NEVER"}),
    ]
    return chain + payment_routes + applications + others


def test_every_json_answer_keeps_to_its_declared_schema(net: Net) -> None:
    answered: set[str] = set()
    failures: list[str] = []
    for path, params in _reads(net):
        response = net.http.get(net.node.url + path, params=params)
        identifier, problems = answer_problems(net.document, response)
        failures.extend(problems)
        if response.status_code == 200:
            answered.add(identifier)
    assert not failures, "\n".join(failures)
    json_gets = {
        operation["get"]["operationId"]
        for operation in net.document["paths"].values()
        if "get" in operation
        and "application/json" in operation["get"]["responses"]["200"].get("content", {})
    }
    assert json_gets - answered == set(NOT_READ), json_gets - answered


def test_the_answers_of_writes_keep_to_their_declared_schemas(net: Net) -> None:
    """A reconciliation (clean, and with a break), a private document kept and erased."""
    url = f"{net.node.url}/v1/payments/cycles/{net.state.cycle_id}"
    own = net.http.get(f"{url}/statements/bank-a", params={"format": "csv"}).content
    header, *records = own.decode().splitlines()
    csv = {"Content-Type": "text/csv"}
    document = b"a private document"
    private = f"{net.node.url}/v1/private/documents/{hashlib.sha256(document).hexdigest()}"
    octets = {"Content-Type": "application/octet-stream"}
    responses = [
        net.http.post(f"{url}/reconciliation/bank-a", content=own, headers=csv),
        net.http.post(f"{url}/reconciliation/bank-a", content=header.encode(), headers=csv),
        net.http.put(private, content=document, headers=octets),
        net.http.delete(private),
    ]
    assert [response.status_code for response in responses] == [200] * 4, [
        response.text for response in responses
    ]
    assert records and responses[1].json()["breaks"], responses[1].text
    failures = [
        problem for response in responses for problem in answer_problems(net.document, response)[1]
    ]
    assert not failures, "\n".join(failures)
