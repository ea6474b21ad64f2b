"""Clearing and netting as pure functions over integers (no state, no context).

A *flow* (``model.Flow``) totals everything cleared in a cycle between one issuer and one
acquirer. Its interbank obligations:

* the issuer owes the acquirer what was captured, plus what was represented;
* the acquirer owes the issuer what was refunded or charged back, plus the issuer fees
  (interchange);
* the issuer and the acquirer each owe the network (the cycle's clearing house) their network
  fees.

``gross_obligations`` sums the obligations of all flows per (debtor, creditor) pair, leaving out
the flows of excluded (unwound) institutions and anything owed to or by an excluded institution.
``multilateral_net`` turns gross obligations into one position per institution in one pass over
the pairs; ``multilateral_net_reference`` computes the same positions the plain way, institution
by institution over every individual obligation, and the tests hold the two equal (STYLE.md
principle 3). A position is what the institution receives (positive) or pays (negative). Every
obligation adds its value to one position and takes it from another, so positions always sum to
zero exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import msgspec

from jinqiao.apps.payments.model import CAPTURE, CHARGEBACK, REFUND, REPRESENTMENT, Fees, Flow
from jinqiao.core.errors import NodeFault, require

Pair = tuple[str, str]


@dataclass(frozen=True)
class Delta:
    """``debtor`` owes ``creditor`` ``amount_minor`` (payment value) plus ``fee_minor`` (fees)."""

    debtor: str
    creditor: str
    amount_minor: int
    fee_minor: int

    @property
    def value_minor(self) -> int:
        return self.amount_minor + self.fee_minor


def event_flow(kind: str, issuer: str, acquirer: str, amount_minor: int, fees: Fees) -> Flow:
    """The flow of a single clearing event (fees only on captures)."""
    if kind == CAPTURE:
        return Flow(
            issuer,
            acquirer,
            events=1,
            captured_minor=amount_minor,
            issuer_fee_minor=fees.issuer_fee_minor,
            issuer_network_fee_minor=fees.issuer_network_fee_minor,
            acquirer_network_fee_minor=fees.acquirer_network_fee_minor,
            acquirer_fee_minor=fees.acquirer_fee_minor,
        )
    if kind == REFUND:
        return Flow(issuer, acquirer, events=1, refunded_minor=amount_minor)
    if kind == CHARGEBACK:
        return Flow(issuer, acquirer, events=1, charged_back_minor=amount_minor)
    if kind == REPRESENTMENT:
        return Flow(issuer, acquirer, events=1, represented_minor=amount_minor)
    raise NodeFault(f"unknown clearing event {kind!r}")


def add_flows(total: Flow, more: Flow) -> Flow:
    require(
        (total.issuer, total.acquirer) == (more.issuer, more.acquirer),
        "adding flows of different institutions",
    )
    return msgspec.structs.replace(
        total,
        events=total.events + more.events,
        captured_minor=total.captured_minor + more.captured_minor,
        refunded_minor=total.refunded_minor + more.refunded_minor,
        charged_back_minor=total.charged_back_minor + more.charged_back_minor,
        represented_minor=total.represented_minor + more.represented_minor,
        issuer_fee_minor=total.issuer_fee_minor + more.issuer_fee_minor,
        issuer_network_fee_minor=total.issuer_network_fee_minor + more.issuer_network_fee_minor,
        acquirer_network_fee_minor=total.acquirer_network_fee_minor
        + more.acquirer_network_fee_minor,
        acquirer_fee_minor=total.acquirer_fee_minor + more.acquirer_fee_minor,
    )


def flow_obligations(flow: Flow, network: str) -> tuple[Delta, ...]:
    """The interbank obligations of ``flow``, merged per pair and sorted by pair; obligations of
    an institution to itself (on-us payments, the network as a party) and zeros are left out."""
    issuer, acquirer = flow.issuer, flow.acquirer
    raw = (
        Delta(issuer, acquirer, flow.captured_minor + flow.represented_minor, 0),
        Delta(
            acquirer,
            issuer,
            flow.refunded_minor + flow.charged_back_minor,
            flow.issuer_fee_minor,
        ),
        Delta(issuer, network, 0, flow.issuer_network_fee_minor),
        Delta(acquirer, network, 0, flow.acquirer_network_fee_minor),
    )
    merged: dict[Pair, tuple[int, int]] = {}
    for delta in raw:
        if delta.debtor == delta.creditor or delta.value_minor == 0:
            continue
        pair = (delta.debtor, delta.creditor)
        amount, fee = merged.get(pair, (0, 0))
        merged[pair] = (amount + delta.amount_minor, fee + delta.fee_minor)
    return tuple(Delta(pair[0], pair[1], *merged[pair]) for pair in sorted(merged))


def gross_obligations(
    flows: Iterable[Flow], network: str, excluded: Iterable[str] = ()
) -> dict[Pair, int]:
    """Total owed per (debtor, creditor) pair. Flows of an ``excluded`` issuer or acquirer are
    left out whole (the institution's payments are unwound), and so is anything owed to or by an
    excluded institution (which can only be the network)."""
    out = frozenset(excluded)
    gross: dict[Pair, int] = {}
    for flow in flows:
        if flow.issuer in out or flow.acquirer in out:
            continue
        for delta in flow_obligations(flow, network):
            if delta.debtor in out or delta.creditor in out:
                continue
            pair = (delta.debtor, delta.creditor)
            gross[pair] = gross.get(pair, 0) + delta.value_minor
    return {pair: gross[pair] for pair in sorted(gross)}


def multilateral_net(gross: Mapping[Pair, int], institutions: Iterable[str]) -> dict[str, int]:
    """Net positions from gross obligations per (debtor, creditor) pair, for ``institutions``
    (which must include every party of ``gross``; those without obligations get 0)."""
    positions = dict.fromkeys(sorted(institutions), 0)
    for debtor, creditor in sorted(gross):
        value = gross[(debtor, creditor)]
        require(value >= 0, "a negative gross obligation", debtor=debtor, creditor=creditor)
        require(
            debtor in positions and creditor in positions,
            "an obligation of an institution outside the netting set",
            debtor=debtor,
            creditor=creditor,
        )
        positions[creditor] += value
        positions[debtor] -= value
    check_balanced(positions)
    return positions


def multilateral_net_reference(
    obligations: Iterable[tuple[str, str, int]], institutions: Iterable[str]
) -> dict[str, int]:
    """Net positions the plain way: for each institution, everything owed to it minus everything
    it owes, summed over the individual obligations (debtor, creditor, value)."""
    listed = list(obligations)
    positions = {}
    for institution in sorted(set(institutions)):
        receives = sum(value for _, creditor, value in listed if creditor == institution)
        pays = sum(value for debtor, _, value in listed if debtor == institution)
        positions[institution] = receives - pays
    return positions


def gross_sides(
    gross: Mapping[Pair, int], institutions: Iterable[str]
) -> dict[str, tuple[int, int]]:
    """Each institution's (total it owes, total owed to it) before netting."""
    sides = dict.fromkeys(sorted(institutions), (0, 0))
    for debtor, creditor in sorted(gross):
        value = gross[(debtor, creditor)]
        owes, owed = sides[debtor]
        sides[debtor] = (owes + value, owed)
        owes, owed = sides[creditor]
        sides[creditor] = (owes, owed + value)
    return sides


def check_balanced(positions: Mapping[str, int]) -> None:
    """Positions must sum to zero exactly; anything else is a bug, never an outcome."""
    total = sum(positions.values())
    if total != 0:
        raise NodeFault("net positions do not sum to zero", total=total)


def largest_debtor(positions: Mapping[str, int]) -> tuple[str, int]:
    """The institution with the largest net debit and that debit, ties to the smaller id;
    ``("", 0)`` when nobody is in debit."""
    best, debit = "", 0
    for institution in sorted(positions):
        if -positions[institution] > debit:
            best, debit = institution, -positions[institution]
    return best, debit


def payouts(positions: Mapping[str, int], funded: Mapping[str, int]) -> dict[str, int]:
    """What the escrow pays each institution at settlement: what it paid in plus its position.
    Every debtor has paid in at least its debit, so no payout is negative, and the payouts sum
    to what was paid in."""
    result = {}
    for institution in sorted(positions):
        payout = funded.get(institution, 0) + positions[institution]
        require(payout >= 0, "settling an unfunded debtor", institution=institution)
        result[institution] = payout
    require(sum(result.values()) == sum(funded.values()), "payouts differ from funds paid in")
    return result
