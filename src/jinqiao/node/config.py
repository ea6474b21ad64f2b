"""A node's configuration file, ``<home>/config.json``, and the layout of its home directory:

<home>/config.json        this file
<home>/genesis.json       the network's genesis (identical on every node)
<home>/validator_key.json the validator signing key (0600), if this node validates (an observer
                          has none, and refuses to start if the one there is a validator's)
<home>/<next_validator_key_file>  the validator's next key, while governance replaces its key
                          (docs/keys.md "Rotation")
<home>/audit/             the audit trail (``node.audit``)
<home>/tls/               node.crt, node.key (0600), and the consortium roots
<home>/data/              the LMDB store
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import msgspec

from jinqiao.core.errors import InvalidInput
from jinqiao.node.block_cost import DEFAULT_BACKLOG_BLOCKS, default_budget_ms
from jinqiao.node.pruning import (
    DEFAULT_RETENTION_HEIGHTS,
    MAX_RETENTION_HEIGHTS,
    MIN_RETENTION_HEIGHTS,
)

MAX_CONFIG_BYTES = 1024 * 1024
MAX_PRIVATE_DATA_SOURCES = 100
_FINGERPRINT = re.compile(r"[0-9a-f]{64}")
_ORIGIN = re.compile(r"https?://(\[[0-9a-fA-F:.]+\]|[^/\s:\[\]]+)(:[0-9]{1,5})?")


class PeerConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Another validator's node: its name (the common name of its TLS certificate) and where
    its peer port listens."""

    name: str
    host: str
    port: int


class ObserverConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """An observer node this node lets connect (and serves blocks to): its name (the common name
    of its TLS certificate) and its organization (whose root must have issued it)."""

    name: str
    organization: str


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


