"""The genesis ceremony (``provision.ceremony``): what each step accepts, and every refusal the
issue lists — an unsigned, altered or duplicated membership file, a key two files name, a genesis
that differs from what an organization submitted — with nothing changed by a refusal."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import msgspec
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from jinqiao.core.errors import InvalidInput
from jinqiao.core.genesis import GenesisOrganization, load_genesis
from jinqiao.keys import InsecurePlaintext, generate_key
from jinqiao.node.config import load_config
from jinqiao.provision.ceremony import (
    CeremonyParameters,
    GenesisMismatch,
    Membership,
    MembershipRefused,
    SignedMembership,
    TokenHolding,
    assemble,
    check_and_install,
    dump_membership,
    load_membership,
    make_member,
    sign_membership,
    signed_bytes,
)
from jinqiao.provision.network import make_organization_ca

CHAIN = "ceremony-test"
ORGANIZATIONS = ("bank-a", "bank-b", "bank-c", "bank-d")


def _member(root: Path, organization: str, index: int) -> Path:
    directory = root / organization
    make_member(
        directory,
        chain_id=CHAIN,
        organization=GenesisOrganization(organization, f"Bank {organization[-1].upper()}", ()),
        accounts=[(f"{organization}-admin", ("admin",))],
        hosts=[f"10.77.0.{11 + index}", f"{organization}.example"],
        api_port=9400,
        p2p_port=9500,
        protection=InsecurePlaintext(),
    )
    return directory


@pytest.fixture(scope="module")
def members(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ceremony")
    for index, organization in enumerate(ORGANIZATIONS):
        _member(root, organization, index)
    return root


def _files(root: Path, organizations: tuple[str, ...] = ORGANIZATIONS) -> list[tuple[str, bytes]]:
    return [
        (f"{o}/membership.json", (root / o / "membership.json").read_bytes()) for o in organizations
    ]


PARAMETERS = CeremonyParameters(chain_id=CHAIN)


def test_assembled_genesis_holds_every_member_and_no_private_material(members: Path) -> None:
    genesis_bytes, book = assemble(_files(members), PARAMETERS)
    genesis = load_genesis(genesis_bytes)
    assert [o.id for o in genesis.organizations] == list(ORGANIZATIONS)
    assert [v.name for v in genesis.validators] == list(ORGANIZATIONS)
    assert [node.p2p_host for node in book.nodes] == [f"10.77.0.{11 + i}" for i in range(4)]
    public = [genesis_bytes, msgspec.json.encode(book), *(data for _, data in _files(members))]
    for data in public:
        assert b"PRIVATE KEY" not in data
        assert b"secret" not in data.lower()
    # …and every private key stayed in its organization's directory, 0600.
    for organization in ORGANIZATIONS:
        for private in (
            members / organization / "ca" / "tls-ca.key",
            members / organization / "nodes" / organization / "tls" / "node.key",
        ):
            assert b"PRIVATE KEY" in private.read_bytes()
            assert private.stat().st_mode & 0o077 == 0


def test_node_certificate_names_the_hosts_and_config_binds_apart(members: Path) -> None:
    home = members / "bank-c" / "nodes" / "bank-c"
    certificate = x509.load_pem_x509_certificate((home / "tls" / "node.crt").read_bytes())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("10.77.0.13") in names.get_values_for_type(x509.IPAddress)
    assert "bank-c.example" in names.get_values_for_type(x509.DNSName)
    config = load_config(home)
    assert (config.api_host, config.p2p_host, config.advertised_host) == (
        "0.0.0.0",
        "0.0.0.0",
        "10.77.0.13",
    )
    assert "bank-c.example" in config.api_hosts


def _document(root: Path, organization: str) -> dict[str, object]:
    document: dict[str, object] = json.loads((root / organization / "membership.json").read_text())
    return document


def test_unsigned_membership_is_refused(members: Path) -> None:
    document = _document(members, "bank-b")
    del document["signature"]
    with pytest.raises(MembershipRefused, match="unsigned"):
        assemble(
            [*_files(members, ("bank-a",)), ("b.json", json.dumps(document).encode())], PARAMETERS
        )


@pytest.mark.parametrize(
    "alter",
    [
        lambda m: m["organization"].update(name="Bank B (Holdings)"),
        lambda m: m["accounts"][0].update(roles=["admin", "regulator"]),
        lambda m: m["nodes"][0].update(p2p_host="10.66.0.1"),
        lambda m: m.update(chain_id="another-chain"),
    ],
    ids=["name", "roles", "address", "chain"],
)
def test_altered_membership_is_refused(members: Path, alter: object) -> None:
    document = _document(members, "bank-b")
    alter(document["membership"])  # type: ignore[operator]
    with pytest.raises(MembershipRefused, match="altered"):
        load_membership(json.dumps(document).encode(), "b.json")


def test_membership_signed_by_another_key_is_refused(members: Path) -> None:
    data = (members / "bank-b" / "membership.json").read_bytes()
    signed = msgspec.json.decode(data, type=SignedMembership)
    other_key, _ = make_organization_ca("bank-b")
    forged = msgspec.structs.replace(
        signed,
        signature=other_key.sign(signed_bytes(signed.membership), ec.ECDSA(hashes.SHA256())).hex(),
    )
    with pytest.raises(MembershipRefused, match="does not verify"):
        load_membership(dump_membership(forged), "b.json")


def test_the_same_file_twice_is_refused(members: Path) -> None:
    files = _files(members, ("bank-a", "bank-b"))
    with pytest.raises(MembershipRefused, match=r"already used by bank-a/membership\.json"):
        assemble([*files, ("copy.json", files[0][1])], PARAMETERS)


def test_a_key_already_used_by_another_member_is_refused(members: Path, tmp_path: Path) -> None:
    """bank-e signs, with its own CA, a membership that names bank-a's validator key."""
    _member(tmp_path, "bank-e", 5)
    bank_a = load_membership((members / "bank-a" / "membership.json").read_bytes(), "a")
    signed = msgspec.json.decode(
        (tmp_path / "bank-e" / "membership.json").read_bytes(), type=SignedMembership
    )
    validator = msgspec.structs.replace(
        signed.membership.validators[0], public_key=bank_a.validators[0].public_key
    )
    membership = msgspec.structs.replace(signed.membership, validators=(validator,))
    ca_key = serialization.load_pem_private_key(
        (tmp_path / "bank-e" / "ca" / "tls-ca.key").read_bytes(), None
    )
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    resigned = SignedMembership(membership, sign_membership(ca_key, membership))
    load_membership(dump_membership(resigned), "e.json")  # well signed…
    with pytest.raises(MembershipRefused, match="the key of validator 'bank-e' is already used"):
        assemble([*_files(members, ("bank-a",)), ("e.json", dump_membership(resigned))], PARAMETERS)


