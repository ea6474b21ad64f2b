"""Saved answers, checked offline (docs/proofs.md §11, ADR 0025).

A saved answer is one API answer kept as the node gave it, next to the request it answers:

    {"format": "jinqiao-saved-answer/1", "method": "GET", "path": "/v1/accounts/…",
     "params": {"min_height": "12"}, "body": null, "status": 404, "answer": {…},
     "validator_changes": [ … ]}

``verify_saved(genesis, saved)`` checks it with nothing but the genesis file: it replays the
saved answer to the SDK's own verifying method for the route (a ``Client`` whose transport
serves the file, never the network), so an offline check is exactly the check a live client
makes — and then requires every unproven field the answer shows next to its proof (``value``,
``height``, ``time_ms``, ``state_root``, the decoded record, a query's ``result``) to say what
the proof says. ``validator_changes`` holds the ``GET /v1/validators/changes`` pages the check
needed when the validator set changed after genesis (``Client.save`` records them), so a later
set is followed offline from genesis as a live client follows it.

Why replay rather than a second verifier: the SDK's checks (key asked for, height, freshness,
the two proofs of a transaction, a block's leaves, a query run again) are the contract the
documents state; writing them twice would let the two drift.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import msgspec

from jinqiao.apps.payments.model import (
    PAYMENTS,
    Cycle,
    CycleTotals,
    Entry,
    Flow,
    Institution,
    InstitutionCycle,
    Payment,
    Position,
    cycle_key,
    cycle_totals_key,
    entry_key,
    flow_key,
    institution_cycle_key,
    institution_key,
    payment_key,
    position_key,
)
from jinqiao.apps.token import TOKEN, Asset, Holding, asset_key, balance_key, supply_key
from jinqiao.client.outcome import NodesUnreachable
from jinqiao.client.verified import Verified
from jinqiao.core.codec import decode, json_view
from jinqiao.core.errors import InvalidInput, JinqiaoError
from jinqiao.core.genesis import Genesis
from jinqiao.core.hashing import header_hash
from jinqiao.core.limits import MAX_PROOF_BYTES
from jinqiao.core.proofs import StateReadProof
from jinqiao.core.types import Block, BlockHeader, CommitCertificate, CommittedBlock
from jinqiao.core.views import block_json, header_json, receipt_json
from jinqiao.execution.identity import REGISTRY, Account, account_key
from jinqiao.execution.state import full_key
from jinqiao.verify import VerificationError

if TYPE_CHECKING:
    from jinqiao.client.client import Client

SAVED_ANSWER_FORMAT = "jinqiao-saved-answer/1"
MAX_SAVED_ANSWER_BYTES = 64 * 1024 * 1024
"""A saved answer file is refused above this (a block with its leaves is at most ~40 MiB of
hex)."""
MAX_SAVED_PATH_LENGTH = 2048
MAX_SAVED_VALIDATOR_PAGES = 100
REPLAY_URL = "http://saved-answer.invalid"
"""The base URL of the replaying client: never resolved, the transport answers."""


class SavedAnswerInvalid(InvalidInput):
    """The file is not a saved answer this version reads."""

    code = "saved_answer_invalid"


class RouteNotVerifiable(InvalidInput):
    """The saved answer is of a route whose answer carries no proof (docs/proofs.md §11)."""

    code = "route_not_verifiable"


class SavedAnswer(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One request and the node's answer to it, as saved (module docstring)."""

    format: str = SAVED_ANSWER_FORMAT
    method: str
    path: str
    params: dict[str, str] = {}
    body: dict[str, Any] | None = None
    status: int
    answer: Any
    validator_changes: list[Any] = []


