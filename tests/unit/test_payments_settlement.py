"""Clearing cycles: opening and closing by cut-off, positions and the risk report, funding into
the escrow, atomic settlement in the token, the default procedure (collateral first, then
unwinding), collateral, and every refusal on the way."""

from __future__ import annotations

import pytest

from jinqiao.apps.payments import PAYMENTS
from jinqiao.apps.payments.model import (
    Amount,
    CollateralArgs,
    CollateralQueryArgs,
    Cycle,
    CycleArgs,
    CycleInstitutionArgs,
    Institution,
    InstitutionArgs,
    OpenCycleArgs,
    PaymentArgs,
    Position,
    Positions,
    RegisterInstitutionArgs,
)
from jinqiao.core.errors import Rejection
from jinqiao.core.genesis import GenesisOrganization
from tests.helpers.chain import AccountSpec, Chain, events, make_genesis, result_of, signer_for
from tests.helpers.payments_network import (
    CLEARING,
    CLEARING_OPS,
    CNY,
    DEFAULT,
    Driver,
    authorize_call,
    capture_call,
    escrow_of,
    make_network,
    network_genesis_parts,
    refund_call,
    token_balance,
    treasury,
)

INSTITUTIONS = ("bank-a", "bank-b", CLEARING, "ecfin")
# P1 bank-b → ecfin 100,000 debit (fees 350 / 33 / 33); P2 bank-a → ecfin 200,000 credit
# (900 / 65 / 65); P3 bank-b → bank-a 50,000 debit (175 / 16 / 16).
POSITIONS = {"bank-a": -149_356, "bank-b": -149_524, CLEARING: 228, "ecfin": 298_652}


def clear_three_payments(chain: Chain, **open_args: int | None) -> int:
    driver = Driver(chain)
    cycle = driver.open_cycle(**open_args)  # type: ignore[arg-type]
    driver.run(
        [
            authorize_call("P1", "bank-b", "ecfin", 100_000),
            authorize_call("P2", "bank-a", "ecfin", 200_000, merchant=1, card_type="credit"),
            authorize_call("P3", "bank-b", "bank-a", 50_000),
        ]
    )
    driver.run(
        [
            capture_call("ecfin", "P1", 100_000, cycle),
            capture_call("ecfin", "P2", 200_000, cycle),
            capture_call("bank-a", "P3", 50_000, cycle),
        ]
    )
    return cycle


def closed_cycle(chain: Chain) -> int:
    cycle = clear_three_payments(chain, blocks=3)
    chain.advance(3)
    chain.ok(CLEARING_OPS, PAYMENTS, "close_cycle", CycleArgs(cycle))
    return cycle


def positions(chain: Chain, cycle: int) -> dict[str, Position]:
    result: Positions = chain.query(PAYMENTS, "positions", CycleArgs(cycle))
    return {position.institution: position for position in result.positions}


def nets(chain: Chain, cycle: int) -> dict[str, int]:
    return {name: position.net_minor for name, position in positions(chain, cycle).items()}


def cycle_record(chain: Chain, cycle: int) -> Cycle:
    result: Cycle = chain.query(PAYMENTS, "cycle", CycleArgs(cycle))
    return result


def balances(chain: Chain) -> dict[str, int]:
    return {name: token_balance(chain, chain.address(treasury(name))) for name in INSTITUTIONS}


def fund(chain: Chain, institution: str, cycle: int) -> Position:
    receipt = chain.ok(treasury(institution), PAYMENTS, "fund", CycleArgs(cycle))
    return result_of(receipt, Position)


# -- opening and closing ------------------------------------------------------------------------


