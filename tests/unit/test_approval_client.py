"""The SDK side of the approval service (``jinqiao.client.approval``): the signer signs only the
approving transaction of an approval requested through it, hands the approver the service's
summary, and refuses a signature that does not verify under the service's key. The service
behind the transport is the real one (``ApprovalService`` with real TOTP and SQLite); only the
HTTP hop is replaced, by a transport that calls it directly."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from jinqiao.approval import ApprovalRefused, Limits
from jinqiao.client import (
    ApprovalRequest,
    ApprovalServiceClient,
    ApprovalServiceSigner,
    ClientError,
    SecondFactorAnswer,
)
from jinqiao.core.errors import InvalidInput
from jinqiao.core.hashing import transaction_signing_bytes
from tests.unit.test_approval_service import SENDER, Harness


def service_transport(
    harness: Harness, route: Callable[[httpx.Request, dict[str, Any]], httpx.Response]
) -> httpx.MockTransport:
    """The service's info and request routes, answered by the real service object, and the
    others by ``route``; a refusal answered as the service's HTTP API answers it."""

    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else {}
        try:
            if request.url.path == "/v1/service":
                return httpx.Response(200, json=harness.service.info())
            if request.url.path == "/v1/approvals":
                answer = harness.service.request(bytes.fromhex(body["transaction"]))
                return httpx.Response(201, json=answer)
            return route(request, body)
        except ApprovalRefused as refused:
            view = {"code": refused.code, "message": refused.message, "details": {}}
            return httpx.Response(refused.status, json=view)

    return httpx.MockTransport(handle)


def _transport(harness: Harness, *, corrupt: bool = False) -> httpx.MockTransport:
    """The service's three routes, answered by the real service object."""

    def approve(request: httpx.Request, body: dict[str, Any]) -> httpx.Response:
        approval_hash = bytes.fromhex(request.url.path.split("/")[3])
        transaction = bytes.fromhex(body["transaction"])
        answer = harness.service.approve(approval_hash, body["approver"], body["totp"], transaction)
        if corrupt:
            answer["signature"] = "00" * 64
        return httpx.Response(200, json=answer)

    return service_transport(harness, approve)


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    made = Harness(tmp_path, Limits())
    yield made
    made.store.close()


def test_the_signer_shows_the_summary_and_signs_the_approval(harness: Harness) -> None:
    seen: list[ApprovalRequest] = []

    def answer(request: ApprovalRequest) -> SecondFactorAnswer:
        seen.append(request)
        return SecondFactorAnswer("alice", harness.code())

    with ApprovalServiceClient("http://service", transport=_transport(harness)) as service:
        proposal = harness.proposal(amount_minor=150_000_000)
        service.request(proposal)
        signer = ApprovalServiceSigner(service, SENDER, answer)
        approving = harness.approving(proposal)
        signature = signer.sign(transaction_signing_bytes(approving))
        assert harness.key.suite.verify(
            harness.key.public_key, transaction_signing_bytes(approving), signature
        )
        assert seen[0].summary["amount_minor"] == 150_000_000
        assert signer.public_key == harness.key.public_key and signer.address == SENDER


def test_the_signer_refuses_other_bytes_and_unrequested_approvals(harness: Harness) -> None:
    with ApprovalServiceClient("http://service", transport=_transport(harness)) as service:
        signer = ApprovalServiceSigner(
            service, SENDER, lambda _request: SecondFactorAnswer("alice", harness.code())
        )
        with pytest.raises(InvalidInput, match="transactions only"):
            signer.sign(b"a vote, say")
        proposal = harness.proposal()
        with pytest.raises(InvalidInput, match="approve_transaction only"):
            signer.sign(transaction_signing_bytes(proposal))
        with pytest.raises(InvalidInput, match="was not requested"):
            signer.sign(transaction_signing_bytes(harness.approving(proposal)))
        with pytest.raises(InvalidInput, match="never leaves"):
            signer.secret_key()


def test_a_refusal_and_a_bad_signature_are_client_errors(harness: Harness) -> None:
    proposal = harness.proposal()
    approving = harness.approving(proposal)
    with ApprovalServiceClient("http://service", transport=_transport(harness)) as service:
        service.request(proposal)
        with pytest.raises(ClientError) as refused:
            service.approve(approving, SecondFactorAnswer("mallory", harness.code()))
        assert (refused.value.code, refused.value.status) == ("unknown_approver", 400)
    corrupt = _transport(harness, corrupt=True)
    with ApprovalServiceClient("http://service", transport=corrupt) as service:
        with pytest.raises(ClientError) as forged:
            service.approve(approving, SecondFactorAnswer("alice", harness.code()))
        assert forged.value.code == "bad_response"
