"""docs/proofs.md is the contract a stranger's verifier is written from: every example it marks
(``proofs-example:NAME``) is read out of the document and checked against the real code — the
codec, the hashes, the genesis and validator-set rules, libsodium's Ed25519, the trees, the state
key builders, the record structs and the limits. When the document and the code disagree, a test
here fails; the document is the side that is read."""

from __future__ import annotations

import ast
import json
import re
import types
import typing
from typing import Any

import msgspec
import nacl.signing
import pytest

import jinqiao.apps.governance as governance
import jinqiao.apps.payments.model as payments_model
import jinqiao.apps.registry as registry
import jinqiao.apps.token as token
import jinqiao.core.genesis as core_genesis
import jinqiao.core.limits as limits
import jinqiao.core.proofs as core_proofs
import jinqiao.core.types as core_types
import jinqiao.execution.identity as identity
from jinqiao.core.codec import decode, encode
from jinqiao.core.crypto import get_suite
from jinqiao.core.errors import DecodeError
from jinqiao.core.genesis import genesis_hash, load_genesis
from jinqiao.core.hashing import validator_set_hash
from jinqiao.core.proofs import key_hash, smt_leaf_node, smt_node_hash, value_hash
from jinqiao.core.types import Event, Receipt, Vote
from jinqiao.execution.state import full_key
from jinqiao.ledger.merkle import merkle_root
from jinqiao.ledger.smt import MemoryNodeReader, SparseMerkleTree
from tests.helpers import doc_examples, doc_verifier
from tests.helpers import ed25519_points as points

SUITE = get_suite("ed25519-sha256")
HASH_3 = b"\x33" * 32
CODE_MODULES = (
    core_types,
    core_proofs,
    identity,
    core_genesis,
    token,
    governance,
    payments_model,
    registry,
)


def code_class(name: str) -> Any:
    for module in CODE_MODULES:
        found = getattr(module, name, None)
        if found is not None:
            return found
    raise AssertionError(f"docs/proofs.md names {name}, which the code does not define")


# ------------------------------------------------------------------------------------------------
# Item 4: the canonical encoding, booleans included


def encoding_examples() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    encoded, refused = [], []
    for line in doc_examples.block("encoding").splitlines():
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        if "->" in text:
            literal, hex_text = text.split("->")
            encoded.append((literal.strip(), hex_text.strip()))
        else:
            kind, word, hex_text = text.split(None, 2)
            assert word == "refused", line
            refused.append((kind, hex_text))
    return encoded, refused


REFUSED_AS = {"int": int, "bool": bool, "str": str, "bytes": bytes, "list": list[int]}


def test_the_encoding_examples_are_what_the_codec_writes_and_reads() -> None:
    encoded, refused = encoding_examples()
    assert len(encoded) >= 20 and len(refused) >= 8
    for literal, hex_text in encoded:
        value = ast.literal_eval(literal)
        wire = doc_examples.hex_bytes(hex_text)
        assert encode(value) == wire, literal
        assert decode(wire, type(value), max_bytes=64) == value, literal
        assert doc_verifier.decode(wire) == value, literal
        assert doc_verifier.encode(value) == wire, literal
    for kind, hex_text in refused:
        wire = doc_examples.hex_bytes(hex_text)
        with pytest.raises(DecodeError):
            decode(wire, REFUSED_AS[kind], max_bytes=64)
        if kind not in ("bool", "bytes"):  # these two are a type mismatch, not a bad encoding
            with pytest.raises(doc_verifier.Refused):
                doc_verifier.decode(wire)


def test_booleans_are_not_integers() -> None:
    assert encode(True) == b"\xc3" and encode(False) == b"\xc2"
    with pytest.raises(DecodeError):
        decode(b"\x01", bool, max_bytes=1)
    with pytest.raises(DecodeError):
        decode(b"\xc3", int, max_bytes=1)


