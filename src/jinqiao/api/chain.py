"""The chain: status, consensus diagnosis, genesis, validator-set changes and blocks."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from jinqiao import __version__
from jinqiao.api.answers import (
    BlockAnswer,
    Consensus,
    GenesisFile,
    Status,
    ValidatorChanges,
    answer,
)
from jinqiao.api.longpoll import LongPolls
from jinqiao.api.openapi import FRESH, LOOKUP, PARAMETERS, PRUNED, error_responses
from jinqiao.api.params import MAX_WAIT_MS, Hash
from jinqiao.api.proven import MinHeight, require_fresh
from jinqiao.api.render import block_json
from jinqiao.core.codec import encode
from jinqiao.core.genesis import genesis_hash
from jinqiao.core.hashing import header_hash
from jinqiao.core.types import CommittedBlock
from jinqiao.node.port import NodePort

Leaves = Annotated[
    bool,
    Query(
        description="Include `transaction_leaves` and `receipt_leaves`: the canonical bytes (hex) "
        "of every transaction and receipt, to check against the header's roots"
    ),
]
MAX_WAIT_AHEAD_BLOCKS = 1
"""A block request may wait for the next block only, not for one far in the future."""


def router(node: NodePort, long_polls: LongPolls) -> APIRouter:
    routes = APIRouter(tags=["chain"])
    reader = node.reader
    chain_genesis_hash = genesis_hash(node.genesis).hex()

    @routes.get(
        "/v1/status", response_model=None, responses={**answer(Status), **error_responses()}
    )
    def status() -> dict[str, Any]:
        head = node.head()
        return {
            "node": node.node_name,
            "chain_id": node.genesis.chain_id,
            "genesis_hash": chain_genesis_hash,
            "height": head.height,
            "block_hash": head.block_hash.hex(),
            "state_root": head.state_root.hex(),
            "last_commit_time_ms": node.last_commit_time_ms,
            "mempool_transactions": node.mempool_size(),
            "role": node.role,
            "validator": node.validator_address.hex(),
            "validators": [
                {
                    "address": v.address.hex(),
                    "name": v.name,
                    "organization": v.organization,
                    "power": v.power,
                }
                for v in head.validators.validators
            ],
            "version": __version__,
        }

    @routes.get(
        "/v1/validators/changes",
        response_model=None,
        responses={**answer(ValidatorChanges), **error_responses(PARAMETERS)},
    )
    def validator_changes(
        from_height: Annotated[int, Query(ge=1, le=2**63)] = 1,
        limit: Annotated[int, Query(ge=1, le=100)] = 100,
    ) -> dict[str, Any]:
        """Every validator-set change from ``from_height`` on: for each, the new set proven
        (a canonical ``StateReadProof`` of ``governance/validators``) against the header of the
        block that made it, certified by the set before it."""
        proofs = reader.validator_changes(from_height, limit)
        return {
            "changes": [
                {"height": proof.header.height, "proof": encode(proof).hex()} for proof in proofs
            ]
        }

    @routes.get(
        "/v1/consensus",
        response_model=None,
        responses={**answer(Consensus), **error_responses()},
    )
    def consensus() -> dict[str, Any]:
        """What consensus is doing and, in words, why the chain is not committing when it is
        not: height, round, step, whose votes are missing, which peers are connected."""
        return node.consensus_diagnosis()

    @routes.get(
        "/v1/genesis",
        response_class=Response,
        responses={**answer(GenesisFile), **error_responses()},
    )
    def genesis() -> Response:
        return Response(node.genesis_bytes, media_type="application/json")

    def block_view(
        committed: CommittedBlock, include: bool, hashes: bool = False, leaves: bool = False
    ) -> dict[str, Any]:
        return block_json(
            committed,
            header_hash(node.suite, committed.block.header),
            include_transactions=include,
            include_hashes=hashes,
            include_leaves=leaves,
        )

    @routes.get(
        "/v1/blocks/latest",
        response_model=None,
        responses={**answer(BlockAnswer), **error_responses(LOOKUP, FRESH)},
    )
    def latest_block(
        transactions: bool = False, leaves: Leaves = False, min_height: MinHeight = None
    ) -> dict[str, Any]:
        committed = reader.block()
        require_fresh(committed.block.header.height, min_height)
        return block_view(committed, transactions, leaves=leaves)

    @routes.get(
        "/v1/blocks/{height}",
        response_model=None,
        responses={**answer(BlockAnswer), **error_responses(LOOKUP, PRUNED)},
    )
    async def block_at(
        height: Annotated[int, Path(ge=1, le=2**63)],
        request: Request,
        transactions: bool = False,
        hashes: Annotated[bool, Query(description="Include only the transaction hashes")] = False,
        leaves: Leaves = False,
        wait_ms: Annotated[
            int, Query(ge=0, le=MAX_WAIT_MS, description="Long-poll until the block is committed")
        ] = 0,
    ) -> dict[str, Any]:
        if wait_ms and height <= node.head().height + MAX_WAIT_AHEAD_BLOCKS:
            await long_polls.wait(request, node.wait_for_height(height, wait_ms / 1000))
        return await asyncio.to_thread(
            lambda: block_view(reader.block(height), transactions, hashes, leaves)
        )

    @routes.get(
        "/v1/blocks/by-hash/{block_hash}",
        response_model=None,
        responses={**answer(BlockAnswer), **error_responses(LOOKUP, PRUNED)},
    )
    def block_by_hash(
        block_hash: Hash,
        transactions: bool = False,
        leaves: Leaves = False,
    ) -> dict[str, Any]:
        return block_view(
            reader.block_by_hash(bytes.fromhex(block_hash)), transactions, leaves=leaves
        )

    return routes
