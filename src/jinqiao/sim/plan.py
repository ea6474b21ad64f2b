"""What a simulation run does to the network: faults, Byzantine validators, load — one
``SimPlan`` per (scenario, seed), drawn from the seeded generator so a seed replays exactly."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from jinqiao.core.errors import NodeFault


class RandomSource(Protocol):
    """What the simulator needs from a seeded generator (``random.Random`` fits)."""

    def randint(self, a: int, b: int) -> int: ...


def chance(rng: RandomSource, per_mille: int) -> bool:
    return per_mille > 0 and rng.randint(1, 1000) <= per_mille


class Behaviour(Enum):
    HONEST = "honest"
    TWIN = "twin"
    """Two instances share the key, each with its own safety record: they equivocate."""
    INVALID_PROPOSER = "invalid_proposer"
    """Proposes blocks whose state root is wrong."""
    SILENT = "silent"
    """Sends nothing."""


@dataclass(frozen=True)
class Partition:
    """From ``start_ms`` to ``end_ms``, instances in different groups cannot reach each other.
    Groups name instances: ``"v2"`` for validator 2, ``"v0b"`` for the second twin of 0."""

    start_ms: int
    end_ms: int
    groups: tuple[frozenset[str], ...]


@dataclass(frozen=True)
class Crash:
    instance: str
    at_ms: int
    restart_ms: int


@dataclass(frozen=True)
class WriteCrash:
    """``instance`` crashes right after its ``write``-th durable write (a safety record, the
    locked block or a store batch, counted from 1), before it does anything else, and restarts
    ``restart_after_ms`` later. With ``lose_last_batch`` the disk also loses the store's last
    batch, as if it had acknowledged an fsync it did not do; with ``torn`` (if that write was a
    store batch) only part of the batch reaches the disk, and the node must notice on restart."""

    instance: str
    write: int
    restart_after_ms: int
    lose_last_batch: bool = False
    torn: bool = False


@dataclass(frozen=True)
class SimPlan:
    validators: int = 4
    powers: tuple[int, ...] = ()
    behaviours: tuple[Behaviour, ...] = ()
    drop_per_mille: int = 0
    duplicate_per_mille: int = 0
    delay_ms: tuple[int, int] = (1, 10)
    skew_ms: int = 200
    """Each node's clock is off by up to this much either way."""
    partitions: tuple[Partition, ...] = ()
    crashes: tuple[Crash, ...] = ()
    write_crashes: tuple[WriteCrash, ...] = ()
    transfers: int = 40
    payments: int = 8
    """Card payments: each authorized by its issuer, then captured by its acquirer."""
    load_until_ms: int = 3_000
    faults_until_ms: int = 0
    """Global stabilisation time: from here on, no drops, bounded delays, every crash healed."""
    heights_after_gst: int = 3
    liveness_bound_ms: int = 30_000
    job_ms: tuple[int, int] = (1, 6)
    admission_ms: tuple[int, int] = (0, 3)
    member_contracts: bool = False
    """Send the life of a member contract (``jinqiao.sim.members``): proposed, approved to the
    quorum, called with CNY moving, upgraded with a migration, paused by governance."""
    key_rotation: bool = False
    """Replace ``v1``'s consensus key by governance (``jinqiao.sim.rotation``): ``v1`` holds
    the next key from the start and signs with it from the height the set names it."""
    beyond_fault_threshold: bool = False
    """Allow faulty validators with a third of the power or more (Tendermint then promises
    nothing; used to show that the checker notices)."""

    def behaviour(self, validator: int) -> Behaviour:
        return self.behaviours[validator] if self.behaviours else Behaviour.HONEST

    def power(self, validator: int) -> int:
        return self.powers[validator] if self.powers else 1

    def gst_ms(self) -> int:
        ends = [self.faults_until_ms]
        ends += [partition.end_ms for partition in self.partitions]
        ends += [crash.restart_ms for crash in self.crashes]
        return max(ends)

    def check(self) -> None:
        if not 1 <= self.validators <= 10:
            raise NodeFault("a simulation has 1..10 validators")
        for sequence, name in ((self.powers, "powers"), (self.behaviours, "behaviours")):
            if sequence and len(sequence) != self.validators:
                raise NodeFault(f"{name} must name every validator")
        if self.key_rotation and self.validators < 2:
            raise NodeFault("key_rotation replaces v1's key: it needs 2 or more validators")
        for crash in self.crashes:
            if crash.restart_ms <= crash.at_ms:
                raise NodeFault("a crash restarts after it happens")
        total = sum(self.power(i) for i in range(self.validators))
        faulty = sum(
            self.power(i)
            for i in range(self.validators)
            if self.behaviour(i) is not Behaviour.HONEST
        )
        if 3 * faulty >= total and not self.beyond_fault_threshold:
            raise NodeFault(
                f"faulty validators hold {faulty} of {total} power, 1/3 or more: Tendermint "
                "promises nothing (set beyond_fault_threshold to run it anyway)"
            )


