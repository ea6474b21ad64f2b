"""GS1 identification keys: parsed from the forms EPCIS uses, checked, and written one way on chain.

Accepted forms (``parse_key``):

* plain digits — a GTIN-8/12/13/14 (``09506000134352``);
* EPC pure-identity URNs — ``urn:epc:id:sgtin:CP.IR.SERIAL``, ``urn:epc:id:sscc:CP.SR``,
  ``urn:epc:id:sgln:CP.LR.0``, ``urn:epc:id:grai:CP.AT.SERIAL`` (GS1 EPC Tag Data Standard §6;
  the company prefix and reference together are 13 digits for SGTIN, 17 for SSCC, 12 for SGLN and
  GRAI; serials use the URN's %-escapes);
* GS1 Digital Link URIs on any host — ``https://id.gs1.org/01/{gtin}/21/{serial}``,
  ``…/00/{sscc}``, ``…/414/{gln}``, ``…/8003/{grai}``, with an optional ``/10/{lot}`` qualifier
  (read as the item's lot) and any path prefix before the primary key, query and fragment
  ignored (GS1 Digital Link URI Syntax 1.2).

Check digits and the GS1 formats are checked by ``biip`` (a maintained barcode and GS1 library);
this module only splits the forms and names what is wrong. The canonical on-chain form is the
Digital Link *path* of the key, without host: ``01/{gtin14}`` (a GTIN), ``01/{gtin14}/21/{serial}``
(an SGTIN), ``00/{sscc18}``, ``414/{gln13}``, ``8003/{grai}``. A GTIN is always written with 14
digits; a serial is percent-encoded as in a Digital Link (every character but ``A-Z a-z 0-9 - . _
~`` as ``%XX``, upper-case hex), so a canonical key contains ``/`` only between its parts.

Every failure is an ``IdentifierError`` with a stable code: ``malformed_identifier`` (not one of
the forms, wrong length, characters outside the GS1 set), ``invalid_check_digit`` (the key's
check digit is wrong; the expected digit is named), ``malformed_uri`` (a Digital Link that does
not parse as one). Contracts turn it into a rejection with the same code.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit

from biip import ParseError
from biip.checksums import gs1_standard_check_digit
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from biip.gtin import Gtin
from biip.sscc import Sscc

GTIN = "gtin"
SGTIN = "sgtin"
SSCC = "sscc"
GLN = "gln"
GRAI = "grai"
KINDS = (GTIN, SGTIN, SSCC, GLN, GRAI)
SERIALIZED_KINDS = (SGTIN, SSCC, GRAI)
"""Keys that name one physical thing (an item, a logistic unit, a returnable asset)."""

MAX_IDENTIFIER_LENGTH = 256
MAX_SERIAL_LENGTH = 20
MAX_GRAI_SERIAL_LENGTH = 16
MAX_LOT_LENGTH = 20
CHARACTER_SET_82 = re.compile(r"[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]+")
"""GS1 AI encodable character set 82 (GS1 General Specifications §7.11, figure 7.11-1)."""
DIGITS = re.compile(r"[0-9]+")
URN = re.compile(r"urn:epc:id:(sgtin|sscc|sgln|grai):([0-9]+)\.([0-9]*)(?:\.(.*))?")
PRIMARY_AIS = {"01": GTIN, "00": SSCC, "414": GLN, "8003": GRAI}


class IdentifierError(Exception):
    """A key that cannot be accepted; ``code`` is the stable rejection code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Key:
    """A checked GS1 key. ``number`` is the GTIN-14, SSCC-18, GLN-13 or GRAI's 14 digits;
    ``serial`` the unescaped serial (SGTIN, GRAI) or ``""``; ``lot`` the Digital Link's lot
    qualifier or ``""`` (never part of the canonical form)."""

    kind: str
    number: str
    serial: str = ""
    lot: str = ""
    prefix_length: int = field(default=0, compare=False)
    """The company prefix's length where the written form names it (an EPC URN's partition),
    else 0. Not part of the key: a hint for the brand owner's lookup, which still finds the
    registered prefix whatever its length (``common.brand_owner``)."""

    @functools.cached_property
    def canonical(self) -> str:
        ai = {GTIN: "01", SGTIN: "01", SSCC: "00", GLN: "414", GRAI: "8003"}[self.kind]
        if self.kind == SGTIN:
            return f"01/{self.number}/21/{encode_serial(self.serial)}"
        return f"{ai}/{self.number}{encode_serial(self.serial)}"

    @property
    def gtin(self) -> str:
        """The GTIN-14 of a GTIN or SGTIN (``""`` for other kinds)."""
        return self.number if self.kind in (GTIN, SGTIN) else ""

    @property
    def prefix_digits(self) -> str:
        """The digits that begin with the GS1 company prefix: a GTIN-14 or SSCC without its first
        (indicator or extension) digit, a GLN as is, a GRAI without its leading zero."""
        return self.number if self.kind == GLN else self.number[1:]

    @property
    def serialized(self) -> bool:
        return self.kind in SERIALIZED_KINDS


