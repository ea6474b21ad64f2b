"""The deterministic simulator (``jinqiao.sim``) runs the node's own stack — consensus driver,
safety module, chain, contracts, mempool, admission, store — under network, clock, crash and disk
faults and Byzantine validators, and its invariants catch planted bugs (tracker issue 8).

``SIM_SEEDS`` seeds run in ``make test``, cycling through every scenario; the soak of 10,000 seeds
is ``jinqiao sim --seeds 10000`` (docs/performance.md)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from jinqiao.consensus.safety import MemorySafetyStorage, SigningKeys
from jinqiao.consensus.tendermint import StartHeight
from jinqiao.core.errors import NodeFault
from jinqiao.core.limits import MAX_BLOCK_BYTES
from jinqiao.core.types import ValidatorSet
from jinqiao.node import jobs, storage
from jinqiao.node.chain import Candidate, Chain
from jinqiao.node.driver import BlockValidity, BuildBlock, Driver
from jinqiao.node.mempool import Mempool
from jinqiao.node.storage import Store
from jinqiao.sim import (
    SCENARIOS,
    Behaviour,
    SimPlan,
    Simulation,
    SimulationFailure,
    run_scenario,
    scenario_for_seed,
    scenario_names,
)
from jinqiao.sim.plan import Partition

ROOT = Path(__file__).resolve().parents[2]
SIM_SEEDS = 330
BLOCKS = 10


def run_seeds(
    seeds: range, scenario: str | None = None, suite: str = "ed25519-sha256"
) -> list[str]:
    failures = []
    for seed in seeds:
        name = scenario or scenario_for_seed(seed)
        try:
            run_scenario(name, seed, random.Random(seed), suite=suite)
        except SimulationFailure as failure:
            failures.append(failure.message)
    return failures


def totals(name: str, seeds: range) -> Counter[str]:
    counts: Counter[str] = Counter()
    for seed in seeds:
        counters = run_scenario(name, seed, random.Random(seed)).counters
        counts.update({key: value for key, value in vars(counters).items() if value})
    return counts


# -- every scenario, many seeds ---------------------------------------------------------------


def test_the_scenarios_cover_the_faults_the_design_names() -> None:
    assert set(scenario_names()) >= {
        "happy",
        "lossy",
        "partition",
        "split_brain",
        "crash_restart",
        "disk_faults",
        "twin",
        "invalid_proposer",
        "silent",
        "unequal_power",
        "seven",
        "mixed",
        "member_contracts",
        "key_rotation",
    }
    assert SIM_SEEDS >= 300


@pytest.mark.parametrize("block", range(BLOCKS))
def test_every_invariant_holds(block: int) -> None:
    """``SIM_SEEDS`` seeds in blocks (so a failure names its block), the scenarios in turn."""
    size = SIM_SEEDS // BLOCKS
    failures = run_seeds(range(block * size, (block + 1) * size))
    assert not failures, "\n".join(failures[:5])


SM2_SEEDS = len(scenario_names())
"""One seed per scenario: SM2 costs ~10 times Ed25519 per verify, so the many seeds run on the
default suite and these show the SM2 network through every kind of fault."""


def test_every_invariant_holds_on_an_sm2_network() -> None:
    assert run_seeds(range(SM2_SEEDS), suite="sm2-sm3") == []


def test_an_sm2_run_replays_exactly_and_differs_from_the_ed25519_run() -> None:
    sm2 = run_scenario("twin", 5, random.Random(5), suite="sm2-sm3")
    assert sm2.digest == run_scenario("twin", 5, random.Random(5), suite="sm2-sm3").digest
    assert sm2.digest != run_scenario("twin", 5, random.Random(5)).digest
    assert sm2.height > 0


def test_an_sm2_failure_replays_with_its_suite() -> None:
    rng = random.Random(3)
    plan = SimPlan(
        partitions=(Partition(0, 60_000, SCENARIOS["split_brain"](rng).partitions[0].groups),),
        liveness_bound_ms=1_000,
    )
    with pytest.raises(SimulationFailure) as failure:
        Simulation("split_brain", 3, plan, rng, suite="sm2-sm3").run()
    assert "--seed 3 --suite sm2-sm3" in failure.value.message


def test_one_seed_replays_one_run_exactly() -> None:
    for name in scenario_names():
        first = run_scenario(name, 7, random.Random(7))
        second = run_scenario(name, 7, random.Random(7))
        assert (first.digest, first.counters) == (second.digest, second.counters), name
        assert first.height > 0, name
    assert run_scenario("mixed", 7, random.Random(7)).digest != (
        run_scenario("mixed", 8, random.Random(8)).digest
    )


def test_replay_does_not_depend_on_the_process_hash_seed() -> None:
    # Iteration over sets or dicts keyed by bytes or str would change with PYTHONHASHSEED.
    code = (
        "import random; from jinqiao.sim import run_scenario; "
        "print(run_scenario('twin', 5, random.Random(5)).digest)"
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
    assert digests == {run_scenario("twin", 5, random.Random(5)).digest}


# -- the faults happen --------------------------------------------------------------------------


def test_the_network_drops_duplicates_and_partitions() -> None:
    lossy = totals("lossy", range(5))
    assert lossy["messages_dropped"] > 0 and lossy["messages_duplicated"] > 0
    assert lossy["max_round"] > 0  # rounds fail and the protocol moves on
    assert totals("split_brain", range(5))["messages_dropped"] > 0


def test_twins_equivocate_and_correct_nodes_report_it() -> None:
    assert totals("twin", range(10))["evidence_reports"] > 0


def test_invalid_proposals_are_refused() -> None:
    assert totals("invalid_proposer", range(5))["invalid_verdicts"] > 0


def test_restarted_nodes_catch_up_from_certificates() -> None:
    counts = totals("crash_restart", range(10))
    assert counts["crashes"] > 0
    assert counts["catch_up_commits"] > 0 and counts["block_requests"] > 0


def test_nodes_crash_between_durable_writes_and_lose_unsynced_batches() -> None:
    assert totals("disk_faults", range(10))["crashes"] > 0


def test_torn_writes_are_detected_on_restart_and_the_node_recovers_from_peers() -> None:
    counts = totals("disk_faults", range(60))
    assert counts["torn_writes"] > 0
    assert counts["torn_detected"] == counts["torn_writes"]


# -- the checker --------------------------------------------------------------------------------


def test_the_checker_catches_disagreement_beyond_the_fault_threshold() -> None:
    # Two twins of four validators hold half the power: Tendermint promises nothing, and the
    # simulator must notice the two worlds deciding differently.
    plan = SimPlan(
        behaviours=(Behaviour.TWIN, Behaviour.TWIN, Behaviour.HONEST, Behaviour.HONEST),
        partitions=(
            Partition(
                0,
                4_000,
                (frozenset({"v0", "v1", "v2"}), frozenset({"v0b", "v1b", "v3"})),
            ),
        ),
        beyond_fault_threshold=True,
    )
    messages = []
    for seed in range(10):
        try:
            Simulation("two_twins", seed, plan, random.Random(seed)).run()
        except SimulationFailure as failure:
            messages.append(failure.message)
    agreement = [m for m in messages if "agreement" in m]
    assert agreement, messages
    assert "two_twins seed" in agreement[0] and "jinqiao sim --scenario two_twins" in agreement[0]


def test_plans_beyond_the_fault_threshold_are_refused_unless_asked_for() -> None:
    plan = SimPlan(validators=3, behaviours=(Behaviour.SILENT, Behaviour.HONEST, Behaviour.HONEST))
    with pytest.raises(NodeFault, match="1/3"):
        Simulation("bad", 0, plan, random.Random(0))


def test_a_liveness_failure_names_the_seed_the_scenario_and_the_replay_command() -> None:
    rng = random.Random(3)
    plan = SCENARIOS["split_brain"](rng)
    plan = SimPlan(
        partitions=(Partition(0, 60_000, plan.partitions[0].groups),), liveness_bound_ms=1_000
    )
    with pytest.raises(SimulationFailure) as failure:
        Simulation("split_brain", 3, plan, rng).run()
    message = failure.value.message
    assert "liveness" in message and "split_brain seed 3" in message
    assert "replay: jinqiao sim --scenario split_brain --seed 3" in message


def test_unknown_scenarios_are_refused() -> None:
    with pytest.raises(NodeFault, match="unknown scenario"):
        run_scenario("no_such_scenario", 0, random.Random(0))


# -- planted bugs: each is caught within the seeds make test runs -----------------------------


def _build_keeping_committed(
    chain: Chain, mempool: Mempool, action: BuildBlock
) -> Candidate | None:
    """The proposer before the fix of issue 8 (a): it proposed what its mempool held, including
    transactions that had committed meanwhile (admitted by a thread that checked the store just
    before the block that holds them was stored)."""
    if chain.head.height + 1 != action.height:
        return None
    with chain.store.snapshot() as snapshot:
        parameters = chain.runtime.parameters(snapshot)
    pending = mempool.peek(parameters.block_max_transactions, MAX_BLOCK_BYTES)
    return chain.execute(
        [p.transaction for p in pending], action.time_ms, action.proposer, verify_signatures=False
    )


def test_the_simulator_catches_committed_transactions_proposed_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 8, fault (a), seen by the simulator before it was fixed: with the old proposer,
    seeds fail with a transaction committed twice; with the fix (``jobs.build_block`` drops
    committed entries), the same seeds pass."""
    seeds = range(40)
    assert run_seeds(seeds, "happy") == []
    monkeypatch.setattr(jobs, "build_block", _build_keeping_committed)
    failures = run_seeds(seeds, "happy")
    assert failures and all("committed twice" in failure for failure in failures), failures[:3]


