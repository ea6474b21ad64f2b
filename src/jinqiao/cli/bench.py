"""``jinqiao bench``: benchmarks (the work is in ``jinqiao.bench``)."""

from __future__ import annotations

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
from jinqiao.node.config import ApiRateLimit

bench_app = typer.Typer(help="Benchmarks.", no_args_is_help=True)
WAN_IMPAIRMENT = "delay 30ms loss 0.1%"
"""``--wan``: validators in different cities (issue 17 item 6)."""


@bench_app.command("execute")
@guarded
def bench_execute(
    transfers: Annotated[
        int, typer.Option(min=100, max=1_000_000, help="Transfers to apply.")
    ] = 20_000,
    block_size: Annotated[int, typer.Option(min=1, max=5_000)] = 2_000,
    accounts: Annotated[int, typer.Option(min=2, max=100_000)] = 1_000,
    json_output: JsonOption = False,
    output: OutputOption = None,
) -> None:
    """How many token transfers per second one node applies (execution, roots, storage)."""
    from jinqiao.bench.execute import run_execute_bench

    run_execute_bench(
        transfers=transfers,
        block_size=block_size,
        accounts=accounts,
        json_output=json_output,
        output=output,
    )


@bench_app.command("growth")
@guarded
def bench_growth(
    sizes: Annotated[
        str,
        typer.Option(
            help="Comma-separated store sizes in accounts (100..10,000,000, increasing, at most 6)."
        ),
    ] = "10000,100000,1000000",
    transfers: Annotated[
        int, typer.Option(min=1_000, max=200_000, help="Transfers applied at each size.")
    ] = 20_000,
    block_size: Annotated[int, typer.Option(min=1, max=5_000)] = 2_000,
    rounds: Annotated[
        int,
        typer.Option(
            min=1,
            max=100,
            help="The sizes take turns applying the load in this many rounds (the median "
            "round is reported).",
        ),
    ] = 5,
    directory: Annotated[
        Path | None,
        typer.Option(help="Where the stores are built (all open at once; default: the temp dir)."),
    ] = None,
    json_output: JsonOption = False,
    output: OutputOption = None,
    plot: Annotated[Path | None, typer.Option(help="Write a PNG of the figures here.")] = None,
) -> None:
    """The cost of a transfer (µs, bytes of storage) as the state grows: bulk-loaded stores of
    each size, then transfers between random accounts (ADR 0049)."""
    from jinqiao.bench.growth import parse_sizes, run_growth_bench

    run_growth_bench(
        sizes=parse_sizes(sizes),
        transfers=transfers,
        block_size=block_size,
        rounds=rounds,
        directory=directory,
        json_output=json_output,
        output=output,
        plot=plot,
    )


@bench_app.command("statesync")
@guarded
def bench_statesync(
    lengths: Annotated[
        str,
        typer.Option(
            help="Comma-separated chain lengths in transactions (1,000..10,000,000, increasing, "
            "at most 6)."
        ),
    ] = "10000,100000,1000000",
    accounts: Annotated[
        int, typer.Option(min=2, max=100_000, help="Accounts the transfers move money among.")
    ] = 10_000,
    block_size: Annotated[int, typer.Option(min=1, max=5_000)] = 1_000,
    replay_up_to: Annotated[
        int,
        typer.Option(
            min=0,
            help="Replay only the chains of at most this many transactions (replay is linear in "
            "the length; the longest chains may be measured by snapshot alone).",
        ),
    ] = 10_000_000,
    directory: Annotated[
        Path | None, typer.Option(help="Where the stores are built (default: the temp dir).")
    ] = None,
    json_output: JsonOption = False,
    output: OutputOption = None,
    plot: Annotated[Path | None, typer.Option(help="Write a PNG of the figures here.")] = None,
) -> None:
    """Time for a new node to be in sync: replaying every block vs restoring a snapshot, at
    several chain lengths (ADR 0054)."""
    from jinqiao.bench.statesync import parse_lengths, run_statesync_bench

    run_statesync_bench(
        lengths=parse_lengths(lengths),
        accounts=accounts,
        block_size=block_size,
        replay_up_to=replay_up_to,
        directory=directory,
        json_output=json_output,
        output=output,
        plot=plot,
    )


