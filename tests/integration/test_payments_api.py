"""A payments day over HTTP against a real node process, through the SDK: institutions and a
merchant registered, a payment authorized, captured and partly refunded, the cycle closed,
funded and settled — every figure read back with its proof verified. And the payments read
endpoints' bad inputs: unknown ids are 404, malformed ids 400, and rejected transitions are
committed receipts with their codes."""

from __future__ import annotations

import hashlib
import json
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree

import httpx
import msgspec
import pytest
import xmlschema
from pyiso20022.pacs.pacs_008_001_13 import pacs_008_001_13 as pacs008
from typer.testing import CliRunner
from xsdata.formats.dataclass.parsers import XmlParser
from xsdata.formats.dataclass.parsers.config import ParserConfig

from jinqiao.apps.payments.figures import format_duration_ms
from jinqiao.apps.payments.model import (
    PAYMENTS,
    AuthorizeArgs,
    CaptureArgs,
    Position,
    position_key,
)
from jinqiao.cli.main import app
from jinqiao.client import Client, ClientError, TransactionResult
from jinqiao.client.reports import ReportProofs, verify_report
from jinqiao.client.saved import load_saved
from jinqiao.core.codec import decode
from jinqiao.core.crypto import Signer
from jinqiao.core.errors import JinqiaoError
from jinqiao.core.genesis import load_genesis
from jinqiao.core.limits import MAX_PROOF_BYTES
from jinqiao.core.proofs import StateReadProof
from jinqiao.keys import load_key
from jinqiao.provision.network import NetworkLayout
from jinqiao.reports.iso20022 import PACS_008_NAMESPACE, PACS_009_NAMESPACE
from jinqiao.verify import verify_state_read
from tests.helpers import doc_examples
from tests.helpers.answer_schemas import answer_problems
from tests.helpers.lies import alterations, lie_in_saved_answer
from tests.helpers.process import NodeProcess, make_network
from tests.helpers.reports import XSD_DIRECTORY

pytestmark = pytest.mark.e2e

AMOUNT = 100_000  # RMB 1,000.00 in fen
REFUND = 20_000
ISSUER_FEE = 350  # 0.35% of the debit payment (cap RMB 13)
NETWORK_FEE = 33  # 0.0325% rounded half up, each side


@dataclass
class Day:
    directory: Path
    layout: NetworkLayout
    node: NodeProcess
    client: Client
    cycle_id: int

    def key(self, name: str) -> Signer:
        return load_key(self.directory / self.layout.account(name).key_file)

    def get(self, path: str) -> httpx.Response:
        return self.node.http.get(f"{self.node.url}{path}", timeout=10)


def _ok(result: TransactionResult) -> TransactionResult:
    assert result.ok, f"{result.code}: {result.receipt.message}"
    return result


def authorization(payment_id: str, amount_minor: int = AMOUNT) -> AuthorizeArgs:
    return AuthorizeArgs(
        payment_id=payment_id,
        issuer="bank-a",
        acquirer="ecfin",
        merchant_id="M0001",
        payer_hash=bytes(range(32)),
        amount_minor=amount_minor,
        currency="CNY",
        channel="pos",
        card_type="debit",
        authorization_code="A1B2C3",
        time_ms=1_700_000_000_000,
    )


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Day]:
    directory = tmp_path_factory.mktemp("payments")
    layout = make_network(directory)
    node = NodeProcess(directory / layout.nodes[0].home).start()
    client = Client(node.url, credentials=node.credentials, genesis_file=directory / "genesis.json")
    try:
        yield _run_day(Day(directory, layout, node, client, 0))
    finally:
        client.close()
        assert node.stop() == 0, node.log()