def load_saved(data: bytes) -> SavedAnswer:
    """A saved answer from a file's bytes; ``SavedAnswerInvalid`` saying why not."""
    if len(data) > MAX_SAVED_ANSWER_BYTES:
        raise SavedAnswerInvalid(f"a saved answer is at most {MAX_SAVED_ANSWER_BYTES} bytes")
    try:
        saved = msgspec.json.decode(data, type=SavedAnswer)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
        raise SavedAnswerInvalid(f"not a saved answer: {exc}") from None
    if saved.format != SAVED_ANSWER_FORMAT:
        raise SavedAnswerInvalid(f"format {saved.format!r} is not {SAVED_ANSWER_FORMAT!r}")
    if saved.method not in ("GET", "POST"):
        raise SavedAnswerInvalid(f"method {saved.method!r} is neither GET nor POST")
    if not saved.path.startswith("/v1/") or len(saved.path) > MAX_SAVED_PATH_LENGTH:
        raise SavedAnswerInvalid("path must be an API path (/v1/…) of at most 2048 characters")
    if not 200 <= saved.status <= 599:
        raise SavedAnswerInvalid(f"status {saved.status} is not an HTTP status")
    if len(saved.validator_changes) > MAX_SAVED_VALIDATOR_PAGES:
        raise SavedAnswerInvalid(f"over {MAX_SAVED_VALIDATOR_PAGES} validator-change pages")
    return saved


def dump_saved(saved: SavedAnswer) -> bytes:
    """The file's bytes: indented JSON, fields in the order above."""
    return json.dumps(msgspec.to_builtins(saved), indent=1).encode() + b"\n"


class Replay(httpx.BaseTransport):
    """Serves a saved answer to the request it answers, and the saved validator-change pages
    in order (then an empty page); any other request is answered 404. With ``live``, a
    validator-change page not saved is fetched from there and kept (``Client.save``)."""

    def __init__(
        self, saved: SavedAnswer, live: Callable[[Mapping[str, Any]], Any] | None = None
    ) -> None:
        self.saved = saved
        self.live = live
        self.pages = list(saved.validator_changes)
        self.served_pages = 0
        self.recorded: list[Any] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/v1/validators/changes":
            asked = request.url.params.get("from_height", "1")
            if self.saved.path == path and _same_number(asked, self.saved.params):
                return httpx.Response(self.saved.status, json=self.saved.answer)
            if self.served_pages < len(self.pages):
                page = self.pages[self.served_pages]
            elif self.live is not None and self.served_pages < MAX_SAVED_VALIDATOR_PAGES:
                page = self.live(dict(request.url.params))
                self.pages.append(page)
            else:
                page = {"changes": []}
            self.served_pages += 1
            return httpx.Response(200, json=page)
        if request.method == self.saved.method and path == self.saved.path:
            return httpx.Response(self.saved.status, json=self.saved.answer)
        return httpx.Response(
            404,
            json={
                "code": "not_found",
                "message": f"the saved answer holds no answer to {request.method} {path}",
            },
        )


def _same_number(asked: str, params: Mapping[str, str]) -> bool:
    """Whether a page of validator changes asked ``from_height`` is the page saved."""
    saved = params.get("from_height", "1")
    return asked == saved or (asked.isdigit() and saved.isdigit() and int(asked) == int(saved))


def verify_saved(genesis: Genesis, saved: SavedAnswer) -> Verified:
    """Check ``saved`` against ``genesis`` offline (module docstring). Raises
    ``VerificationError`` when a proof or a shown field does not check, ``ClientError``
    (``bad_response``) when the answer is malformed or about something else than its request,
    ``RouteNotVerifiable`` for a route whose answers carry no proof."""
    return _replayed(genesis, Replay(saved))


def _replayed(genesis: Genesis, replay: Replay) -> Verified:
    from jinqiao.client.client import Client

    saved = replay.saved
    with Client(REPLAY_URL, genesis=genesis, transport=replay) as client:
        for template, pattern, check in _all_routes():
            match = pattern.fullmatch(saved.path)
            if match is not None and template.startswith(saved.method + " "):
                return check(client, match.groupdict(), saved)
    raise RouteNotVerifiable(
        f"{saved.method} {saved.path}: no proof to check offline; docs/proofs.md §11 lists "
        "the routes a saved answer may come from"
    )


