"""Receivables on the real runtime with the real token: confirm, split, transfer, finance with
delivery versus payment, pledge and release, repay at maturity, past due. Each broken rule gives
its own code and changes nothing (``Chain.rejected`` compares the whole state)."""

from __future__ import annotations

import hashlib

import pytest

from jinqiao.apps.supplychain.model import (
    SUPPLYCHAIN,
    YEAR_MS,
    Backing,
    CommissionArgs,
    ConfirmArgs,
    DocumentArgs,
    DocumentUse,
    EpcsArgs,
    OfferArgs,
    Receivable,
    ReceivableArgs,
    Root,
    RootArgs,
    ShipArgs,
    SplitArgs,
    TransferReceivableArgs,
    past_due_count_key,
    past_due_key,
)
from jinqiao.apps.supplychain.receivables import (
    advance_minor,
    days_past_due,
    past_due_position,
)
from jinqiao.apps.token import TOKEN, ApproveArgs, Balance, HoldingArgs
from jinqiao.core.errors import Rejection
from jinqiao.execution.contract import contract_address
from tests.helpers.chain import Chain, result_of
from tests.helpers.supplychain import Events, make_chain, sgtin

SC = SUPPLYCHAIN
DAY_MS = 86_400_000
FACE = 1_000_000


@pytest.fixture
def chain() -> Chain:
    return make_chain()


def doc(name: str) -> bytes:
    return hashlib.sha256(name.encode()).digest()


def balance(chain: Chain, account: str) -> int:
    result: Balance = chain.query(TOKEN, "balance", HoldingArgs("CNY", chain.address(account)))
    return result.balance_minor


def confirm(
    chain: Chain, invoice: str = "INV-1", face: int = FACE, **changes: object
) -> ConfirmArgs:
    args = {
        "asset": "CNY",
        "holder": "tier1",
        "holder_account": chain.address("tier1-ops"),
        "face_value_minor": face,
        "due_time_ms": chain.time_ms + 30 * DAY_MS,
        "backing": (
            Backing("invoice", doc(invoice), face),
            Backing("purchase_order", doc("PO"), 0),
        ),
    }
    args.update(changes)
    return ConfirmArgs(**args)  # type: ignore[arg-type]


def part(chain: Chain, receivable_id: int) -> Receivable:
    result: Receivable = chain.query(SC, "receivable", ReceivableArgs(receivable_id))
    return result


def test_confirm_split_transfer_factor_repay(chain: Chain) -> None:
    root = result_of(chain.ok("brand-treasury", SC, "confirm", confirm(chain)), Receivable)
    assert (root.id, root.holder, root.status) == (1, "tier1", "live")
    split = result_of(chain.ok("tier1-ops", SC, "split", SplitArgs(1, (600_000, 400_000))), Root)
    assert split.live_parts == (2, 3)
    recipient = TransferReceivableArgs(3, "tier2", chain.address("tier2-ops"))
    chain.ok("tier1-ops", SC, "transfer", recipient)
    chain.ok("tier2-ops", SC, "split", SplitArgs(3, (300_000, 100_000)))
    chain.ok(
        "tier2-ops", SC, "transfer", TransferReceivableArgs(5, "tier3", chain.address("tier3-ops"))
    )
    # tier3 factors its part with the bank: paid in the token in the same transaction.
    offer = OfferArgs(5, "factoring", "bank", 120_000, chain.address("tier3-ops"), chain.height + 5)
    chain.ok("tier3-ops", SC, "offer_finance", offer)
    bank_before, tier3_before = balance(chain, "bank-ops"), balance(chain, "tier3-ops")
    chain.ok("bank-ops", SC, "accept_offer", ReceivableArgs(5))
    advance = part(chain, 5)
    assert advance.holder == "bank"
    paid = bank_before - balance(chain, "bank-ops")
    assert paid == balance(chain, "tier3-ops") - tier3_before
    assert paid == advance_minor(100_000, 120_000, 30 * DAY_MS - 7_000)
    assert 99_000 < paid < 100_000
    # At maturity the obligor pays every live part's holder once.
    chain.rejected("not_yet_due", "brand-treasury", SC, "repay", RootArgs(1))
    chain.advance_time(30 * DAY_MS)
    before = {
        a: balance(chain, a) for a in ("brand-treasury", "tier1-ops", "tier2-ops", "bank-ops")
    }
    chain.rejected("not_obligor", "distributor-treasury", SC, "repay", RootArgs(1))
    repaid = result_of(chain.ok("brand-treasury", SC, "repay", RootArgs(1)), Root)
    assert repaid.repaid and repaid.live_parts == ()
    assert before["brand-treasury"] - balance(chain, "brand-treasury") == FACE
    assert balance(chain, "tier1-ops") - before["tier1-ops"] == 600_000
    assert balance(chain, "tier2-ops") - before["tier2-ops"] == 300_000
    assert balance(chain, "bank-ops") - before["bank-ops"] == 100_000
    assert all(part(chain, i).status == "closed" for i in (2, 4, 5))
    chain.rejected("already_repaid", "brand-treasury", SC, "repay", RootArgs(1))


