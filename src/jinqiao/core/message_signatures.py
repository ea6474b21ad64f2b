"""HTTP Message Signatures (RFC 9421) made with an account key: what the SDK signs and the API
checks (docs/access.md "Authentication: an HTTP message signature", ADR 0037).

The signature base and the ``Signature``/``Signature-Input`` fields are built and parsed by the
``http-message-signatures`` library; here is only what both sides must agree on — the covered
components, the parameters and their limits — and the algorithm, Ed25519 over the account's own
key through the network's crypto suite (so a key in an HSM signs as it signs transactions).
"""

from __future__ import annotations

from typing import Any

from http_message_signatures import HTTPMessageSignaturesException, HTTPSignatureAlgorithm

from jinqiao.core.crypto import Ed25519Sha256, Signer, get_suite

ALGORITHM_ID = "ed25519"
"""RFC 9421 §3.3.6; only networks of the ``ed25519-sha256`` suite sign requests this way."""
SIGNATURE_TAG = "jinqiao"
"""The signed ``tag`` parameter: the application the signature is for."""
SIGNATURE_LABEL = "account"
COVERED_COMPONENTS = ("@method", "@target-uri", "content-digest")
"""Every signature covers the method, the full target URI (scheme, authority, path and query) and
the RFC 9530 ``Content-Digest`` of the body (of the empty body for a request without one)."""
MAX_SIGNATURE_LIFETIME_S = 300
"""``expires`` minus ``created``: a signed request is good for at most five minutes."""
DEFAULT_SIGNATURE_LIFETIME_S = 60
MIN_NONCE_CHARS = 16
MAX_NONCE_CHARS = 64
NONCE_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
"""A nonce is 16..64 characters of base64url: the SDK draws 32 from ``secrets.token_urlsafe``."""


class AccountKeyAlgorithm(HTTPSignatureAlgorithm):
    """Ed25519 with an account key: signs through a ``Signer`` (file or HSM key), verifies a raw
    32-byte public key as read from the registry."""

    algorithm_id = ALGORITHM_ID

    def __init__(self, public_key: Any = None, private_key: Any = None) -> None:
        self.public_key = public_key
        self.private_key = private_key

    def sign(self, message: bytes) -> bytes:
        signer: Signer = self.private_key
        return signer.sign(message)

    def verify(self, signature: bytes, message: bytes) -> None:
        if not isinstance(self.public_key, bytes):
            raise HTTPMessageSignaturesException("no account key to verify with")
        if not get_suite(Ed25519Sha256.name).verify(self.public_key, message, signature):
            raise HTTPMessageSignaturesException("the signature does not verify")