def test_the_vote_example() -> None:
    vote = Vote("jinqiao-test", 7, 0, 2, b"\x11" * 32, b"\x22" * 20)
    assert encode(vote) == doc_examples.hex_bytes(doc_examples.block("vote"))


# ------------------------------------------------------------------------------------------------
# The struct layouts of §2 and §6 against the code's structs


def _strip(kind: Any) -> tuple[Any, list[msgspec.Meta]]:
    metas: list[msgspec.Meta] = []
    while typing.get_origin(kind) is typing.Annotated:
        kind, *extra = typing.get_args(kind)
        metas += [meta for meta in extra if isinstance(meta, msgspec.Meta)]
    return kind, metas


def matches(doc_type: str, kind: Any) -> bool:
    """Whether the document's type (``int``, ``bin(20)``, ``[X...]``, ``X | nil``, a record)
    is the code's type annotation."""
    kind, metas = _strip(kind)
    doc_type = doc_type.strip()
    alternatives = doc_verifier._split_union(doc_type)
    if len(alternatives) > 1:
        members = typing.get_args(kind) if isinstance(kind, types.UnionType) else ()
        if typing.get_origin(kind) is typing.Union:
            members = typing.get_args(kind)
        if len(members) != len(alternatives):
            return False
        return all(
            any(matches(alternative, member) for member in members) for alternative in alternatives
        )
    if doc_type == "nil":
        return kind is type(None)
    if doc_type in ("int", "str", "bool"):
        return bool(kind is {"int": int, "str": str, "bool": bool}[doc_type])
    size = re.fullmatch(r"bin(?:\((\d+)\))?", doc_type)
    if size:
        if kind is not bytes:
            return False
        lengths = {(meta.min_length, meta.max_length) for meta in metas if meta.min_length}
        if size.group(1) is None:
            return True  # a bare bin: its bounds are in section 7, checked there
        return not lengths or (int(size.group(1)),) * 2 in lengths
    if doc_type.startswith("[") and doc_type.endswith("...]"):
        arguments = typing.get_args(kind)
        return (
            typing.get_origin(kind) is tuple
            and len(arguments) == 2
            and arguments[1] is Ellipsis
            and matches(doc_type[1:-4], arguments[0])
        )
    if doc_type.startswith("["):
        items = doc_examples.split_fields(doc_type[1:-1])
        arguments = typing.get_args(kind)
        return (
            typing.get_origin(kind) is tuple
            and len(arguments) == len(items)
            and all(
                matches(item, argument) for item, argument in zip(items, arguments, strict=True)
            )
        )
    if doc_type == "ProposalAction":
        return kind == governance.ProposalAction
    return isinstance(kind, type) and kind.__name__ == doc_type


@pytest.mark.parametrize("block", ["structs", "state-values", "query-structs"])
def test_every_documented_record_is_the_code_struct_field_by_field(block: str) -> None:
    definitions = doc_examples.definitions(doc_examples.block(block))
    assert len(definitions) >= (2 if block == "query-structs" else 10)
    for name, (bracket, inner) in definitions.items():
        cls = code_class(name)
        config = cls.__struct_config__
        assert config.array_like == (bracket == "["), f"{name}: array or map"
        parts = doc_examples.split_fields(inner)
        if parts[0].startswith('"'):
            assert config.tag == parts.pop(0).strip('"'), f"{name}: tag"
        else:
            assert config.tag is None, f"{name} is tagged {config.tag!r} in the code"
        hints = typing.get_type_hints(cls, include_extras=True)
        code_fields = [field.name for field in msgspec.structs.fields(cls)]
        doc_fields = [part.split(":", 1)[0].strip() for part in parts]
        assert doc_fields == code_fields, name
        for part in parts:
            field_name, doc_type = (item.strip() for item in part.split(":", 1))
            assert matches(doc_type, hints[field_name]), f"{name}.{field_name}: {doc_type}"


