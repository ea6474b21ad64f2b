"""Signing as a validator outside the consensus machine. In a one-validator network the one
validator's precommit is the whole commit certificate (``solo_certificate``, over the same vote
bytes a multi-validator network signs); with more validators, ``consensus.tendermint`` collects
precommits of more than two thirds of the power into the certificate and ``node.bft`` has
``consensus.safety`` sign them."""

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
