"""The SDK's protocol without I/O, shared by ``Client`` (httpx.Client) and ``AsyncClient``
(httpx.AsyncClient): which requests to make, what their answers mean, how proofs are checked
and which node to try next.

An operation is a *flow*: a generator that yields ``Request``s and is sent back each one's
answer (parsed JSON, or bytes for a ``raw`` request), or has the ``ClientError`` the answer
stands for thrown into it; its return value is the operation's result. A driver performs the
requests: ``run`` over a synchronous ``send``, ``run_async`` over an asynchronous one. Both
drivers retry (``jinqiao.client.outcome``) and fail over (``Failover``) the same way, so a
program gets the same answers, outcomes and errors from either client.
"""

from __future__ import annotations

import json
import secrets
import ssl
import time
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import httpx

from jinqiao.client.cosign import MultiSigner
from jinqiao.client.credentials import Credentials
from jinqiao.client.outcome import (
    ClientError,
    NodesUnreachable,
    PendingTransaction,
    TransactionPending,
    TransactionRefused,
)
from jinqiao.core.codec import CanonicalStruct, decode, encode
from jinqiao.core.crypto import Signer
from jinqiao.core.errors import InvalidInput
from jinqiao.core.genesis import Genesis, genesis_hash
from jinqiao.core.hashing import (
    header_hash,
    transaction_hash,
    transaction_signing_bytes,
    validator_set_hash,
)
from jinqiao.core.limits import MAX_PROOF_BYTES, MAX_RECEIPT_BYTES, MAX_TRANSACTION_BYTES
from jinqiao.core.proofs import ReceiptProof, StateReadProof, TransactionProof
from jinqiao.core.types import (
    BlockHeader,
    CommitCertificate,
    Receipt,
    SignedTransaction,
    TransactionBody,
    ValidatorSet,
    decode_transaction,
)
from jinqiao.execution.identity import REGISTRY, Account, account_key
from jinqiao.execution.state import full_key
from jinqiao.verify import (
    VerificationError,
    verify_header,
    verify_receipt_inclusion,
    verify_state_read,
    verify_transaction_inclusion,
)

T = TypeVar("T")
N = TypeVar("N")

DEFAULT_VALID_FOR_BLOCKS = 100
HEIGHT_HINT_MAX_AGE_S = 1.0
MAX_VALIDATOR_CHANGE_PAGES = 100
MAX_WAIT_POLL_MS = 10_000
VALIDATORS_FULL_KEY = b"governance/validators"


@dataclass(frozen=True)
class Request:
    """One HTTP request of a flow. ``raw``: the answer is the body's bytes, not its JSON."""

    method: str
    path: str
    params: Mapping[str, Any] | None = None
    json: Any = None
    content: bytes | None = None
    headers: Mapping[str, str] | None = None
    timeout_s: float | None = None
    raw: bool = False

    def arguments(self) -> dict[str, Any]:
        """The keyword arguments of ``httpx.Client.request`` (and of the async one)."""
        arguments: dict[str, Any] = {}
        if self.params is not None:
            arguments["params"] = dict(self.params)
        if self.json is not None:
            arguments["json"] = self.json
        if self.content is not None:
            arguments["content"] = self.content
        if self.headers is not None:
            arguments["headers"] = dict(self.headers)
        if self.timeout_s is not None:
            arguments["timeout"] = self.timeout_s
        return arguments


Flow = Generator[Request, Any, T]


def answer_of(request: Request, response: httpx.Response) -> Any:
    """What a flow is sent for ``response``: bytes for a raw request, else its JSON; an error
    answer (status 400 or more) raises its ``ClientError``."""
    if response.status_code >= 400:
        raise error_of(response)
    if request.raw:
        return response.content
    try:
        return response.json()
    except json.JSONDecodeError:
        raise ClientError("bad_response", f"{request.path} did not answer JSON") from None


def error_of(response: httpx.Response) -> ClientError:
    """The ``ClientError`` an error answer (status 400 or more) stands for: the node's code,
    message and details, or ``http_error`` for a body that is not the API's error JSON."""
    try:
        body = response.json()
        return ClientError(
            body.get("code", "http_error"),
            body.get("message", response.text[:300]),
            response.status_code,
            **(body.get("details") or {}),
        )
    except (json.JSONDecodeError, AttributeError, TypeError):
        return ClientError("http_error", response.text[:300], response.status_code)


