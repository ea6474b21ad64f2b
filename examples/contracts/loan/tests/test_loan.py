"""The consortium loan example: `jinqiao contract test examples/contracts/loan`."""

from jinqiao.contractkit import Kit, Rejection

MONTH_MS = 30 * 24 * 3600 * 1000


def allow(kit: Kit, owner: str, amount_minor: int) -> None:
    receipt = kit.call_contract(
        owner, "token", "approve", asset="CNY", spender=kit.contract_address,
        amount_minor=amount_minor,
    )
    assert receipt.ok, receipt.message


def originate(kit: Kit, principal_minor: int = 10_000, installments: int = 3) -> None:
    allow(kit, "alice", principal_minor)
    receipt = kit.call(
        "alice", "originate", loan_id="L1", borrower=kit.address("carol"),
        principal_minor=principal_minor, installments=installments, period_ms=MONTH_MS,
        rate_bps=100,
    )
    assert receipt.ok, receipt.message


def test_the_schedule_is_repaid_in_order(kit: Kit) -> None:
    alice, carol = kit.balance("alice"), kit.balance("carol")
    originate(kit)
    assert (kit.balance("alice"), kit.balance("carol")) == (alice - 10_000, carol + 10_000)
    paid = []
    for _ in range(3):
        share, interest, _due_ms, status = kit.query("due", loan_id="L1")
        assert status == "current"
        allow(kit, "carol", share + interest)
        receipt = kit.call("carol", "repay", loan_id="L1", amount_minor=share + interest)
        assert receipt.ok, receipt.message
        paid.append((share, interest))
    # 10,000 in three: 3,333 + 3,333 + 3,334; 1% a period on what is outstanding
    assert paid == [(3_333, 100), (3_333, 66), (3_334, 33)]
    # the principal came back with 199 of interest; the loan contract holds nothing
    assert (kit.balance("alice"), kit.balance("carol")) == (alice + 199, carol - 199)
    assert kit.balance(kit.contract_address) == 0
    assert kit.query("due", loan_id="L1") == [0, 0, 0, "repaid"]
    assert kit.call("carol", "repay", loan_id="L1", amount_minor=1).code == "loan_repaid"


def test_only_the_exact_installment_by_the_borrower(kit: Kit) -> None:
    originate(kit)
    assert kit.call("carol", "repay", loan_id="L1", amount_minor=1).code == "wrong_amount"
    assert kit.call("bob", "repay", loan_id="L1", amount_minor=3_433).code == "not_borrower"


def test_an_unpaid_installment_goes_overdue(kit: Kit) -> None:
    originate(kit)
    assert kit.call("bob", "mark_overdue", loan_id="L1").code == "not_due"
    kit.advance(milliseconds=MONTH_MS)
    receipt = kit.call("bob", "mark_overdue", loan_id="L1")
    assert receipt.ok and receipt.events[0][0] == "LoanOverdue"
    assert kit.query("due", loan_id="L1")[3] == "overdue"
    # repaying brings it back to current
    allow(kit, "carol", 3_433)
    assert kit.call("carol", "repay", loan_id="L1", amount_minor=3_433).ok
    assert kit.query("due", loan_id="L1")[3] == "current"


def test_no_allowance_no_money_moves(kit: Kit) -> None:
    """The token's rules decide: a disbursement or an installment without the allowance is
    rejected with the token's code and changes nothing."""
    alice, carol = kit.balance("alice"), kit.balance("carol")
    receipt = kit.call(
        "alice", "originate", loan_id="L1", borrower=kit.address("carol"),
        principal_minor=10_000, installments=3, period_ms=MONTH_MS, rate_bps=100,
    )
    assert receipt.code == "insufficient_allowance"
    originate(kit)
    assert kit.call("carol", "repay", loan_id="L1", amount_minor=3_433).code == (
        "insufficient_allowance"
    )
    assert (kit.balance("alice"), kit.balance("carol")) == (alice - 10_000, carol + 10_000)
    assert kit.query("due", loan_id="L1")[:2] == [3_333, 100]


def test_bad_terms_are_refused(kit: Kit) -> None:
    carol = kit.address("carol")
    base = {"loan_id": "L2", "borrower": carol, "principal_minor": 100, "installments": 2,
            "period_ms": 1, "rate_bps": 0}
    for change, code in [
        ({"loan_id": ""}, "invalid_loan_id"),
        ({"borrower": kit.address("alice")}, "invalid_borrower"),
        ({"principal_minor": 0}, "invalid_amount"),
        ({"installments": 0}, "invalid_schedule"),
        ({"installments": 101}, "invalid_schedule"),
        ({"period_ms": 0}, "invalid_schedule"),
        ({"rate_bps": 5_001}, "invalid_rate"),
    ]:
        assert kit.call("alice", "originate", **{**base, **change}).code == code
    assert kit.call("carol", "originate", **base).code == "unauthorized"
    originate(kit)
    assert kit.call("alice", "originate", **{**base, "loan_id": "L1"}).code == "loan_exists"
    assert kit.call("carol", "mark_overdue", loan_id="nope").code == "unknown_loan"
    try:
        kit.query("due", loan_id="nope")
    except Rejection as rejection:
        assert rejection.code == "unknown_loan"
    else:
        raise AssertionError("the query of an unknown loan answered")
