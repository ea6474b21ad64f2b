"""Rewrite the SRI pins of the explorer's scripts (src/jinqiao/api/explorer/pins.py) after a
deliberate change of one of them: ``python tools/pin_explorer_scripts.py``. The unit test
tests/unit/test_explorer_pins.py fails until the pins match the files."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "jinqiao" / "api" / "explorer"


CONSTANTS = {
    "EXPLORER_SCRIPT_SHA384": "verify.js",
    "APP_SCRIPT_SHA384": "app.js",
    "ED25519_LIBRARY_SHA384": "vendor/noble-ed25519-3.2.0.js",
}


def sri(path: Path) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(path.read_bytes()).digest()).decode()


def main() -> None:
    pins = PACKAGE / "pins.py"
    text = pins.read_text()
    for constant, name in CONSTANTS.items():
        value = sri(PACKAGE / "static" / name)
        text = re.sub(rf'{constant} = "[^"]*"', f'{constant} = "{value}"', text)
        print(f"{name} {value}")
    pins.write_text(text)


if __name__ == "__main__":
    main()
