"""Payments: card payments recorded on chain, cleared in cycles by multilateral netting and
settled in the token.

What this package owns:

* ``model`` — roles, records, arguments, query results and the state keys (for proofs);
* ``fees`` — the fee arithmetic and its one rounding rule, and the published Chinese schedule;
* ``netting`` — clearing obligations and multilateral netting as pure functions, with a plain
  reference implementation next to the one the contract runs;
* ``clearing`` — the running per-cycle aggregates and the computation of positions from them;
* ``lifecycle`` — authorize, reverse, capture, refund, chargeback, represent;
* ``settlement`` — cycles, funding, default handling, settlement and collateral;
* ``config`` — the genesis configuration;
* ``contract`` — the ``Payments`` contract itself, its participants methods and its queries.

``docs/payments.md`` describes the lifecycle, who signs what, the fee rounding rule, netting, the
default procedure, the state layout and every rejection code.
"""

from __future__ import annotations

from jinqiao.apps.payments.contract import Payments
from jinqiao.apps.payments.model import PAYMENTS

__all__ = ["PAYMENTS", "Payments"]
