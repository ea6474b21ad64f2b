"""``jinqiao relay``: carry headers, packets, acknowledgements and timeouts between two networks
(docs/crosschain.md §6). The relayer is not trusted: the chains check everything it brings."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from jinqiao.cli.common import JsonOption, guarded, resolve_target
from jinqiao.client.relay import Relayer, SdkEndpoint
from jinqiao.terminal import console, emit_json


@guarded
def relay(
    network_a: Annotated[Path, typer.Argument(help="Network directory of chain A.")],
    network_b: Annotated[Path, typer.Argument(help="Network directory of chain B.")],
    channel: Annotated[str, typer.Option(help="A's end of the channel pair.")] = "to-b",
    key_a: Annotated[
        str, typer.Option(help="Account (name or key file) that sends on A.")
    ] = "relayer",
    key_b: Annotated[
        str, typer.Option(help="Account (name or key file) that sends on B.")
    ] = "relayer",
    rounds: Annotated[
        int, typer.Option(min=0, max=1_000_000, help="Rounds to run; 0: until interrupted.")
    ] = 0,
    interval_s: Annotated[
        float, typer.Option(min=0.0, max=3600.0, help="Pause between rounds.")
    ] = 1.0,
    json_output: JsonOption = False,
) -> None:
    """Relay one channel pair between two networks: deliver packets with their proofs, bring
    back acknowledgements, prove timeouts; each round reads where both chains are."""
    target_a = resolve_target(network_a, None, None)
    target_b = resolve_target(network_b, None, None)
    with target_a.client() as client_a, target_b.client() as client_b:
        relayer = Relayer(
            SdkEndpoint(client_a, target_a.key(key_a)),
            SdkEndpoint(client_b, target_b.key(key_b)),
            channel,
            log=(lambda message: None) if json_output else console.print,
        )
        done = 0
        while rounds == 0 or done < rounds:
            report = relayer.relay_round()
            done += 1
            if json_output:
                emit_json(
                    {
                        "round": done,
                        "headers": report.headers,
                        "delivered": report.delivered,
                        "acknowledged": report.acknowledged,
                        "timed_out": report.timed_out,
                        "refused": report.refused,
                    }
                )
            if rounds == 0 or done < rounds:
                time.sleep(interval_s)
