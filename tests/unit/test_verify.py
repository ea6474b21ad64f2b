"""The standalone verifier: commit certificates (the > 2/3 rule and every way a certificate can
be wrong) and whole reads — state, transactions, receipts — checked against a signed header."""

from __future__ import annotations

from collections.abc import Iterator

import msgspec
import pytest

from jinqiao.core.codec import decode, encode
from jinqiao.core.crypto import CryptoSuite, Signer, get_suite
from jinqiao.core.errors import InvalidInput
from jinqiao.core.genesis import (
    Genesis,
    GenesisAccount,
    GenesisOrganization,
    GenesisValidator,
    check_genesis,
)
from jinqiao.core.hashing import header_hash, validator_set_hash, vote_signing_bytes
from jinqiao.core.limits import MAX_PROOF_BYTES
from jinqiao.core.proofs import MerkleProof, StateReadProof
from jinqiao.core.types import (
    BlockHeader,
    CommitCertificate,
    CommitSignature,
    Receipt,
    SignedTransaction,
    TransactionBody,
    Vote,
    VoteType,
)
from jinqiao.ledger.merkle import merkle_proof, merkle_root
from jinqiao.ledger.smt import EMPTY_ROOT, MemoryNodeReader, SparseMerkleTree
from jinqiao.verify import (
    VerificationError,
    verify_certificate,
    verify_header,
    verify_receipt_inclusion,
    verify_state_read,
    verify_transaction_inclusion,
)
from tests.helpers.suites import SUITE_NAMES, use_suite

SUITE = get_suite("ed25519-sha256")


@pytest.fixture(autouse=True, scope="module", params=SUITE_NAMES)
def each_suite(request: pytest.FixtureRequest) -> Iterator[CryptoSuite]:
    """Every test of this module runs on each crypto suite."""
    yield from use_suite(request, globals())


CHAIN_ID = "jinqiao-test"
HEIGHT = 7


def make_signers(count: int, first_seed: int = 1) -> list[Signer]:
    return [SUITE.signer(bytes([first_seed + index]) * 32) for index in range(count)]


def make_genesis(signers: list[Signer], powers: list[int] | None = None) -> Genesis:
    powers = powers or [1] * len(signers)
    genesis = Genesis(
        chain_id=CHAIN_ID,
        genesis_time_ms=0,
        crypto_suite=SUITE.name,
        organizations=(GenesisOrganization(id="bank", name="Bank"),),
        accounts=(
            GenesisAccount(
                name="admin",
                organization="bank",
                public_key=SUITE.signer(b"\xee" * 32).public_key.hex(),
                roles=("admin",),
            ),
        ),
        validators=tuple(
            GenesisValidator(
                name=f"validator-{index}",
                organization="bank",
                public_key=signer.public_key.hex(),
                power=power,
            )
            for index, (signer, power) in enumerate(zip(signers, powers, strict=True))
        ),
    )
    check_genesis(genesis)
    return genesis


def make_header(genesis: Genesis, **fields: object) -> BlockHeader:
    validators_hash = validator_set_hash(SUITE, genesis.validator_set())
    header = BlockHeader(
        chain_id=CHAIN_ID,
        height=HEIGHT,
        time_ms=1_700_000_000_000,
        previous_block_hash=b"\x11" * 32,
        transactions_root=b"\x00" * 32,
        receipts_root=b"\x00" * 32,
        state_root=EMPTY_ROOT,
        validators_hash=validators_hash,
        next_validators_hash=validators_hash,
        proposer=genesis.validator_set().validators[0].address,
        transaction_count=0,
    )
    return msgspec.structs.replace(header, **fields) if fields else header


def precommit(
    signer: Signer,
    header: BlockHeader,
    *,
    round_number: int = 0,
    chain_id: str = CHAIN_ID,
    vote_type: VoteType = VoteType.PRECOMMIT,
) -> CommitSignature:
    vote = Vote(
        chain_id=chain_id,
        height=header.height,
        round=round_number,
        type=int(vote_type),
        block_hash=header_hash(SUITE, header),
        validator=signer.address,
    )
    return CommitSignature(
        validator=signer.address, signature=signer.sign(vote_signing_bytes(vote))
    )


