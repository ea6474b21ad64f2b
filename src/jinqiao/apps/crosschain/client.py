"""The light client rules: which headers of another chain a client accepts, how it follows that
chain's validator-set changes, and when it freezes (docs/crosschain.md §2).

A client trusts, for the height after its latest accepted header, the set whose hash that header
named in ``next_validators_hash`` (at first, the counterparty's genesis set). A new header must
be above the latest, name that set in ``validators_hash`` and carry a commit certificate in
which that set's members holding more than two thirds of the power precommitted it — the
certificate rule of docs/proofs.md §3, checked by the same code as the standalone verifier. When
the header names another next set, the caller supplies the set and the client stores it: the
header commits to it, so nobody can substitute another. A header the client cannot connect this
way (it skipped the header that announced a change) is refused, not guessed at.

Two certified headers at one height that differ can only come from a counterparty whose
validators signed two blocks at one height (a fork): the client freezes, keeps the evidence in
its state and refuses every later update and proof.
"""

from __future__ import annotations

import msgspec

from jinqiao.apps.crosschain.model import (
    IDENTIFIER,
    MAX_CLIENTS,
    ClientState,
    ConsensusState,
    client_key,
    consensus_key,
    validator_set_key,
)
from jinqiao.core.crypto import CryptoSuite, get_suite
from jinqiao.core.errors import InvalidInput, NodeFault
from jinqiao.core.hashing import header_hash, validator_set_hash
from jinqiao.core.proofs import SMT_EMPTY_ROOT
from jinqiao.core.types import BlockHeader, CommitCertificate, ValidatorSet
from jinqiao.execution.api import Context, VerificationError, verify_certificate

CLIENT_COUNT_KEY = b"client_count"


def check_id(ctx: Context, value: str, code: str) -> None:
    """A client or channel id (``code`` ``invalid_client_id`` or ``invalid_channel_id``)."""
    if not IDENTIFIER.fullmatch(value):
        ctx.reject(code, "an id is 1..32 lowercase letters, digits and '-'", value=value[:64])


def counterparty_suite(ctx: Context, name: str) -> CryptoSuite:
    try:
        return get_suite(name)
    except InvalidInput:
        ctx.reject("unknown_suite", f"no crypto suite {name[:64]!r}")


def create_client(
    ctx: Context, client_id: str, chain_id: str, suite_name: str, validators: ValidatorSet
) -> ClientState:
    """A new client trusting ``validators`` for the counterparty's height 1."""
    check_id(ctx, client_id, "invalid_client_id")
    if ctx.state.load(client_key(client_id), ClientState) is not None:
        ctx.reject("client_exists", f"client {client_id} already exists")
    if not chain_id or len(chain_id) > 64 or chain_id == ctx.chain_id:
        ctx.reject("invalid_client", "a client follows another chain, named by its chain id")
    count = ctx.state.load_int(CLIENT_COUNT_KEY)
    if count >= MAX_CLIENTS:
        ctx.reject("too_many_clients", f"at most {MAX_CLIENTS} clients")
    suite = counterparty_suite(ctx, suite_name)
    _check_validator_set(ctx, suite, validators)
    set_hash = validator_set_hash(suite, validators)
    genesis_state = ConsensusState(0, b"", SMT_EMPTY_ROOT, 0, set_hash, set_hash)
    client = ClientState(client_id, chain_id, suite.name, 0, 0, "", 0)
    ctx.state.save(client_key(client_id), client)
    ctx.state.save(consensus_key(client_id, 0), genesis_state)
    ctx.state.save(validator_set_key(client_id, set_hash), validators)
    ctx.state.save_int(CLIENT_COUNT_KEY, count + 1)
    ctx.emit("ClientCreated", client_id=client_id, chain_id=chain_id, suite=suite.name)
    return client


def load_client(ctx: Context, client_id: str) -> ClientState:
    client = (
        ctx.state.load(client_key(client_id), ClientState)
        if IDENTIFIER.fullmatch(client_id)
        else None
    )
    if client is None:
        ctx.reject("unknown_client", f"no client {client_id[:64]!r}")
    return client


