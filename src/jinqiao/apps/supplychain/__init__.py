"""Supply chain: provenance and authenticity of goods (GS1 keys, EPCIS 2.0 events, custody rules
enforced on chain) and receivables that a core enterprise confirms and its suppliers split,
transfer, finance against the token and are repaid — without double financing.

What this package owns:

* ``identifiers`` — GS1 keys (GTIN, SGTIN, SSCC, GLN, GRAI) from plain digits, EPC URNs and GS1
  Digital Link URIs, checked by ``biip`` and written in one canonical form;
* ``model`` — roles, limits, records, arguments, query results and the state keys (for proofs);
* ``common`` — the shared checks and loaders of the provenance methods;
* ``provenance`` — company prefixes, the custody rules over captured events, recalls;
* ``receivables`` — confirm, split, transfer, finance (delivery versus payment in the token),
  pledge and release, repayment at maturity, past due;
* ``contract`` — the ``SupplyChain`` contract itself, its genesis and its queries.

Parsing and validating whole EPCIS documents and computing their event hashes happens off chain
(``jinqiao.epcis``); a transaction carries one event's hash and key fields. ``docs/supplychain.md``
describes the model, every method, the state layout and every rejection code.
"""

from __future__ import annotations

from jinqiao.apps.supplychain.contract import SupplyChain
from jinqiao.apps.supplychain.model import SUPPLYCHAIN

__all__ = ["SUPPLYCHAIN", "SupplyChain"]
