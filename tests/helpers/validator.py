"""A validator of a four-validator test network opened in process (its consensus driver made,
not started), and signed calls from one of the network's accounts, for tests that drive a node's
admission and block jobs directly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jinqiao.bench.local_network import sign_transaction
from jinqiao.core.codec import CanonicalStruct
from jinqiao.keys import load_key
from jinqiao.node.service import Node
from jinqiao.provision.network import NetworkLayout
from tests.helpers.process import make_network

VALID_UNTIL = 50


def open_validator(directory: Path, **config: Any) -> tuple[NetworkLayout, Node]:
    """The first validator of a new four-validator network in ``directory``, with ``config``
    fields changed in its ``config.json``; the caller closes it."""
    layout = make_network(directory, validators=4)
    home = directory / layout.nodes[0].home
    document = json.loads((home / "config.json").read_text())
    document.update(config)
    (home / "config.json").write_text(json.dumps(document))
    node = Node(home)
    if node.driver is None:
        node.close()
        raise AssertionError("a validator of four has a consensus driver")
    return layout, node


def signed_calls(
    directory: Path,
    layout: NetworkLayout,
    account: str,
    contract: str,
    method: str,
    args: CanonicalStruct,
    count: int,
) -> list[bytes]:
    """``count`` encoded signed transactions of ``account`` calling ``contract.method(args)``,
    nonces 0..count-1, valid until height 50."""
    signer = load_key(directory / layout.account(account).key_file)
    return [
        sign_transaction(signer, layout.chain_id, nonce, contract, method, args, VALID_UNTIL)[1]
        for nonce in range(count)
    ]
