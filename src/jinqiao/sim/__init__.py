"""The deterministic simulator (DESIGN.md §5): a network of validators in one process, running
the node's own consensus driver, chain, contracts, mempool, admission and store under a simulated
network, clock and crashes — one seed, one run, replayable (``jinqiao sim``).

Each run checks, as it goes and at its end:

* agreement — every correct node commits the same block hash and state root at every height;
* validity — every commit certificate verifies against the validator set in force, and no
  transaction is committed twice (a second copy would be recorded as ``duplicate_transaction``);
* no acknowledged transaction lost — every transaction a client saw committed is, at the end,
  at the same height and index in every correct node's store;
* conservation — the token's supply equals the sum of its balances on every correct node;
* no correct validator is ever reported for equivocation;
* liveness — after GST (the last fault healed), every correct node commits more heights within a
  bounded simulated time.

A failure is a ``SimulationFailure`` whose message names the invariant, the scenario, the seed
and the command that replays it.
"""

from __future__ import annotations

from jinqiao.core.crypto import DEFAULT_SUITE
from jinqiao.core.errors import NodeFault
from jinqiao.sim.plan import SCENARIOS, Behaviour, RandomSource, SimPlan, scenario_names
from jinqiao.sim.world import SimResult, Simulation, SimulationFailure, replay_command


def run_scenario(
    name: str, seed: int, rng: RandomSource, *, suite: str = DEFAULT_SUITE
) -> SimResult:
    """Run scenario ``name`` with the plan drawn from ``rng`` (seeded with ``seed``) on a network
    of crypto suite ``suite``."""
    if name not in SCENARIOS:
        raise NodeFault(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
    plan = SCENARIOS[name](rng)
    return Simulation(name, seed, plan, rng, suite=suite).run()


def scenario_for_seed(seed: int) -> str:
    """The scenario a seed runs when none is named: the seeds cycle through all of them."""
    names = scenario_names()
    return names[seed % len(names)]


__all__ = [
    "SCENARIOS",
    "Behaviour",
    "SimPlan",
    "SimResult",
    "Simulation",
    "SimulationFailure",
    "replay_command",
    "run_scenario",
    "scenario_for_seed",
    "scenario_names",
]
