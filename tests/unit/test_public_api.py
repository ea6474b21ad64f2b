"""The public API of the SDK packages — ``jinqiao.client``, ``jinqiao.verify`` and
``jinqiao.keys`` — is pinned here (as httpx's ``test_exported_members.py`` and trio's
``test_exports.py`` pin theirs): each declares ``__all__``, and the exported names and the
signatures of the exported functions, classes and client methods must equal the lists below. An
accidental change of the public surface fails this test; a deliberate one edits the list in the
same change (and docs/guide.md, "The Python SDK", if it is user-visible)."""

from __future__ import annotations

import ast
import importlib
import inspect
from collections.abc import Callable
from pathlib import Path

import pytest

import jinqiao.client

SOURCE = Path(__file__).resolve().parents[2] / "src" / "jinqiao"

EXPORTS = {
    "jinqiao.client": [
        "AccountKey",
        "ApprovalRequest",
        "ApprovalServiceClient",
        "ApprovalServiceSigner",
        "AsyncClient",
        "AsyncTokenClient",
        "BatchResult",
        "Client",
        "ClientError",
        "Credentials",
        "EventStream",
        "GovernanceClient",
        "ItemCustody",
        "ItemVerification",
        "KeysClient",
        "MultiSigner",
        "NodesUnreachable",
        "PaymentsClient",
        "PendingTransaction",
        "ProposalList",
        "ProposalStatus",
        "ProposalSubmitted",
        "ProvenBlock",
        "ProvenQueryResult",
        "ProvenValue",
        "SecondFactorAnswer",
        "SupplyChainClient",
        "TokenClient",
        "TransactionPending",
        "TransactionRefused",
        "TransactionResult",
        "WebAuthnApprovalSigner",
        "WebAuthnChallenge",
        "add_signature",
        "missing_signers",
        "prepare_multi_signed",
    ],
    "jinqiao.verify": [
        "VerificationError",
        "merkle_tree_hash",
        "verify_block_leaves",
        "verify_certificate",
        "verify_header",
        "verify_merkle_proof",
        "verify_receipt_inclusion",
        "verify_state_proof",
        "verify_state_read",
        "verify_state_reads",
        "verify_transaction_inclusion",
    ],
    "jinqiao.keys": [
        "Encrypted",
        "HsmKeyReference",
        "InsecurePlaintext",
        "KeyFile",
        "KeyInfo",
        "KeyProtection",
        "MAX_KEY_FILE_BYTES",
        "PassphraseSource",
        "ScryptParameters",
        "generate_key",
        "load_key",
        "migrate_key",
        "read_key_info",
        "save_key",
        "save_key_reference",
    ],
}

