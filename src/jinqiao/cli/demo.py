"""``jinqiao demo`` and ``jinqiao sim``: the demo network and the deterministic simulator."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from jinqiao.cli.common import (
    JsonOption,
    OutputOption,
    SuiteOption,
    fail,
    guarded,
)
from jinqiao.core.crypto import DEFAULT_SUITE
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
    suite: SuiteOption = DEFAULT_SUITE,
    supply_chain: Annotated[
        bool,
        typer.Option(
            "--supply-chain/--no-supply-chain",
            help="Run the supply chain stories (goods, a clone caught, receivables finance).",
        ),
    ] = True,
    credit: Annotated[
        bool, typer.Option("--credit/--no-credit", help="Run the credit story after payments.")
    ] = True,
    contracts: Annotated[
        bool,
        typer.Option(
            "--contracts/--no-contracts",
            help="Run the contracts story: a member's escrow deployed, called, upgraded and "
            "paused through governance (docs/contracts.md).",
        ),
    ] = True,
    second_factor: Annotated[
        bool,
        typer.Option(
            "--second-factor/--no-second-factor",
            help="Run the treasury transfer above CNY 1,000,000 that bank-a's approval service "
            "co-signs after a TOTP code (docs/keys.md).",
        ),
    ] = True,
    cross_chain: Annotated[
        bool,
        typer.Option(
            "--cross-chain",
            help="Instead: two networks (the second with one sm2-sm3 validator) moving CNY "
            "across and back, one swap completed and one refunded (docs/crosschain.md).",
        ),
    ] = False,
) -> None:
    """Start a local network, run a day of signed CNY transfers, a day of card payments
    cleared and settled between the institutions, a supply chain, a credit score and a member's
    contract deployed, upgraded and paused through governance, and show what happened."""
    if cross_chain:
        from jinqiao.demo.crosschain import run_cross_chain_demo

        run_cross_chain_demo(
            base_port=base_port,
            directory=directory,
            validators=(validators, 1),
            suites=(suite, "sm2-sm3"),
        )
        return
    from jinqiao.demo.run import run_demo

    run_demo(
        exit_after=exit_after,
        transfers=transfers,
        directory=directory,
        base_port=base_port,
        seed=seed,
        validators=validators,
        payments=payments,
        crypto_suite=suite,
        supply_chain=supply_chain,
        credit=credit,
        contracts=contracts,
        second_factor=second_factor,
    )


@guarded
def sim(
    seeds: Annotated[int, typer.Option(min=1, max=1_000_000, help="How many seeds to run.")] = 100,
    seed: Annotated[int | None, typer.Option(help="Run this one seed (replay).")] = None,
    scenario: Annotated[
        str | None, typer.Option(help="Only this scenario (default: the seeds cycle through all).")
    ] = None,
    first_seed: Annotated[int, typer.Option(min=0, help="First seed of the range.")] = 0,
    json_output: JsonOption = False,
    output: OutputOption = None,
    suite: SuiteOption = DEFAULT_SUITE,
) -> None:
    """Deterministic simulation of a validator network running the node's own driver, chain,
    mempool and store: drops, delays, partitions, crashes between disk writes, Byzantine twins.
    One seed replays one run exactly; a failure prints its replay command."""
    import dataclasses
    import random

    from jinqiao.core.crypto import get_suite
    from jinqiao.sim import (
        SimulationFailure,
        replay_command,
        run_scenario,
        scenario_for_seed,
        scenario_names,
    )

    get_suite(suite)  # an unknown suite: one line, before any run
    names = scenario_names()
    if scenario is not None and scenario not in names:
        fail(f"unknown scenario {scenario!r}; known: {', '.join(names)}")
    seed_list = [seed] if seed is not None else list(range(first_seed, first_seed + seeds))
    runs = [(scenario or scenario_for_seed(number), number) for number in seed_list]
    failures: list[dict[str, Any]] = []
    simulated_ms = 0
    totals: dict[str, int] = {}
    per_scenario: dict[str, int] = {}
    started = time.monotonic()
    with progress_bar(disable=json_output) as progress:
        task = progress.add_task("simulating", total=len(runs))
        for name, number in runs:
            per_scenario[name] = per_scenario.get(name, 0) + 1
            try:
                result = run_scenario(name, number, random.Random(number), suite=suite)
                simulated_ms += result.simulated_ms
                for counter, value in dataclasses.asdict(result.counters).items():
                    if counter != "max_round":
                        totals[counter] = totals.get(counter, 0) + value
            except SimulationFailure as broken:
                failures.append(
                    {
                        "scenario": name,
                        "seed": number,
                        "error": broken.message,
                        "replay": replay_command(name, number, suite),
                    }
                )
            progress.advance(task)
    wall_s = time.monotonic() - started
    summary = {
        "runs": len(runs),
        "failed": len(failures),
        "failures": failures,
        "runs_per_scenario": per_scenario,
        "totals": totals,
        "wall_seconds": round(wall_s, 1),
        "runs_per_second": round(len(runs) / wall_s, 2) if wall_s else None,
        "simulated_seconds": round(simulated_ms / 1000, 1),
        "simulated_seconds_per_wall_second": round(simulated_ms / 1000 / wall_s, 1)
        if wall_s
        else None,
        "first_seed": seed_list[0],
        "suite": suite,
    }
    if output is not None:
        output.write_text(json.dumps(summary, indent=2) + "\n")
    if json_output:
        emit_json(summary)
    else:
        console.print(
            f"{len(runs)} runs, {len(failures)} failed, {summary['wall_seconds']} s "
            f"({summary['runs_per_second']} runs/s, {summary['simulated_seconds_per_wall_second']} "
            "simulated s per wall s)"
        )
        for failure in failures[:20]:
            console.print(
                f"[red]{failure['scenario']} seed {failure['seed']}[/]: "
                f"{failure['error']}\n  replay: {failure['replay']}"
            )
    if failures:
        raise typer.Exit(1)
