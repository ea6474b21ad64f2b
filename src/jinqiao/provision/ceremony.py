"""The genesis ceremony across organizations (``jinqiao ceremony``; docs/operations.md, ADR 0034).

``jinqiao init`` makes every organization's keys on one machine: right for a laptop network,
wrong for a consortium, where no organization may hold another's keys. The ceremony splits it:

1. ``member`` — each organization, on its own machine, makes its TLS root (its CA), its account and
   validator keys and its node's TLS certificate (for the host names and addresses others reach
   it at), and writes a *membership file*: only public material (its CA certificate, public keys,
   its node's advertised address), signed with its CA key.
2. ``assemble`` — a coordinator verifies every membership file's signature against the CA
   certificate it carries, refuses an unsigned, altered or duplicated file and a key that two
   files name, and builds the genesis (and ``peers.json``, the address book) from the files and
   the consortium's parameters.
3. ``check`` — each organization confirms that the genesis it received holds exactly what it
   submitted (its organization, accounts and validators, nothing more, nothing less, nothing
   changed) and only then installs it, the roots and the peers into its node's home.

Layout of an organization's directory (``member --out DIR``)::

    DIR/membership.json            the signed membership file: public, the one file to send
    DIR/ca/tls-ca.{crt,key}        the organization's TLS root (key 0600; never leaves DIR)
    DIR/accounts/<account>.json    account keys
    DIR/clients/<account>/…        each account's API client certificate (docs/access.md)
    DIR/nodes/<node>/…             the node's home (``node.config``); genesis.json, tls/roots.pem
                                   and its peers arrive with ``check``

The signature proves that a file was made by whoever holds the CA key it names, and that nothing
in it changed since; that the CA is the organization's is confirmed out of band — the CA's
SHA-256 fingerprint, printed by ``member`` and by ``assemble``, read over the telephone, say.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from jinqiao.core.crypto import DEFAULT_SUITE, get_suite
from jinqiao.core.errors import InvalidInput
from jinqiao.core.genesis import (
    ADMIN_ROLE,
    ChainParameters,
    Genesis,
    GenesisAccount,
    GenesisOrganization,
    GenesisValidator,
    check_genesis,
    genesis_hash,
    load_genesis,
)
from jinqiao.core.limits import MAX_VALIDATORS
from jinqiao.fileio import PRIVATE_FILE_MODE, PUBLIC_FILE_MODE, save_atomically, save_new
from jinqiao.keys import KeyProtection, generate_key, save_key
from jinqiao.node.config import NodeConfig, PeerConfig, dump_config, load_config
from jinqiao.provision.network import (
    checked_genesis_bytes,
    contracts_with,
    make_node_certificate,
    make_organization_ca,
    pem_key,
    write_client_credentials,
    write_node_tls,
)

MEMBERSHIP_FORMAT = "jinqiao-membership/1"
"""Names the signed bytes' meaning, so that a signature made by the CA key for anything else can
never pass for a membership file."""
MEMBERSHIP_FILE = "membership.json"
PEERS_FILE = "peers.json"
MAX_MEMBERSHIP_BYTES = 256 * 1024
MAX_MEMBERSHIP_FILES = MAX_VALIDATORS
MAX_PARAMETERS_BYTES = 1024 * 1024
MAX_ACCOUNTS_PER_MEMBER = 100
MAX_HOSTS = 16
MAX_NODES_PER_MEMBER = 16
_HOST_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*")


Entry = GenesisAccount | GenesisValidator


class MembershipRefused(InvalidInput):
    """A membership file that is unsigned, altered, malformed, or that names a key, an
    organization or a node another file names."""

    code = "membership_refused"


class GenesisMismatch(InvalidInput):
    """A genesis that does not hold exactly what an organization submitted."""

    code = "genesis_mismatch"


class MemberNode(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Where the organization's node is reached: its peer address and its API URL."""

    name: str
    p2p_host: str
    p2p_port: int
    api_url: str