def test_a_document_backs_one_receivable_ever(chain: Chain) -> None:
    chain.ok("brand-treasury", SC, "confirm", confirm(chain))
    use: DocumentUse = chain.query(SC, "document", DocumentArgs(doc("INV-1")))
    assert use.root_id == 1
    chain.rejected("document_already_used", "brand-treasury", SC, "confirm", confirm(chain))
    reused_po = confirm(chain, "INV-2")  # a new invoice, the same purchase order
    chain.rejected("document_already_used", "brand-treasury", SC, "confirm", reused_po)


def test_confirm_rules(chain: Chain) -> None:
    def rejected(code: str, args: ConfirmArgs, sender: str = "brand-treasury") -> None:
        chain.rejected(code, sender, SC, "confirm", args)

    rejected("unauthorized", confirm(chain), sender="tier1-ops")
    rejected("unknown_currency", confirm(chain, asset="USD"))
    rejected("unknown_organization", confirm(chain, holder="nobody"))
    rejected("invalid_holder", confirm(chain, holder="brand"))
    rejected("invalid_account", confirm(chain, holder_account=chain.address("tier2-ops")))
    rejected("invalid_address", confirm(chain, holder_account=b"\x01"))
    rejected("invalid_amount", confirm(chain, face=0))
    rejected("invalid_due_date", confirm(chain, due_time_ms=chain.time_ms))
    rejected("invalid_backing", confirm(chain, backing=()))
    rejected("invalid_backing", confirm(chain, backing=(Backing("receipt", doc("x"), 1),)))
    rejected("invalid_backing", confirm(chain, backing=(Backing("purchase_order", doc("x"), 5),)))
    twice = (Backing("invoice", doc("x"), FACE), Backing("purchase_order", doc("x"), 0))
    rejected("invalid_backing", confirm(chain, backing=twice))
    short = (Backing("invoice", doc("x"), FACE - 1),)
    rejected("backing_insufficient", confirm(chain, backing=short))
    event = (Backing("invoice", doc("x"), FACE), Backing("shipping_event", doc("no event"), 0))
    rejected("unknown_event", confirm(chain, backing=event))


