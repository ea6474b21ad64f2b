"""A validator's consensus key switch (docs/keys.md "Rotation"; ``consensus.safety.SigningKeys``):
the next key signs from exactly the first height whose validator set names it, never before;
the old key never signs at or after that height; each key keeps its own record; and the driver
votes, proposes and builds blocks as the new address from the switch on."""

from __future__ import annotations

import hashlib

import msgspec
import pytest

from jinqiao.consensus.messages import NIL, Proposal, verify_signed_vote
from jinqiao.consensus.safety import (
    MemorySafetyStorage,
    NotInValidatorSet,
    SafetyError,
    SafetyModule,
    SigningKeys,
)
from jinqiao.consensus.tendermint import TendermintConfig
from jinqiao.core.crypto import Signer, get_suite
from jinqiao.core.errors import NodeFault
from jinqiao.core.types import Validator, ValidatorSet, Vote, VoteType
from jinqiao.node.chain import Head
from jinqiao.node.driver import (
    BuildBlock,
    Driver,
    Note,
    Send,
    SetTimer,
    Started,
    Tick,
    TimerFired,
)
from jinqiao.node.wire import VoteMessage, decode_message

SUITE = get_suite("ed25519-sha256")
CHAIN_ID = "jinqiao-test"
BLOCK = hashlib.sha256(b"block").digest()
OTHERS = [SUITE.signer(hashlib.sha256(b"switch-test/%d" % i).digest()) for i in range(3)]
OLD = SUITE.signer(hashlib.sha256(b"switch-test/old").digest())
NEW = SUITE.signer(hashlib.sha256(b"switch-test/new").digest())


def validator_set(mine: Signer) -> ValidatorSet:
    members = [Validator(s.address, s.public_key, 1, "bank", f"v{i}") for i, s in enumerate(OTHERS)]
    members.append(Validator(mine.address, mine.public_key, 1, "bank", "mine"))
    return ValidatorSet(tuple(sorted(members, key=lambda validator: validator.address)))


BEFORE = validator_set(OLD)
AFTER = validator_set(NEW)


def prevote(height: int, signer: Signer) -> Vote:
    return Vote(CHAIN_ID, height, 0, int(VoteType.PREVOTE), NIL, signer.address)


def keys() -> tuple[SigningKeys, MemorySafetyStorage, MemorySafetyStorage]:
    old_record, new_record = MemorySafetyStorage(), MemorySafetyStorage()
    signing = SigningKeys(
        SafetyModule(OLD, CHAIN_ID, old_record), SafetyModule(NEW, CHAIN_ID, new_record)
    )
    return signing, old_record, new_record


def rotating_driver(signing: SigningKeys, *, empty_block_interval_ms: int) -> Driver:
    """A driver started as the old key's address, holding both keys."""
    return Driver(
        SUITE,
        signing,
        TendermintConfig(CHAIN_ID, OLD.address),
        block_interval_ms=1,
        empty_block_interval_ms=empty_block_interval_ms,
    )


def test_the_old_key_signs_until_the_set_names_the_next_key() -> None:
    signing, old_record, new_record = keys()
    signing.start_height(9, BEFORE)
    assert signing.address == OLD.address
    signed = signing.sign_vote(prevote(9, OLD))
    assert verify_signed_vote(SUITE, BEFORE.by_address(), signed)
    # The next key is not asked, and its record stays empty.
    with pytest.raises(SafetyError, match="another validator"):
        signing.sign_vote(prevote(9, NEW))
    assert old_record.saves == 1 and new_record.saves == 0


def test_the_switch_is_at_exactly_the_first_height_naming_the_next_key() -> None:
    signing, old_record, new_record = keys()
    signing.start_height(10, BEFORE)
    signing.sign_vote(prevote(10, OLD))
    signing.start_height(11, AFTER)
    assert signing.address == NEW.address and signing.next_address is None
    signed = signing.sign_vote(prevote(11, NEW))
    assert verify_signed_vote(SUITE, AFTER.by_address(), signed)
    assert new_record.saves == 1
    saved_old = old_record.data
    # The old key never signs again: neither at the switch height nor above, nor below it.
    for height in (10, 11, 12):
        with pytest.raises(NodeFault):
            signing.sign_vote(prevote(height, OLD))
    assert old_record.data == saved_old
    # The new key never signs below the switch height.
    with pytest.raises(NotInValidatorSet, match="from height 11"):
        signing.sign_vote(prevote(10, NEW))
    with pytest.raises(NotInValidatorSet):
        signing.sign_proposal(Proposal(CHAIN_ID, 10, 0, BLOCK, -1, NEW.address))