class Membership(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What an organization submits: public material only."""

    format: str
    chain_id: str
    crypto_suite: str
    organization: GenesisOrganization
    accounts: tuple[GenesisAccount, ...]
    validators: tuple[GenesisValidator, ...]
    nodes: tuple[MemberNode, ...]


class SignedMembership(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    membership: Membership
    signature: str = ""
    """Hex of the DER ECDSA P-256/SHA-256 signature by the organization's CA key over
    ``signed_bytes(membership)``."""


class TokenHolding(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A genesis token holding of an account named in a membership file."""

    account: str
    asset: str
    tier: str
    balance_minor: int = 0


class CeremonyParameters(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What the consortium decides, given to ``assemble --params``: the chain, its parameters, the
    contracts' genesis configuration, and token holdings of the members' accounts by name (their
    addresses come from the membership files)."""

    chain_id: str
    parameters: ChainParameters = ChainParameters()
    contracts: dict[str, dict[str, Any]] = {}
    holdings: tuple[TokenHolding, ...] = ()
    genesis_time_ms: int | None = None


class AddressBook(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``peers.json``: every node's advertised address. Not in genesis: addresses change and
    genesis does not; and a wrong address lets nobody in, since TLS checks every peer against
    the roots in genesis."""

    chain_id: str
    genesis_hash: str
    nodes: tuple[MemberNode, ...]


def signed_bytes(membership: Membership) -> bytes:
    return MEMBERSHIP_FORMAT.encode() + b"\n" + msgspec.json.encode(membership)


def certificate_fingerprint(pem: str) -> str:
    """SHA-256 of the certificate's DER encoding, hex: what organizations compare out of band."""
    certificate = x509.load_pem_x509_certificate(pem.encode())
    return hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()


def _check_host(host: str) -> None:
    try:
        ipaddress.ip_address(host)
        return
    except ValueError:
        pass
    if len(host) > 253 or not _HOST_NAME.fullmatch(host):
        raise InvalidInput(f"--host {host[:80]!r} is neither an IP address nor a host name")


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def make_member(
    directory: Path,
    *,
    chain_id: str,
    organization: GenesisOrganization,
    accounts: Sequence[tuple[str, tuple[str, ...]]],
    hosts: Sequence[str] = (),
    nodes: Sequence[tuple[str, Sequence[str]]] = (),
    api_port: int,
    p2p_port: int,
    protection: KeyProtection,
    bind_host: str = "0.0.0.0",  # noqa: S104 - a consortium's node listens on its host's network
    crypto_suite: str = DEFAULT_SUITE,
) -> SignedMembership:
    """Step 1, on the organization's machine: every key and certificate of one organization and
    of its validator nodes, and its signed membership file, in ``directory`` (new or empty).

    One node named after the organization, reached at ``hosts``, or several: ``nodes`` as
    (name, hosts). A node's hosts are the names and addresses the others reach it at: the first
    is advertised, all are in its certificate. Everything is checked before anything is
    written."""
    get_suite(crypto_suite)
    if bool(hosts) == bool(nodes):
        raise InvalidInput("give the node's --host values, or --node NAME=HOST,… for each node")
    planned = [(organization.id, list(hosts))] if hosts else [(n, list(h)) for n, h in nodes]
    if len(planned) > MAX_NODES_PER_MEMBER:
        raise InvalidInput(f"an organization submits at most {MAX_NODES_PER_MEMBER} nodes")
    for _, node_hosts in planned:
        if not node_hosts or len(node_hosts) > MAX_HOSTS:
            raise InvalidInput(f"give 1..{MAX_HOSTS} hosts per node: where the others reach it")
        for host in node_hosts:
            _check_host(host)
    if not 1 <= len(accounts) <= MAX_ACCOUNTS_PER_MEMBER:
        raise InvalidInput(f"an organization submits 1..{MAX_ACCOUNTS_PER_MEMBER} accounts")
    if not any(ADMIN_ROLE in roles for _, roles in accounts):
        raise InvalidInput(f"one of the accounts needs the role {ADMIN_ROLE!r}")
    for port_name, port in (("API port", api_port), ("P2P port", p2p_port)):
        if not 1 <= port <= 65_535:
            raise InvalidInput(f"the {port_name} must be 1..65535")
    if directory.exists() and any(directory.iterdir()):
        raise InvalidInput(f"{directory} is not empty; choose a new directory")
    ca_key, ca_certificate = make_organization_ca(organization.id)
    ca_pem = ca_certificate.public_bytes(serialization.Encoding.PEM)
    organization = msgspec.structs.replace(organization, tls_ca_certificate=ca_pem.decode())
    validator_signers = [generate_key(crypto_suite) for _ in planned]
    account_signers = [(name, roles, generate_key(crypto_suite)) for name, roles in accounts]
    membership = Membership(
        format=MEMBERSHIP_FORMAT,
        chain_id=chain_id,
        crypto_suite=crypto_suite,
        organization=organization,
        accounts=tuple(
            GenesisAccount(name, organization.id, signer.public_key.hex(), roles)
            for name, roles, signer in account_signers
        ),
        validators=tuple(
            GenesisValidator(name, organization.id, signer.public_key.hex())
            for (name, _), signer in zip(planned, validator_signers, strict=True)
        ),
        nodes=tuple(
            MemberNode(
                name, node_hosts[0], p2p_port, f"https://{_url_host(node_hosts[0])}:{api_port}"
            )
            for name, node_hosts in planned
        ),
    )
    _check_membership_content(membership, "the new membership")
    signed = SignedMembership(membership, sign_membership(ca_key, membership))
    configs = [
        NodeConfig(
            name=name,
            api_host=bind_host,
            api_port=api_port,
            p2p_host=bind_host,
            p2p_port=p2p_port,
            advertised_host=node_hosts[0],
            api_hosts=(*dict.fromkeys(node_hosts), "localhost", "127.0.0.1"),
        )
        for name, node_hosts in planned
    ]
    for config in configs:
        config.check()  # a bad --bind is refused before anything is written
    directory.mkdir(parents=True, exist_ok=True)
    save_new(directory / "ca" / "tls-ca.key", pem_key(ca_key), mode=PRIVATE_FILE_MODE)
    save_atomically(directory / "ca" / "tls-ca.crt", ca_pem, mode=PUBLIC_FILE_MODE)
    for name, roles, signer in account_signers:
        save_key(directory / "accounts" / f"{name}.json", signer, protection)
        # Until ``check`` installs the consortium's roots, a client trusts its own root only.
        write_client_credentials(
            directory, name, organization.id, roles, ca_key, ca_certificate, ca_pem
        )
    for config, (_, node_hosts), signer in zip(configs, planned, validator_signers, strict=True):
        home = directory / "nodes" / config.name
        save_atomically(home / "config.json", dump_config(config), mode=PUBLIC_FILE_MODE)
        save_key(home / config.validator_key_file, signer, protection)
        node_key, node_certificate = make_node_certificate(
            config.name, organization.id, ca_key, ca_certificate, hosts=tuple(node_hosts)
        )
        # Until ``check`` installs the consortium's roots, the node trusts its own root only.
        write_node_tls(home, node_key, node_certificate, ca_pem)
    save_atomically(directory / MEMBERSHIP_FILE, dump_membership(signed), mode=PUBLIC_FILE_MODE)
    return signed


def sign_membership(ca_key: ec.EllipticCurvePrivateKey, membership: Membership) -> str:
    return ca_key.sign(signed_bytes(membership), ec.ECDSA(hashes.SHA256())).hex()


def dump_membership(signed: SignedMembership) -> bytes:
    return msgspec.json.format(msgspec.json.encode(signed), indent=2) + b"\n"


def load_membership(data: bytes, source: str) -> Membership:
    """The membership in a file, once its signature verifies under the CA certificate it
    carries and its content is sound; ``MembershipRefused`` naming ``source`` otherwise."""
    if len(data) > MAX_MEMBERSHIP_BYTES:
        raise MembershipRefused(f"{source} is over {MAX_MEMBERSHIP_BYTES} bytes")
    try:
        signed = msgspec.json.decode(data, type=SignedMembership)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise MembershipRefused(f"{source} is not a membership file: {exc}") from None
    membership = signed.membership
    if membership.format != MEMBERSHIP_FORMAT:
        raise MembershipRefused(
            f"{source}: format {membership.format[:40]!r} is not {MEMBERSHIP_FORMAT}"
        )
    if not signed.signature:
        raise MembershipRefused(f"{source} is unsigned: a membership file is signed by its CA key")
    ca_public_key = _ca_public_key(membership.organization, source)
    try:
        ca_public_key.verify(
            bytes.fromhex(signed.signature), signed_bytes(membership), ec.ECDSA(hashes.SHA256())
        )
    except (InvalidSignature, ValueError):
        raise MembershipRefused(
            f"{source}: the signature does not verify under the CA certificate of "
            f"{membership.organization.id!r}: the file was altered after it was signed, or "
            "signed by another key"
        ) from None
    _check_membership_content(membership, source)
    return membership


def _ca_public_key(organization: GenesisOrganization, source: str) -> ec.EllipticCurvePublicKey:
    """The public key of the organization's CA certificate: a self-signed P-256 CA certificate
    whose organization is the one the file names."""
    try:
        certificate = x509.load_pem_x509_certificate(organization.tls_ca_certificate.encode())
        certificate.verify_directly_issued_by(certificate)
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound) as exc:
        raise MembershipRefused(
            f"{source}: the CA certificate of {organization.id!r} is not a self-signed CA "
            f"certificate: {exc}"
        ) from None
    public_key = certificate.public_key()
    names = certificate.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)
    if (
        not constraints.value.ca
        or not isinstance(public_key, ec.EllipticCurvePublicKey)
        or not isinstance(public_key.curve, ec.SECP256R1)
        or [name.value for name in names] != [organization.id]
    ):
        raise MembershipRefused(
            f"{source}: the CA certificate must be a P-256 CA certificate of organization "
            f"{organization.id!r}"
        )
    return public_key