def test_every_value_the_state_keys_name_is_defined() -> None:
    defined = set(doc_examples.definitions(doc_examples.block("structs"))) | set(
        doc_examples.definitions(doc_examples.block("state-values"))
    )
    for row in doc_examples.table("state-keys"):
        value = doc_examples.code(row[1])
        assert value in defined or value in ("int", "[str...]"), row


# ------------------------------------------------------------------------------------------------
# Item 1: genesis validators, the validator-set hash and the genesis hash


def derived() -> dict[str, str]:
    lines = doc_examples.block("genesis-derived").splitlines()
    return {line[:21].strip(): line[21:].strip() for line in lines if line.strip()}


def test_the_genesis_example_gives_the_documented_set_and_hashes() -> None:
    raw = doc_examples.block("genesis").encode()
    genesis = load_genesis(raw)
    facts = derived()
    for validator in genesis.validators:
        address = SUITE.address(bytes.fromhex(validator.public_key))
        assert facts[f"address {validator.name}"] == address.hex()
    validators = genesis.validator_set()
    assert [v.name for v in validators.validators] == facts["order"].split()
    assert validator_set_hash(SUITE, validators).hex() == facts["validators_hash"]
    assert genesis_hash(genesis).hex() == facts["genesis_hash"]
    # The outsider's reading of §3.1 gives the same.
    document = json.loads(raw)
    assert (
        doc_verifier.validator_set_hash(doc_verifier.genesis_validator_set(document)).hex()
        == (facts["validators_hash"])
    )
    assert doc_verifier.genesis_hash(document).hex() == facts["genesis_hash"]


def test_the_genesis_hash_does_not_depend_on_key_order_or_on_spelled_out_defaults() -> None:
    document = json.loads(doc_examples.block("genesis"))
    expected = derived()["genesis_hash"]
    shuffled = dict(reversed(list(document.items())))
    shuffled["parameters"] = {"proposal_lifetime_blocks": 100000}
    shuffled["crypto_suite"] = "ed25519-sha256"
    assert genesis_hash(load_genesis(json.dumps(shuffled).encode())).hex() == expected
    changed = dict(document, genesis_time_ms=document["genesis_time_ms"] + 1)
    assert genesis_hash(load_genesis(json.dumps(changed).encode())).hex() != expected


def test_the_validator_change_table_states_the_two_heights_rule() -> None:
    rows = doc_examples.validator_change_rows()
    assert identity.VALIDATOR_CHANGE_DELAY_BLOCKS == 2
    assert list(rows) == [0, 1, 2]
    for offset in (0, 1):
        # The set that certifies a height is the one the header before named as next, and the
        # one in state after that block.
        assert rows[offset + 1]["validators_hash"] == rows[offset]["next_validators_hash"]
        assert rows[offset]["state"].split()[0] == rows[offset]["next_validators_hash"]
    assert rows[0]["decided"] == "yes" and "pending_validators: new, d + 2" in rows[0]["state"]


# ------------------------------------------------------------------------------------------------
# Item 4: Ed25519 strictness, as libsodium (through PyNaCl) decides it

SEED = bytes([7]) * 32
MESSAGE = b"jinqiao/proofs.md section 3.2"


def _honest() -> tuple[bytes, bytes]:
    key = nacl.signing.SigningKey(SEED)
    return bytes(key.verify_key), bytes(key.sign(MESSAGE).signature)


def _equation_holds(public_key: bytes, signature: bytes) -> bool:
    """[S]B - [h]A == R as points (S taken mod L): the signature is right but for strictness."""
    r_point = points.decode(signature[:32])
    scalar = int.from_bytes(signature[32:], "little")
    h = points.challenge(signature[:32], public_key, MESSAGE)
    left = points.add(
        points.multiply(scalar % points.L, points.BASE),
        points.negate(points.multiply(h, points.decode(public_key))),
    )
    return left == r_point


def _with_known_r(public_key: bytes, r: int = 12345) -> bytes:
    """For a key of small order, [h]A is the identity: R = [r]B, S = r satisfies the equation."""
    return points.encode(points.multiply(r, points.BASE)) + r.to_bytes(32, "little")


