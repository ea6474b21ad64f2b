"""Backup and restore of a node's store (``jinqiao node backup`` / ``node restore``): a backup of
a running validator under load, restored into a fresh home, makes a node that catches up with
the others and agrees with them on every header and state root; a damaged archive, one of
another genesis and a home that has a store are refused, changing nothing."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from jinqiao.client import Client
from jinqiao.keys import load_key
from jinqiao.provision.network import NetworkLayout
from tests.helpers.cluster import Load, height, jinqiao, wait_for
from tests.helpers.process import NodeProcess, make_network

pytestmark = pytest.mark.e2e


def _header(node: NodeProcess, at: int) -> tuple[str, str]:
    header = node.http.get(f"{node.url}/v1/blocks/{at}", timeout=5).json()["header"]
    return str(header["hash"]), str(header["state_root"])


def _refused(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "jinqiao", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    return result.stderr


def test_backup_of_a_running_node_restores_and_catches_up(
    network: tuple[Path, NetworkLayout, list[NodeProcess]],
) -> None:
    directory, layout, nodes = network
    genesis_file = directory / "genesis.json"
    payer_file = directory / layout.account("bank-a-treasury").key_file
    treasury = load_key(directory / layout.account("clearing-treasury").key_file)
    with Client(
        nodes[0].url, credentials=nodes[0].credentials, genesis_file=genesis_file
    ) as client:
        assert client.token.mint(treasury, "CNY", load_key(payer_file).address, 10**9).ok
    payee = bytes.fromhex(layout.account("bank-b-treasury").address)
    source = nodes[3]
    archive = directory / "backup.tar"
    with Load(nodes[0].url, genesis_file, payer_file, payee, batch_size=40) as load:
        wait_for(lambda: len(load.committed) >= 3, 60, "transfers committed under load")
        before = height(source)
        manifest = jinqiao("node", "backup", "--home", str(source.home), "--out", str(archive))
        wait_for(lambda: height(source) > int(str(manifest["height"])) + 3, 60, "more blocks")
    assert int(str(manifest["height"])) >= before > 0
    # The copy is the store after a committed block: its head's state root is the network's.
    assert _header(nodes[0], int(str(manifest["height"])))[1] == manifest["state_root"]
    source.stop()
    # A fresh machine: the node's configuration, keys and TLS material, no store.
    fresh = source.home.parent / f"{source.home.name}-restored"
    shutil.copytree(source.home, fresh, ignore=shutil.ignore_patterns("data", "node.log"))
    restored = jinqiao("node", "restore", "--home", str(fresh), "--from", str(archive))
    assert restored["height"] == manifest["height"]
    node = NodeProcess(fresh, port=source.port).start()
    try:
        target = height(nodes[0])
        wait_for(lambda: height(node) >= target, 120, f"the restored node to reach {target}")
        assert _header(node, target) == _header(nodes[0], target)
        assert _header(node, int(str(manifest["height"]))) == _header(
            nodes[1], int(str(manifest["height"]))
        )
        # And it goes on committing with the others.
        wait_for(lambda: height(node) > target, 60, "a block after catching up")
    finally:
        node.stop()
    # Refusals, each changing nothing.
    stderr = _refused("node", "restore", "--home", str(fresh), "--from", str(archive))
    assert "backup_refused" in stderr and "already holds a store" in stderr
    damaged = directory / "damaged.tar"
    with tarfile.open(archive) as original, tarfile.open(damaged, "w") as copy:
        for member in original.getmembers():
            data = original.extractfile(member)
            assert data is not None
            content = bytearray(data.read())
            if member.name == "data.mdb":
                content[len(content) // 2] ^= 0xFF
            member.size = len(content)
            copy.addfile(member, io.BytesIO(bytes(content)))
    empty = source.home.parent / "empty-home"
    shutil.copytree(source.home, empty, ignore=shutil.ignore_patterns("data", "node.log"))
    stderr = _refused("node", "restore", "--home", str(empty), "--from", str(damaged))
    assert "is damaged" in stderr
    assert not (empty / "data").exists()
    other = directory.parent / "other-network"
    other_layout = make_network(other)
    other_home = other / other_layout.nodes[0].home
    stderr = _refused("node", "restore", "--home", str(other_home), "--from", str(archive))
    assert "not of this home's genesis" in stderr
    assert not (other_home / "data").exists()
    stderr = _refused(
        "node", "backup", "--home", str(other_home), "--out", str(directory / "x.tar")
    )
    assert "holds no store" in stderr
