"""The verdict on a scanned item (docs/supplychain.md "Verifying an item"), on records built by
hand: each reason appears exactly when its rule says."""

from __future__ import annotations

import pytest

from jinqiao.apps.supplychain.authenticity import (
    CLONE_WINDOW_MS,
    ScanError,
    clone_sightings,
    custody_breaks,
    label_uri,
    parse_scan,
    verify_item,
)
from jinqiao.apps.supplychain.model import EventRecord, Item

ITEM = "01/06901234000016/21/1"


def item(status: str = "active") -> Item:
    return Item(ITEM, "brand", "L1", status, "retailer", None, "", (), 0, 3, 0, 1, b"")


def event(
    kind: str,
    time_ms: int,
    read_point: str = "",
    organization: str = "brand",
    receiver: str = "",
    number: int = 0,
) -> EventRecord:
    return EventRecord(
        number.to_bytes(32, "big"),
        kind,
        organization,
        time_ms,
        1,
        read_point,
        (ITEM,),
        (),
        "",
        receiver,
        (),
    )


def test_two_sightings_far_apart_in_little_time_are_a_clone() -> None:
    seen = [event("observing", 0, "A", number=1), event("observing", 60_000, "B", number=2)]
    assert len(clone_sightings(seen)) == 1
    assert verify_item(item(), False, seen, "absent").reasons == ("clone_suspected",)


@pytest.mark.parametrize(
    "events",
    [
        [event("observing", 0, "A"), event("observing", CLONE_WINDOW_MS, "B")],  # an hour apart
        [event("observing", 0, "A"), event("observing", 1_000, "A")],  # the same place
        [
            event("observing", 0, "A"),
            event("shipping", 500, receiver="x"),
            event("observing", 1_000, "B"),
        ],  # it moved between them
    ],
)
def test_sightings_that_are_not_a_clone(events: list[EventRecord]) -> None:
    assert clone_sightings(events) == []
    assert verify_item(item(), False, events, "valid").verdict == "genuine"


def test_every_reason_that_applies() -> None:
    moves = [
        event("shipping", 0, receiver="retailer"),
        event("receiving", 1, organization="distributor"),
        event("retail_selling", 2),
    ]
    assert custody_breaks(ITEM, moves)
    found = verify_item(item("sold"), True, moves, "invalid")
    assert found.verdict == "suspicious"
    assert found.reasons == ("signature_invalid", "already_sold", "broken_custody", "recalled")
    assert verify_item(item("consumed"), False, (), "absent").reasons == ("not_active",)
    assert verify_item(None, False, (), "absent").verdict == "unknown"


def test_scans() -> None:
    link = "https://id.gs1.org/01/06901234000016/21/1"
    scan = parse_scan(label_uri(link, b"\x01" * 64, b"\x02" * 20))
    assert (scan.signature, scan.signer) == (b"\x01" * 64, b"\x02" * 20)
    assert parse_scan(link).signer == b""
    for bad in ("", f"{link}?sig=zz&signer=00", f"{link}?sig=01", "x" * 3000):
        with pytest.raises(ScanError):
            parse_scan(bad)
