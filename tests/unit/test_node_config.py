"""A node's ``config.json``: unknown fields and out-of-range values are refused at start with the
field named; nothing is half-loaded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from jinqiao.core.errors import InvalidInput
from jinqiao.node.config import NodeConfig, dump_config, load_config


def write(home: Path, **fields: Any) -> None:
    document = json.loads(dump_config(NodeConfig(name="n1")))
    document.update(fields)
    (home / "config.json").write_text(json.dumps(document))


def test_defaults_round_trip(tmp_path: Path) -> None:
    write(tmp_path)
    assert load_config(tmp_path) == NodeConfig(name="n1")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"surprise": 1}, "surprise"),
        ({"api_port": 70_000}, "api_port"),
        ({"block_interval_ms": 0}, "block_interval_ms"),
        ({"mempool_capacity": 0}, "mempool_capacity"),
        ({"block_execution_budget_ms": -1}, "block_execution_budget_ms"),
        ({"block_execution_budget_ms": 600_001}, "block_execution_budget_ms"),
        ({"log_level": "LOUD"}, "log_level"),
        ({"peers": [{"name": "", "host": "h", "port": 1}]}, "peer"),
        ({"consensus_timeouts": {"propose_ms": 0}}, "propose_ms"),
        ({"revoked_certificates": ["ab" * 31]}, "not a SHA-256 fingerprint"),
        ({"revoked_certificates": ["AB" * 32]}, "not a SHA-256 fingerprint"),
        ({"dial_all_peers": "yes"}, "dial_all_peers"),
        ({"api_limits": {"header_timeout_ms": 0}}, "header_timeout_ms"),
        ({"api_limits": {"max_connections_per_address": 0}}, "max_connections_per_address"),
        ({"api_limits": {"max_connections": 10, "max_connections_per_address": 11}}, "per_address"),
        ({"api_cors_origins": ["explorer.example"]}, "scheme://host"),
        ({"api_rate_limit": {"requests_per_second": 0}}, "requests_per_second"),
        ({"api_rate_limit": {"burst": 0}}, "api_rate_limit.burst"),
        ({"api_rate_limit": {"per_minute": 5}}, "per_minute"),
        ({"observer": "yes"}, "observer"),
        ({"snapshot_interval_blocks": -1}, "snapshot_interval_blocks"),
        ({"snapshot_chunk_bytes": 100}, "snapshot_chunk_bytes"),
        ({"snapshot_chunk_bytes": 9 * 1024 * 1024}, "snapshot_chunk_bytes"),
        ({"snapshots_kept": 0}, "snapshots_kept"),
        ({"state_sync": "yes"}, "state_sync"),
        ({"state_sync_timeout_s": 0}, "state_sync_timeout_s"),
        ({"next_validator_key_file": "validator_key.json"}, "next_validator_key_file"),
        ({"observer": True, "next_validator_key_file": "next.json"}, "not for an observer"),
        ({"observers": [{"name": "o", "organization": ""}]}, "observer 'o'"),
        ({"observers": [{"name": "n1", "organization": "pboc"}]}, "not this node's"),
        (
            {"observers": [{"name": "o", "organization": "a"}, {"name": "o", "organization": "b"}]},
            "different names",
        ),
    ],
)
def test_bad_fields_are_refused_by_name(
    tmp_path: Path, fields: dict[str, Any], message: str
) -> None:
    write(tmp_path, **fields)
    with pytest.raises(InvalidInput, match=message):
        load_config(tmp_path)


def test_block_budget_defaults_to_a_third_of_the_propose_timeout(tmp_path: Path) -> None:
    assert NodeConfig(name="n1").block_budget_ms() == 1_000
    write(tmp_path, consensus_timeouts={"propose_ms": 6_000})
    assert load_config(tmp_path).block_budget_ms() == 2_000
    write(tmp_path, block_execution_budget_ms=0)
    assert load_config(tmp_path).block_budget_ms() is None  # cut by count and bytes only
    write(tmp_path, block_execution_budget_ms=250)
    assert load_config(tmp_path).block_budget_ms() == 250


def test_revoked_certificates_are_fingerprints(tmp_path: Path) -> None:
    write(tmp_path, revoked_certificates=["0f" * 32])
    assert load_config(tmp_path).revoked_certificates == ("0f" * 32,)


def test_an_oversize_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_bytes(b" " * (1024 * 1024 + 1))
    with pytest.raises(InvalidInput, match="over"):
        load_config(tmp_path)