def save_answer(
    client: Client,
    method: str,
    path: str,
    params: Mapping[str, Any],
    body: Mapping[str, Any] | None,
) -> tuple[SavedAnswer, Verified | JinqiaoError]:
    """Ask ``client``'s node and keep its answer as a ``SavedAnswer``, checked as
    ``verify_saved`` will check it, with the validator-change pages that check needed fetched
    from the node. Returns the saved answer and what it proves — or, for an answer that does not
    check (kept: it is the evidence), the error saying why."""
    response = client.send_raw(method, path, params=params, body=body)
    try:
        answer = response.json()
    except json.JSONDecodeError:
        raise RouteNotVerifiable(
            f"{path} did not answer JSON: only JSON answers are saved"
        ) from None
    saved = SavedAnswer(
        method=method,
        path=path,
        params={str(key): str(value) for key, value in params.items()},
        body=None if body is None else dict(body),
        status=response.status_code,
        answer=answer,
    )

    def live(page_params: Mapping[str, Any]) -> Any:
        return client.send_raw("GET", "/v1/validators/changes", params=page_params).json()

    replay = Replay(saved, live)
    outcome: Verified | JinqiaoError
    try:
        outcome = _replayed(client.genesis, replay)
    except NodesUnreachable:
        raise
    except JinqiaoError as error:
        outcome = error
    pages = replay.pages[: replay.served_pages]
    return msgspec.structs.replace(saved, validator_changes=pages), outcome


# ------------------------------------------------------------------------------------------------
# The routes: each replays the answer to the SDK's verifying call, then checks the shown fields.


def _heights(saved: SavedAnswer) -> dict[str, int | None]:
    def number(name: str) -> int | None:
        value = saved.params.get(name)
        if value is None:
            return None
        try:
            return int(value)
        except ValueError:
            raise SavedAnswerInvalid(f"parameter {name} is not an integer") from None

    return {"height": number("height"), "min_height": number("min_height")}


def _shown(answer: Any) -> dict[str, Any]:
    """The proven fields of an answer: the body of a 200, the ``details`` of a 404."""
    if not isinstance(answer, dict):
        raise VerificationError("the saved answer is not a JSON object")
    details = answer.get("details")
    if answer.get("code") == "not_found" and isinstance(details, dict):
        return details
    return answer


def _require(shown: Mapping[str, Any], name: str, expected: Any) -> None:
    """A field the answer shows next to its proof must say what the proof says."""
    if name in shown and shown[name] != expected:
        raise VerificationError(
            f"the answer shows {name} {str(shown[name])[:80]!r}; the proof says "
            f"{str(expected)[:80]!r}"
        )


def _check_proven_fields(shown: Mapping[str, Any], proof_hex: Any) -> StateReadProof:
    if not isinstance(proof_hex, str) or len(proof_hex) > 2 * MAX_PROOF_BYTES:
        raise VerificationError("the answer has no proof")
    try:
        proof = decode(bytes.fromhex(proof_hex), StateReadProof, max_bytes=MAX_PROOF_BYTES)
    except (ValueError, InvalidInput) as exc:
        raise VerificationError(f"the proof does not decode: {exc}") from None
    _require(shown, "value", None if proof.value is None else proof.value.hex())
    _require(shown, "height", proof.header.height)
    _require(shown, "time_ms", proof.header.time_ms)
    _require(shown, "state_root", proof.header.state_root.hex())
    return proof


def _describe(what: str, value: bytes | None, height: int) -> Verified:
    shown = "absent (proven)" if value is None else f"{len(value)} bytes"
    return Verified(f"{what}: {shown} at height {height}", height)


