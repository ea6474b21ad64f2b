"""Subjects on chain: the keyed hash of an identity number.

A person is identified by the Chinese resident identity card number (RIC, 18 characters, GB 11643
check digit), a firm by its unified social credit code (USCC, 18 characters, GB 32100 check
digit); both are validated with python-stdnum (``stdnum.cn.ric``, ``stdnum.cn.uscc``), which also
checks the RIC's birth date. The subject hash is HMAC-SHA256 under the consortium's subject key
(at least 32 bytes, shared by the members and by nobody else), over a domain tag, the kind and
the number in its compact form: every member computes the same hash for the same subject, and
without the key nobody can test candidate ID numbers against it (the space of RIC numbers is
small enough to enumerate).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

from stdnum import exceptions as stdnum_exceptions
from stdnum.cn import ric, uscc

from jinqiao.core.errors import InvalidInput

PERSON = "person"
FIRM = "firm"
SUBJECT_KINDS = (FIRM, PERSON)
MIN_CONSORTIUM_KEY_BYTES = 32
SUBJECT_DOMAIN = b"jinqiao/credit/subject/v1\x00"


def normalize_identity(kind: str, number: str) -> str:
    """The compact, validated identity number; ``InvalidInput`` (``invalid_identity_number``)
    naming what is wrong, or ``invalid_subject_kind``."""
    validate: Callable[[str], str]
    if kind == PERSON:
        validate, what = ric.validate, "resident identity card number"
    elif kind == FIRM:
        validate, what = uscc.validate, "unified social credit code"
    else:
        raise InvalidInput(
            f"a subject is a {PERSON!r} or a {FIRM!r}, not {kind[:64]!r}",
            code="invalid_subject_kind",
        )
    try:
        return str(validate(number))
    except stdnum_exceptions.ValidationError as exc:
        raise InvalidInput(
            f"not a valid {what}: {exc}", code="invalid_identity_number", kind=kind
        ) from None


def check_consortium_key(key: bytes) -> None:
    if len(key) < MIN_CONSORTIUM_KEY_BYTES:
        raise InvalidInput(
            f"the consortium subject key must be at least {MIN_CONSORTIUM_KEY_BYTES} bytes",
            code="invalid_consortium_key",
        )


def subject_hash(consortium_key: bytes, kind: str, number: str) -> bytes:
    """The 32-byte subject hash of a validated identity number."""
    check_consortium_key(consortium_key)
    compact = normalize_identity(kind, number)
    message = SUBJECT_DOMAIN + kind.encode() + b"\x00" + compact.encode()
    return hmac.new(consortium_key, message, hashlib.sha256).digest()
