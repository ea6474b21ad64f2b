"""Signing policies (docs/keys.md "Signing policies"): weights and threshold, changes only under
the current policy, rotation keeping the address, revocation (``key_revoked``) and amount rules.
Every refusal leaves state unchanged (``Chain.rejected``)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from jinqiao.apps.governance import ProposalArgs, ProposeArgs, RecoverAccount
from jinqiao.apps.registry import (
    AccountArgs,
    ApprovalArgs,
    KeyArgs,
    ProposeTransactionArgs,
    RotateKeyArgs,
    SetPolicyArgs,
)
from jinqiao.apps.token import HoldingArgs, TransferArgs
from jinqiao.client import AccountKey
from jinqiao.core.codec import encode
from jinqiao.execution.identity import GOVERNANCE, REGISTRY, AmountRule, PolicyKey, SigningPolicy
from tests.helpers.chain import (
    Chain,
    events,
    make_genesis,
    result_of,
    signer_for,
    token_config,
)


def funded_chain() -> Chain:
    return Chain(make_genesis(contracts={"token": token_config({"alice": 1_000_000})}))


def key(name: str) -> bytes:
    return signer_for(name).public_key


def pay(chain: Chain, amount: int) -> TransferArgs:
    return TransferArgs("CNY", chain.address("bob"), amount)


def test_an_account_without_a_policy_keeps_its_single_key() -> None:
    chain = funded_chain()
    policy = chain.query(REGISTRY, "policy", AccountArgs(chain.address("alice")))
    assert policy == SigningPolicy((PolicyKey(key("alice"), 1),), 1, (), ())
    chain.ok("alice", "token", "transfer", pay(chain, 5))
    stranger = AccountKey(signer_for("mallory"), chain.address("alice"))
    chain.rejected("address_mismatch", stranger, "token", "transfer", pay(chain, 5))


def test_a_key_signs_alone_only_when_its_weight_reaches_the_threshold() -> None:
    chain = funded_chain()
    alice = chain.address("alice")
    keys = (PolicyKey(key("alice"), 2), PolicyKey(key("k1"), 1), PolicyKey(key("k2"), 2))
    receipt = chain.ok("alice", REGISTRY, "set_policy", SetPolicyArgs(keys, 2, ()))
    assert events(receipt, "PolicySet")[0].attribute("threshold") == 2
    chain.ok(AccountKey(signer_for("k2"), alice), "token", "transfer", pay(chain, 5))
    chain.rejected(
        "under_threshold", AccountKey(signer_for("k1"), alice), "token", "transfer", pay(chain, 5)
    )
    chain.rejected(
        "foreign_signature", AccountKey(signer_for("m"), alice), "token", "transfer", pay(chain, 5)
    )
    # The policy changes only under itself: the light key cannot raise its own weight.
    chain.rejected(
        "under_threshold",
        AccountKey(signer_for("k1"), alice),
        REGISTRY,
        "set_policy",
        SetPolicyArgs((PolicyKey(key("k1"), 5),), 1, ()),
    )


def test_invalid_policies_are_refused() -> None:
    chain = funded_chain()
    bad = [
        SetPolicyArgs((), 1, ()),
        SetPolicyArgs((PolicyKey(key("a"), 1), PolicyKey(key("a"), 1)), 1, ()),
        SetPolicyArgs((PolicyKey(key("a"), 1),), 2, ()),
        SetPolicyArgs((PolicyKey(key("a"), 0),), 1, ()),
        SetPolicyArgs((PolicyKey(b"short", 1),), 1, ()),
        SetPolicyArgs((PolicyKey(key("a"), 1),), 1, (AmountRule("CNY", 0, key("a")),)),
    ]
    for args in bad:
        chain.rejected("invalid_policy", "alice", REGISTRY, "set_policy", args)


def test_rotation_keeps_the_address_and_refuses_the_old_key() -> None:
    chain = funded_chain()
    alice = chain.address("alice")
    receipt = chain.ok("alice", REGISTRY, "rotate_key", RotateKeyArgs(key("alice"), key("alice-2")))
    assert events(receipt, "KeyRotated")[0].attribute("address") == alice.hex()
    chain.ok(AccountKey(signer_for("alice-2"), alice), "token", "transfer", pay(chain, 5))
    chain.rejected("key_revoked", "alice", "token", "transfer", pay(chain, 5))
    # A rotated-out key cannot come back either.
    chain.rejected(
        "invalid_policy",
        AccountKey(signer_for("alice-2"), alice),
        REGISTRY,
        "set_policy",
        SetPolicyArgs((PolicyKey(key("alice"), 1),), 1, ()),
    )


def test_revocation_removes_a_lost_key_at_once() -> None:
    chain = funded_chain()
    alice = chain.address("alice")
    keys = (PolicyKey(key("alice"), 1), PolicyKey(key("lost"), 1))
    chain.ok("alice", REGISTRY, "set_policy", SetPolicyArgs(keys, 1, ()))
    receipt = chain.ok("alice", REGISTRY, "revoke_key", KeyArgs(key("lost")))
    assert events(receipt, "KeyRevoked")[0].attribute("public_key") == key("lost").hex()
    lost = AccountKey(signer_for("lost"), alice)
    chain.rejected("key_revoked", lost, "token", "transfer", pay(chain, 5))
    chain.rejected(
        "key_revoked", lost, REGISTRY, "rotate_key", RotateKeyArgs(key("lost"), key("x"))
    )
    # Revoking the last key would leave an account nobody can sign for.
    chain.rejected("invalid_policy", "alice", REGISTRY, "revoke_key", KeyArgs(key("alice")))
    chain.rejected("key_not_in_policy", "alice", REGISTRY, "revoke_key", KeyArgs(key("other")))


def test_an_amount_rule_requires_its_key_above_the_amount() -> None:
    chain = funded_chain()
    alice = chain.address("alice")
    approval = AccountKey(signer_for("approval-service"), alice)
    keys = (PolicyKey(key("alice"), 1), PolicyKey(approval.public_key, 1))
    rule = AmountRule("CNY", 100_000, approval.public_key)
    chain.ok("alice", REGISTRY, "set_policy", SetPolicyArgs(keys, 1, (rule,)))
    chain.ok("alice", "token", "transfer", pay(chain, 99_999))
    chain.rejected("approval_required", "alice", "token", "transfer", pay(chain, 100_000))
    chain.ok(approval, "token", "transfer", pay(chain, 100_000))


def weighted_chain(weights: list[int], threshold_extra: int) -> tuple[Chain, list[str], int]:
    """Alice's account under a policy of ``weights`` (her own key first) and a threshold of
    ``1 + threshold_extra``, capped at the total weight."""
    chain = funded_chain()
    names = ["alice", *(f"member-{index}" for index in range(1, len(weights)))]
    keys = tuple(PolicyKey(key(name), w) for name, w in zip(names, weights, strict=True))
    threshold = min(sum(weights), 1 + threshold_extra)
    chain.ok("alice", REGISTRY, "set_policy", SetPolicyArgs(keys, threshold, ()))
    return chain, names, threshold


@settings(max_examples=40, deadline=None)
@given(
    weights=st.lists(st.integers(1, 10), min_size=1, max_size=5),
    threshold_extra=st.integers(0, 30),
    signer_index=st.integers(0, 4),
)
def test_a_weight_below_the_threshold_never_admits(
    weights: list[int], threshold_extra: int, signer_index: int
) -> None:
    chain, names, threshold = weighted_chain(weights, threshold_extra)
    alice = chain.address("alice")
    index = signer_index % len(weights)
    signer = AccountKey(signer_for(names[index]), alice)
    if weights[index] >= threshold:
        chain.ok(signer, "token", "transfer", pay(chain, 1))
    else:
        chain.rejected("under_threshold", signer, "token", "transfer", pay(chain, 1))


def bob_balance(chain: Chain) -> int:
    holding = chain.query("token", "balance", HoldingArgs("CNY", chain.address("bob")))
    return int(holding.balance_minor)


def two_of_three(chain: Chain) -> list[AccountKey]:
    alice = chain.address("alice")
    members = [AccountKey(signer_for(name), alice) for name in ("alice", "k1", "k2")]
    keys = tuple(PolicyKey(member.public_key, 1) for member in members)
    chain.ok("alice", REGISTRY, "set_policy", SetPolicyArgs(keys, 2, ()))
    return members


def propose_payment(chain: Chain, signer: AccountKey, amount: int, expires: int = 5) -> bytes:
    args = ProposeTransactionArgs("token", "transfer", encode(pay(chain, amount)), expires)
    receipt = chain.ok(signer, REGISTRY, "propose_transaction", args)
    return result_of(receipt, bytes)


def test_a_two_of_three_payment_collects_its_second_signature_on_chain() -> None:
    chain = funded_chain()
    first, second, _ = two_of_three(chain)
    chain.rejected("under_threshold", first, "token", "transfer", pay(chain, 7))
    approval = propose_payment(chain, first, 7, expires=chain.height + 5)
    assert bob_balance(chain) == 0
    chain.rejected(
        "duplicate_cosignature", first, REGISTRY, "approve_transaction", ApprovalArgs(approval)
    )
    foreign = AccountKey(signer_for("mallory"), first.address)
    chain.rejected(
        "foreign_signature", foreign, REGISTRY, "approve_transaction", ApprovalArgs(approval)
    )
    receipt = chain.ok(second, REGISTRY, "approve_transaction", ApprovalArgs(approval))
    assert events(receipt, "ApprovalExecuted")[0].attribute("approval_hash") == approval.hex()
    assert bob_balance(chain) == 7
    chain.rejected(
        "unknown_approval", second, REGISTRY, "approve_transaction", ApprovalArgs(approval)
    )


def test_an_expired_or_unknown_approval_is_refused() -> None:
    chain = funded_chain()
    first, second, _ = two_of_three(chain)
    approval = propose_payment(chain, first, 7, expires=chain.height + 2)
    chain.advance(2)
    chain.rejected(
        "approval_expired", second, REGISTRY, "approve_transaction", ApprovalArgs(approval)
    )
    chain.rejected(
        "unknown_approval", second, REGISTRY, "approve_transaction", ApprovalArgs(bytes(32))
    )
    args = ProposeTransactionArgs("token", "transfer", encode(pay(chain, 1)), chain.height)
    chain.rejected("invalid_expiry", first, REGISTRY, "propose_transaction", args)


def test_an_account_whose_keys_are_lost_is_recovered_by_its_admins_and_the_quorum() -> None:
    chain = funded_chain()
    alice = chain.address("alice")
    fresh = AccountKey(signer_for("alice-recovered"), alice)
    action = RecoverAccount(alice, (PolicyKey(fresh.public_key, 1),), 1)
    chain.rejected(
        "not_your_organization", "bank-b-admin", GOVERNANCE, "propose", ProposeArgs(action)
    )
    proposal = result_of(chain.ok("bank-a-admin", GOVERNANCE, "propose", ProposeArgs(action)), int)
    chain.ok("bank-b-admin", GOVERNANCE, "approve", ProposalArgs(proposal))
    chain.rejected("address_mismatch", fresh, "token", "transfer", pay(chain, 5))  # not yet
    receipt = chain.ok("central-bank-admin", GOVERNANCE, "approve", ProposalArgs(proposal))
    assert events(receipt, "AccountRecovered")[0].attribute("address") == alice.hex()
    chain.ok(fresh, "token", "transfer", pay(chain, 5))
    chain.rejected("key_revoked", "alice", "token", "transfer", pay(chain, 5))
    assert chain.query(REGISTRY, "policy", AccountArgs(alice)).revoked == (key("alice"),)


def test_an_approval_service_key_without_weight_only_co_signs_above_the_amount() -> None:
    chain = funded_chain()
    alice = chain.address("alice")
    service = AccountKey(signer_for("approval-service"), alice)
    rule = AmountRule("CNY", 100_000, service.public_key)
    keys = (PolicyKey(key("alice"), 1),)
    chain.ok("alice", REGISTRY, "set_policy", SetPolicyArgs(keys, 1, (rule,)))
    chain.rejected("approval_required", "alice", "token", "transfer", pay(chain, 100_000))
    chain.rejected("under_threshold", service, "token", "transfer", pay(chain, 5))  # weight 0
    owner = AccountKey(signer_for("alice"), alice)
    approval = propose_payment(chain, owner, 100_000, expires=chain.height + 5)
    assert bob_balance(chain) == 0  # the threshold is met, the rule is not: it waits
    receipt = chain.ok(service, REGISTRY, "approve_transaction", ApprovalArgs(approval))
    assert events(receipt, "ApprovalExecuted")
    assert bob_balance(chain) == 100_000


@settings(max_examples=30, deadline=None)
@given(
    weights=st.lists(st.integers(1, 10), min_size=2, max_size=5),
    threshold_extra=st.integers(0, 40),
    signers=st.sets(st.integers(0, 4), min_size=1, max_size=5),
)
def test_approvals_below_the_threshold_never_run(
    weights: list[int], threshold_extra: int, signers: set[int]
) -> None:
    chain, names, threshold = weighted_chain(weights, threshold_extra)
    alice = chain.address("alice")
    chosen = sorted({index % len(weights) for index in signers})
    members = [AccountKey(signer_for(names[index]), alice) for index in chosen]
    approval = propose_payment(chain, members[0], 3, expires=chain.height + 20)
    for member in members[1:]:
        if bob_balance(chain) == 0:
            chain.ok(member, REGISTRY, "approve_transaction", ApprovalArgs(approval))
    weight = sum(weights[index] for index in chosen)
    # Executed exactly when the signers' weight reached the threshold.
    assert (bob_balance(chain) == 3) == (weight >= threshold)
