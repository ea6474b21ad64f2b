"""Credit records disclosed node to node (docs/credit.md "Disclosure"; issue 13): bank-a, bank-b
and ecfin each run a validator node, each pulling from the other two. Bank-a and bank-b keep a
subject's records in their nodes' credit stores and commit them; ecfin logs its read on chain and
asks its own node, which gathers the records from the submitters' nodes over mutual TLS; ecfin
scores from them (every record opened against its commitment). Bank-b, not the reader, is refused
by every node; after the consent is revoked, so is ecfin; after erasure each node has destroyed the
subject's key and records in its own store (its follower of committed blocks, on the
``SubjectErased`` event) and every node answers 410 ``credit_records_erased``."""

from __future__ import annotations

import random
import signal
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import msgspec
import pytest

from jinqiao.apps.credit.model import ScorecardModel
from jinqiao.client import Client, Credentials
from jinqiao.core.crypto import Signer
from jinqiao.core.errors import InvalidInput
from jinqiao.credit import CreditStore, subject_hash
from jinqiao.credit.training import TrainingOptions, train
from jinqiao.credit.training_data import load_training_file
from jinqiao.demo.credit import CreditDesk, commit_records, install_model, loan_book
from jinqiao.demo.credit_history import TARGET, write_training_csv
from jinqiao.demo.credit_story import ADMINS
from jinqiao.keys import InsecurePlaintext, load_key
from jinqiao.node.private_data import CREDIT_STORE_FILE
from jinqiao.provision.network import NetworkLayout, init_network
from jinqiao.provision.presets import demo_spec
from tests.helpers.cluster import height, wait_for
from tests.helpers.process import NodeProcess, free_port_base, nodes_pulling_from_each_other

pytestmark = pytest.mark.e2e

CONSORTIUM_KEY = bytes(range(32))
MEMBERS = ("bank-a", "bank-b", "ecfin")
PERIOD = 202605
DAY_MS = 86_400_000
CATEGORIES = ("defaults", "inquiries", "loans", "payment_activity", "recoveries", "repayments")


@dataclass
class Consortium:
    directory: Path
    nodes: dict[str, NodeProcess]
    trained: ScorecardModel | None = None

    @property
    def model(self) -> ScorecardModel:
        assert self.trained is not None
        return self.trained

    def key(self, account: str) -> Signer:
        return load_key(self.directory / "accounts" / f"{account}.json")

    def client(self, organization: str) -> Client:
        """A client of ``organization``'s own node, authenticated as its credit account."""
        return Client(
            self.nodes[organization].url,
            genesis_file=self.directory / "genesis.json",
            credentials=Credentials.for_account(self.directory, f"{organization}-credit"),
        )

    def store(self, organization: str, client: Client) -> CreditStore:
        """The credit store of ``organization``'s node (its back office adds records to it)."""
        private = self.nodes[organization].home / "private"
        private.mkdir(exist_ok=True)
        return CreditStore(private / CREDIT_STORE_FILE, client.suite.hash)

    def get(self, organization: str, account: str, path: str) -> httpx.Response:
        credentials = Credentials.for_account(self.directory, account)
        with credentials.http_client(timeout=30) as http:
            return http.get(f"{self.nodes[organization].url}{path}")

    def settle(self, client: Client) -> None:
        """Every node has committed what ``client``'s node has."""
        at = int(client.status()["height"])
        for node in self.nodes.values():
            wait_for(lambda node=node: height(node) >= at, 60, "the height everywhere")


def _spec(base_port: int) -> msgspec.Struct:
    spec = demo_spec(validators=0, base_api_port=base_port)
    organizations = tuple(
        msgspec.structs.replace(organization, validators=1)
        if organization.id in MEMBERS
        else organization
        for organization in spec.organizations
    )
    return msgspec.structs.replace(spec, organizations=organizations)


@pytest.fixture(scope="module")
def consortium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Consortium]:
    directory = tmp_path_factory.mktemp("disclose")
    layout: NetworkLayout = init_network(
        directory, _spec(free_port_base(len(MEMBERS))), protection=InsecurePlaintext()
    )
    nodes = nodes_pulling_from_each_other(directory, layout)
    started: list[NodeProcess] = []
    try:
        for node in nodes.values():
            started.append(node.start())
        consortium = Consortium(directory, nodes)
        with consortium.client("ecfin") as client:
            desk = CreditDesk(
                client,
                custodian=consortium.key("bank-a-credit"),
                lender=consortium.key("ecfin-credit"),
                lender_organization="ecfin",
                admins=[consortium.key(name) for name in ADMINS],
            )
            history = write_training_csv(
                directory / "history.csv", 600, 11, client.credit.head_time_ms()
            )
            report = train(
                load_training_file(history, TARGET), TrainingOptions(model_id="disclose-model")
            )
            assert report.model is not None and report.metrics is not None
            install_model(desk, report.model, report.metrics)
            consortium.trained = report.model
        yield consortium
    finally:
        for node in started:
            if node.process is not None and node.process.poll() is None:
                node.process.send_signal(signal.SIGCONT)
                node.stop()


@dataclass(frozen=True)
class Subject:
    subject: bytes
    consent_id: int
    records: int


