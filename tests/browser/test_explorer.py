"""The explorer in a real browser (issue 16): Debian's Chromium, driven by Playwright, against a
real node with a day of payments (conftest). Each view loads and shows its verified mark, at
1280 px and 390 px, without console errors and without serious or critical axe-core violations;
search finds; a node that lies is caught in the page; a changed verifying script is refused by
the browser (SRI); bank-a cannot read bank-b's statement; the keyboard reaches everything; lists
download as CSV; a watched account's new event arrives live. Screenshots of every view go to
build/explorer-screenshots/ (with axe.json, the axe-core result)."""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import msgspec
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route
from typer.testing import CliRunner

from jinqiao.api.explorer import EXPLORER_SCRIPT_SHA384, PINNED_ASSETS
from jinqiao.cli.main import app
from jinqiao.core.codec import decode, encode
from jinqiao.core.limits import MAX_PROOF_BYTES
from jinqiao.core.proofs import StateReadProof
from jinqiao.core.types import BlockHeader
from jinqiao.demo.supplychain import PALLET
from tests.browser.conftest import ARTIFACTS, Network, viewer

pytestmark = pytest.mark.e2e

AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1.min.js"
RENDER_TIMEOUT_MS = 30_000
WIDTHS = (1280, 390)
UNKNOWN_SUBJECT = "#/credit/" + "ab" * 32


def views(network: Network) -> dict[str, str]:
    """Every view, by a name for its screenshot, with a route that has data behind it."""
    bank_a = network.account_address("bank-a-treasury")
    return {
        "overview": "#/",
        "blocks": "#/blocks",
        "block": "#/block/5",
        "transaction": f"#/tx/{network.mint_hash}",
        "account": f"#/account/{bank_a}",
        "token": "#/token",
        "governance": "#/governance",
        "payments": "#/payments",
        "cycle": f"#/cycle/{network.cycle_id}",
        "payment": f"#/payment/{network.payment_id}",
        "item": f"#/item/{PALLET}",
        "receivable": "#/receivable/2",
        "root": "#/root/1",
        "credit": UNKNOWN_SUBJECT,
        "watchlist": "#/watch",
    }


class Console:
    """The page's console errors and uncaught exceptions."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))


def open_view(page: Page, network: Network, route: str) -> None:
    page.goto(f"{network.node.url}/explorer{route}")
    page.locator(f'main[data-rendered="{route}"]').wait_for(timeout=RENDER_TIMEOUT_MS)


@pytest.fixture
def regulator(browser: Browser, network: Network) -> Iterator[BrowserContext]:
    context = viewer(browser, network, "regulator-admin")
    yield context
    context.close()


def test_each_view_loads_verified_without_console_errors(
    browser: Browser, network: Network
) -> None:
    """At 1280 px, under the page's own CSP (the phone width's screenshots are taken by the
    axe-core test below)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    width = WIDTHS[0]
    context = viewer(browser, network, "regulator-admin", width=width)
    page = context.new_page()
    console = Console(page)
    try:
        for name, route in views(network).items():
            open_view(page, network, route)
            if name != "watchlist":
                verified = page.locator('[data-verified="yes"]').count()
                assert verified >= 1, (name, page.inner_text("main"), console.errors)
            assert page.locator('[data-verified="no"]').count() == 0, (
                name,
                page.inner_text("main"),
            )
            page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
        assert console.errors == []
    finally:
        context.close()


def test_the_page_shows_the_genesis_hash_it_computed_and_the_pinned_script_hash(
    regulator: BrowserContext, network: Network
) -> None:
    page = regulator.new_page()
    open_view(page, network, "#/")
    assert page.inner_text("#genesis-hash") == network.client.status()["genesis_hash"]
    assert page.inner_text("#script-hash") == EXPLORER_SCRIPT_SHA384


