"""The on-chain light client (docs/crosschain.md §2): chain A follows chain B's headers, signed
with B's real validator keys; governance creates it; too little power, an unknown set, a forged
or foreign header are refused with stable codes and change nothing; a validator-set change is
followed; two certified headers at one height freeze the client."""

from __future__ import annotations

import msgspec
import pytest

from jinqiao.apps.crosschain.model import (
    CROSSCHAIN,
    ClientArgs,
    ClientState,
    ConsensusState,
    ConsensusStateArgs,
    CreateClientArgs,
    MisbehaviourArgs,
    SubstituteClientArgs,
    UpdateClientArgs,
)
from jinqiao.apps.governance import AddValidator, ProposalArgs, ProposeArgs
from jinqiao.core.errors import Rejection
from jinqiao.core.hashing import header_hash
from jinqiao.execution.api import GOVERNANCE
from tests.helpers.chain import events, result_of
from tests.helpers.crosschain import (
    ADMINS,
    RELAYER,
    CertifiedChain,
    chain_genesis,
    enact,
    update,
)
from tests.helpers.suites import SUITE_NAMES

CLIENT = "chain-b"


@pytest.fixture(params=SUITE_NAMES)
def chains(request: pytest.FixtureRequest) -> tuple[CertifiedChain, CertifiedChain]:
    """A on the default suite; B, the chain A's client follows, on each suite in turn: the
    client checks B's headers and proofs in B's suite."""
    a = CertifiedChain(chain_genesis("chain-a", "a-validator"))
    b = CertifiedChain(chain_genesis(CLIENT, "b-validator", suite_name=request.param))
    create = CreateClientArgs(CLIENT, CLIENT, b.suite.name, b.genesis.validator_set())
    enact(a, CROSSCHAIN, "create_client", create)
    return a, b


def client_of(a: CertifiedChain) -> ClientState:
    state: ClientState = a.query(CROSSCHAIN, "client", ClientArgs(CLIENT))
    return state


def test_governance_creates_the_client_from_the_counterparty_genesis(
    chains: tuple[CertifiedChain, CertifiedChain],
) -> None:
    a, b = chains
    assert client_of(a) == ClientState(CLIENT, CLIENT, b.suite.name, 0, 0, "", 0)


def test_an_account_cannot_create_or_hijack_a_client(
    chains: tuple[CertifiedChain, CertifiedChain],
) -> None:
    a, b = chains
    create = CreateClientArgs("other", CLIENT, b.suite.name, b.genesis.validator_set())
    a.rejected("unauthorized", ADMINS[0], CROSSCHAIN, "create_client", create)
    # The same initialization again (a replayed proposal) cannot replace the trusted set.
    forged_set = a.genesis.validator_set()
    again = CreateClientArgs(CLIENT, CLIENT, b.suite.name, forged_set)
    with pytest.raises(AssertionError, match="client_exists"):
        enact(a, CROSSCHAIN, "create_client", again)
    assert client_of(a).latest_height == 0


def test_a_client_of_the_chain_itself_or_of_an_unknown_suite_is_refused(
    chains: tuple[CertifiedChain, CertifiedChain],
) -> None:
    a, b = chains
    own = CreateClientArgs("self", a.chain_id, a.suite.name, a.genesis.validator_set())
    with pytest.raises(AssertionError, match="invalid_client"):
        enact(a, CROSSCHAIN, "create_client", own)
    suite = CreateClientArgs("odd", "chain-c", "rot13", b.genesis.validator_set())
    with pytest.raises(AssertionError, match="unknown_suite"):
        enact(a, CROSSCHAIN, "create_client", suite)


def test_certified_headers_are_accepted_in_order_and_skipping_is_allowed(
    chains: tuple[CertifiedChain, CertifiedChain],
) -> None:
    a, b = chains
    b.advance(3)
    receipt = update(a, b, 2)
    assert [event.name for event in events(receipt)] == ["ClientUpdated"]
    update(a, b)  # height 3: skips nothing, then 5 skips 4
    b.advance(2)
    update(a, b)
    assert client_of(a).latest_height == 5
    header = b.headers[5][0]
    stored = a.query(CROSSCHAIN, "consensus_state", ConsensusStateArgs(CLIENT, 5))
    assert stored == ConsensusState(
        5,
        header_hash(b.suite, header),
        header.state_root,
        header.time_ms,
        header.validators_hash,
        header.next_validators_hash,
    )
    with pytest.raises(Rejection) as refused:
        a.query(CROSSCHAIN, "consensus_state", ConsensusStateArgs(CLIENT, 4))
    assert refused.value.code == "unknown_consensus_state"


