"""Two in-process chains that certify their blocks, for cross-chain tests.

``CertifiedChain`` is the contract-test ``Chain`` plus what a network adds for a light client:
after every block it updates a real state tree (``jinqiao.ledger.smt``), builds the block header
(state root, validator-set hashes, previous block hash) and a commit certificate signed with the
validators' real keys (``signer_for(name)``). So headers, certificates and state proofs are the
ones a node would serve, and the on-chain client checks them with real signatures.

The relay functions do what ``jinqiao relay`` does, by hand: carry a header to the other chain's
client, and a packet, acknowledgement or timeout with its proof.
"""

from __future__ import annotations

from collections.abc import Iterable

from jinqiao.apps.crosschain.model import (
    CROSSCHAIN,
    Acknowledgement,
    AcknowledgePacketArgs,
    CreateClientArgs,
    OpenChannelArgs,
    Packet,
    RecvPacketArgs,
    TimeoutPacketArgs,
    UpdateClientArgs,
    commitment_key,
    full_crosschain_key,
    receipt_key,
)
from jinqiao.apps.governance import CallContract, ProposalArgs, ProposeArgs
from jinqiao.core.codec import CanonicalStruct, decode, encode
from jinqiao.core.crypto import Signer
from jinqiao.core.genesis import Genesis, genesis_hash
from jinqiao.core.hashing import header_hash, validator_set_hash, vote_signing_bytes
from jinqiao.core.limits import MAX_STATE_VALUE_BYTES
from jinqiao.core.proofs import SparseMerkleProof
from jinqiao.core.types import (
    BlockHeader,
    CommitCertificate,
    CommitSignature,
    Receipt,
    SignedTransaction,
    ValidatorSet,
    Vote,
    VoteType,
)
from jinqiao.execution.api import GOVERNANCE, VALIDATORS_KEY
from jinqiao.execution.contract import contract_address
from jinqiao.execution.runtime import BlockResult
from jinqiao.execution.state import full_key
from jinqiao.ledger.merkle import merkle_root
from jinqiao.ledger.smt import EMPTY_ROOT, MemoryNodeReader, SparseMerkleTree, value_hash
from tests.helpers.chain import DEFAULT_ORGANIZATIONS, Chain, make_genesis, result_of, signer_for

ADMINS = ("central-bank-admin", "bank-a-admin", "bank-b-admin")
RELAYER = "alice"


def chain_genesis(chain_id: str, validator_prefix: str, **kwargs: object) -> Genesis:
    """The default consortium under ``chain_id`` with its own validators
    (``<validator_prefix>-<organization>``), so the two chains share no validator key."""
    validators = [(f"{validator_prefix}-{org.id}", org.id) for org in DEFAULT_ORGANIZATIONS]
    return make_genesis(chain_id=chain_id, validators=validators, **kwargs)  # type: ignore[arg-type]