# Signatures as ``inspect.signature`` shows them, quotes around annotations left out.
SIGNATURES = {
    "jinqiao.client.BatchResult": (
        "(accepted: int, refused: int, results: list[dict[str, Any]] = <factory>) -> None"
    ),
    "jinqiao.client.Client": (
        "(url: str, *, genesis_file: Path | None = None, genesis: Genesis | None = None, "
        "verify: bool = True, timeout_s: float = 10.0, "
        "transport: httpx.BaseTransport | None = None, other_urls: Sequence[str] = (), "
        "credentials: Credentials | None = None, signer: Signer | None = None, "
        "roots_file: Path | None = None) -> None"
    ),
    "jinqiao.client.AsyncClient": (
        "(url: str, *, genesis_file: Path | None = None, genesis: Genesis | None = None, "
        "verify: bool = True, timeout_s: float = 10.0, "
        "transport: httpx.AsyncBaseTransport | None = None, other_urls: Sequence[str] = (), "
        "credentials: Credentials | None = None, signer: Signer | None = None, "
        "roots_file: Path | None = None) -> None"
    ),
    "jinqiao.client.AsyncTokenClient": "(client: AsyncClient) -> None",
    "jinqiao.client.Credentials": (
        "(certificate_file: Path, key_file: Path, roots_file: Path, account: str = , "
        "organization: str = ) -> None"
    ),
    "jinqiao.client.ClientError": (
        "(code: str, message: str, status: int = 0, **details: Any) -> None"
    ),
    "jinqiao.client.PaymentsClient": "(client: Client) -> None",
    "jinqiao.client.GovernanceClient": "(client: Client) -> None",
    "jinqiao.client.ProposalList": (
        "(proposals: tuple[ProposalStatus, ...], next_id: int, height: int, verified: bool) -> None"
    ),
    "jinqiao.client.ProposalStatus": (
        "(proposal: Proposal, kind: str, state: str, quorum_numerator: int, "
        "quorum_denominator: int, active_organizations: int, approving: tuple[str, ...], "
        "required: int, still_needed: int, waiting_for: tuple[str, ...], height: int, "
        "verified: bool) -> None"
    ),
    "jinqiao.client.ProposalSubmitted": (
        "(result: TransactionResult, proposal_id: int | None) -> None"
    ),
    "jinqiao.client.ProvenBlock": (
        "(header: BlockHeader, certificate: CommitCertificate, "
        "transactions: tuple[SignedTransaction, ...], receipts: tuple[Receipt, ...], "
        "transaction_hashes: tuple[bytes, ...], verified: bool) -> None"
    ),
    "jinqiao.client.ProvenQueryResult": (
        "(result: Any, height: int, time_ms: int, verified: bool) -> None"
    ),
    "jinqiao.client.ProvenValue": (
        "(key: bytes, value: bytes | None, height: int, state_root: bytes, verified: bool, "
        "time_ms: int = 0) -> None"
    ),
    "jinqiao.client.TokenClient": "(client: Client) -> None",
    "jinqiao.client.KeysClient": "(client: Client) -> None",
    "jinqiao.client.AccountKey": "(key: Signer, address: bytes) -> None",
    "jinqiao.client.MultiSigner": (
        "(signers: Sequence[Signer], address: bytes | None = None) -> None"
    ),
    "jinqiao.client.prepare_multi_signed": (
        "(body: TransactionBody, cosigners: Sequence[bytes]) -> MultiSignedTransaction"
    ),
    "jinqiao.client.add_signature": (
        "(transaction: MultiSignedTransaction, signer: Signer) -> MultiSignedTransaction"
    ),
    "jinqiao.client.missing_signers": "(transaction: MultiSignedTransaction) -> tuple[bytes, ...]",
    "jinqiao.client.ApprovalRequest": (
        "(approval_hash: str, summary: dict[str, Any], expires_at_s: float) -> None"
    ),
    "jinqiao.client.ApprovalServiceClient": (
        "(url: str, *, roots_file: Path | None = None, timeout_s: float = 15.0, "
        "transport: httpx.BaseTransport | None = None) -> None"
    ),
    "jinqiao.client.ApprovalServiceSigner": (
        "(client: ApprovalServiceClient, address: bytes, "
        "second_factor: Callable[[ApprovalRequest], SecondFactorAnswer]) -> None"
    ),
    "jinqiao.client.SecondFactorAnswer": "(approver: str, totp: str) -> None",
    "jinqiao.client.WebAuthnApprovalSigner": (
        "(client: ApprovalServiceClient, address: bytes, approver: str, "
        "present: Callable[[ApprovalRequest, WebAuthnChallenge], None], *, "
        "timeout_s: float = 300.0) -> None"
    ),
    "jinqiao.client.WebAuthnChallenge": (
        "(challenge_id: str, approval_hash: str, approver: str, page_url: str, "
        "expires_at_s: float) -> None"
    ),
    "jinqiao.client.SupplyChainClient": "(client: Client) -> None",
    "jinqiao.client.ItemCustody": (
        "(item: Item, top: str, custodian: str, in_transit_to: str, recalled: bool, "
        "height: int) -> None"
    ),
    "jinqiao.client.ItemVerification": (
        "(id: str, verification: Verification, custody: ItemCustody | None, event_count: int, "
        "trace: tuple[EventRecord, ...], height: int, verified: bool) -> None"
    ),
    "jinqiao.client.TransactionResult": (
        "(transaction_hash: str, height: int, index: int, receipt: Receipt, verified: bool, "
        "transaction: SignedTransaction | None = None, time_ms: int = 0) -> None"
    ),
    "jinqiao.verify.VerificationError": (
        "(message: str, *, code: str | None = None, **details: Any) -> None"
    ),
    "jinqiao.verify.merkle_tree_hash": ("(suite: CryptoSuite, leaves: Sequence[bytes]) -> bytes"),
    "jinqiao.verify.verify_block_leaves": (
        "(genesis: Genesis, header: BlockHeader, certificate: CommitCertificate, "
        "transactions: Sequence[bytes], receipts: Sequence[bytes], *, "
        "validators: ValidatorSet | None = None) -> None"
    ),
    "jinqiao.verify.verify_certificate": (
        "(suite: CryptoSuite, chain_id: str, validators: ValidatorSet, header: BlockHeader, "
        "certificate: CommitCertificate) -> None"
    ),
    "jinqiao.verify.verify_header": (
        "(genesis: Genesis, header: BlockHeader, certificate: CommitCertificate, *, "
        "validators: ValidatorSet | None = None) -> None"
    ),
    "jinqiao.verify.verify_merkle_proof": (
        "(suite: CryptoSuite, root: bytes, leaf: bytes, proof: MerkleProof) -> None"
    ),
    "jinqiao.verify.verify_receipt_inclusion": (
        "(genesis: Genesis, header: BlockHeader, certificate: CommitCertificate, receipt: bytes, "
        "proof: MerkleProof, *, validators: ValidatorSet | None = None) -> None"
    ),
    "jinqiao.verify.verify_state_proof": (
        "(suite: CryptoSuite, state_root: bytes, full_key: bytes, value: bytes | None, "
        "proof: SparseMerkleProof) -> None"
    ),
    "jinqiao.verify.verify_state_read": (
        "(genesis: Genesis, header: BlockHeader, certificate: CommitCertificate, full_key: bytes, "
        "value: bytes | None, proof: SparseMerkleProof, *, "
        "validators: ValidatorSet | None = None) -> None"
    ),
    "jinqiao.verify.verify_state_reads": (
        "(genesis: Genesis, header: BlockHeader, certificate: CommitCertificate, "
        "reads: Sequence[StateRead], *, validators: ValidatorSet | None = None, "
        "max_reads: int = 256) -> None"
    ),
    "jinqiao.verify.verify_transaction_inclusion": (
        "(genesis: Genesis, header: BlockHeader, certificate: CommitCertificate, "
        "transaction: bytes, proof: MerkleProof, *, validators: ValidatorSet | None = None) -> None"
    ),
    "jinqiao.keys.Encrypted": (
        "(passphrase: bytes, kdf: ScryptParameters = "
        "ScryptParameters(name=scrypt, log2_n=17, r=8, p=1, salt=)) -> None"
    ),
    "jinqiao.keys.InsecurePlaintext": "() -> None",
    "jinqiao.keys.KeyFile": "(suite: str, address: str, public_key: str, secret_key: str)",
    "jinqiao.keys.KeyInfo": "(kind: KeyKind, suite: str, address: str, public_key: str) -> None",
    "jinqiao.keys.PassphraseSource": (
        "(env: str | None = None, fd: int | None = None, file: Path | None = None) -> None"
    ),
    "jinqiao.keys.generate_key": "(suite_name: str = ed25519-sha256) -> Signer",
    "jinqiao.keys.load_key": (
        "(path: Path, passphrase: bytes | PassphraseSource | None = None) -> Signer"
    ),
    "jinqiao.keys.migrate_key": "(path: Path, protection: Encrypted) -> KeyInfo",
    "jinqiao.keys.read_key_info": "(path: Path) -> KeyInfo",
    "jinqiao.keys.save_key": "(path: Path, signer: Signer, protection: KeyProtection) -> None",
    "jinqiao.keys.save_key_reference": "(path: Path, reference: HsmKeyReference) -> None",
}