def _check_membership_content(membership: Membership, source: str) -> None:
    organization = membership.organization.id
    if not 1 <= len(membership.accounts) <= MAX_ACCOUNTS_PER_MEMBER:
        raise MembershipRefused(f"{source}: 1..{MAX_ACCOUNTS_PER_MEMBER} accounts")
    if not 1 <= len(membership.validators) <= MAX_VALIDATORS or len(membership.nodes) != len(
        membership.validators
    ):
        raise MembershipRefused(f"{source}: one node entry for each validator")
    for entry in _entries(membership):
        if entry.organization != organization:
            raise MembershipRefused(
                f"{source}: {entry.name!r} belongs to {entry.organization!r}, not to the "
                f"organization of the file, {organization!r}"
            )
    if {node.name for node in membership.nodes} != {v.name for v in membership.validators}:
        raise MembershipRefused(f"{source}: the node entries must name the validators")
    for node in membership.nodes:
        if not 1 <= node.p2p_port <= 65_535:
            raise MembershipRefused(f"{source}: node {node.name!r}: p2p_port must be 1..65535")
        try:
            _check_host(node.p2p_host)
        except InvalidInput as exc:
            raise MembershipRefused(f"{source}: node {node.name!r}: {exc.message}") from None
    # The organization alone, as a genesis of its own: identifiers, names, roles, an admin, keys
    # that are keys of the suite — refused here, naming the file, rather than in the genesis.
    alone = Genesis(
        chain_id=membership.chain_id,
        genesis_time_ms=0,
        organizations=(membership.organization,),
        accounts=membership.accounts,
        validators=membership.validators,
        crypto_suite=membership.crypto_suite,
    )
    try:
        check_genesis(alone)
    except InvalidInput as exc:
        raise MembershipRefused(f"{source}: {exc.message}") from None


