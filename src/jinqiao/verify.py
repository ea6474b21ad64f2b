"""The standalone verifier: check what a node served against a header signed by the validators,
without trusting the node (DESIGN.md §3 "Authenticated state"; formats in docs/proofs.md).

It imports only ``jinqiao.core`` (an import-linter contract keeps it so), so a regulator, an
auditor or another chain's relayer can run it with the codec and crypto alone. Every check that
fails raises ``VerificationError`` saying what did not match; every function returns ``None`` when
all checks pass. Lengths and counts in a proof are bounded before they are used.

The chain of trust for a read: a trusted validator set (from genesis, or one the caller followed)
→ ``verify_certificate`` (more than two thirds of the voting power precommitted this header) →
the header's ``state_root`` / ``transactions_root`` / ``receipts_root`` → the proof → the value.
"""

from __future__ import annotations

from collections.abc import Sequence

from jinqiao.core.codec import decode
from jinqiao.core.crypto import CryptoSuite
from jinqiao.core.errors import InvalidInput
from jinqiao.core.genesis import Genesis
from jinqiao.core.hashing import (
    header_hash,
    transaction_hash,
    validator_set_hash,
    vote_signing_bytes,
)
from jinqiao.core.limits import (
    MAX_BLOCK_BYTES,
    MAX_QUERY_READS,
    MAX_RECEIPT_BYTES,
    MAX_STATE_KEY_BYTES,
    MAX_STATE_VALUE_BYTES,
    MAX_TRANSACTION_BYTES,
    MAX_VALIDATORS,
)
from jinqiao.core.proofs import (
    MAX_MERKLE_LEAVES,
    MAX_MERKLE_PROOF_SIBLINGS,
    MAX_SMT_PROOF_SIBLINGS,
    MERKLE_EMPTY_ROOT,
    SMT_EMPTY_ROOT,
    MerkleProof,
    SparseMerkleProof,
    StateRead,
    key_hash,
    merkle_inner_hash,
    merkle_leaf_hash,
    merkle_path_directions,
    merkle_split,
    smt_inner_node,
    smt_key_bit,
    smt_leaf_node,
    smt_node_hash,
    value_hash,
)
from jinqiao.core.types import (
    HASH_BYTES,
    BlockHeader,
    CommitCertificate,
    Receipt,
    Validator,
    ValidatorSet,
    Vote,
    VoteType,
    decode_transaction,
)

__all__ = [
    "VerificationError",
    "merkle_tree_hash",
    "verify_block_leaves",
    "verify_certificate",
    "verify_header",
    "verify_merkle_proof",
    "verify_receipt_inclusion",
    "verify_state_proof",
    "verify_state_read",
    "verify_state_reads",
    "verify_transaction_inclusion",
]


class VerificationError(InvalidInput):
    """A proof, certificate or header did not check out. The message says which part."""

    code = "verification_failed"


# ------------------------------------------------------------------------------------------------
# Headers and commit certificates


def verify_certificate(
    suite: CryptoSuite,
    chain_id: str,
    validators: ValidatorSet,
    header: BlockHeader,
    certificate: CommitCertificate,
) -> None:
    """Check that ``certificate`` commits ``header`` on chain ``chain_id`` under the trusted
    ``validators``: it names this header's hash and height, the header names this validator set,
    every signature is a valid precommit by a distinct member, and the signers hold strictly more
    than two thirds of the total voting power."""
    if header.chain_id != chain_id:
        raise VerificationError(f"header is for chain {header.chain_id!r}, expected {chain_id!r}")
    members, total_power = _members(validators)
    expected_validators_hash = validator_set_hash(suite, validators)
    if header.validators_hash != expected_validators_hash:
        raise VerificationError(
            "header.validators_hash does not match the trusted validator set",
            header_value=_hex(header.validators_hash),
            expected=expected_validators_hash.hex(),
        )
    block_hash = header_hash(suite, header)
    if certificate.block_hash != block_hash:
        raise VerificationError(
            "certificate is for another block: its block_hash is not the header's hash",
            certificate_value=_hex(certificate.block_hash),
            expected=block_hash.hex(),
        )
    if certificate.height != header.height:
        raise VerificationError(
            f"certificate height {certificate.height} is not the header height {header.height}"
        )
    if not isinstance(certificate.round, int) or certificate.round < 0:
        raise VerificationError(f"certificate round {certificate.round!r} is not a round number")
    if len(certificate.signatures) > len(members):
        raise VerificationError(
            f"certificate carries {len(certificate.signatures)} signatures for "
            f"{len(members)} validators"
        )
    signed_power = 0
    signers: set[bytes] = set()
    for signature in certificate.signatures:
        validator = members.get(signature.validator)
        if validator is None:
            raise VerificationError(
                "certificate is signed by a validator outside the set",
                validator=_hex(signature.validator),
            )
        if signature.validator in signers:
            raise VerificationError(
                "certificate counts a validator twice", validator=signature.validator.hex()
            )
        signers.add(signature.validator)
        vote = Vote(
            chain_id=chain_id,
            height=header.height,
            round=certificate.round,
            type=int(VoteType.PRECOMMIT),
            block_hash=block_hash,
            validator=signature.validator,
        )
        if not suite.verify(validator.public_key, vote_signing_bytes(vote), signature.signature):
            raise VerificationError(
                f"invalid precommit signature by validator {validator.name!r}",
                validator=signature.validator.hex(),
            )
        signed_power += validator.power
    if 3 * signed_power <= 2 * total_power:
        raise VerificationError(
            f"certificate signers hold {signed_power} of {total_power} voting power; "
            "more than two thirds is required",
            signed_power=signed_power,
            total_power=total_power,
        )


