"""HTTP client of a jinqiao node. See the package docstring for a tour."""

from __future__ import annotations

import json
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import msgspec

from jinqiao.client import core
from jinqiao.client.core import DEFAULT_VALID_FOR_BLOCKS
from jinqiao.client.core import ProvenValue as ProvenValue  # re-exported: the SDK's types
from jinqiao.client.core import TransactionResult as TransactionResult
from jinqiao.client.core import error_of as error_of
from jinqiao.client.credentials import Credentials
from jinqiao.client.outcome import (
    ClientError,
    PendingTransaction,
    retrying,
)
from jinqiao.client.queries import QueryRunner
from jinqiao.client.signing import MessageSignatureAuth
from jinqiao.client.verified import Verified
from jinqiao.core.codec import CanonicalStruct, decode, encode
from jinqiao.core.crypto import Signer
from jinqiao.core.errors import InvalidInput
from jinqiao.core.genesis import Genesis, load_genesis
from jinqiao.core.hashing import (
    header_hash,
    transaction_hash,
)
from jinqiao.core.limits import (
    MAX_RECEIPT_BYTES,
    MAX_STATE_READS_PROOF_BYTES,
    MAX_TRANSACTION_BYTES,
)
from jinqiao.core.proofs import StateReadProof, StateReadsProof, TransactionProof
from jinqiao.core.types import (
    BlockHeader,
    CommitCertificate,
    Event,
    Receipt,
    SignedTransaction,
    ValidatorSet,
    decode_transaction,
)
from jinqiao.execution.identity import Account
from jinqiao.verify import (
    VerificationError,
    verify_block_leaves,
    verify_header,
    verify_state_reads,
)

T = TypeVar("T")

MAX_VALIDATOR_CHANGES_PER_PAGE = 100
MEMBER_LIFECYCLE = b"contracts"
"""The lifecycle of members' contracts (``jinqiao.contracts.lifecycle``, named here so that
the review and the sandbox load only when a member contract is queried)."""
MEMBER_DEPLOYED_PREFIX = MEMBER_LIFECYCLE + b"/deployed/"
_decode_hex = core.decode_hex
_validator_change_proof = core.validator_change_proof
_block_path = core.block_path