def _run_day(day: Day) -> Day:
    client, payments = day.client, day.client.payments
    clearing, bank, acquirer = (
        day.key("clearing-treasury"),
        day.key("bank-a-treasury"),
        day.key("ecfin-settlement"),
    )
    _ok(payments.register_institution(clearing, "bank-a", ("card_issuer",), bank.address))
    _ok(payments.register_institution(clearing, "ecfin", ("acquirer",), acquirer.address))
    _ok(payments.register_merchant(acquirer, "M0001", "Tea House", "5411"))
    for signer in (bank, acquirer):
        _ok(client.token.mint(clearing, "CNY", signer.address, 10**8))
    height = int(client.status()["height"])
    opened = _ok(payments.open_cycle(clearing, "CNY", cutoff_height=height + 8))
    cycle_id = payments.opened_cycle_id(opened)
    _ok(payments.authorize(bank, authorization("P1")))
    _ok(payments.capture(acquirer, "P1", AMOUNT, cycle_id))
    _ok(payments.refund(acquirer, "P1", "R1", REFUND, cycle_id))
    # Rejected transitions are committed with their codes and change nothing.
    assert payments.capture(acquirer, "P1", AMOUNT - 1, cycle_id).code == "payment_conflict"
    assert payments.refund(acquirer, "P1", "R2", AMOUNT, cycle_id).code == (
        "refund_exceeds_captured"
    )
    with pytest.raises(ClientError) as refused:  # the role is checked at admission
        payments.chargeback(day.key("regulator-admin"), "P1", 10, "4837", cycle_id)
    assert (refused.value.code, refused.value.status) == ("unauthorized", 403)
    assert payments.reverse(acquirer, "P1").code == "invalid_transition"
    assert payments.capture(acquirer, "NOPE", 10, cycle_id).code == "unknown_payment"
    assert payments.settle(clearing, cycle_id).code == "cycle_not_closed"
    while int(client.status()["height"]) < height + 8:
        _ok(payments.register_merchant(acquirer, "M0001", "Tea House", "5411"))
    _ok(payments.close_cycle(clearing, cycle_id))
    _ok(payments.fund(bank, cycle_id))
    _ok(payments.settle(clearing, cycle_id))
    day.cycle_id = cycle_id
    return day


def test_a_day_settles_and_every_figure_is_proven(day: Day) -> None:
    payments = day.client.payments
    cycle = payments.cycle(day.cycle_id)
    assert cycle is not None and cycle.status == "settled"
    bank_net = -AMOUNT + REFUND + ISSUER_FEE - NETWORK_FEE
    ecfin_net = AMOUNT - REFUND - ISSUER_FEE - NETWORK_FEE
    positions = {p.institution: p for p in payments.proven_positions(day.cycle_id)}
    assert {k: p.net_minor for k, p in positions.items()} == {
        "bank-a": bank_net,
        "ecfin": ecfin_net,
        "clearing": 2 * NETWORK_FEE,
    }
    assert positions["bank-a"].funded_minor == -bank_net
    totals = payments.institution_cycle(day.cycle_id, "bank-a")
    assert totals is not None and totals.entry_count == 2  # the capture and the refund
    entry = payments.entry(day.cycle_id, "ecfin", 1)
    assert entry is not None and entry.kind == "refund" and entry.amount_minor == REFUND
    flow = payments.flow(day.cycle_id, "bank-a", "ecfin")
    assert flow is not None and (flow.captured_minor, flow.refunded_minor) == (AMOUNT, REFUND)
    payment = payments.payment("P1")
    assert payment is not None and payment.refunded_minor == REFUND
    assert payments.payment_status("P1")["settlement"] == "settled"  # unproven query
    page = payments.entries(day.cycle_id, "bank-a", limit=1)
    assert len(page["entries"]) == 1 and page["next_start"] == 1
    figures = payments.figures(day.cycle_id)
    gross = (AMOUNT + NETWORK_FEE) + (REFUND + ISSUER_FEE + NETWORK_FEE)
    assert (figures.gross_minor, figures.net_minor) == (gross, -bank_net)
    assert figures.largest_net_debtor == "bank-a"
    assert figures.netting_efficiency_ppm == (gross + bank_net) * 1_000_000 // gross
    balance = day.client.token.balance("CNY", day.key("ecfin-settlement").address)
    assert balance == 10**8 + ecfin_net