def certify(
    signers: list[Signer], header: BlockHeader, *, round_number: int = 0
) -> CommitCertificate:
    return CommitCertificate(
        height=header.height,
        round=round_number,
        block_hash=header_hash(SUITE, header),
        signatures=tuple(
            precommit(signer, header, round_number=round_number) for signer in signers
        ),
    )


def check(genesis: Genesis, header: BlockHeader, certificate: CommitCertificate) -> None:
    verify_certificate(SUITE, genesis.chain_id, genesis.validator_set(), header, certificate)


def test_verification_error_is_an_input_error_with_a_stable_code() -> None:
    assert issubclass(VerificationError, InvalidInput)
    assert VerificationError("x").code == "verification_failed"


# ------------------------------------------------------------------- the two-thirds rule


def test_all_validators_signing_passes() -> None:
    signers = make_signers(4)
    genesis = make_genesis(signers)
    header = make_header(genesis)
    check(genesis, header, certify(signers, header))
    verify_header(genesis, header, certify(signers, header))


def test_three_of_four_passes_and_two_of_four_fails() -> None:
    signers = make_signers(4)
    genesis = make_genesis(signers)
    header = make_header(genesis)
    check(genesis, header, certify(signers[1:], header))
    with pytest.raises(VerificationError, match="2 of 4 voting power"):
        check(genesis, header, certify(signers[:2], header))


def test_exactly_two_thirds_of_the_power_fails() -> None:
    signers = make_signers(3)
    genesis = make_genesis(signers)
    header = make_header(genesis)
    with pytest.raises(VerificationError, match="more than two thirds"):
        check(genesis, header, certify(signers[:2], header))
    check(genesis, header, certify(signers, header))


def test_power_not_headcount_decides() -> None:
    signers = make_signers(3)
    genesis = make_genesis(signers, powers=[10, 5, 5])  # total 20; more than 2/3 needs 14
    header = make_header(genesis)
    with pytest.raises(VerificationError, match="10 of 20"):
        check(genesis, header, certify(signers[:1], header))
    with pytest.raises(VerificationError, match="10 of 20"):
        check(genesis, header, certify(signers[1:], header))
    check(genesis, header, certify(signers[:2], header))


def test_empty_certificate_fails() -> None:
    signers = make_signers(1)
    genesis = make_genesis(signers)
    header = make_header(genesis)
    with pytest.raises(VerificationError, match="0 of 1"):
        check(genesis, header, certify([], header))


# ------------------------------------------------------------------- bad certificates


def test_duplicate_signer_fails_even_when_it_would_reach_the_quorum() -> None:
    signers = make_signers(3)
    genesis = make_genesis(signers)
    header = make_header(genesis)
    good = certify(signers[:2], header)
    doubled = msgspec.structs.replace(good, signatures=(*good.signatures, good.signatures[0]))
    with pytest.raises(VerificationError, match="twice"):
        check(genesis, header, doubled)


def test_unknown_signer_fails() -> None:
    signers = make_signers(3)
    outsider = make_signers(1, first_seed=100)[0]
    genesis = make_genesis(signers)
    header = make_header(genesis)
    certificate = certify([*signers, outsider], header)
    certificate = msgspec.structs.replace(certificate, signatures=certificate.signatures[1:])
    with pytest.raises(VerificationError, match="outside the set"):
        check(genesis, header, certificate)


def test_bad_signature_fails_even_with_enough_other_power() -> None:
    signers = make_signers(4)
    genesis = make_genesis(signers)
    header = make_header(genesis)
    certificate = certify(signers, header)
    broken = certificate.signatures[3]
    tampered = CommitSignature(
        broken.validator, bytes([broken.signature[0] ^ 1]) + broken.signature[1:]
    )
    certificate = msgspec.structs.replace(
        certificate, signatures=(*certificate.signatures[:3], tampered)
    )
    with pytest.raises(
        VerificationError, match="invalid precommit signature by validator 'validator-3'"
    ):
        check(genesis, header, certificate)


