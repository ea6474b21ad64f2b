"""Path and query parameter types shared by the API's routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from starlette.convertors import StringConvertor, register_url_convertor

from jinqiao.api.openapi import hex_pattern
from jinqiao.apps.token import SYMBOL as TOKEN_SYMBOL
from jinqiao.core.limits import MAX_STATE_KEY_BYTES

MAX_WAIT_MS = 30_000
NAME = r"^[a-z0-9_.-]{1,64}$"
SYMBOL = rf"^{TOKEN_SYMBOL.pattern}$"


class NotBatchConvertor(StringConvertor):
    """A path segment other than ``batch``: ``GET /v1/transactions/batch`` is the batch route's
    ``405`` with ``Allow: POST``, not a request for a transaction whose hash is "batch"."""

    regex = "(?!batch$)[^/]+"


register_url_convertor("not_batch", NotBatchConvertor())

Hash = Annotated[str, Path(pattern=hex_pattern(32), description="32 bytes as 64 hex digits")]
Address = Annotated[str, Path(pattern=hex_pattern(20), description="20 bytes as 40 hex digits")]
StateKey = Annotated[
    str,
    Path(
        pattern=hex_pattern(),
        max_length=2 * MAX_STATE_KEY_BYTES,
        description=f"1 to {MAX_STATE_KEY_BYTES} bytes as hex (two digits a byte)",
    ),
]