def test_receivable_backed_by_a_recorded_shipping_event(chain: Chain) -> None:
    events = Events(chain)
    chain.ok("brand-ops", SC, "commission", CommissionArgs(events.next(), (sgtin(1),)))
    shipped = events.next()
    chain.ok("brand-ops", SC, "ship", ShipArgs(shipped, (sgtin(1),), "tier1"))
    backing = (
        Backing("invoice", doc("INV-9"), FACE),
        Backing("shipping_event", shipped.event_hash, 0),
    )
    chain.ok("brand-treasury", SC, "confirm", confirm(chain, backing=backing))
    # The same shipment cannot back a second receivable, and a receiving event must be one.
    again = (
        Backing("invoice", doc("INV-10"), FACE),
        Backing("shipping_event", shipped.event_hash, 0),
    )
    chain.rejected(
        "document_already_used", "brand-treasury", SC, "confirm", confirm(chain, backing=again)
    )
    chain.ok("tier1-ops", SC, "receive", EpcsArgs(received := events.next(), (sgtin(1),)))
    wrong_kind = (
        Backing("invoice", doc("INV-11"), FACE),
        Backing("shipping_event", received.event_hash, 0),
    )
    chain.rejected(
        "unknown_event", "brand-treasury", SC, "confirm", confirm(chain, backing=wrong_kind)
    )


def test_split_and_transfer_rules(chain: Chain) -> None:
    chain.ok("brand-treasury", SC, "confirm", confirm(chain))
    chain.rejected("not_holder", "tier2-ops", SC, "split", SplitArgs(1, (1, FACE - 1)))
    chain.rejected("split_mismatch", "tier1-ops", SC, "split", SplitArgs(1, (1, FACE - 2)))
    chain.rejected("invalid_split", "tier1-ops", SC, "split", SplitArgs(1, (FACE,)))
    chain.rejected("invalid_amount", "tier1-ops", SC, "split", SplitArgs(1, (0, FACE)))
    chain.rejected("invalid_split", "tier1-ops", SC, "split", SplitArgs(1, (1,) * 17))
    chain.rejected("unknown_receivable", "tier1-ops", SC, "split", SplitArgs(9, (1, 1)))
    chain.ok("tier1-ops", SC, "split", SplitArgs(1, (FACE - 1, 1)))
    chain.rejected("receivable_not_live", "tier1-ops", SC, "split", SplitArgs(1, (FACE - 1, 1)))
    to_self = TransferReceivableArgs(2, "tier1", chain.address("tier1-ops"))
    chain.rejected("invalid_recipient", "tier1-ops", SC, "transfer", to_self)
    wrong_account = TransferReceivableArgs(2, "tier2", chain.address("tier3-ops"))
    chain.rejected("invalid_account", "tier1-ops", SC, "transfer", wrong_account)
    chain.advance_time(30 * DAY_MS)
    late = TransferReceivableArgs(2, "tier2", chain.address("tier2-ops"))
    chain.rejected("receivable_matured", "tier1-ops", SC, "transfer", late)


def test_pledge_blocks_moves_until_released_and_pays_the_pledgee(chain: Chain) -> None:
    chain.ok("brand-treasury", SC, "confirm", confirm(chain))
    offer = OfferArgs(1, "pledge", "bank", 50_000, chain.address("tier1-ops"), chain.height + 5)
    chain.ok("tier1-ops", SC, "offer_finance", offer)
    chain.rejected("offer_open", "tier1-ops", SC, "split", SplitArgs(1, (1, FACE - 1)))
    chain.rejected("unauthorized", "tier3-ops", SC, "accept_offer", ReceivableArgs(1))
    chain.rejected("not_funder", "tier2-ops", SC, "accept_offer", ReceivableArgs(1))
    chain.ok("bank-ops", SC, "accept_offer", ReceivableArgs(1))
    pledged = part(chain, 1)
    assert (pledged.holder, pledged.pledgee) == ("tier1", "bank")
    transfer = TransferReceivableArgs(1, "tier2", chain.address("tier2-ops"))
    chain.rejected("receivable_pledged", "tier1-ops", SC, "transfer", transfer)
    chain.rejected("receivable_pledged", "tier1-ops", SC, "split", SplitArgs(1, (1, FACE - 1)))
    chain.rejected("not_pledgee", "tier1-ops", SC, "release_pledge", ReceivableArgs(1))
    # Repaid while pledged: the pledgee is paid.
    chain.advance_time(30 * DAY_MS)
    bank_before = balance(chain, "bank-ops")
    chain.ok("brand-treasury", SC, "repay", RootArgs(1))
    assert balance(chain, "bank-ops") - bank_before == FACE