@bench_app.command("payments")
@guarded
def bench_payments(
    payments: Annotated[
        int, typer.Option(min=100, max=1_000_000, help="Payments to record (authorize+capture).")
    ] = 20_000,
    block_size: Annotated[int, typer.Option(min=1, max=5_000)] = 2_000,
    institutions: Annotated[
        int, typer.Option(min=2, max=49, help="Institutions, each issuer and acquirer.")
    ] = 10,
    close_sizes: Annotated[
        str, typer.Option(help="Comma-separated cycle sizes (payments) to close.")
    ] = "100000,1000000",
    record_limit: Annotated[
        int,
        typer.Option(
            min=0,
            help="Cycles up to this size are recorded through the contract; larger "
            "ones are built from per-pair sums (see the module docstring).",
        ),
    ] = 100_000,
    network_validators: Annotated[
        int, typer.Option(min=0, max=7, help="Validators of the network phase (0: skip it).")
    ] = 4,
    network_payments: Annotated[
        int, typer.Option(min=10, max=100_000, help="Payments recorded on the network.")
    ] = 20_000,
    base_port: Annotated[
        int, typer.Option(min=1024, max=65000, help="First API port of the network phase.")
    ] = 9800,
    network_rate: Annotated[
        int | None,
        typer.Option(
            "--rate",
            min=1,
            max=100_000,
            help="Offered tx/s in each phase of the network (default: as fast as accepted).",
        ),
    ] = None,
    json_output: JsonOption = False,
    output: OutputOption = None,
) -> None:
    """Payments recorded per second by one node and by a validator network on this machine, and
    the time to close and net big cycles."""
    from jinqiao.bench.payments import run_payments_bench

    try:
        sizes = [int(size) for size in close_sizes.split(",") if size.strip()]
    except ValueError:
        fail("--close-sizes is a comma-separated list of integers")
    if any(not 1 <= size <= 10_000_000 for size in sizes):
        fail("each close size is 1..10,000,000 payments")
    run_payments_bench(
        payments=payments,
        block_size=block_size,
        institutions=institutions,
        close_sizes=sizes,
        record_limit=record_limit,
        json_output=json_output,
        output=output,
        network_validators=network_validators,
        network_payments=network_payments,
        base_port=base_port,
        network_rate=network_rate,
    )


