"""The governance quorum rule for random consortium sizes, quorum fractions and approval orders:

* ``quorum_reached(a, n, p, q)`` is exactly ``a / n >= p / q`` in exact rational arithmetic, and
  is monotone in the number of approvals;
* on a real chain, a proposal executes at the first approval that brings the share of approving
  organizations to the quorum — not before, and in that same transaction.
"""

from __future__ import annotations

from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jinqiao.apps.governance import (
    NoArgs,
    ProposalArgs,
    ProposeArgs,
    SetParameter,
    quorum_reached,
)
from jinqiao.core.genesis import ChainParameters, GenesisOrganization
from jinqiao.core.types import ReceiptStatus
from jinqiao.execution.identity import GOVERNANCE
from tests.helpers.chain import AccountSpec, Chain, events, make_genesis, result_of

fractions = st.integers(1, 1_000).flatmap(
    lambda denominator: st.tuples(st.integers(1, denominator), st.just(denominator))
)


@settings(max_examples=500, deadline=None)
@given(st.integers(1, 500), st.data(), fractions)
def test_quorum_is_the_exact_fraction(
    active: int, data: st.DataObject, fraction: tuple[int, int]
) -> None:
    numerator, denominator = fraction
    approving = data.draw(st.integers(0, active))
    expected = Fraction(approving, active) >= Fraction(numerator, denominator)
    assert quorum_reached(approving, active, numerator, denominator) is expected
    if approving < active and expected:
        assert quorum_reached(approving + 1, active, numerator, denominator)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(1, 7).flatmap(
        lambda count: st.tuples(st.just(count), st.permutations(range(1, count)))
    ),
    st.sampled_from([(2, 3), (1, 2), (3, 4), (1, 1), (1, 3)]),
)
def test_a_proposal_executes_exactly_when_the_quorum_is_reached(
    consortium: tuple[int, list[int]], fraction: tuple[int, int]
) -> None:
    count, approval_order = consortium
    numerator, denominator = fraction
    organizations = tuple(GenesisOrganization(f"org-{i}", f"Org {i}") for i in range(count))
    accounts = tuple(AccountSpec(f"org-{i}-admin", f"org-{i}", ("admin",)) for i in range(count))
    parameters = ChainParameters(
        governance_quorum_numerator=numerator, governance_quorum_denominator=denominator
    )
    chain = Chain(
        make_genesis(organizations=organizations, accounts=accounts, parameters=parameters)
    )
    action = ProposeArgs(SetParameter("block_max_transactions", 77))
    receipt = chain.ok("org-0-admin", GOVERNANCE, "propose", action)
    proposal_id = result_of(receipt, int)
    approving = 1
    executed = bool(events(receipt, "ProposalExecuted"))
    assert executed == quorum_reached(approving, count, numerator, denominator)
    for index in approval_order:
        receipt = chain.submit(
            f"org-{index}-admin", GOVERNANCE, "approve", ProposalArgs(proposal_id)
        )
        if executed:
            assert receipt.code == "proposal_closed"
            continue
        assert receipt.status == ReceiptStatus.OK
        approving += 1
        executed = bool(events(receipt, "ProposalExecuted"))
        assert executed == quorum_reached(approving, count, numerator, denominator)
    assert executed  # everyone approving is always enough
    assert chain.query(GOVERNANCE, "parameters", NoArgs()).block_max_transactions == 77
