"""``jinqiao bench payments``: payments recorded per second by one node and by a validator
network, and the cost of closing (netting) a cycle of 100,000 and 1,000,000 payments.

Parts 1 and 2 run in-process on the node's own path, as ``bench execute`` does: ``Chain.execute``
(runtime, the payments contract, the sparse Merkle tree, the block's roots) and ``Chain.commit``
(one LMDB write transaction with fsync per block), on a fresh store, with a genesis of
``institutions`` organizations that are each card issuer and acquirer plus a clearing house.

1. **Recording**: ``payments`` payments, each an ``authorize`` (issuer) then a ``capture``
   (acquirer) into an open cycle, signed before the clock starts, in blocks of ``block_size``;
   signature checks excluded (a validator verified them at admission). A payment is recorded when
   both are committed: payments/s = payments / (authorize time + capture time).
2. **Closing** a cycle of N payments: ``close_cycle`` reads only the running aggregates (the flow
   of each issuer/acquirer pair and each institution's totals), so its cost is in institutions,
   not payments. Cycles up to ``record_limit`` payments are recorded through the real contract
   (authorize + capture each; unsigned, signature checks off, so the setup is quicker). Larger
   cycles are built **aggregated**: each payment's fees are computed with the contract's own
   rule (``fees.compute_fees``) and summed per pair, and one bench-only method of a subclass of
   the contract passes each pair's sums once through the contract's ``record_event`` — the same
   code that every capture runs. The flows, cycle totals and institutions' debit, credit and fee
   totals are then exactly those of N individual captures; only the event counters (``events``,
   ``captures``, ``entry_count``) and the entry index differ, and closing reads none of those.
   The table says which way each cycle was built.
3. **On the network** (``network_validators`` > 0): ``network_payments`` payments recorded by
   validator processes on this machine, as ``bench network`` runs them, and the commit latency of
   closing their cycle; see ``bench_payments_network``. ``network_rate`` offers a fixed number of
   transactions per second in each phase instead of as many as the nodes accept, for latency
   percentiles per phase at a known load.
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.progress import Progress
from rich.table import Table

from jinqiao.apps import default_contracts
from jinqiao.apps.payments import Payments
from jinqiao.apps.payments.clearing import record_event
from jinqiao.apps.payments.common import load_cycle
from jinqiao.apps.payments.fees import china_2016_rules, compute_fees, find_rule
from jinqiao.apps.payments.model import (
    CAPTURE,
    CLEARING_HOUSE_ROLE,
    PAYMENTS,
    AuthorizeArgs,
    CaptureArgs,
    CycleArgs,
    Fees,
    OpenCycleArgs,
    Payment,
)
from jinqiao.apps.token import TOKEN
from jinqiao.bench.execute import bench_token_config, setup_description
from jinqiao.bench.payments_network import run_network_phase
from jinqiao.bench.payments_plan import (
    CLEARING,
    CLEARING_ROLES,
    CURRENCY,
    INSTITUTION_ROLES,
    MCC,
    MERCHANT,
    authorization,
    institution_ids,
    payments_contract_config,
    random_payments,
)
from jinqiao.core.codec import CanonicalStruct, decode, encode
from jinqiao.core.crypto import DEFAULT_SUITE, Signer, get_suite
from jinqiao.core.errors import NodeFault
from jinqiao.core.genesis import Genesis, GenesisAccount, GenesisOrganization, GenesisValidator
from jinqiao.core.hashing import transaction_signing_bytes
from jinqiao.core.types import Receipt, SignedTransaction, TransactionBody
from jinqiao.execution.contract import Context, Contract, method
from jinqiao.execution.runtime import Runtime
from jinqiao.node.chain import Chain
from jinqiao.node.storage import Store
from jinqiao.node.validator import solo_certificate
from jinqiao.terminal import console, emit_json, progress_bar

CHAIN_ID = "jinqiao-bench-payments"
CUTOFF_TIME_MS = 10**12
"""The cycles' cut-off, in block time: recording blocks are timed before it, closing after."""
VALID_FOR_BLOCKS = 100
PAIRS_PER_LOAD = 50
"""Pairs per loading transaction: ~25 state operations each, well within the 10,000 a
transaction may make."""


