"""Keys in a hardware security module, through PKCS#11 (python-pkcs11).

A key is generated inside the token (sensitive, not extractable), signs there and never leaves
it. What jinqiao keeps on disk is a *key reference*: the module (the vendor's PKCS#11 library),
the token label, the key label, optionally a file holding the user PIN, and the suite, address and
public key in clear. Loading a reference opens one logged-in session for the life of the process
and checks that the token's public key is the one recorded.

Suites map to PKCS#11 mechanisms here: ``ed25519-sha256`` is ``CKM_EC_EDWARDS_KEY_PAIR_GEN`` on
curve Ed25519 and ``CKM_EDDSA`` (SoftHSM 2.6 and most current HSMs); a suite without a mapping
is refused by name.
"""

from __future__ import annotations

import threading
from pathlib import Path

import msgspec
import pkcs11
import pkcs11.exceptions
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.types import SignMixin
from pkcs11.util.ec import encode_named_curve_parameters

from jinqiao.core.crypto import CryptoSuite, Signer, get_suite
from jinqiao.core.errors import InvalidInput
from jinqiao.keys.passphrase import read_pin

__all__ = ["PKCS11_FORMAT", "HsmKeyReference", "HsmSigner", "generate_in_token", "open_hsm_key"]

PKCS11_FORMAT = "jinqiao-pkcs11-v1"
_ED25519_OID = "1.3.101.112"
_SUPPORTED_SUITES = ("ed25519-sha256",)


class HsmKeyReference(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The JSON document of a key reference file; hex strings for the key's public parts."""

    format: str
    suite: str
    address: str
    public_key: str
    module: str
    """Path of the PKCS#11 library, e.g. ``/usr/lib/softhsm/libsofthsm2.so``."""
    token: str
    """The token's label."""
    label: str
    """The key's label (``CKA_LABEL``) in the token."""
    pin_file: str | None = None
    """A file whose first line is the user PIN; without it the PIN is asked on the terminal."""


class HsmSigner:
    """A ``Signer`` whose secret stays in the token: ``sign`` asks the token."""

    def __init__(
        self,
        suite: CryptoSuite,
        session: pkcs11.Session,
        private_key: SignMixin,
        public_key: bytes,
        label: str,
    ) -> None:
        self.suite = suite
        self.public_key = public_key
        self.address = suite.address(public_key)
        self.label = label
        self._session = session
        self._private_key = private_key
        self._lock = threading.Lock()  # one operation at a time on a PKCS#11 session

    def sign(self, message: bytes) -> bytes:
        with self._lock:
            try:
                return bytes(self._private_key.sign(message, mechanism=Mechanism.EDDSA))
            except pkcs11.exceptions.PKCS11Error as exc:
                raise InvalidInput(
                    f"the HSM refused to sign with {self.label!r}: {exc!r}"
                ) from None

    def secret_key(self) -> bytes:
        raise InvalidInput(f"key {self.label!r} lives in an HSM; its secret never leaves the token")

    def close(self) -> None:
        with self._lock:
            self._session.close()

    def __repr__(self) -> str:
        return f"HsmSigner(label={self.label!r}, address={self.address.hex()})"


def _check_suite(name: str) -> CryptoSuite:
    if name not in _SUPPORTED_SUITES:
        raise InvalidInput(
            f"suite {name!r} has no PKCS#11 mapping; HSM keys support: "
            f"{', '.join(_SUPPORTED_SUITES)}"
        )
    return get_suite(name)


def _open_token(module: str, token_label: str, pin: bytes, *, rw: bool) -> pkcs11.Session:
    if not Path(module).is_file():
        raise InvalidInput(f"PKCS#11 module {module} not found (is the HSM library installed?)")
    try:
        library = pkcs11.lib(module)
    except pkcs11.exceptions.PKCS11Error as exc:
        raise InvalidInput(f"cannot load PKCS#11 module {module}: {exc}") from None
    try:
        token = library.get_token(token_label=token_label)
    except pkcs11.exceptions.NoSuchToken:
        raise InvalidInput(f"no token labelled {token_label!r} in {module}") from None
    except pkcs11.exceptions.MultipleTokensReturned:
        raise InvalidInput(f"several tokens labelled {token_label!r} in {module}") from None
    try:
        return token.open(rw=rw, user_pin=pin.decode("utf-8"))
    except (pkcs11.exceptions.PinIncorrect, pkcs11.exceptions.PinLenRange, UnicodeDecodeError):
        raise InvalidInput(f"wrong PIN for token {token_label!r}") from None
    except pkcs11.exceptions.PinLocked:
        raise InvalidInput(f"the PIN of token {token_label!r} is locked") from None
    except pkcs11.exceptions.PKCS11Error as exc:
        raise InvalidInput(f"cannot log in to token {token_label!r}: {exc!r}") from None


def _raw_public_key(point: bytes) -> bytes:
    """CKA_EC_POINT of an Ed25519 key: a DER OCTET STRING of the 32 bytes (some tokens give
    the bare 32 bytes)."""
    if len(point) == 34 and point[:2] == b"\x04\x20":
        return point[2:]
    if len(point) == 32:
        return point
    raise InvalidInput("the token's public key is not an Ed25519 point")


def _find_key(session: pkcs11.Session, label: str, token: str) -> tuple[SignMixin, bytes]:
    try:
        private_key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=label)
        public_key = session.get_key(object_class=ObjectClass.PUBLIC_KEY, label=label)
    except pkcs11.exceptions.NoSuchKey:
        raise InvalidInput(f"no key labelled {label!r} in token {token!r}") from None
    except pkcs11.exceptions.MultipleObjectsReturned:
        raise InvalidInput(f"several keys labelled {label!r} in token {token!r}") from None
    if not isinstance(private_key, SignMixin) or private_key.key_type != KeyType.EC_EDWARDS:
        raise InvalidInput(f"key {label!r} in token {token!r} is not an Ed25519 signing key")
    return private_key, _raw_public_key(bytes(public_key[Attribute.EC_POINT]))


