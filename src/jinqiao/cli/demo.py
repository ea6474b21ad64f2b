"""``jinqiao demo`` and ``jinqiao sim``: the demo network and the deterministic simulator."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from jinqiao.cli.common import (
    JsonOption,
    fail,
    guarded,
)
from jinqiao.terminal import console, emit_json, progress_bar


@guarded
def demo(
    exit_after: Annotated[
        bool, typer.Option("--exit-after", help="Exit after the summary.")
    ] = False,
    transfers: Annotated[
        int, typer.Option(min=10, max=100_000, help="Random transfers to run.")
    ] = 300,
    directory: Annotated[
        Path | None, typer.Option(help="Keep the network here (default: a temporary directory).")
    ] = None,
    base_port: Annotated[int, typer.Option(min=1024, max=65000)] = 8600,
    seed: Annotated[int, typer.Option(help="Seed of the random transfers.")] = 7,
    validators: Annotated[
        int, typer.Option(min=1, max=5, help="Validator processes, one per founding organization.")
    ] = 4,
    payments: Annotated[
        int,
        typer.Option(min=0, max=20_000, help="Card payments in the payments day (0: skip it)."),
    ] = 2_000,
) -> None:
    """Start a local network, run a day of signed CNY transfers and a day of card payments
    cleared and settled between the institutions, and show what happened."""
    from jinqiao.demo.run import run_demo

    run_demo(
        exit_after=exit_after,
        transfers=transfers,
        directory=directory,
        base_port=base_port,
        seed=seed,
        validators=validators,
        payments=payments,
    )


@guarded
def sim(
    seeds: Annotated[int, typer.Option(min=1, max=1_000_000, help="How many seeds to run.")] = 100,
    seed: Annotated[int | None, typer.Option(help="Run this one seed (replay).")] = None,
    scenario: Annotated[str | None, typer.Option(help="Only this scenario.")] = None,
    first_seed: Annotated[int, typer.Option(min=0, help="First seed of the range.")] = 1,
    json_output: JsonOption = False,
) -> None:
    """Deterministic simulation of a validator network: drops, delays, partitions, crashes,
    Byzantine twins. One seed replays one run exactly; a failure prints its replay command."""
    import random

    from jinqiao.consensus.sim import SimulationFailure, run_scenario, scenario_names

    names = scenario_names()
    if scenario is not None and scenario not in names:
        fail(f"unknown scenario {scenario!r}; known: {', '.join(names)}")
    chosen = [scenario] if scenario else list(names)
    seed_list = [seed] if seed is not None else list(range(first_seed, first_seed + seeds))
    runs = [(name, number) for number in seed_list for name in chosen]
    failures: list[dict[str, Any]] = []
    started = time.monotonic()
    with progress_bar(disable=json_output) as progress:
        task = progress.add_task("simulating", total=len(runs))
        for name, number in runs:
            try:
                run_scenario(name, number, random.Random(number))
            except SimulationFailure as broken:
                failures.append(
                    {
                        "scenario": name,
                        "seed": number,
                        "error": broken.message,
                        "replay": f"jinqiao sim --seed {number} --scenario {name}",
                    }
                )
            progress.advance(task)
    summary = {
        "runs": len(runs),
        "failures": failures,
        "seconds": round(time.monotonic() - started, 1),
    }
    if json_output:
        emit_json(summary)
    else:
        console.print(f"{len(runs)} runs, {len(failures)} failed, {summary['seconds']} s")
        for failure in failures[:20]:
            console.print(
                f"[red]{failure['scenario']} seed {failure['seed']}[/]: "
                f"{failure['error']}\n  replay: {failure['replay']}"
            )
    if failures:
        raise typer.Exit(1)
