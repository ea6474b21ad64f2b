"""A stranger's verifier against a real node: ``tests/helpers/doc_verifier.py`` knows only
docs/proofs.md (stdlib, PyNaCl, its own decoder), trusts only the genesis file, and checks every
answer the documents cover — blocks from genesis on, transaction lookups, accounts, balances,
assets and supply, organizations, parameters, payments records, cycles and positions, and a
validator-set change followed by the two-heights rule — while altered copies are refused.

The SDK only drives the node here (it signs and sends); every check is the document's."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from jinqiao.apps.governance import ProposalArgs, ProposeArgs, SetValidatorPower
from jinqiao.apps.payments.model import AuthorizeArgs
from jinqiao.client import Client, TransactionResult
from jinqiao.core.codec import decode
from jinqiao.core.crypto import Signer
from jinqiao.execution.identity import GOVERNANCE
from jinqiao.keys import load_key
from jinqiao.provision.network import NetworkLayout
from tests.helpers import doc_examples
from tests.helpers import doc_verifier as doc
from tests.helpers.process import NodeProcess, make_network

pytestmark = pytest.mark.e2e

AMOUNT = 100_000
VALIDATORS_KEY_HEX = b"validators".hex()
PENDING_KEY_HEX = b"pending_validators".hex()


@dataclass
class Run:
    directory: Path
    layout: NetworkLayout
    node: NodeProcess
    client: Client
    trust: doc.Trust
    transfer: TransactionResult
    mint: TransactionResult
    cycle_id: int
    decided_at: int

    def key(self, name: str) -> Signer:
        return load_key(self.directory / self.layout.account(name).key_file)

    def get(self, path: str, **params: Any) -> Any:
        answer = self.node.http.get(f"{self.node.url}{path}", params=params, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()


def _ok(result: TransactionResult) -> TransactionResult:
    assert result.ok, f"{result.code}: {result.receipt.message}"
    return result


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    directory = tmp_path_factory.mktemp("stranger")
    layout = make_network(directory)
    node = NodeProcess(directory / layout.nodes[0].home).start()
    client = Client(node.url, credentials=node.credentials, genesis_file=directory / "genesis.json")
    try:
        genesis_json = node.http.get(f"{node.url}/v1/genesis", timeout=10).content
        trust = doc.Trust.from_genesis(genesis_json)
        yield _drive(directory, layout, node, client, trust)
    finally:
        client.close()
        assert node.stop() == 0, node.log()


def _drive(
    directory: Path, layout: NetworkLayout, node: NodeProcess, client: Client, trust: doc.Trust
) -> Run:
    """Token moves, a payments cycle up to its positions, then a validator-power change."""
    run = Run(directory, layout, node, client, trust, None, None, 0, 0)  # type: ignore[arg-type]
    clearing, bank, acquirer = (
        run.key("clearing-treasury"),
        run.key("bank-a-treasury"),
        run.key("ecfin-settlement"),
    )
    run.mint = _ok(client.token.mint(clearing, "CNY", bank.address, 10**8))
    _ok(client.token.mint(clearing, "CNY", acquirer.address, 10**8))
    run.transfer = _ok(client.token.transfer(bank, "CNY", acquirer.address, 250))
    payments = client.payments
    _ok(payments.register_institution(clearing, "bank-a", ("card_issuer",), bank.address))
    _ok(payments.register_institution(clearing, "ecfin", ("acquirer",), acquirer.address))
    _ok(payments.register_merchant(acquirer, "M0001", "Tea House", "5411"))
    height = int(client.status()["height"])
    opened = _ok(payments.open_cycle(clearing, "CNY", cutoff_height=height + 6))
    run.cycle_id = payments.opened_cycle_id(opened)
    authorization = AuthorizeArgs(
        "P1", "bank-a", "ecfin", "M0001", bytes(range(32)), AMOUNT, "CNY", "pos", "debit",
        "A1B2C3", 1_700_000_000_000,
    )  # fmt: skip
    _ok(payments.authorize(bank, authorization))
    _ok(payments.capture(acquirer, "P1", AMOUNT, run.cycle_id))
    while int(client.status()["height"]) < height + 6:
        _ok(payments.register_merchant(acquirer, "M0001", "Tea House", "5411"))
    _ok(payments.close_cycle(clearing, run.cycle_id))
    validator = trust.set_for(1)["validators"][0]
    admins = [run.key(f"{org}-admin") for org in ("clearing", "ecfin", "bank-a", "bank-b")]
    proposed = _ok(
        client.send(
            admins[0],
            GOVERNANCE,
            "propose",
            ProposeArgs(SetValidatorPower(validator["address"], 3)),
        )
    )
    proposal_id = decode(proposed.receipt.result, int, max_bytes=16)
    approvals = [
        _ok(client.send(admin, GOVERNANCE, "approve", ProposalArgs(proposal_id)))
        for admin in admins[1:]
    ]
    run.decided_at = approvals[-1].height
    while int(client.status()["height"]) < run.decided_at + 3:
        _ok(client.token.transfer(bank, "CNY", acquirer.address, 1))
    # The reads below are at the head, certified by the new set: follow it as §3.3 says.
    for change in run.get("/v1/validators/changes")["changes"]:
        trust.follow(bytes.fromhex(change["proof"]))
    return run


def _genesis_trust(run: Run) -> doc.Trust:
    return doc.Trust.from_genesis(
        run.node.http.get(f"{run.node.url}/v1/genesis", timeout=10).content
    )


def _json_of(value: Any) -> Any:
    """A decoded record as the API's JSON shows it (bytes as hex, records as objects)."""
    if isinstance(value, dict):
        return {key: _json_of(item) for key, item in value.items() if key != "_record"}
    if isinstance(value, list):
        return [_json_of(item) for item in value]
    return value.hex() if isinstance(value, bytes) else value


