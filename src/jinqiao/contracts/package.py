"""A contract package: ``contract.py`` (the source) and ``contract.toml`` (the manifest), and
the review of both together (``jinqiao contract check``)."""

from __future__ import annotations

from jinqiao.contracts.host import manifest_findings, parse_manifest, public_attributes
from jinqiao.contracts.rules import Finding, review_source
from jinqiao.contracts.sandbox import LoadedContract, compile_contract
from jinqiao.core.errors import InvalidInput

SOURCE_FILE = "contract.py"
MANIFEST_FILE = "contract.toml"


def review_package(manifest_text: str, source: str) -> list[Finding]:
    """Every finding about a package: the source's rules, then (when the source is clean and
    the manifest parses) whether the manifest lists exactly what the code declares."""
    findings = review_source(source, SOURCE_FILE)
    try:
        manifest = parse_manifest(manifest_text)
    except InvalidInput as exc:
        return sorted([*findings, Finding(0, "JQ200", exc.message, MANIFEST_FILE)])
    if findings:
        return findings
    try:
        loaded = LoadedContract(
            compile_contract(source, SOURCE_FILE), public_attributes, manifest.name
        )
    except InvalidInput as exc:
        return [Finding(0, "JQ190", exc.message)]
    return manifest_findings(manifest, loaded)