def _for_r(r_bytes: bytes) -> tuple[bytes, bytes]:
    """The honest key with R given and S = h·a, so [S]B - [h]A is the identity point."""
    public_key, _ = _honest()
    h = points.challenge(r_bytes, public_key, MESSAGE)
    scalar = h * points.secret_scalar(SEED) % points.L
    return public_key, r_bytes + scalar.to_bytes(32, "little")


def _mixed_order() -> tuple[bytes, bytes]:
    a = points.secret_scalar(SEED)
    torsion = points.order_8_point()
    public_key = points.encode(points.add(points.multiply(a, points.BASE), torsion))
    for r in range(1, 10_000):
        for k in range(8):
            r_point = points.add(points.multiply(r, points.BASE), points.multiply(k, torsion))
            r_bytes = points.encode(r_point)
            h = points.challenge(r_bytes, public_key, MESSAGE)
            if (h + k) % 8 == 0:
                return public_key, r_bytes + ((r + h * a) % points.L).to_bytes(32, "little")
    raise AssertionError("no mixed-order signature found")


def _case(name: str) -> tuple[bytes, bytes]:
    public_key, signature = _honest()
    identity_bytes = points.encode(points.IDENTITY)
    identity_high = (points.P + 1).to_bytes(32, "little")
    if name == "honest":
        return public_key, signature
    if name == "s-plus-l":
        scalar = int.from_bytes(signature[32:], "little") + points.L
        return public_key, signature[:32] + scalar.to_bytes(32, "little")
    if name == "small-order-key":
        return identity_bytes, _with_known_r(identity_bytes)
    if name == "non-canonical-key":
        return identity_high, _with_known_r(identity_high)
    if name == "key-off-curve":
        return (2).to_bytes(32, "little"), _with_known_r(identity_bytes)
    if name == "small-order-r":
        return _for_r(identity_bytes)
    if name == "non-canonical-r":
        return _for_r(identity_high)
    if name == "mixed-order-key-and-r":
        return _mixed_order()
    if name == "short-key":
        return public_key[:31], signature
    if name == "short-signature":
        return public_key, signature[:63]
    raise AssertionError(f"docs/proofs.md lists an Ed25519 case {name!r} this test cannot build")


def ed25519_cases() -> list[tuple[str, str]]:
    cases = []
    for line in doc_examples.block("ed25519").splitlines():
        text = line.split("#", 1)[0].split()
        if text:
            cases.append((text[0], text[1]))
    return cases


@pytest.mark.parametrize(("name", "answer"), ed25519_cases())
def test_ed25519_refuses_exactly_what_the_document_says(name: str, answer: str) -> None:
    public_key, signature = _case(name)
    accepted = SUITE.verify(public_key, MESSAGE, signature)
    assert accepted == (answer == "accepted"), name
    assert doc_verifier.ed25519_valid(public_key, MESSAGE, signature) == accepted
    if name in ("s-plus-l", "small-order-key", "small-order-r", "mixed-order-key-and-r"):
        # Refused (or accepted) for the reason the document gives: the equation itself holds.
        assert _equation_holds(public_key, signature), name


def test_the_ed25519_table_covers_the_refusals_section_3_2_lists() -> None:
    names = {name for name, _ in ed25519_cases()}
    assert {"honest", "s-plus-l", "small-order-key", "non-canonical-key", "small-order-r"} <= names
    assert {"non-canonical-r", "mixed-order-key-and-r"} <= names


# ------------------------------------------------------------------------------------------------
# Item 2: receipts


def receipt_examples() -> dict[str, bytes]:
    found: dict[str, str] = {}
    current = ""
    for line in doc_examples.block("receipts").splitlines():
        if line and not line[0].isspace():
            current, line = line.split(None, 1)
            found[current] = ""
        found[current] += " " + line
    return {name: doc_examples.hex_bytes(text) for name, text in found.items()}


