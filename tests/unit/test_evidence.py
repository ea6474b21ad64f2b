"""The evidence contract: a proven equivocation goes on chain once; anything else is refused."""

from __future__ import annotations

import pytest

from jinqiao.apps.evidence import (
    EVIDENCE,
    OffenceCount,
    ReportArgs,
    SignedVoteRecord,
    ValidatorArgs,
)
from jinqiao.core.codec import encode
from jinqiao.core.crypto import Signer
from jinqiao.core.hashing import vote_signing_bytes
from jinqiao.core.types import Vote, VoteType
from tests.helpers.chain import CHAIN_ID, Chain, events, signer_for

VALIDATOR = "validator-bank-a"


def signed(
    signer: Signer,
    block_hash: bytes,
    *,
    height: int = 1,
    round_: int = 0,
    kind: VoteType = VoteType.PREVOTE,
    chain_id: str = CHAIN_ID,
) -> bytes:
    vote = Vote(chain_id, height, round_, kind, block_hash, signer.address)
    return encode(SignedVoteRecord(vote, signer.sign(vote_signing_bytes(vote))))


@pytest.fixture
def chain() -> Chain:
    chain = Chain()
    chain.advance(2)
    return chain


def test_an_equivocation_is_recorded_once(chain: Chain) -> None:
    validator = signer_for(VALIDATOR)
    report = ReportArgs(signed(validator, b"\x01" * 32), signed(validator, b"\x02" * 32))
    receipt = chain.ok("alice", EVIDENCE, "report", report)
    (event,) = events(receipt, "Equivocation")
    assert event.attribute("name") == VALIDATOR and event.attribute("type") == "prevote"
    count: OffenceCount = chain.query(EVIDENCE, "offences", ValidatorArgs(validator.address))
    assert count.equivocations == 1
    chain.rejected("evidence_exists", "bob", EVIDENCE, "report", report)


def test_the_validator_itself_can_report_with_its_genesis_account(chain: Chain) -> None:
    validator = signer_for(VALIDATOR)
    other = signer_for("validator-bank-b")
    report = ReportArgs(
        signed(other, b"\x01" * 32, kind=VoteType.PRECOMMIT),
        signed(other, b"", kind=VoteType.PRECOMMIT),
    )
    chain.ok(validator, EVIDENCE, "report", report)


@pytest.mark.parametrize(
    ("code", "make"),
    [
        ("not_conflicting", lambda v, o: (signed(v, b"\x01" * 32), signed(v, b"\x01" * 32))),
        ("not_conflicting", lambda v, o: (signed(v, b"\x01" * 32), signed(o, b"\x02" * 32))),
        (
            "not_conflicting",
            lambda v, o: (signed(v, b"\x01" * 32), signed(v, b"\x02" * 32, round_=1)),
        ),
        (
            "invalid_evidence",
            lambda v, o: (signed(v, b"\x01" * 32, height=99), signed(v, b"\x02" * 32, height=99)),
        ),
        (
            "invalid_evidence",
            lambda v, o: (
                signed(v, b"\x01" * 32, chain_id="other"),
                signed(v, b"\x02" * 32, chain_id="other"),
            ),
        ),
        ("invalid_evidence", lambda v, o: (b"\x01\x02", signed(v, b"\x02" * 32))),
        (
            "invalid_evidence",
            lambda v, o: (
                signed(signer_for("nobody"), b"\x01" * 32),
                signed(signer_for("nobody"), b"\x02" * 32),
            ),
        ),
    ],
)
def test_bad_reports_are_refused(chain: Chain, code: str, make: object) -> None:
    validator = signer_for(VALIDATOR)
    other = signer_for("validator-bank-b")
    first, second = make(validator, other)  # type: ignore[operator]
    chain.rejected(code, "alice", EVIDENCE, "report", ReportArgs(first, second))


def test_a_forged_signature_is_refused(chain: Chain) -> None:
    validator = signer_for(VALIDATOR)
    vote = Vote(CHAIN_ID, 1, 0, VoteType.PREVOTE, b"\x02" * 32, validator.address)
    forged = encode(SignedVoteRecord(vote, bytes(64)))
    report = ReportArgs(signed(validator, b"\x01" * 32), forged)
    chain.rejected("invalid_evidence", "alice", EVIDENCE, "report", report)
