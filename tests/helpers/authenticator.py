"""A WebAuthn authenticator in software for unit tests of the approval service (ADR 0052): a
real P-256 key (``cryptography``), real authenticator data, client data and ``none``
attestation exactly as W3C WebAuthn Level 2 §6.1 and §7 lay them out, returned in the JSON form
of ``PublicKeyCredential.toJSON()``. It stands in for the browser and the authenticator (the
service's neighbours); the browser tests use Chromium's own virtual authenticator instead.

Every field a test may want wrong is a keyword: the origin and rpId the browser would report,
the challenge, the user-verified flag, and the sign counter (``clone()`` copies the key with its
counter, as a cloned authenticator would)."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers import encode_cbor

FLAG_USER_PRESENT = 0x01
FLAG_USER_VERIFIED = 0x04
FLAG_ATTESTED = 0x40


def base64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class SoftAuthenticator:
    def __init__(self, origin: str, rp_id: str) -> None:
        self.origin = origin
        self.rp_id = rp_id
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)
        self.sign_count = 0

    def clone(self) -> SoftAuthenticator:
        return copy.deepcopy(self)

    def _cose_public_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return encode_cbor(
            {
                1: 2,  # kty: EC2
                3: -7,  # alg: ES256
                -1: 1,  # crv: P-256
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    def _authenticator_data(self, rp_id: str, flags: int, attested: bool) -> bytes:
        data = hashlib.sha256(rp_id.encode()).digest() + bytes([flags])
        data += self.sign_count.to_bytes(4, "big")
        if attested:
            data += bytes(16) + len(self.credential_id).to_bytes(2, "big") + self.credential_id
            data += self._cose_public_key()
        return data

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        document = {"type": kind, "challenge": challenge, "origin": origin or self.origin}
        return json.dumps(document).encode()

    def create(self, options: dict[str, Any]) -> dict[str, Any]:
        """What ``navigator.credentials.create({publicKey: options})`` gives, as JSON."""
        client_data = self._client_data("webauthn.create", options["challenge"], None)
        flags = FLAG_USER_PRESENT | FLAG_USER_VERIFIED | FLAG_ATTESTED
        data = self._authenticator_data(options["rp"]["id"], flags, attested=True)
        attestation = encode_cbor({"fmt": "none", "attStmt": {}, "authData": data})
        return self._credential(client_data, {"attestationObject": base64url(attestation)})

    def _credential(self, client_data: bytes, response: dict[str, str]) -> dict[str, Any]:
        return {
            "id": base64url(self.credential_id),
            "rawId": base64url(self.credential_id),
            "type": "public-key",
            "response": {"clientDataJSON": base64url(client_data), **response},
            "clientExtensionResults": {},
        }

    def get(
        self,
        options: dict[str, Any],
        *,
        challenge: str | None = None,
        origin: str | None = None,
        rp_id: str | None = None,
        user_verified: bool = True,
        counter_step: int = 1,
    ) -> dict[str, Any]:
        """What ``navigator.credentials.get({publicKey: options})`` gives, as JSON; the
        keywords make it lie."""
        self.sign_count += counter_step
        client_data = self._client_data("webauthn.get", challenge or options["challenge"], origin)
        flags = FLAG_USER_PRESENT | (FLAG_USER_VERIFIED if user_verified else 0)
        data = self._authenticator_data(rp_id or options["rpId"], flags, attested=False)
        signed = data + hashlib.sha256(client_data).digest()
        signature = self.key.sign(signed, ec.ECDSA(hashes.SHA256()))
        response = {"authenticatorData": base64url(data), "signature": base64url(signature)}
        return self._credential(client_data, response)
