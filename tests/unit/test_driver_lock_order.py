"""The block a validator locks on is durable before the safety record that names the lock: a
crash between the two must never leave the record locked on a block the node no longer holds
(a lone validator locked on a lost block could never propose again, and stalled for good)."""

from __future__ import annotations

import msgspec

from jinqiao.consensus.safety import SafetyModule
from jinqiao.consensus.tendermint import CastVote, TendermintConfig
from jinqiao.core.crypto import DEFAULT_SUITE, get_suite
from jinqiao.core.hashing import header_hash
from jinqiao.core.types import Block, BlockHeader, Validator, ValidatorSet, Vote, VoteType
from jinqiao.node.driver import Driver, SaveLockedBlock

CHAIN = "lock-order"
SUITE = get_suite(DEFAULT_SUITE)


class RecordingStorage:
    """A safety storage that notes each durable save in ``order``."""

    def __init__(self, order: list[str]) -> None:
        self.order = order
        self.data: bytes | None = None

    def load(self) -> bytes | None:
        return self.data

    def save(self, data: bytes) -> None:
        self.data = data
        self.order.append("safety record")


def _block(proposer: bytes) -> Block:
    zero = bytes(32)
    header = BlockHeader(CHAIN, 1, 1, zero, zero, zero, zero, zero, zero, proposer, 0)
    return Block(header, ())


def _lock(keep: bool) -> tuple[list[str], list[object]]:
    """A lone validator prevotes for a block and precommits it (its own prevote is the polka);
    what was made durable, in order, and the actions the precommit emitted."""
    order: list[str] = []
    signer = SUITE.signer(b"\x07" * 32)
    validators = ValidatorSet((Validator(signer.address, signer.public_key, 1, "org", "v0"),))
    module = SafetyModule(signer, CHAIN, RecordingStorage(order))
    driver = Driver(
        SUITE,
        module,
        TendermintConfig(CHAIN, signer.address),
        block_interval_ms=1,
        empty_block_interval_ms=1_000,
        keep_locked_block=(lambda _block: order.append("locked block")) if keep else None,
    )
    driver.safety.start_height(1, validators)
    block = _block(signer.address)
    block_hash = header_hash(SUITE, block.header)
    driver.state.blocks[block_hash] = block
    prevote = Vote(CHAIN, 1, 0, int(VoteType.PREVOTE), block_hash, signer.address)
    polka = (driver.safety.sign_vote(prevote),)
    order.clear()
    precommit = msgspec.structs.replace(prevote, type=int(VoteType.PRECOMMIT))
    driver._cast(CastVote(precommit, polka))
    return order, list(driver._actions)


def test_the_node_keeps_the_locked_block_before_the_lock_is_recorded() -> None:
    order, actions = _lock(keep=True)
    assert order == ["locked block", "safety record"]
    assert not any(isinstance(action, SaveLockedBlock) for action in actions)


def test_without_a_keeper_the_block_is_an_action_for_the_shell() -> None:
    order, actions = _lock(keep=False)
    assert order == ["safety record"]
    assert any(isinstance(action, SaveLockedBlock) for action in actions)
