"""Several signatures in one transaction (docs/keys.md "Several signatures in one transaction",
docs/proofs.md §4.3, ADR 0051): the second shape, decoded by arity; the old shape keeps its bytes
and hash; every signature is checked statelessly; the policy's rules decide, each refusal with
its code and no state change (``Chain.rejected``)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from jinqiao.apps.registry import KeyArgs, SetPolicyArgs
from jinqiao.apps.token import HoldingArgs, TransferArgs
from jinqiao.client import MultiSigner, add_signature, missing_signers, prepare_multi_signed
from jinqiao.core.codec import decode, decode_stored, encode
from jinqiao.core.errors import DecodeError, InvalidInput
from jinqiao.core.hashing import transaction_hash, transaction_signing_bytes
from jinqiao.core.limits import MAX_COSIGNERS, MAX_TRANSACTION_BYTES
from jinqiao.core.types import (
    Block,
    BlockHeader,
    CommitCertificate,
    CommittedBlock,
    MultiSignedTransaction,
    SignedTransaction,
    TransactionBody,
    decode_transaction,
    with_cosigners,
    without_cosigners,
)
from jinqiao.execution.identity import REGISTRY, AmountRule, PolicyKey
from jinqiao.execution.runtime import InvalidBlock
from jinqiao.node.wire import BlockResponse, decode_message, encode_message
from tests.helpers import doc_examples, doc_verifier
from tests.helpers.chain import Chain, address_of, make_genesis, signer_for, token_config

OLD_BODY = TransactionBody(
    "jinqiao-test", b"\x11" * 20, b"\x22" * 32, 7, 100, "token", "transfer", b"\x01\x02"
)


def funded(suite_name: str = "ed25519-sha256") -> Chain:
    token = token_config({"alice": 1_000_000})
    for holding in token["holdings"]:  # token_config names the default suite's addresses
        name = next(n for n in ("alice", "issuer") if address_of(n).hex() == holding["address"])
        holding["address"] = address_of(name, suite_name).hex()
    return Chain(make_genesis(contracts={"token": token}, suite_name=suite_name))


def two_of_three(chain: Chain) -> bytes:
    """alice's account under a policy of k1, k2, k3 (weight 1 each), threshold 2, and from
    100,000 fen the approval service's key as well."""
    keys = tuple(PolicyKey(chain.signer(name).public_key, 1) for name in ("k1", "k2", "k3"))
    rule = AmountRule("CNY", 100_000, chain.signer("approval").public_key)
    chain.ok("alice", REGISTRY, "set_policy", SetPolicyArgs(keys, 2, (rule,)))
    return chain.address("alice")


def pay(chain: Chain, amount: int) -> TransferArgs:
    return TransferArgs("CNY", chain.address("bob"), amount)


def balance(chain: Chain, name: str) -> int:
    holding = chain.query("token", "balance", HoldingArgs("CNY", chain.address(name)))
    return int(holding.balance_minor)


def multi(chain: Chain, account: bytes, *names: str) -> MultiSigner:
    return MultiSigner([chain.signer(name) for name in names], account)


def k1_k2_transfer(amount_minor: int) -> tuple[Chain, MultiSignedTransaction]:
    """A chain with alice's 2-of-3 policy and a transfer signed by k1 and k2, not executed."""
    chain = funded()
    account = two_of_three(chain)
    signer = multi(chain, account, "k1", "k2")
    transaction = chain.transaction(signer, "token", "transfer", pay(chain, amount_minor))
    assert isinstance(transaction, MultiSignedTransaction)
    return chain, transaction


def test_an_existing_transaction_keeps_its_bytes_and_hash() -> None:
    # Pinned before multi-signed transactions existed: a change here breaks every stored proof.
    assert encode(OLD_BODY).hex() == (
        "98ac6a696e7169616f2d74657374c4141111111111111111111111111111111111111111c420"
        "2222222222222222222222222222222222222222222222222222222222222222"
        "0764a5746f6b656ea87472616e73666572c4020102"
    )
    signed = SignedTransaction(OLD_BODY, b"\x33" * 64)
    assert encode(signed)[:1] == b"\x92"
    chain = funded()
    assert transaction_hash(chain.suite, OLD_BODY).hex() == (
        "0834931b47e68dcc21d387598ec8ae1556330ac4721547ac8d52f4d359b55f11"
    )
    assert transaction_hash(funded("sm2-sm3").suite, OLD_BODY).hex() == (
        "80db7017ff23590e5cc1e897e81b66d7a555ce8a8a18b74190bc5f893aacb6b7"
    )
    assert decode_transaction(encode(signed), max_bytes=MAX_TRANSACTION_BYTES) == signed
    assert type(decode_transaction(encode(signed), max_bytes=MAX_TRANSACTION_BYTES)) is (
        SignedTransaction
    )