def run(flow: Flow[T], send: Callable[[Request], Any]) -> T:
    """Drive ``flow`` with ``send`` (a request → its answer, or raises ``ClientError``)."""
    try:
        request = next(flow)
        while True:
            try:
                answer = send(request)
            except ClientError as error:
                request = flow.throw(error)
            else:
                request = flow.send(answer)
    except StopIteration as stop:
        result: T = stop.value
        return result


async def run_async(flow: Flow[T], send: Callable[[Request], Awaitable[Any]]) -> T:
    """``run`` with an asynchronous ``send``."""
    try:
        request = next(flow)
        while True:
            try:
                answer = await send(request)
            except ClientError as error:
                request = flow.throw(error)
            else:
                request = flow.send(answer)
    except StopIteration as stop:
        result: T = stop.value
        return result


def call(request: Request) -> Flow[Any]:
    """The flow of one request: its answer."""
    answer = yield request
    return answer


def node_urls(url: str, other_urls: Sequence[str]) -> list[str]:
    """The URLs of a client's nodes: ``url`` first, then the others, without repeats."""
    first = url.rstrip("/")
    return [first] + [other.rstrip("/") for other in other_urls if other.rstrip("/") != first]


def tls_settings(credentials: Credentials | None, roots_file: Path | None) -> Any:
    """httpx's ``verify``: one TLS context for every node (the client certificate is loaded
    once), the consortium roots alone when requests are signed instead, else the defaults."""
    if credentials is not None:
        return credentials.ssl_context()
    if roots_file is not None:
        return ssl.create_default_context(cafile=str(roots_file))
    return True


def url_of(node: httpx.Client | httpx.AsyncClient) -> str:
    return str(node.base_url)


# -- failover --------------------------------------------------------------------------------


@dataclass
class Failover(Generic[N]):
    """The nodes of a network, tried in order from the last one that answered (which moves to
    the front); the failures of one round name each node with its reason."""

    nodes: list[N]
    url_of: Callable[[N], str]
    failures: list[tuple[str, str]] = field(default_factory=list)
    maybe_sent: bool = False

    def round(self) -> list[N]:
        """The nodes to try for one request, in order (a fresh round of failures)."""
        self.failures = []
        self.maybe_sent = False
        return list(self.nodes)

    def failed(self, node: N, error: httpx.TransportError) -> None:
        self.failures.append((self.url_of(node).rstrip("/"), str(error) or type(error).__name__))
        # A refused or timed-out connection never carried the request; anything later may.
        self.maybe_sent |= not isinstance(error, httpx.ConnectError | httpx.ConnectTimeout)

    def answered(self, node: N) -> None:
        if node is not self.nodes[0]:
            self.nodes.remove(node)
            self.nodes.insert(0, node)

    def unreachable(self) -> NodesUnreachable:
        return NodesUnreachable(self.failures, maybe_sent=self.maybe_sent)


# -- results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TransactionResult:
    """A committed transaction: its receipt, where it is, and whether proofs were checked."""

    transaction_hash: str
    height: int
    index: int
    receipt: Receipt
    verified: bool
    transaction: SignedTransaction | None = None
    """The transaction itself, when the answer proved it (a lookup or a wait does)."""
    time_ms: int = 0
    """The time of the block that committed it (ms since 1970; 0 when not known)."""

    @property
    def ok(self) -> bool:
        return self.receipt.status == 0

    @property
    def code(self) -> str:
        return self.receipt.code


@dataclass(frozen=True)
class ProvenValue:
    """A state value (``None``: proven absent) after block ``height``, whose block time
    ``time_ms`` says how old the answer is."""

    key: bytes
    value: bytes | None
    height: int
    state_root: bytes
    verified: bool
    time_ms: int = 0


# -- the state a client keeps between requests ---------------------------------------------


@dataclass
class Session:
    """What a client knows of its network: the genesis, whether it verifies, the latest height
    seen, and the validator sets followed from genesis."""

    genesis: Genesis
    verify: bool = True
    height_hint: int = 0
    height_hint_at: float = 0.0
    validator_history: list[tuple[int, ValidatorSet]] = field(default_factory=list)
    """(first height it certifies, validator set), oldest first; genesis's from height 1."""

    def __post_init__(self) -> None:
        if not self.validator_history:
            self.validator_history.append((1, self.genesis.validator_set()))

    def note_height(self, height: int) -> None:
        if height >= self.height_hint:
            self.height_hint = height
            self.height_hint_at = time.monotonic()

    def hash_of(self, transaction: SignedTransaction) -> str:
        return transaction_hash(self.genesis.suite, transaction.body).hex()