def test_release_then_transfer(chain: Chain) -> None:
    chain.ok("brand-treasury", SC, "confirm", confirm(chain))
    chain.rejected("not_pledged", "bank-ops", SC, "release_pledge", ReceivableArgs(1))
    offer = OfferArgs(1, "pledge", "bank", 0, chain.address("tier1-ops"), chain.height + 5)
    chain.ok("tier1-ops", SC, "offer_finance", offer)
    chain.ok("bank-ops", SC, "accept_offer", ReceivableArgs(1))
    chain.ok("bank-ops", SC, "release_pledge", ReceivableArgs(1))
    chain.ok(
        "tier1-ops", SC, "transfer", TransferReceivableArgs(1, "tier2", chain.address("tier2-ops"))
    )


def test_offer_rules(chain: Chain) -> None:
    chain.ok("brand-treasury", SC, "confirm", confirm(chain))
    payee = chain.address("tier1-ops")

    def rejected(code: str, args: OfferArgs, sender: str = "tier1-ops") -> None:
        chain.rejected(code, sender, SC, "offer_finance", args)

    rejected("invalid_finance_kind", OfferArgs(1, "loan", "bank", 1, payee, chain.height + 5))
    rejected("invalid_funder", OfferArgs(1, "pledge", "tier1", 1, payee, chain.height + 5))
    rejected("invalid_rate", OfferArgs(1, "pledge", "bank", -1, payee, chain.height + 5))
    rejected("invalid_rate", OfferArgs(1, "pledge", "bank", 10**9, payee, chain.height + 5))
    rejected("invalid_account", OfferArgs(1, "pledge", "bank", 1, chain.address("bank-ops"), 99))
    rejected("invalid_expiry", OfferArgs(1, "pledge", "bank", 1, payee, chain.height))
    rejected("not_holder", OfferArgs(1, "pledge", "bank", 1, payee, 99), sender="tier2-ops")
    chain.rejected("no_offer", "tier1-ops", SC, "withdraw_offer", ReceivableArgs(1))
    chain.rejected("no_offer", "bank-ops", SC, "accept_offer", ReceivableArgs(1))
    chain.ok(
        "tier1-ops",
        SC,
        "offer_finance",
        OfferArgs(1, "factoring", "bank", 1, payee, chain.height + 2),
    )
    chain.advance(3)
    chain.rejected("offer_expired", "bank-ops", SC, "accept_offer", ReceivableArgs(1))
    chain.ok("tier1-ops", SC, "withdraw_offer", ReceivableArgs(1))


def test_funder_without_allowance_pays_nothing_and_gets_nothing(chain: Chain) -> None:
    chain.ok("brand-treasury", SC, "confirm", confirm(chain))
    offer = OfferArgs(1, "factoring", "bank", 0, chain.address("tier1-ops"), chain.height + 5)
    chain.ok("tier1-ops", SC, "offer_finance", offer)
    spender = contract_address(chain.suite.hash, SC)
    chain.ok("bank-ops", TOKEN, "approve", ApproveArgs("CNY", spender, 0))
    chain.rejected("insufficient_allowance", "bank-ops", SC, "accept_offer", ReceivableArgs(1))
    assert part(chain, 1).holder == "tier1"


def test_past_due(chain: Chain) -> None:
    chain.ok("brand-treasury", SC, "confirm", confirm(chain))
    chain.rejected("not_yet_due", "bank-ops", SC, "mark_past_due", RootArgs(1))
    chain.advance_time(31 * DAY_MS)
    marked = result_of(chain.ok("bank-ops", SC, "mark_past_due", RootArgs(1)), Root)
    assert marked.past_due
    chain.rejected("already_past_due", "bank-ops", SC, "mark_past_due", RootArgs(1))
    chain.ok("brand-treasury", SC, "repay", RootArgs(1))  # a late payment is still taken
    chain.rejected("already_repaid", "bank-ops", SC, "mark_past_due", RootArgs(1))


