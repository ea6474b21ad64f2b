"""GS1 keys: every accepted form gives the same canonical key; each malformed one its reason."""

from __future__ import annotations

import pytest
from biip import ParseError
from biip.checksums import gs1_standard_check_digit
from biip.gln import Gln
from hypothesis import given
from hypothesis import strategies as st

from jinqiao.apps.supplychain.identifiers import (
    GLN,
    GRAI,
    GTIN,
    SGTIN,
    SSCC,
    IdentifierError,
    parse_canonical,
    parse_gln,
    parse_key,
)


@pytest.mark.parametrize(
    ("text", "kind", "canonical"),
    [
        # The same SGTIN as an EPC URN (TDS §6.3.1 example) and as a Digital Link.
        ("urn:epc:id:sgtin:0614141.812345.6789", SGTIN, "01/80614141123458/21/6789"),
        ("https://id.gs1.org/01/80614141123458/21/6789", SGTIN, "01/80614141123458/21/6789"),
        (
            "https://brand.example/p/01/80614141123458/21/6789?s=1",
            SGTIN,
            "01/80614141123458/21/6789",
        ),
        ("01/80614141123458/21/6789", SGTIN, "01/80614141123458/21/6789"),
        # A serial with characters the Digital Link percent-encodes.
        ("urn:epc:id:sgtin:0614141.812345.A%2FB", SGTIN, "01/80614141123458/21/A%2FB"),
        # GTIN-8, -12, -13, -14 all written as 14 digits.
        ("96385074", GTIN, "01/00000096385074"),
        ("614141000036", GTIN, "01/00614141000036"),
        ("9506000134352", GTIN, "01/09506000134352"),
        ("09506000134352", GTIN, "01/09506000134352"),
        ("urn:epc:id:sscc:0614141.1234567890", SSCC, "00/106141412345678908"),
        ("https://id.gs1.org/00/106141412345678908", SSCC, "00/106141412345678908"),
        ("urn:epc:id:sgln:0614141.12345.0", GLN, "414/0614141123452"),
        ("https://id.gs1.org/414/0614141123452", GLN, "414/0614141123452"),
        ("urn:epc:id:grai:0614141.12345.400", GRAI, "8003/00614141123452400"),
        ("https://id.gs1.org/8003/00614141123452400", GRAI, "8003/00614141123452400"),
    ],
)
def test_accepted_forms(text: str, kind: str, canonical: str) -> None:
    key = parse_key(text)
    assert (key.kind, key.canonical) == (kind, canonical)
    assert parse_canonical(canonical) == parse_key(canonical)


def test_digital_link_lot_is_read_but_not_canonical() -> None:
    key = parse_key("https://id.gs1.org/01/80614141123458/10/LOT7/21/S1")
    assert (key.canonical, key.lot) == ("01/80614141123458/21/S1", "LOT7")


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("https://id.gs1.org/01/80614141123459/21/6789", "invalid_check_digit"),
        ("80614141123459", "invalid_check_digit"),
        ("https://id.gs1.org/00/106141412345678909", "invalid_check_digit"),
        ("https://id.gs1.org/414/0614141123453", "invalid_check_digit"),
        ("https://id.gs1.org/8003/00614141123453400", "invalid_check_digit"),
        ("urn:epc:id:sgtin:0614141.81234.6789", "malformed_identifier"),  # 12 digits, not 13
        ("urn:epc:id:sgtin:0614141.812345", "malformed_identifier"),  # no serial
        ("urn:epc:id:sgln:0614141.12345.7", "malformed_identifier"),  # an extension
        ("urn:epc:id:foo:0614141.812345.1", "malformed_identifier"),
        ("urn:epc:id:sgtin:0614141.812345." + "9" * 21, "malformed_identifier"),
        ("urn:epc:id:sgtin:0614141.812345.%FF", "malformed_identifier"),  # not UTF-8
        ("https://id.gs1.org/01/80614141123458/21/a/17/201225", "malformed_uri"),
        ("https://id.gs1.org/01/80614141123458/21", "malformed_uri"),
        ("https://id.gs1.org/99/123", "malformed_uri"),
        ("https:///01/80614141123458", "malformed_uri"),
        ("8061414112345", "invalid_check_digit"),
        ("1234567", "malformed_identifier"),
        ("", "malformed_identifier"),
        ("01/80614141123458/10/X", "malformed_identifier"),
        ("日本", "malformed_identifier"),
    ],
)
def test_rejections_name_the_reason(text: str, code: str) -> None:
    with pytest.raises(IdentifierError) as raised:
        parse_key(text)
    assert raised.value.code == code


