"""A node's configuration file, ``<home>/config.json``, and the layout of its home directory:

<home>/config.json        this file
<home>/genesis.json       the network's genesis (identical on every node)
<home>/validator_key.json the validator signing key (0600), if this node validates
<home>/tls/               node.crt, node.key (0600), and the consortium roots
<home>/data/              the LMDB store
"""

from __future__ import annotations

import re
from pathlib import Path

import msgspec

from jinqiao.core.errors import InvalidInput

MAX_CONFIG_BYTES = 1024 * 1024
_FINGERPRINT = re.compile(r"[0-9a-f]{64}")


class PeerConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Another validator's node: its name (the common name of its TLS certificate) and where
    its peer port listens."""

    name: str
    host: str
    port: int


class ConsensusTimeouts(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Tendermint timeouts in milliseconds; each grows by its delta every round."""

    propose_ms: int = 3_000
    propose_delta_ms: int = 500
    prevote_ms: int = 1_000
    prevote_delta_ms: int = 500
    precommit_ms: int = 1_000
    precommit_delta_ms: int = 500

    def check(self) -> None:
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if not 0 <= value <= 600_000 or (
                name.endswith("_ms") and "delta" not in name and value == 0
            ):
                raise InvalidInput(f"config: consensus_timeouts.{name} must be 1..600000 ms")


class NodeConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    api_host: str = "127.0.0.1"
    api_port: int = 8600
    p2p_host: str = "127.0.0.1"
    p2p_port: int = 26600
    validator_key_file: str = "validator_key.json"
    data_dir: str = "data"
    block_interval_ms: int = 50
    empty_block_interval_ms: int = 10_000
    mempool_capacity: int = 50_000
    mempool_capacity_bytes: int = 256 * 1024 * 1024
    mempool_per_sender: int = 10_000
    """At most this many of one sender's transactions wait at once (capped by the capacity)."""
    log_level: str = "INFO"
    peers: tuple[PeerConfig, ...] = ()
    dial_all_peers: bool = False
    revoked_certificates: tuple[str, ...] = ()
    """SHA-256 fingerprints (hex) of peer TLS certificates to refuse at the handshake, e.g. of a
    node whose key was compromised (``jinqiao node fingerprint`` prints a node's)."""
    """Dial every peer (a node that joins a running network: the others do not know its
    address); otherwise only peers whose names sort after this node's are dialled."""
    consensus_timeouts: ConsensusTimeouts = ConsensusTimeouts()

    def check(self) -> None:
        for port_name in ("api_port", "p2p_port"):
            port = getattr(self, port_name)
            if not 0 <= port <= 65535:
                raise InvalidInput(f"config: {port_name} must be 0..65535")
        if not 1 <= self.block_interval_ms <= 60_000:
            raise InvalidInput("config: block_interval_ms must be 1..60000")
        if not self.block_interval_ms <= self.empty_block_interval_ms <= 3_600_000:
            raise InvalidInput("config: empty_block_interval_ms must be block_interval_ms..3600000")
        if not 1 <= self.mempool_capacity <= 1_000_000:
            raise InvalidInput("config: mempool_capacity must be 1..1000000")
        if not 1 <= self.mempool_per_sender <= 1_000_000:
            raise InvalidInput("config: mempool_per_sender must be 1..1000000")
        if not 1024 * 1024 <= self.mempool_capacity_bytes <= 8 * 1024**3:
            raise InvalidInput("config: mempool_capacity_bytes must be 1 MiB..8 GiB")
        self.consensus_timeouts.check()
        if len(self.peers) > 200:
            raise InvalidInput("config: at most 200 peers")
        for peer in self.peers:
            if not 1 <= peer.port <= 65535 or not peer.host or not peer.name:
                raise InvalidInput(f"config: peer {peer.name!r} needs a name, a host and a port")
        if len(self.revoked_certificates) > 10_000:
            raise InvalidInput("config: at most 10000 revoked_certificates")
        for fingerprint in self.revoked_certificates:
            if not _FINGERPRINT.fullmatch(fingerprint):
                raise InvalidInput(
                    f"config: revoked certificate {fingerprint[:80]!r} is not a SHA-256 "
                    "fingerprint (64 lower-case hex characters)"
                )
        if self.log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise InvalidInput("config: log_level must be DEBUG, INFO, WARNING or ERROR")


def load_config(home: Path) -> NodeConfig:
    path = home / "config.json"
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise InvalidInput(f"{path} is over {MAX_CONFIG_BYTES} bytes")
    try:
        config = msgspec.json.decode(data, type=NodeConfig)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise InvalidInput(f"{path}: {exc}") from None
    config.check()
    return config


def dump_config(config: NodeConfig) -> bytes:
    return msgspec.json.format(msgspec.json.encode(config), indent=2) + b"\n"
