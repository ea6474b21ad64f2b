"""Across chains (docs/crosschain.md): on-chain light clients of other jinqiao networks, packets
proven against their headers, token transfer by escrow and vouchers, and hash time locks.

* ``crosschain`` (``CrossChain``) — clients, channels, the outbox and inbox of packets;
* ``xtransfer`` (``CrossTransfer``) — ICS-20-style transfer of token assets over a channel;
* ``htlc`` (``Htlc``) — hash time locks for atomic swaps between two chains.

The client checks headers and proofs with the standalone verifier's code, reached through the
contract API (``jinqiao.execution.api``; docs/adr/0028-cross-chain.md says why).
"""

from __future__ import annotations

from jinqiao.apps.crosschain.contract import CrossChain
from jinqiao.apps.crosschain.htlc import HTLC, Htlc
from jinqiao.apps.crosschain.model import CROSSCHAIN
from jinqiao.apps.crosschain.transfer import XTRANSFER, CrossTransfer

__all__ = ["CROSSCHAIN", "HTLC", "XTRANSFER", "CrossChain", "CrossTransfer", "Htlc"]