def _happy(rng: RandomSource) -> SimPlan:
    return SimPlan(transfers=rng.randint(20, 60))


def _lossy(rng: RandomSource) -> SimPlan:
    return SimPlan(
        drop_per_mille=rng.randint(20, 150),
        duplicate_per_mille=rng.randint(0, 80),
        delay_ms=(1, rng.randint(20, 120)),
        faults_until_ms=rng.randint(1_000, 4_000),
    )


def _partition(rng: RandomSource) -> SimPlan:
    isolated = rng.randint(0, 3)
    start = rng.randint(0, 1_000)
    others = frozenset(f"v{i}" for i in range(4) if i != isolated)
    return SimPlan(
        partitions=(
            Partition(
                start, start + rng.randint(500, 3_000), (frozenset({f"v{isolated}"}), others)
            ),
        ),
    )


def _split_brain(rng: RandomSource) -> SimPlan:
    """Two against two: nobody has a quorum until the partition heals."""
    start = rng.randint(0, 800)
    order = sorted(range(4), key=lambda _: rng.randint(0, 1_000))
    groups = (
        frozenset(f"v{i}" for i in order[:2]),
        frozenset(f"v{i}" for i in order[2:]),
    )
    return SimPlan(partitions=(Partition(start, start + rng.randint(500, 2_500), groups),))


def _crash_restart(rng: RandomSource) -> SimPlan:
    crashes = []
    at = rng.randint(100, 800)
    for _ in range(rng.randint(1, 3)):
        restart = at + rng.randint(100, 1_500)
        crashes.append(Crash(f"v{rng.randint(0, 3)}", at, restart))
        at = restart + rng.randint(50, 600)
    return SimPlan(crashes=tuple(crashes), delay_ms=(1, rng.randint(5, 40)))


def _disk_faults(rng: RandomSource) -> SimPlan:
    """Crashes between any two durable writes of a node (after its safety record, before the
    vote leaves; after the locked block, before the precommit; after a block is stored, before
    the next height), some losing the store's last batch and some tearing it."""
    crashes = tuple(
        WriteCrash(
            f"v{rng.randint(0, 3)}",
            rng.randint(1, 60),
            rng.randint(50, 1_500),
            lose_last_batch=chance(rng, 400),
            torn=chance(rng, 500),
        )
        for _ in range(rng.randint(1, 3))
    )
    return SimPlan(write_crashes=crashes, faults_until_ms=4_000, delay_ms=(1, rng.randint(5, 30)))


def _twin(rng: RandomSource) -> SimPlan:
    twin = rng.randint(0, 3)
    others = [f"v{i}" for i in range(4) if i != twin]
    first = frozenset({f"v{twin}", *others[:1]})
    second = frozenset({f"v{twin}b", *others[1:]})
    behaviours = tuple(Behaviour.TWIN if i == twin else Behaviour.HONEST for i in range(4))
    end = rng.randint(1_000, 3_000)
    return SimPlan(
        behaviours=behaviours,
        partitions=(Partition(0, end, (first, second)),),
        drop_per_mille=rng.randint(0, 50),
    )


def _one_faulty(behaviour: Behaviour) -> Callable[[RandomSource], SimPlan]:
    def plan(rng: RandomSource) -> SimPlan:
        faulty = rng.randint(0, 3)
        behaviours = tuple(behaviour if i == faulty else Behaviour.HONEST for i in range(4))
        return SimPlan(behaviours=behaviours, delay_ms=(1, rng.randint(5, 30)))

    return plan


def _unequal_power(rng: RandomSource) -> SimPlan:
    """One validator holds almost a third of the power and crashes."""
    heavy = rng.randint(0, 3)
    powers = tuple(4 if i == heavy else 3 for i in range(4))
    at = rng.randint(200, 1_000)
    crash = Crash(f"v{heavy}", at, at + rng.randint(300, 2_000))
    return SimPlan(powers=powers, crashes=(crash,))


