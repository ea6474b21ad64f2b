"""The ``jinqiao`` command in tests: run it in-process, and a one-node network made by
``jinqiao init`` whose node process runs for a test module."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from typer.testing import CliRunner

from jinqiao.cli.main import app
from tests.helpers.process import NodeProcess, free_port

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of ``jinqiao ARGS``."""
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@contextmanager
def cli_network(directory: Path) -> Iterator[tuple[Path, NodeProcess]]:
    """``jinqiao init DIRECTORY`` and its first node started; stopped (exit 0) on the way out."""
    port = free_port()
    code, out, err = invoke(
        "init", str(directory), "--base-port", str(port), "--insecure-plaintext", "--json"
    )
    if code != 0:
        raise RuntimeError(f"jinqiao init failed: {err}")
    layout = json.loads(out)
    node = NodeProcess(directory / layout["nodes"][0]["home"], port=port).start()
    try:
        yield directory, node
    finally:
        exit_code = node.stop()
        if exit_code != 0:
            raise RuntimeError(f"the node exited {exit_code}: {node.log()}")
