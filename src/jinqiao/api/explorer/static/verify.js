// jinqiao explorer: the proofs of docs/proofs.md, checked in the page.
//
// Everything this module accepts, it accepts because the numbers agree: SHA-256 from WebCrypto,
// Ed25519 point arithmetic from the vendored @noble/ed25519 (3.2.0, pinned by hash) under the
// chain's own rules (docs/proofs.md §3.2: libsodium's, not ZIP-215), the canonical encoding
// (§2), the certificate rule (§3), validator-set changes (§3.3), the binary Merkle tree (§4) and
// the sparse Merkle tree (§5). Every check that fails throws VerificationError with the reason.
// This file's SHA-384 is pinned in the installed Python package (jinqiao explorer-hash) and the
// page loads it with Subresource Integrity: a node cannot swap in a verifier that says "valid".

import { Point } from "noble-ed25519";

export class VerificationError extends Error {}

function fail(reason) {
  throw new VerificationError(reason);
}

// ---------------------------------------------------------------------------------------------
// Limits (§7)

export const LIMITS = Object.freeze({
  ADDRESS_BYTES: 20,
  HASH_BYTES: 32,
  SIGNATURE_BYTES: 64,
  MAX_PROOF_BYTES: 262144,
  MAX_TRANSACTION_BYTES: 65536,
  MAX_COSIGNERS: 23,
  MAX_RECEIPT_BYTES: 131072,
  MAX_BLOCK_BYTES: 8388608,
  MAX_BLOCK_TRANSACTIONS: 5000,
  MAX_VALIDATORS: 200,
  MAX_VALIDATOR_POWER: 1000000n,
  MAX_MERKLE_PROOF_SIBLINGS: 32,
  MAX_SMT_PROOF_SIBLINGS: 256,
  MAX_STATE_KEY_BYTES: 256,
  MAX_STATE_VALUE_BYTES: 65536,
  MAX_HEIGHT: 2n ** 63n - 1n,
  MAX_CONSENSUS_ROUND: 1000000n,
  MAX_NESTING: 32,
});

// ---------------------------------------------------------------------------------------------
// Bytes