def test_a_multi_signed_transaction_round_trips_and_is_told_apart_by_arity() -> None:
    chain = funded()
    account = two_of_three(chain)
    transaction = chain.transaction(multi(chain, account, "k1", "k2"), "token", "transfer", b"")
    assert isinstance(transaction, MultiSignedTransaction)
    raw = encode(transaction)
    assert raw[:1] == b"\x93" and encode(transaction.body)[:1] == b"\x99"
    assert decode_transaction(raw, max_bytes=MAX_TRANSACTION_BYTES) == transaction
    # The hash covers the co-signers: the same call without them is another transaction.
    single = chain.transaction("alice", "token", "transfer", b"", nonce=transaction.body.nonce)
    assert transaction_hash(chain.suite, transaction.body) != transaction_hash(
        chain.suite, single.body
    )
    # A block holds both shapes and decodes each by its arity.
    header = decode(encode(_header()), BlockHeader, max_bytes=1024)
    block = decode(encode(Block(header, (single, transaction))), Block, max_bytes=1 << 20)
    assert [type(item) for item in block.transactions] == [
        SignedTransaction,
        MultiSignedTransaction,
    ]
    assert block.transactions[1] == transaction


@pytest.mark.parametrize(
    "mangle",
    [
        lambda raw: raw[:-1],  # truncated
        lambda raw: raw + b"\x00",  # trailing byte
        lambda raw: b"\x94" + raw[1:] + b"\x90",  # a fourth item
        lambda raw: raw.replace(b"\xc4\x40", b"\xd9\x40", 1),  # str where bin is expected
    ],
)
def test_a_mangled_multi_signed_transaction_is_refused(mangle: Callable[[bytes], bytes]) -> None:
    chain = funded()
    transaction = chain.transaction(multi(chain, b"\x00" * 20, "k1", "k2"), "t", "m", b"")
    raw = mangle(encode(transaction))
    with pytest.raises(DecodeError):
        decode_transaction(raw, max_bytes=MAX_TRANSACTION_BYTES)
    header = _header()
    block = encode(Block(header, (transaction,)))
    with pytest.raises(DecodeError):
        decode(block.replace(encode(transaction), raw), Block, max_bytes=1 << 20)


def test_too_many_cosigners_do_not_decode() -> None:
    names = [f"k{index}" for index in range(MAX_COSIGNERS + 2)]
    chain = funded()
    with pytest.raises(InvalidInput, match="2 to"):
        multi(chain, b"\x00" * 20, *names)
    fine = chain.transaction(multi(chain, b"\x00" * 20, *names[:-1]), "t", "m", b"")
    body = fine.body
    extra = signer_for("extra").public_key
    over = with_cosigners(body, (*body.cosigners, extra))
    raw = encode(MultiSignedTransaction(over, fine.signature, (*fine.cosignatures, b"\x00" * 64)))
    with pytest.raises(DecodeError, match="length"):
        decode_transaction(raw, max_bytes=MAX_TRANSACTION_BYTES)


@pytest.mark.parametrize("suite_name", ["ed25519-sha256", "sm2-sm3"])
def test_a_two_of_three_account_pays_in_one_transaction(suite_name: str) -> None:
    chain = funded(suite_name)
    account = two_of_three(chain)
    chain.ok(multi(chain, account, "k1", "k3"), "token", "transfer", pay(chain, 500))
    assert balance(chain, "bob") == 500
    # The approval service co-signs in the same transaction above the amount rule's minimum.
    chain.rejected(
        "approval_required",
        multi(chain, account, "k1", "k2"),
        "token",
        "transfer",
        pay(chain, 100_000),
    )
    chain.ok(
        multi(chain, account, "k2", "approval", "k1"), "token", "transfer", pay(chain, 100_000)
    )
    assert balance(chain, "bob") == 100_500


def test_the_policy_rules_refuse_with_their_codes_and_change_nothing() -> None:
    chain = funded()
    account = two_of_three(chain)
    transfer = ("token", "transfer", pay(chain, 5))
    chain.rejected("under_threshold", multi(chain, account, "k1", "approval"), *transfer)
    chain.rejected("foreign_signature", multi(chain, account, "k1", "mallory"), *transfer)
    chain.rejected("foreign_signature", multi(chain, account, "mallory", "k1", "k2"), *transfer)
    duplicated = chain.transaction(multi(chain, account, "k1", "k2"), *transfer)
    body = duplicated.body
    same = with_cosigners(body, (body.public_key,))
    signature = chain.signer("k1").sign(transaction_signing_bytes(same))
    before = dict(chain.state)
    receipt = chain.execute([MultiSignedTransaction(same, signature, (signature,))]).receipts[0]
    assert receipt.code == "duplicate_signer" and chain.state == before
    chain.ok(
        multi(chain, account, "k1", "k2"),
        REGISTRY,
        "revoke_key",
        KeyArgs(chain.signer("k3").public_key),
    )
    chain.rejected("key_revoked", multi(chain, account, "k1", "k3"), *transfer)
    chain.rejected("key_revoked", multi(chain, account, "k3", "k1"), *transfer)
    # An account without a policy has one key: any co-signer is foreign.
    chain.rejected("foreign_signature", multi(chain, chain.address("bob"), "bob", "k1"), *transfer)
    assert balance(chain, "bob") == 0