def test_closing_nets_the_cycle_into_positions_that_sum_to_zero() -> None:
    chain = make_network()
    cycle = clear_three_payments(chain, blocks=4)  # the payments take two blocks
    chain.rejected("cutoff_not_reached", CLEARING_OPS, PAYMENTS, "close_cycle", CycleArgs(cycle))
    chain.advance()
    receipt = chain.ok(CLEARING_OPS, PAYMENTS, "close_cycle", CycleArgs(cycle))
    assert nets(chain, cycle) == POSITIONS
    assert sum(POSITIONS.values()) == 0
    bank_b = positions(chain, cycle)["bank-b"]
    assert (bank_b.debit_minor, bank_b.credit_minor) == (150_049, 525)  # gross, before netting
    record = result_of(receipt, Cycle)
    assert record.status == "closed" and record.round == 1
    assert record.unfunded_debtors == 2
    assert record.debit_total_minor == 149_356 + 149_524
    assert record.funding_deadline_height == chain.height + 10
    report = record.report
    assert report is not None
    assert (report.participants, report.obligations) == (4, 9)  # (debtor, creditor) pairs
    assert (report.largest_debtor, report.largest_debit_minor) == ("bank-b", 149_524)
    assert not report.lamfalussy_covered and report.over_cap == ()
    (event,) = events(receipt, "CycleClosed")
    assert event.attribute("largest_debtor") == "bank-b"
    # closing reads the per-pair totals, not the payments: a few dozen operations here
    assert receipt.steps_used < 60
    chain.rejected("cycle_not_open", CLEARING_OPS, PAYMENTS, "close_cycle", CycleArgs(cycle))
    for institution in INSTITUTIONS:
        record_of = chain.query(PAYMENTS, "institution", InstitutionArgs(institution))
        assert record_of.pending_cycles == 1


def test_a_cycle_can_be_cut_off_by_block_time() -> None:
    chain = make_network()
    cycle = clear_three_payments(chain, blocks=None, time_ms=60_000)
    Driver(chain).run([authorize_call("P4", "bank-b", "ecfin", 1_000)])
    chain.rejected("cutoff_not_reached", CLEARING_OPS, PAYMENTS, "close_cycle", CycleArgs(cycle))
    chain.advance_time(60_000)
    late = capture_call("ecfin", "P4", 1_000, cycle)
    chain.rejected("cycle_closed", late.sender, PAYMENTS, "capture", late.args)
    chain.ok(CLEARING_OPS, PAYMENTS, "close_cycle", CycleArgs(cycle))
    assert nets(chain, cycle) == POSITIONS


def test_open_cycle_rejections() -> None:
    chain = make_network()
    height, time_ms = chain.height, chain.time_ms
    far = height + 1_000
    for code, args in (
        ("invalid_cutoff", OpenCycleArgs(CNY, None, None, 10)),
        ("invalid_cutoff", OpenCycleArgs(CNY, height + 1, None, 10)),  # the opening block's own
        ("invalid_cutoff", OpenCycleArgs(CNY, None, time_ms, 10)),
        ("invalid_cutoff", OpenCycleArgs(CNY, 2**63, None, 10)),
        ("invalid_funding_window", OpenCycleArgs(CNY, far, None, 0)),
        ("invalid_funding_window", OpenCycleArgs(CNY, far, None, 10**7)),
        ("unknown_currency", OpenCycleArgs("USD", far, None, 10)),
    ):
        chain.rejected(code, CLEARING_OPS, PAYMENTS, "open_cycle", args)
    chain.rejected(
        "unauthorized",
        "bank-a-cards",
        PAYMENTS,
        "open_cycle",
        OpenCycleArgs(CNY, far, None, 1),
    )
    receipt = chain.ok(
        CLEARING_OPS, PAYMENTS, "open_cycle", OpenCycleArgs(CNY, None, time_ms + 10**6, 5)
    )
    assert result_of(receipt, int) == 1
    assert events(receipt, "CycleOpened")[0].attribute("currency") == CNY
    assert cycle_record(chain, 1).status == "open"
    with pytest.raises(Rejection, match="no cycle"):
        chain.query(PAYMENTS, "cycle", CycleArgs(2))


def test_an_empty_cycle_closes_and_settles() -> None:
    chain = make_network()
    cycle = Driver(chain).open_cycle(blocks=1)
    chain.advance()
    closed = result_of(chain.ok(CLEARING_OPS, PAYMENTS, "close_cycle", CycleArgs(cycle)), Cycle)
    assert closed.report is not None and closed.report.lamfalussy_covered
    settled = result_of(chain.ok(CLEARING_OPS, PAYMENTS, "settle", CycleArgs(cycle)), Cycle)
    assert settled.status == "settled"


# -- funding and settlement ---------------------------------------------------------------------


