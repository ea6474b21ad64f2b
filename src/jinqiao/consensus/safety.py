"""The safety module: the only holder of the validator's signing key in consensus, and the last
line of defence against signing two conflicting messages (after diem's safety-rules).

Whatever the state machine or the driver ask, ``SafetyModule`` signs

* a vote only if its (height, round, type) is above every vote it signed before — so never two
  different votes for the same height, round and type, and never a vote for an earlier height or
  round (prevote before precommit within a round);
* a proposal only if its (height, round) is above every proposal it signed before;
* a precommit for a value only with its polka: prevotes for that value in that round, with valid
  signatures, by validators holding more than two thirds of the power of the set passed to
  ``start_height`` for that height (Algorithm 1 precommits a value only at line 40, after
  line 36's 2f + 1 prevotes).

Asking again for exactly the last signed vote of a type (or the last proposal) returns the same
signed message: re-sending it is harmless, and a restarted node may need to. Anything else below
the record raises ``StaleSignRequest``; a different message at the recorded position raises
``ConflictingSignature``.

The record of what was signed is saved through the injected ``SafetyStorage`` *before* the
signature is returned, and loaded when the module is constructed, so a crash between signing and
sending cannot lead to a second, conflicting signature after the restart. ``save`` must be
durable when it returns (the node's ``FileSafetyStorage`` writes a temporary file, fsyncs it and
renames it over the old one). The record also holds the validator's last non-nil precommit, which
is exactly its Tendermint lock (lines 36-41 of Algorithm 1 set the lock and precommit together and
nothing else sets it), with the polka that justified it. ``start_height`` gives the lock back,
with the round to resume at, so a restarted node keeps its lock — losing it could let a node that
precommitted v help decide another value — and ``signed_messages`` gives back the polka, so the
node can show others why it is locked (without it, restarted nodes locked on a value nobody else
can re-propose stall the height for ever; the simulator found that).

Driver protocol, per height: ``event = safety.start_height(height, validators)`` → feed ``event``
to the machine → feed ``safety.signed_messages(height)`` back as votes and re-send them → for each
``CastVote(vote, polka)`` call ``sign_vote(vote, polka)``, for each ``BroadcastProposal(p)``
``sign_proposal(p)``; on ``SafetyError`` send nothing.

A validator whose consensus key governance replaces (``replace_validator_key``, docs/keys.md
"Rotation") holds two keys for a while: ``SigningKeys`` gives the driver the same protocol over
the current key's module and the next key's, each with its own record. ``start_height`` switches
to the next key at exactly the first height whose validator set names the next key's address; from
then on only the next key signs, and never for a height below the switch, while the old key's
module is dropped and signs nothing more. A key whose address is not in the set of the height it
is asked to sign at refuses (``NotInValidatorSet``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import msgspec

from jinqiao.consensus.messages import (
    NIL,
    Proposal,
    SignedProposal,
    SignedVote,
    is_block_hash,
    proposal_signing_bytes,
)
from jinqiao.consensus.tendermint import NO_ROUND, StartHeight
from jinqiao.core.codec import CanonicalStruct, decode, encode
from jinqiao.core.crypto import Signer
from jinqiao.core.errors import DecodeError, NodeFault
from jinqiao.core.hashing import vote_signing_bytes
from jinqiao.core.types import Validator, ValidatorSet, Vote, VoteType

__all__ = [
    "MAX_SAFETY_RECORD_BYTES",
    "SAFETY_RECORD_VERSION",
    "ConflictingSignature",
    "MemorySafetyStorage",
    "NotInValidatorSet",
    "SafetyError",
    "SafetyModule",
    "SafetyRecord",
    "SafetyStorage",
    "SigningKeys",
    "StaleSignRequest",
]

SAFETY_RECORD_VERSION = 1
MAX_SAFETY_RECORD_BYTES = 256 * 1024  # a polka holds at most MAX_VALIDATORS prevotes


class SafetyError(NodeFault):
    """The safety module refused to sign. Nothing was signed or released; the driver logs it and
    does not send the message."""


class ConflictingSignature(SafetyError):
    """A different message for a (height, round, type) this validator already signed."""


class StaleSignRequest(SafetyError):
    """A message for a position below the last one this validator signed."""


class SafetyStorage(Protocol):
    """Where the safety record lives. ``save`` returns only once the bytes are durable."""

    def load(self) -> bytes | None: ...

    def save(self, data: bytes) -> None: ...


class MemorySafetyStorage:
    """A ``SafetyStorage`` in memory, for tests and the simulator: the object outlives the
    ``SafetyModule`` that uses it, as a file outlives a crashed process."""

    def __init__(self, data: bytes | None = None) -> None:
        self.data = data
        self.saves = 0

    def load(self) -> bytes | None:
        return self.data

    def save(self, data: bytes) -> None:
        self.data = bytes(data)
        self.saves += 1


class SafetyRecord(CanonicalStruct, frozen=True):
    """The last proposal and the last prevote and precommit this validator signed, and its last
    non-nil precommit (its lock)."""

    version: int
    chain_id: str
    validator: bytes
    proposal: SignedProposal | None
    prevote: SignedVote | None
    precommit: SignedVote | None
    lock: SignedVote | None
    lock_polka: tuple[SignedVote, ...]


class NotInValidatorSet(SafetyError):
    """A message at a height whose validator set does not name this key (a replaced key after
    the switch, the next key before it)."""


def _vote_position(vote: Vote) -> tuple[int, int, int]:
    return (vote.height, vote.round, vote.type)


class SafetyModule:
    def __init__(self, signer: Signer, chain_id: str, storage: SafetyStorage) -> None:
        self._signer = signer
        self._chain_id = chain_id
        self._storage = storage
        self._record = self._load()
        self._height = 0
        self._members: dict[bytes, Validator] = {}
        self._total_power = 0

    @property
    def address(self) -> bytes:
        return self._signer.address

    @property
    def record(self) -> SafetyRecord:
        return self._record

    def _load(self) -> SafetyRecord:
        data = self._storage.load()
        if data is None:
            return SafetyRecord(
                SAFETY_RECORD_VERSION,
                self._chain_id,
                self._signer.address,
                None,
                None,
                None,
                None,
                (),
            )
        try:
            record = decode(data, SafetyRecord, max_bytes=MAX_SAFETY_RECORD_BYTES)
        except DecodeError as exc:
            # Starting from an empty record could sign a second, conflicting vote: refuse.
            raise NodeFault(f"the safety record does not decode: {exc.message}") from None
        if record.version != SAFETY_RECORD_VERSION:
            raise NodeFault(f"safety record version {record.version} is not supported")
        if record.chain_id != self._chain_id or record.validator != self._signer.address:
            raise NodeFault(
                "the safety record belongs to another chain or validator",
                chain_id=record.chain_id,
                validator=record.validator.hex(),
            )
        return record

    def _persist(self, record: SafetyRecord) -> None:
        # Adopt the new record first: should ``save`` fail, this module still refuses anything
        # that conflicts with the signature it computed (and never released).
        self._record = record
        self._storage.save(encode(record))

    def _check_identity(self, chain_id: str, signer: bytes) -> None:
        if chain_id != self._chain_id:
            raise SafetyError(f"refusing to sign for chain {chain_id!r}")
        if signer != self._signer.address:
            raise SafetyError("refusing to sign in another validator's name", signer=signer.hex())

    def _check_member(self, height: int) -> None:
        """At the height ``start_height`` was last called for, this key must be in the set."""
        if height == self._height and self._signer.address not in self._members:
            raise NotInValidatorSet(
                f"refusing to sign at height {height}: the validator set in force there does "
                "not name this key",
                height=height,
                signer=self._signer.address.hex(),
            )

    # -- votes -----------------------------------------------------------------------------
    def sign_vote(self, vote: Vote, polka: Sequence[SignedVote] = ()) -> SignedVote:
        """Sign a prevote or precommit, or raise ``SafetyError``. A precommit for a value needs
        its ``polka`` (``CastVote.polka``)."""
        self._check_identity(vote.chain_id, vote.validator)
        if vote.type not in (VoteType.PREVOTE, VoteType.PRECOMMIT):
            raise SafetyError(f"refusing to sign a vote of unknown type {vote.type!r}")
        if vote.block_hash != NIL and not is_block_hash(vote.block_hash):
            raise SafetyError("refusing to sign a vote for a malformed block hash")
        if vote.height < 1 or vote.round < 0:
            raise SafetyError("refusing to sign a vote outside heights >= 1, rounds >= 0")
        self._check_member(vote.height)
        record = self._record
        same_type = record.prevote if vote.type == VoteType.PREVOTE else record.precommit
        if same_type is not None and same_type.vote == vote:
            return same_type
        last = self._last_vote_position()
        position = _vote_position(vote)
        if last is not None and position <= last:
            if position == last:
                raise ConflictingSignature(
                    f"refusing to sign a second, different {VoteType(vote.type).name.lower()} "
                    f"at height {vote.height} round {vote.round}",
                    requested=list(position),
                    last_signed=list(last),
                )
            raise StaleSignRequest(
                f"refusing to sign a {VoteType(vote.type).name.lower()} at height {vote.height} "
                f"round {vote.round}: a later vote was already signed",
                requested=list(position),
                last_signed=list(last),
            )
        is_lock = vote.type == VoteType.PRECOMMIT and vote.block_hash != NIL
        if is_lock:
            self._check_polka(vote, polka)
        signed = SignedVote(vote, self._signer.sign(vote_signing_bytes(vote)))
        if vote.type == VoteType.PREVOTE:
            updated = msgspec.structs.replace(record, prevote=signed)
        elif is_lock:
            updated = msgspec.structs.replace(
                record, precommit=signed, lock=signed, lock_polka=tuple(polka)
            )
        else:
            updated = msgspec.structs.replace(record, precommit=signed)
        self._persist(updated)
        return signed

    def _check_polka(self, vote: Vote, polka: Sequence[SignedVote]) -> None:
        """More than two thirds of the power prevoted this value in this round (line 36)."""
        if self._height != vote.height:
            raise SafetyError(
                f"refusing to precommit at height {vote.height}: start_height was not called "
                "for it, so the validator set is unknown"
            )
        suite = self._signer.suite
        signers: dict[bytes, None] = {}
        power = 0
        for signed in polka:
            prevote = signed.vote
            expected = Vote(
                self._chain_id,
                vote.height,
                vote.round,
                int(VoteType.PREVOTE),
                vote.block_hash,
                prevote.validator,
            )
            member = self._members.get(prevote.validator)
            if prevote != expected or member is None or prevote.validator in signers:
                raise SafetyError("refusing to precommit: the polka holds a foreign vote")
            if not suite.verify(member.public_key, vote_signing_bytes(prevote), signed.signature):
                raise SafetyError("refusing to precommit: a polka signature does not verify")
            signers[prevote.validator] = None
            power += member.power
        if 3 * power <= 2 * self._total_power:
            raise SafetyError(
                f"refusing to precommit a value without a polka: prevotes hold {power} of "
                f"{self._total_power} voting power",
                power=power,
                total_power=self._total_power,
            )

    def _last_vote_position(self) -> tuple[int, int, int] | None:
        positions = [
            _vote_position(signed.vote)
            for signed in (self._record.prevote, self._record.precommit)
            if signed is not None
        ]
        return max(positions) if positions else None

    # -- proposals -------------------------------------------------------------------------
    def sign_proposal(self, proposal: Proposal) -> SignedProposal:
        """Sign a proposal, or raise ``SafetyError``."""
        self._check_identity(proposal.chain_id, proposal.proposer)
        if not is_block_hash(proposal.block_hash):
            raise SafetyError("refusing to sign a proposal for a malformed block hash")
        if proposal.height < 1 or not NO_ROUND <= proposal.valid_round < proposal.round:
            raise SafetyError("refusing to sign a proposal outside heights >= 1, -1 <= vr < round")
        self._check_member(proposal.height)
        stored = self._record.proposal
        if stored is not None:
            if stored.proposal == proposal:
                return stored
            last = (stored.proposal.height, stored.proposal.round)
            position = (proposal.height, proposal.round)
            if position <= last:
                if position == last:
                    raise ConflictingSignature(
                        f"refusing to sign a second, different proposal at height "
                        f"{proposal.height} round {proposal.round}",
                        requested=list(position),
                        last_signed=list(last),
                    )
                raise StaleSignRequest(
                    f"refusing to sign a proposal at height {proposal.height} round "
                    f"{proposal.round}: a later proposal was already signed",
                    requested=list(position),
                    last_signed=list(last),
                )
        signed = SignedProposal(proposal, self._signer.sign(proposal_signing_bytes(proposal)))
        self._persist(msgspec.structs.replace(self._record, proposal=signed))
        return signed

    # -- restart ---------------------------------------------------------------------------
    def start_height(self, height: int, validators: ValidatorSet) -> StartHeight:
        """The ``StartHeight`` event for ``height``: round 0 and no lock for a fresh height, or
        the round this validator last signed at and the lock it held, after a restart. Also
        records ``validators`` for checking polkas at this height."""
        self._height = height
        self._members = validators.by_address()
        self._total_power = validators.total_power()
        record = self._record
        round_ = 0
        for signed in (record.prevote, record.precommit):
            if signed is not None and signed.vote.height == height:
                round_ = max(round_, signed.vote.round)
        if record.proposal is not None and record.proposal.proposal.height == height:
            round_ = max(round_, record.proposal.proposal.round)
        lock = record.lock
        if lock is not None and lock.vote.height == height:
            return StartHeight(height, validators, round_, lock.vote.round, lock.vote.block_hash)
        return StartHeight(height, validators, round_)

    def signed_messages(self, height: int) -> tuple[SignedProposal | SignedVote, ...]:
        """What this record knows of ``height``: the last proposal, prevote and precommit this
        validator signed there, its lock and the lock's polka — for feeding back to a restarted
        machine and re-sending."""
        record = self._record
        messages: list[SignedProposal | SignedVote] = []
        if record.proposal is not None and record.proposal.proposal.height == height:
            messages.append(record.proposal)
        for signed in (record.prevote, record.precommit, record.lock):
            if signed is not None and signed.vote.height == height and signed not in messages:
                messages.append(signed)
        if record.lock is not None and record.lock.vote.height == height:
            messages.extend(vote for vote in record.lock_polka if vote not in messages)
        return tuple(messages)


class SigningKeys:
    """The safety module of the key that signs now and, during a key rotation, the next key's
    (see the module docstring). Same protocol as ``SafetyModule``."""

    def __init__(self, current: SafetyModule, next_key: SafetyModule | None = None) -> None:
        if next_key is not None and next_key.address == current.address:
            raise NodeFault("the next validator key is the current one")
        self._current = current
        self._next = next_key
        self._from_height = 0
        """The first height the current key may sign at (the switch height, after a switch)."""

    @property
    def address(self) -> bytes:
        return self._current.address

    @property
    def next_address(self) -> bytes | None:
        return None if self._next is None else self._next.address

    @property
    def current(self) -> SafetyModule:
        return self._current

    def start_height(self, height: int, validators: ValidatorSet) -> StartHeight:
        """``SafetyModule.start_height`` of the key that signs at ``height``: the next key's
        from the first height whose set names it."""
        members = validators.by_address()
        if self._next is not None and self._next.address in members:
            if self._current.address in members:
                raise NodeFault(
                    f"the validator set of height {height} names both the current and the next "
                    "validator key",
                    current=self._current.address.hex(),
                    next=self._next.address.hex(),
                )
            self._current, self._next = self._next, None
            self._from_height = height
        return self._current.start_height(height, validators)

    def _check_height(self, height: int) -> None:
        if height < self._from_height:
            raise NotInValidatorSet(
                f"refusing to sign at height {height} with the next key: it signs from height "
                f"{self._from_height} on",
                height=height,
                from_height=self._from_height,
            )

    def sign_vote(self, vote: Vote, polka: Sequence[SignedVote] = ()) -> SignedVote:
        self._check_height(vote.height)
        return self._current.sign_vote(vote, polka)

    def sign_proposal(self, proposal: Proposal) -> SignedProposal:
        self._check_height(proposal.height)
        return self._current.sign_proposal(proposal)

    def signed_messages(self, height: int) -> tuple[SignedProposal | SignedVote, ...]:
        return self._current.signed_messages(height)