def assemble(
    files: Sequence[tuple[str, bytes]],
    parameters: CeremonyParameters,
    *,
    expected_fingerprints: Mapping[str, str] | None = None,
) -> tuple[bytes, AddressBook]:
    """Step 2, by the coordinator: the genesis file and the address book from the organizations'
    membership files (source name, bytes) and the consortium's parameters. Refuses, before
    anything is built, a file that is unsigned or altered, the same file twice, two files of one
    organization, and a public key, CA or node name that two files use. With
    ``expected_fingerprints`` (organization → the CA fingerprint it confirmed out of band), a file
    whose CA has another fingerprint, and an expected organization without a file."""
    if not 1 <= len(files) <= MAX_MEMBERSHIP_FILES:
        raise MembershipRefused(f"give 1..{MAX_MEMBERSHIP_FILES} membership files")
    memberships: list[Membership] = []
    owners: dict[str, int] = {}
    """Every identifier that must be unique across the files (organization, CA key, account and
    validator keys, account and node names) → the index of the file that used it first."""
    for index, (source, data) in enumerate(files):
        membership = load_membership(data, source)
        if membership.chain_id != parameters.chain_id:
            raise MembershipRefused(
                f"{source} is for chain {membership.chain_id!r}, not {parameters.chain_id!r}"
            )
        if memberships and membership.crypto_suite != memberships[0].crypto_suite:
            raise MembershipRefused(
                f"{source} uses {membership.crypto_suite}; the others use "
                f"{memberships[0].crypto_suite}"
            )
        organization = membership.organization
        claims = [
            (f"organization {organization.id!r}", organization.id),
            (
                f"the CA key of {organization.id!r}",
                _ca_public_key(organization, source)
                .public_bytes(
                    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
                )
                .hex(),
            ),
            *((f"account name {a.name!r}", f"account:{a.name}") for a in membership.accounts),
            *((f"node name {v.name!r}", f"node:{v.name}") for v in membership.validators),
            *((f"the key of account {a.name!r}", a.public_key) for a in membership.accounts),
            *((f"the key of validator {v.name!r}", v.public_key) for v in membership.validators),
        ]
        for what, claim in claims:
            first = owners.setdefault(claim, index)
            if first != index:
                raise MembershipRefused(
                    f"{source}: {what} is already used by {files[first][0]}; each organization "
                    "submits its own keys and names, once"
                )
            if sum(1 for _, other in claims if other == claim) > 1:
                raise MembershipRefused(f"{source}: {what} is used twice in this file")
        memberships.append(membership)
    if expected_fingerprints is not None:
        _check_fingerprints(memberships, expected_fingerprints)
    by_name = {
        account.name: account for membership in memberships for account in membership.accounts
    }
    suite = get_suite(memberships[0].crypto_suite)
    holdings: list[dict[str, Any]] = []
    for holding in parameters.holdings:
        account = by_name.get(holding.account)
        if account is None:
            raise InvalidInput(f"holdings: no membership file names an account {holding.account!r}")
        holdings.append(
            {
                "address": suite.address(bytes.fromhex(account.public_key)).hex(),
                "asset": holding.asset,
                "tier": holding.tier,
                "balance_minor": holding.balance_minor,
            }
        )
    genesis = Genesis(
        chain_id=parameters.chain_id,
        genesis_time_ms=int(time.time() * 1000)
        if parameters.genesis_time_ms is None
        else parameters.genesis_time_ms,
        organizations=tuple(m.organization for m in memberships),
        accounts=tuple(a for m in memberships for a in m.accounts),
        validators=tuple(v for m in memberships for v in m.validators),
        crypto_suite=suite.name,
        parameters=parameters.parameters,
        contracts=contracts_with(parameters.contracts, holdings, []),
    )
    genesis_bytes = checked_genesis_bytes(genesis)
    book = AddressBook(
        parameters.chain_id,
        genesis_hash(genesis).hex(),
        tuple(node for m in memberships for node in m.nodes),
    )
    return genesis_bytes, book