def _state(client: Client, groups: dict[str, str], saved: SavedAnswer) -> Verified:
    contract, key = groups["contract"], bytes.fromhex(groups["key"])
    proven = client.read_state(contract, key, **_heights(saved))
    shown = _shown(saved.answer)
    _check_proven_fields(shown, shown.get("proof"))
    _require(shown, "key", (contract.encode() + b"/" + key).hex())
    return _describe(f"state {contract}/{groups['key']}", proven.value, proven.height)


def _record(
    client: Client,
    saved: SavedAnswer,
    key: bytes,
    view: tuple[str, type[Any]] | None,
    what: str,
    shown_key: bytes | None = None,
) -> Verified:
    """A route answering one proven record: the SDK's ``read_record``, then the decoded view
    (``view``: the answer's field and the record's type) against the proven value. The answer
    shows ``key``: the full key, or ``shown_key`` (the contract's key) when found."""
    heights = _heights(saved)
    proven = client.read_record(
        saved.path, key, height=heights["height"], min_height=heights["min_height"]
    )
    shown = _shown(saved.answer)
    _check_proven_fields(shown, shown.get("proof"))
    # A 200 shows the contract's key when the route says so; a 404's details the full key.
    found_key = key if shown_key is None or saved.status != 200 else shown_key
    _require(shown, "key", found_key.hex())
    if view is not None:
        field, kind = view
        if proven.value is None:
            _require(shown, field, None)
        else:
            record = decode(proven.value, kind, max_bytes=MAX_PROOF_BYTES)
            _require(shown, field, json_view(record))
            if field not in shown:
                raise VerificationError(f"the answer has no {field}")
    return _describe(what, proven.value, proven.height)


def _account(client: Client, groups: dict[str, str], saved: SavedAnswer) -> Verified:
    address = bytes.fromhex(groups["address"])
    key = full_key(REGISTRY, account_key(address))
    _require(_shown(saved.answer), "address", groups["address"])
    return _record(client, saved, key, ("account", Account), f"account {groups['address']}")


def _balance(client: Client, groups: dict[str, str], saved: SavedAnswer) -> Verified:
    asset, address = groups["asset"], bytes.fromhex(groups["address"])
    verified = _record(
        client, saved, full_key(TOKEN, balance_key(asset, address)), None, f"{asset} balance"
    )
    shown = _shown(saved.answer)
    _require(shown, "asset", asset)
    _require(shown, "address", groups["address"])
    value = shown.get("value")
    holding = None if value is None else decode(bytes.fromhex(value), Holding, max_bytes=4096)
    _require(shown, "balance_minor", 0 if holding is None else holding.balance_minor)
    _require(shown, "tier", None if holding is None else holding.tier)
    _require(shown, "frozen", False if holding is None else holding.frozen)
    balance = 0 if holding is None else holding.balance_minor
    return Verified(
        f"{asset} balance of {groups['address']}: {balance} minor units at height "
        f"{verified.height}",
        verified.height,
    )


def _asset(client: Client, groups: dict[str, str], saved: SavedAnswer) -> Verified:
    asset = groups["asset"]
    shown = _shown(saved.answer)
    if "asset_proof" not in shown:  # a 404: the definition's absence, proven
        _require(shown, "asset", asset)
        return _record(client, saved, full_key(TOKEN, asset_key(asset)), None, f"asset {asset}")
    heights = _heights(saved)
    definition = client.proven_state_answer(
        shown.get("asset_proof"), full_key(TOKEN, asset_key(asset)), None, heights["min_height"]
    )
    supply = client.proven_state_answer(
        shown.get("supply_proof"), full_key(TOKEN, supply_key(asset)), definition.height, None
    )
    if definition.value is None:
        raise VerificationError("the asset's definition is proven absent, yet it is shown")
    _require(shown, "asset", json_view(decode(definition.value, Asset, max_bytes=4096)))
    supply_minor = 0 if supply.value is None else decode(supply.value, int, max_bytes=64)
    _require(shown, "supply_minor", supply_minor)
    _require(shown, "height", definition.height)
    _require(shown, "state_root", definition.state_root.hex())
    _require(shown, "time_ms", definition.time_ms)
    return Verified(
        f"asset {asset}: supply {supply_minor} minor units at height {definition.height}",
        definition.height,
    )