def test_settlement_moves_exactly_the_net_positions_in_the_token() -> None:
    chain = make_network()
    cycle = closed_cycle(chain)
    driver = Driver(chain)
    driver.approve_escrow(["bank-a", "bank-b"])
    before = balances(chain)
    funded = fund(chain, "bank-b", cycle)
    assert funded.funded_minor == 149_524
    assert token_balance(chain, escrow_of(chain)) == 149_524
    chain.rejected("cycle_not_funded", CLEARING_OPS, PAYMENTS, "settle", CycleArgs(cycle))
    receipt = chain.ok(treasury("bank-a"), PAYMENTS, "fund", CycleArgs(cycle))
    assert events(receipt, "CycleFunded")[0].attribute("amount_minor") == 149_356
    receipt = chain.ok(CLEARING_OPS, PAYMENTS, "settle", CycleArgs(cycle))
    after = balances(chain)
    assert {name: after[name] - before[name] for name in INSTITUTIONS} == POSITIONS
    assert token_balance(chain, escrow_of(chain)) == 0
    transfers = events(receipt, "Transfer")
    assert sorted(event.attribute("amount_minor") for event in transfers) == [228, 298_652]
    (settled,) = events(receipt, "CycleSettled")
    assert settled.attribute("paid_out_minor") == 149_524 + 149_356
    record = cycle_record(chain, cycle)
    assert (record.status, record.settled_height) == ("settled", chain.height)
    assert positions(chain, cycle)["ecfin"].paid_out_minor == 298_652
    assert chain.query(PAYMENTS, "payment", PaymentArgs("P1")).settlement == "settled"
    for institution in INSTITUTIONS:
        assert (
            chain.query(PAYMENTS, "institution", InstitutionArgs(institution)).pending_cycles == 0
        )
    chain.rejected("cycle_already_settled", CLEARING_OPS, PAYMENTS, "settle", CycleArgs(cycle))
    chain.rejected("cycle_already_settled", treasury("bank-a"), PAYMENTS, "fund", CycleArgs(cycle))


def test_funding_and_settlement_refusals() -> None:
    chain = make_network()
    cycle = clear_three_payments(chain, blocks=3)
    chain.rejected("cycle_not_closed", treasury("bank-b"), PAYMENTS, "fund", CycleArgs(cycle))
    chain.rejected("cycle_not_closed", CLEARING_OPS, PAYMENTS, "settle", CycleArgs(cycle))
    chain.rejected("unknown_cycle", CLEARING_OPS, PAYMENTS, "settle", CycleArgs(cycle + 1))
    chain.advance(3)
    chain.ok(CLEARING_OPS, PAYMENTS, "close_cycle", CycleArgs(cycle))
    # the debtor has not approved the escrow in the token
    chain.rejected("insufficient_allowance", treasury("bank-b"), PAYMENTS, "fund", CycleArgs(cycle))
    chain.rejected("nothing_to_fund", treasury("ecfin"), PAYMENTS, "fund", CycleArgs(cycle))
    chain.rejected("unknown_institution", "regulator-admin", PAYMENTS, "fund", CycleArgs(cycle))
    Driver(chain).approve_escrow(["bank-b"])
    fund(chain, "bank-b", cycle)
    chain.rejected("nothing_to_fund", "bank-b-admin", PAYMENTS, "fund", CycleArgs(cycle))
    chain.rejected("unauthorized", "bank-b-cards", PAYMENTS, "settle", CycleArgs(cycle))
    chain.rejected("cycle_not_funded", CLEARING_OPS, PAYMENTS, "settle", CycleArgs(cycle))


def test_net_debit_caps_are_checked_and_reported() -> None:
    chain = make_network()
    account = chain.address(treasury("bank-a"))
    chain.ok(
        CLEARING_OPS,
        PAYMENTS,
        "register_institution",
        RegisterInstitutionArgs("bank-a", ("acquirer", "card_issuer"), account, 100_000, True),
    )
    cycle = closed_cycle(chain)
    report = cycle_record(chain, cycle).report
    assert report is not None and report.over_cap == ("bank-a",)


def test_the_lamfalussy_check_asks_whether_the_largest_debtor_is_collateralized() -> None:
    chain = make_network()
    Driver(chain).post_collateral("bank-b", 149_524)
    cycle = closed_cycle(chain)
    report = cycle_record(chain, cycle).report
    assert report is not None
    assert (report.largest_debtor, report.largest_debtor_collateral_minor) == ("bank-b", 149_524)
    assert report.lamfalussy_covered


# -- default ------------------------------------------------------------------------------------