def _check_fingerprints(memberships: Sequence[Membership], expected: Mapping[str, str]) -> None:
    found = {
        m.organization.id: certificate_fingerprint(m.organization.tls_ca_certificate)
        for m in memberships
    }
    for organization, fingerprint in expected.items():
        if organization not in found:
            raise MembershipRefused(f"no membership file of {organization!r}, which you expect")
        if found[organization] != fingerprint.lower().replace(":", ""):
            raise MembershipRefused(
                f"the CA of {organization!r} has the fingerprint {found[organization]}, not the "
                f"{fingerprint} it confirmed: this file is not from the CA it confirmed"
            )


def load_parameters(data: bytes, source: str) -> CeremonyParameters:
    if len(data) > MAX_PARAMETERS_BYTES:
        raise InvalidInput(f"{source} is over {MAX_PARAMETERS_BYTES} bytes")
    try:
        return msgspec.json.decode(data, type=CeremonyParameters)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise InvalidInput(f"{source}: {exc}") from None


def dump_address_book(book: AddressBook) -> bytes:
    return msgspec.json.format(msgspec.json.encode(book), indent=2) + b"\n"


def load_address_book(data: bytes, source: str) -> AddressBook:
    if len(data) > MAX_MEMBERSHIP_BYTES * 4:
        raise InvalidInput(f"{source} is too large for an address book")
    try:
        return msgspec.json.decode(data, type=AddressBook)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise InvalidInput(f"{source}: {exc}") from None


