"""The demo network: a day of CNY transfers and payments on real node processes (``jinqiao
demo``)."""

from __future__ import annotations

from jinqiao.core.errors import JinqiaoError


class DemoFailed(JinqiaoError):
    """The demo could not go on; the message says why (the CLI prints it and exits 1)."""