CHECKED_NUMBERS_CACHED = 4_096
"""GTINs, GLNs and SSCCs already checked, remembered per process: a product's items share a
GTIN and its events a handful of read points, and checking with biip costs more than the rest of
parsing. The checks are pure functions of the digits (a refusal raises and is not remembered),
so the cache changes no answer, only its cost."""


def encode_serial(serial: str) -> str:
    return quote(serial, safe="-._~")


def parse_key(text: str) -> Key:
    """The checked key written as ``text`` in any accepted form (see the module docstring)."""
    if not text or len(text) > MAX_IDENTIFIER_LENGTH or not text.isascii():
        raise IdentifierError(
            "malformed_identifier",
            f"an identifier is 1..{MAX_IDENTIFIER_LENGTH} ASCII characters",
        )
    if text.startswith("urn:"):
        return _parse_urn(text)
    if text.startswith(("https://", "http://")):
        return _parse_digital_link(text)
    if DIGITS.fullmatch(text) and len(text) in (8, 12, 13, 14):
        return Key(GTIN, _check_gtin(text))
    if "/" in text:
        return _parse_canonical(text)
    raise IdentifierError(
        "malformed_identifier",
        "not a GTIN, an EPC URN, a GS1 Digital Link URI or a canonical key",
    )


def parse_canonical(text: str) -> Key:
    """``text`` must already be in the canonical form; else ``malformed_identifier``."""
    key = parse_key(text)
    if key.canonical != text:
        raise IdentifierError(
            "malformed_identifier", f"not in canonical form (canonical: {key.canonical})"
        )
    return key


@functools.lru_cache(maxsize=CHECKED_NUMBERS_CACHED)
def parse_gln(text: str) -> str:
    """A location: a 13-digit GLN or any key form of one; its 13 digits."""
    key = parse_key(text) if not DIGITS.fullmatch(text) else Key(GLN, _check_gln(text))
    if key.kind != GLN:
        raise IdentifierError("malformed_identifier", "a location must be a GLN")
    return key.number


def check_lot(lot: str) -> str:
    if not 1 <= len(lot) <= MAX_LOT_LENGTH or not CHARACTER_SET_82.fullmatch(lot):
        raise IdentifierError(
            "malformed_identifier",
            f"a lot is 1..{MAX_LOT_LENGTH} characters of the GS1 character set 82",
        )
    return lot


# -- the forms --------------------------------------------------------------------------------