def verify_header(
    genesis: Genesis,
    header: BlockHeader,
    certificate: CommitCertificate,
    *,
    validators: ValidatorSet | None = None,
) -> None:
    """``verify_certificate`` with the chain id and suite of ``genesis``. The validator set is
    genesis's unless the caller passes the set it trusts for this height (after governance
    changed it)."""
    trusted = genesis.validator_set() if validators is None else validators
    verify_certificate(genesis.suite, genesis.chain_id, trusted, header, certificate)


def _members(validators: ValidatorSet) -> tuple[dict[bytes, Validator], int]:
    count = len(validators.validators)
    if not 1 <= count <= MAX_VALIDATORS:
        raise VerificationError(f"a validator set has 1..{MAX_VALIDATORS} members, not {count}")
    members: dict[bytes, Validator] = {}
    total_power = 0
    for validator in validators.validators:
        if validator.address in members:
            raise VerificationError(
                "trusted validator set names an address twice", validator=_hex(validator.address)
            )
        if not isinstance(validator.power, int) or validator.power <= 0:
            raise VerificationError(
                f"validator {validator.name!r} has power {validator.power!r}; it must be positive"
            )
        members[validator.address] = validator
        total_power += validator.power
    return members, total_power


# ------------------------------------------------------------------------------------------------
# Binary Merkle proofs (transactions and receipts)


def verify_merkle_proof(suite: CryptoSuite, root: bytes, leaf: bytes, proof: MerkleProof) -> None:
    """Check that ``leaf`` is leaf number ``proof.leaf_index`` of ``proof.leaf_count`` in the
    tree with ``root``."""
    _check_hash(root, "Merkle root")
    if not isinstance(leaf, bytes):
        raise VerificationError("a Merkle leaf is bytes")
    count, index = proof.leaf_count, proof.leaf_index
    if not isinstance(count, int) or not 1 <= count <= MAX_MERKLE_LEAVES:
        raise VerificationError(f"leaf_count {count!r} is outside 1..{MAX_MERKLE_LEAVES}")
    if not isinstance(index, int) or not 0 <= index < count:
        raise VerificationError(f"leaf_index {index!r} is outside 0..{count - 1}")
    if len(proof.siblings) > MAX_MERKLE_PROOF_SIBLINGS:
        raise VerificationError(f"Merkle proof has over {MAX_MERKLE_PROOF_SIBLINGS} siblings")
    directions = merkle_path_directions(index, count)
    if len(proof.siblings) != len(directions):
        raise VerificationError(
            f"leaf {index} of {count} needs {len(directions)} siblings, "
            f"the proof has {len(proof.siblings)}"
        )
    node = merkle_leaf_hash(suite, leaf)
    for sibling, is_right in zip(proof.siblings, directions, strict=True):
        _check_hash(sibling, "Merkle proof sibling")
        node = (
            merkle_inner_hash(suite, sibling, node)
            if is_right
            else merkle_inner_hash(suite, node, sibling)
        )
    if node != root:
        raise VerificationError(
            f"Merkle proof for leaf {index} of {count} does not lead to the root",
            computed=node.hex(),
            root=root.hex(),
        )


def verify_transaction_inclusion(
    genesis: Genesis,
    header: BlockHeader,
    certificate: CommitCertificate,
    transaction: bytes,
    proof: MerkleProof,
    *,
    validators: ValidatorSet | None = None,
) -> None:
    """Check that ``transaction`` (canonical bytes of a ``SignedTransaction``) is transaction
    number ``proof.leaf_index`` of the committed block ``header``."""
    verify_header(genesis, header, certificate, validators=validators)
    _check_leaf_count(proof, header)
    verify_merkle_proof(genesis.suite, header.transactions_root, transaction, proof)