export function hexToBytes(hex) {
  if (typeof hex !== "string" || hex.length % 2 !== 0 || !/^[0-9a-f]*$/.test(hex)) {
    fail("not lowercase hex of whole bytes");
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function bytesToHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function concatBytes(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

export function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

const ascii = (text) => new TextEncoder().encode(text);
const tag = (name) => concatBytes(ascii(name), Uint8Array.of(0));

function littleEndian(bytes) {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]);
  return n;
}

// ---------------------------------------------------------------------------------------------
// Canonical MessagePack (§2): decode, then re-encode and require the same bytes, so every value
// has exactly one accepted encoding. Integers decode as BigInt, bin as Uint8Array, str as string,
// maps as {map: [[key, value], ...]} in their encoded order.

export function encode(value) {
  const out = [];
  encodeInto(value, out);
  return Uint8Array.from(out);
}

function pushBig(out, n, bytes) {
  for (let i = bytes - 1; i >= 0; i--) out.push(Number((n >> BigInt(8 * i)) & 0xffn));
}

function pushLength(out, n, small, smallLimit, codes) {
  if (small !== null && n <= smallLimit) out.push(small | n);
  else if (codes[0] !== null && n < 0x100) out.push(codes[0], n);
  else if (n < 0x10000) out.push(codes[1], n >> 8, n & 0xff);
  else out.push(codes[2], (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
}

function encodeInto(value, out) {
  if (value === null) out.push(0xc0);
  else if (value === false) out.push(0xc2);
  else if (value === true) out.push(0xc3);
  else if (typeof value === "bigint") encodeInteger(value, out);
  else if (typeof value === "number") encodeInteger(BigInt(value), out);
  else if (typeof value === "string") {
    const bytes = new TextEncoder().encode(value);
    pushLength(out, bytes.length, 0xa0, 31, [0xd9, 0xda, 0xdb]);
    for (const b of bytes) out.push(b);
  } else if (value instanceof Uint8Array) {
    pushLength(out, value.length, null, -1, [0xc4, 0xc5, 0xc6]);
    for (const b of value) out.push(b);
  } else if (Array.isArray(value)) {
    pushLength(out, value.length, 0x90, 15, [null, 0xdc, 0xdd]);
    for (const item of value) encodeInto(item, out);
  } else if (value && Array.isArray(value.map)) {
    pushLength(out, value.map.length, 0x80, 15, [null, 0xde, 0xdf]);
    for (const [key, item] of value.map) {
      encodeInto(key, out);
      encodeInto(item, out);
    }
  } else {
    fail(`cannot encode ${typeof value}`);
  }
}

function encodeInteger(n, out) {
  if (n >= 0n) {
    if (n < 128n) out.push(Number(n));
    else if (n < 256n) out.push(0xcc, Number(n));
    else if (n < 65536n) (out.push(0xcd), pushBig(out, n, 2));
    else if (n < 2n ** 32n) (out.push(0xce), pushBig(out, n, 4));
    else if (n < 2n ** 64n) (out.push(0xcf), pushBig(out, n, 8));
    else fail("integer over 64 bits");
  } else {
    const twos = (bits) => (1n << BigInt(bits)) + n;
    if (n >= -32n) out.push(Number(twos(8)));
    else if (n >= -128n) out.push(0xd0, Number(twos(8)));
    else if (n >= -32768n) (out.push(0xd1), pushBig(out, twos(16), 2));
    else if (n >= -(2n ** 31n)) (out.push(0xd2), pushBig(out, twos(32), 4));
    else if (n >= -(2n ** 63n)) (out.push(0xd3), pushBig(out, twos(64), 8));
    else fail("integer under -2^63");
  }
}

export function decode(bytes, maxBytes) {
  if (maxBytes !== undefined && bytes.length > maxBytes) {
    fail(`${bytes.length} bytes, over the limit of ${maxBytes}`);
  }
  const reader = { bytes, at: 0 };
  const value = readValue(reader, 0);
  if (reader.at !== bytes.length) fail("bytes after the end of the value");
  if (!equalBytes(encode(value), bytes)) fail("not the canonical encoding (docs/proofs.md §2)");
  return value;
}

function take(reader, count) {
  if (reader.at + count > reader.bytes.length) fail("truncated MessagePack");
  const part = reader.bytes.subarray(reader.at, reader.at + count);
  reader.at += count;
  return part;
}

function readUnsigned(reader, size) {
  let n = 0n;
  for (const b of take(reader, size)) n = (n << 8n) | BigInt(b);
  return n;
}

function readSigned(reader, size) {
  const n = readUnsigned(reader, size);
  const bits = BigInt(8 * size);
  return n >= 1n << (bits - 1n) ? n - (1n << bits) : n;
}

const UTF8 = new TextDecoder("utf-8", { fatal: true });

function readValue(reader, depth) {
  if (depth > LIMITS.MAX_NESTING) fail("MessagePack nested too deeply");
  const code = take(reader, 1)[0];
  if (code <= 0x7f) return BigInt(code);
  if (code >= 0xe0) return BigInt(code - 0x100);
  if (code >= 0x80 && code <= 0x8f) return readMap(reader, code & 0x0f, depth);
  if (code >= 0x90 && code <= 0x9f) return readArray(reader, code & 0x0f, depth);
  if (code >= 0xa0 && code <= 0xbf) return UTF8.decode(take(reader, code & 0x1f));
  const length = (size) => Number(readUnsigned(reader, size));
  switch (code) {
    case 0xc0: return null;
    case 0xc2: return false;
    case 0xc3: return true;
    case 0xc4: return take(reader, length(1)).slice();
    case 0xc5: return take(reader, length(2)).slice();
    case 0xc6: return take(reader, length(4)).slice();
    case 0xcc: return readUnsigned(reader, 1);
    case 0xcd: return readUnsigned(reader, 2);
    case 0xce: return readUnsigned(reader, 4);
    case 0xcf: return readUnsigned(reader, 8);
    case 0xd0: return readSigned(reader, 1);
    case 0xd1: return readSigned(reader, 2);
    case 0xd2: return readSigned(reader, 4);
    case 0xd3: return readSigned(reader, 8);
    case 0xd9: return UTF8.decode(take(reader, length(1)));
    case 0xda: return UTF8.decode(take(reader, length(2)));
    case 0xdb: return UTF8.decode(take(reader, length(4)));
    case 0xdc: return readArray(reader, length(2), depth);
    case 0xdd: return readArray(reader, length(4), depth);
    case 0xde: return readMap(reader, length(2), depth);
    case 0xdf: return readMap(reader, length(4), depth);
    default: fail(`MessagePack type 0x${code.toString(16)} never occurs in signed bytes`);
  }
}

function readArray(reader, count, depth) {
  if (count > reader.bytes.length - reader.at) fail("array longer than its bytes");
  const items = [];
  for (let i = 0; i < count; i++) items.push(readValue(reader, depth + 1));
  return items;
}

function readMap(reader, count, depth) {
  if (2 * count > reader.bytes.length - reader.at) fail("map longer than its bytes");
  const pairs = [];
  for (let i = 0; i < count; i++) pairs.push([readValue(reader, depth + 1), readValue(reader, depth + 1)]);
  return { map: pairs };
}

// Shapes of the structs (§2 "structs"): each checker returns the value or fails with its name.

function expectArray(value, count, what) {
  if (!Array.isArray(value) || (count !== undefined && value.length !== count)) {
    fail(`${what} is not an array of ${count ?? "any number of"} items`);
  }
  return value;
}

function expectBin(value, what, length) {
  if (!(value instanceof Uint8Array)) fail(`${what} is not bytes`);
  if (length !== undefined && value.length !== length) fail(`${what} is not ${length} bytes`);
  return value;
}

function expectInt(value, what, low = 0n, high = LIMITS.MAX_HEIGHT) {
  if (typeof value !== "bigint" || value < low || value > high) {
    fail(`${what} is not an integer in ${low}..${high}`);
  }
  return value;
}

function expectStr(value, what) {
  if (typeof value !== "string") fail(`${what} is not a string`);
  return value;
}

export function header(value) {
  const v = expectArray(value, 11, "BlockHeader");
  return {
    chain_id: expectStr(v[0], "chain_id"),
    height: expectInt(v[1], "height", 1n),
    time_ms: expectInt(v[2], "time_ms"),
    previous_block_hash: expectBin(v[3], "previous_block_hash", 32),
    transactions_root: expectBin(v[4], "transactions_root", 32),
    receipts_root: expectBin(v[5], "receipts_root", 32),
    state_root: expectBin(v[6], "state_root", 32),
    validators_hash: expectBin(v[7], "validators_hash", 32),
    next_validators_hash: expectBin(v[8], "next_validators_hash", 32),
    proposer: expectBin(v[9], "proposer", 20),
    transaction_count: expectInt(v[10], "transaction_count", 0n, BigInt(LIMITS.MAX_BLOCK_TRANSACTIONS)),
    raw: value,
  };
}

export function certificate(value) {
  const v = expectArray(value, 4, "CommitCertificate");
  const signatures = expectArray(v[3], undefined, "signatures");
  if (signatures.length > LIMITS.MAX_VALIDATORS) fail("more signatures than a set can have");
  return {
    height: expectInt(v[0], "certificate height", 1n),
    round: expectInt(v[1], "certificate round", 0n, LIMITS.MAX_CONSENSUS_ROUND),
    block_hash: expectBin(v[2], "certificate block_hash", 32),
    signatures: signatures.map((s) => {
      const pair = expectArray(s, 2, "CommitSignature");
      return { validator: expectBin(pair[0], "signer", 20), signature: expectBin(pair[1], "signature", 64) };
    }),
  };
}

export function validatorSet(value) {
  const v = expectArray(value, 1, "ValidatorSet");
  const members = expectArray(v[0], undefined, "validators");
  if (members.length < 1 || members.length > LIMITS.MAX_VALIDATORS) fail("a set has 1..200 validators");
  const validators = members.map((m) => {
    const f = expectArray(m, 5, "Validator");
    return {
      address: expectBin(f[0], "validator address", 20),
      public_key: expectBin(f[1], "validator public_key"),
      power: expectInt(f[2], "validator power", 1n, LIMITS.MAX_VALIDATOR_POWER),
      organization: expectStr(f[3], "validator organization"),
      name: expectStr(f[4], "validator name"),
    };
  });
  for (let i = 1; i < validators.length; i++) {
    if (compareBytes(validators[i - 1].address, validators[i].address) >= 0) {
      fail("validators are not sorted by distinct address");
    }
  }
  return { validators, raw: value };
}

function compareBytes(a, b) {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

function merkleProof(value) {
  const v = expectArray(value, 3, "MerkleProof");
  const siblings = expectArray(v[2], undefined, "siblings");
  if (siblings.length > LIMITS.MAX_MERKLE_PROOF_SIBLINGS) fail("too many Merkle siblings");
  return {
    leaf_index: expectInt(v[0], "leaf_index", 0n, 2n ** 32n),
    leaf_count: expectInt(v[1], "leaf_count", 1n, 2n ** 32n),
    siblings: siblings.map((s) => expectBin(s, "sibling", 32)),
  };
}

function sparseProof(value) {
  const v = expectArray(value, 2, "SparseMerkleProof");
  const siblings = expectArray(v[0], undefined, "siblings");
  if (siblings.length > LIMITS.MAX_SMT_PROOF_SIBLINGS) fail("too many sparse Merkle siblings");
  let leaf = null;
  if (v[1] !== null) {
    const l = expectArray(v[1], 2, "SparseMerkleLeaf");
    leaf = { key_hash: expectBin(l[0], "leaf key_hash", 32), value_hash: expectBin(l[1], "leaf value_hash", 32) };
  }
  return { siblings: siblings.map((s) => expectBin(s, "sibling", 32)), leaf };
}

export function receipt(value) {
  const v = expectArray(value, 7, "Receipt");
  return {
    transaction_hash: expectBin(v[0], "receipt transaction_hash", 32),
    status: expectInt(v[1], "receipt status", 0n, 1n),
    code: expectStr(v[2], "receipt code"),
    message: expectStr(v[3], "receipt message"),
    events: expectArray(v[4], undefined, "events").map((e) => {
      const f = expectArray(e, 3, "Event");
      return {
        contract: expectStr(f[0], "event contract"),
        name: expectStr(f[1], "event name"),
        attributes: expectArray(f[2], undefined, "attributes").map((pair) => expectArray(pair, 2, "attribute")),
      };
    }),
    steps_used: expectInt(v[5], "steps_used"),
    result: expectBin(v[6], "result"),
  };
}

// A transaction of either shape (§4.3): 2 items (SignedTransaction, an 8-item body) or 3
// (MultiSignedTransaction, a 9-item body ending with the co-signers, then the co-signatures).
export function signedTransaction(value) {
  const v = expectArray(value, undefined, "SignedTransaction");
  const multi = Array.isArray(value) && value.length === 3;
  if (!multi) expectArray(value, 2, "SignedTransaction");
  const b = expectArray(v[0], multi ? 9 : 8, multi ? "MultiSignedBody" : "TransactionBody");
  const transaction = {
    body: {
      chain_id: expectStr(b[0], "chain_id"),
      sender: expectBin(b[1], "sender", 20),
      public_key: expectBin(b[2], "public_key"),
      nonce: expectInt(b[3], "nonce", 0n, 2n ** 64n - 1n),
      valid_until: expectInt(b[4], "valid_until"),
      contract: expectStr(b[5], "contract"),
      method: expectStr(b[6], "method"),
      args: expectBin(b[7], "args"),
      raw: v[0],
    },
    signature: expectBin(v[1], "transaction signature", 64),
  };
  if (multi) {
    const bounded = (items, what) => {
      expectArray(items, undefined, what);
      if (items.length < 1 || items.length > LIMITS.MAX_COSIGNERS) fail(`${what}: 1 to ${LIMITS.MAX_COSIGNERS} items`);
      return items;
    };
    transaction.body.cosigners = bounded(b[8], "cosigners").map((key) => expectBin(key, "cosigner"));
    transaction.cosignatures = bounded(v[2], "cosignatures").map((s) => expectBin(s, "co-signature", 64));
  }
  return transaction;
}

// ---------------------------------------------------------------------------------------------
// Hashes (§3, §4, §5)

export async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

async function sha512(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-512", bytes));
}

const ZERO = new Uint8Array(32);

export const headerHash = (h) => sha256(concatBytes(tag("jinqiao/block-header/v1"), encode(h.raw)));
export const validatorSetHash = (set) => sha256(concatBytes(tag("jinqiao/validator-set/v1"), encode(set.raw)));
export const transactionHash = (body) => sha256(concatBytes(tag("jinqiao/transaction/v1"), encode(body.raw)));

export async function address(publicKey) {
  return (await sha256(concatBytes(tag("jinqiao/address/v1"), publicKey))).slice(0, 20);
}

// ---------------------------------------------------------------------------------------------
// Ed25519 exactly as the chain (libsodium's crypto_sign_verify_detached), docs/proofs.md §3.2.
// noble's own verify() is cofactored and lets a small-order R through even with zip215: false,
// so only its point arithmetic is used, under these rules.

const L = 2n ** 252n + 27742317777372353535851937790883648493n;

export async function ed25519Verify(publicKey, message, signature) {
  if (publicKey.length !== 32 || signature.length !== 64) return false; // rule 1
  const r = signature.subarray(0, 32);
  const s = littleEndian(signature.subarray(32));
  if (s >= L) return false; // rule 2
  let R = null;
  try {
    R = Point.fromBytes(r, true); // any encoding of R, canonical or not
  } catch {
    R = null; // off the curve: the byte-exact equation below cannot hold
  }
  if (R !== null && R.isSmallOrder()) return false; // rule 3
  let A;
  try {
    A = Point.fromBytes(publicKey, false); // rule 4: y < p, on the curve
  } catch {
    return false;
  }
  if (A.isSmallOrder()) return false; // rule 4: not of small order
  const h = littleEndian(await sha512(concatBytes(r, publicKey, message))) % L;
  const check = Point.BASE.multiply(s, false).subtract(A.multiply(h, false));
  return equalBytes(check.toBytes(), r); // rule 5: cofactorless, byte-exact
}

// ---------------------------------------------------------------------------------------------
// Commit certificates (§3)

export async function verifyCertificate(chainId, set, h, cert) {
  if (h.chain_id !== chainId) fail(`header of chain ${h.chain_id}, not ${chainId}`);
  if (!equalBytes(h.validators_hash, await validatorSetHash(set))) {
    fail(`header ${h.height} names a validator set this page does not trust`);
  }
  const blockHash = await headerHash(h);
  if (!equalBytes(cert.block_hash, blockHash)) fail("the certificate is for another block hash");
  if (cert.height !== h.height) fail("the certificate is for another height");
  if (cert.signatures.length > set.validators.length) fail("more signatures than validators");
  const seen = new Set();
  let signed = 0n;
  let total = 0n;
  for (const v of set.validators) total += v.power;
  for (const s of cert.signatures) {
    const who = bytesToHex(s.validator);
    const member = set.validators.find((v) => bytesToHex(v.address) === who);
    if (!member) fail(`unknown signer ${who}`);
    if (seen.has(who)) fail(`duplicate signer ${who}`);
    seen.add(who);
    const vote = [h.chain_id, h.height, cert.round, 2n, blockHash, s.validator];
    const message = concatBytes(tag("jinqiao/vote/v1"), encode(vote));
    if (!(await ed25519Verify(member.public_key, message, s.signature))) {
      fail(`bad signature by validator ${member.name} (${who})`);
    }
    signed += member.power;
  }
  if (3n * signed <= 2n * total) fail(`signed power ${signed} of ${total} is not over two thirds`);
  return blockHash;
}

// ---------------------------------------------------------------------------------------------
// Binary Merkle tree (§4)

async function leafHash(leaf) {
  return sha256(concatBytes(Uint8Array.of(0), leaf));
}

async function innerHash(left, right) {
  return sha256(concatBytes(Uint8Array.of(1), left, right));
}

function largestPowerOfTwoBelow(n) {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

export async function merkleTreeHash(leaves) {
  if (leaves.length === 0) return ZERO;
  if (leaves.length === 1) return leafHash(leaves[0]);
  const k = largestPowerOfTwoBelow(leaves.length);
  return innerHash(await merkleTreeHash(leaves.slice(0, k)), await merkleTreeHash(leaves.slice(k)));
}

export async function verifyMerkleProof(leaf, proof, root) {
  if (proof.leaf_index >= proof.leaf_count) fail("leaf index outside the tree");
  const directions = [];
  let i = proof.leaf_index;
  let n = proof.leaf_count;
  while (n > 1n) {
    let k = 1n;
    while (k * 2n < n) k *= 2n;
    if (i < k) {
      directions.push(false);
      n = k;
    } else {
      directions.push(true);
      i -= k;
      n -= k;
    }
  }
  directions.reverse();
  if (directions.length !== proof.siblings.length) fail("wrong number of Merkle siblings");
  let x = await leafHash(leaf);
  for (let d = 0; d < directions.length; d++) {
    x = directions[d] ? await innerHash(proof.siblings[d], x) : await innerHash(x, proof.siblings[d]);
  }
  if (!equalBytes(x, root)) fail("the Merkle proof does not reach the header's root");
}

// ---------------------------------------------------------------------------------------------
// Sparse Merkle tree (§5)

const keyHash = (key) => sha256(concatBytes(tag("jinqiao/state-key/v1"), key));
const valueHash = (value) => sha256(concatBytes(tag("jinqiao/state-value/v1"), value));
const nodeHash = (node) => sha256(concatBytes(tag("jinqiao/smt-node/v1"), node));
const bit = (hash, d) => (hash[d >> 3] >> (7 - (d & 7))) & 1;

export async function verifyStateProof(key, value, proof, stateRoot) {
  if (key.length > LIMITS.MAX_STATE_KEY_BYTES) fail("state key too long");
  if (value !== null && value.length > LIMITS.MAX_STATE_VALUE_BYTES) fail("state value too long");
  const depth = proof.siblings.length;
  if (depth > 0 && equalBytes(proof.siblings[depth - 1], ZERO)) fail("an empty subtree beside the end of the walk");
  const p = await keyHash(key);
  let x;
  if (value !== null) {
    if (proof.leaf === null) fail("a value claimed without a leaf");
    if (!equalBytes(proof.leaf.key_hash, p)) fail("the leaf is another key's");
    if (!equalBytes(proof.leaf.value_hash, await valueHash(value))) fail("the value is not the leaf's");
    x = await nodeHash(concatBytes(Uint8Array.of(0), proof.leaf.key_hash, proof.leaf.value_hash));
  } else if (proof.leaf === null) {
    x = ZERO;
  } else {
    if (equalBytes(proof.leaf.key_hash, p)) fail("absence claimed but the leaf is this key's");
    for (let d = 0; d < depth; d++) {
      if (bit(proof.leaf.key_hash, d) !== bit(p, d)) fail("the other key's leaf is not on this key's path");
    }
    x = await nodeHash(concatBytes(Uint8Array.of(0), proof.leaf.key_hash, proof.leaf.value_hash));
  }
  for (let d = depth - 1; d >= 0; d--) {
    const s = proof.siblings[d];
    x = await nodeHash(bit(p, d) === 0 ? concatBytes(Uint8Array.of(1), x, s) : concatBytes(Uint8Array.of(1), s, x));
  }
  if (!equalBytes(x, stateRoot)) fail("the state proof does not reach the header's state root");
}

// ---------------------------------------------------------------------------------------------
// Genesis (§3.1): the genesis hash and the first validator set, computed here from the genesis
// document, so the page never takes the node's word for either.

const GENESIS_DEFAULTS = {
  crypto_suite: "ed25519-sha256",
  contracts: {},
};
const PARAMETER_DEFAULTS = {
  valid_until_window_blocks: 1000,
  block_max_transactions: 2000,
  governance_quorum_numerator: 2,
  governance_quorum_denominator: 3,
  proposal_lifetime_blocks: 100000,
};

function withDefaults(document) {
  const full = { ...GENESIS_DEFAULTS, ...document };
  full.parameters = { ...PARAMETER_DEFAULTS, ...(document.parameters || {}) };
  full.organizations = (document.organizations || []).map((o) => ({ roles: [], tls_ca_certificate: "", ...o }));
  full.accounts = (document.accounts || []).map((a) => ({ roles: [], ...a }));
  full.validators = (document.validators || []).map((v) => ({ power: 1, ...v }));
  return full;
}

function jsonToMsgpack(value) {
  if (value === null || typeof value === "boolean" || typeof value === "string") return value;
  if (typeof value === "number") {
    if (!Number.isInteger(value)) fail("genesis holds a number that is not an integer");
    return BigInt(value);
  }
  if (Array.isArray(value)) return value.map(jsonToMsgpack);
  const keys = Object.keys(value).sort((a, b) => compareBytes(ascii(a), ascii(b)));
  return { map: keys.map((k) => [k, jsonToMsgpack(value[k])]) };
}

export async function trustFromGenesis(text) {
  const document = JSON.parse(text);
  const full = withDefaults(document);
  if (full.crypto_suite !== "ed25519-sha256") fail(`this page verifies ed25519-sha256, not ${full.crypto_suite}`);
  const genesisHash = await sha256(concatBytes(tag("jinqiao/genesis/v1"), encode(jsonToMsgpack(full))));
  const validators = [];
  for (const v of full.validators) {
    const publicKey = hexToBytes(v.public_key);
    validators.push([await address(publicKey), publicKey, BigInt(v.power), v.organization, v.name]);
  }
  validators.sort((a, b) => compareBytes(a[0], b[0]));
  const set = validatorSet([validators]);
  return new Trust(full.chain_id, genesisHash, set, full);
}

// ---------------------------------------------------------------------------------------------
// The trusted validator sets, followed through governance (§3.3) as the SDK does.

export class Trust {
  constructor(chainId, genesisHash, genesisSet, genesis) {
    this.chainId = chainId;
    this.genesisHash = genesisHash;
    this.genesis = genesis;
    this.sets = [{ from: 1n, set: genesisSet }]; // each set certifies heights from `from` on
    this.followedTo = 0n; // changes read up to this height
    this.fetchChanges = null; // async (fromHeight) => [{height, proof}], set by the page
  }

  setFor(height) {
    let found = this.sets[0].set;
    for (const entry of this.sets) if (entry.from <= height) found = entry.set;
    return found;
  }

  async follow(height) {
    if (this.fetchChanges === null || height <= this.followedTo) return;
    let from = this.followedTo + 1n;
    for (let page = 0; page < 100; page++) {
      const changes = await this.fetchChanges(from);
      for (const change of changes) {
        const proof = decodeStateReadProof(hexToBytes(change.proof));
        const h = proof.header;
        await verifyCertificate(this.chainId, this.setFor(h.height), h, proof.certificate);
        if (bytesToHex(proof.key) !== bytesToHex(ascii("governance/validators"))) fail("a validator change proves another key");
        if (proof.value === null) fail("a validator change proves no set");
        await verifyStateProof(proof.key, proof.value, proof.proof, h.state_root);
        const set = validatorSet(decode(proof.value));
        if (!equalBytes(await validatorSetHash(set), h.next_validators_hash)) fail("a new set is not the one its header names");
        this.sets.push({ from: h.height + 1n, set });
        from = h.height + 1n;
      }
      if (changes.length < 100) break;
    }
    // Every change up to the node's head is now known, not only those up to `height`.
    this.followedTo = height > from - 1n ? height : from - 1n;
  }

  async certify(h, cert) {
    await this.follow(h.height);
    return verifyCertificate(this.chainId, this.setFor(h.height), h, cert);
  }
}

// ---------------------------------------------------------------------------------------------
// Answers of the API, checked end to end (§8, §4.2, §9.2, §9.3)

export function decodeStateReadProof(bytes) {
  const v = expectArray(decode(bytes, LIMITS.MAX_PROOF_BYTES), 5, "StateReadProof");
  return {
    header: header(v[0]),
    certificate: certificate(v[1]),
    key: expectBin(v[2], "key"),
    value: v[3] === null ? null : expectBin(v[3], "value"),
    proof: sparseProof(v[4]),
  };
}

// A state answer: its proof names the key asked about, its certificate commits its header, and
// the value (or its absence) is in that header's state root. Returns the proven value and header.
export async function verifyStateAnswer(trust, proofHex, expectedKey, minHeight) {
  const proof = decodeStateReadProof(hexToBytes(proofHex));
  if (!equalBytes(proof.key, expectedKey)) fail("the proof is for another state key");
  if (minHeight !== undefined && proof.header.height < minHeight) fail("the proof is older than required");
  await trust.certify(proof.header, proof.certificate);
  await verifyStateProof(proof.key, proof.value, proof.proof, proof.header.state_root);
  return { value: proof.value, header: proof.header };
}

// A block answer (§9.3): header, certificate and, with leaves, the transaction and receipt lists.
export async function verifyBlockAnswer(trust, answer) {
  const h = header(decode(hexToBytes(answer.header_bytes), LIMITS.MAX_PROOF_BYTES));
  const cert = certificate(decode(hexToBytes(answer.certificate_bytes), LIMITS.MAX_PROOF_BYTES));
  const blockHash = await trust.certify(h, cert);
  const result = { header: h, blockHash, transactions: null, receipts: null };
  if (answer.transaction_leaves === undefined) return result;
  const txLeaves = answer.transaction_leaves.map(hexToBytes);
  const receiptLeaves = answer.receipt_leaves.map(hexToBytes);
  const count = Number(h.transaction_count);
  if (txLeaves.length !== count || receiptLeaves.length !== count) fail("the lists do not have transaction_count items");
  if (txLeaves.reduce((n, l) => n + l.length, 0) > LIMITS.MAX_BLOCK_BYTES) fail("the block is over its size limit");
  if (!equalBytes(await merkleTreeHash(txLeaves), h.transactions_root)) fail("the transactions are not the header's transactions_root");
  if (!equalBytes(await merkleTreeHash(receiptLeaves), h.receipts_root)) fail("the receipts are not the header's receipts_root");
  result.transactions = [];
  result.receipts = [];
  for (let i = 0; i < count; i++) {
    const tx = signedTransaction(decode(txLeaves[i], LIMITS.MAX_TRANSACTION_BYTES));
    const rc = receipt(decode(receiptLeaves[i], LIMITS.MAX_RECEIPT_BYTES));
    const hash = await transactionHash(tx.body);
    if (!equalBytes(rc.transaction_hash, hash)) fail(`receipt ${i} is not for transaction ${i}`);
    result.transactions.push({ ...tx, hash });
    result.receipts.push(rc);
  }
  return result;
}

function decodeLeafProof(bytes, what) {
  const v = expectArray(decode(bytes, LIMITS.MAX_PROOF_BYTES), 4, what);
  return { header: header(v[0]), certificate: certificate(v[1]), leaf: expectBin(v[2], "leaf"), proof: merkleProof(v[3]), rawHeader: encode(v[0]) };
}

// A transaction lookup (§4.2), tied to the hash asked for.
export async function verifyTransactionAnswer(trust, hashHex, answer) {
  const t = hexToBytes(hashHex);
  const tp = decodeLeafProof(hexToBytes(answer.transaction_proof), "TransactionProof");
  const rp = decodeLeafProof(hexToBytes(answer.receipt_proof), "ReceiptProof");
  if (!equalBytes(tp.rawHeader, rp.rawHeader)) fail("the two proofs carry different headers");
  await trust.certify(tp.header, tp.certificate);
  if (tp.proof.leaf_index !== rp.proof.leaf_index) fail("the proofs are for different leaf indexes");
  for (const p of [tp, rp]) {
    if (p.proof.leaf_count !== tp.header.transaction_count) fail("leaf_count is not the header's transaction_count");
  }
  await verifyMerkleProof(tp.leaf, tp.proof, tp.header.transactions_root);
  await verifyMerkleProof(rp.leaf, rp.proof, tp.header.receipts_root);
  const tx = signedTransaction(decode(tp.leaf, LIMITS.MAX_TRANSACTION_BYTES));
  if (!equalBytes(await transactionHash(tx.body), t)) fail("the transaction is not the one asked for");
  const rc = receipt(decode(rp.leaf, LIMITS.MAX_RECEIPT_BYTES));
  if (!equalBytes(rc.transaction_hash, t)) fail("the receipt is for another transaction");
  return { header: tp.header, index: tp.proof.leaf_index, transaction: tx, receipt: rc };
}

// State keys (§6)
export function stateKey(contract, ...parts) {
  return concatBytes(ascii(`${contract}/`), ...parts.map((p) => (typeof p === "string" ? ascii(p) : p)));
}

export function uint64Key(n) {
  const out = new Uint8Array(8);
  let x = BigInt(n);
  for (let i = 7; i >= 0; i--) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}
