"""``jinqiao payments``: institutions, the payment lifecycle, clearing cycles, funding,
settlement and reports (docs/payments.md)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import Progress, TaskID

from jinqiao.cli.common import (
    AmountArgument,
    CycleArgument,
    JsonOption,
    KeyOption,
    PaymentIdArgument,
    Target,
    fail,
    guarded,
    report,
    send,
    with_submit_target,
    with_target,
)
from jinqiao.terminal import console, cutoff_progress, emit_json, format_time_ms
from jinqiao.terminal.payments import print_break_report, print_statement

if TYPE_CHECKING:
    from jinqiao.apps.payments.model import Cycle
    from jinqiao.client import Client

payments_app = typer.Typer(
    help="Payments: institutions, the payment lifecycle, clearing cycles, funding and "
    "settlement (amounts in minor units, e.g. fen; docs/payments.md).",
    no_args_is_help=True,
)


@payments_app.command("register-institution")
@guarded
@with_submit_target
def payments_register_institution(
    target: Target,
    institution: Annotated[str, typer.Argument(help="Organization id.")],
    roles: Annotated[str, typer.Argument(help="Comma-separated payment roles.")],
    settlement_account: Annotated[str, typer.Argument(help="Account name or address.")],
    key: KeyOption,
    net_debit_cap_minor: Annotated[int | None, typer.Option("--cap", min=0)] = None,
    inactive: Annotated[bool, typer.Option("--inactive", help="Register as inactive.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Register an organization for payments, or change its registration (clearing house)."""
    role_list = tuple(role for role in roles.split(",") if role)
    send(
        target,
        json_output,
        lambda t, c: c.payments.register_institution(
            t.key(key),
            institution,
            role_list,
            t.address(settlement_account),
            net_debit_cap_minor=net_debit_cap_minor,
            active=not inactive,
        ),
    )


@payments_app.command("register-merchant")
@guarded
@with_submit_target
def payments_register_merchant(
    target: Target,
    merchant_id: Annotated[str, typer.Argument()],
    name: Annotated[str, typer.Argument()],
    mcc: Annotated[str, typer.Argument(help="ISO 18245 merchant category code, 4 digits.")],
    key: KeyOption,
    json_output: JsonOption = False,
) -> None:
    """Register a merchant of the signer's acquirer."""
    send(
        target,
        json_output,
        lambda t, c: c.payments.register_merchant(t.key(key), merchant_id, name, mcc),
    )


@payments_app.command("authorize")
@guarded
@with_submit_target
def payments_authorize(
    target: Target,
    payment_id: PaymentIdArgument,
    amount_minor: AmountArgument,
    key: KeyOption,
    issuer: Annotated[str, typer.Option(help="The issuer (the signer's organization).")],
    acquirer: Annotated[str, typer.Option(help="The merchant's acquirer.")],
    merchant: Annotated[str, typer.Option(help="The merchant id at the acquirer.")],
    payer_hash: Annotated[
        str, typer.Option(help="HMAC of the payer's identifier under the issuer's key: 64 hex.")
    ],
    authorization_code: Annotated[str, typer.Option(help="6 letters or digits.")],
    currency: str = "CNY",
    channel: Annotated[str, typer.Option(help="ecommerce, mobile, pos or qr.")] = "pos",
    card_type: Annotated[str, typer.Option(help="debit or credit.")] = "debit",
    json_output: JsonOption = False,
) -> None:
    """Record an authorization the issuer approved (the payer appears only as a hash)."""
    from jinqiao.apps.payments.model import AuthorizeArgs

    try:
        raw_hash = bytes.fromhex(payer_hash)
    except ValueError:
        fail("the payer hash must be hex")
    args = AuthorizeArgs(
        payment_id,
        issuer,
        acquirer,
        merchant,
        raw_hash,
        amount_minor,
        currency,
        channel,
        card_type,
        authorization_code,
        int(time.time() * 1000),
    )
    send(target, json_output, lambda t, c: c.payments.authorize(t.key(key), args))