def verify_receipt_inclusion(
    genesis: Genesis,
    header: BlockHeader,
    certificate: CommitCertificate,
    receipt: bytes,
    proof: MerkleProof,
    *,
    validators: ValidatorSet | None = None,
) -> None:
    """Check that ``receipt`` (canonical bytes of a ``Receipt``) is the receipt of transaction
    number ``proof.leaf_index`` of the committed block ``header``."""
    verify_header(genesis, header, certificate, validators=validators)
    _check_leaf_count(proof, header)
    verify_merkle_proof(genesis.suite, header.receipts_root, receipt, proof)


def merkle_tree_hash(suite: CryptoSuite, leaves: Sequence[bytes]) -> bytes:
    """``MTH(leaves)`` of docs/proofs.md §4, written as the document defines it (recursively,
    splitting at the largest power of two below the count), independently of the node's tree."""
    if not leaves:
        return MERKLE_EMPTY_ROOT
    hashes = [merkle_leaf_hash(suite, leaf) for leaf in leaves]

    def subtree(start: int, count: int) -> bytes:
        if count == 1:
            return hashes[start]
        split = merkle_split(count)
        return merkle_inner_hash(
            suite, subtree(start, split), subtree(start + split, count - split)
        )

    return subtree(0, len(hashes))


def verify_block_leaves(
    genesis: Genesis,
    header: BlockHeader,
    certificate: CommitCertificate,
    transactions: Sequence[bytes],
    receipts: Sequence[bytes],
    *,
    validators: ValidatorSet | None = None,
) -> None:
    """Check that ``transactions`` (canonical ``SignedTransaction`` bytes) are exactly the
    transactions of the committed block ``header``, in order, and ``receipts`` (canonical
    ``Receipt`` bytes) their receipts: the header is certified, the counts are
    ``header.transaction_count``, the two lists hash to ``transactions_root`` and
    ``receipts_root``, and receipt ``i`` names the hash of transaction ``i``
    (docs/proofs.md §9.3)."""
    verify_header(genesis, header, certificate, validators=validators)
    count = header.transaction_count
    if len(transactions) != count or len(receipts) != count:
        raise VerificationError(
            f"the block has {count} transactions; the answer lists {len(transactions)} "
            f"transactions and {len(receipts)} receipts"
        )
    if sum(len(leaf) for leaf in transactions) > MAX_BLOCK_BYTES:
        raise VerificationError(f"the transactions are over {MAX_BLOCK_BYTES} bytes")
    suite = genesis.suite
    if merkle_tree_hash(suite, transactions) != header.transactions_root:
        raise VerificationError("the transactions do not hash to the header's transactions_root")
    if merkle_tree_hash(suite, receipts) != header.receipts_root:
        raise VerificationError("the receipts do not hash to the header's receipts_root")
    for index, (transaction_leaf, receipt_leaf) in enumerate(
        zip(transactions, receipts, strict=True)
    ):
        try:
            transaction = decode_transaction(transaction_leaf, max_bytes=MAX_TRANSACTION_BYTES)
            receipt = decode(receipt_leaf, Receipt, max_bytes=MAX_RECEIPT_BYTES)
        except InvalidInput as exc:
            raise VerificationError(f"leaf {index} does not decode: {exc.message}") from None
        if receipt.transaction_hash != transaction_hash(suite, transaction.body):
            raise VerificationError(f"receipt {index} is not the receipt of transaction {index}")


def _check_leaf_count(proof: MerkleProof, header: BlockHeader) -> None:
    if proof.leaf_count != header.transaction_count:
        raise VerificationError(
            f"proof is over {proof.leaf_count} leaves but the block has "
            f"{header.transaction_count} transactions"
        )


# ------------------------------------------------------------------------------------------------
# State proofs


