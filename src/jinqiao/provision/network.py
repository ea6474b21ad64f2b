"""``jinqiao init``: write a network directory from a network specification.

    <dir>/network.json              what was created: nodes, their API URLs, accounts and key files
    <dir>/genesis.json              the genesis every node runs
    <dir>/orgs/<org>/tls-ca.{crt,key}  each organization's TLS root (key 0600)
    <dir>/accounts/<account>.json   account keys (0600)
    <dir>/clients/<account>/…       the account's API client certificate, key (0600), the
                                    consortium roots and client.json (docs/access.md)
    <dir>/nodes/<node>/…            one home directory per validator (see ``node.config``)

All keys are generated here with the operating system's randomness; nothing is downloaded.
Account and validator keys are written as the caller says (``jinqiao.keys.KeyProtection``:
encrypted under a passphrase, or plaintext only when asked for explicitly), or taken from an
existing key file — an HSM key reference, say — named per account or node in ``existing_keys``;
the TLS keys are plaintext PEM (0600).
``jinqiao node add`` (``add_node``) later adds the home of a node that joins the running network.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from jinqiao.apps import default_contracts
from jinqiao.core.crypto import DEFAULT_SUITE, get_suite
from jinqiao.core.errors import InvalidInput
from jinqiao.core.genesis import (
    ChainParameters,
    Genesis,
    GenesisAccount,
    GenesisOrganization,
    GenesisValidator,
    check_genesis,
    dump_genesis,
    load_genesis,
)
from jinqiao.execution.runtime import Runtime
from jinqiao.fileio import PRIVATE_FILE_MODE, PUBLIC_FILE_MODE, save_atomically, save_new
from jinqiao.keys import KeyInfo, KeyProtection, generate_key, read_key_info, save_key
from jinqiao.node.config import NodeConfig, ObserverConfig, PeerConfig, dump_config, load_config

TLS_VALIDITY_DAYS = 825
_NODE_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{0,63}")


class AccountSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    roles: tuple[str, ...] = ()
    token_holdings: tuple[dict[str, Any], ...] = ()
    """Genesis token holdings of this account, e.g. ``{"asset": "CNY", "tier": "institution",
    "balance_minor": 0}``; its address is filled in when the key is made."""
    payments_institution: dict[str, Any] | None = None
    """Register the account's organization for payments at genesis with this account as its
    settlement account, e.g. ``{"roles": ["clearing_house"]}`` (any other field of a genesis
    payments institution may be given; ``id`` and ``settlement_account`` are filled in)."""


class OrganizationSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: str
    name: str
    roles: tuple[str, ...] = ()
    validators: int = 0
    accounts: tuple[AccountSpec, ...] = ()


class NetworkSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    chain_id: str
    organizations: tuple[OrganizationSpec, ...]
    parameters: ChainParameters = ChainParameters()
    contracts: dict[str, dict[str, Any]] = {}
    base_api_port: int = 8600
    base_p2p_port: int = 26600
    crypto_suite: str = DEFAULT_SUITE
    """The network's crypto suite (``ed25519-sha256`` or ``sm2-sm3``): genesis names it and
    every account and validator key is made for it."""


class NodeEntry(msgspec.Struct, frozen=True):
    name: str
    organization: str
    home: str
    api_url: str
    address: str
    """The validator address; empty for an observer."""
    role: str = "validator"
    """``validator`` or ``observer`` (``jinqiao node add --observer``)."""


class AccountEntry(msgspec.Struct, frozen=True):
    name: str
    organization: str
    roles: tuple[str, ...]
    address: str
    key_file: str


class NetworkLayout(msgspec.Struct, frozen=True):
    """``network.json``: the map of a network directory, for people and for the CLI."""

    chain_id: str
    genesis_file: str
    nodes: tuple[NodeEntry, ...]
    accounts: tuple[AccountEntry, ...]

    def account(self, name: str) -> AccountEntry:
        for entry in self.accounts:
            if entry.name == name:
                return entry
        raise InvalidInput(f"no account named {name!r} in this network")


def load_spec(data: bytes) -> NetworkSpec:
    try:
        return msgspec.json.decode(data, type=NetworkSpec)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise InvalidInput(f"invalid network spec: {exc}") from None


def load_layout(directory: Path) -> NetworkLayout:
    path = directory / "network.json"
    try:
        return msgspec.json.decode(path.read_bytes(), type=NetworkLayout)
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise InvalidInput(f"{path}: {exc}") from None


def pull_private_data_from_each_other(directory: Path, layout: NetworkLayout) -> None:
    """Set every node's ``private_data_sources`` to the nodes of the other organizations (one
    each, the first listed), so a member's node gathers private documents and credit
    disclosures from the others (docs/access.md "Private data", docs/credit.md "Disclosure")."""
    sources: dict[str, str] = {}
    for entry in layout.nodes:
        sources.setdefault(entry.organization, entry.api_url)
    for entry in layout.nodes:
        home = directory / entry.home
        config = msgspec.structs.replace(
            load_config(home),
            private_data_sources=tuple(
                url
                for organization, url in sorted(sources.items())
                if organization != entry.organization
            ),
        )
        save_atomically(home / "config.json", dump_config(config), mode=PUBLIC_FILE_MODE)


def _write_private(path: Path, data: bytes) -> None:
    save_new(path, data, mode=PRIVATE_FILE_MODE)


def _write_public(path: Path, data: bytes) -> None:
    save_atomically(path, data, mode=PUBLIC_FILE_MODE)


def _name(common_name: str, organization: str, roles: tuple[str, ...] = ()) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            *(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, role) for role in roles),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def make_organization_ca(organization: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    name = _name(f"{organization} TLS root", organization)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=TLS_VALIDITY_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return key, certificate


NODE_EXTENDED_KEY_USAGES = (ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH)
"""A node is the TLS server of the connections it accepts and the client of those it dials."""


def make_node_certificate(
    node: str,
    organization: str,
    ca_key: ec.EllipticCurvePrivateKey,
    ca_certificate: x509.Certificate,
    *,
    valid_days: int = TLS_VALIDITY_DAYS,
    extended_key_usages: tuple[x509.ObjectIdentifier, ...] = NODE_EXTENDED_KEY_USAGES,
    roles: tuple[str, ...] = (),
    hosts: tuple[str, ...] = (),
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A node's TLS certificate, issued directly by its organization's root (``p2p`` checks
    exactly that), or, with ``roles`` (as ``OU`` values) and ``clientAuth`` alone, an API client
    certificate (``make_client_certificate``). A negative ``valid_days`` makes an expired one
    (for tests). ``hosts`` are the host names and IP addresses clients reach the node at (a
    ceremony's ``--host``), added to the subject alternative names beside ``localhost``."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    not_after = now + datetime.timedelta(days=valid_days)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name(node, organization, roles))
        .issuer_name(ca_certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(min(now, not_after) - datetime.timedelta(minutes=5))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(subject_alternative_names((node, *hosts))),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage(list(extended_key_usages)), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return key, certificate


def subject_alternative_names(hosts: tuple[str, ...]) -> list[x509.GeneralName]:
    """``localhost`` and 127.0.0.1 (a node is always reachable on its own machine), then each
    host: an IP address as such, anything else as a DNS name; each once."""
    names: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ]
    for host in hosts:
        try:
            name: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
        except ValueError:
            name = x509.DNSName(host)
        if name not in names:
            names.append(name)
    return names


def write_node_tls(
    home: Path, key: ec.EllipticCurvePrivateKey, certificate: x509.Certificate, roots: bytes
) -> None:
    """``<home>/tls/``: the node's TLS key (0600, never overwritten), its certificate and the
    consortium's roots."""
    _write_private(home / "tls" / "node.key", pem_key(key))
    _write_public(home / "tls" / "node.crt", certificate.public_bytes(serialization.Encoding.PEM))
    _write_public(home / "tls" / "roots.pem", roots)