def record_route(
    contract: str,
    key: Callable[[dict[str, str]], bytes],
    field: str,
    kind: type[Any],
    what: str,
    *,
    shows_contract_key: bool = True,
) -> Check:
    """The check of a route that answers one proven record of ``contract``: the state key
    ``key(path parameters)``, the decoded record in ``field`` (a ``kind``), ``what`` the line
    names (formatted with the path parameters). A 200 shows the contract's key when
    ``shows_contract_key`` (payments, credit), else the full key (supply chain)."""

    def check(client: Client, groups: dict[str, str], saved: SavedAnswer) -> Verified:
        contract_key = key(groups)
        shown_key = contract_key if shows_contract_key else None
        full = full_key(contract, contract_key)
        return _record(client, saved, full, (field, kind), what.format(**groups), shown_key)

    return check


def _payments(
    key: Callable[[dict[str, str]], bytes], field: str, kind: type[Any], what: str
) -> Check:
    return record_route(PAYMENTS, key, field, kind, what)


def _transaction(client: Client, groups: dict[str, str], saved: SavedAnswer) -> Verified:
    identity = groups["transaction_hash"]
    if saved.status == 404:
        raise RouteNotVerifiable(
            "an unknown transaction's 404 carries no proof (docs/proofs.md §9.2)"
        )
    found = client.lookup(identity)
    from jinqiao.client.client import TransactionResult

    if not isinstance(found, TransactionResult):
        raise RouteNotVerifiable("a pending transaction's answer carries no proof")
    shown = _shown(saved.answer)
    _require(shown, "hash", identity)
    _require(shown, "height", found.height)
    _require(shown, "index", found.index)
    _require(shown, "receipt", receipt_json(found.receipt))
    return Verified(
        f"transaction {identity}: committed at height {found.height} index {found.index}, "
        f"code {found.receipt.code}",
        found.height,
    )


def _block(client: Client, groups: dict[str, str], saved: SavedAnswer) -> Verified:
    if saved.status == 404:
        raise RouteNotVerifiable("a block above the head does not exist yet: nothing to prove")
    answer = _shown(saved.answer)
    wanted, by_hash = groups.get("height"), groups.get("block_hash")
    height = int(wanted) if wanted else None
    block_hash = bytes.fromhex(by_hash) if by_hash else None
    if saved.params.get("leaves") == "true":
        block = client.proven_block(
            height, min_height=_heights(saved)["min_height"], block_hash=block_hash
        )
        committed = CommittedBlock(
            Block(block.header, block.transactions), block.certificate, block.receipts
        )
        view = block_json(
            committed,
            header_hash(client.suite, block.header),
            include_transactions=saved.params.get("transactions") == "true",
            include_hashes=saved.params.get("hashes") == "true",
            include_leaves=True,
        )
        for name in sorted(set(view) | set(answer)):
            _require(answer, name, view.get(name))
        return Verified(
            f"block {block.header.height}: {len(block.transactions)} transactions and receipts "
            "against its roots",
            block.header.height,
        )
    checked = client.block(height, block_hash=block_hash)
    header = decode(bytes.fromhex(checked["header_bytes"]), BlockHeader, max_bytes=MAX_PROOF_BYTES)
    _require(answer, "header", header_json(header, header_hash(client.suite, header)))
    certificate_bytes = bytes.fromhex(checked["certificate_bytes"])
    certificate = decode(certificate_bytes, CommitCertificate, max_bytes=MAX_PROOF_BYTES)
    _require(answer, "certificate", json_view(certificate))
    return Verified(
        f"block {header.height}: header certified (its transaction list is not: save it with "
        "leaves=true)",
        header.height,
    )