def _parse_urn(text: str) -> Key:
    match = URN.fullmatch(text)
    if match is None:
        raise IdentifierError(
            "malformed_identifier",
            "an EPC URN is urn:epc:id:{sgtin|sscc|sgln|grai}:COMPANYPREFIX.REFERENCE[.SERIAL]",
        )
    scheme, company_prefix, reference, rest = match.groups()
    if not 6 <= len(company_prefix) <= 12 or not DIGITS.fullmatch(reference or "0"):
        raise IdentifierError(
            "malformed_identifier", "an EPC company prefix is 6..12 digits, a reference digits"
        )
    length = len(company_prefix)
    if scheme == "sgtin":
        gtin = _urn_number(scheme, company_prefix, reference)
        serial = _check_serial(_urn_serial(rest), MAX_SERIAL_LENGTH)
        return Key(SGTIN, gtin, serial, prefix_length=length)
    if scheme == "sscc":
        _require_length(company_prefix + reference, 17, "SSCC company prefix and serial reference")
        if rest is not None:
            raise IdentifierError("malformed_identifier", "an SSCC URN has two parts")
        return Key(SSCC, _urn_number(scheme, company_prefix, reference), prefix_length=length)
    if scheme == "sgln":
        _require_length(
            company_prefix + reference, 12, "SGLN company prefix and location reference"
        )
        if rest != "0":
            raise IdentifierError(
                "malformed_identifier", "only a GLN without extension (extension 0) is a location"
            )
        return Key(GLN, _urn_number(scheme, company_prefix, reference), prefix_length=length)
    _require_length(company_prefix + reference, 12, "GRAI company prefix and asset type")
    serial = _check_serial(_urn_serial(rest), MAX_GRAI_SERIAL_LENGTH)
    return Key(GRAI, _urn_number(scheme, company_prefix, reference), serial, prefix_length=length)


@functools.lru_cache(maxsize=CHECKED_NUMBERS_CACHED)
def _urn_number(scheme: str, company_prefix: str, reference: str) -> str:
    """The checked GTIN-14, SSCC, GLN or GRAI digits an EPC URN's company prefix and reference
    stand for (its check digit computed). Items of one product, or events at one place, share
    them, so they are remembered like ``_check_gtin``'s answers (a refusal is not)."""
    if scheme == "sgtin":
        _require_length(company_prefix + reference, 13, "SGTIN company prefix and item reference")
        body = reference[0] + company_prefix + reference[1:]
        return _check_gtin(body + str(gs1_standard_check_digit(body)))
    if scheme == "sscc":
        body = reference[0] + company_prefix + reference[1:]
        return _check_sscc(body + str(gs1_standard_check_digit(body)))
    # A GLN or GRAI built here is 13 or 14 digits with the check digit just computed: nothing
    # is left for a check to refuse.
    if scheme == "sgln":
        body = company_prefix + reference
        return body + str(gs1_standard_check_digit(body))
    body = "0" + company_prefix + reference
    return body + str(gs1_standard_check_digit(body))


def _urn_serial(rest: str | None) -> str:
    if not rest:
        raise IdentifierError("malformed_identifier", "the URN has no serial")
    try:
        return unquote(rest, errors="strict")
    except UnicodeDecodeError:
        raise IdentifierError(
            "malformed_identifier", "the serial's %-escapes are not UTF-8"
        ) from None


def _parse_digital_link(text: str) -> Key:
    try:
        parts = urlsplit(text)
    except ValueError:
        raise IdentifierError("malformed_uri", "not a URI") from None
    segments = parts.path.split("/")
    start = next((i for i, segment in enumerate(segments) if segment in PRIMARY_AIS), None)
    if not parts.netloc or start is None or start + 1 >= len(segments):
        raise IdentifierError(
            "malformed_uri", "a GS1 Digital Link URI has a host and a path with 01, 00, 414 or 8003"
        )
    pairs = segments[start:]
    if len(pairs) % 2:
        raise IdentifierError("malformed_uri", "the path is not pairs of AI and value")
    values: dict[str, str] = {}
    for ai, value in zip(pairs[::2], pairs[1::2], strict=True):
        if ai in values or not value:
            raise IdentifierError("malformed_uri", f"AI {ai[:8]} is repeated or empty")
        values[ai] = unquote(value)
    # Check digits first, so that a wrong one is named as such, then the full syntax.
    primary_ai = pairs[0]
    key = _key_from_path(primary_ai, values)
    try:
        GS1DigitalLinkURI.parse(text)
    except ParseError as error:
        raise IdentifierError("malformed_uri", str(error)[:200]) from None
    return key