def test_the_receipt_examples_are_the_receipt_struct() -> None:
    examples = receipt_examples()
    transfer = Event(
        "token",
        "Transfer",
        (
            ("amount_minor", 250),
            ("asset", "CNY"),
            ("recipient", "22" * 20),
            ("sender", "11" * 20),
        ),
    )
    ok = Receipt(b"\x5a" * 32, 0, "ok", "", (transfer,), 5, b"")
    rejected = Receipt(
        b"\x5b" * 32, 1, "insufficient_funds", "balance 100 is below 250", (), 2, b""
    )
    assert encode(ok) == examples["ok"]
    assert encode(rejected) == examples["rejected"]
    assert decode(examples["ok"], Receipt, max_bytes=1024) == ok
    read = doc_verifier.decode_as(examples["ok"], "Receipt")
    assert read["events"][0]["attributes"][0] == ["amount_minor", 250]


def test_the_receipt_table_lists_every_field_in_order() -> None:
    text = doc_examples.PROOFS_DOC.read_text()
    section = text[text.index("### 4.1 Receipts") : text.index("### 4.2")]
    documented = re.findall(r"^\| `([a-z_]+)` \|", section, re.M)
    assert documented == [field.name for field in msgspec.structs.fields(Receipt)]


# ------------------------------------------------------------------------------------------------
# Item 4: full test vectors of the trees

CT_LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657"]
CT_LEAVES.append("606162636465666768696a6b6c6d6e6f")


def test_the_merkle_roots_are_the_full_values() -> None:
    rows = [line.split() for line in doc_examples.block("merkle-roots").splitlines() if line]
    assert [int(count) for count, _ in rows] == list(range(9))
    leaves = [bytes.fromhex(value) for value in CT_LEAVES]
    for count, root in rows:
        assert len(root) == 64
        assert merkle_root(SUITE, leaves[: int(count)]).hex() == root
        assert doc_verifier.merkle_root(leaves[: int(count)]).hex() == root


def _smt_map(text: str) -> dict[bytes, bytes]:
    if text == "(empty)":
        return {}
    pairs = [item.split("=", 1) for item in text.split(",")]
    return {key.encode(): value.encode() for key, value in pairs}


def test_the_state_tree_vectors_are_the_full_values() -> None:
    for line in doc_examples.block("smt").splitlines():
        if not line.strip():
            continue
        kind, rest = line.split(None, 1)
        subject, expected = rest.rsplit(None, 1)
        assert len(expected) == 64, line
        if kind == "key_hash":
            assert key_hash(SUITE, subject.encode()).hex() == expected
        elif kind == "value_hash":
            value = ast.literal_eval(subject) if subject.startswith('"') else subject
            assert value_hash(SUITE, value.encode()).hex() == expected
        else:
            tree = SparseMerkleTree(SUITE, MemoryNodeReader())
            root, _ = tree.update(doc_verifier.ZERO, dict(_smt_map(subject)))
            assert root.hex() == expected, line
    alice = smt_node_hash(
        SUITE, smt_leaf_node(key_hash(SUITE, b"alice"), value_hash(SUITE, b"100"))
    )
    assert alice.hex() in doc_examples.block("smt")


# ------------------------------------------------------------------------------------------------
# Item 3: state keys and values