def test_axe_finds_no_serious_violations_and_the_phone_width_does_not_scroll_sideways(
    browser: Browser, network: Network
) -> None:
    """axe-core (vendored, pinned) runs inside the page; the page's CSP would refuse the injected
    script, so this one profile bypasses CSP (the other tests keep it)."""
    results: dict[str, list[dict[str, object]]] = {}
    for width in WIDTHS:
        context = viewer(browser, network, "regulator-admin", width=width, bypass_csp=True)
        page = context.new_page()
        try:
            for name, route in views(network).items():
                open_view(page, network, route)
                page.add_script_tag(path=str(AXE))
                found = page.evaluate(
                    "axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map("
                    "v => ({id: v.id, impact: v.impact, nodes: v.nodes.length})))"
                )
                results[f"{name}-{width}"] = found
                if width == 390:
                    page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
                    assert page.evaluate(
                        "document.documentElement.scrollWidth <= window.innerWidth"
                    ), name
        finally:
            context.close()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "axe.json").write_text(json.dumps(results, indent=1))
    serious = {
        view: [v for v in found if v["impact"] in ("serious", "critical")]
        for view, found in results.items()
    }
    assert all(not found for found in serious.values()), {k: v for k, v in serious.items() if v}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("5", "Block 5"),
        ("bank-a-treasury-address", "Account"),
        ("mint-hash", "Transaction"),
        ("payment-id", "Payment"),
        (PALLET, f"Item {PALLET}"),
        ("receivable 2", "Lineage"),
        ("ab" * 32, "Not found: no transaction or block with hash"),
        ("no such thing!", "is not a block height, a hash"),
        ("999999999", "Not found"),
    ],
)
def test_search(regulator: BrowserContext, network: Network, query: str, expected: str) -> None:
    text = {
        "bank-a-treasury-address": network.account_address("bank-a-treasury"),
        "mint-hash": network.mint_hash,
        "payment-id": network.payment_id,
    }.get(query, query)
    page = regulator.new_page()
    open_view(page, network, "#/watch")
    page.fill("#search-text", text)
    page.press("#search-text", "Enter")
    page.get_by_text(expected).first.wait_for(timeout=RENDER_TIMEOUT_MS)
    if query in ("5", "mint-hash", "payment-id", "bank-a-treasury-address", PALLET):
        page.locator('[data-verified="yes"]').first.wait_for(timeout=RENDER_TIMEOUT_MS)


def test_an_unknown_page_and_an_unknown_account_say_not_found(
    regulator: BrowserContext, network: Network
) -> None:
    page = regulator.new_page()
    open_view(page, network, "#/nowhere")
    assert "Not found" in page.inner_text("main")
    open_view(page, network, "#/account/" + "11" * 20)
    assert "Not found: no account" in page.inner_text("main")
    assert page.locator('[data-verified="yes"]').count() == 1  # the proof of absence


def _lie_about_supply(route: Route) -> None:
    answer = route.fetch()
    body = answer.json()
    proof = decode(bytes.fromhex(body["supply_proof"]), StateReadProof, max_bytes=MAX_PROOF_BYTES)
    assert proof.value is not None
    more = encode(decode(proof.value, int, max_bytes=16) + 1)
    body["supply_proof"] = encode(
        StateReadProof(proof.header, proof.certificate, proof.key, more, proof.proof)
    ).hex()
    route.fulfill(response=answer, json=body)


def _lie_about_block_time(route: Route) -> None:
    answer = route.fetch()
    body = answer.json()
    header = decode(bytes.fromhex(body["header_bytes"]), BlockHeader, max_bytes=MAX_PROOF_BYTES)
    body["header_bytes"] = encode(msgspec.structs.replace(header, time_ms=header.time_ms + 1)).hex()
    route.fulfill(response=answer, json=body)


def _lie_about_netting(route: Route) -> None:
    answer = route.fetch()
    body = answer.json()
    body["figures"]["netting_efficiency_ppm"] += 10_000  # one percentage point better
    route.fulfill(response=answer, json=body)


LIES: dict[str, tuple[str, Callable[[Route], None], str, str]] = {
    "supply": ("**/v1/token/CNY", _lie_about_supply, "#/token", "the value is not the leaf's"),
    "block time": (
        "**/v1/blocks/5?leaves=true",
        _lie_about_block_time,
        "#/block/5",
        "the certificate is for another block hash",
    ),
    "netting efficiency": (
        "**/figures",
        _lie_about_netting,
        "#/cycle/1",
        "the node's netting_efficiency_ppm",
    ),
}