def test_read_endpoints_return_proven_records(day: Day) -> None:
    answer = day.get(f"/v1/payments/cycles/{day.cycle_id}/positions/bank-a").json()
    proof = decode(bytes.fromhex(answer["proof"]), StateReadProof, max_bytes=MAX_PROOF_BYTES)
    assert proof.key == PAYMENTS.encode() + b"/" + position_key(day.cycle_id, "bank-a")
    verify_state_read(
        day.client.genesis, proof.header, proof.certificate, proof.key, proof.value, proof.proof
    )
    assert proof.value is not None
    assert (
        decode(proof.value, Position, max_bytes=4096).net_minor == answer["position"]["net_minor"]
    )
    cycle = day.get(f"/v1/payments/cycles/{day.cycle_id}").json()
    assert cycle["cycle"]["status"] == "settled" and cycle["height"] >= 1
    payment = day.get("/v1/payments/payments/P1").json()
    assert payment["payment"]["authorization"]["payer_hash"] == bytes(range(32)).hex()
    figures = day.get(f"/v1/payments/cycles/{day.cycle_id}/figures").json()
    assert figures["figures"]["largest_net_debtor"] == "bank-a"
    assert figures["netting_efficiency"].endswith("%")
    assert set(figures["proofs"]["positions"]) == {"bank-a", "clearing", "ecfin"}
    for path in (
        f"/v1/payments/cycles/{day.cycle_id}/totals",
        f"/v1/payments/cycles/{day.cycle_id}/institutions/ecfin",
        f"/v1/payments/cycles/{day.cycle_id}/flows/bank-a/ecfin",
        f"/v1/payments/cycles/{day.cycle_id}/entries/bank-a/0",
        "/v1/payments/institutions/clearing",
    ):
        response = day.get(path)
        assert response.status_code == 200, (path, response.text)
        assert response.json()["proof"]


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/v1/payments/cycles/999", 404, "not_found"),
        ("/v1/payments/cycles/999/figures", 404, "not_found"),
        ("/v1/payments/cycles/1/positions/nobody", 404, "not_found"),
        ("/v1/payments/cycles/1/entries/bank-a/99", 404, "not_found"),
        ("/v1/payments/payments/NOPE", 404, "not_found"),
        ("/v1/payments/institutions/nobody", 404, "not_found"),
        ("/v1/payments/cycles/0", 400, "invalid_request"),
        ("/v1/payments/cycles/-1", 400, "invalid_request"),
        ("/v1/payments/cycles/abc", 400, "invalid_request"),
        (f"/v1/payments/cycles/{2**64}", 400, "invalid_request"),
        ("/v1/payments/cycles/1/positions/Bank-A", 400, "invalid_request"),
        ("/v1/payments/cycles/1/positions/" + "a" * 65, 400, "invalid_request"),
        ("/v1/payments/cycles/1/entries/bank-a/-1", 400, "invalid_request"),
        ("/v1/payments/payments/" + "P" * 65, 400, "invalid_request"),
        ("/v1/payments/payments/-P1", 400, "invalid_request"),
        ("/v1/payments/payments/P%201", 400, "invalid_request"),
        ("/v1/payments/payments/P1?height=0", 400, "invalid_request"),
        ("/v1/payments/payments/P1?height=999999", 404, "not_found"),
    ],
)
def test_bad_reads_get_their_4xx(day: Day, path: str, status: int, code: str) -> None:
    response = day.get(path)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code and body["message"] and "details" in body


def test_an_open_cycle_has_zero_figures(day: Day) -> None:
    clearing = day.key("clearing-treasury")
    height = int(day.client.status()["height"])
    opened = _ok(day.client.payments.open_cycle(clearing, "CNY", cutoff_height=height + 1000))
    cycle_id = day.client.payments.opened_cycle_id(opened)
    answer = day.get(f"/v1/payments/cycles/{cycle_id}/figures").json()
    assert answer["status"] == "open" and answer["figures"]["gross_minor"] == 0
    # A capture of an already captured payment into another cycle is rejected on chain.
    result = day.client.send(
        day.key("ecfin-settlement"), PAYMENTS, "capture", CaptureArgs("P1", AMOUNT, cycle_id)
    )
    assert result.code == "payment_conflict"


