"""The approval service from the SDK (docs/keys.md "Second factor", ADR 0043).

``ApprovalServiceClient`` speaks the service's HTTP API: ``request`` a transaction's approval
(its hash and the summary the approver must see), ``approve`` it with a second factor, and get
the co-signature back — checked here against the service's public key before it is returned.

``ApprovalServiceSigner`` puts the service behind the interface every SDK signer has
(``jinqiao.core.crypto.Signer``: ``suite``, ``public_key``, ``address``, ``sign``): its
``sign(transaction_signing_bytes(body))`` requests the approval, hands the summary to a callback
that returns the approver's second factor (a TOTP code typed after reading the summary, or a
WebAuthn assertion over the challenge), and returns the service's co-signature. It signs
transactions only: other bytes are refused before anything is sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from jinqiao.client.outcome import ClientError
from jinqiao.core.codec import decode, encode
from jinqiao.core.crypto import CryptoSuite, get_suite
from jinqiao.core.errors import DecodeError, InvalidInput
from jinqiao.core.hashing import TAG_TRANSACTION
from jinqiao.core.limits import MAX_TRANSACTION_BYTES
from jinqiao.core.types import SignedTransaction, TransactionBody

__all__ = [
    "ApprovalRequest",
    "ApprovalServiceClient",
    "ApprovalServiceSigner",
    "CoSignature",
    "SecondFactorAnswer",
]

DEFAULT_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class ApprovalRequest:
    transaction_hash: str
    summary: dict[str, Any]
    """``sender``, ``contract``, ``method``, ``amount_minor``, ``asset``, ``recipient``,
    ``arguments``, …: what the approver must read before answering."""
    expires_at_s: float
    webauthn_challenge: bytes
    """The challenge an authenticator signs: the transaction's hash."""


@dataclass(frozen=True)
class SecondFactorAnswer:
    approver: str
    totp: str | None = None
    webauthn: dict[str, Any] | None = None


@dataclass(frozen=True)
class CoSignature:
    transaction_hash: str
    approver: str
    public_key: bytes
    address: bytes
    signature: bytes
    """The service key's signature over the transaction's signing bytes."""


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
            verify=str(roots_file) if roots_file is not None else True,
            timeout=timeout_s,
            transport=transport,
        )
        self._info: dict[str, Any] | None = None

    def close(self) -> None:
        self._http.close()

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
        """The service's chain, suite, public key and address (fetched once)."""
        if self._info is None:
            self._info = self._call("GET", "/v1/service")
        return self._info

    @property
    def suite(self) -> CryptoSuite:
        return get_suite(str(self.info()["suite"]))

    @property
    def public_key(self) -> bytes:
        return bytes.fromhex(str(self.info()["public_key"]))

    def request(self, transaction: TransactionBody | SignedTransaction) -> ApprovalRequest:
        answer = self._call(
            "POST", "/v1/approvals", {"transaction": encode(_body(transaction)).hex()}
        )
        return ApprovalRequest(
            answer["transaction_hash"],
            answer["summary"],
            float(answer["expires_at_s"]),
            bytes.fromhex(answer["webauthn_challenge"]),
        )

    def approve(
        self, transaction: TransactionBody | SignedTransaction, answer: SecondFactorAnswer
    ) -> CoSignature:
        """The co-signature of ``transaction`` (already requested), verified under the service
        key; ``ClientError`` with the service's code when it refuses."""
        body = _body(transaction)
        suite = self.suite
        identity = suite.hash(TAG_TRANSACTION + encode(body)).hex()
        request: dict[str, Any] = {"approver": answer.approver}
        if answer.totp is not None:
            request["totp"] = answer.totp
        if answer.webauthn is not None:
            request["webauthn"] = answer.webauthn
        reply = self._call("POST", f"/v1/approvals/{identity}/approve", request)
        signature = bytes.fromhex(str(reply["signature"]))
        if reply["public_key"] != self.public_key.hex() or not suite.verify(
            self.public_key, TAG_TRANSACTION + encode(body), signature
        ):
            raise ClientError(
                "bad_response", "the co-signature does not verify under the service's key"
            )
        return CoSignature(
            identity, answer.approver, self.public_key, bytes.fromhex(reply["address"]), signature
        )

    def cosign(
        self,
        transaction: TransactionBody | SignedTransaction,
        second_factor: Callable[[ApprovalRequest], SecondFactorAnswer],
    ) -> CoSignature:
        """Request, let ``second_factor`` answer after it has seen the summary, approve."""
        request = self.request(transaction)
        return self.approve(transaction, second_factor(request))


class ApprovalServiceSigner:
    """The approval service as a ``Signer``: signs a transaction's signing bytes only, and only
    once the approver has answered ``second_factor`` for it."""

    def __init__(
        self,
        client: ApprovalServiceClient,
        second_factor: Callable[[ApprovalRequest], SecondFactorAnswer],
    ) -> None:
        self.client = client
        self.second_factor = second_factor
        self.suite: CryptoSuite = client.suite
        self.public_key = client.public_key
        self.address = self.suite.address(self.public_key)

    def sign(self, message: bytes) -> bytes:
        if not message.startswith(TAG_TRANSACTION):
            raise InvalidInput("the approval service co-signs transactions only")
        try:
            body = decode(
                message[len(TAG_TRANSACTION) :], TransactionBody, max_bytes=MAX_TRANSACTION_BYTES
            )
        except DecodeError as exc:
            raise InvalidInput(f"not a transaction's signing bytes: {exc.message}") from None
        return self.client.cosign(body, self.second_factor).signature

    def secret_key(self) -> bytes:
        raise InvalidInput("the approval service's key never leaves the service")

    def __repr__(self) -> str:
        return f"ApprovalServiceSigner(address={self.address.hex()})"
