"""The approval service from the SDK (docs/keys.md "Second factor", ADR 0043).

``ApprovalServiceClient`` speaks the service's HTTP API: ``request`` the approval of a pending
approval's proposing transaction (the summary the approver must see) and ``approve`` it with a
TOTP code, getting back the service's signature of ``registry.approve_transaction`` — checked
here against the service's public key before it is used.

``ApprovalServiceSigner`` puts the service behind the interface every SDK signer has
(``jinqiao.core.crypto.Signer``: ``suite``, ``public_key``, ``address``, ``sign``), signing for
the account whose amount rule names the service's key, so ``client.keys.approve(signer,
approval_hash)`` co-signs on chain. Its ``sign`` hands the summary of the requested approval to
a callback that returns the approver's name and code (typed after reading the summary), and
returns the service's signature. It signs approving transactions of requested approvals only:
other bytes are refused before anything is sent. ``WebAuthnApprovalSigner`` does the same with
a WebAuthn approver (ADR 0052): it opens a challenge, shows its page's address, and collects the
signature once the approver's browser has answered.

    service = ApprovalServiceClient("https://approval.bank-a:8600", roots_file=Path("ca.pem"))
    proposal = client.build(ops, "registry", "propose_transaction", ProposeTransactionArgs(…))
    client.resend(proposal)
    service.request(proposal)                         # the summary, shown to the approver
    signer = ApprovalServiceSigner(service, treasury_address, ask_approver)
    client.keys.approve(signer, bytes.fromhex(client.hash_of(proposal)))   # the call runs
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from jinqiao.apps.registry import ApprovalArgs
from jinqiao.client.outcome import ClientError
from jinqiao.core.codec import decode, encode
from jinqiao.core.crypto import CryptoSuite, get_suite
from jinqiao.core.errors import DecodeError, InvalidInput
from jinqiao.core.hashing import TAG_TRANSACTION
from jinqiao.core.limits import MAX_ARGS_BYTES, MAX_TRANSACTION_BYTES
from jinqiao.core.types import SignedTransaction, TransactionBody
from jinqiao.execution.identity import REGISTRY

__all__ = [
    "ApprovalRequest",
    "ApprovalServiceClient",
    "ApprovalServiceSigner",
    "SecondFactorAnswer",
    "WebAuthnApprovalSigner",
    "WebAuthnChallenge",
]

DEFAULT_TIMEOUT_S = 15.0
MAX_REMEMBERED_REQUESTS = 1000


@dataclass(frozen=True)
class ApprovalRequest:
    approval_hash: str
    summary: dict[str, Any]
    """``sender``, ``contract``, ``method``, ``amount_minor``, ``asset``, ``recipient``,
    ``arguments``, …: what the approver must read before answering."""
    expires_at_s: float


@dataclass(frozen=True)
class WebAuthnChallenge:
    challenge_id: str
    approval_hash: str
    approver: str
    page_url: str
    """The page the approver opens: the summary, and the authenticator's prompt."""
    expires_at_s: float


@dataclass(frozen=True)
class SecondFactorAnswer:
    approver: str
    totp: str


def _body(transaction: TransactionBody | SignedTransaction) -> TransactionBody:
    return transaction.body if isinstance(transaction, SignedTransaction) else transaction


