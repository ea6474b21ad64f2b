"""Apps: the contracts of a jinqiao network, written against the contract API in
``jinqiao.execution.api`` and nothing else of the node (an import-linter contract says so).

The foundation's system and money contracts:

* ``registry`` (``Registry``) — member organizations and their accounts, which the runtime
  checks for every sender;
* ``governance`` (``Governance``) — chain parameters, the validator set, the AML parameters and
  the consortium deny list (``jinqiao.apps.aml``), and the proposals that change them or add and
  remove organizations, approved by a quorum of organizations;
* ``token`` (``Token``) — digital currency in integer minor units with wallet tiers;
* ``payments`` (``Payments``) — card payments recorded on chain, cleared in cycles by
  multilateral netting and settled in the token (``jinqiao.apps.payments``);
* ``credit`` (``Credit``) — shared credit rating: consent, behaviour record commitments, the
  access log, scores and decisions by their hashes, models approved by governance, erasure
  (``jinqiao.apps.credit``);
* ``supplychain`` (``SupplyChain``) — provenance of goods (GS1 keys, EPCIS events, custody) and
  receivables confirmed, split, financed and repaid in the token (``jinqiao.apps.supplychain``);
* ``evidence`` (``Evidence``) — validators' equivocation put on chain;
* ``crosschain``, ``xtransfer``, ``htlc`` — light clients of other jinqiao networks, packets
  proven against their headers, token transfer across chains and hash time locks
  (``jinqiao.apps.crosschain``).

``default_contracts`` lists them in genesis order: the registry first, so that governance and the
token can rely on organizations and accounts being in place; payments and supplychain after the
token whose assets they move; credit, evidence and the cross-chain contracts keep no genesis
state.
"""

from __future__ import annotations

from jinqiao.apps.credit import Credit
from jinqiao.apps.crosschain import CrossChain, CrossTransfer, Htlc
from jinqiao.apps.evidence import Evidence
from jinqiao.apps.governance import Governance
from jinqiao.apps.payments import Payments
from jinqiao.apps.registry import Registry
from jinqiao.apps.supplychain import SupplyChain
from jinqiao.apps.token import Token
from jinqiao.execution.api import Contract


def default_contracts() -> list[Contract]:
    """A fresh instance of each foundation contract, in genesis order."""
    return [
        Registry(),
        Governance(),
        Token(),
        Payments(),
        Credit(),
        Evidence(),
        SupplyChain(),
        CrossChain(),
        CrossTransfer(),
        Htlc(),
    ]


__all__ = [
    "Credit",
    "CrossChain",
    "CrossTransfer",
    "Evidence",
    "Governance",
    "Htlc",
    "Payments",
    "Registry",
    "SupplyChain",
    "Token",
    "default_contracts",
]