def test_a_safety_record_that_is_not_persisted_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """A validator that signs without its record reaching the disk forgets its votes when it
    restarts, and votes again differently: the simulator reports the equivocation of a correct
    validator (or the fork it leads to)."""

    def forgetful_save(self: MemorySafetyStorage, data: bytes) -> None:
        self.saves += 1  # the record never reaches the disk

    monkeypatch.setattr(MemorySafetyStorage, "save", forgetful_save)
    seeds = range(SIM_SEEDS)
    failures = run_seeds(seeds, "crash_restart")
    assert failures, "the forgotten safety record went unnoticed"
    assert any("equivocation" in f or "agreement" in f for f in failures), failures[:3]


def test_a_store_that_does_not_check_for_torn_writes_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A node that opens a torn store without noticing runs on a half-written block: the run
    fails (the simulator names it; without its own check, the node stalls behind its peers)."""
    monkeypatch.setattr(Store, "check_intact", lambda self: None)
    failures = run_seeds(range(60), "disk_faults")
    assert any("torn store without noticing" in failure for failure in failures), failures[:3]


def test_committing_before_the_state_root_is_checked_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A driver that votes for a proposed block before re-executing it (so before its state
    root is checked) lets an invalid proposer's block through: the run fails."""

    def trusting_validate(self: Driver, request: object) -> None:
        height, block_hash = request.height, request.block_hash  # type: ignore[attr-defined]
        self._feed(BlockValidity(height, block_hash, True))

    monkeypatch.setattr(Driver, "_validate", trusting_validate)
    failures = run_seeds(range(30), "invalid_proposer")
    assert failures, "a block voted for without execution went unnoticed"