def _block(run: Run, height: int) -> tuple[dict[str, Any], dict[str, Any]]:
    answer = run.get(f"/v1/blocks/{height}")
    header = doc.decode_as(bytes.fromhex(answer["header_bytes"]), "BlockHeader")
    certificate = doc.decode_as(bytes.fromhex(answer["certificate_bytes"]), "CommitCertificate")
    return header, certificate


# ------------------------------------------------------------------------------------------------
# Item 1 and 4: from genesis, block by block, following the validator set


def test_the_genesis_hash_and_the_first_block(run: Run) -> None:
    assert run.trust.genesis_hash.hex() == run.get("/v1/status")["genesis_hash"]
    header, certificate = _block(run, 1)
    run.trust.check_header(header, certificate)
    assert header["previous_block_hash"] == run.trust.genesis_hash
    genesis = run.get("/v1/genesis")
    assert header["time_ms"] > genesis["genesis_time_ms"]


def test_every_block_chains_and_the_set_follows_the_two_heights_rule(run: Run) -> None:
    head = run.get("/v1/blocks/latest")["header"]["height"]
    changes = run.get("/v1/validators/changes")["changes"]
    assert [change["height"] for change in changes] == [run.decided_at + 1]
    trust = _genesis_trust(run)
    for change in changes:
        trust.follow(bytes.fromhex(change["proof"]))
    previous = None
    for height in range(1, head + 1):
        header, certificate = _block(run, height)
        trust.check_header(header, certificate)
        if previous is not None:
            assert header["previous_block_hash"] == doc.header_hash(previous)
            assert header["validators_hash"] == previous["next_validators_hash"]
            assert header["time_ms"] > previous["time_ms"]
        previous = header
    # The first block of the new set is refused under the old one.
    new_header, new_certificate = _block(run, run.decided_at + 2)
    with pytest.raises(doc.Refused, match="validators_hash"):
        doc.verify_certificate(trust.chain_id, trust.sets[0][1], new_header, new_certificate)


def test_the_validator_change_table_holds_at_the_deciding_height(run: Run) -> None:
    rows = doc_examples.validator_change_rows()
    trust = _genesis_trust(run)
    old = doc.validator_set_hash(trust.set_for(1))
    for offset, row in rows.items():
        height = run.decided_at + offset
        header, certificate = _block(run, height)
        read = run.get(f"/v1/state/governance/{VALIDATORS_KEY_HEX}", height=height)
        in_state = doc.verify_read(
            trust, bytes.fromhex(read["proof"]), "governance/validators", height=height
        ).value
        if offset == 1:
            trust.follow(bytes.fromhex(read["proof"]))
        trust.check_header(header, certificate)
        new = doc.validator_set_hash(trust.sets[-1][1]) if len(trust.sets) > 1 else None
        names = {"old": old, "new": new}
        assert header["validators_hash"] == names[row["validators_hash"]], row
        assert header["next_validators_hash"] == names[row["next_validators_hash"]], row
        state_word = row["state"].split()[0]
        if state_word == "new" and new is None:
            continue  # checked once the new set is known (offset 1 on)
        assert doc.validator_set_hash(in_state) == names[state_word], row
        pending = run.get(f"/v1/state/governance/{PENDING_KEY_HEX}", height=height)
        pending_value = doc.verify_read(
            trust,
            bytes.fromhex(pending["proof"]),
            "governance/pending_validators",
            height=height,
        ).value
        if "pending_validators" in row["state"]:
            assert pending_value is not None
            assert pending_value["effective_height"] == run.decided_at + 2
        else:
            assert pending_value is None
    assert new is not None and new != old


