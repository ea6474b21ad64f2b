"""The second way to authenticate: an HTTP message signature (RFC 9421) made with an account key
(docs/access.md "Authentication: an HTTP message signature", ADR 0037).

A request without a client certificate that carries ``Signature-Input`` and ``Signature`` is
checked here, once, before the access rules:

1. the fields parse, hold exactly one signature, tagged ``jinqiao``, covering ``@method``,
   ``@target-uri`` and ``content-digest``, with ``keyid`` (the account's address, 40 hex),
   ``alg`` ``ed25519``, ``created``, ``expires`` and ``nonce`` within their limits
   (``core.message_signatures``) — else ``malformed``;
2. it is not expired: ``created`` no later than now (5 s of clock skew), ``expires`` not past,
   and at most ``MAX_SIGNATURE_LIFETIME_S`` after ``created`` — else ``expired``;
3. ``keyid`` is an active account in the committed state — else ``unknown_account``;
4. the ``http-message-signatures`` library verifies the signature over the request as this node
   received it, under the account's registered public key, and the body against the signed
   ``Content-Digest`` — else ``invalid_signature`` (a wrong key, a changed method, URI or body);
5. the (account, nonce) pair has not been seen while the signature is valid — else
   ``replayed``. Pairs are remembered until their ``expires`` (``NonceCache``).

Each refusal is 401 ``signature_refused`` with ``details.reason`` one of those words; the
``AccessControl`` layer records it in the audit trail with the account it names. The identity of
an accepted signature is the account's address, its organization and its registry roles.
"""

from __future__ import annotations

import datetime
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import http_sf
from http_message_signatures import (
    HTTPMessageSignaturesException,
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
)

from jinqiao.api.authentication import Identity
from jinqiao.core.errors import InvalidInput
from jinqiao.core.message_signatures import (
    ALGORITHM_ID,
    COVERED_COMPONENTS,
    MAX_NONCE_CHARS,
    MAX_SIGNATURE_LIFETIME_S,
    MIN_NONCE_CHARS,
    NONCE_ALPHABET,
    SIGNATURE_TAG,
    AccountKeyAlgorithm,
)
from jinqiao.execution.identity import Account

SIGNATURE_INPUT_HEADER = b"signature-input"
SIGNATURE_HEADER = b"signature"
MAX_SIGNATURE_HEADER_BYTES = 4096
MAX_CLOCK_SKEW_S = 5
MAX_REMEMBERED_NONCES = 100_000
"""Nonces of signatures still valid, from all accounts: at most five minutes' worth of signed
requests at ~330/s. Over it a signed request is refused (``replay_window_full``) rather than risk
forgetting a nonce that could be replayed."""
ADDRESS_HEX_CHARS = 40


class SignatureRefused(InvalidInput):
    """A request signature that does not authenticate its request (401)."""

    code = "signature_refused"


def refuse(reason: str, message: str, account: str = "") -> SignatureRefused:
    return SignatureRefused(message, reason=reason, account=account)


@dataclass(frozen=True)
class SignatureInput:
    """The one signature of a request, as its ``Signature-Input`` states it."""

    keyid: str
    created: int
    expires: int
    nonce: str


class NonceCache:
    """(account, nonce) pairs of accepted signatures, each kept until its signature expires."""

    def __init__(self, capacity: int = MAX_REMEMBERED_NONCES) -> None:
        self.capacity = capacity
        self.expiries: OrderedDict[tuple[str, str], int] = OrderedDict()
        self.lock = threading.Lock()
        """Signatures are checked in worker threads: a nonce is looked up and remembered at once."""

    def remember(self, account: str, nonce: str, expires_s: int, now_s: float) -> None:
        """Remember a pair; ``replayed`` if it is already known, ``replay_window_full`` if the
        cache is full of pairs still valid."""
        with self.lock:
            self._remember(account, nonce, expires_s, now_s)

    def _remember(self, account: str, nonce: str, expires_s: int, now_s: float) -> None:
        while self.expiries:
            # Oldest first; one that expires later than those after it holds them at most
            # MAX_SIGNATURE_LIFETIME_S longer, which is safe (they are still refused).
            pair, expiry = next(iter(self.expiries.items()))
            if expiry + MAX_CLOCK_SKEW_S >= now_s:
                break
            del self.expiries[pair]
        if (account, nonce) in self.expiries:
            raise refuse("replayed", f"nonce {nonce!r} of {account} was already used", account)
        if len(self.expiries) >= self.capacity:
            raise refuse(
                "replay_window_full",
                f"over {self.capacity} signed requests still valid: try again shortly",
                account,
            )
        self.expiries[(account, nonce)] = expires_s


