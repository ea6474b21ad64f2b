"""The explorer's pinned script hashes (src/jinqiao/api/explorer/pins.py, ADR 0032): each pin is
the SHA-384 of the file the package ships, the vendored Ed25519 library is npm's release file
unchanged, and the page the node serves names each script with exactly its pin."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from importlib import resources

from jinqiao.api.explorer.pins import (
    ED25519_LIBRARY_SHA256,
    EXPLORER_SCRIPT,
    EXPLORER_SCRIPT_SHA384,
    PINNED_ASSETS,
)
from jinqiao.api.explorer.routes import ASSETS, content_security_policy, import_map, render_page

STATIC = resources.files("jinqiao.api.explorer").joinpath("static")


def sri(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


def test_every_pin_is_the_hash_of_the_shipped_file() -> None:
    for name, pin in PINNED_ASSETS.items():
        assert sri(STATIC.joinpath(name).read_bytes()) == pin, (
            f"{name} changed: run python tools/pin_explorer_scripts.py"
        )
    assert PINNED_ASSETS[EXPLORER_SCRIPT] == EXPLORER_SCRIPT_SHA384


def test_every_script_served_is_pinned() -> None:
    scripts = {name for name, media in ASSETS.items() if media == "text/javascript"}
    assert scripts == set(PINNED_ASSETS)


def test_the_vendored_ed25519_library_is_the_npm_release_file() -> None:
    data = STATIC.joinpath("vendor/noble-ed25519-3.2.0.js").read_bytes()
    assert hashlib.sha256(data).hexdigest() == ED25519_LIBRARY_SHA256


def test_the_page_loads_each_script_with_its_pin() -> None:
    page = render_page()
    assert f'src="/explorer/static/app.js" integrity="{PINNED_ASSETS["app.js"]}"' in page
    mapping = json.loads(import_map())
    for path, pin in mapping["integrity"].items():
        assert PINNED_ASSETS[path.removeprefix("/explorer/static/")] == pin
    assert set(mapping["imports"].values()) == set(mapping["integrity"])
    assert EXPLORER_SCRIPT_SHA384 in page
    inline = re.search(r'<script type="importmap">(.*?)</script>', page, re.DOTALL)
    assert inline is not None
    digest = base64.b64encode(hashlib.sha256(inline.group(1).encode()).digest()).decode()
    assert f"'sha256-{digest}'" in content_security_policy(inline.group(1))