def test_payments_flow_and_their_totals_match_the_receipts() -> None:
    counts = totals("happy", range(5))
    assert counts["payments_captured"] > 0


def test_a_store_that_drops_some_latest_values_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A store that loses some of the latest values a block wrote (every node alike, so they
    still agree with each other) leaves the payments cycle's totals behind the captures its
    receipts accept."""
    original = storage._write_state

    def forgetful(batch: Any, state_writes: Any, new_nodes: Any) -> None:
        kept = {k: v for k, v in state_writes.items() if not k.endswith(b"/totals")}
        original(batch, kept, new_nodes)

    monkeypatch.setattr(storage, "_write_state", forgetful)
    failures = run_seeds(range(10), "happy")
    assert any("payments on" in failure for failure in failures), failures[:3]


# -- member contracts: the lifecycle under faults ----------------------------------------------


def test_a_member_contract_lives_its_whole_life_under_faults() -> None:
    """Scenario ``member_contracts`` (``jinqiao.sim.members``): across seeds, with a crash and
    losses on the way, both versions are committed by the quorum, the migration runs once, the
    contract takes in and pays out CNY (counted by the conservation check at its address), and
    governance's pause refuses the last call; every invariant holds meanwhile."""
    seeds = range(8)
    assert run_seeds(seeds, "member_contracts") == []
    whole = 0
    for seed in seeds:
        counters = run_scenario("member_contracts", seed, random.Random(seed)).counters
        assert counters.member_packages_committed == 2, seed
        assert counters.member_migrations == 1, seed
        assert counters.crashes == 1, seed
        whole += counters.member_calls_ok == 2 and counters.member_paused_rejections == 1
    assert whole >= len(seeds) // 2, whole