TIMES = "\N{MULTIPLICATION SIGN}"  # {11 TIMES 20} in the document: 0x11, twenty times
ADDRESS_1 = b"\x11" * 20
ADDRESS_2 = b"\x22" * 20
KEY_BUILDERS: dict[str, Any] = {
    "registry/account/<address>": lambda: full_key("registry", identity.account_key(ADDRESS_1)),
    "registry/organization/<id>": lambda: full_key("registry", identity.organization_key("bank-a")),
    "registry/policy/<address>": lambda: full_key("registry", identity.policy_key(ADDRESS_1)),
    "registry/approval/<hash>": lambda: full_key("registry", registry.approval_key(HASH_3)),
    "registry/admins/<id>": lambda: full_key(
        "registry", __import__("jinqiao.apps.registry").apps.registry.admin_count_key("bank-a")
    ),
    "registry/active_organizations": lambda: full_key(
        "registry", __import__("jinqiao.apps.registry").apps.registry.ACTIVE_ORGANIZATIONS_KEY
    ),
    "governance/parameters": lambda: full_key("governance", identity.PARAMETERS_KEY),
    "governance/validators": lambda: full_key("governance", identity.VALIDATORS_KEY),
    "governance/pending_validators": lambda: full_key(
        "governance", identity.PENDING_VALIDATORS_KEY
    ),
    "governance/proposal/<proposal>": lambda: full_key("governance", governance.proposal_key(3)),
    "governance/next_proposal_id": lambda: full_key("governance", governance.NEXT_PROPOSAL_ID_KEY),
    "token/asset/<asset>": lambda: full_key("token", token.asset_key("CNY")),
    "token/supply/<asset>": lambda: full_key("token", token.supply_key("CNY")),
    "token/balance/<asset>/<address>": lambda: full_key(
        "token", token.balance_key("CNY", ADDRESS_1)
    ),
    "token/tier/<name>": lambda: full_key("token", token.tier_key("retail")),
    "token/allowance/<asset>/<owner>/<spender>": lambda: full_key(
        "token", token.allowance_key("CNY", ADDRESS_1, ADDRESS_2)
    ),
    "payments/institution/<id>": lambda: full_key(
        "payments", payments_model.institution_key("bank-a")
    ),
    "payments/merchant/<acquirer>/<merchant_id>": lambda: full_key(
        "payments", payments_model.merchant_key("ecfin", "M0001")
    ),
    "payments/fee_schedule/<currency>": lambda: full_key(
        "payments", payments_model.fee_schedule_key("CNY")
    ),
    "payments/fee_schedule_version/<currency>/<version>": lambda: full_key(
        "payments", payments_model.fee_schedule_version_key("CNY", 3)
    ),
    "payments/collateral/<currency>/<id>": lambda: full_key(
        "payments", payments_model.collateral_key("CNY", "bank-a")
    ),
    "payments/escrow/<currency>": lambda: full_key("payments", payments_model.escrow_key("CNY")),
    "payments/payment/<payment_id>": lambda: full_key(
        "payments", payments_model.payment_key("P-1")
    ),
    "payments/refund/<payment_id>/<refund_id>": lambda: full_key(
        "payments", payments_model.refund_key("P-1", "R-1")
    ),
    "payments/next_cycle_id": lambda: full_key("payments", payments_model.NEXT_CYCLE_ID_KEY),
    "payments/cycle/<cycle>": lambda: full_key("payments", payments_model.cycle_key(3)),
    "payments/cycle/<cycle>/totals": lambda: full_key(
        "payments", payments_model.cycle_totals_key(3)
    ),
    "payments/cycle/<cycle>/participants": lambda: full_key(
        "payments", payments_model.participants_key(3)
    ),
    "payments/cycle/<cycle>/acquirers/<issuer>": lambda: full_key(
        "payments", payments_model.acquirers_key(3, "bank-a")
    ),
    "payments/cycle/<cycle>/flow/<issuer>/<acquirer>": lambda: full_key(
        "payments", payments_model.flow_key(3, "bank-a", "ecfin")
    ),
    "payments/cycle/<cycle>/institution/<id>": lambda: full_key(
        "payments", payments_model.institution_cycle_key(3, "bank-a")
    ),
    "payments/cycle/<cycle>/entry/<id>/<seq>": lambda: full_key(
        "payments", payments_model.entry_key(3, "bank-a", 7)
    ),
    "payments/cycle/<cycle>/position/<id>": lambda: full_key(
        "payments", payments_model.position_key(3, "bank-a")
    ),
}
SAMPLE_VALUES = {
    "address": ADDRESS_1,
    "owner": ADDRESS_1,
    "spender": ADDRESS_2,
    "id": "bank-a",
    "issuer": "bank-a",
    "acquirer": "ecfin",
    "asset": "CNY",
    "currency": "CNY",
    "name": "retail",
    "payment_id": "P-1",
    "refund_id": "R-1",
    "merchant_id": "M0001",
    "cycle": 3,
    "seq": 7,
    "version": 3,
    "proposal": 3,
    "hash": HASH_3,
}


