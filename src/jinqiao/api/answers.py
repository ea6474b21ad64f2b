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

from jinqiao.api.openapi import ErrorBody, ProvenValue


class Health(BaseModel):
    """``GET /healthz``: the node answers, and its committed height."""

    status: str = Field(description="Always `ok`")
    height: int = Field(description="The node's committed height")


class TokenBalance(ProvenValue):
    """``GET /v1/token/{asset}/balances/{address}``: a holding, 0 when proven absent."""

    asset: str = Field(description="The asset's symbol")
    address: str = Field(description="The holder's address, hex")
    balance_minor: int = Field(description="The balance in the asset's minor units")
    tier: str | None = Field(description="The wallet tier; null when the holding is absent")
    frozen: bool = Field(description="Whether the holding is frozen")


class AccountAnswer(ProvenValue):
    """``GET /v1/accounts/{address}``: the account record, with its state proof."""

    account: dict[str, Any] = Field(
        description="The registry's Account record: organization, roles, status (bytes as hex)"
    )


class AssetView(BaseModel):
    """An asset's definition. Amounts are integers in units of ``10**-scale``."""

    symbol: str = Field(description="The asset's symbol")
    name: str = Field(description="Its name")
    scale: int = Field(description="Decimal places of its minor unit")
    issuer: str = Field(description="The organization that issues it")
    default_tier: str = Field(description="The wallet tier of a new holding")


class TokenAsset(BaseModel):
    """``GET /v1/token/{asset}``: the definition and the total supply, each proven against
    one header."""

    asset: AssetView = Field(description="The definition")
    supply_minor: int = Field(description="Total supply in minor units")
    height: int = Field(description="Height of the header both proofs are against")
    time_ms: int = Field(description="That block's time (ms since the epoch)")
    state_root: str = Field(description="That header's state root, hex")
    asset_proof: str = Field(description="Canonical StateReadProof of the definition, hex")
    supply_proof: str = Field(description="Canonical StateReadProof of the supply, hex")


class QueryAnswer(BaseModel):
    """``POST /v1/query/{contract}/{query_name}``: the query's result at a height; with
    ``proofs=true`` also the block's time and the proof of every state read."""

    height: int = Field(description="The block whose state the query read")
    result: Any = Field(description="The query's result (bytes as hex)")
    time_ms: int | None = Field(default=None, description="That block's time (with proofs)")
    reads_proof: str | None = Field(
        default=None, description="Canonical StateReadsProof, hex (with proofs)"
    )


class ValidatorEntry(BaseModel):
    """One validator of the current set."""

    address: str = Field(description="The validator's address, hex")
    name: str = Field(description="Its node's name")
    organization: str = Field(description="The organization that runs it")
    power: int = Field(description="Its voting power")


class Status(BaseModel):
    """``GET /v1/status``: the node, its chain and its head."""

    node: str = Field(description="This node's name")
    chain_id: str = Field(description="The chain's id, from the genesis")
    genesis_hash: str = Field(description="Hash of the genesis, hex")
    height: int = Field(description="The committed height")
    block_hash: str = Field(description="The head block's hash, hex")
    state_root: str = Field(description="The head's state root, hex")
    last_commit_time_ms: int = Field(description="When this node last committed (ms, epoch)")
    mempool_transactions: int = Field(description="Transactions waiting in the mempool")
    role: str = Field(description="`validator` or `observer`")
    validator: str = Field(description="This node's validator address, hex")
    validators: list[ValidatorEntry] = Field(description="The current validator set")
    version: str = Field(description="The jinqiao version the node runs")


class ValidatorChange(BaseModel):
    """One validator-set change, proven."""

    height: int = Field(description="Height of the block that made the change")
    proof: str = Field(description="Canonical StateReadProof of `governance/validators`, hex")


class ValidatorChanges(BaseModel):
    """``GET /v1/validators/changes``: every change from ``from_height`` on."""

    changes: list[ValidatorChange] = Field(description="In height order")


class Admitted(BaseModel):
    """A transaction admitted into the mempool (``POST /v1/transactions``, 202)."""

    hash: str = Field(description="The transaction's hash, hex")
    status: str = Field(description="`pending` (newly admitted) or `already_pending`")


class Refused(BaseModel):
    """A transaction of a batch refused at admission."""

    error: ErrorBody = Field(description="The refusal, as a single submit would answer it")
    status: int = Field(description="The HTTP status a single submit would answer")


class BatchAnswer(BaseModel):
    """``POST /v1/transactions/batch``: each transaction admitted or refused on its own."""

    accepted: int = Field(description="How many were admitted")
    refused: int = Field(description="How many were refused")
    results: list[Admitted | Refused] = Field(description="One per transaction, in order")


class Event(BaseModel):
    """An event a transaction emitted."""

    contract: str = Field(description="The contract that emitted it")
    name: str = Field(description="The event's name")
    attributes: dict[str, Any] = Field(description="Its attributes")


class ReceiptView(BaseModel):
    """A transaction's receipt (docs/proofs.md)."""

    transaction_hash: str = Field(description="Hex")
    status: str = Field(description="`ok` or `rejected`")
    code: str = Field(description="`ok`, or the stable rejection code (docs/errors.md)")
    message: str = Field(description="The rejection in words, empty when ok")
    events: list[Event] = Field(description="The events emitted, in order")
    steps_used: int = Field(description="Execution steps used")
    result: str = Field(description="The method's canonical result, hex")


class TransactionAnswer(BaseModel):
    """``GET /v1/transactions/{transaction_hash}``: pending (only `hash` and `status`), or
    committed with its receipt and both inclusion proofs."""

    hash: str = Field(description="The transaction's hash, hex")
    status: str = Field(description="`pending` or `committed`")
    height: int | None = Field(default=None, description="The block it is in (committed)")
    index: int | None = Field(default=None, description="Its position in that block")
    receipt: ReceiptView | None = Field(default=None, description="Its receipt (committed)")
    transaction_proof: str | None = Field(default=None, description="Inclusion proof, hex")
    receipt_proof: str | None = Field(default=None, description="Receipt proof, hex")


def answer(model: type[BaseModel], status: int = 200) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` entry that declares ``model`` as the body of the ``status`` answer."""
    return {status: {"model": model, "description": model.__doc__ or model.__name__}}


__all__ = [
    "AccountAnswer",
    "Admitted",
    "AssetView",
    "BatchAnswer",
    "Event",
    "Health",
    "ProvenValue",
    "QueryAnswer",
    "ReceiptView",
    "Refused",
    "Status",
    "TokenAsset",
    "TokenBalance",
    "TransactionAnswer",
    "ValidatorChange",
    "ValidatorChanges",
    "ValidatorEntry",
    "answer",
]