def status(session: Session) -> Flow[dict[str, Any]]:
    answer: dict[str, Any] = yield Request("GET", "/v1/status")
    if answer.get("genesis_hash") != genesis_hash(session.genesis).hex():
        raise ClientError("wrong_network", "the node runs a different genesis than this client")
    session.height_hint = int(answer["height"])
    session.height_hint_at = time.monotonic()
    return answer


# -- transactions ----------------------------------------------------------------------------


def build(
    session: Session,
    signer: Signer,
    contract: str,
    method: str,
    args: CanonicalStruct,
    *,
    valid_for_blocks: int = DEFAULT_VALID_FOR_BLOCKS,
    nonce: int | None = None,
    height: int | None = None,
) -> Flow[SignedTransaction]:
    """A signed transaction valid from now until ``valid_for_blocks`` blocks ahead; a
    ``MultiSignedTransaction`` signed by every key when ``signer`` is a ``MultiSigner``."""
    if height is None:
        fresh = time.monotonic() - session.height_hint_at < HEIGHT_HINT_MAX_AGE_S
        height = session.height_hint if fresh else int((yield from status(session))["height"])
    body = TransactionBody(
        chain_id=session.genesis.chain_id,
        sender=signer.address,
        public_key=signer.public_key,
        nonce=secrets.randbits(63) if nonce is None else nonce,
        valid_until=height + valid_for_blocks,
        contract=contract,
        method=method,
        args=encode(args),
    )
    if isinstance(signer, MultiSigner):
        return signer.sign_body(body)
    return SignedTransaction(body, signer.sign(transaction_signing_bytes(body)))


def encoded(session: Session, transaction: SignedTransaction) -> tuple[str, bytes]:
    """A transaction's hash and canonical bytes, refused when over the size limit."""
    raw = encode(transaction)
    if len(raw) > MAX_TRANSACTION_BYTES:
        raise InvalidInput(f"transaction is {len(raw)} bytes, over {MAX_TRANSACTION_BYTES}")
    return session.hash_of(transaction), raw


def submit_bytes(identity: str, raw: bytes) -> Flow[str]:
    """Send a transaction's bytes; its hash once a node admitted it. ``TransactionRefused``
    when the node refuses it, ``TransactionPending`` when the request left but no answer came
    back, ``NodesUnreachable`` when no node took the request."""
    try:
        answer = yield Request("POST", "/v1/transactions", json={"transaction": raw.hex()})
    except NodesUnreachable as error:
        if error.maybe_sent:
            raise TransactionPending(identity, error.message, admitted=False) from None
        raise
    except ClientError as error:
        raise TransactionRefused(identity, error) from None
    if str(answer.get("hash")) != identity:
        raise ClientError("bad_response", "the node admitted another transaction hash")
    return identity


def lookup(session: Session, identity: str) -> Flow[TransactionResult | PendingTransaction | None]:
    """Where a transaction is now: committed (proofs verified), pending in a node's mempool, or
    ``None`` when the node knows nothing of it."""
    try:
        answer = yield Request("GET", f"/v1/transactions/{identity}")
    except ClientError as error:
        if error.code == "not_found":
            return None
        raise
    if answer.get("status") == "committed":
        return (yield from transaction_result(session, identity, answer))
    return PendingTransaction(identity)


def wait(session: Session, identity: str, timeout_s: float) -> Flow[TransactionResult]:
    """Wait until the transaction is committed; verify its inclusion and receipt proofs.
    ``TransactionPending`` when it is not committed within ``timeout_s``, or when the nodes stop
    answering or no longer know it (it may still commit)."""
    deadline = time.monotonic() + timeout_s
    while True:
        remaining_ms = int((deadline - time.monotonic()) * 1000)
        if remaining_ms <= 0:
            raise TransactionPending(identity, f"not committed in {timeout_s:g} s", admitted=True)
        poll_ms = min(remaining_ms, MAX_WAIT_POLL_MS)
        try:
            answer = yield Request(
                "GET",
                f"/v1/transactions/{identity}",
                params={"wait_ms": poll_ms},
                timeout_s=poll_ms / 1000 + 10,
            )
        except NodesUnreachable as error:
            raise TransactionPending(identity, error.message, admitted=False) from None
        except ClientError as error:
            if error.code != "not_found":
                raise
            raise TransactionPending(
                identity,
                "the node neither holds nor committed it (a restarted node forgets its "
                "mempool): re-send the same bytes",
                admitted=False,
            ) from None
        if answer.get("status") == "committed":
            return (yield from transaction_result(session, identity, answer))