def _validator_changes(client: Client, groups: dict[str, str], saved: SavedAnswer) -> Verified:
    """A page of validator-set changes: each change proven under the set before it, followed
    from genesis (the pages before the page's first change are the saved
    ``validator_changes``)."""
    try:
        from_height = int(saved.params.get("from_height", "1"))
    except ValueError:
        raise SavedAnswerInvalid("parameter from_height is not an integer") from None
    changes = client.proven_validator_changes(from_height)
    shown = saved.answer.get("changes") if isinstance(saved.answer, dict) else None
    views = shown if isinstance(shown, list) else []
    for (height, _), view in zip(changes, views, strict=True):
        _require(view, "height", height)
    if changes:
        height, validators = changes[-1]
        last = (
            f", the last in force from height {height + 1} with "
            f"{len(validators.validators)} validators"
        )
    else:
        last = ""
    return Verified(
        f"validator-set changes from height {from_height}: {len(changes)} proven{last}",
        changes[-1][0] if changes else 0,
    )


def _query(client: Client, groups: dict[str, str], saved: SavedAnswer) -> Verified:
    contract, name = groups["contract"], groups["query_name"]
    if saved.params.get("proofs") != "true":
        raise RouteNotVerifiable(
            f"{contract}.{name} was asked without proofs=true: its result is unproven"
        )
    arguments = client.query_arguments_from_json(contract, name, saved.body or {})
    proven = client.proven_query(contract, name, **arguments)
    shown = _shown(saved.answer)
    _require(shown, "result", json_view(proven.result))
    _require(shown, "height", proven.height)
    _require(shown, "time_ms", proven.time_ms)
    return Verified(
        f"query {contract}.{name}: result recomputed from proven state at height {proven.height}",
        proven.height,
    )


Check = Callable[["Client", dict[str, str], SavedAnswer], Verified]

_HEX = "[0-9a-f]"
_INST = "[a-z0-9][a-z0-9_.-]{0,63}"
PARAMETERS = {
    "contract": "[a-z0-9_]{1,64}",
    "key": "(?:[0-9a-f]{2})*",
    "address": "[0-9a-f]{40}",
    "asset": "[A-Z0-9]{1,12}",
    "institution": _INST,
    "issuer": _INST,
    "acquirer": _INST,
    "organization": _INST,
    "model_id": _INST,
    "policy_id": _INST,
    "payment_id": "[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}",
    "cycle_id": "[0-9]{1,20}",
    "sequence": "[0-9]{1,19}",
    "consent_id": "[0-9]{1,19}",
    "height": "[0-9]{1,19}",
    "version": "[1-9][0-9]{0,18}",
    "receivable_id": "[1-9][0-9]{0,18}",
    "root_id": "[1-9][0-9]{0,18}",
    "prefix": "[0-9]{4,12}",
    "transaction_hash": "[0-9a-f]{64}",
    "block_hash": "[0-9a-f]{64}",
    "event_hash": "[0-9a-f]{64}",
    "document_hash": "[0-9a-f]{64}",
    "subject": "[0-9a-f]{64}",
    "query_name": "[a-z0-9_]{1,64}",
}
"""The form of each path parameter of the routes below (the API's own limits)."""


def route_pattern(template: str) -> re.Pattern[str]:
    """The request paths of an OpenAPI route (``GET /v1/accounts/{address}``): each
    ``{parameter}`` a named group of its form in ``PARAMETERS``."""
    path = template.split(" ", 1)[1]
    return re.compile(
        re.sub(r"\\\{(\w+)\\\}", lambda m: f"(?P<{m[1]}>{PARAMETERS[m[1]]})", re.escape(path))
    )