def _key_from_path(primary_ai: str, values: dict[str, str]) -> Key:
    kind = PRIMARY_AIS[primary_ai]
    allowed = {"01": {"01", "21", "10", "22"}, "00": {"00"}, "414": {"414", "254"}}
    extra = set(values) - allowed.get(primary_ai, {"8003"})
    if extra or values.get("254", "0") != "0":
        raise IdentifierError(
            "malformed_uri", f"qualifiers {sorted(extra)} are not accepted with AI {primary_ai}"
        )
    number = values[primary_ai]
    lot = check_lot(values["10"]) if "10" in values else ""
    if kind == GTIN:
        gtin = _check_gtin(number)
        if "21" in values:
            return Key(SGTIN, gtin, _check_serial(values["21"], MAX_SERIAL_LENGTH), lot)
        return Key(GTIN, gtin, "", lot)
    if kind == SSCC:
        return Key(SSCC, _check_sscc(number))
    if kind == GLN:
        return Key(GLN, _check_gln(number))
    if not DIGITS.fullmatch(number[:14]) or len(number) <= 14:
        raise IdentifierError("malformed_identifier", "a GRAI is 14 digits and a serial")
    grai = _check_digits(number[:14], 14, "GRAI")
    return Key(GRAI, grai, _check_serial(number[14:], MAX_GRAI_SERIAL_LENGTH))


def _parse_canonical(text: str) -> Key:
    segments = text.split("/")
    if segments[0] not in PRIMARY_AIS or len(segments) not in (2, 4):
        raise IdentifierError("malformed_identifier", "not a canonical key")
    values: dict[str, str] = {}
    for ai, value in zip(segments[::2], segments[1::2], strict=True):
        values[ai] = unquote(value)
    if len(segments) == 4 and (segments[0] != "01" or segments[2] != "21"):
        raise IdentifierError("malformed_identifier", "only an SGTIN has a second part (21)")
    return _key_from_path(segments[0], values)


# -- checks by biip ---------------------------------------------------------------------------


def _require_length(digits: str, length: int, what: str) -> None:
    if len(digits) != length:
        raise IdentifierError("malformed_identifier", f"the {what} are {length} digits")


def _check_digits(number: str, length: int, what: str) -> str:
    """``number`` is ``length`` digits whose last is the GS1 standard check digit."""
    if not DIGITS.fullmatch(number) or len(number) != length:
        raise IdentifierError("malformed_identifier", f"a {what} is {length} digits")
    expected = gs1_standard_check_digit(number[:-1])
    if int(number[-1]) != expected:
        raise IdentifierError(
            "invalid_check_digit",
            f"the {what} {number} has check digit {number[-1]}, expected {expected}",
        )
    return number


@functools.lru_cache(maxsize=CHECKED_NUMBERS_CACHED)
def _check_gtin(number: str) -> str:
    if not DIGITS.fullmatch(number) or len(number) not in (8, 12, 13, 14):
        raise IdentifierError("malformed_identifier", "a GTIN is 8, 12, 13 or 14 digits")
    _check_digits(number, len(number), "GTIN")
    try:
        return Gtin.parse(number).as_gtin_14()
    except ParseError as error:
        raise IdentifierError("malformed_identifier", str(error)[:200]) from None


@functools.lru_cache(maxsize=CHECKED_NUMBERS_CACHED)
def _check_sscc(number: str) -> str:
    _check_digits(number, 18, "SSCC")
    try:
        return Sscc.parse(number).value
    except ParseError as error:
        raise IdentifierError("malformed_identifier", str(error)[:200]) from None


@functools.lru_cache(maxsize=CHECKED_NUMBERS_CACHED)
def _check_gln(number: str) -> str:
    """``biip``'s ``Gln.parse`` refuses exactly what ``_check_digits`` refuses (not 13 digits, a
    wrong check digit; its GS1 prefix lookup refuses nothing), so it is not called again: a
    differential test pins the equivalence (tests/unit/test_supplychain_identifiers.py)."""
    return _check_digits(number, 13, "GLN")


def _check_serial(serial: str, max_length: int) -> str:
    if not 1 <= len(serial) <= max_length or not CHARACTER_SET_82.fullmatch(serial):
        raise IdentifierError(
            "malformed_identifier",
            f"a serial is 1..{max_length} characters of the GS1 character set 82",
        )
    return serial


__all__ = [
    "GLN",
    "GRAI",
    "GTIN",
    "KINDS",
    "SERIALIZED_KINDS",
    "SGTIN",
    "SSCC",
    "IdentifierError",
    "Key",
    "check_lot",
    "encode_serial",
    "parse_canonical",
    "parse_gln",
    "parse_key",
]
