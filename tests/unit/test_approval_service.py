"""The approval service (docs/keys.md "Second factor", ADR 0043) with real TOTP codes (pyotp),
real SQLite state, a real audit log and a real key: it signs the approving transaction of a
requested approval only after a valid, unused code; every refusal has its stable code, signs
nothing and consumes nothing; wrong codes lock the approver out; attempts are rate-limited."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from typer.testing import CliRunner

from jinqiao.approval import (
    REFUSAL_STATUS,
    ApprovalConfig,
    ApprovalRefused,
    ApprovalService,
    ApprovalStore,
    Limits,
    create_app,
    load_config,
    new_totp_secret,
)
from jinqiao.approval.app import MAX_BODY_BYTES
from jinqiao.approval.factors import TOTP_STEP_S
from jinqiao.apps.registry import ApprovalArgs, ProposeTransactionArgs
from jinqiao.apps.token import TOKEN, TransferArgs
from jinqiao.cli.main import app
from jinqiao.core.codec import encode
from jinqiao.core.errors import InvalidInput
from jinqiao.core.hashing import transaction_hash, transaction_signing_bytes
from jinqiao.core.types import TransactionBody
from jinqiao.execution.identity import REGISTRY
from jinqiao.keys import generate_key
from jinqiao.node.audit import open_audit_log, parse_line, segment_paths

CHAIN = "test-chain"
START_S = 1_800_000_000.0
SENDER = bytes(range(20))
RECIPIENT = bytes(range(20, 40))


class Clock:
    def __init__(self) -> None:
        self.now_s = START_S

    def __call__(self) -> float:
        return self.now_s


class Harness:
    def __init__(self, directory: Path, limits: Limits) -> None:
        self.clock = Clock()
        self.key = generate_key()
        config = ApprovalConfig(
            directory / "key.json", directory, CHAIN, "127.0.0.1", 0, None, None, limits
        )
        self.store = ApprovalStore(directory)
        self.audit_dir = directory
        self.service = ApprovalService(
            config, self.key, self.store, open_audit_log(directory), clock_s=self.clock
        )
        self.secret = new_totp_secret()
        self.store.enroll_totp("alice", self.secret)
        self.nonce = 0

    def code(self, offset_steps: int = 0) -> str:
        at = int(self.clock.now_s) + offset_steps * TOTP_STEP_S
        return str(pyotp.TOTP(self.secret).at(at))

    def body(self, contract: str, method: str, args: bytes, **changes: object) -> TransactionBody:
        self.nonce += 1
        fields: dict[str, object] = {
            "chain_id": CHAIN,
            "sender": SENDER,
            "public_key": bytes(32),
            "nonce": self.nonce,
            "valid_until": 100,
            "contract": contract,
            "method": method,
            "args": args,
        }
        fields.update(changes)
        return TransactionBody(**fields)  # type: ignore[arg-type]

    def proposal(self, amount_minor: int = 150_000_000, **changes: object) -> TransactionBody:
        transfer = encode(TransferArgs("CNY", RECIPIENT, amount_minor))
        args = encode(ProposeTransactionArgs(TOKEN, "transfer", transfer, 50))
        return self.body(REGISTRY, "propose_transaction", args, **changes)

    def approving(self, proposal: TransactionBody, **changes: object) -> TransactionBody:
        approval_hash = transaction_hash(self.key.suite, proposal)
        fields: dict[str, object] = {"public_key": self.key.public_key}
        fields.update(changes)
        return self.body(
            REGISTRY, "approve_transaction", encode(ApprovalArgs(approval_hash)), **fields
        )

    def requested(self, **changes: object) -> tuple[bytes, TransactionBody]:
        proposal = self.proposal(**changes)
        answer = self.service.request(encode(proposal))
        return bytes.fromhex(answer["approval_hash"]), self.approving(proposal)

    def approve(
        self, approval_hash: bytes, code: str, approving: TransactionBody
    ) -> dict[str, object]:
        return self.service.approve(approval_hash, "alice", code, encode(approving))

    def refused(
        self, approval_hash: bytes, code: str, approving: TransactionBody
    ) -> ApprovalRefused:
        with pytest.raises(ApprovalRefused) as refused:
            self.approve(approval_hash, code, approving)
        return refused.value

    def audit(self) -> list[tuple[str, str, int]]:
        records = []
        for path in segment_paths(self.audit_dir / "audit"):
            for line in path.read_bytes().splitlines():
                record = parse_line(line)
                records.append((record.method, record.route, record.status))
        return records


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    made = Harness(tmp_path, Limits(max_failures=3, lockout_s=60))
    yield made
    made.store.close()


def test_request_shows_what_the_transaction_does(harness: Harness) -> None:
    proposal = harness.proposal(amount_minor=150_000_000)
    answer = harness.service.request(encode(proposal))
    summary = answer["summary"]
    assert answer["approval_hash"] == transaction_hash(harness.key.suite, proposal).hex()
    assert summary["sender"] == SENDER.hex()
    assert (summary["contract"], summary["method"]) == (TOKEN, "transfer")
    assert (summary["asset"], summary["amount_minor"]) == ("CNY", 150_000_000)
    assert summary["recipient"] == RECIPIENT.hex()
    assert answer["expires_at_s"] == START_S + Limits().approval_ttl_s


def test_a_valid_code_signs_the_approving_transaction_and_is_logged(harness: Harness) -> None:
    approval_hash, approving = harness.requested()
    answer = harness.approve(approval_hash, harness.code(), approving)
    signature = bytes.fromhex(str(answer["signature"]))
    assert harness.key.suite.verify(
        harness.key.public_key, transaction_signing_bytes(approving), signature
    )
    methods = [method for method, _route, _status in harness.audit()]
    assert methods == ["REQUEST", "APPROVE"]
    assert harness.code() not in "".join(route for _m, route, _s in harness.audit())


def test_a_code_is_used_once(harness: Harness) -> None:
    first_hash, first = harness.requested()
    code = harness.code()
    harness.approve(first_hash, code, first)
    second_hash, second = harness.requested()
    assert harness.refused(second_hash, code, second).code == "code_replayed"
    assert harness.refused(first_hash, code, first).code == "already_approved"
    harness.clock.now_s += TOTP_STEP_S
    assert harness.approve(second_hash, harness.code(), second)["approver"] == "alice"


def test_wrong_codes_lock_the_approver_out(harness: Harness) -> None:
    approval_hash, approving = harness.requested()
    good = harness.code()
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    assert harness.refused(approval_hash, wrong, approving).code == "code_invalid"
    assert harness.refused(approval_hash, "12ab56", approving).code == "code_invalid"
    locking = harness.refused(approval_hash, wrong, approving)
    assert (locking.code, locking.details.get("locked_out")) == ("code_invalid", True)
    assert harness.refused(approval_hash, good, approving).code == "approver_locked"
    harness.clock.now_s += 61
    assert harness.approve(approval_hash, harness.code(), approving)["approver"] == "alice"
    statuses = [(method, status) for method, _route, status in harness.audit()]
    assert statuses.count(("REFUSE", 401)) == 3 and ("REFUSE", 423) in statuses


def test_attempts_are_rate_limited(tmp_path: Path) -> None:
    harness = Harness(tmp_path, Limits(max_failures=20, max_attempts_per_minute=2))
    approval_hash, approving = harness.requested()
    wrong = f"{(int(harness.code()) + 1) % 1_000_000:06d}"
    for _ in range(2):
        assert harness.refused(approval_hash, wrong, approving).code == "code_invalid"
    assert harness.refused(approval_hash, harness.code(), approving).code == "rate_limited"
    harness.clock.now_s += 61
    assert harness.approve(approval_hash, harness.code(), approving)["approver"] == "alice"
    harness.store.close()


def test_a_code_older_than_the_request_is_refused(harness: Harness) -> None:
    old = harness.code()
    harness.clock.now_s += 3 * TOTP_STEP_S
    approval_hash, approving = harness.requested()
    assert harness.refused(approval_hash, old, approving).code == "code_expired"


def test_the_service_signs_only_the_approval_of_what_was_shown(harness: Harness) -> None:
    proposal = harness.proposal()
    approval_hash = bytes.fromhex(harness.service.request(encode(proposal))["approval_hash"])
    other = harness.proposal(amount_minor=1)
    harness.service.request(encode(other))
    code = harness.code()
    for wrong in (
        harness.approving(other),  # another pending approval
        harness.approving(proposal, sender=RECIPIENT),  # another account
        harness.approving(proposal, public_key=bytes(32)),  # not the service's key
        harness.body(TOKEN, "transfer", encode(TransferArgs("CNY", RECIPIENT, 1))),
    ):
        assert harness.refused(approval_hash, code, wrong).code == "wrong_transaction"
    # nothing was consumed: the same code still approves the right transaction
    assert harness.approve(approval_hash, code, harness.approving(proposal))["approver"] == "alice"


def test_requests_it_cannot_show_are_refused(harness: Harness) -> None:
    service = harness.service
    cases = {
        "not_a_proposal": encode(
            harness.body(TOKEN, "transfer", encode(TransferArgs("CNY", RECIPIENT, 1)))
        ),
        "wrong_chain": encode(harness.proposal(chain_id="other-chain")),
        "malformed_transaction": b"\x93\x01\x02",
        "unknown_method": encode(
            harness.body(
                REGISTRY,
                "propose_transaction",
                encode(ProposeTransactionArgs(TOKEN, "no_such_method", b"", 50)),
            )
        ),
    }
    for code, raw in cases.items():
        with pytest.raises(ApprovalRefused) as refused:
            service.request(raw)
        assert refused.value.code == code
    with pytest.raises(ApprovalRefused) as refused:
        harness.approve(bytes(32), harness.code(), harness.approving(harness.proposal()))
    assert refused.value.code == "approval_not_found"
    with pytest.raises(ApprovalRefused) as refused:
        service.approve(bytes(32), "mallory", harness.code(), b"")
    assert refused.value.code == "unknown_approver"


def test_an_approval_request_expires(harness: Harness) -> None:
    approval_hash, approving = harness.requested()
    harness.clock.now_s += Limits().approval_ttl_s + 1
    assert harness.refused(approval_hash, harness.code(), approving).code == "approval_expired"


async def _http_exchanges(harness: Harness) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=create_app(harness.service))
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as http:
        answers = [await http.get("/v1/service")]
        proposal = harness.proposal()
        created = await http.post("/v1/approvals", json={"transaction": encode(proposal).hex()})
        answers.append(created)
        path = f"/v1/approvals/{created.json()['approval_hash']}/approve"
        approving = encode(harness.approving(proposal)).hex()
        request: dict[str, Any] = {"approver": "alice", "transaction": approving}
        good = harness.code()
        wrong = f"{(int(good) + 1) % 1_000_000:06d}"
        answers.append(await http.post(path, json={**request, "totp": wrong}))
        answers.append(await http.post(path, json={**request, "totp": good}))
        answers.append(await http.post(path, json={"approver": "alice", "totp": "1", "x": 1}))
        answers.append(await http.post("/v1/approvals/xyz/approve", json={}))
        return answers


def test_the_http_api_answers_codes_and_signatures(harness: Harness) -> None:
    info, created, wrong, good, malformed, bad_hash = asyncio.run(_http_exchanges(harness))
    assert info.json()["public_key"] == harness.key.public_key.hex()
    assert created.status_code == 201
    assert (wrong.status_code, wrong.json()["code"]) == (401, "code_invalid")
    assert good.status_code == 200 and len(bytes.fromhex(good.json()["signature"])) == 64
    assert (malformed.status_code, malformed.json()["code"]) == (400, "invalid_request")
    assert (bad_hash.status_code, bad_hash.json()["code"]) == (400, "invalid_request")


def test_a_config_cannot_switch_the_protection_off(tmp_path: Path) -> None:
    path = tmp_path / "approval.toml"
    path.write_text(
        'key = "key.json"\nstate_dir = "state"\nchain_id = "c"\n[limits]\nmax_failures = 0\n'
    )
    with pytest.raises(InvalidInput, match=r"limits\.max_failures=0 is out of range"):
        load_config(path)
    path.write_text('key = "key.json"\nstate_dir = "state"\nchain_id = "c"\n')
    config = load_config(path)
    assert (config.key, config.state_dir) == (tmp_path / "key.json", tmp_path / "state")


def test_an_expired_request_can_be_asked_again(harness: Harness) -> None:
    proposal = harness.proposal()
    harness.service.request(encode(proposal))
    harness.clock.now_s += Limits().approval_ttl_s + 1
    again = harness.service.request(encode(proposal))
    assert again["expires_at_s"] == harness.clock.now_s + Limits().approval_ttl_s
    approval_hash = bytes.fromhex(again["approval_hash"])
    assert harness.approve(approval_hash, harness.code(), harness.approving(proposal))["approver"]


def test_every_refusal_code_is_documented_with_its_status() -> None:
    errors = (Path(__file__).resolve().parents[2] / "docs" / "errors.md").read_text()
    section = errors.split("## Approval service", 1)[1]
    for code, status in {**REFUSAL_STATUS, "invalid_request": 400}.items():
        assert f"| `{code}` | {status} |" in section, code


def test_enroll_refuses_bad_input_and_writes_nothing(tmp_path: Path) -> None:
    config = tmp_path / "approval.toml"
    config.write_text('key = "key.json"\nstate_dir = "state"\nchain_id = "c"\n')
    result = CliRunner().invoke(app, ["approval", "enroll", "al ice", "--config", str(config)])
    assert result.exit_code == 1 and "without spaces" in result.stderr
    assert not (tmp_path / "state").exists()
    result = CliRunner().invoke(app, ["approval", "enroll", "alice", "--config", str(config)])
    assert result.exit_code == 0 and "otpauth://totp/" in result.stdout
    store = ApprovalStore(tmp_path / "state")
    assert [approver.name for approver in store.approvers()] == ["alice"]
    store.close()


async def _bodies_without_length(harness: Harness) -> list[httpx.Response]:
    """Bodies sent in pieces with no Content-Length (as a chunked upload is): one within the
    limit, one over it, and one whose Content-Length alone is over it."""

    async def pieces(body: bytes, size: int) -> AsyncIterator[bytes]:
        for start in range(0, len(body), size):
            yield body[start : start + size]

    transport = httpx.ASGITransport(app=create_app(harness.service))
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as http:
        good = json.dumps({"transaction": encode(harness.proposal()).hex()}).encode()
        as_json = {"Content-Type": "application/json"}
        within = await http.post("/v1/approvals", content=pieces(good, 100), headers=as_json)
        huge = b'{"transaction": "' + b"00" * MAX_BODY_BYTES + b'"}'
        over = await http.post("/v1/approvals", content=pieces(huge, 64 * 1024), headers=as_json)
        declared = await http.post(
            "/v1/approvals", content=b"{}", headers={"Content-Length": str(MAX_BODY_BYTES + 1)}
        )
        return [within, over, declared]


def test_a_body_over_the_limit_is_refused_even_without_its_length(harness: Harness) -> None:
    within, over, declared = asyncio.run(_bodies_without_length(harness))
    assert within.status_code == 201, within.text
    assert (over.status_code, over.json()["code"]) == (413, "request_too_large")
    assert (declared.status_code, declared.json()["code"]) == (413, "request_too_large")
