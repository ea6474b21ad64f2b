"""Which supply chain contract call records a captured EPCIS event (``docs/supplychain.md``,
"Events"): one transaction per event, carrying its hash and key fields."""

from __future__ import annotations

from jinqiao.apps.supplychain.model import (
    AggregationArgs,
    BizTransaction,
    CommissionArgs,
    EpcsArgs,
    EventFields,
    ShipArgs,
    TransactArgs,
    TransformArgs,
)
from jinqiao.core.codec import CanonicalStruct
from jinqiao.epcis.document import CapturedEvent, EpcisError

OBJECT_STEPS = {
    ("ADD", "commissioning"): "commission",
    ("OBSERVE", "observing"): "observe",
    ("OBSERVE", "shipping"): "ship",
    ("OBSERVE", "receiving"): "receive",
    ("OBSERVE", "retail_selling"): "sell",
    ("DELETE", "decommissioning"): "decommission",
}
AGGREGATION_STEPS = {("ADD", "packing"): "pack", ("DELETE", "unpacking"): "unpack"}
BTT_PREFIXES = ("https://ref.gs1.org/cbv/BTT-", "urn:epcglobal:cbv:btt:")


def contract_call(
    event: CapturedEvent, *, receiver: str = "", lot: str = ""
) -> tuple[str, CanonicalStruct]:
    """The ``supplychain`` method and arguments for ``event``. ``receiver`` is the organization a
    shipment goes to (the caller resolves the event's destination to one); ``lot`` the lot of
    commissioned or transformed items (from the event's ILMD)."""
    fields = EventFields(event.hash_bytes, event.event_time_ms, event.read_point)
    if event.type == "ObjectEvent":
        method = OBJECT_STEPS.get((event.action, event.biz_step))
        if method == "commission":
            return method, CommissionArgs(fields, event.epcs, lot)
        if method == "ship":
            if not receiver:
                raise EpcisError("epcis_unknown_receiver", "a shipment needs its receiver")
            return method, ShipArgs(fields, event.epcs, receiver)
        if method is not None:
            return method, EpcsArgs(fields, event.epcs)
    elif event.type == "AggregationEvent":
        method = AGGREGATION_STEPS.get((event.action, event.biz_step))
        if method is not None:
            return method, AggregationArgs(fields, event.parent_id, event.child_epcs)
    elif event.type == "TransactionEvent":
        links = tuple(
            BizTransaction(_short_type(kind), id_) for kind, id_ in event.biz_transactions
        )
        return "transact", TransactArgs(fields, event.epcs, links)
    elif event.type == "TransformationEvent":
        return "transform", TransformArgs(fields, event.input_epcs, event.output_epcs, lot)
    raise EpcisError(
        "epcis_unsupported_event",
        f"no contract method records a {event.type} with action {event.action or '-'} and "
        f"bizStep {event.biz_step or '-'}",
    )


def _short_type(kind: str) -> str:
    for prefix in BTT_PREFIXES:
        if kind.startswith(prefix):
            return kind[len(prefix) :]
    return kind