@payments_app.command("capture")
@guarded
@with_submit_target
def payments_capture(
    target: Target,
    payment_id: PaymentIdArgument,
    amount_minor: AmountArgument,
    cycle_id: CycleArgument,
    key: KeyOption,
    json_output: JsonOption = False,
) -> None:
    """Capture an authorized payment into an open cycle (acquirer); fees are computed here."""
    send(
        target,
        json_output,
        lambda t, c: c.payments.capture(t.key(key), payment_id, amount_minor, cycle_id),
    )


@payments_app.command("refund")
@guarded
@with_submit_target
def payments_refund(
    target: Target,
    payment_id: PaymentIdArgument,
    refund_id: Annotated[str, typer.Argument(help="Refund id (idempotency key).")],
    amount_minor: AmountArgument,
    cycle_id: CycleArgument,
    key: KeyOption,
    json_output: JsonOption = False,
) -> None:
    """Refund part or all of a captured payment (acquirer)."""
    send(
        target,
        json_output,
        lambda t, c: c.payments.refund(t.key(key), payment_id, refund_id, amount_minor, cycle_id),
    )


@payments_app.command("chargeback")
@guarded
@with_submit_target
def payments_chargeback(
    target: Target,
    payment_id: PaymentIdArgument,
    amount_minor: AmountArgument,
    reason_code: Annotated[str, typer.Argument(help="The network's reason code, e.g. 4837.")],
    cycle_id: CycleArgument,
    key: KeyOption,
    json_output: JsonOption = False,
) -> None:
    """Dispute a captured payment (issuer)."""
    send(
        target,
        json_output,
        lambda t, c: c.payments.chargeback(
            t.key(key), payment_id, amount_minor, reason_code, cycle_id
        ),
    )


@payments_app.command("represent")
@guarded
@with_submit_target
def payments_represent(
    target: Target,
    payment_id: PaymentIdArgument,
    amount_minor: AmountArgument,
    cycle_id: CycleArgument,
    key: KeyOption,
    json_output: JsonOption = False,
) -> None:
    """Answer a chargeback with a second presentment (acquirer)."""
    send(
        target,
        json_output,
        lambda t, c: c.payments.represent(t.key(key), payment_id, amount_minor, cycle_id),
    )


@payments_app.command("reverse")
@guarded
@with_submit_target
def payments_reverse(
    target: Target,
    payment_id: PaymentIdArgument,
    key: KeyOption,
    json_output: JsonOption = False,
) -> None:
    """Reverse an authorization the merchant will not capture (acquirer)."""
    send(
        target,
        json_output,
        lambda t, c: c.payments.reverse(t.key(key), payment_id),
    )


@payments_app.command("open-cycle")
@guarded
@with_submit_target
def payments_open_cycle(
    target: Target,
    key: KeyOption,
    currency: str = "CNY",
    cutoff_blocks: Annotated[
        int | None, typer.Option(min=1, help="Cut-off this many blocks after the head.")
    ] = None,
    cutoff_time_ms: Annotated[
        int | None, typer.Option(min=1, help="Cut-off block time (ms since the epoch).")
    ] = None,
    funding_window_blocks: Annotated[int, typer.Option(min=1, max=1_000_000)] = 100,
    json_output: JsonOption = False,
) -> None:
    """Open a clearing cycle (clearing house); prints its id."""
    if cutoff_blocks is None and cutoff_time_ms is None:
        fail("give a cut-off: --cutoff-blocks, --cutoff-time-ms or both")
    with target.client() as client:
        cutoff_height = None
        if cutoff_blocks is not None:
            cutoff_height = int(client.status()["height"]) + cutoff_blocks
        result = client.payments.open_cycle(
            target.key(key),
            currency,
            cutoff_height=cutoff_height,
            cutoff_time_ms=cutoff_time_ms,
            funding_window_blocks=funding_window_blocks,
        )
    cycle_id = client.payments.opened_cycle_id(result) if result.ok else None
    if not json_output and cycle_id is not None:
        console.print(f"cycle [bold]{cycle_id}[/] open, cut-off at height {cutoff_height}")
    report(result, json_output, cycle_id=cycle_id, cutoff_height=cutoff_height)