@bench_app.command("network")
@guarded
def bench_network(
    validators: Annotated[int, typer.Option(min=1, max=7, help="Validator processes.")] = 4,
    duration: Annotated[float, typer.Option(min=5, max=3600, help="Seconds of load.")] = 30,
    rate: Annotated[
        int | None,
        typer.Option(min=1, max=100_000, help="Offered tx/s (default: as fast as accepted)."),
    ] = None,
    json_output: JsonOption = False,
    output: OutputOption = None,
    plot: Annotated[
        Path | None, typer.Option(help="Write a PNG of throughput and latency here.")
    ] = None,
    base_port: Annotated[int, typer.Option(min=1024, max=65000)] = 9700,
    kill_one: Annotated[
        bool, typer.Option("--kill-one", help="SIGKILL one validator a third of the way in.")
    ] = False,
    suite: SuiteOption = DEFAULT_SUITE,
    auth: Annotated[
        str,
        typer.Option(
            help="API authentication: on (HTTPS, client certificates, access rules, audit), "
            "off (plain HTTP, to measure the cost) or compare (off, then on; both figures).",
        ),
    ] = "on",
    netem: Annotated[
        str | None,
        typer.Option(
            help="Also run the validators on network namespaces linked with this delay and "
            "loss, e.g. 'delay 30ms loss 0.1%' (needs root): loopback, netem, netem, loopback, "
            "both figures and their ratio (ADR 0050).",
        ),
    ] = None,
    wan: Annotated[
        bool, typer.Option("--wan", help="--netem 'delay 30ms loss 0.1%' (issue 17 item 6).")
    ] = False,
) -> None:
    """Committed transfers/s and commit latency of a validator network on this machine."""
    from jinqiao.bench.network import run_authentication_comparison, run_network_bench

    if auth not in ("on", "off", "compare"):
        fail("--auth is on, off or compare")
    comparison: dict[str, Any] = {
        "validators": validators,
        "duration_s": duration,
        "rate": rate,
        "json_output": json_output,
        "base_port": base_port,
        "crypto_suite": suite,
    }
    if wan or netem is not None:
        if kill_one or auth != "on" or (wan and netem is not None):
            fail("--netem (or --wan) takes neither --kill-one, --auth nor the other of the two")
        from jinqiao.bench.netns import parse_impairment
        from jinqiao.bench.wan import run_netem_comparison

        run_netem_comparison(
            parse_impairment(netem or WAN_IMPAIRMENT), comparison, output=output, plot=plot
        )
        return
    if auth == "compare":
        if kill_one or plot is not None:
            fail("--auth compare takes neither --kill-one nor --plot")
        run_authentication_comparison(**comparison, output=output)
        return
    run_network_bench(
        validators=validators,
        duration_s=duration,
        rate=rate,
        json_output=json_output,
        output=output,
        plot=plot,
        base_port=base_port,
        kill_one=kill_one,
        crypto_suite=suite,
        authentication=auth == "on",
    )


@bench_app.command("storage")
@guarded
def bench_storage(
    validators: Annotated[int, typer.Option(min=1, max=7, help="Validator processes.")] = 4,
    duration: Annotated[
        float, typer.Option(min=60, max=7200, help="Seconds of load per run.")
    ] = 600,
    rate: Annotated[int, typer.Option(min=1, max=100_000, help="Offered tx/s.")] = 1_000,
    retention: Annotated[
        int,
        typer.Option(min=2, max=1_000_000_000, help="retention_heights of the pruned run."),
    ] = 100,
    mode: Annotated[
        str, typer.Option(help="archive, pruned or both (archive, then pruned).")
    ] = "both",
    json_output: JsonOption = False,
    output: OutputOption = None,
    plot: Annotated[Path | None, typer.Option(help="Write a PNG of disk use over time.")] = None,
    base_port: Annotated[int, typer.Option(min=1024, max=65000)] = 9700,
) -> None:
    """Disk use over time of a validator network at a fixed offered rate: archive nodes
    (retention_heights 0) against pruning nodes (ADR 0053)."""
    from jinqiao.bench.storage import MODES, run_storage_bench

    if mode not in (*MODES, "both"):
        fail("--mode is archive, pruned or both")
    run_storage_bench(
        validators=validators,
        duration_s=duration,
        rate=rate,
        retention_heights=retention,
        modes=MODES if mode == "both" else (mode,),
        json_output=json_output,
        output=output,
        plot=plot,
        base_port=base_port,
    )


@bench_app.command("exhaustion")
@guarded
def bench_exhaustion(
    idle: Annotated[int, typer.Option(min=0, max=20_000, help="Idle connections held.")] = 5_000,
    slowloris: Annotated[
        int, typer.Option(min=0, max=20_000, help="Slowloris connections held.")
    ] = 1_000,
    addresses: Annotated[
        int, typer.Option(min=1, max=250, help="Loopback addresses the attackers spread over.")
    ] = 50,
    phase: Annotated[float, typer.Option(min=5, max=600, help="Seconds of each phase.")] = 30,
    json_output: JsonOption = False,
    output: OutputOption = None,
    plot: Annotated[Path | None, typer.Option(help="Write a PNG of the probes here.")] = None,
    base_port: Annotated[int, typer.Option(min=1024, max=65000)] = 9900,
) -> None:
    """/v1/status and /healthz probes at rest, while idle connections are held, during a
    slowloris (docs/performance.md "Connection exhaustion")."""
    from jinqiao.bench.exhaustion import run_exhaustion_bench

    run_exhaustion_bench(
        idle_connections=idle,
        slowloris_connections=slowloris,
        attacker_addresses=addresses,
        phase_s=phase,
        json_output=json_output,
        output=output,
        plot=plot,
        base_port=base_port,
    )


