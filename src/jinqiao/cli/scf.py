"""``jinqiao scf``: supply chain — capture EPCIS events, verify a scanned item, read items and
their histories, recall lots, and confirm, split, transfer, finance and repay receivables
(docs/supplychain.md). Reads are proven; every refusal is one line."""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table

from jinqiao.apps.supplychain.authenticity import ScanError
from jinqiao.apps.supplychain.identifiers import IdentifierError
from jinqiao.apps.supplychain.model import BACKING_KINDS, INVOICE, Backing
from jinqiao.cli.common import (
    JsonOption,
    KeyOption,
    OutputOption,
    Target,
    fail,
    guarded,
    report,
    send,
    with_target,
)
from jinqiao.client import Client, TransactionResult
from jinqiao.epcis import EpcisError, SchemaValidator
from jinqiao.epcis.build import ObjectEventSpec, xml_document
from jinqiao.fileio import save_atomically
from jinqiao.terminal import console, emit_json, format_time_ms
from jinqiao.verify import VerificationError

F = TypeVar("F", bound=Callable[..., Any])

scf_app = typer.Typer(
    help="Supply chain: EPCIS events, item verification, recalls and receivables finance "
    "(amounts in minor units, e.g. fen; docs/supplychain.md).",
    no_args_is_help=True,
)

DEFAULT_SCHEMA = Path(".cache/epcis/EPCIS-JSON-Schema.json")
ItemArgument = Annotated[str, typer.Argument(help="GS1 key: EPC URN, Digital Link or canonical.")]
ReceivableArgument = Annotated[int, typer.Argument(min=1, help="Receivable (part) id.")]
RootArgument = Annotated[int, typer.Argument(min=1, help="Root receivable id.")]
ReadPointOption = Annotated[
    str, typer.Option("--read-point", help="Where: a GLN in any form (e.g. urn:epc:id:sgln:…).")
]


def scf_guarded(function: F) -> F:
    """``guarded``, plus the supply chain's own refusals (identifiers, EPCIS documents, scans,
    proofs) as one line each."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except (IdentifierError, EpcisError) as error:
            problems = "; ".join(getattr(error, "problems", ())[:3])
            fail(f"{error.code}: {error.message}" + (f" ({problems})" if problems else ""))
        except ScanError as error:
            fail(f"{error.code}: {error}")
        except VerificationError as error:
            fail(f"verification_failed: {error}")

    return guarded(wrapper)  # type: ignore[return-value]


def _emit(value: Any, json_output: bool, output: Path | None) -> bool:
    """Write ``value`` as JSON to ``output`` and, with ``--json``, to stdout; True if printed."""
    if output is not None:
        output.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n")
    if json_output:
        emit_json(value)
    return json_output


def _report_all(results: list[TransactionResult], json_output: bool) -> None:
    """Each event's receipt (capture stops at the first rejected one: exit code 2)."""
    for result in results:
        report(result, json_output)


# -- events ---------------------------------------------------------------------------------


@scf_app.command("capture")
@scf_guarded
@with_target
def scf_capture(
    target: Target,
    document: Annotated[Path, typer.Argument(help="EPCIS 2.0 document, JSON-LD or XML.")],
    key: KeyOption,
    receiver: Annotated[
        list[str] | None,
        typer.Option(help="DESTINATION=ORGANIZATION for shipments (repeatable)."),
    ] = None,
    lot: Annotated[str, typer.Option(help="Lot of commissioned items.")] = "",
    schema: Annotated[Path, typer.Option(help="The EPCIS 2.0 JSON Schema.")] = DEFAULT_SCHEMA,
    json_output: JsonOption = False,
) -> None:
    """Record every event of an EPCIS document: one signed transaction each, in order, stopping
    at the first one the contract rejects."""
    receivers = {}
    for pair in receiver or []:
        destination, _, organization = pair.rpartition("=")
        if not destination or not organization:
            fail(f"--receiver {pair!r}: write DESTINATION=ORGANIZATION")
        receivers[destination] = organization
    data = document.read_bytes()
    validator = SchemaValidator(schema) if schema.exists() else None
    with target.client() as client:
        results = client.supplychain.capture(
            target.key(key), data, validator=validator, receivers=receivers, lot=lot
        )
    _report_all(results, json_output)


