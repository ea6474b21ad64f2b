"""A real node process on loopback, driven through the SDK and raw HTTP.

Every bad input must get its documented 4xx and stable code and change nothing: the state root and
the mempool are compared before and after each one.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import msgspec
import pytest

from jinqiao.apps.registry import registration
from jinqiao.apps.token import TOKEN, MintArgs, TransferArgs, balance_key
from jinqiao.client import Client, ClientError
from jinqiao.core.codec import decode, encode
from jinqiao.core.crypto import Signer
from jinqiao.core.genesis import load_genesis
from jinqiao.core.hashing import transaction_signing_bytes
from jinqiao.core.proofs import StateReadProof
from jinqiao.core.types import SignedTransaction, TransactionBody
from jinqiao.keys import generate_key, load_key
from jinqiao.provision.network import NetworkLayout
from jinqiao.verify import VerificationError, verify_state_read
from tests.helpers.process import NodeProcess, make_network

pytestmark = pytest.mark.e2e


@dataclass
class Net:
    directory: Path
    layout: NetworkLayout
    node: NodeProcess
    client: Client

    def key(self, name: str) -> Signer:
        return load_key(self.directory / self.layout.account(name).key_file)


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    directory = tmp_path_factory.mktemp("network")
    layout = make_network(directory)
    node = NodeProcess(directory / layout.nodes[0].home).start()
    client = Client(node.url, credentials=node.credentials, genesis_file=directory / "genesis.json")
    network = Net(directory, layout, node, client)
    treasury = network.key("clearing-treasury")
    result = client.token.mint(treasury, "CNY", network.key("bank-a-treasury").address, 10**9)
    assert result.ok, result.code
    try:
        yield network
    finally:
        client.close()
        assert node.stop() == 0, node.log()


def _fingerprint(net: Net) -> tuple[str, int]:
    status = net.client.status()
    return status["state_root"], status["mempool_transactions"]


def _post_raw(net: Net, raw: bytes) -> httpx.Response:
    return net.node.http.post(
        f"{net.node.url}/v1/transactions", json={"transaction": raw.hex()}, timeout=10
    )


def _signed(
    net: Net,
    signer: Signer,
    contract: str,
    method: str,
    args: bytes,
    *,
    chain_id: str | None = None,
    valid_until: int | None = None,
) -> SignedTransaction:
    height = net.client.status()["height"]
    body = TransactionBody(
        chain_id or net.layout.chain_id,
        signer.address,
        signer.public_key,
        42,
        height + 50 if valid_until is None else valid_until,
        contract,
        method,
        args,
    )
    return SignedTransaction(body, signer.sign(transaction_signing_bytes(body)))


# -- the happy path ------------------------------------------------------------------------


def test_transfer_commits_with_verified_proofs(net: Net) -> None:
    payer = net.key("bank-a-treasury")
    payee = net.key("bank-b-treasury").address
    before = net.client.token.balance("CNY", payee)
    result = net.client.token.transfer(payer, "CNY", payee, 12_345)
    assert result.ok and result.verified
    assert [e.name for e in result.receipt.events] == ["Transfer"]
    assert net.client.token.balance("CNY", payee) == before + 12_345


def test_batch_submission_in_msgpack(net: Net) -> None:
    payer = net.key("bank-a-treasury")
    payee = net.key("ecfin-settlement").address
    transactions = [
        net.client.build(payer, TOKEN, "transfer", TransferArgs("CNY", payee, 1 + i))
        for i in range(50)
    ]
    batch = net.client.submit_batch(transactions)
    assert (batch.accepted, batch.refused) == (50, 0)
    results = [net.client.wait(net.client.hash_of(tx)) for tx in transactions]
    assert all(r.ok for r in results)


def test_a_block_request_long_polls_for_the_next_block(net: Net) -> None:
    head = net.client.status()["height"]
    # Beyond the next height: answered at once, not held.
    started = time.monotonic()
    far = net.node.http.get(
        f"{net.node.url}/v1/blocks/{head + 5}", params={"wait_ms": 5_000}, timeout=10
    )
    assert far.status_code == 404 and far.json()["code"] == "not_found"
    assert time.monotonic() - started < 2
    # The next height: held until a transaction makes a block.
    payer = net.key("bank-a-treasury")
    payee = net.key("bank-b-treasury").address
    pending = net.client.build(payer, TOKEN, "transfer", TransferArgs("CNY", payee, 1))

    def submit_later() -> None:
        time.sleep(0.5)
        net.client.submit(pending)

    submitter = threading.Thread(target=submit_later)
    submitter.start()
    try:
        answer = net.node.http.get(
            f"{net.node.url}/v1/blocks/{head + 1}",
            params={"wait_ms": 10_000, "hashes": "true"},
            timeout=20,
        )
    finally:
        submitter.join()
    assert answer.status_code == 200, answer.text
    assert answer.json()["header"]["height"] == head + 1


def test_state_read_verifies_with_only_the_verifier_and_genesis(net: Net) -> None:
    """Done-when item: a value read over HTTP, checked with jinqiao.verify and genesis.json."""
    genesis = load_genesis((net.directory / "genesis.json").read_bytes())
    address = net.key("bank-a-treasury").address
    answer = net.node.http.get(
        f"{net.node.url}/v1/state/token/{balance_key('CNY', address).hex()}"
    ).json()
    read = decode(bytes.fromhex(answer["proof"]), StateReadProof, max_bytes=1 << 20)
    verify_state_read(genesis, read.header, read.certificate, read.key, read.value, read.proof)
    assert read.value is not None and answer["value"] == read.value.hex()
    # A node that lies about the value is caught.
    with pytest.raises(VerificationError):
        verify_state_read(
            genesis, read.header, read.certificate, read.key, read.value + b"\x00", read.proof
        )
    # So is one that proves an absent key present.
    absent = net.node.http.get(f"{net.node.url}/v1/state/token/{b'nothing-here'.hex()}").json()
    absent_read = decode(bytes.fromhex(absent["proof"]), StateReadProof, max_bytes=1 << 20)
    assert absent_read.value is None
    verify_state_read(
        genesis,
        absent_read.header,
        absent_read.certificate,
        absent_read.key,
        None,
        absent_read.proof,
    )
    with pytest.raises(VerificationError):
        verify_state_read(
            genesis,
            absent_read.header,
            absent_read.certificate,
            absent_read.key,
            b"x",
            absent_read.proof,
        )


def test_registry_admin_registers_an_account_that_can_then_transact(net: Net) -> None:
    customer = generate_key()
    admin = net.key("bank-a-admin")
    salt = bytes(range(32))
    args = registration(net.client.suite, customer.public_key, "alice", (), salt)
    registered = net.client.send(admin, "registry", "register_account", args)
    assert registered.ok, registered.receipt.message
    account = net.node.http.get(f"{net.node.url}/v1/accounts/{customer.address.hex()}").json()
    assert account["account"]["organization"] == "bank-a"
    # the API shows the salted hash of the name, never the name
    assert "name" not in account["account"]
    assert account["account"]["name_commitment"] == net.client.suite.hash(salt + b"alice").hex()
    net.client.token.transfer(net.key("bank-a-treasury"), "CNY", customer.address, 500)
    paid = net.client.token.transfer(customer, "CNY", net.key("bank-a-treasury").address, 100)
    assert paid.ok


def test_events_stream_delivers_the_transfer(net: Net) -> None:
    payer = net.key("bank-a-treasury")
    payee = net.key("bank-b-treasury").address
    start = net.client.status()["height"] + 1
    result = net.client.token.transfer(payer, "CNY", payee, 777)
    with net.client.events(
        contract="token", name="Transfer", from_height=start, timeout_s=10
    ) as events:
        for event in events:
            if event["transaction_hash"] == result.transaction_hash:
                assert event["attributes"]["amount_minor"] == 777
                break
        else:
            pytest.fail("the stream ended without the transfer's event")


def test_operations_endpoints(net: Net) -> None:
    assert net.node.http.get(f"{net.node.url}/healthz").json()["status"] == "ok"
    metrics = net.node.http.get(f"{net.node.url}/metrics").text
    assert "jinqiao_height" in metrics and "jinqiao_transactions_committed_total" in metrics
    spec = net.node.http.get(f"{net.node.url}/openapi.json").json()
    assert "/v1/transactions" in spec["paths"]
    latest = net.client.block()
    assert latest["header"]["height"] >= 1
    by_hash = net.node.http.get(
        f"{net.node.url}/v1/blocks/by-hash/{latest['header']['hash']}"
    ).json()
    assert by_hash["header"] == latest["header"]


# -- bad input: the documented 4xx, nothing changed -------------------------------------------


def _expect(net: Net, send: object, status: int, code: str) -> None:
    before = _fingerprint(net)
    response = send() if callable(send) else send
    assert isinstance(response, httpx.Response)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code, body
    assert set(body) == {"code", "message", "details"} and body["message"]
    assert _fingerprint(net) == before


def test_malformed_bytes(net: Net) -> None:
    _expect(net, lambda: _post_raw(net, b"\x93\x01\x02"), 400, "decode_error")


def test_not_hex(net: Net) -> None:
    _expect(
        net,
        lambda: net.node.http.post(f"{net.node.url}/v1/transactions", json={"transaction": "zz"}),
        400,
        "invalid_request",
    )


def test_not_json(net: Net) -> None:
    _expect(
        net,
        lambda: net.node.http.post(
            f"{net.node.url}/v1/transactions",
            content=b"{nope",
            headers={"content-type": "application/json"},
        ),
        400,
        "invalid_request",
    )


def test_bad_signature(net: Net) -> None:
    tx = _signed(
        net,
        net.key("bank-a-treasury"),
        TOKEN,
        "transfer",
        encode(TransferArgs("CNY", bytes(20), 1)),
    )
    forged = SignedTransaction(tx.body, bytes(64))
    _expect(net, lambda: _post_raw(net, encode(forged)), 401, "invalid_signature")


def test_wrong_chain(net: Net) -> None:
    tx = _signed(
        net,
        net.key("bank-a-treasury"),
        TOKEN,
        "transfer",
        encode(TransferArgs("CNY", bytes(20), 1)),
        chain_id="another-chain",
    )
    _expect(net, lambda: _post_raw(net, encode(tx)), 422, "wrong_chain")


def test_expired(net: Net) -> None:
    tx = _signed(
        net,
        net.key("bank-a-treasury"),
        TOKEN,
        "transfer",
        encode(TransferArgs("CNY", bytes(20), 1)),
        valid_until=0,
    )
    _expect(net, lambda: _post_raw(net, encode(tx)), 422, "expired")


def test_valid_until_too_far(net: Net) -> None:
    tx = _signed(
        net,
        net.key("bank-a-treasury"),
        TOKEN,
        "transfer",
        encode(TransferArgs("CNY", bytes(20), 1)),
        valid_until=10**9,
    )
    _expect(net, lambda: _post_raw(net, encode(tx)), 422, "valid_until_too_far")


def test_duplicate_of_committed(net: Net) -> None:
    payer = net.key("bank-a-treasury")
    tx = net.client.build(
        payer, TOKEN, "transfer", TransferArgs("CNY", net.key("bank-b-treasury").address, 5)
    )
    net.client.wait(net.client.submit(tx))
    _expect(net, lambda: _post_raw(net, encode(tx)), 409, "duplicate_transaction")


def test_oversize_body(net: Net) -> None:
    _expect(
        net,
        lambda: net.node.http.post(
            f"{net.node.url}/v1/transactions/batch",
            content=b"x" * (17 * 1024 * 1024),
            headers={"content-type": "application/msgpack"},
            timeout=30,
        ),
        413,
        "request_too_large",
    )


def test_oversize_transaction(net: Net) -> None:
    raw = b"\x92" + b"\x00" * (70 * 1024)
    _expect(net, lambda: _post_raw(net, raw), 413, "transaction_too_large")
    _expect(
        net,
        lambda: net.node.http.post(
            f"{net.node.url}/v1/transactions",
            content=raw,
            headers={"content-type": "application/msgpack"},
        ),
        413,
        "transaction_too_large",
    )


def test_unknown_contract(net: Net) -> None:
    tx = _signed(net, net.key("bank-a-treasury"), "nosuch", "transfer", b"\x90")
    _expect(net, lambda: _post_raw(net, encode(tx)), 404, "unknown_contract")


def test_unknown_method(net: Net) -> None:
    tx = _signed(net, net.key("bank-a-treasury"), TOKEN, "steal", b"\x90")
    _expect(net, lambda: _post_raw(net, encode(tx)), 404, "unknown_method")


def test_wrong_argument_types(net: Net) -> None:
    args = msgspec.msgpack.encode(["CNY", "not-bytes", "not-an-int"])
    tx = _signed(net, net.key("bank-a-treasury"), TOKEN, "transfer", args)
    _expect(net, lambda: _post_raw(net, encode(tx)), 400, "invalid_arguments")


def test_unauthorized_role(net: Net) -> None:
    tx = _signed(
        net,
        net.key("bank-a-treasury"),
        TOKEN,
        "mint",
        encode(MintArgs("CNY", net.key("bank-a-treasury").address, 10**6)),
    )
    _expect(net, lambda: _post_raw(net, encode(tx)), 403, "unauthorized")


def test_unknown_sender(net: Net) -> None:
    stranger = generate_key()
    tx = _signed(net, stranger, TOKEN, "transfer", encode(TransferArgs("CNY", bytes(20), 1)))
    _expect(net, lambda: _post_raw(net, encode(tx)), 403, "unknown_sender")


def test_bad_paths_and_queries(net: Net) -> None:
    _expect(net, lambda: net.node.http.get(f"{net.node.url}/v1/blocks/999999999"), 404, "not_found")
    _expect(net, lambda: net.node.http.get(f"{net.node.url}/v1/blocks/0"), 400, "invalid_request")
    _expect(
        net,
        lambda: net.node.http.get(f"{net.node.url}/v1/transactions/{'ab' * 32}"),
        404,
        "not_found",
    )
    _expect(
        net,
        lambda: net.node.http.get(f"{net.node.url}/v1/transactions/xyz"),
        400,
        "invalid_request",
    )
    _expect(
        net, lambda: net.node.http.get(f"{net.node.url}/v1/state/token/zz"), 400, "invalid_request"
    )
    _expect(
        net, lambda: net.node.http.get(f"{net.node.url}/v1/accounts/{'00' * 20}"), 404, "not_found"
    )
    _expect(
        net,
        lambda: net.node.http.post(
            f"{net.node.url}/v1/query/token/balance",
            content=b"[1]",
            headers={"content-type": "application/json"},
        ),
        400,
        "invalid_arguments",
    )
    _expect(
        net,
        lambda: net.node.http.post(f"{net.node.url}/v1/query/token/nosuch", json={}),
        404,
        "unknown_method",
    )
    _expect(
        net,
        lambda: net.node.http.post(
            f"{net.node.url}/v1/transactions/batch", json={"transactions": []}
        ),
        400,
        "invalid_request",
    )


def test_batch_reports_each_refusal_and_admits_the_rest(net: Net) -> None:
    payer = net.key("bank-a-treasury")
    good = net.client.build(
        payer, TOKEN, "transfer", TransferArgs("CNY", net.key("bank-b-treasury").address, 3)
    )
    bad = SignedTransaction(good.body, bytes(64))
    other = net.client.build(
        payer, TOKEN, "transfer", TransferArgs("CNY", net.key("bank-b-treasury").address, 4)
    )
    forged = SignedTransaction(other.body, bytes(64))
    batch = net.client.submit_batch([good, forged])
    assert (batch.accepted, batch.refused) == (1, 1)
    assert batch.results[1]["error"]["code"] == "invalid_signature"
    assert net.client.wait(net.client.hash_of(good)).ok
    del bad


def test_sdk_raises_client_error_with_code(net: Net) -> None:
    stranger = generate_key()
    with pytest.raises(ClientError) as caught:
        net.client.token.transfer(stranger, "CNY", bytes(20), 1)
    assert caught.value.code == "unknown_sender" and caught.value.status == 403


def test_query_endpoint(net: Net) -> None:
    address = net.key("bank-a-treasury").address.hex()
    answer = net.node.http.post(
        f"{net.node.url}/v1/query/token/balance", json={"asset": "CNY", "address": address}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["result"]["balance_minor"] > 0
    assert (
        json.loads(net.node.http.get(f"{net.node.url}/v1/genesis").content)["chain_id"]
        == net.layout.chain_id
    )


def test_token_endpoints_prove_balance_and_supply(net: Net) -> None:
    genesis = load_genesis((net.directory / "genesis.json").read_bytes())
    address = net.key("bank-a-treasury").address.hex()
    answer = net.node.http.get(f"{net.node.url}/v1/token/CNY/balances/{address}").json()
    read = decode(bytes.fromhex(answer["proof"]), StateReadProof, max_bytes=1 << 20)
    verify_state_read(genesis, read.header, read.certificate, read.key, read.value, read.proof)
    assert answer["balance_minor"] == net.client.token.balance("CNY", bytes.fromhex(address)) > 0
    assert answer["tier"] == "institution" and answer["frozen"] is False
    nobody = net.node.http.get(f"{net.node.url}/v1/token/CNY/balances/{'00' * 20}").json()
    assert nobody["balance_minor"] == 0 and nobody["value"] is None
    asset = net.node.http.get(f"{net.node.url}/v1/token/CNY").json()
    assert asset["asset"]["scale"] == 2 and asset["supply_minor"] == net.client.token.supply("CNY")
    _expect(net, lambda: net.node.http.get(f"{net.node.url}/v1/token/XYZ"), 404, "not_found")
    _expect(net, lambda: net.node.http.get(f"{net.node.url}/v1/token/cny"), 400, "invalid_request")


def test_events_filtered_by_attribute(net: Net) -> None:
    payer = net.key("bank-a-treasury")
    one = net.key("bank-b-treasury").address
    other = net.key("ecfin-settlement").address
    start = net.client.status()["height"] + 1
    net.client.token.transfer(payer, "CNY", other, 11)
    wanted = net.client.token.transfer(payer, "CNY", one, 12)
    url = f"{net.node.url}/v1/events"
    params = {"contract": "token", "attribute": f"recipient={one.hex()}", "from_height": start}
    with net.node.http.stream("GET", url, params=params, timeout=httpx.Timeout(10.0)) as response:
        for line in response.iter_lines():
            if line.startswith("data: "):
                event = json.loads(line[6:])
                assert event["attributes"]["recipient"] == one.hex()
                assert event["transaction_hash"] == wanted.transaction_hash
                break
        else:
            pytest.fail("the stream ended without the filtered event")


def test_sigint_stops_the_node_gracefully(tmp_path: Path) -> None:
    layout = make_network(tmp_path)
    node = NodeProcess(tmp_path / layout.nodes[0].home).start()
    assert node.stop(signal.SIGINT) == 0
    assert "closed at height" in node.log()