@bench_app.command("ratelimit")
@guarded
def bench_ratelimit(
    victim_rate: Annotated[
        float, typer.Option(min=1, max=1_000, help="The victim member's requests per second.")
    ] = 20,
    limit: Annotated[
        float, typer.Option(min=1, max=10_000, help="api_rate_limit.requests_per_second.")
    ] = 50,
    burst: Annotated[int, typer.Option(min=1, max=100_000, help="api_rate_limit.burst.")] = 100,
    tarpit_ms: Annotated[
        int, typer.Option(min=0, max=60_000, help="api_rate_limit.tarpit_ms (0: off).")
    ] = ApiRateLimit().tarpit_ms,
    flooders: Annotated[
        int, typer.Option(min=1, max=64, help="Processes flooding as the other member.")
    ] = 4,
    phase: Annotated[float, typer.Option(min=5, max=600, help="Seconds of each phase.")] = 20,
    json_output: JsonOption = False,
    output: OutputOption = None,
    plot: Annotated[Path | None, typer.Option(help="Write a PNG of the victim's latency.")] = None,
    base_port: Annotated[int, typer.Option(min=1024, max=65000)] = 9950,
) -> None:
    """One member's p50/p99 alone, then while another member floods the node over its rate limit
    (docs/performance.md "Rate limits")."""
    from jinqiao.bench.ratelimit import run_ratelimit_bench

    run_ratelimit_bench(
        victim_rate_per_s=victim_rate,
        limit_per_s=limit,
        burst=burst,
        tarpit_ms=tarpit_ms,
        flooders=flooders,
        phase_s=phase,
        json_output=json_output,
        output=output,
        plot=plot,
        base_port=base_port,
    )


@bench_app.command("audit")
@guarded
def bench_audit(
    records: Annotated[int, typer.Option(min=10, max=1_000_000, help="Records per run.")] = 5_000,
    threads: Annotated[
        str, typer.Option(help="Comma-separated thread counts, a run each.")
    ] = "1,8",
    directory: Annotated[
        Path | None, typer.Option(help="Directory on the disk to measure (default: temp).")
    ] = None,
    json_output: JsonOption = False,
    output: OutputOption = None,
) -> None:
    """Audit-trail records appended per second (each written and fsynced), the cost the API pays
    per authenticated request (docs/audit.md)."""
    import json

    from jinqiao.bench.audit import run_audit_bench

    try:
        counts = tuple(int(count) for count in threads.split(",") if count.strip())
    except ValueError:
        fail("--threads is a comma-separated list of integers")
    if not counts or any(not 1 <= count <= 64 for count in counts):
        fail("each thread count is 1..64")
    result = run_audit_bench(
        records=records, threads=counts, directory=directory, json_output=json_output
    )
    if output is not None:
        output.write_text(json.dumps(result, indent=2) + "\n")


