"""Ledger: the authenticated data structures behind a block header.

It owns the binary Merkle tree over a block's transactions and receipts (``merkle``) and the
sparse Merkle tree over contract state (``smt``), with the proofs they produce. It computes roots
and nodes and hands them back; storage, clocks and the network belong to the caller (the node),
which reads tree nodes through the ``smt.NodeReader`` protocol and writes the nodes an update
returns. The proof formats and hash rules are in ``jinqiao.core.proofs`` and docs/proofs.md.
"""