def open_hsm_key(reference: HsmKeyReference, where: str) -> HsmSigner:
    """Log in to the token named by ``reference`` and find its key; ``where`` names the
    reference in messages (its file)."""
    suite = _check_suite(reference.suite)
    pin = read_pin(reference.pin_file, f"token {reference.token!r} ({where})")
    session = _open_token(reference.module, reference.token, pin, rw=False)
    try:
        private_key, public_key = _find_key(session, reference.label, reference.token)
        if public_key.hex() != reference.public_key:
            raise InvalidInput(
                f"key {reference.label!r} in token {reference.token!r} is not the key recorded "
                f"in {where} (public keys differ)"
            )
    except BaseException:
        session.close()
        raise
    return HsmSigner(suite, session, private_key, public_key, reference.label)


def generate_in_token(
    module: str, token: str, label: str, pin: bytes, *, suite_name: str, pin_file: str | None
) -> HsmKeyReference:
    """Generate a key pair inside the token under ``label`` (refused if the label is taken) and
    return its reference. The private key is sensitive and not extractable."""
    suite = _check_suite(suite_name)
    session = _open_token(module, token, pin, rw=True)
    try:
        if list(session.get_objects({Attribute.LABEL: label})):
            raise InvalidInput(f"token {token!r} already holds objects labelled {label!r}")
        parameters = session.create_domain_parameters(
            KeyType.EC_EDWARDS,
            {Attribute.EC_PARAMS: encode_named_curve_parameters(_ED25519_OID)},
            local=True,
        )
        public_key, _private_key = parameters.generate_keypair(
            mechanism=Mechanism.EC_EDWARDS_KEY_PAIR_GEN,
            store=True,
            label=label,
            public_template={Attribute.VERIFY: True},
            private_template={
                Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: False,
                Attribute.SIGN: True,
                Attribute.PRIVATE: True,
            },
        )
        raw = _raw_public_key(bytes(public_key[Attribute.EC_POINT]))
    except pkcs11.exceptions.PKCS11Error as exc:
        raise InvalidInput(f"token {token!r} could not generate a key: {exc!r}") from None
    finally:
        session.close()
    return HsmKeyReference(
        format=PKCS11_FORMAT,
        suite=suite.name,
        address=suite.address(raw).hex(),
        public_key=raw.hex(),
        module=module,
        token=token,
        label=label,
        pin_file=pin_file,
    )


def _signer_check(signer: HsmSigner) -> Signer:
    """``HsmSigner`` is a ``Signer`` (checked by mypy here, where it is cheap to see)."""
    return signer
