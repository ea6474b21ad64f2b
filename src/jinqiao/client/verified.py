"""What an offline check of a saved answer or report proves (``jinqiao.client.saved``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Verified:
    """What was proven, in one line (``summary``), at block ``height``."""

    summary: str
    height: int


__all__ = ["Verified"]
