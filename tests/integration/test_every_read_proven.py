"""Issue 10's "done when": every read and query of the OpenAPI document is either proven or
listed in the documents with the reason it cannot be (docs/proofs.md §13), and either checked
offline from a saved answer or listed with the reason it cannot be (§11). This walks the node's
OpenAPI document and holds each table to it, both ways."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jinqiao.api.app import create_app
from jinqiao.client.saved import verifiable_routes
from jinqiao.node.service import Node
from tests.helpers import doc_examples
from tests.helpers.process import make_network

WRITES = {
    "POST /v1/transactions",
    "POST /v1/transactions/batch",
    "POST /v1/epcis/capture",
    "PUT /v1/private/documents/{document_hash}",
    "DELETE /v1/private/documents/{document_hash}",
}


@pytest.fixture(scope="module")
def routes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[set[str]]:
    directory: Path = tmp_path_factory.mktemp("openapi")
    layout = make_network(directory)
    node = Node(directory / layout.nodes[0].home)
    try:
        document = create_app(node).openapi()
    finally:
        node.close()
    yield {
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method in operations
    }


def _table() -> dict[str, tuple[str, str]]:
    rows = doc_examples.table("route-proofs")
    table = {}
    for route, proven, reason in rows:
        route = route.strip("`")
        assert route not in table, f"{route} is listed twice"
        table[route] = (proven, reason)
    return table


def test_every_read_of_the_openapi_document_is_proven_or_says_why_not(routes: set[str]) -> None:
    table = _table()
    reads = routes - WRITES
    assert routes >= WRITES
    missing = sorted(reads - set(table))
    assert not missing, f"routes neither proven nor explained in docs/proofs.md §13: {missing}"
    stale = sorted(set(table) - reads)
    assert not stale, f"docs/proofs.md §13 lists routes the API does not have: {stale}"
    for route, (proven, reason) in table.items():
        assert proven in ("yes", "no"), route
        assert len(reason) >= 10, f"{route}: say how it is proven, or why it cannot be"
    unproven = sorted(route for route, (proven, _) in table.items() if proven == "no")
    assert unproven == [
        "GET /healthz",
        "GET /metrics",
        "GET /v1/consensus",
        "GET /v1/epcis/capture/{capture_id}",
        "GET /v1/genesis",
        "GET /v1/payments/cycles/{cycle_id}/chart.png",
        "GET /v1/status",
        "POST /v1/payments/cycles/{cycle_id}/reconciliation/{institution}",
    ]


def test_every_read_is_checked_offline_as_a_saved_answer_or_says_why_not(
    routes: set[str],
) -> None:
    """docs/proofs.md §11: each read of the OpenAPI document is either a route a saved answer
    may come from (``jinqiao verify FILE`` checks it with the SDK's own check of that route), or
    listed in the document with the reason it cannot be — and the list names no other route."""
    reads = routes - WRITES
    verifiable = verifiable_routes()
    assert len(set(verifiable)) == len(verifiable), "a route is checked twice"
    unknown = sorted(set(verifiable) - reads)
    assert not unknown, f"saved answers of routes the API does not have: {unknown}"
    listed = {}
    for route, reason in doc_examples.table("saved-not-verifiable"):
        route = route.strip("`")
        assert route not in listed, f"{route} is listed twice"
        assert len(reason) >= 20, f"{route}: say why it cannot be checked offline"
        listed[route] = reason
    both = sorted(set(listed) & set(verifiable))
    assert not both, f"listed as not checkable offline, yet checked: {both}"
    missing = sorted(reads - set(verifiable) - set(listed))
    assert not missing, f"reads neither checked offline nor listed in docs/proofs.md §11: {missing}"
    stale = sorted(set(listed) - reads)
    assert not stale, f"docs/proofs.md §11 lists routes the API does not have: {stale}"
