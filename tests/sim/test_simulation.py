"""Deterministic simulation of whole Tendermint networks (DESIGN.md §5): every named scenario
over many seeds, each run checking agreement, validity, commit certificates, evidence and
liveness after GST. A failing seed is a bug: replay it with the command in the failure message,
``jinqiao sim --seed N --scenario NAME`` (or ``run_scenario(NAME, N, random.Random(N))``).

No sleeps and no wall clock: simulated time is an integer the simulator advances."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import msgspec
import pytest

from jinqiao.consensus.sim import (
    CHAIN_ID,
    GENESIS_BLOCK_HASH,
    GENESIS_STATE_ROOT,
    SCENARIOS,
    SUITE,
    Behaviour,
    SimParameters,
    SimPlan,
    SimResult,
    Simulation,
    SimulationFailure,
    block_is_valid,
    run_scenario,
    scenario_names,
    toy_state_root,
)
from jinqiao.core.errors import NodeFault
from jinqiao.core.hashing import header_hash, validator_set_hash
from jinqiao.core.types import EMPTY_HASH, BlockHeader

ROOT = Path(__file__).resolve().parents[2]
SEEDS_PER_SCENARIO = 40
CASES = [(name, seed) for name in scenario_names() for seed in range(SEEDS_PER_SCENARIO)]


def run(name: str, seed: int) -> SimResult:
    return run_scenario(name, seed, random.Random(seed))


def test_the_scenarios_cover_the_faults_the_design_names() -> None:
    assert set(scenario_names()) >= {
        "happy",
        "lossy",
        "partition-2-2",
        "partition-1-3",
        "crash-restart",
        "twin-equivocation",
        "twin-partitions",
        "invalid-proposer",
        "silent-validator",
        "unequal-power",
        "seven-f2",
        "mixed",
    }
    assert len(CASES) >= 300


@pytest.mark.parametrize(("scenario", "seed"), CASES, ids=[f"{n}-{s}" for n, s in CASES])
def test_every_invariant_holds(scenario: str, seed: int) -> None:
    result = run(scenario, seed)  # raises SimulationFailure, naming the replay command
    assert result.replay_command == f"jinqiao sim --seed {seed} --scenario {scenario}"
    assert result.agreed_height >= 3
    assert result.counters.certificates_verified >= result.agreed_height


# ------------------------------------------------------------------------ replay


def test_one_seed_replays_one_run_exactly() -> None:
    first = run("mixed", 11)
    second = run("mixed", 11)
    assert first == second
    assert first.trace_digest != run("mixed", 12).trace_digest


def test_replay_does_not_depend_on_the_process_hash_seed() -> None:
    # Iteration over sets or dicts keyed by bytes would change with PYTHONHASHSEED.
    code = (
        "import random; from jinqiao.consensus.sim import run_scenario; "
        "print(run_scenario('twin-partitions', 5, random.Random(5)).trace_digest)"
    )
    digests = set()
    for hash_seed in ("0", "4242"):
        environment = {**os.environ, "PYTHONHASHSEED": hash_seed}
        completed = subprocess.run(
            [sys.executable, "-c", code],
            check=True,
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=environment,
            timeout=120,
        )
        digests.add(completed.stdout.strip())
    assert digests == {run("twin-partitions", 5).trace_digest}


# ------------------------------------------------------------------------ the faults happen


def totals(name: str, seeds: range) -> Counter[str]:
    counts: Counter[str] = Counter()
    for seed in seeds:
        counters = run(name, seed).counters
        counts.update({key: value for key, value in vars(counters).items() if value})
    return counts


def test_the_network_drops_duplicates_and_partitions() -> None:
    lossy = totals("lossy", range(5))
    assert lossy["messages_dropped"] > 0 and lossy["messages_duplicated"] > 0
    assert lossy["max_round"] > 0  # rounds fail and the protocol moves on
    assert totals("partition-2-2", range(5))["messages_dropped"] > 0


def test_twins_equivocate_and_correct_nodes_report_it() -> None:
    assert totals("twin-equivocation", range(10))["evidence"] > 0


def test_invalid_proposals_are_refused() -> None:
    assert totals("invalid-proposer", range(5))["invalid_verdicts"] > 0


def test_restarted_nodes_catch_up_from_certificates() -> None:
    counts = totals("crash-restart", range(10))
    assert counts["catch_up_commits"] > 0 and counts["sync_requests"] > 0


# ------------------------------------------------------------------------ the checker


def test_the_checker_catches_disagreement_beyond_the_fault_threshold() -> None:
    # Two twins of four validators hold half the power: Tendermint promises nothing, and the
    # simulator must notice the two worlds deciding differently.
    plan = SimPlan(
        (1, 1, 1, 1),
        (Behaviour.TWIN, Behaviour.TWIN, Behaviour.HONEST, Behaviour.HONEST),
        twin_targets=((0, 1, 2), (0, 1, 3)),
        beyond_fault_threshold=True,
    )
    messages = []
    for seed in range(10):
        try:
            Simulation("two-twins", seed, plan, random.Random(seed)).run()
        except SimulationFailure as failure:
            messages.append(str(failure))
    agreement = [m for m in messages if "agreement" in m]
    assert len(agreement) >= 2, messages
    assert "jinqiao sim --seed" in agreement[0] and "two-twins" in agreement[0]


def test_plans_beyond_the_fault_threshold_are_refused_unless_asked_for() -> None:
    plan = SimPlan((1, 1, 1), (Behaviour.SILENT, Behaviour.HONEST, Behaviour.HONEST))
    with pytest.raises(NodeFault, match="1/3"):
        Simulation("bad", 0, plan, random.Random(0))


def test_a_liveness_failure_names_the_seed_the_scenario_and_the_replay_command() -> None:
    plan = SCENARIOS["lossy"].build(random.Random(3))
    simulation = Simulation("lossy", 3, plan, random.Random(3), SimParameters(liveness_bound_ms=1))
    with pytest.raises(SimulationFailure) as failure:
        simulation.run()
    message = str(failure.value)
    assert "liveness" in message and "seed 3" in message and "'lossy'" in message
    assert "replay: jinqiao sim --seed 3 --scenario lossy" in message


def test_unknown_scenarios_are_refused() -> None:
    with pytest.raises(NodeFault, match="unknown scenario"):
        run_scenario("no-such-scenario", 0, random.Random(0))


def test_the_toy_application_checks_execution_and_links() -> None:
    simulation = Simulation(
        "happy", 0, SCENARIOS["happy"].build(random.Random(0)), random.Random(0)
    )
    validators = simulation.validators
    validators_hash = validator_set_hash(SUITE, validators)
    payload = b"\x05" * 32
    block = BlockHeader(
        chain_id=CHAIN_ID,
        height=1,
        time_ms=10,
        previous_block_hash=GENESIS_BLOCK_HASH,
        transactions_root=payload,
        receipts_root=EMPTY_HASH,
        state_root=toy_state_root(GENESIS_STATE_ROOT, payload),
        validators_hash=validators_hash,
        next_validators_hash=validators_hash,
        proposer=validators.validators[0].address,
        transaction_count=0,
    )
    assert block_is_valid(block, None, validators)
    wrong_state = msgspec.structs.replace(block, state_root=b"\x00" * 32)
    assert not block_is_valid(wrong_state, None, validators)
    child = msgspec.structs.replace(
        block,
        height=2,
        previous_block_hash=header_hash(SUITE, block),
        state_root=toy_state_root(block.state_root, payload),
    )
    assert block_is_valid(child, block, validators)
    assert not block_is_valid(child, None, validators)
    stranger = msgspec.structs.replace(block, proposer=b"\x01" * 20)
    assert not block_is_valid(stranger, None, validators)