CLIENT_CONFIG_FILE = "client.json"
"""In ``<dir>/clients/<account>/``: what the SDK and the CLI read (``client.Credentials``)."""


def make_client_certificate(
    account: str,
    organization: str,
    roles: tuple[str, ...],
    ca_key: ec.EllipticCurvePrivateKey,
    ca_certificate: x509.Certificate,
    *,
    valid_days: int = TLS_VALIDITY_DAYS,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """The API client certificate of an account: ``CN`` the account, ``O`` its organization,
    one ``OU`` per role; issued by the organization's root (docs/access.md)."""
    return make_node_certificate(
        account,
        organization,
        ca_key,
        ca_certificate,
        valid_days=valid_days,
        extended_key_usages=(ExtendedKeyUsageOID.CLIENT_AUTH,),
        roles=roles,
    )


def write_client_credentials(
    directory: Path,
    account: str,
    organization: str,
    roles: tuple[str, ...],
    ca_key: ec.EllipticCurvePrivateKey,
    ca_certificate: x509.Certificate,
    roots: bytes,
) -> Path:
    """``<directory>/clients/<account>/``: the account's client certificate and key (0600), the
    consortium's roots (to check the node's certificate) and ``client.json`` naming them."""
    home = directory / "clients" / account
    key, certificate = make_client_certificate(account, organization, roles, ca_key, ca_certificate)
    _write_private(home / "client.key", pem_key(key))
    _write_public(home / "client.crt", certificate.public_bytes(serialization.Encoding.PEM))
    _write_public(home / "roots.pem", roots)
    config = {
        "account": account,
        "organization": organization,
        "certificate_file": "client.crt",
        "key_file": "client.key",
        "roots_file": "roots.pem",
    }
    _write_public(home / CLIENT_CONFIG_FILE, msgspec.json.format(msgspec.json.encode(config)))
    return home


@dataclass(frozen=True)
class _PlannedKey:
    """A key of the new network: its public parts now, its file written by ``save``."""

    public_key: bytes
    address: bytes
    save: Callable[[Path], None]


def _plan_key(protection: KeyProtection, existing: Path | None, suite_name: str) -> _PlannedKey:
    if existing is None:
        signer = generate_key(suite_name)
        return _PlannedKey(
            signer.public_key, signer.address, lambda path: save_key(path, signer, protection)
        )
    info = _existing_key_info(existing, suite_name)
    data = existing.read_bytes()
    return _PlannedKey(
        bytes.fromhex(info.public_key),
        bytes.fromhex(info.address),
        lambda path: save_new(path, data),
    )


def _existing_key_info(path: Path, suite_name: str) -> KeyInfo:
    """The public parts of an existing key file, refused unless made for ``suite_name``."""
    info = read_key_info(path)
    if info.suite != suite_name:
        raise InvalidInput(f"{path} is a {info.suite} key; this network uses {suite_name}")
    return info


def _node_names(organization: OrganizationSpec) -> list[str]:
    if organization.validators == 1:
        return [organization.id]
    return [f"{organization.id}-{index}" for index in range(organization.validators)]


def _check_existing_keys(spec: NetworkSpec, existing_keys: Mapping[str, Path]) -> None:
    """Refuse, before anything is written, a name that is no account or node of ``spec``, a file
    that is no key file and a key of another suite than the network's."""
    names: set[str] = set()
    for organization in spec.organizations:
        names.update(_node_names(organization))
        names.update(account.name for account in _account_specs(organization))
    for name, path in existing_keys.items():
        if name not in names:
            raise InvalidInput(f"no account or node named {name!r} in the network specification")
        _existing_key_info(path, spec.crypto_suite)


def _account_specs(organization: OrganizationSpec) -> tuple[AccountSpec, ...]:
    return organization.accounts or (AccountSpec(f"{organization.id}-admin", ("admin",)),)


def contracts_with(
    contracts: Mapping[str, dict[str, Any]],
    holdings: list[dict[str, Any]],
    institutions: list[dict[str, Any]],
) -> dict[str, dict[str, Any]]:
    """The contracts' genesis configuration with these token holdings and payments institutions
    appended to those it names."""
    result = dict(contracts)
    if holdings:
        token = dict(result.get("token", {}))
        token["holdings"] = [*token.get("holdings", []), *holdings]
        result["token"] = token
    if institutions:
        payments = dict(result.get("payments", {}))
        payments["institutions"] = [*payments.get("institutions", []), *institutions]
        result["payments"] = payments
    return result


def checked_genesis_bytes(genesis: Genesis) -> bytes:
    """The genesis file of ``genesis`` once it is sound and every contract accepts its
    configuration: a dry run through the contracts refuses a bad one here, with its reason,
    rather than when the first node starts."""
    check_genesis(genesis)
    Runtime(genesis.suite, genesis.chain_id, default_contracts()).apply_genesis(genesis)
    return dump_genesis(genesis)


def init_network(
    directory: Path,
    spec: NetworkSpec,
    *,
    protection: KeyProtection,
    existing_keys: Mapping[str, Path] | None = None,
    genesis_time_ms: int | None = None,
) -> NetworkLayout:
    """Create every key, certificate and file of a new network in ``directory`` (which must not
    exist or be empty). New account and validator keys, made for the spec's crypto suite, are
    saved under ``protection``; an account or node named in ``existing_keys`` gets a copy of that
    key file instead (an HSM key reference, say: docs/keys.md), which must be of the same suite."""
    get_suite(spec.crypto_suite)  # an unknown suite is refused before anything is written
    existing_keys = existing_keys or {}
    if directory.exists() and any(directory.iterdir()):
        raise InvalidInput(f"{directory} is not empty; choose a new directory")
    _check_existing_keys(spec, existing_keys)
    directory.mkdir(parents=True, exist_ok=True)
    organizations: list[GenesisOrganization] = []
    accounts: list[GenesisAccount] = []
    validators: list[GenesisValidator] = []
    account_entries: list[AccountEntry] = []
    node_plans: list[tuple[str, str, _PlannedKey, Any, Any]] = []
    client_plans: list[tuple[str, str, tuple[str, ...], Any, Any]] = []
    holdings: list[dict[str, Any]] = []
    institutions: list[dict[str, Any]] = []
    for organization in spec.organizations:
        ca_key, ca_certificate = make_organization_ca(organization.id)
        org_dir = directory / "orgs" / organization.id
        _write_private(org_dir / "tls-ca.key", pem_key(ca_key))
        ca_pem = ca_certificate.public_bytes(serialization.Encoding.PEM)
        _write_public(org_dir / "tls-ca.crt", ca_pem)
        organizations.append(
            GenesisOrganization(
                organization.id, organization.name, organization.roles, ca_pem.decode()
            )
        )
        for account in _account_specs(organization):
            signer = _plan_key(protection, existing_keys.get(account.name), spec.crypto_suite)
            client_plans.append(
                (account.name, organization.id, account.roles, ca_key, ca_certificate)
            )
            key_path = directory / "accounts" / f"{account.name}.json"
            signer.save(key_path)
            accounts.append(
                GenesisAccount(
                    account.name, organization.id, signer.public_key.hex(), account.roles
                )
            )
            holdings.extend(
                {**holding, "address": signer.address.hex()} for holding in account.token_holdings
            )
            if account.payments_institution is not None:
                institutions.append(
                    {
                        **account.payments_institution,
                        "id": organization.id,
                        "settlement_account": signer.address.hex(),
                    }
                )
            account_entries.append(
                AccountEntry(
                    account.name,
                    organization.id,
                    account.roles,
                    signer.address.hex(),
                    str(key_path.relative_to(directory)),
                )
            )
        for node_name in _node_names(organization):
            signer = _plan_key(protection, existing_keys.get(node_name), spec.crypto_suite)
            validators.append(
                GenesisValidator(node_name, organization.id, signer.public_key.hex(), 1)
            )
            node_plans.append((node_name, organization.id, signer, ca_key, ca_certificate))
    contracts = contracts_with(spec.contracts, holdings, institutions)
    genesis = Genesis(
        chain_id=spec.chain_id,
        genesis_time_ms=int(time.time() * 1000) if genesis_time_ms is None else genesis_time_ms,
        organizations=tuple(organizations),
        accounts=tuple(accounts),
        validators=tuple(validators),
        crypto_suite=spec.crypto_suite,
        parameters=spec.parameters,
        contracts=contracts,
    )
    genesis_bytes = checked_genesis_bytes(genesis)
    _write_public(directory / "genesis.json", genesis_bytes)
    roots = b"".join(organization.tls_ca_certificate.encode() for organization in organizations)
    for account_name, organization_id, roles, ca_key, ca_certificate in client_plans:
        write_client_credentials(
            directory, account_name, organization_id, roles, ca_key, ca_certificate, roots
        )
    nodes: list[NodeEntry] = []
    for index, (node_name, organization_id, signer, ca_key, ca_certificate) in enumerate(
        node_plans
    ):
        home = directory / "nodes" / node_name
        config = NodeConfig(
            name=node_name,
            api_port=spec.base_api_port + index,
            p2p_port=spec.base_p2p_port + index,
            peers=tuple(
                PeerConfig(other[0], "127.0.0.1", spec.base_p2p_port + other_index)
                for other_index, other in enumerate(node_plans)
                if other_index != index
            ),
        )
        _write_public(home / "config.json", dump_config(config))
        _write_public(home / "genesis.json", genesis_bytes)
        signer.save(home / config.validator_key_file)
        node_key, node_certificate = make_node_certificate(
            node_name, organization_id, ca_key, ca_certificate
        )
        write_node_tls(home, node_key, node_certificate, roots)
        nodes.append(
            NodeEntry(
                node_name,
                organization_id,
                str(home.relative_to(directory)),
                f"https://{config.api_host}:{config.api_port}",
                signer.address.hex(),
            )
        )
    layout = NetworkLayout(spec.chain_id, "genesis.json", tuple(nodes), tuple(account_entries))
    _write_public(
        directory / "network.json",
        msgspec.json.format(msgspec.json.encode(layout), indent=2) + b"\n",
    )
    return layout


def load_organization_ca(
    ca_dir: Path, organization: str
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """An organization's TLS root as ``init_network`` writes it: ``<ca_dir>/tls-ca.{key,crt}``."""
    try:
        ca_key = serialization.load_pem_private_key((ca_dir / "tls-ca.key").read_bytes(), None)
        ca_certificate = x509.load_pem_x509_certificate((ca_dir / "tls-ca.crt").read_bytes())
    except (OSError, ValueError, TypeError) as exc:
        raise InvalidInput(
            f"cannot read the TLS root of {organization} in {ca_dir}: {exc}"
        ) from None
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise InvalidInput(f"{ca_dir / 'tls-ca.key'} is not an EC private key")
    return ca_key, ca_certificate


def add_node(
    directory: Path,
    name: str,
    organization: str,
    *,
    api_port: int,
    p2p_port: int,
    protection: KeyProtection,
    existing_key: Path | None = None,
    host: str = "127.0.0.1",
    observer: bool = False,
    state_sync: bool = False,
) -> NodeEntry:
    """Create the home of a new node for a network made by ``init_network``: a new validator
    key, a TLS certificate from the organization's root in ``<dir>/orgs/<org>/``, and a
    configuration that dials every existing node (they learn of it from the chain once governance
    decides to add it; see ``docs/guide.md``). Adds the node to ``network.json``.

    An ``observer`` gets no key and ``"observer": true``; since the chain does not name it, it is
    added to the ``observers`` of every other non-observer node's configuration here (each lets it
    connect from its next start). With ``state_sync`` it starts by restoring a snapshot from its
    peers instead of replaying every block (ADR 0054)."""
    layout = load_layout(directory)
    if not _NODE_NAME.fullmatch(name):
        raise InvalidInput(
            "a node name is 1-64 characters: lower-case letters, digits, '-' and '.', "
            "starting with a letter or digit"
        )
    if any(node.name == name for node in layout.nodes):
        raise InvalidInput(f"a node named {name!r} exists in this network")
    home = directory / "nodes" / name
    if home.exists():
        raise InvalidInput(f"{home} exists; choose another node name")
    genesis_bytes = (directory / layout.genesis_file).read_bytes()
    genesis = load_genesis(genesis_bytes)
    if organization not in {o.id for o in genesis.organizations}:
        known = ", ".join(o.id for o in genesis.organizations)
        raise InvalidInput(f"no organization {organization!r} in genesis (known: {known})")
    for port_name, port in (("api port", api_port), ("p2p port", p2p_port)):
        if not 1 <= port <= 65_535:
            raise InvalidInput(f"the {port_name} must be 1..65535")
    peers = []
    configs: dict[str, NodeConfig] = {}
    for node in layout.nodes:
        config = configs[node.home] = load_config(directory / node.home)
        if api_port in (config.api_port, config.p2p_port) or p2p_port in (
            config.api_port,
            config.p2p_port,
        ):
            raise InvalidInput(f"node {node.name} already uses port {api_port} or {p2p_port}")
        if not config.observer:
            peers.append(PeerConfig(node.name, config.p2p_host, config.p2p_port))
    ca_key, ca_certificate = load_organization_ca(directory / "orgs" / organization, organization)
    signer = None if observer else _plan_key(protection, existing_key, genesis.suite.name)
    config = NodeConfig(
        name=name,
        api_host=host,
        api_port=api_port,
        p2p_host=host,
        p2p_port=p2p_port,
        peers=tuple(peers),
        dial_all_peers=True,
        observer=observer,
        state_sync=state_sync,
        observers=()
        if observer
        else tuple(
            ObserverConfig(node.name, node.organization)
            for node in layout.nodes
            if node.role == "observer"
        ),
    )
    node_key, node_certificate = make_node_certificate(name, organization, ca_key, ca_certificate)
    first_home = directory / layout.nodes[0].home if layout.nodes else None
    roots = (
        (first_home / "tls" / "roots.pem").read_bytes()
        if first_home is not None
        else b"".join(o.tls_ca_certificate.encode() for o in genesis.organizations)
    )
    _write_public(home / "config.json", dump_config(config))
    _write_public(home / "genesis.json", genesis_bytes)
    if signer is not None:
        signer.save(home / config.validator_key_file)
    write_node_tls(home, node_key, node_certificate, roots)
    if observer:
        allowed = ObserverConfig(name, organization)
        for node_home, other in configs.items():
            if not other.observer:
                updated_config = msgspec.structs.replace(
                    other, observers=(*other.observers, allowed)
                )
                _write_public(directory / node_home / "config.json", dump_config(updated_config))
    entry = NodeEntry(
        name,
        organization,
        str(home.relative_to(directory)),
        f"https://{host}:{api_port}",
        "" if signer is None else signer.address.hex(),
        "observer" if observer else "validator",
    )
    updated = msgspec.structs.replace(layout, nodes=(*layout.nodes, entry))
    _write_public(
        directory / "network.json",
        msgspec.json.format(msgspec.json.encode(updated), indent=2) + b"\n",
    )
    return entry