def test_a_debtor_that_does_not_fund_is_covered_by_its_collateral() -> None:
    chain = make_network()
    driver = Driver(chain)
    driver.post_collateral("bank-b", 200_000)
    cycle = closed_cycle(chain)
    driver.approve_escrow(["bank-a"])
    fund(chain, "bank-a", cycle)
    chain.rejected(
        "funding_deadline_not_reached", CLEARING_OPS, PAYMENTS, "declare_default", CycleArgs(cycle)
    )
    chain.advance(10)
    before = balances(chain)
    receipt = chain.ok(CLEARING_OPS, PAYMENTS, "declare_default", CycleArgs(cycle))
    (event,) = events(receipt, "DefaultCovered")
    assert (event.attribute("institutions"), event.attribute("collateral_used_minor")) == (
        "bank-b",
        149_524,
    )
    position = positions(chain, cycle)["bank-b"]
    assert position.collateral_used_minor == position.funded_minor == 149_524
    chain.rejected(
        "nothing_in_default", CLEARING_OPS, PAYMENTS, "declare_default", CycleArgs(cycle)
    )
    chain.ok(CLEARING_OPS, PAYMENTS, "settle", CycleArgs(cycle))
    after = balances(chain)
    assert after["ecfin"] - before["ecfin"] == 298_652
    assert after["bank-b"] == before["bank-b"]  # it paid with its collateral
    collateral: Amount = chain.query(PAYMENTS, "collateral", CollateralQueryArgs(CNY, "bank-b"))
    assert collateral.amount_minor == 200_000 - 149_524
    assert token_balance(chain, escrow_of(chain)) == collateral.amount_minor


def test_a_debtor_without_enough_collateral_is_unwound_and_positions_recomputed() -> None:
    chain = make_network()
    driver = Driver(chain)
    driver.post_collateral("bank-b", 1_000)  # not enough to cover 149,524
    cycle = closed_cycle(chain)
    driver.approve_escrow(["bank-a"])
    fund(chain, "bank-a", cycle)
    chain.advance(11)
    receipt = chain.ok(CLEARING_OPS, PAYMENTS, "declare_default", CycleArgs(cycle))
    (event,) = events(receipt, "CycleUnwound")
    assert event.attribute("institutions") == "bank-b"
    record = result_of(receipt, Cycle)
    assert (record.round, record.excluded, record.unfunded_debtors) == (2, ("bank-b",), 1)
    # Without bank-b's payments (P1, P3) only P2 is left: bank-a owes ecfin 200,000 less the
    # 900 interchange, and 65 to the network; ecfin owes the network 65.
    assert nets(chain, cycle) == {"bank-a": -199_165, "bank-b": 0, CLEARING: 130, "ecfin": 199_035}
    # bank-a paid 149,356 in round 1 and now owes 199,165: it tops up the difference.
    bank_a = positions(chain, cycle)["bank-a"]
    assert (bank_a.funded_minor, bank_a.net_minor) == (149_356, -199_165)
    assert fund(chain, "bank-a", cycle).funded_minor == 199_165
    before = balances(chain)
    chain.ok(CLEARING_OPS, PAYMENTS, "settle", CycleArgs(cycle))
    after = balances(chain)
    assert after["ecfin"] - before["ecfin"] == 199_035
    assert after["bank-b"] == before["bank-b"]
    assert chain.query(PAYMENTS, "payment", PaymentArgs("P1")).settlement == "unwound"
    assert chain.query(PAYMENTS, "payment", PaymentArgs("P2")).settlement == "settled"
    # bank-b keeps its collateral; an unwound payment takes no refund
    assert (
        chain.query(PAYMENTS, "collateral", CollateralQueryArgs(CNY, "bank-b")).amount_minor
        == 1_000
    )
    later = driver.open_cycle()
    chain.rejected(
        "payment_unwound",
        "ecfin-acquiring",
        PAYMENTS,
        "refund",
        refund_call("ecfin", "P1", "R1", 1, later).args,
    )


def test_funds_of_a_debtor_unwound_in_a_later_round_are_returned() -> None:
    chain = make_network()
    cycle = closed_cycle(chain)
    driver = Driver(chain)
    driver.approve_escrow(["bank-a"])
    fund(chain, "bank-a", cycle)  # 149,356 paid in round 1
    chain.advance(11)
    chain.ok(CLEARING_OPS, PAYMENTS, "declare_default", CycleArgs(cycle))  # bank-b unwound
    chain.advance(11)
    before = balances(chain)
    receipt = chain.ok(CLEARING_OPS, PAYMENTS, "declare_default", CycleArgs(cycle))  # bank-a too
    record = result_of(receipt, Cycle)
    assert (record.round, record.excluded, record.unfunded_debtors) == (3, ("bank-a", "bank-b"), 0)
    assert set(nets(chain, cycle).values()) == {0}  # every flow had bank-a or bank-b in it
    chain.ok(CLEARING_OPS, PAYMENTS, "settle", CycleArgs(cycle))
    after = balances(chain)
    assert after["bank-a"] - before["bank-a"] == 149_356  # its round-one funds come back
    assert token_balance(chain, escrow_of(chain)) == 0


