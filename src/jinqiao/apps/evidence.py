"""The evidence contract: equivocation — two conflicting votes signed by one validator — put on
chain, where every organization and the regulator can see it and act (governance may remove or
re-weight the validator).

``report(first, second)``: the canonical bytes of two signed votes (``SignedVote``: a ``Vote`` and
its signature) by the same validator for the same height, round and type but different blocks.
Anyone registered may report; validators' nodes do so automatically (each genesis validator's key
is an account with role ``validator``). The contract checks both signatures against the validator
set in force, so a report cannot be forged, and records each offence once.

State layout (namespace ``evidence``)::

    equivocation/<validator address>/<height 8 bytes>/<round 4 bytes>/<type 1 byte>
        → Equivocation(validator, height, round, type, first, second, reported_height, reporter)
    count/<validator address> → int: offences recorded for the validator
"""

from __future__ import annotations

import struct

from jinqiao.core.codec import CanonicalStruct, decode
from jinqiao.core.errors import DecodeError
from jinqiao.core.hashing import vote_signing_bytes
from jinqiao.core.types import ValidatorSet, Vote, VoteType
from jinqiao.execution.api import GOVERNANCE, VALIDATORS_KEY, Context, Contract, method, query

EVIDENCE = "evidence"
MAX_SIGNED_VOTE_BYTES = 1024
_POSITION = struct.Struct(">QIB")


class SignedVoteRecord(CanonicalStruct, frozen=True):
    """The wire form of a signed vote (same layout as ``consensus.messages.SignedVote``)."""

    vote: Vote
    signature: bytes


class ReportArgs(CanonicalStruct, frozen=True):
    first: bytes
    second: bytes


class Equivocation(CanonicalStruct, frozen=True):
    validator: bytes
    height: int
    round: int
    type: int
    first: bytes
    second: bytes
    reported_height: int
    reporter: bytes


class ValidatorArgs(CanonicalStruct, frozen=True):
    validator: bytes


class OffenceCount(CanonicalStruct, frozen=True):
    validator: bytes
    equivocations: int


def equivocation_key(validator: bytes, height: int, round_: int, type_: int) -> bytes:
    return b"equivocation/" + validator + b"/" + _POSITION.pack(height, round_, type_)


def count_key(validator: bytes) -> bytes:
    return b"count/" + validator


class Evidence(Contract):
    name = EVIDENCE

    @method(ReportArgs)
    def report(self, ctx: Context, args: ReportArgs) -> None:
        first = _signed_vote(ctx, args.first, "first")
        second = _signed_vote(ctx, args.second, "second")
        a, b = first.vote, second.vote
        if (a.chain_id, a.validator, a.height, a.round, a.type) != (
            b.chain_id,
            b.validator,
            b.height,
            b.round,
            b.type,
        ):
            ctx.reject(
                "not_conflicting", "the votes are not by one validator at one height, round, type"
            )
        if a.block_hash == b.block_hash:
            ctx.reject("not_conflicting", "the votes are for the same block")
        if a.chain_id != ctx.chain_id or a.type not in (VoteType.PREVOTE, VoteType.PRECOMMIT):
            ctx.reject("invalid_evidence", "the votes are not votes of this chain")
        if a.height > ctx.height:
            ctx.reject("invalid_evidence", "the votes are for a height not reached yet")
        validators = ctx.read(GOVERNANCE, VALIDATORS_KEY, ValidatorSet)
        member = None if validators is None else validators.by_address().get(a.validator)
        if member is None:
            ctx.reject("invalid_evidence", "the signer is not a validator in force")
        suite = ctx.suite
        for signed in (first, second):
            if not suite.verify(
                member.public_key, vote_signing_bytes(signed.vote), signed.signature
            ):
                ctx.reject("invalid_evidence", "a vote's signature does not verify")
        key = equivocation_key(a.validator, a.height, a.round, a.type)
        if ctx.state.get(key) is not None:
            ctx.reject("evidence_exists", "this equivocation is already on chain")
        ordered = sorted((args.first, args.second))
        ctx.state.save(
            key,
            Equivocation(
                a.validator,
                a.height,
                a.round,
                a.type,
                ordered[0],
                ordered[1],
                ctx.height,
                ctx.sender,
            ),
        )
        ctx.state.save_int(count_key(a.validator), ctx.state.load_int(count_key(a.validator)) + 1)
        ctx.emit(
            "Equivocation",
            validator=a.validator,
            name=member.name,
            organization=member.organization,
            height=a.height,
            round=a.round,
            type="prevote" if a.type == VoteType.PREVOTE else "precommit",
        )

    @query(ValidatorArgs)
    def offences(self, ctx: Context, args: ValidatorArgs) -> OffenceCount:
        return OffenceCount(args.validator, ctx.state.load_int(count_key(args.validator)))


def _signed_vote(ctx: Context, raw: bytes, which: str) -> SignedVoteRecord:
    try:
        return decode(raw, SignedVoteRecord, max_bytes=MAX_SIGNED_VOTE_BYTES)
    except DecodeError:
        ctx.reject("invalid_evidence", f"the {which} vote is not a canonical signed vote")
