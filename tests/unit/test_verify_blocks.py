"""A block's whole transaction list checked against its header (docs/proofs.md §9.3):
``merkle_tree_hash`` is the document's recursive MTH and agrees with the node's level-by-level
tree; ``verify_block_leaves`` accepts the honest lists and refuses every alteration."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jinqiao.core.codec import decode, encode
from jinqiao.core.genesis import Genesis
from jinqiao.core.hashing import transaction_hash
from jinqiao.core.types import BlockHeader, CommitCertificate, Receipt, SignedTransaction
from jinqiao.ledger.merkle import merkle_root
from jinqiao.verify import VerificationError, merkle_tree_hash, verify_block_leaves
from tests.helpers import doc_examples
from tests.unit.test_verify import (
    SUITE,
    block_with_transactions,
    certify,
    make_header,
)


@given(st.lists(st.binary(max_size=40), max_size=70))
def test_the_document_tree_hash_is_the_node_tree_root(leaves: list[bytes]) -> None:
    assert merkle_tree_hash(SUITE, leaves) == merkle_root(SUITE, leaves)


def test_the_document_tree_hash_gives_the_documented_roots() -> None:
    hex_inputs = "- 00 10 2021 3031 40414243 5051525354555657 606162636465666768696a6b6c6d6e6f"
    inputs = [bytes.fromhex(h.strip("-")) for h in hex_inputs.split()]
    for line in doc_examples.block("merkle-roots").splitlines():
        count, root = line.split()
        assert merkle_tree_hash(SUITE, inputs[: int(count)]).hex() == root


Block = tuple[Genesis, BlockHeader, CommitCertificate, list[bytes], list[bytes]]


def honest_block(count: int) -> Block:
    """A certified block whose receipts name their transactions."""
    genesis, signers, transactions, _, _ = block_with_transactions(count)
    receipts = [
        encode(
            Receipt(
                transaction_hash(SUITE, decode(leaf, SignedTransaction, max_bytes=1 << 16).body),
                0,
                "ok",
                "",
                (),
                index,
                b"",
            )
        )
        for index, leaf in enumerate(transactions)
    ]
    header = make_header(
        genesis,
        transactions_root=merkle_root(SUITE, transactions),
        receipts_root=merkle_root(SUITE, receipts),
        transaction_count=count,
    )
    return genesis, header, certify(signers, header), transactions, receipts


@pytest.mark.parametrize("count", [0, 1, 3, 8])
def test_the_honest_lists_verify(count: int) -> None:
    genesis, header, certificate, transactions, receipts = honest_block(count)
    verify_block_leaves(genesis, header, certificate, transactions, receipts)


ALTERATIONS = {
    "drop-last": lambda t, r: (t[:-1], r[:-1]),
    "swap-two": lambda t, r: ([t[1], t[0], *t[2:]], [r[1], r[0], *r[2:]]),
    "swap-receipts-only": lambda t, r: (t, [r[1], r[0], *r[2:]]),
    "extra-receipt": lambda t, r: (t, [*r, r[0]]),
    "altered-transaction": lambda t, r: ([t[0][:-1] + b"\x01", *t[1:]], r),
    "altered-receipt": lambda t, r: (t, [r[0][:-1] + b"\x01", *r[1:]]),
    "receipt-of-another": lambda t, r: (t, [r[0], r[0], *r[2:]]),
}


@pytest.mark.parametrize("name", sorted(ALTERATIONS))
def test_an_altered_list_is_refused(name: str) -> None:
    genesis, header, certificate, transactions, receipts = honest_block(3)
    altered = ALTERATIONS[name](transactions, receipts)
    with pytest.raises(VerificationError):
        verify_block_leaves(genesis, header, certificate, *altered)


def test_receipts_that_name_other_transactions_are_refused_even_when_the_roots_match() -> None:
    """``block_with_transactions`` builds receipts whose hashes name no transaction: the roots
    match the header, yet the block is not what it claims."""
    genesis, signers, transactions, receipts, header = block_with_transactions(2)
    with pytest.raises(VerificationError, match="receipt 0 is not the receipt of transaction 0"):
        verify_block_leaves(genesis, header, certify(signers, header), transactions, receipts)


def test_an_uncertified_header_is_refused() -> None:
    genesis, header, _, transactions, receipts = honest_block(2)
    unsigned = certify([], header)
    with pytest.raises(VerificationError, match="more than two thirds"):
        verify_block_leaves(genesis, header, unsigned, transactions, receipts)
