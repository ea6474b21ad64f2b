"""The credit story of the demo (docs/credit.md), on a running network through the SDK: a model
trained, registered and approved by governance; a subject's consent; records from the demo's card
payments and from a bank's loan book; a score with its reasons; a decision; the access log; and
erasure, after which a score is refused.

The pieces (``CreditDesk``, ``approve_model``, ``commit_records``, ``score_with_disclosures``)
are shared with ``jinqiao bench credit`` and the integration tests. Each member's records stay
in its own SQLite store (``jinqiao.credit.CreditStore``): its node's store
(``<home>/private/credit-records.sqlite``) when the desk has the members' node clients
(``node_clients``), and the lender receives them as disclosures that its own node gathers from
the submitters' nodes after its read is logged on chain (docs/credit.md "Disclosure"); without
node clients (a one-node test network) they are read from the stores directly.
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from jinqiao.apps.credit.model import (
    CREDIT,
    BandLimit,
    DecisionPolicy,
    ModelMetrics,
    ModelVersionArgs,
    ScorecardModel,
)
from jinqiao.apps.credit.records import RecordBody
from jinqiao.apps.credit.scoring import Disclosure
from jinqiao.apps.governance import CallContract, ProposalArgs, ProposeArgs
from jinqiao.client import Client, TransactionResult
from jinqiao.client.credit import Scored
from jinqiao.core.codec import decode, encode
from jinqiao.core.crypto import Signer
from jinqiao.credit import CreditStore
from jinqiao.demo import DemoFailed
from jinqiao.execution.identity import GOVERNANCE

DAY_MS = 86_400_000
MAX_APPROVAL_ROUNDS = 64
SETTLE_TIMEOUT_S = 60.0


@dataclass
class CreditDesk:
    """The demo consortium's credit staff and stores: ``custodian`` knows the subjects (records
    their consents), ``submitters`` keep records in their stores, ``lender`` scores."""

    client: Client
    custodian: Signer
    lender: Signer
    lender_organization: str
    admins: list[Signer]
    stores: dict[str, tuple[Signer, CreditStore]] = field(default_factory=dict)
    node_clients: dict[str, Client] = field(default_factory=dict)
    """Each member's client of its own node, authenticated as its credit account: with them the
    lender's disclosures travel node to node."""

    def settle(self, height: int) -> None:
        """Wait until every member's node has committed ``height`` (what it serves is read from
        its own committed state)."""
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        for client in self.node_clients.values():
            while int(client.status()["height"]) < height:
                if time.monotonic() > deadline:
                    raise DemoFailed(f"a member's node did not reach height {height}")
                time.sleep(0.05)


def ok(result: TransactionResult, what: str) -> TransactionResult:
    if not result.ok:
        raise DemoFailed(f"{what} was rejected: {result.code}: {result.receipt.message}")
    return result


def approve_model(client: Client, admins: Sequence[Signer], model_id: str, version: int) -> int:
    """Propose ``credit.approve_model`` and approve it with the other organizations' admins
    until the quorum executes it; the proposal id."""
    action = CallContract(CREDIT, "approve_model", encode(ModelVersionArgs(model_id, version)))
    proposed = ok(client.send(admins[0], GOVERNANCE, "propose", ProposeArgs(action)), "propose")
    proposal_id = decode(proposed.receipt.result, int, max_bytes=16)
    for admin in admins[1:MAX_APPROVAL_ROUNDS]:
        record = client.credit.model(model_id, version)
        if record is not None and record.approved_height:
            return proposal_id
        ok(client.send(admin, GOVERNANCE, "approve", ProposalArgs(proposal_id)), "approve")
    record = client.credit.model(model_id, version)
    if record is None or not record.approved_height:
        raise DemoFailed(f"governance did not approve model {model_id} v{version}")
    return proposal_id


def install_model(
    desk: CreditDesk, model: ScorecardModel, metrics: ModelMetrics
) -> tuple[int, int]:
    """Register the model version (the lender) and have governance approve it: the proposal id
    and the approval height."""
    ok(desk.client.credit.register_model(desk.lender, model, metrics), "register_model")
    proposal_id = approve_model(desk.client, desk.admins, model.model_id, model.version)
    record = desk.client.credit.model(model.model_id, model.version)
    return proposal_id, 0 if record is None else record.approved_height


def policy_for(model: ScorecardModel) -> DecisionPolicy:
    """Approve from the second-best band up with the band's limit; a reduced limit in the middle
    band; decline below it."""
    floors = [band.min_score for band in model.bands]
    approve = floors[-2] if len(floors) >= 2 else floors[-1]
    decline = floors[len(floors) // 2]
    limits = tuple(
        BandLimit(band.name, 10_000_000 * (index + 1) if band.min_score >= approve else 0)
        for index, band in enumerate(model.bands)
    )
    return DecisionPolicy(
        model.model_id, model.version, approve, min(decline, approve), limits, 2_000_000
    )


def commit_records(
    client: Client, submitter: Signer, store: CreditStore, bodies: Sequence[RecordBody]
) -> list[TransactionResult]:
    """Store each body (encrypted under its subject's key) and commit it on chain."""
    results = []
    for body in bodies:
        stored = store.add(body)
        results.append(
            ok(
                client.credit.submit_record(
                    submitter, stored.subject, stored.category, stored.period, stored.commitment
                ),
                "submit_record",
            )
        )
    return results


def disclosures(desk: CreditDesk, subject: bytes, categories: Sequence[str]) -> list[Disclosure]:
    found: list[Disclosure] = []
    for _, store in desk.stores.values():
        found += store.disclose(subject, categories)
    return found


def score_with_disclosures(
    desk: CreditDesk,
    subject: bytes,
    consent_id: int,
    model: ScorecardModel,
    purpose: str = "loan_approval",
) -> Scored:
    """Log the read of the model's categories, take the submitters' disclosures, score and
    record the result's hash."""
    client = desk.node_clients.get(desk.lender_organization, desk.client)
    categories = client.credit.categories_of(model)
    record_categories = tuple(c for c in categories if c != "inquiries")
    read = ok(
        client.credit.read_records(desk.lender, subject, consent_id, purpose, categories),
        "read_records",
    )
    if desk.node_clients:
        desk.settle(read.height)
        sequence = client.credit.access_sequence_of(read)
        opened = client.credit.disclosures(subject, sequence).disclosures
    else:
        opened = disclosures(desk, subject, record_categories)
    return client.credit.score(
        desk.lender, subject, consent_id, purpose, model.model_id, model.version, opened
    )


def demo_consortium_key() -> bytes:
    """The demo's consortium subject key (members share theirs out of band)."""
    return secrets.token_bytes(32)


def loan_book(generator: random.Random, subject: bytes, period: int) -> list[RecordBody]:
    """A bank's loans, repayments and defaults of a subject (synthetic, seeded)."""
    from jinqiao.demo.credit_history import subject_history

    return [
        body
        for body in subject_history(generator, subject, period, risk=0.35)
        if body.category != "payment_activity"
    ]


__all__ = [
    "CreditDesk",
    "approve_model",
    "commit_records",
    "install_model",
    "policy_for",
    "score_with_disclosures",
]