@dataclass(frozen=True)
class BatchResult:
    accepted: int
    refused: int
    results: list[dict[str, Any]] = field(default_factory=list)


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
        urls = core.node_urls(url, other_urls)
        self.url = urls[0]
        tls = core.tls_settings(credentials, roots_file)
        self.credentials = credentials
        auth = MessageSignatureAuth(signer) if signer is not None else None

        def connect(node_url: str) -> httpx.Client:
            return httpx.Client(
                base_url=node_url, timeout=timeout_s, transport=transport, verify=tls, auth=auth
            )

        self._connect = connect
        # Failover: the other nodes of the network, tried in order when a node does not answer.
        nodes = [connect(node_url) for node_url in urls]
        self._http = nodes[0]
        self._failover = core.Failover(nodes, core.url_of)
        if genesis is None and genesis_file is not None:
            genesis = load_genesis(genesis_file.read_bytes())
        if genesis is None:
            # Trust on first use: without a genesis file the node's own genesis is taken.
            genesis = load_genesis(self._request("GET", "/v1/genesis", raw=True))
        self.genesis = genesis
        self.suite = genesis.suite
        self._session = core.Session(genesis, verify)
        self._queries: QueryRunner | None = None  # built on first use: it loads the contracts
        from jinqiao.client.contracts import ContractsClient
        from jinqiao.client.credit import CreditClient
        from jinqiao.client.governance import GovernanceClient
        from jinqiao.client.keys import KeysClient
        from jinqiao.client.payments import PaymentsClient
        from jinqiao.client.supplychain import SupplyChainClient
        from jinqiao.client.token import TokenClient

        self.token = TokenClient(self)
        self.payments = PaymentsClient(self)
        self.supplychain = SupplyChainClient(self)
        self.credit = CreditClient(self)
        self.contracts = ContractsClient(self)
        self.governance = GovernanceClient(self)
        self.keys = KeysClient(self)

    def close(self) -> None:
        for node in self._failover.nodes:
            node.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing --------------------------------------------------------------------------
    def _run(self, flow: core.Flow[T]) -> T:
        return core.run(flow, self._send)

    def _send(self, request: core.Request) -> Any:
        arguments = request.arguments()
        response = retrying(
            lambda: self._send_to_any_node(request.method, request.path, **arguments)
        )
        return core.answer_of(request, response)

    def _request(self, method: str, path: str, *, raw: bool = False, **kwargs: Any) -> Any:
        timeout = kwargs.pop("timeout", None)
        return self._run(
            core.call(core.Request(method, path, raw=raw, timeout_s=timeout, **kwargs))
        )

    def _send_to_any_node(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The first answer of the nodes, tried in order from the last one that answered (which
        moves to the front); ``NodesUnreachable`` naming each when none answers."""
        for node in self._failover.round():
            try:
                response = node.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                self._failover.failed(node, exc)
                continue
            self._failover.answered(node)
            return response
        raise self._failover.unreachable()

    @property
    def verify(self) -> bool:
        """Whether answers' proofs are checked (on by default)."""
        return self._session.verify

    @verify.setter
    def verify(self, value: bool) -> None:
        self._session.verify = value

    def status(self) -> dict[str, Any]:
        return self._run(core.status(self._session))

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

    def argument_names(self, contract: str, method: str) -> tuple[str, ...] | None:
        """The names of a built-in method's arguments in their encoded order, to show a
        transaction's arguments by name; ``None`` when the contract is not built in."""
        if self._queries is None:
            self._queries = QueryRunner(self.genesis)
        return self._queries.argument_names(contract, method)

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
        return self._run(
            core.build(
                self._session,
                signer,
                contract,
                method,
                args,
                valid_for_blocks=valid_for_blocks,
                nonce=nonce,
                height=height,
            )
        )

    def hash_of(self, transaction: SignedTransaction) -> str:
        return self._session.hash_of(transaction)

    def submit(self, transaction: SignedTransaction) -> str:
        """Send one transaction; returns its hash (hex) once a node admitted it. Raises
        ``TransactionRefused`` when the node refuses it, ``TransactionPending`` when the request
        left but no answer came back, ``NodesUnreachable`` when no node took the request."""
        identity, raw = core.encoded(self._session, transaction)
        if self.journal is not None:
            self.journal(identity, raw)
        return self._run(core.submit_bytes(identity, raw))

    def resend(
        self, transaction: SignedTransaction, *, timeout_s: float | None = None
    ) -> TransactionResult:
        """Complete a transaction whose outcome is unknown by sending **the same bytes** again:
        if a node already committed it, its result; if one holds it, wait; otherwise submit and
        wait. Replay protection makes it commit at most once."""
        return self._run(core.resend(self._session, transaction, self._commit_timeout(timeout_s)))

    def lookup(self, transaction_hash_: str) -> TransactionResult | PendingTransaction | None:
        """Where a transaction is now: committed (proofs verified), pending in a node's mempool,
        or ``None`` when the node knows nothing of it."""
        return self._run(core.lookup(self._session, transaction_hash_))

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
        return self._run(core.wait(self._session, transaction_hash_, timeout_s))

    def _transaction_result(self, identity: str, answer: dict[str, Any]) -> TransactionResult:
        return self._run(core.transaction_result(self._session, identity, answer))

    def _note_height(self, height: int) -> None:
        self._session.note_height(height)

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
        transaction = core.build(self._session, signer, contract, method, args)
        timeout = self._commit_timeout(timeout_s)
        return self._run(core.send(self._session, transaction, timeout, self.journal))

    # -- following the validator set -------------------------------------------------------
    def validators_for(self, header: BlockHeader) -> ValidatorSet:
        """The validator set that must have certified ``header``: genesis's, or a later one
        reached by walking the chain's validator-set changes, each proven against a header the
        previous set certified (``GET /v1/validators/changes``). Raises ``VerificationError``
        when no proven chain of changes leads to the header's ``validators_hash``."""
        return self._run(core.validators_for(self._session, header))

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
        return core.proven_change(self._session, proof, validators)

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
        return self._run(core.read_state(self._session, contract, key, height, min_height))

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
        return self._run(core.state_read_proof(contract, key, height, min_height))

    def _proven_value(
        self,
        proof: StateReadProof,
        expected_key: bytes,
        height: int | None,
        min_height: int | None,
    ) -> ProvenValue:
        return self._run(core.proven_value(self._session, proof, expected_key, height, min_height))

    def read_struct(
        self,
        contract: str,
        key: bytes,
        kind: type[T],
        *,
        height: int | None = None,
        min_height: int | None = None,
    ) -> T | None:
        return self._run(core.read_struct(self._session, contract, key, kind, height, min_height))

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
        return self._run(
            core.read_record(self._session, path, full_key, height, min_height, params)
        )

    def answer_or_absence(
        self, path: str, params: Mapping[str, Any] | None = None
    ) -> tuple[dict[str, Any], bool]:
        """A proven route's JSON answer and ``False``; or, when it answers ``404 not_found``
        with a proof in its details (a proven absence, docs/proofs.md §9.2), those details and
        ``True``. Any other error raises ``ClientError``; the caller checks the proofs."""
        return self._run(core.answer_or_absence(path, params))

    def account(
        self, address: bytes, *, height: int | None = None, min_height: int | None = None
    ) -> Account | None:
        """The registry's account record (``GET /v1/accounts/{address}``), or ``None`` when
        the account is proven absent."""
        return self._run(core.account(self._session, address, height, min_height))

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
        return self._run(core.block(self._session, height, transactions, block_hash))

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
                decode_transaction(leaf, max_bytes=MAX_TRANSACTION_BYTES)
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
    ) -> EventStream:
        """Contract events as they are committed (Server-Sent Events). The stream has its own
        connection; close it (or use it in a ``with`` block) when leaving it early."""
        params: dict[str, Any] = {}
        if contract:
            params["contract"] = contract
        if name:
            params["name"] = name
        if from_height:
            params["from_height"] = from_height
        return EventStream(self._event_lines(params, timeout_s))

    def _event_lines(
        self, params: dict[str, Any], timeout_s: float | None
    ) -> Generator[dict[str, Any], None, None]:
        # A connection of the stream's own: an abandoned stream is closed by the garbage collector
        # at any moment, and closing it must not wait for a lock of the requests' connection pool
        # that the same thread may hold (a deadlock seen in CI).
        with (
            self._connect(self.url) as http,
            http.stream(
                "GET", "/v1/events", params=params, timeout=httpx.Timeout(10.0, read=timeout_s)
            ) as response,
        ):
            if response.status_code >= 400:
                raise ClientError(
                    "http_error", response.read().decode()[:300], response.status_code
                )
            for line in response.iter_lines():
                if line.startswith("data: "):
                    yield json.loads(line[6:])


class EventStream(Iterator[dict[str, Any]]):
    """The events ``Client.events`` streams: an iterator, and a context manager that closes the
    stream's connection on leaving."""

    def __init__(self, events: Generator[dict[str, Any], None, None]) -> None:
        self._events = events

    def __next__(self) -> dict[str, Any]:
        return next(self._events)

    def close(self) -> None:
        self._events.close()

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
