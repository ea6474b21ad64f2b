"""One transaction signed by several keys of an account's signing policy (docs/keys.md "Several
signatures in one transaction", ADR 0051).

``MultiSigner(signers)`` is a ``Signer``: hand it to any ``Client`` method in place of one key and
the transaction it builds is a ``MultiSignedTransaction`` signed by every key — a keystore, an
HSM key, anything with ``sign`` — the first one's key as ``body.public_key``, the others as
co-signers. For signers that are not in one place, ``prepare_multi_signed`` builds the
transaction with every signature missing, each holder adds theirs with ``add_signature``
(``jinqiao keys cosign`` on a file), and it is sent when ``missing_signers`` is empty.
"""

from __future__ import annotations

from collections.abc import Sequence

from jinqiao.core.crypto import CryptoSuite, Signer
from jinqiao.core.errors import InvalidInput
from jinqiao.core.hashing import transaction_signing_bytes
from jinqiao.core.limits import MAX_COSIGNERS
from jinqiao.core.types import (
    SIGNATURE_BYTES,
    MultiSignedTransaction,
    TransactionBody,
    with_cosigners,
)

MISSING_SIGNATURE = b"\x00" * SIGNATURE_BYTES
"""The place of a signature not given yet: it never verifies, so a node refuses the transaction
``invalid_signature`` until every place is filled."""


def _check_signers(public_keys: Sequence[bytes]) -> None:
    if not 2 <= len(public_keys) <= MAX_COSIGNERS + 1:
        raise InvalidInput(
            f"a multi-signed transaction has 2 to {MAX_COSIGNERS + 1} signers, "
            f"not {len(public_keys)}"
        )
    if len(set(public_keys)) != len(public_keys):
        raise InvalidInput("a key is listed twice among the signers")


class MultiSigner:
    """A ``Signer`` made of several: ``signers[0]`` signs as ``body.public_key``, the others as
    co-signers, all over the same signing bytes. ``address`` is the account they sign for
    (default: the first signer's)."""

    def __init__(self, signers: Sequence[Signer], address: bytes | None = None) -> None:
        _check_signers([signer.public_key for signer in signers])
        suites = {signer.suite.name for signer in signers}
        if len(suites) != 1:
            raise InvalidInput(f"the signers use different suites: {sorted(suites)}")
        self.signers = tuple(signers)
        self.suite: CryptoSuite = signers[0].suite
        self.public_key = signers[0].public_key
        self.address = signers[0].address if address is None else address
        self.cosigners = tuple(signer.public_key for signer in signers[1:])

    def sign(self, message: bytes) -> bytes:
        """The first signer's signature (the ``Signer`` interface)."""
        return self.signers[0].sign(message)

    def secret_key(self) -> bytes:
        raise InvalidInput("a multi-signer has several keys: it has no one secret to export")

    def sign_body(self, body: TransactionBody) -> MultiSignedTransaction:
        """``body`` (whose ``public_key`` is the first signer's) signed by every signer."""
        transaction = prepare_multi_signed(body, self.cosigners)
        for signer in self.signers:
            transaction = add_signature(transaction, signer)
        return transaction


def prepare_multi_signed(
    body: TransactionBody, cosigners: Sequence[bytes]
) -> MultiSignedTransaction:
    """``body`` with ``cosigners`` added, every signature missing."""
    _check_signers([body.public_key, *cosigners])
    return MultiSignedTransaction(
        with_cosigners(body, tuple(cosigners)),
        MISSING_SIGNATURE,
        tuple(MISSING_SIGNATURE for _ in cosigners),
    )


def _places(transaction: MultiSignedTransaction) -> tuple[tuple[bytes, ...], list[bytes]]:
    signers, signatures = transaction.signers(), list(transaction.signatures())
    if len(signers) != len(signatures):
        raise InvalidInput(
            f"the transaction has {len(signatures) - 1} co-signatures for "
            f"{len(signers) - 1} co-signers"
        )
    return signers, signatures


def add_signature(transaction: MultiSignedTransaction, signer: Signer) -> MultiSignedTransaction:
    """``transaction`` with ``signer``'s signature in its place, checked before it is added."""
    signers, signatures = _places(transaction)
    if signer.public_key not in signers:
        raise InvalidInput(
            f"key {signer.public_key.hex()[:16]}… is not one of this transaction's signers"
        )
    message = transaction_signing_bytes(transaction.body)
    signature = signer.sign(message)
    if not signer.suite.verify(signer.public_key, message, signature):
        raise InvalidInput("the key's signature does not verify (wrong suite or a faulty key)")
    signatures[signers.index(signer.public_key)] = signature
    return MultiSignedTransaction(transaction.body, signatures[0], tuple(signatures[1:]))


def missing_signers(transaction: MultiSignedTransaction) -> tuple[bytes, ...]:
    """The public keys whose signature is still missing, in signing order."""
    signers, signatures = _places(transaction)
    pairs = zip(signers, signatures, strict=True)
    return tuple(public_key for public_key, signature in pairs if signature == MISSING_SIGNATURE)