class PairSums(CanonicalStruct, frozen=True):
    """Every capture from ``issuer`` to ``acquirer`` in the cycle, summed: amounts and fees."""

    issuer: str
    acquirer: str
    amount_minor: int
    fees: Fees


class LoadSumsArgs(CanonicalStruct, frozen=True):
    cycle_id: int
    pairs: tuple[PairSums, ...]


class AggregatingPayments(Payments):
    """The payments contract plus one method that exists only in this benchmark."""

    @method(LoadSumsArgs, roles=(CLEARING_HOUSE_ROLE,))
    def bench_load_sums(self, ctx: Context, args: LoadSumsArgs) -> None:
        cycle = load_cycle(ctx, args.cycle_id)
        for pair in args.pairs:
            authorization = AuthorizeArgs(
                f"SUM-{pair.issuer}-{pair.acquirer}",
                pair.issuer,
                pair.acquirer,
                MERCHANT,
                bytes(32),
                pair.amount_minor,
                CURRENCY,
                "pos",
                "debit",
                "000000",
                0,
            )
            payment = Payment(
                authorization, MCC, "authorized", ctx.height, 0, None, 0, 0, None, None
            )
            record_event(ctx, cycle, CAPTURE, payment, pair.amount_minor, pair.fees)


def bench_genesis(signers: dict[str, Signer], validator: Signer) -> Genesis:
    """A clearing house and institutions that are each card issuer and acquirer, one account
    each (``<org>-ops``), the CNY token and the published Chinese fee schedule."""
    organizations = [
        GenesisOrganization(
            CLEARING, "Bench Clearing", ("clearing_house", "settlement_agent", "currency_issuer")
        )
    ]
    accounts = [
        GenesisAccount(
            f"{CLEARING}-ops",
            CLEARING,
            signers[CLEARING].public_key.hex(),
            ("clearing_house", "settlement_agent", "currency_issuer"),
        )
    ]
    institutions = [
        {
            "id": CLEARING,
            "roles": list(CLEARING_ROLES),
            "settlement_account": signers[CLEARING].address.hex(),
        }
    ]
    for org in (name for name in signers if name != CLEARING):
        organizations.append(GenesisOrganization(org, org, INSTITUTION_ROLES))
        accounts.append(
            GenesisAccount(f"{org}-ops", org, signers[org].public_key.hex(), INSTITUTION_ROLES)
        )
        institutions.append(
            {
                "id": org,
                "roles": list(INSTITUTION_ROLES),
                "settlement_account": signers[org].address.hex(),
            }
        )
    return Genesis(
        chain_id=CHAIN_ID,
        genesis_time_ms=0,
        organizations=tuple(organizations),
        accounts=tuple(accounts),
        validators=(GenesisValidator("validator", CLEARING, validator.public_key.hex(), 1),),
        contracts={
            TOKEN: bench_token_config(CURRENCY, CLEARING, []),
            PAYMENTS: {
                "institutions": institutions,
                **payments_contract_config([org for org in signers if org != CLEARING]),
            },
        },
    )


