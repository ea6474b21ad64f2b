"""A little supply-chain, credit and payments state on a real network, and the proven answers
of the applications' routes that read it — for the saved-answer tests and the lying-node suite.

``build_app_state`` commissions two items (one with a lot) and a pallet, packs and ships them,
confirms a receivable backed by an invoice, grants a credit consent, commits a record, logs a
read, registers a model and a policy, and runs a payments cycle up to its positions: about
twenty transactions, sent in rounds of independent ones. ``app_requests`` names one request per
route (found values and proven absences), each with the SDK call that reads and checks it live.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinqiao.apps.credit.model import (
    CREDIT,
    consent_key,
    model_key,
    policy_key,
    record_key,
    score_key,
    subject_key,
)
from jinqiao.apps.payments.model import AuthorizeArgs
from jinqiao.apps.supplychain.identifiers import parse_key
from jinqiao.apps.supplychain.model import INVOICE, Backing, EventFields
from jinqiao.client import Client, TransactionResult
from jinqiao.core.crypto import Signer
from jinqiao.execution.state import full_key
from jinqiao.keys import InsecurePlaintext, load_key
from jinqiao.provision.network import init_network
from jinqiao.provision.presets import demo_spec
from jinqiao.provision.supplychain import BRAND_PREFIX, with_supply_chain
from tests.helpers.credit import METRICS, MODEL, POLICY
from tests.helpers.process import NodeProcess, free_port_base

FUNDS = 10**10
FACE_VALUE = 1_000_000
PAYMENT_MINOR = 12_345
CATEGORIES = ("loans", "repayments")


def _ok(result: TransactionResult) -> TransactionResult:
    assert result.ok, f"{result.code}: {result.receipt.message}"
    return result


@dataclass
class AppState:
    """What ``build_app_state`` recorded: the ids a request names."""

    item: str
    """An SGTIN with a lot, packed in ``pallet`` and shipped (its custody goes through it)."""
    pallet: str
    label: str
    event_hash: bytes
    receivable_id: int
    root_id: int
    invoice: bytes
    subject: bytes
    consent_id: int
    cycle_id: int
    unknown_subject: bytes = bytes(32)
    extra: dict[str, Any] = field(default_factory=dict)


def sgtin(serial: str) -> str:
    return f"urn:epc:id:sgtin:{BRAND_PREFIX}.000001.{serial}"


def _event(number: int) -> EventFields:
    event_hash = hashlib.sha256(f"saved-answer-event-{number}".encode()).digest()
    return EventFields(event_hash, int(time.time() * 1000), "")


def _together(*calls: Callable[[], TransactionResult]) -> list[TransactionResult]:
    """Independent transactions sent at once from threads (they commit in the same blocks: the
    set-up costs a few blocks, not one per transaction), each required to succeed."""
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return [_ok(result) for result in pool.map(lambda call: call(), calls)]


def build_app_state(client: Client, key: Callable[[str], Signer]) -> AppState:
    """The state described in the module docstring; ``key(account name)`` loads a signer."""
    sc, credit, payments = client.supplychain, client.credit, client.payments
    brand, treasury, issuer = key("brand-ops"), key("brand-treasury"), key("clearing-treasury")
    custodian, lender = key("bank-a-credit"), key("ecfin-credit")
    bank, acquirer = key("bank-a-treasury"), key("ecfin-settlement")
    item, pallet = sgtin("SAVED1"), f"urn:epc:id:sscc:{BRAND_PREFIX}.0000000901"
    first = _event(1)
    subject = hashlib.sha256(b"saved-answer-subject").digest()
    expires_ms = credit.head_time_ms() + 30 * 86_400_000
    _, _, _, granted, _, _, _ = _together(
        lambda: client.token.mint(issuer, "CNY", treasury.address, FUNDS),
        lambda: sc.commission(brand, first, [item], "LOT-S"),
        lambda: sc.commission(brand, _event(2), [pallet]),
        lambda: credit.grant_consent(
            custodian, subject, "ecfin", "loan_approval", CATEGORIES, expires_ms
        ),
        lambda: credit.register_model(lender, MODEL, METRICS),
        lambda: payments.register_institution(issuer, "bank-a", ("card_issuer",), bank.address),
        lambda: payments.register_institution(issuer, "ecfin", ("acquirer",), acquirer.address),
    )
    consent_id = credit.consent_id_of(granted)
    commitment = hashlib.sha256(b"saved-answer-record").digest()
    cutoff = int(client.status()["height"]) + 6
    *_, opened = _together(
        lambda: client.token.approve(treasury, "CNY", sc.contract_address, FUNDS),
        lambda: sc.pack(brand, _event(3), pallet, [item]),
        lambda: credit.submit_record(key("bank-b-credit"), subject, "loans", 202605, commitment),
        lambda: credit.set_policy(lender, "saved-loans", POLICY),
        lambda: payments.register_merchant(acquirer, "M0001", "Tea House", "5411"),
        lambda: payments.open_cycle(issuer, "CNY", cutoff_height=cutoff),
    )
    cycle_id = payments.opened_cycle_id(opened)
    invoice = hashlib.sha256(b"saved-answer-invoice").digest()
    due_ms = int(time.time() * 1000) + 90 * 86_400_000
    backing = [Backing(INVOICE, invoice, FACE_VALUE)]
    tier1 = key("tier1-ops").address
    authorization = AuthorizeArgs(
        "SAVED-P1", "bank-a", "ecfin", "M0001", bytes(range(32)), PAYMENT_MINOR, "CNY", "pos",
        "debit", "A1B2C3", 1_700_000_000_000,
    )  # fmt: skip
    confirmed, *_ = _together(
        lambda: sc.confirm(treasury, "CNY", "tier1", tier1, FACE_VALUE, due_ms, backing),
        lambda: sc.ship(brand, _event(4), [pallet], "distributor"),
        lambda: credit.read_records(lender, subject, consent_id, "loan_approval", CATEGORIES),
        lambda: payments.authorize(bank, authorization),
    )
    _ok(payments.capture(acquirer, "SAVED-P1", PAYMENT_MINOR, cycle_id))
    while int(client.status()["height"]) < cutoff:  # a block now, not an empty one in 10 s
        _ok(payments.register_merchant(acquirer, "M0001", "Tea House", "5411"))
    _ok(payments.close_cycle(issuer, cycle_id))
    receivable_id = sc.receivable_id(confirmed)
    receivable = sc.receivable(receivable_id)
    assert receivable is not None
    return AppState(
        item=parse_key(item).canonical,
        pallet=parse_key(pallet).canonical,
        label=sc.label(brand, item),
        event_hash=first.event_hash,
        receivable_id=receivable_id,
        root_id=receivable.root_id,
        invoice=invoice,
        subject=subject,
        consent_id=consent_id,
        cycle_id=cycle_id,
    )


@dataclass
class AppNetwork:
    """A running one-validator network with ``build_app_state``'s state and a token transfer."""

    directory: Path
    node: NodeProcess
    transfer: TransactionResult
    """250 CNY minor units from ``clearing-treasury`` to ``payee``."""
    payee: bytes
    state: AppState


