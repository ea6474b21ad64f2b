"""Signing a precommit outside consensus: the benchmarks that measure execution alone certify
their blocks with one validator's precommit (``solo_certificate``); a node gathers more than two
thirds of the power's precommits through ``node.driver`` instead."""

from __future__ import annotations

from jinqiao.core.crypto import Signer
from jinqiao.core.hashing import vote_signing_bytes
from jinqiao.core.types import BlockHeader, CommitCertificate, CommitSignature, Vote, VoteType


def sign_precommit(
    signer: Signer, header: BlockHeader, block_hash: bytes, round_: int
) -> CommitSignature:
    vote = Vote(
        header.chain_id, header.height, round_, VoteType.PRECOMMIT, block_hash, signer.address
    )
    return CommitSignature(signer.address, signer.sign(vote_signing_bytes(vote)))


def solo_certificate(signer: Signer, header: BlockHeader, block_hash: bytes) -> CommitCertificate:
    return CommitCertificate(
        header.height, 0, block_hash, (sign_precommit(signer, header, block_hash, 0),)
    )