CUTOFF_POLL_INTERVAL_S = 1.0
"""How often ``wait-cutoff`` reads the head (an idle network makes a block every 10 s)."""
MAX_CUTOFF_WAIT_S = 86_400.0


@payments_app.command("wait-cutoff")
@guarded
@with_target
def payments_wait_cutoff(
    target: Target,
    cycle_id: CycleArgument,
    timeout_s: Annotated[
        float,
        typer.Option(
            "--timeout", min=0.1, max=MAX_CUTOFF_WAIT_S, help="Give up after this many seconds."
        ),
    ] = 600.0,
    json_output: JsonOption = False,
) -> None:
    """Wait until the chain is past a cycle's cut-off (its height or block time, whichever
    comes first), showing progress and the remaining time; then `close-cycle` can close it.
    Exit 1 when --timeout runs out first."""
    deadline = time.monotonic() + timeout_s
    with target.client() as client:
        cycle = client.payments.cycle(cycle_id)
        if cycle is None:
            fail(f"not_found: no cycle {cycle_id}")
        head = _head(client)
        with cutoff_progress(disable=json_output) as progress:
            tasks = _cutoff_tasks(progress, cycle, head)
            # A cycle already closed is past its cut-off: the contract closes none before it.
            while cycle.status == "open" and not _past_cutoff(cycle, head):
                if time.monotonic() >= deadline:
                    fail(f"cycle {cycle_id}: cut-off not reached in {timeout_s:g} s")
                time.sleep(CUTOFF_POLL_INTERVAL_S)
                head = _head(client)
                _update_cutoff_tasks(progress, tasks, head)
    view = {
        "cycle_id": cycle_id,
        "status": cycle.status,
        "cutoff_height": cycle.cutoff_height,
        "cutoff_time_ms": cycle.cutoff_time_ms,
        "height": head[0],
        "time_ms": head[1],
        "time": format_time_ms(head[1]),
    }
    if json_output:
        emit_json(view)
    else:
        console.print(
            f"cycle {cycle_id} is past its cut-off at height {head[0]} ({view['time']}): "
            f"close it with `jinqiao payments close-cycle {cycle_id}`",
            highlight=False,
        )


def _head(client: Client) -> tuple[int, int]:
    """The head's height and block time (its header checked against its certificate)."""
    height = int(client.status()["height"])
    time_ms = client.genesis.genesis_time_ms if height == 0 else client.header(height).time_ms
    return height, time_ms


def _past_cutoff(cycle: Cycle, head: tuple[int, int]) -> bool:
    """As the contract decides it (``past_cutoff``), for the head's height and block time."""
    height, time_ms = head
    return (cycle.cutoff_height is not None and height >= cycle.cutoff_height) or (
        cycle.cutoff_time_ms is not None and time_ms >= cycle.cutoff_time_ms
    )


def _cutoff_tasks(
    progress: Progress, cycle: Cycle, head: tuple[int, int]
) -> dict[str, tuple[TaskID, int]]:
    """One task per cut-off the cycle has: ``height`` (blocks) and ``time`` (block time, ms),
    each with the value it started from."""
    tasks: dict[str, tuple[TaskID, int]] = {}
    if cycle.cutoff_height is not None:
        total = max(1, cycle.cutoff_height - head[0])
        task = progress.add_task("blocks to the cut-off", total=total, shown="")
        tasks["height"] = (task, head[0])
    if cycle.cutoff_time_ms is not None:
        total = max(1, cycle.cutoff_time_ms - head[1])
        task = progress.add_task("block time to the cut-off", total=total, shown="")
        tasks["time"] = (task, head[1])
    _update_cutoff_tasks(progress, tasks, head)
    return tasks