def _event(
    target: Target,
    key: str,
    spec: ObjectEventSpec,
    json_output: bool,
    *,
    receiver: str = "",
    lot: str = "",
) -> None:
    data = xml_document([spec], created_ms=spec.event_time_ms)
    receivers = {spec.destination: receiver} if receiver else {}
    with target.client() as client:
        results = client.supplychain.capture(target.key(key), data, receivers=receivers, lot=lot)
    _report_all(results, json_output)


def _now_ms() -> int:
    return int(time.time() * 1000)


@scf_app.command("commission")
@scf_guarded
@with_target
def scf_commission(
    target: Target,
    epcs: Annotated[list[str], typer.Argument(help="Items to commission (1..32).")],
    key: KeyOption,
    lot: Annotated[str, typer.Option(help="Their lot (batch).")] = "",
    read_point: ReadPointOption = "",
    json_output: JsonOption = False,
) -> None:
    """Commission serialized items of the signer's brand (an EPCIS ObjectEvent ADD)."""
    spec = ObjectEventSpec("commissioning", epcs, _now_ms(), "ADD", read_point)
    _event(target, key, spec, json_output, lot=lot)


@scf_app.command("ship")
@scf_guarded
@with_target
def scf_ship(
    target: Target,
    epcs: Annotated[list[str], typer.Argument(help="Items or containers to ship.")],
    key: KeyOption,
    to: Annotated[str, typer.Option("--to", help="The receiving organization's id.")],
    read_point: ReadPointOption = "",
    json_output: JsonOption = False,
) -> None:
    """Ship items the signer's organization holds to another organization."""
    destination = f"urn:jinqiao:organization:{to}"
    spec = ObjectEventSpec(
        "shipping", epcs, _now_ms(), read_point=read_point, destination=destination
    )
    _event(target, key, spec, json_output, receiver=to)


def _sighting_command(name: str, biz_step: str, summary: str) -> None:
    """``scf observe``, ``scf receive``, ``scf sell``: an ObjectEvent OBSERVE of some items."""

    @scf_app.command(name, help=summary)
    @scf_guarded
    @with_target
    def command(
        target: Target,
        epcs: Annotated[list[str], typer.Argument(help="The items (1..32).")],
        key: KeyOption,
        read_point: ReadPointOption = "",
        json_output: JsonOption = False,
    ) -> None:
        spec = ObjectEventSpec(biz_step, epcs, _now_ms(), read_point=read_point)
        _event(target, key, spec, json_output)


_sighting_command("observe", "observing", "Record a sighting (a scan) of items at a read point.")
_sighting_command("receive", "receiving", "Receive items shipped to the signer's organization.")
_sighting_command("sell", "retail_selling", "Sell items to consumers (they never move again).")


@scf_app.command("pack")
@scf_guarded
@with_target
def scf_pack(
    target: Target,
    parent: Annotated[str, typer.Argument(help="The container (e.g. an SSCC).")],
    children: Annotated[list[str], typer.Argument(help="What goes in it.")],
    key: KeyOption,
    read_point: ReadPointOption = "",
    json_output: JsonOption = False,
) -> None:
    """Pack items into a container (an EPCIS AggregationEvent ADD): they move with it."""
    spec = ObjectEventSpec("packing", children, _now_ms(), "ADD", read_point, parent=parent)
    _event(target, key, spec, json_output)


@scf_app.command("recall")
@scf_guarded
@with_target
def scf_recall(
    target: Target,
    gtin: Annotated[str, typer.Argument(help="The GTIN.")],
    lot: Annotated[str, typer.Argument(help="The lot.")],
    key: KeyOption,
    json_output: JsonOption = False,
) -> None:
    """Recall a lot (the brand owner or a regulator): its items cannot move."""
    send(target, json_output, lambda t, c: c.supplychain.recall(t.key(key), gtin, lot))


# -- reads ----------------------------------------------------------------------------------