def test_past_due_is_indexed_for_the_obligor_holders_and_pledgee(chain: Chain) -> None:
    """Marking writes the root into the past-due list of each party: the obligor, the pledgee
    of a pledged part and its holder, the holder of each other part; nobody else's."""
    chain.ok("brand-treasury", SC, "confirm", confirm(chain))
    chain.ok("tier1-ops", SC, "split", SplitArgs(1, (600_000, 400_000)))
    chain.ok(
        "tier1-ops", SC, "transfer", TransferReceivableArgs(3, "tier2", chain.address("tier2-ops"))
    )
    offer = OfferArgs(2, "pledge", "bank", 50_000, chain.address("tier1-ops"), chain.height + 5)
    chain.ok("tier1-ops", SC, "offer_finance", offer)
    chain.ok("bank-ops", SC, "accept_offer", ReceivableArgs(2))
    chain.advance_time(31 * DAY_MS)
    receipt = chain.ok("tier3-ops", SC, "mark_past_due", RootArgs(1))
    (event,) = [e for e in receipt.events if e.name == "ReceivablePastDue"]
    assert dict(event.attributes)["parties"] == "brand,bank,tier1,tier2"
    for organization in ("brand", "bank", "tier1", "tier2"):
        assert chain.read(SC, past_due_count_key(organization), int) == 1
        assert chain.read(SC, past_due_key(organization, 0), int) == 1
    assert chain.read(SC, past_due_count_key("tier3"), int) is None
    root = chain.query(SC, "root", RootArgs(1))
    parts = [part(chain, 2), part(chain, 3)]
    assert past_due_position(root, parts, "bank") == (("pledgee",), 600_000)
    assert past_due_position(root, parts, "tier1") == (("holder",), 0)
    assert past_due_position(root, parts, "tier2") == (("holder",), 400_000)
    assert past_due_position(root, parts, "brand") == (("obligor",), 0)
    assert days_past_due(root.due_time_ms, chain.time_ms) == 1
    assert days_past_due(root.due_time_ms, root.due_time_ms - 1) == 0


def test_advance_rounds_the_discount_up() -> None:
    assert advance_minor(1_000_000, 0, YEAR_MS) == 1_000_000
    assert advance_minor(1_000_000, 100_000, YEAR_MS) == 900_000
    assert advance_minor(3, 1, 1) == 2  # any positive discount costs at least one minor unit
    assert advance_minor(100, 100_000, -5) == 100


def test_queries_reject_unknown_receivables(chain: Chain) -> None:
    for name, args, code in (
        ("receivable", ReceivableArgs(0), "unknown_receivable"),
        ("root", RootArgs(7), "unknown_receivable"),
        ("document", DocumentArgs(doc("nothing")), "document_unused"),
    ):
        with pytest.raises(Rejection) as raised:
            chain.query(SC, name, args)
        assert raised.value.code == code


def test_the_most_parts_a_root_may_have_are_all_repaid_in_one_transaction(chain: Chain) -> None:
    chain.ok("brand-treasury", SC, "confirm", confirm(chain))
    chain.ok("tier1-ops", SC, "split", SplitArgs(1, (FACE - 15, *(1,) * 15)))  # parts 2..17
    chain.ok("tier1-ops", SC, "split", SplitArgs(2, (FACE - 30, *(1,) * 15)))  # 31 live parts
    chain.rejected("too_many_parts", "tier1-ops", SC, "split", SplitArgs(18, (FACE - 31, 1)))
    chain.advance_time(30 * DAY_MS)
    receipt = chain.ok("brand-treasury", SC, "repay", RootArgs(1))
    assert len(receipt.events) == 31 * 2 + 1