# ------------------------------------------------------------------------------------------------
# Item 2: a transaction lookup tied to the hash asked for


def _lookup_answer(run: Run, result: TransactionResult) -> dict[str, Any]:
    return run.get(f"/v1/transactions/{result.transaction_hash}")


def test_a_transaction_lookup_proves_the_transaction_and_its_receipt(run: Run) -> None:
    answer = _lookup_answer(run, run.transfer)
    asked = bytes.fromhex(run.transfer.transaction_hash)
    lookup = doc.verify_lookup(
        run.trust,
        asked,
        bytes.fromhex(answer["transaction_proof"]),
        bytes.fromhex(answer["receipt_proof"]),
    )
    assert (lookup.height, lookup.index) == (answer["height"], answer["index"])
    receipt = lookup.receipt
    assert (receipt["status"], receipt["code"], receipt["message"]) == (0, "ok", "")
    assert receipt["result"] == b""
    [event] = receipt["events"]
    assert (event["contract"], event["name"]) == ("token", "Transfer")
    attributes = dict((key, value) for key, value in event["attributes"])
    assert attributes["amount_minor"] == 250
    assert [key for key, _ in event["attributes"]] == sorted(attributes)
    assert answer["receipt"]["steps_used"] == receipt["steps_used"]
    assert lookup.transaction["body"]["method"] == "transfer"


def test_altered_lookups_are_refused(run: Run) -> None:
    answer = _lookup_answer(run, run.transfer)
    other = _lookup_answer(run, run.mint)
    asked = bytes.fromhex(run.transfer.transaction_hash)
    transaction_proof = bytes.fromhex(answer["transaction_proof"])
    receipt_proof = bytes.fromhex(answer["receipt_proof"])
    with pytest.raises(doc.Refused):  # another transaction's receipt
        doc.verify_lookup(
            run.trust, asked, transaction_proof, bytes.fromhex(other["receipt_proof"])
        )
    with pytest.raises(doc.Refused):  # the proofs of another transaction
        doc.verify_lookup(
            run.trust,
            asked,
            bytes.fromhex(other["transaction_proof"]),
            bytes.fromhex(other["receipt_proof"]),
        )
    with pytest.raises(doc.Refused):  # a flipped byte in the receipt leaf
        tampered = bytearray(receipt_proof)
        tampered[-40] ^= 1
        doc.verify_lookup(run.trust, asked, transaction_proof, bytes(tampered))


# ------------------------------------------------------------------------------------------------
# Item 3: state reads, each key built from the document and each value decoded by it


def _balance(run: Run, address: bytes) -> tuple[dict[str, Any], doc.ProvenRead]:
    answer = run.get(f"/v1/token/CNY/balances/{address.hex()}")
    proof = bytes.fromhex(answer["proof"])
    template = "token/balance/<asset>/<address>"
    return answer, doc.verify_read(run.trust, proof, template, asset="CNY", address=address)


def test_accounts_balances_assets_and_supply(run: Run) -> None:
    bank = run.key("bank-a-treasury").address
    answer = run.get(f"/v1/accounts/{bank.hex()}")
    account = doc.verify_read(
        run.trust, bytes.fromhex(answer["proof"]), "registry/account/<address>", address=bank
    ).value
    assert _json_of(account) == answer["account"]
    balance, proven = _balance(run, bank)
    holding = proven.value
    assert holding["balance_minor"] == balance["balance_minor"] > 0
    assert (holding["tier"], holding["frozen"]) == (balance["tier"], balance["frozen"])
    empty, absent = _balance(run, bytes([0x42]) * 20)
    assert absent.value is None and empty["balance_minor"] == 0
    asset = run.get("/v1/token/CNY")
    definition = doc.verify_read(
        run.trust, bytes.fromhex(asset["asset_proof"]), "token/asset/<asset>", asset="CNY"
    ).value
    assert _json_of(definition) == asset["asset"]
    supply = doc.verify_read(
        run.trust, bytes.fromhex(asset["supply_proof"]), "token/supply/<asset>", asset="CNY"
    ).value
    assert supply == asset["supply_minor"] == 2 * 10**8


