"""Credit over HTTP against a real node process, through the SDK and the ``/v1/credit`` routes: a
trained model registered and approved by governance, a consent, records from a member's store,
a score with reasons, a decision, the access log and erasure — every read proven. Then each "Bad
input" of issue 13: a specific rejection, and nothing stored (the subject's counts, scores and
access log unchanged)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from jinqiao.apps.credit.model import (
    CREDIT,
    GrantConsentArgs,
    RecordScoreArgs,
    ScorecardModel,
    Subject,
    SubjectArgs,
    access_key,
    consent_key,
    record_key,
    score_key,
    subject_key,
)
from jinqiao.apps.credit.records import RecordBody
from jinqiao.apps.credit.scoring import Disclosure
from jinqiao.client import Client, Credentials
from jinqiao.core.codec import decode
from jinqiao.core.crypto import Signer
from jinqiao.core.errors import InvalidInput
from jinqiao.core.proofs import StateReadProof
from jinqiao.credit import CreditStore, subject_hash
from jinqiao.credit.training import TrainingOptions, train
from jinqiao.credit.training_data import load_training_file
from jinqiao.demo.credit import (
    DAY_MS,
    CreditDesk,
    commit_records,
    install_model,
    loan_book,
    policy_for,
    score_with_disclosures,
)
from jinqiao.demo.credit_history import TARGET, write_training_csv
from jinqiao.demo.credit_story import ADMINS
from jinqiao.keys import load_key
from jinqiao.provision.network import NetworkLayout
from tests.helpers.process import NodeProcess, make_network

pytestmark = pytest.mark.e2e

CONSORTIUM_KEY = bytes(range(32))
PERIOD = 202605
MODEL_CATEGORIES = (
    "defaults",
    "inquiries",
    "loans",
    "payment_activity",
    "recoveries",
    "repayments",
)


@dataclass
class World:
    directory: Path
    layout: NetworkLayout
    node: NodeProcess
    client: Client
    desk: CreditDesk
    model: ScorecardModel
    store: CreditStore

    def key(self, name: str) -> Signer:
        return load_key(self.directory / self.layout.account(name).key_file)

    def get(self, path: str) -> httpx.Response:
        return self.node.http.get(f"{self.node.url}{path}", timeout=10)

    def now_ms(self) -> int:
        return self.client.credit.head_time_ms()

    def grant(self, subject: bytes, *, purpose: str = "loan_approval", days: int = 30) -> int:
        result = self.client.credit.grant_consent(
            self.desk.custodian,
            subject,
            "ecfin",
            purpose,
            MODEL_CATEGORIES,
            self.now_ms() + days * DAY_MS,
        )
        assert result.ok, result.code
        return self.client.credit.consent_id_of(result)

    def file(self, subject: bytes) -> Subject:
        found = self.client.credit.subject(subject)
        assert found is not None
        return found

    def subject_with_records(self, number: str) -> bytes:
        who = subject_hash(CONSORTIUM_KEY, "person", number)
        self.grant(who)
        signer, store = self.desk.stores["bank-b"]
        commit_records(self.client, signer, store, _book(who))
        return who


def _book(subject: bytes) -> list[RecordBody]:
    import random

    return loan_book(random.Random(5), subject, PERIOD)[:6]


RESIDENT_IDS = (
    "11010519491231002X",
    "110101199003071006",
    "110101199003071014",
    "110101199003071022",
    "110101199003071030",
    "110101199003071049",
    "110101199003071057",
    "110101199003071065",
)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    directory = tmp_path_factory.mktemp("credit")
    layout = make_network(directory)
    node = NodeProcess(directory / layout.nodes[0].home).start()
    client = Client(node.url, credentials=node.credentials, genesis_file=directory / "genesis.json")
    store = CreditStore(directory / "bank-b.sqlite", client.suite.hash)
    try:

        def key(name: str) -> Signer:
            return load_key(directory / layout.account(name).key_file)

        desk = CreditDesk(
            client,
            custodian=key("bank-a-credit"),
            lender=key("ecfin-credit"),
            lender_organization="ecfin",
            admins=[key(name) for name in ADMINS],
            stores={"bank-b": (key("bank-b-credit"), store)},
        )
        now_ms = client.credit.head_time_ms()
        history = write_training_csv(directory / "history.csv", 600, 11, now_ms)
        report = train(load_training_file(history, TARGET), TrainingOptions(model_id="it-model"))
        assert report.model is not None and report.metrics is not None
        install_model(desk, report.model, report.metrics)
        yield World(directory, layout, node, client, desk, report.model, store)
    finally:
        store.close()
        client.close()
        assert node.stop() == 0, node.log()


def test_the_story_scores_decides_logs_and_erases(world: World) -> None:
    client = world.client
    who = world.subject_with_records(RESIDENT_IDS[0])
    scored = score_with_disclosures(world.desk, who, 0, world.model)
    assert scored.transaction.ok, scored.transaction.code
    assert scored.result.record_count == 6 and scored.result.band
    policy = policy_for(world.model)
    assert client.credit.set_policy(world.desk.lender, "it-loans", policy).ok
    decision, decided = client.credit.decide(
        world.desk.lender, scored.result, scored.sequence, "it-loans", policy
    )
    assert decided.ok and decision.outcome in ("approve", "limit", "decline")
    recorded = client.credit.score_record(who, scored.sequence)
    assert recorded is not None and recorded.decision_policy == "it-loans"
    file = client.credit.subject_file(who)
    assert [a.kind for a in file.accesses] == ["records", "score"]
    assert all(a.reader == "ecfin" for a in file.accesses)
    assert client.credit.erase(world.desk.custodian, who).ok
    erased = world.file(who)
    assert erased.erasure is not None and erased.erasure.by == "bank-a"
    assert client.credit.subject_file(who).records == []


def test_routes_prove_values_and_absence(world: World) -> None:
    who = world.subject_with_records(RESIDENT_IDS[1])
    answer = world.get(f"/v1/credit/subjects/{who.hex()}/records?limit=4").json()
    assert len(answer["entries"]) == 4 and answer["next_start"] == 4
    for entry in answer["entries"]:
        proof = decode(bytes.fromhex(entry["proof"]), StateReadProof, max_bytes=1 << 20)
        assert proof.header.height == answer["height"] and proof.value is not None
    log = world.get(f"/v1/credit/subjects/{who.hex()}/access-log").json()
    assert log["entries"] == [] and log["next_start"] is None
    unknown = bytes(32).hex()
    absent = world.get(f"/v1/credit/subjects/{unknown}").json()
    assert absent["subject"] is None and absent["proof"]
    assert world.client.credit.subject(bytes(32)) is None  # the absence proof verifies
    model = world.get(f"/v1/credit/models/{world.model.model_id}/1").json()
    assert model["model"]["approved_height"] > 0
    assert world.get("/v1/credit/models/no-such-model/1").json()["code"] == "not_found"


def test_a_subject_hash_of_the_wrong_form_is_refused(world: World) -> None:
    for bad in ("abc", "Z" * 64, "00" * 31, "00" * 33):
        answer = world.get(f"/v1/credit/subjects/{bad}")
        assert (answer.status_code, answer.json()["code"]) == (400, "invalid_request")
    args = GrantConsentArgs(
        b"\x01" * 31, "ecfin", "loan_approval", ("loans",), world.now_ms() + DAY_MS
    )
    result = world.client.send(world.desk.custodian, CREDIT, "grant_consent", args)
    assert result.code == "invalid_subject"
    assert world.client.read_state(CREDIT, b"subject/" + b"\x01" * 31).value is None
    with pytest.raises(InvalidInput) as refused:
        subject_hash(CONSORTIUM_KEY, "person", "110101199003072317")  # wrong check digit
    assert refused.value.code == "invalid_identity_number"


def _refused_read(world: World, who: bytes, consent_id: int, code: str, **kwargs: str) -> None:
    before = world.file(who)
    purpose = kwargs.get("purpose", "loan_approval")
    result = world.client.credit.read_records(
        world.desk.lender, who, consent_id, purpose, ("loans", "repayments")
    )
    assert result.code == code, result.receipt.message
    after = world.file(who)
    assert (after.accesses, after.scores) == (before.accesses, before.scores)


def test_reads_without_live_consent_are_refused_and_not_logged(world: World) -> None:
    who = world.subject_with_records(RESIDENT_IDS[2])
    _refused_read(world, who, 7, "unknown_consent")
    _refused_read(world, who, 0, "purpose_not_consented", purpose="credit_card_approval")
    assert world.client.credit.revoke_consent(world.desk.custodian, who, 0).ok
    _refused_read(world, who, 0, "consent_revoked")
    expiry = world.now_ms() + 1_500
    short = world.client.credit.grant_consent(
        world.desk.custodian, who, "ecfin", "loan_approval", MODEL_CATEGORIES, expiry
    )
    assert short.ok
    time.sleep(2.0)  # block time follows the wall clock: the next block is past the expiry
    _refused_read(world, who, world.client.credit.consent_id_of(short), "consent_expired")
    file = world.client.credit.subject_file(who)
    assert file.subject is not None
    args = RecordScoreArgs(
        who,
        0,
        "loan_approval",
        world.model.model_id,
        1,
        file.time_ms,
        file.subject.records,
        file.subject.accesses,
        bytes(32),
    )
    scored = world.client.send(world.desk.lender, CREDIT, "record_score", args)
    assert scored.code == "consent_revoked"
    assert world.file(who) == file.subject


def test_consent_for_a_purpose_not_allowed_is_refused(world: World) -> None:
    who = world.subject_with_records(RESIDENT_IDS[3])
    before = world.file(who)
    result = world.client.credit.grant_consent(
        world.desk.custodian, who, "ecfin", "marketing", ("loans",), world.now_ms() + DAY_MS
    )
    assert result.code == "invalid_purpose"
    assert world.file(who).consents == before.consents


def test_unknown_and_unapproved_models_are_refused(world: World) -> None:
    who = world.subject_with_records(RESIDENT_IDS[4])
    client = world.client
    unapproved = ScorecardModel(world.model.model_id, 2, 0, world.model.features, world.model.bands)
    assert client.credit.register_model(world.desk.lender, unapproved, _metrics(world)).ok
    file = client.credit.subject_file(who)
    for model_id, version, code in (
        (world.model.model_id, 2, "model_not_approved"),
        ("no-such-model", 1, "unknown_model"),
    ):
        args = RecordScoreArgs(
            who, 0, "loan_approval", model_id, version, file.time_ms, 6, 0, bytes(32)
        )
        result = client.send(world.desk.lender, CREDIT, "record_score", args)
        assert result.code == code
    with pytest.raises(InvalidInput) as unknown:
        client.credit.score(world.desk.lender, who, 0, "loan_approval", "no-such-model", 1, [])
    assert unknown.value.code == "unknown_model"
    assert world.file(who).scores == 0 and world.file(who).accesses == 0


def _metrics(world: World) -> object:
    record = world.client.credit.model(world.model.model_id, 1)
    assert record is not None
    return record.metrics


def test_malformed_feature_values_are_refused(world: World) -> None:
    who = world.subject_with_records(RESIDENT_IDS[5])
    _, store = world.desk.stores["bank-b"]
    with pytest.raises(InvalidInput) as malformed:
        store.add(RecordBody(who, "repayments", PERIOD, "L1", 100, -3, 0, 0))
    assert malformed.value.code == "invalid_record"
    categories = ("defaults", "loans", "payment_activity", "recoveries", "repayments")
    assert world.client.credit.read_records(
        world.desk.lender, who, 0, "loan_approval", categories
    ).ok
    disclosed = store.disclose(who, categories)
    first = disclosed[0]
    forged_body = RecordBody(
        first.body.subject,
        first.body.category,
        first.body.period,
        first.body.reference,
        first.body.amount_minor,
        4_000,  # days past due beyond the 3,650 a record may hold
        first.body.count,
        first.body.chargebacks,
    )
    fields = _fields(first.body)
    altered = RecordBody(*fields[:4], first.body.amount_minor + 1, *fields[5:])  # type: ignore[arg-type]
    before = world.file(who)
    for forged, code in (
        (Disclosure(first.salt, forged_body), "invalid_record"),
        (Disclosure(first.salt, altered), "commitment_mismatch"),
    ):
        with pytest.raises(InvalidInput) as refused:
            world.client.credit.compute_score(world.model, who, [forged, *disclosed[1:]])
        assert refused.value.code == code
    with pytest.raises(InvalidInput) as missing:
        world.client.credit.compute_score(world.model, who, disclosed[1:])
    assert missing.value.code == "records_missing"
    assert world.file(who).scores == before.scores == 0


def _fields(body: RecordBody) -> list[object]:
    return [getattr(body, name) for name in body.__struct_fields__]


def test_scoring_an_erased_subject_is_refused(world: World) -> None:
    who = world.subject_with_records(RESIDENT_IDS[6])
    client = world.client
    file = client.credit.subject_file(who)
    assert client.send(world.desk.custodian, CREDIT, "erase_subject", SubjectArgs(who)).ok
    _, store = world.desk.stores["bank-b"]
    assert store.erase(who) == 6
    args = RecordScoreArgs(
        who,
        0,
        "loan_approval",
        world.model.model_id,
        1,
        file.time_ms,
        file.subject.records if file.subject else 0,
        0,
        bytes(32),
    )
    assert client.send(world.desk.lender, CREDIT, "record_score", args).code == "subject_erased"
    _refused_read(world, who, 0, "subject_erased")
    with pytest.raises(InvalidInput) as gone:
        store.disclose(who, ("loans",))
    assert gone.value.code == "subject_erased"
    assert world.file(who).scores == 0


def _subject_reads(who: bytes, consent_id: int) -> list[tuple[str, str, dict[str, str] | None]]:
    """Every way in to a subject: its six routes, its raw state keys and a subject query."""
    subject = f"/v1/credit/subjects/{who.hex()}"
    state = f"/v1/state/{CREDIT}/"
    return [
        ("GET", subject, None),
        ("GET", f"{subject}/consents/{consent_id}", None),
        ("GET", f"{subject}/records", None),
        ("GET", f"{subject}/records/0", None),
        ("GET", f"{subject}/access-log", None),
        ("GET", f"{subject}/scores/0", None),
        ("GET", state + subject_key(who).hex(), None),
        ("GET", state + consent_key(who, consent_id).hex(), None),
        ("GET", state + record_key(who, 0).hex(), None),
        ("GET", state + access_key(who, 0).hex(), None),
        ("GET", state + score_key(who, 0).hex(), None),
        ("POST", f"/v1/query/{CREDIT}/subject", {"subject": who.hex()}),
    ]


def _who_reads(world: World, who: bytes, consent_id: int) -> dict[str, bool]:
    """For each credit member: whether it reads every way in to the subject (True) or is
    refused 403 ``forbidden`` on every one (False); a mix fails the test."""
    verdicts = {}
    for account in ("bank-a-credit", "bank-b-credit", "ecfin-credit", "regulator-admin"):
        credentials = Credentials.for_account(world.directory, account)
        statuses = set()
        with credentials.http_client(base_url=world.node.url, timeout=10) as http:
            for method, path, body in _subject_reads(who, consent_id):
                answer = http.request(method, path, json=body)
                if answer.status_code == 403:
                    assert answer.json()["code"] == "forbidden", answer.text
                    assert account in answer.json()["message"]
                else:  # 404 or the query's 422 unknown_subject: an absence, not a refusal
                    assert answer.status_code in (200, 404, 422), (path, account, answer.text)
                statuses.add(answer.status_code == 403)
        assert len(statuses) == 1, (account, statuses)
        verdicts[account] = not statuses.pop()
    return verdicts


def test_only_the_subjects_readers_read_it(world: World) -> None:
    """docs/access.md, the ``subject`` rule, on a real node over HTTPS with each member's client
    certificate: bank-a (custodian) and the regulator read; ecfin reads while its consent is
    live and is refused once it is revoked; bank-b, a credit member that is neither custodian,
    submitter nor grantee, is refused 403 ``forbidden`` on every route, raw key and query. An
    erased subject stays bank-a's (and the regulator's)."""
    who = subject_hash(CONSORTIUM_KEY, "person", RESIDENT_IDS[7])
    assert _who_reads(world, who, 0) == dict.fromkeys(
        ("bank-a-credit", "bank-b-credit", "ecfin-credit", "regulator-admin"), True
    )  # not on chain yet: any credit member's proven absence
    consent_id = world.grant(who)
    readers = {"bank-a-credit": True, "bank-b-credit": False, "ecfin-credit": True}
    assert _who_reads(world, who, consent_id) == {**readers, "regulator-admin": True}
    assert world.client.credit.revoke_consent(world.desk.custodian, who, consent_id).ok
    readers["ecfin-credit"] = False
    assert _who_reads(world, who, consent_id) == {**readers, "regulator-admin": True}
    assert world.client.credit.erase(world.desk.custodian, who).ok
    assert _who_reads(world, who, consent_id) == {**readers, "regulator-admin": True}
    assert world.file(who).erasure is not None
