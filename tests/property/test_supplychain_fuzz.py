"""Hostile arguments to every supply chain method: each transaction is accepted or rejected with a
code and never raises out of the runtime (which would be a node fault, not a transaction
outcome), and a rejection changes nothing."""

from __future__ import annotations

import typing
from types import NoneType, UnionType
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jinqiao.apps.supplychain import SupplyChain
from jinqiao.apps.supplychain.model import SUPPLYCHAIN
from jinqiao.core.types import ReceiptStatus
from tests.helpers.supplychain import ACCOUNTS, GTIN, make_chain, sgtin, sscc

TEXTS = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [sgtin(1), sscc(1), GTIN, "brand", "tier1", "bank", "6901234", "L1", "po", "pledge"]
    ),
)
INTEGERS = st.one_of(st.integers(-(2**63), 2**64 - 1), st.integers(0, 10))
BYTES = st.one_of(st.binary(max_size=40), st.sampled_from([b"\x00" * 32, b"\x01" * 20]))


def strategy_for(kind: Any) -> st.SearchStrategy[Any]:
    if kind is int:
        return INTEGERS
    if kind is str:
        return TEXTS
    if kind is bytes:
        return BYTES
    if kind is bool:
        return st.booleans()
    origin = typing.get_origin(kind)
    if origin is tuple:
        return st.lists(strategy_for(typing.get_args(kind)[0]), max_size=4).map(tuple)
    if origin is UnionType or origin is typing.Union:
        return st.one_of(
            [st.none() if arg is NoneType else strategy_for(arg) for arg in typing.get_args(kind)]
        )
    if isinstance(kind, type) and issubclass(kind, msgspec.Struct):
        hints = typing.get_type_hints(kind)
        fields = {name: strategy_for(hints[name]) for name in kind.__struct_fields__}
        return st.fixed_dictionaries(fields).map(lambda values: kind(**values))
    raise TypeError(f"no strategy for {kind!r}")


METHODS = sorted(
    (name, spec.args_type) for name, spec in SupplyChain.methods.items() if not spec.read_only
)
calls = st.one_of(
    [st.tuples(st.just(name), strategy_for(args_type)) for name, args_type in METHODS]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([account.name for account in ACCOUNTS]), calls)
def test_hostile_arguments_are_rejected_never_raised(sender: str, call: tuple[str, Any]) -> None:
    chain = make_chain()
    method, args = call
    before = dict(chain.state)
    receipt = chain.submit(sender, SUPPLYCHAIN, method, args)
    if receipt.status != ReceiptStatus.OK:
        assert chain.state == before
