"""Governance from the SDK and the CLI against a real node process: proposals of each kind,
approvals up to the quorum, the proven ``show``/``list`` with who approved and who is still
needed, execution, withdrawal, and an unknown proposal id refused with nothing sent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from jinqiao.apps.payments.config import china_2016_config_rules
from jinqiao.apps.payments.model import FeeRule, FeeSchedule
from jinqiao.client import Client
from jinqiao.core.crypto import Signer
from jinqiao.keys import generate_key, load_key
from tests.helpers import process
from tests.helpers.cli import cli_network, invoke
from tests.helpers.process import NodeProcess

pytestmark = pytest.mark.e2e
ORGANIZATIONS = ["bank-a", "bank-b", "clearing", "ecfin", "regulator"]


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, NodeProcess]]:
    with cli_network(tmp_path_factory.mktemp("governance") / "net") as running:
        yield running


@pytest.fixture
def client(network: tuple[Path, NodeProcess]) -> Iterator[Client]:
    directory, node = network
    credentials = process.test_credentials(directory)
    with Client(
        node.url, genesis_file=directory / "genesis.json", credentials=credentials
    ) as client:
        yield client


def test_sdk_proposes_approves_and_reads_the_quorum(
    network: tuple[Path, NodeProcess], client: Client
) -> None:
    directory, _ = network

    def key(name: str) -> Signer:
        return load_key(directory / "accounts" / f"{name}.json")

    newcomer = generate_key()
    submitted = client.governance.propose_add_organization(
        key("clearing-admin"), "bank-c", "Bank C", ["card_issuer"], newcomer.public_key, "c-admin"
    )
    assert submitted.result.ok and submitted.proposal_id is not None
    status = client.governance.proposal(submitted.proposal_id)
    assert status is not None and status.verified and status.kind == "add_organization"
    assert status.state == "open" and not status.executed
    assert status.active_organizations == len(ORGANIZATIONS)
    assert status.approving == ("clearing",) and status.required == 4
    assert status.still_needed == 3
    assert status.waiting_for == ("bank-a", "bank-b", "ecfin", "regulator")
    for admin in ("bank-a-admin", "bank-b-admin"):
        assert client.governance.approve(key(admin), submitted.proposal_id).ok
    status = client.governance.proposal(submitted.proposal_id)
    assert status is not None and status.still_needed == 1 and not status.executed
    assert client.governance.approve(key("ecfin-admin"), submitted.proposal_id).ok
    status = client.governance.proposal(submitted.proposal_id)
    assert status is not None and status.executed and status.state == "executed"
    assert status.still_needed == 0 and status.waiting_for == ()
    # The new organization now counts: 6 active, so 4 of 6 are required for the next proposal.
    fees = client.governance.propose_fee_schedule(key("clearing-admin"), "CNY", _china_rules()[:1])
    assert fees.result.ok and fees.proposal_id is not None
    pending = client.governance.proposal(fees.proposal_id)
    assert pending is not None and pending.active_organizations == len(ORGANIZATIONS) + 1
    assert pending.required == 4 and "bank-c" in pending.waiting_for
    # Only the proposer withdraws; a withdrawn proposal is closed for approvals.
    assert not client.governance.withdraw(key("bank-a-admin"), fees.proposal_id).ok
    assert client.governance.withdraw(key("clearing-admin"), fees.proposal_id).ok
    withdrawn = client.governance.proposal(fees.proposal_id)
    assert withdrawn is not None and withdrawn.state == "withdrawn"
    assert client.governance.approve(key("bank-a-admin"), fees.proposal_id).code == (
        "proposal_closed"
    )
    listed = client.governance.list()
    identifiers = [status.proposal.id for status in listed.proposals]
    assert submitted.proposal_id in identifiers and fees.proposal_id in identifiers
    assert listed.next_id == max(identifiers) + 1 and listed.verified
    assert client.governance.proposal(999_999) is None


def test_cli_drives_a_fee_schedule_to_execution(
    network: tuple[Path, NodeProcess], client: Client, tmp_path: Path
) -> None:
    directory, _ = network
    net = ["--network", str(directory)]
    rules = china_2016_config_rules()[:1]
    rules[0]["issuer_fee"]["rate_ppm"] = 3000
    schedule = tmp_path / "schedule.json"
    schedule.write_text(json.dumps({"currency": "CNY", "rules": rules}))
    code, out, err = invoke(
        "tx", "governance", "set-fee-schedule", str(schedule), "--key", "clearing-admin", *net,
        "--json",
    )  # fmt: skip
    assert code == 0, err
    proposed = json.loads(out)
    proposal_id = proposed["proposal_id"]
    # --json decodes the receipt's result (the new id), the raw bytes beside it.
    assert proposed["result"] == proposal_id and proposed["result_hex"] == f"{proposal_id:02x}"
    code, out, err = invoke("tx", "governance", "show", str(proposal_id), *net, "--json")
    assert code == 0, err
    shown = json.loads(out)["proposal"]
    assert shown["kind"] == "call_contract" and shown["state"] == "open"
    assert shown["action"]["method"] == "set_fee_schedule"
    assert shown["quorum"]["approving"] == ["clearing"]
    waiting = shown["quorum"]["waiting_for"]
    assert "bank-a" in waiting and shown["quorum"]["still_needed"] >= 1
    for admin in ("bank-a-admin", "bank-b-admin", "ecfin-admin", "regulator-admin"):
        if json.loads(invoke("tx", "governance", "show", str(proposal_id), *net, "--json")[1])[
            "proposal"
        ]["executed"]:
            break
        code, out, err = invoke(
            "tx", "governance", "approve", str(proposal_id), "--key", admin, *net, "--json"
        )
        assert code == 0, err
        approved = json.loads(out)
        assert approved["result"] is None and approved["result_hex"] == ""
    height = json.loads(invoke("tx", "governance", "show", str(proposal_id), *net, "--json")[1])[
        "proposal"
    ]["created_height"]
    code, out, err = invoke("query", "block", str(height), *net, "--json")
    assert code == 0, err
    receipts = [tx["receipt"] for tx in json.loads(out)["transactions"]]
    assert proposal_id in [receipt["decoded_result"] for receipt in receipts]
    code, out, err = invoke("tx", "governance", "list", *net, "--json")
    assert code == 0, err
    listed = {item["id"]: item for item in json.loads(out)["proposals"]}
    assert listed[proposal_id]["executed"] is True
    assert listed[proposal_id]["quorum"]["still_needed"] == 0
    code, out, err = invoke("tx", "governance", "list", *net)
    assert code == 0 and "call_contract" in out and "executed" in out, err
    code, out, err = invoke("tx", "governance", "show", str(proposal_id), *net)
    assert code == 0 and "set_fee_schedule" in out and "executed at" in out, err
    schedule_now = client.read_struct("payments", b"fee_schedule/CNY", FeeSchedule)
    assert schedule_now is not None and schedule_now.rules[0].issuer_fee.rate_ppm == 3000


def test_an_unknown_proposal_is_refused_and_nothing_is_sent(
    network: tuple[Path, NodeProcess], client: Client
) -> None:
    directory, _ = network
    net = ["--network", str(directory)]
    journal = directory / "journal"
    code, _, err = invoke(
        "tx", "governance", "set-parameter", "proposal_lifetime_blocks", "5000", "--key",
        "bank-a-admin", *net,
    )  # fmt: skip
    assert code == 0, err
    sent_before = sorted(journal.glob("*.tx"))
    assert sent_before, "the CLI journals what it sends"
    for command in ("show", "approve", "withdraw"):
        extra = [] if command == "show" else ["--key", "bank-a-admin"]
        code, _, err = invoke("tx", "governance", command, "999999", *extra, *net)
        assert code == 1 and "unknown_proposal" in err and "999999" in err, err
        assert "Traceback" not in err
    # Nothing was signed or sent: the CLI journals every transaction before sending it.
    assert sorted(journal.glob("*.tx")) == sent_before
    assert client.governance.proposal(999_999) is None


def _china_rules() -> list[FeeRule]:
    from jinqiao.apps.payments.fees import china_2016_rules

    return list(china_2016_rules())


def test_cli_proposes_every_other_kind(
    network: tuple[Path, NodeProcess], client: Client, tmp_path: Path
) -> None:
    directory, _ = network
    net = ["--network", str(directory)]
    admin = ["--key", "clearing-admin", *net, "--json"]
    newcomer = generate_key()
    treasury = load_key(directory / "accounts" / "bank-a-treasury.json").address.hex()
    proposals = {
        "add_organization": (
            "add-organization", "bank-d", "--name", "Bank D", "--role", "card_issuer",
            "--admin-public-key", newcomer.public_key.hex(), "--admin-name", "d-admin",
        ),
        "remove_organization": ("remove-organization", "bank-b"),
        "set_aml_parameter": ("set-parameter", "large_cash_minor", "4000000", "--aml"),
        "deny_party": ("deny-party", "account", treasury, "--reason", "sanctions list"),
        "call_contract": (
            "call-contract", "contracts", "set_paused", "--args-hex", _paused_args("tea"),
        ),
    }  # fmt: skip
    for kind, arguments in proposals.items():
        code, out, err = invoke("tx", "governance", *arguments, *admin)
        assert code == 0, (kind, err, out)
        status = client.governance.proposal(json.loads(out)["proposal_id"])
        assert status is not None and status.kind == kind and status.state == "open"
        assert status.approving == ("clearing",)
    bad_schedule = tmp_path / "bad.json"
    bad_schedule.write_text(json.dumps({"currency": "CNY", "rules": [{"card_type": "debit"}]}))
    for arguments, message in [
        (("add-organization", "x", "--name", "X", "--admin-public-key", "zz", "--admin-name", "a"),
         "--admin-public-key must be hexadecimal"),
        (("call-contract", "payments", "set_fee_schedule", "--args-hex", "no"),
         "--args-hex must be hexadecimal"),
        (("set-fee-schedule", str(bad_schedule)), "fee schedule"),
    ]:  # fmt: skip
        code, _, err = invoke("tx", "governance", *arguments, *admin)
        assert code == 1 and message in err and "Traceback" not in err, err


def _paused_args(contract_name: str) -> str:
    from jinqiao.contracts.lifecycle import SetPausedArgs
    from jinqiao.core.codec import encode

    return encode(SetPausedArgs(contract_name, True)).hex()