def test_every_state_key_row_is_the_code_key_builder() -> None:
    rows = [doc_examples.code(row[0]) for row in doc_examples.table("state-keys")]
    assert sorted(rows) == sorted(KEY_BUILDERS), "the table and this test's builders differ"
    for template in rows:
        names = re.findall(r"<([a-z_]+)>", template)
        built = doc_verifier.state_key(template, **{name: SAMPLE_VALUES[name] for name in names})
        assert built == KEY_BUILDERS[template](), template


def _expand(template: str) -> bytes:
    out = b""
    for part in re.split(r"(\{[^}]*\})", template):
        if part.startswith("{u64 "):
            out += int(part[5:-1]).to_bytes(8, "big")
        elif part.startswith("{"):
            byte, count = part[1:-1].split(TIMES)
            out += bytes.fromhex(byte) * int(count)
        else:
            out += part.encode()
    return out


def test_the_key_byte_examples() -> None:
    joined = re.sub(r"\n\s+", "  ", doc_examples.block("key-bytes"))
    entries = [line.rsplit(None, 1) for line in joined.splitlines() if line.strip()]
    assert len(entries) == 6
    code_keys = {builder() for builder in KEY_BUILDERS.values()}
    for template, hex_text in entries:
        assert _expand(template).hex() == hex_text, template
        assert bytes.fromhex(hex_text) in code_keys, template


def test_the_value_byte_examples() -> None:
    text = doc_examples.block("state-value-bytes")
    entries = re.split(r"^(?=\S)", text, flags=re.M)
    assert len([entry for entry in entries if entry.strip()]) == 4
    for entry in entries:
        if not entry.strip():
            continue
        constructor, hex_text = entry.split("\n", 1)
        name, arguments = constructor.split("(", 1)
        literal = re.sub(
            r"\{([0-9a-f]{2})" + TIMES + r"(\d+)\}",
            lambda match: repr(bytes.fromhex(match.group(1)) * int(match.group(2))),
            "(" + arguments,
        )
        values = ast.literal_eval(literal)
        cls = code_class(name)
        fields = [field.name for field in msgspec.structs.fields(cls)]
        kwargs = {
            field: tuple(value) if isinstance(value, list) else value
            for field, value in zip(fields, values, strict=True)
        }
        record = cls(**kwargs)
        wire = doc_examples.hex_bytes(hex_text)
        assert encode(record) == wire, name
        assert doc_verifier.decode_as(wire, name)["_record"] == name


# ------------------------------------------------------------------------------------------------
# Item 4: every limit a verifier needs


def test_the_limits_table_is_the_code() -> None:
    rows = doc_examples.table("limits")
    assert len(rows) >= 20
    sources = (limits, core_types, core_proofs, governance, core_genesis)
    for row in rows:
        name, value = doc_examples.code(row[0]), int(row[1])
        found = [getattr(module, name) for module in sources if hasattr(module, name)]
        assert found, f"{name} is not a constant of the code"
        assert found[0] == value, name
    documented = {doc_examples.code(row[0]) for row in rows}
    assert {"MAX_PROOF_BYTES", "MAX_STATE_KEY_BYTES", "MAX_VALIDATORS"} <= documented
    assert doc_verifier.MAX_PROOF_BYTES == limits.MAX_PROOF_BYTES


def test_the_section_references_point_at_existing_sections() -> None:
    text = doc_examples.PROOFS_DOC.read_text()
    headings = set(re.findall(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", text, re.M))
    for reference in re.findall(r"(?<!RFC \d{4} )§(\d+(?:\.\d+)?)", text):
        assert reference in headings, f"§{reference} is not a section of docs/proofs.md"