class BenchChain:
    """A fresh in-process chain; ``run`` executes and commits one block and times both."""

    def __init__(self, chain: Chain, validator: Signer, signers: dict[str, Signer]) -> None:
        self.chain = chain
        self.validator = validator
        self.signers = signers
        self.nonce = 0

    def transaction(
        self, sender: str, method_name: str, args: Any, height: int, *, sign: bool
    ) -> SignedTransaction:
        signer = self.signers[sender]
        self.nonce += 1
        body = TransactionBody(
            CHAIN_ID,
            signer.address,
            signer.public_key,
            self.nonce,
            height + VALID_FOR_BLOCKS,
            PAYMENTS,
            method_name,
            encode(args),
        )
        signature = signer.sign(transaction_signing_bytes(body)) if sign else bytes(64)
        return SignedTransaction(body, signature)

    def run(
        self, transactions: list[SignedTransaction], time_ms: int, *, verify: bool = False
    ) -> tuple[list[Receipt], float, float]:
        started = time.perf_counter()
        candidate = self.chain.execute(
            transactions, time_ms, self.validator.address, verify_signatures=verify
        )
        executed = time.perf_counter()
        certificate = solo_certificate(self.validator, candidate.block.header, candidate.block_hash)
        self.chain.commit(candidate, certificate)
        committed = time.perf_counter()
        receipts = list(candidate.result.receipts)
        rejected = [r for r in receipts if r.status != 0]
        if rejected:
            raise NodeFault(
                f"{len(rejected)} benchmark transactions were rejected, e.g. "
                f"{rejected[0].code}: {rejected[0].message}; the figures would be wrong"
            )
        return receipts, executed - started, committed - executed

    def open_cycle(self) -> int:
        height = self.chain.head.height + 1
        args = OpenCycleArgs(CURRENCY, None, CUTOFF_TIME_MS, 1_000)
        receipts, _, _ = self.run(
            [self.transaction(CLEARING, "open_cycle", args, height, sign=False)], 1
        )
        return decode(receipts[0].result, int, max_bytes=16)

    def close_cycle(self, cycle_id: int) -> dict[str, Any]:
        height = self.chain.head.height + 1
        close = self.transaction(CLEARING, "close_cycle", CycleArgs(cycle_id), height, sign=False)
        receipts, execute_s, commit_s = self.run([close], CUTOFF_TIME_MS + 1)
        return {
            "close_execute_ms": round(execute_s * 1000, 2),
            "close_commit_ms": round(commit_s * 1000, 2),
            "close_state_operations": receipts[0].steps_used,
        }


@contextmanager
def fresh_chain(
    signers: dict[str, Signer], validator: Signer, contracts: list[Contract]
) -> Iterator[BenchChain]:
    genesis = bench_genesis(signers, validator)
    with tempfile.TemporaryDirectory(prefix="jinqiao-bench-payments-") as directory:
        store = Store(Path(directory))
        try:
            chain = Chain(store, genesis, Runtime(genesis.suite, genesis.chain_id, contracts))
            yield BenchChain(chain, validator, signers)
        finally:
            store.close()