def test_signature_by_another_member_key_fails() -> None:
    signers = make_signers(3)
    genesis = make_genesis(signers)
    header = make_header(genesis)
    certificate = certify(signers, header)
    swapped = CommitSignature(signers[0].address, certificate.signatures[1].signature)
    certificate = msgspec.structs.replace(
        certificate, signatures=(swapped, *certificate.signatures[1:])
    )
    with pytest.raises(VerificationError, match="invalid precommit signature"):
        check(genesis, header, certificate)


def test_votes_signed_for_another_chain_fail() -> None:
    signers = make_signers(3)
    genesis = make_genesis(signers)
    header = make_header(genesis)
    certificate = msgspec.structs.replace(
        certify(signers, header),
        signatures=tuple(precommit(signer, header, chain_id="other-chain") for signer in signers),
    )
    with pytest.raises(VerificationError, match="invalid precommit signature"):
        check(genesis, header, certificate)


def test_header_of_another_chain_fails() -> None:
    signers = make_signers(3)
    genesis = make_genesis(signers)
    header = make_header(genesis, chain_id="other-chain")
    with pytest.raises(VerificationError, match="for chain 'other-chain'"):
        check(genesis, header, certify(signers, header))


def test_prevotes_are_not_precommits() -> None:
    signers = make_signers(3)
    genesis = make_genesis(signers)
    header = make_header(genesis)
    certificate = msgspec.structs.replace(
        certify(signers, header),
        signatures=tuple(
            precommit(signer, header, vote_type=VoteType.PREVOTE) for signer in signers
        ),
    )
    with pytest.raises(VerificationError, match="invalid precommit signature"):
        check(genesis, header, certificate)


def test_certificate_round_must_be_the_signed_round() -> None:
    signers = make_signers(3)
    genesis = make_genesis(signers)
    header = make_header(genesis)
    check(genesis, header, certify(signers, header, round_number=4))
    moved = msgspec.structs.replace(certify(signers, header, round_number=4), round=3)
    with pytest.raises(VerificationError, match="invalid precommit signature"):
        check(genesis, header, moved)


def test_certificate_for_another_block_fails() -> None:
    signers = make_signers(3)
    genesis = make_genesis(signers)
    header = make_header(genesis)
    other = make_header(genesis, time_ms=1)
    with pytest.raises(VerificationError, match="another block"):
        check(genesis, header, certify(signers, other))


def test_certificate_height_must_match_the_header() -> None:
    signers = make_signers(3)
    genesis = make_genesis(signers)
    header = make_header(genesis)
    certificate = msgspec.structs.replace(certify(signers, header), height=HEIGHT + 1)
    with pytest.raises(VerificationError, match="height"):
        check(genesis, header, certificate)


def test_header_naming_another_validator_set_fails() -> None:
    signers = make_signers(3)
    genesis = make_genesis(signers)
    header = make_header(genesis, validators_hash=b"\x22" * 32)
    with pytest.raises(VerificationError, match="validators_hash"):
        check(genesis, header, certify(signers, header))


def test_a_later_validator_set_can_be_supplied() -> None:
    founders = make_signers(3)
    genesis = make_genesis(founders)
    successors = make_signers(4, first_seed=50)
    later_set = make_genesis(successors).validator_set()
    header = make_header(genesis, validators_hash=validator_set_hash(SUITE, later_set))
    certificate = certify(successors, header)
    verify_header(genesis, header, certificate, validators=later_set)
    with pytest.raises(VerificationError, match="validators_hash"):
        verify_header(genesis, header, certificate)


# ------------------------------------------------------------------- reads against a header


def committed_state() -> tuple[Genesis, list[Signer], SparseMerkleTree, BlockHeader]:
    signers = make_signers(4)
    genesis = make_genesis(signers)
    reader = MemoryNodeReader()
    tree = SparseMerkleTree(SUITE, reader)
    state_root, nodes = tree.update(
        EMPTY_ROOT, {b"token/balance/alice": b"\x64", b"token/balance/bob": b"\x07"}
    )
    reader.nodes.update(nodes)
    header = make_header(genesis, state_root=state_root)
    return genesis, signers, tree, header