class ApprovalServiceClient:
    """``url`` the service (``https://…``); ``roots_file`` the CA certificate(s) its TLS
    certificate chains to (None: the system's roots)."""

    def __init__(
        self,
        url: str,
        *,
        roots_file: Path | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=url,
            verify=ssl.create_default_context(cafile=roots_file) if roots_file else True,
            timeout=timeout_s,
            transport=transport,
        )
        self._info: dict[str, Any] | None = None
        self.requests: dict[str, ApprovalRequest] = {}
        """The approvals requested through this client, by approval hash (hex)."""

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApprovalServiceClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            response = self._http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise ClientError("unreachable", f"approval service: {exc}") from None
        try:
            answer = response.json()
        except ValueError:
            raise ClientError("bad_response", "the approval service answered no JSON") from None
        if response.status_code >= 400:
            if not isinstance(answer, dict):
                raise ClientError("bad_response", "malformed refusal", response.status_code)
            raise ClientError(
                str(answer.get("code", "error")),
                str(answer.get("message", "")),
                response.status_code,
                **(answer.get("details") or {}),
            )
        return answer

    def info(self) -> dict[str, Any]:
        """The service's chain, suite and public key (fetched once)."""
        if self._info is None:
            self._info = self._call("GET", "/v1/service")
        return self._info

    @property
    def suite(self) -> CryptoSuite:
        return get_suite(str(self.info()["suite"]))

    @property
    def public_key(self) -> bytes:
        return bytes.fromhex(str(self.info()["public_key"]))

    def request(self, proposal: TransactionBody | SignedTransaction) -> ApprovalRequest:
        """Ask for the approval of the pending approval that ``proposal`` (a
        ``registry.propose_transaction``) made; the summary the approver must read."""
        answer = self._call("POST", "/v1/approvals", {"transaction": encode(_body(proposal)).hex()})
        request = ApprovalRequest(
            str(answer["approval_hash"]), dict(answer["summary"]), float(answer["expires_at_s"])
        )
        if len(self.requests) >= MAX_REMEMBERED_REQUESTS:
            self.requests.pop(next(iter(self.requests)))
        self.requests[request.approval_hash] = request
        return request

    def approve(self, approving: TransactionBody, answer: SecondFactorAnswer) -> bytes:
        """The service's signature of ``approving`` (``registry.approve_transaction`` of a
        requested approval, with the service's public key), verified under the service key;
        ``ClientError`` with the service's code when it refuses."""
        approval = decode(approving.args, ApprovalArgs, max_bytes=MAX_ARGS_BYTES)
        request = {
            "approver": answer.approver,
            "totp": answer.totp,
            "transaction": encode(approving).hex(),
        }
        reply = self._call("POST", f"/v1/approvals/{approval.approval_hash.hex()}/approve", request)
        return self._checked_signature(approving, reply)

    def _checked_signature(self, approving: TransactionBody, reply: dict[str, Any]) -> bytes:
        signature = bytes.fromhex(str(reply["signature"]))
        if reply["public_key"] != self.public_key.hex() or not self.suite.verify(
            self.public_key, TAG_TRANSACTION + encode(approving), signature
        ):
            raise ClientError(
                "bad_response", "the signature does not verify under the service's key"
            )
        return signature

    def open_challenge(self, approving: TransactionBody, approver: str) -> WebAuthnChallenge:
        """A WebAuthn challenge (ADR 0052) for ``approver`` to approve by signing
        ``approving``: the page the approver opens in a browser."""
        approval = decode(approving.args, ApprovalArgs, max_bytes=MAX_ARGS_BYTES)
        request = {"approver": approver, "transaction": encode(approving).hex()}
        path = f"/v1/approvals/{approval.approval_hash.hex()}/challenges"
        answer = self._call("POST", path, request)
        return WebAuthnChallenge(
            str(answer["challenge_id"]),
            str(answer["approval_hash"]),
            str(answer["approver"]),
            str(answer["page_url"]),
            float(answer["expires_at_s"]),
        )

    def challenge(self, challenge_id: str) -> dict[str, Any]:
        """The challenge as its page sees it: ``status`` (``waiting``, ``approved``,
        ``expired``), the summary, and the service's ``signature`` once approved."""
        return dict(self._call("GET", f"/v1/challenges/{challenge_id}"))

    def collect(
        self,
        approving: TransactionBody,
        challenge: WebAuthnChallenge,
        *,
        timeout_s: float,
        poll_s: float = 0.5,
    ) -> bytes:
        """The service's signature of ``approving`` once the approver has answered
        ``challenge`` in the browser (asked every ``poll_s``, at most ``timeout_s``)."""
        deadline = time.monotonic() + timeout_s
        while True:
            view = self.challenge(challenge.challenge_id)
            if view["status"] == "approved":
                return self._checked_signature(approving, view)
            if view["status"] != "waiting":
                raise ClientError("challenge_expired", "the approver did not answer in time")
            if time.monotonic() >= deadline:
                raise ClientError(
                    "timeout", f"no answer to challenge {challenge.challenge_id} in {timeout_s} s"
                )
            time.sleep(poll_s)