@pytest.mark.parametrize("lie", LIES)
def test_a_tampered_answer_shows_the_failing_mark_with_its_reason(
    regulator: BrowserContext, network: Network, lie: str
) -> None:
    pattern, handler, route, reason = LIES[lie]
    page = regulator.new_page()
    page.route(pattern, handler)
    open_view(page, network, route)
    failing = page.locator('[data-verified="no"]')
    assert failing.count() == 1
    assert reason in failing.inner_text()


def test_a_changed_verifying_script_is_refused_by_the_browser(
    regulator: BrowserContext, network: Network
) -> None:
    """A node that serves a verifier of its own (here: one that would say "valid" to anything)
    does not get it run: its hash is not the one pinned in the package."""
    page = regulator.new_page()
    console = Console(page)

    def always_valid(route: Route) -> None:
        original = route.fetch().text()
        changed = original.replace(
            "export async function ed25519Verify(publicKey, message, signature) {",
            "export async function ed25519Verify(publicKey, message, signature) {\n  return true;",
        )
        assert changed != original
        route.fulfill(body=changed, content_type="text/javascript")

    page.route("**/explorer/static/verify.js", always_valid)
    page.goto(f"{network.node.url}/explorer#/")
    page.wait_for_timeout(3000)
    assert page.locator("body[data-ready]").count() == 0
    assert page.locator("#boot").is_visible()
    assert page.locator("[data-verified]").count() == 0
    assert any("integrity" in error for error in console.errors), console.errors


def test_bank_a_cannot_download_bank_b_statement_but_its_own(
    browser: Browser, network: Network
) -> None:
    context = viewer(browser, network, "bank-a-treasury")
    try:
        page = context.new_page()
        open_view(page, network, f"#/cycle/{network.cycle_id}")
        assert "Not permitted for your organization" in page.inner_text("main")  # the figures
        page.click('[data-statement="bank-b"]')
        page.get_by_text("Not permitted for your organization: the statement of bank-b").wait_for()
        with page.expect_download() as download:
            page.click('[data-statement="bank-a"]')
        saved = Path(download.value.path()).read_text()
        assert saved.splitlines()[0].startswith("cycle_id") or "bank-a" in saved
    finally:
        context.close()


def test_lists_download_as_csv(regulator: BrowserContext, network: Network) -> None:
    page = regulator.new_page()
    open_view(page, network, "#/blocks")
    with page.expect_download() as download:
        page.click("text=Download blocks as CSV")
    lines = Path(download.value.path()).read_text().splitlines()
    assert lines[0] == "height,hash,time,transactions,certificate"
    assert len(lines) - 1 == page.locator('table[data-list="blocks"] tbody tr').count()
    assert lines[1].endswith("✔ verified")


def test_the_keyboard_reaches_the_views_and_the_search(
    regulator: BrowserContext, network: Network
) -> None:
    page = regulator.new_page()
    open_view(page, network, "#/")
    page.keyboard.press("Tab")
    assert page.locator(":focus").inner_text() == "Skip to content"
    for _ in range(12):
        page.keyboard.press("Tab")
        if page.locator(":focus").inner_text() == "Blocks":
            break
    page.keyboard.press("Enter")
    page.locator('main[data-rendered="#/blocks"]').wait_for(timeout=RENDER_TIMEOUT_MS)
    for _ in range(12):
        page.keyboard.press("Tab")
        if page.locator("#search-text:focus").count():
            break
    page.keyboard.type("3")
    page.keyboard.press("Enter")
    page.get_by_text("Block 3").wait_for(timeout=RENDER_TIMEOUT_MS)