def test_state_read_of_a_present_and_an_absent_key_verifies() -> None:
    genesis, signers, tree, header = committed_state()
    certificate = certify(signers, header)
    key = b"token/balance/alice"
    verify_state_read(
        genesis, header, certificate, key, b"\x64", tree.prove(header.state_root, key)
    )
    absent = b"token/balance/carol"
    proof = tree.prove(header.state_root, absent)
    verify_state_read(genesis, header, certificate, absent, None, proof)


def test_state_read_with_a_wrong_value_or_weak_certificate_fails() -> None:
    genesis, signers, tree, header = committed_state()
    key = b"token/balance/alice"
    proof = tree.prove(header.state_root, key)
    with pytest.raises(VerificationError, match="claimed value does not match"):
        verify_state_read(genesis, header, certify(signers, header), key, b"\x65", proof)
    with pytest.raises(VerificationError, match="two thirds"):
        verify_state_read(genesis, header, certify(signers[:2], header), key, b"\x64", proof)


def test_state_read_bundle_survives_the_wire() -> None:
    genesis, signers, tree, header = committed_state()
    key = b"token/balance/bob"
    bundle = StateReadProof(
        header=header,
        certificate=certify(signers, header),
        key=key,
        value=b"\x07",
        proof=tree.prove(header.state_root, key),
    )
    received = decode(encode(bundle), StateReadProof, max_bytes=MAX_PROOF_BYTES)
    verify_state_read(
        genesis, received.header, received.certificate, received.key, received.value, received.proof
    )


def block_with_transactions(
    count: int,
) -> tuple[Genesis, list[Signer], list[bytes], list[bytes], BlockHeader]:
    signers = make_signers(4)
    genesis = make_genesis(signers)
    transactions = [
        encode(
            SignedTransaction(
                body=TransactionBody(
                    chain_id=CHAIN_ID,
                    sender=signers[0].address,
                    public_key=signers[0].public_key,
                    nonce=nonce,
                    valid_until=HEIGHT + 10,
                    contract="token",
                    method="transfer",
                    args=b"",
                ),
                signature=b"\x00" * 64,
            )
        )
        for nonce in range(count)
    ]
    receipts = [
        encode(
            Receipt(
                transaction_hash=bytes([index]) * 32,
                status=0,
                code="ok",
                message="",
                events=(),
                steps_used=index,
                result=b"",
            )
        )
        for index in range(count)
    ]
    header = make_header(
        genesis,
        transactions_root=merkle_root(SUITE, transactions),
        receipts_root=merkle_root(SUITE, receipts),
        transaction_count=count,
    )
    return genesis, signers, transactions, receipts, header


def test_transaction_and_receipt_inclusion_verify() -> None:
    genesis, signers, transactions, receipts, header = block_with_transactions(5)
    certificate = certify(signers, header)
    for index in range(5):
        verify_transaction_inclusion(
            genesis,
            header,
            certificate,
            transactions[index],
            merkle_proof(SUITE, transactions, index),
        )
        verify_receipt_inclusion(
            genesis, header, certificate, receipts[index], merkle_proof(SUITE, receipts, index)
        )


def test_receipt_proof_is_not_a_transaction_proof() -> None:
    genesis, signers, _, receipts, header = block_with_transactions(3)
    with pytest.raises(VerificationError, match="does not lead to the root"):
        verify_transaction_inclusion(
            genesis, header, certify(signers, header), receipts[1], merkle_proof(SUITE, receipts, 1)
        )


def test_inclusion_proof_leaf_count_must_be_the_block_transaction_count() -> None:
    genesis, signers, transactions, _, header = block_with_transactions(3)
    proof = merkle_proof(SUITE, transactions, 0)
    padded = MerkleProof(proof.leaf_index, 4, proof.siblings)
    with pytest.raises(VerificationError, match="the block has 3 transactions"):
        verify_transaction_inclusion(
            genesis, header, certify(signers, header), transactions[0], padded
        )