@contextmanager
def app_network(directory: Path) -> Iterator[AppNetwork]:
    """Start a one-validator network with the supply-chain accounts in ``directory``, make the
    state of ``build_app_state`` and a transfer; the node stops on exit."""
    spec = with_supply_chain(demo_spec(validators=1, base_api_port=free_port_base(1)))
    layout = init_network(directory, spec, protection=InsecurePlaintext())
    node = NodeProcess(directory / layout.nodes[0].home).start()
    try:
        with Client(
            node.url, genesis_file=directory / "genesis.json", credentials=node.credentials
        ) as client:
            payer = load_key(directory / layout.account("clearing-treasury").key_file)
            payee = load_key(directory / layout.account("bank-a-treasury").key_file).address
            client.token.mint(payer, "CNY", payer.address, 10**6)
            transfer = client.token.transfer(payer, "CNY", payee, 250)
            assert transfer.ok, transfer.code
            state = build_app_state(
                client, lambda name: load_key(directory / layout.account(name).key_file)
            )
        yield AppNetwork(directory, node, transfer, payee, state)
    finally:
        assert node.stop() == 0, node.log()


@dataclass
class AppRequest:
    """One proven answer of an application route: the request, and the SDK call that reads
    and checks it (``None``: checked only as a saved file)."""

    name: str
    path: str
    params: dict[str, Any]
    call: Callable[[Client], Any] | None
    summary: str
    """How ``jinqiao verify``'s line starts."""


def _credit_read(path: str, key: bytes) -> Callable[[Client], Any]:
    """The SDK's check of a credit route that answers one value (``Client.read_record``)."""
    return lambda c: c.read_record(path, full_key(CREDIT, key))