def test_parse_canonical_refuses_other_forms() -> None:
    with pytest.raises(IdentifierError, match="canonical"):
        parse_canonical("urn:epc:id:sgtin:0614141.812345.6789")


def test_location_must_be_a_gln() -> None:
    assert parse_gln("0614141123452") == "0614141123452"
    with pytest.raises(IdentifierError):
        parse_gln("urn:epc:id:sgtin:0614141.812345.6789")


@given(st.text(alphabet="0123456789", min_size=12, max_size=14))
def test_gln_check_refuses_what_biip_refuses(digits: str) -> None:
    # Differential: the location check no longer calls biip's Gln.parse after the check digit
    # (ADR 0046); it must accept and refuse exactly what Gln.parse does.
    try:
        expected: str | None = Gln.parse(digits).value
    except ParseError:
        expected = None
    try:
        got: str | None = parse_gln(digits)
    except IdentifierError as error:
        assert error.code in ("malformed_identifier", "invalid_check_digit")
        got = None
    assert got == expected


@given(
    company_prefix=st.text(alphabet="0123456789", min_size=6, max_size=12),
    reference=st.text(alphabet="0123456789", min_size=0, max_size=6),
)
def test_sgln_urn_is_the_gln_biip_checks(company_prefix: str, reference: str) -> None:
    # The URN's GLN is built with its check digit and not checked again (ADR 0046).
    reference = reference[: 12 - len(company_prefix)].ljust(12 - len(company_prefix), "0")
    key = parse_key(f"urn:epc:id:sgln:{company_prefix}.{reference}.0")
    body = company_prefix + reference
    assert key.number == Gln.parse(body + str(gs1_standard_check_digit(body))).value
    assert key.prefix_length == len(company_prefix)


def test_prefix_length_is_a_hint_not_part_of_the_key() -> None:
    from_urn = parse_key("urn:epc:id:sgtin:0614141.812345.6789")
    from_link = parse_key("https://id.gs1.org/01/80614141123458/21/6789")
    assert (from_urn.prefix_length, from_link.prefix_length) == (7, 0)
    assert from_urn == from_link
    assert parse_key("urn:epc:id:sscc:0614141.1234567890").prefix_length == 7
    assert parse_key("urn:epc:id:grai:0614141.12345.400").prefix_length == 7


@given(serial=st.text(alphabet="ABCxyz019-._/%:!", min_size=1, max_size=20))
def test_urn_and_digital_link_agree(serial: str) -> None:
    urn_serial = serial.replace("%", "%25").replace("/", "%2F")
    from_urn = parse_key("urn:epc:id:sgtin:0614141.812345." + urn_serial)
    from_link = parse_key(
        "https://id.gs1.org/01/80614141123458/21/" + from_urn.canonical.split("/")[3]
    )
    assert from_urn == from_link
    assert from_urn.serial == serial
    assert parse_canonical(from_urn.canonical) == from_urn


link_parts = st.sampled_from(["01", "21", "10", "00", "414", "8003", "254", "17", "22", "x", ""])
link_values = st.text(alphabet="0123456789ABZaz%/-._~:!?#&=+ ", max_size=24)


@given(
    st.one_of(
        st.text(max_size=300),
        st.builds(
            lambda host, pairs: f"https://{host}/" + "/".join(a + "/" + v for a, v in pairs),
            st.sampled_from(["id.gs1.org", "", "a:b", "[::1]", "x.example:99999"]),
            st.lists(st.tuples(link_parts, link_values), max_size=5),
        ),
        st.builds(
            lambda kind, body: f"urn:epc:id:{kind}:{body}",
            st.sampled_from(["sgtin", "sscc", "sgln", "grai", "giai"]),
            st.text(alphabet="0123456789.%2FACE", max_size=40),
        ),
    )
)
def test_any_text_is_a_key_or_an_identifier_error(text: str) -> None:
    # Contracts parse keys inside transactions: anything other than IdentifierError would be a
    # node fault, not a rejection.
    try:
        key = parse_key(text)
    except IdentifierError as error:
        assert error.code in ("malformed_identifier", "invalid_check_digit", "malformed_uri")
    else:
        assert parse_canonical(key.canonical) == parse_key(key.canonical)
