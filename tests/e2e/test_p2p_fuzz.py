"""P2P fuzz (tracker issue 7, defect 2): a legitimate peer — the certificate of a validator whose
process is not running — completes the handshake with a live four-validator network and sends
every message type with fields at and beyond their bounds, then random bytes. No validator loses
a peer over it, and the chain keeps committing.

Before the fix, one ``BlockRequest`` of height -1 raised ``struct.error`` out of the frame
handler; on the connection the targeted validator had dialled, its dialler died for good."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import pytest

from jinqiao.client import Client
from jinqiao.keys import load_key
from jinqiao.node.p2p import P2PNetwork
from jinqiao.node.wire import encode_message
from tests.helpers.cluster import p2p_config_of, wait_for
from tests.helpers.process import NodeProcess, make_network
from tests.helpers.wire_samples import at_bound_messages, out_of_range_messages, valid_messages

pytestmark = pytest.mark.e2e

IMPOSTOR = "bank-b"  # its process is not started: the test speaks with its certificate
TARGET = "bank-a"  # sorts before bank-b, so it dials bank-b: the dialler the bug killed
RANDOM_FRAMES = 300


async def ignore(peer: str, payload: bytes) -> None:
    return None


def hostile_frames(chain_id: str, height: int) -> list[bytes]:
    generator = random.Random(20261205)
    frames = [encode_message(message) for message in valid_messages(chain_id, height)]
    frames += [encode_message(message) for message in at_bound_messages(chain_id)]
    frames += [frame for _, frame in out_of_range_messages(chain_id)]
    frames += [generator.randbytes(generator.randrange(0, 512)) for _ in range(RANDOM_FRAMES)]
    return frames


def connected_peers(node: NodeProcess) -> set[str]:
    """The peers ``node`` holds a connection to (the transport's view: a peer that only sent
    hostile frames is still connected, though consensus has not heard a status from it)."""
    answer = node.http.get(f"{node.url}/v1/consensus", timeout=5).json()
    return {str(p["peer"]) for p in answer["peers"] if p["connected"]}


def test_hostile_frames_from_a_legitimate_peer_cut_no_validator_off(tmp_path: Path) -> None:
    layout = make_network(tmp_path, validators=4)
    names = {node.name for node in layout.nodes}
    assert {IMPOSTOR, TARGET} <= names
    nodes = {
        node.name: NodeProcess(tmp_path / node.home, port=int(node.api_url.rsplit(":", 1)[1]))
        for node in layout.nodes
        if node.name != IMPOSTOR
    }
    for node in nodes.values():
        node.start()
    config = p2p_config_of(tmp_path, IMPOSTOR)
    try:
        with Client(
            nodes["clearing"].url,
            credentials=nodes["clearing"].credentials,
            genesis_file=tmp_path / "genesis.json",
        ) as client:
            treasury = load_key(tmp_path / layout.account("clearing-treasury").key_file)
            payee = bytes.fromhex(layout.account("bank-a-treasury").address)

            async def fuzz() -> None:
                network = P2PNetwork(config, ignore)
                await network.start()
                try:
                    deadline = time.monotonic() + 20
                    while len(network.connected()) < len(nodes) and time.monotonic() < deadline:
                        await asyncio.sleep(0.1)
                    assert set(network.connected()) == set(nodes), network.status()
                    height = (await asyncio.to_thread(client.status))["height"]
                    frames = hostile_frames(config.chain_id, height + 1)
                    for peer in network.connected():
                        for frame in frames:
                            assert network.send(peer, frame)
                    await asyncio.sleep(3.0)  # every frame delivered and handled
                    # Nobody hung up on the impostor (every frame was refused at decode or
                    # ignored), and the target kept every peer, the impostor included.
                    assert set(network.connected()) == set(nodes), network.status()
                    assert all(network.peers[name].connects == 1 for name in nodes)
                    for name, node in nodes.items():
                        peers = await asyncio.to_thread(connected_peers, node)
                        assert peers == names - {name}, (name, peers, node.log())
                    # The chain commits with the impostor still connected.
                    receipt = await asyncio.to_thread(client.token.mint, treasury, "CNY", payee, 1)
                    assert receipt.ok
                finally:
                    await network.stop()

            asyncio.run(fuzz())
            # After the impostor left, the three keep committing among themselves.
            assert client.token.mint(treasury, "CNY", payee, 1).ok
            wait_for(
                lambda: all(
                    connected_peers(node) == names - {name, IMPOSTOR}
                    for name, node in nodes.items()
                ),
                10,
                "the validators connected to each other",
            )
    finally:
        for node in nodes.values():
            assert node.stop() == 0, node.log()
