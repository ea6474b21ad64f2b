"""The explorer: a web page served by every node at ``/explorer`` (docs/explorer.md, ADR 0032).

The page reads the authenticated API as its viewer (the browser's client certificate), so each
viewer sees what its organization may see, and checks every proof in the browser. Its scripts
ship inside this package (``static/``) and are loaded with Subresource Integrity against the
hashes pinned in ``pins``: the node that serves the data cannot also serve a verifier that
always says "valid" without the browser refusing it. Here: the router that serves the page and
its assets, nothing else (the page's data comes from the API's own routes).
"""

from __future__ import annotations

from jinqiao.api.explorer.pins import EXPLORER_SCRIPT_SHA384, PINNED_ASSETS
from jinqiao.api.explorer.routes import router

__all__ = ["EXPLORER_SCRIPT_SHA384", "PINNED_ASSETS", "router"]