def _subject_with_records(consortium: Consortium, number: str) -> Subject:
    """A consent for ecfin (bank-a, the custodian), and the subject's loan book split between
    bank-a's and bank-b's node stores, each half committed by its submitter."""
    who = subject_hash(CONSORTIUM_KEY, "person", number)
    book = loan_book(random.Random(5), who, PERIOD)[:6]
    with consortium.client("bank-a") as client:
        granted = client.credit.grant_consent(
            consortium.key("bank-a-credit"),
            who,
            "ecfin",
            "loan_approval",
            CATEGORIES,
            client.credit.head_time_ms() + 30 * DAY_MS,
        )
        assert granted.ok, granted.code
        consent_id = client.credit.consent_id_of(granted)
        for organization, half in (("bank-a", book[:3]), ("bank-b", book[3:])):
            with consortium.store(organization, client) as store:
                commit_records(client, consortium.key(f"{organization}-credit"), store, half)
        consortium.settle(client)
    return Subject(who, consent_id, len(book))


def _read(consortium: Consortium, subject: Subject) -> int:
    """Ecfin logs its read of the model's categories; the access entry's sequence."""
    with consortium.client("ecfin") as client:
        categories = client.credit.categories_of(consortium.model)
        read = client.credit.read_records(
            consortium.key("ecfin-credit"),
            subject.subject,
            subject.consent_id,
            "loan_approval",
            categories,
        )
        assert read.ok, read.code
        consortium.settle(client)
        return client.credit.access_sequence_of(read)


def _route(subject: Subject, sequence: int) -> str:
    return f"/v1/credit/subjects/{subject.subject.hex()}/disclosures/{sequence}"


def test_ecfin_scores_from_records_its_node_gathers_from_the_submitters_nodes(
    consortium: Consortium,
) -> None:
    subject = _subject_with_records(consortium, "110101199003071006")
    sequence = _read(consortium, subject)
    with consortium.client("ecfin") as client:
        disclosed = client.credit.disclosures(subject.subject, sequence)
        assert len(disclosed.disclosures) == subject.records
        assert {answer["status"] for answer in disclosed.sources} == {"ok"}
        assert sorted(answer["disclosed"] for answer in disclosed.sources) == [3, 3]
        scored = client.credit.score(
            consortium.key("ecfin-credit"),
            subject.subject,
            subject.consent_id,
            "loan_approval",
            consortium.model.model_id,
            consortium.model.version,
            disclosed.disclosures,
        )
    assert scored.transaction.ok, scored.transaction.code
    assert scored.result.record_count == subject.records


def test_a_submitter_node_discloses_to_no_one_but_the_reader_with_live_consent(
    consortium: Consortium,
) -> None:
    subject = _subject_with_records(consortium, "110101199003071014")
    sequence = _read(consortium, subject)
    route = _route(subject, sequence)
    for node in ("bank-a", "bank-b"):
        own = consortium.get(node, "bank-b-credit", route)
        assert (own.status_code, own.json()["code"]) == (403, "forbidden"), own.text
        regulator = consortium.get(node, "regulator-admin", route)
        assert regulator.status_code == 403, regulator.text
        beyond = consortium.get(node, "ecfin-credit", _route(subject, sequence + 1))
        assert beyond.status_code == 403, beyond.text
    direct = consortium.get("bank-b", "ecfin-credit", route + "?local_only=true")
    assert direct.status_code == 200 and len(direct.json()["disclosures"]) == 3
    with consortium.client("bank-a") as client:
        revoked = client.credit.revoke_consent(
            consortium.key("bank-a-credit"), subject.subject, subject.consent_id
        )
        assert revoked.ok, revoked.code
        consortium.settle(client)
    for node in MEMBERS:
        after = consortium.get(node, "ecfin-credit", route)
        assert (after.status_code, after.json()["code"]) == (403, "forbidden"), after.text


def test_erasure_destroys_the_subject_in_every_nodes_store(consortium: Consortium) -> None:
    subject = _subject_with_records(consortium, "110101199003071022")
    sequence = _read(consortium, subject)
    route = _route(subject, sequence)
    before = consortium.get("bank-b", "ecfin-credit", route + "?local_only=true")
    assert before.status_code == 200 and len(before.json()["disclosures"]) == 3
    with consortium.client("bank-a") as client:
        erased = client.credit.erase(consortium.key("bank-a-credit"), subject.subject)
        assert erased.ok, erased.code
        consortium.settle(client)
    for organization in ("bank-a", "bank-b"):
        with (
            consortium.client(organization) as client,
            consortium.store(organization, client) as store,
        ):
            wait_for(lambda store=store: store.is_erased(subject.subject), 30, "the erasure")
            with pytest.raises(InvalidInput) as refused:
                store.disclose(subject.subject, CATEGORIES)
            assert refused.value.code == "subject_erased"
            file = consortium.nodes[organization].home / "private" / CREDIT_STORE_FILE
            with sqlite3.connect(file) as db:  # the bytes are gone, not only hidden
                rows = db.execute(
                    "SELECT count(*) FROM records WHERE subject = ?", (subject.subject,)
                )
                assert rows.fetchone()[0] == 0
    for organization in MEMBERS:
        after = consortium.get(organization, "ecfin-credit", route)
        assert (after.status_code, after.json()["code"]) == (410, "credit_records_erased")