@scf_app.command("verify")
@scf_guarded
@with_target
def scf_verify(
    target: Target,
    scan: Annotated[str, typer.Argument(help="The label's text (from its QR code) or a key.")],
    json_output: JsonOption = False,
    output: OutputOption = None,
) -> None:
    """Is this item genuine? Where has it been, who holds it, is it recalled — from proven
    state, the verdict recomputed here. Exit code 0 genuine, 3 suspicious, 4 unknown."""
    with target.client() as client:
        checked = client.supplychain.verify(scan)
    custody = checked.custody
    view = {
        "id": checked.id,
        "verdict": checked.verdict,
        "reasons": list(checked.reasons),
        "signature": checked.verification.signature,
        "height": checked.height,
        "verified": checked.verified,
        "custodian": None if custody is None else custody.custodian,
        "in_transit_to": None if custody is None else custody.in_transit_to,
        "recalled": None if custody is None else custody.recalled,
        "event_count": checked.event_count,
        "trace": [
            {
                "kind": e.kind,
                "organization": e.organization,
                "event_time_ms": e.event_time_ms,
                "read_point": e.read_point,
                "event_hash": e.event_hash.hex(),
            }
            for e in checked.trace
        ],
    }
    if not _emit(view, json_output, output):
        colour = {"genuine": "green", "suspicious": "red"}.get(checked.verdict, "yellow")
        reasons = ", ".join(checked.reasons) or "no reason to doubt it"
        console.print(f"[bold {colour}]{checked.verdict}[/] {checked.id}: {reasons}")
        if custody is not None:
            where = f" (in transit to {custody.in_transit_to})" if custody.in_transit_to else ""
            console.print(
                f"held by {custody.custodian}{where}; {checked.event_count} events, the latest "
                f"{len(checked.trace)} checked; proven at block {checked.height}"
                f"{' (proofs verified)' if checked.verified else ''}"
            )
            for event in checked.trace[-10:]:
                console.print(
                    f"  {event.kind:<15} {event.organization:<12} {event.read_point or '-'}"
                )
    code = {"genuine": 0, "suspicious": 3}.get(checked.verdict, 4)
    if code:
        raise typer.Exit(code)


@scf_app.command("label")
@scf_guarded
@with_target
def scf_label(
    target: Target,
    item: ItemArgument,
    key: KeyOption,
    json_output: JsonOption = False,
    qr: Annotated[
        Path | None,
        typer.Option("--qr", help="Also write the label's QR code: FILE.png or FILE.svg."),
    ] = None,
) -> None:
    """The text of an item's label (for its QR code): its Digital Link URI signed by the brand
    owner's account (the signer); ``--qr`` draws the code."""
    from jinqiao.reports.supplychain import LabelError, label_qr

    fmt = None if qr is None else qr.suffix.lower().lstrip(".")
    if qr is not None and fmt not in ("png", "svg"):
        fail(f"invalid_format: --qr {qr} must end in .png or .svg")
    with target.client() as client:
        text = client.supplychain.label(target.key(key), item)
    if qr is not None and fmt is not None:
        try:
            save_atomically(qr, label_qr(text, fmt), mode=0o644)
        except LabelError as error:
            fail(f"{error.code}: {error}")
    if not _emit({"label": text, "qr": None if qr is None else str(qr)}, json_output, None):
        typer.echo(text)
        if qr is not None:
            console.print(f"QR code written to {qr}")


@scf_app.command("trace")
@scf_guarded
@with_target
def scf_trace(
    target: Target,
    item: ItemArgument,
    png: Annotated[
        Path | None, typer.Option("--png", help="Write the journey as a PNG graph.")
    ] = None,
    json_output: JsonOption = False,
    output: OutputOption = None,
) -> None:
    """An item's journey with its pallet's (each event proven at one height): a table, JSON,
    and with ``--png`` a graph of who held it, where and when."""
    from jinqiao.reports.supplychain import trace_png_bytes, trace_view

    with target.client() as client:
        trace = client.supplychain.trace(item)
    if trace is None:
        fail(f"not_commissioned: {item} was never commissioned (proven absent)")
    steps = [(step.event, step.via) for step in trace.steps]
    if png is not None:
        save_atomically(png, trace_png_bytes(trace.item, trace.height, steps), mode=0o644)
    view = trace_view(trace.item, trace.height, steps)
    if _emit(view, json_output, output):
        return
    console.print(f"{trace.item}: {len(steps)} events, proven at height {trace.height}")
    for event in view["events"]:
        via = f" (on {event['via']})" if event["via"] else ""
        to = f" → {event['receiver']}" if event["receiver"] else ""
        console.print(
            f"  {event['event_time']}  {event['kind']:<15} {event['organization']}{to}"
            f"  {event['read_point'] or '-'}{via}"
        )
    if png is not None:
        console.print(f"graph written to {png}")