def test_statement_in_three_formats_with_proofs(day: Day) -> None:
    genesis = load_genesis((day.directory / "genesis.json").read_bytes())
    answer = day.get(f"/v1/payments/cycles/{day.cycle_id}/statements/bank-a")
    assert answer.status_code == 200, answer.text
    statement = answer.json()
    assert statement["institution"] == "bank-a" and len(statement["lines"]) == 2
    for proof in statement["proofs"]:
        read = decode(bytes.fromhex(proof["proof"]), StateReadProof, max_bytes=1 << 20)
        verify_state_read(genesis, read.header, read.certificate, read.key, read.value, read.proof)
    csv = day.get(f"/v1/payments/cycles/{day.cycle_id}/statements/bank-a?format=csv")
    assert csv.headers["content-type"].startswith("text/csv") and b"P1" in csv.content
    camt = day.get(f"/v1/payments/cycles/{day.cycle_id}/statements/bank-a?format=camt053")
    assert b"camt.053.001.11" in camt.content and b"<Ntry>" in camt.content


def test_reconciliation_agrees_with_the_ledger_and_reports_breaks(day: Day) -> None:
    url = f"{day.node.url}/v1/payments/cycles/{day.cycle_id}/reconciliation/bank-a"
    own = day.get(f"/v1/payments/cycles/{day.cycle_id}/statements/bank-a?format=csv").content
    csv = {"Content-Type": "text/csv"}
    clean = day.node.http.post(url, content=own, headers=csv, timeout=10)
    assert clean.status_code == 200, clean.text
    assert clean.json()["breaks"] == []
    lines = own.decode().splitlines()
    tampered = "\r\n".join([lines[0], *lines[2:]]).encode()  # one record missing on our side
    report = day.node.http.post(url, content=tampered, headers=csv, timeout=10).json()
    assert [b["kind"] for b in report["breaks"]] == ["missing_at_institution"]
    bad = day.node.http.post(url, content=b"no,columns\r\n1,2\r\n", headers=csv, timeout=10)
    assert (bad.status_code, bad.json()["code"]) == (400, "reconciliation_file_invalid")
    stranger = day.node.http.post(
        f"{day.node.url}/v1/payments/cycles/{day.cycle_id}/reconciliation/bank-b",
        content=own,
        headers=csv,
        timeout=10,
    )
    assert (stranger.status_code, stranger.json()["code"]) == (404, "not_in_cycle")


def test_settlement_instructions_and_chart(day: Day) -> None:
    pacs = day.get(f"/v1/payments/cycles/{day.cycle_id}/settlement")
    assert pacs.status_code == 200 and b"pacs.009.001.12" in pacs.content
    chart = day.get(f"/v1/payments/cycles/{day.cycle_id}/chart.png")
    assert chart.status_code == 200 and chart.content.startswith(b"\x89PNG")
    missing = day.get("/v1/payments/cycles/999/statements/bank-a")
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")


