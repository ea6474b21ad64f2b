"""The SHA-384 of every script the explorer page runs, pinned in the installed package.

The page's HTML names each script with its ``integrity=`` (and the import map's ``integrity``
for the modules it imports), taken from these constants — never from the files the node has on
disk — so a script changed on the node is refused by the browser. ``EXPLORER_SCRIPT_SHA384``,
the verifying module's, is what ``jinqiao explorer-hash`` prints and the page shows beside the
genesis hash. ``tests/unit/test_explorer_pins.py`` recomputes each from ``static/`` and checks
the vendored library against its npm release.
"""

from __future__ import annotations

EXPLORER_SCRIPT = "verify.js"
EXPLORER_SCRIPT_SHA384 = "sha384-l5A7mujd46cuQ53bUkAjPzuby2XXGbwbeACro6fZxG26YHyd4yxVqDOG4Pvgv8ux"
"""The verifying module (docs/proofs.md in JavaScript): its Subresource Integrity value."""

APP_SCRIPT_SHA384 = "sha384-QJG0lzqtgghReKjbiIwlAHj48uAm2YcKb0M4ap+2vSp+SBQNht7c3RlZDqxw+cqF"
"""The page's views (``app.js``)."""
ED25519_LIBRARY_SHA384 = "sha384-Mn3Pw6kF6BnK6mrt9jgociul6uWPooS/UN1RxwkhSN6lFlyQF33h3c9Dx+TKoIG3"
"""The vendored @noble/ed25519 3.2.0 (``vendor/noble-ed25519-3.2.0.js``)."""

PINNED_ASSETS: dict[str, str] = {
    EXPLORER_SCRIPT: EXPLORER_SCRIPT_SHA384,
    "app.js": APP_SCRIPT_SHA384,
    "vendor/noble-ed25519-3.2.0.js": ED25519_LIBRARY_SHA384,
}
"""Every script the page loads, by its path under ``static/``, with its SRI value."""

ED25519_LIBRARY = "@noble/ed25519@3.2.0"
ED25519_LIBRARY_NPM_INTEGRITY = (
    "sha512-criDgRlnUA09hchYrTy/"
    "JUWPIEap5rZxQe6wDWzRx51oWWpDRcUpuNzlgPxDJaOK6AsW9c0wKcj3rKRv6t+bPQ=="
)
"""The npm registry's integrity of the release tarball (``npm pack @noble/ed25519@3.2.0``)."""
ED25519_LIBRARY_SHA256 = "a4f631d1876b5d9e43a86cd71194ca27b5e1451edf4ba4db9a418f40a475569a"
"""The SHA-256 of that tarball's ``package/index.js``, vendored unchanged as
``static/vendor/noble-ed25519-3.2.0.js``."""
