"""The answers of the node, chain, state, token and transaction routes (``api.operations``,
``api.chain``, ``api.state``, ``api.transactions``)."""

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


class ConsensusValidator(BaseModel):
    """One validator as consensus sees it at the height under way."""

    name: str = Field(description="Its node's name")
    address: str = Field(description="Its address, hex")
    power: int = Field(description="Its voting power")
    self: bool = Field(description="Whether it is this node")
    connected: bool = Field(description="Heard from recently (always true for this node)")
    prevote: bool | None = Field(description="Its prevote is in; null while no height runs")
    precommit: bool | None = Field(description="Its precommit is in; null while no height runs")
    last_error: str = Field(description="The connection's last error while it is silent, or ``")


class PeerView(BaseModel):
    """One peer connection of this node."""

    peer: str = Field(description="The peer node's name")
    connected: bool = Field(description="Whether a connection is open")
    connected_for_s: float | None = Field(description="Seconds since it opened; null if closed")
    frames_in: int = Field(description="Frames received")
    frames_out: int = Field(description="Frames sent")
    connects: int = Field(description="Connections made so far")
    last_error: str = Field(description="The last connection error, or ``")
    heard_from: bool = Field(description="Heard from within the silence limit")


class Consensus(BaseModel):
    """``GET /v1/consensus``: where consensus stands and, in ``summary``, why the chain is not
    committing when it is not."""

    mode: str = Field(description="`bft`")
    role: str = Field(description="`validator` or `observer`")
    validator: bool = Field(description="Whether this node votes at the next height")
    height: int = Field(description="The committed height")
    consensus_height: int = Field(description="The height consensus works on")
    round: int = Field(description="Its round")
    step: str = Field(description="`propose`, `prevote` or `precommit`")
    locked_round: int = Field(description="The locked round, -1 if none")
    valid_round: int = Field(description="The valid round, -1 if none")
    proposal_received: bool = Field(description="Whether this round's proposal arrived")
    prevote_power: int = Field(description="Voting power of the prevotes in")
    precommit_power: int = Field(description="Voting power of the precommits in")
    total_power: int = Field(description="The validator set's voting power")
    seconds_since_commit: float = Field(description="Seconds since this node last committed")
    validators: list[ConsensusValidator] = Field(description="The current validator set")
    peers: list[PeerView] = Field(description="This node's peer connections")
    evidence: int = Field(description="Equivocation evidence held")
    summary: str = Field(description="The state in words")


class HeaderView(BaseModel):
    """A block header (canonical fields, bytes as hex) and its hash."""

    chain_id: str = Field(description="The chain's id")
    height: int = Field(description="The block's height")
    time_ms: int = Field(description="Its time, agreed by the validators (ms since the epoch)")
    previous_block_hash: str = Field(description="Hex")
    transactions_root: str = Field(description="Hex")
    receipts_root: str = Field(description="Hex")
    state_root: str = Field(description="The state root after the block, hex")
    validators_hash: str = Field(description="Hex")
    next_validators_hash: str = Field(description="Hex")
    proposer: str = Field(description="The proposer's address, hex")
    transaction_count: int = Field(description="Transactions in the block")
    hash: str = Field(description="The block's hash, hex")


class CommitSignatureView(BaseModel):
    """One precommit signature of a commit certificate."""

    validator: str = Field(description="The validator's address, hex")
    signature: str = Field(description="Its signature, hex")


class CertificateView(BaseModel):
    """A commit certificate: precommits of more than two thirds of the power for one block."""

    height: int = Field(description="The block's height")
    round: int = Field(description="The round that decided it")
    block_hash: str = Field(description="Hex")
    signatures: list[CommitSignatureView] = Field(description="The precommit signatures")


class BlockTransaction(BaseModel):
    """A transaction of a block (``transactions=true``) with its receipt."""

    sender: str = Field(description="The sender's address, hex")
    contract: str = Field(description="The contract called")
    method: str = Field(description="The method called")
    nonce: int = Field(description="The sender's nonce")
    receipt: ReceiptView = Field(description="Its receipt")


class BlockAnswer(BaseModel):
    """``GET /v1/blocks/...``: a committed block's header and certificate (as JSON and as
    canonical bytes, hex); the optional fields only when asked for."""

    header: HeaderView = Field(description="The header")
    certificate: CertificateView = Field(description="Its commit certificate")
    certificate_bytes: str = Field(description="Canonical CommitCertificate, hex")
    header_bytes: str = Field(description="Canonical BlockHeader, hex")
    transaction_count: int = Field(description="Transactions in the block")
    rejected_count: int = Field(description="Of them, rejected")
    transaction_hashes: list[str] | None = Field(
        default=None, description="Each transaction's hash, hex (`hashes=true`)"
    )
    transaction_leaves: list[str] | None = Field(
        default=None, description="Each canonical transaction, hex (`leaves=true`)"
    )
    receipt_leaves: list[str] | None = Field(
        default=None, description="Each canonical receipt, hex (`leaves=true`)"
    )
    transactions: list[BlockTransaction] | None = Field(
        default=None, description="The transactions with their receipts (`transactions=true`)"
    )


class GenesisOrganizationView(BaseModel):
    """A member organization named in the genesis."""

    id: str = Field(description="Its id")
    name: str = Field(description="Its name")
    roles: list[str] = Field(default=[], description="Its roles")
    tls_ca_certificate: str = Field(default="", description="PEM of its TLS root")


class GenesisAccountView(BaseModel):
    """An account created at genesis."""

    name: str = Field(description="Its name")
    organization: str = Field(description="Its organization")
    public_key: str = Field(description="Its public key, hex")
    roles: list[str] = Field(default=[], description="Its roles")


class GenesisValidatorView(BaseModel):
    """A validator of the first set."""

    name: str = Field(description="Its node's name")
    organization: str = Field(description="The organization that runs it")
    public_key: str = Field(description="Its public key, hex")
    power: int = Field(default=1, description="Its voting power")


class ChainParametersView(BaseModel):
    """The chain's parameters at genesis (governance may change them)."""

    valid_until_window_blocks: int = Field(default=1_000, description="Replay window")
    block_max_transactions: int = Field(default=2_000, description="Transactions per block")
    governance_quorum_numerator: int = Field(default=2, description="Quorum, numerator")
    governance_quorum_denominator: int = Field(default=3, description="Quorum, denominator")
    proposal_lifetime_blocks: int = Field(default=100_000, description="A proposal's lifetime")


class GenesisFile(BaseModel):
    """``GET /v1/genesis``: the genesis file, byte for byte as the node was started with (its
    hash is the chain's ``genesis_hash``); a field left at its default may be absent."""

    chain_id: str = Field(description="The chain's id")
    genesis_time_ms: int = Field(description="The genesis time (ms since the epoch)")
    organizations: list[GenesisOrganizationView] = Field(description="The member organizations")
    accounts: list[GenesisAccountView] = Field(description="The first accounts")
    validators: list[GenesisValidatorView] = Field(description="The first validator set")
    crypto_suite: str = Field(default="ed25519-sha256", description="The crypto suite")
    parameters: ChainParametersView = Field(
        default=ChainParametersView(), description="The chain's parameters"
    )
    contracts: dict[str, dict[str, Any]] = Field(
        default={}, description="Each contract's genesis settings, by contract name"
    )
