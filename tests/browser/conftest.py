"""The explorer's browser tests: a real one-validator network (node process, HTTPS, client
certificates) with a day of payments on it, and Debian's Chromium driven by Playwright.

Playwright's own browser downloads are not used: ``CHROMIUM`` (default ``/usr/bin/chromium``,
the Debian package ``chromium`` that ``make test`` installs) is launched as it is. The browser
presents the viewer's client certificate (``client_certificates`` of ``new_context``); the
node's server certificate is issued by its organization's root, which this throwaway browser
profile does not hold, so the test context ignores that one check (a viewer imports
``roots.pem`` into the browser instead, docs/explorer.md).
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, sync_playwright
from rich.progress import Progress

from jinqiao.apps.governance import ProposalArgs, ProposeArgs, SetValidatorPower
from jinqiao.client import Client
from jinqiao.core.codec import decode
from jinqiao.core.crypto import Signer
from jinqiao.core.genesis import load_genesis
from jinqiao.demo.payments import CLEARING_ACCOUNT, INSTITUTIONS, run_payments_day
from jinqiao.demo.run import organization_admins
from jinqiao.demo.supplychain import run_supply_chain
from jinqiao.execution.identity import GOVERNANCE
from jinqiao.keys import InsecurePlaintext, load_key
from jinqiao.provision.network import NetworkLayout, init_network
from jinqiao.provision.presets import demo_spec
from jinqiao.provision.supplychain import with_supply_chain
from tests.helpers.process import NodeProcess, free_port_base

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "explorer-screenshots"
PAYMENTS = 12


@dataclass
class Network:
    directory: Path
    layout: NetworkLayout
    node: NodeProcess
    client: Client
    keys: dict[str, Signer]
    cycle_id: int
    mint_hash: str
    """A committed transaction: the mint to bank-a-treasury."""
    payment_id: str
    """A payment of the cycle."""
    new_set_height: int
    """The first height certified by the validator set governance changed (power 1 to 5)."""

    def account_address(self, name: str) -> str:
        return self.layout.account(name).address

    def certificate(self, account: str) -> dict[str, str]:
        home = self.directory / "clients" / account
        return {
            "origin": self.node.url,
            "certPath": str(home / "client.crt"),
            "keyPath": str(home / "client.key"),
        }


@pytest.fixture(scope="package")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    directory = tmp_path_factory.mktemp("explorer")
    # The demo's consortium with the supply chain's organizations, as `jinqiao demo` makes it;
    # a throwaway network: plaintext keys, asked for explicitly (docs/keys.md).
    layout = init_network(
        directory,
        with_supply_chain(demo_spec(validators=1, base_api_port=free_port_base(1))),
        protection=InsecurePlaintext(),
    )
    node = NodeProcess(
        directory / layout.nodes[0].home, port=int(layout.nodes[0].api_url.rsplit(":", 1)[1])
    ).start()
    client = Client(node.url, genesis_file=directory / "genesis.json", credentials=node.credentials)
    try:
        keys = {
            name: load_key(directory / layout.account(name).key_file)
            for name in (CLEARING_ACCOUNT, *INSTITUTIONS.values())
        }
        for account in INSTITUTIONS.values():  # funds for the cycle's settlement
            minted = client.token.mint(keys[CLEARING_ACCOUNT], "CNY", keys[account].address, 10**9)
            assert minted.ok, minted
        mint_hash = client.token.mint(
            keys[CLEARING_ACCOUNT], "CNY", keys["bank-a-treasury"].address, 5
        ).transaction_hash
        with contextlib.redirect_stdout(None):
            cycle_id = run_payments_day(
                client, keys, PAYMENTS, random.Random(7), lambda: Progress(disable=True)
            )
        with contextlib.redirect_stdout(None):
            run_supply_chain(
                client, lambda name: load_key(directory / layout.account(name).key_file)
            )
        payment_id = _a_payment_id(node)
        new_set_height = _change_validator_power(client, directory, layout, keys[CLEARING_ACCOUNT])
        yield Network(
            directory, layout, node, client, keys, cycle_id, mint_hash, payment_id, new_set_height
        )
    finally:
        client.close()
        assert node.stop() == 0, node.log()


def _key(directory: Path, layout: NetworkLayout, account: str) -> Signer:
    return load_key(directory / layout.account(account).key_file)


def _change_validator_power(
    client: Client, directory: Path, layout: NetworkLayout, issuer: Signer
) -> int:
    """Governance sets the one validator's power to 5: a new set, in force two heights after the
    approval that decides it (docs/proofs.md §3.3), which the page must follow."""
    genesis = load_genesis((directory / "genesis.json").read_bytes())
    validator = genesis.validator_set().validators[0]
    # every organization's admin approves: the supply chain's organizations count in the quorum
    admins = [
        load_key(directory / layout.account(name).key_file) for name in organization_admins(layout)
    ]
    proposed = client.send(
        admins[0], GOVERNANCE, "propose", ProposeArgs(SetValidatorPower(validator.address, 5))
    )
    proposal_id = decode(proposed.receipt.result, int, max_bytes=16)
    decided_at = 0
    for admin in admins[1:]:  # until the quorum executes it
        approved = client.send(admin, GOVERNANCE, "approve", ProposalArgs(proposal_id))
        if approved.code == "proposal_closed":
            break
        assert approved.ok, approved
        decided_at = approved.height
    in_force = decided_at + 2
    while client.token.mint(issuer, "CNY", issuer.address, 1).height < in_force:
        pass
    return in_force


def _a_payment_id(node: NodeProcess) -> str:
    for height in range(1, 40):
        block = node.http.get(f"{node.url}/v1/blocks/{height}?transactions=true").json()
        for transaction in block["transactions"]:
            for event in transaction["receipt"]["events"]:
                if "payment_id" in event["attributes"]:
                    return str(event["attributes"]["payment_id"])
    raise AssertionError("the payments day recorded no payment")


# Package scope, not session: while Playwright's sync API is open the main thread has a running
# asyncio loop, so every later test that calls asyncio.run() would fail ("cannot be called from a
# running event loop"); the browser and its network are gone before the next package starts.
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        raise RuntimeError(
            f"the browser tests need Chromium at {CHROMIUM}: install the Debian package chromium "
            "(make test does, as root)"
        )
    with sync_playwright() as playwright:
        # CI runs as root, where Chromium's sandbox cannot start; the pages are our own.
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield launched
        finally:
            launched.close()


def viewer(
    browser: Browser, network: Network, account: str, width: int = 1280, bypass_csp: bool = False
) -> BrowserContext:
    """A browser profile of ``account``'s organization: its client certificate, nothing else."""
    return browser.new_context(
        bypass_csp=bypass_csp,
        client_certificates=[network.certificate(account)],  # type: ignore[list-item]
        ignore_https_errors=True,
        viewport={"width": width, "height": 900},
        accept_downloads=True,
    )