def test_one_forged_cosignature_makes_the_block_invalid() -> None:
    chain, genuine = k1_k2_transfer(5)
    forged = MultiSignedTransaction(genuine.body, genuine.signature, (b"\x01" * 64,))
    with pytest.raises(InvalidBlock, match="co-signature 0 does not verify"):
        chain.execute([forged])
    # Stripping the co-signer from the body changes the signing bytes: the signatures fail.
    body = genuine.body
    stripped = without_cosigners(body)
    with pytest.raises(InvalidBlock, match="does not verify"):
        chain.execute([SignedTransaction(stripped, genuine.signature)])
    assert chain.execute([genuine]).receipts[0].code == "ok"


def test_signatures_are_gathered_one_holder_at_a_time() -> None:
    chain, unsigned = k1_k2_transfer(7)
    prepared = prepare_multi_signed(
        without_cosigners(unsigned.body),
        (chain.signer("k2").public_key,),
    )
    assert missing_signers(prepared) == (
        chain.signer("k1").public_key,
        chain.signer("k2").public_key,
    )
    with pytest.raises(InvalidInput, match="not one of this transaction's signers"):
        add_signature(prepared, chain.signer("k3"))
    half = add_signature(prepared, chain.signer("k2"))
    assert missing_signers(half) == (chain.signer("k1").public_key,)
    with pytest.raises(InvalidBlock):
        chain.execute([half])
    whole = add_signature(half, chain.signer("k1"))
    assert whole == unsigned and missing_signers(whole) == ()
    assert chain.execute([whole]).receipts[0].code == "ok"


def _header() -> BlockHeader:
    zero = b"\x00" * 32
    return BlockHeader("jinqiao-test", 1, 0, zero, zero, zero, zero, zero, zero, b"\x00" * 20, 0)


def test_the_documented_example_is_what_the_codec_writes() -> None:
    """docs/proofs.md §4.3 "proofs-example:multi-signed": bytes and hash."""
    lines = [line.split("#")[0].split() for line in doc_examples.block("multi-signed").splitlines()]
    documented = bytes.fromhex("".join("".join(words) for words in lines if words[:1] != ["hash"]))
    hashed = next(words[1] for words in lines if words[:1] == ["hash"])
    body = with_cosigners(OLD_BODY, (b"\x44" * 32,))
    example = MultiSignedTransaction(body, b"\x33" * 64, (b"\x55" * 64,))
    assert encode(example) == documented
    assert decode_transaction(documented, max_bytes=MAX_TRANSACTION_BYTES) == example
    assert transaction_hash(funded().suite, body).hex() == hashed


def test_the_document_driven_verifier_reads_both_shapes() -> None:
    """``tests/helpers/doc_verifier.py`` (written from docs/proofs.md alone) finds the body that
    the hash covers in a leaf of either shape, and refuses a third."""
    multi_signed = MultiSignedTransaction(
        with_cosigners(OLD_BODY, (b"\x44" * 32,)), b"\x33" * 64, (b"\x55" * 64,)
    )
    for transaction in (SignedTransaction(OLD_BODY, b"\x33" * 64), multi_signed):
        _, body = doc_verifier.transaction_and_body(encode(transaction))
        assert body == encode(transaction.body)
    with pytest.raises(doc_verifier.Refused):
        doc_verifier.transaction_and_body(b"\x94" + encode(multi_signed)[1:] + b"\x90")


def test_a_block_with_both_shapes_crosses_the_wire_and_storage() -> None:
    """The decoders that hold a ``Block`` inside (a peer's block response, the block store)
    dispatch on arity too, and keep refusing a non-canonical item."""
    chain, transaction = k1_k2_transfer(5)
    single = chain.transaction("alice", "token", "transfer", pay(chain, 1))
    header = _header()
    certificate = CommitCertificate(1, 0, b"\x00" * 32, ())
    committed = CommittedBlock(Block(header, (single, transaction)), certificate, ())
    frame = encode_message(BlockResponse(committed))
    received = decode_message(frame)
    assert isinstance(received, BlockResponse)
    assert received.committed == committed
    assert type(received.committed.block.transactions[1]) is MultiSignedTransaction
    assert decode_stored(encode(committed), CommittedBlock) == committed
    wide = frame.replace(b"\x91\xc4\x40", b"\xdc\x00\x01\xc4\x40", 1)  # co-signatures as array16
    assert wide != frame
    with pytest.raises(DecodeError, match="canonical"):
        decode_message(wide)
