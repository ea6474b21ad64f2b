"""The answers of the private documents routes (``api.private``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class DocumentKept(BaseModel):
    """``PUT /v1/private/documents/{document_hash}``: the document is kept, checked against
    its hash."""

    document_hash: str = Field(description="The document's SHA-256, hex")
    size_bytes: int = Field(description="Its size")


class DocumentErased(BaseModel):
    """``DELETE /v1/private/documents/{document_hash}``: this node's copy is erased (its key
    destroyed)."""

    document_hash: str = Field(description="The document's SHA-256, hex")
    erased: bool = Field(description="Whether this node held a copy to erase")


__all__ = ["DocumentErased", "DocumentKept"]