def test_parameters_must_match_the_files(members: Path) -> None:
    with pytest.raises(MembershipRefused, match="is for chain 'ceremony-test'"):
        assemble(_files(members), CeremonyParameters(chain_id="other"))
    with pytest.raises(Exception, match="no membership file names an account 'nobody'"):
        assemble(
            _files(members),
            CeremonyParameters(chain_id=CHAIN, holdings=(TokenHolding("nobody", "CNY", "x", 1),)),
        )


def test_check_installs_the_genesis_it_confirms(members: Path, tmp_path: Path) -> None:
    genesis_bytes, book = assemble(_files(members), PARAMETERS)
    check_and_install(members / "bank-d", genesis_bytes, book)
    home = members / "bank-d" / "nodes" / "bank-d"
    assert (home / "genesis.json").read_bytes() == genesis_bytes
    assert {peer.name for peer in load_config(home).peers} == {"bank-a", "bank-b", "bank-c"}
    assert (home / "tls" / "roots.pem").read_text().count("BEGIN CERTIFICATE") == 4
    assert (members / "bank-d" / "clients" / "bank-d-admin" / "roots.pem").read_text().count(
        "BEGIN CERTIFICATE"
    ) == 4


def _swap_key(document: dict[str, object]) -> None:
    accounts = document["accounts"]
    assert isinstance(accounts, list)
    accounts[0]["public_key"] = generate_key("ed25519-sha256").public_key.hex()


def _extra_account(document: dict[str, object]) -> None:
    accounts = document["accounts"]
    assert isinstance(accounts, list)
    accounts.append(
        {
            "name": "bank-a-extra",
            "organization": "bank-a",
            "public_key": generate_key("ed25519-sha256").public_key.hex(),
            "roles": ["admin"],
        }
    )


def _drop_validator(document: dict[str, object]) -> None:
    validators = document["validators"]
    assert isinstance(validators, list)
    del validators[0]


def _rename(document: dict[str, object]) -> None:
    organizations = document["organizations"]
    assert isinstance(organizations, list)
    organizations[0]["name"] = "Bank A Ltd"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_swap_key, "accounts of 'bank-a' differ.*changed \\['bank-a-admin'\\]"),
        (_extra_account, "added \\['bank-a-extra'\\]"),
        (_drop_validator, "validators of 'bank-a' differ.*missing \\['bank-a'\\]"),
        (_rename, "organization 'bank-a' differs"),
    ],
)
def test_a_genesis_that_differs_from_what_was_submitted_is_refused(
    members: Path, tmp_path: Path, change: object, message: str
) -> None:
    directory = _member(tmp_path, "bank-a", 0)
    files = [
        ("a", (directory / "membership.json").read_bytes()),
        *_files(members, ORGANIZATIONS[1:]),
    ]
    genesis_bytes, book = assemble(files, PARAMETERS)
    document = json.loads(genesis_bytes)
    change(document)  # type: ignore[operator]
    config_before = (directory / "nodes" / "bank-a" / "config.json").read_bytes()
    with pytest.raises(GenesisMismatch, match=message):
        check_and_install(directory, json.dumps(document).encode(), book)
    home = directory / "nodes" / "bank-a"
    assert not (home / "genesis.json").exists()
    assert (home / "config.json").read_bytes() == config_before