def test_a_watched_account_shows_its_new_event_live(
    regulator: BrowserContext, network: Network
) -> None:
    bank_b = network.account_address("bank-b-treasury")
    page = regulator.new_page()
    open_view(page, network, f"#/account/{bank_b}")
    page.click("text=Watch this account")
    open_view(page, network, "#/watch")
    assert bank_b in page.inner_text("main")
    sent = network.client.token.transfer(
        network.keys["bank-a-treasury"], "CNY", bytes.fromhex(bank_b), 7
    )
    assert sent.ok, sent
    row = page.locator('table[data-list="watched-events"] tbody tr', has_text="Transfer")
    row.first.wait_for(timeout=RENDER_TIMEOUT_MS)
    assert bank_b in row.first.inner_text()


def test_the_page_follows_the_validator_set_change_and_refuses_a_hidden_one(
    regulator: BrowserContext, network: Network
) -> None:
    """Governance changed the set (conftest): the blocks it certifies verify only because the
    page followed the change with its proof; a node that hides the change is caught."""
    page = regulator.new_page()
    route = f"#/block/{network.new_set_height}"
    open_view(page, network, route)
    assert page.locator('[data-verified="yes"]').count() == 1
    assert "5" in page.locator('table[data-list="certificate"] tbody tr').first.inner_text()
    hiding = regulator.new_page()
    hiding.route("**/v1/validators/changes*", lambda r: r.fulfill(json={"changes": []}, status=200))
    open_view(hiding, network, route)
    failing = hiding.locator('[data-verified="no"]')
    assert failing.count() == 1
    assert "names a validator set this page does not trust" in failing.inner_text()


@pytest.mark.parametrize(
    ("account", "route", "expected", "verified"),
    [
        ("regulator-admin", UNKNOWN_SUBJECT, "(absent, proven)", True),
        ("clearing-treasury", UNKNOWN_SUBJECT, "Not permitted for your organization", False),
        ("bank-a-treasury", UNKNOWN_SUBJECT, "(absent, proven)", True),  # a credit member
        ("regulator-admin", "#/receivable/999", "Not found", False),
        ("regulator-admin", "#/item/urn:epc:id:sgtin:0614141.107346.2017", "Not found", False),
    ],
)
def test_supply_chain_and_credit_views_show_what_the_viewer_may(
    browser: Browser, network: Network, account: str, route: str, expected: str, verified: bool
) -> None:
    context = viewer(browser, network, account)
    try:
        page = context.new_page()
        open_view(page, network, route)
        assert expected in page.inner_text("main")
        assert page.locator('[data-verified="no"]').count() == 0
        assert (page.locator('[data-verified="yes"]').count() > 0) == verified
    finally:
        context.close()


def test_the_explorer_routes_answer_bad_requests_clearly(network: Network) -> None:
    """Over HTTPS without a browser: the page and its assets are member routes, unknown and
    overlong asset names are clear 4xx answers, and the page carries its CSP."""
    http, url = network.node.http, network.node.url
    page = http.get(f"{url}/explorer")
    assert page.status_code == 200
    assert "script-src 'self' 'sha256-" in page.headers["content-security-policy"]
    assert http.get(f"{url}/explorer/static/verify.js").content.startswith(b"// jinqiao explorer")
    missing = http.get(f"{url}/explorer/static/secrets.txt")
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    overlong = http.get(f"{url}/explorer/static/{'a' * 65}")
    assert overlong.status_code == 400, overlong.text
    roots_only = ssl.create_default_context(cafile=str(network.node.credentials.roots_file))
    anonymous = httpx.Client(verify=roots_only)  # no client certificate
    with anonymous:
        refused = anonymous.get(f"{url}/explorer")
    assert (refused.status_code, refused.json()["code"]) == (401, "unauthenticated")


def test_explorer_hash_prints_the_pins_and_the_genesis_hash_the_page_shows(
    network: Network,
) -> None:
    result = CliRunner().invoke(
        app, ["explorer-hash", "--json", "--genesis", str(network.directory / "genesis.json")]
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert printed["explorer_script"] == EXPLORER_SCRIPT_SHA384
    assert printed["scripts"] == PINNED_ASSETS
    assert printed["genesis_hash"] == network.client.status()["genesis_hash"]
