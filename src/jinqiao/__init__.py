"""jinqiao — a permissioned blockchain for financial institutions.

Layers, lowest first (DESIGN.md §2): ``core`` (types, codec, crypto, limits), ``ledger`` (Merkle
trees, authenticated state, proofs), ``consensus`` and ``execution`` (pure state machines),
``apps`` (contracts), ``node`` (all I/O), ``api``, ``cli``. ``verify`` checks proofs with nothing
but ``core``; ``client`` is the Python SDK.
"""

__version__ = "0.1.0"