def _date_of(time_ms: int) -> str:
    return datetime.fromtimestamp(time_ms // 1000, tz=UTC).date().isoformat()


def _png_description(data: bytes) -> str:
    offset = 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        if data[offset + 4 : offset + 8] == b"tEXt":
            key, _, value = data[offset + 8 : offset + 8 + length].partition(b"\0")
            if key == b"Description":
                return value.decode("latin-1")
        offset += 12 + length
    return ""


def test_settlement_time_comes_from_the_committed_headers(day: Day) -> None:
    answer = day.get(f"/v1/payments/cycles/{day.cycle_id}/figures").json()
    timing = answer["timing"]
    # The headers of the opening, closing and settling blocks, checked against their
    # certificates by the SDK, give the times the node used.
    closed = day.client.header(timing["closed_height"]).time_ms
    settled = day.client.header(timing["settled_height"]).time_ms
    assert (timing["closed_time_ms"], timing["settled_time_ms"]) == (closed, settled)
    assert timing["settlement_time_ms"] == settled - closed
    assert timing["settlement_blocks"] == timing["settled_height"] - timing["closed_height"] > 0
    assert [view["height"] for view in answer["headers"]] == [
        timing["opened_height"],
        timing["closed_height"],
        timing["settled_height"],
    ]
    sdk_timing = day.client.payments.timing(day.cycle_id)
    assert sdk_timing is not None and sdk_timing.settlement_time_ms == settled - closed
    assert day.client.payments.timing(999) is None
    chart = day.get(f"/v1/payments/cycles/{day.cycle_id}/chart.png").content
    expected = (
        f"settlement time {timing['settlement_blocks']} blocks, "
        f"{format_duration_ms(settled - closed)}"
    )
    assert expected in _png_description(chart)
    pacs009 = ElementTree.fromstring(
        day.get(f"/v1/payments/cycles/{day.cycle_id}/settlement").content
    )
    date = pacs009.findtext(".//p:GrpHdr/p:IntrBkSttlmDt", namespaces={"p": PACS_009_NAMESPACE})
    assert date == _date_of(settled)


def test_merchant_payouts_are_pacs008_of_the_settled_cycle(day: Day) -> None:
    response = day.get(f"/v1/payments/cycles/{day.cycle_id}/merchant-payouts/ecfin")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    xmlschema.XMLSchema(str(XSD_DIRECTORY / "pacs.008.001.13.xsd")).validate(response.content)
    strict = XmlParser(config=ParserConfig(fail_on_unknown_properties=True))
    parsed = strict.from_bytes(response.content, pacs008.Document).fito_ficstmr_cdt_trf
    assert parsed.grp_hdr.nb_of_txs == "1" and len(parsed.cdt_trf_tx_inf) == 1
    payout = parsed.cdt_trf_tx_inf[0]
    assert str(payout.intr_bk_sttlm_amt.value) == "800.00"  # captured less the refund
    assert str(parsed.grp_hdr.ctrl_sum) == "800.00"
    assert payout.cdtr.nm == "Tea House"
    cycle = day.client.payments.cycle(day.cycle_id)
    assert cycle is not None
    settled = day.client.header(cycle.settled_height).time_ms
    assert str(parsed.grp_hdr.intr_bk_sttlm_dt) == _date_of(settled)
    sdk = ElementTree.fromstring(
        day.client.payments.merchant_payouts_pacs008(day.cycle_id, "ecfin")
    )
    namespace = {"p": PACS_008_NAMESPACE}
    assert sdk.findtext(".//p:CdtTrfTxInf/p:IntrBkSttlmAmt", namespaces=namespace) == "800.00"


def test_merchant_payouts_refusals(day: Day) -> None:
    base = "/v1/payments/cycles"
    for path, status, code in (
        (f"{base}/{day.cycle_id}/merchant-payouts/nobody", 404, "unknown_institution"),
        (f"{base}/{day.cycle_id}/merchant-payouts/bank-a", 404, "not_acquirer_in_cycle"),
        (f"{base}/999/merchant-payouts/ecfin", 404, "not_found"),
        (f"{base}/{day.cycle_id}/merchant-payouts/Bad%20Id", 400, "invalid_request"),
    ):
        response = day.get(path)
        assert (response.status_code, response.json()["code"]) == (status, code), path
    clearing = day.key("clearing-treasury")
    height = int(day.client.status()["height"])
    opened = _ok(day.client.payments.open_cycle(clearing, "CNY", cutoff_height=height + 1000))
    cycle_id = day.client.payments.opened_cycle_id(opened)
    with pytest.raises(ClientError) as refused:
        day.client.payments.merchant_payouts_pacs008(cycle_id, "ecfin")
    assert (refused.value.code, refused.value.status) == ("cycle_not_settled", 409)


# -- reports with their proof bundles (docs/proofs.md §12) ----------------------------------

REPORTS = [
    ("statement", "bank-a", "csv", "statement.csv"),
    ("statement", "bank-a", "json", "statement.json"),
    ("statement", "ecfin", "camt053", "statement.camt053.xml"),
    ("settlement", None, "pacs009", "settlement.pacs009.xml"),
    ("merchant-payouts", "ecfin", "pacs008", "payouts.pacs008.xml"),
]


@pytest.mark.parametrize(("report", "institution", "file_format", "name"), REPORTS)
def test_a_report_and_its_bundle_verify_offline(
    day: Day, tmp_path: Path, report: str, institution: str | None, file_format: str, name: str
) -> None:
    file = tmp_path / name
    verified = day.client.payments.save_report(
        file, day.cycle_id, report=report, institution=institution, file_format=file_format
    )
    served = {
        "statement": f"statements/{institution}?format={file_format}",
        "settlement": "settlement",
        "merchant-payouts": f"merchant-payouts/{institution}",
    }[report]
    # The file is the report the plain route serves (same head: nothing committed meanwhile
    # changes a settled cycle's report but the reading block's time of a camt.053).
    if file_format != "camt053":
        assert file.read_bytes() == day.get(f"/v1/payments/cycles/{day.cycle_id}/{served}").content
    assert verified.summary.startswith(f"{report} of cycle {day.cycle_id}")
    genesis = str(day.directory / "genesis.json")
    result = CliRunner().invoke(app, ["verify", str(file), "--genesis", genesis])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"verified: {report} of cycle {day.cycle_id}")