def test_an_address_book_of_another_genesis_is_refused(members: Path) -> None:
    genesis_bytes, _ = assemble(_files(members), PARAMETERS)
    _, other_book = assemble(_files(members), CeremonyParameters(chain_id=CHAIN, genesis_time_ms=1))
    with pytest.raises(GenesisMismatch, match="another genesis"):
        check_and_install(members / "bank-b", genesis_bytes, other_book)


def test_a_membership_with_a_bad_identifier_is_refused_naming_the_file(members: Path) -> None:
    document = _document(members, "bank-b")
    membership = document["membership"]
    assert isinstance(membership, dict)
    membership["accounts"][0]["name"] = "Bank B Admin"
    # Signed by its own CA, so not "altered": refused for what it says.
    with pytest.raises(MembershipRefused, match=r"b\.json: account name: 'Bank B Admin'"):
        _check_signed_content(members, membership)


def _check_signed_content(members: Path, membership: dict[str, object]) -> None:
    ca_key = serialization.load_pem_private_key(
        (members / "bank-b" / "ca" / "tls-ca.key").read_bytes(), None
    )
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    decoded = msgspec.convert(membership, type=Membership)
    signed = SignedMembership(decoded, sign_membership(ca_key, decoded))
    load_membership(dump_membership(signed), "b.json")


def test_assemble_checks_fingerprints_confirmed_out_of_band(members: Path) -> None:
    from jinqiao.provision.ceremony import certificate_fingerprint

    bank_a = load_membership((members / "bank-a" / "membership.json").read_bytes(), "a")
    right = certificate_fingerprint(bank_a.organization.tls_ca_certificate)
    assemble(_files(members), PARAMETERS, expected_fingerprints={"bank-a": right})
    with pytest.raises(MembershipRefused, match="not from the CA it confirmed"):
        assemble(_files(members), PARAMETERS, expected_fingerprints={"bank-a": "00" * 32})
    with pytest.raises(MembershipRefused, match="no membership file of 'bank-z'"):
        assemble(_files(members), PARAMETERS, expected_fingerprints={"bank-z": right})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"hosts": ["bank a"]}, "is neither an IP address nor a host name"),
        ({"hosts": []}, "give the node's --host values, or --node"),
        ({"nodes": [("bank-x-1", ["10.77.0.21"])]}, "give the node's --host values, or --node"),
        ({"hosts": [], "nodes": [("bank-x-1", [])]}, "give 1..16 hosts per node"),
        ({"hosts": [], "nodes": [("Node X", ["10.77.0.21"])]}, "validator name|not an identifier"),
        ({"bind_host": "a b"}, "api_host 'a b' is not a host name"),
        ({"accounts": [("bank-x-ops", ("operator",))]}, "needs the role 'admin'"),
        ({"organization": GenesisOrganization("Bank X", "Bank X")}, "is not an identifier"),
        ({"api_port": 0}, "API port must be 1..65535"),
        ({"crypto_suite": "rot13"}, "rot13"),
    ],
)
def test_member_refuses_bad_input_before_writing_anything(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    arguments: dict[str, object] = {
        "chain_id": CHAIN,
        "organization": GenesisOrganization("bank-x", "Bank X"),
        "accounts": [("bank-x-admin", ("admin",))],
        "hosts": ["10.77.0.20"],
        "api_port": 9400,
        "p2p_port": 9500,
        "protection": InsecurePlaintext(),
        **change,
    }
    with pytest.raises(InvalidInput, match=message):
        make_member(tmp_path / "bank-x", **arguments)  # type: ignore[arg-type]
    assert not (tmp_path / "bank-x").exists()


def test_an_organization_may_run_several_validators(members: Path, tmp_path: Path) -> None:
    make_member(
        tmp_path / "bank-e",
        chain_id=CHAIN,
        organization=GenesisOrganization("bank-e", "Bank E"),
        accounts=[("bank-e-admin", ("admin",))],
        nodes=[("bank-e-1", ["10.77.0.31"]), ("bank-e-2", ["10.77.0.32", "e2.example"])],
        api_port=9400,
        p2p_port=9500,
        protection=InsecurePlaintext(),
    )
    files = [
        *_files(members, ("bank-a",)),
        ("e", (tmp_path / "bank-e" / "membership.json").read_bytes()),
    ]
    genesis_bytes, book = assemble(files, PARAMETERS)
    assert [v.name for v in load_genesis(genesis_bytes).validators] == [
        "bank-a",
        "bank-e-1",
        "bank-e-2",
    ]
    check_and_install(tmp_path / "bank-e", genesis_bytes, book)
    second = load_config(tmp_path / "bank-e" / "nodes" / "bank-e-2")
    assert {peer.name: peer.host for peer in second.peers} == {
        "bank-a": "10.77.0.11",
        "bank-e-1": "10.77.0.31",
    }
    assert second.advertised_host == "10.77.0.32" and "e2.example" in second.api_hosts