def _update_cutoff_tasks(
    progress: Progress,
    tasks: dict[str, tuple[TaskID, int]],
    head: tuple[int, int],
) -> None:
    for kind, (task, start) in tasks.items():
        now = head[0] if kind == "height" else head[1]
        target_value = start + int(progress.tasks[task].total or 0)
        shown = (
            f"height {now} of {target_value}"
            if kind == "height"
            else f"{format_time_ms(now)} of {format_time_ms(target_value)}"
        )
        progress.update(task, completed=now - start, shown=shown)


def _cycle_action(
    target: Target,
    method_name: str,
    cycle_id: int,
    key: str,
    json_output: bool,
) -> None:
    send(
        target,
        json_output,
        lambda t, c: getattr(c.payments, method_name)(t.key(key), cycle_id),
    )


@payments_app.command("close-cycle")
@guarded
@with_submit_target
def payments_close_cycle(
    target: Target,
    cycle_id: CycleArgument,
    key: KeyOption,
    json_output: JsonOption = False,
) -> None:
    """Close a cycle past its cut-off and net it (the clearing house that opened it)."""
    _cycle_action(target, "close_cycle", cycle_id, key, json_output)


@payments_app.command("fund")
@guarded
@with_submit_target
def payments_fund(
    target: Target,
    cycle_id: CycleArgument,
    key: KeyOption,
    json_output: JsonOption = False,
) -> None:
    """Pay the institution's net debit into the escrow (signed by its settlement account, which
    first approves the escrow for exactly that amount)."""
    _cycle_action(target, "fund", cycle_id, key, json_output)


@payments_app.command("settle")
@guarded
@with_submit_target
def payments_settle(
    target: Target,
    cycle_id: CycleArgument,
    key: KeyOption,
    json_output: JsonOption = False,
) -> None:
    """Settle a funded cycle: the escrow pays every net creditor (settlement agent)."""
    _cycle_action(target, "settle", cycle_id, key, json_output)


@payments_app.command("declare-default")
@guarded
@with_submit_target
def payments_declare_default(
    target: Target,
    cycle_id: CycleArgument,
    key: KeyOption,
    json_output: JsonOption = False,
) -> None:
    """Run the default procedure on a cycle past its funding deadline (settlement agent): draw
    the short debtors' collateral, or unwind those it does not cover."""
    _cycle_action(target, "declare_default", cycle_id, key, json_output)


@payments_app.command("post-collateral")
@guarded
@with_submit_target
def payments_post_collateral(
    target: Target,
    amount_minor: AmountArgument,
    key: KeyOption,
    currency: str = "CNY",
    json_output: JsonOption = False,
) -> None:
    """Post collateral for the institution (signed by its settlement account, which first
    approves the escrow for exactly that amount)."""
    send(
        target,
        json_output,
        lambda t, c: c.payments.post_collateral(t.key(key), currency, amount_minor),
    )


@payments_app.command("withdraw-collateral")
@guarded
@with_submit_target
def payments_withdraw_collateral(
    target: Target,
    amount_minor: AmountArgument,
    key: KeyOption,
    currency: str = "CNY",
    json_output: JsonOption = False,
) -> None:
    """Withdraw posted collateral to the settlement account (not while the institution has a
    position in a closed, unsettled cycle)."""
    send(
        target,
        json_output,
        lambda t, c: c.payments.withdraw_collateral(t.key(key), currency, amount_minor),
    )


ProofsOption = Annotated[
    bool,
    typer.Option(
        "--proofs",
        help="Also write the proof bundle next to the file (FILE.proofs.json), checked first; "
        "`jinqiao verify FILE --genesis GENESIS` checks the pair offline.",
    ),
]