def test_an_altered_figure_in_a_report_is_caught_at_its_line(day: Day, tmp_path: Path) -> None:
    file = tmp_path / "statement.csv"
    day.client.payments.save_report(file, day.cycle_id, institution="bank-a", file_format="csv")
    genesis = str(day.directory / "genesis.json")
    lines = file.read_bytes().split(b"\r\n")
    lines[1] = lines[1].replace(b"100000", b"100001", 1)
    file.write_bytes(b"\r\n".join(lines))
    sidecar = tmp_path / "statement.csv.proofs.json"
    bundle = json.loads(sidecar.read_text())
    # The file's hash is in the bundle: alter it too, as a forger would.
    bundle["file_sha256"] = hashlib.sha256(file.read_bytes()).hexdigest()
    sidecar.write_text(json.dumps(bundle))
    result = CliRunner().invoke(app, ["verify", str(file), "--genesis", genesis])
    assert result.exit_code == 1
    assert "line 2 of the file says" in result.stderr and "100001" in result.stderr
    # A bundle whose proofs were altered is refused before anything is rebuilt.
    bundle["reads_proof"] = bundle["reads_proof"][:-2] + "00"
    sidecar.write_text(json.dumps(bundle))
    result = CliRunner().invoke(app, ["verify", str(file), "--genesis", genesis])
    assert result.exit_code == 1 and "verification_failed" in result.stderr


def test_the_documented_bundle_is_what_the_node_answers(day: Day) -> None:
    example = json.loads(doc_examples.block("report-proofs"))
    answer = day.get(f"/v1/payments/cycles/{day.cycle_id}/settlement/proven").json()
    # The node answers the file with the bundle; the saved sidecar adds the validator changes.
    assert set(answer) | {"validator_changes"} == set(example) | {"file"}
    assert set(answer["headers"][0]) == set(example["headers"][0])
    assert answer["format"] == example["format"] == "jinqiao-report-proofs/1"
    assert answer["headers"][0]["height"] == day.client.payments.cycle(day.cycle_id).settled_height


def test_the_settled_cycles_answers_keep_to_the_document(day: Day) -> None:
    """The answers only a settled cycle gives, validated against their models (ADR 0040)."""
    document = day.get("/openapi.json").json()
    cycle = f"/v1/payments/cycles/{day.cycle_id}"
    answers = [
        day.get(f"{cycle}/settlement/proven"),
        day.get(f"{cycle}/merchant-payouts/ecfin/proven"),
        day.get(f"{cycle}/figures"),
        day.get(f"{cycle}/statements/bank-a"),
    ]
    assert [answer.status_code for answer in answers] == [200] * 4
    assert answers[0].json()["headers"] and answers[2].json()["timing"]["settled_time_ms"]
    problems = [problem for answer in answers for problem in answer_problems(document, answer)[1]]
    assert not problems, "\n".join(problems)