class CertifiedChain(Chain):
    """A ``Chain`` whose every block has a header and a commit certificate."""

    def __init__(self, genesis: Genesis) -> None:
        super().__init__(genesis)
        self.values: dict[bytes, bytes] = {}
        """Every value ever written, by its value hash: the state at any height."""
        self.tree = SparseMerkleTree(self.suite, MemoryNodeReader())
        self.root, _ = self._update_tree(EMPTY_ROOT, dict(self.state))
        self.signers: dict[bytes, Signer] = {}
        for validator in genesis.validators:
            self.add_signer(validator.name)
        self.validators = genesis.validator_set()
        self.previous_hash = genesis_hash(genesis)
        self.headers: dict[int, tuple[BlockHeader, CommitCertificate]] = {}
        self.validator_sets: dict[bytes, ValidatorSet] = {
            validator_set_hash(self.suite, self.validators): self.validators
        }
        self.roots: dict[int, bytes] = {0: self.root}
        self.withheld: set[bytes] = set()
        """Validators whose precommits the certificates leave out (a test of too little power)."""

    def add_signer(self, name: str) -> Signer:
        signer = signer_for(name, self.suite.name)
        self.signers[signer.address] = signer
        return signer

    def _update_tree(self, root: bytes, changes: dict[bytes, bytes | None]) -> tuple[bytes, None]:
        new_root, nodes = self.tree.update(root, changes)
        reader = self.tree.reader
        assert isinstance(reader, MemoryNodeReader)
        reader.nodes.update(nodes)
        for value in changes.values():
            if value is not None:
                self.values[value_hash(self.suite, value)] = value
        return new_root, None

    def execute(
        self, transactions: Iterable[SignedTransaction], *, verify_signatures: bool = True
    ) -> BlockResult:
        listed = list(transactions)
        result = super().execute(listed, verify_signatures=verify_signatures)
        self.root, _ = self._update_tree(self.root, dict(result.writes))
        raw = self.state.get(full_key(GOVERNANCE, VALIDATORS_KEY))
        next_validators = (
            self.validators
            if raw is None
            else decode(raw, ValidatorSet, max_bytes=MAX_STATE_VALUE_BYTES)
        )
        header = BlockHeader(
            chain_id=self.chain_id,
            height=self.height,
            time_ms=self.time_ms,
            previous_block_hash=self.previous_hash,
            transactions_root=merkle_root(self.suite, [encode(tx) for tx in listed]),
            receipts_root=merkle_root(self.suite, [encode(r) for r in result.receipts]),
            state_root=self.root,
            validators_hash=validator_set_hash(self.suite, self.validators),
            next_validators_hash=validator_set_hash(self.suite, next_validators),
            proposer=self.validators.validators[0].address,
            transaction_count=len(listed),
        )
        self.headers[self.height] = (header, self.certify(header, self.validators))
        self.roots[self.height] = self.root
        self.previous_hash = header_hash(self.suite, header)
        self.validators = next_validators
        self.validator_sets[validator_set_hash(self.suite, next_validators)] = next_validators
        return result

    def certify(
        self, header: BlockHeader, validators: ValidatorSet, *, round_number: int = 0
    ) -> CommitCertificate:
        """Precommits of ``validators`` (less the withheld) for ``header``."""
        block_hash = header_hash(self.suite, header)
        signatures = []
        for validator in validators.validators:
            if validator.address in self.withheld:
                continue
            vote = Vote(
                self.chain_id,
                header.height,
                round_number,
                int(VoteType.PRECOMMIT),
                block_hash,
                validator.address,
            )
            signature = self.signers[validator.address].sign(vote_signing_bytes(vote))
            signatures.append(CommitSignature(validator.address, signature))
        return CommitCertificate(header.height, round_number, block_hash, tuple(signatures))

    def prove(self, key: bytes, height: int) -> SparseMerkleProof:
        """The state proof of the full ``key`` after block ``height``."""
        return self.tree.prove(self.roots[height], key)

    def value_at(self, key: bytes, height: int) -> bytes | None:
        """The value of the full ``key`` after block ``height``."""
        stored = self.tree.get(self.roots[height], key)
        return None if stored is None else self.values[stored]

    def update_args(self, client_id: str, height: int | None = None) -> UpdateClientArgs:
        """The ``update_client`` arguments for this chain's header at ``height`` (the latest)."""
        header, certificate = self.headers[self.height if height is None else height]
        changed = header.next_validators_hash != header.validators_hash
        next_set = self.validator_sets[header.next_validators_hash] if changed else None
        return UpdateClientArgs(client_id, header, certificate, next_set)


def enact(chain: Chain, contract: str, method: str, args: object) -> Receipt:
    """A ``call_contract`` proposal approved by three of the four organizations."""
    action = CallContract(contract, method, encode(args))
    proposal_id = result_of(chain.ok(ADMINS[0], GOVERNANCE, "propose", ProposeArgs(action)), int)
    chain.ok(ADMINS[1], GOVERNANCE, "approve", ProposalArgs(proposal_id))
    return chain.ok(ADMINS[2], GOVERNANCE, "approve", ProposalArgs(proposal_id))


def connect(
    a: CertifiedChain,
    b: CertifiedChain,
    *,
    port: str = "xtransfer",
    channel_a: str = "to-b",
    channel_b: str = "to-a",
) -> None:
    """Clients of each other (``client_id`` = the other's chain id) and one channel pair."""
    for here, there, channel, counterparty in (
        (a, b, channel_a, channel_b),
        (b, a, channel_b, channel_a),
    ):
        create = CreateClientArgs(
            there.chain_id, there.chain_id, there.suite.name, there.genesis.validator_set()
        )
        enact(here, CROSSCHAIN, "create_client", create)
        opened = OpenChannelArgs(channel, there.chain_id, port, counterparty, port)
        enact(here, CROSSCHAIN, "open_channel", opened)


def update(to: CertifiedChain, source: CertifiedChain, height: int | None = None) -> Receipt:
    """Carry ``source``'s header (the latest) to ``to``'s client of it."""
    return to.ok(RELAYER, CROSSCHAIN, "update_client", source.update_args(source.chain_id, height))