def active_client(ctx: Context, client_id: str) -> ClientState:
    client = load_client(ctx, client_id)
    if client.frozen_height:
        ctx.reject(
            "client_frozen",
            f"client {client_id} is frozen: {client.frozen_reason}",
            frozen_height=client.frozen_height,
        )
    return client


def consensus_state(ctx: Context, client: ClientState, height: int) -> ConsensusState:
    """The accepted header at ``height``, or the rejection ``unknown_consensus_state``."""
    lowest = max(1, client.trusted_from_height)
    state = (
        ctx.state.load(consensus_key(client.client_id, height), ConsensusState)
        if lowest <= height <= client.latest_height
        else None
    )
    if state is None:
        ctx.reject(
            "unknown_consensus_state",
            f"client {client.client_id} holds no header at height {height}",
            height=height,
        )
    return state


def update_client(
    ctx: Context,
    client_id: str,
    header: BlockHeader,
    certificate: CommitCertificate,
    next_validators: ValidatorSet | None,
) -> ClientState:
    """Accept ``header`` (above the latest), or freeze the client when it conflicts with the
    header accepted at its height."""
    client = active_client(ctx, client_id)
    suite = get_suite(client.suite)
    if header.height < 1:
        ctx.reject("invalid_header", "heights start at 1")
    if header.height <= client.latest_height:
        stored = (
            ctx.state.load(consensus_key(client_id, header.height), ConsensusState)
            if header.height >= client.trusted_from_height
            else None
        )
        if stored is None:
            ctx.reject(
                "header_too_old",
                f"client {client_id} is at height {client.latest_height}; "
                f"header {header.height} is neither new nor one it accepted",
            )
        if stored.header_hash == header_hash(suite, header):
            ctx.reject("header_known", f"client {client_id} already holds header {header.height}")
        _verify(ctx, client, suite, header, certificate, stored.validators_hash)
        return freeze(ctx, client, header.height, "a second certified header at an accepted height")
    latest = ctx.state.load(consensus_key(client_id, client.latest_height), ConsensusState)
    if latest is None:
        ctx.reject("unknown_consensus_state", "the client's latest header is missing")
    if header.validators_hash != latest.next_validators_hash:
        ctx.reject(
            "unknown_validator_set",
            f"header {header.height} is certified by a set client {client_id} does not trust; "
            "relay the header that announced the change first",
        )
    _verify(ctx, client, suite, header, certificate, header.validators_hash)
    if header.time_ms <= latest.time_ms:
        ctx.reject("invalid_header", "a later header must have a later time")
    _save_next_validators(ctx, client, suite, header, next_validators)
    accepted = ConsensusState(
        header.height,
        header_hash(suite, header),
        header.state_root,
        header.time_ms,
        header.validators_hash,
        header.next_validators_hash,
    )
    ctx.state.save(consensus_key(client_id, header.height), accepted)
    updated = msgspec.structs.replace(client, latest_height=header.height)
    ctx.state.save(client_key(client_id), updated)
    ctx.emit("ClientUpdated", client_id=client_id, height=header.height)
    return updated


def submit_misbehaviour(
    ctx: Context,
    client_id: str,
    first: tuple[BlockHeader, CommitCertificate],
    second: tuple[BlockHeader, CommitCertificate],
) -> ClientState:
    """Freeze the client on two differing headers at one height, each certified by a set the
    client trusts (one it holds)."""
    client = active_client(ctx, client_id)
    suite = get_suite(client.suite)
    if first[0].height != second[0].height:
        ctx.reject("invalid_misbehaviour", "the two headers are at different heights")
    if header_hash(suite, first[0]) == header_hash(suite, second[0]):
        ctx.reject("invalid_misbehaviour", "the two headers are the same header")
    for header, certificate in (first, second):
        _verify(ctx, client, suite, header, certificate, header.validators_hash)
    return freeze(ctx, client, first[0].height, "two certified headers at one height")