ReportFormatOption = Annotated[
    str | None,
    typer.Option(
        "--format",
        help="json or csv (a statement also camt053, ISO 20022 XML). Default: a table in the "
        "terminal, or the format the --output file's extension names.",
    ),
]
ReportOutputOption = Annotated[
    Path | None,
    typer.Option(help="Write to this file, in the format its extension names (.json, .csv, .xml)."),
]


@payments_app.command("statement")
@guarded
@with_target
def payments_statement(
    target: Target,
    cycle_id: CycleArgument,
    institution: Annotated[str, typer.Argument(help="Institution id, e.g. bank-a.")],
    file_format: ReportFormatOption = None,
    output: ReportOutputOption = None,
    proofs: ProofsOption = False,
) -> None:
    """An institution's statement for a cycle: every payment, fee and its net position."""
    file_format = _report_format(file_format, output, STATEMENT_FORMATS)
    if proofs:
        chosen = file_format or "json"
        extension = {"json": "json", "csv": "csv", "camt053": "camt053.xml"}[chosen]
        path = output or Path(f"statement-{institution}-cycle-{cycle_id}.{extension}")
        _save_report(target, path, cycle_id, "statement", institution, chosen)
        return
    with target.client() as client:
        data = client.raw_get(
            f"/v1/payments/cycles/{cycle_id}/statements/{institution}",
            params={"format": file_format or "json"},
        )
    if file_format is None:
        print_statement(json.loads(data))
        return
    _write_or_print(data, output)


@payments_app.command("reconcile")
@guarded
@with_target
def payments_reconcile(
    target: Target,
    cycle_id: CycleArgument,
    institution: Annotated[str, typer.Argument(help="Institution id, e.g. bank-a.")],
    records: Annotated[Path, typer.Argument(help="Your own records for the cycle (CSV).")],
    file_format: ReportFormatOption = None,
    output: ReportOutputOption = None,
) -> None:
    """Compare your records with the ledger's statement; exit 3 when there are breaks."""
    file_format = _report_format(file_format, output, RECONCILIATION_FORMATS)
    with target.client() as client:
        data = client.raw_post(
            f"/v1/payments/cycles/{cycle_id}/reconciliation/{institution}",
            content=records.read_bytes(),
            headers={"Content-Type": "text/csv"},
            params={"format": file_format or "json"},
        )
    if file_format is None:
        print_break_report(json.loads(data))
    else:
        _write_or_print(data, output)
    if file_format in (None, "json") and json.loads(data)["breaks"]:
        raise typer.Exit(3)


STATEMENT_FORMATS = {".json": "json", ".csv": "csv", ".xml": "camt053"}
RECONCILIATION_FORMATS = {".json": "json", ".csv": "csv"}


def _report_format(
    file_format: str | None, output: Path | None, by_extension: dict[str, str]
) -> str | None:
    """The format asked for, or the one ``output``'s extension names; ``None`` for a table."""
    formats = sorted(set(by_extension.values()))
    if file_format is not None:
        if file_format not in formats:
            fail(f"--format must be {', '.join(formats[:-1])} or {formats[-1]}")
        return file_format
    if output is None:
        return None
    chosen = by_extension.get(output.suffix.lower())
    if chosen is None:
        fail(
            f"{output}: say --format, or give the file one of the extensions "
            f"{', '.join(sorted(by_extension))}"
        )
    return chosen


@payments_app.command("report")
@guarded
@with_target
def paymentsreport(
    target: Target,
    cycle_id: CycleArgument,
    output: Annotated[Path, typer.Option(help="PNG file to write.")] = Path("cycle.png"),
) -> None:
    """Draw the cycle's net positions and flows (PNG)."""
    with target.client() as client:
        data = client.raw_get(f"/v1/payments/cycles/{cycle_id}/chart.png")
    output.write_bytes(data)
    console.print(f"wrote {output}")