def send(
    session: Session,
    transaction: Flow[SignedTransaction],
    timeout_s: float,
    journal: Callable[[str, bytes], None] | None = None,
) -> Flow[TransactionResult]:
    """Build (the flow ``transaction``), submit and wait."""
    identity, raw = encoded(session, (yield from transaction))
    if journal is not None:
        journal(identity, raw)
    yield from submit_bytes(identity, raw)
    return (yield from wait(session, identity, timeout_s))


def resend(
    session: Session, transaction: SignedTransaction, timeout_s: float
) -> Flow[TransactionResult]:
    """Complete a transaction whose outcome is unknown by sending **the same bytes** again: if a
    node already committed it, its result; if one holds it, wait; otherwise submit and wait.
    Replay protection makes it commit at most once."""
    identity = session.hash_of(transaction)
    found = yield from lookup(session, identity)
    if isinstance(found, TransactionResult):
        return found
    if found is None:
        try:
            yield from submit_bytes(identity, encode(transaction))
        except TransactionRefused as refused:
            # Committed meanwhile, or on a node ahead of the one asked: fetch its result.
            if refused.code != "duplicate_transaction":
                raise
    return (yield from wait(session, identity, timeout_s))


def transaction_result(
    session: Session, identity: str, answer: Mapping[str, Any]
) -> Flow[TransactionResult]:
    """A committed transaction's answer, its inclusion and receipt proofs checked."""
    transaction_proof = decode_hex(answer.get("transaction_proof"), TransactionProof)
    receipt_proof = decode_hex(answer.get("receipt_proof"), ReceiptProof)
    receipt = decode(receipt_proof.receipt, Receipt, max_bytes=MAX_RECEIPT_BYTES)
    if receipt.transaction_hash.hex() != identity:
        raise ClientError("bad_response", "the receipt is for another transaction")
    transaction = decode_transaction(transaction_proof.transaction, max_bytes=MAX_TRANSACTION_BYTES)
    if session.hash_of(transaction) != identity:
        raise ClientError("bad_response", "the proven transaction is another transaction")
    if transaction_proof.header != receipt_proof.header or (
        transaction_proof.proof.leaf_index != receipt_proof.proof.leaf_index
    ):
        raise ClientError("bad_response", "the transaction and receipt proofs disagree")
    if session.verify:
        validators = yield from validators_for(session, transaction_proof.header)
        verify_transaction_inclusion(
            session.genesis,
            transaction_proof.header,
            transaction_proof.certificate,
            transaction_proof.transaction,
            transaction_proof.proof,
            validators=validators,
        )
        verify_receipt_inclusion(
            session.genesis,
            receipt_proof.header,
            receipt_proof.certificate,
            receipt_proof.receipt,
            receipt_proof.proof,
            validators=validators,
        )
    # Where the transaction is comes from the proof, not from the unproven JSON around it.
    height = transaction_proof.header.height
    session.note_height(height)
    return TransactionResult(
        identity,
        height,
        transaction_proof.proof.leaf_index,
        receipt,
        session.verify,
        transaction,
        transaction_proof.header.time_ms,
    )


# -- the validator set -----------------------------------------------------------------------


def validators_for(session: Session, header: BlockHeader) -> Flow[ValidatorSet]:
    """The validator set that must have certified ``header``: genesis's, or a later one reached
    by walking the chain's validator-set changes, each proven against a header the previous set
    certified (``GET /v1/validators/changes``). ``VerificationError`` when no proven chain of
    changes leads to the header's ``validators_hash``."""
    wanted = header.validators_hash
    history = session.validator_history
    suite = session.genesis.suite
    for first_height, validators in reversed(history):
        if first_height <= header.height:
            if validator_set_hash(suite, validators) == wanted:
                return validators
            break
    if header.height >= history[-1][0]:
        yield from follow_validator_changes(session, wanted)
        first_height, validators = history[-1]
        if first_height <= header.height and validator_set_hash(suite, validators) == wanted:
            return validators
    raise VerificationError(
        f"no proven validator set of this chain has hash {wanted.hex()} at height {header.height}"
    )