# -- collateral ---------------------------------------------------------------------------------


def test_collateral_is_posted_and_withdrawn_between_cycles() -> None:
    chain = make_network()
    driver = Driver(chain)
    driver.approve_escrow(["bank-b"], 10_000)
    receipt = chain.ok(treasury("bank-b"), PAYMENTS, "post_collateral", CollateralArgs(CNY, 6_000))
    assert result_of(receipt, int) == 6_000
    assert events(receipt, "CollateralPosted")[0].attribute("collateral_minor") == 6_000
    assert token_balance(chain, escrow_of(chain)) == 6_000
    chain.rejected(
        "insufficient_collateral",
        "bank-b-admin",
        PAYMENTS,
        "withdraw_collateral",
        CollateralArgs(CNY, 6_001),
    )
    for code, args in (
        ("invalid_amount", CollateralArgs(CNY, 0)),
        ("unknown_currency", CollateralArgs("USD", 1)),
    ):
        chain.rejected(code, treasury("bank-b"), PAYMENTS, "post_collateral", args)
        chain.rejected(code, treasury("bank-b"), PAYMENTS, "withdraw_collateral", args)
    chain.rejected(
        "insufficient_allowance",
        treasury("bank-b"),
        PAYMENTS,
        "post_collateral",
        CollateralArgs(CNY, 4_001),
    )
    cycle = closed_cycle(chain)
    chain.rejected(
        "collateral_locked",
        treasury("bank-b"),
        PAYMENTS,
        "withdraw_collateral",
        CollateralArgs(CNY, 1),
    )
    driver.approve_escrow(["bank-a", "bank-b"])
    fund(chain, "bank-a", cycle)
    fund(chain, "bank-b", cycle)
    chain.ok(CLEARING_OPS, PAYMENTS, "settle", CycleArgs(cycle))
    before = token_balance(chain, chain.address(treasury("bank-b")))
    receipt = chain.ok(
        treasury("bank-b"), PAYMENTS, "withdraw_collateral", CollateralArgs(CNY, 6_000)
    )
    assert result_of(receipt, int) == 0
    assert token_balance(chain, chain.address(treasury("bank-b"))) == before + 6_000
    assert token_balance(chain, escrow_of(chain)) == 0


def test_institution_and_position_queries() -> None:
    chain = make_network()
    cycle = closed_cycle(chain)
    position: Position = chain.query(PAYMENTS, "position", CycleInstitutionArgs(cycle, "ecfin"))
    assert position.net_minor == POSITIONS["ecfin"]
    record: Institution = chain.query(PAYMENTS, "institution", InstitutionArgs("ecfin"))
    assert record.pending_cycles == 1
    open_cycle = Driver(chain).open_cycle()
    with pytest.raises(Rejection, match="no position"):
        chain.query(PAYMENTS, "position", CycleInstitutionArgs(open_cycle, "ecfin"))
    assert chain.query(PAYMENTS, "positions", CycleArgs(open_cycle)).positions == ()


def test_only_the_clearing_house_that_opened_a_cycle_closes_it() -> None:
    organizations, accounts, contracts = network_genesis_parts(DEFAULT)
    organizations.append(GenesisOrganization("clearing-2", "Other", ("clearing_house",)))
    accounts.extend(
        [
            AccountSpec("clearing-2-admin", "clearing-2", ("admin",)),
            AccountSpec("clearing-2-ops", "clearing-2", ("clearing_house",)),
        ]
    )
    contracts[PAYMENTS]["institutions"].append(
        {
            "id": "clearing-2",
            "roles": ["clearing_house"],
            "settlement_account": signer_for("clearing-2-ops").address.hex(),
        }
    )
    chain = Chain(make_genesis(organizations=organizations, accounts=accounts, contracts=contracts))
    cycle = Driver(chain).open_cycle(blocks=1)
    chain.advance()
    chain.rejected("not_entitled", "clearing-2-ops", PAYMENTS, "close_cycle", CycleArgs(cycle))
    chain.rejected("unauthorized", "bank-a-admin", PAYMENTS, "close_cycle", CycleArgs(cycle))
    chain.ok(CLEARING_OPS, PAYMENTS, "close_cycle", CycleArgs(cycle))