class _Headers:
    """The read-only header view the library verifies against: the request's field lines."""

    def __init__(self, raw: Iterable[tuple[bytes, bytes]]) -> None:
        self.lines = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in raw]

    def items(self) -> Iterable[tuple[str, str]]:
        return list(self.lines)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(name for name, _ in self.lines))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(n.lower() == name.lower() for n, _ in self.lines)

    def __getitem__(self, name: str) -> str:
        values = [value for n, value in self.lines if n.lower() == name.lower()]
        if not values:
            raise KeyError(name)
        return ", ".join(values)

    def __setitem__(self, name: str, value: str) -> None:
        raise TypeError("read-only")

    def __delitem__(self, name: str) -> None:
        raise TypeError("read-only")


@dataclass
class _Request:
    method: str
    url: str
    headers: _Headers


class _AccountKeys(HTTPSignatureKeyResolver):
    def __init__(self, public_key: bytes) -> None:
        self.public_key = public_key

    def resolve_public_key(self, key_id: str) -> bytes:
        return self.public_key

    def resolve_private_key(self, key_id: str) -> bytes:
        raise HTTPMessageSignaturesException("a node never signs with an account key")


class SignatureAuthenticator:
    """Checks request signatures against the accounts of the committed state
    (``lookup_account``: an address to its ``Account``, or None)."""

    def __init__(
        self,
        lookup_account: Callable[[bytes], Account | None],
        *,
        clock_s: Callable[[], float] = time.time,
        enabled: bool = True,
    ) -> None:
        self.lookup_account = lookup_account
        self.clock_s = clock_s
        self.enabled = enabled
        """False on a network whose suite is not ed25519-sha256: its account keys cannot make
        ``ed25519`` signatures, so every signed request is refused."""
        self.nonces = NonceCache()

    def identify(self, scope: Any, body: bytes) -> Identity:
        """The identity of a signed request (``scope``: its ASGI scope; ``body``: all of it), or
        ``SignatureRefused``."""
        raw_headers: list[tuple[bytes, bytes]] = list(scope.get("headers", ()))
        signature_input = parse_signature_input(raw_headers)
        account_hex = signature_input.keyid
        now_s = self.clock_s()
        if not self.enabled:
            raise refuse("malformed", "this network's accounts cannot sign ed25519", account_hex)
        if signature_input.created > now_s + MAX_CLOCK_SKEW_S:
            raise refuse("expired", "the signature is created in the future", account_hex)
        if signature_input.expires < now_s - MAX_CLOCK_SKEW_S:
            raise refuse("expired", "the signature has expired", account_hex)
        account = self.lookup_account(bytes.fromhex(account_hex))
        if account is None or not account.active:
            raise refuse(
                "unknown_account", f"{account_hex} is no active account of this chain", account_hex
            )
        verifier = HTTPMessageVerifier(
            signature_algorithm=AccountKeyAlgorithm, key_resolver=_AccountKeys(account.public_key)
        )
        verifier.max_clock_skew = _seconds(MAX_CLOCK_SKEW_S)
        try:
            verifier.verify(
                _Request(str(scope["method"]), target_uri(scope), _Headers(raw_headers)),
                max_age=_seconds(MAX_SIGNATURE_LIFETIME_S),
                expect_tag=SIGNATURE_TAG,
                require_components=COVERED_COMPONENTS,
                body=body,
            )
        except HTTPMessageSignaturesException as exc:
            raise refuse(
                "invalid_signature",
                f"the signature does not verify under the key of {account_hex}: {str(exc)[:200]}",
                account_hex,
            ) from None
        self.nonces.remember(account_hex, signature_input.nonce, signature_input.expires, now_s)
        return Identity(account_hex, account.organization, frozenset(account.roles))


