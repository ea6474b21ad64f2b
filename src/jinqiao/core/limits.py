"""Every hard limit in one place, named with its unit (DESIGN.md §4 rule 3).

Chain parameters that governance may change live in the genesis ``ChainParameters``; these are the
ceilings that no parameter may exceed, and the sizes that protect a node from its inputs.
"""

from __future__ import annotations

MAX_TRANSACTION_BYTES = 64 * 1024
MAX_ARGS_BYTES = 32 * 1024
MAX_NAME_LENGTH = 64
MAX_BLOCK_BYTES = 8 * 1024 * 1024
MAX_EVENTS_PER_TRANSACTION = 64
MAX_EVENT_ATTRIBUTES = 32
MAX_RECEIPT_BYTES = 128 * 1024
"""One encoded receipt. A transaction whose receipt would be larger is rejected
``receipt_too_large`` (its rejected receipt is small), so every honest ``ReceiptProof`` — this,
plus a header, a certificate of ``MAX_VALIDATORS`` signatures and 32 Merkle siblings, about 20 KiB
— stays under ``MAX_PROOF_BYTES``."""
MAX_RECEIPT_MESSAGE_LENGTH = 512
"""Characters of a rejected receipt's ``message``."""
MAX_STATE_KEY_BYTES = 256
MAX_STATE_VALUE_BYTES = 64 * 1024
MAX_STATE_OPERATIONS_PER_TRANSACTION = 10_000
MAX_VALID_UNTIL_WINDOW_BLOCKS = 10_000
MAX_BLOCK_TRANSACTIONS = 5_000
MAX_BATCH_TRANSACTIONS = 5_000
MAX_REQUEST_BODY_BYTES = 16 * 1024 * 1024
MAX_QUERY_READS = 256
"""State keys a proven query answer may prove (``StateReadsProof.reads``); a query that reads
more is answered ``413 proof_too_large`` when proofs are asked for."""
MAX_STATE_READS_PROOF_BYTES = 4 * 1024 * 1024
"""One encoded ``StateReadsProof``: ``MAX_QUERY_READS`` reads of modest values."""
MAX_PROOF_BYTES = 256 * 1024  # a proof of a maximal (64 KiB) value with its header and certificate
MAX_VALIDATORS = 200
MAX_VALIDATOR_POWER = 1_000_000
MAX_GENESIS_BYTES = 4 * 1024 * 1024
MAX_AMOUNT_MINOR = 2**63 - 1
MAX_NONCE = 2**64 - 1
MAX_HEIGHT = 2**63 - 1
"""Heights, ``valid_until`` and block times fit a signed 64-bit integer (storage keys: 8 bytes)."""
MAX_TIME_MS = 2**63 - 1
MAX_CONSENSUS_ROUND = 1_000_000
"""Far beyond any real round: timeouts grow with the round, so reaching it takes years."""
MAX_PUBLIC_KEY_BYTES = 65
"""The longest public key of a suite (an uncompressed SM2 point); Ed25519's is 32."""
MAX_POLICY_KEYS = 16
"""Keys in one account's signing policy."""
MAX_POLICY_WEIGHT = 1_000
"""The largest weight of one key in a signing policy."""
MAX_AMOUNT_RULES = 8
"""Amount rules (asset, minimum amount, required key) in one signing policy."""
MAX_COSIGNERS = MAX_POLICY_KEYS + MAX_AMOUNT_RULES - 1
"""Co-signers of one multi-signed transaction beside its ``public_key``: every key of a policy
and of its amount rules may sign one transaction together (docs/keys.md, ADR 0051)."""
MAX_REVOKED_KEYS = 64
MAX_APPROVAL_BLOCKS = 100_000
"""How far ahead of its proposal a pending approval may expire."""
"""Keys an account remembers as revoked (rotated out or revoked), so that they stay refused."""


MAX_REPORT_READS = 65_536
"""The state keys one proven report may read (a statement reads one per entry, docs/proofs.md
§12): a report that reads more is refused ``proof_too_large``."""
MAX_REPORT_PROOF_BYTES = 64 * 1024 * 1024
"""One encoded ``StateReadsProof`` of a report's reads."""