# The methods of the client objects a program holds: ``Client`` and its ``client.token`` and
# ``client.payments``.
METHODS = {
    "Client": {
        "argument_names": "(self, contract: str, method: str) -> tuple[str, ...] | None",
        "account": (
            "(self, address: bytes, *, height: int | None = None, "
            "min_height: int | None = None) -> Account | None"
        ),
        "answer_or_absence": (
            "(self, path: str, params: Mapping[str, Any] | None = None) -> "
            "tuple[dict[str, Any], bool]"
        ),
        "block": (
            "(self, height: int | None = None, *, transactions: bool = False, "
            "block_hash: bytes | None = None) -> dict[str, Any]"
        ),
        "build": (
            "(self, signer: Signer, contract: str, method: str, args: CanonicalStruct, *, "
            "valid_for_blocks: int = 100, nonce: int | None = None, "
            "height: int | None = None) -> SignedTransaction"
        ),
        "close": "(self) -> None",
        "consensus": "(self) -> dict[str, Any]",
        "events": (
            "(self, *, contract: str | None = None, name: str | None = None, "
            "from_height: int | None = None, timeout_s: float | None = None) -> EventStream"
        ),
        "hash_of": "(self, transaction: SignedTransaction) -> str",
        "prove_event": "(self, event: Mapping[str, Any]) -> Event",
        "proven_query": ("(self, contract: str, name: str, **arguments: Any) -> ProvenQueryResult"),
        "proven_block": (
            "(self, height: int | None = None, *, min_height: int | None = None, "
            "block_hash: bytes | None = None) -> ProvenBlock"
        ),
        "proven_header": (
            "(self, header_hex: Any, certificate_hex: Any, height: int) -> BlockHeader"
        ),
        "proven_validator_changes": (
            "(self, from_height: int = 1) -> list[tuple[int, ValidatorSet]]"
        ),
        "certified_header": (
            "(self, height: int | None = None) -> tuple[BlockHeader, CommitCertificate]"
        ),
        "header": "(self, height: int) -> BlockHeader",
        "lookup": (
            "(self, transaction_hash_: str) -> TransactionResult | PendingTransaction | None"
        ),
        "query": "(self, contract: str, name: str, **arguments: Any) -> Any",
        "raw_get": "(self, path: str, **kwargs: Any) -> bytes",
        "raw_post": "(self, path: str, **kwargs: Any) -> bytes",
        "raw_put": "(self, path: str, **kwargs: Any) -> bytes",
        "send_raw": (
            "(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, "
            "body: Mapping[str, Any] | None = None) -> httpx.Response"
        ),
        "save": (
            "(self, file: Path, path: str, *, params: Mapping[str, Any] | None = None, "
            "body: Mapping[str, Any] | None = None) -> Verified"
        ),
        "proven_state_answer": (
            "(self, proof_hex: Any, expected_key: bytes, height: int | None, "
            "min_height: int | None) -> ProvenValue"
        ),
        "query_arguments_from_json": (
            "(self, contract: str, name: str, body: Mapping[str, Any]) -> dict[str, Any]"
        ),
        "read_record": (
            "(self, path: str, full_key: bytes, *, height: int | None = None, "
            "min_height: int | None = None, params: Mapping[str, Any] | None = None) -> "
            "ProvenValue"
        ),
        "read_state": (
            "(self, contract: str, key: bytes, *, height: int | None = None, "
            "min_height: int | None = None) -> ProvenValue"
        ),
        "read_struct": (
            "(self, contract: str, key: bytes, kind: type[T], *, "
            "height: int | None = None, min_height: int | None = None) -> T | None"
        ),
        "send": (
            "(self, signer: Signer, contract: str, method: str, args: CanonicalStruct, *, "
            "timeout_s: float | None = None) -> TransactionResult"
        ),
        "resend": (
            "(self, transaction: SignedTransaction, *, timeout_s: float | None = None) -> "
            "TransactionResult"
        ),
        "state_read_proof": (
            "(self, contract: str, key: bytes, *, height: int | None = None, "
            "min_height: int | None = None) -> StateReadProof"
        ),
        "status": "(self) -> dict[str, Any]",
        "submit": "(self, transaction: SignedTransaction) -> str",
        "submit_batch": "(self, transactions: Sequence[SignedTransaction]) -> BatchResult",
        "validator_change_proofs": "(self, from_height: int) -> list[StateReadProof]",
        "validators_for": "(self, header: BlockHeader) -> ValidatorSet",
        "wait": "(self, transaction_hash_: str, *, timeout_s: float = 30.0) -> TransactionResult",
    },
    "KeysClient": {
        "approve": "(self, account: Signer, approval_hash: bytes) -> TransactionResult",
        "propose": (
            "(self, account: Signer, contract: str, method: str, args: CanonicalStruct, "
            "expires_at_height: int) -> TransactionResult"
        ),
        "policy": "(self, address: bytes) -> SigningPolicy",
        "revoke": "(self, account: Signer, public_key: bytes) -> TransactionResult",
        "rotate": (
            "(self, account: Signer, old_public_key: bytes, "
            "new_public_key: bytes) -> TransactionResult"
        ),
        "set_policy": (
            "(self, account: Signer, keys: tuple[PolicyKey, ...], threshold: int, "
            "amount_rules: tuple[AmountRule, ...] = ()) -> TransactionResult"
        ),
    },
    "TokenClient": {
        "approve": (
            "(self, owner: Signer, asset: str, spender: bytes, "
            "amount_minor: int) -> TransactionResult"
        ),
        "asset": "(self, asset: str) -> Asset | None",
        "balance": (
            "(self, asset: str, address: bytes, *, height: int | None = None, "
            "min_height: int | None = None) -> int"
        ),
        "burn": "(self, issuer: Signer, asset: str, amount_minor: int) -> TransactionResult",
        "freeze": "(self, regulator: Signer, asset: str, address: bytes) -> TransactionResult",
        "holding": (
            "(self, asset: str, address: bytes, *, height: int | None = None, "
            "min_height: int | None = None) -> Holding | None"
        ),
        "mint": (
            "(self, issuer: Signer, asset: str, recipient: bytes, "
            "amount_minor: int) -> TransactionResult"
        ),
        "set_tier": (
            "(self, regulator: Signer, asset: str, address: bytes, tier: str) -> TransactionResult"
        ),
        "supply": "(self, asset: str, *, height: int | None = None) -> int",
        "transfer": (
            "(self, payer: Signer, asset: str, recipient: bytes, "
            "amount_minor: int) -> TransactionResult"
        ),
        "transfer_from": (
            "(self, spender: Signer, asset: str, owner: bytes, recipient: bytes, "
            "amount_minor: int) -> TransactionResult"
        ),
        "unfreeze": "(self, regulator: Signer, asset: str, address: bytes) -> TransactionResult",
    },
    "PaymentsClient": {
        "authorize": "(self, issuer: Signer, authorization: AuthorizeArgs) -> TransactionResult",
        "save_report": (
            "(self, file: Path, cycle_id: int, *, report: str = statement, "
            "institution: str | None = None, file_format: str = csv) -> Verified"
        ),
        "capture": (
            "(self, acquirer: Signer, payment_id: str, amount_minor: int, "
            "cycle_id: int) -> TransactionResult"
        ),
        "chargeback": (
            "(self, issuer: Signer, payment_id: str, amount_minor: int, reason_code: str, "
            "cycle_id: int) -> TransactionResult"
        ),
        "close_cycle": "(self, clearing_house: Signer, cycle_id: int) -> TransactionResult",
        "cycle": "(self, cycle_id: int, *, height: int | None = None) -> Cycle | None",
        "cycle_totals": "(self, cycle_id: int, *, height: int | None = None) -> CycleTotals | None",
        "declare_default": "(self, settlement_agent: Signer, cycle_id: int) -> TransactionResult",
        "entries": (
            "(self, cycle_id: int, institution: str, *, start: int = 0, "
            "limit: int = 500) -> dict[str, Any]"
        ),
        "entry": (
            "(self, cycle_id: int, institution: str, sequence: int, *, "
            "height: int | None = None) -> Entry | None"
        ),
        "figures": "(self, cycle_id: int) -> CycleFigures",
        "flow": (
            "(self, cycle_id: int, issuer: str, acquirer: str, *, "
            "height: int | None = None) -> Flow | None"
        ),
        "fund": (
            "(self, settlement_account: Signer, cycle_id: int, *, "
            "approve: bool = True) -> TransactionResult"
        ),
        "institution": (
            "(self, institution: str, *, height: int | None = None) -> Institution | None"
        ),
        "institution_cycle": (
            "(self, cycle_id: int, institution: str, *, "
            "height: int | None = None) -> InstitutionCycle | None"
        ),
        "merchant_payouts_pacs008": "(self, cycle_id: int, institution: str) -> bytes",
        "open_cycle": (
            "(self, clearing_house: Signer, currency: str, *, cutoff_height: int | None = None, "
            "cutoff_time_ms: int | None = None, "
            "funding_window_blocks: int = 100) -> TransactionResult"
        ),
        "opened_cycle_id": "(result: TransactionResult) -> int",
        "outstanding_debit": "(self, account: bytes, cycle_id: int) -> int",
        "participants": "(self, cycle_id: int, *, height: int | None = None) -> tuple[str, ...]",
        "payment": "(self, payment_id: str, *, height: int | None = None) -> Payment | None",
        "payment_status": "(self, payment_id: str) -> dict[str, Any]",
        "position": (
            "(self, cycle_id: int, institution: str, *, "
            "height: int | None = None) -> Position | None"
        ),
        "positions": "(self, cycle_id: int) -> list[dict[str, Any]]",
        "post_collateral": (
            "(self, settlement_account: Signer, currency: str, amount_minor: int, *, "
            "approve: bool = True) -> TransactionResult"
        ),
        "proven_figures": (
            "(self, cycle_id: int, *, height: int | None = None, min_height: int | None = None) "
            "-> ProvenFigures | None"
        ),
        "proven_positions": "(self, cycle_id: int) -> list[Position]",
        "refund": (
            "(self, acquirer: Signer, payment_id: str, refund_id: str, amount_minor: int, "
            "cycle_id: int) -> TransactionResult"
        ),
        "refund_record": (
            "(self, payment_id: str, refund_id: str, *, height: int | None = None) -> Refund | None"
        ),
        "register_institution": (
            "(self, clearing_house: Signer, institution: str, roles: tuple[str, ...], "
            "settlement_account: bytes, *, net_debit_cap_minor: int | None = None, "
            "active: bool = True) -> TransactionResult"
        ),
        "register_merchant": (
            "(self, acquirer: Signer, merchant_id: str, name: str, mcc: str) -> TransactionResult"
        ),
        "represent": (
            "(self, acquirer: Signer, payment_id: str, amount_minor: int, "
            "cycle_id: int) -> TransactionResult"
        ),
        "reverse": "(self, acquirer: Signer, payment_id: str) -> TransactionResult",
        "settle": "(self, settlement_agent: Signer, cycle_id: int) -> TransactionResult",
        "settlement_pacs009": "(self, cycle_id: int) -> bytes",
        "timing": "(self, cycle_id: int, *, cycle: Cycle | None = None) -> CycleTiming | None",
        "withdraw_collateral": (
            "(self, signer: Signer, currency: str, amount_minor: int) -> TransactionResult"
        ),
    },
    "SupplyChainClient": {
        "accept_offer": "(self, funder: Signer, receivable_id: int) -> TransactionResult",
        "capture": (
            "(self, signer: Signer, document: bytes, *, validator: SchemaValidator | None = None, "
            "receivers: Mapping[str, str] | None = None, lot: str = ) -> list[TransactionResult]"
        ),
        "commission": (
            "(self, signer: Signer, event: EventFields, epcs: Sequence[str], lot: str = ) -> "
            "TransactionResult"
        ),
        "company_prefix": (
            "(self, prefix: str, *, height: int | None = None) -> CompanyPrefix | None"
        ),
        "confirm": (
            "(self, obligor: Signer, asset: str, holder: str, holder_account: bytes, "
            "face_value_minor: int, due_time_ms: int, backing: Sequence[Backing]) -> "
            "TransactionResult"
        ),
        "decommission": (
            "(self, signer: Signer, event: EventFields, epcs: Sequence[str]) -> TransactionResult"
        ),
        "document": (
            "(self, document_hash: bytes, *, height: int | None = None) -> DocumentUse | None"
        ),
        "event": "(self, event_hash: bytes, *, height: int | None = None) -> EventRecord | None",
        "epcis_events": (
            "(self, key: str, *, start: int = 0, per_page: int = 100, "
            "height: int | None = None) -> EpcisPage"
        ),
        "history_page": (
            "(self, key: str, *, start: int = 0, limit: int = 100, height: int | None = None) "
            "-> HistoryPage"
        ),
        "trace": "(self, key: str, *, limit: int = 1000) -> Trace | None",
        "history": (
            "(self, key: str, *, start: int = 0, limit: int = 100, height: int | None = None) "
            "-> list[EventRecord]"
        ),
        "item": "(self, key: str, *, height: int | None = None) -> ItemCustody | None",
        "label": "(self, brand_owner: Signer, key: str, *, host: str = https://id.gs1.org) -> str",
        "mark_past_due": "(self, signer: Signer, root_id: int) -> TransactionResult",
        "past_due": "(self, organization: str, *, height: int | None = None) -> PastDueReport",
        "past_due_page": (
            "(self, organization: str, *, start: int = 0, limit: int = 100, "
            "height: int | None = None) -> PastDueReport"
        ),
        "observe": (
            "(self, signer: Signer, event: EventFields, epcs: Sequence[str]) -> TransactionResult"
        ),
        "private_document": "(self, document_hash: bytes) -> bytes",
        "put_private_document": (
            "(self, body: bytes, document_hash: bytes | None = None) -> bytes"
        ),
        "offer_finance": (
            "(self, holder: Signer, receivable_id: int, kind: str, funder: str, rate_ppm: "
            "int, payee: bytes, expires_height: int) -> TransactionResult"
        ),
        "pack": (
            "(self, signer: Signer, event: EventFields, parent: str, children: Sequence[str]) "
            "-> TransactionResult"
        ),
        "recall": "(self, signer: Signer, gtin: str, lot: str) -> TransactionResult",
        "recall_record": (
            "(self, gtin: str, lot: str, *, height: int | None = None) -> Recall | None"
        ),
        "receivable": (
            "(self, receivable_id: int, *, height: int | None = None) -> Receivable | None"
        ),
        "receivable_id": "(result: TransactionResult) -> int",
        "receive": (
            "(self, signer: Signer, event: EventFields, epcs: Sequence[str]) -> TransactionResult"
        ),
        "register_company_prefix": (
            "(self, registrar: Signer, prefix: str, organization: str) -> TransactionResult"
        ),
        "release_pledge": "(self, pledgee: Signer, receivable_id: int) -> TransactionResult",
        "repay": "(self, obligor: Signer, root_id: int) -> TransactionResult",
        "root": "(self, root_id: int, *, height: int | None = None) -> Root | None",
        "sell": (
            "(self, signer: Signer, event: EventFields, epcs: Sequence[str]) -> TransactionResult"
        ),
        "ship": (
            "(self, signer: Signer, event: EventFields, epcs: Sequence[str], receiver: str) "
            "-> TransactionResult"
        ),
        "split": (
            "(self, holder: Signer, receivable_id: int, values_minor: Sequence[int]) -> "
            "TransactionResult"
        ),
        "split_parts": "(result: TransactionResult) -> tuple[int, ...]",
        "transact": (
            "(self, signer: Signer, event: EventFields, epcs: Sequence[str], "
            "biz_transactions: Sequence[BizTransaction]) -> TransactionResult"
        ),
        "transfer": (
            "(self, holder: Signer, receivable_id: int, recipient: str, recipient_account: "
            "bytes) -> TransactionResult"
        ),
        "transform": (
            "(self, signer: Signer, event: EventFields, inputs: Sequence[str], outputs: "
            "Sequence[str], lot: str = ) -> TransactionResult"
        ),
        "unpack": (
            "(self, signer: Signer, event: EventFields, parent: str, children: Sequence[str] "
            "= ()) -> TransactionResult"
        ),
        "verify": "(self, scan: str, *, height: int | None = None) -> ItemVerification",
        "withdraw_offer": "(self, holder: Signer, receivable_id: int) -> TransactionResult",
    },
}