def has_signature(scope: Any) -> bool:
    return any(name == SIGNATURE_INPUT_HEADER for name, _ in scope.get("headers", ()))


def target_uri(scope: Any) -> str:
    """The request's target URI as the client addressed it: https, its ``Host``, the path as
    sent and the query string (RFC 9421 §2.2.2)."""
    host = ""
    for name, value in scope.get("headers", ()):
        if name == b"host":
            host = value.decode("latin-1")
    path = scope.get("raw_path") or str(scope.get("path", "")).encode()
    query = scope.get("query_string", b"")
    uri = f"https://{host}{path.decode('latin-1')}"
    return f"{uri}?{query.decode('latin-1')}" if query else uri


def parse_signature_input(raw_headers: list[tuple[bytes, bytes]]) -> SignatureInput:
    """The parameters of the request's one signature, checked against the limits; raises
    ``SignatureRefused`` (``malformed``)."""
    values = [value for name, value in raw_headers if name == SIGNATURE_INPUT_HEADER]
    signatures = [value for name, value in raw_headers if name == SIGNATURE_HEADER]
    if len(values) != 1 or len(values[0]) > MAX_SIGNATURE_HEADER_BYTES or len(signatures) != 1:
        raise refuse(
            "malformed", "a signed request has one Signature-Input and one Signature field"
        )
    try:
        parsed: Any = http_sf.parse(values[0], tltype="dictionary")
    except Exception as exc:  # http_sf raises ValueError and its own errors alike
        raise refuse("malformed", f"Signature-Input does not parse: {str(exc)[:100]}") from None
    if not isinstance(parsed, dict) or len(parsed) != 1:
        raise refuse("malformed", "Signature-Input must hold exactly one signature")
    ((_, (members, parameters)),) = parsed.items()
    if not isinstance(members, list) or not isinstance(parameters, dict):
        raise refuse("malformed", "a signature's input is an inner list of components")
    keyid = parameters.get("keyid")
    account = keyid if isinstance(keyid, str) else ""
    problem = _parameter_problem(parameters, [member for member, _ in members])
    if problem is not None:
        raise refuse("malformed", problem, account)
    return SignatureInput(
        account, int(parameters["created"]), int(parameters["expires"]), parameters["nonce"]
    )


def _parameter_problem(parameters: dict[str, Any], components: list[Any]) -> str | None:
    keyid = parameters.get("keyid")
    if not isinstance(keyid, str) or len(keyid) != ADDRESS_HEX_CHARS or not _is_hex(keyid):
        return "keyid must be the signing account's address (40 hex digits)"
    if parameters.get("alg") != ALGORITHM_ID:
        return f"alg must be {ALGORITHM_ID!r}"
    if parameters.get("tag") != SIGNATURE_TAG:
        return f"tag must be {SIGNATURE_TAG!r}"
    created, expires = parameters.get("created"), parameters.get("expires")
    if type(created) is not int or type(expires) is not int:
        return "created and expires are required integers (seconds since the epoch)"
    if not 0 < expires - created <= MAX_SIGNATURE_LIFETIME_S:
        return f"expires must be 1..{MAX_SIGNATURE_LIFETIME_S} s after created"
    nonce = parameters.get("nonce")
    if (
        not isinstance(nonce, str)
        or not MIN_NONCE_CHARS <= len(nonce) <= MAX_NONCE_CHARS
        or not set(nonce) <= NONCE_ALPHABET
    ):
        return f"nonce must be {MIN_NONCE_CHARS}..{MAX_NONCE_CHARS} base64url characters"
    if set(COVERED_COMPONENTS) - {str(component) for component in components}:
        return f"the signature must cover {', '.join(COVERED_COMPONENTS)}"
    return None


def _is_hex(text: str) -> bool:
    return all(character in "0123456789abcdefABCDEF" for character in text)


def _seconds(count: int) -> datetime.timedelta:
    return datetime.timedelta(seconds=count)
