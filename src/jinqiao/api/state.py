"""State: raw state reads with proofs, accounts, the token, and read-only contract queries."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Path, Query, Request

from jinqiao.api.answers import (
    AccountAnswer,
    ProvenValue,
    QueryAnswer,
    TokenAsset,
    TokenBalance,
    answer,
)
from jinqiao.api.openapi import FRESH, LOOKUP, QUERY, error_responses, proven_read_responses
from jinqiao.api.params import NAME, SYMBOL, Address, StateKey
from jinqiao.api.proven import (
    MinHeight,
    check_min_height,
    proven_absence,
    proven_fields,
    require_fresh,
)
from jinqiao.api.render import to_json
from jinqiao.apps.token import TOKEN, Asset, Holding, asset_key, balance_key, supply_key
from jinqiao.core.codec import decode_stored, encode
from jinqiao.core.errors import InvalidInput
from jinqiao.core.limits import MAX_NAME_LENGTH, MAX_STATE_READS_PROOF_BYTES
from jinqiao.core.proofs import StateReadProof
from jinqiao.execution.identity import REGISTRY, Account, account_key
from jinqiao.execution.state import full_key
from jinqiao.node.port import NodePort
from jinqiao.node.reads import NotFound

MAX_QUERY_BODY_BYTES = 64 * 1024
Height = Annotated[int | None, Query(ge=1, le=2**63)]
Symbol = Annotated[str, Path(pattern=SYMBOL, max_length=12)]


def router(node: NodePort) -> APIRouter:
    routes = APIRouter()
    reader = node.reader

    def read(key: bytes, height: int | None, min_height: int | None) -> StateReadProof:
        check_min_height(height, min_height)
        proof = reader.state(key, height)
        require_fresh(proof.header.height, min_height)
        return proof

    def state_view(key: bytes, height: int | None, min_height: int | None) -> dict[str, Any]:
        return proven_fields(read(key, height, min_height))

    @routes.get(
        "/v1/state/{contract}/{key}",
        tags=["state"],
        response_model=None,
        responses={**answer(ProvenValue), **error_responses(LOOKUP, FRESH)},
    )
    def state(
        contract: Annotated[str, Path(pattern=NAME)],
        key: StateKey,
        height: Height = None,
        min_height: MinHeight = None,
    ) -> dict[str, Any]:
        """A state value and its proof (``proof`` is a canonical ``StateReadProof``); ``value``
        null is a proven absence. ``height`` and ``time_ms`` say how old the answer is."""
        return state_view(full_key(contract, bytes.fromhex(key)), height, min_height)

    @routes.get(
        "/v1/accounts/{address}",
        tags=["state"],
        response_model=None,
        responses={**answer(AccountAnswer), **proven_read_responses()},
    )
    def account(
        address: Address, height: Height = None, min_height: MinHeight = None
    ) -> dict[str, Any]:
        """An account record (organization, roles, status) with its proof; an unknown account
        is 404 with its absence proven in ``details``."""
        proof = read(full_key(REGISTRY, account_key(bytes.fromhex(address))), height, min_height)
        if proof.value is None:
            raise proven_absence(f"no account {address}", proof, address=address)
        return {**proven_fields(proof), "account": to_json(decode_stored(proof.value, Account))}

    @routes.get(
        "/v1/token/{asset}/balances/{address}",
        tags=["token"],
        response_model=None,
        responses={**answer(TokenBalance), **error_responses(LOOKUP, FRESH)},
    )
    def token_balance(
        asset: Symbol, address: Address, height: Height = None, min_height: MinHeight = None
    ) -> dict[str, Any]:
        """A holder's balance in minor units (0 when the holding is proven absent), its tier and
        frozen flag, with the state proof."""
        raw_address = bytes.fromhex(address)
        view = state_view(full_key(TOKEN, balance_key(asset, raw_address)), height, min_height)
        holding = (
            None if view["value"] is None else decode_stored(bytes.fromhex(view["value"]), Holding)
        )
        view.update(
            asset=asset,
            address=address,
            balance_minor=0 if holding is None else holding.balance_minor,
            tier=None if holding is None else holding.tier,
            frozen=False if holding is None else holding.frozen,
        )
        return view

    @routes.get(
        "/v1/token/{asset}",
        tags=["token"],
        response_model=None,
        responses={**answer(TokenAsset), **proven_read_responses()},
    )
    def token_asset(asset: Symbol, min_height: MinHeight = None) -> dict[str, Any]:
        """An asset's definition and total supply, each with its state proof, at the head; an
        unknown asset is 404 with its absence proven in ``details``."""
        definition = read(full_key(TOKEN, asset_key(asset)), None, min_height)
        if definition.value is None:
            raise proven_absence(f"no asset {asset}", definition, asset=asset)
        header = definition.header
        # The supply at the definition's height, so both proofs name one header.
        supply = reader.state(full_key(TOKEN, supply_key(asset)), header.height)
        return {
            "asset": to_json(decode_stored(definition.value, Asset)),
            "supply_minor": 0 if supply.value is None else decode_stored(supply.value, int),
            "height": header.height,
            "time_ms": header.time_ms,
            "state_root": header.state_root.hex(),
            "asset_proof": encode(definition).hex(),
            "supply_proof": encode(supply).hex(),
        }

    @routes.post(
        "/v1/query/{contract}/{query_name}",
        tags=["state"],
        response_model=None,
        responses={**answer(QueryAnswer), **error_responses(QUERY, {413: ("proof_too_large",)})},
        openapi_extra={
            "requestBody": {
                "required": False,
                "content": {
                    "application/json": {
                        "schema": {"type": "object"},
                        "description": "the query's argument struct by field name (bytes as hex)",
                    }
                },
            }
        },
    )
    async def run_query(
        contract: Annotated[str, Path(pattern=NAME, max_length=MAX_NAME_LENGTH)],
        query_name: Annotated[str, Path(pattern=NAME, max_length=MAX_NAME_LENGTH)],
        request: Request,
        proofs: Annotated[
            bool,
            Query(
                description="Also answer `reads_proof`: every state key the query read, proven "
                "(a canonical StateReadsProof), to run the query again on proven state"
            ),
        ] = False,
    ) -> dict[str, Any]:
        """Run a read-only contract query against the head state. Arguments are the query's
        argument struct as a JSON object (bytes as hex). ``height`` and ``time_ms`` name the
        block whose state it read. The result is unproven unless ``proofs=true`` (docs/proofs.md
        §9.5)."""
        spec = node.query_spec(contract, query_name)
        if spec is None:
            raise NotFound(f"no query {contract}.{query_name}", code="unknown_method")
        body = await request.body()
        if len(body) > MAX_QUERY_BODY_BYTES:
            raise InvalidInput(
                f"query arguments are over {MAX_QUERY_BODY_BYTES} bytes", code="request_too_large"
            )
        try:
            arguments = struct_from_json(spec.args_type, msgspec.json.decode(body or b"{}"))
        except (msgspec.DecodeError, RecursionError, ValueError) as exc:
            raise InvalidInput(
                f"arguments of {contract}.{query_name}: {exc}", code="invalid_arguments"
            ) from None

        def run() -> dict[str, Any]:
            if proofs:
                proven = node.prove_query(contract, query_name, arguments)
                bundle = encode(proven.proof)
                if len(bundle) > MAX_STATE_READS_PROOF_BYTES:
                    raise InvalidInput(
                        f"the proofs of the query's reads are over "
                        f"{MAX_STATE_READS_PROOF_BYTES} bytes",
                        code="proof_too_large",
                        limit_bytes=MAX_STATE_READS_PROOF_BYTES,
                    )
                return {
                    "height": proven.height,
                    "time_ms": proven.time_ms,
                    "result": to_json(proven.result),
                    "reads_proof": bundle.hex(),
                }
            height, result = node.run_query(contract, query_name, arguments)
            return {"height": height, "result": to_json(result)}

        return await asyncio.to_thread(run)

    return routes


def struct_from_json(kind: type[Any], value: Any) -> Any:
    """An argument struct from a JSON object keyed by field name; ``bytes`` fields are hex."""
    if not isinstance(value, dict):
        raise msgspec.ValidationError(
            f"expected a JSON object with fields {list(kind.__struct_fields__)}"
        )
    fields = msgspec.structs.fields(kind)
    names = [field.name for field in fields]
    unknown = sorted(set(value) - set(names))
    if unknown:
        raise msgspec.ValidationError(f"unknown fields {unknown[:10]}")
    missing = [name for name in names if name not in value]
    if missing:
        raise msgspec.ValidationError(f"missing fields {missing}")
    items = [_from_hex(field.name, field.type, value[field.name]) for field in fields]
    return msgspec.convert(items, kind, strict=True)


def _from_hex(name: str, kind: Any, value: Any) -> Any:
    if kind is bytes and isinstance(value, str):
        try:
            return bytes.fromhex(value)
        except ValueError:
            raise msgspec.ValidationError(f"{name}: {value[:80]!r} is not hex") from None
    return value