@bench_app.command("supplychain")
@guarded
def bench_supplychain(
    validators: Annotated[int, typer.Option(min=1, max=7, help="Validator processes.")] = 4,
    duration: Annotated[
        float, typer.Option(min=5, max=3600, help="Seconds of load per phase.")
    ] = 30,
    transactions: Annotated[
        int,
        typer.Option(min=100, max=200_000, help="Transfers and events signed for each phase."),
    ] = 90_000,
    history_events: Annotated[
        int, typer.Option(min=1, max=10_000, help="Events of the item that is verified.")
    ] = 1_000,
    verify_samples: Annotated[
        int, typer.Option(min=5, max=10_000, help="GET /v1/verify requests timed.")
    ] = 200,
    json_output: JsonOption = False,
    output: OutputOption = None,
    plot: Annotated[Path | None, typer.Option(help="Write a PNG of the figures here.")] = None,
    base_port: Annotated[int, typer.Option(min=1024, max=65000)] = 9600,
    block_max_transactions: Annotated[
        int | None,
        typer.Option(
            min=1, max=5_000, help="The chain's block_max_transactions (default: genesis's)."
        ),
    ] = None,
    block_execution_budget_ms: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=600_000,
            help="The nodes' block_execution_budget_ms (0: cut by count and bytes only; "
            "default: the node's, a third of the propose timeout).",
        ),
    ] = None,
    mempool_backlog_blocks: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=1_000,
            help="The nodes' mempool_backlog_blocks (0: clients are not refused for the "
            "backlog; default: the node's).",
        ),
    ] = None,
) -> None:
    """EPCIS events committed/s next to token transfers/s on one validator network, and the
    time to verify an item with a long history at the API (docs/performance.md)."""
    from jinqiao.bench.supplychain import run_supplychain_bench

    run_supplychain_bench(
        validators=validators,
        duration_s=duration,
        transactions=transactions,
        history_events=history_events,
        verify_samples=verify_samples,
        json_output=json_output,
        output=output,
        plot=plot,
        base_port=base_port,
        block_max_transactions=block_max_transactions,
        block_execution_budget_ms=block_execution_budget_ms,
        mempool_backlog_blocks=mempool_backlog_blocks,
    )


@bench_app.command("credit")
@guarded
def bench_credit(
    validators: Annotated[
        int,
        typer.Option(
            min=3, max=7, help="Validator processes (the bank and the lender run one each)."
        ),
    ] = 4,
    subjects: Annotated[
        int, typer.Option(min=1, max=10_000, help="Subjects the lender scores.")
    ] = 1_000,
    records_per_subject: Annotated[
        int, typer.Option(min=1, max=100, help="Record commitments per subject.")
    ] = 5,
    json_output: JsonOption = False,
    output: OutputOption = None,
    plot: Annotated[
        Path | None, typer.Option(help="Write a PNG of scores committed over time here.")
    ] = None,
    base_port: Annotated[int, typer.Option(min=1024, max=65000)] = 9600,
) -> None:
    """Scores per second for a lender on a validator network (proven reads, features, score,
    result hash committed) and the time to train a model (docs/performance.md "Credit")."""
    import json

    from jinqiao.bench.credit import run_credit_bench
    from jinqiao.terminal import console, emit_json, progress_bar

    with progress_bar(disable=json_output) as progress:
        result = run_credit_bench(
            validators=validators,
            subjects=subjects,
            records_per_subject=records_per_subject,
            base_port=base_port,
            progress=progress,
            json_output=json_output,
            plot=plot,
        )
    if output is not None:
        output.write_text(json.dumps(result, indent=2) + "\n")
    if json_output:
        emit_json(result)
        return
    training = result["training"]
    console.print(
        f"{result['scores_per_second']} scores/s ({subjects} subjects, {records_per_subject}"
        f" records each, {validators} validators): reads logged in"
        f" {result['read_records_seconds']} s, proven reads and scoring"
        f" {result['proven_reads_and_scoring_per_second']}/s, scores committed in"
        f" {result['record_score_seconds']} s; node CPU {result['node_cpu_ms_per_score']} ms"
        f" per score"
    )
    console.print(
        f"training: German Credit ({training['german_credit_rows']} rows, {training['folds']}"
        f"-fold CV + holdout) {training['german_credit_seconds']} s; synthetic history"
        f" ({training['synthetic_history_rows']} rows) {training['synthetic_history_seconds']} s"
    )


