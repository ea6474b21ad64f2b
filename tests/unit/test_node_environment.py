"""Binding and advertised addresses, and the ``JINQIAO_*`` environment overrides a running node
reads over its ``config.json`` (``node.config.ENVIRONMENT_OVERRIDES``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from jinqiao.api.exposure import trusted_hosts
from jinqiao.core.errors import InvalidInput
from jinqiao.node.config import NodeConfig, dump_config, load_config, with_environment


def _home(tmp_path: Path, config: NodeConfig) -> Path:
    (tmp_path / "config.json").write_bytes(dump_config(config))
    return tmp_path


def test_the_environment_overrides_addresses_and_ports(tmp_path: Path) -> None:
    home = _home(tmp_path, NodeConfig(name="bank-a"))
    environment = {
        "JINQIAO_API_HOST": "0.0.0.0",
        "JINQIAO_API_PORT": "9401",
        "JINQIAO_P2P_HOST": "10.77.0.11",
        "JINQIAO_P2P_PORT": "9501",
        "JINQIAO_ADVERTISED_HOST": "bank-a.example",
        "JINQIAO_LOG_LEVEL": "DEBUG",
        "JINQIAO_UNRELATED": "ignored",
    }
    config = load_config(home, environment=environment)
    assert (config.api_host, config.api_port, config.p2p_host, config.p2p_port) == (
        "0.0.0.0",
        9401,
        "10.77.0.11",
        9501,
    )
    assert (config.advertised_host, config.log_level) == ("bank-a.example", "DEBUG")
    # Without an environment (provisioning reads configurations too) the file alone counts.
    assert load_config(home).api_port == 8600


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("JINQIAO_API_PORT", "http", "JINQIAO_API_PORT='http' is not a port number"),
        ("JINQIAO_P2P_PORT", "70000", "p2p_port must be 0..65535 .set from the environment"),
        ("JINQIAO_API_HOST", "", "api_host must not be empty"),
        ("JINQIAO_ADVERTISED_HOST", "a b", "advertised_host 'a b' is not a host name"),
        ("JINQIAO_LOG_LEVEL", "LOUD", "log_level must be DEBUG"),
    ],
)
def test_a_bad_override_is_refused_naming_the_variable(
    variable: str, value: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        with_environment(NodeConfig(name="bank-a"), {variable: value})


def test_the_api_answers_to_its_advertised_host() -> None:
    config = NodeConfig(name="bank-a", api_host="0.0.0.0", advertised_host="Bank-A.example")
    hosts = trusted_hosts(config, 9400)
    assert hosts is not None
    assert {"bank-a.example", "bank-a.example:9400"} <= hosts
    assert "other.example" not in hosts