def app_requests(state: AppState) -> list[AppRequest]:
    subject, unknown = state.subject.hex(), state.unknown_subject.hex()
    who = state.subject
    never = parse_key(sgtin("NEVER")).canonical
    return [
        AppRequest(
            "supply-chain item with custody",
            "/v1/supplychain/items",
            {"id": state.item},
            lambda c: c.supplychain.item(state.item),
            f"item {state.item}: held by brand (top {state.pallet}), in transit to distributor",
        ),
        AppRequest(
            "supply-chain item never commissioned (404 with proof)",
            "/v1/supplychain/items",
            {"id": never},
            lambda c: c.supplychain.item(never),
            f"item {never}: absent (proven)",
        ),
        AppRequest(
            "supply-chain history page",
            "/v1/supplychain/history",
            {"id": state.item, "limit": "2"},
            lambda c: c.supplychain.history_page(state.item, limit=2),
            f"history of {state.item}: events 0 to 2 of 2",
        ),
        AppRequest(
            "EPCIS 2.0 query of an item's events",
            "/v1/epcis/events",
            {"MATCH_anyEPC": state.item, "perPage": "1", "nextPageToken": "1"},
            lambda c: c.supplychain.epcis_events(state.item, start=1, per_page=1),
            f"EPCIS events of {state.item}: 1 to 2 of 2",
        ),
        AppRequest(
            "supply-chain verification of a signed label",
            "/v1/verify",
            {"scan": state.label},
            lambda c: c.supplychain.verify(state.label),
            f"verification of {state.item}: genuine, recomputed",
        ),
        AppRequest(
            "supply-chain event",
            f"/v1/supplychain/events/{state.event_hash.hex()}",
            {},
            lambda c: c.supplychain.event(state.event_hash),
            "event: ",
        ),
        AppRequest(
            "supply-chain recall absent (proven in a 200)",
            "/v1/supplychain/recalls",
            {"gtin": state.item.split("/")[1], "lot": "LOT-S"},
            lambda c: c.supplychain.recall_record(state.item.split("/")[1], "LOT-S"),
            "recall of ",
        ),
        AppRequest(
            "supply-chain receivable",
            f"/v1/supplychain/receivables/{state.receivable_id}",
            {},
            lambda c: c.supplychain.receivable(state.receivable_id),
            "receivable: ",
        ),
        AppRequest(
            "supply-chain root receivable",
            f"/v1/supplychain/roots/{state.root_id}",
            {},
            lambda c: c.supplychain.root(state.root_id),
            "root receivable: ",
        ),
        AppRequest(
            "supply-chain document backing a root",
            f"/v1/supplychain/documents/{state.invoice.hex()}",
            {},
            lambda c: c.supplychain.document(state.invoice),
            f"document {state.invoice.hex()}: ",
        ),
        AppRequest(
            "supply-chain company prefix",
            f"/v1/supplychain/company-prefixes/{BRAND_PREFIX}",
            {},
            lambda c: c.supplychain.company_prefix(BRAND_PREFIX),
            "company prefix: ",
        ),
        AppRequest(
            "credit subject",
            f"/v1/credit/subjects/{subject}",
            {},
            _credit_read(f"/v1/credit/subjects/{subject}", subject_key(who)),
            f"credit subject {subject}: ",
        ),
        AppRequest(
            "credit subject unknown (proven in a 200)",
            f"/v1/credit/subjects/{unknown}",
            {},
            _credit_read(f"/v1/credit/subjects/{unknown}", subject_key(state.unknown_subject)),
            f"credit subject {unknown}: absent (proven)",
        ),
        AppRequest(
            "credit consent",
            f"/v1/credit/subjects/{subject}/consents/{state.consent_id}",
            {},
            _credit_read(
                f"/v1/credit/subjects/{subject}/consents/{state.consent_id}",
                consent_key(who, state.consent_id),
            ),
            f"consent {state.consent_id} of credit subject {subject}: ",
        ),
        AppRequest(
            "credit record commitments page",
            f"/v1/credit/subjects/{subject}/records",
            {},
            lambda c: c.credit.records_page(state.subject),
            f"credit subject {subject}: record commitments 0 to 1",
        ),
        AppRequest(
            "credit access log page",
            f"/v1/credit/subjects/{subject}/access-log",
            {},
            lambda c: c.credit.access_log_page(state.subject),
            f"credit subject {subject}: access log 0 to 1",
        ),
        AppRequest(
            "credit record",
            f"/v1/credit/subjects/{subject}/records/0",
            {},
            _credit_read(f"/v1/credit/subjects/{subject}/records/0", record_key(who, 0)),
            f"record 0 of credit subject {subject}: ",
        ),
        AppRequest(
            "credit score absent (404 with proof)",
            f"/v1/credit/subjects/{subject}/scores/0",
            {},
            _credit_read(f"/v1/credit/subjects/{subject}/scores/0", score_key(who, 0)),
            f"score 0 of credit subject {subject}: absent (proven)",
        ),
        AppRequest(
            "credit model",
            f"/v1/credit/models/{MODEL.model_id}/{MODEL.version}",
            {},
            _credit_read(
                f"/v1/credit/models/{MODEL.model_id}/{MODEL.version}",
                model_key(MODEL.model_id, MODEL.version),
            ),
            f"credit model {MODEL.model_id} version {MODEL.version}: ",
        ),
        AppRequest(
            "credit policy",
            "/v1/credit/policies/ecfin/saved-loans",
            {},
            _credit_read(
                "/v1/credit/policies/ecfin/saved-loans", policy_key("ecfin", "saved-loans")
            ),
            "policy saved-loans of ecfin: ",
        ),
        AppRequest(
            "payments cycle figures",
            f"/v1/payments/cycles/{state.cycle_id}/figures",
            {},
            lambda c: c.payments.proven_figures(state.cycle_id),
            f"figures of cycle {state.cycle_id}: gross ",
        ),
    ]


__all__ = [
    "AppNetwork",
    "AppRequest",
    "AppState",
    "app_network",
    "app_requests",
    "build_app_state",
]