class ApiLimits(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """How long the HTTP API waits for a client and how many connections it holds (docs/api.md
    "Connections"). A connection over a cap is answered 503 ``too_many_connections`` and closed;
    one that misses a timeout is closed."""

    header_timeout_ms: int = 10_000
    """A request's complete headers must arrive within this time of the connection opening (or of
    the first byte of the next request on a kept-alive connection)."""
    idle_timeout_ms: int = 5_000
    """A kept-alive connection with no request in progress is closed after this time."""
    body_timeout_ms: int = 30_000
    """A request's complete body must arrive within this time of its headers."""
    max_connections: int = 4_096
    """Connections held at once, from all clients."""
    max_connections_per_address: int = 64
    """Connections held at once from one client IP address."""

    def check(self) -> None:
        for name in ("header_timeout_ms", "idle_timeout_ms", "body_timeout_ms"):
            if not 100 <= getattr(self, name) <= 600_000:
                raise InvalidInput(f"config: api_limits.{name} must be 100..600000 ms")
        if not 1 <= self.max_connections <= 1_000_000:
            raise InvalidInput("config: api_limits.max_connections must be 1..1000000")
        if not 1 <= self.max_connections_per_address <= self.max_connections:
            raise InvalidInput(
                "config: api_limits.max_connections_per_address must be 1..max_connections"
            )


class ApiRateLimit(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Requests each authenticated identity may make to this node's API (docs/api.md "Rate
    limits"): a token bucket per identity, ``burst`` requests at once and ``requests_per_second``
    sustained; over it: 429 ``rate_limited`` with ``Retry-After``."""

    requests_per_second: float = 200.0
    burst: int = 400
    tarpit_ms: int = 1_000
    """An identity that asks again before the ``Retry-After`` of its last refusal has its next
    429 held until then, at most this long (0: never held; ADR 0041)."""

    def check(self) -> None:
        if not 0.1 <= self.requests_per_second <= 1_000_000:
            raise InvalidInput("config: api_rate_limit.requests_per_second must be 0.1..1000000")
        if not 1 <= self.burst <= 1_000_000:
            raise InvalidInput("config: api_rate_limit.burst must be 1..1000000")
        if not 0 <= self.tarpit_ms <= 60_000:
            raise InvalidInput("config: api_rate_limit.tarpit_ms must be 0..60000")


DEFAULT_API_HOSTS = ("localhost", "127.0.0.1", "[::1]")


class NodeConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    api_host: str = "127.0.0.1"
    """The address the API binds to (``0.0.0.0`` for every interface of the host)."""
    api_port: int = 8600
    p2p_host: str = "127.0.0.1"
    """The address the peer port binds to."""
    p2p_port: int = 26600
    advertised_host: str = ""
    """The host name or address others reach this node at, when it is not the bound one (a node
    bound to ``0.0.0.0``, or behind a container's port mapping): the API answers to it (it is
    one of the ``api_hosts``), and a ceremony's membership file gives it to the other
    organizations as this node's peer address (docs/operations.md)."""
    validator_key_file: str = "validator_key.json"
    next_validator_key_file: str = ""
    """The validator's next consensus key (relative to the home; a key file, an encrypted
    keystore or an HSM reference, like ``validator_key_file``), held while governance replaces
    the validator's key: the node signs with it from the first height whose validator set names
    its address (docs/keys.md "Rotation"). Empty: no next key."""
    data_dir: str = "data"
    block_interval_ms: int = 50
    empty_block_interval_ms: int = 10_000
    block_execution_budget_ms: int | None = None
    """The proposer stops cutting a block before the transactions' expected execution time (as
    this node measured it, per contract and method) passes this; ``None``: a third of
    ``consensus_timeouts.propose_ms``; ``0``: cut by the chain's count and byte limits only
    (docs/performance.md, ADR 0046)."""
    mempool_capacity: int = 50_000
    mempool_capacity_bytes: int = 256 * 1024 * 1024
    mempool_per_sender: int = 10_000
    """At most this many of one sender's transactions wait at once (capped by the capacity)."""
    mempool_backlog_blocks: int = DEFAULT_BACKLOG_BLOCKS
    """Clients' transactions are refused (503 ``backlog_full``) while those waiting are expected
    to take longer than this many blocks' execution budget (``block_execution_budget_ms``, by
    this node's measure per contract and method): a network offered more than it commits
    answers "retry" at once instead of queueing work for many seconds. Transactions gossiped
    by peers are not refused. ``0``, or no budget: bounded by ``mempool_capacity`` only
    (docs/performance.md "A bounded backlog")."""
    retention_heights: int | None = None
    """Keep the state of the last this many heights, enough to prove any read at them, and
    prune older state versions in the background; ``0``: an archive node that keeps every
    height (docs/operations.md "Storage retention", ADR 0053). Chosen when the store is
    created: a store created as an archive has no stale-node journal and cannot be pruned.
    ``None`` (not set): ``DEFAULT_RETENTION_HEIGHTS`` on a store created with the journal, and
    an archive on one created without it (before pruning existed, or as an archive)."""
    log_level: str = "INFO"
    peers: tuple[PeerConfig, ...] = ()
    dial_all_peers: bool = False
    revoked_certificates: tuple[str, ...] = ()
    """SHA-256 fingerprints (hex) of peer TLS certificates to refuse at the handshake, e.g. of a
    node whose key was compromised (``jinqiao node fingerprint`` prints a node's)."""
    """Dial every peer (a node that joins a running network: the others do not know its
    address); otherwise only peers whose names sort after this node's are dialled."""
    consensus_timeouts: ConsensusTimeouts = ConsensusTimeouts()
    api_limits: ApiLimits = ApiLimits()
    api_rate_limit: ApiRateLimit = ApiRateLimit()
    api_hosts: tuple[str, ...] = DEFAULT_API_HOSTS
    """Host names the API answers to (the ``Host`` header, with or without the API port; the
    ``api_host`` is always one of them); any other gets 400 ``untrusted_host`` (DNS rebinding).
    ``"*"`` accepts every name."""
    observer: bool = False
    """This node is an observer: it follows the chain, fetching every block with its commit
    certificate and checking both, and never proposes, votes or signs anything, whatever its key
    (docs/guide.md "An observer node"). Checked at startup."""
    observers: tuple[ObserverConfig, ...] = ()
    """Observer nodes allowed to connect to this node to follow the chain (they are not
    validators, so the chain does not name them)."""
    snapshot_interval_blocks: int = 1_000
    """Take a snapshot of the state every this many heights and serve it to joining nodes
    (ADR 0054, docs/operations.md "State sync"); 0: take none."""
    snapshot_chunk_bytes: int = 8 * 1024 * 1024
    """The keys and values of one snapshot chunk, at most (1024 .. 8 MiB): smaller chunks spread
    a joining node's fetches over more requests."""
    snapshots_kept: int = 2
    """How many of its newest snapshots the node keeps in ``<home>/snapshots/``."""
    state_sync: bool = False
    """A node whose store is empty restores the state at a recent height from its peers'
    snapshots before it follows the chain, instead of replaying every block."""
    state_sync_timeout_s: int = 3_600
    """A state sync that has not finished in this time fails (the node does not start)."""
    epcis_capture_key_file: str = ""
    """A key file (relative to the home, encrypted like the validator key) of an account of this
    node's organization that signs EPCIS documents posted to ``POST /v1/epcis/capture``; empty:
    the node does not capture (docs/supplychain.md "Capture on the node")."""
    epcis_schema_file: str = ""
    """The EPCIS 2.0 JSON Schema (relative to the home, or absolute) that JSON-LD captures are
    validated against; empty: the node captures XML documents only."""
    api_authentication: bool = True
    """The API speaks HTTPS with this node's TLS certificate and asks every client for a
    certificate from one of the consortium's organization roots; ``api.access`` decides what each
    identity may call and every authenticated request is audited (docs/access.md). ``false``
    serves plain HTTP to anybody, without rules or audit: for a measurement of what
    authentication costs (``jinqiao bench network --auth off``), never for a network in use."""
    api_cors_origins: tuple[str, ...] = ()
    """Origins (``scheme://host[:port]``) of web pages that may call the API from a browser;
    any other cross-origin request gets 403 ``cross_origin_refused``."""
    private_data_sources: tuple[str, ...] = ()
    """API URLs (``https://host:port``) of other members' nodes this node pulls private
    documents from when one of its organization's callers asks for a body it does not hold
    (docs/access.md "Private data"); asked in this order, with this node's certificate."""

    def new_store_retention(self) -> int:
        """The retention a store created now is made for: the configured one, or the default."""
        if self.retention_heights is None:
            return DEFAULT_RETENTION_HEIGHTS
        return self.retention_heights

    def block_budget_ms(self) -> int | None:
        """The proposer's execution-time budget for a block, ``None`` for none."""
        if self.block_execution_budget_ms is None:
            return default_budget_ms(self.consensus_timeouts.propose_ms)
        return self.block_execution_budget_ms or None

    def backlog_bound_ms(self) -> int | None:
        """The expected execution the mempool holds before clients are refused
        (``mempool_backlog_blocks`` blocks' budget), ``None`` for no bound by time."""
        budget_ms = self.block_budget_ms()
        if budget_ms is None or not self.mempool_backlog_blocks:
            return None
        return budget_ms * self.mempool_backlog_blocks

    def check(self) -> None:
        for port_name in ("api_port", "p2p_port"):
            port = getattr(self, port_name)
            if not 0 <= port <= 65535:
                raise InvalidInput(f"config: {port_name} must be 0..65535")
        if not 1 <= self.block_interval_ms <= 60_000:
            raise InvalidInput("config: block_interval_ms must be 1..60000")
        if not self.block_interval_ms <= self.empty_block_interval_ms <= 3_600_000:
            raise InvalidInput("config: empty_block_interval_ms must be block_interval_ms..3600000")
        budget_ms = self.block_execution_budget_ms
        if budget_ms is not None and not 0 <= budget_ms <= 600_000:
            raise InvalidInput("config: block_execution_budget_ms must be 0..600000")
        if not 1 <= self.mempool_capacity <= 1_000_000:
            raise InvalidInput("config: mempool_capacity must be 1..1000000")
        if not 0 <= self.mempool_backlog_blocks <= 1_000:
            raise InvalidInput("config: mempool_backlog_blocks must be 0..1000")
        if not 1 <= self.mempool_per_sender <= 1_000_000:
            raise InvalidInput("config: mempool_per_sender must be 1..1000000")
        if not 1024 * 1024 <= self.mempool_capacity_bytes <= 8 * 1024**3:
            raise InvalidInput("config: mempool_capacity_bytes must be 1 MiB..8 GiB")
        if not (
            self.retention_heights is None
            or self.retention_heights == 0
            or MIN_RETENTION_HEIGHTS <= self.retention_heights <= MAX_RETENTION_HEIGHTS
        ):
            raise InvalidInput(
                f"config: retention_heights must be 0 (archive) or "
                f"{MIN_RETENTION_HEIGHTS}..{MAX_RETENTION_HEIGHTS}"
            )
        self.consensus_timeouts.check()
        self.api_limits.check()
        self.api_rate_limit.check()
        if len(self.api_hosts) > 100 or len(self.api_cors_origins) > 100:
            raise InvalidInput("config: at most 100 api_hosts and 100 api_cors_origins")
        for origin in self.api_cors_origins:
            if not _ORIGIN.fullmatch(origin):
                raise InvalidInput(
                    f"config: api_cors_origins entry {origin[:80]!r} is not scheme://host[:port]"
                )
        if len(self.private_data_sources) > MAX_PRIVATE_DATA_SOURCES:
            raise InvalidInput(f"config: at most {MAX_PRIVATE_DATA_SOURCES} private_data_sources")
        for source in self.private_data_sources:
            if not _ORIGIN.fullmatch(source) or not source.startswith("https://"):
                raise InvalidInput(
                    f"config: private_data_sources entry {source[:80]!r} is not https://host[:port]"
                )
        if self.next_validator_key_file and (
            self.observer or self.next_validator_key_file == self.validator_key_file
        ):
            raise InvalidInput(
                "config: next_validator_key_file is a validator's next key: not for an observer, "
                "and not the validator_key_file itself"
            )
        if len(self.peers) > 200:
            raise InvalidInput("config: at most 200 peers")
        for peer in self.peers:
            if not 1 <= peer.port <= 65535 or not peer.host or not peer.name:
                raise InvalidInput(f"config: peer {peer.name!r} needs a name, a host and a port")
        if not 0 <= self.snapshot_interval_blocks <= 10**9:
            raise InvalidInput("config: snapshot_interval_blocks must be 0..1000000000")
        if not 1024 <= self.snapshot_chunk_bytes <= 8 * 1024 * 1024:
            raise InvalidInput("config: snapshot_chunk_bytes must be 1024..8388608")
        if not 1 <= self.snapshots_kept <= 100:
            raise InvalidInput("config: snapshots_kept must be 1..100")
        if not 1 <= self.state_sync_timeout_s <= 86_400:
            raise InvalidInput("config: state_sync_timeout_s must be 1..86400")
        if len(self.observers) > 200:
            raise InvalidInput("config: at most 200 observers")
        if len({observer.name for observer in self.observers}) != len(self.observers):
            raise InvalidInput("config: observers must have different names")
        for observer in self.observers:
            if not observer.name or not observer.organization or observer.name == self.name:
                raise InvalidInput(
                    f"config: observer {observer.name!r} needs a name (not this node's) and an "
                    "organization"
                )
        if len(self.revoked_certificates) > 10_000:
            raise InvalidInput("config: at most 10000 revoked_certificates")
        for fingerprint in self.revoked_certificates:
            if not _FINGERPRINT.fullmatch(fingerprint):
                raise InvalidInput(
                    f"config: revoked certificate {fingerprint[:80]!r} is not a SHA-256 "
                    "fingerprint (64 lower-case hex characters)"
                )
        for host_name in ("api_host", "p2p_host", "advertised_host"):
            host = getattr(self, host_name)
            if len(host) > _MAX_HOST_LENGTH or any(c.isspace() or c in "/@" for c in host):
                raise InvalidInput(
                    f"config: {host_name} {host[:80]!r} is not a host name or address"
                )
            if not host and host_name != "advertised_host":
                raise InvalidInput(f"config: {host_name} must not be empty")
        if self.log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise InvalidInput("config: log_level must be DEBUG, INFO, WARNING or ERROR")


ENVIRONMENT_OVERRIDES: dict[str, str] = {
    "JINQIAO_API_HOST": "api_host",
    "JINQIAO_API_PORT": "api_port",
    "JINQIAO_P2P_HOST": "p2p_host",
    "JINQIAO_P2P_PORT": "p2p_port",
    "JINQIAO_ADVERTISED_HOST": "advertised_host",
    "JINQIAO_LOG_LEVEL": "log_level",
}
"""Environment variables a running node reads over its ``config.json`` (``jinqiao node start``):
where a container or a unit file decides the addresses, the same home runs unchanged."""
_MAX_HOST_LENGTH = 253


def with_environment(config: NodeConfig, environment: Mapping[str, str]) -> NodeConfig:
    """``config`` with the fields that ``ENVIRONMENT_OVERRIDES`` variables set in
    ``environment`` replaced, checked as the file's own values are."""
    changes: dict[str, str | int] = {}
    for variable, field in ENVIRONMENT_OVERRIDES.items():
        value = environment.get(variable)
        if value is None:
            continue
        if field.endswith("_port"):
            if not value.isascii() or not value.isdigit() or len(value) > 5:
                raise InvalidInput(f"{variable}={value[:20]!r} is not a port number (0..65535)")
            changes[field] = int(value)
        else:
            changes[field] = value
    if not changes:
        return config
    updated = msgspec.structs.replace(config, **changes)
    try:
        updated.check()
    except InvalidInput as exc:
        names = ", ".join(v for v, f in ENVIRONMENT_OVERRIDES.items() if f in changes)
        raise InvalidInput(f"{exc.message} (set from the environment: {names})") from None
    return updated


def load_config(home: Path, *, environment: Mapping[str, str] | None = None) -> NodeConfig:
    """``<home>/config.json``, checked; with ``environment`` (a running node passes
    ``os.environ``), the ``JINQIAO_*`` overrides of ``ENVIRONMENT_OVERRIDES`` applied."""
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
    return config if environment is None else with_environment(config, environment)


def dump_config(config: NodeConfig) -> bytes:
    return msgspec.json.format(msgspec.json.encode(config), indent=2) + b"\n"