def _approving(
    client: ApprovalServiceClient, message: bytes
) -> tuple[TransactionBody, ApprovalRequest]:
    """The approving transaction in the signing bytes ``message``, and the request (made
    through ``client``) it approves; ``InvalidInput`` for anything else."""
    if not message.startswith(TAG_TRANSACTION):
        raise InvalidInput("the approval service signs transactions only")
    try:
        body = decode(
            message[len(TAG_TRANSACTION) :], TransactionBody, max_bytes=MAX_TRANSACTION_BYTES
        )
        if (body.contract, body.method) != (REGISTRY, "approve_transaction"):
            raise InvalidInput("the approval service signs registry.approve_transaction only")
        approval_hash = decode(
            body.args, ApprovalArgs, max_bytes=MAX_ARGS_BYTES
        ).approval_hash.hex()
    except DecodeError as exc:
        raise InvalidInput(f"not an approving transaction: {exc.message}") from None
    request = client.requests.get(approval_hash)
    if request is None:
        raise InvalidInput(
            f"approval {approval_hash} was not requested through this client: "
            "request it first (its summary is what the approver answers)"
        )
    return body, request


class ApprovalServiceSigner:
    """The approval service as a ``Signer`` for the account at ``address``: it signs the
    approving transaction of an approval requested through ``client``, once the approver has
    answered ``second_factor`` for its summary."""

    def __init__(
        self,
        client: ApprovalServiceClient,
        address: bytes,
        second_factor: Callable[[ApprovalRequest], SecondFactorAnswer],
    ) -> None:
        self.client = client
        self.second_factor = second_factor
        self.suite: CryptoSuite = client.suite
        self.public_key = client.public_key
        self.address = address

    def sign(self, message: bytes) -> bytes:
        body, request = _approving(self.client, message)
        return self.client.approve(body, self.second_factor(request))

    def secret_key(self) -> bytes:
        raise InvalidInput("the approval service's key never leaves the service")

    def __repr__(self) -> str:
        return f"ApprovalServiceSigner(address={self.address.hex()})"


class WebAuthnApprovalSigner:
    """The approval service as a ``Signer`` for the account at ``address``, with a WebAuthn
    approver (ADR 0052): ``sign`` opens a challenge for ``approver``, hands it to ``present``
    (which shows the page's address to the approver, or opens it) and waits up to
    ``timeout_s`` for the approver's browser to answer it."""

    def __init__(
        self,
        client: ApprovalServiceClient,
        address: bytes,
        approver: str,
        present: Callable[[ApprovalRequest, WebAuthnChallenge], None],
        *,
        timeout_s: float = 300.0,
    ) -> None:
        self.client = client
        self.approver = approver
        self.present = present
        self.timeout_s = timeout_s
        self.suite: CryptoSuite = client.suite
        self.public_key = client.public_key
        self.address = address

    def sign(self, message: bytes) -> bytes:
        body, request = _approving(self.client, message)
        challenge = self.client.open_challenge(body, self.approver)
        self.present(request, challenge)
        return self.client.collect(body, challenge, timeout_s=self.timeout_s)

    def secret_key(self) -> bytes:
        raise InvalidInput("the approval service's key never leaves the service")

    def __repr__(self) -> str:
        return f"WebAuthnApprovalSigner(address={self.address.hex()}, approver={self.approver})"