def check_genesis_against(genesis: Genesis, membership: Membership) -> None:
    """Step 3's test: ``GenesisMismatch`` naming the first difference unless ``genesis`` holds
    exactly the organization, accounts and validators of ``membership``, for its chain and suite."""
    organization_id = membership.organization.id
    if genesis.chain_id != membership.chain_id:
        raise GenesisMismatch(
            f"the genesis is for chain {genesis.chain_id!r}; you submitted for "
            f"{membership.chain_id!r}"
        )
    if genesis.crypto_suite != membership.crypto_suite:
        raise GenesisMismatch(
            f"the genesis uses {genesis.crypto_suite}; you submitted {membership.crypto_suite}"
        )
    mine = [o for o in genesis.organizations if o.id == organization_id]
    if not mine:
        raise GenesisMismatch(f"the genesis has no organization {organization_id!r}")
    if mine != [membership.organization]:
        raise GenesisMismatch(
            f"the genesis's organization {organization_id!r} differs from what you submitted "
            "(name, roles or CA certificate)"
        )
    _compare_entries("accounts", organization_id, genesis.accounts, membership.accounts)
    _compare_entries("validators", organization_id, genesis.validators, membership.validators)
    our_keys = {entry.public_key for entry in _entries(membership)}
    everyone: tuple[Entry, ...] = (*genesis.accounts, *genesis.validators)
    for entry in everyone:
        if entry.public_key in our_keys and entry.organization != organization_id:
            raise GenesisMismatch(
                f"the genesis gives your key to {entry.name!r} of {entry.organization!r}"
            )


def _entries(membership: Membership) -> tuple[Entry, ...]:
    return (*membership.accounts, *membership.validators)


def _compare_entries(
    kind: str, organization_id: str, in_genesis: Sequence[Entry], submitted: Sequence[Entry]
) -> None:
    theirs = {entry.name: entry for entry in in_genesis if entry.organization == organization_id}
    ours = {entry.name: entry for entry in submitted}
    if theirs != ours:
        added = sorted(theirs.keys() - ours.keys())
        missing = sorted(ours.keys() - theirs.keys())
        changed = sorted(name for name in theirs.keys() & ours.keys() if theirs[name] != ours[name])
        raise GenesisMismatch(
            f"the genesis's {kind} of {organization_id!r} differ from what you submitted: "
            f"added {added}, missing {missing}, changed {changed}"
        )


def check_submission(genesis_bytes: bytes, membership_file: Path) -> tuple[Genesis, Membership]:
    """Step 3's check alone: the genesis, once it holds exactly what ``membership_file`` (the
    organization's own, still verifying under its CA) submitted."""
    try:
        membership_data = membership_file.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {membership_file}: {exc.strerror}") from None
    membership = load_membership(membership_data, str(membership_file))
    genesis = load_genesis(genesis_bytes)
    check_genesis_against(genesis, membership)
    return genesis, membership


def check_and_install(
    directory: Path,
    genesis_bytes: bytes,
    book: AddressBook,
    *,
    membership_file: Path | None = None,
) -> Genesis:
    """Step 3, on the organization's machine: check the genesis against the organization's own
    membership file (``directory/membership.json`` unless given) and the address book against
    the genesis; then, and only then, install into each of its node homes the genesis, the
    consortium's roots and the other nodes as peers, and the roots into its clients' folders.
    A refusal changes nothing."""
    genesis, membership = check_submission(
        genesis_bytes, membership_file or directory / MEMBERSHIP_FILE
    )
    if book.genesis_hash != genesis_hash(genesis).hex() or book.chain_id != genesis.chain_id:
        raise GenesisMismatch("the address book is for another genesis (its genesis_hash differs)")
    validator_names = {validator.name for validator in genesis.validators}
    for node in book.nodes:
        if node.name not in validator_names:
            raise GenesisMismatch(f"the address book names {node.name!r}, no validator of genesis")
    ours = {node.name for node in membership.nodes}
    if not ours <= {node.name for node in book.nodes}:
        raise GenesisMismatch("the address book does not list your node")
    homes = {name: directory / "nodes" / name for name in sorted(ours)}
    configs = {name: load_config(home) for name, home in homes.items()}
    roots = "".join(o.tls_ca_certificate for o in genesis.organizations).encode()
    for name, home in homes.items():
        peers = tuple(
            PeerConfig(node.name, node.p2p_host, node.p2p_port)
            for node in book.nodes
            if node.name != name
        )
        config = msgspec.structs.replace(configs[name], peers=peers)
        save_atomically(home / "genesis.json", genesis_bytes, mode=PUBLIC_FILE_MODE)
        save_atomically(home / "tls" / "roots.pem", roots, mode=PUBLIC_FILE_MODE)
        save_atomically(home / "config.json", dump_config(config), mode=PUBLIC_FILE_MODE)
    for account in membership.accounts:
        client = directory / "clients" / account.name
        if client.is_dir():
            save_atomically(client / "roots.pem", roots, mode=PUBLIC_FILE_MODE)
    return genesis