def test_a_header_signed_by_two_thirds_or_less_is_refused(
    chains: tuple[CertifiedChain, CertifiedChain],
) -> None:
    a, b = chains
    validators = b.genesis.validator_set().validators
    b.withheld = {validators[0].address, validators[1].address}  # 2 of 4: not more than 2/3
    b.advance()
    a.rejected("invalid_certificate", RELAYER, CROSSCHAIN, "update_client", b.update_args(CLIENT))
    b.withheld = {validators[0].address}  # 3 of 4
    b.advance()
    update(a, b)
    assert client_of(a).latest_height == 2


def test_forged_foreign_and_tampered_headers_are_refused(
    chains: tuple[CertifiedChain, CertifiedChain],
) -> None:
    a, b = chains
    b.advance()
    header, certificate = b.headers[1]
    tampered = msgspec.structs.replace(header, state_root=b"\x42" * 32)
    a.rejected(
        "invalid_certificate",
        RELAYER,
        CROSSCHAIN,
        "update_client",
        UpdateClientArgs(CLIENT, tampered, certificate, None),
    )
    # A header of chain A itself (signed by A's real validators) is not B's.
    a.advance()
    own_header, own_certificate = a.headers[a.height]
    a.rejected(
        "unknown_validator_set",
        RELAYER,
        CROSSCHAIN,
        "update_client",
        UpdateClientArgs(CLIENT, own_header, own_certificate, None),
    )
    # A's validators signing a header that claims B's set: signed by validators outside the set.
    forged = msgspec.structs.replace(header, proposer=b"\x01" * 20)
    forged_certificate = a.certify(forged, a.genesis.validator_set())
    a.rejected(
        "invalid_certificate",
        RELAYER,
        CROSSCHAIN,
        "update_client",
        UpdateClientArgs(CLIENT, forged, forged_certificate, None),
    )
    a.rejected(
        "unknown_client",
        RELAYER,
        CROSSCHAIN,
        "update_client",
        UpdateClientArgs("nobody", header, certificate, None),
    )


def test_an_old_header_or_the_same_header_again_is_refused(
    chains: tuple[CertifiedChain, CertifiedChain],
) -> None:
    a, b = chains
    b.advance(2)
    update(a, b)
    a.rejected("header_known", RELAYER, CROSSCHAIN, "update_client", b.update_args(CLIENT))
    a.rejected("header_too_old", RELAYER, CROSSCHAIN, "update_client", b.update_args(CLIENT, 1))


def test_the_client_follows_a_validator_set_change(
    chains: tuple[CertifiedChain, CertifiedChain],
) -> None:
    a, b = chains
    newcomer = b.add_signer("b-validator-new")
    action = AddValidator(newcomer.public_key, "b-validator-new", "bank-a", 1)
    proposal_id = result_of(b.ok(ADMINS[0], GOVERNANCE, "propose", ProposeArgs(action)), int)
    b.ok(ADMINS[1], GOVERNANCE, "approve", ProposalArgs(proposal_id))
    b.ok(ADMINS[2], GOVERNANCE, "approve", ProposalArgs(proposal_id))  # decided at height d
    decided = b.height
    b.advance(3)  # d + 1 announces the new set; d + 2 is the first it certifies
    announcing = b.headers[decided + 1][0]
    assert announcing.next_validators_hash != announcing.validators_hash
    # Skipping the announcing header leaves the client unable to check the new set's headers.
    a.rejected("unknown_validator_set", RELAYER, CROSSCHAIN, "update_client", b.update_args(CLIENT))
    without_set = msgspec.structs.replace(b.update_args(CLIENT, decided + 1), next_validators=None)
    a.rejected("missing_validator_set", RELAYER, CROSSCHAIN, "update_client", without_set)
    wrong_set = msgspec.structs.replace(
        b.update_args(CLIENT, decided + 1), next_validators=b.genesis.validator_set()
    )
    a.rejected("invalid_validator_set", RELAYER, CROSSCHAIN, "update_client", wrong_set)
    receipt = update(a, b, decided + 1)
    assert "ClientValidatorsChanged" in [event.name for event in events(receipt)]
    update(a, b)  # certified by the new set of five
    assert client_of(a).latest_height == b.height
    # The old set alone (four of five, power 4 of 5 > 2/3) still signs validly; three do not.
    b.withheld = {newcomer.address, b.genesis.validator_set().validators[0].address}
    b.advance()
    a.rejected("invalid_certificate", RELAYER, CROSSCHAIN, "update_client", b.update_args(CLIENT))