# ``AsyncClient`` awaits what ``Client`` returns, with the same signatures (docs/adr/0038).
ASYNC_CLIENT_METHODS = (
    "account",
    "block",
    "build",
    "hash_of",
    "lookup",
    "read_state",
    "read_struct",
    "resend",
    "send",
    "state_read_proof",
    "status",
    "submit",
    "validators_for",
    "wait",
)
METHODS["AsyncClient"] = {name: METHODS["Client"][name] for name in ASYNC_CLIENT_METHODS} | {
    "aclose": "(self) -> None"
}
METHODS["AsyncTokenClient"] = METHODS["TokenClient"]
METHODS["GovernanceClient"] = {
    "approve": "(self, admin: Signer, proposal_id: int) -> TransactionResult",
    "list": "(self, *, from_id: int = 1, limit: int = 50) -> ProposalList",
    "next_proposal_id": "(self, *, height: int | None = None) -> tuple[int, int]",
    "parameters": "(self, *, height: int | None = None) -> ChainParameters",
    "proposal": "(self, proposal_id: int) -> ProposalStatus | None",
    "propose": "(self, admin: Signer, action: ProposalAction) -> ProposalSubmitted",
    "propose_add_organization": (
        "(self, admin: Signer, organization_id: str, name: str, roles: Sequence[str], "
        "admin_public_key: bytes, admin_name: str) -> ProposalSubmitted"
    ),
    "propose_add_validator": (
        "(self, admin: Signer, public_key: bytes, name: str, organization: str, power: int = 1) "
        "-> ProposalSubmitted"
    ),
    "propose_allow_party": "(self, admin: Signer, kind: str, party: str) -> ProposalSubmitted",
    "propose_aml_parameter": "(self, admin: Signer, name: str, value: int) -> ProposalSubmitted",
    "propose_contract_call": (
        "(self, admin: Signer, contract: str, method_name: str, args: CanonicalStruct) "
        "-> ProposalSubmitted"
    ),
    "propose_deny_party": (
        "(self, admin: Signer, kind: str, party: str, reason: str) -> ProposalSubmitted"
    ),
    "propose_fee_schedule": (
        "(self, admin: Signer, currency: str, rules: Sequence[FeeRule]) -> ProposalSubmitted"
    ),
    "propose_remove_organization": (
        "(self, admin: Signer, organization_id: str) -> ProposalSubmitted"
    ),
    "propose_remove_validator": "(self, admin: Signer, address: bytes) -> ProposalSubmitted",
    "propose_replace_validator_key": (
        "(self, admin: Signer, address: bytes, public_key: bytes) -> ProposalSubmitted"
    ),
    "propose_set_parameter": "(self, admin: Signer, name: str, value: int) -> ProposalSubmitted",
    "propose_set_validator_power": (
        "(self, admin: Signer, address: bytes, power: int) -> ProposalSubmitted"
    ),
    "record": "(self, proposal_id: int) -> Proposal | None",
    "withdraw": "(self, admin: Signer, proposal_id: int) -> TransactionResult",
}


