"""The demo's supply chain (docs/supplychain.md "Demo"): goods that travel from the brand owner
through a distributor to a retailer, a cloned label caught, and a receivable confirmed, split down
the supply chain, factored by a bank, refused a second financing and repaid at maturity.

Every event is an EPCIS 2.0 document captured through the SDK (built by ``jinqiao.epcis.build``,
hashed by the reference implementation); every figure shown is read back with its proof.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path

from rich.table import Table

from jinqiao.apps.supplychain.model import INVOICE, RECEIVING_EVENT, Backing
from jinqiao.client import Client, TransactionResult
from jinqiao.core.crypto import Signer
from jinqiao.demo import DemoFailed
from jinqiao.epcis.build import ObjectEventSpec, xml_document
from jinqiao.provision.presets import CNY
from jinqiao.provision.supplychain import BRAND_PREFIX
from jinqiao.reports.supplychain import label_qr, trace_png_bytes
from jinqiao.terminal import console, format_minor

LOT = "LOT-2026-12"
CASES = 4
FACE_VALUE_MINOR = 1_000_000  # CNY 10,000.00
PARTS_MINOR = (500_000, 300_000, 200_000)
DUE_IN_MS = 8_000
FUNDS_MINOR = 100_000_000
SHANGHAI = f"urn:epc:id:sgln:{BRAND_PREFIX}.00001.0"
SHENZHEN = f"urn:epc:id:sgln:{BRAND_PREFIX}.00002.0"
WAREHOUSE = f"urn:epc:id:sgln:{BRAND_PREFIX}.00003.0"
DISTRIBUTOR_PARTY = f"urn:epc:id:pgln:{BRAND_PREFIX}.00010"
RETAILER_PARTY = f"urn:epc:id:pgln:{BRAND_PREFIX}.00020"
RECEIVERS = {DISTRIBUTOR_PARTY: "distributor", RETAILER_PARTY: "retailer"}
ACCOUNTS = (
    "clearing-treasury",
    "brand-ops",
    "brand-treasury",
    "distributor-ops",
    "retailer-ops",
    "tier1-ops",
    "tier2-ops",
    "tier3-ops",
    "bank-a-funder",
)


def _case(serial: int) -> str:
    return f"urn:epc:id:sgtin:{BRAND_PREFIX}.000001.TEA{serial:04d}"


PALLET = f"urn:epc:id:sscc:{BRAND_PREFIX}.0000000777"


def _ok(result: TransactionResult, what: str) -> TransactionResult:
    if not result.ok:
        raise DemoFailed(f"{what} was rejected: {result.code}: {result.receipt.message}")
    return result


class _Clock:
    """Event times a little in the past, one second apart, so each is after the last."""

    def __init__(self) -> None:
        self.next_ms = int(time.time() * 1000) - 120_000

    def __call__(self) -> int:
        self.next_ms += 1_000
        return self.next_ms


def _capture(client: Client, signer: Signer, specs: list[ObjectEventSpec], lot: str = "") -> bytes:
    """Capture the events; the hash of the last one."""
    document = xml_document(specs, created_ms=specs[-1].event_time_ms)
    results = client.supplychain.capture(signer, document, receivers=RECEIVERS, lot=lot)
    for result in results:
        _ok(result, "an EPCIS event")
    last = client.supplychain.history(_history_key(specs[-1]), start=0, limit=500)
    return last[-1].event_hash


def _history_key(spec: ObjectEventSpec) -> str:
    return spec.parent or spec.epcs[0]


def _goods(client: Client, key: Callable[[str], Signer], pictures: Path | None) -> bytes:
    """Commission, pack, ship, receive, ship, receive; verify a case (and draw its label's QR
    code and its journey into ``pictures``); catch a clone. Returns the hash of the retailer's
    receiving event (it backs the receivable)."""
    clock = _Clock()
    cases = [_case(serial) for serial in range(CASES)]
    brand, distributor, retailer = key("brand-ops"), key("distributor-ops"), key("retailer-ops")
    _capture(
        client,
        brand,
        [
            ObjectEventSpec("commissioning", cases, clock(), "ADD", SHANGHAI),
            ObjectEventSpec("commissioning", [PALLET], clock(), "ADD", SHANGHAI),
            ObjectEventSpec("packing", cases, clock(), "ADD", SHANGHAI, parent=PALLET),
            ObjectEventSpec(
                "shipping", [PALLET], clock(), read_point=SHANGHAI, destination=DISTRIBUTOR_PARTY
            ),
        ],
        lot=LOT,
    )
    _capture(
        client,
        distributor,
        [
            ObjectEventSpec("receiving", [PALLET], clock(), read_point=WAREHOUSE),
            ObjectEventSpec(
                "shipping", [PALLET], clock(), read_point=WAREHOUSE, destination=RETAILER_PARTY
            ),
        ],
    )
    received = _capture(
        client, retailer, [ObjectEventSpec("receiving", [PALLET], clock(), read_point=SHENZHEN)]
    )
    console.print(
        f"goods: {CASES} cases of lot {LOT} and pallet {PALLET} commissioned in Shanghai, packed, "
        "shipped brand → distributor → retailer (7 EPCIS events, one transaction each)"
    )
    label = client.supplychain.label(brand, cases[0])
    genuine = client.supplychain.verify(label)
    if pictures is not None:
        _draw(client, label, cases[0], pictures)
    # A counterfeiter copies the label of case 1; the copies are scanned in two cities minutes
    # apart (the retailer's app records each scan as a sighting).
    cloned = cases[1]
    _capture(
        client, retailer, [ObjectEventSpec("observing", [cloned], clock(), read_point=SHANGHAI)]
    )
    _capture(
        client, retailer, [ObjectEventSpec("observing", [cloned], clock(), read_point=SHENZHEN)]
    )
    clone = client.supplychain.verify(client.supplychain.label(brand, cloned))
    unknown = client.supplychain.verify(_case(9999))
    table = Table(title="Scans verified (GET /v1/verify, every proof checked by the SDK)")
    table.add_column("scan")
    table.add_column("verdict")
    table.add_column("reasons")
    table.add_column("held by")
    for name, checked in (
        ("case 0, signed label", genuine),
        ("case 1, cloned label", clone),
        ("a serial never made", unknown),
    ):
        colour = {"genuine": "green", "suspicious": "red"}.get(checked.verdict, "yellow")
        table.add_row(
            name,
            f"[{colour}]{checked.verdict}[/]",
            ", ".join(checked.reasons) or "-",
            "-" if checked.custody is None else checked.custody.custodian,
        )
    console.print(table)
    if genuine.verdict != "genuine" or "clone_suspected" not in clone.reasons:
        raise DemoFailed("the supply chain verification did not come out as expected")
    return received


def _money(client: Client, key: Callable[[str], Signer], receiving_event: bytes) -> None:
    """Confirm, split, pass down, factor, refuse a second financing, repay at maturity."""
    sc, token = client.supplychain, client.token
    obligor, tier1, bank = key("brand-treasury"), key("tier1-ops"), key("bank-a-funder")
    for funded in (obligor, bank):
        _ok(token.mint(key("clearing-treasury"), CNY, funded.address, FUNDS_MINOR), "mint")
        _ok(token.approve(funded, CNY, sc.contract_address, FUNDS_MINOR), "approve")
    invoice = hashlib.sha256(b"Jade Mountain Tea invoice INV-2026-12-001").digest()
    backing = [
        Backing(INVOICE, invoice, FACE_VALUE_MINOR),
        Backing(RECEIVING_EVENT, receiving_event, 0),
    ]
    due_ms = int(time.time() * 1000) + DUE_IN_MS
    root_id = sc.receivable_id(
        _ok(
            sc.confirm(obligor, CNY, "tier1", tier1.address, FACE_VALUE_MINOR, due_ms, backing),
            "confirm",
        )
    )
    parts = sc.split_parts(_ok(sc.split(tier1, root_id, PARTS_MINOR), "split"))
    _ok(sc.transfer(tier1, parts[1], "tier2", key("tier2-ops").address), "transfer to tier 2")
    _ok(sc.transfer(tier1, parts[2], "tier3", key("tier3-ops").address), "transfer to tier 3")
    height = int(client.status()["height"])
    _ok(
        sc.offer_finance(
            tier1, parts[0], "factoring", "bank-a", 60_000, tier1.address, height + 50
        ),
        "offer",
    )
    before = token.balance(CNY, tier1.address)
    _ok(sc.accept_offer(bank, parts[0]), "factoring")
    advance = token.balance(CNY, tier1.address) - before
    again = sc.confirm(
        obligor, CNY, "tier1", tier1.address, FACE_VALUE_MINOR, due_ms + 1, backing[:1]
    )
    if again.code != "document_already_used":
        raise DemoFailed(f"a second financing of the invoice was not refused: {again.code}")
    console.print(
        f"receivable {root_id}: CNY {format_minor(FACE_VALUE_MINOR, 2)} confirmed by the brand to "
        f"tier 1 (invoice + the retailer's receiving event), split into parts {list(parts)}, "
        f"passed to tier 2 and tier 3; Bank A factored tier 1's part at 6%/year, paying CNY "
        f"{format_minor(advance, 2)} in the same transaction; a second confirmation backed by "
        f"the same invoice: [red]rejected[/] {again.code}"
    )
    while int(time.time() * 1000) <= due_ms + 1_000:
        time.sleep(0.5)
    holders = {
        "bank-a": bank.address,
        "tier2": key("tier2-ops").address,
        "tier3": key("tier3-ops").address,
    }
    balances = {name: token.balance(CNY, address) for name, address in holders.items()}
    _ok(sc.repay(obligor, root_id), "repay")
    root = sc.root(root_id)
    table = Table(title=f"Receivable {root_id} repaid at maturity (proven balances)")
    table.add_column("holder")
    table.add_column("part", justify="right")
    table.add_column("paid (CNY)", justify="right")
    for name, address in holders.items():
        paid = token.balance(CNY, address) - balances[name]
        part = {"bank-a": parts[0], "tier2": parts[1], "tier3": parts[2]}[name]
        table.add_row(name, str(part), format_minor(paid, 2))
    console.print(table)
    if root is None or not root.repaid:
        raise DemoFailed("the receivable is not repaid")


def _draw(client: Client, label: str, case: str, directory: Path) -> None:
    """The case's label as a QR code and its proven journey (with its pallet's) as a graph."""
    trace = client.supplychain.trace(case)
    if trace is None:
        raise DemoFailed(f"{case} is proven absent after its commissioning")
    steps = [(step.event, step.via) for step in trace.steps]
    directory.mkdir(parents=True, exist_ok=True)
    qr, journey = directory / "case-0-label.png", directory / "case-0-journey.png"
    qr.write_bytes(label_qr(label))
    journey.write_bytes(trace_png_bytes(trace.item, trace.height, steps))
    console.print(f"case 0: {len(steps)} events in its journey; wrote {qr}, {journey}")


def run_supply_chain(
    client: Client, key: Callable[[str], Signer], pictures: Path | None = None
) -> None:
    """Both stories on ``client``'s network (made with ``provision.supplychain``); the label's
    QR code and the journey's graph go to ``pictures``, if given."""
    console.rule("Supply chain: provenance and receivables finance")
    receiving_event = _goods(client, key, pictures)
    _money(client, key, receiving_event)


__all__ = ["ACCOUNTS", "run_supply_chain"]