def escrow_account(chain: Chain, contract: str = "xtransfer") -> bytes:
    """The address a contract holds tokens under (what an owner ``approve``s)."""
    return contract_address(chain.suite.hash, contract)


def sent_packet(chain: CertifiedChain, receipt: Receipt) -> Packet:
    """The one packet ``receipt``'s transaction put in ``chain``'s outbox."""
    (sent,) = [event for event in receipt.events if event.name == "PacketSent"]
    channel, sequence = sent.attribute("channel_id"), sent.attribute("sequence")
    assert isinstance(channel, str) and isinstance(sequence, int)
    return outbox_packet(chain, channel, sequence)


def outbox_packet(chain: CertifiedChain, channel: str, sequence: int) -> Packet:
    raw = chain.state[full_crosschain_key(commitment_key(channel, sequence))]
    return decode(raw, Packet, max_bytes=MAX_STATE_VALUE_BYTES)


def recv_args(source: CertifiedChain, packet: Packet, height: int | None = None) -> RecvPacketArgs:
    """The packet with its proof against ``source``'s header at ``height`` (the latest)."""
    at = source.height if height is None else height
    key = full_crosschain_key(commitment_key(packet.source_channel, packet.sequence))
    return RecvPacketArgs(packet, at, source.prove(key, at))


def acknowledgement_at(chain: CertifiedChain, packet: Packet) -> Acknowledgement | None:
    raw = chain.state.get(
        full_crosschain_key(receipt_key(packet.destination_channel, packet.sequence))
    )
    return None if raw is None else decode(raw, Acknowledgement, max_bytes=MAX_STATE_VALUE_BYTES)


def ack_args(destination: CertifiedChain, packet: Packet) -> AcknowledgePacketArgs:
    acknowledgement = acknowledgement_at(destination, packet)
    assert acknowledgement is not None
    at = destination.height
    key = full_crosschain_key(receipt_key(packet.destination_channel, packet.sequence))
    return AcknowledgePacketArgs(packet, acknowledgement, at, destination.prove(key, at))


def timeout_args(destination: CertifiedChain, packet: Packet) -> TimeoutPacketArgs:
    at = destination.height
    key = full_crosschain_key(receipt_key(packet.destination_channel, packet.sequence))
    return TimeoutPacketArgs(packet, at, destination.prove(key, at))


def deliver(source: CertifiedChain, destination: CertifiedChain, packet: Packet) -> Receipt:
    """Relay one packet end to end: header and packet to ``destination``, then its header and the
    acknowledgement back to ``source``."""
    update(destination, source)
    received = destination.ok(RELAYER, CROSSCHAIN, "recv_packet", recv_args(source, packet))
    update(source, destination)
    source.ok(RELAYER, CROSSCHAIN, "acknowledge_packet", ack_args(destination, packet))
    return received


class ChainEndpoint:
    """A ``CertifiedChain`` as the relayer (``jinqiao.client.relay.Endpoint``) sees a network:
    what the SDK would fetch over HTTP, read from the in-process chain; transactions sent as
    ``RELAYER``."""

    def __init__(self, chain: CertifiedChain) -> None:
        self.chain = chain
        self.chain_id = chain.chain_id

    def head(self) -> int:
        return self.chain.height

    def certified_header(self, height: int) -> tuple[BlockHeader, CommitCertificate]:
        return self.chain.headers[height]

    def next_validators(self, height: int) -> ValidatorSet:
        return self.chain.validator_sets[self.chain.headers[height][0].next_validators_hash]

    def validator_changes(self, after_height: int) -> list[int]:
        return [
            height
            for height, (header, _) in sorted(self.chain.headers.items())
            if height > after_height and header.next_validators_hash != header.validators_hash
        ]

    def read(self, key: bytes) -> bytes | None:
        return self.chain.state.get(full_crosschain_key(key))

    def prove(self, key: bytes, height: int) -> tuple[bytes | None, SparseMerkleProof]:
        full = full_crosschain_key(key)
        return self.chain.value_at(full, height), self.chain.prove(full, height)

    def submit(self, method: str, args: CanonicalStruct) -> str:
        return self.chain.submit(RELAYER, CROSSCHAIN, method, args).code

    def submit_many(self, method: str, arguments: list[CanonicalStruct]) -> list[str]:
        """All in one block, in this order."""
        if not arguments:
            return []
        transactions = [
            self.chain.transaction(RELAYER, CROSSCHAIN, method, args) for args in arguments
        ]
        return [receipt.code for receipt in self.chain.execute(transactions).receipts]