def substitute_client(ctx: Context, subject_id: str, substitute_id: str) -> ClientState:
    """Restart the frozen client ``subject_id`` from the latest header of the active client
    ``substitute_id`` (IBC's client recovery): its channels carry on, trusting only what the
    substitute verified; proofs below that height are refused from now on."""
    subject = load_client(ctx, subject_id)
    if not subject.frozen_height:
        ctx.reject("client_not_frozen", f"client {subject_id} is active; only a frozen one")
    substitute = active_client(ctx, substitute_id)
    if (substitute.chain_id, substitute.suite) != (subject.chain_id, subject.suite):
        ctx.reject("client_mismatch", "the substitute follows another chain or suite")
    latest = consensus_state(ctx, substitute, substitute.latest_height)
    for set_hash in (latest.validators_hash, latest.next_validators_hash):
        validators = ctx.state.load(validator_set_key(substitute_id, set_hash), ValidatorSet)
        if validators is None:
            raise NodeFault("a client's accepted header names a validator set it does not hold")
        ctx.state.save(validator_set_key(subject_id, set_hash), validators)
    ctx.state.save(consensus_key(subject_id, latest.height), latest)
    recovered = msgspec.structs.replace(
        subject,
        latest_height=latest.height,
        frozen_height=0,
        frozen_reason="",
        trusted_from_height=latest.height,
    )
    ctx.state.save(client_key(subject_id), recovered)
    ctx.emit(
        "ClientRecovered", client_id=subject_id, substitute=substitute_id, height=latest.height
    )
    return recovered


def freeze(ctx: Context, client: ClientState, height: int, reason: str) -> ClientState:
    frozen = msgspec.structs.replace(client, frozen_height=max(height, 1), frozen_reason=reason)
    ctx.state.save(client_key(client.client_id), frozen)
    ctx.emit("ClientFrozen", client_id=client.client_id, height=height, reason=reason)
    return frozen


def _verify(
    ctx: Context,
    client: ClientState,
    suite: CryptoSuite,
    header: BlockHeader,
    certificate: CommitCertificate,
    set_hash: bytes,
) -> None:
    """The certificate rule against the stored set ``set_hash``."""
    validators = ctx.state.load(validator_set_key(client.client_id, set_hash), ValidatorSet)
    if validators is None:
        ctx.reject(
            "unknown_validator_set",
            f"header {header.height} names a validator set client {client.client_id} never held",
        )
    try:
        verify_certificate(suite, client.chain_id, validators, header, certificate)
    except VerificationError as error:
        ctx.reject("invalid_certificate", error.message, height=header.height)


def _save_next_validators(
    ctx: Context,
    client: ClientState,
    suite: CryptoSuite,
    header: BlockHeader,
    next_validators: ValidatorSet | None,
) -> None:
    if header.next_validators_hash == header.validators_hash:
        if next_validators is not None:
            ctx.reject("invalid_header", "the header announces no validator change")
        return
    if next_validators is None:
        ctx.reject("missing_validator_set", "the header announces a new set; supply it")
    _check_validator_set(ctx, suite, next_validators)
    if validator_set_hash(suite, next_validators) != header.next_validators_hash:
        ctx.reject("invalid_validator_set", "the set is not the one the header announces")
    key = validator_set_key(client.client_id, header.next_validators_hash)
    ctx.state.save(key, next_validators)
    ctx.emit(
        "ClientValidatorsChanged",
        client_id=client.client_id,
        height=header.height,
        validators_hash=header.next_validators_hash,
    )


def _check_validator_set(ctx: Context, suite: CryptoSuite, validators: ValidatorSet) -> None:
    """Sorted by address, distinct, powers positive, keys the suite's (docs/proofs.md §3.1)."""
    addresses = [validator.address for validator in validators.validators]
    if not addresses or addresses != sorted(set(addresses)):
        ctx.reject("invalid_validator_set", "a set is 1 or more validators sorted by address")
    for validator in validators.validators:
        if validator.power < 1 or validator.address != suite.address(validator.public_key):
            ctx.reject(
                "invalid_validator_set",
                f"validator {validator.name[:64]!r}: power must be positive and the address "
                "that of its key",
            )