_ROUTES: list[tuple[str, Check]] = [
    ("GET /v1/state/{contract}/{key}", _state),
    ("GET /v1/accounts/{address}", _account),
    ("GET /v1/token/{asset}/balances/{address}", _balance),
    ("GET /v1/token/{asset}", _asset),
    (
        "GET /v1/payments/institutions/{institution}",
        _payments(
            lambda g: institution_key(g["institution"]),
            "institution",
            Institution,
            "institution {institution}",
        ),
    ),
    (
        "GET /v1/payments/payments/{payment_id}",
        _payments(
            lambda g: payment_key(g["payment_id"]), "payment", Payment, "payment {payment_id}"
        ),
    ),
    (
        "GET /v1/payments/cycles/{cycle_id}",
        _payments(lambda g: cycle_key(int(g["cycle_id"])), "cycle", Cycle, "cycle {cycle_id}"),
    ),
    (
        "GET /v1/payments/cycles/{cycle_id}/totals",
        _payments(
            lambda g: cycle_totals_key(int(g["cycle_id"])),
            "totals",
            CycleTotals,
            "cycle {cycle_id} totals",
        ),
    ),
    (
        "GET /v1/payments/cycles/{cycle_id}/positions/{institution}",
        _payments(
            lambda g: position_key(int(g["cycle_id"]), g["institution"]),
            "position",
            Position,
            "position of {institution} in cycle {cycle_id}",
        ),
    ),
    (
        "GET /v1/payments/cycles/{cycle_id}/institutions/{institution}",
        _payments(
            lambda g: institution_cycle_key(int(g["cycle_id"]), g["institution"]),
            "totals",
            InstitutionCycle,
            "totals of {institution} in cycle {cycle_id}",
        ),
    ),
    (
        "GET /v1/payments/cycles/{cycle_id}/flows/{issuer}/{acquirer}",
        _payments(
            lambda g: flow_key(int(g["cycle_id"]), g["issuer"], g["acquirer"]),
            "flow",
            Flow,
            "flow {issuer} to {acquirer} in cycle {cycle_id}",
        ),
    ),
    (
        "GET /v1/payments/cycles/{cycle_id}/entries/{institution}/{sequence}",
        _payments(
            lambda g: entry_key(int(g["cycle_id"]), g["institution"], int(g["sequence"])),
            "entry",
            Entry,
            "entry {sequence} of {institution} in cycle {cycle_id}",
        ),
    ),
    ("GET /v1/validators/changes", _validator_changes),
    ("GET /v1/transactions/{transaction_hash}", _transaction),
    ("GET /v1/blocks/latest", _block),
    ("GET /v1/blocks/{height}", _block),
    ("GET /v1/blocks/by-hash/{block_hash}", _block),
    ("POST /v1/query/{contract}/{query_name}", _query),
]


def _all_routes() -> list[tuple[str, re.Pattern[str], Check]]:
    from jinqiao.client.saved_apps import APP_ROUTES

    return [(template, route_pattern(template), check) for template, check in _ROUTES + APP_ROUTES]


def verifiable_routes() -> list[str]:
    """The OpenAPI routes (``GET /v1/accounts/{address}``) a saved answer may come from
    (docs/proofs.md §11)."""
    return [template for template, _, _ in _all_routes()]


def verify_file(genesis: Genesis, path: Path) -> Verified:
    """``verify_saved`` of the saved answer in ``path``."""
    return verify_saved(genesis, load_saved(path.read_bytes()))


__all__ = [
    "MAX_SAVED_ANSWER_BYTES",
    "PARAMETERS",
    "SAVED_ANSWER_FORMAT",
    "Replay",
    "RouteNotVerifiable",
    "SavedAnswer",
    "SavedAnswerInvalid",
    "Verified",
    "dump_saved",
    "load_saved",
    "record_route",
    "route_pattern",
    "save_answer",
    "verifiable_routes",
    "verify_file",
    "verify_saved",
]