# -- a validator's consensus key replaced by governance ----------------------------------------


def test_a_validator_key_is_replaced_under_faults() -> None:
    """Scenario ``key_rotation`` (``jinqiao.sim.rotation``): across seeds, with losses and v1
    crashing and restarting on the way, governance replaces v1's key, v1's driver switches to
    the next key at the height the set names it, and certificates from then on hold the next
    key's precommit (every certificate checked against the set in force, so an old-key
    precommit after the switch would fail the run); every invariant holds meanwhile."""
    seeds = range(8)
    assert run_seeds(seeds, "key_rotation") == []
    certified = 0
    for seed in seeds:
        counters = run_scenario("key_rotation", seed, random.Random(seed)).counters
        assert counters.next_key_in_use == 1, seed
        assert counters.crashes == 1, seed
        assert counters.evidence_reports == 0, seed
        certified += counters.next_key_certificates >= 1
    # v1, restarted after its crash, may still be following by catch-up when a run ends.
    assert certified >= len(seeds) - 2, certified


def test_without_the_switch_the_next_key_certifies_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the switch the rotated validator falls silent (its old key is out of the set):
    the chain goes on with three of four, and the count of next-key certificates shows it."""

    def keep_the_old_key(self: SigningKeys, height: int, validators: ValidatorSet) -> StartHeight:
        return self.current.start_height(height, validators)

    monkeypatch.setattr(SigningKeys, "start_height", keep_the_old_key)
    counters = run_scenario("key_rotation", 1, random.Random(1)).counters
    assert counters.next_key_certificates == counters.next_key_in_use == 0
    assert counters.next_key_signatures == 0


def test_a_resolver_that_keeps_the_old_version_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """A node that caches a member contract by name instead of by package hash keeps running
    version 1 after the quorum commits version 2: the lifecycle's migration call meets the old
    code, and the run fails naming the node."""
    from jinqiao.contracts.host import member_contract
    from jinqiao.contracts.lifecycle import (
        LIFECYCLE,
        MemberContracts,
        PackageRecord,
        deployed_key,
        package_key,
    )
    from jinqiao.core.codec import decode_stored

    def by_name(self: MemberContracts, read: Any, name: str) -> Any:
        cache = self.__dict__.setdefault("by_name", {})
        if name not in cache:
            hash_bytes = read(LIFECYCLE.encode() + b"/" + deployed_key(name))
            if hash_bytes is None:
                return None
            raw = read(LIFECYCLE.encode() + b"/" + package_key(hash_bytes))
            record = decode_stored(raw, PackageRecord)
            cache[name] = member_contract(record.manifest, record.source)
        return cache[name]

    monkeypatch.setattr(MemberContracts, "resolve", by_name)
    failures = run_seeds(range(6), "member_contracts")
    assert failures and all("vault.migrate" in failure for failure in failures), failures[:3]