def test_organizations_and_parameters(run: Run) -> None:
    key = b"organization/clearing".hex()
    answer = run.get(f"/v1/state/registry/{key}")
    organization = doc.verify_read(
        run.trust, bytes.fromhex(answer["proof"]), "registry/organization/<id>", id="clearing"
    ).value
    assert (organization["id"], organization["active"]) == ("clearing", True)
    answer = run.get(f"/v1/state/governance/{b'parameters'.hex()}")
    parameters = doc.verify_read(
        run.trust, bytes.fromhex(answer["proof"]), "governance/parameters"
    ).value
    genesis_parameters = run.get("/v1/genesis").get("parameters", {})
    expected = {**doc.PARAMETER_DEFAULTS, **genesis_parameters}
    assert _json_of(parameters) == expected


def test_payments_records_cycles_and_positions(run: Run) -> None:
    cycle = run.cycle_id
    reads: list[tuple[str, str, str, dict[str, Any]]] = [
        ("/v1/payments/institutions/bank-a", "institution", "payments/institution/<id>",
         {"id": "bank-a"}),
        ("/v1/payments/payments/P1", "payment", "payments/payment/<payment_id>",
         {"payment_id": "P1"}),
        (f"/v1/payments/cycles/{cycle}", "cycle", "payments/cycle/<cycle>", {"cycle": cycle}),
        (f"/v1/payments/cycles/{cycle}/totals", "totals", "payments/cycle/<cycle>/totals",
         {"cycle": cycle}),
        (f"/v1/payments/cycles/{cycle}/positions/bank-a", "position",
         "payments/cycle/<cycle>/position/<id>", {"cycle": cycle, "id": "bank-a"}),
        (f"/v1/payments/cycles/{cycle}/institutions/ecfin", "totals",
         "payments/cycle/<cycle>/institution/<id>", {"cycle": cycle, "id": "ecfin"}),
        (f"/v1/payments/cycles/{cycle}/flows/bank-a/ecfin", "flow",
         "payments/cycle/<cycle>/flow/<issuer>/<acquirer>",
         {"cycle": cycle, "issuer": "bank-a", "acquirer": "ecfin"}),
        (f"/v1/payments/cycles/{cycle}/entries/bank-a/0", "entry",
         "payments/cycle/<cycle>/entry/<id>/<seq>", {"cycle": cycle, "id": "bank-a", "seq": 0}),
    ]  # fmt: skip
    for path, name, template, values in reads:
        answer = run.get(path)
        record = doc.verify_read(run.trust, bytes.fromhex(answer["proof"]), template, **values)
        assert record.height == answer["height"], path
        assert _json_of(record.value) == answer[name], path
    position = run.get(f"/v1/payments/cycles/{cycle}/positions/bank-a")["position"]
    assert position["net_minor"] < 0 < position["debit_minor"]
    figures = run.get(f"/v1/payments/cycles/{cycle}/figures")
    proofs = figures["proofs"]
    doc.verify_read(
        run.trust, bytes.fromhex(proofs["cycle"]), "payments/cycle/<cycle>", cycle=cycle
    )
    participants = doc.verify_read(
        run.trust,
        bytes.fromhex(proofs["participants"]),
        "payments/cycle/<cycle>/participants",
        cycle=cycle,
    ).value
    assert participants == sorted(proofs["positions"])
    assert {"bank-a", "ecfin"} <= set(participants)
    for member, proof in proofs["positions"].items():
        read = doc.verify_read(
            run.trust,
            bytes.fromhex(proof),
            "payments/cycle/<cycle>/position/<id>",
            cycle=cycle,
            id=member,
        )
        assert read.value["institution"] == member


def test_altered_state_answers_are_refused(run: Run) -> None:
    bank = run.key("bank-a-treasury").address
    proof = bytes.fromhex(run.get(f"/v1/accounts/{bank.hex()}")["proof"])
    with pytest.raises(doc.Refused, match="validators_hash"):  # the change was not followed
        doc.verify_read(_genesis_trust(run), proof, "registry/account/<address>", address=bank)
    with pytest.raises(doc.Refused, match="key"):  # a proof of another key than asked
        doc.verify_read(run.trust, proof, "registry/account/<address>", address=bytes([0x42]) * 20)
    with pytest.raises(doc.Refused):  # the value altered (its last byte, the active flag)
        record = doc.decode(proof)
        record[3] = record[3][:-1] + (b"\xc2" if record[3][-1:] == b"\xc3" else b"\xc3")
        doc.verify_read(run.trust, doc.encode(record), "registry/account/<address>", address=bank)
    with pytest.raises(doc.Refused):  # the header's state root altered
        record = doc.decode(proof)
        record[0][6] = bytes(32)
        doc.verify_read(run.trust, doc.encode(record), "registry/account/<address>", address=bank)
    with pytest.raises(doc.Refused, match="height"):
        doc.verify_read(run.trust, proof, "registry/account/<address>", height=1, address=bank)