def follow_validator_changes(session: Session, wanted: bytes) -> Flow[None]:
    history = session.validator_history
    for _ in range(MAX_VALIDATOR_CHANGE_PAGES):
        answer = yield Request(
            "GET", "/v1/validators/changes", params={"from_height": max(1, history[-1][0])}
        )
        changes = answer.get("changes", [])
        if not changes:
            return
        for change in changes:
            proof = validator_change_proof(change)
            if proof.header.height + 1 <= history[-1][0]:
                continue  # already followed
            changed = proven_change(session, proof, history[-1][1])
            history.append((proof.header.height + 1, changed))
            if validator_set_hash(session.genesis.suite, changed) == wanted:
                return


def proven_change(
    session: Session, proof: StateReadProof, validators: ValidatorSet
) -> ValidatorSet:
    """The new validator set a change's proof proves under ``validators`` (the set in force at
    its header), which must be that header's next set."""
    if proof.value is None:
        raise ClientError("bad_response", "a validator change proves no set")
    _verify_read(session, proof, validators)
    changed = decode(proof.value, ValidatorSet, max_bytes=MAX_PROOF_BYTES)
    if validator_set_hash(session.genesis.suite, changed) != proof.header.next_validators_hash:
        raise VerificationError("a proven validator set is not the header's next set")
    return changed


def _verify_read(session: Session, proof: StateReadProof, validators: ValidatorSet) -> None:
    verify_state_read(
        session.genesis,
        proof.header,
        proof.certificate,
        proof.key,
        proof.value,
        proof.proof,
        validators=validators,
    )


def validator_change_proof(change: Any) -> StateReadProof:
    """The proof of one listed validator change: of the validator set, at the height named."""
    proof = decode_hex(change.get("proof") if isinstance(change, dict) else None, StateReadProof)
    if change.get("height", proof.header.height) != proof.header.height:
        raise ClientError("bad_response", "a validator change names another height")
    if proof.key != VALIDATORS_FULL_KEY or proof.value is None:
        raise ClientError("bad_response", "a validator change proves another key")
    return proof


# -- reads -----------------------------------------------------------------------------------


def height_params(height: int | None, min_height: int | None) -> dict[str, int]:
    params = {} if height is None else {"height": height}
    if min_height is not None:
        params["min_height"] = min_height
    return params


def state_read_proof(
    contract: str, key: bytes, height: int | None, min_height: int | None
) -> Flow[StateReadProof]:
    """The node's ``StateReadProof`` of a state key as served, unchecked."""
    answer = yield Request(
        "GET", f"/v1/state/{contract}/{key.hex()}", params=height_params(height, min_height)
    )
    return decode_hex(answer.get("proof"), StateReadProof)


def read_state(
    session: Session, contract: str, key: bytes, height: int | None, min_height: int | None
) -> Flow[ProvenValue]:
    """A state value with its proof, verified. With ``min_height`` the answer must be read at
    that height or later (docs/proofs.md §9.1)."""
    proof = yield from state_read_proof(contract, key, height, min_height)
    return (
        yield from proven_value(session, proof, contract.encode() + b"/" + key, height, min_height)
    )


def proven_value(
    session: Session,
    proof: StateReadProof,
    expected_key: bytes,
    height: int | None,
    min_height: int | None,
) -> Flow[ProvenValue]:
    """Check a served ``StateReadProof``: the key asked about, the height asked for (or at
    least ``min_height``), the certificate and the state proof."""
    key = expected_key.split(b"/", 1)[1]
    if proof.key != expected_key:
        raise ClientError("bad_response", "the proof is for another key")
    if height is not None and proof.header.height != height:
        raise ClientError("bad_response", f"asked for height {height}, got a proof at another")
    if min_height is not None and proof.header.height < min_height:
        raise VerificationError(
            f"asked for height {min_height} or later, the proof is at {proof.header.height}",
            min_height=min_height,
            height=proof.header.height,
        )
    if session.verify:
        _verify_read(session, proof, (yield from validators_for(session, proof.header)))
    session.note_height(proof.header.height)
    return ProvenValue(
        key,
        proof.value,
        proof.header.height,
        proof.header.state_root,
        session.verify,
        proof.header.time_ms,
    )


