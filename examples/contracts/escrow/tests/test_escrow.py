"""The escrow example: `jinqiao contract test examples/contracts/escrow`."""

from jinqiao.contractkit import Kit, Rejection

DAY_MS = 24 * 3600 * 1000


def approve(kit: Kit, amount_minor: int = 5_000) -> None:
    receipt = kit.call_contract(
        "alice", "token", "approve", asset="CNY", spender=kit.contract_address,
        amount_minor=amount_minor,
    )
    assert receipt.ok, receipt.message


def open_escrow(kit: Kit, escrow_id: str = "e1", timeout_ms: int = DAY_MS) -> None:
    approve(kit)
    receipt = kit.call(
        "alice", "open", escrow_id=escrow_id, payee=kit.address("bob"), amount_minor=5_000,
        timeout_ms=timeout_ms,
    )
    assert receipt.ok, receipt.message


def test_opening_moves_the_amount_into_escrow(kit: Kit) -> None:
    alice, bob = kit.balance("alice"), kit.balance("bob")
    open_escrow(kit)
    assert kit.balance(kit.contract_address) == 5_000
    assert (kit.balance("alice"), kit.balance("bob")) == (alice - 5_000, bob)


def test_the_payer_releases(kit: Kit) -> None:
    alice, bob = kit.balance("alice"), kit.balance("bob")
    open_escrow(kit)
    receipt = kit.call("alice", "release", escrow_id="e1")
    assert receipt.events[-1] == ("EscrowClosed", {"escrow_id": "e1", "status": "released"})
    assert receipt.events[0][0] == "Transfer"  # the token's: escrow -> bob
    assert kit.query("escrow", escrow_id="e1")[2] == "released"
    assert kit.balance(kit.contract_address) == 0
    assert (kit.balance("alice"), kit.balance("bob")) == (alice - 5_000, bob + 5_000)
    assert kit.call("alice", "refund", escrow_id="e1").code == "escrow_closed"


def test_a_refund_waits_for_the_deadline(kit: Kit) -> None:
    alice = kit.balance("alice")
    open_escrow(kit)
    assert kit.call("alice", "refund", escrow_id="e1").code == "not_expired"
    kit.advance(milliseconds=DAY_MS)
    assert kit.call("alice", "refund", escrow_id="e1").ok
    assert kit.query("escrow", escrow_id="e1")[2] == "refunded"
    assert (kit.balance("alice"), kit.balance(kit.contract_address)) == (alice, 0)


def test_no_allowance_no_escrow(kit: Kit) -> None:
    """The token's rules decide: without an allowance, or with too small a one, the open is
    rejected with the token's code and nothing moves."""
    alice = kit.balance("alice")
    arguments = {"escrow_id": "e1", "payee": kit.address("bob"), "amount_minor": 5_000,
                 "timeout_ms": DAY_MS}
    assert kit.call("alice", "open", **arguments).code == "insufficient_allowance"
    approve(kit, 4_999)
    assert kit.call("alice", "open", **arguments).code == "insufficient_allowance"
    assert kit.balance("alice") == alice
    assert kit.balance(kit.contract_address) == 0
    try:
        kit.query("escrow", escrow_id="e1")
    except Rejection as rejection:
        assert rejection.code == "unknown_escrow"
    else:
        raise AssertionError("a rejected open left an escrow")


def test_only_the_payer_acts(kit: Kit) -> None:
    open_escrow(kit)
    assert kit.call("bob", "release", escrow_id="e1").code == "not_payer"
    kit.advance(milliseconds=DAY_MS)
    assert kit.call("bob", "refund", escrow_id="e1").code == "not_payer"


def test_bad_terms_are_refused(kit: Kit) -> None:
    bob = kit.address("bob")
    cases = [
        ({"escrow_id": "", "payee": bob, "amount_minor": 1, "timeout_ms": 1}, "invalid_escrow_id"),
        ({"escrow_id": "x", "payee": b"short", "amount_minor": 1, "timeout_ms": 1}, "invalid_payee"),
        ({"escrow_id": "x", "payee": kit.address("alice"), "amount_minor": 1, "timeout_ms": 1},
         "invalid_payee"),
        ({"escrow_id": "x", "payee": bob, "amount_minor": 0, "timeout_ms": 1}, "invalid_amount"),
        ({"escrow_id": "x", "payee": bob, "amount_minor": 1, "timeout_ms": 0}, "invalid_timeout"),
    ]
    for arguments, code in cases:
        assert kit.call("alice", "open", **arguments).code == code
    open_escrow(kit)
    assert kit.call("alice", "open", escrow_id="e1", payee=bob, amount_minor=1,
                    timeout_ms=1).code == "escrow_exists"
    assert kit.call("carol", "open", escrow_id="e2", payee=bob, amount_minor=1,
                    timeout_ms=1).code == "unauthorized"
    assert kit.call("alice", "release", escrow_id="nope").code == "unknown_escrow"
    try:
        kit.query("escrow", escrow_id="nope")
    except Rejection as rejection:
        assert rejection.code == "unknown_escrow"
    else:
        raise AssertionError("the query of an unknown escrow answered")
