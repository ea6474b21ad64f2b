"""The private document store and the parties of a document (``jinqiao.node.private_data``,
docs/access.md "Private data"): bodies checked against their hash, encrypted at rest, erasable;
the parties read from state as the receivable moves."""

from __future__ import annotations

import hashlib
from pathlib import Path

import msgspec
import pytest

from jinqiao.apps.supplychain.model import (
    CLOSED,
    FACTORING,
    INVOICE,
    LIVE,
    SUPPLYCHAIN,
    Backing,
    DocumentUse,
    FinanceOffer,
    Receivable,
    Root,
    document_key,
    receivable_key,
    root_key,
)
from jinqiao.core.codec import CanonicalStruct, encode
from jinqiao.core.errors import InvalidInput
from jinqiao.epcis.build import ObjectEventSpec, xml_document
from jinqiao.epcis.document import parse_document
from jinqiao.execution.state import full_key
from jinqiao.node.config import NodeConfig
from jinqiao.node.private_data import (
    PrivateDataErased,
    PrivateDataMismatch,
    PrivateDocumentStore,
    document_parties,
)

BODY = b"<Invoice><ID>INV-7</ID><Amount>1000.00</Amount></Invoice>"
HASH = hashlib.sha256(BODY).digest()


def test_a_body_is_kept_encrypted_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "private.sqlite"
    with PrivateDocumentStore(path) as store:
        store.save(HASH, BODY, "supplier")
        loaded = store.load(HASH)
        assert loaded is not None
        assert (loaded.body, loaded.organization) == (BODY, "supplier")
        assert store.load(hashlib.sha256(b"other").digest()) is None
    assert b"INV-7" not in path.read_bytes()


def test_a_body_that_does_not_hash_to_its_hash_is_refused(tmp_path: Path) -> None:
    with PrivateDocumentStore(tmp_path / "private.sqlite") as store:
        with pytest.raises(PrivateDataMismatch) as refused:
            store.save(HASH, BODY + b"\n", "supplier")
        assert refused.value.details["body_hash"] == hashlib.sha256(BODY + b"\n").hexdigest()
        assert store.load(HASH) is None


def test_an_epcis_document_is_the_body_of_its_events_hashes(tmp_path: Path) -> None:
    """A shipping event backing a receivable is named by its CBV 2.0 event hash: the body is the
    EPCIS XML document that holds the event, checked by hashing its events."""
    shipping = ObjectEventSpec(
        "shipping", ("urn:epc:id:sgtin:6901234.000001.7",), 1_700_000_000_000
    )
    document = xml_document([shipping], created_ms=1_700_000_000_000)
    (event,) = parse_document(document, None).events
    with PrivateDocumentStore(tmp_path / "private.sqlite") as store:
        store.save(event.hash_bytes, document, "supplier")
        loaded = store.load(event.hash_bytes)
        assert loaded is not None and loaded.body == document
        other = xml_document(
            [ObjectEventSpec("receiving", shipping.epcs, 1_700_000_000_001)], created_ms=1
        )
        with pytest.raises(PrivateDataMismatch):
            store.save(event.hash_bytes, other, "supplier")
        with pytest.raises(PrivateDataMismatch):
            store.save(event.hash_bytes, b"<not-epcis/>", "supplier")


def test_erasing_destroys_the_body_and_refuses_it_from_then_on(tmp_path: Path) -> None:
    path = tmp_path / "private.sqlite"
    with PrivateDocumentStore(path) as store:
        store.save(HASH, BODY, "supplier")
        assert store.erase(HASH)
        assert store.is_erased(HASH)
        with pytest.raises(PrivateDataErased):
            store.load(HASH)
        with pytest.raises(PrivateDataErased):
            store.save(HASH, BODY, "supplier")
        assert not store.erase(HASH)
    assert b"INV-7" not in path.read_bytes()


def _state(root: Root, parts: list[Receivable]) -> dict[bytes, bytes]:
    values: dict[bytes, CanonicalStruct] = {
        document_key(HASH): DocumentUse(HASH, root.id),
        root_key(root.id): root,
        **{receivable_key(part.id): part for part in parts},
    }
    return {full_key(SUPPLYCHAIN, key): encode(value) for key, value in values.items()}


def _part(receivable_id: int, holder: str, **changes: object) -> Receivable:
    part = Receivable(
        receivable_id, 1, 0, "core", holder, b"\x01" * 20, 100, 10**13, LIVE, "", b"", None
    )
    return msgspec.structs.replace(part, **changes)


def test_the_parties_follow_the_receivable() -> None:
    root = Root(1, "CNY", "core", 100, 10**13, (Backing(INVOICE, HASH, 100),), (1,), False, False)
    confirmed = _state(root, [_part(1, "supplier")])
    assert document_parties(confirmed.get, HASH) == {"core", "supplier"}
    offer = FinanceOffer(FACTORING, "bank-a", 50_000, 90, b"\x01" * 20, 100)
    offered = _state(root, [_part(1, "supplier", offer=offer)])
    assert document_parties(offered.get, HASH) == {"core", "supplier", "bank-a"}
    # Split in two, one part pledged to bank-b, the other transferred away and closed.
    split = msgspec.structs.replace(root, live_parts=(2, 3))
    parts = [
        _part(2, "supplier", pledgee="bank-b"),
        _part(3, "tier2", status=CLOSED),
    ]
    assert document_parties(_state(split, parts).get, HASH) == {"core", "supplier", "bank-b"}
    assert document_parties({}.get, HASH) == frozenset()


@pytest.mark.parametrize(
    "sources",
    [("http://127.0.0.1:9700",), ("https://",), ("https://a/path",), ("https://a",) * 101],
)
def test_private_data_sources_must_be_https_origins(sources: tuple[str, ...]) -> None:
    with pytest.raises(InvalidInput, match="private_data_sources"):
        NodeConfig(name="n", private_data_sources=sources).check()
    NodeConfig(name="n", private_data_sources=("https://10.0.0.7:8600",)).check()
