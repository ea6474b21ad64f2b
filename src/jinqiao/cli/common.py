"""What the CLI commands share: finding the network, the node and keys; printing."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from jinqiao.client import Client
from jinqiao.core.crypto import Signer
from jinqiao.core.errors import InvalidInput
from jinqiao.keys import load_key
from jinqiao.node.setup import NetworkLayout, load_layout

# Piped output (CI logs, files) gets 120 columns rather than Rich's 80, so tables of amounts are
# not cut short; a terminal keeps its own width.
_PIPED_WIDTH = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 120
console = Console(soft_wrap=True, width=_PIPED_WIDTH)
errors = Console(stderr=True, soft_wrap=True)


def progress_bar(*, disable: bool = False) -> Progress:
    """The progress bar of every long CLI task: description, bar, done/total, elapsed time."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=disable,
    )


def fail(message: str, code: int = 1) -> NoReturn:
    errors.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=True) + "\n")


def save_result(result: dict[str, Any], *, output: Path | None, json_output: bool) -> bool:
    """Write a benchmark's ``result`` to ``output`` and, with ``--json``, to stdout; True when
    the caller should print its text summary instead."""
    if output is not None:
        output.write_text(json.dumps(result, indent=2) + "\n")
    if json_output:
        emit_json(result)
    return not json_output


@dataclass
class Target:
    """Where to send requests: a node URL and the genesis to verify against."""

    url: str
    genesis_file: Path | None
    layout: NetworkLayout | None
    network_dir: Path | None

    def client(self) -> Client:
        return Client(self.url, genesis_file=self.genesis_file)

    def key(self, name_or_path: str) -> Signer:
        """An account key by its name in the network directory, or a key file path."""
        path = Path(name_or_path)
        if not path.exists() and self.layout is not None and self.network_dir is not None:
            path = self.network_dir / self.layout.account(name_or_path).key_file
        return load_key(path)

    def address(self, name_or_hex: str) -> bytes:
        """An address given as 40 hex characters or as an account name of the network."""
        if len(name_or_hex) == 40:
            try:
                return bytes.fromhex(name_or_hex)
            except ValueError:
                pass
        if self.layout is not None:
            return bytes.fromhex(self.layout.account(name_or_hex).address)
        raise InvalidInput(f"{name_or_hex!r} is neither an address (40 hex) nor an account name")


def resolve_target(network: Path | None, url: str | None, genesis: Path | None) -> Target:
    layout = None
    if network is not None:
        layout = load_layout(network)
        if genesis is None:
            genesis = network / layout.genesis_file
        if url is None:
            if not layout.nodes:
                raise InvalidInput(f"{network} has no nodes")
            url = layout.nodes[0].api_url
    if url is None:
        raise InvalidInput("say which node: --network DIR or --url URL")
    if genesis is None:
        raise InvalidInput(
            "with --url, give --genesis FILE too: proofs are verified against the genesis you trust"
        )
    return Target(url, genesis, layout, network)


def format_minor(amount_minor: int, scale: int) -> str:
    """``123456, 2`` → ``"1,234.56"``, in integers (no float rounding of money)."""
    sign = "-" if amount_minor < 0 else ""
    major, minor = divmod(abs(amount_minor), 10**scale)
    return f"{sign}{major:,}" + (f".{minor:0{scale}d}" if scale else "")
