"""HTTP client of a jinqiao node. See the package docstring for a tour."""

from __future__ import annotations

import json
import secrets
import ssl
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import msgspec

from jinqiao.client.credentials import Credentials
from jinqiao.client.outcome import (
    ClientError,
    NodesUnreachable,
    PendingTransaction,
    TransactionPending,
    TransactionRefused,
    retrying,
)
from jinqiao.client.queries import QueryRunner
from jinqiao.client.signing import MessageSignatureAuth
from jinqiao.client.verified import Verified
from jinqiao.core.codec import CanonicalStruct, decode, encode
from jinqiao.core.crypto import Signer
from jinqiao.core.errors import InvalidInput
from jinqiao.core.genesis import Genesis, genesis_hash, load_genesis
from jinqiao.core.hashing import (
    header_hash,
    transaction_hash,
    transaction_signing_bytes,
    validator_set_hash,
)
from jinqiao.core.limits import (
    MAX_PROOF_BYTES,
    MAX_RECEIPT_BYTES,
    MAX_STATE_READS_PROOF_BYTES,
    MAX_TRANSACTION_BYTES,
)
from jinqiao.core.proofs import ReceiptProof, StateReadProof, StateReadsProof, TransactionProof
from jinqiao.core.types import (
    BlockHeader,
    CommitCertificate,
    Event,
    Receipt,
    SignedTransaction,
    TransactionBody,
    ValidatorSet,
)
from jinqiao.execution.identity import REGISTRY, Account, account_key
from jinqiao.execution.state import full_key
from jinqiao.verify import (
    VerificationError,
    verify_block_leaves,
    verify_header,
    verify_receipt_inclusion,
    verify_state_read,
    verify_state_reads,
    verify_transaction_inclusion,
)

T = TypeVar("T")

DEFAULT_VALID_FOR_BLOCKS = 100
HEIGHT_HINT_MAX_AGE_S = 1.0
MAX_VALIDATOR_CHANGE_PAGES = 100
MAX_VALIDATOR_CHANGES_PER_PAGE = 100
VALIDATORS_FULL_KEY = b"governance/validators"
MEMBER_LIFECYCLE = b"contracts"
"""The lifecycle of members' contracts (``jinqiao.contracts.lifecycle``, named here so that
the review and the sandbox load only when a member contract is queried)."""
MEMBER_DEPLOYED_PREFIX = MEMBER_LIFECYCLE + b"/deployed/"


@dataclass(frozen=True)
class TransactionResult:
    """A committed transaction: its receipt, where it is, and whether proofs were checked."""

    transaction_hash: str
    height: int
    index: int
    receipt: Receipt
    verified: bool

    @property
    def ok(self) -> bool:
        return self.receipt.status == 0

    @property
    def code(self) -> str:
        return self.receipt.code


@dataclass(frozen=True)
class BatchResult:
    accepted: int
    refused: int
    results: list[dict[str, Any]] = field(default_factory=list)


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


@dataclass(frozen=True)
class ProvenQueryResult:
    """A query's ``result`` computed by the SDK from state proven at block ``height`` (time
    ``time_ms``): the node's own result is not used (docs/proofs.md §9.5)."""

    result: Any
    height: int
    time_ms: int
    verified: bool


@dataclass(frozen=True)
class ProvenBlock:
    """A committed block whose transactions and receipts were checked against its header's
    roots (docs/proofs.md §9.3): ``transaction_hashes[i]`` is the identity of
    ``transactions[i]`` and ``receipts[i]`` its outcome."""

    header: BlockHeader
    certificate: CommitCertificate
    transactions: tuple[SignedTransaction, ...]
    receipts: tuple[Receipt, ...]
    transaction_hashes: tuple[bytes, ...]
    verified: bool