def verify_state_proof(
    suite: CryptoSuite,
    state_root: bytes,
    full_key: bytes,
    value: bytes | None,
    proof: SparseMerkleProof,
) -> None:
    """Check that in the state with ``state_root``, ``full_key`` holds ``value`` — or, when
    ``value`` is ``None``, that it holds nothing."""
    _check_hash(state_root, "state root")
    if not isinstance(full_key, bytes) or len(full_key) > MAX_STATE_KEY_BYTES:
        raise VerificationError(f"a state key is bytes of at most {MAX_STATE_KEY_BYTES}")
    if value is not None and (not isinstance(value, bytes) or len(value) > MAX_STATE_VALUE_BYTES):
        raise VerificationError(f"a state value is bytes of at most {MAX_STATE_VALUE_BYTES}")
    siblings = proof.siblings
    if len(siblings) > MAX_SMT_PROOF_SIBLINGS:
        raise VerificationError(f"state proof has over {MAX_SMT_PROOF_SIBLINGS} siblings")
    for sibling in siblings:
        _check_hash(sibling, "state proof sibling")
    # The canonical tree never has an empty subtree next to a leaf or next to another empty
    # subtree (the leaf would sit one level up; the pair would be empty), so no honest proof
    # ends with an empty sibling.
    if siblings and siblings[-1] == SMT_EMPTY_ROOT:
        raise VerificationError("state proof is not canonical: its deepest sibling is empty")
    path = key_hash(suite, full_key)
    node = _terminal_node(suite, path, value, proof)
    for depth in range(len(siblings) - 1, -1, -1):
        sibling = siblings[depth]
        if smt_key_bit(path, depth) == 0:
            node = smt_node_hash(suite, smt_inner_node(node, sibling))
        else:
            node = smt_node_hash(suite, smt_inner_node(sibling, node))
    if node != state_root:
        raise VerificationError(
            "state proof does not lead to the state root",
            computed=node.hex(),
            root=state_root.hex(),
        )


def _terminal_node(
    suite: CryptoSuite, path: bytes, value: bytes | None, proof: SparseMerkleProof
) -> bytes:
    """The hash where the proof's path ends, after checking it says what the caller claims."""
    leaf = proof.leaf
    if leaf is not None:
        _check_hash(leaf.key_hash, "state proof leaf key hash")
        _check_hash(leaf.value_hash, "state proof leaf value hash")
    if value is not None:
        if leaf is None:
            raise VerificationError("state proof shows the key absent, but a value was claimed")
        if leaf.key_hash != path:
            raise VerificationError("state proof's leaf is for another key than the one claimed")
        if leaf.value_hash != value_hash(suite, value):
            raise VerificationError("the claimed value does not match the value hash in the proof")
        return smt_node_hash(suite, smt_leaf_node(leaf.key_hash, leaf.value_hash))
    if leaf is None:
        return SMT_EMPTY_ROOT
    if leaf.key_hash == path:
        raise VerificationError("state proof shows the key present, but absence was claimed")
    depth = len(proof.siblings)
    if any(smt_key_bit(leaf.key_hash, bit) != smt_key_bit(path, bit) for bit in range(depth)):
        raise VerificationError(
            f"state proof's other leaf does not share the key's first {depth} path bits"
        )
    return smt_node_hash(suite, smt_leaf_node(leaf.key_hash, leaf.value_hash))


def verify_state_read(
    genesis: Genesis,
    header: BlockHeader,
    certificate: CommitCertificate,
    full_key: bytes,
    value: bytes | None,
    proof: SparseMerkleProof,
    *,
    validators: ValidatorSet | None = None,
) -> None:
    """Check that after the committed block ``header``, ``full_key`` holds ``value`` (``None``:
    holds nothing)."""
    verify_header(genesis, header, certificate, validators=validators)
    verify_state_proof(genesis.suite, header.state_root, full_key, value, proof)


def verify_state_reads(
    genesis: Genesis,
    header: BlockHeader,
    certificate: CommitCertificate,
    reads: Sequence[StateRead],
    *,
    validators: ValidatorSet | None = None,
    max_reads: int = MAX_QUERY_READS,
) -> None:
    """Check that after the committed block ``header`` each read's key holds its value
    (``None``: nothing), each key listed once: the reads of a proven query (docs/proofs.md
    §9.5), at most ``max_reads`` (``MAX_REPORT_READS`` for a report's bundle, §12)."""
    verify_header(genesis, header, certificate, validators=validators)
    if len(reads) > max_reads:
        raise VerificationError(f"over {max_reads} reads")
    keys: set[bytes] = set()
    for read in reads:
        if read.key in keys:
            raise VerificationError("a key is read twice", key=_hex(read.key))
        keys.add(read.key)
        verify_state_proof(genesis.suite, header.state_root, read.key, read.value, read.proof)


# ------------------------------------------------------------------------------------------------


def _check_hash(value: bytes, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_BYTES:
        raise VerificationError(f"{what} must be {HASH_BYTES} bytes")


def _hex(value: object) -> str:
    return value.hex() if isinstance(value, bytes) else repr(value)[:80]
