"""Credit: shared credit rating over behaviour data that subjects consent to share, with every
read on the record, explainable scores and erasure.

What this package owns:

* ``model`` — the role, vocabularies, limits, stored records, arguments and the state keys;
* ``records`` — behaviour records as members keep them off chain, and their salted commitments;
* ``derived`` — payment activity records derived from the payments ledger, and their check;
* ``features`` — the scorecard's integer features, computed from records and the access log;
* ``scorecard`` — model checks, points, score, band, reason codes, decision policies, and the
  hashes of results and decisions that go on chain;
* ``scoring`` — a score from disclosed records checked against their commitments, and its
  recomputation;
* ``common`` — the checks and loaders the contract's methods share;
* ``contract`` — the ``Credit`` contract: consent, record commitments, the access log, scores,
  decisions, models approved by governance, policies and erasure.

No personal data reaches the chain: subjects are keyed hashes, records are salted commitments
whose bodies stay in the submitters' stores (``jinqiao.credit``), scores and decisions are
hashes. ``docs/credit.md`` describes the model, the methods, the state layout and every
rejection code.
"""

from __future__ import annotations

from jinqiao.apps.credit.contract import Credit
from jinqiao.apps.credit.model import CREDIT, CREDIT_ROLE

__all__ = ["CREDIT", "CREDIT_ROLE", "Credit"]