def test_a_restart_after_the_switch_signs_with_the_new_key_and_its_own_record() -> None:
    signing, old_record, new_record = keys()
    signing.start_height(11, AFTER)
    first = signing.sign_vote(prevote(11, NEW))
    # The process restarts with both keys configured, at the same height.
    restarted = SigningKeys(
        SafetyModule(OLD, CHAIN_ID, old_record), SafetyModule(NEW, CHAIN_ID, new_record)
    )
    restarted.start_height(11, AFTER)
    assert restarted.address == NEW.address
    assert restarted.signed_messages(11) == (first,)
    # Asking again for the same vote gives the same signature; a different one is refused.
    assert restarted.sign_vote(prevote(11, NEW)) == first
    with pytest.raises(NodeFault):
        restarted.sign_vote(msgspec.structs.replace(prevote(11, NEW), block_hash=BLOCK))


def test_a_set_naming_both_keys_is_refused() -> None:
    signing, _, _ = keys()
    both = ValidatorSet(
        tuple(
            sorted(
                (*BEFORE.validators, Validator(NEW.address, NEW.public_key, 1, "bank", "n")),
                key=lambda validator: validator.address,
            )
        )
    )
    with pytest.raises(NodeFault, match="both the current and the next"):
        signing.start_height(5, both)


def test_a_single_key_refuses_heights_whose_set_does_not_name_it() -> None:
    safety = SafetyModule(OLD, CHAIN_ID, MemorySafetyStorage())
    safety.start_height(3, AFTER)
    with pytest.raises(NotInValidatorSet):
        safety.sign_vote(prevote(3, OLD))
    with pytest.raises(NotInValidatorSet):
        safety.sign_proposal(Proposal(CHAIN_ID, 3, 0, BLOCK, -1, OLD.address))


def test_the_driver_votes_or_proposes_as_the_new_address_from_the_switch() -> None:
    """A driver started on a head whose set names the next key (a restart after the switch):
    it proposes as the new address or, not the proposer, prevotes nil signed by the new key."""
    signing, _, new_record = keys()
    driver = rotating_driver(signing, empty_block_interval_ms=1)
    head = Head(7, b"\x01" * 32, b"\x02" * 32, 1_000, AFTER)
    actions = driver.handle(Started(head), 5_000)
    actions += driver.handle(Tick(0), 6_000)
    assert driver.address == NEW.address and driver.machine.config.address == NEW.address
    assert any(
        isinstance(action, Note) and "switched at height 8" in action.message for action in actions
    )
    built = [action for action in actions if isinstance(action, BuildBlock)]
    if built:
        assert built[0].proposer == NEW.address
        return
    [timer] = [action for action in actions if isinstance(action, SetTimer)]
    sent = [
        decode_message(action.payload)
        for action in driver.handle(TimerFired(timer.timeout), 9_000)
        if isinstance(action, Send)
    ]
    [vote] = [message.vote for message in sent if isinstance(message, VoteMessage)]
    assert vote.vote.validator == NEW.address and vote.vote.height == 8
    assert verify_signed_vote(SUITE, AFTER.by_address(), vote)
    assert new_record.saves >= 1


def test_an_idle_node_whose_set_names_the_next_key_is_still_a_validator() -> None:
    """Before the switch height starts (no work, no heartbeat yet), `/v1/consensus` counts the
    node as the validator the set names under its next key."""
    driver = rotating_driver(keys()[0], empty_block_interval_ms=60_000)
    driver.handle(Started(Head(7, b"\x01" * 32, b"\x02" * 32, 1_000, AFTER)), 5_000)
    assert driver.address == OLD.address  # not switched: the height has not started
    diagnosis = driver.diagnosis(5_001, [])
    assert diagnosis["validator"] is True
    [own] = [entry for entry in diagnosis["validators"] if entry["self"]]
    assert own["address"] == NEW.address.hex()
