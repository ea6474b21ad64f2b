"""The deployment files in deploy/ (docs/operations.md): the container image definition, the
4-organization compose file and the systemd units. Docker cannot run here, so the compose file
and the Containerfile are parsed and every file, path, command, option and environment variable
they name is checked against the repository and the ``jinqiao`` command; the units are checked by
``systemd-analyze verify`` (parsed, when it is not installed) with the same command check."""

from __future__ import annotations

import configparser
import ipaddress
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from jinqiao.core.genesis import GenesisOrganization
from jinqiao.keys import InsecurePlaintext
from jinqiao.keys.passphrase import ENV_PASSPHRASE_FILE
from jinqiao.node.config import ENVIRONMENT_OVERRIDES
from jinqiao.provision.ceremony import make_member

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").iterdir())
INSTALLED_JINQIAO = "/opt/jinqiao/venv/bin/jinqiao"
KNOWN_VARIABLES = {*ENVIRONMENT_OVERRIDES, ENV_PASSPHRASE_FILE, "PYTHONUNBUFFERED"}


def assert_jinqiao_command(arguments: list[str]) -> None:
    """``jinqiao <arguments>`` names a real command, and every ``--option`` is one of its own."""
    words = []
    for argument in arguments:
        if argument.startswith("-"):
            break
        words.append(argument)
    options = [argument.split("=")[0] for argument in arguments if argument.startswith("--")]
    result = subprocess.run(
        [sys.executable, "-m", "jinqiao", *words, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "COLUMNS": "200", "TERM": "dumb", "NO_COLOR": "1"},
    )
    assert result.returncode == 0, f"jinqiao {' '.join(words)}: {result.stderr}"
    for option in options:
        assert re.search(rf"{re.escape(option)}\b", result.stdout), (
            f"jinqiao {' '.join(words)} has no option {option}"
        )


def _containerfile() -> list[tuple[str, str]]:
    """(instruction, argument) of each instruction, continuation lines joined."""
    text = (DEPLOY / "Containerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def test_containerfile_copies_files_that_exist_and_starts_a_real_command() -> None:
    instructions = _containerfile()
    copied = [arg for instruction, arg in instructions if instruction == "COPY"]
    assert copied
    for argument in copied:
        if argument.startswith("--from="):
            continue  # from an earlier stage of the build, not from the repository
        *sources, _ = argument.split()
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: no such file in the repository"
    (entrypoint,) = [
        json.loads(arg) for instruction, arg in instructions if instruction == "ENTRYPOINT"
    ]
    assert entrypoint[0] == "jinqiao"
    assert_jinqiao_command(entrypoint[1:])
    for instruction, argument in instructions:
        if instruction == "ENV":
            for name in re.findall(r"([A-Z0-9_]+)=", argument):
                assert name in KNOWN_VARIABLES, f"ENV {name} is read by nothing"
    (volume,) = [json.loads(arg) for instruction, arg in instructions if instruction == "VOLUME"]
    assert entrypoint[entrypoint.index("--home") + 1] == volume[0]


def test_compose_file_runs_four_organizations_from_ceremony_homes(tmp_path: Path) -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert sorted(services) == ["bank-a", "bank-b", "bank-c", "bank-d"]
    (network_name,) = compose["networks"]
    subnet = ipaddress.ip_network(compose["networks"][network_name]["ipam"]["config"][0]["subnet"])
    addresses = set()
    for name, service in services.items():
        build = service["build"]
        assert (DEPLOY / build["context"] / build["dockerfile"]).is_file()
        (volume,) = service["volumes"]
        host_path, container_path = volume.split(":")
        assert container_path == "/var/lib/jinqiao/node"
        # The home `jinqiao ceremony member --org NAME --out orgs/NAME` makes is the one mounted.
        make_member(
            tmp_path / "orgs" / name,
            chain_id="compose-check",
            organization=GenesisOrganization(name, name, ()),
            accounts=[(f"{name}-admin", ("admin",))],
            hosts=["10.77.0.10"],
            api_port=8600,
            p2p_port=26600,
            protection=InsecurePlaintext(),
        )
        assert (tmp_path / host_path / "config.json").is_file(), host_path
        assert (tmp_path / host_path / "validator_key.json").is_file(), host_path
        environment = service["environment"]
        assert set(environment) <= KNOWN_VARIABLES, set(environment) - KNOWN_VARIABLES
        address = service["networks"][network_name]["ipv4_address"]
        assert ipaddress.ip_address(address) in subnet
        assert environment["JINQIAO_ADVERTISED_HOST"] == address
        addresses.add(address)
        for secret in service["secrets"]:
            assert secret in compose["secrets"]
            assert environment[ENV_PASSPHRASE_FILE] == f"/run/secrets/{secret}"
    assert len(addresses) == 4


def _exec_start(unit: Path) -> list[str]:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(unit)
    command = shlex.split(parser["Service"]["ExecStart"])
    if command[0] == "/bin/sh":
        command = shlex.split(command[-1].removeprefix("exec "))
    return command


@pytest.mark.parametrize("unit", [u for u in UNITS if u.suffix == ".service"], ids=lambda u: u.name)
def test_unit_starts_a_real_jinqiao_command(unit: Path) -> None:
    command = _exec_start(unit)
    assert command[0] == INSTALLED_JINQIAO
    assert_jinqiao_command(command[1:])


def test_units_verify(tmp_path: Path) -> None:
    """``systemd-analyze verify`` on an instance of each template, with ExecStart pointing at
    this checkout's ``jinqiao`` (the installed path does not exist here); without
    systemd-analyze, each unit is parsed and its sections checked."""
    jinqiao = Path(sys.executable).parent / "jinqiao"
    instances = []
    for unit in UNITS:
        instance = tmp_path / unit.name.replace("@.", "@bank-a.")
        instance.write_text(unit.read_text().replace(INSTALLED_JINQIAO, str(jinqiao)))
        instances.append(instance)
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        for instance in instances:
            parser = configparser.ConfigParser(strict=True, interpolation=None)
            parser.read(instance)
            assert "Unit" in parser
            assert {"Service", "Timer"} & set(parser.sections())
        return
    result = subprocess.run(
        [analyze, "verify", "--man=no", *map(str, instances)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