def record_through_contract(
    bench: BenchChain,
    cycle_id: int,
    payments: list[tuple[str, str, int, str]],
    block_size: int,
    *,
    sign: bool,
    advance: Callable[[int], None],
) -> dict[str, Any]:
    """Authorize then capture every payment in blocks of ``block_size``; times each phase."""
    base = bench.chain.head.height
    authorizations: list[SignedTransaction] = []
    captures: list[SignedTransaction] = []
    blocks_per_phase = -(-len(payments) // block_size)
    for number, (issuer, acquirer, amount, card_type) in enumerate(payments):
        payment_id = f"P{number}"
        args = authorization(payment_id, issuer, acquirer, amount, card_type)
        block = number // block_size
        authorizations.append(
            bench.transaction(issuer, "authorize", args, base + 1 + block, sign=sign)
        )
        capture = CaptureArgs(payment_id, amount, cycle_id)
        captures.append(
            bench.transaction(
                acquirer, "capture", capture, base + 1 + blocks_per_phase + block, sign=sign
            )
        )
    phases: dict[str, float] = {}
    for name, transactions in (("authorize", authorizations), ("capture", captures)):
        total = 0.0
        for start in range(0, len(transactions), block_size):
            batch = transactions[start : start + block_size]
            _, execute_s, commit_s = bench.run(batch, 1_000 + bench.chain.head.height)
            total += execute_s + commit_s
            advance(len(batch))
        phases[name] = total
    count = len(payments)
    seconds = phases["authorize"] + phases["capture"]
    return {
        "payments": count,
        "block_size": block_size,
        "authorize_seconds": round(phases["authorize"], 3),
        "capture_seconds": round(phases["capture"], 3),
        "authorizations_per_second": round(count / phases["authorize"], 1),
        "captures_per_second": round(count / phases["capture"], 1),
        "payments_per_second": round(count / seconds, 1),
        "microseconds_per_payment": round(seconds / count * 1e6, 1),
    }


def pair_sums(payments: Iterator[tuple[str, str, int, str]]) -> tuple[PairSums, ...]:
    """The summed amounts and fees per (issuer, acquirer) of ``payments``, each payment's fees
    computed with the contract's rule, as a capture computes them."""
    rules = china_2016_rules()
    rule_of = {card: find_rule(rules, card, MCC) for card in ("credit", "debit")}
    sums: dict[tuple[str, str], list[int]] = {}
    for issuer, acquirer, amount, card_type in payments:
        rule = rule_of[card_type]
        if rule is None:
            raise NodeFault(f"no fee rule for {card_type} {MCC}")
        fees = compute_fees(amount, rule)
        total = sums.setdefault((issuer, acquirer), [0, 0, 0, 0, 0])
        total[0] += amount
        total[1] += fees.issuer_fee_minor
        total[2] += fees.issuer_network_fee_minor
        total[3] += fees.acquirer_network_fee_minor
        total[4] += fees.acquirer_fee_minor
    return tuple(
        PairSums(issuer, acquirer, total[0], Fees(total[1], total[2], total[3], total[4]))
        for (issuer, acquirer), total in sorted(sums.items())
    )


def run_payments_bench(
    *,
    payments: int,
    block_size: int,
    institutions: int,
    close_sizes: list[int],
    record_limit: int,
    json_output: bool,
    output: Path | None,
    network_validators: int,
    network_payments: int,
    base_port: int,
    network_rate: int | None = None,
) -> None:
    rng = random.Random(1)
    suite = get_suite(DEFAULT_SUITE)
    names = institution_ids(institutions)
    signers = {name: suite.signer(rng.randbytes(32)) for name in [CLEARING, *names]}
    validator = suite.signer(rng.randbytes(32))
    with progress_bar(disable=json_output) as progress:
        task = progress.add_task("record payments (signed)", total=2 * payments)
        with fresh_chain(signers, validator, default_contracts()) as bench:
            cycle_id = bench.open_cycle()
            plan = list(random_payments(payments, names, rng))
            record = record_through_contract(
                bench,
                cycle_id,
                plan,
                block_size,
                sign=True,
                advance=lambda n: progress.advance(task, n),
            )
            record["close"] = bench.close_cycle(cycle_id)
        closes = [
            _close_run(size, record_limit, signers, validator, names, block_size, rng, progress)
            for size in close_sizes
        ]
        network = (
            run_network_phase(
                validators=network_validators,
                payments=network_payments,
                institutions=institutions,
                base_port=base_port,
                progress=progress,
                json_output=json_output,
                rate=network_rate,
            )
            if network_validators
            else None
        )
    result: dict[str, Any] = {
        "benchmark": "payments",
        "setup": {
            **setup_description(payments, block_size, institutions + 1),
            "institutions": institutions,
            "institution_roles": "each card issuer and acquirer; plus one clearing house",
            "fee_schedule": "china_2016 (debit/credit, MCC 5411)",
            "path": "Chain.execute (runtime, payments contract, sparse Merkle tree, roots), "
            "precommit signature, Chain.commit; signature checks excluded",
            "record_limit": record_limit,
        },
        "record": record,
        "close": closes,
        "network": network,
    }
    result["setup"].pop("transfers", None)
    result["setup"].pop("accounts", None)
    if output is not None:
        output.write_text(json.dumps(result, indent=2) + "\n")
    if json_output:
        emit_json(result)
        return
    _print(result)


def _close_run(
    size: int,
    record_limit: int,
    signers: dict[str, Signer],
    validator: Signer,
    names: list[str],
    block_size: int,
    rng: random.Random,
    progress: Progress,
) -> dict[str, Any]:
    through_contract = size <= record_limit
    contracts: list[Contract] = [
        AggregatingPayments() if contract.name == PAYMENTS else contract
        for contract in default_contracts()
    ]
    label = f"cycle of {size:,}: " + ("record" if through_contract else "sum fees")
    task = progress.add_task(label, total=2 * size if through_contract else size)
    with fresh_chain(signers, validator, contracts) as bench:
        cycle_id = bench.open_cycle()
        started = time.perf_counter()
        if through_contract:
            record_through_contract(
                bench,
                cycle_id,
                list(random_payments(size, names, rng)),
                block_size,
                sign=False,
                advance=lambda n: progress.advance(task, n),
            )
            built = "contract"
        else:
            sums = pair_sums(random_payments(size, names, rng))
            progress.advance(task, size)
            height = bench.chain.head.height + 1
            loads = [
                bench.transaction(
                    CLEARING,
                    "bench_load_sums",
                    LoadSumsArgs(cycle_id, sums[start : start + PAIRS_PER_LOAD]),
                    height,
                    sign=False,
                )
                for start in range(0, len(sums), PAIRS_PER_LOAD)
            ]
            bench.run(loads, 1_000 + height)
            built = "aggregated"
        setup_s = time.perf_counter() - started
        close = bench.close_cycle(cycle_id)
    return {
        "payments": size,
        "built": built,
        "setup_seconds": round(setup_s, 1),
        **close,
    }


def _print(result: dict[str, Any]) -> None:
    record = result["record"]
    table = Table(title="jinqiao bench payments — recording (one node, in-process)")
    for column in ("payments", "payments/s", "µs/payment", "authorize/s", "capture/s", "block"):
        table.add_column(column, justify="right")
    table.add_row(
        f"{record['payments']:,}",
        f"{record['payments_per_second']:,.1f}",
        str(record["microseconds_per_payment"]),
        f"{record['authorizations_per_second']:,.1f}",
        f"{record['captures_per_second']:,.1f}",
        str(record["block_size"]),
    )
    console.print(table)
    closes = Table(title="Closing and netting a cycle (close_cycle in its own block)")
    for column in (
        "payments",
        "how the cycle was built",
        "setup s",
        "execute ms",
        "commit ms",
        "state ops",
    ):
        closes.add_column(column, justify="left" if column.startswith("how") else "right")
    console.print(
        "contract: every payment authorized and captured through the contract; aggregated: "
        "each payment's fees computed with the contract's rule, amounts and fees summed per "
        "issuer/acquirer pair and recorded once per pair through the contract's record_event "
        "(closing reads the same records; only event counters and entries differ)"
    )
    rows = [
        {
            "payments": record["payments"],
            "built": "recording run",
            "setup_seconds": "-",
            **record["close"],
        }
    ]
    for row in rows + result["close"]:
        closes.add_row(
            f"{row['payments']:,}",
            row["built"],
            str(row["setup_seconds"]),
            str(row["close_execute_ms"]),
            str(row["close_commit_ms"]),
            str(row["close_state_operations"]),
        )
    console.print(closes)
    setup = result["setup"]
    console.print(
        f"setup: {setup['cpu']}, {setup['cores']} cores, Python {setup['python']}; "
        f"{setup['institutions']} institutions ({setup['institution_roles']}); "
        f"blocks of {setup['block_size']}; {setup['storage']}; signature checks excluded."
    )
    if result["network"] is not None:
        _print_network(result["network"])


def _print_network(network: dict[str, Any]) -> None:
    setup = network["setup"]
    table = Table(
        title=f"Recording on the network — {setup['validators']} validator processes, mutual "
        f"TLS; {setup['payments']:,} payments"
    )
    table.add_column("")
    for column in ("committed/s", "p50 ms", "p95 ms", "p99 ms", "refused"):
        table.add_column(column, justify="right")
    for phase in ("authorize", "capture"):
        figures = network[phase]
        table.add_row(
            phase,
            f"{figures['committed_per_second']:,.1f}",
            *(f"{figures['latency_ms'][p]:,.0f}" for p in ("p50", "p95", "p99")),
            str(figures["refused"]),
        )
    table.add_row("payments recorded", f"{network['payments_per_second']:,.1f}", "", "", "", "")
    console.print(table)
    close = network["close"]
    console.print(
        f"network: {network['blocks_per_second']} blocks/s, {network['rounds_per_height']} "
        f"rounds/height, {network['cpu_ms_per_payment']} ms CPU per payment (all nodes); "
        f"{network['receipts_ok']:,} receipts, all ok. {setup['institutions']} institutions "
        f"(each card issuer and acquirer) and a clearing house registered at genesis; batches of "
        f"{setup['batch']} to the nodes in turn, offered {setup['offered']}; captures posted "
        f"once every authorization was committed. close_cycle of the {close['payments']:,} "
        f"payments: committed {close['commit_latency_ms']} ms after it was posted "
        f"({close['state_operations']} state operations). Ed25519 verify on one core: "
        f"{network['signature_verifications_per_second_one_core']:,.0f}/s"
    )
