"""The success answers' bodies as the OpenAPI document declares them (ADR 0040), so that a
generator makes typed clients from ``/openapi.json``.

Each model states exactly what its route returns today (docs/api.md, docs/proofs.md define the
wire format). Routes declare one with ``answer(Model)`` and ``response_model=None``: the model is
the document's, the route still returns its plain dict, so declaring a model changes no byte on
the wire and costs no validation per request; schemathesis checks every answer against it
(tests/integration/test_api_conformance.py).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Health(BaseModel):
    """``GET /healthz``: the node answers, and its committed height."""

    status: str = Field(description="Always `ok`")
    height: int = Field(description="The node's committed height")


class ProvenValue(BaseModel):
    """A proven state read (docs/proofs.md): the value or its proven absence, and the proof."""

    key: str = Field(description="The full state key read, hex")
    value: str | None = Field(description="The stored bytes, hex; null: proven absent")
    height: int = Field(description="Height of the header the proof is against")
    time_ms: int = Field(description="That block's time (ms since the epoch)")
    state_root: str = Field(description="That header's state root, hex")
    proof: str = Field(description="Canonical StateReadProof, hex")


class TokenBalance(ProvenValue):
    """``GET /v1/token/{asset}/balances/{address}``: a holding, 0 when proven absent."""

    asset: str = Field(description="The asset's symbol")
    address: str = Field(description="The holder's address, hex")
    balance_minor: int = Field(description="The balance in the asset's minor units")
    tier: str | None = Field(description="The wallet tier; null when the holding is absent")
    frozen: bool = Field(description="Whether the holding is frozen")


class BatchAnswer(BaseModel):
    """``POST /v1/transactions/batch``: each transaction admitted or refused on its own."""

    accepted: int = Field(description="How many were admitted")
    refused: int = Field(description="How many were refused")
    results: list[dict[str, Any]] = Field(
        description="One entry per transaction, in order: its `hash` and `status`, or its "
        "`status` and `error` (the common error body)"
    )


def answer(model: type[BaseModel], status: int = 200) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` entry that declares ``model`` as the body of the ``status`` answer."""
    return {status: {"model": model, "description": model.__doc__ or model.__name__}}


__all__ = ["BatchAnswer", "Health", "ProvenValue", "TokenBalance", "answer"]