def _seven(rng: RandomSource) -> SimPlan:
    """Seven validators tolerate two faults: a twin and a silent one, with losses."""
    picks = sorted(range(7), key=lambda _: rng.randint(0, 1_000))
    twin, silent = picks[0], picks[1]
    behaviours = tuple(
        Behaviour.TWIN if i == twin else Behaviour.SILENT if i == silent else Behaviour.HONEST
        for i in range(7)
    )
    rest = [f"v{i}" for i in range(7) if i != twin]
    first = frozenset({f"v{twin}", *rest[:3]})
    second = frozenset({f"v{twin}b", *rest[3:]})
    return SimPlan(
        validators=7,
        behaviours=behaviours,
        partitions=(Partition(0, rng.randint(800, 2_500), (first, second)),),
        drop_per_mille=rng.randint(0, 60),
        transfers=30,
    )


def _mixed(rng: RandomSource) -> SimPlan:
    lossy = _lossy(rng)
    crashes = _crash_restart(rng).crashes
    return SimPlan(
        drop_per_mille=lossy.drop_per_mille,
        duplicate_per_mille=lossy.duplicate_per_mille,
        delay_ms=lossy.delay_ms,
        faults_until_ms=lossy.faults_until_ms,
        crashes=crashes,
        skew_ms=rng.randint(0, 800),
    )


def _member_contracts(rng: RandomSource) -> SimPlan:
    """A member contract's lifecycle (``jinqiao.sim.members``, about 5.5 s of transactions) on a
    lossy network where one validator crashes and restarts on the way."""
    at = rng.randint(300, 3_000)
    return SimPlan(
        member_contracts=True,
        drop_per_mille=rng.randint(0, 60),
        duplicate_per_mille=rng.randint(0, 60),
        delay_ms=(1, rng.randint(5, 40)),
        faults_until_ms=rng.randint(1_000, 3_000),
        crashes=(Crash(f"v{rng.randint(0, 3)}", at, at + rng.randint(200, 1_500)),),
        transfers=rng.randint(10, 30),
        load_until_ms=6_000,
    )


def _key_rotation(rng: RandomSource) -> SimPlan:
    """``v1``'s consensus key replaced by governance (``jinqiao.sim.rotation``) on a lossy
    network where ``v1`` crashes and restarts around the switch."""
    at = rng.randint(500, 2_500)
    return SimPlan(
        key_rotation=True,
        drop_per_mille=rng.randint(0, 60),
        duplicate_per_mille=rng.randint(0, 60),
        delay_ms=(1, rng.randint(5, 40)),
        faults_until_ms=rng.randint(1_000, 3_000),
        crashes=(Crash("v1", at, at + rng.randint(200, 1_500)),),
        transfers=rng.randint(10, 30),
        load_until_ms=4_000,
    )


SCENARIOS: dict[str, Callable[[RandomSource], SimPlan]] = {
    "happy": _happy,
    "lossy": _lossy,
    "partition": _partition,
    "split_brain": _split_brain,
    "crash_restart": _crash_restart,
    "disk_faults": _disk_faults,
    "twin": _twin,
    "invalid_proposer": _one_faulty(Behaviour.INVALID_PROPOSER),
    "silent": _one_faulty(Behaviour.SILENT),
    "unequal_power": _unequal_power,
    "seven": _seven,
    "mixed": _mixed,
    "member_contracts": _member_contracts,
    "key_rotation": _key_rotation,
}


def scenario_names() -> tuple[str, ...]:
    return tuple(SCENARIOS)


def instance_names(plan: SimPlan) -> Sequence[tuple[str, int]]:
    """Every simulated node: (instance name, validator index); twins have two instances."""
    instances: list[tuple[str, int]] = []
    for validator in range(plan.validators):
        instances.append((f"v{validator}", validator))
        if plan.behaviour(validator) is Behaviour.TWIN:
            instances.append((f"v{validator}b", validator))
    return instances


__all__ = [
    "SCENARIOS",
    "Behaviour",
    "Crash",
    "Partition",
    "RandomSource",
    "SimPlan",
    "WriteCrash",
    "chance",
    "instance_names",
    "scenario_names",
]
