"""Proven answers, shared by the routes that read state (docs/proofs.md §9): how old an answer
is, the height a client requires, and absence proven inside a 404.

Every proven state answer names the header its proof is against: ``height`` and ``time_ms``
(that block's time, agreed by the validators). A client that must not read older state than it
has seen passes ``min_height``; a node whose head is below it answers ``409 height_not_reached``
instead of older state. A record that is not there answers ``404 not_found`` whose ``details``
carry the same fields as a found one, ``value`` null: the absence, proven.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

from jinqiao.core.codec import encode
from jinqiao.core.errors import InvalidInput
from jinqiao.core.limits import MAX_HEIGHT
from jinqiao.core.proofs import StateReadProof
from jinqiao.node.reads import NotFound

MinHeight = Annotated[
    int | None,
    Query(
        ge=1,
        le=MAX_HEIGHT,
        description="The lowest block height the answer may be read at; a node whose head is "
        "lower answers 409 `height_not_reached`",
    ),
]


class HeightNotReached(InvalidInput):
    """The client requires state at least as new as a height this node has not committed."""

    code = "height_not_reached"


def check_min_height(height: int | None, min_height: int | None) -> None:
    """Refuse a request whose explicit ``height`` is below its own ``min_height``."""
    if height is not None and min_height is not None and height < min_height:
        raise InvalidInput(
            f"height {height} is below min_height {min_height}",
            code="invalid_request",
            height=height,
            min_height=min_height,
        )


def require_fresh(read_height: int, min_height: int | None) -> None:
    """Refuse an answer read at ``read_height`` (the head, when no height was asked) that is
    older than ``min_height``."""
    if min_height is not None and read_height < min_height:
        raise HeightNotReached(
            f"this node has committed up to height {read_height}; the request needs "
            f"{min_height} or later",
            min_height=min_height,
            head_height=read_height,
        )


def proven_fields(proof: StateReadProof) -> dict[str, Any]:
    """The fields of a proven state answer (found or not): the full key, the value (``None``:
    proven absent), the header's height, block time and state root, and the proof."""
    header = proof.header
    return {
        "key": proof.key.hex(),
        "value": None if proof.value is None else proof.value.hex(),
        "height": header.height,
        "time_ms": header.time_ms,
        "state_root": header.state_root.hex(),
        "proof": encode(proof).hex(),
    }


def proven_absence(message: str, proof: StateReadProof, **details: Any) -> NotFound:
    """A ``404 not_found`` whose details prove the absence: ``proven_fields`` of the proof
    (``value`` null) and ``details``."""
    return NotFound(message, **details, **proven_fields(proof))


__all__ = [
    "HeightNotReached",
    "MinHeight",
    "check_min_height",
    "proven_absence",
    "proven_fields",
    "require_fresh",
]