class Client:
    journal: Callable[[str, bytes], None] | None = None
    """Called with a transaction's hash and canonical bytes before ``submit`` sends it, so that
    the caller can keep them and re-send the same bytes later (the CLI's journal)."""
    commit_timeout_s: float = 30.0
    """How long ``send`` waits for the commit; 0 returns at admission (``TransactionPending``
    with ``admitted`` true)."""

    def __init__(
        self,
        url: str,
        *,
        genesis_file: Path | None = None,
        genesis: Genesis | None = None,
        verify: bool = True,
        timeout_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        other_urls: Sequence[str] = (),
        credentials: Credentials | None = None,
        signer: Signer | None = None,
        roots_file: Path | None = None,
    ) -> None:
        """``credentials`` authenticate with a client certificate; ``signer`` (an account key)
        signs every request instead (RFC 9421, ``client.signing``), the node's certificate
        checked against ``roots_file`` (the consortium roots, ``clients/<account>/roots.pem``)."""
        self.url = url.rstrip("/")
        # One TLS context for every node: the client certificate is loaded once.
        tls: Any = True
        if credentials is not None:
            tls = credentials.ssl_context()
        elif roots_file is not None:
            tls = ssl.create_default_context(cafile=str(roots_file))
        self.credentials = credentials
        auth = MessageSignatureAuth(signer) if signer is not None else None
        self._http = httpx.Client(
            base_url=self.url, timeout=timeout_s, transport=transport, verify=tls, auth=auth
        )
        # Failover: the other nodes of the network, tried in order when a node does not answer.
        self._nodes = [self._http] + [
            httpx.Client(
                base_url=other.rstrip("/"),
                timeout=timeout_s,
                transport=transport,
                verify=tls,
                auth=auth,
            )
            for other in other_urls
            if other.rstrip("/") != self.url
        ]
        if genesis is None and genesis_file is not None:
            genesis = load_genesis(genesis_file.read_bytes())
        if genesis is None:
            # Trust on first use: without a genesis file the node's own genesis is taken.
            genesis = load_genesis(self._request("GET", "/v1/genesis", raw=True))
        self.genesis = genesis
        self.suite = genesis.suite
        self.verify = verify
        self._height_hint = 0
        self._height_hint_at = 0.0
        # (first height it certifies, validator set), oldest first; genesis's from height 1.
        self._validator_history: list[tuple[int, ValidatorSet]] = [(1, genesis.validator_set())]
        self._queries: QueryRunner | None = None  # built on first use: it loads the contracts
        from jinqiao.client.contracts import ContractsClient
        from jinqiao.client.credit import CreditClient
        from jinqiao.client.payments import PaymentsClient
        from jinqiao.client.supplychain import SupplyChainClient
        from jinqiao.client.token import TokenClient

        self.token = TokenClient(self)
        self.payments = PaymentsClient(self)
        self.supplychain = SupplyChainClient(self)
        self.credit = CreditClient(self)
        self.contracts = ContractsClient(self)

    def close(self) -> None:
        for node in self._nodes:
            node.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing --------------------------------------------------------------------------
    def _request(self, method: str, path: str, *, raw: bool = False, **kwargs: Any) -> Any:
        response = retrying(lambda: self._send_to_any_node(method, path, **kwargs))
        if response.status_code >= 400:
            raise error_of(response)
        if raw:
            return response.content
        try:
            return response.json()
        except json.JSONDecodeError:
            raise ClientError("bad_response", f"{path} did not answer JSON") from None

    def _send_to_any_node(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The first answer of the nodes, tried in order from the last one that answered (which
        moves to the front); ``NodesUnreachable`` naming each when none answers."""
        failures: list[tuple[str, str]] = []
        maybe_sent = False
        for node in list(self._nodes):
            try:
                response = node.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                failures.append((str(node.base_url).rstrip("/"), str(exc) or type(exc).__name__))
                # A refused or timed-out connection never carried the request; anything later may.
                maybe_sent |= not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                continue
            if node is not self._nodes[0]:
                self._nodes.remove(node)
                self._nodes.insert(0, node)
            return response
        raise NodesUnreachable(failures, maybe_sent=maybe_sent)

    def status(self) -> dict[str, Any]:
        status: dict[str, Any] = self._request("GET", "/v1/status")
        if status.get("genesis_hash") != genesis_hash(self.genesis).hex():
            raise ClientError("wrong_network", "the node runs a different genesis than this client")
        self._height_hint = int(status["height"])
        self._height_hint_at = time.monotonic()
        return status

    def send_raw(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        """The node's response as it came, whatever its status (``save`` keeps 404s: their
        details prove absences)."""
        kwargs: dict[str, Any] = {"params": dict(params or {})}
        if body is not None:
            kwargs["json"] = dict(body)
        return retrying(lambda: self._send_to_any_node(method, path, **kwargs))

    def save(
        self,
        file: Path,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Verified:
        """Ask ``path`` (``POST`` with ``body`` for a query, else ``GET``) and write the answer
        to ``file`` as a saved answer that ``jinqiao verify FILE --genesis`` checks offline
        (``jinqiao.client.saved``, docs/proofs.md §11). Returns what it proves; an answer that
        does not check is written all the same (it is the evidence) and its error raised."""
        from jinqiao.client.saved import dump_saved, save_answer

        method = "POST" if path.startswith("/v1/query/") else "GET"
        saved, outcome = save_answer(self, method, path, params or {}, body)
        file.write_bytes(dump_saved(saved))
        if not isinstance(outcome, Verified):
            raise outcome
        return outcome

    def proven_state_answer(
        self, proof_hex: Any, expected_key: bytes, height: int | None, min_height: int | None
    ) -> ProvenValue:
        """A ``StateReadProof`` (hex) taken from an answer with several, checked as
        ``read_state`` checks its one."""
        if not isinstance(proof_hex, str):
            raise ClientError("bad_response", "the answer lacks a proof")
        proof = _decode_hex(proof_hex, StateReadProof)
        return self._proven_value(proof, expected_key, height, min_height)

    def query_arguments_from_json(
        self, contract: str, name: str, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        """A query's keyword arguments from its JSON body (bytes as hex), as ``proven_query``
        takes them."""
        if self._queries is None:
            self._queries = QueryRunner(self.genesis)
        return self._queries.arguments_from_json(contract, name, body)

    def raw_get(self, path: str, **kwargs: Any) -> bytes:
        """The body of a GET (reports, XML, PNG); errors raise ``ClientError`` as usual."""
        data: bytes = self._request("GET", path, raw=True, **kwargs)
        return data

    def raw_post(self, path: str, **kwargs: Any) -> bytes:
        data: bytes = self._request("POST", path, raw=True, **kwargs)
        return data

    def raw_put(self, path: str, **kwargs: Any) -> bytes:
        data: bytes = self._request("PUT", path, raw=True, **kwargs)
        return data

    def consensus(self) -> dict[str, Any]:
        """The node's consensus diagnosis (``GET /v1/consensus``; not proven)."""
        answer: dict[str, Any] = self._request("GET", "/v1/consensus")
        return answer

    # -- transactions ----------------------------------------------------------------------
    def build(
        self,
        signer: Signer,
        contract: str,
        method: str,
        args: CanonicalStruct,
        *,
        valid_for_blocks: int = DEFAULT_VALID_FOR_BLOCKS,
        nonce: int | None = None,
        height: int | None = None,
    ) -> SignedTransaction:
        """A signed transaction valid from now until ``valid_for_blocks`` blocks ahead."""
        if height is None:
            fresh = time.monotonic() - self._height_hint_at < HEIGHT_HINT_MAX_AGE_S
            height = self._height_hint if fresh else int(self.status()["height"])
        body = TransactionBody(
            chain_id=self.genesis.chain_id,
            sender=signer.address,
            public_key=signer.public_key,
            nonce=secrets.randbits(63) if nonce is None else nonce,
            valid_until=height + valid_for_blocks,
            contract=contract,
            method=method,
            args=encode(args),
        )
        return SignedTransaction(body, signer.sign(transaction_signing_bytes(body)))

    def hash_of(self, transaction: SignedTransaction) -> str:
        return transaction_hash(self.suite, transaction.body).hex()

    def submit(self, transaction: SignedTransaction) -> str:
        """Send one transaction; returns its hash (hex) once a node admitted it. Raises
        ``TransactionRefused`` when the node refuses it, ``TransactionPending`` when the request
        left but no answer came back, ``NodesUnreachable`` when no node took the request."""
        raw = encode(transaction)
        if len(raw) > MAX_TRANSACTION_BYTES:
            raise InvalidInput(f"transaction is {len(raw)} bytes, over {MAX_TRANSACTION_BYTES}")
        identity = self.hash_of(transaction)
        if self.journal is not None:
            self.journal(identity, raw)
        return self._submit_bytes(identity, raw)

    def _submit_bytes(self, identity: str, raw: bytes) -> str:
        try:
            answer = self._request("POST", "/v1/transactions", json={"transaction": raw.hex()})
        except NodesUnreachable as error:
            if error.maybe_sent:
                raise TransactionPending(identity, error.message, admitted=False) from None
            raise
        except ClientError as error:
            raise TransactionRefused(identity, error) from None
        if str(answer.get("hash")) != identity:
            raise ClientError("bad_response", "the node admitted another transaction hash")
        return identity

    def resend(
        self, transaction: SignedTransaction, *, timeout_s: float | None = None
    ) -> TransactionResult:
        """Complete a transaction whose outcome is unknown by sending **the same bytes** again:
        if a node already committed it, its result; if one holds it, wait; otherwise submit and
        wait. Replay protection makes it commit at most once."""
        identity = self.hash_of(transaction)
        found = self.lookup(identity)
        if isinstance(found, TransactionResult):
            return found
        if found is None:
            try:
                self._submit_bytes(identity, encode(transaction))
            except TransactionRefused as refused:
                # Committed meanwhile, or on a node ahead of the one asked: fetch its result.
                if refused.code != "duplicate_transaction":
                    raise
        return self.wait(identity, timeout_s=self._commit_timeout(timeout_s))

    def lookup(self, transaction_hash_: str) -> TransactionResult | PendingTransaction | None:
        """Where a transaction is now: committed (proofs verified), pending in a node's mempool,
        or ``None`` when the node knows nothing of it."""
        try:
            answer = self._request("GET", f"/v1/transactions/{transaction_hash_}")
        except ClientError as error:
            if error.code == "not_found":
                return None
            raise
        if answer.get("status") == "committed":
            return self._transaction_result(transaction_hash_, answer)
        return PendingTransaction(transaction_hash_)

    def _commit_timeout(self, timeout_s: float | None) -> float:
        return self.commit_timeout_s if timeout_s is None else timeout_s

    def submit_batch(self, transactions: Sequence[SignedTransaction]) -> BatchResult:
        """Send many transactions in one msgpack request."""
        body = msgspec.msgpack.encode([encode(tx) for tx in transactions])
        answer = self._request(
            "POST",
            "/v1/transactions/batch",
            content=body,
            headers={"Content-Type": "application/msgpack"},
        )
        return BatchResult(int(answer["accepted"]), int(answer["refused"]), answer["results"])

    def wait(self, transaction_hash_: str, *, timeout_s: float = 30.0) -> TransactionResult:
        """Wait until the transaction is committed; verify its inclusion and receipt proofs.
        Raises ``TransactionPending`` when it is not committed within ``timeout_s``, or when the
        nodes stop answering or no longer know it (it may still commit)."""
        deadline = time.monotonic() + timeout_s
        while True:
            remaining_ms = int((deadline - time.monotonic()) * 1000)
            if remaining_ms <= 0:
                raise TransactionPending(
                    transaction_hash_, f"not committed in {timeout_s:g} s", admitted=True
                )
            try:
                answer = self._request(
                    "GET",
                    f"/v1/transactions/{transaction_hash_}",
                    params={"wait_ms": min(remaining_ms, 10_000)},
                    timeout=min(remaining_ms, 10_000) / 1000 + 10,
                )
            except NodesUnreachable as error:
                raise TransactionPending(transaction_hash_, error.message, admitted=False) from None
            except ClientError as error:
                if error.code != "not_found":
                    raise
                raise TransactionPending(
                    transaction_hash_,
                    "the node neither holds nor committed it (a restarted node forgets its "
                    "mempool): re-send the same bytes",
                    admitted=False,
                ) from None
            if answer.get("status") == "committed":
                return self._transaction_result(transaction_hash_, answer)

    def _transaction_result(self, identity: str, answer: dict[str, Any]) -> TransactionResult:
        transaction_proof = _decode_hex(answer.get("transaction_proof"), TransactionProof)
        receipt_proof = _decode_hex(answer.get("receipt_proof"), ReceiptProof)
        receipt = decode(receipt_proof.receipt, Receipt, max_bytes=MAX_RECEIPT_BYTES)
        if receipt.transaction_hash.hex() != identity:
            raise ClientError("bad_response", "the receipt is for another transaction")
        transaction = decode(
            transaction_proof.transaction, SignedTransaction, max_bytes=MAX_TRANSACTION_BYTES
        )
        if self.hash_of(transaction) != identity:
            raise ClientError("bad_response", "the proven transaction is another transaction")
        if transaction_proof.header != receipt_proof.header or (
            transaction_proof.proof.leaf_index != receipt_proof.proof.leaf_index
        ):
            raise ClientError("bad_response", "the transaction and receipt proofs disagree")
        if self.verify:
            verify_transaction_inclusion(
                self.genesis,
                transaction_proof.header,
                transaction_proof.certificate,
                transaction_proof.transaction,
                transaction_proof.proof,
                validators=self.validators_for(transaction_proof.header),
            )
            verify_receipt_inclusion(
                self.genesis,
                receipt_proof.header,
                receipt_proof.certificate,
                receipt_proof.receipt,
                receipt_proof.proof,
                validators=self.validators_for(receipt_proof.header),
            )
        # Where the transaction is comes from the proof, not from the unproven JSON around it.
        height = transaction_proof.header.height
        index = transaction_proof.proof.leaf_index
        self._note_height(height)
        return TransactionResult(identity, height, index, receipt, self.verify)

    def _note_height(self, height: int) -> None:
        if height >= self._height_hint:
            self._height_hint = height
            self._height_hint_at = time.monotonic()

    def send(
        self,
        signer: Signer,
        contract: str,
        method: str,
        args: CanonicalStruct,
        *,
        timeout_s: float | None = None,
    ) -> TransactionResult:
        """Build, sign, submit and wait (``timeout_s``, default ``commit_timeout_s``): the one
        call most code needs. See ``jinqiao.client.outcome`` for the four outcomes."""
        identity = self.submit(self.build(signer, contract, method, args))
        return self.wait(identity, timeout_s=self._commit_timeout(timeout_s))

    # -- following the validator set -------------------------------------------------------
    def validators_for(self, header: BlockHeader) -> ValidatorSet:
        """The validator set that must have certified ``header``: genesis's, or a later one
        reached by walking the chain's validator-set changes, each proven against a header the
        previous set certified (``GET /v1/validators/changes``). Raises ``VerificationError``
        when no proven chain of changes leads to the header's ``validators_hash``."""
        wanted = header.validators_hash
        for first_height, validators in reversed(self._validator_history):
            if first_height <= header.height:
                if validator_set_hash(self.suite, validators) == wanted:
                    return validators
                break
        if header.height >= self._validator_history[-1][0]:
            self._follow_validator_changes(wanted)
            first_height, validators = self._validator_history[-1]
            if (
                first_height <= header.height
                and validator_set_hash(self.suite, validators) == wanted
            ):
                return validators
        raise VerificationError(
            f"no proven validator set of this chain has hash {wanted.hex()} at height "
            f"{header.height}"
        )

    def proven_validator_changes(self, from_height: int = 1) -> list[tuple[int, ValidatorSet]]:
        """The validator-set changes from ``from_height`` on as ``GET /v1/validators/changes``
        lists them (one page), each proven: the new set against the header of the block that
        made it, certified by the set in force there (followed from genesis), and that header's
        ``next_validators_hash``. Returns ``(height of that block, new set)`` in order; each set
        is in force from the height after it. A node may stop a page early (it withholds), never
        list a change that was not made."""
        answer = self._request(
            "GET", "/v1/validators/changes", params={"from_height": max(1, from_height)}
        )
        changes = answer.get("changes") if isinstance(answer, dict) else None
        if not isinstance(changes, list) or len(changes) > MAX_VALIDATOR_CHANGES_PER_PAGE:
            raise ClientError("bad_response", "the validator changes are not a bounded list")
        proven: list[tuple[int, ValidatorSet]] = []
        for change in changes:
            proof = _validator_change_proof(change)
            height = proof.header.height
            if height < from_height or (proven and height <= proven[-1][0]):
                raise VerificationError("the validator changes are not in order from the height")
            proven.append((height, self._proven_change(proof, self.validators_for(proof.header))))
        return proven

    def _proven_change(self, proof: StateReadProof, validators: ValidatorSet) -> ValidatorSet:
        """The new validator set a change's proof proves under ``validators`` (the set in force
        at its header), which must be that header's next set."""
        if proof.value is None:
            raise ClientError("bad_response", "a validator change proves no set")
        verify_state_read(
            self.genesis,
            proof.header,
            proof.certificate,
            proof.key,
            proof.value,
            proof.proof,
            validators=validators,
        )
        changed = decode(proof.value, ValidatorSet, max_bytes=MAX_PROOF_BYTES)
        if validator_set_hash(self.suite, changed) != proof.header.next_validators_hash:
            raise VerificationError("a proven validator set is not the header's next set")
        return changed

    def _follow_validator_changes(self, wanted: bytes) -> None:
        for _ in range(MAX_VALIDATOR_CHANGE_PAGES):
            first_height = self._validator_history[-1][0]
            answer = self._request(
                "GET", "/v1/validators/changes", params={"from_height": max(1, first_height)}
            )
            changes = answer.get("changes", [])
            if not changes:
                return
            for change in changes:
                proof = _validator_change_proof(change)
                if proof.header.height + 1 <= self._validator_history[-1][0]:
                    continue  # already followed
                changed = self._proven_change(proof, self._validator_history[-1][1])
                self._validator_history.append((proof.header.height + 1, changed))
                if validator_set_hash(self.suite, changed) == wanted:
                    return

    # -- reads -----------------------------------------------------------------------------
    def read_state(
        self,
        contract: str,
        key: bytes,
        *,
        height: int | None = None,
        min_height: int | None = None,
    ) -> ProvenValue:
        """A state value with its proof, verified against the genesis validators. With
        ``min_height`` the answer must be read at that height or later (docs/proofs.md §9.1)."""
        proof = self.state_read_proof(contract, key, height=height, min_height=min_height)
        return self._proven_value(proof, contract.encode() + b"/" + key, height, min_height)

    def state_read_proof(
        self,
        contract: str,
        key: bytes,
        *,
        height: int | None = None,
        min_height: int | None = None,
    ) -> StateReadProof:
        """The node's ``StateReadProof`` of a state key as served, unchecked: for a caller that
        hands the proof on (a relayer, to another chain's client, which checks it); use
        ``read_state`` to check it here."""
        params = _height_params(height, min_height)
        answer = self._request("GET", f"/v1/state/{contract}/{key.hex()}", params=params)
        return _decode_hex(answer.get("proof"), StateReadProof)

    def _proven_value(
        self,
        proof: StateReadProof,
        expected_key: bytes,
        height: int | None,
        min_height: int | None,
    ) -> ProvenValue:
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
        if self.verify:
            verify_state_read(
                self.genesis,
                proof.header,
                proof.certificate,
                proof.key,
                proof.value,
                proof.proof,
                validators=self.validators_for(proof.header),
            )
        self._note_height(proof.header.height)
        return ProvenValue(
            key,
            proof.value,
            proof.header.height,
            proof.header.state_root,
            self.verify,
            proof.header.time_ms,
        )

    def read_struct(
        self,
        contract: str,
        key: bytes,
        kind: type[T],
        *,
        height: int | None = None,
        min_height: int | None = None,
    ) -> T | None:
        proven = self.read_state(contract, key, height=height, min_height=min_height)
        if proven.value is None:
            return None
        return decode(proven.value, kind, max_bytes=MAX_PROOF_BYTES)

    def read_record(
        self,
        path: str,
        full_key: bytes,
        *,
        height: int | None = None,
        min_height: int | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> ProvenValue:
        """A record route's answer (``GET /v1/accounts/…``, ``/v1/payments/…``: a route that
        answers one ``proof``) proven: its ``proof`` when found, or, on ``404 not_found``, the
        absence proven in the error's details (docs/proofs.md §9.2) — ``value`` is then
        ``None``. ``full_key`` is the state
        key the route reads (docs/proofs.md §6); a 404 without a proof of it raises
        ``ClientError``. ``params``: the route's other query parameters."""
        answer, _ = self.answer_or_absence(
            path, {**(params or {}), **_height_params(height, min_height)}
        )
        proof_hex = answer.get("proof")
        if not isinstance(proof_hex, str):
            raise ClientError("bad_response", f"{path} answered without a proof")
        proof = _decode_hex(proof_hex, StateReadProof)
        return self._proven_value(proof, full_key, height, min_height)

    def answer_or_absence(
        self, path: str, params: Mapping[str, Any] | None = None
    ) -> tuple[dict[str, Any], bool]:
        """A proven route's JSON answer and ``False``; or, when it answers ``404 not_found``
        with a proof in its details (a proven absence, docs/proofs.md §9.2), those details and
        ``True``. Any other error raises ``ClientError``; the caller checks the proofs."""
        try:
            answer = self._request("GET", path, params=dict(params or {}))
        except ClientError as error:
            if error.code == "not_found" and isinstance(error.details.get("proof"), str):
                return dict(error.details), True
            raise
        if not isinstance(answer, dict):
            raise ClientError("bad_response", f"{path} did not answer a JSON object")
        return answer, False

    def account(
        self, address: bytes, *, height: int | None = None, min_height: int | None = None
    ) -> Account | None:
        """The registry's account record (``GET /v1/accounts/{address}``), or ``None`` when
        the account is proven absent."""
        proven = self.read_record(
            f"/v1/accounts/{address.hex()}",
            full_key(REGISTRY, account_key(address)),
            height=height,
            min_height=min_height,
        )
        if proven.value is None:
            return None
        return decode(proven.value, Account, max_bytes=MAX_PROOF_BYTES)

    def query(self, contract: str, name: str, **arguments: Any) -> Any:
        """An unproven read-only contract query against the head."""
        body = {k: (v.hex() if isinstance(v, bytes) else v) for k, v in arguments.items()}
        return self._request("POST", f"/v1/query/{contract}/{name}", json=body)["result"]

    def proven_query(self, contract: str, name: str, **arguments: Any) -> ProvenQueryResult:
        """A read-only contract query whose result is derived from proven state: the node
        answers with every key the query read, proven against one header (``?proofs=true``);
        the SDK verifies them and runs the query itself on those values (docs/proofs.md
        §9.5). ``arguments`` are the query's fields, bytes as bytes."""
        if self._queries is None:
            self._queries = QueryRunner(self.genesis)
        # A member contract's argument types come from its package, proven with the answer.
        built_in = self._queries.is_built_in(contract)
        struct = self._queries.arguments(contract, name, arguments) if built_in else None
        body = {k: (v.hex() if isinstance(v, bytes) else v) for k, v in arguments.items()}
        answer = self._request(
            "POST", f"/v1/query/{contract}/{name}", params={"proofs": "true"}, json=body
        )
        proof = _decode_hex(answer.get("reads_proof"), StateReadsProof, MAX_STATE_READS_PROOF_BYTES)
        if self.verify:
            verify_state_reads(
                self.genesis,
                proof.header,
                proof.certificate,
                proof.reads,
                validators=self.validators_for(proof.header),
            )
        also: dict[bytes, bytes | None] = {}
        if not built_in:
            also = self._member_package(proof, contract)
            struct = self._queries.member_arguments(proof, contract, name, arguments, also)
        result = self._queries.run(proof, contract, name, struct, also)
        self._note_height(proof.header.height)
        return ProvenQueryResult(result, proof.header.height, proof.header.time_ms, self.verify)

    def _member_package(self, proof: StateReadsProof, contract: str) -> dict[bytes, bytes | None]:
        """A member contract's package, proven at the height of ``proof`` when the node's
        answer did not read it: a node compiles a package once and then reads only
        ``contracts/deployed/<name>`` (``jinqiao.contracts.lifecycle.MemberContracts``)."""
        values = {read.key: read.value for read in proof.reads}
        deployed = values.get(MEMBER_DEPLOYED_PREFIX + contract.encode())
        if deployed is None:
            return {}
        key = b"package/" + deployed
        if MEMBER_LIFECYCLE + b"/" + key in values:
            return {}
        proven = self.read_state(MEMBER_LIFECYCLE.decode(), key, height=proof.header.height)
        return {MEMBER_LIFECYCLE + b"/" + key: proven.value}

    def block(
        self,
        height: int | None = None,
        *,
        transactions: bool = False,
        block_hash: bytes | None = None,
    ) -> dict[str, Any]:
        """A block's JSON view (the head, the block at ``height`` or the one whose header hash is
        ``block_hash``); its header is checked against its commit certificate (the transaction
        list in the view is informational: prove a transaction with ``wait``)."""
        path = _block_path(height, block_hash)
        answer: dict[str, Any] = self._request(
            "GET", path, params={"transactions": str(transactions).lower()}
        )
        header = _decode_hex(answer.get("header_bytes"), BlockHeader)
        certificate = _decode_hex(answer.get("certificate_bytes"), CommitCertificate)
        hashed = header_hash(self.suite, header)
        if (
            hashed.hex() != _block_hash_shown(answer)
            or (height is not None and header.height != height)
            or (block_hash is not None and hashed != block_hash)
        ):
            raise ClientError("bad_response", "the block's header bytes do not match its view")
        if self.verify:
            verify_header(self.genesis, header, certificate, validators=self.validators_for(header))
        answer["verified"] = self.verify
        return answer

    def proven_block(
        self,
        height: int | None = None,
        *,
        min_height: int | None = None,
        block_hash: bytes | None = None,
    ) -> ProvenBlock:
        """A committed block with every transaction and receipt, checked against the header's
        ``transactions_root`` and ``receipts_root`` and its certificate (``?leaves=true``,
        docs/proofs.md §9.3): the block at ``height``, the one whose header hash is
        ``block_hash``, or else the head, at least ``min_height``."""
        path = _block_path(height, block_hash)
        params: dict[str, Any] = {"leaves": "true"}
        if min_height is not None and height is None and block_hash is None:
            params["min_height"] = min_height
        answer = self._request("GET", path, params=params)
        header = _decode_hex(answer.get("header_bytes"), BlockHeader)
        certificate = _decode_hex(answer.get("certificate_bytes"), CommitCertificate)
        if height is not None and header.height != height:
            raise ClientError("bad_response", f"asked for block {height}, got another")
        if block_hash is not None and header_hash(self.suite, header) != block_hash:
            raise ClientError("bad_response", f"asked for block {block_hash.hex()}, got another")
        if min_height is not None and header.height < min_height:
            raise VerificationError(f"asked for height {min_height} or later, got {header.height}")
        transaction_leaves = _hex_list(answer.get("transaction_leaves"), MAX_TRANSACTION_BYTES)
        receipt_leaves = _hex_list(answer.get("receipt_leaves"), MAX_RECEIPT_BYTES)
        if self.verify:
            verify_block_leaves(
                self.genesis,
                header,
                certificate,
                transaction_leaves,
                receipt_leaves,
                validators=self.validators_for(header),
            )
        try:
            transactions = tuple(
                decode(leaf, SignedTransaction, max_bytes=MAX_TRANSACTION_BYTES)
                for leaf in transaction_leaves
            )
            receipts = tuple(
                decode(leaf, Receipt, max_bytes=MAX_RECEIPT_BYTES) for leaf in receipt_leaves
            )
        except InvalidInput as exc:
            raise ClientError("bad_response", f"a block leaf does not decode: {exc}") from None
        self._note_height(header.height)
        return ProvenBlock(
            header,
            certificate,
            transactions,
            receipts,
            tuple(transaction_hash(self.suite, tx.body) for tx in transactions),
            self.verify,
        )

    def prove_event(self, event: Mapping[str, Any]) -> Event:
        """Check an event as the event stream delivers it (``height``, ``transaction_hash``,
        ``index``, ``event_index``, ``contract``, ``name``, ``attributes``, ``time_ms``) against
        the receipt of its transaction, proven (docs/proofs.md §9.4): the transaction's proofs
        are fetched and verified, the receipt's event number ``event_index`` must be this event
        and ``time_ms`` the proven block's time.
        Returns that proven ``Event``; raises ``VerificationError`` when it differs."""
        try:
            identity = str(event["transaction_hash"])
            height, index, event_index = (
                int(event[name]) for name in ("height", "index", "event_index")
            )
        except (KeyError, TypeError, ValueError):
            raise ClientError("bad_response", "the event lacks its transaction or index") from None
        answer = self._request("GET", f"/v1/transactions/{identity}")
        if answer.get("status") != "committed":
            raise VerificationError(f"the event's transaction {identity} is not committed")
        result = self._transaction_result(identity, answer)
        header = _decode_hex(answer.get("transaction_proof"), TransactionProof).header
        if "time_ms" in event and event["time_ms"] != header.time_ms:
            raise VerificationError(
                f"the event says block time {event['time_ms']}; the proven header says "
                f"{header.time_ms}"
            )
        if (result.height, result.index) != (height, index):
            raise VerificationError(
                f"the event says transaction {index} of block {height}; the proofs say "
                f"{result.index} of {result.height}"
            )
        events = result.receipt.events
        if not 0 <= event_index < len(events):
            raise VerificationError(
                f"the receipt has {len(events)} events; the event says it is number {event_index}"
            )
        proven = events[event_index]
        claimed = (event.get("contract"), event.get("name"), event.get("attributes"))
        if claimed != (proven.contract, proven.name, dict(proven.attributes)):
            raise VerificationError(
                f"event {event_index} of the receipt is {proven.contract}.{proven.name} with "
                "other attributes than the event delivered"
            )
        return proven

    def proven_header(self, header_hex: Any, certificate_hex: Any, height: int) -> BlockHeader:
        """A header an answer carries (canonical bytes, hex) with its commit certificate:
        checked to be at ``height`` and, with verification on, certified by the validator set
        of its height (followed from genesis)."""
        header = _decode_hex(header_hex, BlockHeader)
        certificate = _decode_hex(certificate_hex, CommitCertificate)
        if header.height != height:
            raise VerificationError(f"the header listed at {height} is another block's")
        if self.verify:
            verify_header(self.genesis, header, certificate, validators=self.validators_for(header))
        return header

    def certified_header(self, height: int | None = None) -> tuple[BlockHeader, CommitCertificate]:
        """The committed header at ``height`` (default: the head) and its commit certificate,
        checked against each other as ``block`` does."""
        answer = self.block(height)
        header = _decode_hex(answer["header_bytes"], BlockHeader)
        return header, _decode_hex(answer["certificate_bytes"], CommitCertificate)

    def validator_change_proofs(self, from_height: int) -> list[StateReadProof]:
        """The node's proofs of validator-set changes from ``from_height`` on (``GET
        /v1/validators/changes``), unchecked: each is the new set proven against the header
        that announces it (docs/proofs.md §3.3). At most 100."""
        answer = self._request(
            "GET", "/v1/validators/changes", params={"from_height": max(1, from_height)}
        )
        return [_decode_hex(change["proof"], StateReadProof) for change in answer["changes"]]

    def header(self, height: int) -> BlockHeader:
        """The committed header at ``height``, checked against its commit certificate (as
        ``block``): its ``time_ms`` is the block time the validators agreed on."""
        return _decode_hex(self.block(height)["header_bytes"], BlockHeader)

    def events(
        self,
        *,
        contract: str | None = None,
        name: str | None = None,
        from_height: int | None = None,
        timeout_s: float | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Contract events as they are committed (Server-Sent Events)."""
        params: dict[str, Any] = {}
        if contract:
            params["contract"] = contract
        if name:
            params["name"] = name
        if from_height:
            params["from_height"] = from_height
        with self._http.stream(
            "GET", "/v1/events", params=params, timeout=httpx.Timeout(10.0, read=timeout_s)
        ) as response:
            if response.status_code >= 400:
                raise ClientError(
                    "http_error", response.read().decode()[:300], response.status_code
                )
            for line in response.iter_lines():
                if line.startswith("data: "):
                    yield json.loads(line[6:])


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


def _height_params(height: int | None, min_height: int | None) -> dict[str, int]:
    params = {} if height is None else {"height": height}
    if min_height is not None:
        params["min_height"] = min_height
    return params


def _hex_list(values: Any, max_bytes: int) -> list[bytes]:
    """A list of hex byte strings from an answer, each at most ``max_bytes``."""
    if not isinstance(values, list):
        raise ClientError("bad_response", "the block answer has no leaves")
    leaves = []
    for value in values:
        if not isinstance(value, str) or len(value) > 2 * max_bytes:
            raise ClientError("bad_response", "a block leaf is not hex of a bounded size")
        try:
            leaves.append(bytes.fromhex(value))
        except ValueError:
            raise ClientError("bad_response", "a block leaf is not hex") from None
    return leaves


def _validator_change_proof(change: Any) -> StateReadProof:
    """The proof of one listed validator change: of the validator set, at the height named."""
    proof = _decode_hex(change.get("proof") if isinstance(change, dict) else None, StateReadProof)
    if change.get("height", proof.header.height) != proof.header.height:
        raise ClientError("bad_response", "a validator change names another height")
    if proof.key != VALIDATORS_FULL_KEY or proof.value is None:
        raise ClientError("bad_response", "a validator change proves another key")
    return proof


def _block_path(height: int | None, block_hash: bytes | None) -> str:
    if block_hash is not None:
        return f"/v1/blocks/by-hash/{block_hash.hex()}"
    return "/v1/blocks/latest" if height is None else f"/v1/blocks/{height}"


def _block_hash_shown(answer: Mapping[str, Any]) -> Any:
    header = answer.get("header")
    return header.get("hash") if isinstance(header, dict) else None


def _decode_hex(value: Any, kind: type[T], max_bytes: int = MAX_PROOF_BYTES) -> T:
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
