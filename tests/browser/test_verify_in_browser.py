"""The page's verifier (verify.js) against docs/proofs.md's own vectors, in Chromium: the Ed25519
edge cases of §3.2 get the same answer in the browser as from PyNaCl (libsodium) and the
document, the canonical encoding of §2 is read and refused as the document says, and the Merkle
roots of §4 are the document's. Each case is the one tests/unit/test_proofs_doc.py checks in
Python, built by the same code."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from tests.browser.conftest import Network, viewer
from tests.helpers import doc_examples
from tests.unit.test_proofs_doc import (
    CT_LEAVES,
    MESSAGE,
    SUITE,
    _case,
    ed25519_cases,
    encoding_examples,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def page(browser: Browser, network: Network) -> Iterator[Page]:
    """The explorer page, with the verifying module reachable from the test: evaluating code in
    the page needs its CSP bypassed (the module itself still loads under its SRI pin)."""
    context = viewer(browser, network, "regulator-admin", bypass_csp=True)
    opened = context.new_page()
    opened.goto(f"{network.node.url}/explorer#/watch")
    opened.locator('main[data-rendered="#/watch"]').wait_for(timeout=30_000)
    yield opened
    context.close()


def in_page(page: Page, body: str, argument: Any) -> Any:
    """Runs ``body`` (an async function body with ``V``, the verifying module, and ``argument``)."""
    return page.evaluate(
        f"async (argument) => {{ const V = await import('jinqiao-verify'); {body} }}", argument
    )


def test_ed25519_edge_cases_get_libsodiums_answers_in_the_browser(page: Page) -> None:
    cases = []
    expected = {}
    for name, answer in ed25519_cases():
        public_key, signature = _case(name)
        accepted = SUITE.verify(public_key, MESSAGE, signature)
        assert accepted == (answer == "accepted"), name
        expected[name] = accepted
        cases.append([name, public_key.hex(), MESSAGE.hex(), signature.hex()])
    answers = in_page(
        page,
        "const out = {}; for (const [name, key, message, signature] of argument) {"
        " out[name] = await V.ed25519Verify(V.hexToBytes(key), V.hexToBytes(message),"
        " V.hexToBytes(signature)); } return out;",
        cases,
    )
    assert answers == expected
    assert {"honest", "mixed-order-key-and-r"} == {name for name, ok in answers.items() if ok}


def _generic(literal: str) -> Any:
    value = ast.literal_eval(literal)
    return value.hex() if isinstance(value, bytes) else value


def test_the_canonical_encoding_examples_read_and_refused_as_documented(page: Page) -> None:
    encoded, refused = encoding_examples()
    # A value of one type written as another (true as 01, bytes as str) is canonical MessagePack
    # of that other type: the struct checks refuse it (a wrong type in a field), not the reader.
    untyped = [hex_text for kind, hex_text in refused if kind not in ("bool", "bytes")]
    results = in_page(
        page,
        "const show = (v) => v instanceof Uint8Array ? V.bytesToHex(v) : typeof v === 'bigint'"
        " ? Number(v) : Array.isArray(v) ? v.map(show) : v;"
        "const read = argument.encoded.map(([literal, hex]) => {"
        " const bytes = V.hexToBytes(hex); const value = V.decode(bytes);"
        " return [show(value), V.bytesToHex(V.encode(value))]; });"
        "const refused = argument.refused.map((hex) => {"
        " try { V.decode(V.hexToBytes(hex)); return 'accepted'; }"
        " catch (error) {"
        "   return error instanceof V.VerificationError ? 'refused' : String(error); } });"
        "return {read, refused};",
        {
            "encoded": [[literal, doc_examples.hex_bytes(h).hex()] for literal, h in encoded],
            "refused": [doc_examples.hex_bytes(h).hex() for h in untyped],
        },
    )
    for (literal, hex_text), (value, again) in zip(encoded, results["read"], strict=True):
        wire = doc_examples.hex_bytes(hex_text).hex()
        assert again == wire, literal
        if "18446744073709551615" not in literal and "4294967296" not in literal:
            assert value == _generic(literal), literal  # (past 2^53 JS numbers round: bytes above)
    assert results["refused"] == ["refused"] * len(untyped)


def test_the_merkle_roots_are_the_documented_ones(page: Page) -> None:
    rows = [line.split() for line in doc_examples.block("merkle-roots").splitlines() if line]
    roots = in_page(
        page,
        "const leaves = argument.map(V.hexToBytes); const out = [];"
        " for (let n = 0; n <= leaves.length; n++)"
        " out.push(V.bytesToHex(await V.merkleTreeHash(leaves.slice(0, n)))); return out;",
        CT_LEAVES,
    )
    assert roots == [root for _, root in rows]
