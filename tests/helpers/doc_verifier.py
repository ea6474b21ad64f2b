"""An independent verifier written from docs/proofs.md alone, as an outsider would write it.

It imports nothing from ``jinqiao``: the Python standard library, PyNaCl for Ed25519, and the
document itself — the struct layouts (§2, §6), the state-key table (§6) are read out of
docs/proofs.md, so when the document is wrong this verifier is wrong and the tests that run it
against a real node fail. Its MessagePack decoder is its own, strict as §2 says. Every failed
check raises ``Refused`` naming it.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
from dataclasses import dataclass, field
from typing import Any

import nacl.exceptions
import nacl.signing

from tests.helpers import doc_examples

ZERO = bytes(32)
MAX_PROOF_BYTES = 262_144
MAX_STATE_KEY_BYTES = 256
MAX_STATE_VALUE_BYTES = 65_536
MAX_VALIDATORS = 200
MAX_MERKLE_SIBLINGS = 32
MAX_SMT_SIBLINGS = 256
MAX_DEPTH = 32


class Refused(Exception):
    """A check of docs/proofs.md failed."""


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


# ------------------------------------------------------------------------------------------------
# §2: MessagePack, strict


def decode(data: bytes, *, max_bytes: int = MAX_PROOF_BYTES) -> Any:
    """One canonical MessagePack value and nothing after it. Maps become lists of pairs."""
    if len(data) > max_bytes:
        raise Refused(f"{len(data)} bytes is over {max_bytes}")
    value, end = _decode_at(data, 0, 0)
    if end != len(data):
        raise Refused(f"{len(data) - end} bytes after the value")
    return value


def _take(data: bytes, at: int, count: int) -> bytes:
    if at + count > len(data):
        raise Refused("truncated")
    return data[at : at + count]


def _length(data: bytes, at: int, size: int) -> int:
    return int.from_bytes(_take(data, at, size), "big")


def _decode_at(data: bytes, at: int, depth: int) -> tuple[Any, int]:
    if depth > MAX_DEPTH:
        raise Refused("nested too deep")
    kind = _take(data, at, 1)[0]
    at += 1
    if kind <= 0x7F:
        return kind, at
    if kind >= 0xE0:
        return kind - 0x100, at
    if 0xA0 <= kind <= 0xBF:
        return _string(data, at, kind & 0x1F)
    if 0x90 <= kind <= 0x9F:
        return _array(data, at, kind & 0x0F, depth)
    if 0x80 <= kind <= 0x8F:
        return _map(data, at, kind & 0x0F, depth)
    if kind == 0xC0:
        return None, at
    if kind in (0xC2, 0xC3):
        return kind == 0xC3, at
    if kind in (0xCC, 0xCD, 0xCE, 0xCF):
        size = {0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8}[kind]
        value = _length(data, at, size)
        smallest = {1: 0x80, 2: 0x100, 4: 0x10000, 8: 0x100000000}[size]
        if value < smallest:
            raise Refused(f"integer {value} in a longer form than it needs")
        return value, at + size
    if kind in (0xD0, 0xD1, 0xD2, 0xD3):
        size = {0xD0: 1, 0xD1: 2, 0xD2: 4, 0xD3: 8}[kind]
        value = int.from_bytes(_take(data, at, size), "big", signed=True)
        largest = {1: -33, 2: -129, 4: -32769, 8: -(2**31) - 1}[size]
        if value > largest:
            raise Refused(f"integer {value} in a longer or signed form it does not need")
        return value, at + size
    if kind in (0xC4, 0xC5, 0xC6):
        size = {0xC4: 1, 0xC5: 2, 0xC6: 4}[kind]
        length = _length(data, at, size)
        if length < {1: 0, 2: 256, 4: 65536}[size]:
            raise Refused("bytes length in a longer form than it needs")
        return _take(data, at + size, length), at + size + length
    if kind in (0xD9, 0xDA, 0xDB):
        size = {0xD9: 1, 0xDA: 2, 0xDB: 4}[kind]
        length = _length(data, at, size)
        if length < {1: 32, 2: 256, 4: 65536}[size]:
            raise Refused("string length in a longer form than it needs")
        return _string(data, at + size, length)
    if kind in (0xDC, 0xDD, 0xDE, 0xDF):
        size = 2 if kind in (0xDC, 0xDE) else 4
        count = _length(data, at, size)
        if count < (16 if size == 2 else 65536):
            raise Refused("array or map length in a longer form than it needs")
        read = _array if kind in (0xDC, 0xDD) else _map
        return read(data, at + size, count, depth)
    raise Refused(f"type byte {kind:#04x} never occurs in canonical bytes")


def _string(data: bytes, at: int, length: int) -> tuple[str, int]:
    try:
        return _take(data, at, length).decode("utf-8"), at + length
    except UnicodeDecodeError:
        raise Refused("a string is not UTF-8") from None


def _array(data: bytes, at: int, count: int, depth: int) -> tuple[list[Any], int]:
    items = []
    for _ in range(count):
        item, at = _decode_at(data, at, depth + 1)
        items.append(item)
    return items, at


def _map(data: bytes, at: int, count: int, depth: int) -> tuple[list[tuple[Any, Any]], int]:
    pairs = []
    for _ in range(count):
        key, at = _decode_at(data, at, depth + 1)
        value, at = _decode_at(data, at, depth + 1)
        pairs.append((key, value))
    return pairs, at


def encode(value: Any, *, sort_maps: bool = False) -> bytes:
    """The canonical encoding of §2; ``dict`` is a map (keys sorted when ``sort_maps``)."""
    if value is None:
        return b"\xc0"
    if value is True or value is False:
        return b"\xc3" if value else b"\xc2"
    if isinstance(value, int):
        if 0 <= value <= 0x7F:
            return bytes([value])
        if -32 <= value < 0:
            return bytes([value + 0x100])
        if value > 0:
            for kind, size in ((0xCC, 1), (0xCD, 2), (0xCE, 4), (0xCF, 8)):
                if value < 1 << (8 * size):
                    return bytes([kind]) + value.to_bytes(size, "big")
        for kind, size in ((0xD0, 1), (0xD1, 2), (0xD2, 4), (0xD3, 8)):
            if value >= -(1 << (8 * size - 1)):
                return bytes([kind]) + value.to_bytes(size, "big", signed=True)
        raise Refused(f"integer {value} does not fit 64 bits")
    if isinstance(value, bytes):
        return _header(len(value), None, (0xC4, 1), (0xC5, 2), (0xC6, 4)) + value
    if isinstance(value, str):
        raw = value.encode()
        return _header(len(raw), 0xA0, (0xD9, 1), (0xDA, 2), (0xDB, 4)) + raw
    if isinstance(value, list | tuple):
        head = _header(len(value), 0x90, (0xDC, 2), (0xDD, 4))
        return head + b"".join(encode(item, sort_maps=sort_maps) for item in value)
    if isinstance(value, dict):
        items = (
            sorted(value.items(), key=lambda item: str(item[0]).encode())
            if sort_maps
            else value.items()
        )
        head = _header(len(value), 0x80, (0xDE, 2), (0xDF, 4))
        return head + b"".join(
            encode(key, sort_maps=sort_maps) + encode(item, sort_maps=sort_maps)
            for key, item in items
        )
    raise Refused(f"cannot encode a {type(value).__name__}")


def _header(length: int, fix: int | None, *forms: tuple[int, int]) -> bytes:
    if fix is not None and length <= (31 if fix == 0xA0 else 15):
        return bytes([fix | length])
    for kind, size in forms:
        if length < 1 << (8 * size):
            return bytes([kind]) + length.to_bytes(size, "big")
    raise Refused("too long")


# ------------------------------------------------------------------------------------------------
# §2 and §6: the record layouts, read from the document


@dataclass(frozen=True)
class Layout:
    name: str
    is_map: bool
    tag: str | None
    fields: tuple[tuple[str, str], ...]


def _layouts() -> dict[str, Layout]:
    text = doc_examples.block("structs") + doc_examples.block("state-values")
    layouts = {}
    for name, (bracket, inner) in doc_examples.definitions(text).items():
        parts = doc_examples.split_fields(inner)
        tag = None
        if parts and parts[0].startswith('"'):
            tag = parts.pop(0).strip('"')
        fields = tuple(
            (part.split(":", 1)[0].strip(), part.split(":", 1)[1].strip()) for part in parts
        )
        layouts[name] = Layout(name, bracket == "{", tag, fields)
    return layouts


LAYOUTS = _layouts()
UNIONS = {
    "ProposalAction": tuple(name for name, layout in LAYOUTS.items() if layout.tag is not None)
}


def shape(value: Any, type_text: str) -> Any:
    """Check a decoded value against a type as the document writes it (``int``, ``bin(32)``,
    ``[X...]``, ``X | nil``, a record name) and give records as dicts of their fields."""
    type_text = type_text.strip()
    alternatives = _split_union(type_text)
    if len(alternatives) > 1:
        for alternative in alternatives:
            try:
                return shape(value, alternative)
            except Refused:
                continue
        raise Refused(f"{value!r:.60} is none of {type_text}")
    if type_text == "nil":
        if value is not None:
            raise Refused("expected nil")
        return None
    if type_text == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise Refused(f"expected an int, got {value!r:.40}")
        return value
    if type_text == "bool":
        if not isinstance(value, bool):
            raise Refused(f"expected a bool, got {value!r:.40}")
        return value
    if type_text == "str":
        if not isinstance(value, str):
            raise Refused(f"expected a str, got {value!r:.40}")
        return value
    bin_match = re.fullmatch(r"bin(?:\((\d+)\))?", type_text)
    if bin_match:
        if not isinstance(value, bytes):
            raise Refused(f"expected bin, got {value!r:.40}")
        if bin_match.group(1) and len(value) != int(bin_match.group(1)):
            raise Refused(f"expected {bin_match.group(1)} bytes, got {len(value)}")
        return value
    if type_text.startswith("[") and type_text.endswith("...]"):
        if not isinstance(value, list):
            raise Refused(f"expected an array for {type_text}")
        return [shape(item, type_text[1:-4]) for item in value]
    if type_text.startswith("[") and type_text.endswith("]"):
        items = doc_examples.split_fields(type_text[1:-1])
        if not isinstance(value, list) or len(value) != len(items):
            raise Refused(f"expected a {len(items)}-item array for {type_text}")
        return [shape(item, kind) for item, kind in zip(value, items, strict=True)]
    if type_text in UNIONS:
        return shape(value, " | ".join(UNIONS[type_text]))
    layout = LAYOUTS.get(type_text)
    if layout is None:
        raise Refused(f"the document defines no {type_text}")
    return _record(value, layout)


def _record(value: Any, layout: Layout) -> dict[str, Any]:
    if layout.is_map:
        if not isinstance(value, list) or not all(isinstance(p, tuple) for p in value):
            raise Refused(f"{layout.name} is a map")
        names = [key for key, _ in value]
        if names != [name for name, _ in layout.fields]:
            raise Refused(f"{layout.name} has keys {names}")
        items = [item for _, item in value]
    else:
        if not isinstance(value, list):
            raise Refused(f"{layout.name} is an array")
        items = list(value)
        if layout.tag is not None:
            if not items or items[0] != layout.tag:
                raise Refused(f"not a {layout.name}")
            items = items[1:]
        if len(items) != len(layout.fields):
            raise Refused(f"{layout.name} has {len(layout.fields)} fields, got {len(items)}")
    record = {
        name: shape(item, kind) for (name, kind), item in zip(layout.fields, items, strict=True)
    }
    record["_record"] = layout.name
    return record


def _split_union(type_text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in type_text:
        depth += char in "[{"
        depth -= char in "]}"
        if char == "|" and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    parts.append(current.strip())
    return parts


def unshape(record: Any) -> Any:
    """A record back to the value it was decoded from (to re-encode it for hashing)."""
    if isinstance(record, dict):
        layout = LAYOUTS[record["_record"]]
        items = [unshape(record[name]) for name, _ in layout.fields]
        if layout.is_map:
            return dict(zip([name for name, _ in layout.fields], items, strict=True))
        return ([layout.tag] if layout.tag is not None else []) + items
    if isinstance(record, list):
        return [unshape(item) for item in record]
    return record


def decode_as(data: bytes, type_text: str, *, max_bytes: int = MAX_PROOF_BYTES) -> Any:
    return shape(decode(data, max_bytes=max_bytes), type_text)


# ------------------------------------------------------------------------------------------------
# §3: headers, certificates, validator sets, genesis

TAG_HEADER = b"jinqiao/block-header/v1\x00"
TAG_VALIDATOR_SET = b"jinqiao/validator-set/v1\x00"
TAG_VOTE = b"jinqiao/vote/v1\x00"
TAG_ADDRESS = b"jinqiao/address/v1\x00"
TAG_GENESIS = b"jinqiao/genesis/v1\x00"
TAG_TRANSACTION = b"jinqiao/transaction/v1\x00"


def header_hash(header: dict[str, Any]) -> bytes:
    return sha256(TAG_HEADER + encode(unshape(header)))


def validator_set_hash(validators: dict[str, Any]) -> bytes:
    return sha256(TAG_VALIDATOR_SET + encode(unshape(validators)))


def address(public_key: bytes) -> bytes:
    return sha256(TAG_ADDRESS + public_key)[:20]


def ed25519_valid(public_key: bytes, message: bytes, signature: bytes) -> bool:
    if len(public_key) != 32 or len(signature) != 64:
        return False
    try:
        nacl.signing.VerifyKey(public_key).verify(message, signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.CryptoError, ValueError):
        return False
    return True


def verify_certificate(
    chain_id: str, validators: dict[str, Any], header: dict[str, Any], certificate: dict[str, Any]
) -> None:
    members = validators["validators"]
    if not 1 <= len(members) <= MAX_VALIDATORS:
        raise Refused("a validator set has 1..200 members")
    by_address = {member["address"]: member for member in members}
    if len(by_address) != len(members) or any(m["power"] <= 0 for m in members):
        raise Refused("trusted set has a repeated address or a non-positive power")
    if header["chain_id"] != chain_id:
        raise Refused("header of another chain")
    if header["validators_hash"] != validator_set_hash(validators):
        raise Refused("header.validators_hash is not the trusted set")
    block_hash = header_hash(header)
    if certificate["block_hash"] != block_hash or certificate["height"] != header["height"]:
        raise Refused("certificate is for another block")
    if certificate["round"] < 0 or len(certificate["signatures"]) > len(members):
        raise Refused("certificate round or signature count out of range")
    signed, seen = 0, set()
    for signature in certificate["signatures"]:
        member = by_address.get(signature["validator"])
        if member is None:
            raise Refused("unknown signer")
        if signature["validator"] in seen:
            raise Refused("duplicate signer")
        seen.add(signature["validator"])
        vote = [
            chain_id,
            header["height"],
            certificate["round"],
            2,
            block_hash,
            signature["validator"],
        ]
        if not ed25519_valid(member["public_key"], TAG_VOTE + encode(vote), signature["signature"]):
            raise Refused("bad signature")
        signed += member["power"]
    total = sum(member["power"] for member in members)
    if not 3 * signed > 2 * total:
        raise Refused(f"signers hold {signed} of {total}")


GENESIS_DEFAULTS: dict[str, Any] = {
    "crypto_suite": "ed25519-sha256",
    "contracts": {},
}
PARAMETER_DEFAULTS = {
    "valid_until_window_blocks": 1000,
    "block_max_transactions": 2000,
    "governance_quorum_numerator": 2,
    "governance_quorum_denominator": 3,
    "proposal_lifetime_blocks": 100000,
}


def genesis_validator_set(genesis: dict[str, Any]) -> dict[str, Any]:
    validators = []
    for entry in genesis["validators"]:
        public_key = bytes.fromhex(entry["public_key"])
        validators.append(
            [
                address(public_key),
                public_key,
                entry.get("power", 1),
                entry["organization"],
                entry["name"],
            ]
        )
    validators.sort(key=lambda validator: validator[0])
    return shape([validators], "ValidatorSet")


def genesis_hash(genesis: dict[str, Any]) -> bytes:
    full = {**GENESIS_DEFAULTS, **genesis}
    full["parameters"] = {**PARAMETER_DEFAULTS, **genesis.get("parameters", {})}
    full["organizations"] = [
        {"roles": [], "tls_ca_certificate": "", **organization}
        for organization in genesis["organizations"]
    ]
    full["accounts"] = [{"roles": [], **account} for account in genesis["accounts"]]
    full["validators"] = [{"power": 1, **validator} for validator in genesis["validators"]]
    return sha256(TAG_GENESIS + encode(full, sort_maps=True))


@dataclass
class Trust:
    """What a client holding only genesis trusts: the chain id and the validator set of each
    height range, extended only by proven changes (§3.3)."""

    chain_id: str
    genesis_hash: bytes
    sets: list[tuple[int, dict[str, Any]]] = field(default_factory=list)

    @classmethod
    def from_genesis(cls, genesis_json: bytes) -> Trust:
        genesis = json.loads(genesis_json)
        trust = cls(genesis["chain_id"], genesis_hash(genesis))
        trust.sets.append((1, genesis_validator_set(genesis)))
        return trust

    def set_for(self, height: int) -> dict[str, Any]:
        chosen = None
        for first_height, validators in self.sets:
            if first_height <= height:
                chosen = validators
        if chosen is None:
            raise Refused(f"no trusted set for height {height}")
        return chosen

    def check_header(self, header: dict[str, Any], certificate: dict[str, Any]) -> None:
        verify_certificate(self.chain_id, self.set_for(header["height"]), header, certificate)

    def follow(self, change_proof: bytes) -> None:
        """§3.3: a proven ``governance/validators`` at a height whose header names a new next
        set; trust that set from the next height on."""
        proof = decode_as(change_proof, "StateReadProof")
        header = proof["header"]
        if proof["key"] != b"governance/validators" or proof["value"] is None:
            raise Refused("a validator change proves another key")
        self.check_header(header, proof["certificate"])
        verify_state(header["state_root"], proof["key"], proof["value"], proof["proof"])
        new = decode_as(proof["value"], "ValidatorSet")
        if validator_set_hash(new) != header["next_validators_hash"]:
            raise Refused("the proven set is not the header's next set")
        if header["height"] + 1 <= self.sets[-1][0]:
            raise Refused("a change out of order")
        self.sets.append((header["height"] + 1, new))


# ------------------------------------------------------------------------------------------------
# §4: binary Merkle proofs, and a transaction lookup


def merkle_root(leaves: list[bytes]) -> bytes:
    if not leaves:
        return ZERO
    if len(leaves) == 1:
        return sha256(b"\x00" + leaves[0])
    split = 1 << ((len(leaves) - 1).bit_length() - 1)
    return sha256(b"\x01" + merkle_root(leaves[:split]) + merkle_root(leaves[split:]))


def verify_merkle(root: bytes, leaf: bytes, proof: dict[str, Any]) -> None:
    index, count, siblings = proof["leaf_index"], proof["leaf_count"], proof["siblings"]
    if not 1 <= count <= 2**32 or not 0 <= index < count or len(siblings) > MAX_MERKLE_SIBLINGS:
        raise Refused("Merkle proof out of range")
    directions = []
    while count > 1:
        split = 1 << ((count - 1).bit_length() - 1)
        if index < split:
            directions.append(False)
            count = split
        else:
            directions.append(True)
            index, count = index - split, count - split
    directions.reverse()
    if len(siblings) != len(directions):
        raise Refused("wrong number of siblings")
    node = sha256(b"\x00" + leaf)
    for sibling, is_right in zip(siblings, directions, strict=True):
        node = sha256(b"\x01" + sibling + node) if is_right else sha256(b"\x01" + node + sibling)
    if node != root:
        raise Refused("Merkle proof does not lead to the root")


@dataclass(frozen=True)
class Lookup:
    height: int
    index: int
    receipt: dict[str, Any]
    transaction: dict[str, Any]


def transaction_and_body(leaf: bytes) -> tuple[dict[str, Any], bytes]:
    """§4.2 step 5 and §4.3: a transaction leaf of either shape, by its first byte, and the
    bytes of its body (what its hash and every signature cover)."""
    if leaf[:1] == b"\x92":
        transaction = decode_as(leaf, "SignedTransaction")
        body = leaf[1:-66]
    elif leaf[:1] == b"\x93":
        transaction = decode_as(leaf, "MultiSignedTransaction")
        body = encode(unshape(transaction["body"]))
    else:
        raise Refused("a transaction leaf starts with 92 or 93")
    if encode(unshape(transaction["body"])) != body or leaf[1 : 1 + len(body)] != body:
        raise Refused("the transaction leaf is not 92|93 || enc(body) || c440 || signature ...")
    return transaction, body


def verify_lookup(
    trust: Trust, asked: bytes, transaction_proof: bytes, receipt_proof: bytes
) -> Lookup:
    """§4.2: both proofs tied to the hash asked for."""
    transaction_bundle = decode_as(transaction_proof, "TransactionProof")
    receipt_bundle = decode_as(receipt_proof, "ReceiptProof")
    header = transaction_bundle["header"]
    if encode(unshape(header)) != encode(unshape(receipt_bundle["header"])):
        raise Refused("the proofs are against different headers")
    trust.check_header(header, transaction_bundle["certificate"])
    trust.check_header(receipt_bundle["header"], receipt_bundle["certificate"])
    t_proof, r_proof = transaction_bundle["proof"], receipt_bundle["proof"]
    if t_proof["leaf_index"] != r_proof["leaf_index"]:
        raise Refused("the proofs are for different leaf indexes")
    if not t_proof["leaf_count"] == r_proof["leaf_count"] == header["transaction_count"]:
        raise Refused("leaf_count is not the header's transaction_count")
    verify_merkle(header["transactions_root"], transaction_bundle["transaction"], t_proof)
    verify_merkle(header["receipts_root"], receipt_bundle["receipt"], r_proof)
    leaf = transaction_bundle["transaction"]
    transaction, body = transaction_and_body(leaf)
    if sha256(TAG_TRANSACTION + body) != asked:
        raise Refused("the proven transaction is not the one asked for")
    receipt = decode_as(receipt_bundle["receipt"], "Receipt")
    if receipt["transaction_hash"] != asked:
        raise Refused("the receipt is for another transaction")
    return Lookup(header["height"], t_proof["leaf_index"], receipt, transaction)


# ------------------------------------------------------------------------------------------------
# §5: sparse Merkle proofs


def _bit(path: bytes, depth: int) -> int:
    return (path[depth // 8] >> (7 - depth % 8)) & 1


def _node(kind: int, first: bytes, second: bytes) -> bytes:
    return sha256(b"jinqiao/smt-node/v1\x00" + bytes([kind]) + first + second)


def key_hash(full_key: bytes) -> bytes:
    return sha256(b"jinqiao/state-key/v1\x00" + full_key)


def value_hash(value: bytes) -> bytes:
    return sha256(b"jinqiao/state-value/v1\x00" + value)


def verify_state(root: bytes, key: bytes, value: bytes | None, proof: dict[str, Any]) -> None:
    siblings, leaf = proof["siblings"], proof["leaf"]
    if len(siblings) > MAX_SMT_SIBLINGS or len(key) > MAX_STATE_KEY_BYTES:
        raise Refused("state proof or key too long")
    if value is not None and len(value) > MAX_STATE_VALUE_BYTES:
        raise Refused("state value too long")
    if siblings and siblings[-1] == ZERO:
        raise Refused("deepest sibling is empty")
    path = key_hash(key)
    if value is not None:
        if leaf is None or leaf["key_hash"] != path or leaf["value_hash"] != value_hash(value):
            raise Refused("the proof's leaf is not this key and value")
        node = _node(0, leaf["key_hash"], leaf["value_hash"])
    elif leaf is None:
        node = ZERO
    else:
        if leaf["key_hash"] == path:
            raise Refused("absence claimed but the key is present")
        if any(_bit(leaf["key_hash"], d) != _bit(path, d) for d in range(len(siblings))):
            raise Refused("the other leaf is off the key's path")
        node = _node(0, leaf["key_hash"], leaf["value_hash"])
    for depth in range(len(siblings) - 1, -1, -1):
        sibling = siblings[depth]
        node = _node(1, node, sibling) if _bit(path, depth) == 0 else _node(1, sibling, node)
    if node != root:
        raise Refused("state proof does not lead to the root")


# ------------------------------------------------------------------------------------------------
# §6: which key a read proves, and what its value is


def _state_key_rows() -> dict[str, str]:
    rows = doc_examples.table("state-keys")
    return {doc_examples.code(row[0]): doc_examples.code(row[1]) for row in rows}


STATE_KEYS = _state_key_rows()
NUMBER_PLACEHOLDERS = ("cycle", "seq", "version", "proposal")
RAW_PLACEHOLDERS = ("address", "owner", "spender")
HASH_PLACEHOLDERS = ("hash",)


def state_key(template: str, **values: Any) -> bytes:
    """The full key of a §6 row, e.g. ``state_key("token/balance/<asset>/<address>",
    asset="CNY", address=raw)``: numbers 8 bytes big-endian, addresses and hashes raw, the rest
    ASCII."""
    if template not in STATE_KEYS:
        raise Refused(f"docs/proofs.md §6 has no key {template}")
    out = b""
    for part in re.split(r"(<[a-z_]+>)", template):
        if part.startswith("<"):
            name = part[1:-1]
            value = values[name]
            if name in NUMBER_PLACEHOLDERS:
                out += struct.pack(">Q", value)
            elif name in RAW_PLACEHOLDERS:
                if len(value) != 20:
                    raise Refused(f"{name} is 20 bytes")
                out += value
            elif name in HASH_PLACEHOLDERS:
                if len(value) != 32:
                    raise Refused(f"{name} is 32 bytes")
                out += value
            else:
                out += value.encode("ascii")
        else:
            out += part.encode("ascii")
    return out


def value_type(template: str) -> str:
    return STATE_KEYS[template]


@dataclass(frozen=True)
class ProvenRead:
    height: int
    value: Any  # the decoded record, or None when proven absent


def verify_read(
    trust: Trust, proof_bytes: bytes, template: str, *, height: int | None = None, **values: Any
) -> ProvenRead:
    """§8: a ``StateReadProof`` of the §6 key ``template`` with ``values``, its value decoded as
    the record §6 names."""
    proof = decode_as(proof_bytes, "StateReadProof")
    expected = state_key(template, **values)
    if proof["key"] != expected:
        raise Refused(f"the proof is for key {proof['key']!r}, not {expected!r}")
    header = proof["header"]
    if height is not None and header["height"] != height:
        raise Refused("the proof is at another height")
    trust.check_header(header, proof["certificate"])
    verify_state(header["state_root"], proof["key"], proof["value"], proof["proof"])
    if proof["value"] is None:
        return ProvenRead(header["height"], None)
    return ProvenRead(
        header["height"],
        decode_as(proof["value"], value_type(template), max_bytes=MAX_STATE_VALUE_BYTES),
    )
