"""JSON views of chain structures: bytes become lowercase hex, structs become objects."""

from __future__ import annotations

from jinqiao.core.codec import json_view
from jinqiao.core.views import block_json, header_json, receipt_json

to_json = json_view
"""A JSON-ready view of a value (``jinqiao.core.codec.json_view``)."""


__all__ = ["block_json", "header_json", "receipt_json", "to_json"]
