"""Private documents (docs/access.md "Private data"): trade document bodies that the chain holds
only as hashes, kept by the parties' nodes and passed between them (``node.private_data``).

- ``PUT /v1/private/documents/{document_hash}``: a party puts a body on its own node; it must
  hash to ``document_hash`` (400 ``private_data_mismatch``).
- ``GET /v1/private/documents/{document_hash}``: a party reads the body. A node that does not hold
  it pulls it from its ``private_data_sources`` when the caller belongs to the node's own
  organization (the node acts for its organization, never as a relay for others), checks it
  against the hash and keeps it; ``?local_only=true`` (what a pulling node sends) answers from
  the store alone.
- ``DELETE /v1/private/documents/{document_hash}``: the node's organization erases its copy (the
  key is destroyed; the hash is never stored or served again here).

Who is a party is ``api.access``'s ``document`` rule, checked before these routes run; the
caller's identity reaches them in the request scope (``access.IDENTITY_KEY``).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from jinqiao.api.answers import answer
from jinqiao.api.answers.private import DocumentErased, DocumentKept
from jinqiao.api.authentication import IDENTITY_KEY, Identity
from jinqiao.api.openapi import MAX_BODY_BYTES_KEY, error_responses, hex_pattern, media_answer
from jinqiao.node.port import NodePort
from jinqiao.node.private_data import (
    MAX_PRIVATE_DOCUMENT_BYTES,
    PrivateDataNotHeld,
    PrivateDataSourceMismatch,
)

DOCUMENT_ROUTE = "/v1/private/documents/{document_hash}"
OCTETS = "application/octet-stream"
SOURCE_HEADER = "Jinqiao-Private-Source"
"""Where the answered body came from: ``local`` (this node's store) or the source URL it was just
pulled from."""
DocumentHash = Annotated[
    str, Path(pattern=hex_pattern(32), description="The document's SHA-256, as the chain holds it")
]
LocalOnly = Annotated[bool, Query(description="Answer from this node's store only, never pull")]
PRIVATE_CODES = {
    400: ("private_data_mismatch",),
    404: ("private_data_not_held",),
    410: ("private_data_erased",),
    502: ("private_data_source_mismatch",),
}


def router(node: NodePort) -> APIRouter:
    routes = APIRouter(tags=["private"])

    @routes.get(
        DOCUMENT_ROUTE,
        response_class=Response,
        responses={**media_answer(OCTETS), **error_responses(PRIVATE_CODES)},
    )
    async def get_document(
        document_hash: DocumentHash,
        request: Request,
        local_only: LocalOnly = False,
    ) -> Response:
        """The body of a private document, for a party (docs/access.md "Private data")."""
        wanted = bytes.fromhex(document_hash)
        private = node.private_data
        stored = await asyncio.to_thread(private.store.load, wanted)
        if stored is not None:
            return Response(stored.body, media_type=OCTETS, headers={SOURCE_HEADER: "local"})
        identity: Identity | None = request.scope.get(IDENTITY_KEY)
        acting_for_own = identity is not None and identity.organization == private.organization
        if local_only or not acting_for_own or not private.sources.sources:
            raise PrivateDataNotHeld(f"this node holds no document {document_hash}")
        body, answers = await asyncio.to_thread(private.sources.fetch, wanted)
        asked = [{"source": answer.source, "status": answer.status} for answer in answers]
        if body is None and any(answer.status == "mismatch" for answer in answers):
            raise PrivateDataSourceMismatch(
                f"a source served a body for document {document_hash} that does not hash to it; "
                "refused and not kept",
                sources=asked,
            )
        if body is None:
            raise PrivateDataNotHeld(f"no source served document {document_hash}", sources=asked)
        await asyncio.to_thread(private.store.save, wanted, body, private.organization)
        return Response(body, media_type=OCTETS, headers={SOURCE_HEADER: answers[-1].source})

    @routes.put(
        DOCUMENT_ROUTE,
        response_model=None,
        responses={**answer(DocumentKept), **error_responses(PRIVATE_CODES)},
        openapi_extra={
            MAX_BODY_BYTES_KEY: MAX_PRIVATE_DOCUMENT_BYTES,
            "requestBody": {
                "required": True,
                "content": {OCTETS: {"schema": {"type": "string", "format": "binary"}}},
                "description": f"the document's bytes, at most {MAX_PRIVATE_DOCUMENT_BYTES}",
            },
        },
    )
    async def put_document(document_hash: DocumentHash, request: Request) -> dict[str, Any]:
        """Keep a party's document on this node, checked against its hash."""
        body = await request.body()  # at most MAX_PRIVATE_DOCUMENT_BYTES (BodyLimit)
        identity: Identity | None = request.scope.get(IDENTITY_KEY)
        organization = identity.organization if identity is not None else ""
        wanted = bytes.fromhex(document_hash)
        await asyncio.to_thread(node.private_data.store.save, wanted, body, organization)
        return {"document_hash": document_hash, "size_bytes": len(body)}

    @routes.delete(
        DOCUMENT_ROUTE,
        response_model=None,
        responses={**answer(DocumentErased), **error_responses(PRIVATE_CODES)},
    )
    async def erase_document(document_hash: DocumentHash) -> dict[str, Any]:
        """Erase this node's copy (its key is destroyed); it is never stored or served again."""
        erased = await asyncio.to_thread(
            node.private_data.store.erase, bytes.fromhex(document_hash)
        )
        return {"document_hash": document_hash, "erased": erased}

    return routes
