"""The issuer's monthly job on a real node (docs/credit.md, "Records derived from the ledger"):
card payments authorized, captured and refunded on the ledger; ``jinqiao credit derive`` reads
them from the proven blocks, derives each known subject's ``payment_activity`` of the month,
stores the body in the issuer's credit store and commits it; a second run submits nothing; a
body stored by an interrupted run is committed with its stored commitment, not stored twice;
bad periods and bad link files are refused before anything is read or written."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from jinqiao.apps.credit.derived import payment_activity
from jinqiao.apps.credit.records import commitment
from jinqiao.apps.payments.model import AuthorizeArgs
from jinqiao.client import Client, Credentials, TransactionResult
from jinqiao.core.crypto import Signer
from jinqiao.credit import CreditStore, subject_hash
from jinqiao.keys import load_key
from jinqiao.provision.network import NetworkLayout
from tests.helpers.cli import invoke
from tests.helpers.process import NodeProcess, make_network

pytestmark = pytest.mark.e2e

CONSORTIUM_KEY = bytes(range(32))
MAY_2026_MS = 1_778_400_000_000  # 2026-05-10 08:00 UTC
APRIL_2026_MS = 1_776_000_000_000  # 2026-04-12 13:20 UTC
PAYER_A = bytes([1]) * 32
PAYER_B = bytes([2]) * 32
STRANGER = bytes([3]) * 32
ISSUER_ACCOUNT = "bank-a-credit"


@dataclass
class Ledger:
    directory: Path
    layout: NetworkLayout
    node: NodeProcess
    client: Client
    subject_a: bytes
    subject_b: bytes

    def key(self, name: str) -> Signer:
        return load_key(self.directory / self.layout.account(name).key_file)

    def derive(self, period: str, *extra: str) -> tuple[int, str, str]:
        return invoke(
            "credit",
            "derive",
            "--network",
            str(self.directory),
            "--url",
            self.node.url,
            "--as",
            ISSUER_ACCOUNT,
            "--key",
            ISSUER_ACCOUNT,
            "--period",
            period,
            "--payers",
            str(self.directory / "payers.csv"),
            "--store",
            str(self.store_path),
            "--json",
            *extra,
        )

    @property
    def store_path(self) -> Path:
        return self.directory / "bank-a-credit-records.sqlite"


def _ok(result: TransactionResult) -> TransactionResult:
    assert result.ok, f"{result.code}: {result.receipt.message}"
    return result


def _authorization(payment_id: str, payer: bytes, amount: int, time_ms: int) -> AuthorizeArgs:
    return AuthorizeArgs(
        payment_id=payment_id,
        issuer="bank-a",
        acquirer="ecfin",
        merchant_id="M0001",
        payer_hash=payer,
        amount_minor=amount,
        currency="CNY",
        channel="pos",
        card_type="debit",
        authorization_code="A1B2C3",
        time_ms=time_ms,
    )


def _pay(ledger: Ledger) -> None:
    """Payer A: two captured payments in May 2026 (one partly refunded) and one never captured;
    payer B: one in April 2026; a payer the issuer links to no subject: one in May."""
    payments = ledger.client.payments
    clearing, bank, acquirer = (
        ledger.key("clearing-treasury"),
        ledger.key("bank-a-treasury"),
        ledger.key("ecfin-settlement"),
    )
    _ok(payments.register_institution(clearing, "bank-a", ("card_issuer",), bank.address))
    _ok(payments.register_institution(clearing, "ecfin", ("acquirer",), acquirer.address))
    _ok(payments.register_merchant(acquirer, "M0001", "Tea House", "5411"))
    height = int(ledger.client.status()["height"])
    cycle_id = payments.opened_cycle_id(
        _ok(payments.open_cycle(clearing, "CNY", cutoff_height=height + 1000))
    )
    plan = (
        ("P1", PAYER_A, 10_000, MAY_2026_MS, True),
        ("P2", PAYER_A, 25_000, MAY_2026_MS + 3_600_000, True),
        ("P3", PAYER_A, 7_000, MAY_2026_MS + 7_200_000, False),
        ("P4", PAYER_B, 5_000, APRIL_2026_MS, True),
        ("P5", STRANGER, 9_000, MAY_2026_MS, True),
    )
    for payment_id, payer, amount, time_ms, captured in plan:
        _ok(payments.authorize(bank, _authorization(payment_id, payer, amount, time_ms)))
        if captured:
            _ok(payments.capture(acquirer, payment_id, amount, cycle_id))
    _ok(payments.refund(acquirer, "P2", "R1", 5_000, cycle_id))


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ledger]:
    directory = tmp_path_factory.mktemp("derive")
    layout = make_network(directory)
    node = NodeProcess(directory / layout.nodes[0].home).start()
    client = Client(
        node.url,
        credentials=Credentials.for_account(directory, ISSUER_ACCOUNT),
        genesis_file=directory / "genesis.json",
    )
    try:
        subject_a = subject_hash(CONSORTIUM_KEY, "person", "11010519491231002X")
        subject_b = subject_hash(CONSORTIUM_KEY, "person", "110101199003071006")
        (directory / "payers.csv").write_text(
            f"payer_hash,subject\n{PAYER_A.hex()},{subject_a.hex()}\n"
            f"{PAYER_B.hex()},{subject_b.hex()}\n"
        )
        world = Ledger(directory, layout, node, client, subject_a, subject_b)
        with Client(
            node.url, credentials=node.credentials, genesis_file=directory / "genesis.json"
        ) as operator:
            _pay(Ledger(directory, layout, node, operator, subject_a, subject_b))
        yield world
    finally:
        client.close()
        assert node.stop() == 0, node.log()


def _records_of(answer: str) -> list[dict[str, object]]:
    records: list[dict[str, object]] = json.loads(answer)["records"]
    return records


def test_derive_commits_the_months_record_once(ledger: Ledger) -> None:
    code, out, err = ledger.derive("2026-05")
    assert code == 0, err
    answer = json.loads(out)
    assert answer["issuer"] == "bank-a" and answer["period"] == 202605
    assert answer["payments"] == 5 and answer["unknown_payers"] == 1
    (record,) = answer["records"]  # payer B paid in April only
    assert record["subject"] == ledger.subject_a.hex() and record["status"] == "submitted"
    assert (record["count"], record["amount_minor"]) == (2, 10_000 + 25_000 - 5_000)
    # On chain: bank-a's commitment; in the store: the body that opens it, which is exactly
    # what the payments on the ledger give.
    file = ledger.client.credit.subject_file(ledger.subject_a)
    (committed,) = file.records
    assert (committed.category, committed.period, committed.submitter) == (
        "payment_activity",
        202605,
        "bank-a",
    )
    assert committed.height == record["height"]
    payments = [ledger.client.payments.payment(p) for p in ("P1", "P2", "P3")]
    expected = payment_activity(
        ledger.client.suite.hash,
        ledger.subject_a,
        202605,
        "bank-a",
        [p for p in payments if p is not None],
    )
    with CreditStore(ledger.store_path, ledger.client.suite.hash) as store:
        (disclosure,) = store.disclose(ledger.subject_a, ("payment_activity",))
    assert disclosure.body == expected
    assert commitment(ledger.client.suite.hash, disclosure.salt, expected) == committed.commitment

    code, out, err = ledger.derive("2026-05")
    assert code == 0, err
    (again,) = _records_of(out)
    assert again["status"] == "already_committed" and again["height"] == committed.height
    subject = ledger.client.credit.subject(ledger.subject_a)
    assert subject is not None and subject.records == 1
    with CreditStore(ledger.store_path, ledger.client.suite.hash) as store:
        assert len(store.disclose(ledger.subject_a, ("payment_activity",))) == 1


def test_a_body_stored_by_an_interrupted_run_is_committed_not_stored_twice(
    ledger: Ledger,
) -> None:
    payment = ledger.client.payments.payment("P4")
    assert payment is not None
    body = payment_activity(ledger.client.suite.hash, ledger.subject_b, 202604, "bank-a", [payment])
    with CreditStore(ledger.store_path, ledger.client.suite.hash) as store:
        stored = store.add(body)  # the run stopped here, before submitting
    code, out, err = ledger.derive("202604")
    assert code == 0, err
    (record,) = _records_of(out)
    assert record["status"] == "committed_from_store"
    (committed,) = ledger.client.credit.subject_file(ledger.subject_b).records
    assert committed.commitment == stored.commitment
    with CreditStore(ledger.store_path, ledger.client.suite.hash) as store:
        assert len(store.disclose(ledger.subject_b, ("payment_activity",))) == 1
    code, out, _ = ledger.derive("2026-04")
    assert code == 0 and _records_of(out)[0]["status"] == "already_committed"


@pytest.mark.parametrize(
    ("period", "message"),
    [
        ("2026-13", "invalid_period"),
        ("1899-12", "invalid_period"),
        ("May 2026", "invalid_period"),
        ("2026-5", "invalid_period"),
    ],
)
def test_a_bad_period_is_refused_before_anything_is_read(
    ledger: Ledger, period: str, message: str
) -> None:
    before = ledger.store_path.stat().st_mtime_ns if ledger.store_path.exists() else None
    code, out, err = ledger.derive(period)
    assert code == 1 and message in err and "Traceback" not in err
    assert out == ""
    after = ledger.store_path.stat().st_mtime_ns if ledger.store_path.exists() else None
    assert before == after


@pytest.mark.parametrize(
    "text",
    [
        "subject,payer_hash\n",
        f"payer_hash,subject\n{PAYER_A.hex()},nothex\n",
        f"payer_hash,subject\n{PAYER_A.hex()}\n",
        f"payer_hash,subject\n{PAYER_A.hex()},{PAYER_B.hex()}\n{PAYER_A.hex()},{PAYER_B.hex()}\n",
    ],
)
def test_a_bad_link_file_is_refused(ledger: Ledger, tmp_path: Path, text: str) -> None:
    links = tmp_path / "links.csv"
    links.write_text(text)
    code, _, err = invoke(
        "credit",
        "derive",
        "--network",
        str(ledger.directory),
        "--key",
        ISSUER_ACCOUNT,
        "--period",
        "2026-05",
        "--payers",
        str(links),
        "--store",
        str(tmp_path / "store.sqlite"),
    )
    assert code == 1 and "links.csv" in err and "Traceback" not in err
    assert not (tmp_path / "store.sqlite").exists()