@scf_app.command("item")
@scf_guarded
@with_target
def scf_item(
    target: Target,
    item: ItemArgument,
    json_output: JsonOption = False,
    output: OutputOption = None,
) -> None:
    """An item and who holds it (proven)."""
    with target.client() as client:
        custody = client.supplychain.item(item)
    if custody is None:
        fail(f"not_commissioned: {item} was never commissioned (proven absent)")
    view = {
        "id": custody.item.id,
        "status": custody.item.status,
        "brand_owner": custody.item.brand_owner,
        "lot": custody.item.lot,
        "top": custody.top,
        "custodian": custody.custodian,
        "in_transit_to": custody.in_transit_to,
        "recalled": custody.recalled,
        "event_count": custody.item.event_count,
        "height": custody.height,
    }
    if not _emit(view, json_output, output):
        console.print("  ".join(f"{name} [bold]{value}[/]" for name, value in view.items()))


@scf_app.command("history")
@scf_guarded
@with_target
def scf_history(
    target: Target,
    item: ItemArgument,
    start: Annotated[int, typer.Option(min=0)] = 0,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 100,
    json_output: JsonOption = False,
    output: OutputOption = None,
) -> None:
    """An item's events, oldest first (each proven)."""
    with target.client() as client:
        events = client.supplychain.history(item, start=start, limit=limit)
    view = [
        {
            "kind": e.kind,
            "organization": e.organization,
            "event_time_ms": e.event_time_ms,
            "read_point": e.read_point,
            "receiver": e.receiver,
            "event_hash": e.event_hash.hex(),
        }
        for e in events
    ]
    if not _emit(view, json_output, output):
        for event in view:
            console.print("  ".join(str(value) for value in event.values()))


def _show_record(record: Any, what: str, json_output: bool, output: Path | None) -> None:
    from jinqiao.api.render import to_json

    if record is None:
        fail(f"not_found: no {what} (proven absent)")
    view = to_json(record)
    if not _emit(view, json_output, output):
        console.print("  ".join(f"{name} [bold]{value}[/]" for name, value in view.items()))


@scf_app.command("receivable")
@scf_guarded
@with_target
def scf_receivable(
    target: Target,
    receivable_id: ReceivableArgument,
    json_output: JsonOption = False,
    output: OutputOption = None,
) -> None:
    """A receivable part (proven)."""
    with target.client() as client:
        record = client.supplychain.receivable(receivable_id)
    _show_record(record, f"receivable {receivable_id}", json_output, output)


@scf_app.command("root")
@scf_guarded
@with_target
def scf_root(
    target: Target,
    root_id: RootArgument,
    json_output: JsonOption = False,
    output: OutputOption = None,
) -> None:
    """A root receivable: backing, live parts, repaid, past due (proven)."""
    with target.client() as client:
        record = client.supplychain.root(root_id)
    _show_record(record, f"root receivable {root_id}", json_output, output)


def _document_hash(document: str) -> bytes:
    """A trade document's SHA-256: of the file at ``document``, or 64 hex digits given."""
    path = Path(document)
    if path.is_file():
        return hashlib.sha256(path.read_bytes()).digest()
    try:
        digest = bytes.fromhex(document)
    except ValueError:
        digest = b""
    if len(digest) != 32:
        fail(f"{document!r} is neither a file nor a SHA-256 (64 hex digits)")
    return digest


@scf_app.command("document")
@scf_guarded
@with_target
def scf_document(
    target: Target,
    document: Annotated[str, typer.Argument(help="The document's file, or its SHA-256 in hex.")],
    json_output: JsonOption = False,
    output: OutputOption = None,
) -> None:
    """Which receivable a trade document backs — or the proof that it backs none yet."""
    digest = _document_hash(document)
    with target.client() as client:
        use = client.supplychain.document(digest)
    view = {"document_hash": digest.hex(), "root_id": None if use is None else use.root_id}
    if not _emit(view, json_output, output):
        console.print(
            f"document {digest.hex()}: "
            + ("backs no receivable (proven)" if use is None else f"backs root {use.root_id}")
        )