def read_struct(
    session: Session,
    contract: str,
    key: bytes,
    kind: type[T],
    height: int | None,
    min_height: int | None,
) -> Flow[T | None]:
    proven = yield from read_state(session, contract, key, height, min_height)
    if proven.value is None:
        return None
    return decode(proven.value, kind, max_bytes=MAX_PROOF_BYTES)


def answer_or_absence(
    path: str, params: Mapping[str, Any] | None = None
) -> Flow[tuple[dict[str, Any], bool]]:
    """A proven route's JSON answer and ``False``; or, when it answers ``404 not_found`` with a
    proof in its details (a proven absence, docs/proofs.md §9.2), those details and ``True``.
    Any other error raises ``ClientError``; the caller checks the proofs."""
    try:
        answer = yield Request("GET", path, params=dict(params or {}))
    except ClientError as error:
        if error.code == "not_found" and isinstance(error.details.get("proof"), str):
            return dict(error.details), True
        raise
    if not isinstance(answer, dict):
        raise ClientError("bad_response", f"{path} did not answer a JSON object")
    return answer, False


def read_record(
    session: Session,
    path: str,
    full_key: bytes,
    height: int | None,
    min_height: int | None,
    params: Mapping[str, Any] | None = None,
) -> Flow[ProvenValue]:
    """A record route's answer (a route that answers one ``proof``) proven: its ``proof`` when
    found, or, on ``404 not_found``, the absence proven in the error's details (docs/proofs.md
    §9.2) — ``value`` is then ``None``."""
    answer, _ = yield from answer_or_absence(
        path, {**(params or {}), **height_params(height, min_height)}
    )
    proof_hex = answer.get("proof")
    if not isinstance(proof_hex, str):
        raise ClientError("bad_response", f"{path} answered without a proof")
    proof = decode_hex(proof_hex, StateReadProof)
    return (yield from proven_value(session, proof, full_key, height, min_height))


def account(
    session: Session, address: bytes, height: int | None, min_height: int | None
) -> Flow[Account | None]:
    """The registry's account record (``GET /v1/accounts/{address}``), or ``None`` when the
    account is proven absent."""
    proven = yield from read_record(
        session,
        f"/v1/accounts/{address.hex()}",
        full_key(REGISTRY, account_key(address)),
        height,
        min_height,
    )
    if proven.value is None:
        return None
    return decode(proven.value, Account, max_bytes=MAX_PROOF_BYTES)


def block(
    session: Session, height: int | None, transactions: bool, block_hash: bytes | None
) -> Flow[dict[str, Any]]:
    """A block's JSON view, its header checked against its commit certificate."""
    answer: dict[str, Any] = yield Request(
        "GET", block_path(height, block_hash), params={"transactions": str(transactions).lower()}
    )
    header = decode_hex(answer.get("header_bytes"), BlockHeader)
    certificate = decode_hex(answer.get("certificate_bytes"), CommitCertificate)
    hashed = header_hash(session.genesis.suite, header)
    shown = answer.get("header")
    if (
        hashed.hex() != (shown.get("hash") if isinstance(shown, dict) else None)
        or (height is not None and header.height != height)
        or (block_hash is not None and hashed != block_hash)
    ):
        raise ClientError("bad_response", "the block's header bytes do not match its view")
    if session.verify:
        validators = yield from validators_for(session, header)
        verify_header(session.genesis, header, certificate, validators=validators)
    answer["verified"] = session.verify
    return answer


def block_path(height: int | None, block_hash: bytes | None) -> str:
    if block_hash is not None:
        return f"/v1/blocks/by-hash/{block_hash.hex()}"
    return "/v1/blocks/latest" if height is None else f"/v1/blocks/{height}"


def decode_hex(value: Any, kind: type[T], max_bytes: int = MAX_PROOF_BYTES) -> T:
    """A canonical struct from the hex an answer carries; ``bad_response`` when malformed."""
    if not isinstance(value, str):
        raise ClientError("bad_response", f"the answer lacks its {kind.__name__}")
    if len(value) > 2 * max_bytes:
        raise ClientError("bad_response", f"{kind.__name__} is too large")
    try:
        return decode(bytes.fromhex(value), kind, max_bytes=max_bytes)
    except (ValueError, InvalidInput) as exc:
        raise ClientError(
            "bad_response", f"the node sent a malformed {kind.__name__}: {exc}"
        ) from None
