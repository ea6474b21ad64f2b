"""jinqiao — a permissioned blockchain for financial institutions.

Layers, lowest first (DESIGN.md §2; ``pyproject.toml`` ``[tool.importlinter]`` enforces them):
``core`` (types, codec, crypto, limits); ``verify`` (checks proofs with nothing but ``core``);
``ledger`` (Merkle trees, authenticated state, proofs); ``consensus`` and ``execution`` (pure state
machines; contracts see only ``execution.api``); ``apps`` (contracts); ``reports`` (off-chain
report formats) and ``epcis`` (EPCIS documents: validation, event hashes); ``fileio`` and
``keys`` (durable files and key files, the first layer that touches disk); ``credit`` (a member's
credit records off chain, in SQLite); ``node`` (all other I/O); ``api`` and ``client`` (the HTTP
API and the Python SDK, independent of each other); ``provision`` and ``terminal``; ``demo``;
``bench``; ``cli``.
The public API of ``client``, ``verify`` and ``keys`` is their ``__all__``.
"""

__version__ = "0.1.0"
