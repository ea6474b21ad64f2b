"""The genesis document (core/genesis.py): a sound document loads, every rule in ``check_genesis``
refuses with an ``InvalidInput`` that names the problem, and ``genesis_hash`` depends only on the
document's value."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from jinqiao.core.crypto import get_suite
from jinqiao.core.errors import InvalidInput
from jinqiao.core.genesis import (
    ChainParameters,
    Genesis,
    check_genesis,
    dump_genesis,
    genesis_hash,
    load_genesis,
)
from jinqiao.core.limits import MAX_GENESIS_BYTES
from jinqiao.core.types import Validator

SUITE = get_suite("ed25519-sha256")
SIGNERS = [SUITE.signer(bytes([index]) * 32) for index in range(1, 7)]
KEYS = [signer.public_key.hex() for signer in SIGNERS]

Document = dict[str, Any]


def valid_document() -> Document:
    return {
        "chain_id": "jinqiao-test",
        "genesis_time_ms": 1_700_000_000_000,
        "crypto_suite": "ed25519-sha256",
        "organizations": [
            {"id": "clearing-house", "name": "Clearing House", "roles": ["clearing_house"]},
            {"id": "bank-a", "name": "Bank A", "roles": ["bank", "operator"]},
        ],
        "accounts": [
            {
                "name": "ch-admin",
                "organization": "clearing-house",
                "public_key": KEYS[0],
                "roles": ["admin"],
            },
            {
                "name": "bank-a-admin",
                "organization": "bank-a",
                "public_key": KEYS[1],
                "roles": ["admin", "operator"],
            },
            {"name": "bank-a-teller", "organization": "bank-a", "public_key": KEYS[2]},
        ],
        "validators": [
            {"name": "v1", "organization": "clearing-house", "public_key": KEYS[3], "power": 10},
            {"name": "v2", "organization": "bank-a", "public_key": KEYS[4], "power": 5},
        ],
        "parameters": {"valid_until_window_blocks": 500, "block_max_transactions": 1_000},
        "contracts": {},
    }


def to_bytes(document: Document) -> bytes:
    return json.dumps(document).encode()


def changed(mutate: Callable[[Document], object]) -> bytes:
    document = copy.deepcopy(valid_document())
    mutate(document)
    return to_bytes(document)


def assert_refused(data: bytes, *fragments: str) -> InvalidInput:
    with pytest.raises(InvalidInput) as info:
        load_genesis(data)
    assert info.value.code == "invalid_input"
    for fragment in fragments:
        assert fragment in info.value.message, info.value.message
    return info.value


# -- a sound document ------------------------------------------------------------------------


def test_load_genesis_accepts_a_valid_document() -> None:
    genesis = load_genesis(to_bytes(valid_document()))
    assert genesis.chain_id == "jinqiao-test"
    assert genesis.genesis_time_ms == 1_700_000_000_000
    assert genesis.suite is SUITE
    assert [organization.id for organization in genesis.organizations] == [
        "clearing-house",
        "bank-a",
    ]
    assert genesis.accounts[1].roles == ("admin", "operator")
    assert genesis.accounts[2].roles == ()
    assert genesis.parameters == ChainParameters(
        valid_until_window_blocks=500, block_max_transactions=1_000
    )
    assert genesis.parameters.governance_quorum_numerator == 2
    assert genesis.parameters.governance_quorum_denominator == 3
    assert genesis.contracts == {}


def test_defaults_apply_to_omitted_fields() -> None:
    document = valid_document()
    for field in ("crypto_suite", "parameters", "contracts"):
        del document[field]
    del document["validators"][0]["power"]
    genesis = load_genesis(to_bytes(document))
    assert genesis.crypto_suite == "ed25519-sha256"
    assert genesis.parameters == ChainParameters()
    assert genesis.contracts == {}
    assert genesis.validators[0].power == 1


def test_validator_set_derives_addresses_from_keys() -> None:
    validator_set = load_genesis(to_bytes(valid_document())).validator_set()
    assert validator_set.validators == (
        Validator(SIGNERS[3].address, SIGNERS[3].public_key, 10, "clearing-house", "v1"),
        Validator(SIGNERS[4].address, SIGNERS[4].public_key, 5, "bank-a", "v2"),
    )
    assert validator_set.total_power() == 15


def test_dump_then_load_gives_the_same_genesis() -> None:
    genesis = load_genesis(to_bytes(valid_document()))
    assert load_genesis(dump_genesis(genesis)) == genesis


def test_parameter_ceilings_are_accepted() -> None:
    def at_ceilings(document: Document) -> None:
        document["parameters"] = {
            "valid_until_window_blocks": 10_000,
            "block_max_transactions": 5_000,
            "governance_quorum_numerator": 1_000,
            "governance_quorum_denominator": 1_000,
            "proposal_lifetime_blocks": 10_000_000,
        }
        document["validators"][0]["power"] = 1_000_000

    genesis = load_genesis(changed(at_ceilings))
    assert genesis.parameters.block_max_transactions == 5_000
    assert genesis.validators[0].power == 1_000_000


# -- rejections ------------------------------------------------------------------------------


def test_duplicate_organization_is_refused() -> None:
    def duplicate(document: Document) -> None:
        document["organizations"].append({"id": "bank-a", "name": "Bank A again"})

    assert_refused(changed(duplicate), "'bank-a'", "appears twice")


@pytest.mark.parametrize(
    "identifier",
    ["Bank-A", "bank a", "", "-bank", ".bank", "_bank", "a" * 65, "银行", "bank/a", "bank\t"],
)
def test_bad_organization_identifier_is_refused(identifier: str) -> None:
    def rename(document: Document) -> None:
        document["organizations"][1]["id"] = identifier
        document["accounts"][1]["organization"] = identifier
        document["accounts"][2]["organization"] = identifier
        document["validators"][1]["organization"] = identifier

    assert_refused(changed(rename), "organization id", repr(identifier), "not an identifier")


@pytest.mark.parametrize("name", ["\u202egnp.exe", "a\x00b", "Cafe\u0301", " Bank A"])
def test_unsafe_organization_name_is_refused(name: str) -> None:
    def rename(document: Document) -> None:
        document["organizations"][1]["name"] = name

    assert_refused(changed(rename), "organization bank-a name must")


def test_unsafe_chain_id_is_refused() -> None:
    def rename(document: Document) -> None:
        document["chain_id"] = "jinqiao\u202e"

    assert_refused(changed(rename), "chain_id must be printable text")


def test_identifier_with_trailing_newline_is_refused() -> None:
    # ``$`` in a regular expression also matches before a final newline.
    def rename(document: Document) -> None:
        document["organizations"][1]["id"] = "bank-a\n"
        document["accounts"][1]["organization"] = "bank-a\n"
        document["accounts"][2]["organization"] = "bank-a\n"
        document["validators"][1]["organization"] = "bank-a\n"

    assert_refused(changed(rename), "organization id", "not an identifier")


def test_identifier_of_64_characters_is_accepted() -> None:
    def rename(document: Document) -> None:
        document["organizations"][0]["id"] = "a" * 64
        document["accounts"][0]["organization"] = "a" * 64
        document["validators"][0]["organization"] = "a" * 64

    assert load_genesis(changed(rename)).organizations[0].id == "a" * 64


def test_bad_organization_role_is_refused() -> None:
    def bad_role(document: Document) -> None:
        document["organizations"][1]["roles"] = ["Bank"]

    assert_refused(changed(bad_role), "organization bank-a role", "'Bank'", "not an identifier")


def test_bad_account_role_is_refused() -> None:
    def bad_role(document: Document) -> None:
        document["accounts"][2]["roles"] = ["tel ler"]

    assert_refused(changed(bad_role), "account 'bank-a-teller' role", "not an identifier")


def test_account_of_unknown_organization_is_refused() -> None:
    def unknown(document: Document) -> None:
        document["accounts"][2]["organization"] = "bank-z"

    assert_refused(changed(unknown), "account 'bank-a-teller'", "unknown organization 'bank-z'")


def test_validator_of_unknown_organization_is_refused() -> None:
    def unknown(document: Document) -> None:
        document["validators"][1]["organization"] = "bank-z"

    assert_refused(changed(unknown), "validator 'v2'", "unknown organization 'bank-z'")


def test_organization_without_admin_is_refused() -> None:
    def no_admin(document: Document) -> None:
        document["accounts"][1]["roles"] = ["operator"]

    assert_refused(changed(no_admin), "organizations without an admin account", "['bank-a']")


def test_no_organizations_is_refused() -> None:
    def empty(document: Document) -> None:
        document["organizations"] = []
        document["accounts"] = []

    assert_refused(changed(empty), "at least one organization")


@pytest.mark.parametrize("where", ["accounts", "validators"])
@pytest.mark.parametrize(
    ("public_key", "fragment"),
    [
        ("zz" * 32, "public_key is not hex"),
        ("abc", "public_key is not hex"),
        (KEYS[5][:-2], "public key is 32 bytes"),
        (KEYS[5] + "00", "public key is 32 bytes"),
        ("", "public key is 32 bytes"),
    ],
    ids=["not-hex", "odd-length", "31-bytes", "33-bytes", "empty"],
)
def test_bad_public_key_is_refused(where: str, public_key: str, fragment: str) -> None:
    def bad_key(document: Document) -> None:
        document[where][1]["public_key"] = public_key

    name = "account 'bank-a-admin'" if where == "accounts" else "validator 'v2'"
    assert_refused(changed(bad_key), name, fragment)


@pytest.mark.parametrize("where", ["accounts", "validators"])
def test_public_key_used_twice_is_refused(where: str) -> None:
    def reuse(document: Document) -> None:
        document[where][1]["public_key"] = document[where][0]["public_key"]

    assert_refused(changed(reuse), "public key used twice")


def test_zero_validators_is_refused() -> None:
    def none(document: Document) -> None:
        document["validators"] = []

    assert_refused(changed(none), "genesis needs 1..200 validators")


def test_too_many_validators_is_refused() -> None:
    def too_many(document: Document) -> None:
        document["validators"] = [
            {
                "name": f"v{index}",
                "organization": "bank-a",
                "public_key": SUITE.signer(index.to_bytes(32, "big")).public_key.hex(),
            }
            for index in range(201)
        ]

    assert_refused(changed(too_many), "genesis needs 1..200 validators")


@pytest.mark.parametrize("power", [0, -1, 1_000_001])
def test_validator_power_out_of_range_is_refused(power: int) -> None:
    def set_power(document: Document) -> None:
        document["validators"][1]["power"] = power

    assert_refused(changed(set_power), "validator 'v2'", "power must be 1..1000000")


@pytest.mark.parametrize(
    ("parameters", "fragment"),
    [
        ({"valid_until_window_blocks": 0}, "valid_until_window_blocks must be 1..10000"),
        ({"valid_until_window_blocks": 10_001}, "valid_until_window_blocks must be 1..10000"),
        ({"block_max_transactions": 0}, "block_max_transactions must be 1..5000"),
        ({"block_max_transactions": 5_001}, "block_max_transactions must be 1..5000"),
        ({"governance_quorum_numerator": 0}, "governance quorum must be a fraction"),
        (
            {"governance_quorum_numerator": 4, "governance_quorum_denominator": 3},
            "governance quorum must be a fraction",
        ),
        (
            {"governance_quorum_numerator": 1, "governance_quorum_denominator": 1_001},
            "governance_quorum_denominator must be at most 1000",
        ),
        ({"proposal_lifetime_blocks": 0}, "proposal_lifetime_blocks must be 1..10000000"),
        (
            {"proposal_lifetime_blocks": 10_000_001},
            "proposal_lifetime_blocks must be 1..10000000",
        ),
    ],
)
def test_bad_parameters_are_refused(parameters: dict[str, int], fragment: str) -> None:
    def set_parameters(document: Document) -> None:
        document["parameters"] = parameters

    assert_refused(changed(set_parameters), fragment)


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda document: document.update(chain_id=""), "chain_id must be 1..64 characters"),
        (lambda document: document.update(chain_id="c" * 65), "chain_id must be 1..64"),
        (lambda document: document.update(genesis_time_ms=-1), "must not be negative"),
        (lambda document: document.update(crypto_suite="sm4-sm3"), "unknown crypto suite"),
    ],
    ids=["empty-chain-id", "long-chain-id", "negative-time", "unknown-suite"],
)
def test_bad_header_fields_are_refused(mutate: Callable[[Document], object], fragment: str) -> None:
    assert_refused(changed(mutate), fragment)


@pytest.mark.parametrize(
    ("mutate", "field_path"),
    [
        (lambda document: document.update(extra=1), "`extra`"),
        (lambda document: document["organizations"][0].update(country="CN"), "`country`"),
        (lambda document: document["accounts"][0].update(email="a@b"), "`email`"),
        (lambda document: document["validators"][0].update(host="x"), "`host`"),
        (lambda document: document["parameters"].update(block_max_bytes=1), "`block_max_bytes`"),
    ],
    ids=["top-level", "organization", "account", "validator", "parameters"],
)
def test_unknown_field_is_refused(mutate: Callable[[Document], object], field_path: str) -> None:
    assert_refused(changed(mutate), "invalid genesis", "unknown field", field_path)


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda document: document.update(genesis_time_ms="1"), "genesis_time_ms"),
        (lambda document: document.pop("chain_id"), "chain_id"),
        (lambda document: document["validators"][0].update(power=1.5), "power"),
        (lambda document: document.update(organizations={}), "organizations"),
    ],
    ids=["string-time", "missing-chain-id", "float-power", "organizations-object"],
)
def test_wrong_shape_is_refused(mutate: Callable[[Document], object], fragment: str) -> None:
    assert_refused(changed(mutate), "invalid genesis", fragment)


@pytest.mark.parametrize("data", [b"", b"not json", b"[]", b"{", b"\xff"])
def test_not_a_json_object_is_refused(data: bytes) -> None:
    assert_refused(data, "invalid genesis")


def test_oversize_document_is_refused() -> None:
    document = to_bytes(valid_document())
    padded = document + b" " * (MAX_GENESIS_BYTES + 1 - len(document))
    assert len(padded) == MAX_GENESIS_BYTES + 1
    assert_refused(padded, f"over {MAX_GENESIS_BYTES} bytes")
    at_limit = document + b" " * (MAX_GENESIS_BYTES - len(document))
    assert load_genesis(at_limit).chain_id == "jinqiao-test"


def test_check_genesis_refuses_a_struct_built_in_code() -> None:
    genesis = load_genesis(to_bytes(valid_document()))
    broken = msgspec.structs.replace(genesis, validators=())
    with pytest.raises(InvalidInput, match="validators"):
        check_genesis(broken)


# -- genesis hash ----------------------------------------------------------------------------


def test_genesis_hash_is_stable_for_equal_documents() -> None:
    first = load_genesis(to_bytes(valid_document()))
    # The same document, written differently: other key order and whitespace.
    second = load_genesis(json.dumps(valid_document(), indent=4, sort_keys=True).encode())
    assert first == second
    assert first is not second
    assert len(genesis_hash(first)) == 32
    assert genesis_hash(first) == genesis_hash(second)
    assert genesis_hash(first) == genesis_hash(load_genesis(dump_genesis(first)))


def test_genesis_hash_changes_with_the_document() -> None:
    base = genesis_hash(load_genesis(to_bytes(valid_document())))
    for mutate in (
        lambda document: document.update(chain_id="jinqiao-other"),
        lambda document: document.update(genesis_time_ms=1_700_000_000_001),
        lambda document: document["validators"][0].update(power=11),
        lambda document: document["parameters"].update(block_max_transactions=999),
    ):
        assert genesis_hash(load_genesis(changed(mutate))) != base


def test_genesis_hash_does_not_depend_on_contract_configuration_key_order() -> None:
    contracts = {
        "token": {"symbol": "CNY", "scale": 2},
        "registry": {"open": False},
    }
    reordered = {
        "registry": {"open": False},
        "token": {"scale": 2, "symbol": "CNY"},
    }
    first = load_genesis(changed(lambda document: document.update(contracts=contracts)))
    second = load_genesis(changed(lambda document: document.update(contracts=reordered)))
    assert first == second
    assert genesis_hash(first) == genesis_hash(second)


def test_genesis_struct_is_frozen() -> None:
    genesis = load_genesis(to_bytes(valid_document()))
    assert isinstance(genesis, Genesis)
    with pytest.raises(AttributeError):
        genesis.chain_id = "other"  # type: ignore[misc]


@pytest.mark.parametrize("transform", [str.upper, lambda key: key[:8] + " " + key[8:]])
def test_public_keys_must_be_plain_lowercase_hex(transform: Callable[[str], str]) -> None:
    def loose_key(document: Document) -> None:
        document["accounts"][1]["public_key"] = transform(document["accounts"][1]["public_key"])

    assert_refused(changed(loose_key), "account 'bank-a-admin'", "public_key is not hex")


def test_account_roles_must_be_roles_of_its_organization() -> None:
    def stranger_role(document: Document) -> None:
        document["accounts"][2]["roles"] = ["clearing_house"]

    assert_refused(
        changed(stranger_role), "account 'bank-a-teller'", "are not roles of organization"
    )


@pytest.mark.parametrize("kind", ["accounts", "validators"])
def test_names_are_unique_identifiers(kind: str) -> None:
    def duplicate(document: Document) -> None:
        document[kind][1]["name"] = document[kind][0]["name"]

    def bad(document: Document) -> None:
        document[kind][0]["name"] = "Not An Identifier"

    assert_refused(changed(duplicate), "appears twice")
    assert_refused(changed(bad), "is not an identifier")
