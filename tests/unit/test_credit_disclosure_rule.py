"""Who a node discloses credit records to (``node.credit_disclosure.disclosure_entitlement``):
only the reader a committed ``records`` access entry names, while the consent it names is live at
the head; an erased subject is nobody's. The committed state is a dict of encoded values. And
the follower that erases the node's store on ``SubjectErased`` (``follow_erasures``)."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest

from jinqiao.apps.credit.model import (
    CREDIT,
    Access,
    Consent,
    Erasure,
    Subject,
    access_key,
    consent_key,
    subject_key,
)
from jinqiao.apps.credit.records import RecordBody
from jinqiao.apps.credit.scoring import Disclosure
from jinqiao.core.codec import encode
from jinqiao.core.errors import InvalidInput, NodeFault
from jinqiao.core.types import CommittedBlock, Event, Receipt, ReceiptStatus
from jinqiao.credit import CreditStore
from jinqiao.demo.credit import loan_book
from jinqiao.execution.state import full_key
from jinqiao.node.credit_disclosure import (
    MAX_DISCLOSURE_BYTES,
    MAX_DISCLOSURES,
    access_categories,
    disclosure_entitlement,
    disclosures_from_json,
    disclosures_json,
    follow_erasures,
)

WHO = bytes(range(32))
NOW_MS = 1_800_000_000_000
CATEGORIES = ("loans", "repayments")


def _state(
    *, kind: str = "records", reader: str = "ecfin", revoked: int = 0, expires: int = NOW_MS + 1
) -> dict[bytes, bytes]:
    subject = Subject(WHO, 1, 4, 1, 0, ("bank-a",), None)
    consent = Consent(
        0, "bank-a", "ecfin", "loan_approval", CATEGORIES, 5, NOW_MS - 10, expires, revoked
    )
    access = Access(0, kind, reader, b"\x01" * 20, 0, "loan_approval", CATEGORIES, 6, NOW_MS - 5)
    return {
        full_key(CREDIT, subject_key(WHO)): encode(subject),
        full_key(CREDIT, consent_key(WHO, 0)): encode(consent),
        full_key(CREDIT, access_key(WHO, 0)): encode(access),
    }


def test_the_reader_of_a_records_entry_with_live_consent_is_disclosed_its_categories() -> None:
    state = _state()
    entitled = disclosure_entitlement(state.get, WHO, 0, "ecfin", NOW_MS)
    assert entitled.access is not None and entitled.access.categories == CATEGORIES
    assert access_categories(state.get, WHO, 0) == CATEGORIES


@pytest.mark.parametrize(
    ("state", "organization", "sequence", "reason"),
    [
        (_state(), "bank-b", 0, "not a read of records by bank-b"),
        (_state(), "regulator", 0, "not a read of records by regulator"),
        (_state(kind="score"), "ecfin", 0, "not a read of records"),
        (_state(), "ecfin", 1, "no access entry 1"),
        (_state(revoked=9), "ecfin", 0, "was revoked"),
        (_state(expires=NOW_MS), "ecfin", 0, "has expired"),
        ({}, "ecfin", 0, "no such subject"),
    ],
)
def test_anyone_else_is_refused_with_the_reason(
    state: dict[bytes, bytes], organization: str, sequence: int, reason: str
) -> None:
    entitled = disclosure_entitlement(state.get, WHO, sequence, organization, NOW_MS)
    assert entitled.access is None and not entitled.erased
    assert reason in entitled.reason


def test_an_erased_subject_is_nobodys() -> None:
    state = _state()
    key = full_key(CREDIT, subject_key(WHO))
    erased = Subject(WHO, 1, 4, 1, 0, ("bank-a",), Erasure("bank-a", 9, NOW_MS))
    state[key] = encode(erased)
    assert disclosure_entitlement(state.get, WHO, 0, "ecfin", NOW_MS).erased
    assert access_categories(state.get, WHO, 0) is None


def _block(*subjects: bytes, rejected: bool = False) -> CommittedBlock:
    """A stand-in for a committed block: only its receipts are read."""
    events = tuple(
        Event(CREDIT, "SubjectErased", (("by", "bank-a"), ("subject", subject.hex())))
        for subject in subjects
    )
    status = ReceiptStatus.REJECTED if rejected else ReceiptStatus.OK
    receipt = Receipt(b"\x00" * 32, int(status), "ok", "", events, 0, b"")
    return cast(CommittedBlock, SimpleNamespace(receipts=(receipt,)))


def _body(subject: bytes) -> RecordBody:
    return loan_book(random.Random(3), subject, 202605)[0]


def test_the_follower_erases_block_by_block_and_resumes_after_a_crash(tmp_path: Path) -> None:
    other = bytes(range(1, 33))
    blocks = {1: _block(), 2: _block(other, rejected=True), 3: _block(WHO), 4: _block(other)}
    path = tmp_path / "credit.sqlite"
    with CreditStore(path, sha256) as store:
        store.add(_body(WHO))
        store.add(_body(other))

        def crash_at_4(height: int) -> CommittedBlock:
            if height == 4:
                raise RuntimeError("the node died")
            return blocks[height]

        with pytest.raises(RuntimeError):
            follow_erasures(store, "chain", 4, crash_at_4)
        assert store.followed_height("chain") == 3
        assert store.is_erased(WHO) and not store.is_erased(other)  # a rejected erasure: none
    with CreditStore(path, sha256) as reopened:
        assert follow_erasures(reopened, "chain", 4, blocks.get) == 4
        assert reopened.is_erased(other)
        with pytest.raises(NodeFault):
            reopened.erase_committed("chain", 6, [])  # a gap is a fault, never skipped


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _disclosure() -> Disclosure:
    body = RecordBody(WHO, "repayments", 202611, "loan-1", 1_000, 0, 0, 0)
    return Disclosure(b"\x07" * 16, body)


def test_a_disclosure_answer_round_trips_as_canonical_hex() -> None:
    found = [_disclosure(), _disclosure()]
    assert disclosures_from_json(disclosures_json(found)) == found


@pytest.mark.parametrize(
    "answer",
    [
        None,
        "00",
        {"disclosures": []},
        ["zz"],
        [encode(_disclosure()).hex() + "00"],
        [encode(_disclosure()).hex()[:-2]],
        ["00" * (MAX_DISCLOSURE_BYTES + 1)],
        [encode(_disclosure()).hex()] * (MAX_DISCLOSURES + 1),
    ],
    ids=["null", "text", "object", "not-hex", "trailing", "truncated", "oversize", "too-many"],
)
def test_a_malformed_disclosure_answer_is_refused_invalid_disclosure(answer: object) -> None:
    with pytest.raises(InvalidInput) as refused:
        disclosures_from_json(answer)
    assert refused.value.code == "invalid_disclosure"