@bench_app.command("index")
@guarded
def bench_index(
    transfers: Annotated[
        int, typer.Option(min=100, max=1_000_000, help="Transfers committed, then indexed.")
    ] = 20_000,
    block_size: Annotated[
        int, typer.Option(min=1, max=5_000, help="At most this many transactions a block.")
    ] = 100,
    transactions: Annotated[
        int,
        typer.Option(
            min=1_000,
            max=20_000_000,
            help="Transactions generated into the large index the queries run over.",
        ),
    ] = 1_000_000,
    accounts: Annotated[
        int, typer.Option(min=2, max=1_000_000, help="Accounts of the large index.")
    ] = 50_000,
    samples: Annotated[int, typer.Option(min=10, max=10_000, help="Runs of each query.")] = 200,
    postgres: Annotated[
        str | None,
        typer.Option(help="Also measure PostgreSQL: postgresql://user@host:port/dbname (emptied)."),
    ] = None,
    base_port: Annotated[
        int, typer.Option(min=1024, max=65000, help="API port of the benchmark's node.")
    ] = 9400,
    json_output: JsonOption = False,
    output: OutputOption = None,
    plot: Annotated[Path | None, typer.Option(help="Write a PNG of the figures here.")] = None,
) -> None:
    """Blocks indexed per second (SQLite, and PostgreSQL with --postgres) and the p95 of the
    index's main queries over a large generated index."""
    from jinqiao.bench.index import run_index_bench

    run_index_bench(
        transfers=transfers,
        block_size=block_size,
        transactions=transactions,
        accounts=accounts,
        samples=samples,
        postgres=postgres,
        base_port=base_port,
        json_output=json_output,
        output=output,
        plot=plot,
    )


@bench_app.command("contracts")
@guarded
def bench_contracts(
    calls: Annotated[
        int, typer.Option(min=100, max=1_000_000, help="Calls per variant and method.")
    ] = 20_000,
    block_size: Annotated[int, typer.Option(min=1, max=5_000)] = 2_000,
    rounds: Annotated[
        int, typer.Option(min=1, max=20, help="Interleaved rounds; best and median reported.")
    ] = 7,
    json_output: JsonOption = False,
    output: OutputOption = None,
) -> None:
    """A member contract's calls per second against the same logic built in, and the
    metering's cost (docs/contracts.md "Performance")."""
    from jinqiao.bench.contracts import run_contracts_bench

    run_contracts_bench(
        calls=calls, block_size=block_size, rounds=rounds, json_output=json_output, output=output
    )


@bench_app.command("crosschain")
@guarded
def bench_crosschain(
    messages: Annotated[
        int, typer.Option(min=1, max=100_000, help="Transfers A → B to relay.")
    ] = 200,
    validators_a: Annotated[int, typer.Option(min=1, max=4, help="Validators of A.")] = 1,
    validators_b: Annotated[int, typer.Option(min=1, max=4, help="Validators of B.")] = 1,
    suite_a: Annotated[str, typer.Option(help="Crypto suite of A.")] = "ed25519-sha256",
    suite_b: Annotated[str, typer.Option(help="Crypto suite of B.")] = "sm2-sm3",
    repeats: Annotated[
        int, typer.Option(min=1, max=100_000, help="Timed runs of each verification.")
    ] = 200,
    json_output: JsonOption = False,
    output: OutputOption = None,
    plot: Annotated[
        Path | None, typer.Option(help="Write a PNG of packets delivered over time here.")
    ] = None,
    base_port: Annotated[int, typer.Option(min=1024, max=65000)] = 9800,
) -> None:
    """Packets per second delivered with proofs between two local networks by the relayer, and
    the cost of one header and one message verification on chain (docs/performance.md)."""
    from jinqiao.bench.crosschain import run_crosschain_bench

    run_crosschain_bench(
        messages=messages,
        validators=(validators_a, validators_b),
        suites=(suite_a, suite_b),
        repeats=repeats,
        base_port=base_port,
        json_output=json_output,
        output=output,
        plot=plot,
    )
