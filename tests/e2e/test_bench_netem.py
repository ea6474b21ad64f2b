"""``bench network --netem`` leaves nothing behind: after a short run on namespaces linked with
delay and loss, and after a run that fails or is interrupted (Ctrl-C) once the namespaces exist,
``ip netns list`` and ``ip link`` show none of the run's namespaces, veths, bridge or TUNs.

Needs root, as tests/e2e/test_netns_network.py does (the CI runs as root): without it the test
fails saying so, never skips."""

from __future__ import annotations

import subprocess

import pytest

import jinqiao.bench.network as network_bench
from jinqiao.bench.netns import Hosts, parse_impairment, require_root
from jinqiao.bench.network import run_network_bench
from jinqiao.core.errors import InvalidInput
from tests.helpers.process import free_port_base

pytestmark = pytest.mark.e2e

IMPAIRMENT = parse_impairment("delay 30ms loss 0.1%")


def _require_root() -> None:
    try:
        require_root("this test")
    except InvalidInput as error:
        pytest.fail(f"{error}, as the CI does")


def _left_behind() -> list[str]:
    """This process's namespaces and links (the bench names them after its process id)."""
    hosts = Hosts(4)
    namespaces = "\n".join(
        line.split()[0]
        for line in subprocess.run(
            ["ip", "netns", "list"], capture_output=True, text=True, check=True
        ).stdout.splitlines()
    )
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    return [
        line.strip()
        for line in [*namespaces.splitlines(), *links.splitlines()]
        if hosts.prefix in line or hosts.bridge in line
    ]


def _run(duration_s: float) -> dict[str, object]:
    return run_network_bench(
        validators=4,
        duration_s=duration_s,
        rate=200,
        json_output=True,
        output=None,
        plot=None,
        base_port=free_port_base(4),
        quiet=True,
        impairment=IMPAIRMENT,
    )


@pytest.mark.timeout(600)
def test_a_short_run_commits_and_leaves_nothing_behind() -> None:
    _require_root()
    assert _left_behind() == []
    result = _run(3)
    assert int(str(result["committed_total"])) > 0
    setup = result["setup"]
    assert isinstance(setup, dict) and "delay 30ms loss 0.1%" in setup["link"]
    assert _left_behind() == []


@pytest.mark.parametrize("failure", [RuntimeError("a node did not start"), KeyboardInterrupt()])
def test_a_failed_or_interrupted_run_leaves_nothing_behind(
    monkeypatch: pytest.MonkeyPatch, failure: BaseException
) -> None:
    _require_root()
    seen: list[list[str]] = []
    hosts = Hosts(4)

    def fail_once_up(*args: object, **kwargs: object) -> object:
        # The namespaces and the wide-area link exist at this point.
        inside = subprocess.run(
            ["ip", "-n", hosts.namespaces[0], "-o", "link"], capture_output=True, text=True
        ).stdout
        seen.append([*_left_behind(), *inside.splitlines()])
        raise failure

    monkeypatch.setattr(network_bench, "running_network", fail_once_up)
    with pytest.raises(type(failure)):
        _run(3)
    assert seen and any(line == hosts.namespaces[3] for line in seen[0]), seen
    assert any(hosts.wan_devices[0] in line for line in seen[0]), seen
    assert _left_behind() == []