def test_the_documented_verify_line_is_what_verify_prints(day: Day, tmp_path: Path) -> None:
    file = tmp_path / "settlement.pacs009.xml"
    day.client.payments.save_report(file, day.cycle_id, report="settlement", file_format="pacs009")
    genesis = str(day.directory / "genesis.json")
    printed = CliRunner().invoke(app, ["verify", str(file), "--genesis", genesis]).stdout
    documented = doc_examples.block("report-verified").strip()
    shape = re.compile(r"\d+")
    assert shape.sub("N", printed.strip()) == shape.sub("N", documented)


def test_every_alteration_of_a_report_bundle_is_refused(day: Day, tmp_path: Path) -> None:
    """The lying-node suite's walk (tests/helpers/lies.py) over a settlement's bundle: every
    one-field change — into the proofs' siblings, the header, the certificate, each proven
    value — and every change of the file, is refused offline."""
    file = tmp_path / "settlement.pacs009.xml"
    day.client.payments.save_report(file, day.cycle_id, report="settlement", file_format="pacs009")
    data = file.read_bytes()
    honest = json.loads((tmp_path / "settlement.pacs009.xml.proofs.json").read_text())
    genesis = day.client.genesis
    tried, accepted = 0, []
    for where, altered in alterations(honest):
        tried += 1
        try:
            verify_report(genesis, data, msgspec.convert(altered, ReportProofs))
        except (JinqiaoError, msgspec.ValidationError):
            continue
        if not where.startswith(".validator_changes"):
            accepted.append(where)
    assert not accepted, accepted[:10]
    assert tried > 100
    for altered_file in (data.replace(b"<", b" <", 1), data[:-1], data + b" "):
        with pytest.raises(JinqiaoError):
            verify_report(genesis, altered_file, msgspec.convert(honest, ReportProofs))
    print(f"report bundle: {tried} alterations, all refused")


def _record_paths(day: Day) -> list[str]:
    cycle = f"/v1/payments/cycles/{day.cycle_id}"
    return [
        "/v1/payments/institutions/bank-a",
        "/v1/payments/institutions/nobody",  # absent: a 404 proving it
        "/v1/payments/payments/P1",
        f"{cycle}",
        f"{cycle}/totals",
        f"{cycle}/positions/bank-a",
        f"{cycle}/institutions/bank-a",
        f"{cycle}/flows/bank-a/ecfin",
        f"{cycle}/entries/bank-a/0",
    ]


def test_saved_payments_records_verify_offline_and_every_alteration_is_refused(
    day: Day, tmp_path: Path
) -> None:
    """Each payments record route (docs/proofs.md §11), saved from the node: ``jinqiao
    verify`` accepts it, and refuses every one-field alteration of it (tests/helpers/lies.py)."""
    genesis = str(day.directory / "genesis.json")
    totals = [0, 0]
    for path in _record_paths(day):
        file = tmp_path / "record.json"
        verified = day.client.save(file, path)
        result = CliRunner().invoke(app, ["verify", str(file), "--genesis", genesis])
        assert result.exit_code == 0, (path, result.stderr)
        assert result.stdout == f"verified: {verified.summary}\n"
        saved = load_saved(file.read_bytes())
        tried, refused, same, accepted = lie_in_saved_answer(day.client.genesis, saved, verified)
        assert not accepted, (path, accepted[:10])
        assert tried > 30
        assert tried - refused - same <= 1, path  # a 404's free-text message
        totals[0] += tried
        totals[1] += refused
    print(
        f"payments records: {totals[0]} alterations, {totals[1]} refused, the rest proving "
        "the same (or a 404's message)"
    )