def test_a_conflicting_header_at_an_accepted_height_freezes_the_client(
    chains: tuple[CertifiedChain, CertifiedChain],
) -> None:
    a, b = chains
    b.advance(2)
    update(a, b)
    header, _ = b.headers[2]
    fork = msgspec.structs.replace(header, state_root=b"\x07" * 32)
    fork_certificate = b.certify(fork, b.genesis.validator_set())  # B's validators equivocate
    receipt = a.ok(
        RELAYER,
        CROSSCHAIN,
        "update_client",
        UpdateClientArgs(CLIENT, fork, fork_certificate, None),
    )
    (frozen,) = events(receipt, "ClientFrozen")
    assert frozen.attribute("height") == 2
    state = client_of(a)
    assert state.frozen_height == 2
    assert "second certified header" in state.frozen_reason
    b.advance()
    a.rejected("client_frozen", RELAYER, CROSSCHAIN, "update_client", b.update_args(CLIENT))


def test_misbehaviour_at_a_height_the_client_never_saw_freezes_it(
    chains: tuple[CertifiedChain, CertifiedChain],
) -> None:
    a, b = chains
    b.advance(2)
    header, certificate = b.headers[2]
    fork = msgspec.structs.replace(header, time_ms=header.time_ms + 1)
    fork_certificate = b.certify(fork, b.genesis.validator_set())
    same = MisbehaviourArgs(CLIENT, header, certificate, header, certificate)
    a.rejected("invalid_misbehaviour", RELAYER, CROSSCHAIN, "submit_misbehaviour", same)
    unsigned = msgspec.structs.replace(fork_certificate, signatures=fork_certificate.signatures[:2])
    weak = MisbehaviourArgs(CLIENT, header, certificate, fork, unsigned)
    a.rejected("invalid_certificate", RELAYER, CROSSCHAIN, "submit_misbehaviour", weak)
    evidence = MisbehaviourArgs(CLIENT, header, certificate, fork, fork_certificate)
    a.ok(RELAYER, CROSSCHAIN, "submit_misbehaviour", evidence)
    assert client_of(a).frozen_height == 2


def test_governance_restarts_a_frozen_client_from_a_substitute(
    chains: tuple[CertifiedChain, CertifiedChain],
) -> None:
    a, b = chains
    b.advance(2)
    update(a, b)
    header, _ = b.headers[2]
    fork = msgspec.structs.replace(header, state_root=b"\x07" * 32)
    fork_certificate = b.certify(fork, b.genesis.validator_set())
    restart = SubstituteClientArgs(CLIENT, "chain-b-2")
    with pytest.raises(AssertionError, match="client_not_frozen"):
        enact(a, CROSSCHAIN, "substitute_client", restart)
    frozen = UpdateClientArgs(CLIENT, fork, fork_certificate, None)
    a.ok(RELAYER, CROSSCHAIN, "update_client", frozen)
    with pytest.raises(AssertionError, match="unknown_client"):
        enact(a, CROSSCHAIN, "substitute_client", restart)
    create = CreateClientArgs("chain-b-2", CLIENT, b.suite.name, b.genesis.validator_set())
    enact(a, CROSSCHAIN, "create_client", create)
    b.advance(2)
    a.ok(RELAYER, CROSSCHAIN, "update_client", b.update_args("chain-b-2"))
    a.rejected("unauthorized", ADMINS[0], CROSSCHAIN, "substitute_client", restart)
    receipt = enact(a, CROSSCHAIN, "substitute_client", restart)
    assert "ClientRecovered" in [event.name for event in events(receipt)]
    assert client_of(a) == ClientState(CLIENT, CLIENT, b.suite.name, 4, 0, "", 4)
    # What the frozen client held before is no longer trusted; it follows B again from 4.
    with pytest.raises(Rejection) as refused:
        a.query(CROSSCHAIN, "consensus_state", ConsensusStateArgs(CLIENT, 2))
    assert refused.value.code == "unknown_consensus_state"
    a.rejected("header_too_old", RELAYER, CROSSCHAIN, "update_client", b.update_args(CLIENT, 2))
    b.advance()
    update(a, b)
    assert client_of(a).latest_height == 5
