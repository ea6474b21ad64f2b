"""``jinqiao node add --observer`` (``provision.network.add_node``) and an observer node's start:
no key is made, the other nodes' configurations let it connect, and an observer whose home holds
a validator's key refuses to start rather than be a validator that never votes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from jinqiao.core.errors import InvalidInput
from jinqiao.keys import InsecurePlaintext
from jinqiao.node.config import ObserverConfig, load_config
from jinqiao.node.service import Node
from jinqiao.provision.network import add_node, load_layout
from tests.helpers.process import free_port_base, make_network


def test_add_observer_makes_a_keyless_home_and_lets_it_connect(tmp_path: Path) -> None:
    layout = make_network(tmp_path, validators=2)
    base = free_port_base(1)
    entry = add_node(
        tmp_path,
        "pboc-observer",
        "regulator",
        api_port=base,
        p2p_port=base + 100,
        protection=InsecurePlaintext(),
        observer=True,
    )
    assert (entry.role, entry.address) == ("observer", "")
    home = tmp_path / entry.home
    assert not (home / "validator_key.json").exists()
    config = load_config(home)
    assert config.observer and config.dial_all_peers
    assert {peer.name for peer in config.peers} == {node.name for node in layout.nodes}
    for node in layout.nodes:
        assert load_config(tmp_path / node.home).observers == (
            ObserverConfig("pboc-observer", "regulator"),
        )
    assert load_layout(tmp_path).nodes[-1].role == "observer"
    # A validator added later lets the observer connect too, and does not dial it.
    later = add_node(
        tmp_path,
        "bank-a-2",
        "bank-a",
        api_port=base + 1,
        p2p_port=base + 101,
        protection=InsecurePlaintext(),
    )
    later_config = load_config(tmp_path / later.home)
    assert later_config.observers == (ObserverConfig("pboc-observer", "regulator"),)
    assert "pboc-observer" not in {peer.name for peer in later_config.peers}

    node = Node(home)
    try:
        assert (node.role, node.validator_address) == ("observer", b"")
        assert node.driver.core.observer
        allowed = node.network_nodes()
        assert allowed == {v.name: v.organization for v in node.genesis.validators}
    finally:
        node.close()
    validator = Node(tmp_path / layout.nodes[0].home)
    try:
        assert validator.role == "validator"
        assert validator.network_nodes()["pboc-observer"] == "regulator"
    finally:
        validator.close()


def test_an_observer_with_a_validators_key_refuses_to_start(tmp_path: Path) -> None:
    layout = make_network(tmp_path, validators=2)
    home = tmp_path / layout.nodes[1].home
    config = json.loads((home / "config.json").read_text())
    (home / "config.json").write_text(json.dumps({**config, "observer": True}))
    with pytest.raises(InvalidInput, match=f"key of validator '{layout.nodes[1].name}'") as caught:
        Node(home)
    assert caught.value.code == "observer_holds_validator_key"
    # A key that is no validator's is left unused: the node starts as an observer.
    shutil.copy(tmp_path / "accounts" / "bank-a-admin.json", home / "validator_key.json")
    node = Node(home)
    try:
        assert node.role == "observer" and node.signer is None
    finally:
        node.close()