@scf_app.command("put-document")
@scf_guarded
@with_target
def scf_put_document(
    target: Target,
    file: Annotated[Path, typer.Argument(help="The trade document (invoice, order, EPCIS XML).")],
    event_hash: Annotated[
        str | None,
        typer.Option(help="For an EPCIS XML document: the hash of the event it backs (64 hex)."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Keep a trade document's body on the node, for the parties of the receivable it backs
    (docs/access.md "Private data"); the chain must hold its hash already."""
    given = None if event_hash is None else _document_hash(event_hash)
    with target.client() as client:
        digest = client.supplychain.put_private_document(file.read_bytes(), given)
    if not _emit({"document_hash": digest.hex()}, json_output, None):
        console.print(f"document {digest.hex()} kept on the node")


@scf_app.command("get-document")
@scf_guarded
@with_target
def scf_get_document(
    target: Target,
    document_hash: Annotated[str, typer.Argument(help="The document's hash (64 hex).")],
    output: Annotated[Path, typer.Option(help="Where to write the body.")],
) -> None:
    """A trade document's body from the node (pulled from the other parties' nodes when it lacks
    it), checked against its hash, written to ``--output``."""
    digest = _document_hash(document_hash)
    with target.client() as client:
        body = client.supplychain.private_document(digest)
    output.write_bytes(body)
    console.print(f"document {digest.hex()}: {len(body)} bytes written to {output}")


# -- receivables ----------------------------------------------------------------------------


def _backing(entries: list[str]) -> list[Backing]:
    """``KIND:FILE_OR_HASH[:AMOUNT]`` entries (the amount for an invoice)."""
    backing = []
    for entry in entries:
        kind, _, rest = entry.partition(":")
        document, _, amount = rest.rpartition(":") if kind == INVOICE else (rest, "", "0")
        if kind not in BACKING_KINDS or not document or not amount.isdigit():
            fail(
                f"--backing {entry!r}: write invoice:FILE_OR_HASH:AMOUNT or "
                f"KIND:FILE_OR_HASH (KIND one of {', '.join(BACKING_KINDS)})"
            )
        backing.append(Backing(kind, _document_hash(document), int(amount)))
    return backing


@scf_app.command("confirm")
@scf_guarded
@with_target
def scf_confirm(
    target: Target,
    holder: Annotated[str, typer.Argument(help="The supplier's organization id.")],
    holder_account: Annotated[str, typer.Argument(help="Its account: name or address.")],
    face_value_minor: Annotated[int, typer.Argument(min=1, help="Face value in minor units.")],
    due_time_ms: Annotated[int, typer.Argument(min=0, help="Due time, ms since 1970 (UTC).")],
    key: KeyOption,
    backing: Annotated[
        list[str], typer.Option(help="invoice:FILE_OR_HASH:AMOUNT or KIND:FILE_OR_HASH.")
    ],
    asset: str = "CNY",
    json_output: JsonOption = False,
) -> None:
    """Confirm a payable as a receivable (core enterprise), backed by trade documents."""
    documents = _backing(backing)
    send(
        target,
        json_output,
        lambda t, c: c.supplychain.confirm(
            t.key(key),
            asset,
            holder,
            t.address(holder_account),
            face_value_minor,
            due_time_ms,
            documents,
        ),
    )


@scf_app.command("split")
@scf_guarded
@with_target
def scf_split(
    target: Target,
    receivable_id: ReceivableArgument,
    values_minor: Annotated[str, typer.Argument(help="Comma-separated values summing to it.")],
    key: KeyOption,
    json_output: JsonOption = False,
) -> None:
    """Split a receivable into parts (the holder)."""
    try:
        values = [int(value) for value in values_minor.split(",")]
    except ValueError:
        fail("values are comma-separated integers (minor units)")
    send(target, json_output, lambda t, c: c.supplychain.split(t.key(key), receivable_id, values))


@scf_app.command("transfer")
@scf_guarded
@with_target
def scf_transfer(
    target: Target,
    receivable_id: ReceivableArgument,
    recipient: Annotated[str, typer.Argument(help="The recipient's organization id.")],
    recipient_account: Annotated[str, typer.Argument(help="Its account: name or address.")],
    key: KeyOption,
    json_output: JsonOption = False,
) -> None:
    """Pass a receivable part to another organization (the holder)."""
    send(
        target,
        json_output,
        lambda t, c: c.supplychain.transfer(
            t.key(key), receivable_id, recipient, t.address(recipient_account)
        ),
    )


@scf_app.command("offer")
@scf_guarded
@with_target
def scf_offer(
    target: Target,
    receivable_id: ReceivableArgument,
    key: KeyOption,
    funder: Annotated[str, typer.Option(help="The funder's organization id.")],
    payee: Annotated[str, typer.Option(help="The holder's account paid: name or address.")],
    kind: Annotated[str, typer.Option(help="factoring or pledge.")] = "factoring",
    rate_ppm: Annotated[int, typer.Option(min=0, help="Discount rate, ppm a year.")] = 50_000,
    expires_in: Annotated[int, typer.Option(min=1, help="Blocks the offer stays open.")] = 100,
    json_output: JsonOption = False,
) -> None:
    """Offer a part to a funder for factoring or pledge (the holder)."""

    def offer(t: Target, c: Client) -> TransactionResult:
        height = int(c.status()["height"])
        return c.supplychain.offer_finance(
            t.key(key), receivable_id, kind, funder, rate_ppm, t.address(payee), height + expires_in
        )

    send(target, json_output, offer)


@scf_app.command("accept")
@scf_guarded
@with_target
def scf_accept(
    target: Target,
    receivable_id: ReceivableArgument,
    key: KeyOption,
    json_output: JsonOption = False,
) -> None:
    """Accept a finance offer and pay its advance in the token (the funder)."""
    send(target, json_output, lambda t, c: c.supplychain.accept_offer(t.key(key), receivable_id))


@scf_app.command("release")
@scf_guarded
@with_target
def scf_release(
    target: Target,
    receivable_id: ReceivableArgument,
    key: KeyOption,
    json_output: JsonOption = False,
) -> None:
    """Release a pledged part (the pledgee)."""
    send(target, json_output, lambda t, c: c.supplychain.release_pledge(t.key(key), receivable_id))


@scf_app.command("repay")
@scf_guarded
@with_target
def scf_repay(
    target: Target,
    root_id: RootArgument,
    key: KeyOption,
    json_output: JsonOption = False,
) -> None:
    """Repay a root receivable at maturity: every live part's holder paid (the obligor)."""
    send(target, json_output, lambda t, c: c.supplychain.repay(t.key(key), root_id))


@scf_app.command("mark-past-due")
@scf_guarded
@with_target
def scf_mark_past_due(
    target: Target,
    root_id: RootArgument,
    key: KeyOption,
    json_output: JsonOption = False,
) -> None:
    """Mark a root receivable past due (any member, once it is due and unpaid)."""
    send(target, json_output, lambda t, c: c.supplychain.mark_past_due(t.key(key), root_id))


@scf_app.command("past-due")
@scf_guarded
@with_target
def scf_past_due(
    target: Target,
    organization: Annotated[
        str, typer.Argument(help="The organization whose past-due receivables are listed.")
    ],
    json_output: JsonOption = False,
    output: OutputOption = None,
) -> None:
    """The receivables marked past due in which an organization is obligor, holder or pledgee,
    with days past due and what repayment owes it (every row proven; the organization's
    identities and the regulator)."""
    from jinqiao.core.codec import json_view

    with target.client() as client:
        past_due = client.supplychain.past_due(organization)
    view = {
        "organization": past_due.organization,
        "height": past_due.height,
        "time_ms": past_due.time_ms,
        "time": format_time_ms(past_due.time_ms),
        "rows": [json_view(row) for row in past_due.rows],
    }
    if _emit(view, json_output, output):
        return
    table = Table(
        "root", "obligor", "face", "due", "days past due", "repaid", "roles", "owed to it"
    )
    for row in past_due.rows:
        table.add_row(
            str(row.root_id),
            row.obligor,
            f"{row.face_value_minor} {row.asset}",
            format_time_ms(row.due_time_ms),
            str(row.days_past_due),
            "yes" if row.repaid else "no",
            ",".join(row.roles) or "-",
            str(row.owed_minor),
        )
    console.print(table)
    console.print(
        f"{len(past_due.rows)} past-due receivable(s) of {organization} at height "
        f"{past_due.height} ({format_time_ms(past_due.time_ms)})"
    )