@payments_app.command("merchant-payouts")
@guarded
@with_target
def payments_merchant_payouts(
    target: Target,
    cycle_id: CycleArgument,
    institution: Annotated[str, typer.Argument(help="The acquirer, e.g. ecfin.")],
    output: Annotated[
        Path | None,
        typer.Option(help="XML file to write (default: merchant-payouts-<cycle>-<acquirer>.xml)."),
    ] = None,
    proofs: ProofsOption = False,
) -> None:
    """Write an acquirer's payouts to its merchants for a settled cycle as ISO 20022 pacs.008:
    one credit transfer per merchant owed money (captured + represented - refunded - charged
    back, nothing deducted)."""
    if proofs:
        path = output or Path(f"merchant-payouts-{cycle_id}-{institution}.xml")
        _save_report(target, path, cycle_id, "merchant-payouts", institution, "pacs008")
        return
    with target.client() as client:
        data = client.payments.merchant_payouts_pacs008(cycle_id, institution)
    path = output or Path(f"merchant-payouts-{cycle_id}-{institution}.xml")
    _write_or_print(data, path)


@payments_app.command("settlement")
@guarded
@with_target
def payments_settlement(
    target: Target,
    cycle_id: CycleArgument,
    output: Annotated[
        Path | None,
        typer.Option(help="XML file to write (default: settlement-cycle-<cycle>.pacs009.xml)."),
    ] = None,
    proofs: ProofsOption = False,
) -> None:
    """Write a settled cycle's net settlement as ISO 20022 pacs.009 (FI-to-FI credit
    transfers from the settlement escrow to each net creditor)."""
    if proofs:
        path = output or Path(f"settlement-cycle-{cycle_id}.pacs009.xml")
        _save_report(target, path, cycle_id, "settlement", None, "pacs009")
        return
    with target.client() as client:
        data = client.payments.settlement_pacs009(cycle_id)
    _write_or_print(data, output or Path(f"settlement-cycle-{cycle_id}.pacs009.xml"))


def _save_report(
    target: Target,
    path: Path,
    cycle_id: int,
    report: str,
    institution: str | None,
    file_format: str,
) -> None:
    with target.client() as client:
        verified = client.payments.save_report(
            path, cycle_id, report=report, institution=institution, file_format=file_format
        )
    console.print(f"wrote {path} and {path.name}.proofs.json: {verified.summary}", highlight=False)


def _write_or_print(data: bytes, output: Path | None) -> None:
    if output is not None:
        output.write_bytes(data)
        console.print(f"wrote {output} ({len(data):,} bytes)")
    else:
        sys.stdout.write(data.decode())
        if not data.endswith(b"\n"):
            sys.stdout.write("\n")


@payments_app.command("show-cycle")
@guarded
@with_target
def payments_show_cycle(
    target: Target,
    cycle_id: CycleArgument,
    json_output: JsonOption = False,
) -> None:
    """A cycle, its positions and figures (gross, net, netting efficiency) and its timing
    (settlement time from the closing to the settling block), every value proven."""
    from jinqiao.api.render import to_json
    from jinqiao.apps.payments.figures import cycle_figures
    from jinqiao.terminal.payments import print_cycle

    with target.client() as client:
        cycle = client.payments.cycle(cycle_id)
        if cycle is None:
            fail(f"not_found: no cycle {cycle_id}")
        positions = client.payments.proven_positions(cycle_id)
        timing = client.payments.timing(cycle_id, cycle=cycle)
        asset = client.token.asset(cycle.currency)
    scale = asset.scale if asset is not None else 0
    figures = cycle_figures(cycle_id, positions)
    if json_output:
        emit_json(
            {
                "cycle": to_json(cycle),
                "positions": to_json(positions),
                "figures": to_json(figures),
                "timing": to_json(timing),
                "verified": client.verify,
            }
        )
        return
    print_cycle(cycle, positions, figures, scale, timing)
