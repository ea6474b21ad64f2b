"""Clearing and netting as pure functions over integers (no state, no context).

* ``event_obligations`` — the interbank obligations one clearing event creates.
* ``multilateral_net`` — each institution's net position from gross obligations aggregated per
  (debtor, creditor) pair: one pass over the pairs. This is what the contract runs when a cycle
  closes, on the per-pair totals it keeps up to date as events arrive.
* ``multilateral_net_reference`` — the same positions computed the plain way, institution by
  institution over every individual obligation. Tests hold the two equal (STYLE.md principle 3).

A position is what the institution receives (positive) or pays (negative). Every obligation adds
its value to one position and takes it from another, so positions always sum to zero exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from jinqiao.apps.payments.model import CAPTURE, CHARGEBACK, REFUND, REPRESENTMENT, Fees
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


def event_obligations(
    kind: str, issuer: str, acquirer: str, network: str, amount_minor: int, fees: Fees
) -> tuple[Delta, ...]:
    """The obligations of one clearing event, merged per pair and sorted by pair; obligations of
    an institution to itself (on-us payments, the network as a party) and zeros are left out.

    * capture of A: the issuer owes the acquirer A; the acquirer owes the issuer the issuer fee;
      each side owes the network its network fee;
    * refund or chargeback of A: the acquirer owes the issuer A;
    * representment of A: the issuer owes the acquirer A.
    """
    raw: list[Delta]
    if kind == CAPTURE:
        raw = [
            Delta(issuer, acquirer, amount_minor, 0),
            Delta(acquirer, issuer, 0, fees.issuer_fee_minor),
            Delta(issuer, network, 0, fees.issuer_network_fee_minor),
            Delta(acquirer, network, 0, fees.acquirer_network_fee_minor),
        ]
    elif kind in (REFUND, CHARGEBACK):
        raw = [Delta(acquirer, issuer, amount_minor, 0)]
    elif kind == REPRESENTMENT:
        raw = [Delta(issuer, acquirer, amount_minor, 0)]
    else:
        raise NodeFault(f"unknown clearing event {kind!r}")
    merged: dict[Pair, tuple[int, int]] = {}
    for delta in raw:
        if delta.debtor == delta.creditor or delta.value_minor == 0:
            continue
        amount, fee = merged.get((delta.debtor, delta.creditor), (0, 0))
        merged[(delta.debtor, delta.creditor)] = (
            amount + delta.amount_minor,
            fee + delta.fee_minor,
        )
    return tuple(
        Delta(debtor, creditor, *merged[(debtor, creditor)]) for debtor, creditor in sorted(merged)
    )


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


def without(gross: Mapping[Pair, int], excluded: Iterable[str]) -> dict[Pair, int]:
    """``gross`` with every obligation of or to an ``excluded`` institution removed (unwinding)."""
    out = frozenset(excluded)
    return {
        pair: value
        for pair, value in sorted(gross.items())
        if pair[0] not in out and pair[1] not in out
    }


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
    require(
        sum(result.values()) == sum(funded.values()),
        "payouts differ from funds paid in",
    )
    return result