def signature(function: Callable[..., object]) -> str:
    return str(inspect.signature(function)).replace("'", "")


@pytest.mark.parametrize("module_name", sorted(EXPORTS))
def test_exported_names(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert sorted(module.__all__) == EXPORTS[module_name]
    for name in module.__all__:
        assert hasattr(module, name), f"{module_name}.__all__ names {name}, which is missing"


@pytest.mark.parametrize("module_name", ["jinqiao.verify", "jinqiao.keys"])
def test_every_public_definition_is_exported(module_name: str) -> None:
    """A public function or class defined in the module is in ``__all__``, or it would be public
    by accident; helpers are ``_private``."""
    path = SOURCE / (module_name.removeprefix("jinqiao.") + ".py")
    if not path.exists():  # a package
        path = SOURCE / module_name.removeprefix("jinqiao.") / "__init__.py"
    tree = ast.parse(path.read_text())
    defined = {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and not node.name.startswith("_")
    }
    assert defined <= set(importlib.import_module(module_name).__all__)


@pytest.mark.parametrize("qualified_name", sorted(SIGNATURES))
def test_exported_signatures(qualified_name: str) -> None:
    module_name, _, name = qualified_name.rpartition(".")
    exported = getattr(importlib.import_module(module_name), name)
    assert signature(exported) == SIGNATURES[qualified_name]


@pytest.mark.parametrize("class_name", sorted(METHODS))
def test_client_methods(class_name: str) -> None:
    cls = getattr(jinqiao.client, class_name)
    methods = {
        name: signature(member)
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }
    assert methods == METHODS[class_name]
