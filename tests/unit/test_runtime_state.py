"""State access for execution (execution/state.py): overlays layer and merge so a transaction is
all-or-nothing, contracts see only their own namespace, and every limit is enforced with the right
kind of failure (a ``Rejection`` with a stable code, or a ``NodeFault`` for a bug)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jinqiao.core.codec import CanonicalStruct, encode
from jinqiao.core.errors import NodeFault, Rejection
from jinqiao.core.limits import (
    MAX_STATE_KEY_BYTES,
    MAX_STATE_OPERATIONS_PER_TRANSACTION,
    MAX_STATE_VALUE_BYTES,
)
from jinqiao.execution.state import (
    ContractState,
    EmptyState,
    MappingState,
    Overlay,
    StepMeter,
    full_key,
)


class Balance(CanonicalStruct, frozen=True):
    owner: str
    amount_minor: int


def committed() -> MappingState:
    return MappingState({b"token/alice": b"100", b"token/bob": b"50", b"registry/acme": b"org"})


def contract_state(
    contract: str = "token",
    overlay: Overlay | None = None,
    meter: StepMeter | None = None,
    *,
    writable: bool = True,
) -> ContractState:
    return ContractState(
        contract,
        overlay if overlay is not None else Overlay(EmptyState()),
        meter if meter is not None else StepMeter(),
        writable=writable,
    )


# -- overlays --------------------------------------------------------------------------------


def test_empty_and_mapping_state() -> None:
    assert EmptyState().get(b"token/alice") is None
    assert committed().get(b"token/alice") == b"100"
    assert committed().get(b"token/carol") is None


def test_overlay_reads_through_to_its_parent() -> None:
    overlay = Overlay(committed())
    assert overlay.get(b"token/alice") == b"100"
    assert overlay.get(b"token/carol") is None
    assert overlay.writes == {}


def test_overlay_writes_shadow_the_parent_without_changing_it() -> None:
    base = committed()
    overlay = Overlay(base)
    overlay.set(b"token/alice", b"90")
    overlay.set(b"token/bob", None)
    overlay.set(b"token/carol", b"10")
    assert overlay.get(b"token/alice") == b"90"
    assert overlay.get(b"token/bob") is None  # a deletion hides the committed value
    assert overlay.get(b"token/carol") == b"10"
    assert base.get(b"token/alice") == b"100"
    assert base.get(b"token/bob") == b"50"
    assert list(overlay.changes()) == [
        (b"token/alice", b"90"),
        (b"token/bob", None),
        (b"token/carol", b"10"),
    ]


def test_transaction_overlay_merges_into_block_overlay() -> None:
    block = Overlay(committed())
    block.set(b"token/dave", b"1")
    transaction = Overlay(block)
    assert transaction.get(b"token/dave") == b"1"  # sees the block's earlier writes
    transaction.set(b"token/alice", b"80")
    transaction.set(b"token/dave", None)
    assert block.get(b"token/alice") == b"100"  # not visible below until merged
    assert block.get(b"token/dave") == b"1"
    transaction.merge_into(block)
    assert block.get(b"token/alice") == b"80"
    assert block.get(b"token/dave") is None  # deletions merge down too
    assert block.writes == {b"token/dave": None, b"token/alice": b"80"}
    assert committed().get(b"token/alice") == b"100"


def test_dropped_transaction_overlay_leaves_block_untouched() -> None:
    block = Overlay(committed())
    block.set(b"token/alice", b"95")
    rejected = Overlay(block)
    rejected.set(b"token/alice", b"0")
    rejected.set(b"token/eve", b"1000000")
    del rejected  # a rejected transaction's overlay is simply not merged
    assert block.writes == {b"token/alice": b"95"}
    assert block.get(b"token/eve") is None


def test_later_merge_wins() -> None:
    block = Overlay(EmptyState())
    first, second = Overlay(block), Overlay(block)
    first.set(b"k", b"first")
    second.set(b"k", b"second")
    first.merge_into(block)
    second.merge_into(block)
    assert block.get(b"k") == b"second"


@settings(max_examples=50, deadline=None)
@given(
    base=st.dictionaries(st.binary(max_size=3), st.binary(max_size=3), max_size=6),
    layers=st.lists(
        st.dictionaries(
            st.binary(max_size=3), st.one_of(st.none(), st.binary(max_size=3)), max_size=6
        ),
        min_size=1,
        max_size=4,
    ),
    probe=st.lists(st.binary(max_size=3), max_size=8),
)
def test_merged_layers_read_like_applying_the_writes_in_order(
    base: dict[bytes, bytes],
    layers: list[dict[bytes, bytes | None]],
    probe: list[bytes],
) -> None:
    expected: dict[bytes, bytes | None] = dict(base)
    block = Overlay(MappingState(base))
    for writes in layers:
        transaction = Overlay(block)
        for key, value in writes.items():
            transaction.set(key, value)
        transaction.merge_into(block)
        expected.update(writes)
    for key in [*probe, *expected]:
        assert block.get(key) == expected.get(key)


# -- contract namespaces ---------------------------------------------------------------------


def test_full_key_prefixes_the_contract_name() -> None:
    assert full_key("token", b"alice") == b"token/alice"
    assert full_key("token", b"") == b"token/"


def test_contract_state_reads_and_writes_under_its_own_prefix() -> None:
    overlay = Overlay(committed())
    token = contract_state("token", overlay)
    assert token.get(b"alice") == b"100"
    token.set(b"carol", b"7")
    token.delete(b"bob")
    assert overlay.writes == {b"token/carol": b"7", b"token/bob": None}
    assert token.get(b"carol") == b"7"
    assert token.get(b"bob") is None


def test_two_contracts_do_not_see_each_others_keys() -> None:
    overlay = Overlay(committed())
    token = contract_state("token", overlay)
    registry = contract_state("registry", overlay)
    token.set(b"shared", b"from token")
    registry.set(b"shared", b"from registry")
    assert token.get(b"shared") == b"from token"
    assert registry.get(b"shared") == b"from registry"
    assert registry.get(b"alice") is None  # token's committed key
    assert token.get(b"acme") is None  # registry's committed key
    assert registry.get(b"acme") == b"org"
    registry.delete(b"shared")
    assert token.get(b"shared") == b"from token"
    assert overlay.writes == {b"token/shared": b"from token", b"registry/shared": None}


def test_contract_name_that_is_a_prefix_of_another_is_separate() -> None:
    overlay = Overlay(EmptyState())
    contract_state("tok", overlay).set(b"en/alice", b"x")
    assert contract_state("token", overlay).get(b"alice") is None
    assert overlay.writes == {b"tok/en/alice": b"x"}


@pytest.mark.parametrize("name", ["", "c" * 65])
def test_bad_contract_namespace_is_a_node_fault(name: str) -> None:
    with pytest.raises(NodeFault, match="bad contract namespace"):
        contract_state(name)


def test_load_and_save_structs_and_integers() -> None:
    overlay = Overlay(EmptyState())
    state = contract_state("token", overlay)
    assert state.load(b"balance/alice", Balance) is None
    state.save(b"balance/alice", Balance("alice", 250))
    assert overlay.writes[b"token/balance/alice"] == encode(Balance("alice", 250))
    assert state.load(b"balance/alice", Balance) == Balance("alice", 250)
    assert state.load_int(b"supply") == 0
    state.save_int(b"supply", 1_000)
    assert state.load_int(b"supply") == 1_000
    state.save_int(b"supply", 0)  # zero is stored as absence
    assert overlay.writes[b"token/supply"] is None
    assert state.load_int(b"supply") == 0


def test_loading_a_value_of_the_wrong_shape_is_a_node_fault() -> None:
    state = contract_state("token", Overlay(MappingState({b"token/alice": b"\xff\xff"})))
    with pytest.raises(NodeFault, match="is not a Balance"):
        state.load(b"alice", Balance)


# -- limits ----------------------------------------------------------------------------------


def test_step_meter_allows_up_to_its_limit() -> None:
    meter = StepMeter(limit=3)
    meter.charge()
    meter.charge(2)
    assert meter.used == 3
    with pytest.raises(Rejection) as info:
        meter.charge()
    assert info.value.code == "step_limit_exceeded"
    assert info.value.details == {"limit": 3}
    assert "more than 3 steps" in info.value.message


def test_step_meter_default_limit() -> None:
    meter = StepMeter()
    assert meter.limit == MAX_STATE_OPERATIONS_PER_TRANSACTION
    meter.charge(MAX_STATE_OPERATIONS_PER_TRANSACTION)
    with pytest.raises(Rejection, match="steps") as info:
        meter.charge()
    assert info.value.code == "step_limit_exceeded"


def test_every_state_operation_costs_a_step() -> None:
    meter = StepMeter(limit=4)
    state = contract_state("token", Overlay(committed()), meter)
    state.get(b"alice")
    state.set(b"carol", b"1")
    state.delete(b"bob")
    state.load(b"missing", Balance)
    assert meter.used == 4
    with pytest.raises(Rejection) as info:
        state.get(b"alice")
    assert info.value.code == "step_limit_exceeded"


def test_value_at_the_size_limit_is_accepted() -> None:
    overlay = Overlay(EmptyState())
    contract_state("token", overlay).set(b"blob", b"\x00" * MAX_STATE_VALUE_BYTES)
    assert len(overlay.writes[b"token/blob"] or b"") == MAX_STATE_VALUE_BYTES


def test_value_over_the_size_limit_is_a_rejection_and_writes_nothing() -> None:
    overlay = Overlay(EmptyState())
    meter = StepMeter()
    state = contract_state("token", overlay, meter)
    with pytest.raises(Rejection) as info:
        state.set(b"blob", b"\x00" * (MAX_STATE_VALUE_BYTES + 1))
    assert info.value.code == "value_too_large"
    assert str(MAX_STATE_VALUE_BYTES + 1) in info.value.message
    assert overlay.writes == {}
    assert meter.used == 0


def test_key_at_the_size_limit_is_accepted() -> None:
    overlay = Overlay(EmptyState())
    key = b"k" * MAX_STATE_KEY_BYTES
    contract_state("token", overlay).set(key, b"v")
    assert overlay.writes == {b"token/" + key: b"v"}


@pytest.mark.parametrize("operation", ["get", "set", "delete"])
def test_key_over_the_size_limit_is_a_node_fault(operation: str) -> None:
    overlay = Overlay(EmptyState())
    state = contract_state("token", overlay)
    key = b"k" * (MAX_STATE_KEY_BYTES + 1)
    with pytest.raises(NodeFault, match=f"over {MAX_STATE_KEY_BYTES}"):
        if operation == "get":
            state.get(key)
        elif operation == "set":
            state.set(key, b"v")
        else:
            state.delete(key)
    assert overlay.writes == {}


@pytest.mark.parametrize("operation", ["set", "delete", "save", "save_int"])
def test_read_only_state_refuses_writes(operation: str) -> None:
    overlay = Overlay(committed())
    state = contract_state("token", overlay, writable=False)
    with pytest.raises(NodeFault, match="a query tried to write state"):
        if operation == "set":
            state.set(b"alice", b"0")
        elif operation == "delete":
            state.delete(b"alice")
        elif operation == "save":
            state.save(b"alice", Balance("alice", 0))
        else:
            state.save_int(b"supply", 0)
    assert overlay.writes == {}
    assert state.get(b"alice") == b"100"  # reads still work
